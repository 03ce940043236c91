//! Reading record batches (v2) and dispatching legacy message sets.

use super::legacy::{self, LegacyRecords};
use super::{
    BatchHeader, ControlRecord, DecodeOptions, Header, Headers, LOG_OVERHEAD, MAGIC_V0, MAGIC_V1,
    MAGIC_V2, Record, TimestampType, layout,
};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::primitives::{get_i8, get_varint, get_varlong, take};
use bytes::{Buf, Bytes};
use purekafka_compression::Compression;

pub(crate) fn invalid(what: &'static str) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidRecord(what))
}

pub(crate) fn compression_error(e: &purekafka_compression::Error) -> DecodeError {
    DecodeError::new(DecodeErrorKind::Compression(e.to_string()))
}

/// Reads a big-endian `i32` at `at` without consuming, if present.
fn peek_i32(buf: &[u8], at: usize) -> Option<i32> {
    let b: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

/// Reads a big-endian `i64` at `at` without consuming, if present.
fn peek_i64(buf: &[u8], at: usize) -> Option<i64> {
    let b: [u8; 8] = buf.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(i64::from_be_bytes(b))
}

/// A partial batch at the end of a record set.
///
/// Brokers cut Fetch responses at a byte limit, so the last batch may be
/// partial; Kafka's clients ignore it and fetch again from its offset. If it
/// is the *only* batch, the fetch size is smaller than the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete {
    /// Where the partial batch starts in the record set.
    pub position: usize,
    /// Its base offset, if the first 8 bytes are present.
    pub base_offset: Option<i64>,
    /// Its full size (offset and length fields included), if the length
    /// field is present.
    pub size: Option<usize>,
    /// Bytes of it that are present.
    pub present: usize,
}

/// Iterator over the batches of a record set (the `Records` field of a
/// Fetch response partition or Produce request partition).
///
/// Yields `Err` for a malformed batch and then stops. A partial trailing batch
/// ends the iteration without an error; see [`RecordBatches::incomplete`].
#[derive(Debug, Clone)]
pub struct RecordBatches {
    buf: Bytes,
    position: usize,
    options: DecodeOptions,
    incomplete: Option<Incomplete>,
    done: bool,
}

impl RecordBatches {
    /// Batches of `records`, with CRC checks and the default size cap.
    pub fn new(records: Bytes) -> RecordBatches {
        Self::with_options(records, DecodeOptions::default())
    }

    /// Batches of `records` with the given options.
    pub fn with_options(records: Bytes, options: DecodeOptions) -> RecordBatches {
        RecordBatches {
            buf: records,
            position: 0,
            options,
            incomplete: None,
            done: false,
        }
    }

    /// The partial batch that ended the iteration, if any.
    pub fn incomplete(&self) -> Option<Incomplete> {
        self.incomplete
    }

    /// Bytes not yet read (the partial batch, after the iteration ended on one).
    pub fn remaining(&self) -> &Bytes {
        &self.buf
    }

    /// Position of the next batch in the record set.
    pub fn position(&self) -> usize {
        self.position
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, DecodeError> {
        let present = self.buf.len();
        let base_offset = peek_i64(&self.buf, 0);
        let Some(length) = peek_i32(&self.buf, layout::BATCH_LENGTH) else {
            self.incomplete = Some(Incomplete {
                position: self.position,
                base_offset,
                size: None,
                present,
            });
            return Ok(None);
        };
        if length < legacy::MIN_MESSAGE_SIZE {
            return Err(DecodeError::new(DecodeErrorKind::InvalidValue(
                "batch length below the minimum message size",
            ))
            .field("batch_length"));
        }
        // `length` is positive, so this fits.
        let size = LOG_OVERHEAD + length as usize;
        if present < size {
            self.incomplete = Some(Incomplete {
                position: self.position,
                base_offset,
                size: Some(size),
                present,
            });
            return Ok(None);
        }
        let entry = take(&mut self.buf, size)?;
        self.position += size;
        let magic = entry.get(layout::MAGIC).map_or(-1, |&m| m as i8);
        match magic {
            MAGIC_V2 => RecordBatch::parse_v2(entry, self.options).map(Some),
            MAGIC_V0 | MAGIC_V1 => legacy::parse_entry(entry, self.options).map(Some),
            m => Err(DecodeError::new(DecodeErrorKind::UnsupportedMagic(m)).field("magic")),
        }
    }
}

impl Iterator for RecordBatches {
    type Item = Result<RecordBatch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.buf.is_empty() {
            return None;
        }
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e.field("record_batch")))
            }
        }
    }
}

