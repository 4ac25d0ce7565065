//! # mqttspec-codec
//!
//! A strict, spec-faithful codec for every MQTT 3.1.1 and MQTT 5.0 control packet.
//!
//! One packet model serves both protocol versions: [`Packet`] has one variant per control
//! packet type (all fifteen, AUTH included), and the MQTT 5.0-only data (properties, reason
//! codes other than success) lives in fields that must stay empty when encoding for 3.1.1 —
//! trying to encode such data as 3.1.1 is an [`EncodeError`], never silent loss.
//!
//! Every rejection is a [`DecodeError`] that says *why*: the [`Violation`] (one variant per
//! rule), whether it makes the packet malformed or is a protocol error ([`ErrorClass`]), the
//! MQTT 5.0 [`ReasonCode`] it maps to, and the normative [`StatementId`] it breaks where the
//! specification tags one.
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`protocol`] | [`ProtocolVersion`] |
//! | [`qos`] | [`QoS`], [`PacketId`] (a non-zero Packet Identifier) and [`Delivery`] (a PUBLISH's QoS with the identifier it needs) |
//! | [`reason_code`] | [`ReasonCode`] and the per-packet sets of allowed codes |
//! | [`statement`] | the typed registry of normative statements of both specs; its enum is generated from `data/*.tsv` into the committed `statement/generated.rs` (kept current by `tests/statements_current.rs`) |
//! | [`violation`] | [`Violation`]: one variant per rule, mapped to class, reason code and statement |
//! | [`error`] | [`DecodeError`] and [`EncodeError`] |
//! | [`string`] | validated zero-copy strings: [`MqttString`], [`TopicName`], [`TopicFilter`] |
//! | [`property`] | the property table: [`PropertyId`], where each property may appear, the per-packet sets ([`PublishProperties`], ...) behind [`Props`], and the flat [`Properties`] view |
//! | [`reader`] / [`writer`] | the bounded reader and the writer of the MQTT data representations |
//! | [`packet`] | [`Packet`] and one file per control packet type |
//! | [`frame`] | the streaming [`FrameDecoder`] over a growing buffer |
//! | [`fuzzing`] | the fuzz entry points (invariant oracles) wrapped by the cargo-fuzz targets in `fuzz/` |
//! | [`raw`] | [`RawPacket`]: a builder for arbitrary (also deliberately malformed) byte sequences |
//! | `strategy` | proptest strategies (feature `proptest`) |
//!
//! Decoding is zero-copy: strings and payloads are [`bytes::Bytes`] slices of the frame.
//! Nothing reachable from input panics: the crate denies `unwrap`, `expect`, indexing and
//! `panic!` outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod error;
pub mod frame;
pub mod fuzzing;
pub mod packet;
pub mod property;
pub mod protocol;
pub mod qos;
pub mod raw;
pub mod reader;
pub mod reason_code;
pub mod statement;
#[cfg(feature = "proptest")]
pub mod strategy;
pub mod string;
pub mod violation;
pub mod writer;

pub use error::{DecodeError, EncodeError, ErrorClass};
pub use frame::FrameDecoder;
pub use packet::{
    connect_protocol_version, decode_packet, encode_packet, Auth, ConnAck, Connect, Disconnect,
    LastWill, Packet, PacketType, PubAck, PubComp, PubRec, PubRel, Publish, RetainHandling, SubAck,
    Subscribe, SubscriptionOptions, UnsubAck, Unsubscribe,
};
pub use property::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PayloadFormatIndicator, Properties, PropertyContext, PropertyId, PropertySet, Props,
    PublishProperties, SubAckProperties, SubscribeProperties, UnsubAckProperties,
    UnsubscribeProperties, UserProperties, WillProperties,
};
pub use protocol::ProtocolVersion;
pub use qos::{Delivery, PacketId, QoS};
pub use raw::RawPacket;
pub use reason_code::ReasonCode;
pub use statement::{Obligation, Spec, StatementId, Testability};
pub use string::{MqttString, TopicFilter, TopicName};
pub use violation::Violation;

/// The largest value a Variable Byte Integer can hold (268,435,455), which is also the
/// largest Remaining Length of a packet.
pub const MAX_VARIABLE_BYTE_INTEGER: u32 = 268_435_455;
