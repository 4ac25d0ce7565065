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
    /// Print instead the depth table: for each MQTT 5.0 forwarding rule, which delivery
    /// paths (live, queued, retained, Will, delayed Will, shared) have a case, and the fault
    /// that turns each red.
    #[arg(long)]
    pub depth: bool,
}

impl TraceArgs {
    /// Prints the coverage of the statement registry.
    pub fn run(&self) {
        if self.depth {
            crate::out!(
                "{}",
                crate::trace::render_depth(
                    &mqttspec_cases::depth::cells(),
                    &mqttspec_cases::depth::not_applicable(),
                )
            );
            return;
        }
        let mut specs: Vec<Spec> = self.spec.0.iter().map(|v| v.spec()).collect();
        specs.dedup();
        crate::out!(
            "{}",
            crate::trace::render_trace(&specs, &mqttspec_cases::all(), !self.summary_only)
        );
    }
}
