//! The packet-level test client: one connection to the broker under test, over any
//! transport ([`crate::transport`]: TCP, TLS, WebSocket, WebSocket over TLS), seen as one
//! byte stream.
//!
//! [`TestClient`] sends any bytes (strictly encoded packets with [`TestClient::send`], anything
//! at all with [`TestClient::send_raw`]) and receives with a deadline
//! ([`TestClient::recv_until`]). Received bytes are framed by the codec's
//! [`FrameDecoder`] and decoded strictly: a malformed packet from the broker is reported as
//! [`Received::Malformed`] (a finding, never a panic), and the receive buffer is bounded by the
//! client's maximum packet size, which is checked from the fixed header before any body is
//! buffered, so a broker claiming a 256 MB packet costs nothing.
//!
//! Every byte in and out is recorded in the case's [`Transcript`].
//!
//! The scenario DSL ([`crate::scenario`]) wraps this client with expectations; use it directly
//! only for tools or unusual cases.

pub mod summary;
pub mod transcript;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{DecodeError, EncodeError, FrameDecoder, Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, timeout_at, Instant};

pub use transcript::{Direction, Entry, Transcript};

use crate::transport::ws::FrameKind;
use crate::transport::{self, Conn, Endpoint, TransportInfo};

/// The default limit on the size of one packet from the broker (whole packet, bytes).
pub const DEFAULT_MAX_PACKET_SIZE: u32 = 4 * 1024 * 1024;

/// How much of a malformed stream is kept for the report.
const MALFORMED_KEPT: usize = 256;

/// How long a single write may take before the broker is considered stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What one wait for the broker produced.
// Packets are moved, not copied, and matching on `Received::Packet(Packet::..)` stays direct.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A packet that decoded strictly.
    Packet(Packet),
    /// The broker closed the connection (or reset it).
    Closed,
    /// The broker sent bytes that are not a valid packet. When the bytes could not even be
    /// framed (bad fixed header, packet too large) the connection is unusable after this and
    /// later waits return the same value; a complete frame that fails to decode leaves the
    /// stream in step.
    Malformed {
        /// Why the bytes are invalid.
        error: DecodeError,
        /// The first bytes of the offending data.
        bytes: Bytes,
    },
    /// Nothing (complete) arrived before the deadline.
    Timeout,
}

impl Received {
    /// A short description for Actual texts: the packet summary, "connection closed", ...
    pub fn describe(&self, v: ProtocolVersion) -> String {
        match self {
            Received::Packet(p) => summary::packet(p, v),
            Received::Closed => "connection closed by the broker".to_owned(),
            Received::Malformed { error, bytes } => {
                format!(
                    "malformed bytes from the broker: {error} [{}]",
                    hex::encode(bytes)
                )
            }
            Received::Timeout => "nothing".to_owned(),
        }
    }

    /// The Topic Name bytes of a malformed PUBLISH, as far as they can be read from the kept
    /// bytes (fixed header, then a two-byte length and the name): for a `#` subscriber that
    /// must tell another test's malformed message from its own.
    pub fn malformed_publish_topic(&self) -> Option<&[u8]> {
        let Received::Malformed { bytes, .. } = self else {
            return None;
        };
        if bytes.first()? >> 4 != 3 {
            return None;
        }
        let (header, _) = fixed_header(bytes)?;
        let len = usize::from(u16::from_be_bytes([
            *bytes.get(header)?,
            *bytes.get(header + 1)?,
        ]));
        bytes.get(header + 2..header + 2 + len)
    }
}

