//! The benchmark's side of the wire: one MQTT connection ([`Session`]) opened with CONNECT /
//! CONNACK and read with the codec's [`FrameDecoder`], the 20-byte [`Stamp`] every payload
//! starts with, and the pre-encoded PUBLISH [`Template`] publishers patch for each message.
//!
//! Every wait here has a deadline, so a broker that stops answering is an error, never a hang.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{
    encode_packet, ConnAck, Connect, Delivery, Disconnect, FrameDecoder, MqttString, Packet,
    PacketId, ProtocolVersion, Publish, QoS, ReasonCode, TopicName,
};
use mqttspec_transport::{Conn, Endpoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, Instant};

use super::BenchError;

/// How long the TCP connect plus CONNACK, or a SUBSCRIBE's SUBACK, may take.
pub(crate) const SETUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one write may stay blocked (a broker that stops reading).
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keep Alive asked for in CONNECT, in seconds.
pub(crate) const KEEP_ALIVE: u16 = 30;
/// How many bytes a read asks the socket for at once.
const READ_CHUNK: usize = 64 * 1024;

/// The size of the [`Stamp`] at the start of every payload, and so the smallest payload.
pub const STAMP_LEN: usize = 20;

/// What every benchmark payload carries in its first [`STAMP_LEN`] bytes (big-endian): the
/// publisher's index (4 bytes), its per-publisher sequence number (8 bytes) and the send
/// time in nanoseconds since the run started (8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Which publisher sent the message.
    pub publisher: u32,
    /// The publisher's sequence number, from 0.
    pub sequence: u64,
    /// When it was sent, in nanoseconds since the start of the run.
    pub sent_ns: u64,
}

impl Stamp {
    /// The 20 stamp bytes.
    pub fn to_bytes(self) -> [u8; STAMP_LEN] {
        let mut out = [0u8; STAMP_LEN];
        let (p, rest) = out.split_at_mut(4);
        let (s, t) = rest.split_at_mut(8);
        p.copy_from_slice(&self.publisher.to_be_bytes());
        s.copy_from_slice(&self.sequence.to_be_bytes());
        t.copy_from_slice(&self.sent_ns.to_be_bytes());
        out
    }

    /// Reads the stamp from the start of a payload; `None` when it is too short.
    pub fn parse(payload: &[u8]) -> Option<Stamp> {
        let publisher = u32::from_be_bytes(payload.get(0..4)?.try_into().ok()?);
        let sequence = u64::from_be_bytes(payload.get(4..12)?.try_into().ok()?);
        let sent_ns = u64::from_be_bytes(payload.get(12..20)?.try_into().ok()?);
        Some(Stamp {
            publisher,
            sequence,
            sent_ns,
        })
    }
}

/// One publisher's PUBLISH packet, encoded once by the codec; each message copies it and
/// writes its Packet Identifier and stamp in place, so the load generator spends its time
/// on the wire rather than on encoding.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    bytes: Bytes,
    /// Where the Packet Identifier sits (QoS 1 and 2).
    packet_id_at: Option<usize>,
    /// Where the payload starts.
    payload_at: usize,
}

impl Template {
    /// The PUBLISH of a `payload_len`-byte payload to `topic` at `qos` for `v`.
    pub(crate) fn new(
        topic: &TopicName,
        qos: QoS,
        payload_len: usize,
        v: ProtocolVersion,
    ) -> Result<Template, String> {
        let publish = Publish {
            delivery: Delivery::new(qos, PacketId::MIN),
            ..Publish::new(topic.clone(), vec![0u8; payload_len])
        };
        let bytes = Packet::Publish(publish)
            .encode(v)
            .map_err(|e| format!("cannot encode the PUBLISH: {e}"))?;
        let payload_at = bytes
            .len()
            .checked_sub(payload_len)
            .ok_or("encoded PUBLISH shorter than its payload")?;
        // After the Packet Identifier comes, in MQTT 5.0, the one-byte empty property length.
        let properties_len = usize::from(v.is_v5());
        let packet_id_at = match qos {
            QoS::AtMostOnce => None,
            _ => Some(
                payload_at
                    .checked_sub(properties_len + 2)
                    .ok_or("encoded PUBLISH too short")?,
            ),
        };
        Ok(Template {
            bytes,
            packet_id_at,
            payload_at,
        })
    }

