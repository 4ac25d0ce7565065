//! Is the broker usable? One probe per protocol version before any case runs, and one
//! health probe after each case.
//!
//! The version probe opens a TCP connection, sends a well-formed CONNECT of that version (with
//! the profile's credentials) and expects CONNACK 0x00 and then a PINGRESP to a PINGREQ, each
//! within the response timeout. What it finds decides what the version's cases can be:
//!
//! | what the probe saw | [`VersionStatus`] | the version's cases |
//! |---|---|---|
//! | TCP refused | (the run does not start: [`ProbeError`]) | none: exit 2 at once |
//! | CONNACK 0x00 and PINGRESP | `Usable` | run |
//! | a CONNACK, but malformed, or CONNACK 0x00 and then no PINGRESP | `Degraded` | run: the cases about CONNACK and PINGREQ judge what went wrong, the others meet it in their setup and are INCONCLUSIVE |
//! | the version refused the way a specification says: MQTT 3.1.1 return code 0x01, MQTT 5.0 Reason Code 0x84, or (to an MQTT 5.0 CONNECT) the 3.1.1 CONNACK `20 02 00 01` of a server that only speaks 3.1.1 | `Refused` | UNSUPPORTED with that reason, except the `version.` case that judges the refusal itself |
//! | closed, silence, bytes that are not a CONNACK, another refusal (e.g. not authorised) | `Unusable` | INCONCLUSIVE ("a valid CONNECT of this protocol version accepted"), after one timeout |
//!
//! The health probe ([`healthy`]) is a CONNECT and a PINGREQ on a fresh connection: the
//! runner runs it after every case, so a broker that stopped serving is noticed at the case
//! after which it stopped (see [`crate::runner`]).

use crate::transport::Endpoint;
use std::time::Duration;

use mqttspec_codec::{ConnAck, Connect, MqttString, Packet, ProtocolVersion, ReasonCode};
use tokio::time::Instant;

use crate::client::{summary, ClientOptions, Received, TestClient, Transcript};
use crate::profile::Profile;

/// What the probe of one protocol version found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionStatus {
    /// The broker accepts the version: its cases run.
    Usable,
    /// The broker answered the CONNECT with a CONNACK but the probe did not complete (the
    /// CONNACK was malformed, or PINGREQ got no PINGRESP): the cases run and judge it.
    Degraded(String),
    /// The broker refused the version the way a specification prescribes (the reason says
    /// how): its cases are UNSUPPORTED.
    Refused(String),
    /// The broker did not serve a valid CONNECT of the version (the reason says what
    /// happened): its cases are INCONCLUSIVE.
    Unusable(String),
}

impl VersionStatus {
    /// Whether the version's cases can run.
    pub fn is_usable(&self) -> bool {
        matches!(self, VersionStatus::Usable | VersionStatus::Degraded(_))
    }
}

/// The probe of one version: its status, the CONNACK (for MQTT 5.0 capabilities), and the
/// probe's transcript.
#[derive(Debug, Clone)]
pub struct VersionProbe {
    /// The version probed.
    pub version: ProtocolVersion,
    /// What the probe found.
    pub status: VersionStatus,
    /// The accepting CONNACK, when there was one.
    pub connack: Option<ConnAck>,
    /// Every byte of the probe.
    pub transcript: Transcript,
}

/// Nothing listens at the address: the run cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError(pub String);

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProbeError {}

/// The CONNECT the probes send: Clean Start, Keep Alive 30, the profile's credentials.
fn probe_connect(version: ProtocolVersion, profile: &Profile, client_id: &str) -> Connect {
    Connect {
        protocol_version: version,
        clean_start: true,
        keep_alive: 30,
        properties: Default::default(),
        client_id: MqttString::new(client_id, "Client Identifier").unwrap_or_default(),
        will: None,
        username: profile
            .credentials
            .as_ref()
            .and_then(|c| MqttString::new(c.username.clone(), "User Name").ok()),
        password: profile
            .credentials
            .as_ref()
            .and_then(|c| c.password.clone())
            .map(bytes::Bytes::from),
    }
}

