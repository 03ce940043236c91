//! Kafka record-batch codecs — gzip, snappy, lz4 and zstd — in pure Rust.
//!
//! A record batch (magic v2) keeps its codec in bits 0..=2 of `attributes`
//! (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd); the records that follow the
//! record count are compressed as one blob with that codec. This crate turns
//! that blob into bytes and back, in the wire formats the Java client and
//! librdkafka write and read:
//!
//! | codec  | writes                                              | reads                                              |
//! |--------|-----------------------------------------------------|----------------------------------------------------|
//! | gzip   | one gzip member (RFC 1952), level 1..=9, default 6  | one or more concatenated gzip members              |
//! | snappy | xerial framing, 32 KiB blocks (Java's `SnappyOutputStream`) | xerial framing (Java) **and** a raw snappy block (librdkafka) |
//! | lz4    | LZ4 frame, independent 64 KiB blocks, no checksums (Java's `KafkaLZ4BlockOutputStream`) | any LZ4 frame(s): linked or independent blocks, checksums, content size, skippable frames |
//! | zstd   | one zstd frame with checksum (ruzstd "Fastest")     | any zstd frames at any level, with or without content size, skippable frames |
//!
//! Decompression is bounded: output beyond `max_size` stops the decoder with
//! [`Error::TooLarge`] and sizes claimed by the input are never trusted for an
//! allocation beyond that cap. No function panics on input data.
//!
//! ```
//! use purekafka_compression::Compression;
//!
//! let codec = Compression::from_attributes(0x0004)?; // zstd
//! let mut wire = Vec::new();
//! codec.compress(b"hello kafka", None, &mut wire)?;
//! let mut plain = Vec::new();
//! codec.decompress(&wire, 1 << 20, &mut plain)?;
//! assert_eq!(plain, b"hello kafka");
//! # Ok::<(), purekafka_compression::Error>(())
//! ```

#![deny(missing_docs)]

mod error;
mod gzip;
mod lz4;
mod snappy;
mod zstd;

use std::io::Read;

pub use error::{BoxError, Error};

/// The compression codec of a record batch (`attributes & 0x07`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression (codec id 0).
    #[default]
    None,
    /// gzip (codec id 1).
    Gzip,
    /// snappy (codec id 2).
    Snappy,
    /// lz4 frame format (codec id 3).
    Lz4,
    /// zstd (codec id 4, Kafka 2.1+).
    Zstd,
}

impl Compression {
    /// All codecs, in codec-id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec of a record batch from its `attributes` field.
    ///
    /// Only bits 0..=2 are looked at; the timestamp-type, transactional,
    /// control and delete-horizon bits are ignored. Codec ids 5..=7 give
    /// [`Error::UnknownCodec`].
    pub const fn from_attributes(attributes: i16) -> Result<Compression, Error> {
        match attributes & 0x07 {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(Error::UnknownCodec(other)),
        }
    }

    /// The codec id to OR into a record batch's `attributes` (0..=4).
    pub const fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The `compression.type` name: `"none"`, `"gzip"`, `"snappy"`, `"lz4"` or `"zstd"`.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The inclusive range of levels [`compress`](Self::compress) accepts
    /// (the same ranges as the Java client's `compression.<codec>.level`),
    /// or `None` for codecs without levels.
    ///
    /// gzip additionally accepts `-1` (zlib's "default", which is 6).
    /// lz4 and zstd accept their whole Kafka range, but the pure-Rust
    /// encoders behind them each have a single speed: see the crate README.
    pub const fn level_range(self) -> Option<(i32, i32)> {
        match self {
            Compression::None | Compression::Snappy => None,
            Compression::Gzip => Some((gzip::MIN_LEVEL, gzip::MAX_LEVEL)),
            Compression::Lz4 => Some((lz4::MIN_LEVEL, lz4::MAX_LEVEL)),
            Compression::Zstd => Some((zstd::MIN_LEVEL, zstd::MAX_LEVEL)),
        }
    }

    /// The level used when [`compress`](Self::compress) is given `None`
    /// (the Java client's defaults: gzip 6, lz4 9, zstd 3).
    pub const fn default_level(self) -> Option<i32> {
        match self {
            Compression::None | Compression::Snappy => None,
            Compression::Gzip => Some(gzip::DEFAULT_LEVEL),
            Compression::Lz4 => Some(lz4::DEFAULT_LEVEL),
            Compression::Zstd => Some(zstd::DEFAULT_LEVEL),
        }
    }

