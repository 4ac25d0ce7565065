//! Fake brokers for the verdict-discipline tests: listeners that are not MQTT brokers, or
//! only pretend to be, on 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a fake broker behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fake {
    /// Accepts every connection and closes it at once.
    CloseAll,
    /// Accepts every connection, reads, never answers.
    Silent,
    /// Answers CONNECT with CONNACK 0x00 (in the layout of the CONNECT's level), then
    /// closes the connection on whatever comes next.
    ConnackThenClose,
    /// Answers CONNECT with CONNACK 0x00 and every PINGREQ with PINGRESP, and closes the
    /// connection on any other packet: a broker that looks alive but accepts nothing.
    PingOnly,
    /// Answers an MQTT 5.0 CONNECT with the MQTT 3.1.1 CONNACK `20 02 00 01` (unacceptable
    /// protocol level) and closes; answers a 3.1.1 CONNECT like [`Fake::PingOnly`].
    RefuseV5,
    /// Answers every connection with bytes that are not MQTT, then reads on.
    Garbage,
    /// Like [`Fake::RefuseV5`], but leaves the connection open after refusing MQTT 5.0 (the
    /// refusal the version case must FAIL).
    RefuseV5KeepOpen,
    /// Sends the start of a PUBLISH claiming 16383 bytes, one byte per 100 ms.
    Drip,
    /// Claims a 256 MB packet.
    HugePacket,
    /// Like [`Fake::PingOnly`] for its first [`DIES_AFTER`] connections, then closes every
    /// connection: a broker that stops serving in the middle of a run.
    DyingPingOnly,
}

/// How many connections [`Fake::DyingPingOnly`] serves.
pub const DIES_AFTER: usize = 40;

impl Fake {
    /// The kinds every case is run against in the discipline test.
    pub const ALL: [Fake; 6] = [
        Fake::CloseAll,
        Fake::Silent,
        Fake::ConnackThenClose,
        Fake::PingOnly,
        Fake::RefuseV5,
        Fake::Garbage,
    ];
}

/// Reads and discards input for at most 30 s.
async fn drain(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Reads one whole packet (fixed header, remaining length, body); `None` on close or error.
async fn read_packet(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).await.ok()?;
    let mut len: usize = 0;
    let mut shift = 0;
    loop {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await.ok()?;
        len |= usize::from(b[0] & 0x7F) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return None;
        }
    }
    if len > 1 << 20 {
        return None;
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.ok()?;
    let mut out = vec![first[0]];
    out.extend(body);
    Some(out)
}

/// The Protocol Level of a CONNECT packet (`first byte, body...`), if it is one.
fn connect_level(packet: &[u8]) -> Option<u8> {
    if packet.first()? >> 4 != 1 {
        return None;
    }
    let name_len = usize::from(u16::from_be_bytes([*packet.get(1)?, *packet.get(2)?]));
    packet.get(3 + name_len).copied()
}

async fn serve(mut stream: TcpStream, how: Fake, nth: usize) {
    let how = match how {
        Fake::DyingPingOnly if nth >= DIES_AFTER => Fake::CloseAll,
        Fake::DyingPingOnly => Fake::PingOnly,
        other => other,
    };
    match how {
        Fake::CloseAll => drop(stream),
        Fake::Silent => drain(&mut stream).await,
        Fake::Garbage => {
            let _ = stream
                .write_all(b"\x00\x01\x02HTTP/1.1 400 Bad Request\r\n\r\n")
                .await;
            drain(&mut stream).await;
        }
        Fake::Drip => {
            let _ = stream.write_all(&[0x30, 0xFF, 0x7F]).await;
            for _ in 0..200 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(b"x").await.is_err() {
                    break;
                }
            }
        }
        Fake::HugePacket => {
            let _ = stream
                .write_all(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F, b'a', b'b'])
                .await;
            drain(&mut stream).await;
        }
        Fake::DyingPingOnly => {}
        Fake::ConnackThenClose | Fake::PingOnly | Fake::RefuseV5 | Fake::RefuseV5KeepOpen => {
            let Some(packet) = read_packet(&mut stream).await else {
                return;
            };
            let level = connect_level(&packet);
            let refuse_v5 = matches!(how, Fake::RefuseV5 | Fake::RefuseV5KeepOpen);
            match level {
                Some(5) if refuse_v5 => {
                    let _ = stream.write_all(&[0x20, 0x02, 0x00, 0x01]).await;
                    if how == Fake::RefuseV5KeepOpen {
                        drain(&mut stream).await;
                    }
                    return;
                }
                Some(5) => {
                    let _ = stream.write_all(&[0x20, 0x03, 0x00, 0x00, 0x00]).await;
                }
                Some(_) => {
                    let _ = stream.write_all(&[0x20, 0x02, 0x00, 0x00]).await;
                }
                None => return,
            }
            let answers_pings = how != Fake::ConnackThenClose;
            // PINGREQ -> PINGRESP (when it answers pings); anything else closes.
            while let Some(p) = read_packet(&mut stream).await {
                if answers_pings && p.first() == Some(&0xC0) {
                    if stream.write_all(&[0xD0, 0x00]).await.is_err() {
                        return;
                    }
                } else {
                    return;
                }
            }
        }
    }
}

/// Starts a fake broker; it serves until the handle is aborted.
pub async fn start(how: Fake) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut nth = 0;
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, how, nth));
            nth += 1;
        }
    });
    (addr, task)
}

/// The judgements against the fake brokers that the specification backs
/// (`tests/data/fake-broker-fails.txt`), as `"<Fake> <case id> <protocol> <VERDICT>"` (a line
/// without a verdict allows FAIL). Every other case run against a fake must end INCONCLUSIVE or
/// UNSUPPORTED.
pub fn allowed_verdicts() -> std::collections::BTreeSet<String> {
    include_str!("../data/fake-broker-fails.txt")
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut words: Vec<&str> = l.split_whitespace().collect();
            if words.len() == 3 {
                words.push("FAIL");
            }
            words.join(" ")
        })
        .collect()
}