impl std::iter::FusedIterator for RecordBatches {}

/// What follows a batch header.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// v2: the records section, compressed as the header says.
    V2(Bytes),
    /// v0/v1: a message set ready to iterate (decompressed already).
    Legacy(LegacyRecords),
}

/// One record batch (or one legacy message with its inner messages).
#[derive(Debug, Clone)]
pub struct RecordBatch {
    header: BatchHeader,
    body: Body,
    raw: Bytes,
    max_decompressed_size: usize,
}

impl RecordBatch {
    pub(crate) fn from_parts(
        header: BatchHeader,
        body: Body,
        raw: Bytes,
        max_decompressed_size: usize,
    ) -> Self {
        RecordBatch {
            header,
            body,
            raw,
            max_decompressed_size,
        }
    }

    /// Reads the single complete batch in `bytes` (nothing may follow it).
    pub fn decode(bytes: Bytes, options: DecodeOptions) -> Result<RecordBatch, DecodeError> {
        let mut batches = RecordBatches::with_options(bytes, options);
        match batches.next() {
            Some(Ok(batch)) => {
                if batches.remaining().is_empty() {
                    Ok(batch)
                } else {
                    Err(DecodeError::new(DecodeErrorKind::TrailingBytes(
                        batches.remaining().len(),
                    )))
                }
            }
            Some(Err(e)) => Err(e),
            None => {
                let (needed, remaining) = match batches.incomplete() {
                    Some(i) => (i.size.unwrap_or(LOG_OVERHEAD), i.present),
                    None => (LOG_OVERHEAD, 0),
                };
                Err(
                    DecodeError::new(DecodeErrorKind::Truncated { needed, remaining })
                        .field("record_batch"),
                )
            }
        }
    }

    /// The batch header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The batch exactly as it was on the wire, offset and length included.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Whether this is a v2 batch holding a transaction marker.
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }

    /// The records, decompressing first if needed (at most the
    /// `max_decompressed_size` the batch was read with).
    pub fn records(&self) -> Result<Records, DecodeError> {
        match &self.body {
            Body::Legacy(legacy) => Ok(Records {
                inner: Inner::Legacy(legacy.clone()),
            }),
            Body::V2(section) => {
                let buf = match self.header.compression {
                    Compression::None => section.clone(),
                    codec => {
                        let mut out = Vec::new();
                        codec
                            .decompress(section, self.max_decompressed_size, &mut out)
                            .map_err(|e| compression_error(&e).field("records"))?;
                        Bytes::from(out)
                    }
                };
                // Checked when the batch was read (non-negative).
                let count = u32::try_from(self.header.record_count).unwrap_or(0);
                check_count(count, buf.len())?;
                let log_append_time = match self.header.timestamp_type() {
                    TimestampType::LogAppendTime => Some(self.header.max_timestamp),
                    TimestampType::CreateTime => None,
                };
                Ok(Records {
                    inner: Inner::V2(V2Records {
                        buf,
                        remaining: count,
                        base_offset: self.header.base_offset,
                        base_timestamp: self.header.base_timestamp,
                        log_append_time,
                        failed: false,
                    }),
                })
            }
        }
    }

    /// For a control batch, its control record; `None` for other batches (and
    /// for a control batch that compaction emptied).
    pub fn control_record(&self) -> Result<Option<ControlRecord>, DecodeError> {
        if !self.header.is_control() || self.header.record_count == 0 {
            return Ok(None);
        }
        match self.records()?.next() {
            Some(Ok(record)) => ControlRecord::from_record(&record)
                .map(Some)
                .map_err(|e| e.field("control_record")),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        }
    }

    fn parse_v2(raw: Bytes, options: DecodeOptions) -> Result<RecordBatch, DecodeError> {
        // `raw` is exactly one batch (its length field said so).
        let header = super::patch::read_v2_header(&raw, options.verify_crc)?;
        let mut body = raw.clone();
        // The header reader checked that the 61 header bytes are present.
        if body.len() >= super::BATCH_HEADER_SIZE {
            body.advance(super::BATCH_HEADER_SIZE);
        }
        if header.compression == Compression::None {
            // Non-negative, checked with the header.
            check_count(header.record_count as u32, body.len())?;
        }
        Ok(RecordBatch {
            header,
            body: Body::V2(body),
            raw,
            max_decompressed_size: options.max_decompressed_size,
        })
    }
}