/// Why a send failed.
#[derive(Debug)]
pub enum SendError {
    /// The packet cannot be encoded strictly (a mistake in the case: use `send_raw`).
    Encode(EncodeError),
    /// The connection is closed or the write failed.
    Io(std::io::Error),
    /// The write did not complete in time (the broker stopped reading).
    Timeout,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Encode(e) => write!(f, "{e}"),
            SendError::Io(e) => write!(f, "write failed: {e}"),
            SendError::Timeout => write!(f, "write did not complete in {WRITE_TIMEOUT:?}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Options of a test connection.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The name shown in the transcript.
    pub name: String,
    /// The protocol version used to encode and to decode.
    pub version: ProtocolVersion,
    /// The largest packet accepted from the broker.
    pub max_packet_size: u32,
    /// How long opening the connection (TCP connect, TLS and WebSocket handshakes) may take.
    pub connect_timeout: Duration,
}

impl ClientOptions {
    /// Defaults for `version`.
    pub fn new(name: impl Into<String>, version: ProtocolVersion) -> Self {
        ClientOptions {
            name: name.into(),
            version,
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A raw MQTT connection with a transcript. See the module docs.
#[derive(Debug)]
pub struct TestClient {
    name: String,
    version: ProtocolVersion,
    stream: Option<Conn>,
    transport: TransportInfo,
    buf: BytesMut,
    decoder: FrameDecoder,
    transcript: Transcript,
    ended: Option<Received>,
    /// Whether a packet with a bad fixed header but a readable length is skipped as one
    /// malformed frame instead of ending the stream ([`TestClient::keep_in_step`]).
    in_step: bool,
    /// The largest packet accepted from the broker.
    max_packet_size: usize,
}

impl TestClient {
    /// Opens a connection to `broker` (a `SocketAddr` is plain TCP; no MQTT traffic yet)
    /// with its own transcript.
    pub async fn connect_tcp(
        broker: impl Into<Endpoint>,
        version: ProtocolVersion,
    ) -> std::io::Result<Self> {
        Self::connect_with(
            broker,
            ClientOptions::new("client", version),
            Transcript::default(),
        )
        .await
    }

    /// Opens a connection to `broker` recording into `transcript`. A failure is an I/O error
    /// whose message is one line ([`transport::ConnectError::from_io`] gets the details).
    pub async fn connect_with(
        broker: impl Into<Endpoint>,
        options: ClientOptions,
        transcript: Transcript,
    ) -> std::io::Result<Self> {
        let endpoint = broker.into();
        let (stream, info) = match transport::connect(&endpoint, options.connect_timeout).await {
            Ok(c) => c,
            Err(e) => {
                transcript.event(&options.name, e.to_string());
                return Err(e.into());
            }
        };
        let how = match endpoint.scheme() {
            transport::Scheme::Tcp => "TCP connected".to_owned(),
            _ => format!("connected over {}", info.describe()),
        };
        transcript.event(&options.name, format!("{how} to {endpoint}"));
        Ok(TestClient {
            name: options.name,
            version: options.version,
            stream: Some(stream),
            transport: info,
            buf: BytesMut::with_capacity(4096),
            decoder: FrameDecoder::new(options.version)
                .with_max_packet_size(options.max_packet_size),
            transcript,
            ended: None,
            in_step: false,
            max_packet_size: options.max_packet_size as usize,
        })
    }

    /// After a packet whose fixed header is invalid (e.g. a QoS 0 PUBLISH with DUP set) but
    /// whose Remaining Length can be read and has arrived whole, go on with the packets
    /// after it instead of ending the stream there. For a subscriber that sees other tests'
    /// messages (`#`), which must be able to pass over a broker fault that is not its own.
    pub fn keep_in_step(&mut self) {
        self.in_step = true;
    }

    /// What the connection negotiated (transport, TLS version and cipher suite, WebSocket
    /// subprotocol).
    pub fn transport(&self) -> &TransportInfo {
        &self.transport
    }

    /// Sends one WebSocket frame of `kind` (`last`: the FIN bit), recorded in the transcript
    /// like any write. `Err` `Unsupported` when the connection is not a WebSocket.
    pub async fn send_ws_frame(
        &mut self,
        kind: FrameKind,
        bytes: impl Into<Bytes>,
        last: bool,
    ) -> Result<(), SendError> {
        let bytes = bytes.into();
        let summary = format!(
            "WebSocket {kind:?} frame{} ({} bytes: {})",
            if last { "" } else { " (not final)" },
            bytes.len(),
            describe_outgoing(&bytes, self.version)
        );
        self.transcript
            .record(&self.name, Direction::Out, &bytes, summary);
        let Some(ws) = self.stream.as_mut().and_then(Conn::websocket) else {
            return Err(SendError::Io(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "not a WebSocket connection (or already closed)",
            )));
        };
        let outcome = timeout(WRITE_TIMEOUT, ws.send_frame(kind, bytes, last)).await;
        self.write_outcome(outcome)
    }

    /// Writes `wire` beneath the WebSocket layer as it is (hand-built frames, see
    /// [`WsBytes::send_wire`](crate::transport::ws::WsBytes::send_wire)), recorded in the
    /// transcript. `Err` `Unsupported` when the connection is not a WebSocket.
    pub async fn send_ws_wire(&mut self, wire: impl Into<Bytes>) -> Result<(), SendError> {
        let wire = wire.into();
        let summary = format!("WebSocket wire bytes ({} bytes, raw frames)", wire.len());
        self.transcript
            .record(&self.name, Direction::Out, &wire, summary);
        let Some(ws) = self.stream.as_mut().and_then(Conn::websocket) else {
            return Err(SendError::Io(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "not a WebSocket connection (or already closed)",
            )));
        };
        let outcome = timeout(WRITE_TIMEOUT, ws.send_wire(&wire)).await;
        self.write_outcome(outcome)
    }

    /// The transcript name of this client.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol version used to encode and decode.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Changes the protocol version used from now on.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
        self.decoder.set_version(version);
    }

