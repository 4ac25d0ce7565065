//! The scripted broker: mqttspec in the server role, one listener per case run on
//! `127.0.0.1:0`, one [`ServerConn`] per connection the client library opens.
//!
//! Nothing here answers on its own: the case decides every byte the "broker" sends, well-formed
//! ([`ServerConn::send`], encoded by the strict codec) or not ([`ServerConn::send_raw`]), and
//! reads every packet the client sends with a deadline ([`ServerConn::recv`]). What the client
//! sends is decoded strictly, so a malformed packet from the client is seen as a
//! [`Received::Malformed`] carrying the codec's violation and the statement it breaks. All
//! buffers are bounded: a client flooding bytes or claiming a huge Remaining Length gets
//! [`Received::Malformed`] (packet too large), never an allocation beyond [`MAX_PACKET_SIZE`].

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{
    connect_protocol_version, ConnAck, ConnAckProperties, Connect, DecodeError, FrameDecoder,
    Packet, ProtocolVersion, ReasonCode,
};
use mqttspec_harness::client::{summary, Direction, Transcript};
use mqttspec_harness::transport::Scheme;
use mqttspec_reference_broker::shell::{HandshakeError, Terminator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::{timeout, Instant};

use crate::transport::{self, Relay, Wire};

/// The largest packet the scripted broker accepts from a client (whole packet).
pub const MAX_PACKET_SIZE: u32 = 1024 * 1024;

/// The listener of one case run.
#[derive(Debug)]
pub struct ScriptedBroker {
    listener: TcpListener,
    addr: SocketAddr,
    scheme: Scheme,
    terminator: Option<Terminator>,
    transcript: Transcript,
    accepted: usize,
    handshake_error: Option<HandshakeError>,
}

/// Why [`ScriptedBroker::accept_checked`] has no connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptFailure {
    /// The client opened no connection in time (or accept failed).
    NoConnection,
    /// It did, and its TLS or WebSocket handshake failed.
    Handshake(HandshakeError),
}

impl ScriptedBroker {
    /// Listens on a fresh loopback port over plain TCP.
    pub async fn bind(transcript: Transcript) -> std::io::Result<Self> {
        ScriptedBroker::bind_over(transcript, Scheme::Tcp, None).await
    }

    /// Listens on a fresh loopback port; connections are accepted over `scheme`, whose TLS
    /// and WebSocket layers `terminator` does (`None` for plain TCP).
    pub async fn bind_over(
        transcript: Transcript,
        scheme: Scheme,
        terminator: Option<Terminator>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        Ok(ScriptedBroker {
            listener,
            addr,
            scheme,
            terminator,
            transcript,
            accepted: 0,
            handshake_error: None,
        })
    }

    /// The address the adapter connects to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The transport connections are accepted over.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The last TLS or WebSocket handshake that failed.
    pub fn handshake_error(&self) -> Option<&HandshakeError> {
        self.handshake_error.as_ref()
    }

    /// Waits at most `within` for the client to open a connection (and finish its TLS and
    /// WebSocket handshakes).
    pub async fn accept(&mut self, within: Duration) -> Option<ServerConn> {
        self.accept_checked(within).await.ok()
    }

    /// [`ScriptedBroker::accept`], telling a failed handshake from no connection.
    pub async fn accept_checked(&mut self, within: Duration) -> Result<ServerConn, AcceptFailure> {
        let tcp = match timeout(within, self.listener.accept()).await {
            Ok(Ok((stream, _))) => stream,
            Ok(Err(e)) => {
                self.transcript
                    .event("broker", format!("accept failed: {e}"));
                return Err(AcceptFailure::NoConnection);
            }
            Err(_) => {
                self.transcript
                    .event("broker", format!("no connection within {within:?}"));
                return Err(AcceptFailure::NoConnection);
            }
        };
        self.accepted += 1;
        let name = format!("conn{}", self.accepted);
        let (stream, relay) = match transport::open(tcp, self.terminator.as_ref()).await {
            Ok(opened) => opened,
            Err(e) => {
                self.transcript
                    .event(&name, format!("the client's connection failed: {e}"));
                self.handshake_error = Some(e.clone());
                return Err(AcceptFailure::Handshake(e));
            }
        };
        let how = if self.scheme == Scheme::Tcp {
            String::new()
        } else {
            format!(" over {}", self.scheme.as_str())
        };
        self.transcript
            .event(&name, format!("client connected{how}"));
        Ok(ServerConn {
            stream,
            relay,
            buf: BytesMut::new(),
            decoder: None,
            name,
            transcript: self.transcript.clone(),
            closed: false,
        })
    }
}

