//! Interoperability with real clients: the mosquitto command-line clients (`mosquitto_pub`,
//! `mosquitto_sub` from Debian's `mosquitto-clients`, both protocol versions) and the rumqttc
//! library (its MQTT 3.1.1 and 5.0 clients), against the broker running in-process on an
//! ephemeral loopback port.
//!
//! The mosquitto tools are required (CI installs them). A machine without them fails these
//! tests with a message saying so, unless `MQTTSPEC_SKIP_REAL_CLIENTS=1` is set.

mod tcp_support;

use std::process::Stdio;
use std::time::Duration;

use mqttspec_reference_broker::Config;
use tcp_support::{start_broker, within, within_for, TestClient, V5};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long a mosquitto_sub may wait for its messages (`-W`) before giving up by itself.
const SUB_TIMEOUT_SECS: &str = "15";
/// The prefix of the lines mosquitto_sub prints for messages (its `-d` debug lines start
/// with "Client ").
const FORMAT: &str = "MSG|%t|%q|%r|%P|%p";

/// Whether the mosquitto tools can be used; fails the test if they are missing unless
/// skipping was asked for.
fn mosquitto_available() -> bool {
    // stdbuf (GNU coreutils) makes mosquitto_sub's output line-buffered.
    let found = ["mosquitto_pub", "mosquitto_sub", "stdbuf"]
        .iter()
        .all(|tool| {
            std::process::Command::new(tool)
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        });
    if found {
        return true;
    }
    if std::env::var("MQTTSPEC_SKIP_REAL_CLIENTS").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: mosquitto_pub/mosquitto_sub/stdbuf not found and MQTTSPEC_SKIP_REAL_CLIENTS=1"
        );
        return false;
    }
    panic!(
        "mosquitto_pub, mosquitto_sub and stdbuf are required for the real-client tests: \
         install them (Debian/Ubuntu: apt-get install mosquitto-clients coreutils) or set \
         MQTTSPEC_SKIP_REAL_CLIENTS=1 to skip these tests"
    );
}

/// One message as printed by mosquitto_sub with [`FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    topic: String,
    qos: String,
    retain: String,
    user_properties: String,
    payload: String,
}

impl Received {
    fn parse(line: &str) -> Option<Received> {
        let rest = line.strip_prefix("MSG|")?;
        let mut parts = rest.splitn(5, '|');
        Some(Received {
            topic: parts.next()?.to_owned(),
            qos: parts.next()?.to_owned(),
            retain: parts.next()?.to_owned(),
            user_properties: parts.next()?.to_owned(),
            payload: parts.next()?.to_owned(),
        })
    }
}

/// A running mosquitto_sub.
struct Sub {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Everything it printed, for failure messages.
    transcript: String,
}

impl Sub {
    /// Starts mosquitto_sub (debug output on, so its SUBACK can be awaited) with `args`
    /// after the connection options, and waits until it is subscribed.
    async fn start(port: u16, args: &[&str]) -> Sub {
        Sub::start_until(port, args, "its SUBACK", "received SUBACK").await
    }

