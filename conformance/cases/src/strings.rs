//! UTF-8 Encoded Strings in every field a broker reads: ill-formed UTF-8 (a UTF-16
//! surrogate encoded in UTF-8, overlong forms, a byte that never occurs in UTF-8) and U+0000
//! make the packet malformed, whichever field carries them and wherever in the field they sit;
//! U+FEFF is a character like any other, kept where it is.
//!
//! One case per rule and field, each naming the fault that breaks the rule in that field
//! alone (`lenient-<field>-string`, `strip-bom-from-<field>`), so that `mqttspec trace
//! --depth` can show each field's case proven red on its own. Its steps put each bad sequence
//! at the start, in the middle and at the end of the field, each on its own connection, since
//! the broker must close it. Every step first has the well-formed twin accepted: the same
//! packet with a run of ASCII letters (the marker) where the bad bytes will go. The bad
//! packet is that twin, encoded, with the marker swapped for bad bytes of the same length, so
//! every length prefix stays right and nothing but the string's content differs.
//!
//! (A Response Topic with a wildcard is no string rule and not malformed: the server must not
//! send one on, which `forwarding.wildcard-response-topic-not-sent-on` checks.)
//!
//! Fields on an accepted connection (Topic Name, Topic Filters, User Properties, Response
//! Topic, Content Type, a client's Reason String) expect the close, in MQTT 5.0 preferably
//! after DISCONNECT (NON-STRICT without it); CONNECT fields (Client Identifier, Will Topic,
//! User Name, User Properties, and the Content Type, Response Topic and User Properties of
//! the Will Properties, one case each) expect the close without CONNACK in 3.1.1
//! (MQTT-3.1.4-1) and the close, possibly after a CONNACK with an error code, in 5.0.
//!
//! U+FEFF kept (MQTT-1.5.4-3 / MQTT-1.5.3-3), at the start, middle and end: a Client
//! Identifier or User Name with it names another client or user; a SUBSCRIBE filter with it
//! is another filter (the topic without it does not reach the subscription, the one with it
//! does, topic intact); an UNSUBSCRIBE filter with it does not end the subscription to the
//! filter without it; the Will is published to the Will Topic with it, and with its Content
//! Type, Response Topic and User Property as they came. Elsewhere: the Topic Name in
//! `topic.zero-width-no-break-space-kept`, the PUBLISH properties in
//! `publish.bom-kept-in-forwarded-properties`, the Authentication Method in
//! `auth.method-bom-kept`.
//!
//! The Authentication Method (5.0, where the profile says the broker offers SCRAM-SHA-256)
//! has its twin in the offered method itself, which starts its exchange; the bad CONNECT
//! names that method with the bad bytes put into it. A marker in the twin would make a
//! method no server offers, refused like the bad one. The limit of these two cases: a broker
//! that does not check the string refuses the bad CONNECT all the same, as an unknown method,
//! so only one that takes it (drops or skips the bad bytes and starts the exchange, or
//! accepts the CONNECT) is seen to fail.
//!
//! Not covered: U+FEFF in a client's Reason String. The server never sends a client's Reason
//! String on, nor acts on its content, so nothing it does can show whether it kept the U+FEFF.

use bytes::{Bytes, BytesMut};
use mqttspec_codec::{
    ConnectProperties, Delivery, Packet, PacketType, Properties, PropertyContext, PropertySet,
    Props, PubRel, Publish, QoS, ReasonCode, Subscribe, SubscriptionOptions, Unsubscribe,
    WillProperties,
};

use mqttspec_codec::RawPacket;

