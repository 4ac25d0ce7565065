//! Topic Names and Topic Filters: how `#` and `+` match, that levels, case and U+FEFF are
//! compared exactly, that filters starting with a wildcard skip `$` topics, and that badly
//! formed filters and Topic Names with wildcards are refused.
//!
//! Negative checks watch a quiet period and end with a positive control: a message the
//! subscription does match, published after the quiet period, must be the next to arrive.
//! Refusals follow the well-formed twin (the same packet, the offending field corrected)
//! accepted on the same connection.

use super::support::{
    expect_matches, expect_next, expect_refused, raw_publish, raw_subscribe, refusal_verdict,
    Refused, QUIET,
};
use mqttspec_harness::case;
use mqttspec_harness::scenario::{BoxFuture, CaseResult, Ctx, Precondition};

// ---------------------------------------------------------------------------------------

case! {
    /// A filter ending in '/#' matches its parent level and every level below it, and nothing else
    MULTI_LEVEL_WILDCARD = "topic.multi-level-wildcard-matches-parent-and-descendants",
    checks: [V5_4_7_1_1, V5_4_5_0_1, V5_3_3_2_3],
    requires: [Wildcards],
    faults: [HashExcludesParent],
    tags: [Live, FromBroker, TopicFilter],
    run: multi_level_wildcard,
}

