//! [`Client`]: a connected test client with expectations, and the builders its methods
//! return (each is awaited: `c.publish(&topic).qos(1).await?`).
//!
//! Packets that arrive while the client waits for something else (a PUBLISH while waiting for
//! a SUBACK) are kept in arrival order and offered to later expectations. A PUBREL for a QoS 2
//! message this client acknowledged automatically is answered with PUBCOMP automatically.

use std::collections::{HashSet, VecDeque};
use std::future::IntoFuture;
use std::time::Duration;

use bytes::Bytes;
use mqttspec_codec::{
    ConnAck, Disconnect, Packet, PacketId, PacketType, ProtocolVersion, PubAck, PubComp, PubRec,
    PubRel, Publish, PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName, UnsubAck, Unsubscribe,
    UnsubscribeProperties,
};
use tokio::time::Instant;

use super::ctx::{qos, Ctx};
use super::role::{role_setters, Unmet};
use super::{describe_replies, BoxFuture, Failure, Reply, Role};
use crate::client::{summary, Received, SendError, TestClient};
use crate::verdict::Precondition;

role_setters!(
    PublishBuilder<'_>,
    SubscribeBuilder<'_>,
    UnsubscribeBuilder<'_>,
    ExpectPublish<'_>,
    ExpectNoPublish<'_>,
    ExpectPacket<'_>,
    ExpectReply<'_>,
    Alive<'_>,
);

/// At most this many unexpected packets are kept for later expectations.
const MAX_PENDING: usize = 1000;

/// A test client inside a case. See the module docs.
#[derive(Debug)]
pub struct Client {
    ctx: Ctx,
    inner: TestClient,
    name: String,
    client_id: String,
    connack: Option<ConnAck>,
    pending: VecDeque<Packet>,
    next_packet_id: u16,
    auto_pubcomp: HashSet<u16>,
    timeout: Duration,
}

impl Client {
    pub(crate) fn new(
        ctx: Ctx,
        inner: TestClient,
        name: String,
        client_id: String,
        timeout: Duration,
    ) -> Self {
        Client {
            ctx,
            inner,
            name,
            client_id,
            connack: None,
            pending: VecDeque::new(),
            next_packet_id: 0,
            auto_pubcomp: HashSet::new(),
            timeout,
        }
    }

    /// The case context this client belongs to.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Records the CONNACK this client got, for cases that drive the CONNECT by hand.
    pub fn set_connack(&mut self, ack: ConnAck) {
        self.connack = Some(ack);
    }

    /// The default deadline of this client's expectations.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// See [`TestClient::keep_in_step`]: a packet with a bad fixed header but a readable
    /// length is passed over as one malformed frame.
    pub fn keep_in_step(&mut self) {
        self.inner.keep_in_step();
    }

    /// Whether the connection underneath has ended (closed, or broken by input that could
    /// not be framed).
    pub fn raw_ended(&self) -> bool {
        self.inner.is_ended()
    }

    /// The case-local name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Client Identifier sent in CONNECT.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The protocol version of this connection.
    pub fn protocol(&self) -> ProtocolVersion {
        self.inner.version()
    }

    /// The CONNACK received when connecting (`None` for [`ClientBuilder::open`](super::ClientBuilder::open)).
    pub fn connack(&self) -> Option<&ConnAck> {
        self.connack.as_ref()
    }

    /// The raw client underneath.
    pub fn raw(&mut self) -> &mut TestClient {
        &mut self.inner
    }

    /// The next unused Packet Identifier.
    pub fn next_packet_id(&mut self) -> PacketId {
        self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
        PacketId::new(self.next_packet_id).expect("never zero")
    }

    fn send_failure(&self, what: &str, e: SendError) -> Failure {
        match e {
            SendError::Encode(e) => {
                Failure::error(format!("case error: cannot encode {what}: {e}"))
            }
            other => Failure::inconclusive(
                Precondition::Connection,
                format!("the connection was no longer open to send {what}: {other}"),
            ),
        }
    }

    /// Sends a packet (strictly encoded for this connection's protocol).
    pub async fn send(&mut self, packet: &Packet) -> Result<(), Failure> {
        let what = packet.packet_type().name();
        self.inner
            .send(packet)
            .await
            .map_err(|e| self.send_failure(what, e))
    }

    /// Sends any bytes, e.g. a [`RawPacket`](mqttspec_codec::RawPacket).
    pub async fn send_raw(&mut self, bytes: impl Into<Bytes>) -> Result<(), Failure> {
        self.inner
            .send_raw(bytes)
            .await
            .map_err(|e| self.send_failure("raw bytes", e))
    }

    /// The next event from the network, bypassing kept packets and automatic answers.
    pub async fn recv_raw(&mut self, deadline: Instant) -> Received {
        self.inner.recv_until(deadline).await
    }

