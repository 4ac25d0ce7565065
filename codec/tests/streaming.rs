//! Streaming properties of the [`FrameDecoder`]: however a byte stream is cut into reads, it
//! decodes to the same packets; an incomplete packet is "need more", never an error; and the
//! Maximum Packet Size is enforced from the fixed header alone, before the body arrives.

use bytes::BytesMut;
use mqttspec_codec::frame::decode_chunked;
use mqttspec_codec::packet::FixedHeader;
use mqttspec_codec::strategy;
use mqttspec_codec::{
    FrameDecoder, Packet, ProtocolVersion, RawPacket, ReasonCode, Violation,
    MAX_VARIABLE_BYTE_INTEGER,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::RngAlgorithm;

/// The proptest configuration: `default` cases unless `PROPTEST_CASES` says otherwise, and
/// the fast XorShift generator unless `PROPTEST_RNG_ALGORITHM` names one (ChaCha, the default,
/// is several times slower in unoptimised test builds).
fn config(default: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default;
    }
    if std::env::var_os("PROPTEST_RNG_ALGORITHM").is_none() {
        config.rng_algorithm = RngAlgorithm::XorShift;
    }
    config
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V5), Just(ProtocolVersion::V311)]
}

/// A protocol version and a sequence of packets valid in it.
fn packets() -> impl Strategy<Value = (ProtocolVersion, Vec<Packet>)> {
    version().prop_flat_map(|v| (Just(v), vec(strategy::packet(v), 1..=6)))
}

fn encode_all(packets: &[Packet], v: ProtocolVersion) -> Vec<u8> {
    let mut out = Vec::new();
    for p in packets {
        out.extend_from_slice(&p.encode(v).unwrap());
    }
    out
}

proptest! {
    #![proptest_config(config(256))]

    /// Packets written back to back and read in chunks of any sizes come out unchanged.
    #[test]
    fn packets_fed_in_arbitrary_chunks_decode_to_the_same_packets(
        (v, packets) in packets(),
        chunks in vec(1usize..=48, 1..=8),
    ) {
        let bytes = encode_all(&packets, v);
        let decoded = decode_chunked(&bytes, &chunks, v)
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(decoded, packets);
    }

    /// Fed one byte at a time, the decoder says "need more" until the last byte of each
    /// packet, then yields exactly that packet and leaves nothing behind; `needed` never
    /// asks for more than the packet really lacks.
    #[test]
    fn a_packet_is_yielded_only_once_its_last_byte_arrives(
        (v, packets) in packets(),
    ) {
        let mut decoder = FrameDecoder::new(v);
        let mut buf = BytesMut::new();
        for packet in &packets {
            let bytes = packet.encode(v).unwrap();
            for (i, byte) in bytes.iter().enumerate() {
                buf.extend_from_slice(&[*byte]);
                let got = decoder
                    .decode(&mut buf)
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                if i + 1 < bytes.len() {
                    prop_assert_eq!(got, None, "yielded after {} of {} bytes", i + 1, bytes.len());
                    let needed = decoder.needed(&buf);
                    prop_assert!(needed >= 1);
                    prop_assert!(needed <= bytes.len() - buf.len());
                } else {
                    prop_assert_eq!(got.as_ref(), Some(packet));
                    prop_assert!(buf.is_empty());
                }
            }
        }
    }

    /// A packet one byte or more over the limit is refused as soon as its fixed header is
    /// complete; a packet exactly at the limit is accepted.
    #[test]
    fn packets_over_the_maximum_packet_size_are_refused_from_the_fixed_header(
        (v, packet) in version().prop_flat_map(|v| (Just(v), strategy::packet(v))),
        under in 1usize..=64,
    ) {
        let bytes = packet.encode(v).unwrap();
        let header = FixedHeader::parse(&bytes, v).unwrap().unwrap();
        prop_assert_eq!(header.packet_len(), bytes.len());
        let limit = bytes.len().saturating_sub(under).max(1);
        prop_assume!(limit < bytes.len());

        // Only the fixed header: refused already, with the whole packet's size.
        let mut decoder = FrameDecoder::new(v).with_max_packet_size(limit as u32);
        let mut buf = BytesMut::from(&bytes[..header.header_len]);
        let err = decoder.decode(&mut buf).unwrap_err();
        prop_assert_eq!(
            &err.violation,
            &Violation::PacketTooLarge { size: bytes.len() as u64, maximum: limit as u32 }
        );
        prop_assert_eq!(err.reason_code(), Some(ReasonCode::PacketTooLarge));
        prop_assert_eq!(err.packet_type, Some(packet.packet_type()));

        // At exactly the limit, the same packet gets through.
        let mut decoder = FrameDecoder::new(v).with_max_packet_size(bytes.len() as u32);
        let mut buf = BytesMut::from(&bytes[..header.header_len]);
        if header.remaining_length > 0 {
            prop_assert_eq!(decoder.decode(&mut buf).unwrap(), None);
            buf.extend_from_slice(&bytes[header.header_len..]);
        }
        prop_assert_eq!(decoder.decode(&mut buf).unwrap(), Some(packet));
    }

    /// A fixed header that claims more than the limit is refused with nothing else sent,
    /// whatever the claimed length and the number of Remaining Length bytes; one within the
    /// limit is "need more". Either way no room is reserved for the claimed body.
    #[test]
    fn a_claimed_length_over_the_limit_is_refused_before_any_body(
        v in version(),
        claimed in prop_oneof![
            1u64..=127,
            128u64..=16_383,
            16_384u64..=2_097_151,
            2_097_152u64..=u64::from(MAX_VARIABLE_BYTE_INTEGER),
        ],
        limit in 2u32..=1_000_000,
    ) {
        let header = RawPacket::new(0x30).remaining_length(claimed).build();
        let total = header.len() as u64 + claimed;
        let mut decoder = FrameDecoder::new(v).with_max_packet_size(limit);
        let mut buf = BytesMut::from(&header[..]);
        let capacity = buf.capacity();
        let result = decoder.decode(&mut buf);
        if total > u64::from(limit) {
            let err = result.unwrap_err();
            prop_assert_eq!(
                err.violation,
                Violation::PacketTooLarge { size: total, maximum: limit }
            );
        } else {
            prop_assert_eq!(result.unwrap(), None);
        }
        prop_assert_eq!(buf.capacity(), capacity, "the claimed length drove an allocation");
    }
}

#[test]
fn an_empty_stream_decodes_to_no_packets() {
    for v in [ProtocolVersion::V5, ProtocolVersion::V311] {
        assert_eq!(decode_chunked(&[], &[1], v), Ok(Vec::new()));
        let mut buf = BytesMut::new();
        assert_eq!(FrameDecoder::new(v).decode(&mut buf), Ok(None));
    }
}

#[test]
fn a_stream_that_stops_inside_a_packet_is_incomplete() {
    let v = ProtocolVersion::V5;
    let mut bytes = Packet::PingReq.encode(v).unwrap().to_vec();
    bytes.extend_from_slice(&[0x30, 0x05, 0x00]);
    let err = decode_chunked(&bytes, &[3], v).unwrap_err();
    assert!(err.is_incomplete(), "{err}");
}
