//! UTF-8 Encoded Strings in every field a broker reads: ill-formed UTF-8 (a UTF-16
//! surrogate encoded in UTF-8, overlong forms, a byte that never occurs in UTF-8) and U+0000
//! make the packet malformed, whichever field carries them and wherever in the field they sit.
//!
//! One case per rule and field. Its steps put each bad sequence at the start, in the middle
//! and at the end of the field, each on its own connection, since the broker must close it.
//! Every step first has the well-formed twin accepted: the same packet with a run of ASCII
//! letters (the marker) where the bad bytes will go. The bad packet is that twin, encoded,
//! with the marker swapped for bad bytes of the same length, so every length prefix stays
//! right and nothing but the string's content differs.
//!
//! (A Response Topic with a wildcard is no string rule and not malformed: the server must not
//! send one on, which `forwarding.wildcard-response-topic-not-sent-on` checks.)
//!
//! Fields on an accepted connection (Topic Name, Topic Filters, User Properties, Response
//! Topic, Content Type, a client's Reason String) expect the close, in MQTT 5.0 preferably
//! after DISCONNECT (NON-STRICT without it); CONNECT fields (Client Identifier, Will Topic,
//! User Name, User Properties, and the Content Type, Response Topic and User Properties of
//! the Will Properties) expect the close without CONNACK in 3.1.1 (MQTT-3.1.4-1) and the
//! close, possibly after a CONNACK with an error code, in 5.0.
//!
//! (The Authentication Method has no case: its well-formed twin, a method with the marker in
//! it, is a method no server offers, so the server refuses the twin as well and a refusal of
//! the bad one shows nothing.)

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{
    ConnectProperties, Delivery, Packet, PacketType, Properties, PropertyContext, PropertySet,
    Props, PubRel, Publish, QoS, ReasonCode, Subscribe, SubscriptionOptions, Unsubscribe,
    WillProperties,
};

use mqttspec_codec::RawPacket;

use super::support::{
    connect_twin, expect_connect_refused, expect_refused, of_run, packet_id, refusal_verdict,
    server_end, text, topic_filter, topic_name, RawConnect, Refused,
};
use mqttspec_harness::case;
use mqttspec_harness::scenario::{
    BoxFuture, CaseResult, Client, ClientBuilder, Ctx, Failure, Precondition, Reply, Will,
};

/// One kind of bad string content.
struct Bad {
    /// What it is, for the transcript and failures.
    what: &'static str,
    /// Its bytes.
    bytes: &'static [u8],
}

/// Ill-formed UTF-8 (MQTT-1.5.4-1 / MQTT-1.5.3-1).
const ILL_FORMED: &[Bad] = &[
    Bad {
        what: "the surrogate U+D800 encoded in UTF-8 (ED A0 80)",
        bytes: b"\xED\xA0\x80",
    },
    Bad {
        what: "an overlong two-byte '/' (C0 AF)",
        bytes: b"\xC0\xAF",
    },
    Bad {
        what: "an overlong three-byte '/' (E0 80 AF)",
        bytes: b"\xE0\x80\xAF",
    },
    Bad {
        what: "the byte FF, which UTF-8 never uses",
        bytes: b"\xFF",
    },
];

/// The null character (MQTT-1.5.4-2 / MQTT-1.5.3-2).
const NULL: &[Bad] = &[Bad {
    what: "U+0000",
    bytes: b"\x00",
}];

/// Where in the field the bad bytes sit.
#[derive(Debug, Clone, Copy)]
enum At {
    Start,
    Middle,
    End,
}

const POSITIONS: [At; 3] = [At::Start, At::Middle, At::End];

impl At {
    fn name(self) -> &'static str {
        match self {
            At::Start => "at the start",
            At::Middle => "in the middle",
            At::End => "at the end",
        }
    }

    /// `base` (ASCII) with `marker` placed here.
    fn place(self, base: &str, marker: &str) -> String {
        match self {
            At::Start => format!("{marker}{base}"),
            At::End => format!("{base}{marker}"),
            At::Middle => {
                let mid = base.len() / 2;
                match (base.get(..mid), base.get(mid..)) {
                    (Some(a), Some(b)) => format!("{a}{marker}{b}"),
                    _ => format!("{base}{marker}"),
                }
            }
        }
    }
}

/// The packet a string field travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Connect,
    Publish,
    Subscribe,
    Unsubscribe,
    PubRel,
}

/// A string field a broker reads, in the packet that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    TopicName,
    SubscribeFilter,
    UnsubscribeFilter,
    ClientId,
    WillTopic,
    UserName,
    UserPropertyName(Carrier),
    UserPropertyValue(Carrier),
    ResponseTopic,
    ContentType,
    ReasonString,
    /// The Content Type of the Will Properties.
    WillContentType,
    /// The Response Topic of the Will Properties.
    WillResponseTopic,
    /// A User Property name of the Will Properties.
    WillUserPropertyName,
    /// A User Property value of the Will Properties.
    WillUserPropertyValue,
}