/// Rejects a record count that cannot fit in `bytes` bytes.
fn check_count(count: u32, bytes: usize) -> Result<(), DecodeError> {
    if u64::from(count) * layout::MIN_RECORD_SIZE as u64 > bytes as u64 {
        return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
            length: u64::from(count),
            remaining: bytes,
        })
        .field("record_count"));
    }
    Ok(())
}

/// Iterator over the records of one batch.
///
/// Yields `Err` for a malformed record and then stops; a batch whose records
/// end before its count or run past it is malformed.
#[derive(Debug, Clone)]
pub struct Records {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    V2(V2Records),
    Legacy(LegacyRecords),
}

impl Records {
    /// Records not yet read, as the batch counts them.
    pub fn remaining(&self) -> usize {
        match &self.inner {
            Inner::V2(r) => r.remaining as usize,
            Inner::Legacy(r) => r.remaining(),
        }
    }
}

impl Iterator for Records {
    type Item = Result<Record, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::V2(r) => r.next(),
            Inner::Legacy(r) => r.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.remaining().checked_add(1))
    }
}

impl std::iter::FusedIterator for Records {}

#[derive(Debug, Clone)]
struct V2Records {
    buf: Bytes,
    remaining: u32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    failed: bool,
}

impl V2Records {
    #[inline]
    fn next(&mut self) -> Option<Result<Record, DecodeError>> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            if self.buf.is_empty() {
                return None;
            }
            self.failed = true;
            return Some(Err(DecodeError::new(DecodeErrorKind::TrailingBytes(
                self.buf.len(),
            ))
            .field("records")));
        }
        self.remaining -= 1;
        match self.read_record() {
            Ok(r) => Some(Ok(r)),
            Err(e) => {
                self.failed = true;
                Some(Err(e.field("record").field("records")))
            }
        }
    }

    #[inline]
    fn read_record(&mut self) -> Result<Record, DecodeError> {
        let length = get_varint(&mut self.buf).map_err(|e| e.field("length"))?;
        if length < 0 {
            return Err(
                DecodeError::new(DecodeErrorKind::NegativeLength(i64::from(length)))
                    .field("length"),
            );
        }
        let length = length as usize;
        if length > self.buf.len() {
            return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
                length: length as u64,
                remaining: self.buf.len(),
            })
            .field("length"));
        }
        // Parse in place (no slice for the record itself): `end` is what
        // must remain of the buffer after this record, and every length
        // inside the record is checked against the bytes before `end`.
        let end = self.buf.len() - length;
        let r = &mut self.buf;
        let _attributes = get_i8(r).map_err(|e| e.field("attributes"))?;
        let timestamp_delta = get_varlong(r).map_err(|e| e.field("timestamp_delta"))?;
        let offset_delta = get_varint(r).map_err(|e| e.field("offset_delta"))?;
        let key = get_varbytes(r, end).map_err(|e| e.field("key"))?;
        let value = get_varbytes(r, end).map_err(|e| e.field("value"))?;
        let headers = read_headers(r, end).map_err(|e| e.field("headers"))?;
        if r.len() != end {
            return Err(if r.len() > end {
                DecodeError::new(DecodeErrorKind::TrailingBytes(r.len() - end))
            } else {
                invalid("record fields run past the record length").field("length")
            });
        }
        let offset = self
            .base_offset
            .checked_add(i64::from(offset_delta))
            .ok_or_else(|| invalid("offset overflows").field("offset_delta"))?;
        let timestamp = match self.log_append_time {
            Some(t) => t,
            None => self
                .base_timestamp
                .checked_add(timestamp_delta)
                .ok_or_else(|| invalid("timestamp overflows").field("timestamp_delta"))?,
        };
        Ok(Record {
            offset,
            timestamp,
            key,
            value,
            headers,
        })
    }
}

