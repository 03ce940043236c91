//! API contract, wire-format shape, decompression bombs and lying headers.
//! Randomised properties are in `properties.rs`, other clients in `interop.rs`.

// Test/bench code: failing loudly is the point.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use purekafka_compression::{Compression, Error};

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn json_events(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut i = 0u64;
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(
            format!(
                "{{\"event_id\":\"{x:016x}-{i:08}\",\"user\":\"user-{}\",\"ts\":{},\
                 \"type\":\"page_view\",\"path\":\"/products/{}\"}}\n",
                x % 50_000,
                1_732_300_000_000u64 + i * 37,
                (x >> 20) % 10_000
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(n);
    out
}

fn roundtrip(codec: Compression, plain: &[u8], level: Option<i32>) -> Vec<u8> {
    let mut wire = Vec::new();
    codec
        .compress(plain, level, &mut wire)
        .unwrap_or_else(|e| panic!("{codec} level {level:?}: {e}"));
    let mut back = Vec::new();
    codec
        .decompress(&wire, plain.len(), &mut back)
        .unwrap_or_else(|e| panic!("{codec} level {level:?}: {e}"));
    assert!(
        back == plain,
        "{codec} level {level:?}: round trip changed the bytes"
    );
    wire
}

// --- attributes, names --------------------------------------------------------

#[test]
fn from_attributes_reads_only_the_low_three_bits() {
    for attributes in i16::MIN..=i16::MAX {
        let bits = attributes & 0x07;
        match Compression::from_attributes(attributes) {
            Ok(codec) => {
                assert!(
                    bits <= 4,
                    "{attributes:#06x} accepted with codec bits {bits}"
                );
                assert_eq!(codec.attribute_bits(), bits);
            }
            Err(Error::UnknownCodec(c)) => {
                assert!((5..=7).contains(&bits), "{attributes:#06x} rejected");
                assert_eq!(c, bits);
            }
            Err(other) => panic!("{attributes:#06x}: unexpected {other:?}"),
        }
    }
    // Transactional + control + timestamp-type bits set, codec lz4.
    assert_eq!(
        Compression::from_attributes(0x0038 | 3).ok(),
        Some(Compression::Lz4)
    );
    assert_eq!(
        Compression::from_attributes(-32768 | 2).ok(),
        Some(Compression::Snappy)
    );
    // Usable in const context.
    const ZSTD: i16 = Compression::Zstd.attribute_bits();
    assert_eq!(ZSTD, 4);
}

#[test]
fn attribute_bits_match_the_kafka_docs() {
    let expected = [
        (Compression::None, 0, "none"),
        (Compression::Gzip, 1, "gzip"),
        (Compression::Snappy, 2, "snappy"),
        (Compression::Lz4, 3, "lz4"),
        (Compression::Zstd, 4, "zstd"),
    ];
    assert_eq!(Compression::ALL.len(), expected.len());
    for (codec, bits, name) in expected {
        assert_eq!(codec.attribute_bits(), bits);
        assert_eq!(codec.name(), name);
        assert_eq!(codec.to_string(), name);
        assert_eq!(Compression::from_attributes(bits).ok(), Some(codec));
    }
    assert_eq!(Compression::default(), Compression::None);
}

#[test]
fn from_str_accepts_compression_type_names_in_any_case() {
    for codec in Compression::ALL {
        assert_eq!(codec.name().parse::<Compression>().ok(), Some(codec));
        assert_eq!(
            codec.name().to_uppercase().parse::<Compression>().ok(),
            Some(codec)
        );
    }
    assert_eq!("ZStd".parse::<Compression>().ok(), Some(Compression::Zstd));
    for bad in ["", "lz4 ", "brotli", "producer", "gzip9", "snappy-xerial"] {
        let err = bad.parse::<Compression>().expect_err(bad);
        let msg = err.to_string();
        assert!(
            matches!(err, Error::UnknownName { ref name } if name == bad),
            "{err:?}"
        );
        for accepted in ["none", "gzip", "snappy", "lz4", "zstd"] {
            assert!(msg.contains(accepted), "{msg:?} does not list {accepted}");
        }
    }
}

#[test]
fn unknown_codec_error_names_the_id() {
    let err = Compression::from_attributes(6).expect_err("6 is not a codec");
    assert!(err.to_string().contains('6'), "{err}");
    assert_eq!(err.codec(), None);
}

// --- levels ---------------------------------------------------------------------

#[test]
fn level_ranges_are_kafkas() {
    assert_eq!(Compression::Gzip.level_range(), Some((1, 9)));
    assert_eq!(Compression::Lz4.level_range(), Some((1, 17)));
    assert_eq!(Compression::Zstd.level_range(), Some((-131_072, 22)));
    assert_eq!(Compression::Snappy.level_range(), None);
    assert_eq!(Compression::None.level_range(), None);
    assert_eq!(Compression::Gzip.default_level(), Some(6));
    assert_eq!(Compression::Lz4.default_level(), Some(9));
    assert_eq!(Compression::Zstd.default_level(), Some(3));
}

#[test]
fn every_level_in_range_round_trips_and_neighbours_are_rejected() {
    let plain = json_events(20_000);
    for codec in CODECS {
        let Some((lo, hi)) = codec.level_range() else {
            continue;
        };
        // zstd's range is huge; the extremes and a band around the usual levels.
        let levels: Vec<i32> = if hi - lo > 40 {
            [lo, lo + 1, -1000].into_iter().chain(-7..=hi).collect()
        } else {
            (lo..=hi).collect()
        };
        for level in levels {
            roundtrip(codec, &plain, Some(level));
        }
        for bad in [lo - 1, hi + 1, i32::MIN, i32::MAX] {
            let mut out = b"keep".to_vec();
            let err = codec
                .compress(&plain, Some(bad), &mut out)
                .expect_err("level out of range accepted");
            assert_eq!(out, b"keep");
            let msg = err.to_string();
            match err {
                Error::InvalidLevel {
                    codec: c, level, ..
                } => {
                    assert_eq!((c, level), (codec, bad));
                }
                other => panic!("{codec} level {bad}: {other:?}"),
            }
            assert!(msg.contains(codec.name()), "{msg}");
            assert!(
                msg.contains(&hi.to_string()),
                "{msg} does not give the range"
            );
        }
    }
    // gzip also takes Java's Deflater.DEFAULT_COMPRESSION (-1).
    let with_default = roundtrip(Compression::Gzip, &plain, Some(-1));
    assert_eq!(with_default, roundtrip(Compression::Gzip, &plain, None));
    assert_eq!(with_default, roundtrip(Compression::Gzip, &plain, Some(6)));
}

#[test]
fn gzip_levels_change_the_output() {
    let plain = json_events(50_000);
    let fast = roundtrip(Compression::Gzip, &plain, Some(1));
    let best = roundtrip(Compression::Gzip, &plain, Some(9));
    assert!(
        best.len() < fast.len(),
        "level 9 ({}) not smaller than 1 ({})",
        best.len(),
        fast.len()
    );
}

#[test]
fn codecs_without_levels_reject_any_level() {
    for codec in [Compression::None, Compression::Snappy] {
        let err = codec
            .compress(b"x", Some(1), &mut Vec::new())
            .expect_err("level accepted");
        assert!(matches!(err, Error::InvalidLevel { codec: c, level: 1, .. } if c == codec));
        assert!(err.to_string().contains(codec.name()));
    }
}

// --- round trips and append semantics --------------------------------------------

#[test]
fn round_trips_of_typical_sizes() {
    let big = json_events(1 << 20);
    for codec in Compression::ALL {
        for n in [
            0,
            1,
            199,
            32 * 1024 - 1,
            32 * 1024,
            32 * 1024 + 1,
            64 * 1024,
            200_000,
            1 << 20,
        ] {
            roundtrip(codec, &big[..n], None);
        }
    }
}

#[test]
fn compress_and_decompress_append_to_out() {
    let plain = json_events(70_000);
    for codec in Compression::ALL {
        let mut wire = b"HEAD".to_vec();
        codec.compress(&plain, None, &mut wire).expect("compress");
        assert_eq!(&wire[..4], b"HEAD");
        let mut out = b"head".to_vec();
        codec
            .decompress(&wire[4..], plain.len(), &mut out)
            .expect("decompress");
        assert_eq!(&out[..4], b"head");
        assert!(out[4..] == plain[..], "{codec}");
    }
}

#[test]
fn json_compresses_well_with_every_real_codec() {
    let plain = json_events(256 * 1024);
    for codec in CODECS {
        let wire = roundtrip(codec, &plain, None);
        let ratio = plain.len() as f64 / wire.len() as f64;
        assert!(ratio > 1.8, "{codec}: ratio only {ratio:.2}");
    }
}

// --- wire format: what the Java client writes --------------------------------------

#[test]
fn snappy_writes_xerial_framing_with_32k_blocks() {
    let plain = json_events(100_000);
    let wire = roundtrip(Compression::Snappy, &plain, None);
    assert_eq!(&wire[..8], b"\x82SNAPPY\x00");
    assert_eq!(
        &wire[8..16],
        &[0, 0, 0, 1, 0, 0, 0, 1],
        "version 1, compatible 1, big-endian"
    );
    let mut rest = &wire[16..];
    let mut sizes = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let block = &rest[4..4 + len];
        sizes.push(snap::raw::decompress_len(block).expect("raw snappy block"));
        rest = &rest[4 + len..];
    }
    assert_eq!(sizes, vec![32_768, 32_768, 32_768, 100_000 - 3 * 32_768]);

    // An empty input still has one block (kafka-python needs more than the header).
    let mut empty = Vec::new();
    Compression::Snappy.compress(b"", None, &mut empty).unwrap();
    assert_eq!(empty.len(), 16 + 4 + 1);
}

#[test]
fn lz4_writes_javas_frame_descriptor() {
    let plain = json_events(150_000);
    let wire = roundtrip(Compression::Lz4, &plain, None);
    assert_eq!(&wire[..4], &0x184D_2204u32.to_le_bytes());
    // FLG: version 01, block independence, no block checksum, no content size,
    // no content checksum, no dict id. BD: 64 KiB max block.
    assert_eq!(wire[4], 0b0110_0000, "FLG");
    assert_eq!(wire[5], 0b0100_0000, "BD");
    assert_eq!(
        &wire[wire.len() - 4..],
        &[0, 0, 0, 0],
        "ends with the end mark, no checksum"
    );
}

#[test]
fn gzip_and_zstd_write_their_magic() {
    let plain = json_events(1000);
    let gz = roundtrip(Compression::Gzip, &plain, None);
    assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
    let zs = roundtrip(Compression::Zstd, &plain, None);
    assert_eq!(&zs[..4], &0xFD2F_B528u32.to_le_bytes());
    // Frame header descriptor: checksum flag set.
    assert_ne!(zs[4] & 0x04, 0);
}

// --- decompression bombs ----------------------------------------------------------

const MIB: usize = 1 << 20;

fn assert_too_large(codec: Compression, wire: &[u8], what: &str) {
    let mut out = b"keep".to_vec();
    match codec.decompress(wire, MIB, &mut out) {
        Err(Error::TooLarge { codec: c, limit }) => assert_eq!((c, limit), (codec, MIB), "{what}"),
        other => panic!("{codec} {what}: expected TooLarge, got {other:?}"),
    }
    assert_eq!(out, b"keep", "{codec} {what}: out not restored");
    assert!(
        out.capacity() <= 4 * MIB,
        "{codec} {what}: out grew to {} bytes for a 1 MiB cap",
        out.capacity()
    );
}

/// 100 MiB of zeros compressed by this crate, built block-wise where the
/// format makes that exact (snappy's xerial blocks and lz4's independent
/// blocks are compressed one at a time, so a repeated block *is* the encoder's
/// output), to keep the debug-build test fast.
fn bomb(codec: Compression) -> Vec<u8> {
    const TOTAL: usize = 100 * MIB;
    let mut wire = Vec::new();
    match codec {
        Compression::Snappy => {
            let block = 32 * 1024;
            let mut one = Vec::new();
            codec.compress(&vec![0; block], None, &mut one).unwrap();
            wire.extend_from_slice(&one[..16]);
            for _ in 0..TOTAL / block {
                wire.extend_from_slice(&one[16..]);
            }
            // Same bytes as compressing 1 MiB directly.
            let mut direct = Vec::new();
            codec.compress(&vec![0; MIB], None, &mut direct).unwrap();
            assert_eq!(direct, wire[..direct.len()]);
        }
        Compression::Lz4 => {
            let block = 64 * 1024;
            let mut one = Vec::new();
            codec.compress(&vec![0; block], None, &mut one).unwrap();
            let body = &one[7..one.len() - 4]; // header (7) .. end mark (4)
            wire.extend_from_slice(&one[..7]);
            for _ in 0..TOTAL / block {
                wire.extend_from_slice(body);
            }
            wire.extend_from_slice(&[0; 4]);
            let mut direct = Vec::new();
            codec
                .compress(&vec![0; 2 * block], None, &mut direct)
                .unwrap();
            let mut two = one[..7].to_vec();
            two.extend_from_slice(body);
            two.extend_from_slice(body);
            two.extend_from_slice(&[0; 4]);
            assert_eq!(direct, two);
        }
        _ => codec.compress(&vec![0; TOTAL], None, &mut wire).unwrap(),
    }
    wire
}

#[test]
fn bomb_of_100_mib_zeros_is_too_large_for_a_1_mib_cap() {
    // zstd's encoder is slow in debug builds: its 100 MiB bomb comes from the
    // reference encoder (interop.rs) and from repeating frames here.
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
        let wire = bomb(codec);
        assert!(wire.len() < 6 * MIB, "{codec}: {} byte bomb", wire.len());
        assert_too_large(codec, &wire, "100 MiB of zeros");
    }
    let mut frame = Vec::new();
    Compression::Zstd
        .compress(&vec![0; 4 * MIB], None, &mut frame)
        .unwrap();
    let wire = frame.repeat(25);
    assert_too_large(Compression::Zstd, &wire, "25 frames of 4 MiB zeros");
    assert_too_large(Compression::Zstd, &frame, "one frame of 4 MiB zeros");
    assert_too_large(Compression::None, &vec![0; 2 * MIB], "2 MiB uncompressed");
}