    /// The next kept packet, or the next event from the network (automatic PUBCOMPs sent).
    pub async fn recv(&mut self, within: Duration) -> Received {
        if let Some(p) = self.pending.pop_front() {
            return Received::Packet(p);
        }
        let deadline = Instant::now() + within;
        loop {
            match self.inner.recv_until(deadline).await {
                Received::Packet(p) => {
                    if self.auto_answer(&p).await {
                        continue;
                    }
                    return Received::Packet(p);
                }
                other => return other,
            }
        }
    }

    /// Answers a PUBREL for a message acknowledged automatically; true if it did.
    async fn auto_answer(&mut self, p: &Packet) -> bool {
        if let Packet::PubRel(rel) = p {
            if self.auto_pubcomp.remove(&rel.packet_id.get()) {
                let _ = self
                    .inner
                    .send(&Packet::PubComp(PubComp::new(rel.packet_id)))
                    .await;
                return true;
            }
        }
        false
    }

    /// Waits for the first packet (kept or new) for which `wanted` holds. Others are kept.
    /// A DISCONNECT that is not wanted ends the wait (nothing can follow it).
    async fn wait_for(
        &mut self,
        deadline: Instant,
        mut wanted: impl FnMut(&Packet) -> bool,
    ) -> Result<Packet, Received> {
        if let Some(i) = self.pending.iter().position(&mut wanted) {
            if let Some(p) = self.pending.remove(i) {
                return Ok(p);
            }
        }
        loop {
            match self.inner.recv_until(deadline).await {
                Received::Packet(p) => {
                    if self.auto_answer(&p).await {
                        continue;
                    }
                    if wanted(&p) {
                        return Ok(p);
                    }
                    if matches!(p, Packet::Disconnect(_)) {
                        return Err(Received::Packet(p));
                    }
                    self.keep(p);
                }
                other => return Err(other),
            }
        }
    }

