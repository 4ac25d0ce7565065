//! A third-party broker the harness starts, watches and restarts itself: `--broker-cmd` of
//! `mqttspec run` and `mqttspec fuzz`.
//!
//! The command runs as `sh -c "exec CMD"` in a process group of its own, so that a broker
//! started through a wrapper (`npx`, a launcher script, a Python entry point) stops with
//! everything it started. The broker counts as started when its address accepts a TCP
//! connection. Its standard output and error are read all along (a broker that logs must
//! never block on a full pipe) and only their last [`TAIL_LINES`] lines are kept, each cut at
//! [`TAIL_LINE_BYTES`]: the panic message or the last log lines of a broker that stopped
//! serving go into the report, and a chatty broker costs a bounded amount of memory. The
//! first line that looks like a crash (a Rust panic, a Python traceback, a fatal error, ...)
//! and the [`PINNED_AFTER`] lines after it are kept as well, so a broker that logs on after
//! it panicked does not push its panic message out of the report.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::transport::Endpoint;

/// How long a started broker may take to accept connections (ejabberd, an Erlang release,
/// takes several seconds on a loaded machine).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a stopped broker may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How many lines of the broker's output are kept.
pub const TAIL_LINES: usize = 30;

/// The longest output line kept, in bytes (the rest is cut).
pub const TAIL_LINE_BYTES: usize = 400;

/// How many lines after the first crash line are kept with it.
pub const PINNED_AFTER: usize = 2;

/// What starts a line that reports a crash, in the brokers' languages (matched
/// case-sensitively anywhere in the line).
const CRASH_MARKERS: [&str; 8] = [
    "panicked at",
    "Traceback (most recent call last)",
    "Segmentation fault",
    "FATAL",
    "fatal error",
    "Uncaught",
    "Unhandled",
    "crash_report",
];

/// How an earlier crash line is marked when it is shown before the tail.
pub const PINNED_PREFIX: &str = "[kept from earlier output] ";

/// Memory use of a broker process, KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Resident set size.
    pub rss_kib: u64,
    /// Virtual size.
    pub vsz_kib: u64,
}

/// The last lines a broker wrote, shared with the tasks that read its output.
#[derive(Debug, Clone, Default)]
struct Tail(Arc<Mutex<Lines>>);

/// The lines themselves.
#[derive(Debug, Default)]
struct Lines {
    /// The last [`TAIL_LINES`] lines, each with its number.
    last: VecDeque<(u64, String)>,
    /// The first crash line and the lines after it, with their numbers.
    pinned: Vec<(u64, String)>,
    /// The next line's number.
    next: u64,
}

fn is_crash(line: &str) -> bool {
    CRASH_MARKERS.iter().any(|m| line.contains(m))
}

/// `line` without terminal escape sequences (a broker that logs in colour) and other control
/// characters but tabs: the reports show the text.
fn plain_text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: `ESC [` parameters, then one final byte in @..~; otherwise ESC and one
                // character.
                if chars.next_if_eq(&'[').is_some() {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

impl Tail {
    fn push(&self, line: &str) {
        let mut line = plain_text(line.trim_end());
        if line.len() > TAIL_LINE_BYTES {
            let mut cut = TAIL_LINE_BYTES;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" [...]");
        }
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = lines.next;
        lines.next += 1;
        let pinning = match lines.pinned.first() {
            None => is_crash(&line),
            Some((first, _)) => n - first <= PINNED_AFTER as u64,
        };
        if pinning {
            lines.pinned.push((n, line.clone()));
        }
        if lines.last.len() == TAIL_LINES {
            lines.last.pop_front();
        }
        lines.last.push_back((n, line));
    }

    /// The kept lines in order: the pinned crash lines that fell out of the tail (marked),
    /// then the tail.
    fn lines(&self) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = lines.last.front().map_or(u64::MAX, |(n, _)| *n);
        let earlier = lines
            .pinned
            .iter()
            .filter(|(n, _)| *n < oldest)
            .map(|(_, l)| format!("{PINNED_PREFIX}{l}"));
        earlier
            .chain(lines.last.iter().map(|(_, l)| l.clone()))
            .collect()
    }

    fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Lines::default();
    }

    /// Reads `from` line by line into the tail until it ends (lines are read as bytes, so a
    /// broker writing invalid UTF-8 is shown lossily rather than stopping the reader; a line
    /// is read in bounded pieces, so an endless line costs bounded memory).
    fn follow(&self, from: impl AsyncRead + Unpin + Send + 'static) {
        let tail = self.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(from);
            let mut line = Vec::new();
            loop {
                line.clear();
                let mut piece = (&mut reader).take(TAIL_LINE_BYTES as u64 * 4);
                match piece.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => tail.push(&String::from_utf8_lossy(&line)),
                }
            }
        });
    }
}

