//! Record batches: the bytes inside Produce requests and Fetch responses.
//!
//! Kafka stores and ships records in *batches*. The current format is magic
//! v2 (Kafka 0.11+): a 61-byte batch header followed by the records, which may
//! be compressed as one blob. Older topics may still hold *message sets* of
//! magic v0 and v1, where each message carries its own header and compression
//! wraps a whole inner message set in one message's value.
//!
//! - Writing: [`RecordBatchBuilder`] appends records straight into one buffer
//!   (no allocation per record beyond that buffer's growth) and
//!   [`finish`](RecordBatchBuilder::finish)es with compression, lengths and
//!   the CRC-32C. [`set_producer_fields`] restamps a sealed batch's producer
//!   id, epoch, base sequence and transactional bit (a retry after an epoch
//!   bump), and [`BatchHeader::read_v2`] reads a sealed batch's header.
//! - Reading: [`RecordBatches`] walks the batches in a record set (a Fetch
//!   response may end with a partial batch: that is reported by
//!   [`RecordBatches::incomplete`], not as an error), checks CRCs, and yields
//!   [`RecordBatch`]es. [`RecordBatch::records`] decompresses (with a size cap)
//!   and iterates [`Record`]s whose keys, values and headers are zero-copy
//!   slices of the (decompressed) buffer. Legacy v0/v1 message sets come out
//!   as the same types. Control batches decode to [`ControlRecord`]s.
//!
//! Nothing here panics on input: every length and count is checked against
//! the bytes present before it is used.

mod builder;
mod control;
mod crc32;
mod decode;
mod legacy;
mod patch;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use std::fmt;

pub use builder::RecordBatchBuilder;
pub use control::{ControlRecord, ControlRecordType};
pub use decode::{Incomplete, RecordBatch, RecordBatches, Records};
pub use patch::{ProducerFields, set_producer_fields, with_producer_fields};
pub use purekafka_compression::Compression;

/// Magic byte of legacy message sets without timestamps (Kafka < 0.10).
pub const MAGIC_V0: i8 = 0;
/// Magic byte of legacy message sets with timestamps (Kafka 0.10).
pub const MAGIC_V1: i8 = 1;
/// Magic byte of record batches (Kafka 0.11+).
pub const MAGIC_V2: i8 = 2;

/// Size of the offset and length fields that start every batch or message.
pub const LOG_OVERHEAD: usize = 12;
/// Size of a v2 batch header, up to and including the record count.
pub const BATCH_HEADER_SIZE: usize = 61;
/// The producer id of a batch written without one.
pub const NO_PRODUCER_ID: i64 = -1;
/// The producer epoch of a batch written without one.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// The base sequence of a batch written without one.
pub const NO_SEQUENCE: i32 = -1;
/// The partition leader epoch of a batch the broker has not stamped.
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
/// The timestamp of a record without one (magic v0).
pub const NO_TIMESTAMP: i64 = -1;

/// Byte offsets of the v2 header fields, from the start of the batch.
pub(crate) mod layout {
    pub const BASE_OFFSET: usize = 0;
    pub const BATCH_LENGTH: usize = 8;
    pub const PARTITION_LEADER_EPOCH: usize = 12;
    pub const MAGIC: usize = 16;
    pub const CRC: usize = 17;
    pub const ATTRIBUTES: usize = 21;
    pub const LAST_OFFSET_DELTA: usize = 23;
    pub const BASE_TIMESTAMP: usize = 27;
    pub const MAX_TIMESTAMP: usize = 35;
    pub const PRODUCER_ID: usize = 43;
    pub const PRODUCER_EPOCH: usize = 51;
    pub const BASE_SEQUENCE: usize = 53;
    pub const RECORD_COUNT: usize = 57;
    /// `batch_length` of a batch with no records.
    pub const MIN_BATCH_LENGTH: i32 = (super::BATCH_HEADER_SIZE - super::LOG_OVERHEAD) as i32;
    /// The smallest v2 record: length, attributes, timestamp delta, offset
    /// delta, key length, value length and header count, one byte each.
    pub const MIN_RECORD_SIZE: usize = 7;
}

