//! A small MQTT client over real loopback TCP, built on our own codec, for the tests of the
//! tokio shell (`tcp_*.rs`) and the real-client tests. It decodes what the broker sends
//! strictly, and every wait has a deadline ([`WAIT`]) so a broker bug gives a failure with a
//! message instead of a hung test.
#![allow(dead_code, unused_imports)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{
    ConnAck, Connect, Delivery, FrameDecoder, MqttString, Packet, PacketId, Properties,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, SubAck, Subscribe,
    SubscriptionOptions, TopicFilter, TopicName,
};
use mqttspec_reference_broker::shell::RunningBroker;
use mqttspec_reference_broker::Config;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

pub use mqttspec_codec::ProtocolVersion::{V311, V5};

/// The longest any single step may take: generous, for CI machines with two busy cores.
pub const WAIT: Duration = Duration::from_secs(15);

/// Awaits `fut` for at most [`WAIT`]; a timeout fails the test, naming what was awaited.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    within_for(WAIT, what, fut).await
}

/// Awaits `fut` for at most `limit`; a timeout fails the test, naming what was awaited.
pub async fn within_for<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Starts the broker in-process on an ephemeral loopback port.
pub async fn start_broker(config: Config) -> RunningBroker {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
    within("the broker to start", RunningBroker::start(addr, config))
        .await
        .expect("broker binds a loopback port")
}

/// A Topic Name.
pub fn topic(s: &str) -> TopicName {
    TopicName::new(s).expect("valid topic name")
}

/// A Topic Filter.
pub fn filter(s: &str) -> TopicFilter {
    TopicFilter::new(s).expect("valid topic filter")
}

/// A UTF-8 string.
pub fn string(s: &str) -> MqttString {
    MqttString::new(s, "test").expect("valid string")
}

/// A Packet Identifier.
pub fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero packet id")
}

/// A CONNECT with Clean Start 1, Keep Alive 0 and nothing else.
pub fn connect_packet(version: ProtocolVersion, client_id: &str) -> Connect {
    Connect {
        protocol_version: version,
        clean_start: true,
        keep_alive: 0,
        properties: Default::default(),
        client_id: string(client_id),
        will: None,
        username: None,
        password: None,
    }
}

/// Encodes a packet for `version` (test packets are always encodable).
pub fn encode(packet: &Packet, version: ProtocolVersion) -> Bytes {
    packet
        .encode(version)
        .unwrap_or_else(|e| panic!("cannot encode {packet:?} for {version:?}: {e}"))
}

/// Reads packets from a byte stream, decoding them strictly for one protocol version.
#[derive(Debug)]
pub struct PacketReader<R> {
    read: R,
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    /// A reader of packets sent to a client of `version`.
    pub fn new(read: R, version: ProtocolVersion) -> Self {
        PacketReader {
            read,
            decoder: FrameDecoder::new(version),
            buf: BytesMut::with_capacity(64 * 1024),
        }
    }

    /// The next packet already received and buffered, without reading the socket.
    pub fn next_buffered(&mut self) -> Option<Packet> {
        match self.decoder.decode(&mut self.buf) {
            Ok(p) => p,
            Err(e) => panic!("the broker sent a packet that does not decode: {e}"),
        }
    }

    /// The next packet, or `None` once the broker has closed the connection (cleanly or by
    /// reset). A packet that does not decode strictly fails the test. No deadline: wrap it.
    pub async fn next(&mut self) -> Option<Packet> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(packet)) => return Some(packet),
                Ok(None) => {}
                Err(e) => panic!("the broker sent a packet that does not decode: {e}"),
            }
            self.buf.reserve(64 * 1024);
            match self.read.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => {
                    assert!(
                        self.buf.is_empty(),
                        "connection closed in the middle of a packet ({} bytes left)",
                        self.buf.len()
                    );
                    return None;
                }
                Ok(_) => {}
            }
        }
    }
}

/// A client connection over TCP.
#[derive(Debug)]
pub struct TestClient {
    /// Its protocol version.
    pub version: ProtocolVersion,
    reader: PacketReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
    next_id: u16,
}

impl TestClient {
    /// Opens a TCP connection without sending anything.
    pub async fn open(addr: SocketAddr, version: ProtocolVersion) -> TestClient {
        let stream = within("the TCP connection", TcpStream::connect(addr))
            .await
            .expect("connect to the broker");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        TestClient::from_stream(stream, version)
    }

    /// Wraps an already connected stream.
    pub fn from_stream(stream: TcpStream, version: ProtocolVersion) -> TestClient {
        let (read, write) = stream.into_split();
        TestClient {
            version,
            reader: PacketReader::new(read, version),
            write,
            next_id: 0,
        }
    }

    /// Connects with Clean Start, Keep Alive 0, and expects a successful CONNACK.
    pub async fn connect(
        addr: SocketAddr,
        version: ProtocolVersion,
        client_id: &str,
    ) -> (TestClient, ConnAck) {
        TestClient::connect_with(addr, connect_packet(version, client_id)).await
    }

    /// Sends this CONNECT and expects a successful CONNACK.
    pub async fn connect_with(addr: SocketAddr, connect: Connect) -> (TestClient, ConnAck) {
        let mut client = TestClient::open(addr, connect.protocol_version).await;
        client.send(&Packet::Connect(Box::new(connect))).await;
        let connack = match client.recv().await {
            Packet::ConnAck(c) => c,
            other => panic!("expected CONNACK, got {other:?}"),
        };
        assert_eq!(connack.reason_code, ReasonCode::Success, "CONNACK refused");
        (client, connack)
    }

