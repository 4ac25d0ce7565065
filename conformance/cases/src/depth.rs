//! The depth table: for the MQTT 5.0 forwarding rules, which ways a message reaches a
//! subscriber ([`PATHS`]) have a case checking the rule there, and which reference-broker
//! fault proves that case can fail (`mqttspec trace --depth` prints it).
//!
//! A statement counts as covered once one case cites it, but brokers often break a
//! forwarding rule on one path only. A [`Cell`] says: on this path, for this aspect of the
//! statement, this case checks it and FAILs under this fault (the case names the fault, so
//! `engine_faults` proves it; a test below checks the case exists, cites the statement and
//! names the fault). [`Cell::path_only`] tells whether that fault breaks only this path of
//! the table: only then does the cell show that a broker breaking the rule on this path
//! alone is caught by the case's own proof. A cell whose fault breaks every path still means
//! the case checks the rule on that path, but its red was not proven for that path alone.
//!
//! What is in the table: the properties forwarded unaltered (3.3.2-4, -15, -16, -17, -20)
//! and nothing added (3.3.2-20 Content Type, 3.3.2-6 Message Expiry) on the six paths;
//! User Property order (3.3.2-18) and Subscription Identifiers (3.3.4-3) on the six paths
//! (faults that break every path); the Message Expiry Interval decremented (3.3.2-6), DUP (3.3.1-3), RETAIN on forward (3.3.1-12, -13)
//! and the QoS downgrade (3.8.4-8) on the paths where a case checks them (DUP, RETAIN 0 and
//! the QoS downgrade on the queued and shared paths, RETAIN 0 and the QoS downgrade on the
//! delayed-Will path, with faults of that path alone). Absent
//! cells are paths without such a case.

use mqttspec_codec::StatementId as S;
use mqttspec_codec::StatementId;
use mqttspec_harness::scenario::Fault;

/// The ways a message reaches a subscriber, in the order the table prints them.
pub const PATHS: &[&str] = &[
    "live",
    "queued",
    "retained",
    "will",
    "delayed will",
    "shared",
];

/// One (statement, aspect, path) cell that has a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// The statement.
    pub statement: StatementId,
    /// What of the statement is checked (e.g. "unaltered", "none added").
    pub aspect: &'static str,
    /// One of [`PATHS`].
    pub path: &'static str,
    /// The id of the case.
    pub case: &'static str,
    /// A fault the case names that turns it red.
    pub fault: Fault,
    /// Whether `fault` breaks this path only (see the module docs).
    pub path_only: bool,
}

/// The forwarding cases, by path, with the fault that strips the properties there and the
/// fault that adds properties there (`path_only` of each).
const FORWARDING: &[(&str, &str, Fault, bool, Fault, bool)] = &[
    (
        "live",
        "forwarding.live-properties-unaltered",
        Fault::StripPropertiesLive,
        true,
        Fault::AddPropertiesLive,
        true,
    ),
    (
        "queued",
        "forwarding.queued-properties-unaltered",
        Fault::StripPropertiesQueued,
        true,
        Fault::AddPropertiesQueued,
        true,
    ),
    (
        "retained",
        "forwarding.retained-properties-unaltered",
        Fault::StripPropertiesRetained,
        true,
        Fault::AddPropertiesRetained,
        true,
    ),
    // `drop-will-properties` and `add-properties-will` break both kinds of Will.
    (
        "will",
        "forwarding.will-properties-unaltered",
        Fault::DropWillProperties,
        false,
        Fault::AddPropertiesWill,
        false,
    ),
    (
        "delayed will",
        "forwarding.delayed-will-properties-unaltered",
        Fault::StripPropertiesDelayedWill,
        true,
        Fault::AddPropertiesWill,
        false,
    ),
    (
        "shared",
        "forwarding.shared-properties-unaltered",
        Fault::StripPropertiesShared,
        true,
        Fault::AddPropertiesShared,
        true,
    ),
];

/// Cells of other cases: (statement, aspect, path, case, fault); none of these faults is
/// specific to one path.
const OTHERS: &[(StatementId, &str, &str, &str, Fault)] = &[
    (
        S::V5_3_3_2_6,
        "decremented",
        "queued",
        "publish.message-expiry-interval-decremented",
        Fault::NoMessageExpiry,
    ),
    (
        S::V5_3_3_2_6,
        "decremented",
        "will",
        "will.message-expiry-forwarded",
        Fault::DropWillProperties,
    ),
    (
        S::V5_3_3_2_6,
        "decremented",
        "retained",
        "forwarding.retained-properties-unaltered",
        Fault::NoMessageExpiry,
    ),
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "live",
        "qos.dup-not-propagated-to-subscribers",
        Fault::ForwardDup,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "live",
        "retain.forwarded-to-existing-subscription-with-retain-0",
        Fault::RetainFlagOnForward,
    ),
    (
        S::V5_3_3_1_13,
        "RETAIN kept with Retain As Published",
        "live",
        "retain.retain-as-published-keeps-the-flag",
        Fault::IgnoreRetainAsPublished,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "live",
        "qos.delivered-qos-is-minimum-of-published-and-granted",
        Fault::NoQosDowngrade,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "retained",
        "retain.sent-at-minimum-of-stored-and-granted-qos",
        Fault::NoQosDowngrade,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "will",
        "will.qos-downgraded-to-subscription",
        Fault::NoQosDowngrade,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "shared",
        "shared.delivered-at-granted-qos",
        Fault::NoQosDowngrade,
    ),
];

