//! The `mqttspec` command line: one [`Command`] variant per subcommand, each with its own
//! module holding a clap `Args` struct and its `run`.
//!
//! To add a subcommand: add a module under [`crate::commands`] with its `Args`, its `run` and
//! its own error type, a variant to [`Command`] wrapping the `Args`, a match arm in
//! [`Cli::run`], and the mapping of its error to an [`Exit`] below. This module alone decides
//! exit statuses: 0 success, 1 a failing answer (unbaselined FAIL, findings, an invalid
//! packet), 2 unusable arguments or a harness that could not do its job.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

use crate::commands::bench::{BenchArgs, BenchArgsError};
use crate::commands::broker::{BrokerArgs, BrokerError};
use crate::commands::client::{ClientArgs, ClientError};
use crate::commands::compare::{CompareError, ReportArgs};
use crate::commands::decode::{DecodeArgs, DecodeCommandError};
use crate::commands::fuzz::{FuzzArgs, FuzzError};
use crate::commands::list::ListArgs;
use crate::commands::probe::{ProbeArgs, ProbeError};
use crate::commands::replay::{ReplayArgs, ReplayError};
use crate::commands::run::{RunArgs, RunError};
use crate::commands::trace::TraceArgs;

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
    /// Measure a broker's practical limits and choices from the wire (INFORMATIONAL).
    Probe(ProbeArgs),
    /// Test an MQTT client library: mqttspec plays the broker, an adapter drives the library.
    Client(ClientArgs),
    /// Run the reference broker as a process, with injected faults (for trying tools on a
    /// broker that misbehaves on purpose).
    Broker(BrokerArgs),
    /// Be the reference client behind the adapter protocol (stdin/stdout JSON lines; faults
    /// in MQTTSPEC_CLIENT_FAULTS): the adapter `mqttspec client` is tested with.
    #[command(hide = true)]
    ReferenceClient,
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
            Command::Probe(_) => "probe",
            Command::Client(_) => "client",
            Command::Broker(_) => "broker",
            Command::ReferenceClient => "reference-client",
        }
    }
}

/// How a command's failure is shown and which exit status it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The arguments or input cannot be used: exit status 2, shown like clap's own usage
    /// errors (with the subcommand's usage line).
    Usage(String),
    /// The command ran and its answer is a failure: exit status 1, the message printed on
    /// stderr as it is (one line).
    Failed(String),
    /// The harness could not do its job (broker unreachable, cases in ERROR): exit status 2,
    /// the message printed on stderr as it is.
    Harness(String),
}

impl From<RunError> for Exit {
    fn from(e: RunError) -> Exit {
        let m = e.to_string();
        match e {
            RunError::Address(_) | RunError::Usage(_) => Exit::Usage(m),
            RunError::GateFailed => Exit::Failed(m),
            RunError::Runtime(_)
            | RunError::Run(_)
            | RunError::Write { .. }
            | RunError::NothingJudged => Exit::Harness(m),
        }
    }
}

impl From<DecodeCommandError> for Exit {
    fn from(e: DecodeCommandError) -> Exit {
        let m = e.to_string();
        match e {
            DecodeCommandError::Usage(_) | DecodeCommandError::Hex(_) => Exit::Usage(m),
            DecodeCommandError::Packet(_) | DecodeCommandError::Io(_) => Exit::Failed(m),
        }
    }
}

impl From<CompareError> for Exit {
    fn from(e: CompareError) -> Exit {
        let m = e.to_string();
        match e {
            CompareError::Input(_) => Exit::Usage(m),
            CompareError::Write { .. } => Exit::Failed(m),
        }
    }
}

impl From<BenchArgsError> for Exit {
    fn from(e: BenchArgsError) -> Exit {
        let m = e.to_string();
        match e {
            BenchArgsError::Address(_) | BenchArgsError::Usage(_) => Exit::Usage(m),
            BenchArgsError::Runtime(_)
            | BenchArgsError::Run(_)
            | BenchArgsError::Json(_)
            | BenchArgsError::Write { .. } => Exit::Harness(m),
        }
    }
}

impl From<ReplayError> for Exit {
    fn from(e: ReplayError) -> Exit {
        let m = e.to_string();
        match e {
            ReplayError::Address(_)
            | ReplayError::Files(_)
            | ReplayError::NoFiles
            | ReplayError::Scenario(_)
            | ReplayError::Usage(_) => Exit::Usage(m),
            ReplayError::Failed { .. } => Exit::Failed(m),
            ReplayError::Harness(_) | ReplayError::NotRun { .. } | ReplayError::Endpoint(_) => {
                Exit::Harness(m)
            }
        }
    }
}

impl From<FuzzError> for Exit {
    fn from(e: FuzzError) -> Exit {
        let m = e.to_string();
        match e {
            FuzzError::Address(_) | FuzzError::Usage(_) => Exit::Usage(m),
            FuzzError::Findings { .. } => Exit::Failed(m),
            FuzzError::Harness(_) | FuzzError::Endpoint(_) => Exit::Harness(m),
        }
    }
}

