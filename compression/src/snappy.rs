//! snappy, in the two shapes Kafka peers put on the wire.
//!
//! * **xerial framing** — what the Java client writes (`org.xerial.snappy.SnappyOutputStream`
//!   with its default 32 KiB block size) and what librdkafka, kafka-python and
//!   the Java client all read:
//!   `\x82SNAPPY\0` + version (i32 BE, 1) + min-compatible version (i32 BE, 1),
//!   then `[u32 BE length][raw snappy block]*`, each block at most 32 KiB uncompressed.
//! * **a raw snappy block** — what librdkafka writes (`rd_kafka_snappy_compress_iov`);
//!   the Java client's `SnappyInputStream` falls back to it when the magic is absent.
//!
//! Encoding always uses xerial framing, as the Java client does. Decoding
//! accepts both, picking xerial when the input starts with the 8-byte magic
//! (a raw block can never start with it: it would declare ~10 KiB of output
//! and open with a back-reference into nothing). Like kafka-python and
//! librdkafka, the version fields are not checked (some producers write them
//! little-endian). Concatenated xerial streams (a header again after a block)
//! are accepted, as Java's `SnappyInputStream` does. xerial framing has no end
//! marker, so a stream cut exactly at a block boundary decodes to a prefix:
//! that is the format, not this decoder; Kafka's batch CRC covers it.

use snap::raw::{Decoder, Encoder, decompress_len, max_compress_len};

use crate::{Compression, Error, decode_parts};

const CODEC: Compression = Compression::Snappy;
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
const XERIAL_VERSION: i32 = 1;
const XERIAL_MIN_COMPATIBLE_VERSION: i32 = 1;
/// `SnappyOutputStream.DEFAULT_BLOCK_SIZE` in xerial snappy-java (and kafka-python's default).
pub(crate) const XERIAL_BLOCK_SIZE: usize = 32 * 1024;

pub(crate) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&XERIAL_VERSION.to_be_bytes());
    out.extend_from_slice(&XERIAL_MIN_COMPATIBLE_VERSION.to_be_bytes());
    let mut encoder = Encoder::new();
    // An empty input still gets one (empty) block, so readers that require
    // more than a bare header (kafka-python) see a valid stream.
    let mut chunks = input.chunks(XERIAL_BLOCK_SIZE);
    let first = chunks.next().unwrap_or_default();
    for chunk in std::iter::once(first).chain(chunks) {
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        let body_at = out.len();
        out.resize(body_at + max_compress_len(chunk.len()), 0);
        let Some(dst) = out.get_mut(body_at..) else {
            return Err(Error::compress(CODEC, "output buffer bookkeeping"));
        };
        let written = encoder
            .compress(chunk, dst)
            .map_err(|e| Error::compress(CODEC, e))?;
        out.truncate(body_at + written);
        let len = u32::try_from(written).map_err(|e| Error::compress(CODEC, e))?;
        if let Some(slot) = out.get_mut(len_at..body_at) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

pub(crate) fn decompress(input: &[u8], max_size: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    // A proper prefix of the magic is a cut-off xerial header (as raw snappy
    // it would claim ~10 KiB and have no valid first tag).
    if input.starts_with(&XERIAL_MAGIC) || (!input.is_empty() && XERIAL_MAGIC.starts_with(input)) {
        decompress_xerial(input, max_size, out)
    } else {
        raw_block(input, max_size, out, &mut Decoder::new()).map(drop)
    }
}

fn decompress_xerial(input: &[u8], max_size: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let mut decoder = Decoder::new();
    let mut block = 0usize;
    decode_parts(CODEC, input, max_size, out, |rest, cap, out| {
        if rest.starts_with(&XERIAL_MAGIC) || XERIAL_MAGIC.starts_with(rest) {
            // Stream header (the first one, or a concatenated stream's). A block
            // length never starts with 0x82: that would be over 2 GiB.
            let tail = rest
                .get(XERIAL_HEADER_LEN..)
                .ok_or_else(|| Error::corrupt(CODEC, "truncated xerial stream header"))?;
            return Ok((0, tail));
        }
        let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(|| {
            Error::corrupt(
                CODEC,
                format!("xerial block {block}: truncated length prefix"),
            )
        })?;
        let len = u32::from_be_bytes(*len);
        let (data, tail) = usize::try_from(len)
            .ok()
            .and_then(|len| tail.split_at_checked(len))
            .ok_or_else(|| {
                Error::corrupt(
                    CODEC,
                    format!(
                        "xerial block {block}: declares {len} compressed bytes, only {} remain",
                        tail.len()
                    ),
                )
            })?;
        let n = raw_block(data, cap, out, &mut decoder).map_err(|e| match e {
            Error::Corrupt { codec, source } => {
                Error::corrupt(codec, format!("xerial block {block}: {source}"))
            }
            other => other,
        })?;
        block += 1;
        Ok((n, tail))
    })
}

/// Decodes one raw snappy block, appending to `out`; returns the bytes appended.
/// The declared length is checked against `cap` before anything is allocated.
fn raw_block(
    data: &[u8],
    cap: usize,
    out: &mut Vec<u8>,
    decoder: &mut Decoder,
) -> Result<usize, Error> {
    let declared = decompress_len(data).map_err(|e| Error::corrupt(CODEC, e))?;
    if declared > cap {
        return Err(Error::TooLarge {
            codec: CODEC,
            limit: cap,
        });
    }
    let start = out.len();
    out.resize(start + declared, 0);
    let Some(dst) = out.get_mut(start..) else {
        return Err(Error::corrupt(CODEC, "output buffer bookkeeping"));
    };
    let written = decoder
        .decompress(data, dst)
        .map_err(|e| Error::corrupt(CODEC, e))?;
    if written != declared {
        return Err(Error::corrupt(
            CODEC,
            format!("block declares {declared} bytes but decodes to {written}"),
        ));
    }
    Ok(written)
}
