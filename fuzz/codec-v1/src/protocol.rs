//! The protocol version a packet is decoded or encoded for.

use crate::statement::Spec;

/// MQTT protocol version; selects the wire format of every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl ProtocolVersion {
    /// The Protocol Level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version for a Protocol Level byte, if it is one this codec speaks.
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(ProtocolVersion::V311),
            5 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }

    /// The specification whose statements apply.
    pub fn spec(self) -> Spec {
        match self {
            ProtocolVersion::V311 => Spec::V311,
            ProtocolVersion::V5 => Spec::V5,
        }
    }

    /// "3.1.1" or "5".
    pub fn label(self) -> &'static str {
        match self {
            ProtocolVersion::V311 => "3.1.1",
            ProtocolVersion::V5 => "5",
        }
    }

    /// Whether this is MQTT 5.0.
    pub fn is_v5(self) -> bool {
        self == ProtocolVersion::V5
    }
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for ProtocolVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "3.1.1" | "311" | "4" | "v311" | "v3.1.1" => Ok(ProtocolVersion::V311),
            "5" | "5.0" | "v5" | "v5.0" => Ok(ProtocolVersion::V5),
            other => Err(format!(
                "unknown protocol version `{other}` (use 3.1.1 or 5)"
            )),
        }
    }
}