    /// Starts mosquitto_sub and waits until it prints a debug line containing `ready`.
    async fn start_until(port: u16, args: &[&str], what: &str, ready: &str) -> Sub {
        // stdbuf: its output goes to a pipe, which the C library would buffer in blocks.
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-d"])
            .args(["-W", SUB_TIMEOUT_SECS, "-F", FORMAT])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start mosquitto_sub");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut sub = Sub {
            child,
            lines: BufReader::new(stdout).lines(),
            transcript: String::new(),
        };
        sub.wait_for_line(what, |l| l.contains(ready)).await;
        sub
    }

    async fn wait_for_line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) {
        let transcript = &mut self.transcript;
        let lines = &mut self.lines;
        let found = within(&format!("mosquitto_sub to print {what}"), async {
            while let Ok(Some(line)) = lines.next_line().await {
                transcript.push_str(&line);
                transcript.push('\n');
                if wanted(&line) {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            found,
            "mosquitto_sub ended before printing {what}; it printed:\n{}",
            self.transcript
        );
    }

    /// Waits for it to exit (after `-C` messages, `-E`, or its `-W` timeout) and returns the
    /// messages it printed.
    async fn finish(mut self) -> Vec<Received> {
        let transcript = &mut self.transcript;
        let lines = &mut self.lines;
        within_for(Duration::from_secs(20), "mosquitto_sub to finish", async {
            while let Ok(Some(line)) = lines.next_line().await {
                transcript.push_str(&line);
                transcript.push('\n');
            }
        })
        .await;
        let status = within("mosquitto_sub to exit", self.child.wait())
            .await
            .expect("wait for mosquitto_sub");
        let received: Vec<Received> = self
            .transcript
            .lines()
            .filter_map(Received::parse)
            .collect();
        assert!(
            status.success() || !received.is_empty(),
            "mosquitto_sub failed ({status}); it printed:\n{}",
            self.transcript
        );
        received
    }

    /// Kills it (SIGKILL: the connection ends without DISCONNECT).
    async fn kill(mut self) {
        within("mosquitto_sub to die", self.child.kill())
            .await
            .expect("kill mosquitto_sub");
    }
}

/// Runs mosquitto_pub with `args` after the connection options; it must succeed.
async fn publish(port: u16, args: &[&str]) {
    let output = within(
        "mosquitto_pub to finish",
        Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run mosquitto_pub");
    assert!(
        output.status.success(),
        "mosquitto_pub {args:?} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn payloads(received: &[Received]) -> Vec<&str> {
    received.iter().map(|r| r.payload.as_str()).collect()
}

async fn mosquitto_qos_levels(version: &str) {
    if !mosquitto_available() {
        return;
    }
    let broker = start_broker(Config::default()).await;
    let port = broker.local_addr().port();
    let t = format!("real/qos/{version}");
    let sub = Sub::start(port, &["-V", version, "-q", "2", "-C", "3", "-t", &t]).await;
    for qos in ["0", "1", "2"] {
        let payload = format!("at qos {qos}");
        publish(port, &["-V", version, "-q", qos, "-t", &t, "-m", &payload]).await;
    }
    let received = sub.finish().await;
    assert_eq!(
        payloads(&received),
        ["at qos 0", "at qos 1", "at qos 2"],
        "{received:?}"
    );
    let qos: Vec<&str> = received.iter().map(|r| r.qos.as_str()).collect();
    assert_eq!(qos, ["0", "1", "2"], "each delivered at its published QoS");
    assert!(received.iter().all(|r| r.topic == t && r.retain == "0"));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_delivers_qos_0_1_and_2_with_mqtt_v311() {
    mosquitto_qos_levels("mqttv311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_delivers_qos_0_1_and_2_with_mqtt_v5() {
    mosquitto_qos_levels("mqttv5").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_retained_messages_reach_later_subscribers_and_are_cleared() {
    if !mosquitto_available() {
        return;
    }
    let broker = start_broker(Config::default()).await;
    let port = broker.local_addr().port();
    for version in ["mqttv311", "mqttv5"] {
        let kept = format!("real/retain/{version}/kept");
        let cleared = format!("real/retain/{version}/cleared");
        let marker = format!("real/retain/{version}/marker");
        publish(
            port,
            &["-V", version, "-q", "1", "-r", "-t", &kept, "-m", "kept"],
        )
        .await;
        publish(
            port,
            &["-V", version, "-q", "1", "-r", "-t", &cleared, "-m", "old"],
        )
        .await;
        // An empty retained message clears the topic's retained message.
        publish(
            port,
            &["-V", version, "-q", "1", "-r", "-t", &cleared, "-n"],
        )
        .await;
        publish(
            port,
            &[
                "-V", version, "-q", "1", "-r", "-t", &marker, "-m", "marker",
            ],
        )
        .await;
        // One subscriber for the three topics, in this order: the broker sends the retained
        // messages filter by filter, so if "cleared" still had one it would come before the
        // marker.
        let sub = Sub::start(
            port,
            &[
                "-V", version, "-q", "1", "-C", "2", "-t", &kept, "-t", &cleared, "-t", &marker,
            ],
        )
        .await;
        let received = sub.finish().await;
        assert_eq!(payloads(&received), ["kept", "marker"], "{received:?}");
        assert!(
            received.iter().all(|r| r.retain == "1"),
            "retained messages sent on subscription have RETAIN 1: {received:?}"
        );
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_will_is_published_when_the_client_is_killed() {
    if !mosquitto_available() {
        return;
    }
    let broker = start_broker(Config::default()).await;
    let port = broker.local_addr().port();
    for version in ["mqttv311", "mqttv5"] {
        let will_topic = format!("real/will/{version}");
        let watcher = Sub::start(
            port,
            &["-V", version, "-q", "1", "-C", "1", "-t", &will_topic],
        )
        .await;
        let doomed = Sub::start(
            port,
            &[
                "-V",
                version,
                "-t",
                &format!("real/will/{version}/unused"),
                "--will-topic",
                &will_topic,
                "--will-payload",
                "it died",
                "--will-qos",
                "1",
            ],
        )
        .await;
        doomed.kill().await;
        let received = watcher.finish().await;
        assert_eq!(payloads(&received), ["it died"], "{received:?}");
        assert_eq!(received[0].topic, will_topic);
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_v5_user_properties_arrive_in_order() {
    if !mosquitto_available() {
        return;
    }
    let broker = start_broker(Config::default()).await;
    let port = broker.local_addr().port();
    let t = "real/user-properties";
    let sub = Sub::start(port, &["-V", "mqttv5", "-q", "1", "-C", "1", "-t", t]).await;
    // A repeated key is allowed and its position kept.
    publish(
        port,
        &[
            "-V",
            "mqttv5",
            "-q",
            "1",
            "-t",
            t,
            "-m",
            "with properties",
            "-D",
            "publish",
            "user-property",
            "zeta",
            "1",
            "-D",
            "publish",
            "user-property",
            "alpha",
            "2",
            "-D",
            "publish",
            "user-property",
            "zeta",
            "3",
        ],
    )
    .await;
    let received = sub.finish().await;
    assert_eq!(payloads(&received), ["with properties"]);
    assert_eq!(received[0].user_properties, "zeta:1 alpha:2 zeta:3");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_v5_expired_messages_are_not_delivered() {
    if !mosquitto_available() {
        return;
    }
    let broker = start_broker(Config::default()).await;
    let port = broker.local_addr().port();
    let queued = "real/expiry/queued";
    let (retained, marker) = ("real/expiry/retained", "real/expiry/marker");
    // A persistent session that subscribes and goes away (-E: exit once subscribed).
    let session = [
        "-V",
        "mqttv5",
        "-c",
        "-i",
        "real-expiry",
        "-x",
        "300",
        "-q",
        "1",
        "-t",
        queued,
    ];
    let args: Vec<&str> = session.iter().copied().chain(["-E"]).collect();
    Sub::start(port, &args).await.finish().await;

    // Queued for the offline session: one that expires after a second, then one that never
    // does. Retained: one that expires, then a marker that does not.
    let expiring = ["-D", "publish", "message-expiry-interval", "1"];
    let mut args = vec!["-V", "mqttv5", "-q", "1", "-t", queued, "-m", "expires"];
    args.extend(expiring);
    publish(port, &args).await;
    publish(
        port,
        &["-V", "mqttv5", "-q", "1", "-t", queued, "-m", "stays"],
    )
    .await;
    let mut args = vec![
        "-V", "mqttv5", "-q", "1", "-r", "-t", retained, "-m", "expires",
    ];
    args.extend(expiring);
    publish(port, &args).await;
    publish(
        port,
        &["-V", "mqttv5", "-q", "1", "-r", "-t", marker, "-m", "stays"],
    )
    .await;

    // Message expiry runs on the broker's clock: this wait cannot be replaced by an event.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // The session resumes: the expired message is not sent, the other is (it would come
    // second if the first were still there).
    // The queued message may come before the SUBACK of the (repeated) subscription.
    let args: Vec<&str> = session.iter().copied().chain(["-C", "1"]).collect();
    let received = Sub::start_until(port, &args, "its CONNACK", "received CONNACK")
        .await
        .finish()
        .await;
    assert_eq!(payloads(&received), ["stays"], "{received:?}");
    assert_eq!(received[0].topic, queued);
    // A new subscriber to both retained topics gets only the marker.
    let received = Sub::start(
        port,
        &[
            "-V", "mqttv5", "-q", "1", "-C", "1", "-t", retained, "-t", marker,
        ],
    )
    .await
    .finish()
    .await;
    assert_eq!(payloads(&received), ["stays"], "{received:?}");
    assert_eq!(received[0].topic, marker);
    broker.stop().await;
}

// ---------------------------------------------------------------------------------------
// rumqttc

mod rumqttc_v4 {
    use super::*;
    use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};

    fn options(port: u16, id: &str, clean: bool) -> MqttOptions {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_clean_session(clean);
        o
    }

    /// Polls the event loop until `wanted` returns a value.
    async fn until<T>(
        eventloop: &mut EventLoop,
        what: &str,
        mut wanted: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        within(&format!("rumqttc (3.1.1) to see {what}"), async {
            loop {
                let event = eventloop.poll().await.expect("rumqttc connection");
                if let Some(v) = wanted(&event) {
                    return v;
                }
            }
        })
        .await
    }

    async fn connect(port: u16, id: &str, clean: bool) -> (AsyncClient, EventLoop, bool) {
        let (client, mut eventloop) = AsyncClient::new(options(port, id, clean), 64);
        let session_present = until(&mut eventloop, "CONNACK", |e| match e {
            Event::Incoming(Packet::ConnAck(c)) => Some(c.session_present),
            _ => None,
        })
        .await;
        (client, eventloop, session_present)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rumqttc_v311_publishes_and_receives_at_every_qos() {
        let broker = start_broker(Config::default()).await;
        let port = broker.local_addr().port();
        let (client, mut eventloop, _) = connect(port, "rumqttc-v4", true).await;
        let t = "rumqttc/v4/qos";
        client
            .subscribe(t, QoS::ExactlyOnce)
            .await
            .expect("subscribe");
        until(&mut eventloop, "SUBACK", |e| {
            matches!(e, Event::Incoming(Packet::SubAck(_))).then_some(())
        })
        .await;
        for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
            .into_iter()
            .enumerate()
        {
            client
                .publish(t, qos, false, format!("m{i}"))
                .await
                .expect("publish");
        }
        let mut got = Vec::new();
        while got.len() < 3 {
            let p = until(&mut eventloop, "its messages", |e| match e {
                Event::Incoming(Packet::Publish(p)) => Some(p.clone()),
                _ => None,
            })
            .await;
            got.push((p.qos, String::from_utf8_lossy(&p.payload).into_owned()));
        }
        assert_eq!(
            got,
            [
                (QoS::AtMostOnce, "m0".to_owned()),
                (QoS::AtLeastOnce, "m1".to_owned()),
                (QoS::ExactlyOnce, "m2".to_owned()),
            ]
        );
        broker.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rumqttc_v311_resumed_session_receives_the_qos1_messages_queued_meanwhile() {
        let broker = start_broker(Config::default()).await;
        let port = broker.local_addr().port();
        let t = "rumqttc/v4/queued";
        let (client, mut eventloop, _) = connect(port, "rumqttc-v4-resume", false).await;
        client
            .subscribe(t, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        until(&mut eventloop, "SUBACK", |e| {
            matches!(e, Event::Incoming(Packet::SubAck(_))).then_some(())
        })
        .await;
        client.disconnect().await.expect("disconnect");
        until(&mut eventloop, "its DISCONNECT go out", |e| {
            matches!(e, Event::Outgoing(Outgoing::Disconnect)).then_some(())
        })
        .await;
        drop(eventloop);

        let (mut publisher, _) =
            TestClient::connect(broker.local_addr(), V5, "rumqttc-v4-publisher").await;
        for i in 0..3 {
            publisher
                .publish(
                    t,
                    mqttspec_codec::QoS::AtLeastOnce,
                    format!("q{i}").as_bytes(),
                )
                .await;
        }

        let (_client, mut eventloop, session_present) =
            connect(port, "rumqttc-v4-resume", false).await;
        assert!(session_present, "the session was kept");
        let mut got = Vec::new();
        while got.len() < 3 {
            let p = until(&mut eventloop, "the queued messages", |e| match e {
                Event::Incoming(Packet::Publish(p)) => Some(p.clone()),
                _ => None,
            })
            .await;
            assert_eq!(p.qos, QoS::AtLeastOnce);
            got.push(String::from_utf8_lossy(&p.payload).into_owned());
        }
        assert_eq!(got, ["q0", "q1", "q2"]);
        broker.stop().await;
    }
}

mod rumqttc_v5 {
    use super::*;
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
    use rumqttc::Outgoing;

    fn options(port: u16, id: &str, clean: bool) -> MqttOptions {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_clean_start(clean);
        if !clean {
            o.set_session_expiry_interval(Some(300));
        }
        o
    }

    /// Polls the event loop until `wanted` returns a value.
    async fn until<T>(
        eventloop: &mut EventLoop,
        what: &str,
        mut wanted: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        within(&format!("rumqttc (5.0) to see {what}"), async {
            loop {
                let event = eventloop.poll().await.expect("rumqttc connection");
                if let Some(v) = wanted(&event) {
                    return v;
                }
            }
        })
        .await
    }

    async fn connect(port: u16, id: &str, clean: bool) -> (AsyncClient, EventLoop, bool) {
        let (client, mut eventloop) = AsyncClient::new(options(port, id, clean), 64);
        let session_present = until(&mut eventloop, "CONNACK", |e| match e {
            Event::Incoming(Packet::ConnAck(c)) => Some(c.session_present),
            _ => None,
        })
        .await;
        (client, eventloop, session_present)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rumqttc_v5_publishes_and_receives_at_every_qos() {
        let broker = start_broker(Config::default()).await;
        let port = broker.local_addr().port();
        let (client, mut eventloop, _) = connect(port, "rumqttc-v5", true).await;
        let t = "rumqttc/v5/qos";
        client
            .subscribe(t, QoS::ExactlyOnce)
            .await
            .expect("subscribe");
        until(&mut eventloop, "SUBACK", |e| {
            matches!(e, Event::Incoming(Packet::SubAck(_))).then_some(())
        })
        .await;
        for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
            .into_iter()
            .enumerate()
        {
            client
                .publish(t, qos, false, format!("m{i}"))
                .await
                .expect("publish");
        }
        let mut got = Vec::new();
        while got.len() < 3 {
            let p = until(&mut eventloop, "its messages", |e| match e {
                Event::Incoming(Packet::Publish(p)) => Some(p.clone()),
                _ => None,
            })
            .await;
            got.push((p.qos, String::from_utf8_lossy(&p.payload).into_owned()));
        }
        assert_eq!(
            got,
            [
                (QoS::AtMostOnce, "m0".to_owned()),
                (QoS::AtLeastOnce, "m1".to_owned()),
                (QoS::ExactlyOnce, "m2".to_owned()),
            ]
        );
        broker.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rumqttc_v5_resumed_session_receives_the_qos1_messages_queued_meanwhile() {
        let broker = start_broker(Config::default()).await;
        let port = broker.local_addr().port();
        let t = "rumqttc/v5/queued";
        let (client, mut eventloop, _) = connect(port, "rumqttc-v5-resume", false).await;
        client
            .subscribe(t, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        until(&mut eventloop, "SUBACK", |e| {
            matches!(e, Event::Incoming(Packet::SubAck(_))).then_some(())
        })
        .await;
        client.disconnect().await.expect("disconnect");
        until(&mut eventloop, "its DISCONNECT go out", |e| {
            matches!(e, Event::Outgoing(Outgoing::Disconnect)).then_some(())
        })
        .await;
        drop(eventloop);

        let (mut publisher, _) =
            TestClient::connect(broker.local_addr(), V5, "rumqttc-v5-publisher").await;
        for i in 0..3 {
            publisher
                .publish(
                    t,
                    mqttspec_codec::QoS::AtLeastOnce,
                    format!("q{i}").as_bytes(),
                )
                .await;
        }

        let (_client, mut eventloop, session_present) =
            connect(port, "rumqttc-v5-resume", false).await;
        assert!(session_present, "the session was kept");
        let mut got = Vec::new();
        while got.len() < 3 {
            let p = until(&mut eventloop, "the queued messages", |e| match e {
                Event::Incoming(Packet::Publish(p)) => Some(p.clone()),
                _ => None,
            })
            .await;
            assert_eq!(p.qos, QoS::AtLeastOnce);
            got.push(String::from_utf8_lossy(&p.payload).into_owned());
        }
        assert_eq!(got, ["q0", "q1", "q2"]);
        broker.stop().await;
    }
}
