//! Randomised properties: round trips for every codec and level, and that no
//! input — random bytes, valid streams with bit flips, truncated streams —
//! makes a decoder panic or write past the cap.
//!
//! `PROPTEST_CASES` scales every property (default 64; these run in debug builds).

// Test/bench code: failing loudly is the point.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use purekafka_compression::{Compression, Error};

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(CODECS.to_vec())
}

/// A codec and a level it accepts (or `None` for its default).
fn codec_and_level() -> impl Strategy<Value = (Compression, Option<i32>)> {
    codec().prop_flat_map(|c| {
        let level = match c.level_range() {
            Some((lo, hi)) => prop::option::of(prop_oneof![
                3 => (lo.max(-10))..=hi,
                1 => lo..=hi,
            ])
            .boxed(),
            None => Just(None).boxed(),
        };
        (Just(c), level)
    })
}

/// Incompressible bytes, runs of one byte, and JSON-ish text with repetition:
/// the three regimes an encoder has different code paths for.
fn payload(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..max),
        (any::<u8>(), 0..max * 4).prop_map(|(b, n)| vec![b; n]),
        (prop::collection::vec(0u32..100_000, 1..64), 1usize..max / 64).prop_map(|(ids, reps)| {
            let mut s = String::new();
            for r in 0..reps {
                let id = ids[r % ids.len()];
                s.push_str(&format!(
                    "{{\"event_id\":{id},\"user\":\"u{}\",\"type\":\"page_view\",\"path\":\"/p/{}\"}}\n",
                    id % 977,
                    r
                ));
            }
            s.into_bytes()
        }),
    ]
}

fn compress(codec: Compression, plain: &[u8], level: Option<i32>) -> Vec<u8> {
    let mut wire = Vec::new();
    codec
        .compress(plain, level, &mut wire)
        .unwrap_or_else(|e| panic!("{codec} {level:?}: {e}"));
    wire
}

/// Decodes and checks what must hold whatever the input: the cap is honoured
/// and a failure leaves `out` as it was.
fn decode_checked(codec: Compression, input: &[u8], cap: usize) -> Result<Vec<u8>, Error> {
    let mut out = b"pre".to_vec();
    let result = codec.decompress(input, cap, &mut out);
    assert_eq!(
        &out[..3],
        b"pre",
        "{codec}: bytes before the output were changed"
    );
    match result {
        Ok(()) => {
            assert!(
                out.len() - 3 <= cap,
                "{codec}: {} bytes out, cap {cap}",
                out.len() - 3
            );
            Ok(out.split_off(3))
        }
        Err(e) => {
            assert_eq!(out, b"pre", "{codec}: out not restored after {e}");
            assert_eq!(e.codec(), Some(codec), "{e:?} does not name {codec}");
            Err(e)
        }
    }
}

/// Offsets at which a xerial stream may legitimately end: after the header
/// and after each complete block (the format has no end marker).
fn xerial_boundaries(wire: &[u8]) -> Vec<usize> {
    let mut at = vec![16];
    let mut pos = 16;
    while pos < wire.len() {
        let len = u32::from_be_bytes(wire[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 4 + len;
        at.push(pos);
    }
    at
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn round_trip((codec, level) in codec_and_level(), plain in payload(80_000)) {
        let wire = compress(codec, &plain, level);
        let back = decode_checked(codec, &wire, plain.len());
        prop_assert!(back.as_ref().is_ok_and(|b| *b == plain), "{codec} {level:?}: {:?}", back.err());
        // One byte under the size must not fit.
        if !plain.is_empty() {
            let err = decode_checked(codec, &wire, plain.len() - 1);
            prop_assert!(matches!(err, Err(Error::TooLarge { .. })), "{codec}: {err:?}");
        }
    }

    #[test]
    fn random_bytes_never_panic(codec in codec(), input in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = decode_checked(codec, &input, 1 << 16);
    }

    /// Random bytes behind a valid magic number get past the first check and
    /// into the header and block parsers.
    #[test]
    fn random_bytes_behind_a_magic_never_panic(
        codec in codec(),
        tail in prop::collection::vec(any::<u8>(), 0..4096),
    ) {
        let magic: &[u8] = match codec {
            Compression::Gzip => &[0x1f, 0x8b, 0x08, 0x00],
            Compression::Snappy => b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01",
            Compression::Lz4 => &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40],
            _ => &[0x28, 0xb5, 0x2f, 0xfd],
        };
        let input = [magic, &tail].concat();
        let _ = decode_checked(codec, &input, 1 << 16);
    }

    #[test]
    fn bit_flips_never_panic(
        (codec, level) in codec_and_level(),
        plain in payload(20_000),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..6),
    ) {
        let mut wire = compress(codec, &plain, level);
        for (at, bit) in &flips {
            let i = at.index(wire.len());
            wire[i] ^= 1 << bit;
        }
        // Whatever comes out (an error, or other bytes where the format has no
        // checksum), it is bounded by the cap and nothing panics.
        let _ = decode_checked(codec, &wire, plain.len() + 100);
    }

    #[test]
    fn truncation_is_an_error(
        (codec, level) in codec_and_level(),
        plain in payload(20_000),
        cut in any::<prop::sample::Index>(),
    ) {
        let wire = compress(codec, &plain, level);
        let keep = cut.index(wire.len()); // 0..len: always strictly shorter
        let result = decode_checked(codec, &wire[..keep], plain.len());
        if codec == Compression::Snappy && xerial_boundaries(&wire).contains(&keep) {
            // xerial framing has no end marker: a cut between blocks is a
            // shorter valid stream, and must decode to a prefix.
            let prefix = result.expect("cut at a xerial block boundary");
            prop_assert!(plain.starts_with(&prefix));
        } else {
            prop_assert!(
                matches!(result, Err(Error::Corrupt { .. })),
                "{codec}: {keep} of {} bytes gave {result:?}", wire.len()
            );
        }
    }

    /// Raw snappy (librdkafka's format) round-trips through our decoder, and
    /// its truncations are errors.
    #[test]
    fn raw_snappy_blocks_decode(plain in payload(80_000), cut in any::<prop::sample::Index>()) {
        let raw = snap::raw::Encoder::new().compress_vec(&plain).expect("snap");
        prop_assert_eq!(decode_checked(Compression::Snappy, &raw, plain.len()).ok(), Some(plain.clone()));
        let keep = cut.index(raw.len());
        prop_assert!(decode_checked(Compression::Snappy, &raw[..keep], plain.len()).is_err());
    }
}
