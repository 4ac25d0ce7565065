//! SCRAM-SHA-256 (RFC 5802 with the SHA-256 parameters of RFC 7677) for MQTT 5.0 enhanced
//! authentication, both the server side ([`ScramServer`]) and the client side
//! ([`ScramClient`], used by the conformance suite and the tests).
//!
//! # How it runs over MQTT
//!
//! The Authentication Method is [`MECHANISM`] (`"SCRAM-SHA-256"`) and every SCRAM message
//! travels as the Authentication Data of the packet that carries it. The client speaks first,
//! so its first message rides in CONNECT:
//!
//! ```text
//! client                                              server
//! CONNECT  method=SCRAM-SHA-256, data=client-first  ─▶ ScramServer::start
//!                                                   ◀─ AUTH 0x18 (Continue), data=server-first
//! AUTH 0x18 (Continue), data=client-final           ─▶ ServerHandshake::finish
//!                                                   ◀─ CONNACK 0x00, data=server-final
//! ```
//!
//! What each message does:
//!
//! 1. *client-first* names the user and brings a fresh client nonce (`n,,n=user,r=...`). The
//!    leading `n,,` says the client does not use channel binding (MQTT offers none here).
//! 2. *server-first* extends the nonce with the server's own random part and tells the client
//!    the salt and iteration count stored for that user (`r=...,s=...,i=...`).
//! 3. *client-final* echoes the joint nonce and proves knowledge of the password without
//!    sending it: the proof is the client key masked with an HMAC, keyed by the stored key,
//!    over the whole conversation so far (`c=biws,r=...,p=...`).
//! 4. The server unmasks the proof, checks that the hash of the recovered client key is the
//!    stored key, and answers with *server-final* (`v=...`), its own signature over the same
//!    conversation, which shows the client that the server too knows the credentials.
//!
//! On any failure the server refuses the connection (CONNACK 0x87 Not authorized or
//! 0x86 Bad User Name or Password); [`ScramError::server_error_message`] gives an `e=...`
//! message the core may send as Authentication Data with it. Re-authentication (AUTH 0x19
//! carrying a new client-first) runs the same exchange with AUTH packets, the last one
//! being AUTH 0x00 with the server-final.
//!
//! # Choices
//!
//! - The server stores, per user, only the salt, the iteration count, the stored key and the
//!   server key ([`StoredCredentials`]); a password given in the configuration is turned into
//!   those at once with a salt derived from the server's secret and the user name.
//! - An unknown user gets the same treatment as a known one until the proof is checked (a
//!   salt derived from the secret, the configured iteration count), so the exchange does not
//!   reveal which user names exist; [`ServerHandshake::finish`] then fails with
//!   [`ScramError::UnknownUser`].
//! - Channel binding is not offered: a client asking for it (`p=`) is refused; a client that
//!   says it could use it but thinks the server cannot (`y,,`) is accepted.
//! - An authorization identity (`a=`) is accepted only if it names the authenticating user.
//! - User names and passwords are compared as given, byte for byte (no SASLprep
//!   normalisation); ASCII credentials behave exactly as in RFC 5802.
//! - No randomness of its own: everything that should be unpredictable comes from the
//!   caller. The server takes the secret its salts derive from and a [`NonceSource`] for its
//!   part of the nonce ([`ScramServer::new`]; the broker core derives both from
//!   `Config::seed`), the client takes its nonce ([`ScramClient::new`];
//!   `mqttspec_reference_broker::scram::random_nonce` makes one from the operating system's
//!   random source).
//!
//! # Bounds
//!
//! Every incoming message longer than [`MAX_MESSAGE_LEN`] bytes is refused before parsing,
//! and parsing never allocates more than the message size. The client refuses iteration
//! counts outside `min_iterations..=max_iterations` (4,096 and 100,000 by default), so a
//! hostile server cannot make it spin; the server only ever runs the count it was configured
//! with. Nothing in this module panics on any input.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The Authentication Method name for this mechanism.
pub const MECHANISM: &str = "SCRAM-SHA-256";

/// The longest SCRAM message accepted, in bytes.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// The iteration count used when none is configured (the minimum RFC 7677 recommends).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// The smallest iteration count a [`ScramClient`] accepts by default.
pub const DEFAULT_MIN_ITERATIONS: u32 = 4096;

/// The largest iteration count a [`ScramClient`] accepts by default.
pub const DEFAULT_MAX_ITERATIONS: u32 = 100_000;

/// The length of SHA-256 output, and so of every key and signature.
const KEY_LEN: usize = 32;

/// The length of the server secret from which salts are derived ([`ScramServer::new`]).
pub const SECRET_LEN: usize = KEY_LEN;