    /// The transcript this client records into.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Whether the connection has ended (closed, or broken by malformed input).
    pub fn is_ended(&self) -> bool {
        self.ended.is_some() || self.stream.is_none()
    }

    /// Encodes `packet` strictly and sends it.
    pub async fn send(&mut self, packet: &Packet) -> Result<(), SendError> {
        let bytes = packet.encode(self.version).map_err(SendError::Encode)?;
        let summary = summary::on_wire(packet, &bytes, self.version);
        self.write(bytes, summary).await
    }

    /// Sends arbitrary bytes (e.g. a [`RawPacket`](mqttspec_codec::RawPacket)).
    pub async fn send_raw(&mut self, bytes: impl Into<Bytes>) -> Result<(), SendError> {
        let bytes = bytes.into();
        let summary = describe_outgoing(&bytes, self.version);
        self.write(bytes, summary).await
    }

    async fn write(&mut self, bytes: Bytes, summary: String) -> Result<(), SendError> {
        self.transcript
            .record(&self.name, Direction::Out, &bytes, summary);
        let Some(stream) = self.stream.as_mut() else {
            self.transcript
                .event(&self.name, "write refused: connection already closed");
            return Err(SendError::Io(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "connection already closed",
            )));
        };
        let written = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        let outcome = timeout(WRITE_TIMEOUT, written).await;
        self.write_outcome(outcome)
    }

