//! Backpressure over real TCP: a subscriber that stops reading its socket must not make the
//! broker buffer without bound, and the QoS 1 messages the broker acknowledged to the
//! publisher must all reach the subscriber once it reads again.
//!
//! The publisher sends 50,000 QoS 1 messages of 1 KiB (about 50 MB) while the subscriber
//! reads nothing. The broker may take in only what its limits allow (session queue, messages
//! in flight, unflushed bytes, socket buffers); then it must stop acknowledging, so the
//! publisher stalls. When the subscriber resumes, every message arrives, once and in order.

mod tcp_support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use mqttspec_codec::{Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, StatementId};
use mqttspec_reference_broker::Config;
use tcp_support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;

const PAYLOAD_SIZE: usize = 1024;
/// The subscriber's socket receive buffer (the kernel doubles it; it would otherwise grow to
/// tens of megabytes and hide whether the broker holds back).
const SUBSCRIBER_RECV_BUFFER: u32 = 64 * 1024;
/// How long without a new acknowledgement counts as "the publisher is held back".
const STALL: Duration = Duration::from_millis(1000);

fn payload(seq: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(PAYLOAD_SIZE);
    b.put_u64(seq as u64);
    b.put_bytes(b'x', PAYLOAD_SIZE - 8);
    b.freeze()
}

fn sequence_number(payload: &[u8]) -> usize {
    let head: [u8; 8] = payload
        .get(..8)
        .and_then(|h| h.try_into().ok())
        .expect("payload carries a sequence number");
    u64::from_be_bytes(head) as usize
}

/// The resident set size of this process (broker and clients), from /proc.
fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The socket buffer size asked for on the broker's side (the kernel doubles it).
const BROKER_SOCKET_BUFFER: u32 = 16 * 1024;