    fn keep(&mut self, p: Packet) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.ctx
                .transcript()
                .event(&self.name, "too many unexpected packets: oldest dropped");
        }
        self.pending.push_back(p);
    }

    /// The FAIL for an expectation `expected` that got `got` instead (malformed input names
    /// the statement the broker broke).
    pub fn unmet(&self, expected: &str, got: Received) -> Failure {
        let v = self.protocol();
        let actual = match &got {
            Received::Timeout => timeout_text(self.timeout),
            other => other.describe(v),
        };
        self.ctx
            .transcript()
            .event(&self.name, format!("expected {expected}; got {actual}"));
        let failure = Failure::fail(expected, actual);
        match got {
            Received::Malformed { error, .. } => match error.statement() {
                Some(s) => failure.statement(s),
                None => failure,
            },
            _ => failure,
        }
    }

    fn unmet_within(&self, expected: &str, got: Received, within: Duration) -> Failure {
        let mut f = self.unmet(expected, got.clone());
        if got == Received::Timeout {
            f.0.actual = Some(timeout_text(within));
        }
        f
    }

    /// Publishes a message; awaiting it waits for PUBACK (QoS 1) or PUBREC and PUBCOMP
    /// (QoS 2). See [`PublishBuilder`].
    pub fn publish(&mut self, topic: impl Into<String>) -> PublishBuilder<'_> {
        PublishBuilder {
            topic: topic.into(),
            qos: 0,
            retain: false,
            dup: false,
            payload: Bytes::new(),
            properties: Default::default(),
            any_reason: false,
            within: None,
            role: None,
            client: self,
        }
    }

    /// Subscribes; awaiting it waits for SUBACK and returns its reason codes. See
    /// [`SubscribeBuilder`].
    pub fn subscribe(&mut self, filter: impl Into<String>) -> SubscribeBuilder<'_> {
        SubscribeBuilder {
            filters: vec![(filter.into(), SubscriptionOptions::default())],
            bad_qos: None,
            properties: Default::default(),
            any_reason: false,
            within: None,
            role: None,
            client: self,
        }
    }

    /// Unsubscribes; awaiting it waits for UNSUBACK and returns its reason codes (empty in
    /// 3.1.1).
    pub fn unsubscribe(&mut self, filter: impl Into<String>) -> UnsubscribeBuilder<'_> {
        UnsubscribeBuilder {
            filters: vec![filter.into()],
            properties: Default::default(),
            within: None,
            role: None,
            client: self,
        }
    }

    /// Expects the next PUBLISH. See [`ExpectPublish`].
    pub fn expect_publish(&mut self) -> ExpectPublish<'_> {
        ExpectPublish {
            topic: None,
            qos: None,
            retain: None,
            dup: None,
            payload: None,
            within: None,
            auto_ack: true,
            role: None,
            client: self,
        }
    }

    /// Expects no PUBLISH for a while (default 500 ms, `.for_(d)`). The connection must
    /// stay open: a close is FAIL too.
    pub fn expect_no_publish(&mut self) -> ExpectNoPublish<'_> {
        ExpectNoPublish {
            for_: Duration::from_millis(500),
            role: None,
            client: self,
        }
    }

    /// Expects a packet of type `t` (kept packets first); returns it.
    pub fn expect_packet(&mut self, t: PacketType) -> ExpectPacket<'_> {
        ExpectPacket {
            packet_type: t,
            within: None,
            role: None,
            client: self,
        }
    }

    /// Expects one of several acceptable replies (e.g. `[Reply::Disconnect(ProtocolError),
    /// Reply::Closed]`); after an error CONNACK or a DISCONNECT the connection must also
    /// close. Returns the reply observed.
    pub fn expect_reply<'a>(&'a mut self, replies: &'a [Reply]) -> ExpectReply<'a> {
        ExpectReply {
            replies,
            within: None,
            role: None,
            client: self,
        }
    }

    /// Expects a DISCONNECT whose reason code satisfies `accept`, then the close.
    pub async fn expect_disconnect(
        &mut self,
        accept: impl Fn(ReasonCode) -> bool,
    ) -> Result<Disconnect, Failure> {
        let deadline = Instant::now() + self.timeout;
        match self
            .wait_for(deadline, |p| matches!(p, Packet::Disconnect(_)))
            .await
        {
            Ok(Packet::Disconnect(d)) if accept(d.reason_code) => {
                self.ctx.checked();
                self.ctx.refusal_seen();
                self.expect_close_after("DISCONNECT").await?;
                Ok(d)
            }
            Ok(p) => Err(self.unmet(
                "DISCONNECT with an acceptable reason code",
                Received::Packet(p),
            )),
            Err(got) => Err(self.unmet("DISCONNECT", got)),
        }
    }

    /// Expects the connection to close, or a DISCONNECT (MQTT 5.0) with one of `codes` and
    /// then the close.
    pub async fn expect_closed_or_disconnect(
        &mut self,
        codes: &[ReasonCode],
    ) -> Result<Reply, Failure> {
        let mut replies: Vec<Reply> = codes.iter().map(|c| Reply::Disconnect(*c)).collect();
        replies.push(Reply::Closed);
        ExpectReply {
            replies: &replies,
            within: None,
            role: None,
            client: self,
        }
        .run()
        .await
    }

    /// Expects the connection to close (no packet in between).
    pub async fn expect_closed(&mut self) -> Result<(), Failure> {
        self.expect_reply(&[Reply::Closed]).await.map(|_| ())
    }

    async fn expect_close_after(&mut self, what: &str) -> Result<(), Failure> {
        let deadline = Instant::now() + self.timeout;
        match self.inner.recv_until(deadline).await {
            Received::Closed => {
                self.ctx.checked();
                Ok(())
            }
            other => Err(self.unmet(&format!("the connection closed after {what}"), other)),
        }
    }

    /// Sends PINGREQ and expects PINGRESP: the connection is alive. A check by default;
    /// `.as_twin()` when the PINGRESP shows that the broker accepted the well-formed packets
    /// sent before it.
    pub fn alive(&mut self) -> Alive<'_> {
        Alive {
            role: None,
            client: self,
        }
    }

    /// Sends DISCONNECT (normal disconnection) and closes the connection.
    pub async fn disconnect(mut self) -> Result<(), Failure> {
        self.send(&Packet::Disconnect(Disconnect::default()))
            .await?;
        self.inner.close().await;
        Ok(())
    }

    /// Sends DISCONNECT with a reason code (MQTT 5.0; e.g. 0x04 to have the Will sent) and
    /// closes the connection.
    pub async fn disconnect_with(mut self, d: Disconnect) -> Result<(), Failure> {
        self.send(&Packet::Disconnect(d)).await?;
        self.inner.close().await;
        Ok(())
    }

    /// Drops the connection without DISCONNECT (what a crashed client looks like).
    pub fn drop_connection(mut self) {
        self.inner.abort();
    }

    /// Sends the acknowledgement a received PUBLISH needs (PUBACK, or PUBREC then PUBCOMP
    /// on PUBREL automatically); nothing for QoS 0.
    pub async fn ack(&mut self, p: &Publish) -> Result<(), Failure> {
        match (p.qos(), p.packet_id()) {
            (QoS::AtLeastOnce, Some(id)) => self.send(&Packet::PubAck(PubAck::new(id))).await,
            (QoS::ExactlyOnce, Some(id)) => {
                self.auto_pubcomp.insert(id.get());
                self.send(&Packet::PubRec(PubRec::new(id))).await
            }
            _ => Ok(()),
        }
    }
}