    /// The result of a write bounded by [`WRITE_TIMEOUT`], with a failure or a timeout recorded
    /// in the transcript.
    fn write_outcome(
        &self,
        outcome: Result<std::io::Result<()>, tokio::time::error::Elapsed>,
    ) -> Result<(), SendError> {
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.transcript
                    .event(&self.name, format!("write failed: {e}"));
                Err(SendError::Io(e))
            }
            Err(_) => {
                self.transcript
                    .event(&self.name, "write timed out (broker not reading)");
                Err(SendError::Timeout)
            }
        }
    }

    /// Waits until `deadline` for the next packet, the end of the connection, or malformed
    /// input. Never waits past `deadline`; never buffers more than one packet of at most the
    /// maximum packet size (plus one read).
    pub async fn recv_until(&mut self, deadline: Instant) -> Received {
        loop {
            if let Some(r) = self.next_buffered() {
                return r;
            }
            let Some(stream) = self.stream.as_mut() else {
                self.ended = Some(Received::Closed);
                return Received::Closed;
            };
            self.buf.reserve(4096);
            match timeout_at(deadline, stream.read_buf(&mut self.buf)).await {
                Err(_) => return Received::Timeout,
                Ok(read) => {
                    if let Some(r) = self.after_read(read) {
                        return r;
                    }
                }
            }
        }
    }

    /// What has already arrived, without waiting: the next packet, the end of the connection
    /// or malformed input if the socket has it now, [`Received::Timeout`] otherwise. (A
    /// `recv_until` with a past deadline would wait for the next timer tick.)
    pub fn try_recv(&mut self) -> Received {
        loop {
            if let Some(r) = self.next_buffered() {
                return r;
            }
            let Some(stream) = self.stream.as_mut() else {
                self.ended = Some(Received::Closed);
                return Received::Closed;
            };
            self.buf.reserve(4096);
            match stream.try_read_buf(&mut self.buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Received::Timeout,
                read => {
                    if let Some(r) = self.after_read(read) {
                        return r;
                    }
                }
            }
        }
    }

    /// The next complete packet (or malformed frame) in the buffer, or the end already seen.
    fn next_buffered(&mut self) -> Option<Received> {
        if let Some(end) = &self.ended {
            return Some(end.clone());
        }
        match self.decoder.next_frame(&mut self.buf) {
            Ok(Some(frame)) => Some(match frame.decode(self.version) {
                Ok(packet) => {
                    let summary = summary::on_wire(&packet, &frame.bytes, self.version);
                    self.transcript
                        .record(&self.name, Direction::In, &frame.bytes, summary);
                    Received::Packet(packet)
                }
                // The frame was complete, so the stream is still in step: report it, and let
                // the connection go on (the expectation decides).
                Err(error) => self.malformed_frame(error, &frame.bytes),
            }),
            Ok(None) => None,
            // Kept in step: a bad fixed header whose length is readable and within the limit
            // is passed over as one frame (once it has arrived whole).
            Err(error)
                if self.in_step
                    && !error.is_incomplete()
                    && frame_len(&self.buf).is_some_and(|n| n <= self.max_packet_size) =>
            {
                let n = frame_len(&self.buf)?;
                if n > self.buf.len() {
                    return None;
                }
                let frame = self.buf.split_to(n).freeze();
                Some(self.malformed_frame(error, &frame))
            }
            Err(error) => {
                let kept = self
                    .buf
                    .split_to(self.buf.len().min(MALFORMED_KEPT))
                    .freeze();
                Some(self.malformed(error, kept))
            }
        }
    }

    /// Handles the result of one read: `Some` when the connection ended.
    fn after_read(&mut self, read: std::io::Result<usize>) -> Option<Received> {
        match read {
            Ok(0) => {
                let note = if self.buf.is_empty() {
                    "connection closed by the broker".to_owned()
                } else {
                    format!(
                        "connection closed by the broker in the middle of a packet ({} bytes pending)",
                        self.buf.len()
                    )
                };
                if !self.buf.is_empty() {
                    let pending = self.buf.split().freeze();
                    self.transcript.record(
                        &self.name,
                        Direction::In,
                        &pending,
                        "incomplete packet".to_owned(),
                    );
                }
                self.transcript.event(&self.name, note);
                Some(self.end(Received::Closed))
            }
            Ok(_) => None,
            Err(e) => {
                self.transcript
                    .event(&self.name, format!("connection reset: {e}"));
                Some(self.end(Received::Closed))
            }
        }
    }

    /// A whole frame that is not a valid packet, recorded; the stream stays in step.
    fn malformed_frame(&mut self, error: DecodeError, frame: &Bytes) -> Received {
        let kept = frame.slice(..frame.len().min(MALFORMED_KEPT));
        self.transcript.record(
            &self.name,
            Direction::In,
            &kept,
            format!("MALFORMED: {error}"),
        );
        Received::Malformed { error, bytes: kept }
    }

    fn malformed(&mut self, error: DecodeError, bytes: Bytes) -> Received {
        let kept = bytes.slice(..bytes.len().min(MALFORMED_KEPT));
        self.transcript.record(
            &self.name,
            Direction::In,
            &kept,
            format!("MALFORMED: {error}"),
        );
        self.end(Received::Malformed { error, bytes: kept })
    }

    fn end(&mut self, how: Received) -> Received {
        self.stream = None;
        self.ended = Some(how.clone());
        how
    }

    /// Closes the connection cleanly (TCP FIN) without sending anything.
    pub async fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ = timeout(Duration::from_millis(500), stream.shutdown()).await;
            self.transcript
                .event(&self.name, "connection closed by the client");
        }
        self.ended.get_or_insert(Received::Closed);
    }

    /// Drops the connection abruptly (TCP reset where the platform allows), without
    /// DISCONNECT: what a crashed client looks like to the broker.
    pub fn abort(&mut self) {
        if let Some(stream) = self.stream.take() {
            stream.abort();
            self.transcript.event(
                &self.name,
                "connection dropped by the client (no DISCONNECT)",
            );
        }
        self.ended.get_or_insert(Received::Closed);
    }
}

