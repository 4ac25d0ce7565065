//! The `mqttspec` command line: one [`Command`] variant per subcommand, each with its own
//! module holding a clap `Args` struct and its `run`.
//!
//! To add a subcommand: add a variant to [`Command`] wrapping the new module's `Args`, and a
//! match arm in [`Cli::run`]. Commands report failures as a [`CommandError`], which decides
//! the exit status and how the message is shown.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::bench::BenchArgs;
use crate::cmd::{ListArgs, ReportArgs, RunArgs, TraceArgs};
use crate::decode::DecodeArgs;
use crate::fuzz::FuzzArgs;
use crate::replay::ReplayArgs;

/// MQTT 3.1.1 and 5.0 conformance test suite and fuzzing harness.
#[derive(Debug, Parser)]
#[command(name = "mqttspec", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode one packet given in hex and print it as JSON.
    Decode(DecodeArgs),
    /// Run the conformance cases against a broker and write the reports.
    Run(RunArgs),
    /// List the conformance cases with the statements they check.
    List(ListArgs),
    /// Show how the cases cover the normative statements of each specification.
    Trace(TraceArgs),
    /// Compare several brokers' report.json side by side in one HTML page.
    Report(ReportArgs),
    /// Load a broker with publishers and subscribers; report throughput, loss and latency.
    Bench(BenchArgs),
    /// Replay regression scenario files (TOML) against a broker.
    Replay(ReplayArgs),
    /// Fuzz a broker over the network; write minimised findings as replayable scenarios.
    Fuzz(FuzzArgs),
}

impl Command {
    /// The subcommand's name on the command line (for usage messages).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Decode(_) => "decode",
            Command::Run(_) => "run",
            Command::List(_) => "list",
            Command::Trace(_) => "trace",
            Command::Report(_) => "report",
            Command::Bench(_) => "bench",
            Command::Replay(_) => "replay",
            Command::Fuzz(_) => "fuzz",
        }
    }
}

/// How a command failed; decides the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The arguments or input cannot be used: exit status 2, shown like clap's own usage
    /// errors (with the subcommand's usage line).
    Usage(String),
    /// The command ran and its answer is a failure: exit status 1, the message is printed on
    /// stderr as it is (one line).
    Failed(String),
    /// The harness could not do its job (broker unreachable, cases in ERROR): exit status 2,
    /// the message printed on stderr as it is.
    Harness(String),
}

impl Cli {
    /// Runs the chosen subcommand with the process's standard streams, prints any error and
    /// returns the exit status.
    pub fn run(self) -> ExitCode {
        let name = self.command.name();
        let result = match &self.command {
            Command::Decode(args) => {
                args.run(&mut std::io::stdin().lock(), &mut std::io::stdout().lock())
            }
            Command::Run(args) => args.run(),
            Command::List(args) => args.run(),
            Command::Trace(args) => args.run(),
            Command::Report(args) => args.run(),
            Command::Bench(args) => args.run(),
            Command::Replay(args) => args.run(),
            Command::Fuzz(args) => args.run(),
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(CommandError::Failed(message)) => {
                eprintln!("{message}");
                ExitCode::from(1)
            }
            Err(CommandError::Harness(message)) => {
                eprintln!("{message}");
                ExitCode::from(2)
            }
            Err(CommandError::Usage(message)) => {
                let err = usage_error(name, &message);
                // Printing to stderr can only fail if stderr is gone; the exit status stays.
                let _ = err.print();
                ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
            }
        }
    }
}

/// Resolves an optional `--broker HOST:PORT` argument to its first address.
pub fn broker_address(broker: Option<&str>) -> Result<Option<SocketAddr>, CommandError> {
    let Some(b) = broker else {
        return Ok(None);
    };
    b.to_socket_addrs()
        .map_err(|e| CommandError::Usage(format!("--broker {b}: {e}")))?
        .next()
        .map(Some)
        .ok_or_else(|| CommandError::Usage(format!("--broker {b}: no address")))
}

/// A clap usage error for subcommand `name`, rendered with that subcommand's usage line.
fn usage_error(name: &str, message: &str) -> clap::Error {
    let mut cli = Cli::command();
    cli.build();
    match cli.find_subcommand_mut(name) {
        Some(sub) => sub.error(ErrorKind::InvalidValue, message),
        None => cli.error(ErrorKind::InvalidValue, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_errors_exit_with_2_and_show_the_subcommand_usage() {
        let err = usage_error("decode", "invalid hex: something");
        assert_eq!(err.exit_code(), 2);
        let text = err.render().to_string();
        assert!(text.contains("invalid hex: something"), "{text}");
        assert!(text.contains("mqttspec decode"), "{text}");
    }
}