/// The length of a derived salt.
const SALT_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// Why a SCRAM exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    /// The message is longer than [`MAX_MESSAGE_LEN`].
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The message does not follow the SCRAM grammar; says which part.
    Malformed(&'static str),
    /// A user name uses `=` other than in `=2C` or `=3D`.
    InvalidUsernameEncoding,
    /// The client asked for channel binding, which is not offered.
    ChannelBindingNotSupported,
    /// The channel-binding data of client-final does not repeat the client-first header.
    ChannelBindingMismatch,
    /// A mandatory extension (`m=`) was used; none is supported.
    ExtensionsNotSupported,
    /// An authorization identity different from the user name was requested.
    AuthzidNotSupported,
    /// The nonce does not continue the exchange (client-final or server-first).
    NonceMismatch,
    /// The user is not known (reported only at the end of the exchange).
    UnknownUser,
    /// The client proof is wrong (wrong password, or a tampered message).
    InvalidProof,
    /// The server signature in server-final is wrong (the server does not know the
    /// credentials, or the message was tampered with).
    InvalidServerSignature,
    /// The server answered with an error (`e=...`); the value, as sent.
    ServerError(String),
    /// The server's iteration count is outside the range this client accepts.
    IterationCount {
        /// The count the server sent.
        count: u32,
    },
    /// A client method was called out of order (e.g. server-final before server-first).
    OutOfOrder,
    /// A nonce is empty or holds a character SCRAM does not allow (only printable ASCII
    /// other than `,`).
    InvalidNonce,
    /// No nonce could be made (the source of nonces failed).
    NoResources,
}

impl ScramError {
    /// The `server-error-value` (RFC 5802) that describes this failure to the client.
    pub fn server_error_value(&self) -> &'static str {
        match self {
            ScramError::TooLong { .. } | ScramError::Malformed(_) => "invalid-encoding",
            ScramError::InvalidUsernameEncoding => "invalid-username-encoding",
            ScramError::ChannelBindingNotSupported => "channel-binding-not-supported",
            ScramError::ChannelBindingMismatch => "channel-bindings-dont-match",
            ScramError::ExtensionsNotSupported => "extensions-not-supported",
            // An unknown user is reported like a wrong password, so the answer does not reveal
            // whether the user exists.
            ScramError::UnknownUser | ScramError::InvalidProof => "invalid-proof",
            ScramError::NoResources => "no-resources",
            ScramError::AuthzidNotSupported
            | ScramError::NonceMismatch
            | ScramError::InvalidServerSignature
            | ScramError::ServerError(_)
            | ScramError::IterationCount { .. }
            | ScramError::OutOfOrder
            | ScramError::InvalidNonce => "other-error",
        }
    }

    /// A server-final error message (`e=...`) for this failure, to send as the
    /// Authentication Data of the refusing packet if the core chooses to.
    pub fn server_error_message(&self) -> Vec<u8> {
        format!("e={}", self.server_error_value()).into_bytes()
    }
}

impl std::fmt::Display for ScramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScramError::TooLong { len } => write!(
                f,
                "SCRAM message of {len} bytes exceeds the limit of {MAX_MESSAGE_LEN}"
            ),
            ScramError::Malformed(what) => write!(f, "malformed SCRAM message: {what}"),
            ScramError::ServerError(value) => write!(f, "the server reported error {value:?}"),
            ScramError::IterationCount { count } => {
                write!(f, "iteration count {count} outside the accepted range")
            }
            other => f.write_str(other.server_error_value()),
        }
    }
}

impl std::error::Error for ScramError {}

/// What the server keeps for one user: enough to verify a proof and to sign, not the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    /// The salt.
    pub salt: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
    /// H(ClientKey).
    pub stored_key: [u8; KEY_LEN],
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: [u8; KEY_LEN],
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("salt", &BASE64.encode(&self.salt))
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl StoredCredentials {
    /// The credentials for `password` with this salt and iteration count (an iteration count
    /// of 0 is treated as 1).
    pub fn from_password(password: &str, salt: &[u8], iterations: u32) -> Self {
        let iterations = iterations.max(1);
        let keys = Keys::derive(password, salt, iterations);
        StoredCredentials {
            salt: salt.to_vec(),
            iterations,
            stored_key: keys.stored_key,
            server_key: keys.server_key,
        }
    }
}

/// The keys derived from a password.
struct Keys {
    client_key: [u8; KEY_LEN],
    stored_key: [u8; KEY_LEN],
    server_key: [u8; KEY_LEN],
}

impl Keys {
    fn derive(password: &str, salt: &[u8], iterations: u32) -> Self {
        let mut salted = [0u8; KEY_LEN];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
        let client_key = hmac(&salted, &[b"Client Key"]);
        let server_key = hmac(&salted, &[b"Server Key"]);
        let stored_key: [u8; KEY_LEN] = Sha256::digest(client_key).into();
        Keys {
            client_key,
            stored_key,
            server_key,
        }
    }
}

/// HMAC-SHA-256 of the concatenation of `parts`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; KEY_LEN] {
    // HMAC takes keys of any length, so this cannot fail; a zero key is never used.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; KEY_LEN],
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn xor(a: &[u8; KEY_LEN], b: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `s` is a valid nonce: non-empty printable ASCII without `,`.
fn is_valid_nonce(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7E).contains(&b) && b != b',')
}

