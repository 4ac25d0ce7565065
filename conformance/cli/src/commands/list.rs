//! `mqttspec list`: the cases with the statements they check.

use clap::Args;
use mqttspec_harness::runner;

/// Arguments of `mqttspec list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only cases matching X (id prefix, area or statement id; repeatable).
    #[arg(long, value_name = "X")]
    pub filter: Vec<String>,
}

impl ListArgs {
    /// Prints the cases with their statements.
    pub fn run(&self) {
        let cases = runner::select(&mqttspec_cases::all(), &self.filter);
        crate::out!("{}", crate::trace::render_list(&cases));
    }
}
