//! gzip: RFC 1952 members around raw deflate, via flate2's pure-Rust backend
//! (miniz_oxide). The Java client writes one member with
//! `java.util.zip.GZIPOutputStream` (zlib default level 6); librdkafka uses
//! zlib with the same default.

use std::io::Write;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::{Compression, Error, read_capped};

const CODEC: Compression = Compression::Gzip;
pub(crate) const MIN_LEVEL: i32 = 1;
pub(crate) const MAX_LEVEL: i32 = 9;
/// zlib's `Z_DEFAULT_COMPRESSION`, which is what Java's `Deflater.DEFAULT_COMPRESSION` (-1) means.
pub(crate) const DEFAULT_LEVEL: i32 = 6;

fn level(level: Option<i32>) -> Result<u32, Error> {
    match level {
        None | Some(-1) => Ok(DEFAULT_LEVEL.unsigned_abs()),
        Some(l @ MIN_LEVEL..=MAX_LEVEL) => Ok(l.unsigned_abs()),
        Some(l) => Err(Error::InvalidLevel {
            codec: CODEC,
            level: l,
            valid: "valid levels are 1..=9, or -1 for the default (6)",
        }),
    }
}

pub(crate) fn compress(input: &[u8], lvl: Option<i32>, out: &mut Vec<u8>) -> Result<(), Error> {
    let lvl = level(lvl)?;
    let mut encoder = GzEncoder::new(out, flate2::Compression::new(lvl));
    encoder
        .write_all(input)
        .and_then(|()| encoder.try_finish())
        .map_err(|e| Error::compress(CODEC, e))
}

pub(crate) fn decompress(input: &[u8], max_size: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    if input.is_empty() {
        return Err(Error::corrupt(CODEC, "empty input"));
    }
    // Java's GZIPInputStream and zlib both accept concatenated members.
    read_capped(CODEC, MultiGzDecoder::new(input), max_size, out).map(drop)
}
