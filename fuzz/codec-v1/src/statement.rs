//! Typed registry of the normative statements of MQTT 3.1.1 and MQTT 5.0.
//!
//! Every conformance tag printed in the specifications (`[MQTT-x.y.z-n]`) is one variant of
//! [`StatementId`], generated from `codec/data/mqtt-v3.1.1-statements.tsv` (141 statements) and
//! `codec/data/mqtt-v5.0-statements.tsv` (251 statements). Code that cites a statement names a
//! variant, so a mistyped id does not compile; ids that arrive as text (scenario files,
//! baselines) are resolved with [`StatementId::lookup`].
//!
//! The generated code is committed as `statement/generated.rs`, so an id can be found with grep
//! both as variant (`V5_3_3_1_9`) and as text (`"MQTT-3.3.1-9"`). The integration test
//! `codec/tests/statements_current.rs` validates the data, fails when the committed file is not
//! what the data gives, and rewrites it when run with `MQTTSPEC_BLESS=1`; the generator lives
//! beside it in `codec/tests/statement_gen/`.
//!
//! The same tag means different things in the two specifications (`MQTT-3.1.2-7` is about
//! retained messages in 3.1.1 and about the Will Message in 5.0), so every variant belongs to
//! exactly one [`Spec`].
//!
//! Each statement carries its section, section title, grouping area, who must obey it
//! ([`Obligation`]), whether a black-box test over TCP can observe it ([`Testability`]) and a
//! short paraphrase in the project's own words ([`StatementId::description`]); the paraphrase is
//! not the normative text. A few testable statements also carry the reason they cannot be
//! observed from the wire after all ([`StatementId::unobservable_reason`]).
//!
//! Many statements of one specification state the same behaviour as a statement of the other
//! (v5.0 `MQTT-3.1.2-14` and v3.1.1 `MQTT-3.1.2-16` both make a Will with Will Retain 0
//! non-retained). The pairing table `codec/data/statement-pairs.tsv` lists these pairs, by
//! meaning and never by number, and [`StatementId::counterparts`] returns them, so that a
//! conformance case can cite a behaviour once and be counted against both specifications.
//! Behaviour that exists in one specification only (properties, reason codes, AUTH, Topic
//! Aliases, ...) has no counterpart.

use std::fmt;

// Generated from `codec/data/` and committed (see the file's header): `pub enum StatementId`,
// `StatementId::ALL`, `StatementId::meta` and `StatementId::paired`.
mod generated;

pub use generated::StatementId;

/// Which specification a statement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Spec {
    /// OASIS MQTT Version 3.1.1 (OASIS Standard, 29 October 2014).
    V311,
    /// OASIS MQTT Version 5.0 (OASIS Standard, 07 March 2019).
    V5,
}

impl Spec {
    /// The version number as printed: `"3.1.1"` or `"5.0"`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Spec::V311 => "3.1.1",
            Spec::V5 => "5.0",
        }
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Who must obey a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Obligation {
    /// The Server (broker).
    Broker,
    /// The Client.
    Client,
    /// Both sides: rules on "the sender", "the receiver", or "Client and Server".
    Both,
}

impl Obligation {
    /// The catalogue spelling: `"broker"`, `"client"` or `"both"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Obligation::Broker => "broker",
            Obligation::Client => "client",
            Obligation::Both => "both",
        }
    }
}

impl fmt::Display for Obligation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a black-box test talking to a broker over plain TCP can observe a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Testability {
    /// A test can provoke the behaviour and see the broker obey it.
    Yes,
    /// Only indirectly or only sometimes (client-side rules checked through the broker's
    /// rejection of violations; optional features; timing-, storage- or failure-dependent
    /// behaviour).
    Partially,
    /// Not observable over TCP (client-internal behaviour, WebSocket-only rules, meta-statements).
    No,
}