    /// The size of one PUBLISH packet.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Appends one PUBLISH with this identifier (ignored at QoS 0) and stamp to `out`.
    pub(crate) fn write(&self, out: &mut BytesMut, packet_id: Option<PacketId>, stamp: Stamp) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        if let (Some(at), Some(id)) = (self.packet_id_at, packet_id) {
            if let Some(slot) = out.get_mut(start + at..start + at + 2) {
                slot.copy_from_slice(&id.get().to_be_bytes());
            }
        }
        let at = start + self.payload_at;
        if let Some(slot) = out.get_mut(at..at + STAMP_LEN) {
            slot.copy_from_slice(&stamp.to_bytes());
        }
    }
}

/// One connected MQTT client: the socket, the bytes read but not yet decoded, and what the
/// broker declared in CONNACK.
#[derive(Debug)]
pub(crate) struct Session {
    /// Who this is in error messages ("publisher 3", "subscriber 0").
    pub who: String,
    pub stream: Conn,
    pub buf: BytesMut,
    pub decoder: FrameDecoder,
    pub version: ProtocolVersion,
    pub connack: ConnAck,
}

impl Session {
    /// Connects over TCP, sends CONNECT (Clean Start, no Will) and waits for a successful
    /// CONNACK, all within [`SETUP_TIMEOUT`].
    pub(crate) async fn connect(
        who: String,
        broker: Endpoint,
        client_id: &str,
        version: ProtocolVersion,
        max_packet_size: u32,
    ) -> Result<Session, BenchError> {
        let deadline = Instant::now() + SETUP_TIMEOUT;
        let (stream, _) = mqttspec_transport::connect(&broker, SETUP_TIMEOUT)
            .await
            .map_err(|e| BenchError::new(&who, format!("cannot connect: {e}")))?;
        let client_id = MqttString::new(client_id, "Client Identifier")
            .map_err(|e| BenchError::new(&who, format!("bad Client Identifier: {e}")))?;
        let connect = Connect {
            protocol_version: version,
            clean_start: true,
            keep_alive: KEEP_ALIVE,
            properties: Default::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        };
        let mut session = Session {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            decoder: FrameDecoder::new(version).with_max_packet_size(max_packet_size),
            version,
            connack: ConnAck {
                session_present: false,
                reason_code: ReasonCode::Success,
                properties: Default::default(),
            },
            who,
        };
        session
            .send_packet(&Packet::Connect(Box::new(connect)))
            .await?;
        match session.next_packet_until(deadline, "CONNACK").await? {
            Packet::ConnAck(ack) if !ack.reason_code.is_error() => session.connack = ack,
            Packet::ConnAck(ack) => {
                return Err(session.error(format!(
                    "the broker refused the connection: CONNACK {:#04x} ({})",
                    ack.reason_code.as_u8(),
                    ack.reason_code.name()
                )))
            }
            other => {
                return Err(session.error(format!("expected CONNACK, got {}", other.packet_type())))
            }
        }
        Ok(session)
    }

    /// An error of this session.
    pub(crate) fn error(&self, what: impl Into<String>) -> BenchError {
        BenchError::new(&self.who, what)
    }

    /// Encodes and writes one packet.
    pub(crate) async fn send_packet(&mut self, packet: &Packet) -> Result<(), BenchError> {
        let mut out = BytesMut::new();
        encode_packet(packet, self.version, &mut out)
            .map_err(|e| self.error(format!("cannot encode {}: {e}", packet.packet_type())))?;
        self.write(&out).await
    }