fn multi_level_wildcard(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let sport = t.topic("sport");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(format!("{sport}/#")).await?;
        let mut publisher = t.client("pub").connect().await?;
        let (player, ranking, sports, other) = (
            format!("{sport}/tennis/player1"),
            format!("{sport}/tennis/player1/ranking"),
            t.topic("sports"),
            t.topic("other/sport"),
        );
        expect_matches(
            &mut publisher,
            &mut sub,
            &[
                (&sport, true),
                (&player, true),
                (&ranking, true),
                (&sports, false),
                (&other, false),
            ],
            &format!("{sport}/end"),
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A '+' level matches exactly one topic level, an empty one included, and never zero or two
    SINGLE_LEVEL_WILDCARD = "topic.single-level-wildcard-matches-exactly-one-level",
    checks: [V5_4_7_1_2, V5_4_5_0_1, V5_3_3_2_3],
    requires: [Wildcards],
    faults: [PlusSkipsEmptyLevels],
    tags: [Live, FromBroker, TopicFilter],
    run: single_level_wildcard,
}

fn single_level_wildcard(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let w = t.topic("w");
        let mut sub = t.client("sub").connect().await?;
        // Two filters that no topic matches both of (they differ in the number of levels).
        sub.subscribe(format!("{w}/+/x"))
            .and(format!("{w}/+"))
            .await?;
        let mut publisher = t.client("pub").connect().await?;
        let (one, empty, trailing, two, parent) = (
            format!("{w}/a/x"),
            format!("{w}//x"),
            format!("{w}/"),
            format!("{w}/a/b/x"),
            w.clone(),
        );
        expect_matches(
            &mut publisher,
            &mut sub,
            &[
                (&one, true),
                (&empty, true),
                (&trailing, true),
                (&two, false),
                (&parent, false),
            ],
            &format!("{w}/end"),
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Leading, trailing and doubled '/' make distinct topics: a filter matches only its exact levels
    LEVELS_NOT_NORMALISED = "topic.levels-compared-without-normalisation",
    checks: [V5_4_7_3_4, V5_3_3_2_3],
    faults: [NormaliseTopicNames],
    tags: [Live, TopicName, TopicFilter],
    run: levels_not_normalised,
}

fn levels_not_normalised(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let exact = t.topic("a/b");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&exact).await?;
        let mut publisher = t.client("pub").connect().await?;
        let (doubled, trailing, leading) = (t.topic("a//b"), t.topic("a/b/"), format!("/{exact}"));
        expect_matches(
            &mut publisher,
            &mut sub,
            &[
                (&doubled, false),
                (&trailing, false),
                (&leading, false),
                (&exact, true),
            ],
            &exact,
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Topic Names differing only in letter case are different topics (spaces are ordinary characters)
    CASE_SENSITIVE = "topic.names-are-case-sensitive",
    checks: [V5_4_7_3_4, V5_3_3_2_3],
    faults: [NormaliseTopicNames],
    tags: [Live, TopicName, TopicFilter],
    run: case_sensitive,
}

fn case_sensitive(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let exact = t.topic("Accounts payable");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&exact).await?;
        let mut publisher = t.client("pub").connect().await?;
        let (upper, lower) = (t.topic("ACCOUNTS payable"), t.topic("accounts payable"));
        expect_matches(
            &mut publisher,
            &mut sub,
            &[(&upper, false), (&lower, false), (&exact, true)],
            &exact,
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// U+FEFF in a Topic Name (at its start, middle or end) is an ordinary character: kept intact and matched exactly
    BOM_KEPT = "topic.zero-width-no-break-space-kept",
    checks: [V5_1_5_4_3, V5_4_7_3_4],
    faults: [NormaliseTopicNames, StripBomFromTopicName],
    tags: [Live, TopicName],
    run: bom_kept,
}

fn bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut sub = t.client("sub").connect().await?;
        let mut publisher = t.client("pub").connect().await?;
        let (start, middle, end) = (t.topic("b0"), t.topic("b1"), t.topic("b2"));
        let cases = [
            (format!("\u{feff}{start}"), start),
            (t.topic("b\u{feff}1"), middle),
            (format!("{end}\u{feff}"), end),
        ];
        for (with, without) in &cases {
            sub.subscribe(with).await?;
            // The Topic Name received must carry the EF BB BF bytes.
            expect_matches(
                &mut publisher,
                &mut sub,
                &[(without, false), (with, true)],
                with,
            )
            .await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// Filters starting with '+' do not match Topic Names starting with '$'; a literal '$' filter does
    DOLLAR_TOPICS = "topic.dollar-topics-not-matched-by-leading-wildcards",
    checks: [V5_4_7_2_1],
    requires: [Wildcards, QoS1],
    faults: [MatchDollarTopics],
    tags: [Live, FromBroker, TopicFilter, TopicName],
    run: dollar_topics,
}

fn dollar_topics(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let plain = t.topic("d");
        let dollar = format!("${plain}");
        let Some((_, rest)) = plain.split_once('/') else {
            return t.error("the topic prefix has no level separator");
        };
        let Some(dir) = rest.strip_suffix('d') else {
            return t.error("unexpected topic shape");
        };
        let mut literal = t.client("literal").connect().await?;
        literal.subscribe(&dollar).await?;
        let mut plus = t.client("plus").connect().await?;
        plus.subscribe(format!("+/{rest}")).await?;
        let mut hash = t.client("hash").connect().await?;
        hash.subscribe(format!("+/{dir}#")).await?;
        let mut publisher = t.client("pub").connect().await?;
        let sent = publisher
            .publish(&dollar)
            .qos(1)
            .payload("dollar")
            .any_reason()
            .await?;
        if sent.reason_code.is_error() {
            return t.informational(format!(
                "the broker refused a PUBLISH to a '$' topic ({:?})",
                sent.reason_code
            ));
        }
        // Setup: the broker does route client messages on this '$' topic (a broker that
        // keeps '$' topics to itself leaves the case INCONCLUSIVE).
        literal
            .expect_publish()
            .topic(&dollar)
            .payload("dollar")
            .as_setup(Precondition::UnusualTopic)
            .await?;
        for sub in [&mut plus, &mut hash] {
            sub.expect_no_publish().for_(QUIET).await?;
        }
        // The control: a topic both wildcard filters match, published after the quiet
        // periods.
        publisher
            .publish(&plain)
            .qos(1)
            .payload("plain")
            .as_control()
            .await?;
        for sub in [&mut plus, &mut hash] {
            expect_next(
                sub,
                Precondition::Control,
                &plain,
                "plain",
                "no message on the '$' topic for a filter starting with '+'",
            )
            .await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

/// For each (invalid filter, its well-formed twin) pair, on a connection of its own:
/// subscribes to the twin (it must be granted), then sends the invalid filter in the same
/// SUBSCRIBE and collects how the broker refused it; a SUBACK with failure codes is allowed
/// when `suback_ok`.
async fn refuse_each(t: &Ctx, filters: &[(Vec<u8>, String)], suback_ok: bool) -> CaseResult {
    let mut refusals: Vec<Refused> = Vec::new();
    for (i, (bad, twin)) in filters.iter().enumerate() {
        let mut c = t.client(&format!("c{i}")).connect().await?;
        c.subscribe(twin).as_twin().await?;
        c.send_raw(raw_subscribe(t, 0x82, 11, &[], &[(bad, 0)]))
            .await?;
        refusals.push(expect_refused(t, &mut c, suback_ok.then_some(11)).await?);
    }
    refusal_verdict(t, &refusals)
}

/// The twin of an invalid filter: `wild` (the wildcard put right) when the broker offers
/// wildcard subscriptions, else `plain` (without the wildcard).
fn twin(t: &Ctx, wild: &str, plain: &str) -> String {
    if t.capabilities().wildcard_subscription_available {
        t.topic(wild)
    } else {
        t.topic(plain)
    }
}

// ---------------------------------------------------------------------------------------

case! {
    /// A filter with '#' not alone in its last level (a/#/b, a/b#) is refused: SUBACK failure or the connection closed
    FILTER_MISPLACED_HASH = "topic.filter-with-misplaced-multi-level-wildcard-refused",
    checks: [V5_4_7_1_1, V5_4_13_1_1],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: filter_misplaced_hash,
}

fn filter_misplaced_hash(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filters = [
            (t.topic("a/#/b").into_bytes(), twin(&t, "a/+/b", "a/b")),
            (t.topic("a/b#").into_bytes(), twin(&t, "a/b/#", "a/b")),
        ];
        refuse_each(&t, &filters, true).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A filter with '+' sharing a level with other characters (a+, a/+b/c) is refused: SUBACK failure or the connection closed
    FILTER_PARTIAL_PLUS = "topic.filter-with-partial-single-level-wildcard-refused",
    checks: [V5_4_7_1_2, V5_4_13_1_1],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: filter_partial_plus,
}

fn filter_partial_plus(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filters = [
            (t.topic("a+").into_bytes(), twin(&t, "a/+", "a")),
            (t.topic("a/+b/c").into_bytes(), twin(&t, "a/+/c", "a/b/c")),
        ];
        refuse_each(&t, &filters, true).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A zero-length Topic Filter is refused: SUBACK failure or the connection closed
    FILTER_EMPTY = "topic.empty-filter-refused",
    checks: [V5_4_7_3_1, V5_4_13_1_1],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: filter_empty,
}

fn filter_empty(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { refuse_each(&t, &[(Vec::new(), t.topic("e"))], true).await })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A Topic Filter containing U+0000 makes the packet malformed: the connection is closed
    FILTER_NULL_CHARACTER = "topic.filter-with-null-character-refused",
    checks: [V5_4_7_3_2, V5_1_5_4_2, V5_4_13_1_1, V311_4_7_3_2, V311_1_5_3_2],
    faults: [IgnoreMalformedSubscribe],
    tags: [ToBroker, TopicFilter],
    run: filter_null_character,
}

fn filter_null_character(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filter = t.topic("a\u{0}b").into_bytes();
        refuse_each(&t, &[(filter, t.topic("ab"))], false).await
    })
}

// ---------------------------------------------------------------------------------------

case! {
    /// A PUBLISH whose Topic Name contains '+' or '#' is refused by closing the connection, never acknowledged
    NAME_WITH_WILDCARD = "topic.name-with-wildcard-refused",
    checks: [V5_3_3_2_2, V5_4_7_0_1, V5_4_13_1_1],
    requires: [QoS1],
    faults: [IgnoreMalformedPublish],
    tags: [ToBroker, TopicName],
    run: name_with_wildcard,
}

fn name_with_wildcard(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut refusals = Vec::new();
        for (i, (name, twin)) in [("a/+", "a/x"), ("a/#", "a/y")].iter().enumerate() {
            let mut c = t.client(&format!("c{i}")).connect().await?;
            // The twin: the same PUBLISH on a Topic Name without the wildcard, acknowledged.
            c.publish(t.topic(twin))
                .qos(1)
                .payload("x")
                .as_twin()
                .await?;
            // QoS 1, so that accepting it shows as a PUBACK.
            c.send_raw(raw_publish(&t, 0b0010, &t.topic(name), Some(5), &[], b"x"))
                .await?;
            refusals.push(expect_refused(&t, &mut c, None).await?);
        }
        refusal_verdict(&t, &refusals)
    })
}
