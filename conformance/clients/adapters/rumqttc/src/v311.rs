//! The MQTT 3.1.1 client of rumqttc (the crate root).

use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS,
    SubscribeReasonCode,
};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::{
    bool_of, emit, emit_error, emit_unsupported, lock, message_event, payload_of, str_of, u64_of,
    Shared,
};

pub(crate) struct Driver {
    client: AsyncClient,
    ctl: mpsc::UnboundedSender<(MqttOptions, Option<u64>)>,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

fn qos(n: u64) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// The options of a `connect` command; None (after saying why) when rumqttc cannot take them.
fn options(c: &Map<String, Value>, token: Option<u64>) -> Option<MqttOptions> {
    let keep_alive = u64_of(c, "keep_alive").unwrap_or(60);
    let client_id = str_of(c, "client_id").unwrap_or("");
    let clean = bool_of(c, "clean_start", true);
    if client_id.is_empty() && !clean {
        // MqttOptions::set_clean_session asserts a Client Identifier when it is false.
        emit_unsupported(
            "connect.clean_start (rumqttc: Clean Session 0 needs a Client Identifier)",
            token,
        );
        return None;
    }
    let host = str_of(c, "host").unwrap_or("127.0.0.1");
    let port = u64_of(c, "port").unwrap_or(1883) as u16;
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(keep_alive));
    o.set_clean_session(clean);
    if let Some(u) = str_of(c, "username") {
        o.set_credentials(u, str_of(c, "password").unwrap_or(""));
    }
    if let Some(Value::Object(w)) = c.get("will") {
        o.set_last_will(LastWill::new(
            str_of(w, "topic").unwrap_or(""),
            payload_of(w),
            qos(u64_of(w, "qos").unwrap_or(0)),
            bool_of(w, "retain", false),
        ));
    }
    Some(o)
}

impl Driver {
    pub(crate) fn new(c: &Map<String, Value>, token: Option<u64>) -> Option<Driver> {
        let opts = options(c, token)?;
        let (client, eventloop) = AsyncClient::new(opts, 64);
        let (ctl, rx) = mpsc::unbounded_channel();
        let shared = Shared::default();
        let task = tokio::spawn(run(eventloop, rx, shared.clone()));
        Some(Driver {
            client,
            ctl,
            shared,
            task,
        })
    }

    pub(crate) fn stop(&self) {
        self.task.abort();
    }

    pub(crate) async fn connect(&mut self, c: &Map<String, Value>, token: Option<u64>) {
        if lock(&self.shared).connected {
            emit_error("connect", "already connected", token);
            return;
        }
        let Some(opts) = options(c, token) else {
            return;
        };
        {
            let mut s = lock(&self.shared);
            s.connected = true;
            s.closing = false;
        }
        let _ = self.ctl.send((opts, token));
    }

    pub(crate) async fn command(&mut self, cmd: &str, c: &Map<String, Value>, token: Option<u64>) {
        match cmd {
            "subscribe" => {
                let topic = str_of(c, "topic").unwrap_or("").to_owned();
                lock(&self.shared).subscribes.push_back(token);
                if let Err(e) = self
                    .client
                    .try_subscribe(topic, qos(u64_of(c, "qos").unwrap_or(0)))
                {
                    lock(&self.shared).subscribes.pop_back();
                    emit_error(cmd, e, token);
                }
            }
            "unsubscribe" => {
                lock(&self.shared).unsubscribes.push_back(token);
                if let Err(e) = self
                    .client
                    .try_unsubscribe(str_of(c, "topic").unwrap_or("").to_owned())
                {
                    lock(&self.shared).unsubscribes.pop_back();
                    emit_error(cmd, e, token);
                }
            }
            "publish" => {
                let q = u64_of(c, "qos").unwrap_or(0);
                let topic = str_of(c, "topic").unwrap_or("").to_owned();
                let retain = bool_of(c, "retain", false);
                let payload = payload_of(c);
                lock(&self.shared).publishes.push_back((token, q as u8));
                let r = self.client.try_publish(topic, qos(q), retain, payload);
                if let Err(e) = r {
                    lock(&self.shared).publishes.pop_back();
                    emit_error(cmd, e, token);
                }
            }
            _ => {
                if !lock(&self.shared).connected {
                    emit_error(cmd, "not connected", token);
                    return;
                }
                lock(&self.shared).closing = true;
                if let Err(e) = self.client.try_disconnect() {
                    lock(&self.shared).closing = false;
                    emit_error(cmd, e, token);
                }
            }
        }
    }
}