    /// Writes bytes within [`WRITE_TIMEOUT`].
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), BenchError> {
        write_within(&mut self.stream, bytes, &self.who).await
    }

    /// The next packet from the broker, decoded strictly, before `deadline`. `waiting_for`
    /// names what was expected, for the error message.
    pub(crate) async fn next_packet_until(
        &mut self,
        deadline: Instant,
        waiting_for: &str,
    ) -> Result<Packet, BenchError> {
        loop {
            if let Some(packet) = self.decode_buffered()? {
                return Ok(packet);
            }
            self.buf.reserve(READ_CHUNK);
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| self.error(format!("no {waiting_for} from the broker in time")))?;
            match read {
                Ok(0) => {
                    return Err(self.error(format!(
                        "the broker closed the connection while we waited for {waiting_for}"
                    )))
                }
                Ok(_) => {}
                Err(e) => return Err(self.error(format!("read failed: {e}"))),
            }
        }
    }

    /// The next complete packet already read, if any.
    pub(crate) fn decode_buffered(&mut self) -> Result<Option<Packet>, BenchError> {
        self.decoder
            .decode(&mut self.buf)
            .map_err(|e| BenchError::new(&self.who, format!("undecodable packet: {e}")))
    }

    /// Sends DISCONNECT (normal disconnection) and shuts the socket down, within a second;
    /// errors are ignored (the run's results are already in).
    pub(crate) async fn disconnect(mut self) {
        let mut out = BytesMut::new();
        let packet = Packet::Disconnect(Disconnect::new(ReasonCode::Success));
        if encode_packet(&packet, self.version, &mut out).is_ok() {
            let _ = timeout(Duration::from_secs(1), self.stream.write_all(&out)).await;
        }
        let _ = timeout(Duration::from_secs(1), self.stream.shutdown()).await;
    }
}

/// Writes all of `bytes`; fails when the socket takes nothing for [`WRITE_TIMEOUT`] (a
/// broker may hold a publisher back for a while, but not stop reading altogether).
pub(crate) async fn write_within<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    mut bytes: &[u8],
    who: &str,
) -> Result<(), BenchError> {
    while !bytes.is_empty() {
        match timeout(WRITE_TIMEOUT, w.write(bytes)).await {
            Ok(Ok(0)) => return Err(BenchError::new(who, "the connection is closed for writing")),
            Ok(Ok(n)) => bytes = bytes.get(n..).unwrap_or_default(),
            Ok(Err(e)) => return Err(BenchError::new(who, format!("write failed: {e}"))),
            Err(_) => {
                return Err(BenchError::new(
                    who,
                    format!(
                        "the broker stopped reading: nothing could be written for {} s",
                        WRITE_TIMEOUT.as_secs()
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Says what a DISCONNECT sent by the broker means, for an error message.
pub(crate) fn describe_disconnect(d: &Disconnect) -> String {
    let mut s = format!(
        "the broker sent DISCONNECT {:#04x} ({})",
        d.reason_code.as_u8(),
        d.reason_code.name()
    );
    if let Some(reason) = &d.properties.reason_string {
        s.push_str(&format!(": {}", reason.as_str()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_through_its_twenty_bytes() {
        let stamp = Stamp {
            publisher: 7,
            sequence: 0x0102_0304_0506_0708,
            sent_ns: u64::MAX - 1,
        };
        let bytes = stamp.to_bytes();
        assert_eq!(Stamp::parse(&bytes), Some(stamp));
        assert_eq!(bytes.get(..4), Some(&[0, 0, 0, 7][..]));
        assert_eq!(Stamp::parse(&bytes[..19]), None);
    }

    fn decode_one(bytes: &[u8], v: ProtocolVersion) -> Publish {
        match Packet::decode(Bytes::copy_from_slice(bytes), v).expect("decodes") {
            Packet::Publish(p) => p,
            other => panic!("not a PUBLISH: {other:?}"),
        }
    }

    #[test]
    fn template_patches_packet_identifier_and_stamp_in_both_versions() {
        let topic = TopicName::new("bench/3").unwrap();
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let t = Template::new(&topic, qos, 100, v).unwrap();
                let stamp = Stamp {
                    publisher: 3,
                    sequence: 41,
                    sent_ns: 123_456,
                };
                let mut out = BytesMut::new();
                out.extend_from_slice(b"xyz");
                let id = PacketId::new(0xBEEF);
                t.write(&mut out, id, stamp);
                assert_eq!(out.len(), 3 + t.len());
                let p = decode_one(&out[3..], v);
                assert_eq!(p.qos(), qos);
                assert_eq!(p.topic.as_str(), "bench/3");
                assert_eq!(p.payload.len(), 100);
                assert_eq!(Stamp::parse(&p.payload), Some(stamp));
                let expected_id = if qos == QoS::AtMostOnce { None } else { id };
                assert_eq!(p.packet_id(), expected_id, "{v} {qos:?}");
            }
        }
    }
}