/// The user name encoding of SCRAM: `,` as `=2C` and `=` as `=3D`.
fn encode_username(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn decode_username(s: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('=') {
        let (before, after) = rest.split_at(pos);
        out.push_str(before);
        if let Some(tail) = after.strip_prefix("=2C") {
            out.push(',');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("=3D") {
            out.push('=');
            rest = tail;
        } else {
            return Err(ScramError::InvalidUsernameEncoding);
        }
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(ScramError::Malformed("empty user name"));
    }
    Ok(out)
}

/// The message as text, after the length check.
fn message_text(msg: &[u8]) -> Result<&str, ScramError> {
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(ScramError::TooLong { len: msg.len() });
    }
    std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))
}

/// `attr=value` with the expected attribute letter; the value.
fn attribute<'a>(
    part: Option<&'a str>,
    name: char,
    what: &'static str,
) -> Result<&'a str, ScramError> {
    let part = part.ok_or(ScramError::Malformed(what))?;
    let mut chars = part.chars();
    match (chars.next(), chars.next()) {
        (Some(c), Some('=')) if c == name => Ok(chars.as_str()),
        (Some('m'), Some('=')) => Err(ScramError::ExtensionsNotSupported),
        _ => Err(ScramError::Malformed(what)),
    }
}

/// Checks optional trailing extensions (`x=...` with a letter other than `m`).
fn check_extensions<'a>(rest: impl Iterator<Item = &'a str>) -> Result<(), ScramError> {
    for ext in rest {
        let mut chars = ext.chars();
        match (chars.next(), chars.next()) {
            (Some('m'), Some('=')) => return Err(ScramError::ExtensionsNotSupported),
            (Some(c), Some('=')) if c.is_ascii_alphabetic() => {}
            _ => return Err(ScramError::Malformed("extension")),
        }
    }
    Ok(())
}

fn decode_base64(s: &str, what: &'static str) -> Result<Vec<u8>, ScramError> {
    BASE64.decode(s).map_err(|_| ScramError::Malformed(what))
}

fn decode_key(s: &str, what: &'static str) -> Result<[u8; KEY_LEN], ScramError> {
    decode_base64(s, what)?
        .try_into()
        .map_err(|_| ScramError::Malformed(what))
}

/// A generator of the server's part of the nonce: returns printable ASCII without `,`, or
/// `None` if it cannot make one.
pub type NonceSource = Box<dyn FnMut() -> Option<String> + Send>;

/// The server side: verifies clients against stored credentials. See the module docs.
pub struct ScramServer {
    users: HashMap<String, StoredCredentials>,
    nonce_source: NonceSource,
    secret: [u8; SECRET_LEN],
    iterations: u32,
}

impl std::fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramServer")
            .field("users", &self.users.len())
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramServer {
    /// A server with no users and [`DEFAULT_ITERATIONS`], deriving salts from `secret` and
    /// taking its part of every nonce from `nonce_source`. Both should be unpredictable to
    /// clients in real use; the broker core derives them from its seed.
    pub fn new(
        secret: [u8; SECRET_LEN],
        nonce_source: impl FnMut() -> Option<String> + Send + 'static,
    ) -> Self {
        ScramServer {
            users: HashMap::new(),
            nonce_source: Box::new(nonce_source),
            secret,
            iterations: DEFAULT_ITERATIONS,
        }
    }

    /// Replaces the source of server nonces (e.g. a fixed sequence in tests).
    #[must_use]
    pub fn with_nonce_source(
        mut self,
        source: impl FnMut() -> Option<String> + Send + 'static,
    ) -> Self {
        self.nonce_source = Box::new(source);
        self
    }

    /// Sets the iteration count for passwords added from now on and for unknown users
    /// (0 is treated as 1).
    #[must_use]
    pub fn with_iterations(mut self, iterations: u32) -> Self {
        self.iterations = iterations.max(1);
        self
    }

    /// Adds or replaces a user with this password, salted with a value derived from the
    /// server's secret and the user name, at the configured iteration count.
    pub fn add_password(&mut self, user: &str, password: &str) {
        let salt = self.salt_for(user);
        let credentials = StoredCredentials::from_password(password, &salt, self.iterations);
        self.users.insert(user.to_owned(), credentials);
    }

    /// Adds or replaces a user with already derived credentials.
    pub fn add_credentials(&mut self, user: &str, credentials: StoredCredentials) {
        self.users.insert(user.to_owned(), credentials);
    }

    /// The number of users.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    fn salt_for(&self, user: &str) -> Vec<u8> {
        let full = hmac(&self.secret, &[b"mqttspec-scram-salt\0", user.as_bytes()]);
        full.get(..SALT_LEN).unwrap_or(&full).to_vec()
    }

    /// Handles client-first: returns server-first (to send in AUTH, Reason Code 0x18) and
    /// the state to finish the exchange with.
    pub fn start(&mut self, client_first: &[u8]) -> Result<(Vec<u8>, ServerHandshake), ScramError> {
        let text = message_text(client_first)?;
        let parsed = ClientFirst::parse(text)?;
        let server_part = (self.nonce_source)().ok_or(ScramError::NoResources)?;
        if !is_valid_nonce(&server_part) {
            return Err(ScramError::InvalidNonce);
        }
        let nonce = format!("{}{}", parsed.nonce, server_part);
        let credentials = self.users.get(&parsed.username).cloned();
        let (salt, iterations) = match &credentials {
            Some(c) => (c.salt.clone(), c.iterations),
            None => (self.salt_for(&parsed.username), self.iterations),
        };
        let server_first = format!("r={nonce},s={},i={iterations}", BASE64.encode(&salt));
        let auth_message_prefix = format!("{},{}", parsed.bare, server_first);
        let handshake = ServerHandshake {
            username: parsed.username,
            gs2_header: parsed.gs2_header.to_owned(),
            nonce,
            auth_message_prefix,
            credentials,
        };
        Ok((server_first.into_bytes(), handshake))
    }
}