#[test]
fn multi_member_gzip_bomb_is_too_large() {
    let mut member = Vec::new();
    Compression::Gzip
        .compress(&vec![0; MIB / 2], Some(1), &mut member)
        .unwrap();
    assert_too_large(
        Compression::Gzip,
        &member.repeat(200),
        "200 members of 512 KiB",
    );
    // Two members that together fit are fine.
    let mut out = Vec::new();
    Compression::Gzip
        .decompress(&member.repeat(2), MIB, &mut out)
        .unwrap();
    assert_eq!(out.len(), MIB);
}

// --- headers that lie about sizes --------------------------------------------------

fn varint(mut n: u64) -> Vec<u8> {
    let mut v = Vec::new();
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
    v
}

#[test]
fn raw_snappy_claiming_4_gib_is_rejected_before_allocating() {
    let mut block = varint(u32::MAX as u64);
    block.extend_from_slice(&[0x00, b'a']); // a 1-byte literal
    assert_too_large(Compression::Snappy, &block, "raw block claiming 4 GiB");
}

#[test]
fn xerial_block_claiming_2_gib_is_rejected_before_allocating() {
    let mut wire = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    let mut block = varint(1 << 31);
    block.extend_from_slice(&[0x00, b'a']);
    wire.extend_from_slice(&(block.len() as u32).to_be_bytes());
    wire.extend_from_slice(&block);
    assert_too_large(Compression::Snappy, &wire, "xerial block claiming 2 GiB");
}

