//! The shell's data path over real TCP (see the `shell` module docs): one broker task reads
//! every socket, cuts whole packets, and writes each connection's output itself, directly when
//! the socket takes it and from a queue when it does not.
//!
//! - a subscriber that never reads holds its publishers back with bounded memory, loses
//!   nothing once it reads again, and does not slow down anyone else;
//! - the bytes of a connection keep their order when direct writes and queued writes mix
//!   (a reader that stalls and resumes, packets of all sizes, answers to its own requests
//!   in between);
//! - packets split across reads, larger than one read, and many per read are all handled.

mod tcp_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use mqttspec_codec::{Packet, ProtocolVersion, PubAck, Publish, QoS, ReasonCode};
use mqttspec_reference_broker::Config;
use tcp_support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;

/// The socket buffer size asked for on the broker's side (the kernel doubles it), so that
/// output queues in the broker instead of in the kernel.
const BROKER_SOCKET_BUFFER: u32 = 16 * 1024;

/// A small deterministic random source (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A payload of `len` bytes (at least 12) carrying a publisher number and a sequence
/// number, the rest derived from them, so a mixed-up byte shows.
fn payload(publisher: u32, seq: u64, len: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(len.max(12));
    b.put_u32(publisher);
    b.put_u64(seq);
    for i in 12..len {
        b.put_u8((seq as usize).wrapping_mul(31).wrapping_add(i) as u8);
    }
    b.freeze()
}

/// The publisher and sequence number of a payload made by [`payload`], after checking the
/// rest of it.
fn check_payload(p: &[u8]) -> (u32, u64) {
    let publisher = u32::from_be_bytes(p[..4].try_into().expect("4 bytes"));
    let seq = u64::from_be_bytes(p[4..12].try_into().expect("8 bytes"));
    for (i, byte) in p.iter().enumerate().skip(12) {
        assert_eq!(
            *byte,
            (seq as usize).wrapping_mul(31).wrapping_add(i) as u8,
            "payload of message {seq} of publisher {publisher} corrupted at byte {i}"
        );
    }
    (publisher, seq)
}