/// Awaitable PUBLISH from a [`Client`]. Defaults: QoS 0, not retained, empty payload;
/// an error reason code in PUBACK / PUBREC is ERROR unless [`any_reason`](Self::any_reason).
#[derive(Debug)]
pub struct PublishBuilder<'a> {
    client: &'a mut Client,
    topic: String,
    qos: u8,
    retain: bool,
    dup: bool,
    payload: Bytes,
    properties: PublishProperties,
    any_reason: bool,
    within: Option<Duration>,
    role: Option<Role>,
}

/// What a publish got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The Packet Identifier used (QoS 1 and 2).
    pub packet_id: Option<PacketId>,
    /// The reason code of PUBACK / PUBREC (Success for QoS 0 and in 3.1.1).
    pub reason_code: ReasonCode,
    /// The PUBACK or PUBREC received.
    pub ack: Option<Packet>,
}

impl<'a> PublishBuilder<'a> {
    /// QoS 0, 1 or 2.
    pub fn qos(mut self, qos: u8) -> Self {
        self.qos = qos;
        self
    }
    /// Sets RETAIN.
    pub fn retain(mut self) -> Self {
        self.retain = true;
        self
    }
    /// Sets DUP (QoS 1 and 2 only).
    pub fn dup(mut self) -> Self {
        self.dup = true;
        self
    }
    /// The payload.
    pub fn payload(mut self, payload: impl AsRef<[u8]>) -> Self {
        self.payload = Bytes::copy_from_slice(payload.as_ref());
        self
    }
    /// PUBLISH properties (MQTT 5.0).
    pub fn properties(mut self, properties: PublishProperties) -> Self {
        self.properties = properties;
        self
    }
    /// Returns error reason codes instead of turning them into ERROR.
    pub fn any_reason(mut self) -> Self {
        self.any_reason = true;
        self
    }
    /// How long to wait for each acknowledgement.
    pub fn within(mut self, d: Duration) -> Self {
        self.within = Some(d);
        self
    }

    async fn run(self) -> Result<Published, Failure> {
        let setup = if unusual_topic(&self.topic) {
            Precondition::UnusualTopic
        } else if self.qos == 2 {
            Precondition::PublishQos2
        } else {
            Precondition::Publish
        };
        let role = self.role.unwrap_or(Role::Setup(setup));
        let ctx = self.client.ctx.clone();
        let out = self.run_inner().await.map_err(|u| u.classify(role))?;
        if out.packet_id.is_some() && !out.reason_code.is_error() {
            ctx.succeeded(role);
        }
        Ok(out)
    }

    async fn run_inner(self) -> Result<Published, Unmet> {
        let c = self.client;
        let v = c.protocol();
        let q = qos(self.qos)?;
        let topic = TopicName::new(self.topic.clone())
            .map_err(|e| Failure::error(format!("case error: topic {:?}: {e}", self.topic)))?;
        let packet_id = (q != QoS::AtMostOnce).then(|| c.next_packet_id());
        let publish = Publish {
            dup: self.dup,
            delivery: packet_id.map_or(mqttspec_codec::Delivery::AtMostOnce, |id| {
                mqttspec_codec::Delivery::new(q, id)
            }),
            retain: self.retain,
            topic,
            properties: self.properties.into(),
            payload: self.payload,
        };
        c.send(&Packet::Publish(publish)).await?;
        let Some(id) = packet_id else {
            return Ok(Published {
                packet_id: None,
                reason_code: ReasonCode::Success,
                ack: None,
            });
        };
        let within = self.within.unwrap_or(c.timeout);
        let deadline = Instant::now() + within;
        let (ack_type, expected) = if q == QoS::AtLeastOnce {
            (PacketType::PubAck, format!("PUBACK id={id}"))
        } else {
            (PacketType::PubRec, format!("PUBREC id={id}"))
        };
        let ack = c
            .wait_for(deadline, |p| match p {
                Packet::PubAck(a) => ack_type == PacketType::PubAck && a.packet_id == id,
                Packet::PubRec(a) => ack_type == PacketType::PubRec && a.packet_id == id,
                _ => false,
            })
            .await
            .map_err(|got| c.unmet_within(&expected, got, within))?;
        let reason_code = match &ack {
            Packet::PubAck(a) => a.reason_code,
            Packet::PubRec(a) => a.reason_code,
            _ => ReasonCode::Success,
        };
        if reason_code.is_error() {
            if self.any_reason {
                return Ok(Published {
                    packet_id,
                    reason_code,
                    ack: Some(ack),
                });
            }
            return Err(Unmet::Refused(Failure::fail(
                "the PUBLISH accepted",
                format!("the broker refused it: {}", summary::packet(&ack, v)),
            )));
        }
        if q == QoS::ExactlyOnce {
            c.send(&Packet::PubRel(PubRel::new(id))).await?;
            let deadline = Instant::now() + within;
            let expected = format!("PUBCOMP id={id}");
            c.wait_for(
                deadline,
                |p| matches!(p, Packet::PubComp(a) if a.packet_id == id),
            )
            .await
            .map_err(|got| c.unmet_within(&expected, got, within))?;
        }
        Ok(Published {
            packet_id,
            reason_code,
            ack: Some(ack),
        })
    }
}

