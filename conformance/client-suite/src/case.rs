//! What a client case is ([`ClientCase`]), what it gets to work with ([`Ctx`], [`Session`])
//! and the small vocabulary its steps use.
//!
//! A case function returns [`CaseResult`]: `Ok(outcome)` is the verdict it reached, `Err(outcome)`
//! a step that ended the case early (INCONCLUSIVE setup, UNSUPPORTED command, FAIL check), so
//! steps chain with `?`. The same verdict rules as the broker cases hold: a setup step that goes
//! wrong gives INCONCLUSIVE, only a step that checks one of the case's cited statements gives FAIL
//! (a MUST) or NON-STRICT (a SHOULD), and a verdict resting on the client closing the connection
//! needs the well-formed twin (the same client staying connected on the correct packet) in the
//! same case.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use mqttspec_codec::{ConnAckProperties, Connect, ProtocolVersion, ReasonCode, StatementId};
use mqttspec_harness::client::Transcript;
use mqttspec_harness::verdict::{Outcome, Precondition};
use serde_json::{json, Map, Value};

use crate::adapter::{Adapter, Event, Wait};
use crate::broker::{AcceptFailure, Received, ScriptedBroker, ServerConn};
use crate::reference::Fault;
use crate::transport::SharedTransports;
use mqttspec_harness::transport::Scheme;

/// What a case function returns: `Err` ends the case early with that outcome.
pub type CaseResult = Result<Outcome, Outcome>;

/// The future a case function returns.
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// One client conformance case.
#[derive(Debug, Clone, Copy)]
pub struct ClientCase {
    /// Stable id, `area.what-it-checks`.
    pub id: &'static str,
    /// One line saying what the client must do, in the project's words.
    pub title: &'static str,
    /// The statements it checks (of either specification; the case runs on each version it
    /// cites a statement of).
    pub checks: &'static [StatementId],
    /// The faults of the reference client that must turn it red.
    pub faults: &'static [Fault],
    /// The case.
    pub run: fn(Ctx) -> CaseFuture,
}

impl ClientCase {
    /// The protocol versions the case runs on.
    pub fn protocols(&self) -> Vec<ProtocolVersion> {
        [ProtocolVersion::V311, ProtocolVersion::V5]
            .into_iter()
            .filter(|v| !self.checks_for(*v).is_empty())
            .collect()
    }

    /// The statements it checks on `v`.
    pub fn checks_for(&self, v: ProtocolVersion) -> Vec<StatementId> {
        self.checks
            .iter()
            .copied()
            .filter(|s| s.spec() == v.spec())
            .collect()
    }
}

/// Time bounds of the waits.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long the client gets to do a thing it was told to (connect, send, answer).
    pub response: Duration,
    /// How long the adapter gets to start and print `ready`.
    pub ready: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            response: Duration::from_secs(3),
            ready: Duration::from_secs(20),
        }
    }
}

/// What a case run gets: the protocol version, the adapter to start, the transcript.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The case's id (client identifiers and topics are made from it).
    pub case_id: &'static str,
    /// The protocol version of this run.
    pub version: ProtocolVersion,
    /// The adapter's command line.
    pub adapter: String,
    /// Extra environment for the adapter (the reference client's fault switches).
    pub env: Vec<(String, String)>,
    /// The shared transcript of the run.
    pub transcript: Transcript,
    /// The time bounds.
    pub timing: Timing,
    /// The transports of the run.
    pub transports: SharedTransports,
}

impl Ctx {
    /// Starts the scripted broker (over the run's transport) and the adapter. ERROR if either
    /// cannot start.
    pub async fn start(&self) -> Result<Session, Outcome> {
        self.start_over(self.transports.scheme()).await
    }

    /// Starts the scripted broker over WebSocket (`wss` on a TLS run, `ws` otherwise) and
    /// the adapter: the section 6 cases.
    pub async fn start_websocket(&self) -> Result<Session, Outcome> {
        self.start_over(self.transports.websocket()).await
    }

    async fn start_over(&self, scheme: Scheme) -> Result<Session, Outcome> {
        let terminator = self.transports.terminator(scheme);
        let broker = ScriptedBroker::bind_over(self.transcript.clone(), scheme, terminator)
            .await
            .map_err(|e| {
                Outcome::error(format!(
                    "the scripted broker cannot listen on loopback: {e}"
                ))
            })?;
        let adapter = Adapter::spawn(
            &self.adapter,
            &self.env,
            self.transcript.clone(),
            self.timing.ready,
        )
        .await
        .map_err(|e| Outcome::error(e.to_string()))?;
        Ok(Session {
            ctx: self.clone(),
            broker,
            adapter,
            token: 0,
        })
    }