impl Field {
    fn carrier(self) -> Carrier {
        match self {
            Field::TopicName | Field::ResponseTopic | Field::ContentType => Carrier::Publish,
            Field::SubscribeFilter => Carrier::Subscribe,
            Field::UnsubscribeFilter => Carrier::Unsubscribe,
            Field::ClientId
            | Field::WillTopic
            | Field::UserName
            | Field::WillContentType
            | Field::WillResponseTopic
            | Field::WillUserPropertyName
            | Field::WillUserPropertyValue => Carrier::Connect,
            Field::UserPropertyName(c) | Field::UserPropertyValue(c) => c,
            Field::ReasonString => Carrier::PubRel,
        }
    }

    fn name(self) -> String {
        let packet = match self.carrier() {
            Carrier::Connect => "CONNECT",
            Carrier::Publish => "PUBLISH",
            Carrier::Subscribe => "SUBSCRIBE",
            Carrier::Unsubscribe => "UNSUBSCRIBE",
            Carrier::PubRel => "PUBREL",
        };
        let field = match self {
            Field::TopicName => "Topic Name",
            Field::SubscribeFilter | Field::UnsubscribeFilter => "Topic Filter",
            Field::ClientId => "Client Identifier",
            Field::WillTopic => "Will Topic",
            Field::UserName => "User Name",
            Field::UserPropertyName(_) => "User Property name",
            Field::UserPropertyValue(_) => "User Property value",
            Field::ResponseTopic => "Response Topic",
            Field::ContentType => "Content Type",
            Field::ReasonString => "Reason String",
            Field::WillContentType => "Will Properties' Content Type",
            Field::WillResponseTopic => "Will Properties' Response Topic",
            Field::WillUserPropertyName => "Will Properties' User Property name",
            Field::WillUserPropertyValue => "Will Properties' User Property value",
        };
        format!("the {field} of a {packet}")
    }

    /// The well-formed value the marker goes into (ASCII).
    fn base(self, t: &Ctx, marker_len: usize) -> String {
        match self {
            Field::TopicName | Field::ResponseTopic | Field::WillResponseTopic => t.topic("s"),
            Field::SubscribeFilter | Field::UnsubscribeFilter => t.topic("f"),
            Field::WillTopic => t.topic("will"),
            // Letters and digits, at most 23 with the marker: every broker must take it
            // (MQTT-3.1.3-5).
            Field::ClientId => {
                let mut id = t.client_id("c");
                id.truncate(23usize.saturating_sub(marker_len));
                id
            }
            Field::UserName => "user".to_owned(),
            Field::UserPropertyName(_) | Field::WillUserPropertyName => "key".to_owned(),
            Field::UserPropertyValue(_) | Field::WillUserPropertyValue => "value".to_owned(),
            Field::ContentType | Field::WillContentType => "text/plain".to_owned(),
            Field::ReasonString => "done".to_owned(),
        }
    }

    /// The properties carrying `value` when the field is a property.
    fn properties(self, value: &str) -> Result<Properties, Failure> {
        let mut p = Properties::default();
        match self {
            Field::UserPropertyName(_) | Field::WillUserPropertyName => {
                p.user_properties =
                    vec![(text(value, "User Property")?, text("v", "User Property")?)];
            }
            Field::UserPropertyValue(_) | Field::WillUserPropertyValue => {
                p.user_properties =
                    vec![(text("k", "User Property")?, text(value, "User Property")?)];
            }
            Field::ResponseTopic | Field::WillResponseTopic => {
                p.response_topic = Some(topic_name(value)?)
            }
            Field::ContentType | Field::WillContentType => {
                p.content_type = Some(text(value, "Content Type")?)
            }
            Field::ReasonString => p.reason_string = Some(text(value, "Reason String")?),
            _ => {}
        }
        Ok(p)
    }

    /// The client whose CONNECT carries `value` in this field (CONNECT fields only).
    fn builder(self, t: &Ctx, value: &str) -> ClientBuilder {
        let c = t.client("c");
        match self {
            Field::ClientId => c.client_id(value),
            Field::WillTopic => c.will(Will::new(value, "w")),
            Field::UserName => c.credentials(value, "pw"),
            Field::WillContentType
            | Field::WillResponseTopic
            | Field::WillUserPropertyName
            | Field::WillUserPropertyValue => {
                let will = Will::new(t.topic("will"), "w");
                match self
                    .properties(value)
                    .map(|p| WillProperties::from_properties(p, PropertyContext::Will))
                {
                    Ok(Ok(p)) => c.will(will.properties(p)),
                    _ => c.will(will),
                }
            }
            _ => match self
                .properties(value)
                .map(|p| ConnectProperties::from_properties(p, PropertyContext::Connect))
            {
                Ok(Ok(p)) => c.properties(p),
                _ => c,
            },
        }
    }

