//! The fuzzer's oracles: what makes a round a finding.
//!
//! - **Not serving** ([`FindingKind::NotServing`]): after the round, a fresh client cannot
//!   connect and get a PINGRESP (a crash, a hang, or a broker that stopped accepting).
//! - **Malformed output** and **wrong direction**: every byte the broker sends must decode
//!   strictly in the connection's protocol version, as a packet a server may send. Checked
//!   on every connection whose CONNECT declared the round's version, however damaged the
//!   client's later traffic was: a broker answers garbage with a close, never with garbage.
//! - **Topic Alias too high** (5.0): no Topic Alias above what the client's CONNECT allowed
//!   (MQTT-3.3.2-11, MQTT-3.1.2-26/27).
//! - **Not subscribed** and **QoS too high**: a PUBLISH is delivered only on a topic that
//!   matches a filter the session subscribed (MQTT-3.3.2-3), at no more than the highest QoS
//!   asked for by the matching filters (MQTT-3.8.4-8; 3.1.1 MQTT-3.8.4-6). Checked only for
//!   Client Identifiers all of whose traffic decoded strictly, so the fuzzer knows exactly
//!   which filters the broker was asked for; a rejected subscription only makes the known
//!   set larger than the real one, never smaller, so the check cannot accuse wrongly.
//! - **PINGREQ unanswered**: at the end of a round every connection whose traffic was all
//!   well-formed packets, and that the broker kept open, must answer a PINGREQ
//!   (MQTT-3.12.4-1).

use mqttspec_codec::{Packet, ProtocolVersion, StatementId};

use mqttspec_harness::client::Received;
use mqttspec_harness::replay::delivery::{allowed_qos, server_may_send, Aliases};

/// The kinds of finding, each with the oracle above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// A fresh client is not served after the round.
    NotServing,
    /// Bytes from the broker that do not decode strictly.
    MalformedOutput,
    /// A packet only clients send, sent by the broker.
    WrongDirection,
    /// A Topic Alias above the client's Topic Alias Maximum.
    TopicAliasTooHigh,
    /// A PUBLISH on a topic no subscription of the session matches.
    NotSubscribed,
    /// A PUBLISH at a higher QoS than the matching subscriptions asked for.
    QosTooHigh,
    /// An open, well-behaved connection whose PINGREQ got no PINGRESP.
    PingUnanswered,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [FindingKind; 7] = [
        FindingKind::NotServing,
        FindingKind::MalformedOutput,
        FindingKind::WrongDirection,
        FindingKind::TopicAliasTooHigh,
        FindingKind::NotSubscribed,
        FindingKind::QosTooHigh,
        FindingKind::PingUnanswered,
    ];

    /// A short name (file names, JSON).
    pub fn slug(self) -> &'static str {
        match self {
            FindingKind::NotServing => "not-serving",
            FindingKind::MalformedOutput => "malformed-output",
            FindingKind::WrongDirection => "wrong-direction",
            FindingKind::TopicAliasTooHigh => "topic-alias-too-high",
            FindingKind::NotSubscribed => "not-subscribed",
            FindingKind::QosTooHigh => "qos-too-high",
            FindingKind::PingUnanswered => "pingreq-unanswered",
        }
    }

    /// What a conforming broker does instead, in our words.
    pub fn requirement(self) -> &'static str {
        match self {
            FindingKind::NotServing => {
                "Whatever a client sends, the broker keeps serving other clients: after the \
                 steps a new client connects and its PINGREQ is answered."
            }
            FindingKind::MalformedOutput => {
                "Every packet the broker sends is well-formed for the connection's protocol \
                 version; input it cannot accept is answered by closing the connection."
            }
            FindingKind::WrongDirection => {
                "The broker sends only packets a server may send (never CONNECT, SUBSCRIBE, \
                 UNSUBSCRIBE, PINGREQ, nor DISCONNECT in MQTT 3.1.1)."
            }
            FindingKind::TopicAliasTooHigh => {
                "The broker uses no Topic Alias above the Topic Alias Maximum the client \
                 declared in CONNECT, and none at all when it declared none (MQTT-3.3.2-11, \
                 MQTT-3.1.2-26, MQTT-3.1.2-27)."
            }
            FindingKind::NotSubscribed => {
                "The broker delivers a PUBLISH only on a Topic Name that matches one of the \
                 session's subscriptions (MQTT-3.3.2-3)."
            }
            FindingKind::QosTooHigh => {
                "A delivered PUBLISH has at most the QoS granted to the matching \
                 subscriptions, which is at most the QoS the client asked for."
            }
            FindingKind::PingUnanswered => {
                "On a connection it keeps open, the broker answers every PINGREQ with a \
                 PINGRESP (MQTT-3.12.4-1)."
            }
        }
    }

    /// The statement the oracle checks, when there is one for the whole kind.
    pub fn statement(self, v: ProtocolVersion) -> Option<StatementId> {
        let id = match (self, v) {
            (FindingKind::TopicAliasTooHigh, ProtocolVersion::V5) => "MQTT-3.3.2-11",
            (FindingKind::NotSubscribed, _) => "MQTT-3.3.2-3",
            (FindingKind::QosTooHigh, ProtocolVersion::V5) => "MQTT-3.8.4-8",
            (FindingKind::QosTooHigh, ProtocolVersion::V311) => "MQTT-3.8.4-6",
            (FindingKind::PingUnanswered, _) => "MQTT-3.12.4-1",
            _ => return None,
        };
        let spec = match v {
            ProtocolVersion::V311 => mqttspec_codec::Spec::V311,
            ProtocolVersion::V5 => mqttspec_codec::Spec::V5,
        };
        StatementId::lookup(spec, id)
    }
}