    /// PASS.
    pub fn pass(&self) -> CaseResult {
        Ok(Outcome::pass())
    }
}

/// A running case: the scripted broker and the adapter.
#[derive(Debug)]
pub struct Session {
    /// The case context.
    pub ctx: Ctx,
    /// The listener.
    pub broker: ScriptedBroker,
    /// The driven client.
    pub adapter: Adapter,
    token: u64,
}

/// Whether a step is a precondition (INCONCLUSIVE when it goes wrong) or a check (FAIL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A precondition.
    Setup(Precondition),
    /// A check of a statement.
    Check(StatementId),
}

impl Role {
    /// The outcome when the step did not see what it needed.
    pub fn missed(self, expected: impl Into<String>, actual: impl Into<String>) -> Outcome {
        let expected = expected.into();
        match self {
            Role::Setup(p) => Outcome::inconclusive(p, format!("{expected}: {}", actual.into())),
            Role::Check(s) => Outcome::fail(expected, actual).statement(s),
        }
    }
}

/// An unsupported answer as an outcome.
pub fn unsupported(what: &str) -> Outcome {
    Outcome::unsupported(format!("the adapter cannot express `{what}`"))
}

impl Session {
    /// The protocol version of the run.
    pub fn version(&self) -> ProtocolVersion {
        self.ctx.version
    }

    /// A Client Identifier for this case.
    pub fn client_id(&self) -> String {
        let short: String = self
            .ctx
            .case_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        format!("mqs{short}")
    }

    /// The `connect` command with the defaults (clean start, Keep Alive 60 s), `extra` fields
    /// merged over them.
    pub fn connect_command(&self, extra: Value) -> Value {
        let addr = self.broker.addr();
        let mut cmd = json!({
            "cmd": "connect",
            "host": addr.ip().to_string(),
            "port": addr.port(),
            "protocol": if self.version().is_v5() { "5" } else { "3.1.1" },
            "client_id": self.client_id(),
            "clean_start": true,
            "keep_alive": 60,
        });
        let transport = self.ctx.transports.connect_fields(self.broker.scheme());
        merge(&mut cmd, Value::Object(transport));
        merge(&mut cmd, extra);
        cmd
    }

    /// Sends a command with a fresh token; returns the token.
    pub async fn command(&mut self, mut cmd: Value) -> u64 {
        self.token += 1;
        if let Value::Object(m) = &mut cmd {
            m.insert("token".into(), json!(self.token));
        }
        self.adapter.command(cmd).await;
        self.token
    }

    /// Tells the adapter to connect (with `extra` over the defaults) and takes the connection
    /// and its CONNECT. INCONCLUSIVE when the client never connects or its first packet is not
    /// a well-formed CONNECT (the cases checking CONNECT itself read it with
    /// [`Session::connect_raw`]).
    pub async fn connect(&mut self, extra: Value) -> Result<(ServerConn, Box<Connect>), Outcome> {
        let (conn, first) = self.connect_raw(extra).await?;
        match first {
            Received::Packet(mqttspec_codec::Packet::Connect(c)) => Ok((conn, c)),
            other => {
                let text = other.describe(conn.version());
                conn.close().await;
                Err(Outcome::inconclusive(
                    Precondition::Connect,
                    format!("the client's first packet is not a well-formed CONNECT: {text}"),
                ))
            }
        }
    }

    /// Tells the adapter to connect and returns the connection and whatever arrived first.
    pub async fn connect_raw(&mut self, extra: Value) -> Result<(ServerConn, Received), Outcome> {
        let cmd = self.connect_command(extra);
        self.command(cmd).await;
        let within = self.ctx.timing.response;
        let mut conn = match self.broker.accept_checked(within).await {
            Ok(conn) => conn,
            Err(AcceptFailure::Handshake(e)) => {
                // The adapter may have said why (unsupported transport, certificate refused).
                if let Wait::Unsupported(w) = self
                    .adapter
                    .wait_for("error", Duration::from_millis(200))
                    .await
                {
                    return Err(unsupported(&w));
                }
                return Err(Outcome::inconclusive(
                    Precondition::Connection,
                    format!(
                        "the client's {} connection failed: {e}",
                        self.broker.scheme().as_str()
                    ),
                ));
            }
            Err(AcceptFailure::NoConnection) => {
                return Err(self
                    .setup_wait_outcome(Precondition::Connection, "connection")
                    .await);
            }
        };
        conn.set_version(self.version());
        let first = conn.recv(within).await;
        Ok((conn, first))
    }

