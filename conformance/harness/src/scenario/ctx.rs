//! [`Ctx`]: what a case sees of the world (protocol, names, capabilities, clients), and
//! [`ClientBuilder`]: how a case connects a client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    Connect, ConnectProperties, LastWill, MqttString, Packet, ProtocolVersion, QoS, ReasonCode,
    TopicName, WillProperties,
};
use tokio::time::Instant;

use super::client::Client;
use super::role::Unmet;
use super::{CaseResult, Failure, Outcome, Reply, Role};
use crate::client::{summary, ClientOptions, Received, TestClient, Transcript};
use crate::profile::{Capabilities, Profile};
use crate::transport::Endpoint;
use crate::verdict::Precondition;

/// Everything the runner gives one case run.
#[derive(Debug, Clone)]
pub struct CaseEnv {
    /// The broker under test.
    pub broker: Endpoint,
    /// The protocol of this run.
    pub protocol: ProtocolVersion,
    /// The broker's capabilities.
    pub capabilities: Arc<Capabilities>,
    /// The profile (credentials, limits).
    pub profile: Arc<Profile>,
    /// Unique topic prefix of this case run, ending in `/`.
    pub topic_prefix: String,
    /// Unique client-identifier stem of this case run (at most 11 characters, `[0-9a-z]`).
    pub id_stem: String,
    /// The transcript all clients of the run record into.
    pub transcript: Transcript,
}

#[derive(Debug)]
struct State {
    env: CaseEnv,
    checks: AtomicUsize,
    refusals: AtomicUsize,
    twins: AtomicUsize,
    absences: AtomicUsize,
    controls: AtomicUsize,
    names: Mutex<Vec<String>>,
    connections: Mutex<Vec<(String, usize)>>,
}

/// What a case run observed, by kind: the runner uses it to refuse verdicts that rest on
/// nothing, or on a refusal without its twin, or on an absence without its control.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observations {
    /// Checks met (expectations of checking steps).
    pub checks: usize,
    /// Refusals observed by checking steps (the connection closed, an error CONNACK, a
    /// server DISCONNECT).
    pub refusals: usize,
    /// Well-formed twins accepted.
    pub twins: usize,
    /// Absences observed by checking steps (nothing arrived for a while).
    pub absences: usize,
    /// Positive controls observed.
    pub controls: usize,
}

/// The context of one case run (call it `t`). Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct Ctx {
    state: Arc<State>,
}

