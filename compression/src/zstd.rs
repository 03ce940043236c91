//! zstd via ruzstd (pure Rust).
//!
//! Decoding handles whatever the reference implementation writes (zstd-jni in
//! the Java client, libzstd in librdkafka): any level, frames with or without
//! a content size or checksum, several concatenated frames and skippable
//! frames. Windows up to 128 MiB are accepted (libzstd's and zstd-jni's
//! default `windowLogMax` of 27); larger windows are rejected as corrupt.
//!
//! Memory while decoding: ruzstd keeps one window of history (what the frame
//! header declares, at most 128 MiB) before it hands bytes out, so the cap is
//! checked every block on what can be handed out, and a frame whose header
//! declares a content size over the cap is rejected before any decoding.
//!
//! Encoding: ruzstd 0.9 implements only its "Fastest" matcher (roughly zstd
//! level 1; its "Default"/"Better"/"Best" levels are `unimplemented!()`), so
//! every Kafka level (-131072..=22) compresses with it. The frames it writes
//! carry a checksum, no content size, and decode with libzstd.

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use ruzstd::encoding::CompressionLevel;

use crate::{Compression, Error, check_level, decode_parts};

const CODEC: Compression = Compression::Zstd;
/// `ZSTD_minCLevel()`, the bottom of the Java client's `compression.zstd.level`.
pub(crate) const MIN_LEVEL: i32 = -131_072;
/// `ZSTD_maxCLevel()`.
pub(crate) const MAX_LEVEL: i32 = 22;
/// `ZSTD_CLEVEL_DEFAULT`, the Java client's default.
pub(crate) const DEFAULT_LEVEL: i32 = 3;

pub(crate) fn compress(input: &[u8], level: Option<i32>, out: &mut Vec<u8>) -> Result<(), Error> {
    check_level(
        CODEC,
        level,
        "valid levels are -131072..=22 (Kafka's range; the pure-Rust encoder \
         has one speed, roughly zstd level 1, used for all of them)",
    )?;
    // Only `Fastest` (and `Uncompressed`) are implemented by ruzstd 0.9; any
    // other variant would panic. Writing into a Vec cannot fail.
    ruzstd::encoding::compress(input, &mut *out, CompressionLevel::Fastest);
    Ok(())
}

pub(crate) fn decompress(input: &[u8], max_size: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    if input.is_empty() {
        return Err(Error::corrupt(CODEC, "empty input"));
    }
    let corrupt = |e: FrameDecoderError| Error::corrupt(CODEC, e);
    let mut decoder = FrameDecoder::new();
    let mut frame = 0usize;
    decode_parts(CODEC, input, max_size, out, |mut rest, cap, out| {
        match decoder.reset(&mut rest) {
            Ok(()) => {}
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                let tail = usize::try_from(length)
                    .ok()
                    .and_then(|len| rest.get(len..))
                    .ok_or_else(|| Error::corrupt(CODEC, "truncated skippable frame"))?;
                return Ok((0, tail));
            }
            Err(e) => return Err(corrupt(e)),
        }
        let too_large = || Error::TooLarge {
            codec: CODEC,
            limit: cap,
        };
        // 0 means "not declared" (a declared 0 is checked by the block loop anyway).
        let declared = decoder.content_size();
        if declared > u64::try_from(cap).unwrap_or(u64::MAX) {
            return Err(too_large());
        }
        let mut got = 0usize;
        loop {
            decoder
                .decode_blocks(&mut rest, BlockDecodingStrategy::UptoBlocks(1))
                .map_err(corrupt)?;
            if decoder.can_collect() > cap.saturating_sub(got) {
                return Err(too_large());
            }
            let drained = decoder
                .collect_to_writer(&mut *out)
                .map_err(|e| Error::corrupt(CODEC, e))?;
            got = got.saturating_add(drained);
            if got > cap {
                return Err(too_large());
            }
            if decoder.is_finished() && decoder.can_collect() == 0 {
                break;
            }
        }
        if let Some(expected) = decoder.get_checksum_from_data()
            && decoder.get_calculated_checksum() != Some(expected)
        {
            return Err(Error::corrupt(
                CODEC,
                format!("frame {frame}: content checksum mismatch"),
            ));
        }
        if declared != 0 && u64::try_from(got).ok() != Some(declared) {
            return Err(Error::corrupt(
                CODEC,
                format!("frame {frame}: header declares {declared} bytes, decoded {got}"),
            ));
        }
        frame += 1;
        Ok((got, rest))
    })
}