    /// When the client did not do a setup step: UNSUPPORTED if the adapter said it cannot,
    /// INCONCLUSIVE otherwise.
    pub async fn setup_wait_outcome(&mut self, p: Precondition, what: &str) -> Outcome {
        match self
            .adapter
            .wait_for_any(&["error", "disconnected"], Duration::from_millis(200))
            .await
        {
            Wait::Unsupported(w) => unsupported(&w),
            Wait::Got(e) => Outcome::inconclusive(
                p,
                format!("no {what} from the client; the adapter said {}", e.text()),
            ),
            Wait::Exited => Outcome::inconclusive(
                p,
                format!(
                    "no {what}: the adapter exited; its stderr ends with: {}",
                    self.adapter.stderr_tail()
                ),
            ),
            Wait::Timeout => Outcome::inconclusive(p, format!("no {what} from the client")),
        }
    }

    /// Connects with `extra`, accepts with a CONNACK carrying `props`, and waits for the
    /// adapter's `connack` event: the usual opening of a case.
    pub async fn open(
        &mut self,
        extra: Value,
        props: ConnAckProperties,
    ) -> Result<(ServerConn, Box<Connect>), Outcome> {
        let (mut conn, connect) = self.connect(extra).await?;
        conn.connack(false, ReasonCode::Success, props).await;
        self.expect_event("connack", Role::Setup(Precondition::Connect))
            .await?;
        Ok((conn, connect))
    }

    /// Waits for an adapter event of `kind` within the response time.
    pub async fn expect_event(&mut self, kind: &str, role: Role) -> Result<Event, Outcome> {
        let within = self.ctx.timing.response;
        self.expect_event_within(kind, role, within).await
    }

    /// Waits for an adapter event of `kind` within `within`.
    pub async fn expect_event_within(
        &mut self,
        kind: &str,
        role: Role,
        within: Duration,
    ) -> Result<Event, Outcome> {
        match self.adapter.wait_for(kind, within).await {
            Wait::Got(e) => Ok(e),
            Wait::Unsupported(w) => Err(unsupported(&w)),
            Wait::Exited => Err(role.missed(
                format!("a `{kind}` event from the application"),
                format!(
                    "the adapter exited; its stderr ends with: {}",
                    self.adapter.stderr_tail()
                ),
            )),
            Wait::Timeout => Err(role.missed(
                format!("a `{kind}` event from the application"),
                format!("none within {within:?}"),
            )),
        }
    }

    /// Subscribes through the adapter and grants it (SUBACK with the requested QoS), waiting
    /// for the `subscribed` event. Returns the granted QoS.
    pub async fn subscribe(&mut self, conn: &mut ServerConn, topic: &str, qos: u8) -> CaseResult {
        self.command(json!({"cmd": "subscribe", "topic": topic, "qos": qos}))
            .await;
        let within = self.ctx.timing.response;
        let sub = match conn.recv_skipping_pings(within).await {
            Received::Packet(mqttspec_codec::Packet::Subscribe(s)) => s,
            other => {
                let text = other.describe(conn.version());
                if let Wait::Unsupported(w) = self
                    .adapter
                    .wait_for("error", Duration::from_millis(50))
                    .await
                {
                    return Err(unsupported(&w));
                }
                return Err(Outcome::inconclusive(
                    Precondition::Subscribe,
                    format!("the client sent no SUBSCRIBE after the command: {text}"),
                ));
            }
        };
        let codes = sub
            .filters
            .iter()
            .map(|(_, o)| match o.qos.as_u8() {
                0 => ReasonCode::Success,
                1 => ReasonCode::GrantedQoS1,
                _ => ReasonCode::GrantedQoS2,
            })
            .collect();
        conn.send(&mqttspec_codec::Packet::SubAck(mqttspec_codec::SubAck {
            packet_id: sub.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        }))
        .await;
        self.expect_event("subscribed", Role::Setup(Precondition::Subscribe))
            .await?;
        Ok(Outcome::pass())
    }

    /// Ends the session: the adapter is shut down (killed if it does not exit).
    pub async fn finish(mut self) {
        self.adapter.shutdown().await;
    }
}

/// Merges the fields of `extra` (an object) over `base` (an object).
pub fn merge(base: &mut Value, extra: Value) {
    if let (Value::Object(b), Value::Object(e)) = (base, extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// An empty JSON object, for "no extra fields".
pub fn none() -> Value {
    Value::Object(Map::new())
}