/// Cells whose fault breaks that path only: (statement, aspect, path, case, fault).
const PATH_ONLY: &[(StatementId, &str, &str, &str, Fault)] = &[
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "queued",
        "forwarding.queued-dup-retain-and-qos",
        Fault::ForwardDupQueued,
    ),
    (
        S::V5_3_3_1_3,
        "DUP not propagated",
        "shared",
        "forwarding.shared-dup-retain-and-qos",
        Fault::ForwardDupShared,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "queued",
        "forwarding.queued-dup-retain-and-qos",
        Fault::RetainFlagOnForwardQueued,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "shared",
        "forwarding.shared-dup-retain-and-qos",
        Fault::RetainFlagOnForwardShared,
    ),
    (
        S::V5_3_3_1_12,
        "RETAIN 0 without Retain As Published",
        "delayed will",
        "forwarding.delayed-will-retain-and-qos",
        Fault::RetainFlagOnForwardDelayedWill,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "queued",
        "forwarding.queued-dup-retain-and-qos",
        Fault::NoQosDowngradeQueued,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "delayed will",
        "forwarding.delayed-will-retain-and-qos",
        Fault::NoQosDowngradeDelayedWill,
    ),
    (
        S::V5_3_8_4_8,
        "granted QoS",
        "shared",
        "forwarding.shared-dup-retain-and-qos",
        Fault::NoQosDowngradeShared,
    ),
];

/// The statements whose forwarded property the forwarding cases check unaltered.
const UNALTERED: &[StatementId] = &[
    S::V5_3_3_2_4,
    S::V5_3_3_2_15,
    S::V5_3_3_2_16,
    S::V5_3_3_2_17,
    S::V5_3_3_2_20,
];

/// The statements whose property the `add-properties-*` faults add when none was sent, and
/// that the cases judge FAIL. (They add a Message Expiry Interval too, but an added expiry is
/// only NON-STRICT: MQTT-3.3.2-6 speaks of a received value.)
const NONE_ADDED: &[StatementId] = &[S::V5_3_3_2_20];

/// Every cell, grouped by statement (in specification order) then aspect, paths in the order of [`PATHS`].
pub fn cells() -> Vec<Cell> {
    let mut out = Vec::new();
    for &(path, case, strip, strip_only, add, add_only) in FORWARDING {
        for &statement in UNALTERED {
            out.push(Cell {
                statement,
                aspect: "unaltered",
                path,
                case,
                fault: strip,
                path_only: strip_only,
            });
        }
        for &statement in NONE_ADDED {
            out.push(Cell {
                statement,
                aspect: "none added",
                path,
                case,
                fault: add,
                path_only: add_only,
            });
        }
        out.push(Cell {
            statement: S::V5_3_3_2_18,
            aspect: "order kept",
            path,
            case,
            fault: Fault::ReverseUserProperties,
            path_only: false,
        });
        out.push(Cell {
            statement: S::V5_3_3_4_3,
            aspect: "identifier sent",
            path,
            case,
            fault: Fault::NoSubscriptionIdentifiers,
            path_only: false,
        });
    }
    for &(statement, aspect, path, case, fault) in OTHERS {
        out.push(Cell {
            statement,
            aspect,
            path,
            case,
            fault,
            path_only: false,
        });
    }
    for &(statement, aspect, path, case, fault) in PATH_ONLY {
        out.push(Cell {
            statement,
            aspect,
            path,
            case,
            fault,
            path_only: true,
        });
    }
    let rank = |p: &str| PATHS.iter().position(|x| *x == p).unwrap_or(PATHS.len());
    out.sort_by(|a, b| {
        (a.statement, a.aspect, rank(a.path), a.case).cmp(&(
            b.statement,
            b.aspect,
            rank(b.path),
            b.case,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_names_a_case_that_cites_its_statement_and_names_its_fault() {
        let cases = crate::all();
        for cell in cells() {
            assert!(PATHS.contains(&cell.path), "{cell:?}: unknown path");
            let case = cases
                .iter()
                .find(|c| c.id == cell.case)
                .unwrap_or_else(|| panic!("{cell:?}: no such case"));
            assert!(
                case.statements.contains(&cell.statement),
                "{cell:?}: the case does not cite the statement"
            );
            assert!(
                case.faults.iter().any(|f| f.fault == cell.fault),
                "{cell:?}: the case does not name the fault"
            );
        }
    }

    #[test]
    fn path_only_faults_are_named_by_one_path() {
        // A fault marked path_only must appear on no other path of the table.
        let all = cells();
        for cell in all.iter().filter(|c| c.path_only) {
            assert!(
                all.iter()
                    .filter(|o| o.fault == cell.fault)
                    .all(|o| o.path == cell.path),
                "{cell:?}"
            );
        }
    }
}
