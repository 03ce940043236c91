//! Reading and changing the header of an encoded (sealed) v2 batch without
//! decoding its records.
//!
//! A producer seals a batch once and may send it several times. When its
//! producer epoch is bumped, a batch waiting for a retry must carry the new
//! epoch and sequence: [`set_producer_fields`] stamps them (and the
//! transactional bit) into the header and recomputes the CRC-32C, leaving the
//! (possibly compressed) records as they are. [`BatchHeader::read_v2`] reads
//! the header fields (record count, base offset, ...) of such a batch.
//!
//! Both check every offset against the bytes present: a short or foreign
//! input is an error, never a panic.

use super::{Attributes, BATCH_HEADER_SIZE, BatchHeader, LOG_OVERHEAD, MAGIC_V2, layout};
use crate::error::{DecodeError, DecodeErrorKind};
use bytes::{Bytes, BytesMut};

/// The producer fields of a v2 batch header: who wrote the batch, under
/// which epoch, the sequence number of its first record, and whether it
/// belongs to a transaction (attributes bit 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerFields {
    /// Idempotent/transactional producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the batch's first record, or -1.
    pub base_sequence: i32,
    /// Whether the batch is part of a transaction.
    pub transactional: bool,
}

impl ProducerFields {
    /// The fields of a batch written by a producer without idempotence.
    pub const NONE: ProducerFields = ProducerFields {
        producer_id: super::NO_PRODUCER_ID,
        producer_epoch: super::NO_PRODUCER_EPOCH,
        base_sequence: super::NO_SEQUENCE,
        transactional: false,
    };
}

/// `N` bytes of `buf` at `at`, or a truncation error naming `field`.
fn bytes_at<const N: usize>(
    buf: &[u8],
    at: usize,
    field: &'static str,
) -> Result<[u8; N], DecodeError> {
    buf.get(at..at.saturating_add(N))
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::Truncated {
                needed: at.saturating_add(N),
                remaining: buf.len(),
            })
            .field(field)
        })
}

/// Writes `value` into `buf` at `at`, or a truncation error naming `field`.
fn put_at(buf: &mut [u8], at: usize, value: &[u8], field: &'static str) -> Result<(), DecodeError> {
    let len = buf.len();
    match buf.get_mut(at..at.saturating_add(value.len())) {
        Some(dst) => {
            dst.copy_from_slice(value);
            Ok(())
        }
        None => Err(DecodeError::new(DecodeErrorKind::Truncated {
            needed: at.saturating_add(value.len()),
            remaining: len,
        })
        .field(field)),
    }
}

/// The CRC-32C a v2 batch should carry: over attributes..end.
fn computed_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(layout::ATTRIBUTES..).unwrap_or_default())
}

/// Reads the 61-byte header at the start of `buf`, checking the batch length,
/// magic, codec and record count; with `verify_crc`, also the CRC (which
/// needs the whole batch).
pub(crate) fn read_v2_header(buf: &[u8], verify_crc: bool) -> Result<BatchHeader, DecodeError> {
    let i64_at = |at, field| bytes_at::<8>(buf, at, field).map(i64::from_be_bytes);
    let i32_at = |at, field| bytes_at::<4>(buf, at, field).map(i32::from_be_bytes);
    let i16_at = |at, field| bytes_at::<2>(buf, at, field).map(i16::from_be_bytes);
    let batch_length = i32_at(layout::BATCH_LENGTH, "batch_length")?;
    if batch_length < layout::MIN_BATCH_LENGTH {
        return Err(
            super::decode::invalid("v2 batch length is smaller than its header")
                .field("batch_length"),
        );
    }
    let [magic] = bytes_at::<1>(buf, layout::MAGIC, "magic")?;
    let magic = magic as i8;
    if magic != MAGIC_V2 {
        return Err(DecodeError::new(DecodeErrorKind::UnsupportedMagic(magic)).field("magic"));
    }
    let crc = bytes_at::<4>(buf, layout::CRC, "crc").map(u32::from_be_bytes)?;
    if verify_crc {
        // `batch_length` is at least the header's, so positive.
        let size = LOG_OVERHEAD.saturating_add(batch_length as usize);
        let batch = buf.get(..size).ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::Truncated {
                needed: size,
                remaining: buf.len(),
            })
            .field("records")
        })?;
        let computed = computed_crc(batch);
        if computed != crc {
            return Err(DecodeError::new(DecodeErrorKind::CrcMismatch {
                stored: crc,
                computed,
            })
            .field("crc"));
        }
    }
    let attributes = Attributes(i16_at(layout::ATTRIBUTES, "attributes")?);
    let compression = attributes
        .compression()
        .map_err(|e| super::decode::compression_error(&e).field("attributes"))?;
    let record_count = i32_at(layout::RECORD_COUNT, "record_count")?;
    if record_count < 0 {
        return Err(
            DecodeError::new(DecodeErrorKind::NegativeLength(i64::from(record_count)))
                .field("record_count"),
        );
    }
    Ok(BatchHeader {
        base_offset: i64_at(layout::BASE_OFFSET, "base_offset")?,
        batch_length,
        partition_leader_epoch: i32_at(layout::PARTITION_LEADER_EPOCH, "partition_leader_epoch")?,
        magic,
        crc,
        attributes,
        compression,
        last_offset_delta: i32_at(layout::LAST_OFFSET_DELTA, "last_offset_delta")?,
        base_timestamp: i64_at(layout::BASE_TIMESTAMP, "base_timestamp")?,
        max_timestamp: i64_at(layout::MAX_TIMESTAMP, "max_timestamp")?,
        producer_id: i64_at(layout::PRODUCER_ID, "producer_id")?,
        producer_epoch: i16_at(layout::PRODUCER_EPOCH, "producer_epoch")?,
        base_sequence: i32_at(layout::BASE_SEQUENCE, "base_sequence")?,
        record_count,
    })
}

