//! Topic Names and Topic Filters: how `#` and `+` match, that levels, case and U+FEFF are
//! compared exactly, that filters starting with a wildcard skip `$` topics, and that badly
//! formed filters and Topic Names with wildcards are refused.
//!
//! Negative checks end with a "sentinel" message the subscription does match: the broker has
//! handled everything published before it, so a wrong delivery shows up first.

use mqttspec_codec::{RawPacket, StatementId as S};

use super::subscribe::{expect_refused, raw_subscribe, refusal_verdict, Refused, QUIET};
use crate::scenario::{BoxFuture, Capability, Case, CaseResult, Client, Ctx, Failure, Protocols};

/// The cases of this module.
pub fn cases() -> Vec<Case> {
    vec![
        MULTI_LEVEL_WILDCARD,
        SINGLE_LEVEL_WILDCARD,
        LEVELS_NOT_NORMALISED,
        CASE_SENSITIVE,
        BOM_KEPT,
        DOLLAR_TOPICS,
        FILTER_MISPLACED_HASH,
        FILTER_PARTIAL_PLUS,
        FILTER_EMPTY,
        FILTER_NULL_CHARACTER,
        NAME_WITH_WILDCARD,
    ]
}

/// Publishes each of `topics` (QoS 0, payload = the topic's last part) in order, then
/// `sentinel`; `sub` must receive exactly `wanted` (in order) and then the sentinel.
async fn expect_matches(
    t: &Ctx,
    publisher: &mut Client,
    sub: &mut Client,
    topics: &[(&str, bool)],
    sentinel: &str,
) -> Result<(), Failure> {
    for (topic, matches) in topics {
        publisher.publish(*topic).payload(topic.as_bytes()).await?;
        if *matches {
            sub.expect_publish()
                .topic(*topic)
                .payload(topic.as_bytes())
                .await?;
        }
    }
    publisher.publish(sentinel).payload("sentinel").await?;
    sub.expect_publish()
        .topic(sentinel)
        .payload("sentinel")
        .await?;
    sub.expect_no_publish().for_(QUIET).await?;
    t.checked();
    Ok(())
}

// ---------------------------------------------------------------------------------------

const MULTI_LEVEL_WILDCARD: Case = Case {
    id: "topic.multi-level-wildcard-matches-parent-and-descendants",
    title: "A filter ending in '/#' matches its parent level and every level below it, and nothing else",
    area: "Topic Names and Filters",
    statements: &[
        S::V5_4_7_1_1,
        S::V5_4_5_0_1,
        S::V5_3_3_2_3,
        S::V311_4_7_1_2,
        S::V311_4_5_0_1,
        S::V311_3_3_2_3,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::Wildcards],
    faults: &["hash-excludes-parent"],
    unfaultable: None,
    run: multi_level_wildcard,
};

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
            &t,
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

const SINGLE_LEVEL_WILDCARD: Case = Case {
    id: "topic.single-level-wildcard-matches-exactly-one-level",
    title:
        "A '+' level matches exactly one topic level, an empty one included, and never zero or two",
    area: "Topic Names and Filters",
    statements: &[
        S::V5_4_7_1_2,
        S::V5_4_5_0_1,
        S::V5_3_3_2_3,
        S::V311_4_7_1_3,
        S::V311_4_5_0_1,
        S::V311_3_3_2_3,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::Wildcards],
    faults: &["plus-skips-empty-levels"],
    unfaultable: None,
    run: single_level_wildcard,
};

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
            &t,
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

const LEVELS_NOT_NORMALISED: Case = Case {
    id: "topic.levels-compared-without-normalisation",
    title: "Leading, trailing and doubled '/' make distinct topics: a filter matches only its exact levels",
    area: "Topic Names and Filters",
    statements: &[S::V5_4_7_3_4, S::V5_3_3_2_3, S::V311_4_7_3_4, S::V311_3_3_2_3],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["normalise-topic-names"],
    unfaultable: None,
    run: levels_not_normalised,
};

