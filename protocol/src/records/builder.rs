//! Writing record batches (magic v2).

use super::{
    Attributes, BATCH_HEADER_SIZE, ControlRecord, Header, LOG_OVERHEAD, MAGIC_V2,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, TimestampType,
    layout,
};
use crate::error::EncodeError;
use crate::primitives::{put_varint, put_varlong, varint_len, varlong_len};
use bytes::{BufMut, Bytes, BytesMut};
use purekafka_compression::Compression;

/// Builds one record batch at a time, writing each record straight into a
/// single buffer.
///
/// ```
/// use purekafka_protocol::records::{Compression, Header, RecordBatchBuilder, RecordBatches};
///
/// let mut builder = RecordBatchBuilder::new(Compression::Lz4);
/// builder.set_producer(1000, 0, 42);
/// builder.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[])?;
/// builder.append(1_700_000_000_001, None, Some(b"v2"), &[Header::new("trace", Some("abc".into()))])?;
/// let batch = builder.finish()?;
///
/// let read = RecordBatches::new(batch).next().unwrap()?;
/// assert_eq!(read.header().base_sequence, 42);
/// assert_eq!(read.records()?.count(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Appending costs no allocation beyond the buffer's growth: sizes are
/// computed first (the record's length prefix comes before it), then the
/// record is written. [`finish`](Self::finish) compresses the records if asked,
/// fills in the header and CRC-32C, and returns the batch; the builder is then
/// empty, with the same settings, ready for the next batch (for compressed
/// batches its buffer is reused).
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    /// `BATCH_HEADER_SIZE` placeholder bytes, then the uncompressed records.
    buf: BytesMut,
    compression: Compression,
    compression_level: Option<i32>,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    timestamp_type: TimestampType,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl RecordBatchBuilder {
    /// An empty builder writing with `compression` at its default level.
    pub fn new(compression: Compression) -> Self {
        Self::with_capacity(compression, 0)
    }

    /// An empty builder whose buffer starts with room for `capacity` bytes of
    /// records (the producer's `batch.size` is a good value).
    pub fn with_capacity(compression: Compression, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(BATCH_HEADER_SIZE.saturating_add(capacity));
        buf.put_bytes(0, BATCH_HEADER_SIZE);
        RecordBatchBuilder {
            buf,
            compression,
            compression_level: None,
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
            timestamp_type: TimestampType::CreateTime,
            count: 0,
            base_timestamp: 0,
            max_timestamp: 0,
        }
    }

    /// The codec.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Sets the codec for the next [`finish`](Self::finish).
    pub fn set_compression(&mut self, compression: Compression) -> &mut Self {
        self.compression = compression;
        self
    }

    /// Sets the compression level (`None`: the codec's default). Checked by
    /// the codec at [`finish`](Self::finish).
    pub fn set_compression_level(&mut self, level: Option<i32>) -> &mut Self {
        self.compression_level = level;
        self
    }

    /// Sets the base offset (producers leave it 0; the broker assigns offsets).
    pub fn set_base_offset(&mut self, base_offset: i64) -> &mut Self {
        self.base_offset = base_offset;
        self
    }

    /// Sets the partition leader epoch (producers leave it -1).
    pub fn set_partition_leader_epoch(&mut self, epoch: i32) -> &mut Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Sets the idempotent producer's id, epoch and the sequence number of
    /// the batch's first record (defaults: -1, -1, -1).
    pub fn set_producer(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> &mut Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn set_transactional(&mut self, transactional: bool) -> &mut Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as a control batch (see [`append_control`](Self::append_control)).
    pub fn set_control(&mut self, control: bool) -> &mut Self {
        self.control = control;
        self
    }

    /// Sets the timestamp type (producers write create time).
    pub fn set_timestamp_type(&mut self, timestamp_type: TimestampType) -> &mut Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// Records appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record has been appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The batch's size so far without compression, header included.
    pub fn uncompressed_size(&self) -> usize {
        self.buf.len()
    }

    /// How many bytes [`append`](Self::append) would add for this record
    /// (so a producer can check `batch.size` first). `None` if the record
    /// cannot be appended.
    pub fn record_size(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Option<usize> {
        self.plan(timestamp, key, value, headers)
            .ok()
            .map(|p| p.total)
    }

    /// Appends a record: its offset is the next in the batch, its timestamp
    /// is stored relative to the first record's.
    ///
    /// On error nothing is appended.
    #[inline]
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<(), EncodeError> {
        let plan = self.plan(timestamp, key, value, headers)?;
        let buf = &mut self.buf;
        buf.reserve(plan.total);
        put_varint(buf, plan.body);
        buf.put_i8(0); // record attributes: unused
        put_varlong(buf, plan.timestamp_delta);
        put_varint(buf, self.count);
        put_varbytes(buf, key);
        put_varbytes(buf, value);
        put_varint(buf, plan.header_count);
        for h in headers {
            put_varbytes(buf, Some(&h.key));
            put_varbytes(buf, h.value.as_deref());
        }
        if self.count == 0 {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        } else if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        self.count += 1;
        Ok(())
    }

    /// Appends a control record (a transaction marker); call
    /// [`set_control`](Self::set_control)`(true)` and
    /// [`set_transactional`](Self::set_transactional)`(true)` for the batch.
    pub fn append_control(
        &mut self,
        timestamp: i64,
        record: &ControlRecord,
    ) -> Result<(), EncodeError> {
        let value = match record.kind {
            super::ControlRecordType::Abort | super::ControlRecordType::Commit => {
                Some(record.value_bytes())
            }
            super::ControlRecordType::Other(_) => None,
        };
        self.append(
            timestamp,
            Some(&record.key_bytes()),
            value.as_ref().map(|v| &v[..]),
            &[],
        )
    }

    /// Sizes of the record's parts, checked against the format's limits.
    #[inline]
    fn plan(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<Plan, EncodeError> {
        if self.count == i32::MAX {
            return Err(EncodeError::too_many("records in one batch"));
        }
        let timestamp_delta = if self.count == 0 {
            0
        } else {
            timestamp.checked_sub(self.base_timestamp).ok_or_else(|| {
                EncodeError::InvalidBatch(format!(
                    "timestamp {timestamp} is too far from the batch's first timestamp {}",
                    self.base_timestamp
                ))
            })?
        };
        let header_count = i32::try_from(headers.len())
            .map_err(|_| EncodeError::too_many("headers in one record"))?;
        let mut body =
            1 + varlong_len(timestamp_delta) + varint_len(self.count) + varint_len(header_count);
        body = body.saturating_add(varbytes_len("record key", key)?);
        body = body.saturating_add(varbytes_len("record value", value)?);
        for h in headers {
            body = body.saturating_add(varbytes_len("header key", Some(&h.key))?);
            body = body.saturating_add(varbytes_len("header value", h.value.as_deref())?);
        }
        let body = i32::try_from(body).map_err(|_| EncodeError::TooLong {
            what: "record",
            len: body,
        })?;
        // `body` is non-negative, so the sum fits in usize.
        let total = varint_len(body) + body as usize;
        Ok(Plan {
            timestamp_delta,
            header_count,
            body,
            total,
        })
    }

    /// Finishes the batch: compresses the records, writes the header and
    /// CRC, and returns the batch's bytes. The builder is then empty again,
    /// keeping its settings (update the base sequence for the next batch).
    ///
    /// A batch needs at least one record. On error the records are kept.
    pub fn finish(&mut self) -> Result<Bytes, EncodeError> {
        if self.count == 0 {
            return Err(EncodeError::InvalidBatch(
                "a record batch needs at least one record".into(),
            ));
        }
        let records = self.buf.get(BATCH_HEADER_SIZE..).unwrap_or_default();
        if self.compression == Compression::None {
            let header = self.header(records.len(), records)?;
            let mut out = self.buf.split();
            if let Some(dst) = out.get_mut(..BATCH_HEADER_SIZE) {
                dst.copy_from_slice(&header);
            }
            self.reset();
            Ok(out.freeze())
        } else {
            // Sized for a 2:1 ratio; the codec grows it if needed.
            let mut out = Vec::with_capacity(BATCH_HEADER_SIZE + records.len() / 2 + 64);
            out.resize(BATCH_HEADER_SIZE, 0);
            self.compression
                .compress(records, self.compression_level, &mut out)
                .map_err(|e| {
                    EncodeError::InvalidBatch(format!(
                        "{} compression failed: {e}",
                        self.compression
                    ))
                })?;
            let compressed = out.get(BATCH_HEADER_SIZE..).unwrap_or_default();
            let header = self.header(compressed.len(), compressed)?;
            if let Some(dst) = out.get_mut(..BATCH_HEADER_SIZE) {
                dst.copy_from_slice(&header);
            }
            self.reset();
            Ok(Bytes::from(out))
        }
    }

    /// Drops the records appended so far, keeping the settings.
    pub fn clear(&mut self) {
        self.reset();
    }

    fn reset(&mut self) {
        self.buf.truncate(0);
        self.buf.put_bytes(0, BATCH_HEADER_SIZE);
        self.count = 0;
        self.base_timestamp = 0;
        self.max_timestamp = 0;
    }

    /// The 61 header bytes for a records section of `len` bytes, CRC included.
    fn header(&self, len: usize, records: &[u8]) -> Result<[u8; BATCH_HEADER_SIZE], EncodeError> {
        let too_long = || EncodeError::TooLong {
            what: "record batch",
            len: len.saturating_add(BATCH_HEADER_SIZE),
        };
        let batch_length = i32::try_from(
            len.checked_add(BATCH_HEADER_SIZE - LOG_OVERHEAD)
                .ok_or_else(too_long)?,
        )
        .map_err(|_| too_long())?;
        let attributes = Attributes::new(
            self.compression,
            self.timestamp_type,
            self.transactional,
            self.control,
        );
        let mut h = [0u8; BATCH_HEADER_SIZE];
        {
            let mut w = &mut h[..];
            w.put_i64(self.base_offset);
            w.put_i32(batch_length);
            w.put_i32(self.partition_leader_epoch);
            w.put_i8(MAGIC_V2);
            w.put_u32(0); // CRC, below
            w.put_i16(attributes.0);
            w.put_i32(self.count - 1); // last offset delta
            w.put_i64(self.base_timestamp);
            w.put_i64(self.max_timestamp);
            w.put_i64(self.producer_id);
            w.put_i16(self.producer_epoch);
            w.put_i32(self.base_sequence);
            w.put_i32(self.count);
        }
        let crc = crc32c::crc32c_append(crc32c::crc32c(&h[layout::ATTRIBUTES..]), records);
        h[layout::CRC..layout::ATTRIBUTES].copy_from_slice(&crc.to_be_bytes());
        Ok(h)
    }
}

/// What [`RecordBatchBuilder::plan`] worked out for one record.
struct Plan {
    timestamp_delta: i64,
    header_count: i32,
    /// The record's length field.
    body: i32,
    /// Bytes the record takes, length field included.
    total: usize,
}

/// Size of varint-length nullable bytes, checking the length fits.
#[inline]
fn varbytes_len(what: &'static str, b: Option<&[u8]>) -> Result<usize, EncodeError> {
    match b {
        None => Ok(varint_len(-1)),
        Some(b) => {
            let n =
                i32::try_from(b.len()).map_err(|_| EncodeError::TooLong { what, len: b.len() })?;
            Ok(varint_len(n) + b.len())
        }
    }
}

/// Writes varint-length nullable bytes (length checked by `varbytes_len`).
#[inline]
fn put_varbytes(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.put_slice(b);
        }
    }
}
