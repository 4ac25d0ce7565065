//! Decode and encode errors.

use crate::packet::PacketType;
use crate::protocol::ProtocolVersion;
use crate::reason_code::ReasonCode;
use crate::statement::StatementId;
use crate::violation::Violation;

/// What kind of failure a [`Violation`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The bytes cannot be parsed according to the specification.
    MalformedPacket,
    /// The bytes parse, but break a rule of the protocol.
    ProtocolError,
    /// The bytes end before the packet does.
    Incomplete,
}

impl ErrorClass {
    /// "malformed packet", "protocol error" or "incomplete".
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::MalformedPacket => "malformed packet",
            ErrorClass::ProtocolError => "protocol error",
            ErrorClass::Incomplete => "incomplete",
        }
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why some bytes are not a valid packet of the given protocol version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The rule that was broken.
    pub violation: Violation,
    /// The protocol version the bytes were decoded as.
    pub version: ProtocolVersion,
    /// The packet type, once the fixed header was read.
    pub packet_type: Option<PacketType>,
}

impl DecodeError {
    /// A decode error.
    pub fn new(
        violation: Violation,
        version: ProtocolVersion,
        packet_type: Option<PacketType>,
    ) -> Self {
        DecodeError {
            violation,
            version,
            packet_type,
        }
    }

    /// Malformed packet, protocol error or incomplete.
    pub fn class(&self) -> ErrorClass {
        self.violation.class()
    }

    /// The MQTT 5.0 Reason Code a receiver reports this with (also meaningful as a hint for
    /// 3.1.1, where the connection is simply closed).
    pub fn reason_code(&self) -> Option<ReasonCode> {
        self.violation.reason_code()
    }

    /// The normative statement broken, in this error's protocol version.
    pub fn statement(&self) -> Option<StatementId> {
        self.violation.statement(self.version)
    }

    /// Whether more bytes could still make this a valid packet.
    pub fn is_incomplete(&self) -> bool {
        self.class() == ErrorClass::Incomplete
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.class())?;
        if self.version.is_v5() {
            if let Some(code) = self.reason_code() {
                write!(f, " (reason code 0x{:02X})", code.as_u8())?;
            }
        }
        if let Some(statement) = self.statement() {
            write!(f, " [{statement}]")?;
        }
        write!(f, ": ")?;
        if let Some(t) = self.packet_type {
            write!(f, "{t}: ")?;
        }
        write!(f, "{} (MQTT {})", self.violation, self.version)
    }
}

impl std::error::Error for DecodeError {}

/// Why a packet cannot be encoded for the given protocol version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// The rule the packet would break.
    pub violation: Violation,
    /// The protocol version asked for.
    pub version: ProtocolVersion,
    /// The packet type being encoded.
    pub packet_type: PacketType,
}

impl EncodeError {
    /// The normative statement the encoding would break.
    pub fn statement(&self) -> Option<StatementId> {
        self.violation.statement(self.version)
    }
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot encode {} for MQTT {}: {}",
            self.packet_type, self.version, self.violation
        )?;
        if let Some(statement) = self.statement() {
            write!(f, " [{statement}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for EncodeError {}