/// One oracle violation seen on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The kind.
    pub kind: FindingKind,
    /// What was seen.
    pub detail: String,
    /// The statement broken (the kind's, or the decoder's for malformed output).
    pub statement: Option<StatementId>,
    /// Groups breaches that are the same bug: the kind plus the decoder's complaint or the
    /// packet type.
    pub signature: String,
}

/// The oracle state of one connection.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// The version the broker's output is decoded in; `None` when the CONNECT declared
    /// another (then the output is not checked).
    pub version: Option<ProtocolVersion>,
    /// The Topic Alias Maximum the client's CONNECT declared (5.0), when known.
    pub alias_max: Option<u16>,
    /// Topic Aliases the broker set.
    aliases: Aliases,
}

impl Watch {
    /// A watch for a connection whose CONNECT declared `version` (or something else:
    /// `None`) and `alias_max`.
    pub fn new(version: Option<ProtocolVersion>, alias_max: Option<u16>) -> Watch {
        Watch {
            version,
            alias_max,
            aliases: Aliases::default(),
        }
    }

    /// Checks one thing received. `filters` are the session's subscriptions (filter, QoS
    /// asked) when the delivery oracle applies to this client.
    pub fn check(&mut self, r: &Received, filters: Option<&[(String, u8)]>) -> Option<Breach> {
        let v = self.version?;
        match r {
            Received::Malformed { error, bytes } => Some(Breach {
                kind: FindingKind::MalformedOutput,
                detail: format!("{error} [{}]", hex::encode(bytes)),
                statement: error.statement(),
                signature: format!(
                    "malformed-output:{}:{}",
                    error.packet_type.map_or("?", |t| t.name()),
                    variant_name(&error.violation)
                ),
            }),
            Received::Packet(p) if !server_may_send(p.packet_type(), v) => Some(Breach {
                kind: FindingKind::WrongDirection,
                detail: format!("the broker sent a {}", p.packet_type().name()),
                statement: None,
                signature: format!("wrong-direction:{}", p.packet_type().name()),
            }),
            Received::Packet(Packet::Publish(p)) => {
                let alias = p.properties.topic_alias.map(|a| a.get());
                if let (Some(a), Some(max)) = (alias, self.alias_max) {
                    if a > max {
                        return Some(Breach {
                            kind: FindingKind::TopicAliasTooHigh,
                            detail: format!(
                                "PUBLISH with Topic Alias {a}; the client allowed {max}"
                            ),
                            statement: FindingKind::TopicAliasTooHigh.statement(v),
                            signature: "topic-alias-too-high".to_owned(),
                        });
                    }
                }
                let topic = self.aliases.resolve(p);
                let (Some(topic), Some(filters)) = (topic, filters) else {
                    return None;
                };
                let allowed = allowed_qos(filters, &topic);
                match allowed {
                    None => Some(Breach {
                        kind: FindingKind::NotSubscribed,
                        detail: format!(
                            "PUBLISH to `{topic}`, which matches none of the session's filters {:?}",
                            filters.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>()
                        ),
                        statement: FindingKind::NotSubscribed.statement(v),
                        signature: "not-subscribed".to_owned(),
                    }),
                    Some(q) if (p.qos() as u8) > q => Some(Breach {
                        kind: FindingKind::QosTooHigh,
                        detail: format!(
                            "PUBLISH to `{topic}` at QoS {}; the matching filters asked for QoS {q} at most",
                            p.qos() as u8
                        ),
                        statement: FindingKind::QosTooHigh.statement(v),
                        signature: "qos-too-high".to_owned(),
                    }),
                    Some(_) => None,
                }
            }
            _ => None,
        }
    }
}

