//! The case registry's rules: unique ids, catalogue areas, statements of every protocol a
//! case runs on, and a proof (fault) for every case.

use std::collections::HashSet;

use mqttspec::cases;
use mqttspec_codec::StatementId;

#[test]
fn case_ids_are_unique_dotted_and_lowercase() {
    let mut seen = HashSet::new();
    for c in cases::all() {
        assert!(seen.insert(c.id), "duplicate case id {}", c.id);
        assert!(
            c.id.contains('.'),
            "{}: id must be <area-module>.<name>",
            c.id
        );
        assert!(
            c.id.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '.' || ch == '-'),
            "{}: ids use lowercase letters, digits, '.' and '-'",
            c.id
        );
        assert!(!c.title.trim().is_empty(), "{}: empty title", c.id);
    }
}

#[test]
fn every_area_is_a_catalogue_area() {
    let areas: HashSet<&str> = StatementId::ALL.iter().map(|s| s.area()).collect();
    for c in cases::all() {
        assert!(
            areas.contains(c.area()),
            "{}: unknown area {:?}",
            c.id,
            c.area()
        );
    }
}

#[test]
fn every_case_cites_statements_of_each_protocol_it_runs_on_and_no_others() {
    for c in cases::all() {
        for v in c.protocols().versions() {
            assert!(
                !c.statements_for(v).is_empty(),
                "{}: runs on MQTT {v} but cites no statement of that specification",
                c.id
            );
        }
        for s in c.cited() {
            assert!(
                c.protocols()
                    .versions()
                    .iter()
                    .any(|v| v.spec() == s.spec()),
                "{}: cites {s} of MQTT {} but does not run on it",
                c.id,
                s.spec()
            );
        }
        let unique: HashSet<_> = c.statements.iter().collect();
        assert_eq!(
            unique.len(),
            c.statements.len(),
            "{}: statement cited twice",
            c.id
        );
    }
}

#[test]
fn every_case_names_a_fault_or_says_why_it_cannot() {
    for c in cases::all() {
        match (c.faults.is_empty(), c.unfaultable) {
            (false, None) => {}
            (true, Some(why)) => assert!(!why.trim().is_empty(), "{}: empty justification", c.id),
            (false, Some(_)) => panic!("{}: has faults and an `unfaultable` justification", c.id),
            (true, None) => panic!("{}: names no fault that makes it fail", c.id),
        }
    }
}

#[test]
fn every_fault_named_by_a_case_targets_a_protocol_it_runs_on() {
    for c in cases::all() {
        for t in c.faults {
            if let Some(v) = t.only {
                assert!(
                    c.protocols().includes(v),
                    "{}: fault {} @ {v}: the case does not run on {v}",
                    c.id,
                    t.fault.name()
                );
            }
        }
        for (name, protocols) in c.fault_targets() {
            assert!(
                !protocols.is_empty(),
                "{}: fault {name} targets no protocol",
                c.id
            );
        }
    }
}

/// Case ids are what baselines and published reports refer to: the set of ids (and the
/// protocols each runs on) stays byte for byte unless this list is changed on purpose.
#[test]
fn case_ids_and_protocols_are_stable() {
    let expected: Vec<String> = include_str!("data/case-ids.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let actual: Vec<String> = cases::all()
        .iter()
        .map(|c| {
            let protocols: Vec<&str> = c.protocols().versions().iter().map(|v| v.label()).collect();
            format!("{} [{}]", c.id, protocols.join(","))
        })
        .collect();
    let missing: Vec<&String> = expected.iter().filter(|e| !actual.contains(e)).collect();
    let added: Vec<&String> = actual.iter().filter(|a| !expected.contains(a)).collect();
    assert!(
        missing.is_empty() && added.is_empty(),
        "case ids changed (update tests/data/case-ids.txt only on purpose):\nmissing: {missing:?}\nadded: {added:?}"
    );
}

#[test]
fn filters_select_by_id_prefix_area_and_statement() {
    let all = cases::all();
    let by_prefix = mqttspec::runner::select(&all, &["connect.".to_owned()]);
    assert!(!by_prefix.is_empty());
    assert!(by_prefix.iter().all(|c| c.id.starts_with("connect.")));
    let by_area = mqttspec::runner::select(&all, &["connack".to_owned()]);
    assert!(by_area.iter().all(|c| c.area() == "CONNACK"));
    assert!(!by_area.is_empty());
    let by_statement = mqttspec::runner::select(&all, &["MQTT-3.1.0-2".to_owned()]);
    assert!(by_statement
        .iter()
        .any(|c| c.id == "connect.second-connect-is-protocol-error"));
    assert!(mqttspec::runner::select(&all, &["no-such-case".to_owned()]).is_empty());
}

/// The registry orders cases by the module list `cases::MODULES`: every module of
/// `conformance/cases/src/` that declares a case must be in it, or its cases would come last, unordered
/// among themselves.
#[test]
fn every_module_that_declares_a_case_has_its_place_in_the_order() {
    for c in cases::all() {
        assert!(
            cases::MODULES.contains(&c.module_name()),
            "{}: module {} is not in cases::MODULES",
            c.id,
            c.module
        );
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/src");
    for entry in std::fs::read_dir(&dir).expect("conformance/cases/src") {
        let path = entry.expect("a directory entry").path();
        let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let is_module_file =
            path.extension().is_some_and(|e| e == "rs") && module != "mod" && module != "lib";
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if is_module_file && text.contains("case! {") {
            assert!(
                cases::MODULES.contains(&module),
                "conformance/cases/src/{module}.rs declares cases but is not in cases::MODULES"
            );
        }
    }
    assert_eq!(
        cases::MODULES.len(),
        cases::MODULES
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        "a module listed twice in cases::MODULES"
    );
}
