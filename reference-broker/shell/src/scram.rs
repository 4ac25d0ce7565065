//! SCRAM-SHA-256: everything of the core's [`mqttspec_broker_core::scram`] (re-exported, so
//! `mqttspec_reference_broker::scram::ScramClient` keeps working), plus what needs the
//! operating system's random source, which the core does not touch: [`random_nonce`] for a
//! client nonce.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

pub use mqttspec_broker_core::scram::*;

/// Random bytes in a nonce made by [`random_nonce`] (base64: 24 characters).
const NONCE_BYTES: usize = 18;

/// A fresh random client nonce for [`ScramClient::new`] (18 bytes from the operating system's
/// random source, in base64), or `None` if that source failed.
pub fn random_nonce() -> Option<String> {
    let mut bytes = [0u8; NONCE_BYTES];
    getrandom::fill(&mut bytes).ok()?;
    Some(BASE64.encode(bytes))
}

/// A client for this user and password with a [`random_nonce`]
/// ([`ScramError::NoResources`] if the random source failed).
pub fn client_with_random_nonce(username: &str, password: &str) -> Result<ScramClient, ScramError> {
    let nonce = random_nonce().ok_or(ScramError::NoResources)?;
    ScramClient::new(username, password, &nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_nonces_are_valid_and_differ() {
        let a = random_nonce().unwrap();
        let b = random_nonce().unwrap();
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert!(ScramClient::new("u", "pw", &a).is_ok());
        assert!(client_with_random_nonce("u", "pw").is_ok());
    }
}