impl Testability {
    /// The catalogue spelling: `"yes"`, `"partially"` or `"no"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Testability::Yes => "yes",
            Testability::Partially => "partially",
            Testability::No => "no",
        }
    }
}

impl fmt::Display for Testability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One catalogue row; built by the generated `StatementId::meta`.
#[derive(Debug)]
struct Meta {
    spec: Spec,
    id: &'static str,
    section: &'static str,
    title: &'static str,
    area: &'static str,
    obligation: Obligation,
    testability: Testability,
    description: &'static str,
    reason: Option<&'static str>,
}

impl StatementId {
    /// The specification this statement belongs to.
    #[must_use]
    pub const fn spec(self) -> Spec {
        self.meta().spec
    }

    /// The statement id as printed in the specification, e.g. `"MQTT-1.5.4-2"`.
    #[must_use]
    pub const fn id(self) -> &'static str {
        self.meta().id
    }

    /// The most specific (sub)section holding the statement, e.g. `"3.1.2.11.4"`.
    ///
    /// It can be deeper than the tag's own number; for `x.y.0-n` tags it is the parent section.
    #[must_use]
    pub const fn section(self) -> &'static str {
        self.meta().section
    }

    /// The heading of [`section`](Self::section).
    #[must_use]
    pub const fn title(self) -> &'static str {
        self.meta().title
    }

    /// The packet or topic area used for grouping (`"CONNECT"`, `"Will"`, `"Topic Alias"`, ...).
    #[must_use]
    pub const fn area(self) -> &'static str {
        self.meta().area
    }

    /// Who must obey the statement.
    #[must_use]
    pub const fn obligation(self) -> Obligation {
        self.meta().obligation
    }

    /// Whether a black-box test over TCP can observe the statement.
    #[must_use]
    pub const fn testability(self) -> Testability {
        self.meta().testability
    }

    /// A short paraphrase of the statement in the project's own words (not the normative text).
    #[must_use]
    pub const fn description(self) -> &'static str {
        self.meta().description
    }

    /// Why this statement, though marked testable over TCP, cannot be observed from the wire
    /// after all (no second client, reconnect or provoked error reveals it); `None` for most
    /// statements. The `reason` column of the catalogue.
    ///
    /// A statement with a reason still counts as testable and, without a case, as uncovered:
    /// `mqttspec trace` lists it apart from the other uncovered statements, with the reason.
    #[must_use]
    pub const fn unobservable_reason(self) -> Option<&'static str> {
        self.meta().reason
    }

    /// The statement of `spec` whose id is exactly `id` (e.g. `"MQTT-3.1.2-4"`), if any.
    ///
    /// The match is exact and case-sensitive; the spec's misprinted forms (e.g. v3.1.1
    /// `MQTT-3.1.2.7`) and the v5.0 appendix form `MQTT-4.2.0-1` are not accepted.
    #[must_use]
    pub fn lookup(spec: Spec, id: &str) -> Option<StatementId> {
        Self::all_of(spec).find(|s| s.id() == id)
    }

    /// The statements of the other specification that state the same behaviour (the pairing
    /// table `codec/data/statement-pairs.tsv`); empty when the behaviour exists in one
    /// specification only or the table pairs it with nothing.
    ///
    /// The relation is symmetric: `b` is among `a.counterparts()` exactly when `a` is among
    /// `b.counterparts()`. Usually there is one counterpart; there are several where one
    /// specification splits into several statements what the other states once (v3.1.1
    /// `MQTT-4.3.3-1` lists all QoS 2 sender duties, v5.0 `MQTT-4.3.3-1`..`-6` one each). The
    /// result is in the order of [`StatementId::ALL`].
    #[must_use]
    pub const fn counterparts(self) -> &'static [StatementId] {
        self.paired()
    }

    /// All statements of `spec`, in the order of the specification.
    pub fn all_of(spec: Spec) -> impl Iterator<Item = StatementId> {
        Self::ALL.iter().copied().filter(move |s| s.spec() == spec)
    }
}

