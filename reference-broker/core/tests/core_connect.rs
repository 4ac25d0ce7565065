//! CONNECT and CONNACK: validation, refusals, assigned identifiers, takeover, capabilities,
//! and the packets a client must not send.

mod common;

use common::*;
use mqttspec_broker_core::config::User;
use mqttspec_broker_core::{CloseReason, Config};
use mqttspec_codec::{Packet, PacketType, QoS, RawPacket, ReasonCode, StatementId, SubAck};

#[test]
fn a_valid_connect_is_answered_with_connack_success_and_no_session() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let (c, ack) = sim.connect_with(connect_packet(v, "a"));
        assert!(!ack.session_present);
        assert!(!sim.is_closed(c));
        assert_eq!(sim.broker.protocol_version(c), Some(v));
    }
}

#[test]
fn pingreq_is_answered_with_pingresp() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        sim.send(c, Packet::PingReq);
        assert_eq!(sim.take(c), vec![Packet::PingResp]);
    }
}

#[test]
fn a_first_packet_other_than_connect_closes_the_connection_silently() {
    let mut sim = Sim::default_config();
    let c = sim.open();
    sim.peers.get_mut(&c).unwrap().version = Some(V5);
    sim.send_as(c, V5, Packet::PingReq);
    assert!(sim.take(c).is_empty());
    assert!(matches!(
        sim.closed(c),
        Some(CloseReason::ProtocolViolation { .. })
    ));
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_3_1_0_1));
}

#[test]
fn a_second_connect_is_a_protocol_error() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        sim.send(c, Packet::Connect(Box::new(connect_packet(v, "a"))));
        let got = sim.take(c);
        if v == V5 {
            assert_eq!(disconnect_code(&got), Some(ReasonCode::ProtocolError));
        } else {
            assert!(got.is_empty());
        }
        assert!(sim.is_closed(c));
        let want = if v == V5 {
            StatementId::V5_3_1_0_2
        } else {
            StatementId::V311_3_1_0_2
        };
        assert!(sim.broker.enforced_statements().contains(&want));
    }
}

#[test]
fn an_unsupported_protocol_level_below_5_gets_the_311_return_code_1() {
    let mut sim = Sim::default_config();
    let c = sim.open();
    sim.peers.get_mut(&c).unwrap().version = Some(V311);
    let connect = RawPacket::new(0x10)
        .string("MQTT")
        .u8(3)
        .u8(0x02)
        .u16(0)
        .string("a")
        .build();
    sim.send_raw(c, &connect);
    assert_eq!(sim.bytes_sent(c), vec![0x20, 0x02, 0x00, 0x01]);
    assert!(sim.is_closed(c));
}

#[test]
fn an_unsupported_protocol_level_above_5_gets_connack_0x84() {
    let mut sim = Sim::default_config();
    let c = sim.open();
    sim.peers.get_mut(&c).unwrap().version = Some(V5);
    let connect = RawPacket::new(0x10)
        .string("MQTT")
        .u8(6)
        .u8(0x02)
        .u16(0)
        .u8(0)
        .string("a")
        .build();
    sim.send_raw(c, &connect);
    let got = sim.take(c);
    assert_eq!(
        connack(&got).map(|a| a.reason_code),
        Some(ReasonCode::UnsupportedProtocolVersion)
    );
    assert!(sim.is_closed(c));
}

#[test]
fn a_wrong_protocol_name_closes_without_connack() {
    let mut sim = Sim::default_config();
    let c = sim.open();
    let connect = RawPacket::new(0x10)
        .string("MQIsdp")
        .u8(3)
        .u8(0x02)
        .u16(0)
        .string("a")
        .build();
    sim.send_raw(c, &connect);
    assert!(sim.bytes_sent(c).is_empty());
    assert!(sim.is_closed(c));
}

#[test]
fn a_malformed_connect_gets_connack_0x81_in_v5_and_a_plain_close_in_311() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.open();
        sim.peers.get_mut(&c).unwrap().version = Some(v);
        // Reserved bit 0 of the Connect Flags set.
        let mut raw = RawPacket::new(0x10)
            .string("MQTT")
            .u8(v.level())
            .u8(0x03)
            .u16(0);
        if v == V5 {
            raw = raw.u8(0);
        }
        sim.send_raw(c, &raw.string("a").build());
        let got = sim.take(c);
        if v == V5 {
            assert_eq!(
                connack(&got).map(|a| a.reason_code),
                Some(ReasonCode::MalformedPacket)
            );
        } else {
            assert!(got.is_empty(), "{got:?}");
        }
        assert!(sim.is_closed(c));
    }
}