fn levels_not_normalised(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let exact = t.topic("a/b");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&exact).await?;
        let mut publisher = t.client("pub").connect().await?;
        let (doubled, trailing, leading) = (t.topic("a//b"), t.topic("a/b/"), format!("/{exact}"));
        expect_matches(
            &t,
            &mut publisher,
            &mut sub,
            &[(&doubled, false), (&trailing, false), (&leading, false)],
            &exact,
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const CASE_SENSITIVE: Case = Case {
    id: "topic.names-are-case-sensitive",
    title: "Topic Names differing only in letter case are different topics (spaces are ordinary characters)",
    area: "Topic Names and Filters",
    statements: &[S::V5_4_7_3_4, S::V5_3_3_2_3, S::V311_4_7_3_4, S::V311_3_3_2_3],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["normalise-topic-names"],
    unfaultable: None,
    run: case_sensitive,
};

fn case_sensitive(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let exact = t.topic("Accounts payable");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&exact).await?;
        let mut publisher = t.client("pub").connect().await?;
        let (upper, lower) = (t.topic("ACCOUNTS payable"), t.topic("accounts payable"));
        expect_matches(
            &t,
            &mut publisher,
            &mut sub,
            &[(&upper, false), (&lower, false)],
            &exact,
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const BOM_KEPT: Case = Case {
    id: "topic.zero-width-no-break-space-kept",
    title: "U+FEFF in a Topic Name is an ordinary character: kept intact and matched exactly",
    area: "Data Representation",
    statements: &[
        S::V5_1_5_4_3,
        S::V5_4_7_3_4,
        S::V311_1_5_3_3,
        S::V311_4_7_3_4,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["normalise-topic-names"],
    unfaultable: None,
    run: bom_kept,
};

fn bom_kept(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let with = t.topic("\u{feff}bom");
        let without = t.topic("bom");
        let mut sub = t.client("sub").connect().await?;
        sub.subscribe(&with).await?;
        let mut publisher = t.client("pub").connect().await?;
        // The Topic Name received must carry the EF BB BF bytes.
        expect_matches(
            &t,
            &mut publisher,
            &mut sub,
            &[(&without, false), (&with, true)],
            &with,
        )
        .await?;
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

const DOLLAR_TOPICS: Case = Case {
    id: "topic.dollar-topics-not-matched-by-leading-wildcards",
    title: "Filters starting with '+' or '#' do not match Topic Names starting with '$'; a literal '$' filter does",
    area: "Topic Names and Filters",
    statements: &[S::V5_4_7_2_1, S::V311_4_7_2_1],
    protocols: Protocols::Both,
    requires: &[Capability::Wildcards, Capability::QoS1],
    faults: &["match-dollar-topics"],
    unfaultable: None,
    run: dollar_topics,
};

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
        if literal
            .expect_publish()
            .topic(&dollar)
            .payload("dollar")
            .await
            .is_err()
        {
            return t
                .informational("the broker does not let clients exchange messages on a '$' topic");
        }
        publisher.publish(&plain).qos(1).payload("plain").await?;
        for sub in [&mut plus, &mut hash] {
            sub.expect_publish().topic(&plain).payload("plain").await?;
            sub.expect_no_publish().for_(QUIET).await?;
        }
        t.pass()
    })
}

// ---------------------------------------------------------------------------------------

/// Subscribes to each of `filters` on its own connection (each is invalid) and collects how
/// the broker refused them; a SUBACK with failure codes is allowed when `suback_ok`.
async fn refuse_each(t: &Ctx, filters: &[Vec<u8>], suback_ok: bool) -> CaseResult {
    let mut refusals: Vec<Refused> = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        let mut c = t.client(&format!("c{i}")).connect().await?;
        c.send_raw(raw_subscribe(t.is_v5(), 0x82, 11, &[(filter, 0)]))
            .await?;
        refusals.push(expect_refused(t, &mut c, suback_ok.then_some(11)).await?);
    }
    refusal_verdict(t, &refusals)
}

// ---------------------------------------------------------------------------------------

