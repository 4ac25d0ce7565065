//! The tokio shell over real loopback TCP, with our own codec as the client: connecting,
//! publishing and subscribing in both protocol versions, packets split across reads or
//! packed into one, many concurrent clients, abnormal closes, and a clean shutdown.
//!
//! TCP_NODELAY: the shell sets it on every accepted socket (`Shell::open` in
//! `shell/broker_task.rs`); the option lives on the server's end of the connection and cannot
//! be observed from the client, so it is not tested here.

mod tcp_support;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{
    LastWill, Packet, ProtocolVersion, Publish, QoS, ReasonCode, StatementId, Subscribe,
    SubscriptionOptions,
};
use mqttspec_reference_broker::Config;
use tcp_support::*;
use tokio::net::TcpStream;

const QOS_LEVELS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];

#[tokio::test]
async fn publishes_at_every_qos_reach_a_subscriber_for_every_pair_of_versions() {
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    for (i, (pub_v, sub_v)) in [(V311, V311), (V311, V5), (V5, V311), (V5, V5)]
        .into_iter()
        .enumerate()
    {
        let t = format!("tcp/pubsub/{i}");
        let (mut sub, _) = TestClient::connect(addr, sub_v, &format!("pubsub-sub-{i}")).await;
        let suback = sub.subscribe(&t, QoS::ExactlyOnce).await;
        assert_eq!(suback.reason_codes, vec![ReasonCode::GrantedQoS2]);
        let (mut publisher, _) = TestClient::connect(addr, pub_v, &format!("pubsub-pub-{i}")).await;
        for qos in QOS_LEVELS {
            let payload = format!("{pub_v:?}->{sub_v:?} at {qos:?}");
            publisher.publish(&t, qos, payload.as_bytes()).await;
            let got = sub.expect_publish().await;
            assert_eq!(got.topic.as_str(), t);
            assert_eq!(got.qos(), qos, "delivered at the QoS it was published with");
            assert_eq!(got.payload, payload.as_bytes());
            assert!(!got.dup, "first delivery has DUP 0");
            sub.ack(&got).await;
        }
        publisher.disconnect().await;
        sub.disconnect().await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn delivery_is_downgraded_to_the_granted_qos() {
    // The delivered QoS is the smaller of the published and the granted one.
    let _checks = [StatementId::V5_3_8_4_8, StatementId::V311_3_8_4_6];
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    for v in [V311, V5] {
        let t = format!("tcp/downgrade/{v:?}");
        let (mut sub, _) = TestClient::connect(addr, v, &format!("downgrade-sub-{v:?}")).await;
        sub.subscribe(&t, QoS::AtLeastOnce).await;
        let (mut publisher, _) =
            TestClient::connect(addr, v, &format!("downgrade-pub-{v:?}")).await;
        publisher.publish(&t, QoS::ExactlyOnce, b"two").await;
        let got = sub.expect_publish().await;
        assert_eq!(got.qos(), QoS::AtLeastOnce);
        sub.ack(&got).await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn shutdown_sends_disconnect_0x8b_to_v5_clients_and_closes_v311_clients() {
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    let (mut v5, _) = TestClient::connect(addr, V5, "shutdown-v5").await;
    let (mut v311, _) = TestClient::connect(addr, V311, "shutdown-v311").await;
    // Both sessions are live: a ping round trip proves the broker has processed the CONNECTs.
    v5.ping().await;
    v311.ping().await;
    within("the broker to stop", broker.stop()).await;

    match v5.recv_or_closed().await {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::ServerShuttingDown);
        }
        other => panic!("expected DISCONNECT 0x8B, got {other:?}"),
    }
    v5.expect_closed().await;
    // MQTT 3.1.1 has no server DISCONNECT: the connection is just closed.
    v311.expect_closed().await;
    // The listener is gone too.
    let refused = within("a refused connection", TcpStream::connect(addr)).await;
    assert!(refused.is_err(), "the broker still accepts connections");
}

/// The bytes of CONNECT, SUBSCRIBE and a QoS 1 PUBLISH to the subscribed topic, in order.
fn connect_subscribe_publish(v: ProtocolVersion, id: &str, t: &str) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.extend_from_slice(&encode(
        &Packet::Connect(Box::new(connect_packet(v, id))),
        v,
    ));
    out.extend_from_slice(&encode(
        &Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            properties: Default::default(),
            filters: vec![(filter(t), SubscriptionOptions::qos(QoS::AtLeastOnce))],
        }),
        v,
    ));
    let mut publish = Publish::new(topic(t), Bytes::from_static(b"echo"));
    publish.delivery = mqttspec_codec::Delivery::new(QoS::AtLeastOnce, pid(2));
    out.extend_from_slice(&encode(&Packet::Publish(publish), v));
    out.extend_from_slice(&encode(&Packet::PingReq, v));
    out.to_vec()
}

