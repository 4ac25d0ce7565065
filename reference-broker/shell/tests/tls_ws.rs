//! The reference broker's TLS, WebSocket and secure WebSocket listeners: mutual TLS (a client
//! certificate's Common Name as the user name, refused certificates), the WebSocket upgrade
//! and frames (section 6), the binary with listeners from the configuration file, and real
//! clients (`mosquitto_pub` / `mosquitto_sub` over TLS; paho-mqtt over WebSocket when its
//! virtual environment exists). Certificates are generated here (rcgen); no key is committed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use mqttspec_reference_broker::config::{Config, User};
use mqttspec_reference_broker::listeners::{ListenerKind, ListenerSpec};
use mqttspec_reference_broker::shell::RunningBroker;
use mqttspec_reference_broker::tls::{PemSettings, TlsServer};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const BINARY: &str = env!("CARGO_BIN_EXE_reference-broker");

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A CA that signs server and client certificates.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert: Certificate,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            issuer: Issuer::new(params, key),
            cert,
        }
    }

    /// A certificate (PEM) and key (PEM) with subject CN `cn` and the given names.
    fn sign(&self, cn: &str, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }
}

fn server_tls(ca: &Ca, client_ca: Option<&Ca>, cn_as_username: bool) -> TlsServer {
    let (cert, key) = ca.sign("localhost", &["localhost", "127.0.0.1"]);
    let client_ca = client_ca.map(Ca::pem);
    TlsServer::from_pem(PemSettings {
        cert: cert.as_bytes(),
        key: key.as_bytes(),
        client_ca: client_ca.as_deref().map(str::as_bytes),
        client_cert_optional: false,
        cert_cn_as_username: cn_as_username,
    })
    .unwrap()
}

fn client_config(ca: &Ca, identity: Option<(String, String)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.pem().as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    Arc::new(config)
}

fn spec(kind: ListenerKind) -> ListenerSpec {
    ListenerSpec {
        kind,
        addr: ([127, 0, 0, 1], 0).into(),
        path: if kind.is_websocket() {
            "/mqtt".to_owned()
        } else {
            String::new()
        },
    }
}

/// An MQTT 3.1.1 CONNECT (clean session, keep alive 60) with client id `c` and, optionally,
/// a user name and password.
fn connect_packet(user: Option<(&str, &str)>) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04];
    body.push(0x02 | if user.is_some() { 0xC0 } else { 0 });
    body.extend_from_slice(&[0x00, 0x3C, 0x00, 0x01, b'c']);
    if let Some((u, p)) = user {
        for s in [u, p] {
            body.extend_from_slice(&(s.len() as u16).to_be_bytes());
            body.extend_from_slice(s.as_bytes());
        }
    }
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

/// Sends a CONNECT and returns the CONNACK's return code (None: closed without one).
async fn connack<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    user: Option<(&str, &str)>,
) -> Option<u8> {
    s.write_all(&connect_packet(user)).await.ok()?;
    let mut ack = [0u8; 4];
    within("CONNACK", s.read_exact(&mut ack)).await.ok()?;
    assert_eq!(&ack[..3], &[0x20, 0x02, 0x00], "{ack:?}");
    Some(ack[3])
}

async fn tls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    within(
        "the TLS handshake",
        TlsConnector::from(config).connect(name, tcp),
    )
    .await
}