    /// Splits into the packet reader and the write half (for concurrent reading and writing).
    pub fn into_parts(self) -> (PacketReader<OwnedReadHalf>, OwnedWriteHalf) {
        (self.reader, self.write)
    }

    /// The next free Packet Identifier (1, 2, ... wrapping past 65535 to 1).
    pub fn next_packet_id(&mut self) -> PacketId {
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        pid(self.next_id)
    }

    /// Encodes and sends one packet.
    pub async fn send(&mut self, packet: &Packet) {
        let bytes = encode(packet, self.version);
        self.send_bytes(&bytes).await;
    }

    /// Sends raw bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        within("a write to the broker", self.write.write_all(bytes))
            .await
            .expect("write to the broker");
    }

    /// The next packet from the broker; a timeout or a closed connection fails the test.
    pub async fn recv(&mut self) -> Packet {
        match within("a packet from the broker", self.reader.next()).await {
            Some(p) => p,
            None => panic!("the broker closed the connection while a packet was expected"),
        }
    }

    /// The next packet already received and buffered, without reading the socket.
    pub fn next_buffered(&mut self) -> Option<Packet> {
        self.reader.next_buffered()
    }

    /// The next packet, or `None` if the broker closes the connection; a timeout fails.
    pub async fn recv_or_closed(&mut self) -> Option<Packet> {
        within("a packet or the end of the connection", self.reader.next()).await
    }

    /// Waits for the broker to close the connection, failing on any packet or a timeout.
    pub async fn expect_closed(&mut self) {
        if let Some(p) = self.recv_or_closed().await {
            panic!("expected the connection to be closed, got {p:?}");
        }
    }

    /// Subscribes to one filter and returns the SUBACK.
    pub async fn subscribe(&mut self, topic_filter: &str, qos: QoS) -> SubAck {
        let packet_id = self.next_packet_id();
        let subscribe = Subscribe {
            packet_id,
            properties: Default::default(),
            filters: vec![(filter(topic_filter), SubscriptionOptions::qos(qos))],
        };
        self.send(&Packet::Subscribe(subscribe)).await;
        match self.recv().await {
            Packet::SubAck(s) => {
                assert_eq!(s.packet_id, packet_id, "SUBACK for another SUBSCRIBE");
                s
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP), asserting
    /// success reason codes.
    pub async fn publish(&mut self, topic_name: &str, qos: QoS, payload: &[u8]) {
        let mut publish = Publish::new(topic(topic_name), Bytes::copy_from_slice(payload));
        publish.delivery = Delivery::new(qos, PacketId::MIN);
        self.publish_packet(publish).await;
    }

    /// Sends this PUBLISH (at QoS 1/2 with the next Packet Identifier in place of its own) and
    /// completes its flow.
    pub async fn publish_packet(&mut self, mut publish: Publish) {
        let qos = publish.qos();
        let packet_id = (qos != QoS::AtMostOnce).then(|| self.next_packet_id());
        if let Some(id) = packet_id {
            publish.set_packet_id(id);
        }
        self.send(&Packet::Publish(publish)).await;
        let Some(id) = packet_id else { return };
        match (qos, self.recv().await) {
            (QoS::AtLeastOnce, Packet::PubAck(ack)) => {
                assert_eq!(ack.packet_id, id, "PUBACK for another PUBLISH");
                assert_eq!(ack.reason_code, ReasonCode::Success, "PUBACK refused");
            }
            (QoS::ExactlyOnce, Packet::PubRec(rec)) => {
                assert_eq!(rec.packet_id, id, "PUBREC for another PUBLISH");
                assert_eq!(rec.reason_code, ReasonCode::Success, "PUBREC refused");
                self.send(&Packet::PubRel(PubRel::new(id))).await;
                match self.recv().await {
                    Packet::PubComp(comp) => assert_eq!(comp.packet_id, id),
                    other => panic!("expected PUBCOMP, got {other:?}"),
                }
            }
            (qos, other) => {
                panic!("expected the acknowledgement of a QoS {qos:?} PUBLISH, got {other:?}")
            }
        }
    }

    /// The next packet, which must be a PUBLISH (not acknowledged yet: see [`Self::ack`]).
    pub async fn expect_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Completes the receiver's side of the QoS flow of a received PUBLISH.
    pub async fn ack(&mut self, publish: &Publish) {
        let Some(id) = publish.packet_id() else {
            return;
        };
        match publish.qos() {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(&Packet::PubAck(PubAck::new(id))).await,
            QoS::ExactlyOnce => {
                self.send(&Packet::PubRec(PubRec::new(id))).await;
                match self.recv().await {
                    Packet::PubRel(rel) => assert_eq!(rel.packet_id, id, "PUBREL for another id"),
                    other => panic!("expected PUBREL, got {other:?}"),
                }
                self.send(&Packet::PubComp(PubComp::new(id))).await;
            }
        }
    }

    /// Sends PINGREQ and expects PINGRESP.
    pub async fn ping(&mut self) {
        self.send(&Packet::PingReq).await;
        match self.recv().await {
            Packet::PingResp => {}
            other => panic!("expected PINGRESP, got {other:?}"),
        }
    }

    /// Sends a normal DISCONNECT and closes the socket.
    pub async fn disconnect(mut self) {
        self.send(&Packet::Disconnect(Default::default())).await;
        let _ = within("closing the socket", self.write.shutdown()).await;
    }
}