const FILTER_MISPLACED_HASH: Case = Case {
    id: "topic.filter-with-misplaced-multi-level-wildcard-refused",
    title: "A filter with '#' not alone in its last level (a/#/b, a/b#) is refused: SUBACK failure or the connection closed",
    area: "Topic Names and Filters",
    statements: &[S::V5_4_7_1_1, S::V5_4_13_1_1, S::V311_4_7_1_2, S::V311_4_8_0_1],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-malformed-subscribe"],
    unfaultable: None,
    run: filter_misplaced_hash,
};

fn filter_misplaced_hash(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filters = [t.topic("a/#/b"), t.topic("a/b#")].map(String::into_bytes);
        refuse_each(&t, &filters, true).await
    })
}

// ---------------------------------------------------------------------------------------

const FILTER_PARTIAL_PLUS: Case = Case {
    id: "topic.filter-with-partial-single-level-wildcard-refused",
    title: "A filter with '+' sharing a level with other characters (a+, a/+b/c) is refused: SUBACK failure or the connection closed",
    area: "Topic Names and Filters",
    statements: &[S::V5_4_7_1_2, S::V5_4_13_1_1, S::V311_4_7_1_3, S::V311_4_8_0_1],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-malformed-subscribe"],
    unfaultable: None,
    run: filter_partial_plus,
};

fn filter_partial_plus(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filters = [t.topic("a+"), t.topic("a/+b/c")].map(String::into_bytes);
        refuse_each(&t, &filters, true).await
    })
}

// ---------------------------------------------------------------------------------------

const FILTER_EMPTY: Case = Case {
    id: "topic.empty-filter-refused",
    title: "A zero-length Topic Filter is refused: SUBACK failure or the connection closed",
    area: "Topic Names and Filters",
    statements: &[
        S::V5_4_7_3_1,
        S::V5_4_13_1_1,
        S::V311_4_7_3_1,
        S::V311_4_8_0_1,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-malformed-subscribe"],
    unfaultable: None,
    run: filter_empty,
};

fn filter_empty(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move { refuse_each(&t, &[Vec::new()], true).await })
}

// ---------------------------------------------------------------------------------------

const FILTER_NULL_CHARACTER: Case = Case {
    id: "topic.filter-with-null-character-refused",
    title: "A Topic Filter containing U+0000 makes the packet malformed: the connection is closed",
    area: "Topic Names and Filters",
    statements: &[
        S::V5_4_7_3_2,
        S::V5_1_5_4_2,
        S::V5_4_13_1_1,
        S::V311_4_7_3_2,
        S::V311_1_5_3_2,
    ],
    protocols: Protocols::Both,
    requires: &[],
    faults: &["ignore-malformed-subscribe"],
    unfaultable: None,
    run: filter_null_character,
};

fn filter_null_character(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let filter = t.topic("a\u{0}b").into_bytes();
        refuse_each(&t, &[filter], false).await
    })
}

// ---------------------------------------------------------------------------------------

const NAME_WITH_WILDCARD: Case = Case {
    id: "topic.name-with-wildcard-refused",
    title: "A PUBLISH whose Topic Name contains '+' or '#' is refused by closing the connection, never acknowledged",
    area: "Topic Names and Filters",
    statements: &[
        S::V5_3_3_2_2,
        S::V5_4_7_0_1,
        S::V5_4_13_1_1,
        S::V311_3_3_2_2,
        S::V311_4_7_1_1,
        S::V311_4_8_0_1,
    ],
    protocols: Protocols::Both,
    requires: &[Capability::QoS1],
    faults: &["ignore-malformed-publish"],
    unfaultable: None,
    run: name_with_wildcard,
};

fn name_with_wildcard(t: Ctx) -> BoxFuture<'static, CaseResult> {
    Box::pin(async move {
        let mut refusals = Vec::new();
        for (i, name) in [t.topic("a/+"), t.topic("a/#")].iter().enumerate() {
            let mut c = t.client(&format!("c{i}")).connect().await?;
            // QoS 1, so that accepting it shows as a PUBACK.
            let mut p = RawPacket::new(0x32).string(name).u16(5);
            if t.is_v5() {
                p = p.properties(&[]);
            }
            c.send_raw(p.bytes(b"x").build()).await?;
            refusals.push(expect_refused(&t, &mut c, None).await?);
        }
        refusal_verdict(&t, &refusals)
    })
}