/// What one read from the client gave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per read; boxing every packet gains nothing
pub enum Received {
    /// A well-formed packet.
    Packet(Packet),
    /// Bytes the strict codec refuses (the connection is unusable afterwards).
    Malformed(DecodeError),
    /// The client closed the connection (or it broke).
    Closed,
    /// Nothing arrived before the deadline.
    Timeout,
}

impl Received {
    /// A short text for Expected/Actual.
    pub fn describe(&self, v: ProtocolVersion) -> String {
        match self {
            Received::Packet(p) => summary::packet(p, v),
            Received::Malformed(e) => format!("a malformed packet: {e}"),
            Received::Closed => "the connection closed".into(),
            Received::Timeout => "nothing".into(),
        }
    }
}

/// One connection from the client under test.
#[derive(Debug)]
pub struct ServerConn {
    stream: Wire,
    relay: Option<Relay>,
    buf: BytesMut,
    decoder: Option<FrameDecoder>,
    name: String,
    transcript: Transcript,
    closed: bool,
}

impl ServerConn {
    /// The protocol version of the connection, once the CONNECT told it (MQTT 5.0 before).
    pub fn version(&self) -> ProtocolVersion {
        self.decoder
            .as_ref()
            .map_or(ProtocolVersion::V5, FrameDecoder::version)
    }

    /// Fixes the version (for cases that send before any CONNECT was read).
    pub fn set_version(&mut self, v: ProtocolVersion) {
        self.decoder = Some(FrameDecoder::new(v).with_max_packet_size(MAX_PACKET_SIZE));
    }

    /// Reads the next packet from the client, waiting at most `within`.
    pub async fn recv(&mut self, within: Duration) -> Received {
        let deadline = Instant::now() + within;
        loop {
            if let Some(r) = self.try_decode() {
                return r;
            }
            if self.closed {
                return Received::Closed;
            }
            let mut chunk = [0u8; 8192];
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await;
            match read {
                Err(_) => return Received::Timeout,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.closed = true;
                    self.transcript
                        .event(&self.name, "the client closed the connection");
                    if !self.buf.is_empty() {
                        let left = self.buf.split();
                        self.transcript.record(
                            &self.name,
                            Direction::In,
                            &left,
                            "incomplete packet before close".into(),
                        );
                    }
                    return Received::Closed;
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            }
        }
    }

    fn try_decode(&mut self) -> Option<Received> {
        if self.decoder.is_none() {
            match connect_protocol_version(&self.buf) {
                Ok(None) => return None,
                Ok(Some(v)) => self.set_version(v),
                // Not a CONNECT (or not a known level): decode as MQTT 5.0 to show what it is.
                Err(_) => self.set_version(ProtocolVersion::V5),
            }
        }
        let decoder = self.decoder.as_mut()?;
        let v = decoder.version();
        match decoder.next_frame(&mut self.buf) {
            Ok(None) => None,
            Ok(Some(frame)) => match frame.decode(v) {
                Ok(p) => {
                    self.transcript.record(
                        &self.name,
                        Direction::In,
                        &frame.bytes,
                        summary::packet(&p, v),
                    );
                    Some(Received::Packet(p))
                }
                Err(e) => {
                    self.transcript.record(
                        &self.name,
                        Direction::In,
                        &frame.bytes,
                        format!("malformed: {e}"),
                    );
                    self.closed = true;
                    Some(Received::Malformed(e))
                }
            },
            Err(e) => {
                let bytes = self.buf.split();
                self.transcript.record(
                    &self.name,
                    Direction::In,
                    &bytes,
                    format!("malformed: {e}"),
                );
                self.closed = true;
                Some(Received::Malformed(e))
            }
        }
    }