#[test]
fn an_empty_client_id_gets_an_assigned_identifier_in_v5() {
    let mut sim = Sim::default_config();
    let (_, ack) = sim.connect_with(connect_packet(V5, ""));
    let assigned = ack
        .properties
        .assigned_client_identifier
        .clone()
        .expect("Assigned Client Identifier");
    assert!(!assigned.is_empty());
    assert!(sim.broker.has_session(assigned.as_str()));
    // A second one gets a different identifier.
    let (_, ack2) = sim.connect_with(connect_packet(V5, ""));
    assert_ne!(ack2.properties.assigned_client_identifier, Some(assigned));
}

#[test]
fn an_empty_client_id_is_accepted_in_311_only_with_clean_session() {
    let mut sim = Sim::default_config();
    let (c, ack) = sim.connect_with(connect_packet(V311, ""));
    assert!(!ack.session_present);
    assert!(!sim.is_closed(c));

    let mut persistent = connect_packet(V311, "");
    persistent.clean_start = false;
    let (c, first) = sim.try_connect(persistent);
    assert_eq!(sim.bytes_sent(c), vec![0x20, 0x02, 0x00, 0x02]);
    assert!(matches!(first, Some(Packet::ConnAck(_))));
    assert!(sim.is_closed(c));
}

#[test]
fn an_empty_client_id_is_refused_when_not_allowed() {
    for v in BOTH {
        let mut sim = Sim::new(Config {
            allow_empty_client_id: false,
            ..Config::default()
        });
        let (c, first) = sim.try_connect(connect_packet(v, ""));
        match first {
            Some(Packet::ConnAck(a)) => {
                assert_eq!(a.reason_code, ReasonCode::ClientIdentifierNotValid);
                assert!(!a.session_present);
            }
            other => panic!("{other:?}"),
        }
        assert!(sim.is_closed(c));
    }
}

#[test]
fn packets_only_a_server_sends_are_protocol_errors() {
    for v in BOTH {
        for packet in [
            Packet::PingResp,
            Packet::SubAck(SubAck {
                packet_id: pid(1),
                properties: Default::default(),
                reason_codes: vec![ReasonCode::Success],
            }),
        ] {
            let mut sim = Sim::default_config();
            let c = sim.connect(v, "a");
            sim.send(c, packet.clone());
            let got = sim.take(c);
            if v == V5 {
                assert_eq!(disconnect_code(&got), Some(ReasonCode::ProtocolError));
            }
            assert!(sim.is_closed(c), "{packet:?}");
        }
    }
}

#[test]
fn a_connack_from_a_client_is_a_protocol_error() {
    let mut sim = Sim::default_config();
    let c = sim.connect(V5, "a");
    sim.send_raw(c, &[0x20, 0x03, 0x00, 0x00, 0x00]);
    assert_eq!(
        disconnect_code(&sim.take(c)),
        Some(ReasonCode::ProtocolError)
    );
    assert!(sim.is_closed(c));
}

#[test]
fn a_takeover_sends_disconnect_0x8e_to_the_old_connection_in_v5() {
    let mut sim = Sim::default_config();
    let old = sim.connect(V5, "same");
    let new = sim.connect(V5, "same");
    assert_eq!(
        disconnect_code(&sim.take(old)),
        Some(ReasonCode::SessionTakenOver)
    );
    assert_eq!(sim.closed(old), Some(&CloseReason::SessionTakenOver));
    assert!(!sim.is_closed(new));
    assert!(sim
        .broker
        .enforced_statements()
        .contains(&StatementId::V5_3_1_4_3));
}

#[test]
fn a_takeover_closes_the_old_connection_in_311() {
    let mut sim = Sim::default_config();
    let old = sim.connect(V311, "same");
    let new = sim.connect(V311, "same");
    assert!(sim.take(old).is_empty());
    assert_eq!(sim.closed(old), Some(&CloseReason::SessionTakenOver));
    assert!(!sim.is_closed(new));
}