/// A broker process started by the harness from a shell command.
#[derive(Debug)]
pub struct BrokerProcess {
    command: String,
    addr: Endpoint,
    child: Option<Child>,
    tail: Tail,
    starts: usize,
}

impl BrokerProcess {
    /// Runs `command` and waits until `addr` accepts TCP connections.
    pub async fn start(command: &str, addr: Endpoint) -> Result<BrokerProcess, String> {
        let mut p = BrokerProcess {
            command: command.to_owned(),
            addr,
            child: None,
            tail: Tail::default(),
            starts: 0,
        };
        p.spawn().await?;
        Ok(p)
    }

    /// The command.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// How many times the broker was restarted.
    pub fn restarts(&self) -> usize {
        self.starts.saturating_sub(1)
    }

    /// How the process ended, if it has.
    pub fn exit_status(&mut self) -> Option<String> {
        match self.child.as_mut()?.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// The last lines the broker wrote (standard output and error, interleaved as read).
    pub fn output_tail(&self) -> Vec<String> {
        self.tail.lines()
    }

    /// Resident and virtual memory of the broker process (Linux `/proc`; of the process the
    /// command became, not of its children).
    pub fn memory(&self) -> Option<Memory> {
        let pid = self.child.as_ref()?.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.split_whitespace().nth(1)?.parse().ok()
        };
        Some(Memory {
            rss_kib: field("VmRSS:")?,
            vsz_kib: field("VmSize:")?,
        })
    }