impl<'a> IntoFuture for PublishBuilder<'a> {
    type Output = Result<Published, Failure>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Awaitable SUBSCRIBE. Options apply to the last filter added ([`and`](Self::and) adds
/// one). The SUBACK must carry one reason code per filter (else FAIL); a refused filter is
/// ERROR unless [`any_reason`](Self::any_reason).
#[derive(Debug)]
pub struct SubscribeBuilder<'a> {
    client: &'a mut Client,
    filters: Vec<(String, SubscriptionOptions)>,
    bad_qos: Option<u8>,
    properties: SubscribeProperties,
    any_reason: bool,
    within: Option<Duration>,
    role: Option<Role>,
}

impl<'a> SubscribeBuilder<'a> {
    fn last(&mut self) -> &mut SubscriptionOptions {
        if self.filters.is_empty() {
            self.filters
                .push((String::new(), SubscriptionOptions::default()));
        }
        let n = self.filters.len() - 1;
        &mut self.filters[n].1
    }
    /// Adds another Topic Filter (QoS 0 until `.qos(..)`).
    pub fn and(mut self, filter: impl Into<String>) -> Self {
        self.filters
            .push((filter.into(), SubscriptionOptions::default()));
        self
    }
    /// Requested QoS.
    pub fn qos(mut self, q: u8) -> Self {
        match QoS::from_u8(q) {
            Some(q) => self.last().qos = q,
            None => self.bad_qos = Some(q),
        }
        self
    }
    /// No Local (MQTT 5.0).
    pub fn no_local(mut self) -> Self {
        self.last().no_local = true;
        self
    }
    /// Retain As Published (MQTT 5.0).
    pub fn retain_as_published(mut self) -> Self {
        self.last().retain_as_published = true;
        self
    }
    /// Retain Handling (MQTT 5.0).
    pub fn retain_handling(mut self, rh: RetainHandling) -> Self {
        self.last().retain_handling = rh;
        self
    }
    /// All Subscription Options of the last filter at once.
    pub fn options(mut self, options: SubscriptionOptions) -> Self {
        *self.last() = options;
        self
    }
    /// Subscription Identifier (MQTT 5.0).
    pub fn subscription_identifier(mut self, id: u32) -> Self {
        self.properties.subscription_identifiers =
            std::num::NonZeroU32::new(id).into_iter().collect();
        self
    }
    /// SUBSCRIBE properties (MQTT 5.0).
    pub fn properties(mut self, properties: SubscribeProperties) -> Self {
        self.properties = properties;
        self
    }
    /// Returns refusals instead of turning them into ERROR.
    pub fn any_reason(mut self) -> Self {
        self.any_reason = true;
        self
    }
    /// How long to wait for SUBACK.
    pub fn within(mut self, d: Duration) -> Self {
        self.within = Some(d);
        self
    }

    async fn run(self) -> Result<Vec<ReasonCode>, Failure> {
        let setup = if self.filters.iter().any(|(f, _)| unusual_topic(f)) {
            Precondition::UnusualTopic
        } else {
            Precondition::Subscribe
        };
        let role = self.role.unwrap_or(Role::Setup(setup));
        let ctx = self.client.ctx.clone();
        let any_reason = self.any_reason;
        let codes = self.run_inner().await.map_err(|u| u.classify(role))?;
        if any_reason || !codes.iter().any(|r| r.is_error()) {
            ctx.succeeded(role);
        }
        Ok(codes)
    }