/// Whether `got`, the answer to a CONNECT of `version`, refuses the protocol version the way
/// a specification prescribes; the reason if so.
fn version_refusal(version: ProtocolVersion, got: &Received) -> Option<String> {
    match got {
        Received::Packet(Packet::ConnAck(ack))
            if ack.reason_code == ReasonCode::UnsupportedProtocolVersion =>
        {
            Some(if version.is_v5() {
                "the broker refused MQTT 5.0 with CONNACK 0x84 (Unsupported Protocol Version)"
                    .to_owned()
            } else {
                "the broker refused MQTT 3.1.1 with CONNACK return code 0x01 (unacceptable protocol level)"
                    .to_owned()
            })
        }
        Received::Malformed { bytes, .. } if is_other_layout_refusal(version, bytes) => {
            Some(if version.is_v5() {
                "the broker answered the MQTT 5.0 CONNECT with the MQTT 3.1.1 CONNACK 20 02 00 01 \
                 (unacceptable protocol level): it speaks MQTT 3.1.1 only"
                    .to_owned()
            } else {
                "the broker answered the MQTT 3.1.1 CONNECT with the MQTT 5.0 CONNACK 0x84 \
                 (Unsupported Protocol Version): it speaks MQTT 5.0 only"
                    .to_owned()
            })
        }
        _ => None,
    }
}

/// Whether `bytes`, malformed as an answer to a CONNECT of `version`, are the CONNACK of the
/// other version refusing it: `20 02 00 01` (3.1.1, return code 1) to an MQTT 5.0 CONNECT,
/// `20 03 00 84 ..` (5.0, Reason Code 0x84) to an MQTT 3.1.1 CONNECT. A server that speaks
/// one version only answers in its own layout.
fn is_other_layout_refusal(version: ProtocolVersion, bytes: &[u8]) -> bool {
    if version.is_v5() {
        bytes.starts_with(&[0x20, 0x02, 0x00, 0x01])
    } else {
        bytes.starts_with(&[0x20, 0x03, 0x00, 0x84])
    }
}

/// Probes `version` at `addr` (see the module docs). `Err` only when the TCP connection is
/// refused or cannot be opened within the timeout.
pub async fn probe_version(
    addr: &Endpoint,
    version: ProtocolVersion,
    profile: &Profile,
    client_id: &str,
) -> Result<VersionProbe, ProbeError> {
    let transcript = Transcript::default();
    let timeout = profile.response_timeout();
    let mut options = ClientOptions::new("probe", version);
    options.connect_timeout = timeout.max(Duration::from_secs(2));
    if let Some(max) = profile.limits.max_packet_size {
        options.max_packet_size = max;
    }
    let mut client = TestClient::connect_with(addr, options, transcript.clone())
        .await
        .map_err(|e| ProbeError(format!("cannot connect to {addr}: {e}")))?;
    let connect = probe_connect(version, profile, client_id);
    let mut connack = None;
    let status = match client.send(&Packet::Connect(Box::new(connect))).await {
        Err(e) => VersionStatus::Unusable(format!(
            "the probe could not send its MQTT {version} CONNECT: {e}"
        )),
        Ok(()) => {
            let got = client.recv_until(Instant::now() + timeout).await;
            if let Received::Malformed { bytes, .. } = &got {
                if !addr.scheme().is_tls() && bytes.starts_with(&[0x15, 0x03]) {
                    client.close().await;
                    return Err(ProbeError(format!(
                        "{addr}: the broker answered the CONNECT with a TLS alert: it is a TLS port (use mqtts:// or wss://)"
                    )));
                }
            }
            match got {
                Received::Packet(Packet::ConnAck(ack))
                    if ack.reason_code == ReasonCode::Success =>
                {
                    connack = Some(ack);
                    ping(&mut client, version, timeout).await
                }
                Received::Malformed {
                    ref bytes,
                    ref error,
                } if bytes.first().is_some_and(|b| b >> 4 == 2)
                    && !is_other_layout_refusal(version, bytes) =>
                {
                    VersionStatus::Degraded(format!(
                        "a valid MQTT {version} CONNECT got a malformed CONNACK: {error}"
                    ))
                }
                other => match version_refusal(version, &other) {
                    Some(reason) => VersionStatus::Refused(reason),
                    None => VersionStatus::Unusable(format!(
                        "a valid MQTT {version} CONNECT got {}{}",
                        match &other {
                            Received::Timeout =>
                                format!("no answer within {} ms", timeout.as_millis()),
                            o => o.describe(version),
                        },
                        if matches!(other, Received::Packet(Packet::ConnAck(_))) {
                            " (check the profile's credentials)"
                        } else {
                            ""
                        }
                    )),
                },
            }
        }
    };
    if status.is_usable() {
        let _ = client
            .send(&Packet::Disconnect(mqttspec_codec::Disconnect::default()))
            .await;
    }
    client.close().await;
    Ok(VersionProbe {
        version,
        status,
        connack,
        transcript,
    })
}