/// The parts of a client-first message the server needs.
struct ClientFirst<'a> {
    gs2_header: &'a str,
    bare: &'a str,
    username: String,
    nonce: &'a str,
}

impl<'a> ClientFirst<'a> {
    fn parse(text: &'a str) -> Result<Self, ScramError> {
        // gs2-header: a channel-binding flag and an optional authzid, each followed by ','.
        let (flag, rest) = text
            .split_once(',')
            .ok_or(ScramError::Malformed("gs2 header"))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => return Err(ScramError::ChannelBindingNotSupported),
            _ => return Err(ScramError::Malformed("channel-binding flag")),
        }
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or(ScramError::Malformed("gs2 header"))?;
        let header_len = flag.len() + authzid.len() + 2;
        let gs2_header = text
            .get(..header_len)
            .ok_or(ScramError::Malformed("gs2 header"))?;
        let mut parts = bare.split(',');
        let username = decode_username(attribute(parts.next(), 'n', "user name")?)?;
        let nonce = attribute(parts.next(), 'r', "nonce")?;
        if !is_valid_nonce(nonce) {
            return Err(ScramError::InvalidNonce);
        }
        check_extensions(parts)?;
        if !authzid.is_empty() {
            let requested = decode_username(
                authzid
                    .strip_prefix("a=")
                    .ok_or(ScramError::Malformed("authorization identity"))?,
            )?;
            if requested != username {
                return Err(ScramError::AuthzidNotSupported);
            }
        }
        Ok(ClientFirst {
            gs2_header,
            bare,
            username,
            nonce,
        })
    }
}

/// A server-side exchange after server-first, waiting for client-final.
pub struct ServerHandshake {
    username: String,
    gs2_header: String,
    nonce: String,
    auth_message_prefix: String,
    credentials: Option<StoredCredentials>,
}

impl std::fmt::Debug for ServerHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandshake")
            .field("username", &self.username)
            .field("known_user", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerHandshake {
    /// The user name the client claims (authenticated only once [`ServerHandshake::finish`]
    /// succeeds).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Handles client-final: verifies the channel binding, the nonce and the proof, and
    /// returns server-final (to send in CONNACK, or AUTH 0x00 on re-authentication).
    pub fn finish(self, client_final: &[u8]) -> Result<Vec<u8>, ScramError> {
        let text = message_text(client_final)?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("client proof"))?;
        let proof = decode_key(proof, "client proof")?;
        let mut parts = without_proof.split(',');
        let binding = decode_base64(
            attribute(parts.next(), 'c', "channel binding")?,
            "channel binding",
        )?;
        let nonce = attribute(parts.next(), 'r', "nonce")?;
        check_extensions(parts)?;
        if !constant_time_eq(&binding, self.gs2_header.as_bytes()) {
            return Err(ScramError::ChannelBindingMismatch);
        }
        if nonce != self.nonce {
            return Err(ScramError::NonceMismatch);
        }
        let credentials = self.credentials.ok_or(ScramError::UnknownUser)?;
        let auth_message = [
            self.auth_message_prefix.as_bytes(),
            b",",
            without_proof.as_bytes(),
        ];
        let client_signature = hmac(&credentials.stored_key, &auth_message);
        let client_key = xor(&proof, &client_signature);
        let stored_key: [u8; KEY_LEN] = Sha256::digest(client_key).into();
        if !constant_time_eq(&stored_key, &credentials.stored_key) {
            return Err(ScramError::InvalidProof);
        }
        let server_signature = hmac(&credentials.server_key, &auth_message);
        Ok(format!("v={}", BASE64.encode(server_signature)).into_bytes())
    }
}

/// Where a [`ScramClient`] is in the exchange.
#[derive(Clone, PartialEq, Eq)]
enum ClientState {
    /// client-first may be sent; waiting for server-first.
    Initial,
    /// client-final sent; server-final must carry this signature.
    AwaitingServerFinal { server_signature: [u8; KEY_LEN] },
    /// The server proved itself.
    Done,
}

