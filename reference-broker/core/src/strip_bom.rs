//! The U+FEFF faults on what a client sends: `strip-bom-from-<field>` removes every
//! ZERO WIDTH NO-BREAK SPACE from one string field of a decoded packet before the broker
//! acts on it, so a conformance case about that field can be seen to fail while every other
//! field keeps its U+FEFF (MQTT-1.5.4-3 in 5.0, MQTT-1.5.3-3 in 3.1.1). The Client
//! Identifier's and User Name's faults act where those are used (`connect`, `auth`); the
//! outbound `strip-bom-from-properties` acts on what is sent (`outbound`).

use mqttspec_codec::{MqttString, Packet, TopicFilter, TopicName};

use super::fault::{Fault, Faults};

const BOM: char = '\u{feff}';

/// `s` without U+FEFF, or `s` itself when it has none or nothing would be left.
fn stripped(s: &str) -> Option<String> {
    let out = s.replace(BOM, "");
    (out.len() != s.len() && !out.is_empty()).then_some(out)
}

fn strip_string(s: &mut MqttString) {
    if let Some(out) = stripped(s.as_str()).and_then(|o| MqttString::new(o, "string").ok()) {
        *s = out;
    }
}

fn strip_topic(t: &mut TopicName) {
    if let Some(out) = stripped(t.as_str()).and_then(|o| TopicName::new(o).ok()) {
        *t = out;
    }
}

fn strip_filter(f: &mut TopicFilter) {
    if let Some(out) = stripped(f.as_str()).and_then(|o| TopicFilter::new(o).ok()) {
        *f = out;
    }
}

/// Applies the enabled faults of this module to `packet`.
pub(super) fn incoming(faults: &Faults, packet: &mut Packet) {
    let has = |f| faults.has(f);
    match packet {
        Packet::Connect(c) => {
            if has(Fault::StripBomFromAuthMethod) {
                if let Some(m) = &mut c.properties.authentication_method {
                    strip_string(m);
                }
            }
            let Some(will) = &mut c.will else {
                return;
            };
            if has(Fault::StripBomFromWillTopic) {
                strip_topic(&mut will.topic);
            }
            if has(Fault::StripBomFromWillContentType) {
                if let Some(t) = &mut will.properties.content_type {
                    strip_string(t);
                }
            }
            if has(Fault::StripBomFromWillResponseTopic) {
                if let Some(t) = &mut will.properties.response_topic {
                    strip_topic(t);
                }
            }
            if has(Fault::StripBomFromWillUserProperty) {
                for (name, value) in will.properties.user_properties.pairs_mut() {
                    strip_string(name);
                    strip_string(value);
                }
            }
        }
        Packet::Publish(p) => {
            if has(Fault::StripBomFromTopicName) {
                strip_topic(&mut p.topic);
            }
            if has(Fault::StripBomFromContentType) {
                if let Some(t) = &mut p.properties.content_type {
                    strip_string(t);
                }
            }
            if has(Fault::StripBomFromResponseTopic) {
                if let Some(t) = &mut p.properties.response_topic {
                    strip_topic(t);
                }
            }
            let names = has(Fault::StripBomFromUserPropertyName);
            let values = has(Fault::StripBomFromUserPropertyValue);
            if names || values {
                for (name, value) in p.properties.user_properties.pairs_mut() {
                    if names {
                        strip_string(name);
                    }
                    if values {
                        strip_string(value);
                    }
                }
            }
        }
        Packet::Subscribe(s) if has(Fault::StripBomFromSubscribeFilter) => {
            for (filter, _) in &mut s.filters {
                strip_filter(filter);
            }
        }
        Packet::Unsubscribe(u) if has(Fault::StripBomFromUnsubscribeFilter) => {
            for filter in &mut u.filters {
                strip_filter(filter);
            }
        }
        _ => {}
    }
}

#[cfg(all(test, feature = "faults"))]
mod tests {
    use super::*;
    use mqttspec_codec::Publish;

    #[test]
    fn only_the_faulted_field_loses_its_bom() {
        let faults = Faults::parse(&["strip-bom-from-topic-name"]).unwrap();
        let mut publish = Publish::new(TopicName::new("a\u{feff}b").unwrap(), "x");
        publish.properties.content_type = MqttString::new("\u{feff}t", "Content Type").ok();
        let mut packet = Packet::Publish(publish);
        incoming(&faults, &mut packet);
        let Packet::Publish(p) = packet else {
            panic!("not a PUBLISH");
        };
        assert_eq!(p.topic.as_str(), "ab");
        assert_eq!(
            p.properties.content_type.as_ref().map(|c| c.as_str()),
            Some("\u{feff}t")
        );
    }
}