impl fmt::Display for StatementId {
    /// Writes just the id, e.g. `MQTT-1.5.4-2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn count<T: PartialEq + Copy>(spec: Spec, field: impl Fn(StatementId) -> T, value: T) -> usize {
        StatementId::all_of(spec)
            .filter(|s| field(*s) == value)
            .count()
    }

    #[test]
    fn counts() {
        assert_eq!(StatementId::all_of(Spec::V5).count(), 251);
        assert_eq!(StatementId::all_of(Spec::V311).count(), 141);
        assert_eq!(StatementId::ALL.len(), 392);
    }

    #[test]
    fn all_is_v311_then_v5_and_matches_declaration_order() {
        let specs: Vec<Spec> = StatementId::ALL.iter().map(|s| s.spec()).collect();
        let mut sorted = specs.clone();
        sorted.sort();
        assert_eq!(specs, sorted);
        assert!(StatementId::ALL
            .windows(2)
            .all(|w| matches!(w, [a, b] if a < b)));
        for (i, s) in StatementId::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        assert_eq!(StatementId::ALL.first(), Some(&StatementId::V311_1_5_3_1));
        assert_eq!(StatementId::ALL.last(), Some(&StatementId::V5_6_0_0_4));
    }

    #[test]
    fn lookup_round_trip_every_entry() {
        for &s in StatementId::ALL {
            assert_eq!(StatementId::lookup(s.spec(), s.id()), Some(s), "{s}");
        }
    }

    #[test]
    fn ids_unique_per_spec_and_fields_non_empty() {
        for spec in [Spec::V311, Spec::V5] {
            let ids: HashSet<&str> = StatementId::all_of(spec).map(StatementId::id).collect();
            assert_eq!(ids.len(), StatementId::all_of(spec).count());
        }
        for &s in StatementId::ALL {
            for field in [s.id(), s.section(), s.title(), s.area(), s.description()] {
                assert!(!field.trim().is_empty(), "{s}");
            }
            if let Some(reason) = s.unobservable_reason() {
                assert!(!reason.trim().is_empty(), "{s}");
                assert_ne!(s.testability(), Testability::No, "{s}");
            }
        }
    }

    #[test]
    fn specific_ids() {
        assert_eq!(
            StatementId::lookup(Spec::V5, "MQTT-4.2-1"),
            Some(StatementId::V5_4_2_1)
        );
        assert_eq!(StatementId::lookup(Spec::V5, "MQTT-4.2.0-1"), None);
        assert_eq!(StatementId::lookup(Spec::V5, "MQTT-2.2.1-1"), None);
        assert_eq!(
            StatementId::lookup(Spec::V5, "MQTT-1.5.4-2"),
            Some(StatementId::V5_1_5_4_2)
        );
        assert_eq!(
            StatementId::lookup(Spec::V311, "MQTT-3.1.2-7"),
            Some(StatementId::V311_3_1_2_7)
        );
        assert_eq!(StatementId::lookup(Spec::V311, "MQTT-3.1.2.7"), None);
        assert_eq!(StatementId::lookup(Spec::V311, "mqtt-3.1.2-7"), None);
        assert_eq!(StatementId::lookup(Spec::V5, ""), None);
        // v5-only and v3.1.1-only ids are not found in the other spec.
        assert_eq!(StatementId::lookup(Spec::V311, "MQTT-3.15.1-1"), None);
        assert!(StatementId::lookup(Spec::V5, "MQTT-3.15.1-1").is_some());

        let s = StatementId::V5_3_1_2_7;
        assert_eq!(s.spec(), Spec::V5);
        assert_eq!(s.id(), "MQTT-3.1.2-7");
        assert_eq!(StatementId::V5_3_1_2_24.section(), "3.1.2.11.4");
        assert_eq!(StatementId::V5_1_5_4_2.area(), "Data Representation");
        assert_eq!(StatementId::V5_1_5_4_2.title(), "UTF-8 Encoded String");
        assert_eq!(StatementId::V5_1_5_4_2.obligation(), Obligation::Both);
        assert_eq!(StatementId::V5_1_5_4_2.testability(), Testability::Yes);
        assert!(StatementId::V5_1_5_4_2.description().contains("U+0000"));
    }

    #[test]
    fn display() {
        assert_eq!(StatementId::V5_1_5_4_2.to_string(), "MQTT-1.5.4-2");
        assert_eq!(StatementId::V311_3_1_2_7.to_string(), "MQTT-3.1.2-7");
        assert_eq!(StatementId::V5_4_2_1.to_string(), "MQTT-4.2-1");
        assert_eq!(Spec::V311.to_string(), "3.1.1");
        assert_eq!(Spec::V5.label(), "5.0");
        assert_eq!(Obligation::Both.to_string(), "both");
        assert_eq!(Testability::Partially.as_str(), "partially");
    }

    #[test]
    fn counterparts_are_symmetric_and_of_the_other_spec() {
        for &s in StatementId::ALL {
            let cs = s.counterparts();
            assert!(
                cs.windows(2).all(|w| matches!(w, [a, b] if a < b)),
                "{s}: counterparts not in ALL order or repeated"
            );
            for &c in cs {
                assert_ne!(c.spec(), s.spec(), "{s} paired with {c} of the same spec");
                assert!(
                    c.counterparts().contains(&s),
                    "{s} lists {c} but {c} does not list {s}"
                );
            }
        }
    }

    #[test]
    fn pairing_table_has_a_plausible_size() {
        // Every row pairs one v5 statement with one v3.1.1 statement, so counting from either
        // side gives the number of rows.
        let rows: usize = StatementId::all_of(Spec::V5)
            .map(|s| s.counterparts().len())
            .sum();
        let rows_311: usize = StatementId::all_of(Spec::V311)
            .map(|s| s.counterparts().len())
            .sum();
        assert_eq!(rows, rows_311);
        assert!((100..=180).contains(&rows), "{rows} pairs");

        let paired_v5 = StatementId::all_of(Spec::V5)
            .filter(|s| !s.counterparts().is_empty())
            .count();
        let paired_311 = StatementId::all_of(Spec::V311)
            .filter(|s| !s.counterparts().is_empty())
            .count();
        // Roughly half of v5.0 is v5-only; most of v3.1.1 carried over.
        assert!(
            (100..=170).contains(&paired_v5),
            "{paired_v5} v5 statements paired"
        );
        assert!(
            (100..=141).contains(&paired_311),
            "{paired_311} v3.1.1 statements paired"
        );

        // Splitting is the exception: few statements have more than one counterpart.
        let multi = StatementId::ALL
            .iter()
            .filter(|s| s.counterparts().len() > 1)
            .count();
        assert!(multi <= 16, "{multi} statements with several counterparts");
    }

    #[test]
    fn counterparts_never_pair_a_client_rule_with_a_broker_rule() {
        for &s in StatementId::ALL {
            for &c in s.counterparts() {
                let pair = [s.obligation(), c.obligation()];
                assert!(
                    !pair.contains(&Obligation::Client) || !pair.contains(&Obligation::Broker),
                    "{s} ({}) paired with {c} ({})",
                    s.obligation(),
                    c.obligation()
                );
            }
        }
    }

    #[test]
    fn v5_only_areas_have_no_counterparts() {
        let v5_only = [
            "Properties",
            "Topic Alias",
            "Enhanced Authentication",
            "AUTH",
            "Flow Control",
            "Shared Subscriptions",
            "Subscription Identifier",
            "Message Expiry",
            "Request/Response",
            "Maximum Packet Size",
            "PUBACK",
            "PUBREC",
            "PUBCOMP",
        ];
        for s in StatementId::all_of(Spec::V5) {
            if v5_only.contains(&s.area()) {
                assert!(s.counterparts().is_empty(), "{s} ({})", s.area());
            }
        }
    }

    #[test]
    fn counterpart_spot_checks() {
        use StatementId as S;
        // Same behaviour, different numbers.
        assert_eq!(S::V5_3_1_2_14.counterparts(), &[S::V311_3_1_2_16]);
        assert_eq!(S::V311_3_1_2_16.counterparts(), &[S::V5_3_1_2_14]);
        assert_eq!(S::V5_1_5_4_2.counterparts(), &[S::V311_1_5_3_2]);
        assert_eq!(S::V5_3_3_4_2.counterparts(), &[S::V311_3_3_5_1]);
        assert_eq!(S::V5_4_7_0_1.counterparts(), &[S::V311_4_7_1_1]);
        assert_eq!(S::V5_4_7_1_1.counterparts(), &[S::V311_4_7_1_2]);
        assert_eq!(S::V5_3_3_1_6.counterparts(), &[S::V311_3_3_1_10]);
        // Ordering statements: the two specs number these the other way round.
        assert_eq!(S::V5_4_6_0_5.counterparts(), &[S::V311_4_6_0_6]);
        assert_eq!(S::V5_4_6_0_6.counterparts(), &[S::V311_4_6_0_5]);
        // Same number, same meaning.
        assert_eq!(S::V5_3_12_4_1.counterparts(), &[S::V311_3_12_4_1]);
        // Same number, different meaning: v5 Will storage vs v3.1.1 retained messages.
        assert_eq!(S::V5_3_1_2_7.counterparts(), &[S::V311_3_1_2_8]);
        assert!(S::V311_3_1_2_7.counterparts().is_empty());
        // One v3.1.1 statement split into several v5 ones.
        assert_eq!(
            S::V311_4_3_3_1.counterparts(),
            &[
                S::V5_4_3_3_1,
                S::V5_4_3_3_2,
                S::V5_4_3_3_3,
                S::V5_4_3_3_4,
                S::V5_4_3_3_5,
                S::V5_4_3_3_6
            ]
        );
        assert_eq!(
            S::V5_3_2_2_3.counterparts(),
            &[S::V311_3_2_2_2, S::V311_3_2_2_3]
        );
        // v5-only behaviour.
        assert!(S::V5_3_15_1_1.counterparts().is_empty());
        assert!(S::V5_3_3_2_8.counterparts().is_empty());
        assert!(S::V5_2_2_2_1.counterparts().is_empty());
        assert!(S::V5_4_13_2_1.counterparts().is_empty());
        // v3.1.1-only behaviour (zero-length ClientId needs CleanSession 1).
        assert!(S::V311_3_1_3_7.counterparts().is_empty());
    }

    /// Counts published in /work/shared/spec/README.md.
    #[test]
    fn obligation_and_testability_counts() {
        let v5 = Spec::V5;
        assert_eq!(count(v5, StatementId::obligation, Obligation::Broker), 118);
        assert_eq!(count(v5, StatementId::obligation, Obligation::Client), 44);
        assert_eq!(count(v5, StatementId::obligation, Obligation::Both), 89);
        assert_eq!(count(v5, StatementId::testability, Testability::Yes), 160);
        assert_eq!(
            count(v5, StatementId::testability, Testability::Partially),
            73
        );
        assert_eq!(count(v5, StatementId::testability, Testability::No), 18);

        let v3 = Spec::V311;
        assert_eq!(count(v3, StatementId::obligation, Obligation::Broker), 69);
        assert_eq!(count(v3, StatementId::obligation, Obligation::Client), 33);
        assert_eq!(count(v3, StatementId::obligation, Obligation::Both), 39);
        assert_eq!(count(v3, StatementId::testability, Testability::Yes), 94);
        assert_eq!(
            count(v3, StatementId::testability, Testability::Partially),
            29
        );
        assert_eq!(count(v3, StatementId::testability, Testability::No), 18);
    }
}
