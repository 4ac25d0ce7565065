//! Test certificates (rcgen, generated at test time) and a small terminating proxy that puts
//! TLS, WebSocket or both in front of a plain-TCP broker (an implementation of the transports
//! independent of the reference broker's own listeners). Its WebSocket side follows section 6 ([`WsMode::Conforming`]) or breaks one rule
//! of it, to prove the `websocket.` cases red.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;

/// A CA and a server certificate for `localhost` / 127.0.0.1, in a fresh directory.
#[derive(Debug)]
pub struct Certs {
    /// The directory holding the PEM files.
    pub dir: PathBuf,
    /// The CA certificate (PEM file).
    pub ca: PathBuf,
    /// The server's rustls configuration.
    pub server: Arc<ServerConfig>,
    /// The server certificate (PEM file) and key (PEM file), for Mosquitto.
    pub server_cert: PathBuf,
    /// The server key.
    pub server_key: PathBuf,
}

/// Generates a CA and a server certificate signed by it; `expired` makes the server
/// certificate one that expired in 2020.
pub fn certs(tag: &str, expired: bool) -> Certs {
    let dir = std::env::temp_dir().join(format!(
        "mqttspec-certs-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("mqttspec test CA {tag}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    if expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let server_cert = params.signed_by(&server_key, &issuer).unwrap();

    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    let cert_path = dir.join("server.pem");
    std::fs::write(&cert_path, server_cert.pem()).unwrap();
    let key_path = dir.join("server.key");
    std::fs::write(&key_path, server_key.serialize_pem()).unwrap();

    // ring builds without cmake (see mqttspec-transport's tls.rs).
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    Certs {
        dir,
        ca,
        server: Arc::new(server),
        server_cert: cert_path,
        server_key: key_path,
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How the proxy's WebSocket side behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsMode {
    /// Section 6 as written: binary frames carry a byte stream, a text frame closes the
    /// connection, the `mqtt` subprotocol is selected, paths other than `/mqtt` get 404.
    Conforming,
    /// Breaks MQTT-6.0.0-1: the payload of a text frame is forwarded like a binary one.
    AcceptText,
    /// Breaks MQTT-6.0.0-2: each frame is taken to hold exactly one packet: its first packet
    /// is forwarded, the rest dropped, and a frame holding less than a packet closes the
    /// connection.
    FrameAligned,
    /// Breaks MQTT-6.0.0-4: the handshake response selects no subprotocol.
    NoSubprotocol,
}

/// A running proxy; stopped on drop.
#[derive(Debug)]
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a proxy on 127.0.0.1 in front of `upstream`: TLS when `tls` is given, WebSocket
/// when `ws` is.
pub async fn start(
    upstream: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    ws: Option<WsMode>,
) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            conns.spawn(async move {
                let _ = tcp.set_nodelay(true);
                match tls {
                    Some(config) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(config);
                        let accepted =
                            tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp))
                                .await;
                        if let Ok(Ok(stream)) = accepted {
                            serve(stream, upstream, ws).await;
                        }
                    }
                    None => serve(tcp, upstream, ws).await,
                }
            });
            while conns.try_join_next().is_some() {}
        }
    });
    Proxy { addr, task }
}

async fn serve<S>(stream: S, upstream: SocketAddr, ws: Option<WsMode>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(up) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = up.set_nodelay(true);
    match ws {
        None => {
            let (mut a, mut b) = (stream, up);
            let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
        }
        Some(mode) => serve_ws(stream, up, mode).await,
    }
}

async fn serve_ws<S>(stream: S, up: TcpStream, mode: WsMode)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if req.uri().path() != "/mqtt" {
            let mut e = ErrorResponse::new(Some("no such path".to_owned()));
            *e.status_mut() = StatusCode::NOT_FOUND;
            return Err(e);
        }
        let offered = req
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|p| p.trim() == "mqtt"));
        if offered && mode != WsMode::NoSubprotocol {
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        }
        Ok(resp)
    };
    let Ok(Ok(mut ws)) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::accept_hdr_async(stream, callback),
    )
    .await
    else {
        return;
    };
    let (mut up_read, mut up_write) = up.into_split();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            msg = ws.next() => {
                let data: Bytes = match msg {
                    Some(Ok(Message::Binary(b))) => match mode {
                        WsMode::FrameAligned => match first_packet(&b) {
                            Some(n) => b.slice(..n),
                            None => break,
                        },
                        _ => b,
                    },
                    Some(Ok(Message::Text(t))) if mode == WsMode::AcceptText => {
                        Bytes::copy_from_slice(t.as_bytes())
                    }
                    // MQTT-6.0.0-1: any other data frame closes the connection.
                    Some(Ok(Message::Text(_))) => break,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                };
                if up_write.write_all(&data).await.is_err() {
                    break;
                }
            }
            read = up_read.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if ws.send(Message::Binary(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                        break;
                    }
                }
            },
        }
    }
    let _ = ws.close(None).await;
}

/// The length of the first whole MQTT packet in `b`, if `b` holds one.
fn first_packet(b: &[u8]) -> Option<usize> {
    let mut len = 0usize;
    let mut shift = 0;
    for i in 1..5 {
        let byte = *b.get(i)?;
        len |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            let total = i + 1 + len;
            return (total <= b.len()).then_some(total);
        }
    }
    None
}

/// Writes a Mosquitto configuration with a TLS listener and a WebSocket listener (and a
/// plain one) on loopback; returns its path.
pub fn mosquitto_conf(dir: &Path, certs: &Certs, tcp: u16, tls: u16, ws: u16, wss: u16) -> PathBuf {
    let conf = dir.join("mosquitto.conf");
    let text = format!(
        "per_listener_settings false\nallow_anonymous true\npersistence false\n\
         listener {tcp} 127.0.0.1\n\
         listener {tls} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n\
         listener {ws} 127.0.0.1\nprotocol websockets\n\
         listener {wss} 127.0.0.1\nprotocol websockets\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n",
        ca = certs.ca.display(),
        cert = certs.server_cert.display(),
        key = certs.server_key.display(),
    );
    std::fs::write(&conf, text).unwrap();
    conf
}
