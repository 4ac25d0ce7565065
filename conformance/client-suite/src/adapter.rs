//! The adapter driver: spawns the adapter process (the library's "upper tester", see
//! `conformance/clients/ADAPTER.md`), writes commands to its stdin and reads its events from
//! stdout, every wait with a deadline.
//!
//! The process runs in its own process group and is killed, group and all, when the
//! [`Adapter`] is dropped or [`Adapter::shutdown`] runs. Its stdout is read by a task with a
//! bounded line length and a bounded queue, so an adapter that floods or prints garbage costs
//! bounded memory; its stderr keeps only a tail.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqttspec_harness::client::Transcript;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};

/// The longest stdout line kept; longer ones are cut and recorded as garbage.
pub const MAX_LINE: usize = 1024 * 1024;

/// How many events may wait unread; an adapter printing faster than that has the rest dropped.
pub const MAX_QUEUED: usize = 4096;

/// How much of the adapter's stderr is kept.
pub const STDERR_TAIL: usize = 8 * 1024;

/// The name of the adapter in transcripts.
pub const NAME: &str = "adapter";

/// Why the adapter could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The command line could not be started.
    #[error("cannot start the adapter `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The adapter did not print `ready` in time.
    #[error("the adapter printed no `ready` event within {0:?}")]
    NotReady(Duration),
}

/// One line the adapter printed.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A JSON object.
    Json(Map<String, Value>),
    /// A line that is not a JSON object (or too long).
    Garbage(String),
    /// stdout ended: the adapter exited or closed it.
    Exited,
}

impl Event {
    /// The `event` field.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Event::Json(m) => m.get("event").and_then(Value::as_str),
            _ => None,
        }
    }

    /// The `unsupported` field, when this is an unsupported answer.
    pub fn unsupported(&self) -> Option<String> {
        match self {
            Event::Json(m) => m.get("unsupported").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            _ => None,
        }
    }

    /// A field of the JSON object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Event::Json(m) => m.get(key),
            _ => None,
        }
    }

    /// A numeric field.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    /// A field under `properties`.
    pub fn property(&self, key: &str) -> Option<&Value> {
        self.get("properties").and_then(|p| p.get(key))
    }

    /// The line as text.
    pub fn text(&self) -> String {
        match self {
            Event::Json(m) => Value::Object(m.clone()).to_string(),
            Event::Garbage(s) => format!("garbage: {s}"),
            Event::Exited => "the adapter exited".into(),
        }
    }
}

/// What waiting for an event gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Wait {
    /// The awaited event.
    Got(Event),
    /// The adapter answered `unsupported` (with what it cannot express).
    Unsupported(String),
    /// The adapter exited first.
    Exited,
    /// The deadline passed.
    Timeout,
}

/// A running adapter.
#[derive(Debug)]
pub struct Adapter {
    child: Child,
    pid: Option<u32>,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Event>,
    /// Events read but not yet consumed by a wait.
    backlog: VecDeque<Event>,
    stderr: Arc<Mutex<String>>,
    transcript: Transcript,
    ready: Option<Event>,
    exited: bool,
}