/// PINGREQ, then PINGRESP within `timeout`: `Usable`, else `Degraded` saying what came.
async fn ping(
    client: &mut TestClient,
    version: ProtocolVersion,
    timeout: Duration,
) -> VersionStatus {
    if let Err(e) = client.send(&Packet::PingReq).await {
        return VersionStatus::Degraded(format!(
            "after CONNACK 0x00 the probe could not send PINGREQ: {e}"
        ));
    }
    let deadline = Instant::now() + timeout;
    loop {
        match client.recv_until(deadline).await {
            Received::Packet(Packet::PingResp) => return VersionStatus::Usable,
            // A server may send other packets first (e.g. AUTH is not expected here, but a
            // PUBLISH for a session is); keep waiting for the PINGRESP.
            Received::Packet(Packet::Publish(_)) => continue,
            Received::Timeout => {
                return VersionStatus::Degraded(format!(
                    "after CONNACK 0x00, PINGREQ got no PINGRESP within {} ms",
                    timeout.as_millis()
                ))
            }
            other => {
                return VersionStatus::Degraded(format!(
                    "after CONNACK 0x00, PINGREQ got {}",
                    match &other {
                        Received::Packet(p) => summary::packet(p, version),
                        o => o.describe(version),
                    }
                ))
            }
        }
    }
}

/// The health probe: CONNECT and PINGREQ on a fresh connection. `Ok` when the broker still
/// serves as it did when the run started (`at_start`: a broker whose version probe was
/// [`VersionStatus::Degraded`] only has to answer the CONNECT again), else what went wrong.
pub async fn healthy(
    addr: &Endpoint,
    version: ProtocolVersion,
    profile: &Profile,
    client_id: &str,
    at_start: &VersionStatus,
) -> Result<(), String> {
    match probe_version(addr, version, profile, client_id).await {
        Ok(VersionProbe {
            status: VersionStatus::Usable,
            ..
        }) => Ok(()),
        Ok(VersionProbe {
            status: VersionStatus::Degraded(_),
            ..
        }) if matches!(at_start, VersionStatus::Degraded(_)) => Ok(()),
        Ok(VersionProbe {
            status:
                VersionStatus::Refused(why)
                | VersionStatus::Unusable(why)
                | VersionStatus::Degraded(why),
            ..
        }) => Err(why),
        Err(e) => Err(e.0),
    }
}

/// At most this many retained topics are cleared per case (a case sets a handful).
const MAX_SWEPT_TOPICS: usize = 1000;