/// A summary for bytes the client sends raw: the packet if they decode, else why not.
fn describe_outgoing(bytes: &Bytes, v: ProtocolVersion) -> String {
    match Packet::decode(bytes.clone(), v) {
        Ok(p) => summary::on_wire(&p, bytes, v),
        Err(e) => match mqttspec_codec::packet::FixedHeader::parse(bytes, v) {
            Ok(Some(h)) => format!(
                "raw {} ({} bytes; not valid: {e})",
                h.packet_type,
                bytes.len()
            ),
            _ => format!("raw bytes ({} bytes; not valid: {e})", bytes.len()),
        },
    }
}

/// The fixed header's length and the Remaining Length of the packet at the front of `buf`,
/// when its Remaining Length has arrived and is a valid Variable Byte Integer (at most four
/// bytes, the last without the continuation bit).
fn fixed_header(buf: &[u8]) -> Option<(usize, usize)> {
    let mut remaining = 0usize;
    for i in 0..4 {
        let byte = *buf.get(1 + i)?;
        remaining |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((2 + i, remaining));
        }
    }
    None
}

/// The length of the packet at the front of `buf`, fixed header included ([`fixed_header`]).
fn frame_len(buf: &[u8]) -> Option<usize> {
    fixed_header(buf).map(|(header, remaining)| header + remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener that sends `bytes` to the first client and keeps the connection open.
    async fn sending(bytes: &'static [u8]) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(bytes).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        addr
    }

    // A QoS 0 PUBLISH with DUP set (a bad fixed header, 8 bytes long), then a valid PINGRESP.
    const BAD_THEN_GOOD: &[u8] = &[0x38, 0x06, 0x00, 0x03, b'a', b'/', b'b', b'x', 0xD0, 0x00];

    #[tokio::test]
    async fn a_bad_fixed_header_ends_the_stream_unless_kept_in_step() {
        let deadline = || Instant::now() + Duration::from_secs(2);
        let mut c = TestClient::connect_tcp(sending(BAD_THEN_GOOD).await, ProtocolVersion::V311)
            .await
            .expect("connect");
        assert!(matches!(
            c.recv_until(deadline()).await,
            Received::Malformed { .. }
        ));
        assert!(c.is_ended());
        let mut c = TestClient::connect_tcp(sending(BAD_THEN_GOOD).await, ProtocolVersion::V311)
            .await
            .expect("connect");
        c.keep_in_step();
        let first = c.recv_until(deadline()).await;
        assert_eq!(first.malformed_publish_topic(), Some(&b"a/b"[..]));
        assert!(!c.is_ended());
        assert!(matches!(
            c.recv_until(deadline()).await,
            Received::Packet(Packet::PingResp)
        ));
    }

    #[test]
    fn a_whole_frame_is_measured_by_its_remaining_length() {
        assert_eq!(frame_len(&[0x38, 0x02, 0x00, 0x00, 0xC0]), Some(4));
        assert_eq!(frame_len(&[0x38, 0x03, 0x00]), Some(5));
        assert_eq!(frame_len(&[0x38, 0x80]), None);
        assert_eq!(frame_len(&[0x38, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), None);
    }

    fn malformed(b: &'static [u8]) -> Received {
        let error = Packet::decode(Bytes::from_static(b), ProtocolVersion::V311)
            .expect_err("malformed on purpose");
        Received::Malformed {
            error,
            bytes: Bytes::from_static(b),
        }
    }

    #[test]
    fn the_topic_of_a_malformed_publish_is_read_from_its_bytes() {
        // QoS 0 with DUP set (malformed), topic "a/b".
        let m = malformed(&[0x38, 0x06, 0x00, 0x03, b'a', b'/', b'b', b'x']);
        assert_eq!(m.malformed_publish_topic(), Some(&b"a/b"[..]));
        // A two-byte Remaining Length (the bytes kept end early).
        let m = malformed(&[0x38, 0x80, 0x01, 0x00, 0x01, b'z']);
        assert_eq!(m.malformed_publish_topic(), Some(&b"z"[..]));
        // Not a PUBLISH; cut short before the end of the name; not malformed at all.
        assert_eq!(
            malformed(&[0x92, 0x03, 0x00]).malformed_publish_topic(),
            None
        );
        let m = malformed(&[0x38, 0x05, 0x00, 0x09, b'a']);
        assert_eq!(m.malformed_publish_topic(), None);
        assert_eq!(Received::Timeout.malformed_publish_topic(), None);
    }
}