impl From<ProbeError> for Exit {
    fn from(e: ProbeError) -> Exit {
        let m = e.to_string();
        match e {
            ProbeError::Address(_) | ProbeError::Usage(_) => Exit::Usage(m),
            ProbeError::Harness(_)
            | ProbeError::Endpoint(_)
            | ProbeError::Write { .. }
            | ProbeError::NothingProbed { .. } => Exit::Harness(m),
        }
    }
}

impl From<BrokerError> for Exit {
    fn from(e: BrokerError) -> Exit {
        let m = e.to_string();
        match e {
            BrokerError::Usage(_) => Exit::Usage(m),
            BrokerError::Start(_) => Exit::Harness(m),
        }
    }
}

impl From<ClientError> for Exit {
    fn from(e: ClientError) -> Exit {
        let m = e.to_string();
        match e {
            ClientError::Usage(_) => Exit::Usage(m),
            ClientError::Failed(_) => Exit::Failed(m),
            ClientError::Harness(_) | ClientError::Write { .. } | ClientError::Errors(_) => {
                Exit::Harness(m)
            }
        }
    }
}

impl Cli {
    /// Runs the chosen subcommand with the process's standard streams, prints any error and
    /// returns the exit status.
    pub fn run(self) -> ExitCode {
        let name = self.command.name();
        let result: Result<(), Exit> = match &self.command {
            Command::Decode(args) => args
                .run(&mut std::io::stdin().lock(), &mut std::io::stdout().lock())
                .map_err(Exit::from),
            Command::Run(args) => args.run().map_err(Exit::from),
            Command::List(args) => {
                args.run();
                Ok(())
            }
            Command::Trace(args) => {
                args.run();
                Ok(())
            }
            Command::Report(args) => args.run().map_err(Exit::from),
            Command::Bench(args) => args.run().map_err(Exit::from),
            Command::Replay(args) => args.run().map_err(Exit::from),
            Command::Fuzz(args) => args.run().map_err(Exit::from),
            Command::Probe(args) => args.run().map_err(Exit::from),
            Command::Client(args) => args.run().map_err(Exit::from),
            Command::Broker(args) => args.run().map_err(Exit::from),
            Command::ReferenceClient => {
                mqttspec_client_suite::reference::client::main();
                Ok(())
            }
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(Exit::Failed(message)) => {
                eprintln!("{message}");
                ExitCode::from(1)
            }
            Err(Exit::Harness(message)) => {
                eprintln!("{message}");
                ExitCode::from(2)
            }
            Err(Exit::Usage(message)) => {
                let err = usage_error(name, &message);
                // Printing to stderr can only fail if stderr is gone; the exit status stays.
                let _ = err.print();
                ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
            }
        }
    }
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

    #[test]
    fn run_arguments_parse_with_their_defaults() {
        let cli = Cli::try_parse_from(["mqttspec", "run"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.protocol.0.len(), 2);
        assert_eq!(args.timeout, 10);
        assert_eq!(args.out, std::path::PathBuf::from("reports/latest"));
        assert!(!args.no_restricted, "the restricted pass is on by default");
        assert!(!args.no_limits, "the limits are measured by default");
        let cli = Cli::try_parse_from([
            "mqttspec",
            "run",
            "--protocol",
            "5",
            "--filter",
            "connect.",
            "--filter",
            "CONNACK",
            "--fault",
            "forward-dup",
            "--jobs",
            "3",
            "--no-restricted",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.protocol.0, vec![mqttspec_codec::ProtocolVersion::V5]);
        assert_eq!(args.filter, vec!["connect.", "CONNACK"]);
        assert_eq!(args.jobs, Some(3));
        assert!(args.no_restricted);
        assert!(Cli::try_parse_from(["mqttspec", "run", "--protocol", "4.0"]).is_err());
    }

    #[test]
    fn trace_list_and_report_arguments_parse() {
        assert!(Cli::try_parse_from(["mqttspec", "trace", "--spec", "3.1.1"]).is_ok());
        assert!(Cli::try_parse_from(["mqttspec", "list", "--filter", "connect."]).is_ok());
        assert!(
            Cli::try_parse_from(["mqttspec", "report", "--compare", "a.json", "b.json"]).is_ok()
        );
        assert!(Cli::try_parse_from(["mqttspec", "report"]).is_err());
    }

    #[test]
    fn probe_arguments_parse_with_their_defaults() {
        let cli = Cli::try_parse_from(["mqttspec", "probe"]).unwrap();
        let Command::Probe(args) = cli.command else {
            panic!("not probe")
        };
        assert_eq!(args.protocol.0.len(), 2);
        assert_eq!(args.time_limit, 120);
        let cli = Cli::try_parse_from([
            "mqttspec",
            "probe",
            "--broker",
            "127.0.0.1:1883",
            "--protocol",
            "5",
            "--json",
            "l.json",
            "--profile-out",
            "p.toml",
        ])
        .unwrap();
        let Command::Probe(args) = cli.command else {
            panic!("not probe")
        };
        assert_eq!(args.protocol.0, vec![mqttspec_codec::ProtocolVersion::V5]);
        assert_eq!(args.profile_out, Some(std::path::PathBuf::from("p.toml")));
    }
}
