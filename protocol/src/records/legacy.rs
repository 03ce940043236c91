//! Legacy message sets (magic v0 and v1), read-only.
//!
//! A message set is a sequence of `offset: int64, message_size: int32,
//! message`, where a message is `crc: uint32 (CRC-32 of the rest), magic:
//! int8, attributes: int8, [timestamp: int64 if magic 1], key: bytes, value:
//! bytes`. A compressed message ("wrapper") holds a whole inner message set in
//! its value. The wrapper's offset is that of its last inner message; with
//! magic 1 the inner offsets are relative, so the absolute offset of an inner
//! message is `wrapper offset - last inner offset + inner offset`.
//!
//! Each outer message becomes one [`RecordBatch`]; compressed wrappers are
//! decompressed and checked when the batch is read (to know its offsets), and
//! their inner messages become the batch's records.

use super::crc32::crc32;
use super::decode::{Body, RecordBatch, compression_error, invalid};
use super::{
    Attributes, BatchHeader, DecodeOptions, Headers, MAGIC_V0, MAGIC_V1, NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, NO_TIMESTAMP, Record, TimestampType,
};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::primitives::{get_i8, get_i32, get_i64, get_nullable_bytes, get_u32, take};
use bytes::Bytes;
use purekafka_compression::Compression;

/// The smallest message: crc, magic, attributes, key length, value length.
pub(crate) const MIN_MESSAGE_SIZE: i32 = 4 + 1 + 1 + 4 + 4;

