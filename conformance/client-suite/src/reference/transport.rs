//! The reference client's transports. Plain TCP is a blocking `TcpStream`; TLS, WebSocket and
//! WebSocket over TLS are mqttspec's own client transport (`mqttspec-transport`, the one the
//! test client uses), run by a bridge thread with a small tokio runtime that copies between it
//! and one end of a Unix socket pair. The protocol code reads and writes the other end as a
//! blocking stream, the same on every transport.
//!
//! The WebSocket fault switches act in the bridge: `ws-no-subprotocol` (the upgrade offers no
//! subprotocol), `ws-text-frames` (everything is sent in text frames), `ws-ignore-text-frame`
//! (a text frame from the server is skipped instead of closing) and `ws-frame-aligned` (each
//! frame is taken for exactly one packet: the rest of a frame is dropped, and so is a frame
//! holding only part of a packet).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use mqttspec_harness::address::broker_address;
use mqttspec_harness::transport::tls::TlsOptions;
use mqttspec_harness::transport::ws::FrameKind;
use mqttspec_harness::transport::{connect_offering, Conn, Endpoint};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fault::Fault;

/// How long opening a TLS or WebSocket connection may take.
const OPEN_LIMIT: Duration = Duration::from_secs(10);

/// The connection's byte stream, blocking.
#[derive(Debug)]
pub(super) enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// The pipe to the bridge thread.
    Bridged(UnixStream),
}

impl Stream {
    pub(super) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Bridged(s) => Stream::Bridged(s.try_clone()?),
        })
    }

    pub(super) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Bridged(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Bridged(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Bridged(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Bridged(s) => s.flush(),
        }
    }
}

/// The WebSocket faults the bridge applies.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct WsFaults {
    pub(super) no_subprotocol: bool,
    pub(super) text_frames: bool,
    pub(super) ignore_text: bool,
    pub(super) frame_aligned: bool,
}

impl WsFaults {
    pub(super) fn from(has: impl Fn(Fault) -> bool) -> WsFaults {
        WsFaults {
            no_subprotocol: has(Fault::WsNoSubprotocol),
            text_frames: has(Fault::WsTextFrames),
            ignore_text: has(Fault::WsIgnoreTextFrame),
            frame_aligned: has(Fault::WsFrameAligned),
        }
    }
}

/// Opens the connection the `connect` command `c` asks for: `transport` (`tcp`, `tls`, `ws`,
/// `wss`; TCP when absent), `path` (WebSocket), `ca_file` (TLS).
pub(super) fn open(c: &Value, host: &str, port: u16, faults: WsFaults) -> Result<Stream, String> {
    let field = |k: &str| c.get(k).and_then(Value::as_str);
    let scheme = match field("transport").unwrap_or("tcp") {
        "tcp" | "mqtt" => {
            let s = TcpStream::connect((host, port)).map_err(|e| format!("connect: {e}"))?;
            let _ = s.set_nodelay(true);
            return Ok(Stream::Tcp(s));
        }
        "tls" | "mqtts" => "mqtts",
        "ws" => "ws",
        "wss" => "wss",
        other => return Err(format!("unknown transport {other}")),
    };
    let path = if scheme.starts_with("ws") {
        field("path").unwrap_or("/mqtt")
    } else {
        ""
    };
    let url = format!("{scheme}://{host}:{port}{path}");
    let options = TlsOptions {
        ca: field("ca_file").map(Into::into),
        ..TlsOptions::default()
    };
    let endpoint = match broker_address(Some(&url), &options) {
        Ok(Some(e)) => e,
        Ok(None) => return Err(format!("no endpoint for {url}")),
        Err(e) => return Err(format!("{url}: {e}")),
    };
    let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socket pair: {e}"))?;
    let (opened_tx, opened_rx) = mpsc::channel();
    std::thread::spawn(move || bridge(endpoint, theirs, faults, opened_tx));
    match opened_rx.recv() {
        Ok(Ok(())) => Ok(Stream::Bridged(ours)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the transport thread ended".into()),
    }
}

/// The bridge thread: opens the connection, reports how that went, then copies both ways.
fn bridge(
    endpoint: Endpoint,
    pipe: UnixStream,
    faults: WsFaults,
    opened: mpsc::Sender<Result<(), String>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = opened.send(Err(format!("runtime: {e}")));
            return;
        }
    };
    rt.block_on(async move {
        let conn = match connect_offering(&endpoint, OPEN_LIMIT, !faults.no_subprotocol).await {
            Ok((conn, _)) => conn,
            Err(e) => {
                let _ = opened.send(Err(e.to_string()));
                return;
            }
        };
        let pipe = match pipe
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(pipe))
        {
            Ok(p) => p,
            Err(e) => {
                let _ = opened.send(Err(format!("pipe: {e}")));
                return;
            }
        };
        let _ = opened.send(Ok(()));
        copy(conn, pipe, faults).await;
    });
}

/// Copies between the connection and the pipe until either ends.
async fn copy(mut conn: Conn, mut pipe: tokio::net::UnixStream, faults: WsFaults) {
    let mut from_net = vec![0u8; 64 * 1024];
    let mut from_app = vec![0u8; 64 * 1024];
    let frame_aligned = faults.frame_aligned && conn.websocket().is_some();
    loop {
        tokio::select! {
            read = conn.read(&mut from_net) => match read {
                Ok(0) => break,
                Err(e) if e.kind() == io::ErrorKind::InvalidData && faults.ignore_text => {
                    // The broken client: a text frame is skipped.
                }
                Err(_) => break,
                Ok(n) => {
                    let got = &from_net[..n];
                    let take = if frame_aligned { first_whole_packet(got) } else { got };
                    if pipe.write_all(take).await.is_err() {
                        break;
                    }
                }
            },
            read = pipe.read(&mut from_app) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let bytes = Bytes::copy_from_slice(&from_app[..n]);
                    let sent = match conn.websocket() {
                        Some(ws) if faults.text_frames => {
                            ws.send_frame(FrameKind::Text, bytes, true).await
                        }
                        _ => match conn.write_all(&bytes).await {
                            Ok(()) => conn.flush().await,
                            Err(e) => Err(e),
                        },
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            },
        }
    }
    let _ = conn.shutdown().await;
    let _ = pipe.shutdown().await;
}

/// The first packet of `frame` when the frame holds a whole one, else nothing: how a client
/// that takes every WebSocket frame for exactly one packet reads (the `ws-frame-aligned`
/// fault).
fn first_whole_packet(frame: &[u8]) -> &[u8] {
    let mut len: usize = 0;
    for i in 0..4 {
        let Some(&b) = frame.get(1 + i) else {
            return &[];
        };
        len |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            let total = 2 + i + len;
            return frame.get(..total).unwrap_or(&[]);
        }
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::first_whole_packet;

    #[test]
    fn a_frame_aligned_reader_keeps_one_whole_packet() {
        assert_eq!(first_whole_packet(&[0xC0, 0x00, 0xD0, 0x00]), &[0xC0, 0x00]);
        assert!(first_whole_packet(&[0x20, 0x03, 0x00]).is_empty());
        assert!(first_whole_packet(&[0x20]).is_empty());
    }
}