/// A zstd frame: magic, FHD with an 8-byte content size and a 1 KiB window
/// (not single-segment), then one raw last block holding `body`.
fn zstd_frame_declaring(content_size: u64, body: &[u8]) -> Vec<u8> {
    let mut wire = 0xFD2F_B528u32.to_le_bytes().to_vec();
    wire.push(0b1100_0000); // FCS field 8 bytes, no single segment, no checksum
    wire.push(0x00); // window descriptor: 1 KiB
    wire.extend_from_slice(&content_size.to_le_bytes());
    let block_header = 1 | ((body.len() as u32) << 3); // last, raw
    wire.extend_from_slice(&block_header.to_le_bytes()[..3]);
    wire.extend_from_slice(body);
    wire
}

#[test]
fn zstd_frame_claiming_1_tib_is_rejected_before_decoding() {
    assert_too_large(
        Compression::Zstd,
        &zstd_frame_declaring(1 << 40, b"hello"),
        "frame claiming 1 TiB",
    );
    // The same frame with an honest size decodes, proving the test frame is valid.
    let mut out = Vec::new();
    Compression::Zstd
        .decompress(&zstd_frame_declaring(5, b"hello"), MIB, &mut out)
        .unwrap();
    assert_eq!(out, b"hello");
}

#[test]
fn zstd_window_over_128_mib_is_refused() {
    // Same limit as libzstd's default windowLogMax (27): a 256 MiB window.
    let mut wire = zstd_frame_declaring(5, b"hello");
    wire[5] = (28 - 10) << 3;
    let err = Compression::Zstd
        .decompress(&wire, MIB, &mut Vec::new())
        .expect_err("256 MiB window accepted");
    assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
}