/// How a batch's timestamps were assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// By the producer (each record's own timestamp).
    #[default]
    CreateTime,
    /// By the broker when it appended the batch (the batch's max timestamp
    /// applies to every record).
    LogAppendTime,
}

/// A batch's `attributes` field.
///
/// Bits 0-2 compression codec, bit 3 timestamp type, bit 4 transactional,
/// bit 5 control, bit 6 delete horizon. Legacy messages use bits 0-3 only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Attributes(pub i16);

impl Attributes {
    const CODEC_MASK: i16 = 0x07;
    const TIMESTAMP_TYPE: i16 = 0x08;
    const TRANSACTIONAL: i16 = 0x10;
    const CONTROL: i16 = 0x20;
    const DELETE_HORIZON: i16 = 0x40;

    /// Attributes with these settings (no delete horizon).
    pub const fn new(
        compression: Compression,
        timestamp_type: TimestampType,
        transactional: bool,
        control: bool,
    ) -> Attributes {
        let mut bits = compression.attribute_bits() & Self::CODEC_MASK;
        if matches!(timestamp_type, TimestampType::LogAppendTime) {
            bits |= Self::TIMESTAMP_TYPE;
        }
        if transactional {
            bits |= Self::TRANSACTIONAL;
        }
        if control {
            bits |= Self::CONTROL;
        }
        Attributes(bits)
    }

    /// The codec id (bits 0-2), which may be one no codec has (5-7).
    pub const fn codec_id(self) -> i16 {
        self.0 & Self::CODEC_MASK
    }

    /// The compression codec, or an error for ids 5-7.
    pub fn compression(self) -> Result<Compression, purekafka_compression::Error> {
        Compression::from_attributes(self.0)
    }

    /// Bit 3: create time or log-append time.
    pub const fn timestamp_type(self) -> TimestampType {
        if self.0 & Self::TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Bit 4: the batch belongs to a transaction.
    pub const fn is_transactional(self) -> bool {
        self.0 & Self::TRANSACTIONAL != 0
    }

    /// Bit 5: the batch holds a control record (transaction marker).
    pub const fn is_control(self) -> bool {
        self.0 & Self::CONTROL != 0
    }

    /// Bit 6: the base timestamp is the delete horizon set by log compaction.
    pub const fn has_delete_horizon(self) -> bool {
        self.0 & Self::DELETE_HORIZON != 0
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Attributes");
        match self.compression() {
            Ok(c) => d.field("compression", &c),
            Err(_) => d.field("codec_id", &self.codec_id()),
        };
        d.field("timestamp_type", &self.timestamp_type())
            .field("transactional", &self.is_transactional())
            .field("control", &self.is_control())
            .field("delete_horizon", &self.has_delete_horizon())
            .finish()
    }
}

/// The header of a record batch.
///
/// For a legacy (v0/v1) message, the fields are filled from the message as
/// Kafka's own clients do: offsets span the inner messages of a compressed
/// wrapper, timestamps are the wrapper's, and the producer fields, leader
/// epoch and sequence are "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field.
    pub batch_length: i32,
    /// Leader epoch of the broker that appended the batch (-1 if unset).
    pub partition_leader_epoch: i32,
    /// Format version: 0, 1 or 2.
    pub magic: i8,
    /// Stored checksum: CRC-32C over attributes..end (v2), CRC-32 over
    /// magic..end of the message (v0/v1).
    pub crc: u32,
    /// Codec, timestamp type, transactional and control flags.
    pub attributes: Attributes,
    /// The codec, checked when the batch was read.
    pub compression: Compression,
    /// Offset of the last record minus `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon, see
    /// [`Attributes::has_delete_horizon`]).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (log-append time for such batches).
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records the batch claims.
    pub record_count: i32,
}

impl BatchHeader {
    /// Offset of the last record (which compaction may have removed).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset to fetch after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Create time or log-append time.
    pub fn timestamp_type(&self) -> TimestampType {
        self.attributes.timestamp_type()
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes.is_transactional()
    }