impl Ctx {
    /// A context for one case run.
    pub fn new(env: CaseEnv) -> Self {
        Ctx {
            state: Arc::new(State {
                env,
                checks: AtomicUsize::new(0),
                refusals: AtomicUsize::new(0),
                twins: AtomicUsize::new(0),
                absences: AtomicUsize::new(0),
                controls: AtomicUsize::new(0),
                names: Mutex::new(Vec::new()),
                connections: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The protocol version this run uses.
    pub fn protocol(&self) -> ProtocolVersion {
        self.state.env.protocol
    }

    /// Whether this run is MQTT 5.0.
    pub fn is_v5(&self) -> bool {
        self.protocol().is_v5()
    }

    /// The broker's address (and transport).
    pub fn broker(&self) -> &Endpoint {
        &self.state.env.broker
    }

    /// What the broker offers.
    pub fn capabilities(&self) -> &Capabilities {
        &self.state.env.capabilities
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.state.env.profile
    }

    /// How long expectations wait by default for a response the spec requires.
    pub fn response_timeout(&self) -> Duration {
        self.state.env.profile.response_timeout()
    }

    /// The transcript of this run.
    pub fn transcript(&self) -> &Transcript {
        &self.state.env.transcript
    }

    /// How many expectations have been met so far.
    pub fn checks(&self) -> usize {
        self.state.checks.load(Ordering::Relaxed)
    }

    /// Counts one met expectation (the DSL does this; call it when checking by hand).
    pub fn checked(&self) {
        self.state.checks.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a refusal observed by a checking step (the DSL does this).
    pub fn refusal_seen(&self) {
        self.state.refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an accepted well-formed twin (the DSL does this for `.as_twin()` steps).
    pub fn twin_accepted(&self) {
        self.state.twins.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an absence observed by a checking step (the DSL does this).
    pub fn absence_seen(&self) {
        self.state.absences.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a positive control that arrived (the DSL does this for `.as_control()` steps).
    pub fn control_seen(&self) {
        self.state.controls.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the success of a step in `role`: a check, a twin, a control, or nothing for
    /// other setup steps.
    pub fn succeeded(&self, role: Role) {
        match role {
            Role::Check => self.checked(),
            Role::Setup(Precondition::Twin) => self.twin_accepted(),
            Role::Setup(Precondition::Control) => self.control_seen(),
            Role::Setup(_) => {}
        }
    }

    /// What this run observed so far.
    pub fn observations(&self) -> Observations {
        let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        Observations {
            checks: n(&self.state.checks),
            refusals: n(&self.state.refusals),
            twins: n(&self.state.twins),
            absences: n(&self.state.absences),
            controls: n(&self.state.controls),
        }
    }

    /// The names of the clients that opened more than one connection in this run (their
    /// first connection is relabelled `name#1` in the finished transcript).
    pub(crate) fn reconnected(&self) -> Vec<String> {
        self.state
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, n)| *n > 1)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The transcript label of a new connection of client `name`: `name` for its first
    /// connection, `name#2`, `name#3`, ... for the next ones (so two connections of one client
    /// read apart).
    pub(crate) fn connection_label(&self, name: &str) -> String {
        let mut conns = self
            .state
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let n = match conns.iter_mut().find(|(n, _)| n == name) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                conns.push((name.to_owned(), 1));
                1
            }
        };
        if n == 1 {
            name.to_owned()
        } else {
            format!("{name}#{n}")
        }
    }

    /// A topic unique to this case run: `<prefix>/<name>` (no wildcards; `name` may
    /// contain `/`).
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.state.env.topic_prefix)
    }

    /// The unique prefix of every topic of this run, ending in `/` (for filters such as
    /// `format!("{}#", t.topic_prefix())`).
    pub fn topic_prefix(&self) -> &str {
        &self.state.env.topic_prefix
    }

    /// A Client Identifier unique to this case run for `name`; the same name always gives
    /// the same identifier within a run (to reconnect to a session). At most 23 characters
    /// of `[0-9a-z]`, so every broker must accept it.
    pub fn client_id(&self, name: &str) -> String {
        let mut names = self.state.names.lock().unwrap_or_else(|e| e.into_inner());
        let index = match names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                names.push(name.to_owned());
                names.len() - 1
            }
        };
        let tail: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(8)
            .collect();
        let mut id = format!(
            "{}{}{tail}",
            self.state.env.id_stem,
            to_base36(index as u64, 2)
        );
        id.truncate(23);
        id
    }

    /// Starts building a client called `name` (its Client Identifier is
    /// [`Ctx::client_id`]`(name)`).
    pub fn client(&self, name: &str) -> ClientBuilder {
        ClientBuilder::new(self.clone(), name)
    }

    /// PASS (ERROR instead if nothing was checked).
    pub fn pass(&self) -> CaseResult {
        Ok(Outcome::pass())
    }

    /// FAIL: `actual` happened where the specification requires `expected`.
    pub fn fail(&self, expected: impl Into<String>, actual: impl Into<String>) -> CaseResult {
        Ok(Outcome::fail(expected, actual))
    }

    /// NON-STRICT: a SHOULD was not followed.
    pub fn non_strict(&self, expected: impl Into<String>, actual: impl Into<String>) -> CaseResult {
        self.checked();
        Ok(Outcome::non_strict(expected, actual))
    }

    /// INFORMATIONAL: the broker made this allowed choice.
    pub fn informational(&self, choice: impl Into<String>) -> CaseResult {
        self.checked();
        Ok(Outcome::informational(choice))
    }

    /// UNSUPPORTED: found out while running that the broker lacks a capability.
    pub fn unsupported(&self, reason: impl Into<String>) -> CaseResult {
        Ok(Outcome::unsupported(reason))
    }

    /// ERROR: the case cannot go on for a reason that is not the broker's fault.
    pub fn error(&self, reason: impl Into<String>) -> CaseResult {
        Ok(Outcome::error(reason))
    }

    /// INCONCLUSIVE: precondition `p` could not be established (`detail`: what happened).
    pub fn inconclusive(&self, p: Precondition, detail: impl Into<String>) -> CaseResult {
        Ok(Outcome::inconclusive(p, detail))
    }

    /// `Err` INCONCLUSIVE naming `p` unless `ok`: a precondition checked by hand.
    pub fn require(
        &self,
        ok: bool,
        p: Precondition,
        detail: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        if ok {
            Ok(())
        } else {
            Err(Failure::inconclusive(p, detail()))
        }
    }

    /// Counts a check; `Err` FAIL with Expected / Actual when `ok` is false.
    pub fn check(
        &self,
        ok: bool,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Result<(), Failure> {
        if ok {
            self.checked();
            Ok(())
        } else {
            Err(Failure::fail(expected, actual))
        }
    }

    /// Counts a check that two values are equal; FAIL shows both with `what`.
    pub fn check_eq<T: PartialEq + std::fmt::Debug>(
        &self,
        what: &str,
        expected: T,
        actual: T,
    ) -> Result<(), Failure> {
        let ok = expected == actual;
        self.check(
            ok,
            format!("{what} = {expected:?}"),
            format!("{what} = {actual:?}"),
        )
    }

    /// Waits `d`: only for behaviour that is about time passing (expiry intervals, keep
    /// alive); everything observable is awaited with an expectation instead.
    pub async fn wait(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

fn to_base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 && out.len() >= width {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A base-36 rendering padded to `width` (exposed for the runner's naming).
pub(crate) fn base36(n: u64, width: usize) -> String {
    to_base36(n, width)
}

/// A Will Message for [`ClientBuilder::will`].
#[derive(Debug, Clone)]
pub struct Will {
    topic: String,
    payload: Bytes,
    qos: u8,
    retain: bool,
    properties: WillProperties,
}

impl Will {
    /// A QoS 0, non-retained Will Message.
    pub fn new(topic: impl Into<String>, payload: impl AsRef<[u8]>) -> Self {
        Will {
            topic: topic.into(),
            payload: Bytes::copy_from_slice(payload.as_ref()),
            qos: 0,
            retain: false,
            properties: Default::default(),
        }
    }

    /// Will QoS (0, 1 or 2).
    pub fn qos(mut self, qos: u8) -> Self {
        self.qos = qos;
        self
    }

    /// Will Retain.
    pub fn retain(mut self) -> Self {
        self.retain = true;
        self
    }

    /// Will Delay Interval (MQTT 5.0), in seconds.
    pub fn delay(mut self, secs: u32) -> Self {
        self.properties.will_delay_interval = Some(secs);
        self
    }

    /// Will Properties (MQTT 5.0).
    pub fn properties(mut self, properties: WillProperties) -> Self {
        self.properties = properties;
        self
    }

    fn build(self) -> Result<LastWill, Failure> {
        Ok(LastWill {
            qos: qos(self.qos)?,
            retain: self.retain,
            properties: self.properties.into(),
            topic: TopicName::new(self.topic.clone()).map_err(|e| {
                Failure::error(format!("case error: Will Topic {:?}: {e}", self.topic))
            })?,
            payload: self.payload,
        })
    }
}

/// A QoS from its number, or a case error.
pub(crate) fn qos(n: u8) -> Result<QoS, Failure> {
    QoS::from_u8(n).ok_or_else(|| Failure::error(format!("case error: QoS {n} does not exist")))
}

/// Builds a client: `t.client("sub").clean_start(false).session_expiry(60).connect().await?`.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    ctx: Ctx,
    name: String,
    version: ProtocolVersion,
    client_id: String,
    clean_start: bool,
    keep_alive: u16,
    properties: ConnectProperties,
    will: Option<Will>,
    username: Option<String>,
    password: Option<Bytes>,
    max_packet_size: u32,
    within: Option<Duration>,
    role: Option<Role>,
    /// Set by every option a server may refuse for reasons of its own (Keep Alive, Will,
    /// properties, session, Client Identifier, credentials, version): a refused CONNECT
    /// with such options is [`Precondition::ConnectOptions`], not "a valid CONNECT refused".
    custom: bool,
}

super::role::role_setters!(ClientBuilder);

impl ClientBuilder {
    fn new(ctx: Ctx, name: &str) -> Self {
        let (username, password) = match &ctx.profile().credentials {
            Some(c) => (
                Some(c.username.clone()),
                c.password.clone().map(Bytes::from),
            ),
            None => (None, None),
        };
        let max_packet_size = ctx
            .profile()
            .limits
            .max_packet_size
            .unwrap_or(crate::client::DEFAULT_MAX_PACKET_SIZE);
        ClientBuilder {
            client_id: ctx.client_id(name),
            version: ctx.protocol(),
            name: name.to_owned(),
            clean_start: true,
            keep_alive: 60,
            properties: Default::default(),
            will: None,
            username,
            password,
            max_packet_size,
            within: None,
            role: None,
            custom: false,
            ctx,
        }
    }

    /// Uses another protocol version than the run's (e.g. to mix versions in one case).
    pub fn protocol(mut self, v: ProtocolVersion) -> Self {
        self.custom |= v != self.version;
        self.version = v;
        self
    }

    /// Overrides the Client Identifier (e.g. `""` for an assigned one).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.custom = true;
        self.client_id = id.into();
        self
    }

    /// Clean Start (v5) / Clean Session (3.1.1); default `true`.
    pub fn clean_start(mut self, clean: bool) -> Self {
        self.custom |= !clean;
        self.clean_start = clean;
        self
    }

    /// Keep Alive in seconds; default 60.
    pub fn keep_alive(mut self, secs: u16) -> Self {
        self.custom |= secs != 60;
        self.keep_alive = secs;
        self
    }

    /// Session Expiry Interval in seconds (MQTT 5.0). Ignored on MQTT 3.1.1 connections,
    /// where a Clean Session 0 session lasts until a Clean Session 1 connection ends it, so
    /// one case can say `.clean_start(false).session_expiry(60)` for both protocols.
    pub fn session_expiry(mut self, secs: u32) -> Self {
        self.custom = true;
        if self.version.is_v5() {
            self.properties.session_expiry_interval = Some(secs);
        }
        self
    }

    /// CONNECT properties (MQTT 5.0), replacing any set before.
    pub fn properties(mut self, properties: ConnectProperties) -> Self {
        self.custom = true;
        self.properties = properties;
        self
    }

    /// A Will Message.
    pub fn will(mut self, will: Will) -> Self {
        self.custom = true;
        self.will = Some(will);
        self
    }

    /// User Name and Password (instead of the profile's).
    pub fn credentials(mut self, username: &str, password: impl AsRef<[u8]>) -> Self {
        self.custom = true;
        self.username = Some(username.to_owned());
        self.password = Some(Bytes::copy_from_slice(password.as_ref()));
        self
    }

    /// No User Name or Password, even if the profile has them.
    pub fn no_credentials(mut self) -> Self {
        self.custom = true;
        self.username = None;
        self.password = None;
        self
    }

    /// The largest packet this client accepts from the broker.
    pub fn max_packet_size(mut self, bytes: u32) -> Self {
        self.custom = true;
        self.max_packet_size = bytes;
        self
    }

    /// How long to wait for CONNACK (default: the response timeout).
    pub fn within(mut self, d: Duration) -> Self {
        self.within = Some(d);
        self
    }

    /// The CONNECT packet this builder sends.
    pub fn connect_packet(&self) -> Result<Connect, Failure> {
        let err = |what: &str, e: mqttspec_codec::Violation| {
            Failure::error(format!("case error: {what}: {e}"))
        };
        Ok(Connect {
            protocol_version: self.version,
            clean_start: self.clean_start,
            keep_alive: self.keep_alive,
            properties: self.properties.clone().into(),
            client_id: MqttString::new(self.client_id.clone(), "Client Identifier")
                .map_err(|e| err("Client Identifier", e))?,
            will: self.will.clone().map(Will::build).transpose()?,
            username: self
                .username
                .clone()
                .map(|u| MqttString::new(u, "User Name"))
                .transpose()
                .map_err(|e| err("User Name", e))?,
            password: self.password.clone(),
        })
    }

    /// Opens the connection only (no CONNECT): for cases that send their own first bytes. A
    /// connection that cannot be opened is INCONCLUSIVE (the broker is not reachable).
    pub async fn open(self) -> Result<Client, Failure> {
        let transcript = self.ctx.transcript().clone();
        let label = self.ctx.connection_label(&self.name);
        let mut options = ClientOptions::new(label.clone(), self.version);
        options.max_packet_size = self.max_packet_size;
        options.connect_timeout = self.ctx.response_timeout().max(Duration::from_secs(1));
        let inner = TestClient::connect_with(self.ctx.broker(), options, transcript)
            .await
            .map_err(|e| {
                Failure::inconclusive(
                    Precondition::Connection,
                    format!("cannot open a connection to the broker: {e}"),
                )
            })?;
        let timeout = self.within.unwrap_or(self.ctx.response_timeout());
        Ok(Client::new(
            self.ctx.clone(),
            inner,
            label,
            self.client_id,
            timeout,
        ))
    }

    /// Connects and expects CONNACK with Reason Code 0x00 (Success). A setup step by
    /// default: a refusal, no CONNACK at all (closed, silence, another packet, malformed
    /// bytes) is INCONCLUSIVE ("a valid CONNECT accepted"); with `.as_check()` it is FAIL.
    pub async fn connect(self) -> Result<Client, Failure> {
        let setup = if self.custom {
            Precondition::ConnectOptions
        } else {
            Precondition::Connect
        };
        let role = self.role.unwrap_or(Role::Setup(setup));
        let connect = self.connect_packet()?;
        let version = self.version;
        let mut client = self.open().await.map_err(|f| role.classify(f))?;
        client
            .send(&Packet::Connect(Box::new(connect)))
            .await
            .map_err(|f| role.classify(f))?;
        let deadline = Instant::now() + client.timeout();
        match client.recv_raw(deadline).await {
            Received::Packet(Packet::ConnAck(ack)) if ack.reason_code == ReasonCode::Success => {
                client.ctx().succeeded(role);
                client.set_connack(ack);
                Ok(client)
            }
            Received::Packet(Packet::ConnAck(ack)) => {
                let refused = summary::packet(&Packet::ConnAck(ack), version);
                client.ctx().transcript().event(
                    client.name(),
                    format!("expected CONNACK 0x00; got {refused}"),
                );
                Err(Unmet::Refused(Failure::fail(
                    "CONNACK 0x00 (Success)",
                    format!(
                        "the broker refused the connection: {refused} (check the profile's credentials)"
                    ),
                ))
                .classify(role))
            }
            other => Err(role.classify(client.unmet("CONNACK", other))),
        }
    }

    /// Connects and expects one of `replies` (e.g. a refusal): returns the client and the
    /// reply observed. After an error CONNACK the connection must also close. A checking
    /// step by default.
    pub async fn connect_expect(self, replies: &[Reply]) -> Result<(Client, Reply), Failure> {
        let role = self.role.unwrap_or(Role::Check);
        let connect = self.connect_packet()?;
        let mut client = self.open().await?;
        client
            .send(&Packet::Connect(Box::new(connect)))
            .await
            .map_err(|f| role.classify(f))?;
        let reply = client.expect_reply(replies).role(role).await?;
        Ok((client, reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx::new(CaseEnv {
            broker: Endpoint::tcp("127.0.0.1:1".parse().unwrap()),
            protocol: ProtocolVersion::V5,
            capabilities: Arc::new(Capabilities::default()),
            profile: Arc::new(Profile::default()),
            topic_prefix: "mqttspec/run/case/5/".to_owned(),
            id_stem: "msabcde0001".to_owned(),
            transcript: Transcript::default(),
        })
    }

    #[test]
    fn client_ids_are_stable_per_name_short_and_alphanumeric() {
        let t = ctx();
        let a = t.client_id("publisher-with-a-long-name");
        let b = t.client_id("sub");
        assert_eq!(a, t.client_id("publisher-with-a-long-name"));
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert!(id.len() <= 23, "{id}");
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        }
        // Names that sanitize alike still differ.
        assert_ne!(t.client_id("s-1"), t.client_id("s_1"));
    }

    #[test]
    fn topics_are_prefixed() {
        assert_eq!(ctx().topic("a/b"), "mqttspec/run/case/5/a/b");
    }

    #[test]
    fn base36_is_padded() {
        assert_eq!(to_base36(0, 2), "00");
        assert_eq!(to_base36(35, 2), "0z");
        assert_eq!(to_base36(36 * 36, 2), "100");
    }

    #[test]
    fn check_counts_only_met_expectations() {
        let t = ctx();
        assert!(t.check(true, "a", "a").is_ok());
        assert!(t.check(false, "a", "b").is_err());
        assert_eq!(t.checks(), 1);
    }
}