fn suback_code(c: &SubscribeReasonCode) -> u8 {
    match c {
        SubscribeReasonCode::Success(q) => *q as u8,
        SubscribeReasonCode::Failure => 0x80,
    }
}

/// Polls the event loop while connected; between connections waits for the next `connect`.
async fn run(
    mut el: EventLoop,
    mut ctl: mpsc::UnboundedReceiver<(MqttOptions, Option<u64>)>,
    shared: Shared,
) {
    while let Some((opts, token)) = ctl.recv().await {
        el.mqtt_options = opts;
        let mut connect_token = token;
        loop {
            match el.poll().await {
                Ok(ev) => {
                    if handle(ev, &shared, &mut connect_token) {
                        // The application's DISCONNECT went out: stop and drop the connection.
                        el.clean();
                        emit(json!({"event": "disconnected", "by": "client"}), None);
                        break;
                    }
                }
                Err(e) => {
                    let closing = lock(&shared).closing;
                    let ev = match &e {
                        _ if closing => json!({"event": "disconnected", "by": "client"}),
                        ConnectionError::ConnectionRefused(code) => json!({
                            "event": "disconnected",
                            "by": "server",
                            "message": format!("connection refused: {code:?}"),
                        }),
                        other => json!({
                            "event": "disconnected",
                            "by": "network",
                            "message": other.to_string(),
                        }),
                    };
                    emit(ev, connect_token.take());
                    break;
                }
            }
        }
        let mut s = lock(&shared);
        s.connected = false;
        s.closing = false;
    }
}

/// Reports one event; true when it is the application's DISCONNECT going out.
fn handle(ev: Event, shared: &Shared, connect_token: &mut Option<u64>) -> bool {
    match ev {
        Event::Incoming(Packet::ConnAck(ca)) => {
            emit(
                json!({"event": "connack", "reason_code": 0, "session_present": ca.session_present}),
                connect_token.take(),
            );
        }
        Event::Incoming(Packet::Publish(p)) => {
            emit(
                message_event(
                    p.topic.as_bytes(),
                    &p.payload,
                    p.qos as u8,
                    p.retain,
                    p.dup,
                    Map::new(),
                ),
                None,
            );
        }
        Event::Incoming(Packet::PubAck(a)) => {
            let token = lock(shared).inflight.remove(&a.pkid).flatten();
            emit(json!({"event": "published", "qos": 1}), token);
        }
        Event::Incoming(Packet::PubComp(a)) => {
            let token = lock(shared).inflight.remove(&a.pkid).flatten();
            emit(json!({"event": "published", "qos": 2}), token);
        }
        Event::Incoming(Packet::SubAck(a)) => {
            let token = lock(shared).subs.remove(&a.pkid).flatten();
            let codes: Vec<u8> = a.return_codes.iter().map(suback_code).collect();
            emit(json!({"event": "subscribed", "reason_codes": codes}), token);
        }
        Event::Incoming(Packet::UnsubAck(a)) => {
            let token = lock(shared).unsubs.remove(&a.pkid).flatten();
            emit(json!({"event": "unsubscribed"}), token);
        }
        Event::Outgoing(Outgoing::Publish(pkid)) => {
            let mut s = lock(shared);
            if pkid != 0 && s.inflight.contains_key(&pkid) {
                return false; // a resend of a message still in flight
            }
            if let Some((token, q)) = s.publishes.pop_front() {
                if q == 0 {
                    drop(s);
                    emit(json!({"event": "published", "qos": 0}), token);
                } else {
                    s.inflight.insert(pkid, token);
                }
            }
        }
        Event::Outgoing(Outgoing::Subscribe(pkid)) => {
            let mut s = lock(shared);
            if let Some(t) = s.subscribes.pop_front() {
                s.subs.insert(pkid, t);
            }
        }
        Event::Outgoing(Outgoing::Unsubscribe(pkid)) => {
            let mut s = lock(shared);
            if let Some(t) = s.unsubscribes.pop_front() {
                s.unsubs.insert(pkid, t);
            }
        }
        Event::Outgoing(Outgoing::Disconnect) => return lock(shared).closing,
        _ => {}
    }
    false
}
