//! MQTT 5.0: the largest Session Expiry Interval the broker grants. The probe asks for
//! 0xFFFFFFFF (the session never expires); a broker that grants less says so with the
//! Session Expiry Interval property of CONNACK. Then it ends the session at once: DISCONNECT
//! with Session Expiry Interval 0, and a Clean Start connection that keeps nothing.

use mqttspec_codec::{Disconnect, DisconnectProperties, Packet, ReasonCode};

use super::env::{ConnectSpec, Env};
use super::report::{Finding, Measure};

/// Runs the probe.
pub async fn probe(env: &Env) -> Finding {
    let client_id = env.client_id();
    let spec = ConnectSpec {
        client_id: client_id.clone(),
        clean_start: true,
        session_expiry: Some(u32::MAX),
        receive_maximum: None,
    };
    env.kept_session(&client_id);
    let (value, detail) = match env.connect(&spec).await {
        Ok((mut client, ack)) => {
            let granted = ack.properties.session_expiry_interval;
            let properties = DisconnectProperties {
                session_expiry_interval: Some(0),
                ..Default::default()
            };
            let _ = client
                .send(&Packet::Disconnect(Disconnect {
                    reason_code: ReasonCode::Success,
                    properties: properties.into(),
                }))
                .await;
            client.close().await;
            match granted {
                Some(s) => (
                    Measure::Exactly {
                        value: u64::from(s),
                    },
                    format!("asked for 4294967295 (never expire); CONNACK granted {s}"),
                ),
                None => (
                    Measure::Exactly {
                        value: u64::from(u32::MAX),
                    },
                    "asked for 4294967295 (never expire); CONNACK granted it (no Session Expiry Interval in CONNACK)".to_owned(),
                ),
            }
        }
        Err(e) => (
            Measure::Unknown {
                reason: format!("a CONNECT asking for Session Expiry Interval 4294967295: {e}"),
            },
            String::new(),
        ),
    };
    // If this fails, the final cleanup tries again (the id stays on the undo list).
    let _ = env.end_session(&client_id).await;
    Finding::new(
        "session_expiry_seconds",
        "Session Expiry Interval granted when asked for the largest",
        "seconds",
        value,
        detail,
    )
}