use super::support::{
    connect_twin, expect_connect_refused, expect_matches, expect_refused, of_run, packet_id,
    refusal_verdict, send_connect, server_end, text, topic_filter, topic_name, watcher, At,
    RawConnect, Refused, POSITIONS,
};
use mqttspec_harness::case;
use mqttspec_harness::client::Received;
use mqttspec_harness::scenario::{
    BoxFuture, CaseResult, Client, ClientBuilder, Ctx, Failure, Precondition, Reply, Role, Will,
};
use mqttspec_reference_broker::scram::{ScramClient, MECHANISM};

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
                    vec![(text(value, "User Property")?, text("v", "User Property")?)].into();
            }
            Field::UserPropertyValue(_) | Field::WillUserPropertyValue => {
                p.user_properties =
                    vec![(text("k", "User Property")?, text(value, "User Property")?)].into();
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
     checks: [$($s:ident),+ $(,)?], fault: $fault:ident,
     tags: [$($tag:ident),* $(,)?],
     fields: [$($field:expr),+ $(,)?], bads: $bads:expr) => {
        case! {
            #[doc = $title]
            $name = $id,
            checks: [$($s),+],
            only: $only,
            faults: [$fault],
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
// MQTT 5.0 Will Properties: strings the server keeps and sends on later, in the Will. One
// case per field, each with the fault of that field alone.

string_case!(
    WILL_CONTENT_TYPE_ILL_FORMED, will_content_type_ill_formed,
    "string.will-content-type-ill-formed-utf8-refused",
    "5.0: a CONNECT whose Will Properties' Content Type is ill-formed UTF-8 at its start, middle or end is refused",
    only: V5,
    checks: [V5_1_5_4_1, V5_3_1_4_1],
    fault: LenientWillContentTypeString,
    tags: [ToBroker, Will, ContentType],
    fields: [Field::WillContentType],
    bads: ILL_FORMED
);

string_case!(
    WILL_CONTENT_TYPE_NULL, will_content_type_null,
    "string.will-content-type-null-character-refused",
    "5.0: a CONNECT whose Will Properties' Content Type holds U+0000 at its start, middle or end is refused",
    only: V5,
    checks: [V5_1_5_4_2, V5_3_1_4_1],
    fault: LenientWillContentTypeString,
    tags: [ToBroker, Will, ContentType],
    fields: [Field::WillContentType],
    bads: NULL
);

string_case!(
    WILL_RESPONSE_TOPIC_ILL_FORMED, will_response_topic_ill_formed,
    "string.will-response-topic-ill-formed-utf8-refused",
    "5.0: a CONNECT whose Will Properties' Response Topic is ill-formed UTF-8 at its start, middle or end is refused",
    only: V5,
    checks: [V5_1_5_4_1, V5_3_1_4_1],
    fault: LenientWillResponseTopicString,
    tags: [ToBroker, Will, RequestResponse],
    fields: [Field::WillResponseTopic],
    bads: ILL_FORMED
);

string_case!(
    WILL_RESPONSE_TOPIC_NULL, will_response_topic_null,
    "string.will-response-topic-null-character-refused",
    "5.0: a CONNECT whose Will Properties' Response Topic holds U+0000 at its start, middle or end is refused",
    only: V5,
    checks: [V5_1_5_4_2, V5_3_1_4_1],
    fault: LenientWillResponseTopicString,
    tags: [ToBroker, Will, RequestResponse],
    fields: [Field::WillResponseTopic],
    bads: NULL
);

string_case!(
    WILL_USER_PROPERTY_ILL_FORMED, will_user_property_ill_formed,
    "string.will-user-property-ill-formed-utf8-refused",
    "5.0: a CONNECT whose Will Properties hold a User Property name or value of ill-formed UTF-8 (at its start, middle or end) is refused",
    only: V5,
    checks: [V5_1_5_4_1, V5_1_5_7_1, V5_3_1_4_1],
    fault: LenientWillUserPropertyString,
    tags: [ToBroker, Will, UserProperty],
    fields: [Field::WillUserPropertyName, Field::WillUserPropertyValue],
    bads: ILL_FORMED
);

string_case!(
    WILL_USER_PROPERTY_NULL, will_user_property_null,
    "string.will-user-property-null-character-refused",
    "5.0: a CONNECT whose Will Properties hold a User Property name or value with U+0000 (at its start, middle or end) is refused",
    only: V5,
    checks: [V5_1_5_4_2, V5_1_5_7_1, V5_3_1_4_1],
    fault: LenientWillUserPropertyString,
    tags: [ToBroker, Will, UserProperty],
    fields: [Field::WillUserPropertyName, Field::WillUserPropertyValue],
    bads: NULL
);

// ---------------------------------------------------------------------------------------
// MQTT 5.0 Authentication Method: the twin is the method the broker offers, starting its
// exchange; the bad CONNECT is the same with the bad bytes put into the method's name. A
// broker that does not check the string refuses it all the same, as an unknown method, so
// only a broker that takes it (starts the exchange, or accepts the CONNECT: it dropped or
// skipped the bad bytes) is seen to fail.

/// CONNECT properties starting SCRAM-SHA-256 for the profile's user, naming `method`.
fn scram_start(t: &Ctx, name: &str, method: &str) -> Result<ConnectProperties, Failure> {
    let credentials = t
        .profile()
        .credentials
        .as_ref()
        .ok_or_else(|| Failure::error("the profile gives no credentials"))?;
    let nonce = format!("mqttspec{}", t.client_id(name));
    let scram = ScramClient::new(
        &credentials.username,
        credentials.password.as_deref().unwrap_or_default(),
        &nonce,
    )
    .map_err(|e| Failure::error(format!("case error: SCRAM client: {e}")))?;
    Ok(ConnectProperties {
        authentication_method: Some(text(method, "Authentication Method")?),
        authentication_data: Some(Bytes::from(scram.client_first())),
        ..ConnectProperties::default()
    })
}

/// The steps of an Authentication Method case: the twin (the offered method starts its
/// exchange, or the CONNECT is accepted), then for each position and bad sequence the
/// CONNECT with the bad bytes in the method must be refused.
async fn auth_method_refused(t: Ctx, bads: &[Bad]) -> CaseResult {
    let builder = t.client("twin").no_credentials();
    let mut twin = send_connect(builder.properties(scram_start(&t, "twin", MECHANISM)?)).await?;
    match twin.recv(t.response_timeout()).await {
        Received::Packet(Packet::Auth(_)) => {}
        Received::Packet(Packet::ConnAck(ack)) if !ack.reason_code.is_error() => {}
        other => {
            return t.inconclusive(
                Precondition::Twin,
                format!(
                    "a CONNECT starting {MECHANISM} for the profile's user was answered by {}",
                    other.describe(t.protocol())
                ),
            )
        }
    }
    t.succeeded(Role::TWIN);
    drop(twin);
    for at in POSITIONS {
        for bad in bads {
            let mut bytes = None;
            for marker in markers(bad.bytes.len()) {
                let method = at.place(MECHANISM, &marker);
                let builder = t.client("bad").no_credentials();
                let connect = builder
                    .properties(scram_start(&t, "bad", &method)?)
                    .connect_packet()?;
                bytes = spoil(&t, &Packet::Connect(Box::new(connect)), &marker, bad.bytes)?;
                if bytes.is_some() {
                    break;
                }
            }
            let bytes = bytes.ok_or_else(|| {
                Failure::error("case error: no marker occurs exactly once in the packet")
            })?;
            expect_connect_refused(&t, "bad", bytes, false)
                .await
                .map_err(|mut f| {
                    let step = format!(
                        "the Authentication Method {MECHANISM} with {} {}",
                        bad.what,
                        at.name()
                    );
                    f.0.expected = Some(match f.0.expected.take() {
                        Some(e) => format!("{step}: {e}"),
                        None => step,
                    });
                    f
                })?;
        }
    }
    t.pass()
}

case! {
    /// 5.0: a CONNECT starting an offered Authentication Method, with ill-formed UTF-8 put at the start, middle or end of the method's name, is refused
    AUTH_METHOD_ILL_FORMED = "string.auth-method-ill-formed-utf8-refused",
    checks: [V5_1_5_4_1, V5_3_1_4_1],
    only: V5,
    requires: [EnhancedAuth(MECHANISM), Credentials],
    faults: [LenientAuthMethodString],
    tags: [ToBroker, Auth],
    run: auth_method_ill_formed,
}

fn auth_method_ill_formed(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(auth_method_refused(t, ILL_FORMED))
}

case! {
    /// 5.0: a CONNECT starting an offered Authentication Method, with U+0000 put at the start, middle or end of the method's name, is refused
    AUTH_METHOD_NULL = "string.auth-method-null-character-refused",
    checks: [V5_1_5_4_2, V5_3_1_4_1],
    only: V5,
    requires: [EnhancedAuth(MECHANISM), Credentials],
    faults: [LenientAuthMethodString],
    tags: [ToBroker, Auth],
    run: auth_method_null,
}

fn auth_method_null(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(auth_method_refused(t, NULL))
}

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

// ---------------------------------------------------------------------------------------
// U+FEFF kept in the Topic Filters and the Will: a filter or topic with U+FEFF in it is
// another filter or topic than the one without, and what the Will carries is published as
// it came.

/// `base` with U+FEFF `at` its place, for each position (with the position).
fn with_bom(base: impl Fn(usize) -> String) -> Vec<(At, String, String)> {
    POSITIONS
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            let plain = base(i);
            (at, at.place(&plain, BOM), plain)
        })
        .collect()
}

