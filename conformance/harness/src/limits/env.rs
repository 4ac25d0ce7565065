//! What every probe of one protocol version shares: the address, credentials, timeouts, the
//! run's unique topic prefix and Client Identifiers, and the list of things to undo at the
//! end (retained messages set, sessions kept). Plus the few packet exchanges the probes are
//! made of, each bounded by the response timeout.

use crate::transport::Endpoint;
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    ConnAck, Connect, ConnectProperties, Disconnect, MqttString, Packet, PacketId, ProtocolVersion,
    PubAck, Publish, QoS, Subscribe, SubscriptionOptions, TopicFilter, TopicName,
};
use tokio::time::Instant;

use crate::client::{summary, ClientOptions, Received, TestClient, Transcript};
use crate::profile::Profile;

/// How a CONNECT of a probe is made.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    /// Client Identifier.
    pub client_id: String,
    /// Clean Start (MQTT 5.0) / Clean Session (MQTT 3.1.1).
    pub clean_start: bool,
    /// Session Expiry Interval (MQTT 5.0; `None`: absent, i.e. 0).
    pub session_expiry: Option<u32>,
    /// Receive Maximum (MQTT 5.0; `None`: absent, i.e. 65535).
    pub receive_maximum: Option<u16>,
}

/// The shared state of the probes of one protocol version.
#[derive(Debug)]
pub struct Env {
    /// The broker.
    pub addr: Endpoint,
    /// The version probed.
    pub version: ProtocolVersion,
    /// Credentials.
    pub profile: Profile,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// How long a stream of messages must stay quiet to count as over.
    pub settle: Duration,
    /// The probe's topics are below `<prefix>/`.
    pub prefix: String,
    /// Whether wildcard subscriptions may be used (MQTT 5.0 CONNACK).
    pub wildcards: bool,
    token: String,
    counter: AtomicU32,
    undo: Mutex<Undo>,
}

/// What the cleanup has to undo.
#[derive(Debug, Default)]
struct Undo {
    retained: Vec<String>,
    sessions: Vec<String>,
}

impl Env {
    /// The shared state for `version`; `token` makes Client Identifiers unique (letters
    /// and digits, at most 12).
    pub fn new(
        addr: Endpoint,
        version: ProtocolVersion,
        profile: Profile,
        prefix: String,
        token: String,
    ) -> Env {
        let timeout = profile.response_timeout();
        Env {
            addr,
            version,
            settle: timeout.clamp(Duration::from_millis(100), Duration::from_secs(1)),
            timeout,
            profile,
            prefix: format!("{prefix}/v{}", if version.is_v5() { "5" } else { "311" }),
            wildcards: true,
            token,
            counter: AtomicU32::new(0),
            undo: Mutex::new(Undo::default()),
        }
    }