#[test]
fn zstd_content_size_mismatch_is_corrupt() {
    let err = Compression::Zstd
        .decompress(&zstd_frame_declaring(6, b"hello"), MIB, &mut Vec::new())
        .expect_err("declared 6, has 5");
    assert!(
        matches!(
            err,
            Error::Corrupt {
                codec: Compression::Zstd,
                ..
            }
        ),
        "{err:?}"
    );
}

// --- corrupt input: errors name the codec ---------------------------------------------

#[test]
fn garbage_is_corrupt_and_the_error_names_the_codec() {
    for codec in CODECS {
        // (b"\x00" would be a valid raw snappy block of zero bytes.)
        for input in [&b""[..], b"\x05", b"definitely not compressed data"] {
            let mut out = Vec::new();
            let err = codec
                .decompress(input, MIB, &mut out)
                .expect_err("garbage accepted");
            assert!(matches!(err, Error::Corrupt { .. }), "{codec}: {err:?}");
            assert_eq!(err.codec(), Some(codec));
            assert!(err.to_string().contains(codec.name()), "{err}");
            assert!(out.is_empty());
        }
    }
}

#[test]
fn trailing_garbage_after_a_valid_stream_is_corrupt() {
    let plain = json_events(5000);
    for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
        let mut wire = Vec::new();
        codec.compress(&plain, None, &mut wire).unwrap();
        wire.extend_from_slice(b"garbage!");
        let err = codec
            .decompress(&wire, MIB, &mut Vec::new())
            .expect_err("accepted");
        assert!(matches!(err, Error::Corrupt { .. }), "{codec}: {err:?}");
    }
}