    /// Reads until a packet other than PINGREQ arrives (each PINGREQ is answered with PINGRESP),
    /// or the deadline.
    pub async fn recv_skipping_pings(&mut self, within: Duration) -> Received {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left).await {
                Received::Packet(Packet::PingReq) => self.send(&Packet::PingResp).await,
                other => return other,
            }
        }
    }

    /// Reads the CONNECT that must open the connection.
    pub async fn recv_connect(&mut self, within: Duration) -> Result<Box<Connect>, Received> {
        match self.recv(within).await {
            Received::Packet(Packet::Connect(c)) => Ok(c),
            other => Err(other),
        }
    }

    /// Sends a packet, encoded for the connection's version. A packet the strict encoder
    /// refuses is a case bug: it is recorded and nothing is sent.
    pub async fn send(&mut self, packet: &Packet) {
        let v = self.version();
        match packet.encode(v) {
            Ok(bytes) => {
                let text = summary::packet(packet, v);
                self.write(&bytes, text).await;
            }
            Err(e) => self
                .transcript
                .event(&self.name, format!("case bug, not sent: {e}")),
        }
    }

    /// Sends any bytes (malformed packets included), described as `what`.
    pub async fn send_raw(&mut self, bytes: &[u8], what: &str) {
        self.write(bytes, format!("raw: {what}")).await;
    }

    async fn write(&mut self, bytes: &[u8], text: String) {
        self.transcript
            .record(&self.name, Direction::Out, bytes, text);
        // A client that stopped reading must not block the case: bounded.
        match timeout(Duration::from_secs(2), self.stream.write_all(bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self
                .transcript
                .event(&self.name, format!("write failed: {e}")),
            Err(_) => self.transcript.event(
                &self.name,
                "write blocked for 2 s (the client does not read)",
            ),
        }
    }

    /// Sends CONNACK with `code` (0 accepts) and the given properties (MQTT 5.0).
    pub async fn connack(
        &mut self,
        session_present: bool,
        code: ReasonCode,
        props: ConnAckProperties,
    ) {
        let props = if self.version().is_v5() {
            props
        } else {
            ConnAckProperties::default()
        };
        self.send(&Packet::ConnAck(ConnAck {
            session_present,
            reason_code: code,
            properties: props.into(),
        }))
        .await;
    }

    /// Waits at most `within` for the client to close the connection, collecting the packets
    /// it sent meanwhile (PINGREQs are answered): `Ok` with them when it closed, `Err` with them
    /// when it stayed. After a malformed packet from the client the stream cannot be followed,
    /// so only the close itself is waited for.
    pub async fn closes_within(&mut self, within: Duration) -> Result<Vec<Packet>, Vec<Packet>> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left).await {
                Received::Closed => return Ok(seen),
                Received::Timeout => return Err(seen),
                Received::Malformed(_) => {
                    // The stream cannot be followed further; wait for the close itself.
                    return if self.wait_eof(left).await {
                        Ok(seen)
                    } else {
                        Err(seen)
                    };
                }
                Received::Packet(Packet::PingReq) => {
                    self.send(&Packet::PingResp).await;
                    seen.push(Packet::PingReq);
                }
                Received::Packet(p) => seen.push(p),
            }
        }
    }

    async fn wait_eof(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Closes the connection from the server side.
    pub async fn close(mut self) {
        self.transcript
            .event(&self.name, "the broker closes the connection");
        let _ = self.stream.shutdown().await;
    }

    /// WebSocket only: sends `text` to the client in one text frame (MQTT-6.0.0-1 says the
    /// client closes the connection on it). False when the transport is not WebSocket.
    pub async fn send_text_frame(&mut self, text: &str) -> bool {
        let Some(frames) = self.relay.as_ref().and_then(|r| r.frames.as_ref()) else {
            return false;
        };
        self.transcript
            .event(&self.name, format!("out: a WebSocket text frame {text:?}"));
        frames.send(text.to_owned()).await.is_ok()
    }

    /// TLS and WebSocket only: after the connection closed, why the relay closed it when a
    /// frame from the client broke section 6 (waits at most `within` for the relay to end).
    pub async fn relay_refusal(&mut self, within: Duration) -> Option<&'static str> {
        let relay = self.relay.as_mut()?;
        match timeout(within, &mut relay.ended).await {
            Ok(Ok(why)) => why,
            _ => None,
        }
    }

    /// Whether the client has closed the connection (as far as reads have shown).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The raw bytes buffered and not yet decoded.
    pub fn pending(&self) -> Bytes {
        Bytes::copy_from_slice(&self.buf)
    }
}
