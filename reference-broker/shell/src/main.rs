//! `reference-broker`: runs the mqttspec reference broker on its listeners (TCP, TLS,
//! WebSocket, WebSocket over TLS).

use clap::Parser;
use mqttspec_reference_broker::cli::Cli;
use mqttspec_reference_broker::listeners::ListenerKind;
use mqttspec_reference_broker::shell;
use tracing_subscriber::EnvFilter;

// One thread: the shell's broker task does all the work (the core and every socket), so
// more worker threads only add wake-ups across threads. Measured with `mqttspec bench`: a
// lower median latency at a fixed rate than on the default multi-threaded runtime, and the
// same flat-out throughput (the load generator needs the machine's other cores anyway).
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let settings = match cli.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("reference-broker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let bound = match shell::bind(&settings.listeners, settings.tls.as_ref()).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("reference-broker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // Installed before "listening" is logged: a signal sent as soon as that line appears
    // must find the handler, not the default action (which kills the process).
    let shutdown = shutdown_signal();
    let config = settings.config;
    // The bound addresses, so `--listen 127.0.0.1:0` reports the port it got. A plain TCP
    // listener is logged as `host:port`, as before listeners had schemes.
    for b in &bound {
        match b.spec.kind {
            ListenerKind::Tcp => {
                tracing::info!(address = %b.spec.addr, seed = config.core_seed(), "listening")
            }
            _ => tracing::info!(address = %b.spec, seed = config.core_seed(), "listening"),
        }
    }
    // The seed reproduces the assigned Client Identifiers and SCRAM salts and nonces.
    shell::serve_listeners(bound, settings.tls, config, shutdown).await;
    std::process::ExitCode::SUCCESS
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    async fn received(signal: std::io::Result<Signal>) {
        match signal {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        tokio::select! {
            () = received(interrupt) => {},
            () = received(terminate) => {},
        }
    }
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