case! {
    /// U+FEFF in a SUBSCRIBE's Topic Filter (at its start, middle or end) is kept: the subscription gets the messages of the topic with U+FEFF, topic intact, and none of the topic without it
    SUBSCRIBE_FILTER_BOM_KEPT = "string.subscribe-filter-bom-kept",
    checks: [V5_1_5_4_3, V5_4_7_3_4],
    faults: [StripBomFromSubscribeFilter],
    tags: [Live, TopicFilter],
    run: subscribe_filter_bom_kept,
}

fn subscribe_filter_bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut sub = t.client("sub").connect().await?;
        let mut publisher = t.client("pub").connect().await?;
        for (at, with, plain) in with_bom(|i| t.topic(&format!("sf{i}"))) {
            sub.subscribe(&with).await?;
            expect_matches(
                &mut publisher,
                &mut sub,
                &[(&plain, false), (&with, true)],
                &with,
            )
            .await
            .map_err(|f| at_position(f, "the Topic Filter", at))?;
        }
        t.pass()
    })
}

case! {
    /// U+FEFF in an UNSUBSCRIBE's Topic Filter (at its start, middle or end) is kept: it does not end the subscription to the same filter without U+FEFF
    UNSUBSCRIBE_FILTER_BOM_KEPT = "string.unsubscribe-filter-bom-kept",
    checks: [V5_1_5_4_3, V5_3_10_4_1, V5_3_10_4_5],
    faults: [StripBomFromUnsubscribeFilter],
    tags: [Live, TopicFilter],
    run: unsubscribe_filter_bom_kept,
}