    /// A fresh Client Identifier: `mqp` + token + a counter, at most 23 letters and digits
    /// (what every MQTT server must accept).
    pub fn client_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("mqp{}{n:04}", self.token)
    }

    /// A topic below the probe's prefix.
    pub fn topic(&self, rest: &str) -> String {
        format!("{}/{rest}", self.prefix)
    }

    /// Notes a retained message to clear at the end.
    pub fn set_retained(&self, topic: &str) {
        let mut u = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        if !u.retained.iter().any(|t| t == topic) {
            u.retained.push(topic.to_owned());
        }
    }

    /// Notes a retained message cleared.
    pub fn cleared_retained(&self, topic: &str) {
        let mut u = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        u.retained.retain(|t| t != topic);
    }

    /// Notes a session the broker may keep, to end at the end.
    pub fn kept_session(&self, client_id: &str) {
        let mut u = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        if !u.sessions.iter().any(|t| t == client_id) {
            u.sessions.push(client_id.to_owned());
        }
    }

    /// Notes a session ended.
    pub fn ended_session(&self, client_id: &str) {
        let mut u = self.undo.lock().unwrap_or_else(|e| e.into_inner());
        u.sessions.retain(|t| t != client_id);
    }

    /// A plain CONNECT spec: fresh id, Clean Start, no session kept.
    pub fn fresh(&self) -> ConnectSpec {
        ConnectSpec {
            client_id: self.client_id(),
            clean_start: true,
            session_expiry: None,
            receive_maximum: None,
        }
    }

    /// Opens a connection and sends CONNECT as `spec` says; `Ok` with the client and the
    /// CONNACK when the broker accepted it, else what happened.
    pub async fn connect(&self, spec: &ConnectSpec) -> Result<(TestClient, ConnAck), String> {
        let mut options = ClientOptions::new("limits", self.version);
        options.connect_timeout = self.timeout.max(Duration::from_secs(2));
        if let Some(max) = self.profile.limits.max_packet_size {
            options.max_packet_size = max;
        }
        let mut client = TestClient::connect_with(&self.addr, options, Transcript::default())
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let mut properties = ConnectProperties::default();
        if self.version.is_v5() {
            properties.session_expiry_interval = spec.session_expiry;
            properties.receive_maximum = spec.receive_maximum.and_then(NonZeroU16::new);
        }
        let credentials = self.profile.credentials.as_ref();
        let connect = Connect {
            protocol_version: self.version,
            clean_start: spec.clean_start,
            keep_alive: 60,
            properties: properties.into(),
            client_id: MqttString::new(spec.client_id.clone(), "Client Identifier")
                .map_err(|e| format!("Client Identifier: {e}"))?,
            will: None,
            username: credentials
                .and_then(|c| MqttString::new(c.username.clone(), "User Name").ok()),
            password: credentials
                .and_then(|c| c.password.clone())
                .map(Bytes::from),
        };
        if let Err(e) = client.send(&Packet::Connect(Box::new(connect))).await {
            client.close().await;
            return Err(format!("CONNECT not sent: {e}"));
        }
        let got = client.recv_until(Instant::now() + self.timeout).await;
        match got {
            Received::Packet(Packet::ConnAck(ack)) if !ack.reason_code.is_error() => {
                Ok((client, ack))
            }
            other => {
                client.close().await;
                Err(format!("CONNECT got {}", self.describe(&other)))
            }
        }
    }

    /// What `got` was, in words.
    pub fn describe(&self, got: &Received) -> String {
        match got {
            Received::Packet(p) => summary::packet(p, self.version),
            Received::Timeout => format!("no answer within {} ms", self.timeout.as_millis()),
            other => other.describe(self.version),
        }
    }

    /// Subscribes to `filter` at QoS `qos`; `Ok` when SUBACK grants it.
    pub async fn subscribe(
        &self,
        client: &mut TestClient,
        filter: &str,
        qos: QoS,
    ) -> Result<(), String> {
        let filter = TopicFilter::new(filter.to_owned()).map_err(|e| format!("filter: {e}"))?;
        let packet_id = pid(1)?;
        client
            .send(&Packet::Subscribe(Subscribe {
                packet_id,
                properties: Default::default(),
                filters: vec![(filter, SubscriptionOptions::qos(qos))],
            }))
            .await
            .map_err(|e| format!("SUBSCRIBE not sent: {e}"))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            match client.recv_until(deadline).await {
                Received::Packet(Packet::SubAck(ack)) if ack.packet_id == packet_id => {
                    return match ack.reason_codes.first() {
                        Some(code) if !code.is_error() => Ok(()),
                        Some(code) => Err(format!("SUBACK 0x{:02X}", code.as_u8())),
                        None => Err("SUBACK without a return code".to_owned()),
                    };
                }
                // Retained messages may come before the SUBACK.
                Received::Packet(Packet::Publish(_)) => {}
                other => return Err(format!("SUBSCRIBE got {}", self.describe(&other))),
            }
        }
    }

    /// Publishes at QoS 1 and waits for the PUBACK; returns the PUBLISH packets that came
    /// first (acknowledged when QoS 1), in order.
    pub async fn publish_qos1(
        &self,
        client: &mut TestClient,
        topic: &str,
        payload: Bytes,
        retain: bool,
        packet_id: u16,
    ) -> Result<Vec<Publish>, String> {
        let packet_id = pid(packet_id)?;
        let publish = Publish {
            dup: false,
            delivery: mqttspec_codec::Delivery::AtLeastOnce(packet_id),
            retain,
            topic: TopicName::new(topic.to_owned()).map_err(|e| format!("topic: {e}"))?,
            properties: Default::default(),
            payload,
        };
        client
            .send(&Packet::Publish(publish))
            .await
            .map_err(|e| format!("PUBLISH not sent: {e}"))?;
        let deadline = Instant::now() + self.timeout;
        let mut before = Vec::new();
        loop {
            match client.recv_until(deadline).await {
                Received::Packet(Packet::PubAck(ack)) if ack.packet_id == packet_id => {
                    return if ack.reason_code.is_error() {
                        Err(format!("PUBACK 0x{:02X}", ack.reason_code.as_u8()))
                    } else {
                        Ok(before)
                    };
                }
                Received::Packet(Packet::Publish(p)) => {
                    ack_if_needed(client, &p).await;
                    if before.len() < 16 {
                        before.push(p);
                    }
                }
                other => return Err(format!("PUBLISH got {}", self.describe(&other))),
            }
        }
    }

    /// Publishes an empty message at QoS 0 (clearing a retained one when `retain`).
    pub async fn publish_qos0(
        &self,
        client: &mut TestClient,
        topic: &str,
        payload: Bytes,
        retain: bool,
    ) -> Result<(), String> {
        let publish = Publish {
            dup: false,
            delivery: mqttspec_codec::Delivery::AtMostOnce,
            retain,
            topic: TopicName::new(topic.to_owned()).map_err(|e| format!("topic: {e}"))?,
            properties: Default::default(),
            payload,
        };
        client
            .send(&Packet::Publish(publish))
            .await
            .map_err(|e| format!("PUBLISH not sent: {e}"))
    }

    /// DISCONNECT (normal) and close.
    pub async fn bye(&self, mut client: TestClient) {
        let _ = client
            .send(&Packet::Disconnect(Disconnect::default()))
            .await;
        client.close().await;
    }

    /// Ends any session kept under `client_id`: CONNECT with Clean Start and no Session
    /// Expiry, then DISCONNECT.
    pub async fn end_session(&self, client_id: &str) -> Result<(), String> {
        let spec = ConnectSpec {
            client_id: client_id.to_owned(),
            clean_start: true,
            session_expiry: None,
            receive_maximum: None,
        };
        let (client, _) = self.connect(&spec).await?;
        self.bye(client).await;
        self.ended_session(client_id);
        Ok(())
    }

    /// Clears the retained messages and ends the sessions still on the undo list; one line
    /// per thing done or not done.
    pub async fn undo(&self) -> Vec<String> {
        let (retained, sessions) = {
            let u = self.undo.lock().unwrap_or_else(|e| e.into_inner());
            (u.retained.clone(), u.sessions.clone())
        };
        let mut lines = Vec::new();
        if !retained.is_empty() {
            match self.clear_retained(&retained).await {
                Ok(()) => {}
                Err(e) => lines.push(format!(
                    "MQTT {}: {} retained message(s) below {} may be left: {e}",
                    self.version,
                    retained.len(),
                    self.prefix
                )),
            }
        }
        for id in sessions {
            if let Err(e) = self.end_session(&id).await {
                lines.push(format!(
                    "MQTT {}: the session of {id} may be left: {e}",
                    self.version
                ));
            }
        }
        lines
    }

    /// Publishes an empty retained message to each topic (QoS 1, acknowledged).
    pub async fn clear_retained(&self, topics: &[String]) -> Result<(), String> {
        let (mut client, _) = self.connect(&self.fresh()).await?;
        let mut result = Ok(());
        for (i, topic) in topics.iter().enumerate() {
            let id = u16::try_from(i % 60_000 + 1).unwrap_or(1);
            match self
                .publish_qos1(&mut client, topic, Bytes::new(), true, id)
                .await
            {
                Ok(_) => self.cleared_retained(topic),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.bye(client).await;
        result
    }
}

/// A Packet Identifier (1..=65535).
pub fn pid(n: u16) -> Result<PacketId, String> {
    PacketId::new(n).ok_or_else(|| "Packet Identifier 0".to_owned())
}

/// Acknowledges a QoS 1 PUBLISH (QoS 2 is never asked for by the probes).
pub async fn ack_if_needed(client: &mut TestClient, p: &Publish) {
    if let (QoS::AtLeastOnce, Some(id)) = (p.qos(), p.packet_id()) {
        let _ = client.send(&Packet::PubAck(PubAck::new(id))).await;
    }
}