/// The client side, for the conformance suite and tests. See the module docs.
#[derive(Clone)]
pub struct ScramClient {
    username: String,
    password: String,
    nonce: String,
    min_iterations: u32,
    max_iterations: u32,
    state: ClientState,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            ClientState::Initial => "initial",
            ClientState::AwaitingServerFinal { .. } => "awaiting server-final",
            ClientState::Done => "done",
        };
        f.debug_struct("ScramClient")
            .field("username", &self.username)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client for this user and password, with this client nonce (printable ASCII other
    /// than `,`; it should be unpredictable to the server, e.g.
    /// `mqttspec_reference_broker::scram::random_nonce`).
    pub fn new(username: &str, password: &str, nonce: &str) -> Result<Self, ScramError> {
        if !is_valid_nonce(nonce) {
            return Err(ScramError::InvalidNonce);
        }
        if username.is_empty() {
            return Err(ScramError::Malformed("empty user name"));
        }
        Ok(ScramClient {
            username: username.to_owned(),
            password: password.to_owned(),
            nonce: nonce.to_owned(),
            min_iterations: DEFAULT_MIN_ITERATIONS,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            state: ClientState::Initial,
        })
    }

    /// Sets the range of iteration counts this client accepts from a server.
    #[must_use]
    pub fn with_iteration_range(mut self, min: u32, max: u32) -> Self {
        self.min_iterations = min.max(1);
        self.max_iterations = max;
        self
    }

    fn bare(&self) -> String {
        format!("n={},r={}", encode_username(&self.username), self.nonce)
    }

    /// client-first (to send as the Authentication Data of CONNECT, or of AUTH 0x19).
    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.bare()).into_bytes()
    }

    /// Handles server-first and returns client-final (to send in AUTH 0x18).
    pub fn handle_server_first(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        if self.state != ClientState::Initial {
            return Err(ScramError::OutOfOrder);
        }
        let text = message_text(server_first)?;
        if let Some(value) = text.strip_prefix("e=") {
            return Err(ScramError::ServerError(value.to_owned()));
        }
        let mut parts = text.split(',');
        let nonce = attribute(parts.next(), 'r', "nonce")?;
        let salt = decode_base64(attribute(parts.next(), 's', "salt")?, "salt")?;
        let iterations = attribute(parts.next(), 'i', "iteration count")?;
        check_extensions(parts)?;
        if !is_valid_nonce(nonce) {
            return Err(ScramError::InvalidNonce);
        }
        if nonce.len() <= self.nonce.len() || !nonce.starts_with(&self.nonce) {
            return Err(ScramError::NonceMismatch);
        }
        if salt.is_empty() {
            return Err(ScramError::Malformed("empty salt"));
        }
        if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ScramError::Malformed("iteration count"));
        }
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| ScramError::Malformed("iteration count"))?;
        if iterations < self.min_iterations || iterations > self.max_iterations {
            return Err(ScramError::IterationCount { count: iterations });
        }
        let keys = Keys::derive(&self.password, &salt, iterations);
        let without_proof = format!("c={},r={nonce}", BASE64.encode("n,,"));
        let auth_message = [
            self.bare().into_bytes(),
            b",".to_vec(),
            server_first.to_vec(),
            b",".to_vec(),
            without_proof.clone().into_bytes(),
        ]
        .concat();
        let client_signature = hmac(&keys.stored_key, &[&auth_message]);
        let proof = xor(&keys.client_key, &client_signature);
        let server_signature = hmac(&keys.server_key, &[&auth_message]);
        self.state = ClientState::AwaitingServerFinal { server_signature };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Handles server-final: succeeds only if it carries the server signature this client
    /// expects.
    pub fn handle_server_final(&mut self, server_final: &[u8]) -> Result<(), ScramError> {
        let ClientState::AwaitingServerFinal { server_signature } = &self.state else {
            return Err(ScramError::OutOfOrder);
        };
        let text = message_text(server_final)?;
        let mut parts = text.split(',');
        let first = parts.next().unwrap_or_default();
        if let Some(value) = first.strip_prefix("e=") {
            return Err(ScramError::ServerError(value.to_owned()));
        }
        let verifier = decode_key(attribute(Some(first), 'v', "verifier")?, "verifier")?;
        check_extensions(parts)?;
        if !constant_time_eq(&verifier, server_signature) {
            return Err(ScramError::InvalidServerSignature);
        }
        self.state = ClientState::Done;
        Ok(())
    }

    /// Whether the server has proved itself (server-final verified).
    pub fn is_done(&self) -> bool {
        self.state == ClientState::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    // RFC 7677, section 3.
    const USER: &str = "user";
    const PASSWORD: &str = "pencil";
    const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    // PBKDF2 with 4096 iterations is slow in unoptimised test builds: derive each test
    // credential once and share it.
    fn rfc_server() -> ScramServer {
        static CREDENTIALS: OnceLock<StoredCredentials> = OnceLock::new();
        let credentials = CREDENTIALS.get_or_init(|| {
            let salt = BASE64.decode(SALT).unwrap();
            StoredCredentials::from_password(PASSWORD, &salt, 4096)
        });
        let mut server = ScramServer::new(SECRET, || Some(SERVER_NONCE.to_owned()));
        server.add_credentials(USER, credentials.clone());
        server
    }

    const SECRET: [u8; KEY_LEN] = [7; KEY_LEN];

    fn test_server() -> ScramServer {
        static CREDENTIALS: OnceLock<Vec<(&str, StoredCredentials)>> = OnceLock::new();
        let credentials = CREDENTIALS.get_or_init(|| {
            let mut reference = ScramServer::new(SECRET, || None);
            reference.add_password("alice", "correct horse");
            reference.add_password("we,ird=name", "pw");
            ["alice", "we,ird=name"]
                .into_iter()
                .map(|u| (u, reference.users[u].clone()))
                .collect()
        });
        let mut n = 0u32;
        let mut server = ScramServer::new(SECRET, move || {
            n += 1;
            Some(format!("srv{n}"))
        });
        for (user, c) in credentials {
            server.add_credentials(user, c.clone());
        }
        server
    }

    /// A client that has handled the RFC 7677 server-first and waits for server-final.
    fn rfc_client_awaiting_final() -> ScramClient {
        static CLIENT: OnceLock<ScramClient> = OnceLock::new();
        CLIENT
            .get_or_init(|| {
                let mut client = ScramClient::new(USER, PASSWORD, CLIENT_NONCE).unwrap();
                client.handle_server_first(SERVER_FIRST.as_bytes()).unwrap();
                client
            })
            .clone()
    }

    fn as_text(v: &[u8]) -> &str {
        std::str::from_utf8(v).unwrap()
    }

    #[test]
    fn the_rfc_7677_example_is_reproduced_by_both_sides() {
        let mut client = ScramClient::new(USER, PASSWORD, CLIENT_NONCE).unwrap();
        assert_eq!(as_text(&client.client_first()), CLIENT_FIRST);
        let mut server = rfc_server();
        let (server_first, handshake) = server.start(CLIENT_FIRST.as_bytes()).unwrap();
        assert_eq!(as_text(&server_first), SERVER_FIRST);
        assert_eq!(handshake.username(), USER);
        let client_final = client.handle_server_first(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(as_text(&client_final), CLIENT_FINAL);
        let server_final = handshake.finish(CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(as_text(&server_final), SERVER_FINAL);
        assert!(!client.is_done());
        client.handle_server_final(SERVER_FINAL.as_bytes()).unwrap();
        assert!(client.is_done());
    }

    fn run(server: &mut ScramServer, user: &str, password: &str) -> Result<(), ScramError> {
        let mut client = ScramClient::new(user, password, "fyko+d2lbbFgONRv9qkxdawL")?;
        let (server_first, handshake) = server.start(&client.client_first())?;
        let client_final = client.handle_server_first(&server_first)?;
        let server_final = handshake.finish(&client_final)?;
        client.handle_server_final(&server_final)
    }

    #[test]
    fn client_and_server_agree_on_the_right_password() {
        let mut server = test_server();
        run(&mut server, "alice", "correct horse").unwrap();
        run(&mut server, "we,ird=name", "pw").unwrap();
        let mut other_server = ScramServer::new([1; SECRET_LEN], || Some("other".into()));
        other_server.add_password("bob", "secret");
        assert_eq!(other_server.user_count(), 1);
        run(&mut other_server, "bob", "secret").unwrap();
    }

    #[test]
    fn a_wrong_password_fails_with_invalid_proof() {
        let mut server = test_server();
        assert_eq!(
            run(&mut server, "alice", "wrong"),
            Err(ScramError::InvalidProof)
        );
    }

    #[test]
    fn an_unknown_user_looks_like_a_known_one_until_the_end() {
        let mut server = test_server();
        let (first_a, _) = server.start(b"n,,n=mallory,r=abc").unwrap();
        let (first_b, _) = server.start(b"n,,n=mallory,r=abc").unwrap();
        let salt = |m: &[u8]| as_text(m).split(',').nth(1).unwrap().to_owned();
        // Same salt every time for the same unknown name, and a normal iteration count.
        assert_eq!(salt(&first_a), salt(&first_b));
        assert!(as_text(&first_a).ends_with(",i=4096"));
        assert_eq!(
            run(&mut server, "mallory", "anything"),
            Err(ScramError::UnknownUser)
        );
        assert_eq!(
            ScramError::UnknownUser.server_error_message(),
            ScramError::InvalidProof.server_error_message()
        );
    }

    #[test]
    fn a_tampered_proof_is_rejected() {
        let (_, handshake) = rfc_server().start(CLIENT_FIRST.as_bytes()).unwrap();
        let tampered = CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
        assert_eq!(
            handshake.finish(tampered.as_bytes()),
            Err(ScramError::InvalidProof)
        );
    }

    #[test]
    fn a_changed_nonce_or_channel_binding_is_rejected() {
        let (_, handshake) = rfc_server().start(CLIENT_FIRST.as_bytes()).unwrap();
        let other_nonce = CLIENT_FINAL.replace("k0,p=", "k1,p=");
        assert_eq!(
            handshake.finish(other_nonce.as_bytes()),
            Err(ScramError::NonceMismatch)
        );
        let (_, handshake) = rfc_server().start(CLIENT_FIRST.as_bytes()).unwrap();
        // "eSws" is base64 of "y,,", which is not the header the client sent.
        let other_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
        assert_eq!(
            handshake.finish(other_binding.as_bytes()),
            Err(ScramError::ChannelBindingMismatch)
        );
    }

    #[test]
    fn a_server_signature_that_does_not_match_is_rejected() {
        let mut client = ScramClient::new(USER, PASSWORD, CLIENT_NONCE).unwrap();
        client.handle_server_first(SERVER_FIRST.as_bytes()).unwrap();
        let wrong = SERVER_FINAL.replace("v=6rri", "v=6rrj");
        assert_eq!(
            client.handle_server_final(wrong.as_bytes()),
            Err(ScramError::InvalidServerSignature)
        );
        assert_eq!(
            client.handle_server_final(b"e=invalid-proof"),
            Err(ScramError::ServerError("invalid-proof".into()))
        );
        assert!(!client.is_done());
    }

    #[test]
    fn the_client_refuses_calls_out_of_order() {
        let mut client = ScramClient::new(USER, PASSWORD, CLIENT_NONCE).unwrap();
        assert_eq!(
            client.handle_server_final(SERVER_FINAL.as_bytes()),
            Err(ScramError::OutOfOrder)
        );
        client.handle_server_first(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(
            client.handle_server_first(SERVER_FIRST.as_bytes()),
            Err(ScramError::OutOfOrder)
        );
    }

    #[test]
    fn the_client_checks_the_server_first_message() {
        let new = || ScramClient::new(USER, PASSWORD, CLIENT_NONCE).unwrap();
        let cases: &[(&str, ScramError)] = &[
            // The server nonce must extend the client's.
            (
                "r=rOprNGfwEbeRWgbNEkqO,s=QQ==,i=4096",
                ScramError::NonceMismatch,
            ),
            (
                "r=XXXX1234567890123456789,s=QQ==,i=4096",
                ScramError::NonceMismatch,
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=QQ==,i=1",
                ScramError::IterationCount { count: 1 },
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=QQ==,i=4294967295",
                ScramError::IterationCount { count: u32::MAX },
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=QQ==,i=99999999999",
                ScramError::Malformed("iteration count"),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=QQ==,i=+4096",
                ScramError::Malformed("iteration count"),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
                ScramError::Malformed("empty salt"),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=!!,i=4096",
                ScramError::Malformed("salt"),
            ),
            (
                "m=x,r=rOprNGfwEbeRWgbNEkqOx,s=QQ==,i=4096",
                ScramError::ExtensionsNotSupported,
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOx,s=QQ==",
                ScramError::Malformed("iteration count"),
            ),
            (
                "e=other-error",
                ScramError::ServerError("other-error".into()),
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(
                new().handle_server_first(msg.as_bytes()).as_ref(),
                Err(want),
                "{msg}"
            );
        }
        assert_eq!(
            new()
                .with_iteration_range(1, 10)
                .handle_server_first(b"r=rOprNGfwEbeRWgbNEkqOx,s=QQ==,i=11"),
            Err(ScramError::IterationCount { count: 11 })
        );
        assert!(new()
            .with_iteration_range(1, 10)
            .handle_server_first(b"r=rOprNGfwEbeRWgbNEkqOx,s=QQ==,i=10,x=ext")
            .is_ok());
    }

    #[test]
    fn the_server_checks_the_client_first_message() {
        let cases: &[(&[u8], ScramError)] = &[
            (b"", ScramError::Malformed("gs2 header")),
            (b"n,", ScramError::Malformed("gs2 header")),
            (
                b"x,,n=user,r=abc",
                ScramError::Malformed("channel-binding flag"),
            ),
            (
                b"p=tls-unique,,n=user,r=abc",
                ScramError::ChannelBindingNotSupported,
            ),
            (b"n,,m=ext,n=user,r=abc", ScramError::ExtensionsNotSupported),
            (b"n,,n=user,r=abc,m=ext", ScramError::ExtensionsNotSupported),
            (b"n,,n=user", ScramError::Malformed("nonce")),
            (b"n,,n=,r=abc", ScramError::Malformed("empty user name")),
            (b"n,,n=us=er,r=abc", ScramError::InvalidUsernameEncoding),
            (b"n,,n=user,r=", ScramError::InvalidNonce),
            (b"n,,n=user,r=a\x7fb", ScramError::InvalidNonce),
            (b"n,,r=abc,n=user", ScramError::Malformed("user name")),
            (b"n,a=admin,n=user,r=abc", ScramError::AuthzidNotSupported),
            (
                b"n,admin,n=user,r=abc",
                ScramError::Malformed("authorization identity"),
            ),
            (b"n,,n=user,r=abc,1", ScramError::Malformed("extension")),
            (b"n,,n=\xff,r=abc", ScramError::Malformed("not UTF-8")),
        ];
        for (msg, want) in cases {
            let got = test_server().start(msg).map(|_| ());
            assert_eq!(
                got.as_ref(),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(msg)
            );
        }
        let long = vec![b'a'; MAX_MESSAGE_LEN + 1];
        assert_eq!(
            test_server().start(&long).map(|_| ()),
            Err(ScramError::TooLong {
                len: MAX_MESSAGE_LEN + 1
            })
        );
        // Accepted variants: 'y' flag, authzid naming the user, extra extensions.
        assert!(test_server().start(b"y,,n=alice,r=abc").is_ok());
        assert!(test_server().start(b"n,a=alice,n=alice,r=abc,x=1").is_ok());
    }

    #[test]
    fn a_y_flag_client_must_repeat_its_own_header() {
        let mut server = test_server();
        let mut client = ScramClient::new("alice", "correct horse", "abc").unwrap();
        // Hand-made client-first with the 'y' flag; our client always sends 'n', so its
        // client-final (c=biws) does not match and is refused.
        let (server_first, handshake) = server.start(b"y,,n=alice,r=abc").unwrap();
        let client_final = client.handle_server_first(&server_first).unwrap();
        assert_eq!(
            handshake.finish(&client_final),
            Err(ScramError::ChannelBindingMismatch)
        );
    }

    #[test]
    fn the_server_refuses_a_bad_nonce_source() {
        let mut server = test_server().with_nonce_source(|| Some("has,comma".into()));
        assert_eq!(
            server.start(b"n,,n=alice,r=abc").map(|_| ()),
            Err(ScramError::InvalidNonce)
        );
        let mut server = test_server().with_nonce_source(|| None);
        assert_eq!(
            server.start(b"n,,n=alice,r=abc").map(|_| ()),
            Err(ScramError::NoResources)
        );
    }

    #[test]
    fn the_server_checks_the_client_final_message() {
        let cases: &[(&str, ScramError)] = &[
            ("", ScramError::Malformed("client proof")),
            ("c=biws,r=x", ScramError::Malformed("client proof")),
            ("c=biws,r=x,p=", ScramError::Malformed("client proof")),
            ("c=biws,r=x,p=QQ==", ScramError::Malformed("client proof")),
            (
                "r=x,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                ScramError::Malformed("channel binding"),
            ),
            (
                "c=***,r=x,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                ScramError::Malformed("channel binding"),
            ),
            (
                "c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                ScramError::Malformed("nonce"),
            ),
            (
                "c=biws,r=x,m=1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                ScramError::ExtensionsNotSupported,
            ),
        ];
        for (msg, want) in cases {
            let (_, handshake) = rfc_server().start(CLIENT_FIRST.as_bytes()).unwrap();
            assert_eq!(
                handshake.finish(msg.as_bytes()).as_ref(),
                Err(want),
                "{msg}"
            );
        }
    }

    #[test]
    fn user_names_with_comma_and_equals_are_escaped() {
        assert_eq!(encode_username("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(decode_username("a=2Cb=3Dc").unwrap(), "a,b=c");
        let client = ScramClient::new("a,b=c", "pw", "n0nce").unwrap();
        assert_eq!(as_text(&client.client_first()), "n,,n=a=2Cb=3Dc,r=n0nce");
        assert!(ScramClient::new("u", "pw", "bad,nonce").is_err());
        assert!(ScramClient::new("", "pw", "nonce").is_err());
    }

    #[test]
    fn debug_output_hides_keys() {
        let server = test_server();
        let creds = StoredCredentials::from_password("pw", b"salt", 1);
        let shown = format!("{server:?} {creds:?}");
        assert!(!shown.contains(&format!("{:?}", creds.stored_key)));
        assert!(shown.contains("ScramServer"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_never_panic_either_side(msg in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = test_server().start(&msg);
            let (_, handshake) = rfc_server().start(CLIENT_FIRST.as_bytes()).unwrap();
            let _ = handshake.finish(&msg);
            let mut client = ScramClient::new(USER, PASSWORD, CLIENT_NONCE)
                .unwrap()
                .with_iteration_range(1, 2);
            let _ = client.handle_server_first(&msg);
            let mut client = rfc_client_awaiting_final();
            prop_assert!(client.handle_server_final(&msg).is_err());
        }

        #[test]
        fn mutated_valid_messages_never_panic(
            which in 0usize..4,
            pos in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let originals = [CLIENT_FIRST, SERVER_FIRST, CLIENT_FINAL, SERVER_FINAL];
            let mut msg = originals[which].as_bytes().to_vec();
            let i = pos.index(msg.len());
            msg[i] = byte;
            match which {
                0 => { let _ = rfc_server().start(&msg); }
                1 => {
                    let mut client = ScramClient::new(USER, PASSWORD, CLIENT_NONCE)
                        .unwrap()
                        .with_iteration_range(4096, 4096);
                    let _ = client.handle_server_first(&msg);
                }
                2 => {
                    let (_, handshake) = rfc_server().start(CLIENT_FIRST.as_bytes()).unwrap();
                    let ok = handshake.finish(&msg).is_ok();
                    prop_assert_eq!(ok, msg == CLIENT_FINAL.as_bytes());
                }
                _ => {
                    let mut client = rfc_client_awaiting_final();
                    let ok = client.handle_server_final(&msg).is_ok();
                    prop_assert_eq!(ok, msg == SERVER_FINAL.as_bytes());
                }
            }
        }
    }
}