#[test]
fn connack_announces_every_limited_capability() {
    let mut sim = Sim::new(Config {
        maximum_qos: 1,
        retain_available: false,
        maximum_packet_size: 4096,
        receive_maximum: 10,
        topic_alias_maximum: 5,
        wildcard_subscription_available: false,
        subscription_identifier_available: false,
        shared_subscription_available: false,
        server_keep_alive: Some(30),
        ..Config::default()
    });
    let (_, ack) = sim.connect_with(connect_packet(V5, "a"));
    let p = ack.properties;
    assert_eq!(p.maximum_qos, Some(QoS::AtLeastOnce));
    assert_eq!(p.retain_available, Some(false));
    assert_eq!(p.maximum_packet_size.map(|m| m.get()), Some(4096));
    assert_eq!(p.receive_maximum.map(|m| m.get()), Some(10));
    assert_eq!(p.topic_alias_maximum, Some(5));
    assert_eq!(p.wildcard_subscription_available, Some(false));
    assert_eq!(p.subscription_identifier_available, Some(false));
    assert_eq!(p.shared_subscription_available, Some(false));
    assert_eq!(p.server_keep_alive, Some(30));
    assert_eq!(p.authentication_method, None);
}

#[test]
fn connack_of_a_default_server_announces_only_what_differs_from_the_defaults() {
    let mut sim = Sim::default_config();
    let (_, ack) = sim.connect_with(connect_packet(V5, "a"));
    let p = ack.properties;
    assert_eq!(p.maximum_qos, None);
    assert_eq!(p.retain_available, None);
    assert_eq!(p.session_expiry_interval, None);
    assert_eq!(p.response_information, None);
}

#[test]
fn a_session_expiry_above_the_server_maximum_is_cut_and_announced() {
    let mut sim = Sim::new(Config {
        maximum_session_expiry_interval: 60,
        ..Config::default()
    });
    let mut c = connect_packet(V5, "a");
    c.properties.session_expiry_interval = Some(3600);
    let (_, ack) = sim.connect_with(c);
    assert_eq!(ack.properties.session_expiry_interval, Some(60));
}

#[test]
fn response_information_is_sent_only_when_requested() {
    let config = Config {
        response_information: Some("reply/{client_id}".into()),
        ..Config::default()
    };
    let mut sim = Sim::new(config);
    let (_, ack) = sim.connect_with(connect_packet(V5, "a"));
    assert_eq!(ack.properties.response_information, None);
    let mut c = connect_packet(V5, "b");
    c.properties.request_response_information = Some(true);
    let (_, ack) = sim.connect_with(c);
    assert_eq!(
        ack.properties
            .response_information
            .as_ref()
            .map(|s| s.to_string()),
        Some("reply/b".to_owned())
    );
}

#[test]
fn a_connection_that_never_sends_connect_is_closed_after_the_connect_timeout() {
    let mut sim = Sim::new(Config {
        connect_timeout_secs: 5,
        ..Config::default()
    });
    let c = sim.open();
    sim.advance(secs(4));
    assert!(!sim.is_closed(c));
    sim.advance(secs(2));
    assert_eq!(sim.closed(c), Some(&CloseReason::ConnectTimeout));
}

fn with_users(require: bool) -> Config {
    Config {
        require_authentication: require,
        users: vec![User {
            username: "alice".into(),
            password: "secret".into(),
        }],
        ..Config::default()
    }
}

#[test]
fn a_wrong_password_is_refused_with_0x86_or_return_code_4() {
    for v in BOTH {
        let mut sim = Sim::new(with_users(false));
        let mut c = connect_packet(v, "a");
        c.username = Some(s("alice"));
        c.password = Some(bytes::Bytes::from_static(b"wrong"));
        let (conn, first) = sim.try_connect(c);
        let ack = match first {
            Some(Packet::ConnAck(a)) => a,
            other => panic!("{other:?}"),
        };
        assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);
        if v == V311 {
            assert_eq!(sim.bytes_sent(conn), vec![0x20, 0x02, 0x00, 0x04]);
        }
        assert!(sim.is_closed(conn));
    }
}

#[test]
fn the_right_password_is_accepted() {
    for v in BOTH {
        let mut sim = Sim::new(with_users(true));
        let mut c = connect_packet(v, "a");
        c.username = Some(s("alice"));
        c.password = Some(bytes::Bytes::from_static(b"secret"));
        sim.connect_with(c);
    }
}