    /// The packet carrying `value` in this field on an accepted connection, with Packet
    /// Identifier `id` (the PUBLISH and PUBREL at QoS 1 / 2 so that accepting them shows).
    fn packet(self, t: &Ctx, value: &str, id: u16) -> Result<Packet, Failure> {
        let properties = self.properties(value)?;
        Ok(match self.carrier() {
            Carrier::Publish => Packet::Publish(Publish {
                dup: false,
                delivery: Delivery::AtLeastOnce(packet_id(id)?),
                retain: false,
                topic: topic_name(&if self == Field::TopicName {
                    value.to_owned()
                } else {
                    t.topic("s")
                })?,
                properties: set(&properties)?,
                payload: Bytes::from_static(b"x"),
            }),
            Carrier::Subscribe => Packet::Subscribe(Subscribe {
                packet_id: packet_id(id)?,
                properties: set(&properties)?,
                filters: vec![(
                    topic_filter(&if self == Field::SubscribeFilter {
                        value.to_owned()
                    } else {
                        t.topic("f")
                    })?,
                    SubscriptionOptions::qos(QoS::AtLeastOnce),
                )],
            }),
            Carrier::Unsubscribe => Packet::Unsubscribe(Unsubscribe {
                packet_id: packet_id(id)?,
                properties: set(&properties)?,
                filters: vec![topic_filter(value)?],
            }),
            Carrier::PubRel => Packet::PubRel(PubRel {
                packet_id: packet_id(id)?,
                reason_code: ReasonCode::Success,
                properties: set(&properties)?,
            }),
            Carrier::Connect => {
                return Err(Failure::error(
                    "case error: a CONNECT field has no packet on an accepted connection",
                ))
            }
        })
    }
}

/// The flat `properties` as the set of the packet that carries them.
fn set<T: PropertySet>(properties: &Properties) -> Result<Props<T>, Failure> {
    T::from_flat(properties.clone())
        .map(Props::from)
        .map_err(|e| Failure::error(format!("case error: {e}")))
}

/// Markers of `len` letters, each made of one letter: the first whose bytes occur exactly
/// once in the encoded packet is used.
fn markers(len: usize) -> impl Iterator<Item = String> {
    "ZQXJKVWY".chars().map(move |c| c.to_string().repeat(len))
}