    async fn run_inner(self) -> Result<Vec<ReasonCode>, Unmet> {
        if let Some(q) = self.bad_qos {
            return Err(Failure::error(format!(
                "case error: QoS {q} does not exist (use send_raw)"
            ))
            .into());
        }
        let c = self.client;
        let v = c.protocol();
        let mut filters = Vec::new();
        for (f, o) in &self.filters {
            let filter = TopicFilter::new(f.clone())
                .map_err(|e| Failure::error(format!("case error: topic filter {f:?}: {e}")))?;
            filters.push((filter, *o));
        }
        let id = c.next_packet_id();
        let count = filters.len();
        c.send(&Packet::Subscribe(Subscribe {
            packet_id: id,
            properties: self.properties.into(),
            filters,
        }))
        .await?;
        let within = self.within.unwrap_or(c.timeout);
        let deadline = Instant::now() + within;
        let expected = format!("SUBACK id={id}");
        let ack = c
            .wait_for(
                deadline,
                |p| matches!(p, Packet::SubAck(a) if a.packet_id == id),
            )
            .await
            .map_err(|got| c.unmet_within(&expected, got, within))?;
        let Packet::SubAck(SubAck { reason_codes, .. }) = &ack else {
            return Err(c.unmet(&expected, Received::Packet(ack)).into());
        };
        if reason_codes.len() != count {
            return Err(Failure::fail(
                format!("SUBACK with {count} reason code(s), one per Topic Filter"),
                summary::packet(&ack, v),
            )
            .into());
        }
        if !self.any_reason && reason_codes.iter().any(|r| r.is_error()) {
            return Err(Unmet::Refused(Failure::fail(
                "the subscription granted",
                format!("the broker refused it: {}", summary::packet(&ack, v)),
            )));
        }
        Ok(reason_codes.clone())
    }
}

impl<'a> IntoFuture for SubscribeBuilder<'a> {
    type Output = Result<Vec<ReasonCode>, Failure>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Awaitable UNSUBSCRIBE; returns the UNSUBACK reason codes (MQTT 5.0; empty in 3.1.1).
#[derive(Debug)]
pub struct UnsubscribeBuilder<'a> {
    client: &'a mut Client,
    filters: Vec<String>,
    properties: UnsubscribeProperties,
    within: Option<Duration>,
    role: Option<Role>,
}

impl<'a> UnsubscribeBuilder<'a> {
    /// Adds another Topic Filter.
    pub fn and(mut self, filter: impl Into<String>) -> Self {
        self.filters.push(filter.into());
        self
    }
    /// UNSUBSCRIBE properties (MQTT 5.0).
    pub fn properties(mut self, properties: UnsubscribeProperties) -> Self {
        self.properties = properties;
        self
    }
    /// How long to wait for UNSUBACK.
    pub fn within(mut self, d: Duration) -> Self {
        self.within = Some(d);
        self
    }

    async fn run(self) -> Result<Vec<ReasonCode>, Failure> {
        let setup = if self.filters.iter().any(|f| unusual_topic(f)) {
            Precondition::UnusualTopic
        } else {
            Precondition::Unsubscribe
        };
        let role = self.role.unwrap_or(Role::Setup(setup));
        let ctx = self.client.ctx.clone();
        let codes = self.run_inner().await.map_err(|f| role.classify(f))?;
        ctx.succeeded(role);
        Ok(codes)
    }

    async fn run_inner(self) -> Result<Vec<ReasonCode>, Failure> {
        let c = self.client;
        let mut filters = Vec::new();
        for f in &self.filters {
            filters.push(
                TopicFilter::new(f.clone())
                    .map_err(|e| Failure::error(format!("case error: topic filter {f:?}: {e}")))?,
            );
        }
        let id = c.next_packet_id();
        c.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: id,
            properties: self.properties.into(),
            filters,
        }))
        .await?;
        let within = self.within.unwrap_or(c.timeout);
        let deadline = Instant::now() + within;
        let expected = format!("UNSUBACK id={id}");
        let ack = c
            .wait_for(
                deadline,
                |p| matches!(p, Packet::UnsubAck(a) if a.packet_id == id),
            )
            .await
            .map_err(|got| c.unmet_within(&expected, got, within))?;
        match ack {
            Packet::UnsubAck(UnsubAck { reason_codes, .. }) => Ok(reason_codes),
            _ => Ok(Vec::new()),
        }
    }
}

impl<'a> IntoFuture for UnsubscribeBuilder<'a> {
    type Output = Result<Vec<ReasonCode>, Failure>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Awaitable expectation of the next PUBLISH (kept ones first, in arrival order). Every
/// property given must match, else FAIL. QoS 1 / 2 messages are acknowledged once received
/// unless [`no_auto_ack`](Self::no_auto_ack) (then use [`Client::ack`] or send acks by hand).
#[derive(Debug)]
pub struct ExpectPublish<'a> {
    client: &'a mut Client,
    topic: Option<String>,
    qos: Option<u8>,
    retain: Option<bool>,
    dup: Option<bool>,
    payload: Option<Bytes>,
    within: Option<Duration>,
    auto_ack: bool,
    role: Option<Role>,
}

