//! Packets built by hand: the malformed and unusual packets a case sends (byte by byte, with
//! [`RawPacket`]), PUBLISH packets with exactly the fields a case chooses, and a CONNECT sent
//! without waiting for its answer. Everything well-formed and ordinary comes from the
//! client's own steps (`t.client(..).connect()`, `c.publish(..)`, `c.subscribe(..)`).

use bytes::Bytes;
use mqttspec_codec::{Delivery, Packet, Publish, QoS, RawPacket};

use super::{packet_id, topic_name};
use mqttspec_harness::scenario::{Client, ClientBuilder, Ctx, Failure};

/// A CONNECT built byte by byte. By default it has Protocol Name "MQTT", the run's Protocol
/// Level and layout (an empty property block in MQTT 5.0), the given Connect Flags, Keep
/// Alive 60 and the given Client Identifier, and nothing else: no Will fields and no
/// credentials, whatever the flags say.
#[derive(Debug, Clone)]
pub(crate) struct RawConnect {
    protocol_name: Vec<u8>,
    level: u8,
    v5_layout: bool,
    flags: u8,
    properties: Vec<u8>,
    client_id: String,
    will: Option<(String, Vec<u8>)>,
    credentials: Option<(String, Option<String>)>,
    tail: Vec<u8>,
}

impl RawConnect {
    /// The CONNECT of `client_id` with Connect Flags `flags` (credential flags are added by
    /// [`RawConnect::credentials`]).
    pub(crate) fn new(t: &Ctx, client_id: &str, flags: u8) -> Self {
        RawConnect {
            protocol_name: b"MQTT".to_vec(),
            level: t.protocol().level(),
            v5_layout: t.is_v5(),
            flags,
            properties: Vec::new(),
            client_id: client_id.to_owned(),
            will: None,
            credentials: None,
            tail: Vec::new(),
        }
    }

    /// Another Protocol Name.
    pub(crate) fn protocol_name(mut self, name: &[u8]) -> Self {
        self.protocol_name = name.to_vec();
        self
    }

    /// Another Protocol Level (the layout stays the run's).
    pub(crate) fn level(mut self, level: u8) -> Self {
        self.level = level;
        self
    }

    /// The raw CONNECT property bytes (MQTT 5.0 layout only).
    pub(crate) fn properties(mut self, properties: &[u8]) -> Self {
        self.properties = properties.to_vec();
        self
    }

    /// Will fields after the Client Identifier (see [`will_fields`]); the Will Flag is the
    /// case's to set, or not.
    pub(crate) fn will(mut self, topic: &str, payload: &[u8]) -> Self {
        self.will = Some((topic.to_owned(), payload.to_vec()));
        self
    }

    /// The profile's User Name and Password (if it gives them), with their flags set.
    pub(crate) fn credentials(mut self, t: &Ctx) -> Self {
        self.credentials = t
            .profile()
            .credentials
            .as_ref()
            .map(|c| (c.username.clone(), c.password.clone()));
        self
    }

    /// Raw bytes appended at the end of the payload.
    pub(crate) fn tail(mut self, tail: &[u8]) -> Self {
        self.tail = tail.to_vec();
        self
    }

    /// The packet's bytes.
    pub(crate) fn build(self) -> Bytes {
        let mut flags = self.flags;
        if let Some((_, password)) = &self.credentials {
            flags |= 0x80;
            if password.is_some() {
                flags |= 0x40;
            }
        }
        let mut p = RawPacket::new(0x10)
            .binary(&self.protocol_name)
            .u8(self.level)
            .u8(flags)
            .u16(60);
        if self.v5_layout {
            p = p.properties(&self.properties);
        }
        p = p.string(&self.client_id);
        if let Some((topic, payload)) = &self.will {
            p = p.bytes(&will_bytes(self.v5_layout, topic, payload));
        }
        if let Some((username, password)) = &self.credentials {
            p = p.string(username);
            if let Some(pw) = password {
                p = p.binary(pw.as_bytes());
            }
        }
        p.bytes(&self.tail).build()
    }
}

/// The Will fields of a CONNECT payload in the run's layout: (MQTT 5.0: empty Will
/// Properties,) Will Topic, Will Payload.
pub(crate) fn will_fields(t: &Ctx, topic: &str, payload: &[u8]) -> Vec<u8> {
    will_bytes(t.is_v5(), topic, payload)
}

fn will_bytes(v5_layout: bool, topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut p = RawPacket::new(0);
    if v5_layout {
        p = p.properties(&[]);
    }
    p.string(topic).binary(payload).body().to_vec()
}

/// Opens a connection for `builder` and sends its CONNECT, without waiting for the answer
/// (the case reads it itself).
pub(crate) async fn send_connect(builder: ClientBuilder) -> Result<Client, Failure> {
    let connect = builder.connect_packet()?;
    let mut c = builder.open().await?;
    c.send(&Packet::Connect(Box::new(connect))).await?;
    Ok(c)
}

/// A PUBLISH built byte by byte: `flags` is the low nibble of the first byte (DUP, QoS,
/// RETAIN), `properties` the raw property bytes (MQTT 5.0 only).
pub(crate) fn raw_publish(
    t: &Ctx,
    flags: u8,
    topic: &str,
    id: Option<u16>,
    properties: &[u8],
    payload: &[u8],
) -> Bytes {
    let mut p = RawPacket::new(0x30 | (flags & 0x0F)).string(topic);
    if let Some(id) = id {
        p = p.u16(id);
    }
    if t.is_v5() {
        p = p.properties(properties);
    }
    p.bytes(payload).build()
}

/// A PUBLISH with exactly these fields (no DUP, no RETAIN, no properties).
pub(crate) fn publish_packet(
    topic: &str,
    qos: u8,
    id: Option<u16>,
    payload: &[u8],
) -> Result<Publish, Failure> {
    let level = QoS::from_u8(qos)
        .ok_or_else(|| Failure::error(format!("case error: QoS {qos} (use RawPacket)")))?;
    let delivery =
        Delivery::from_parts(level, id.map(packet_id).transpose()?).ok_or_else(|| {
            Failure::error(format!(
                "case error: QoS {qos} with Packet Identifier {id:?} (use RawPacket)"
            ))
        })?;
    Ok(Publish {
        dup: false,
        delivery,
        retain: false,
        topic: topic_name(topic)?,
        properties: Default::default(),
        payload: Bytes::copy_from_slice(payload),
    })
}

/// A SUBSCRIBE built byte by byte in the run's layout: `first` is the first byte (type and
/// flags), then the Packet Identifier, (MQTT 5.0) the raw property bytes `properties`, and
/// each (Topic Filter bytes, Subscription Options byte) pair as given.
pub(crate) fn raw_subscribe(
    t: &Ctx,
    first: u8,
    id: u16,
    properties: &[u8],
    filters: &[(&[u8], u8)],
) -> Bytes {
    let mut p = RawPacket::new(first).u16(id);
    if t.is_v5() {
        p = p.properties(properties);
    }
    for (filter, options) in filters {
        p = p.binary(filter).u8(*options);
    }
    p.build()
}

/// An UNSUBSCRIBE built byte by byte (see [`raw_subscribe`]; no properties).
pub(crate) fn raw_unsubscribe(t: &Ctx, first: u8, id: u16, filters: &[&[u8]]) -> Bytes {
    let mut p = RawPacket::new(first).u16(id);
    if t.is_v5() {
        p = p.properties(&[]);
    }
    for filter in filters {
        p = p.binary(filter);
    }
    p.build()
}
