//! One-line human summaries of packets for transcripts and Expected/Actual texts, e.g.
//! `PUBLISH qos=1 retain=1 id=3 topic="a/b" payload="kept"`.

use bytes::Bytes;
use mqttspec_codec::{Packet, PacketType, Properties, ProtocolVersion, ReasonCode};

/// At most this many payload bytes are shown.
const PAYLOAD_SHOWN: usize = 48;

/// A one-line summary of `packet`.
pub fn packet(packet: &Packet, v: ProtocolVersion) -> String {
    let t = packet.packet_type();
    let mut s = t.name().to_owned();
    match packet {
        Packet::Connect(c) => {
            s.push_str(&format!(
                " level={} client_id={:?} clean_start={} keep_alive={}",
                c.protocol_version.level(),
                c.client_id.as_str(),
                u8::from(c.clean_start),
                c.keep_alive
            ));
            if let Some(w) = &c.will {
                s.push_str(&format!(
                    " will(topic={:?} qos={} retain={} payload={})",
                    w.topic.as_str(),
                    w.qos.as_u8(),
                    u8::from(w.retain),
                    payload(&w.payload)
                ));
            }
            if let Some(u) = &c.username {
                s.push_str(&format!(" username={:?}", u.as_str()));
            }
            if c.password.is_some() {
                s.push_str(" password=***");
            }
            push_props(&mut s, &c.properties.to_properties());
        }
        Packet::ConnAck(c) => {
            s.push_str(&format!(
                " session_present={} {}",
                u8::from(c.session_present),
                code(c.reason_code, t, v)
            ));
            push_props(&mut s, &c.properties.to_properties());
        }
        Packet::Publish(p) => {
            s.push_str(&format!(" qos={}", p.qos().as_u8()));
            if p.retain {
                s.push_str(" retain=1");
            }
            if p.dup {
                s.push_str(" dup=1");
            }
            if let Some(id) = p.packet_id() {
                s.push_str(&format!(" id={id}"));
            }
            s.push_str(&format!(
                " topic={:?} payload={}",
                p.topic.as_str(),
                payload(&p.payload)
            ));
            push_props(&mut s, &p.properties.to_properties());
        }
        Packet::PubAck(a) => ack(
            &mut s,
            a.packet_id.get(),
            a.reason_code,
            &a.properties.to_properties(),
            t,
            v,
        ),
        Packet::PubRec(a) => ack(
            &mut s,
            a.packet_id.get(),
            a.reason_code,
            &a.properties.to_properties(),
            t,
            v,
        ),
        Packet::PubRel(a) => ack(
            &mut s,
            a.packet_id.get(),
            a.reason_code,
            &a.properties.to_properties(),
            t,
            v,
        ),
        Packet::PubComp(a) => ack(
            &mut s,
            a.packet_id.get(),
            a.reason_code,
            &a.properties.to_properties(),
            t,
            v,
        ),
        Packet::Subscribe(p) => {
            s.push_str(&format!(" id={}", p.packet_id));
            for (f, o) in &p.filters {
                s.push_str(&format!(" {:?}(qos={}", f.as_str(), o.qos.as_u8()));
                if v.is_v5() {
                    s.push_str(&format!(
                        " nl={} rap={} rh={}",
                        u8::from(o.no_local),
                        u8::from(o.retain_as_published),
                        o.retain_handling as u8
                    ));
                }
                s.push(')');
            }
            push_props(&mut s, &p.properties.to_properties());
        }
        Packet::SubAck(p) => {
            s.push_str(&format!(" id={} codes=[", p.packet_id));
            let codes: Vec<String> = p.reason_codes.iter().map(|c| code(*c, t, v)).collect();
            s.push_str(&codes.join(", "));
            s.push(']');
            push_props(&mut s, &p.properties.to_properties());
        }
        Packet::Unsubscribe(p) => {
            s.push_str(&format!(" id={}", p.packet_id));
            for f in &p.filters {
                s.push_str(&format!(" {:?}", f.as_str()));
            }
            push_props(&mut s, &p.properties.to_properties());
        }
        Packet::UnsubAck(p) => {
            s.push_str(&format!(" id={}", p.packet_id));
            if v.is_v5() {
                let codes: Vec<String> = p.reason_codes.iter().map(|c| code(*c, t, v)).collect();
                s.push_str(&format!(" codes=[{}]", codes.join(", ")));
            }
            push_props(&mut s, &p.properties.to_properties());
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => {
            if v.is_v5() {
                s.push(' ');
                s.push_str(&code(d.reason_code, t, v));
            }
            push_props(&mut s, &d.properties.to_properties());
        }
        Packet::Auth(a) => {
            s.push(' ');
            s.push_str(&code(a.reason_code, t, v));
            push_props(&mut s, &a.properties.to_properties());
        }
    }
    s
}

/// A reason code as `0x87 Not authorized` (3.1.1 CONNACK: `rc=5 Not authorized`).
pub fn code(c: ReasonCode, t: PacketType, v: ProtocolVersion) -> String {
    if !v.is_v5() && t == PacketType::ConnAck {
        if let Some(rc) = c.to_connect_return_code() {
            return format!("rc={rc} ({})", c.name_in(t));
        }
    }
    format!("0x{:02X} ({})", c.as_u8(), c.name_in(t))
}

fn ack(
    s: &mut String,
    id: u16,
    c: ReasonCode,
    props: &Properties,
    t: PacketType,
    v: ProtocolVersion,
) {
    s.push_str(&format!(" id={id}"));
    if v.is_v5() {
        s.push(' ');
        s.push_str(&code(c, t, v));
    }
    push_props(s, props);
}

/// A payload as a quoted string when it is printable UTF-8, else as hex; long ones cut.
pub fn payload(p: &Bytes) -> String {
    let shown = p.get(..PAYLOAD_SHOWN).unwrap_or(p);
    let more = if p.len() > PAYLOAD_SHOWN {
        format!("...({} bytes)", p.len())
    } else {
        String::new()
    };
    match std::str::from_utf8(shown) {
        Ok(text) if !text.chars().any(char::is_control) => format!("{text:?}{more}"),
        _ => format!("0x{}{more}", hex::encode(shown)),
    }
}

fn push_props(s: &mut String, p: &Properties) {
    if p.is_empty() {
        return;
    }
    let names: Vec<String> = p.present().iter().map(|id| id.name().to_owned()).collect();
    let mut parts = Vec::new();
    if let Some(x) = &p.assigned_client_identifier {
        parts.push(format!("Assigned Client Identifier={:?}", x.as_str()));
    }
    if let Some(x) = &p.reason_string {
        parts.push(format!("Reason String={:?}", x.as_str()));
    }
    if let Some(x) = p.session_expiry_interval {
        parts.push(format!("Session Expiry Interval={x}"));
    }
    if let Some(x) = p.topic_alias {
        parts.push(format!("Topic Alias={x}"));
    }
    if !p.subscription_identifiers.is_empty() {
        let ids: Vec<String> = p
            .subscription_identifiers
            .iter()
            .map(|i| i.to_string())
            .collect();
        parts.push(format!("Subscription Identifier={}", ids.join(",")));
    }
    if let Some(x) = p.message_expiry_interval {
        parts.push(format!("Message Expiry Interval={x}"));
    }
    if let Some(x) = p.maximum_qos {
        parts.push(format!("Maximum QoS={}", x.as_u8()));
    }
    if let Some(x) = p.receive_maximum {
        parts.push(format!("Receive Maximum={x}"));
    }
    if let Some(x) = p.topic_alias_maximum {
        parts.push(format!("Topic Alias Maximum={x}"));
    }
    if let Some(x) = p.server_keep_alive {
        parts.push(format!("Server Keep Alive={x}"));
    }
    if let Some(x) = p.maximum_packet_size {
        parts.push(format!("Maximum Packet Size={x}"));
    }
    for (k, val) in &p.user_properties {
        parts.push(format!("User Property {k:?}={val:?}"));
    }
    // Everything else by name only.
    let shown = [
        "Assigned Client Identifier",
        "Reason String",
        "Session Expiry Interval",
        "Topic Alias",
        "Subscription Identifier",
        "Message Expiry Interval",
        "Maximum QoS",
        "Receive Maximum",
        "Topic Alias Maximum",
        "Server Keep Alive",
        "Maximum Packet Size",
        "User Property",
    ];
    let mut rest: Vec<String> = names
        .into_iter()
        .filter(|n| !shown.contains(&n.as_str()))
        .collect();
    rest.dedup();
    parts.extend(rest);
    s.push_str(&format!(" props{{{}}}", parts.join("; ")));
}

/// The summary of `packet` as it travelled in `bytes`: [`packet`], plus, for the MQTT 5.0
/// short forms (an acknowledgement, DISCONNECT or AUTH without Reason Code or without
/// Property Length), which short form was on the wire, so the transcript shows what was sent.
pub fn on_wire(p: &Packet, bytes: &[u8], v: ProtocolVersion) -> String {
    let s = packet(p, v);
    if !v.is_v5() {
        return s;
    }
    let body = match bytes.get(1) {
        Some(rl) if rl & 0x80 == 0 => usize::from(*rl),
        _ => return s,
    };
    let with_code = match p {
        Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubRel(_) | Packet::PubComp(_) => 3,
        Packet::Disconnect(_) | Packet::Auth(_) => 1,
        _ => return s,
    };
    if body + 1 == with_code {
        format!("{s} [short form: Reason Code and properties omitted]")
    } else if body == with_code {
        format!("{s} [short form: Property Length omitted]")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqttspec_codec::{Delivery, PacketId, Publish, TopicName};

    #[test]
    fn publish_summary_names_flags_topic_and_payload() {
        let mut p = Publish::new(TopicName::new("a/b").unwrap(), "kept");
        p.delivery = Delivery::AtLeastOnce(PacketId::new(3).unwrap());
        p.retain = true;
        let s = packet(&Packet::Publish(p), ProtocolVersion::V5);
        assert_eq!(
            s,
            "PUBLISH qos=1 retain=1 id=3 topic=\"a/b\" payload=\"kept\""
        );
    }

    #[test]
    fn binary_payloads_are_shown_as_hex() {
        assert_eq!(payload(&Bytes::from_static(&[0, 1, 0xff])), "0x0001ff");
    }

    #[test]
    fn v311_connack_shows_the_return_code() {
        let s = code(
            ReasonCode::UnsupportedProtocolVersion,
            PacketType::ConnAck,
            ProtocolVersion::V311,
        );
        assert_eq!(s, "rc=1 (Unsupported Protocol Version)");
    }
}
