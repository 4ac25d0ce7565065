//! Which cases a test run looks at.

use mqttspec::scenario::Case;

/// All cases, or those whose id starts with one of the comma-separated prefixes in
/// `MQTTSPEC_CASES` (to check a few cases while writing them).
pub fn selected_cases() -> Vec<Case> {
    let all = mqttspec::cases::all();
    match std::env::var("MQTTSPEC_CASES") {
        Ok(prefixes) if !prefixes.trim().is_empty() => all
            .into_iter()
            .filter(|c| prefixes.split(',').any(|p| c.id.starts_with(p.trim())))
            .collect(),
        _ => all,
    }
}

/// Whether `MQTTSPEC_CASES` restricts the cases.
pub fn filtered() -> bool {
    std::env::var("MQTTSPEC_CASES").is_ok_and(|v| !v.trim().is_empty())
}