/// A broker whose sockets have small kernel buffers (accepted sockets inherit them from the
/// listener), so the kernel cannot absorb megabytes and hide whether the broker itself holds
/// back. Stop it by sending on the returned channel.
async fn start_small_buffered_broker(
    config: Config,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listening = TcpSocket::new_v4().expect("socket");
    listening
        .set_send_buffer_size(BROKER_SOCKET_BUFFER)
        .expect("SO_SNDBUF");
    listening
        .set_recv_buffer_size(BROKER_SOCKET_BUFFER)
        .expect("SO_RCVBUF");
    listening
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = listening.listen(64).expect("listen");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(mqttspec_reference_broker::shell::serve(
        listener,
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    (addr, stop, task)
}

async fn stop_broker(stop: tokio::sync::oneshot::Sender<()>, task: tokio::task::JoinHandle<()>) {
    let _ = stop.send(());
    within("the broker to stop", task)
        .await
        .expect("broker task");
}

/// A subscriber with a small receive buffer, subscribed at QoS 1 to `t`.
async fn quiet_subscriber(addr: SocketAddr, v: ProtocolVersion, t: &str) -> TestClient {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(SUBSCRIBER_RECV_BUFFER)
        .expect("SO_RCVBUF");
    let stream = within("the subscriber's TCP connection", socket.connect(addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let mut sub = TestClient::from_stream(stream, v);
    sub.send(&Packet::Connect(Box::new(connect_packet(
        v,
        "bp-subscriber",
    ))))
    .await;
    match sub.recv().await {
        Packet::ConnAck(c) => assert_eq!(c.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    let suback = sub.subscribe(t, QoS::AtLeastOnce).await;
    assert_eq!(suback.reason_codes, vec![ReasonCode::GrantedQoS1]);
    sub
}

async fn run(
    publisher_version: ProtocolVersion,
    subscriber_version: ProtocolVersion,
    messages: usize,
) {
    // Messages acknowledged by the broker are not lost (MQTT-4.3.2-4 / 3.1.1 MQTT-4.3.2-2:
    // after PUBACK the broker owns the message) and arrive in order (MQTT-4.6.0-6).
    let _checks = [
        StatementId::V5_4_3_2_4,
        StatementId::V311_4_3_2_2,
        StatementId::V5_4_6_0_6,
    ];
    let config = Config {
        max_unflushed_bytes: 256 * 1024,
        // The core's work per acknowledgement grows with the window of messages in flight;
        // a small one keeps this debug-build test fast without changing what it proves.
        max_inflight_messages: 64,
        ..Config::default()
    };
    let bound_messages = config.max_queued_messages
        + usize::from(config.max_inflight_messages)
        + (config.max_unflushed_bytes
            + 4 * BROKER_SOCKET_BUFFER as usize
            + 2 * SUBSCRIBER_RECV_BUFFER as usize)
            / PAYLOAD_SIZE
        // Held messages and margin for packets counted twice above.
        + usize::from(config.receive_maximum)
        + 1000;
    assert!(bound_messages < messages, "the test would prove nothing");
    let (addr, stop, broker) = start_small_buffered_broker(config).await;
    let t = "bp/stream";

    let mut sub = quiet_subscriber(addr, subscriber_version, t).await;
    let baseline_rss = resident_bytes();

    // The publisher writes from one task and counts acknowledgements in another, keeping at
    // most `window` messages unacknowledged (so Packet Identifiers are never reused while in
    // flight; a MQTT 5.0 client also honours the server's Receive Maximum).
    let (publisher, connack) = TestClient::connect(addr, publisher_version, "bp-publisher").await;
    let window = match connack.properties.receive_maximum {
        Some(m) => usize::from(m.get()),
        None if publisher_version.is_v5() => 65_535,
        // MQTT 3.1.1 has no Receive Maximum: a window far above the broker's own.
        None => 1000,
    };
    let (mut pub_reader, mut pub_write) = publisher.into_parts();
    let acked = Arc::new(AtomicUsize::new(0));
    let credits = Arc::new(Semaphore::new(window));
    let writer = tokio::spawn({
        let credits = credits.clone();
        async move {
            // Each write carries every message the window allows at that moment.
            let mut seq = 0;
            let mut out = BytesMut::new();
            while seq < messages {
                credits.acquire().await.expect("semaphore").forget();
                let mut allowed = 1;
                while let Ok(permit) = credits.try_acquire() {
                    permit.forget();
                    allowed += 1;
                }
                for _ in 0..allowed.min(messages - seq) {
                    let mut p = Publish::new(topic(t), payload(seq));
                    p.delivery = mqttspec_codec::Delivery::new(
                        QoS::AtLeastOnce,
                        pid((seq % 65_535) as u16 + 1),
                    );
                    out.extend_from_slice(&encode(&Packet::Publish(p), publisher_version));
                    seq += 1;
                }
                pub_write.write_all(&out).await.expect("publisher write");
                out.clear();
            }
            pub_write
        }
    });
    let ack_counter = tokio::spawn({
        let acked = acked.clone();
        let credits = credits.clone();
        async move {
            while acked.load(Ordering::SeqCst) < messages {
                match pub_reader.next().await {
                    Some(Packet::PubAck(ack)) => {
                        assert_eq!(ack.reason_code, ReasonCode::Success, "PUBACK refused");
                        acked.fetch_add(1, Ordering::SeqCst);
                        credits.add_permits(1);
                    }
                    other => panic!("publisher expected PUBACK, got {other:?}"),
                }
            }
        }
    });

    // Phase 1: the subscriber reads nothing. The publisher must be held back.
    let mut last = usize::MAX;
    let mut since = tokio::time::Instant::now();
    let stalled_at = within("the publisher to be held back", async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = acked.load(Ordering::SeqCst);
            assert!(
                now < messages,
                "the broker acknowledged all {messages} messages while the subscriber read \
                 nothing: it buffered them without bound"
            );
            if now != last {
                last = now;
                since = tokio::time::Instant::now();
            } else if now > 0 && since.elapsed() >= STALL {
                return now;
            }
        }
    })
    .await;
    assert!(
        stalled_at <= bound_messages,
        "the broker took {stalled_at} messages for a subscriber that reads nothing; its limits \
         allow about {bound_messages}"
    );
    if let (Some(before), Some(after)) = (baseline_rss, resident_bytes()) {
        let grown = after.saturating_sub(before);
        // Everything the broker acknowledged could be held at most twice (message and its
        // encoding); buffering all 50 MB would exceed this.
        let allowed = 2 * bound_messages * (PAYLOAD_SIZE + 256) + 16 * 1024 * 1024;
        assert!(
            grown <= allowed,
            "memory grew by {grown} bytes while the subscriber read nothing (allowed {allowed})"
        );
    }

    // Phase 2: the subscriber reads again and acknowledges; every message arrives once, in
    // order, and the publisher gets all its acknowledgements.
    let mut seen = HashSet::with_capacity(messages);
    let mut next_expected = 0usize;
    within_for(
        Duration::from_secs(60),
        "the subscriber to receive every message",
        async {
            let mut acks = BytesMut::new();
            while seen.len() < messages {
                // Everything received so far is acknowledged in one write.
                let mut next = Some(sub.recv().await);
                while let Some(packet) = next.take() {
                    let p = match packet {
                        Packet::Publish(p) => p,
                        other => panic!("subscriber expected PUBLISH, got {other:?}"),
                    };
                    assert_eq!(p.qos(), QoS::AtLeastOnce);
                    let seq = sequence_number(&p.payload);
                    assert!(seen.insert(seq), "message {seq} delivered twice");
                    assert_eq!(seq, next_expected, "messages out of order");
                    next_expected += 1;
                    let id = p.packet_id().expect("QoS 1 has a Packet Identifier");
                    acks.extend_from_slice(&encode(
                        &Packet::PubAck(PubAck::new(id)),
                        subscriber_version,
                    ));
                    next = sub.next_buffered();
                }
                sub.send_bytes(&acks).await;
                acks.clear();
            }
        },
    )
    .await;
    assert_eq!(seen.len(), messages);
    within("the publisher to finish", ack_counter)
        .await
        .expect("ack counter");
    let _write_half = within("the publisher's writes", writer)
        .await
        .expect("writer");
    assert_eq!(acked.load(Ordering::SeqCst), messages);
    // Nothing more is pending for the subscriber.
    sub.ping().await;
    stop_broker(stop, broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_holds_a_v311_publisher_back_without_losing_messages() {
    // A MQTT 3.1.1 publisher has no Receive Maximum to honour: the broker must stop reading
    // it.
    run(V311, V5, 50_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_holds_a_v5_publisher_back_without_losing_messages() {
    // A MQTT 5.0 publisher honouring the server's Receive Maximum stops by itself once the
    // broker withholds acknowledgements.
    run(V5, V311, 10_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_requests_but_never_reads_answers_is_no_longer_read_from() {
    // Every PINGREQ gets a PINGRESP. A client that floods PINGREQs and reads nothing must not
    // make the broker queue answers without bound: once its unwritten output passes the
    // limit, the broker stops reading from it, and the client's writes stall.
    let config = Config {
        max_unflushed_bytes: 4 * 1024,
        maximum_packet_size: 4 * 1024,
        ..Config::default()
    };
    let (addr, stop, broker) = start_small_buffered_broker(config).await;
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    socket.set_send_buffer_size(64 * 1024).expect("SO_SNDBUF");
    let stream = within("the TCP connection", socket.connect(addr))
        .await
        .expect("connect");
    let mut flooder = TestClient::from_stream(stream, V5);
    flooder
        .send(&Packet::Connect(Box::new(connect_packet(V5, "flooder"))))
        .await;
    match flooder.recv().await {
        Packet::ConnAck(c) => assert_eq!(c.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    let baseline_rss = resident_bytes();
    let (_reader, mut write) = flooder.into_parts();
    let written = Arc::new(AtomicUsize::new(0));
    let pings = encode(&Packet::PingReq, V5).repeat(8 * 1024);
    let flood = tokio::spawn({
        let written = written.clone();
        async move {
            loop {
                if write.write_all(&pings).await.is_err() {
                    return;
                }
                written.fetch_add(pings.len(), Ordering::SeqCst);
            }
        }
    });

    let mut last = 0;
    let mut since = tokio::time::Instant::now();
    let stalled_at = within("the broker to stop reading from the flooder", async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = written.load(Ordering::SeqCst);
            if now != last {
                last = now;
                since = tokio::time::Instant::now();
            } else if now > 0 && since.elapsed() >= STALL {
                return now;
            }
        }
    })
    .await;
    assert!(stalled_at > 0);
    if let (Some(before), Some(after)) = (baseline_rss, resident_bytes()) {
        let grown = after.saturating_sub(before);
        let allowed = 64 * 1024 * 1024;
        assert!(
            grown <= allowed,
            "memory grew by {grown} bytes for a client that reads nothing (allowed {allowed})"
        );
    }
    flood.abort();
    // The broker still serves others.
    let (mut other, _) = TestClient::connect(addr, V311, "after-the-flood").await;
    other.ping().await;
    stop_broker(stop, broker).await;
}