impl Adapter {
    /// Starts `command_line` with `sh -c` (its own process group) and waits at most `within`
    /// for its `ready` event. `env` is added to the environment.
    pub async fn spawn(
        command_line: &str,
        env: &[(String, String)],
        transcript: Transcript,
        within: Duration,
    ) -> Result<Adapter, AdapterError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec {command_line}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|source| AdapterError::Spawn {
            command: command_line.to_owned(),
            source,
        })?;
        let pid = child.id();
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(read_events(out, tx, transcript.clone()));
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(err) = child.stderr.take() {
            tokio::spawn(read_stderr(err, stderr.clone()));
        }
        let mut adapter = Adapter {
            child,
            pid,
            stdin,
            events: rx,
            backlog: VecDeque::new(),
            stderr,
            transcript,
            ready: None,
            exited: false,
        };
        match adapter.wait_for("ready", within).await {
            Wait::Got(e) => {
                adapter.ready = Some(e);
                Ok(adapter)
            }
            _ => {
                adapter.shutdown().await;
                Err(AdapterError::NotReady(within))
            }
        }
    }

    /// The `ready` event (library name and version).
    pub fn ready(&self) -> Option<&Event> {
        self.ready.as_ref()
    }

    /// Sends one command (a JSON object). A broken pipe is recorded, not an error: the next
    /// wait sees the adapter gone.
    pub async fn command(&mut self, command: Value) {
        let line = command.to_string();
        self.transcript.event(NAME, format!("command {line}"));
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        let write = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        };
        match tokio::time::timeout(Duration::from_secs(2), write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self
                .transcript
                .event(NAME, format!("cannot write the command: {e}")),
            Err(_) => self
                .transcript
                .event(NAME, "the adapter does not read its stdin (2 s)"),
        }
    }

    async fn next_event(&mut self, deadline: Instant) -> Option<Event> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        if self.exited {
            return Some(Event::Exited);
        }
        match timeout_at(deadline, self.events.recv()).await {
            Err(_) => None,
            Ok(None) => {
                self.exited = true;
                self.transcript.event(NAME, "the adapter's stdout closed");
                Some(Event::Exited)
            }
            Ok(Some(e)) => Some(e),
        }
    }

    /// Waits at most `within` for an event of kind `kind` (or an `unsupported` answer). Other
    /// events stay queued for later waits.
    pub async fn wait_for(&mut self, kind: &str, within: Duration) -> Wait {
        self.wait_for_any(&[kind], within).await
    }

    /// Like [`Adapter::wait_for`] with several acceptable kinds.
    pub async fn wait_for_any(&mut self, kinds: &[&str], within: Duration) -> Wait {
        let deadline = Instant::now() + within;
        let mut skipped = Vec::new();
        let result = loop {
            // An adapter printing without pause keeps the queue ready: check the clock too.
            if Instant::now() >= deadline {
                break Wait::Timeout;
            }
            let Some(e) = self.next_event(deadline).await else {
                break Wait::Timeout;
            };
            if let Some(what) = e.unsupported() {
                break Wait::Unsupported(what);
            }
            if e == Event::Exited {
                break Wait::Exited;
            }
            if e.kind().is_some_and(|k| kinds.contains(&k)) {
                break Wait::Got(e);
            }
            // Garbage is in the transcript already; JSON events are kept for later waits, a
            // bounded number of them.
            if matches!(e, Event::Json(_)) && skipped.len() + self.backlog.len() < MAX_QUEUED {
                skipped.push(e);
            }
        };
        // Keep the skipped events, in order, in front of what is still queued.
        for e in skipped.into_iter().rev() {
            self.backlog.push_front(e);
        }
        result
    }

    /// Every event that arrives within `within`, without waiting for any in particular.
    pub async fn drain(&mut self, within: Duration) -> Vec<Event> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        while Instant::now() < deadline && out.len() < MAX_QUEUED {
            let Some(e) = self.next_event(deadline).await else {
                break;
            };
            let exited = e == Event::Exited;
            out.push(e);
            if exited {
                break;
            }
        }
        out
    }

    /// The tail of the adapter's stderr.
    pub fn stderr_tail(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Closes stdin, gives the adapter a moment to exit, then kills its process group.
    pub async fn shutdown(&mut self) {
        self.stdin = None;
        let exited = tokio::time::timeout(Duration::from_millis(300), self.child.wait()).await;
        if !matches!(exited, Ok(Ok(_))) {
            self.kill_group();
            let _ = self.child.kill().await;
        } else {
            // The leader exited; anything it left in its group goes too.
            self.kill_group();
        }
    }

    fn kill_group(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Reads one line of at most `max` bytes (the rest of a longer line is consumed and
/// dropped). `None` at the end of the stream; the flag says the line was cut.
async fn read_bounded_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    max: usize,
) -> Option<(Vec<u8>, bool)> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = reader.fill_buf().await.ok()?;
        if buf.is_empty() {
            return if line.is_empty() && !too_long {
                None
            } else {
                Some((line, too_long))
            };
        }
        let newline = buf.iter().position(|&b| b == b'\n');
        let chunk = buf.get(..newline.unwrap_or(buf.len())).unwrap_or(&[]);
        let room = max.saturating_sub(line.len());
        if chunk.len() > room {
            too_long = true;
        }
        line.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or(&[]));
        let used = newline.map_or(buf.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Some((line, too_long));
        }
    }
}

/// Reads the adapter's stdout; every line is recorded in the transcript as it arrives.
async fn read_events(out: impl AsyncRead + Unpin, tx: mpsc::Sender<Event>, transcript: Transcript) {
    let mut reader = BufReader::new(out);
    while let Some((line, too_long)) = read_bounded_line(&mut reader, MAX_LINE).await {
        let text = String::from_utf8_lossy(&line).trim().to_owned();
        if text.is_empty() {
            continue;
        }
        let event = if too_long {
            Event::Garbage(format!(
                "a line longer than {MAX_LINE} bytes: {}...",
                text.chars().take(80).collect::<String>()
            ))
        } else {
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => Event::Json(m),
                _ => Event::Garbage(text.chars().take(200).collect()),
            }
        };
        transcript.event(NAME, format!("event {}", event.text()));
        // A full queue drops the line: an adapter flooding stdout cannot grow memory.
        if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(event) {
            return;
        }
    }
}

async fn read_stderr(err: impl AsyncRead + Unpin, tail: Arc<Mutex<String>>) {
    let mut reader = BufReader::new(err);
    while let Some((line, _)) = read_bounded_line(&mut reader, 500).await {
        let line = String::from_utf8_lossy(&line);
        if let Ok(mut t) = tail.lock() {
            t.push_str(&line);
            t.push('\n');
            if t.len() > STDERR_TAIL {
                let cut = t.len() - STDERR_TAIL;
                let cut = (cut..t.len())
                    .find(|&i| t.is_char_boundary(i))
                    .unwrap_or(t.len());
                t.drain(..cut);
            }
        }
    }
}