#[test]
fn corrupt_checksums_are_detected() {
    let plain = json_events(5000);
    // gzip: CRC32 in the trailer; zstd: XXH64 content checksum in the last 4 bytes.
    for (codec, from_end) in [(Compression::Gzip, 8), (Compression::Zstd, 1)] {
        let mut wire = Vec::new();
        codec.compress(&plain, None, &mut wire).unwrap();
        let i = wire.len() - from_end;
        wire[i] ^= 0x01;
        let err = codec
            .decompress(&wire, MIB, &mut Vec::new())
            .expect_err("accepted");
        assert!(matches!(err, Error::Corrupt { .. }), "{codec}: {err:?}");
    }
}

#[test]
fn lz4_frames_cut_at_a_block_boundary_are_corrupt() {
    // lz4_flex alone would report a clean end of stream here.
    let plain = json_events(200_000);
    let mut wire = Vec::new();
    Compression::Lz4.compress(&plain, None, &mut wire).unwrap();
    let first_block = u32::from_le_bytes(wire[7..11].try_into().unwrap()) & 0x7FFF_FFFF;
    let cut = 7 + 4 + first_block as usize;
    let err = Compression::Lz4
        .decompress(&wire[..cut], MIB, &mut Vec::new())
        .expect_err("truncated frame accepted");
    assert!(err.to_string().contains("end mark"), "{err}");
    let err = Compression::Lz4
        .decompress(&wire[..wire.len() - 4], MIB, &mut Vec::new())
        .expect_err("frame without end mark accepted");
    assert!(matches!(err, Error::Corrupt { .. }));
}