/// Clears the retained messages a case left under `prefix` (and under `$` + `prefix`, where the
/// cases about `$` topics publish), so that repeated and parallel runs meet no leftovers: a
/// fresh client subscribes to `<prefix>#` and `$<prefix>#`, sends PINGREQ as a barrier (the
/// retained messages come before its PINGRESP), and publishes an empty retained message to
/// every topic that delivered one. Returns how many it cleared; best effort (a broker that
/// refuses wildcards or retains nothing clears nothing).
pub async fn sweep_retained(
    addr: &Endpoint,
    version: ProtocolVersion,
    profile: &Profile,
    client_id: &str,
    prefix: &str,
) -> Result<usize, String> {
    use mqttspec_codec::{
        PacketId, PubAck, Publish, QoS, Subscribe, SubscriptionOptions, TopicFilter, TopicName,
    };
    let timeout = profile.response_timeout();
    let mut options = ClientOptions::new("sweep", version);
    options.connect_timeout = timeout;
    let mut c = TestClient::connect_with(addr, options, Transcript::default())
        .await
        .map_err(|e| e.to_string())?;
    c.send(&Packet::Connect(Box::new(probe_connect(
        version, profile, client_id,
    ))))
    .await
    .map_err(|e| e.to_string())?;
    match c.recv_until(Instant::now() + timeout).await {
        Received::Packet(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success => {}
        other => return Err(other.describe(version)),
    }
    let mut filters = Vec::new();
    for f in [format!("{prefix}#"), format!("${prefix}#")] {
        if let Ok(f) = TopicFilter::new(f) {
            filters.push((f, SubscriptionOptions::default()));
        }
    }
    let packet_id = PacketId::new(1).ok_or_else(|| "Packet Identifier 0".to_owned())?;
    c.send(&Packet::Subscribe(Subscribe {
        packet_id,
        properties: Default::default(),
        filters,
    }))
    .await
    .map_err(|e| e.to_string())?;
    c.send(&Packet::PingReq).await.map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let mut topics: Vec<String> = Vec::new();
    loop {
        match c.recv_until(deadline).await {
            Received::Packet(Packet::PingResp) => break,
            Received::Packet(Packet::Publish(p)) => {
                // Bounded: a broker flooding the sweep cannot make it grow without end.
                if p.retain
                    && topics.len() < MAX_SWEPT_TOPICS
                    && !topics.iter().any(|t| t == p.topic.as_str())
                {
                    topics.push(p.topic.as_str().to_owned());
                }
                if let (QoS::AtLeastOnce, Some(pid)) = (p.qos(), p.packet_id()) {
                    let _ = c.send(&Packet::PubAck(PubAck::new(pid))).await;
                }
            }
            Received::Packet(_) => {}
            other => return Err(other.describe(version)),
        }
    }
    for topic in &topics {
        let Ok(name) = TopicName::new(topic.clone()) else {
            continue;
        };
        let clear = Publish {
            dup: false,
            delivery: mqttspec_codec::Delivery::AtMostOnce,
            retain: true,
            topic: name,
            properties: Default::default(),
            payload: bytes::Bytes::new(),
        };
        c.send(&Packet::Publish(clear))
            .await
            .map_err(|e| e.to_string())?;
    }
    // A PINGRESP after the empty retained messages: they were processed in order.
    c.send(&Packet::PingReq).await.map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    loop {
        match c.recv_until(deadline).await {
            Received::Packet(Packet::PingResp) => break,
            Received::Packet(_) => {}
            other => return Err(other.describe(version)),
        }
    }
    let _ = c
        .send(&Packet::Disconnect(mqttspec_codec::Disconnect::default()))
        .await;
    c.close().await;
    Ok(topics.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v311_connack_to_a_v5_connect_is_a_version_refusal() {
        let refusal = [0x20, 0x02, 0x00, 0x01];
        assert!(is_other_layout_refusal(ProtocolVersion::V5, &refusal));
        assert!(!is_other_layout_refusal(ProtocolVersion::V311, &refusal));
        assert!(is_other_layout_refusal(
            ProtocolVersion::V311,
            &[0x20, 0x03, 0x00, 0x84, 0x00]
        ));
        assert!(!is_other_layout_refusal(
            ProtocolVersion::V5,
            &[0x20, 0x02, 0x00, 0x05]
        ));
        assert!(version_refusal(ProtocolVersion::V5, &Received::Closed).is_none());
    }
}