/// Reads CONNACK, SUBACK, then (in either order, as the spec allows) PUBACK 2 and the
/// echoed PUBLISH, then PINGRESP.
async fn expect_echo_session(client: &mut TestClient) {
    match client.recv().await {
        Packet::ConnAck(c) => assert_eq!(c.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    match client.recv().await {
        Packet::SubAck(s) => assert_eq!(s.reason_codes, vec![ReasonCode::GrantedQoS1]),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    let mut puback = false;
    let mut echoed = false;
    while !(puback && echoed) {
        match client.recv().await {
            Packet::PubAck(a) if !puback => {
                assert_eq!(a.packet_id, pid(2));
                puback = true;
            }
            Packet::Publish(p) if !echoed => {
                assert_eq!(p.payload, Bytes::from_static(b"echo"));
                client.ack(&p).await;
                echoed = true;
            }
            other => panic!("expected PUBACK and the echoed PUBLISH, got {other:?}"),
        }
    }
    match client.recv().await {
        Packet::PingResp => {}
        other => panic!("expected PINGRESP, got {other:?}"),
    }
}

#[tokio::test]
async fn packets_sent_one_byte_at_a_time_are_reassembled() {
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    for v in [V311, V5] {
        let t = format!("tcp/bytewise/{v:?}");
        let bytes = connect_subscribe_publish(v, &format!("bytewise-{v:?}"), &t);
        let mut client = TestClient::open(addr, v).await;
        for b in &bytes {
            client.send_bytes(std::slice::from_ref(b)).await;
            // Give the broker a chance to read each byte on its own (TCP_NODELAY is set on
            // the client, so every byte leaves in its own segment).
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        expect_echo_session(&mut client).await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn packets_split_at_every_odd_boundary_are_reassembled() {
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    for v in [V311, V5] {
        for chunk in [2usize, 3, 5, 7, 13] {
            let t = format!("tcp/chunks/{v:?}/{chunk}");
            let bytes = connect_subscribe_publish(v, &format!("chunks-{v:?}-{chunk}"), &t);
            let mut client = TestClient::open(addr, v).await;
            for piece in bytes.chunks(chunk) {
                client.send_bytes(piece).await;
                tokio::task::yield_now().await;
            }
            expect_echo_session(&mut client).await;
        }
    }
    broker.stop().await;
}

#[tokio::test]
async fn several_packets_in_one_write_are_all_handled() {
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    for v in [V311, V5] {
        let t = format!("tcp/coalesced/{v:?}");
        let bytes = connect_subscribe_publish(v, &format!("coalesced-{v:?}"), &t);
        let mut client = TestClient::open(addr, v).await;
        client.send_bytes(&bytes).await;
        expect_echo_session(&mut client).await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn two_hundred_concurrent_clients_connect_and_ping() {
    // On one thread the accept loop, the readers and the broker task interleave at every
    // await; this once lost the CONNECT of a client accepted while the event queue was full.
    crowd_connects_and_pings(200).await;
}

// Several worker threads, like the binary: accepts, reads and the broker task really race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_clients_connect_and_ping_on_worker_threads() {
    crowd_connects_and_pings(200).await;
}

async fn crowd_connects_and_pings(clients: usize) {
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    // Every client stays connected until all have connected, so the broker holds 200 live
    // connections at once; then each pings and disconnects.
    let all_connected = std::sync::Arc::new(tokio::sync::Barrier::new(clients));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        let barrier = all_connected.clone();
        tasks.spawn(async move {
            let v = if i % 2 == 0 { V311 } else { V5 };
            let (mut client, connack) = TestClient::connect(addr, v, &format!("crowd-{i}")).await;
            assert!(!connack.session_present);
            within("all clients to connect", barrier.wait()).await;
            client.ping().await;
            client.ping().await;
            client.disconnect().await;
        });
    }
    let mut done = 0;
    while let Some(result) = within("the clients to finish", tasks.join_next()).await {
        result.expect("client task");
        done += 1;
    }
    assert_eq!(done, clients);
    // The broker still serves new clients afterwards.
    let (mut late, _) = TestClient::connect(addr, V5, "crowd-late").await;
    late.ping().await;
    broker.stop().await;
}

#[tokio::test]
async fn a_client_closing_its_socket_without_disconnect_has_its_will_published() {
    // The Will Message is published when the network connection closes without DISCONNECT
    // (MQTT-3.1.2-8 in 5.0 and in 3.1.1).
    let _checks = [StatementId::V5_3_1_2_8, StatementId::V311_3_1_2_8];
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    for v in [V311, V5] {
        let t = format!("tcp/will/{v:?}");
        let (mut watcher, _) = TestClient::connect(addr, v, &format!("will-watch-{v:?}")).await;
        watcher.subscribe(&t, QoS::AtLeastOnce).await;
        let mut connect = connect_packet(v, &format!("will-dies-{v:?}"));
        connect.will = Some(LastWill {
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
            topic: topic(&t),
            payload: Bytes::from_static(b"gone"),
        });
        let (mut doomed, _) = TestClient::connect_with(addr, connect).await;
        doomed.ping().await;
        drop(doomed);
        let will = watcher.expect_publish().await;
        assert_eq!(will.topic.as_str(), t);
        assert_eq!(will.payload, Bytes::from_static(b"gone"));
        watcher.ack(&will).await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn a_malformed_first_packet_closes_only_that_connection() {
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    let (mut bystander, _) = TestClient::connect(addr, V5, "malformed-bystander").await;
    // A PUBLISH before CONNECT, with a reserved QoS of 3.
    let mut bad = TestClient::open(addr, V5).await;
    bad.send_bytes(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01])
        .await;
    match bad.recv_or_closed().await {
        None | Some(Packet::ConnAck(_)) | Some(Packet::Disconnect(_)) => {}
        Some(other) => panic!("unexpected answer to garbage: {other:?}"),
    }
    bad.expect_closed().await;
    bystander.ping().await;
    broker.stop().await;
}

#[tokio::test]
async fn a_claimed_huge_remaining_length_is_refused_without_waiting_for_the_body() {
    // The Maximum Packet Size is checked from the fixed header; the broker does not wait for
    // (or buffer) 256 MB of body before closing the connection.
    let broker = start_broker(Config {
        maximum_packet_size: 4096,
        ..Config::default()
    })
    .await;
    let addr = broker.local_addr();
    let (mut client, _) = TestClient::connect(addr, V5, "huge-claim").await;
    // PUBLISH with Remaining Length 268,435,455 and only a few bytes of body.
    client
        .send_bytes(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, b'a'])
        .await;
    match client.recv_or_closed().await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::PacketTooLarge),
        None => {}
        Some(other) => panic!("expected DISCONNECT 0x95 or a close, got {other:?}"),
    }
    client.expect_closed().await;
    broker.stop().await;
}