#[test]
fn missing_credentials_are_refused_when_authentication_is_required() {
    for v in BOTH {
        let mut sim = Sim::new(with_users(true));
        let (c, first) = sim.try_connect(connect_packet(v, "a"));
        assert_eq!(
            connack(&first.into_iter().collect::<Vec<_>>()).map(|a| a.reason_code),
            Some(ReasonCode::NotAuthorized)
        );
        assert!(sim.is_closed(c));
    }
}

#[test]
fn nothing_sent_after_a_refused_connect_is_processed() {
    let mut sim = Sim::new(with_users(true));
    let c = sim.open();
    sim.peers.get_mut(&c).unwrap().version = Some(V5);
    let mut bytes = Packet::Connect(Box::new(connect_packet(V5, "a")))
        .encode(V5)
        .unwrap()
        .to_vec();
    bytes.extend_from_slice(&Packet::PingReq.encode(V5).unwrap());
    sim.send_raw(c, &bytes);
    let got = sim.take(c);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].packet_type(), PacketType::ConnAck);
}

#[test]
fn a_will_above_the_maximum_qos_or_with_unsupported_retain_is_refused_in_v5() {
    let mut sim = Sim::new(Config {
        maximum_qos: 1,
        retain_available: false,
        ..Config::default()
    });
    let mut c = connect_packet(V5, "a");
    c.will = Some(will("w", "x", QoS::ExactlyOnce, false));
    let (_, first) = sim.try_connect(c);
    assert!(
        matches!(first, Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::QoSNotSupported)
    );
    let mut c = connect_packet(V5, "b");
    c.will = Some(will("w", "x", QoS::AtMostOnce, true));
    let (_, first) = sim.try_connect(c);
    assert!(
        matches!(first, Some(Packet::ConnAck(a)) if a.reason_code == ReasonCode::RetainNotSupported)
    );
}

#[test]
fn connect_fed_one_byte_at_a_time_is_accepted() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.open();
        sim.peers.get_mut(&c).unwrap().version = Some(v);
        let bytes = Packet::Connect(Box::new(connect_packet(v, "slow")))
            .encode(v)
            .unwrap();
        for b in bytes.iter() {
            assert!(sim.take(c).is_empty());
            sim.send_raw(c, &[*b]);
        }
        let got = sim.take(c);
        assert!(
            matches!(got.as_slice(), [Packet::ConnAck(a)] if a.reason_code == ReasonCode::Success)
        );
        // And a following PINGREQ, byte by byte.
        sim.send_raw(c, &[0xC0]);
        assert!(sim.take(c).is_empty());
        sim.send_raw(c, &[0x00]);
        assert_eq!(sim.take(c), vec![Packet::PingResp]);
    }
}

#[test]
fn shutdown_sends_disconnect_0x8b_to_v5_clients_and_closes_everyone() {
    let mut sim = Sim::default_config();
    let a = sim.connect(V5, "a");
    let b = sim.connect(V311, "b");
    sim.broker.shutdown(sim.now);
    sim.drain();
    assert_eq!(
        disconnect_code(&sim.take(a)),
        Some(ReasonCode::ServerShuttingDown)
    );
    assert!(sim.take(b).is_empty());
    assert_eq!(sim.closed(a), Some(&CloseReason::ServerShuttingDown));
    assert_eq!(sim.closed(b), Some(&CloseReason::ServerShuttingDown));
}

#[test]
fn a_client_disconnect_closes_the_connection() {
    for v in BOTH {
        let mut sim = Sim::default_config();
        let c = sim.connect(v, "a");
        sim.disconnect(c);
        assert_eq!(sim.closed(c), Some(&CloseReason::ClientDisconnect));
        assert!(
            !sim.broker.has_session("a"),
            "session expiry 0 ends the session"
        );
    }
}

#[test]
fn config_with_an_unknown_fault_is_refused() {
    let config = Config {
        faults: vec!["no-such-fault".into()],
        ..Config::default()
    };
    assert!(mqttspec_broker_core::Broker::try_new(config).is_err());
    let parsed: Result<Config, _> = toml::from_str("faults = [\"no-such-fault\"]");
    assert!(parsed.is_err());
    let parsed: Result<Config, _> = toml::from_str("faults = [\"forward-dup\"]");
    assert!(parsed.is_ok());
}