/// Where `needle` occurs in `hay`, if exactly once.
fn only_occurrence(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut found = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// `packet` encoded for the run's protocol, with the marker swapped for `bad`.
fn spoil(t: &Ctx, packet: &Packet, marker: &str, bad: &[u8]) -> Result<Option<Bytes>, Failure> {
    let bytes = packet
        .encode(t.protocol())
        .map_err(|e| Failure::error(format!("case error: the twin does not encode: {e}")))?;
    let Some(at) = only_occurrence(&bytes, marker.as_bytes()) else {
        return Ok(None);
    };
    let mut out = BytesMut::from(&bytes[..]);
    out[at..at + bad.len()].copy_from_slice(bad);
    Ok(Some(out.freeze()))
}

/// For a step: the field's value with a marker `at` its place, and the packet (built by
/// `build` from that value) with the marker swapped for `bad`.
fn twin_and_bad(
    t: &Ctx,
    field: Field,
    at: At,
    bad: &Bad,
    build: impl Fn(&str) -> Result<Packet, Failure>,
) -> Result<(String, Bytes), Failure> {
    let len = bad.bytes.len();
    for marker in markers(len) {
        let value = at.place(&field.base(t, len), &marker);
        if let Some(bytes) = spoil(t, &build(&value)?, &marker, bad.bytes)? {
            return Ok((value, bytes));
        }
    }
    Err(Failure::error(
        "case error: no marker occurs exactly once in the packet",
    ))
}

/// `f` with the step it happened in put before what was expected.
fn about(mut f: Failure, field: Field, bad: &Bad, at: At) -> Failure {
    let step = format!("{} with {} {}", field.name(), bad.what, at.name());
    f.0.expected = Some(match f.0.expected.take() {
        Some(e) => format!("{step}: {e}"),
        None => step,
    });
    f
}

/// Whether `p` accepts what was sent (no error Reason Code).
fn accepted(p: &Packet) -> bool {
    match p {
        Packet::PubAck(a) => !a.reason_code.is_error(),
        Packet::PubComp(a) => !a.reason_code.is_error(),
        Packet::SubAck(a) => {
            !a.reason_codes.is_empty() && !a.reason_codes.iter().any(|r| r.is_error())
        }
        Packet::UnsubAck(a) => !a.reason_codes.iter().any(|r| r.is_error()),
        _ => false,
    }
}

/// The acknowledgement that shows `carrier` accepted.
fn ack_type(carrier: Carrier) -> PacketType {
    match carrier {
        Carrier::Publish | Carrier::Connect => PacketType::PubAck,
        Carrier::Subscribe => PacketType::SubAck,
        Carrier::Unsubscribe => PacketType::UnsubAck,
        Carrier::PubRel => PacketType::PubComp,
    }
}

/// Before a PUBREL with Packet Identifier `id`: a QoS 2 PUBLISH with it, and its PUBREC.
async fn open_qos2(t: &Ctx, c: &mut Client, id: u16) -> Result<(), Failure> {
    let publish = Publish {
        dup: false,
        delivery: Delivery::ExactlyOnce(packet_id(id)?),
        retain: false,
        topic: topic_name(&t.topic("s"))?,
        properties: Default::default(),
        payload: Bytes::from_static(b"x"),
    };
    c.send(&Packet::Publish(publish)).await?;
    c.expect_packet(PacketType::PubRec)
        .as_setup(Precondition::Publish)
        .await?;
    Ok(())
}

/// The twin on `c`: `packet` sent and acknowledged without an error code.
async fn send_twin(c: &mut Client, packet: &Packet, carrier: Carrier) -> Result<(), Failure> {
    c.send(packet).await?;
    let ack = c.expect_packet(ack_type(carrier)).as_twin().await?;
    if !accepted(&ack) {
        return Err(Failure::inconclusive(
            Precondition::Twin,
            format!("the well-formed twin was refused: {ack:?}"),
        ));
    }
    Ok(())
}

/// Every step of a case on an accepted connection: for each field, position and bad
/// sequence, a new connection has the twin accepted and then must be closed for the bad
/// packet.
async fn refused_in_session(t: &Ctx, fields: &[Field], bads: &[Bad]) -> CaseResult {
    let mut refusals: Vec<Refused> = Vec::new();
    let mut step = 0usize;
    for field in fields {
        for at in POSITIONS {
            for bad in bads {
                step += 1;
                let carrier = field.carrier();
                let mut c = t.client(&format!("c{step}")).connect().await?;
                let (twin_id, bad_id) = (1, 2);
                if carrier == Carrier::PubRel {
                    open_qos2(t, &mut c, twin_id).await?;
                }
                let (value, bytes) =
                    twin_and_bad(t, *field, at, bad, |v| field.packet(t, v, bad_id))?;
                send_twin(&mut c, &field.packet(t, &value, twin_id)?, carrier).await?;
                if carrier == Carrier::PubRel {
                    open_qos2(t, &mut c, bad_id).await?;
                }
                c.send_raw(bytes).await?;
                let refused = expect_refused(t, &mut c, None)
                    .await
                    .map_err(|f| about(f, *field, bad, at))?;
                refusals.push(refused);
            }
        }
    }
    refusal_verdict(t, &refusals)
}

/// Every step of a case on CONNECT: for each field, position and bad sequence, the twin
/// CONNECT is accepted, then the bad one refused.
async fn refused_in_connect(t: &Ctx, fields: &[Field], bads: &[Bad]) -> CaseResult {
    for field in fields {
        for at in POSITIONS {
            for bad in bads {
                if *field == Field::UserName {
                    user_name_refused(t, at, bad).await?;
                    continue;
                }
                let (value, bytes) = twin_and_bad(t, *field, at, bad, |v| {
                    Ok(Packet::Connect(Box::new(
                        field.builder(t, v).connect_packet()?,
                    )))
                })?;
                connect_twin(field.builder(t, &value))
                    .await?
                    .disconnect()
                    .await?;
                expect_connect_refused(t, "bad", bytes, false)
                    .await
                    .map_err(|f| about(f, *field, bad, at))?;
            }
        }
    }
    t.pass()
}

/// A step of the User Name: the server may know only some users, so the twin uses the
/// profile's credentials (or User Name "user", Password "pw" without them) and the bad
/// CONNECT has `bad` inserted `at` its place in that same User Name.
async fn user_name_refused(t: &Ctx, at: At, bad: &Bad) -> Result<(), Failure> {
    let (twin, user, password) = match &t.profile().credentials {
        Some(c) => (t.client("c"), c.username.clone(), c.password.clone()),
        None => (
            t.client("c").credentials("user", "pw"),
            "user".to_owned(),
            Some("pw".to_owned()),
        ),
    };
    connect_twin(twin).await?.disconnect().await?;
    let cut = match at {
        At::Start => 0,
        At::End => user.len(),
        At::Middle => (0..=user.len() / 2)
            .rev()
            .find(|i| user.is_char_boundary(*i))
            .unwrap_or(0),
    };
    let (a, b) = user.split_at(cut);
    let mut user_name = a.as_bytes().to_vec();
    user_name.extend_from_slice(bad.bytes);
    user_name.extend_from_slice(b.as_bytes());
    // The User Name (and Password) Flags with Clean Start: the fields follow the Client
    // Identifier.
    let mut fields = RawPacket::new(0).binary(&user_name);
    let mut flags = 0x82;
    if let Some(pw) = &password {
        fields = fields.binary(pw.as_bytes());
        flags |= 0x40;
    }
    let bytes = RawConnect::new(t, &t.client_id("c"), flags)
        .tail(fields.body())
        .build();
    expect_connect_refused(t, "bad", bytes, false)
        .await
        .map_err(|f| about(f, Field::UserName, bad, at))
}

/// Runs the steps of `fields` (all on CONNECT, or all on an accepted connection).
async fn refused(t: Ctx, fields: &[Field], bads: &[Bad]) -> CaseResult {
    if fields.iter().all(|f| f.carrier() == Carrier::Connect) {
        refused_in_connect(&t, fields, bads).await
    } else if fields.iter().all(|f| f.carrier() != Carrier::Connect) {
        refused_in_session(&t, fields, bads).await
    } else {
        // Each carrier is judged its own way: CONNECT fields first, then the others.
        let (connect, session): (Vec<Field>, Vec<Field>) =
            fields.iter().partition(|f| f.carrier() == Carrier::Connect);
        refused_in_connect(&t, &connect, bads).await?;
        refused_in_session(&t, &session, bads).await
    }
}

/// A case: `bads` in each of `fields` must be refused.
macro_rules! string_case {
    ($name:ident, $run:ident, $id:literal, $title:literal, only: $only:ident,
     checks: [$($s:ident),+ $(,)?], fault: $fault:ident $(, also: [$($also:ident),+ $(,)?])?,
     tags: [$($tag:ident),* $(,)?],
     fields: [$($field:expr),+ $(,)?], bads: $bads:expr) => {
        case! {
            #[doc = $title]
            $name = $id,
            checks: [$($s),+],
            only: $only,
            faults: [$fault $($(, $also)+)?],
            tags: [$($tag),*],
            run: $run,
        }

        fn $run(t: Ctx) -> BoxFuture<'static, CaseResult> {
            Box::pin(async move { refused(t, &[$($field),+], $bads).await })
        }
    };
}