fn unsubscribe_filter_bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut sub = t.client("sub").connect().await?;
        let mut publisher = t.client("pub").connect().await?;
        for (at, with, plain) in with_bom(|i| t.topic(&format!("uf{i}"))) {
            sub.subscribe(&plain).qos(1).await?;
            // No subscription has this filter: it is answered all the same (MQTT-3.10.4-5;
            // UNSUBACK 0x11 in 5.0, any UNSUBACK in 3.1.1).
            sub.unsubscribe(&with)
                .as_check()
                .await
                .map_err(|f| f.statement(of_run!(&t, V5_3_10_4_5)))?;
            publisher.publish(&plain).qos(1).payload("still").await?;
            sub.expect_publish()
                .topic(&plain)
                .payload("still")
                .await
                .map_err(|f| f.statement(of_run!(&t, V5_1_5_4_3)))
                .map_err(|f| at_position(f, "an UNSUBSCRIBE's Topic Filter", at))?;
        }
        t.pass()
    })
}

case! {
    /// U+FEFF in a Will Topic (at its start, middle or end) is kept: the Will is published to the topic with U+FEFF, not to the one without
    WILL_TOPIC_BOM_KEPT = "string.will-topic-bom-kept",
    checks: [V5_1_5_4_3],
    faults: [StripBomFromWillTopic],
    tags: [Will, WillTopic, FromBroker],
    run: will_topic_bom_kept,
}