#[tokio::test]
async fn mutual_tls_maps_the_certificate_to_the_user_and_refuses_others() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let stranger = Ca::new("another CA");
    // Only known users may connect; the certificate of "alice" stands for her password.
    let config = Config {
        require_authentication: true,
        users: vec![User {
            username: "bob".into(),
            password: "secret".into(),
        }],
        ..Config::default()
    };
    let broker = RunningBroker::start_listeners(
        &[spec(ListenerKind::Tls)],
        Some(server_tls(&ca, Some(&clients), true)),
        config,
    )
    .await
    .unwrap();
    let addr = broker.local_addr();

    let alice = client_config(&ca, Some(clients.sign("alice", &[])));
    let mut s = tls_connect(addr, alice.clone()).await.unwrap();
    assert_eq!(connack(&mut s, None).await, Some(0), "alice by certificate");
    // The certificate decides, not the CONNECT's credentials.
    let mut s = tls_connect(addr, alice).await.unwrap();
    assert_eq!(connack(&mut s, Some(("bob", "wrong"))).await, Some(0));

    // No certificate, or one from another CA: the handshake fails (or the connection is
    // closed before any MQTT; TLS 1.3 reports the refusal after the client's Finished).
    for identity in [None, Some(stranger.sign("mallory", &[]))] {
        let refused = match tls_connect(addr, client_config(&ca, identity)).await {
            Err(_) => true,
            Ok(mut s) => connack(&mut s, Some(("bob", "secret"))).await.is_none(),
        };
        assert!(refused, "a connection without a valid client certificate");
    }
    broker.stop().await;

    // Without the mapping, a valid certificate admits the connection and the password
    // check happens as usual.
    let broker = RunningBroker::start_listeners(
        &[spec(ListenerKind::Tls)],
        Some(server_tls(&ca, Some(&clients), false)),
        Config {
            require_authentication: true,
            users: vec![User {
                username: "bob".into(),
                password: "secret".into(),
            }],
            ..Config::default()
        },
    )
    .await
    .unwrap();
    let alice = client_config(&ca, Some(clients.sign("alice", &[])));
    let mut s = tls_connect(broker.local_addr(), alice.clone())
        .await
        .unwrap();
    assert_eq!(connack(&mut s, None).await, Some(5), "not authorized");
    let mut s = tls_connect(broker.local_addr(), alice).await.unwrap();
    assert_eq!(connack(&mut s, Some(("bob", "secret"))).await, Some(0));
    broker.stop().await;
}

async fn ws_connect(
    addr: SocketAddr,
    path: &str,
    subprotocol: Option<&str>,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<TcpStream>,
        Option<String>,
    ),
    tokio_tungstenite::tungstenite::Error,
> {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(p) = subprotocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, response) = within(
        "the WebSocket handshake",
        tokio_tungstenite::client_async(request, tcp),
    )
    .await?;
    let selected = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((ws, selected))
}