// ---------------------------------------------------------------------------------------
// Topic Names and Topic Filters.

string_case!(
    TOPIC_NAME_ILL_FORMED, topic_name_ill_formed,
    "string.topic-name-ill-formed-utf8-refused",
    "A PUBLISH whose Topic Name is ill-formed UTF-8 (surrogate, overlong, FF) at its start, middle or end is refused by closing the connection",
    only: Both,
    checks: [V5_3_3_2_1, V5_1_5_4_1],
    fault: LenientTopicNameString,
    tags: [ToBroker, TopicName],
    fields: [Field::TopicName],
    bads: ILL_FORMED
);

string_case!(
    TOPIC_NAME_NULL, topic_name_null,
    "string.topic-name-null-character-refused",
    "A PUBLISH whose Topic Name holds U+0000 at its start, middle or end is refused by closing the connection",
    only: Both,
    checks: [V5_3_3_2_1, V5_1_5_4_2],
    fault: LenientTopicNameString,
    tags: [ToBroker, TopicName],
    fields: [Field::TopicName],
    bads: NULL
);

string_case!(
    SUBSCRIBE_FILTER_ILL_FORMED, subscribe_filter_ill_formed,
    "string.subscribe-filter-ill-formed-utf8-refused",
    "A SUBSCRIBE whose Topic Filter is ill-formed UTF-8 at its start, middle or end is refused by closing the connection",
    only: Both,
    checks: [V5_3_8_3_1, V5_1_5_4_1],
    fault: LenientSubscribeFilterString,
    tags: [ToBroker, TopicFilter],
    fields: [Field::SubscribeFilter],
    bads: ILL_FORMED
);

string_case!(
    SUBSCRIBE_FILTER_NULL, subscribe_filter_null,
    "string.subscribe-filter-null-character-refused",
    "A SUBSCRIBE whose Topic Filter holds U+0000 at its start, middle or end is refused by closing the connection",
    only: Both,
    checks: [V5_3_8_3_1, V5_1_5_4_2],
    fault: LenientSubscribeFilterString,
    tags: [ToBroker, TopicFilter],
    fields: [Field::SubscribeFilter],
    bads: NULL
);

string_case!(
    UNSUBSCRIBE_FILTER_ILL_FORMED, unsubscribe_filter_ill_formed,
    "string.unsubscribe-filter-ill-formed-utf8-refused",
    "An UNSUBSCRIBE whose Topic Filter is ill-formed UTF-8 at its start, middle or end is refused by closing the connection",
    only: Both,
    checks: [V5_3_10_3_1, V5_1_5_4_1],
    fault: LenientUnsubscribeFilterString,
    tags: [ToBroker, TopicFilter],
    fields: [Field::UnsubscribeFilter],
    bads: ILL_FORMED
);

string_case!(
    UNSUBSCRIBE_FILTER_NULL, unsubscribe_filter_null,
    "string.unsubscribe-filter-null-character-refused",
    "An UNSUBSCRIBE whose Topic Filter holds U+0000 at its start, middle or end is refused by closing the connection",
    only: Both,
    checks: [V5_3_10_3_1, V5_1_5_4_2],
    fault: LenientUnsubscribeFilterString,
    tags: [ToBroker, TopicFilter],
    fields: [Field::UnsubscribeFilter],
    bads: NULL
);

// ---------------------------------------------------------------------------------------
// CONNECT fields.

string_case!(
    CLIENT_ID_ILL_FORMED, client_id_ill_formed,
    "string.client-id-ill-formed-utf8-refused",
    "A CONNECT whose Client Identifier is ill-formed UTF-8 at its start, middle or end is refused (3.1.1: closed without CONNACK)",
    only: Both,
    checks: [V5_3_1_3_4, V5_1_5_4_1, V5_3_1_4_1],
    fault: LenientClientIdString,
    tags: [ToBroker, ClientId],
    fields: [Field::ClientId],
    bads: ILL_FORMED
);

string_case!(
    CLIENT_ID_NULL, client_id_null,
    "string.client-id-null-character-refused",
    "A CONNECT whose Client Identifier holds U+0000 at its start, middle or end is refused (3.1.1: closed without CONNACK)",
    only: Both,
    checks: [V5_3_1_3_4, V5_1_5_4_2, V5_3_1_4_1],
    fault: LenientClientIdString,
    tags: [ToBroker, ClientId],
    fields: [Field::ClientId],
    bads: NULL
);

