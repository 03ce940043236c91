//! lz4, as the LZ4 *frame* format (magic v2 batches; the pre-0.10 "broken
//! header checksum" quirk only concerns magic v0/v1 and is not handled).
//!
//! Encoding mirrors the Java client's `KafkaLZ4BlockOutputStream`: one frame,
//! independent 64 KiB blocks, no block or content checksum, no content size.
//! Java's reader rejects dependent (linked) blocks, so the encoder never
//! writes them. Decoding accepts anything lz4 writes: linked or independent
//! blocks, checksums, content size, several frames and skippable frames.
//!
//! Levels: Kafka's `compression.lz4.level` is 1..=17 (default 9); lz4_flex
//! has a single (fast) compressor, so every level in that range compresses
//! the same way. The level only exists so that configurations valid for the
//! Java client are valid here.
//!
//! Before lz4_flex decodes a frame, [`next_frame`] walks its structure
//! (header length, block lengths, end mark). lz4_flex treats end-of-input
//! where a block header should be as a clean end of stream, so without the
//! walk a frame cut at a block boundary would decode to a silent prefix.

use std::io::Write;

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use crate::{Compression, Error, check_level, decode_parts, read_capped};

const CODEC: Compression = Compression::Lz4;
pub(crate) const MIN_LEVEL: i32 = 1;
pub(crate) const MAX_LEVEL: i32 = 17;
pub(crate) const DEFAULT_LEVEL: i32 = 9;

const MAGIC: u32 = 0x184D_2204;
const LEGACY_MAGIC: u32 = 0x184C_2102;
const SKIPPABLE_MAGIC_MIN: u32 = 0x184D_2A50;
const SKIPPABLE_MAGIC_MAX: u32 = 0x184D_2A5F;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_DICT_ID: u8 = 0x01;
const BLOCK_UNCOMPRESSED_BIT: u32 = 0x8000_0000;

pub(crate) fn compress(input: &[u8], level: Option<i32>, out: &mut Vec<u8>) -> Result<(), Error> {
    check_level(
        CODEC,
        level,
        "valid levels are 1..=17 (Kafka's range; lz4_flex has one speed, \
         so all levels compress alike)",
    )?;
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent)
        .block_checksums(false)
        .content_checksum(false);
    let mut encoder = FrameEncoder::with_frame_info(info, out);
    encoder
        .write_all(input)
        .map_err(|e| Error::compress(CODEC, e))?;
    encoder.finish().map_err(|e| Error::compress(CODEC, e))?;
    Ok(())
}

pub(crate) fn decompress(input: &[u8], max_size: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    if input.is_empty() {
        return Err(Error::corrupt(CODEC, "empty input"));
    }
    decode_parts(CODEC, input, max_size, out, |rest, cap, out| {
        let (frame, tail) = next_frame(rest)?;
        let n = match frame {
            Some(frame) => read_capped(CODEC, FrameDecoder::new(frame), cap, out)?,
            None => 0,
        };
        Ok((n, tail))
    })
}

fn take<'a>(buf: &'a [u8], n: usize, what: &str) -> Result<(&'a [u8], &'a [u8]), Error> {
    buf.split_at_checked(n)
        .ok_or_else(|| Error::corrupt(CODEC, format!("truncated frame: {what}")))
}

fn take_u32<'a>(buf: &'a [u8], what: &str) -> Result<(u32, &'a [u8]), Error> {
    let (bytes, rest) = buf
        .split_first_chunk::<4>()
        .ok_or_else(|| Error::corrupt(CODEC, format!("truncated frame: {what}")))?;
    Ok((u32::from_le_bytes(*bytes), rest))
}

/// Splits the first frame off `buf`: `(Some(frame), rest)` for an LZ4 data
/// frame, `(None, rest)` for a skippable frame. Only structure is checked here
/// (lengths and the end mark); lz4_flex checks the header's values and checksums.
fn next_frame(buf: &[u8]) -> Result<(Option<&[u8]>, &[u8]), Error> {
    let (magic, after_magic) = take_u32(buf, "magic number")?;
    match magic {
        MAGIC => {}
        SKIPPABLE_MAGIC_MIN..=SKIPPABLE_MAGIC_MAX => {
            let (len, body) = take_u32(after_magic, "skippable frame length")?;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let (_, rest) = take(body, len, "skippable frame body")?;
            return Ok((None, rest));
        }
        LEGACY_MAGIC => {
            return Err(Error::corrupt(
                CODEC,
                "legacy LZ4 frame format (lz4 -l) is not used by Kafka and not supported",
            ));
        }
        other => {
            return Err(Error::corrupt(
                CODEC,
                format!("bad frame magic number {other:#010x}, expected {MAGIC:#010x}"),
            ));
        }
    }
    let (&flg, _) = after_magic
        .split_first()
        .ok_or_else(|| Error::corrupt(CODEC, "truncated frame: descriptor"))?;
    let descriptor_len = 2
        + if flg & FLG_CONTENT_SIZE != 0 { 8 } else { 0 }
        + if flg & FLG_DICT_ID != 0 { 4 } else { 0 }
        + 1;
    let (_, mut rest) = take(after_magic, descriptor_len, "descriptor")?;
    let block_checksum_len = if flg & FLG_BLOCK_CHECKSUM != 0 { 4 } else { 0 };
    loop {
        let (block, after_header) = take_u32(rest, "block header (missing end mark)")?;
        if block == 0 {
            rest = after_header;
            break;
        }
        let len = usize::try_from(block & !BLOCK_UNCOMPRESSED_BIT).unwrap_or(usize::MAX);
        let (_, after_block) = take(after_header, len, "block data")?;
        let (_, after_checksum) = take(after_block, block_checksum_len, "block checksum")?;
        rest = after_checksum;
    }
    if flg & FLG_CONTENT_CHECKSUM != 0 {
        let (_, after) = take(rest, 4, "content checksum")?;
        rest = after;
    }
    let frame_len = buf.len() - rest.len();
    let (frame, rest) = take(buf, frame_len, "frame")?;
    Ok((Some(frame), rest))
}