#[test]
fn lz4_skippable_frames_are_skipped_and_frames_concatenate() {
    let a = json_events(1000);
    let b = json_events(3000);
    let mut wire = Vec::new();
    Compression::Lz4.compress(&a, None, &mut wire).unwrap();
    wire.extend_from_slice(&0x184D_2A5Au32.to_le_bytes());
    wire.extend_from_slice(&3u32.to_le_bytes());
    wire.extend_from_slice(b"xyz");
    Compression::Lz4.compress(&b, None, &mut wire).unwrap();
    let mut out = Vec::new();
    Compression::Lz4.decompress(&wire, MIB, &mut out).unwrap();
    assert_eq!(out, [a, b].concat());
}

#[test]
fn the_cap_holds_across_concatenated_streams() {
    // Two streams (frames, members, xerial streams) of 3/4 MiB each: each fits a
    // 1 MiB cap alone, together they do not, and the error names the caller's
    // cap, not what was left of it. Two of 1/2 MiB fill the cap exactly.
    for codec in CODECS {
        let mut big = Vec::new();
        codec
            .compress(&vec![7; MIB / 4 * 3], None, &mut big)
            .unwrap();
        assert_too_large(codec, &big.repeat(2), "two streams of 3/4 MiB");
        let mut half = Vec::new();
        codec.compress(&vec![7; MIB / 2], None, &mut half).unwrap();
        let mut out = Vec::new();
        codec.decompress(&half.repeat(2), MIB, &mut out).unwrap();
        assert_eq!(out, vec![7; MIB], "{codec}: two streams of 1/2 MiB");
    }
}

#[test]
fn snappy_concatenated_xerial_streams_decode() {
    let a = json_events(40_000);
    let b = json_events(10);
    let mut wire = Vec::new();
    Compression::Snappy.compress(&a, None, &mut wire).unwrap();
    Compression::Snappy.compress(&b, None, &mut wire).unwrap();
    let mut out = Vec::new();
    Compression::Snappy
        .decompress(&wire, MIB, &mut out)
        .unwrap();
    assert_eq!(out, [a, b].concat());
}

#[test]
fn snappy_xerial_with_little_endian_version_fields_decodes() {
    // Some producers (redpanda) write the version ints little-endian; the
    // other clients ignore them, so must we.
    let plain = json_events(5000);
    let mut wire = Vec::new();
    Compression::Snappy
        .compress(&plain, None, &mut wire)
        .unwrap();
    wire[8..16].copy_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
    let mut out = Vec::new();
    Compression::Snappy
        .decompress(&wire, MIB, &mut out)
        .unwrap();
    assert_eq!(out, plain);
}