// 3.1.1 has no return code for a bad Will Topic: MQTT-3.2.2-6 wants the close without
// CONNACK, as MQTT-3.1.4-1 does for any malformed CONNECT.
string_case!(
    WILL_TOPIC_ILL_FORMED, will_topic_ill_formed,
    "string.will-topic-ill-formed-utf8-refused",
    "A CONNECT whose Will Topic is ill-formed UTF-8 at its start, middle or end is refused (3.1.1: closed without CONNACK)",
    only: Both,
    checks: [
        V5_3_1_3_11, V5_1_5_4_1, V5_3_1_4_1,
        V311_3_1_3_10, V311_1_5_3_1, V311_3_1_4_1, V311_3_2_2_6,
    ],
    fault: LenientWillTopicString,
    tags: [ToBroker, Will, WillTopic],
    fields: [Field::WillTopic],
    bads: ILL_FORMED
);

string_case!(
    WILL_TOPIC_NULL, will_topic_null,
    "string.will-topic-null-character-refused",
    "A CONNECT whose Will Topic holds U+0000 at its start, middle or end is refused (3.1.1: closed without CONNACK)",
    only: Both,
    checks: [
        V5_3_1_3_11, V5_1_5_4_2, V5_3_1_4_1,
        V311_3_1_3_10, V311_1_5_3_2, V311_3_1_4_1, V311_3_2_2_6,
    ],
    fault: LenientWillTopicString,
    tags: [ToBroker, Will, WillTopic],
    fields: [Field::WillTopic],
    bads: NULL
);

string_case!(
    USER_NAME_ILL_FORMED, user_name_ill_formed,
    "string.user-name-ill-formed-utf8-refused",
    "A CONNECT whose User Name is ill-formed UTF-8 at its start, middle or end is refused (3.1.1: closed without CONNACK)",
    only: Both,
    checks: [V5_3_1_3_12, V5_1_5_4_1, V5_3_1_4_1],
    fault: LenientUserNameString,
    tags: [ToBroker, Credentials],
    fields: [Field::UserName],
    bads: ILL_FORMED
);

string_case!(
    USER_NAME_NULL, user_name_null,
    "string.user-name-null-character-refused",
    "A CONNECT whose User Name holds U+0000 at its start, middle or end is refused (3.1.1: closed without CONNACK)",
    only: Both,
    checks: [V5_3_1_3_12, V5_1_5_4_2, V5_3_1_4_1],
    fault: LenientUserNameString,
    tags: [ToBroker, Credentials],
    fields: [Field::UserName],
    bads: NULL
);

// ---------------------------------------------------------------------------------------
// MQTT 5.0 properties.

string_case!(
    USER_PROPERTY_NAME_ILL_FORMED, user_property_name_ill_formed,
    "string.user-property-name-ill-formed-utf8-refused",
    "5.0: a User Property name of ill-formed UTF-8 (in CONNECT, PUBLISH, SUBSCRIBE; at its start, middle or end) makes the packet malformed",
    only: V5,
    checks: [V5_1_5_7_1, V5_1_5_4_1],
    fault: LenientUserPropertyNameString,
    tags: [ToBroker, UserProperty],
    fields: [
        Field::UserPropertyName(Carrier::Connect),
        Field::UserPropertyName(Carrier::Publish),
        Field::UserPropertyName(Carrier::Subscribe),
    ],
    bads: ILL_FORMED
);

string_case!(
    USER_PROPERTY_NAME_NULL, user_property_name_null,
    "string.user-property-name-null-character-refused",
    "5.0: a User Property name holding U+0000 (in CONNECT, PUBLISH, SUBSCRIBE; at its start, middle or end) makes the packet malformed",
    only: V5,
    checks: [V5_1_5_7_1, V5_1_5_4_2],
    fault: LenientUserPropertyNameString,
    tags: [ToBroker, UserProperty],
    fields: [
        Field::UserPropertyName(Carrier::Connect),
        Field::UserPropertyName(Carrier::Publish),
        Field::UserPropertyName(Carrier::Subscribe),
    ],
    bads: NULL
);

string_case!(
    USER_PROPERTY_VALUE_ILL_FORMED, user_property_value_ill_formed,
    "string.user-property-value-ill-formed-utf8-refused",
    "5.0: a User Property value of ill-formed UTF-8 (in CONNECT, PUBLISH, SUBSCRIBE; at its start, middle or end) makes the packet malformed",
    only: V5,
    checks: [V5_1_5_7_1, V5_1_5_4_1],
    fault: LenientUserPropertyValueString,
    tags: [ToBroker, UserProperty],
    fields: [
        Field::UserPropertyValue(Carrier::Connect),
        Field::UserPropertyValue(Carrier::Publish),
        Field::UserPropertyValue(Carrier::Subscribe),
    ],
    bads: ILL_FORMED
);

string_case!(
    USER_PROPERTY_VALUE_NULL, user_property_value_null,
    "string.user-property-value-null-character-refused",
    "5.0: a User Property value holding U+0000 (in CONNECT, PUBLISH, SUBSCRIBE; at its start, middle or end) makes the packet malformed",
    only: V5,
    checks: [V5_1_5_7_1, V5_1_5_4_2],
    fault: LenientUserPropertyValueString,
    tags: [ToBroker, UserProperty],
    fields: [
        Field::UserPropertyValue(Carrier::Connect),
        Field::UserPropertyValue(Carrier::Publish),
        Field::UserPropertyValue(Carrier::Subscribe),
    ],
    bads: NULL
);