impl<'a> ExpectPublish<'a> {
    /// The Topic Name it must have.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }
    /// The QoS it must have.
    pub fn qos(mut self, qos: u8) -> Self {
        self.qos = Some(qos);
        self
    }
    /// The RETAIN flag it must have.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = Some(retain);
        self
    }
    /// The DUP flag it must have.
    pub fn dup(mut self, dup: bool) -> Self {
        self.dup = Some(dup);
        self
    }
    /// The payload it must have.
    pub fn payload(mut self, payload: impl AsRef<[u8]>) -> Self {
        self.payload = Some(Bytes::copy_from_slice(payload.as_ref()));
        self
    }
    /// How long to wait (default: the response timeout).
    pub fn within(mut self, d: Duration) -> Self {
        self.within = Some(d);
        self
    }
    /// Do not acknowledge the message.
    pub fn no_auto_ack(mut self) -> Self {
        self.auto_ack = false;
        self
    }

    fn describe(&self) -> String {
        let mut s = "PUBLISH".to_owned();
        if let Some(q) = self.qos {
            s.push_str(&format!(" qos={q}"));
        }
        if let Some(r) = self.retain {
            s.push_str(&format!(" retain={}", u8::from(r)));
        }
        if let Some(d) = self.dup {
            s.push_str(&format!(" dup={}", u8::from(d)));
        }
        if let Some(t) = &self.topic {
            s.push_str(&format!(" topic={t:?}"));
        }
        if let Some(p) = &self.payload {
            s.push_str(&format!(" payload={}", summary::payload(p)));
        }
        s
    }

    async fn run(self) -> Result<Publish, Failure> {
        let role = self.role.unwrap_or(Role::Check);
        let ctx = self.client.ctx.clone();
        let p = self.run_inner().await.map_err(|f| role.classify(f))?;
        ctx.succeeded(role);
        Ok(p)
    }

    async fn run_inner(self) -> Result<Publish, Failure> {
        let expected = self.describe();
        let c = self.client;
        let v = c.protocol();
        let within = self.within.unwrap_or(c.timeout);
        let deadline = Instant::now() + within;
        let packet = c
            .wait_for(deadline, |p| matches!(p, Packet::Publish(_)))
            .await
            .map_err(|got| c.unmet_within(&expected, got, within))?;
        let Packet::Publish(p) = packet else {
            return Err(c.unmet(&expected, Received::Packet(packet)));
        };
        let ok = self.topic.as_deref().is_none_or(|t| p.topic.as_str() == t)
            && self.qos.is_none_or(|q| p.qos().as_u8() == q)
            && self.retain.is_none_or(|r| p.retain == r)
            && self.dup.is_none_or(|d| p.dup == d)
            && self.payload.as_ref().is_none_or(|b| p.payload == *b);
        let actual = summary::packet(&Packet::Publish(p.clone()), v);
        if !ok {
            c.ctx
                .transcript()
                .event(&c.name, format!("expected {expected}; got {actual}"));
            return Err(Failure::fail(expected, actual));
        }
        if self.auto_ack {
            c.ack(&p).await?;
        }
        Ok(p)
    }
}

impl<'a> IntoFuture for ExpectPublish<'a> {
    type Output = Result<Publish, Failure>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Awaitable "no PUBLISH arrives for a while" (and the connection stays open).
#[derive(Debug)]
pub struct ExpectNoPublish<'a> {
    client: &'a mut Client,
    for_: Duration,
    role: Option<Role>,
}

impl<'a> ExpectNoPublish<'a> {
    /// How long nothing may arrive.
    pub fn for_(mut self, d: Duration) -> Self {
        self.for_ = d;
        self
    }

    async fn run(self) -> Result<(), Failure> {
        let role = self.role.unwrap_or(Role::Check);
        let ctx = self.client.ctx.clone();
        self.run_inner().await.map_err(|f| role.classify(f))?;
        ctx.succeeded(role);
        if role == Role::Check {
            ctx.absence_seen();
        }
        Ok(())
    }

    async fn run_inner(self) -> Result<(), Failure> {
        let c = self.client;
        let v = c.protocol();
        let expected = format!("no PUBLISH for {} ms", self.for_.as_millis());
        let deadline = Instant::now() + self.for_;
        match c
            .wait_for(deadline, |p| matches!(p, Packet::Publish(_)))
            .await
        {
            Err(Received::Timeout) => Ok(()),
            Ok(p) => {
                let actual = summary::packet(&p, v);
                c.ctx
                    .transcript()
                    .event(&c.name, format!("expected {expected}; got {actual}"));
                Err(Failure::fail(expected, actual))
            }
            Err(got) => Err(c.unmet(&expected, got)),
        }
    }
}

impl<'a> IntoFuture for ExpectNoPublish<'a> {
    type Output = Result<(), Failure>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Awaitable expectation of a packet of one type.
#[derive(Debug)]
pub struct ExpectPacket<'a> {
    client: &'a mut Client,
    packet_type: PacketType,
    within: Option<Duration>,
    role: Option<Role>,
}