/// The name of a violation's variant (`TrailingBytes` of `TrailingBytes { .. }`).
fn variant_name(v: &mqttspec_codec::Violation) -> String {
    let debug = format!("{v:?}");
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use mqttspec_codec::{Publish, QoS, TopicName};

    use super::*;

    fn publish(topic: &str, qos: QoS) -> Received {
        let mut p = Publish::new(TopicName::new(topic).unwrap(), Bytes::new());
        p.delivery = mqttspec_codec::Delivery::new(qos, mqttspec_codec::PacketId::MIN);
        Received::Packet(Packet::Publish(p))
    }

    #[test]
    fn deliveries_are_checked_against_the_sessions_filters() {
        let mut w = Watch::new(Some(ProtocolVersion::V5), Some(0));
        let filters = vec![("a/+".to_owned(), 1), ("$share/g/b/#".to_owned(), 0)];
        assert_eq!(
            w.check(&publish("a/x", QoS::AtLeastOnce), Some(&filters)),
            None
        );
        assert_eq!(
            w.check(&publish("b/c/d", QoS::AtMostOnce), Some(&filters)),
            None
        );
        let b = w
            .check(&publish("c", QoS::AtMostOnce), Some(&filters))
            .unwrap();
        assert_eq!(b.kind, FindingKind::NotSubscribed);
        let b = w
            .check(&publish("a/x", QoS::ExactlyOnce), Some(&filters))
            .unwrap();
        assert_eq!(b.kind, FindingKind::QosTooHigh);
        // Without known filters only the stateless checks apply.
        assert_eq!(w.check(&publish("c", QoS::AtMostOnce), None), None);
    }

    #[test]
    fn malformed_output_and_client_only_packets_are_breaches() {
        let mut w = Watch::new(Some(ProtocolVersion::V311), None);
        let err = Packet::decode(
            Bytes::from_static(&[0xe0, 0x01, 0x00]),
            ProtocolVersion::V311,
        )
        .unwrap_err();
        let b = w
            .check(
                &Received::Malformed {
                    error: err,
                    bytes: Bytes::from_static(&[0xe0, 0x01, 0x00]),
                },
                None,
            )
            .unwrap();
        assert_eq!(b.kind, FindingKind::MalformedOutput);
        assert!(
            b.signature.starts_with("malformed-output:DISCONNECT:"),
            "{}",
            b.signature
        );
        let b = w.check(&Received::Packet(Packet::PingReq), None).unwrap();
        assert_eq!(b.kind, FindingKind::WrongDirection);
        let d = Packet::Disconnect(mqttspec_codec::Disconnect {
            reason_code: mqttspec_codec::ReasonCode::Success,
            properties: Default::default(),
        });
        assert!(w.check(&Received::Packet(d.clone()), None).is_some());
        let mut w5 = Watch::new(Some(ProtocolVersion::V5), None);
        assert!(w5.check(&Received::Packet(d), None).is_none());
        // Output of a connection in another version is not judged.
        let mut other = Watch::new(None, None);
        assert!(other
            .check(&Received::Packet(Packet::PingReq), None)
            .is_none());
    }

    #[test]
    fn topic_aliases_above_the_clients_maximum_are_breaches() {
        let mut w = Watch::new(Some(ProtocolVersion::V5), Some(2));
        let mut p = Publish::new(TopicName::new("a").unwrap(), Bytes::new());
        p.properties.topic_alias = std::num::NonZeroU16::new(3);
        let b = w
            .check(&Received::Packet(Packet::Publish(p)), None)
            .unwrap();
        assert_eq!(b.kind, FindingKind::TopicAliasTooHigh);
    }

    #[test]
    fn every_kind_has_a_distinct_slug() {
        let mut slugs: Vec<_> = FindingKind::ALL.iter().map(|k| k.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), FindingKind::ALL.len());
    }
}