string_case!(
    RESPONSE_TOPIC_ILL_FORMED, response_topic_ill_formed,
    "string.response-topic-ill-formed-utf8-refused",
    "5.0: a PUBLISH whose Response Topic is ill-formed UTF-8 at its start, middle or end is refused by closing the connection",
    only: V5,
    checks: [V5_3_3_2_13, V5_1_5_4_1],
    fault: LenientResponseTopicString,
    tags: [ToBroker, RequestResponse],
    fields: [Field::ResponseTopic],
    bads: ILL_FORMED
);

string_case!(
    RESPONSE_TOPIC_NULL, response_topic_null,
    "string.response-topic-null-character-refused",
    "5.0: a PUBLISH whose Response Topic holds U+0000 at its start, middle or end is refused by closing the connection",
    only: V5,
    checks: [V5_3_3_2_13, V5_1_5_4_2],
    fault: LenientResponseTopicString,
    tags: [ToBroker, RequestResponse],
    fields: [Field::ResponseTopic],
    bads: NULL
);

string_case!(
    CONTENT_TYPE_ILL_FORMED, content_type_ill_formed,
    "string.content-type-ill-formed-utf8-refused",
    "5.0: a PUBLISH whose Content Type is ill-formed UTF-8 at its start, middle or end is refused by closing the connection",
    only: V5,
    checks: [V5_3_3_2_19, V5_1_5_4_1],
    fault: LenientContentTypeString,
    tags: [ToBroker, ContentType],
    fields: [Field::ContentType],
    bads: ILL_FORMED
);

string_case!(
    CONTENT_TYPE_NULL, content_type_null,
    "string.content-type-null-character-refused",
    "5.0: a PUBLISH whose Content Type holds U+0000 at its start, middle or end is refused by closing the connection",
    only: V5,
    checks: [V5_3_3_2_19, V5_1_5_4_2],
    fault: LenientContentTypeString,
    tags: [ToBroker, ContentType],
    fields: [Field::ContentType],
    bads: NULL
);

string_case!(
    REASON_STRING_ILL_FORMED, reason_string_ill_formed,
    "string.client-reason-string-ill-formed-utf8-refused",
    "5.0: a client's PUBREL whose Reason String is ill-formed UTF-8 at its start, middle or end is refused by closing the connection",
    only: V5,
    checks: [V5_1_5_4_1],
    fault: LenientReasonStringString,
    tags: [ToBroker, ReasonString],
    fields: [Field::ReasonString],
    bads: ILL_FORMED
);

string_case!(
    REASON_STRING_NULL, reason_string_null,
    "string.client-reason-string-null-character-refused",
    "5.0: a client's PUBREL whose Reason String holds U+0000 at its start, middle or end is refused by closing the connection",
    only: V5,
    checks: [V5_1_5_4_2],
    fault: LenientReasonStringString,
    tags: [ToBroker, ReasonString],
    fields: [Field::ReasonString],
    bads: NULL
);

// ---------------------------------------------------------------------------------------
// MQTT 5.0 Will Properties: strings the server keeps and sends on later, in the Will.

string_case!(
    WILL_PROPERTIES_ILL_FORMED, will_properties_ill_formed,
    "string.will-properties-ill-formed-utf8-refused",
    "5.0: a CONNECT whose Will Properties hold ill-formed UTF-8 in the Content Type, the Response Topic or a User Property name or value (at its start, middle or end) is refused",
    only: V5,
    checks: [V5_1_5_4_1, V5_1_5_7_1, V5_3_1_4_1],
    fault: LenientWillPropertiesString,
    also: [LenientUserPropertyNameString, LenientUserPropertyValueString],
    tags: [ToBroker, Will, ContentType, RequestResponse, UserProperty],
    fields: [
        Field::WillContentType,
        Field::WillResponseTopic,
        Field::WillUserPropertyName,
        Field::WillUserPropertyValue,
    ],
    bads: ILL_FORMED
);

string_case!(
    WILL_PROPERTIES_NULL, will_properties_null,
    "string.will-properties-null-character-refused",
    "5.0: a CONNECT whose Will Properties hold U+0000 in the Content Type, the Response Topic or a User Property name or value (at its start, middle or end) is refused",
    only: V5,
    checks: [V5_1_5_4_2, V5_1_5_7_1, V5_3_1_4_1],
    fault: LenientWillPropertiesString,
    also: [LenientUserPropertyNameString, LenientUserPropertyValueString],
    tags: [ToBroker, Will, ContentType, RequestResponse, UserProperty],
    fields: [
        Field::WillContentType,
        Field::WillResponseTopic,
        Field::WillUserPropertyName,
        Field::WillUserPropertyValue,
    ],
    bads: NULL
);

// ---------------------------------------------------------------------------------------
// U+FEFF kept (MQTT-1.5.4-3 / MQTT-1.5.3-3) in the CONNECT fields that name something: an
// identifier or a name with U+FEFF in it is another identifier or name than the one without.