    /// Whether the batch holds a transaction marker.
    pub fn is_control(&self) -> bool {
        self.attributes.is_control()
    }

    /// Whether the base timestamp is a compaction delete horizon.
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes.has_delete_horizon()
    }

    /// Total size on the wire, offset and length fields included.
    pub fn size_in_bytes(&self) -> usize {
        LOG_OVERHEAD + usize::try_from(self.batch_length).unwrap_or(0)
    }
}

/// A record header: a key (UTF-8 by convention) and a nullable value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// The header's key.
    pub key: Bytes,
    /// The header's value; `None` is null.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header from anything that converts to `Bytes` (`&'static str`,
    /// `String`, `Vec<u8>`, ...).
    pub fn new(key: impl Into<Bytes>, value: Option<Bytes>) -> Header {
        Header {
            key: key.into(),
            value,
        }
    }

    /// The key as text, if it is UTF-8.
    pub fn key_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.key)
    }
}

/// The headers of a decoded record, kept as the raw (already validated)
/// bytes and decoded on iteration, so reading a record allocates nothing.
#[derive(Clone, Default)]
pub struct Headers {
    raw: Bytes,
    count: u32,
}

impl Headers {
    /// No headers.
    pub const fn new() -> Headers {
        Headers {
            raw: Bytes::new(),
            count: 0,
        }
    }

    /// `raw` must hold `count` headers that [`decode::read_headers`] accepted.
    pub(crate) fn from_validated(raw: Bytes, count: u32) -> Headers {
        Headers { raw, count }
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The headers in order.
    pub fn iter(&self) -> HeadersIter {
        HeadersIter {
            raw: self.raw.clone(),
            remaining: self.count,
        }
    }

    /// The first header with this key.
    pub fn get(&self, key: &[u8]) -> Option<Header> {
        self.iter().find(|h| h.key.as_ref() == key)
    }

    /// The headers as a vector.
    pub fn to_vec(&self) -> Vec<Header> {
        self.iter().collect()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.count == other.count && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl PartialEq<[Header]> for Headers {
    fn eq(&self, other: &[Header]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| &a == b)
    }
}

impl PartialEq<Vec<Header>> for Headers {
    fn eq(&self, other: &Vec<Header>) -> bool {
        self == other.as_slice()
    }
}

impl IntoIterator for &Headers {
    type Item = Header;
    type IntoIter = HeadersIter;
    fn into_iter(self) -> HeadersIter {
        self.iter()
    }
}

/// Iterator over [`Headers`].
#[derive(Clone)]
pub struct HeadersIter {
    raw: Bytes,
    remaining: u32,
}

impl Iterator for HeadersIter {
    type Item = Header;

    fn next(&mut self) -> Option<Header> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Validated when the record was read, so this does not fail; if it
        // somehow did, the iteration just ends.
        match decode::read_header(&mut self.raw) {
            Ok(h) => Some(h),
            Err(_) => {
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining as usize))
    }
}

/// A record read from a batch.
///
/// `key`, `value` and the headers are slices of the batch's (decompressed)
/// bytes: holding a record keeps that buffer alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset in the partition.
    pub offset: i64,
    /// Create time, or the batch's log-append time; -1 for magic v0.
    pub timestamp: i64,
    /// The key; `None` is null.
    pub key: Option<Bytes>,
    /// The value; `None` is null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// The headers (always empty for magic v0/v1).
    pub headers: Headers,
}

/// Settings for reading record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Verify each batch's checksum (the consumer's `check.crcs`).
    pub verify_crc: bool,
    /// Largest decompressed size of one batch's records (or one legacy
    /// wrapper's inner message set); more is an error, not an allocation.
    pub max_decompressed_size: usize,
}

impl DecodeOptions {
    /// Default cap on one batch's decompressed records: 64 MiB.
    pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 64 << 20;
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            verify_crc: true,
            max_decompressed_size: Self::DEFAULT_MAX_DECOMPRESSED_SIZE,
        }
    }
}