fn will_topic_bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        for (i, (at, with, plain)) in with_bom(|i| t.topic(&format!("wt{i}")))
            .into_iter()
            .enumerate()
        {
            let mut watch = watcher(&t, &format!("watch{i}"), &with, 0).await?;
            watch.subscribe(&plain).await?;
            let payload = format!("will {i}");
            let c = t
                .client(&format!("c{i}"))
                .will(Will::new(&with, &payload))
                .as_setup(Precondition::ConnectOptions)
                .connect()
                .await?;
            c.drop_connection();
            // Its delivery sets the case up; its topic is what is checked.
            let got = watch
                .expect_publish()
                .payload(&payload)
                .as_setup(Precondition::WillDelivery)
                .await?;
            t.check_eq("Will Topic", with.as_str(), got.topic.as_str())
                .map_err(|f| f.statement(of_run!(&t, V5_1_5_4_3)))
                .map_err(|f| at_position(f, "the Will Topic", at))?;
        }
        t.pass()
    })
}

case! {
    /// 5.0: U+FEFF in the Will Properties' Content Type, Response Topic and User Property (at their start, middle or end) is kept: the Will is published with them intact
    WILL_PROPERTIES_BOM_KEPT = "string.will-properties-bom-kept",
    checks: [V5_1_5_4_3],
    only: V5,
    faults: [
        StripBomFromWillContentType,
        StripBomFromWillResponseTopic,
        StripBomFromWillUserProperty,
    ],
    tags: [Will, ContentType, RequestResponse, UserProperty, FromBroker],
    run: will_properties_bom_kept,
}

fn will_properties_bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        for (i, at) in POSITIONS.into_iter().enumerate() {
            let topic = t.topic(&format!("wp{i}"));
            let mut watch = watcher(&t, &format!("watch{i}"), &topic, 0).await?;
            let properties = WillProperties {
                content_type: Some(text(&at.place("text/plain", BOM), "Content Type")?),
                response_topic: Some(topic_name(&at.place(&t.topic("reply"), BOM))?),
                user_properties: vec![(
                    text(&at.place("key", BOM), "User Property")?,
                    text(&at.place("value", BOM), "User Property")?,
                )]
                .into(),
                ..WillProperties::default()
            };
            let payload = format!("will {i}");
            let c = t
                .client(&format!("c{i}"))
                .will(Will::new(&topic, &payload).properties(properties.clone()))
                .connect()
                .await?;
            c.drop_connection();
            let got = watch
                .expect_publish()
                .topic(&topic)
                .payload(&payload)
                .as_setup(Precondition::WillDelivery)
                .await?;
            let checks = [
                t.check_eq(
                    "Content Type",
                    &properties.content_type,
                    &got.properties.content_type,
                ),
                t.check_eq(
                    "Response Topic",
                    &properties.response_topic,
                    &got.properties.response_topic,
                ),
                t.check_eq(
                    "User Properties",
                    &properties.user_properties,
                    &got.properties.user_properties,
                ),
            ];
            for check in checks {
                check.map_err(|f| at_position(f, "the Will Properties", at))?;
            }
        }
        t.pass()
    })
}
