//! Authentication: User Name / Password from CONNECT, and MQTT 5.0 enhanced authentication
//! (4.12) with SCRAM-SHA-256 ([`crate::scram`]), including re-authentication (4.12.1).
//!
//! User Name / Password: when [`Config::users`](crate::Config::users) is not empty, a
//! User Name must name one of them with its password (else 0x86 Bad User Name or Password,
//! 3.1.1 return code 4); when [`Config::require_authentication`](crate::Config) is set, a
//! connection without credentials is refused with 0x87 Not authorized (3.1.1 return code 5).
//! With no users configured and no requirement, credentials are accepted as given.
//!
//! Enhanced authentication: an Authentication Method the server does not offer gets CONNACK
//! 0x8C and the connection is closed (MQTT-4.12.0-1). For SCRAM-SHA-256 the client-first
//! message comes in CONNECT, the server answers AUTH 0x18 with server-first (MQTT-4.12.0-2),
//! the client sends AUTH 0x18 with client-final (MQTT-4.12.0-3), and the server finishes with
//! CONNACK 0x00 carrying server-final; every AUTH and the CONNACK repeat the method
//! (MQTT-4.12.0-5). Failure: CONNACK 0x86 (wrong password or unknown user) or 0x87, then close
//! (MQTT-4.12.0-4). SCRAM credentials come from the same user list; the salts and the server
//! nonces derive from [`Config::seed`](crate::Config::seed), so runs are reproducible.
//!
//! Re-authentication: AUTH 0x19 with the same method (MQTT-4.12.1-1) starts a new exchange
//! while other packets keep flowing; success is AUTH 0x00 with server-final, failure is
//! DISCONNECT 0x87 and close (MQTT-4.12.1-2). Changing the user is refused. AUTH from a client
//! that did not use enhanced authentication is a protocol error (MQTT-4.12.0-7).

use bytes::Bytes;
use mqttspec_codec::{
    Auth, Connect, MqttString, Packet, ProtocolVersion, ReasonCode, StatementId as S,
};

use crate::scram::{ScramError, ScramServer, MECHANISM, SECRET_LEN};

use super::connection::{AuthExchange, Phase};
use super::fault::Fault;
use super::{Broker, CloseReason, ConnectionId};

/// The CONNACK / DISCONNECT code for a failed SCRAM exchange.
fn failure_code(e: &ScramError) -> ReasonCode {
    match e {
        ScramError::UnknownUser | ScramError::InvalidProof => ReasonCode::BadUserNameOrPassword,
        _ => ReasonCode::NotAuthorized,
    }
}

/// An AUTH packet with the method, a reason code and optional data.
fn auth_packet(code: ReasonCode, method: &str, data: Option<Vec<u8>>) -> Packet {
    let mut auth = Auth {
        reason_code: code,
        ..Auth::default()
    };
    auth.properties.authentication_method = MqttString::new(method, "Authentication Method").ok();
    auth.properties.authentication_data = data.map(Bytes::from);
    Packet::Auth(auth)
}

impl Broker {
    /// The SCRAM server, built on first use.
    fn scram(&mut self) -> &mut ScramServer {
        let server = match self.scram.take() {
            Some(server) => server,
            None => self.new_scram_server(),
        };
        self.scram.insert(server)
    }

