//! The `mqttspec` binary: parses the command line and runs the subcommand (see [`mqttspec::cli`]).

use clap::Parser;

fn main() -> std::process::ExitCode {
    mqttspec::cli::Cli::parse().run()
}