/// U+FEFF, ZERO WIDTH NO-BREAK SPACE.
const BOM: &str = "\u{feff}";

/// `f` with the position it happened at put before what was expected.
fn at_position(mut f: Failure, what: &str, at: At) -> Failure {
    let step = format!("{what} with U+FEFF {}", at.name());
    f.0.expected = Some(match f.0.expected.take() {
        Some(e) => format!("{step}: {e}"),
        None => step,
    });
    f
}

case! {
    /// U+FEFF in a Client Identifier (at its start, middle or end) is kept: a connection with the same identifier without it is another client and takes nothing over
    CLIENT_ID_BOM_KEPT = "string.client-id-bom-kept",
    checks: [V5_1_5_4_3],
    faults: [StripBomFromClientId],
    tags: [ToBroker, ClientId, Session],
    run: client_id_bom_kept,
}

fn client_id_bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        for (i, at) in POSITIONS.into_iter().enumerate() {
            // At most 23 bytes with the three of U+FEFF.
            let mut plain = t.client_id(&format!("k{i}"));
            plain.truncate(20);
            let with = at.place(&plain, BOM);
            // A server may refuse an identifier beyond letters and digits (MQTT-3.1.3-5).
            let mut first = t
                .client(&format!("with{i}"))
                .client_id(&with)
                .as_setup(Precondition::ConnectOptions)
                .connect()
                .await?;
            first.alive().as_setup(Precondition::Ping).await?;
            let second = t
                .client(&format!("plain{i}"))
                .client_id(&plain)
                .connect()
                .await?;
            // Had U+FEFF been stripped, the second connection took the first one over.
            first
                .alive()
                .await
                .map_err(|f| f.statement(of_run!(&t, V5_1_5_4_3)))
                .map_err(|mut f| {
                    f.0.expected = Some(format!(
                        "Client Identifier with U+FEFF {}: the connection not taken over by one whose identifier lacks only the U+FEFF ({})",
                        at.name(),
                        f.0.expected.take().unwrap_or_default()
                    ));
                    f
                })?;
            t.absence_seen();
            // The control: the same identifier, U+FEFF included, does take the first over.
            let third = t
                .client(&format!("again{i}"))
                .client_id(&with)
                .connect()
                .await?;
            server_end(
                &t,
                &mut first,
                &[ReasonCode::SessionTakenOver],
                t.response_timeout(),
                mqttspec_harness::scenario::Role::CONTROL,
            )
            .await
            .map_err(|f| at_position(f, "a second connection with the identifier", at))?;
            let _ = second.disconnect().await;
            let _ = third.disconnect().await;
        }
        t.pass()
    })
}

case! {
    /// U+FEFF in a User Name (at its start, middle or end) is kept: with the known user's password it is refused like any other unknown User Name, not taken for the known one
    USER_NAME_BOM_KEPT = "string.user-name-bom-kept",
    checks: [V5_1_5_4_3],
    requires: [Credentials],
    faults: [StripBomFromUserName],
    tags: [ToBroker, Credentials],
    run: user_name_bom_kept,
}

/// The replies to a CONNECT whose credentials may be refused.
const CREDENTIAL_REPLIES: &[Reply] = &[
    Reply::ConnAck(ReasonCode::Success),
    Reply::ConnAckError,
    Reply::Closed,
];

fn user_name_bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let Some(credentials) = t.profile().credentials.clone() else {
            return t.unsupported("no [credentials] in the profile");
        };
        let user = credentials.username.clone();
        let password = credentials.password.clone().unwrap_or_default();
        connect_twin(t.client("c")).await?.disconnect().await?;
        for at in POSITIONS {
            // The control: the same User Name with a letter inserted instead of U+FEFF is an
            // unknown user; the broker must refuse it, else it lets any User Name in and the
            // case shows nothing.
            let (c, reply) = t
                .client("c")
                .credentials(&at.place(&user, "Q"), password.clone())
                .connect_expect(CREDENTIAL_REPLIES)
                .await?;
            if reply == Reply::ConnAck(ReasonCode::Success) {
                let _ = c.disconnect().await;
                return t.inconclusive(
                    Precondition::Control,
                    format!(
                        "the broker accepted the unknown User Name {:?} with the profile's password: it does not check User Names, so one with U+FEFF shows nothing",
                        at.place(&user, "Q")
                    ),
                );
            }
            t.control_seen();
            let with = at.place(&user, BOM);
            let (c, reply) = t
                .client("c")
                .credentials(&with, password.clone())
                .connect_expect(CREDENTIAL_REPLIES)
                .await?;
            if reply == Reply::ConnAck(ReasonCode::Success) {
                let _ = c.disconnect().await;
            }
            t.check(
                reply != Reply::ConnAck(ReasonCode::Success),
                "refused like any unknown User Name (U+FEFF makes it another name)",
                "accepted with the known user's password: U+FEFF was stripped or skipped",
            )
            .map_err(|f| f.statement(of_run!(&t, V5_1_5_4_3)))
            .map_err(|f| at_position(f, "the User Name", at))?;
            t.absence_seen();
        }
        t.pass()
    })
}