    /// Compresses `input` and appends the result to `out`.
    ///
    /// `level: None` uses the codec's default. A level outside
    /// [`level_range`](Self::level_range), or any level for `none`/`snappy`,
    /// gives [`Error::InvalidLevel`]. On error `out` is left as it was.
    pub fn compress(
        self,
        input: &[u8],
        level: Option<i32>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let start = out.len();
        let result = match self {
            Compression::None => {
                no_level(self, level)?;
                out.extend_from_slice(input);
                Ok(())
            }
            Compression::Gzip => gzip::compress(input, level, out),
            Compression::Snappy => {
                no_level(self, level)?;
                snappy::compress(input, out)
            }
            Compression::Lz4 => lz4::compress(input, level, out),
            Compression::Zstd => zstd::compress(input, level, out),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Decompresses `input` and appends the result to `out`.
    ///
    /// At most `max_size` bytes are appended: a stream that would decompress
    /// to more stops as soon as that is known and gives [`Error::TooLarge`].
    /// Sizes declared inside the input are checked against the cap before
    /// anything is allocated for them. Invalid input gives [`Error::Corrupt`].
    /// On error `out` is left as it was (its capacity may have grown, by at
    /// most about twice `max_size`).
    pub fn decompress(self, input: &[u8], max_size: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        let result = match self {
            Compression::None => {
                if input.len() > max_size {
                    Err(Error::TooLarge {
                        codec: self,
                        limit: max_size,
                    })
                } else {
                    out.extend_from_slice(input);
                    Ok(())
                }
            }
            Compression::Gzip => gzip::decompress(input, max_size, out),
            Compression::Snappy => snappy::decompress(input, max_size, out),
            Compression::Lz4 => lz4::decompress(input, max_size, out),
            Compression::Zstd => zstd::decompress(input, max_size, out),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;

    /// Parses a `compression.type` value, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compression::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::UnknownName { name: s.to_owned() })
    }
}

/// Accepts no level, or one in `codec`'s [`Compression::level_range`];
/// anything else is [`Error::InvalidLevel`], explained by `valid`.
fn check_level(codec: Compression, level: Option<i32>, valid: &'static str) -> Result<(), Error> {
    match (level, codec.level_range()) {
        (None, _) => Ok(()),
        (Some(l), Some((min, max))) if (min..=max).contains(&l) => Ok(()),
        (Some(level), _) => Err(Error::InvalidLevel {
            codec,
            level,
            valid,
        }),
    }
}

fn no_level(codec: Compression, level: Option<i32>) -> Result<(), Error> {
    check_level(
        codec,
        level,
        "this codec has no compression levels; pass None",
    )
}

/// Reads `reader` to its end into `out` and returns how many bytes it appended.
///
/// Fails with [`Error::TooLarge`] as soon as more than `cap` bytes come out:
/// the reader is wrapped in `take(cap + 1)`, so a bomb is never read past the
/// cap. Reader errors are corruption.
fn read_capped(
    codec: Compression,
    reader: impl Read,
    cap: usize,
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let take = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    match reader.take(take).read_to_end(out) {
        Ok(n) if n > cap => Err(Error::TooLarge { codec, limit: cap }),
        Ok(n) => Ok(n),
        Err(e) => Err(Error::corrupt(codec, e)),
    }
}

/// Decodes `input`, a sequence of parts (lz4 frames, xerial blocks and
/// headers, zstd frames), appending to `out` at most `max_size` bytes in all.
///
/// `part` decodes the part at the start of what it is given, appending at
/// most `cap` bytes (what is left of `max_size`), and returns how many it
/// appended and the input after that part. Every [`Error::TooLarge`] reports
/// the caller's `max_size`, not what was left of it. A part that consumes
/// nothing is corruption (it would loop forever).
fn decode_parts<'a>(
    codec: Compression,
    input: &'a [u8],
    max_size: usize,
    out: &mut Vec<u8>,
    mut part: impl FnMut(&'a [u8], usize, &mut Vec<u8>) -> Result<(usize, &'a [u8]), Error>,
) -> Result<(), Error> {
    let too_large = Error::TooLarge {
        codec,
        limit: max_size,
    };
    let mut rest = input;
    let mut produced = 0usize;
    while !rest.is_empty() {
        let cap = max_size.saturating_sub(produced);
        let (n, tail) = match part(rest, cap, out) {
            Ok(done) => done,
            Err(Error::TooLarge { .. }) => return Err(too_large),
            Err(e) => return Err(e),
        };
        if n > cap {
            return Err(too_large);
        }
        if tail.len() >= rest.len() {
            return Err(Error::corrupt(codec, "a frame or block consumed no input"));
        }
        produced += n;
        rest = tail;
    }
    Ok(())
}