impl BatchHeader {
    /// Reads the header of the v2 batch that starts `batch` (an encoded
    /// batch, such as [`RecordBatchBuilder::finish`](super::RecordBatchBuilder::finish)
    /// returns), without reading its records or checking its CRC: only the
    /// 61 header bytes need to be present.
    ///
    /// Errors: fewer than 61 bytes, a batch length smaller than the header,
    /// a magic other than 2, a codec id no codec has, a negative record count.
    pub fn read_v2(batch: &[u8]) -> Result<BatchHeader, DecodeError> {
        read_v2_header(batch, false).map_err(|e| e.field("record_batch"))
    }

    /// The producer id, epoch, base sequence and transactional bit.
    pub fn producer_fields(&self) -> ProducerFields {
        ProducerFields {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            transactional: self.is_transactional(),
        }
    }
}

/// Stamps `fields` into the sealed v2 batch `batch` and recomputes its
/// CRC-32C; the records (compressed or not) are not touched.
///
/// `batch` must be exactly one complete v2 batch whose CRC is right: the
/// CRC is checked first, so a corrupted batch is never given a valid
/// checksum. On error `batch` is unchanged.
///
/// ```
/// use purekafka_protocol::records::{BatchHeader, Compression, ProducerFields, RecordBatchBuilder, set_producer_fields};
///
/// let mut builder = RecordBatchBuilder::new(Compression::Lz4);
/// builder.set_producer(1000, 0, 42);
/// builder.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[])?;
/// let mut batch = builder.finish()?.to_vec();
///
/// let fields = ProducerFields { producer_id: 1000, producer_epoch: 1, base_sequence: 0, transactional: false };
/// set_producer_fields(&mut batch, fields)?;
/// let header = BatchHeader::read_v2(&batch)?;
/// assert_eq!(header.producer_fields(), fields);
/// assert_eq!(header.record_count, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_producer_fields(batch: &mut [u8], fields: ProducerFields) -> Result<(), DecodeError> {
    patch(batch, fields).map_err(|e| e.field("record_batch"))
}

fn patch(batch: &mut [u8], fields: ProducerFields) -> Result<(), DecodeError> {
    let header = read_v2_header(batch, false)?;
    let size = header.size_in_bytes();
    if batch.len() < size {
        return Err(DecodeError::new(DecodeErrorKind::Truncated {
            needed: size,
            remaining: batch.len(),
        })
        .field("records"));
    }
    if batch.len() > size {
        return Err(DecodeError::new(DecodeErrorKind::TrailingBytes(
            batch.len() - size,
        )));
    }
    let computed = computed_crc(batch);
    if computed != header.crc {
        return Err(DecodeError::new(DecodeErrorKind::CrcMismatch {
            stored: header.crc,
            computed,
        })
        .field("crc"));
    }
    let mut attributes = header.attributes.0 & !Attributes::TRANSACTIONAL;
    if fields.transactional {
        attributes |= Attributes::TRANSACTIONAL;
    }
    // Every offset below is inside the 61 header bytes read above.
    put_at(
        batch,
        layout::ATTRIBUTES,
        &attributes.to_be_bytes(),
        "attributes",
    )?;
    put_at(
        batch,
        layout::PRODUCER_ID,
        &fields.producer_id.to_be_bytes(),
        "producer_id",
    )?;
    put_at(
        batch,
        layout::PRODUCER_EPOCH,
        &fields.producer_epoch.to_be_bytes(),
        "producer_epoch",
    )?;
    put_at(
        batch,
        layout::BASE_SEQUENCE,
        &fields.base_sequence.to_be_bytes(),
        "base_sequence",
    )?;
    let crc = computed_crc(batch);
    put_at(batch, layout::CRC, &crc.to_be_bytes(), "crc")
}

/// [`set_producer_fields`] on shared bytes: patches in place when `batch`
/// is the only handle to its buffer, else patches a copy. On error the
/// original bytes are returned beside it, unchanged.
pub fn with_producer_fields(
    batch: Bytes,
    fields: ProducerFields,
) -> Result<Bytes, (Bytes, DecodeError)> {
    let mut buf = match batch.try_into_mut() {
        Ok(unique) => unique,
        Err(shared) => BytesMut::from(shared.as_ref()),
    };
    match set_producer_fields(&mut buf, fields) {
        Ok(()) => Ok(buf.freeze()),
        Err(e) => Err((buf.freeze(), e)),
    }
}

// Keep the header size and the layout in step.
const _: () = assert!(layout::RECORD_COUNT + 4 == BATCH_HEADER_SIZE);