    /// A SCRAM server knowing the configured users. Its secret (the salts) and its nonces
    /// derive from the seed, so runs are reproducible.
    fn new_scram_server(&self) -> ScramServer {
        let seed = self.config.core_seed();
        let mut secret = [0u8; SECRET_LEN];
        for (i, chunk) in secret.chunks_mut(8).enumerate() {
            let word =
                seed.rotate_left(i as u32 * 16) ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let mut counter: u64 = 0;
        let mut server = ScramServer::new(secret, move || {
            counter = counter.wrapping_add(1);
            Some(format!("{seed:016x}{counter:016x}"))
        })
        .with_iterations(self.config.scram_iterations);
        for user in &self.config.users {
            server.add_password(&user.username, &user.password);
        }
        server
    }

    /// The Reason Code of a server AUTH asking for more data: 0x18 (0x00 under the
    /// `auth-continue-as-success` fault).
    fn continue_code(&self) -> ReasonCode {
        if self.fault(Fault::AuthContinueAsSuccess) {
            ReasonCode::Success
        } else {
            ReasonCode::ContinueAuthentication
        }
    }

    /// The server AUTH carrying server-first: reason 0x18, the method, and a Reason String
    /// naming the step (left out by `send` when the client's limits say so).
    fn continue_auth(&self, method: &str, server_first: Vec<u8>) -> Packet {
        let mut packet = auth_packet(self.continue_code(), method, Some(server_first));
        if let Packet::Auth(auth) = &mut packet {
            auth.properties.reason_string =
                self.reason_string("SCRAM-SHA-256 server-first message: send client-final");
        }
        packet
    }

    /// Whether the server offers this Authentication Method.
    fn offers_method(&self, method: &str) -> bool {
        method == MECHANISM
            && self
                .config
                .authentication_methods
                .iter()
                .any(|m| m == method)
    }

    /// The User Name / Password check of a CONNECT without enhanced authentication.
    pub(super) fn check_password(&self, connect: &Connect) -> Result<(), ReasonCode> {
        match &connect.username {
            Some(name) => {
                if self.config.users.is_empty() {
                    return if self.config.require_authentication {
                        Err(ReasonCode::BadUserNameOrPassword)
                    } else {
                        Ok(())
                    };
                }
                let password = connect.password.as_deref().unwrap_or_default();
                let name = if self.fault(Fault::StripBomFromUserName) {
                    name.as_str().replace('\u{feff}', "")
                } else {
                    name.as_str().to_owned()
                };
                let ok = self
                    .config
                    .users
                    .iter()
                    .any(|u| u.username == name && u.password.as_bytes() == password);
                if ok || self.fault(Fault::AcceptWrongPassword) {
                    Ok(())
                } else {
                    Err(ReasonCode::BadUserNameOrPassword)
                }
            }
            None if self.config.require_authentication => Err(ReasonCode::NotAuthorized),
            None => Ok(()),
        }
    }

    /// CONNECT with an Authentication Method: start the exchange or refuse the method.
    pub(super) fn start_enhanced_auth(
        &mut self,
        id: ConnectionId,
        connect: Box<Connect>,
        method: String,
    ) {
        if !self.offers_method(&method) && self.fault(Fault::AcceptUnknownAuthMethod) {
            let username = connect.username.as_ref().map(|u| u.as_str().to_owned());
            self.accept_connect(id, connect, username, None);
            return;
        }
        if !self.offers_method(&method) {
            self.record_id(S::V5_4_12_0_1);
            self.refuse(
                id,
                ReasonCode::BadAuthenticationMethod,
                format!("authentication method `{method}` is not supported"),
            );
            return;
        }
        let client_first = connect
            .properties
            .authentication_data
            .clone()
            .unwrap_or_default();
        match self.scram().start(&client_first) {
            Ok((server_first, handshake)) => {
                if let Some(conn) = self.connections.get_mut(&id) {
                    conn.phase = Phase::Authenticating {
                        connect,
                        exchange: Box::new(AuthExchange { handshake }),
                    };
                }
                self.record_id(S::V5_4_12_0_2);
                self.record_id(S::V5_4_12_0_5);
                self.send(id, self.continue_auth(&method, server_first));
            }
            Err(e) => {
                self.record_id(S::V5_4_12_0_4);
                self.refuse(id, failure_code(&e), e.to_string());
            }
        }
    }

    /// AUTH while authenticating a CONNECT.
    pub(super) fn handle_auth_during_connect(&mut self, id: ConnectionId, auth: Auth) {
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        let phase = std::mem::replace(&mut conn.phase, Phase::AwaitingConnect);
        let Phase::Authenticating { connect, exchange } = phase else {
            conn.phase = phase;
            return;
        };
        let method = connect
            .properties
            .authentication_method
            .as_ref()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        let same_method = auth
            .properties
            .authentication_method
            .as_ref()
            .map(|m| m.as_str())
            == Some(&method);
        if auth.reason_code != ReasonCode::ContinueAuthentication || !same_method {
            self.record_id(S::V5_4_12_0_3);
            self.record_id(S::V5_4_12_0_5);
            self.refuse(
                id,
                ReasonCode::ProtocolError,
                "AUTH must carry reason 0x18 and the method of CONNECT",
            );
            return;
        }
        let client_final = auth
            .properties
            .authentication_data
            .clone()
            .unwrap_or_default();
        let username = exchange.handshake.username().to_owned();
        match exchange.handshake.finish(&client_final) {
            Ok(server_final) => {
                self.accept_connect(id, connect, Some(username), Some((method, server_final)));
            }
            Err(e) => {
                self.record_id(S::V5_4_12_0_4);
                self.refuse(id, failure_code(&e), e.to_string());
            }
        }
    }

    /// AUTH on a connected connection: re-authentication (4.12.1).
    pub(super) fn handle_auth_when_connected(&mut self, id: ConnectionId, auth: Auth) {
        let Some(conn) = self.connections.get_mut(&id) else {
            return;
        };
        if conn.version != Some(ProtocolVersion::V5) {
            return;
        }
        let Some(method) = conn.auth_method.clone() else {
            if self.fault(Fault::AcceptUnexpectedAuth) {
                return;
            }
            self.record_id(S::V5_4_12_0_7);
            self.protocol_error(
                id,
                ReasonCode::ProtocolError,
                "AUTH without enhanced authentication in CONNECT",
            );
            return;
        };
        let same_method = auth
            .properties
            .authentication_method
            .as_ref()
            .map(|m| m.as_str())
            == Some(&method);
        if !same_method {
            self.record_id(S::V5_4_12_1_1);
            self.protocol_error(
                id,
                ReasonCode::ProtocolError,
                "re-authentication with another method",
            );
            return;
        }
        let data = auth
            .properties
            .authentication_data
            .clone()
            .unwrap_or_default();
        let in_progress = conn.reauth.take();
        let current_user = conn.username.clone();
        match (auth.reason_code, in_progress) {
            (ReasonCode::ReAuthenticate, None) => match self.scram().start(&data) {
                Ok((server_first, handshake)) => {
                    if let Some(conn) = self.connections.get_mut(&id) {
                        conn.reauth = Some(Box::new(AuthExchange { handshake }));
                    }
                    self.send(id, self.continue_auth(&method, server_first));
                }
                Err(e) => self.reauth_failed(id, &e.to_string()),
            },
            (ReasonCode::ContinueAuthentication, Some(exchange)) => {
                let user = exchange.handshake.username().to_owned();
                match exchange.handshake.finish(&data) {
                    Ok(_) if Some(&user) != current_user.as_ref() => {
                        self.reauth_failed(id, "user name changed");
                    }
                    Ok(server_final) => {
                        self.send(
                            id,
                            auth_packet(ReasonCode::Success, &method, Some(server_final)),
                        );
                    }
                    Err(e) => self.reauth_failed(id, &e.to_string()),
                }
            }
            _ => self.protocol_error(id, ReasonCode::ProtocolError, "unexpected AUTH reason code"),
        }
    }

    /// Re-authentication failed: DISCONNECT and close (MQTT-4.12.1-2). DISCONNECT has no
    /// 0x86, so every failure is reported as 0x87 Not authorized.
    fn reauth_failed(&mut self, id: ConnectionId, detail: &str) {
        let code = ReasonCode::NotAuthorized;
        self.record_id(S::V5_4_12_1_2);
        self.close_with(
            id,
            code,
            detail,
            CloseReason::ReauthenticationFailed(code),
            true,
        );
    }
}
