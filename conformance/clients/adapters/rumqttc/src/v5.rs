//! The MQTT 5.0 client of rumqttc (`rumqttc::v5`).

use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::{
    Filter, LastWill, Packet, PublishProperties, RetainForwardRule, SubscribeProperties,
    SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, StateError};
use rumqttc::Outgoing;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::{
    bool_of, emit, emit_error, emit_unsupported, hex, lock, message_event, payload_of, str_of,
    u64_of, user_properties, Shared,
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
    if keep_alive < 5 {
        // MqttOptions::set_keep_alive asserts at least 5 s (0 included).
        emit_unsupported("connect.keep_alive (rumqttc::v5 takes at least 5 s)", token);
        return None;
    }
    let host = str_of(c, "host").unwrap_or("127.0.0.1");
    let port = u64_of(c, "port").unwrap_or(1883) as u16;
    let mut o = MqttOptions::new(str_of(c, "client_id").unwrap_or(""), host, port);
    o.set_keep_alive(Duration::from_secs(keep_alive));
    o.set_clean_start(bool_of(c, "clean_start", true));
    if let Some(u) = str_of(c, "username") {
        o.set_credentials(u, str_of(c, "password").unwrap_or(""));
    }
    if let Some(Value::Object(w)) = c.get("will") {
        o.set_last_will(LastWill::new(
            str_of(w, "topic").unwrap_or(""),
            payload_of(w),
            qos(u64_of(w, "qos").unwrap_or(0)),
            bool_of(w, "retain", false),
            None,
        ));
    }
    if let Some(v) = u64_of(c, "session_expiry") {
        o.set_session_expiry_interval(Some(v as u32));
    }
    if let Some(v) = u64_of(c, "receive_maximum") {
        o.set_receive_maximum(Some(v as u16));
    }
    if let Some(v) = u64_of(c, "maximum_packet_size") {
        o.set_max_packet_size(Some(v as u32));
    }
    if let Some(v) = u64_of(c, "topic_alias_maximum") {
        o.set_topic_alias_max(Some(v as u16));
    }
    let users = user_properties(c);
    if !users.is_empty() {
        o.set_user_properties(users);
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
                let filter = Filter {
                    path: str_of(c, "topic").unwrap_or("").to_owned(),
                    qos: qos(u64_of(c, "qos").unwrap_or(0)),
                    nolocal: bool_of(c, "no_local", false),
                    preserve_retain: bool_of(c, "retain_as_published", false),
                    retain_forward_rule: match u64_of(c, "retain_handling").unwrap_or(0) {
                        0 => RetainForwardRule::OnEverySubscribe,
                        1 => RetainForwardRule::OnNewSubscribe,
                        _ => RetainForwardRule::Never,
                    },
                };
                let id = u64_of(c, "subscription_identifier").map(|v| v as usize);
                lock(&self.shared).subscribes.push_back(token);
                let r = match id {
                    Some(id) => self.client.try_subscribe_many_with_properties(
                        vec![filter],
                        SubscribeProperties {
                            id: Some(id),
                            user_properties: Vec::new(),
                        },
                    ),
                    None => self.client.try_subscribe_many(vec![filter]),
                };
                if let Err(e) = r {
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
                let r = match c.get("properties") {
                    Some(Value::Object(p)) if !p.is_empty() => {
                        let props = PublishProperties {
                            payload_format_indicator: u64_of(p, "payload_format").map(|v| v as u8),
                            message_expiry_interval: u64_of(p, "message_expiry").map(|v| v as u32),
                            response_topic: str_of(p, "response_topic").map(str::to_owned),
                            correlation_data: str_of(p, "correlation_data_hex")
                                .map(|h| crate::bytes_of_hex(h).into()),
                            user_properties: user_properties(p),
                            content_type: str_of(p, "content_type").map(str::to_owned),
                            ..Default::default()
                        };
                        self.client.try_publish_with_properties(
                            topic,
                            qos(q),
                            retain,
                            payload,
                            props,
                        )
                    }
                    _ => self.client.try_publish(topic, qos(q), retain, payload),
                };
                if let Err(e) = r {
                    lock(&self.shared).publishes.pop_back();
                    emit_error(cmd, e, token);
                }
            }
            _ => {
                if u64_of(c, "reason_code").unwrap_or(0) != 0 {
                    // AsyncClient::disconnect always sends Normal disconnection.
                    emit_unsupported("disconnect.reason_code", token);
                    return;
                }
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
        SubscribeReasonCode::Failure | SubscribeReasonCode::Unspecified => 0x80,
        SubscribeReasonCode::ImplementationSpecific => 0x83,
        SubscribeReasonCode::NotAuthorized => 0x87,
        SubscribeReasonCode::TopicFilterInvalid => 0x8F,
        SubscribeReasonCode::PkidInUse => 0x91,
        SubscribeReasonCode::QuotaExceeded => 0x97,
        SubscribeReasonCode::SharedSubscriptionsNotSupported => 0x9E,
        SubscribeReasonCode::SubscriptionIdNotSupported => 0xA1,
        SubscribeReasonCode::WildcardSubscriptionsNotSupported => 0xA2,
    }
}

/// Polls the event loop while connected; between connections waits for the next `connect`.
async fn run(
    mut el: EventLoop,
    mut ctl: mpsc::UnboundedReceiver<(MqttOptions, Option<u64>)>,
    shared: Shared,
) {
    while let Some((opts, token)) = ctl.recv().await {
        el.options = opts;
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
                        ConnectionError::MqttState(StateError::ServerDisconnect {
                            reason_code,
                            reason_string,
                        }) => json!({
                            "event": "disconnected",
                            "by": "server",
                            "reason_code": *reason_code as u8,
                            "message": reason_string.clone().unwrap_or_default(),
                        }),
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
            let mut props = Map::new();
            if let Some(p) = &ca.properties {
                if let Some(v) = &p.assigned_client_identifier {
                    props.insert("assigned_client_identifier".into(), json!(v));
                }
                if let Some(v) = p.server_keep_alive {
                    props.insert("server_keep_alive".into(), json!(v));
                }
                if let Some(v) = p.receive_max {
                    props.insert("receive_maximum".into(), json!(v));
                }
                if let Some(v) = p.max_packet_size {
                    props.insert("maximum_packet_size".into(), json!(v));
                }
                if let Some(v) = p.topic_alias_max {
                    props.insert("topic_alias_maximum".into(), json!(v));
                }
                if let Some(v) = &p.reason_string {
                    props.insert("reason_string".into(), json!(v));
                }
            }
            emit(
                json!({"event": "connack", "reason_code": 0, "session_present": ca.session_present, "properties": props}),
                connect_token.take(),
            );
        }
        Event::Incoming(Packet::Publish(p)) => {
            let mut props = Map::new();
            if let Some(pp) = &p.properties {
                if !pp.subscription_identifiers.is_empty() {
                    props.insert(
                        "subscription_identifiers".into(),
                        json!(pp.subscription_identifiers),
                    );
                }
                if let Some(v) = pp.topic_alias {
                    props.insert("topic_alias".into(), json!(v));
                }
                if !pp.user_properties.is_empty() {
                    props.insert("user_properties".into(), json!(pp.user_properties));
                }
                if let Some(v) = &pp.content_type {
                    props.insert("content_type".into(), json!(v));
                }
                if let Some(v) = &pp.response_topic {
                    props.insert("response_topic".into(), json!(v));
                }
                if let Some(v) = pp.message_expiry_interval {
                    props.insert("message_expiry".into(), json!(v));
                }
                if let Some(v) = pp.payload_format_indicator {
                    props.insert("payload_format".into(), json!(v));
                }
                if let Some(v) = &pp.correlation_data {
                    props.insert("correlation_data_hex".into(), json!(hex(v)));
                }
            }
            emit(
                message_event(&p.topic, &p.payload, p.qos as u8, p.retain, p.dup, props),
                None,
            );
        }
        Event::Incoming(Packet::PubAck(a)) => {
            let token = lock(shared).inflight.remove(&a.pkid).flatten();
            emit(
                json!({"event": "published", "qos": 1, "reason": format!("{:?}", a.reason)}),
                token,
            );
        }
        Event::Incoming(Packet::PubComp(a)) => {
            let token = lock(shared).inflight.remove(&a.pkid).flatten();
            emit(
                json!({"event": "published", "qos": 2, "reason": format!("{:?}", a.reason)}),
                token,
            );
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