impl<'a> ExpectPacket<'a> {
    /// How long to wait.
    pub fn within(mut self, d: Duration) -> Self {
        self.within = Some(d);
        self
    }

    async fn run(self) -> Result<Packet, Failure> {
        let role = self.role.unwrap_or(Role::Check);
        let c = self.client;
        let t = self.packet_type;
        let within = self.within.unwrap_or(c.timeout);
        let deadline = Instant::now() + within;
        let p = c
            .wait_for(deadline, |p| p.packet_type() == t)
            .await
            .map_err(|got| role.classify(c.unmet_within(t.name(), got, within)))?;
        c.ctx.succeeded(role);
        Ok(p)
    }
}

impl<'a> IntoFuture for ExpectPacket<'a> {
    type Output = Result<Packet, Failure>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Awaitable expectation of one of several acceptable replies. Kept packets are not
/// consulted: the reply is the next thing that happens on the wire (a PUBLISH or PINGRESP in
/// between is kept and skipped).
#[derive(Debug)]
pub struct ExpectReply<'a> {
    client: &'a mut Client,
    replies: &'a [Reply],
    within: Option<Duration>,
    role: Option<Role>,
}

impl<'a> ExpectReply<'a> {
    /// How long to wait.
    pub fn within(mut self, d: Duration) -> Self {
        self.within = Some(d);
        self
    }

    /// Sets the role (`None`: a check).
    pub(crate) fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    async fn run(self) -> Result<Reply, Failure> {
        let role = self.role.unwrap_or(Role::Check);
        let ctx = self.client.ctx.clone();
        let reply = self.run_inner().await.map_err(|f| role.classify(f))?;
        ctx.succeeded(role);
        if role == Role::Check && reply.is_refusal() {
            ctx.refusal_seen();
        }
        Ok(reply)
    }

    async fn run_inner(self) -> Result<Reply, Failure> {
        let c = self.client;
        let v = c.protocol();
        let expected = describe_replies(self.replies, v);
        let within = self.within.unwrap_or(c.timeout);
        let deadline = Instant::now() + within;
        loop {
            let got = c.inner.recv_until(deadline).await;
            let packet = match &got {
                Received::Packet(p) => Some(p),
                Received::Closed => None,
                _ => return Err(c.unmet_within(&expected, got, within)),
            };
            if let Some(reply) = self.replies.iter().copied().find(|r| r.matches(packet)) {
                if let Some(Packet::ConnAck(ack)) = packet {
                    c.set_connack(ack.clone());
                }
                if reply.closes() {
                    let what = packet.map_or("it", |p| p.packet_type().name());
                    c.expect_close_after(what).await?;
                }
                return Ok(reply);
            }
            match got {
                Received::Packet(p @ (Packet::Publish(_) | Packet::PingResp)) => c.keep(p),
                other => return Err(c.unmet_within(&expected, other, within)),
            }
        }
    }
}

impl<'a> IntoFuture for ExpectReply<'a> {
    type Output = Result<Reply, Failure>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Awaitable PINGREQ / PINGRESP exchange ([`Client::alive`]).
#[derive(Debug)]
pub struct Alive<'a> {
    client: &'a mut Client,
    role: Option<Role>,
}

impl Alive<'_> {
    async fn run(self) -> Result<(), Failure> {
        let role = self.role.unwrap_or(Role::Check);
        let c = self.client;
        let result = async {
            c.inner
                .send(&Packet::PingReq)
                .await
                .map_err(|e| Failure::fail("the connection open to send PINGREQ", e.to_string()))?;
            let deadline = Instant::now() + c.timeout;
            c.wait_for(deadline, |p| matches!(p, Packet::PingResp))
                .await
                .map(|_| ())
                .map_err(|got| c.unmet("PINGRESP", got))
        }
        .await;
        result.map_err(|f| role.classify(f))?;
        c.ctx.succeeded(role);
        Ok(())
    }
}

impl<'a> IntoFuture for Alive<'a> {
    type Output = Result<(), Failure>;
    type IntoFuture = BoxFuture<'a, Self::Output>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Whether a topic or filter is one a server may refuse for reasons of its own although it
/// accepts plain ones: a `$` topic, a wildcard, a shared subscription. A setup step on one is
/// [`Precondition::UnusualTopic`] (the plain-topic cases do not test it).
fn unusual_topic(t: &str) -> bool {
    t.starts_with('$') || t.contains(['+', '#'])
}

/// How every expectation words a wait that ended with nothing: "nothing within 3000 ms".
pub(crate) fn timeout_text(d: Duration) -> String {
    format!("nothing within {} ms", d.as_millis())
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Client>();
    is_send::<PublishBuilder<'static>>();
}
