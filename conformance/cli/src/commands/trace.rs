//! `mqttspec trace`: how the cases cover the statement registry.

use clap::Args;
use mqttspec_codec::Spec;

use super::run::{parse_protocols, Protocols};

/// Arguments of `mqttspec trace`.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// Which specification(s).
    #[arg(long, value_name = "3.1.1|5|all", default_value = "all", value_parser = parse_protocols)]
    pub spec: Protocols,
    /// Do not list the testable statements without a case.
    #[arg(long)]
    pub summary_only: bool,
}

impl TraceArgs {
    /// Prints the coverage of the statement registry.
    pub fn run(&self) {
        let mut specs: Vec<Spec> = self.spec.0.iter().map(|v| v.spec()).collect();
        specs.dedup();
        print!(
            "{}",
            crate::trace::render_trace(&specs, &mqttspec_cases::all(), !self.summary_only)
        );
    }
}