/// One decoded legacy message.
struct Message {
    offset: i64,
    crc: u32,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

/// Reads one `offset, size, message` entry.
fn read_message(buf: &mut Bytes, verify_crc: bool) -> Result<Message, DecodeError> {
    let offset = get_i64(buf).map_err(|e| e.field("offset"))?;
    let size = get_i32(buf).map_err(|e| e.field("message_size"))?;
    if size < MIN_MESSAGE_SIZE {
        return Err(invalid("message size below the minimum").field("message_size"));
    }
    let mut m = take(buf, size as usize).map_err(|e| e.field("message_size"))?;
    let crc = get_u32(&mut m)?;
    if verify_crc {
        let computed = crc32(&m);
        if computed != crc {
            return Err(DecodeError::new(DecodeErrorKind::CrcMismatch {
                stored: crc,
                computed,
            })
            .field("crc"));
        }
    }
    let magic = get_i8(&mut m)?;
    if magic != MAGIC_V0 && magic != MAGIC_V1 {
        return Err(DecodeError::new(DecodeErrorKind::UnsupportedMagic(magic)).field("magic"));
    }
    let attributes = get_i8(&mut m)?;
    let timestamp = if magic == MAGIC_V1 {
        get_i64(&mut m).map_err(|e| e.field("timestamp"))?
    } else {
        NO_TIMESTAMP
    };
    let key = get_nullable_bytes(&mut m, false).map_err(|e| e.field("key"))?;
    let value = get_nullable_bytes(&mut m, false).map_err(|e| e.field("value"))?;
    if !m.is_empty() {
        return Err(DecodeError::new(DecodeErrorKind::TrailingBytes(m.len())).field("value"));
    }
    Ok(Message {
        offset,
        crc,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

/// The codec of a legacy message (zstd needs magic v2).
fn codec(attributes: i8) -> Result<Compression, DecodeError> {
    match attributes & 0x07 {
        0 => Ok(Compression::None),
        1 => Ok(Compression::Gzip),
        2 => Ok(Compression::Snappy),
        3 => Ok(Compression::Lz4),
        _ => Err(invalid("compression codec not valid for magic v0/v1").field("attributes")),
    }
}

/// Reads one outer message (its `offset, size` included in `raw`) as a batch.
pub(crate) fn parse_entry(raw: Bytes, options: DecodeOptions) -> Result<RecordBatch, DecodeError> {
    let mut b = raw.clone();
    let outer = read_message(&mut b, options.verify_crc)?;
    let compression = codec(outer.attributes)?;
    // v0 has only the codec bits; v1 adds the timestamp type.
    let mask: i8 = if outer.magic == MAGIC_V0 { 0x07 } else { 0x0f };
    let attributes = Attributes(i16::from(outer.attributes & mask));
    let batch_length = i32::try_from(raw.len().saturating_sub(super::LOG_OVERHEAD))
        .map_err(|_| invalid("message too large").field("message_size"))?;

    let (base_offset, last_offset_delta, record_count, records) = if compression
        == Compression::None
    {
        let records = LegacyRecords {
            buf: raw.clone(),
            remaining: 1,
            offset_adjust: 0,
            log_append_time: None,
        };
        (outer.offset, 0, 1, records)
    } else {
        let value = outer
            .value
            .ok_or_else(|| invalid("compressed message without a value").field("value"))?;
        let mut out = Vec::new();
        compression
            .decompress(&value, options.max_decompressed_size, &mut out)
            .map_err(|e| compression_error(&e).field("value"))?;
        let inner = Bytes::from(out);

        // Check every inner message now, so iterating later cannot fail, and
        // find the offsets the batch spans.
        let mut scan = inner.clone();
        let mut count: u32 = 0;
        let mut first = None;
        let mut last = 0;
        while !scan.is_empty() {
            let m = read_message(&mut scan, options.verify_crc)
                .map_err(|e| e.field("inner_message"))?;
            if codec(m.attributes)? != Compression::None {
                return Err(invalid("compressed message inside a compressed message")
                    .field("inner_message"));
            }
            count = count.saturating_add(1);
            first.get_or_insert(m.offset);
            last = m.offset;
        }
        let first = first
            .ok_or_else(|| invalid("compressed message with no inner messages").field("value"))?;
        let offset_adjust = if outer.magic == MAGIC_V1 {
            outer
                .offset
                .checked_sub(last)
                .ok_or_else(|| invalid("wrapper offset overflows").field("offset"))?
        } else {
            0
        };
        let base_offset = first
            .checked_add(offset_adjust)
            .ok_or_else(|| invalid("inner offset overflows").field("offset"))?;
        let last_offset_delta = last
            .checked_sub(first)
            .and_then(|d| i32::try_from(d).ok())
            .ok_or_else(|| invalid("inner offsets span more than 2^31").field("inner_message"))?;
        let record_count = i32::try_from(count)
            .map_err(|_| invalid("too many inner messages").field("inner_message"))?;
        let log_append_time = (outer.magic == MAGIC_V1
            && attributes.timestamp_type() == TimestampType::LogAppendTime)
            .then_some(outer.timestamp);
        let records = LegacyRecords {
            buf: inner,
            remaining: count,
            offset_adjust,
            log_append_time,
        };
        (base_offset, last_offset_delta, record_count, records)
    };

    let header = BatchHeader {
        base_offset,
        batch_length,
        partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        magic: outer.magic,
        crc: outer.crc,
        attributes,
        compression,
        last_offset_delta,
        base_timestamp: outer.timestamp,
        max_timestamp: outer.timestamp,
        producer_id: NO_PRODUCER_ID,
        producer_epoch: NO_PRODUCER_EPOCH,
        base_sequence: NO_SEQUENCE,
        record_count,
    };
    Ok(RecordBatch::from_parts(
        header,
        Body::Legacy(records),
        raw,
        options.max_decompressed_size,
    ))
}

/// The messages of one legacy batch: the single uncompressed message, or the
/// checked inner messages of a wrapper.
#[derive(Debug, Clone)]
pub(crate) struct LegacyRecords {
    buf: Bytes,
    remaining: u32,
    offset_adjust: i64,
    log_append_time: Option<i64>,
}

impl LegacyRecords {
    pub(crate) fn remaining(&self) -> usize {
        self.remaining as usize
    }

    pub(crate) fn next(&mut self) -> Option<Result<Record, DecodeError>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let result = read_message(&mut self.buf, false).and_then(|m| {
            let offset = m
                .offset
                .checked_add(self.offset_adjust)
                .ok_or_else(|| invalid("inner offset overflows").field("offset"))?;
            let timestamp = self.log_append_time.unwrap_or(m.timestamp);
            Ok(Record {
                offset,
                timestamp,
                key: m.key,
                value: m.value,
                headers: Headers::new(),
            })
        });
        if result.is_err() {
            self.remaining = 0;
        }
        Some(result.map_err(|e| e.field("message")))
    }
}