    /// Stops the broker and starts it again; its output tail starts afresh.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.stop().await;
        self.tail.clear();
        self.spawn().await
    }

    /// Stops the broker and everything in its process group: SIGTERM, then SIGKILL after
    /// [`STOP_GRACE`].
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        if let Some(g) = group {
            let _ = killpg(g, Signal::SIGTERM);
        }
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            if let Some(g) = group {
                let _ = killpg(g, Signal::SIGKILL);
            }
            let _ = child.start_kill();
            let _ = tokio::time::timeout(STOP_GRACE, child.wait()).await;
        } else if let Some(g) = group {
            // The broker itself exited; whatever it left in its group goes too.
            let _ = killpg(g, Signal::SIGKILL);
        }
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let command = self.command.clone();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run `{command}`: {e}"))?;
        if let Some(out) = child.stdout.take() {
            self.tail.follow(out);
        }
        if let Some(err) = child.stderr.take() {
            self.tail.follow(err);
        }
        self.child = Some(child);
        self.starts += 1;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect(self.addr.addr()),
            );
            if matches!(attempt.await, Ok(Ok(_))) {
                return Ok(());
            }
            if let Some(status) = self.exit_status() {
                let out = self.tail.lines().join("\n");
                return Err(format!(
                    "`{command}` exited before listening on {}: {status}{}{out}",
                    self.addr,
                    if out.is_empty() {
                        ""
                    } else {
                        "; its output:\n"
                    }
                ));
            }
            if tokio::time::Instant::now() >= deadline {
                self.stop().await;
                return Err(format!(
                    "`{command}` does not listen on {} after {START_TIMEOUT:?}",
                    self.addr
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        // `kill_on_drop` ends the process the command became; its group goes with it.
        if let Some(g) = self
            .child
            .as_ref()
            .and_then(Child::id)
            .and_then(|id| i32::try_from(id).ok())
        {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_control_characters_are_left_out() {
        assert_eq!(
            plain_text("\u{1b}[2m2026\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m: x\u{0}y\tz\u{1b}"),
            "2026 ERROR: xy\tz"
        );
        assert_eq!(plain_text("a\u{1b}[12;3"), "a");
    }

    #[test]
    fn the_tail_keeps_the_last_lines_and_cuts_long_ones() {
        let tail = Tail::default();
        for i in 0..100 {
            tail.push(&format!("line {i}\n"));
        }
        let lines = tail.lines();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines.last().map(String::as_str), Some("line 99"));
        tail.push(&"é".repeat(TAIL_LINE_BYTES));
        let long = tail.lines().pop().unwrap_or_default();
        assert!(long.len() <= TAIL_LINE_BYTES + 6, "{}", long.len());
        assert!(long.ends_with(" [...]"));
    }

    #[test]
    fn a_crash_message_stays_when_the_broker_logs_on_after_it() {
        let tail = Tail::default();
        tail.push("starting\n");
        tail.push("thread 'router' panicked at src/router.rs:10:5:\n");
        tail.push("index out of bounds\n");
        tail.push("note: run with `RUST_BACKTRACE=1`\n");
        tail.push("one line too many\n");
        // While the crash lines are still in the tail they are shown once, in place.
        let lines = tail.lines();
        assert_eq!(lines.len(), 5);
        assert!(!lines.iter().any(|l| l.starts_with(PINNED_PREFIX)));
        for i in 0..100 {
            tail.push(&format!("later {i}\n"));
        }
        let lines = tail.lines();
        assert_eq!(lines.len(), TAIL_LINES + 1 + PINNED_AFTER);
        assert_eq!(
            lines.get(..3).map(<[String]>::to_vec),
            Some(vec![
                format!("{PINNED_PREFIX}thread 'router' panicked at src/router.rs:10:5:"),
                format!("{PINNED_PREFIX}index out of bounds"),
                format!("{PINNED_PREFIX}note: run with `RUST_BACKTRACE=1`"),
            ])
        );
        assert_eq!(lines.last().map(String::as_str), Some("later 99"));
        // Only the first crash is pinned; a restart starts afresh.
        tail.push("FATAL: again\n");
        assert!(!tail
            .lines()
            .iter()
            .any(|l| l.contains(&format!("{PINNED_PREFIX}FATAL"))));
        tail.clear();
        assert!(tail.lines().is_empty());
    }

    #[tokio::test]
    async fn a_command_that_exits_before_listening_is_reported_with_its_output() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let err = BrokerProcess::start(
            "sh -c 'echo no such broker >&2; exit 3'",
            Endpoint::tcp(addr),
        )
        .await
        .expect_err("it never listens");
        assert!(err.contains("exited before listening"), "{err}");
        assert!(err.contains("exit status: 3"), "{err}");
        assert!(err.contains("no such broker"), "{err}");
    }

    #[tokio::test]
    async fn a_broker_is_started_restarted_and_stopped_with_its_group() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        // A "broker" written in Python would do; a shell one-liner with a listening child
        // shows the group handling: `sh` starts the listener as its child.
        let cmd = format!(
            "python3 -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\",{})); s.listen(); print(\"listening\", flush=True); time.sleep(60)'",
            addr.port()
        );
        let mut p = BrokerProcess::start(&cmd, Endpoint::tcp(addr))
            .await
            .expect("starts");
        assert!(p.memory().is_some());
        p.restart().await.expect("restarts");
        assert_eq!(p.restarts(), 1);
        p.stop().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