/// Bytes of the current record left in `buf` when `end` bytes must remain
/// after it; an error if fields already ran past the record.
#[inline]
fn available(buf: &Bytes, end: usize) -> Result<usize, DecodeError> {
    buf.len()
        .checked_sub(end)
        .ok_or_else(|| invalid("record fields run past the record length"))
}

/// Takes `n` bytes of the current record.
#[inline]
fn take_within(buf: &mut Bytes, n: usize, end: usize) -> Result<Bytes, DecodeError> {
    let remaining = available(buf, end)?;
    if n > remaining {
        return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
            length: n as u64,
            remaining,
        }));
    }
    Ok(buf.split_to(n))
}

/// Reads varint-length nullable bytes (-1 is null) of the current record.
#[inline]
fn get_varbytes(buf: &mut Bytes, end: usize) -> Result<Option<Bytes>, DecodeError> {
    let len = get_varint(buf)?;
    match len {
        -1 => Ok(None),
        n if n < 0 => Err(DecodeError::new(DecodeErrorKind::NegativeLength(
            i64::from(n),
        ))),
        n => take_within(buf, n as usize, end).map(Some),
    }
}

/// Reads and validates a record's header count and headers, returning them
/// as raw bytes for [`Headers`] to decode on demand.
#[inline]
fn read_headers(buf: &mut Bytes, end: usize) -> Result<Headers, DecodeError> {
    let count = get_varint(buf)?;
    if count < 0 {
        return Err(DecodeError::new(DecodeErrorKind::NegativeLength(
            i64::from(count),
        )));
    }
    if count == 0 {
        return Ok(Headers::new());
    }
    let count = count as u32;
    // Each header takes at least two bytes (key length and value length).
    let remaining = available(buf, end)?;
    if u64::from(count) * 2 > remaining as u64 {
        return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
            length: u64::from(count),
            remaining,
        }));
    }
    let start = buf.clone();
    for _ in 0..count {
        skip_header(buf, end)?;
    }
    let mut raw = start;
    let used = raw.len() - buf.len();
    let raw = take(&mut raw, used)?;
    Ok(Headers::from_validated(raw, count))
}

/// Checks one header and steps over it.
#[inline]
fn skip_header(buf: &mut Bytes, end: usize) -> Result<(), DecodeError> {
    let key_len = get_varint(buf)?;
    if key_len < 0 {
        return Err(
            DecodeError::new(DecodeErrorKind::NegativeLength(i64::from(key_len)))
                .field("header_key"),
        );
    }
    skip(buf, key_len as usize, end).map_err(|e| e.field("header_key"))?;
    match get_varint(buf)? {
        -1 => Ok(()),
        n if n < 0 => Err(
            DecodeError::new(DecodeErrorKind::NegativeLength(i64::from(n))).field("header_value"),
        ),
        n => skip(buf, n as usize, end).map_err(|e| e.field("header_value")),
    }
}

/// Steps over `n` bytes of the current record.
#[inline]
fn skip(buf: &mut Bytes, n: usize, end: usize) -> Result<(), DecodeError> {
    let remaining = available(buf, end)?;
    if n > remaining {
        return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
            length: n as u64,
            remaining,
        }));
    }
    buf.advance(n);
    Ok(())
}

/// Reads one header: non-null key, nullable value.
#[inline]
pub(crate) fn read_header(buf: &mut Bytes) -> Result<Header, DecodeError> {
    let key_len = get_varint(buf)?;
    if key_len < 0 {
        return Err(
            DecodeError::new(DecodeErrorKind::NegativeLength(i64::from(key_len)))
                .field("header_key"),
        );
    }
    let key = take(buf, key_len as usize).map_err(|e| e.field("header_key"))?;
    let value = get_varbytes(buf, 0).map_err(|e| e.field("header_value"))?;
    Ok(Header { key, value })
}