/// The resident set size of this process (broker and clients), from /proc.
fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A broker whose sockets have small kernel buffers; stop it by sending on the channel.
async fn start_small_buffered_broker(
    config: Config,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .set_send_buffer_size(BROKER_SOCKET_BUFFER)
        .expect("SO_SNDBUF");
    socket
        .set_recv_buffer_size(BROKER_SOCKET_BUFFER)
        .expect("SO_RCVBUF");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = socket.listen(64).expect("listen");
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

/// A client whose socket has a small receive buffer, connected with CONNECT `id`.
async fn small_buffered_client(addr: SocketAddr, v: ProtocolVersion, id: &str) -> TestClient {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
    let stream = within("the TCP connection", socket.connect(addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let mut client = TestClient::from_stream(stream, v);
    client
        .send(&Packet::Connect(Box::new(connect_packet(v, id))))
        .await;
    match client.recv().await {
        Packet::ConnAck(c) => assert_eq!(c.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    client
}

/// A publisher that keeps publishing QoS 1 messages to `t` (at most `window` unacknowledged)
/// until `total`, counting the acknowledgements in `acked`.
fn spawn_publisher(
    client: TestClient,
    number: u32,
    t: &'static str,
    window: usize,
    total: u64,
    acked: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    let version = client.version;
    let (mut reader, mut write) = client.into_parts();
    let credits = Arc::new(Semaphore::new(window));
    let writer = tokio::spawn({
        let credits = credits.clone();
        async move {
            let mut out = BytesMut::new();
            let mut seq = 0u64;
            while seq < total {
                credits.acquire().await.expect("semaphore").forget();
                let mut allowed = 1;
                while let Ok(p) = credits.try_acquire() {
                    p.forget();
                    allowed += 1;
                }
                for _ in 0..allowed.min((total - seq) as usize) {
                    let mut p = Publish::new(topic(t), payload(number, seq, 700));
                    p.delivery = mqttspec_codec::Delivery::new(
                        QoS::AtLeastOnce,
                        pid((seq % 65_535) as u16 + 1),
                    );
                    out.extend_from_slice(&encode(&Packet::Publish(p), version));
                    seq += 1;
                }
                if write.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
            // Keep the connection open until the acknowledgements are in.
            std::future::pending::<()>().await;
        }
    });
    tokio::spawn(async move {
        let mut own = 0;
        while own < total {
            match reader.next().await {
                Some(Packet::PubAck(ack)) => {
                    assert_eq!(ack.reason_code, ReasonCode::Success, "PUBACK refused");
                    own += 1;
                    acked.fetch_add(1, Ordering::SeqCst);
                    credits.add_permits(1);
                }
                Some(other) => panic!("publisher {number} expected PUBACK, got {other:?}"),
                None => break,
            }
        }
        writer.abort();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_holds_its_publishers_back_but_nobody_else() {
    let config = Config {
        max_unflushed_bytes: 64 * 1024,
        max_inflight_messages: 64,
        ..Config::default()
    };
    let queued = config.max_queued_messages;
    let (addr, stop, broker) = start_small_buffered_broker(config).await;
    let slow_topic = "dp/slow";
    let mut slow = small_buffered_client(addr, V5, "dp-slow-sub").await;
    slow.subscribe(slow_topic, QoS::AtLeastOnce).await;
    let baseline_rss = resident_bytes();

    // Two publishers (one of each version) flood the subscriber that reads nothing.
    let per_publisher = 20_000u64;
    let acked = Arc::new(AtomicUsize::new(0));
    let mut publishers = Vec::new();
    for (number, v) in [(0u32, V5), (1u32, V311)] {
        let (client, connack) = TestClient::connect(addr, v, &format!("dp-pub-{number}")).await;
        let window = connack
            .properties
            .receive_maximum
            .map_or(1000, |m| usize::from(m.get()));
        publishers.push(spawn_publisher(
            client,
            number,
            slow_topic,
            window,
            per_publisher,
            acked.clone(),
        ));
    }
    // Wait until they are held back: no new acknowledgement for a second.
    let stalled_at = within("the publishers to be held back", async {
        let mut last = usize::MAX;
        let mut since = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = acked.load(Ordering::SeqCst);
            if now != last {
                last = now;
                since = tokio::time::Instant::now();
            } else if now > 0 && since.elapsed() >= Duration::from_secs(1) {
                return now;
            }
        }
    })
    .await;
    assert!(
        (stalled_at as u64) < 2 * per_publisher,
        "everything was acknowledged to a subscriber that reads nothing"
    );
    // The queue, the messages in flight, unflushed bytes and socket buffers, with margin.
    assert!(
        stalled_at <= queued + 64 + 2 * 1000 + 500,
        "{stalled_at} messages taken for a subscriber that reads nothing"
    );

    // Meanwhile, another publisher and subscriber are served as usual.
    let (mut live_sub, _) = TestClient::connect(addr, V5, "dp-live-sub").await;
    live_sub.subscribe("dp/live", QoS::AtLeastOnce).await;
    let (mut live_pub, _) = TestClient::connect(addr, V311, "dp-live-pub").await;
    within_for(
        Duration::from_secs(10),
        "100 round trips past the held publishers",
        async {
            for i in 0..100u64 {
                live_pub
                    .publish("dp/live", QoS::AtLeastOnce, &payload(9, i, 100))
                    .await;
                let got = live_sub.expect_publish().await;
                assert_eq!(check_payload(&got.payload), (9, i));
                live_sub.ack(&got).await;
            }
        },
    )
    .await;
    if let (Some(before), Some(after)) = (baseline_rss, resident_bytes()) {
        let grown = after.saturating_sub(before);
        let allowed = 2 * stalled_at * 2048 + 16 * 1024 * 1024;
        assert!(
            grown <= allowed,
            "memory grew by {grown} bytes while the subscriber read nothing (allowed {allowed})"
        );
    }

    // The subscriber reads again: every message arrives once, in order per publisher, and
    // every publisher gets all its acknowledgements.
    let mut next = [0u64; 2];
    within_for(
        Duration::from_secs(60),
        "the slow subscriber to receive everything",
        async {
            let mut acks = BytesMut::new();
            while next.iter().sum::<u64>() < 2 * per_publisher {
                let mut packet = Some(slow.recv().await);
                while let Some(p) = packet.take() {
                    let Packet::Publish(p) = p else {
                        panic!("subscriber expected PUBLISH, got {p:?}");
                    };
                    let (publisher, seq) = check_payload(&p.payload);
                    let expected = &mut next[publisher as usize];
                    assert_eq!(seq, *expected, "publisher {publisher}: lost or reordered");
                    *expected += 1;
                    let id = p.packet_id().expect("QoS 1");
                    acks.extend_from_slice(&encode(&Packet::PubAck(PubAck::new(id)), V5));
                    packet = slow.next_buffered();
                }
                slow.send_bytes(&acks).await;
                acks.clear();
            }
        },
    )
    .await;
    for p in publishers {
        within("the publishers' acknowledgements", p)
            .await
            .expect("publisher task");
    }
    assert_eq!(acked.load(Ordering::SeqCst) as u64, 2 * per_publisher);
    slow.ping().await;
    stop_broker(stop, broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_keep_their_order_when_direct_and_queued_writes_mix() {
    let (addr, stop, broker) = start_small_buffered_broker(Config::default()).await;
    let t = "dp/order";
    let mut sub = small_buffered_client(addr, V5, "dp-order-sub").await;
    sub.subscribe(t, QoS::AtLeastOnce).await;
    let (publisher, _) = TestClient::connect(addr, V311, "dp-order-pub").await;
    let messages = 3000u64;
    let (mut pub_reader, mut pub_write) = publisher.into_parts();
    let sender = tokio::spawn(async move {
        // QoS 0 and 1 alternating, sizes from a dozen bytes to 20 KB, in writes of a few
        // messages; each QoS 1 message waits for its PUBACK before the next write.
        let mut rng = Rng(0x5eed_0001);
        let mut seq = 0u64;
        while seq < messages {
            let mut out = BytesMut::new();
            let mut awaiting = 0;
            for _ in 0..(1 + rng.below(4)).min((messages - seq) as usize) {
                let len = if rng.below(10) == 0 {
                    12 + rng.below(20_000)
                } else {
                    12 + rng.below(600)
                };
                let mut p = Publish::new(topic(t), payload(0, seq, len));
                if seq % 2 == 1 {
                    p.delivery = mqttspec_codec::Delivery::new(
                        QoS::AtLeastOnce,
                        pid((seq % 60_000) as u16 + 1),
                    );
                    awaiting += 1;
                }
                out.extend_from_slice(&encode(&Packet::Publish(p), V311));
                seq += 1;
            }
            pub_write.write_all(&out).await.expect("publisher write");
            for _ in 0..awaiting {
                match pub_reader.next().await {
                    Some(Packet::PubAck(_)) => {}
                    other => panic!("publisher expected PUBACK, got {other:?}"),
                }
            }
        }
        (pub_reader, pub_write)
    });

    // The subscriber stalls now and then (output queues up in the broker) and sends
    // PINGREQs in between (their answers join the same output).
    let mut rng = Rng(0x5eed_0002);
    let mut last_seq: Option<u64> = None;
    let mut qos1_seen = 0u64;
    let mut pings_sent = 0usize;
    let mut pongs = 0usize;
    within_for(Duration::from_secs(60), "every QoS 1 message", async {
        while qos1_seen < messages / 2 {
            match sub.recv().await {
                Packet::Publish(p) => {
                    let (_, seq) = check_payload(&p.payload);
                    assert!(
                        last_seq.is_none_or(|last| seq > last),
                        "message {seq} after {last_seq:?}"
                    );
                    last_seq = Some(seq);
                    if p.qos() == QoS::AtLeastOnce {
                        assert_eq!(seq % 2, 1, "QoS 1 messages are the odd ones");
                        assert_eq!(seq / 2, qos1_seen, "a QoS 1 message is missing");
                        qos1_seen += 1;
                        sub.ack(&p).await;
                    }
                    if rng.below(200) == 0 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    if rng.below(20) == 0 {
                        sub.send(&Packet::PingReq).await;
                        pings_sent += 1;
                    }
                }
                Packet::PingResp => pongs += 1,
                other => panic!("subscriber expected PUBLISH or PINGRESP, got {other:?}"),
            }
        }
    })
    .await;
    within("the publisher to finish", sender)
        .await
        .expect("publisher task");
    // The answers to every PINGREQ arrive, after whatever was queued before them.
    sub.send(&Packet::PingReq).await;
    pings_sent += 1;
    while pongs < pings_sent {
        match sub.recv().await {
            Packet::PingResp => pongs += 1,
            Packet::Publish(p) => {
                let (_, seq) = check_payload(&p.payload);
                assert!(last_seq.is_none_or(|last| seq > last));
                last_seq = Some(seq);
                assert_eq!(p.qos(), QoS::AtMostOnce, "every QoS 1 message was seen");
            }
            other => panic!("subscriber expected PINGRESP, got {other:?}"),
        }
    }
    stop_broker(stop, broker).await;
}

#[tokio::test]
async fn packets_split_across_reads_larger_than_a_read_and_many_per_read_are_all_handled() {
    let broker = start_broker(Config::default()).await;
    let addr = broker.local_addr();
    let t = "dp/split";
    let (mut sub, _) = TestClient::connect(addr, V311, "dp-split-sub").await;
    sub.subscribe(t, QoS::AtLeastOnce).await;
    let stream = within("the TCP connection", TcpStream::connect(addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let mut publisher = TestClient::from_stream(stream, V5);
    publisher
        .send(&Packet::Connect(Box::new(connect_packet(
            V5,
            "dp-split-pub",
        ))))
        .await;
    assert!(matches!(publisher.recv().await, Packet::ConnAck(_)));

    let mut rng = Rng(0x5eed_0003);
    let batches = 8u64;
    let per_batch = 40u64;
    let mut seq = 0u64;
    for _ in 0..batches {
        // A batch of QoS 1 messages (within the broker's Receive Maximum of 64) from tiny to
        // three times the broker's read size, sent in pieces of random size.
        let mut bytes = BytesMut::new();
        for i in 0..per_batch {
            let len = match rng.below(4) {
                0 => 12,
                1 => 12 + rng.below(100),
                2 => 12 + rng.below(5000),
                _ => 12 + rng.below(50_000),
            };
            let mut p = Publish::new(topic(t), payload(0, seq, len));
            p.delivery = mqttspec_codec::Delivery::new(QoS::AtLeastOnce, pid(i as u16 + 1));
            bytes.extend_from_slice(&encode(&Packet::Publish(p), V5));
            seq += 1;
        }
        let mut rest = bytes.freeze();
        while !rest.is_empty() {
            let n = match rng.below(3) {
                0 => 1 + rng.below(8),
                1 => 1 + rng.below(2000),
                _ => 1 + rng.below(70_000),
            }
            .min(rest.len());
            publisher.send_bytes(&rest.split_to(n)).await;
            if rng.below(4) == 0 {
                // Let the broker read what is there so far.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        for i in 0..per_batch {
            match publisher.recv().await {
                Packet::PubAck(ack) => {
                    assert_eq!(ack.packet_id, pid(i as u16 + 1));
                    assert_eq!(ack.reason_code, ReasonCode::Success);
                }
                other => panic!("publisher expected PUBACK, got {other:?}"),
            }
        }
    }
    for expected in 0..batches * per_batch {
        let p = sub.expect_publish().await;
        assert_eq!(check_payload(&p.payload), (0, expected));
        sub.ack(&p).await;
    }
    sub.ping().await;
    broker.stop().await;
}