/// The next binary payload, or None when the connection closed.
async fn next_binary(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> Option<Bytes> {
    loop {
        match within("a frame", ws.next()).await {
            Some(Ok(Message::Binary(b))) => return Some(b),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn the_websocket_listener_follows_section_6() {
    let broker = RunningBroker::start_listeners(&[spec(ListenerKind::Ws)], None, Config::default())
        .await
        .unwrap();
    let addr = broker.local_addr();
    // Another path: 404. No `mqtt` offered: 400.
    let status = |e: tokio_tungstenite::tungstenite::Error| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => r.status().as_u16(),
        other => panic!("{other}"),
    };
    assert_eq!(
        status(ws_connect(addr, "/x", Some("mqtt")).await.unwrap_err()),
        404
    );
    assert_eq!(
        status(ws_connect(addr, "/mqtt", None).await.unwrap_err()),
        400
    );
    // `mqtt` among others is selected.
    let (mut ws, selected) = ws_connect(addr, "/mqtt", Some("foo, mqtt")).await.unwrap();
    assert_eq!(selected.as_deref(), Some("mqtt"));
    // CONNECT split over three frames, then two PINGREQs in one frame.
    let connect = connect_packet(None);
    for part in [&connect[..1], &connect[1..5], &connect[5..]] {
        ws.send(Message::Binary(Bytes::copy_from_slice(part)))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 4 {
        got.extend_from_slice(&next_binary(&mut ws).await.expect("CONNACK"));
    }
    assert_eq!(got, [0x20, 0x02, 0x00, 0x00]);
    ws.send(Message::Binary(Bytes::from_static(&[
        0xC0, 0x00, 0xC0, 0x00,
    ])))
    .await
    .unwrap();
    let mut got = Vec::new();
    while got.len() < 4 {
        got.extend_from_slice(&next_binary(&mut ws).await.expect("PINGRESP"));
    }
    assert_eq!(got, [0xD0, 0x00, 0xD0, 0x00]);
    // A text frame closes the connection.
    ws.send(Message::Text("\u{c0}\u{0}".into())).await.unwrap();
    assert_eq!(next_binary(&mut ws).await, None);
    broker.stop().await;
}

/// A fresh directory with a CA, a server certificate for localhost/127.0.0.1 and its key.
struct CertDir {
    dir: PathBuf,
}

impl CertDir {
    fn new(tag: &str) -> CertDir {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tls_ws-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = Ca::new("test CA");
        let (cert, key) = ca.sign("localhost", &["localhost", "127.0.0.1"]);
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), cert).unwrap();
        std::fs::write(dir.join("server.key"), key).unwrap();
        CertDir { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary with `args`; returns it once it has logged every listener.
async fn start_binary(args: &[&str], listeners: usize) -> tokio::process::Child {
    use tokio::io::AsyncBufReadExt;
    let mut child = Command::new(BINARY)
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the reference-broker binary");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = 0;
    within("the broker to listen", async {
        while seen < listeners {
            match lines.next_line().await {
                Ok(Some(l)) if l.contains("listening") => seen += 1,
                Ok(Some(_)) => {}
                _ => panic!("the broker exited before listening"),
            }
        }
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

fn installed(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[tokio::test]
async fn mosquitto_clients_over_tls_to_the_binary_with_listeners_from_the_file() {
    if !installed("mosquitto_pub") || !installed("mosquitto_sub") {
        eprintln!("skipped: mosquitto_pub / mosquitto_sub are not installed");
        return;
    }
    let certs = CertDir::new("mosquitto");
    let (tls_port, ws_port) = (free_port(), free_port());
    let file = certs.path("broker.toml");
    std::fs::write(
        &file,
        format!(
            "maximum_qos = 2\n\
             [[listener]]\naddress = \"mqtts://127.0.0.1:{tls_port}\"\n\
             [[listener]]\naddress = \"ws://127.0.0.1:{ws_port}/mqtt\"\n\
             [tls]\ncert = {:?}\nkey = {:?}\n",
            certs.path("server.pem"),
            certs.path("server.key")
        ),
    )
    .unwrap();
    let mut broker = start_binary(&["--config", file.to_str().unwrap()], 2).await;
    let ca = certs.path("ca.pem");
    let common = |p: &Path| -> Vec<String> {
        vec![
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            tls_port.to_string(),
            "--cafile".into(),
            p.display().to_string(),
            "-t".into(),
            "tls/test".into(),
            "-q".into(),
            "1".into(),
        ]
    };
    let sub = Command::new("mosquitto_sub")
        .args(common(&ca))
        .args(["-C", "1", "-W", "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Publish until the subscriber (which may still be connecting) has the message.
    let output = within("mosquitto_sub to receive", async {
        let waiting = tokio::spawn(sub.wait_with_output());
        loop {
            let status = Command::new("mosquitto_pub")
                .args(common(&ca))
                .args(["-m", "over TLS"])
                .status()
                .await
                .unwrap();
            assert!(status.success(), "mosquitto_pub over TLS failed");
            if waiting.is_finished() {
                return waiting.await.unwrap().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "over TLS",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A client that does not trust the broker's CA is refused by its own TLS check.
    let status = Command::new("mosquitto_pub")
        .args(common(&certs.path("server.pem")))
        .args(["-m", "x"])
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(!status.success() || status.code() != Some(0));

    paho_over_websocket(ws_port).await;
    let _ = broker.kill().await;
}

/// paho-mqtt with `transport="websockets"` publishes and receives through the WebSocket
/// listener, when the adapter's virtual environment has paho installed.
async fn paho_over_websocket(port: u16) {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../conformance/clients/adapters/paho/venv/bin/python");
    let has_paho = std::process::Command::new(&venv)
        .args(["-c", "import paho.mqtt.client"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_paho {
        eprintln!("skipped: paho-mqtt is not installed in {}", venv.display());
        return;
    }
    let script = format!(
        r#"
import sys, threading
import paho.mqtt.client as mqtt
got = threading.Event()
def on_message(c, u, m):
    if m.payload == b"over ws":
        got.set()
def on_connect(c, u, f, rc, *a):
    c.subscribe("ws/test", 1)
def on_subscribe(c, *a):
    c.publish("ws/test", b"over ws", 1)
try:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets")
except AttributeError:
    c = mqtt.Client(transport="websockets")
c.ws_set_options(path="/mqtt")
c.on_connect, c.on_message, c.on_subscribe = on_connect, on_message, on_subscribe
c.connect("127.0.0.1", {port})
c.loop_start()
ok = got.wait(8)
c.loop_stop()
sys.exit(0 if ok else 1)
"#
    );
    let status = within(
        "paho over WebSocket",
        Command::new(&venv).args(["-c", &script]).status(),
    )
    .await
    .unwrap();
    assert!(status.success(), "paho-mqtt over WebSocket");
}
