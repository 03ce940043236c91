//! Record batch tests: round trips, known answers, kafka-python's batches,
//! malformed input.
#![allow(clippy::type_complexity)]

use super::crc32::crc32;
use super::*;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn no_crc() -> DecodeOptions {
    DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    }
}

/// Every batch and record of a record set, or the first error.
fn read_all(
    data: Bytes,
    options: DecodeOptions,
) -> Result<(Vec<(BatchHeader, Vec<Record>)>, Option<Incomplete>), DecodeError> {
    let mut batches = RecordBatches::with_options(data, options);
    let mut out = Vec::new();
    for batch in batches.by_ref() {
        let batch = batch?;
        let records = batch.records()?.collect::<Result<Vec<_>, _>>()?;
        // Touch the headers as a consumer would.
        for r in &records {
            for h in &r.headers {
                let _ = h.key_str();
            }
        }
        out.push((*batch.header(), records));
    }
    Ok((out, batches.incomplete()))
}

/// A v2 batch from raw parts, with a correct CRC.
fn raw_v2(attributes: i16, record_count: i32, records: &[u8]) -> Vec<u8> {
    let mut tail = BytesMut::new();
    tail.put_i16(attributes);
    tail.put_i32(record_count.saturating_sub(1));
    tail.put_i64(1_000);
    tail.put_i64(1_000);
    tail.put_i64(-1);
    tail.put_i16(-1);
    tail.put_i32(-1);
    tail.put_i32(record_count);
    tail.put_slice(records);
    let mut out = BytesMut::new();
    out.put_i64(0);
    out.put_i32(i32::try_from(tail.len() + 9).unwrap());
    out.put_i32(-1);
    out.put_i8(2);
    out.put_u32(crc32c::crc32c(&tail));
    out.put_slice(&tail);
    out.to_vec()
}

/// Recomputes the CRC of a v2 batch after its bytes were changed.
fn fix_crc(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

// ---------------------------------------------------------------- known answers

/// The batch of `known_answer_v2_batch`, laid out field by field from the
/// format description: base offset 42, transactional, producer 7/1/3, two
/// records ("k" => "hello" with header h=v; null key, empty value, 10 ms
/// later). The CRC was computed with a separate bit-by-bit CRC-32C.
const KNOWN_V2: &str = concat!(
    "000000000000002a", // base offset 42
    "00000049",         // batch length 73
    "ffffffff",         // partition leader epoch -1
    "02",               // magic
    "b391a7f1",         // CRC-32C
    "0010",             // attributes: transactional
    "00000001",         // last offset delta
    "00000174876e8000", // base timestamp 1600000000000
    "00000174876e800a", // max timestamp
    "0000000000000007", // producer id
    "0001",             // producer epoch
    "00000003",         // base sequence
    "00000002",         // record count
    "20",
    "00",
    "00",
    "00",
    "02",
    "6b",
    "0a",
    "68656c6c6f",
    "02",
    "02",
    "68",
    "02",
    "76",
    "0c",
    "00",
    "14",
    "02",
    "01",
    "00",
    "00",
);

#[test]
fn known_answer_v2_batch() {
    let expected = hex(KNOWN_V2);
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.set_base_offset(42)
        .set_producer(7, 1, 3)
        .set_transactional(true);
    b.append(
        1_600_000_000_000,
        Some(b"k"),
        Some(b"hello"),
        &[Header::new("h", Some(Bytes::from_static(b"v")))],
    )
    .unwrap();
    b.append(1_600_000_000_010, None, Some(b""), &[]).unwrap();
    let built = b.finish().unwrap();
    assert_eq!(hex_string(&built), hex_string(&expected));

    let batch = RecordBatch::decode(Bytes::from(expected), DecodeOptions::default()).unwrap();
    let h = batch.header();
    assert_eq!(h.crc, 0xb391_a7f1);
    assert_eq!(
        (
            h.base_offset,
            h.batch_length,
            h.partition_leader_epoch,
            h.magic
        ),
        (42, 73, -1, 2)
    );
    assert!(h.is_transactional() && !h.is_control() && !h.has_delete_horizon());
    assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
    assert_eq!(
        (
            h.producer_id,
            h.producer_epoch,
            h.base_sequence,
            h.record_count
        ),
        (7, 1, 3, 2)
    );
    assert_eq!((h.last_offset(), h.next_offset()), (43, 44));
    let records: Vec<Record> = batch.records().unwrap().map(Result::unwrap).collect();
    assert_eq!(
        records,
        vec![
            Record {
                offset: 42,
                timestamp: 1_600_000_000_000,
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from_static(b"hello")),
                headers: Headers::from_validated(Bytes::from_static(&[0x02, b'h', 0x02, b'v']), 1),
            },
            Record {
                offset: 43,
                timestamp: 1_600_000_000_010,
                key: None,
                value: Some(Bytes::new()),
                headers: Headers::new()
            },
        ]
    );
    assert_eq!(
        records[0].headers,
        vec![Header::new("h", Some(Bytes::from_static(b"v")))]
    );
    assert_eq!(records[0].headers.get(b"h").unwrap().value.unwrap(), "v");
}

fn hex_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Legacy messages laid out by hand, CRC-32 computed with zlib: a v1 message
/// (offset 7, timestamp 1600000000000, null key, value "abc") and a v0
/// message (offset 8, key "k0", null value).
const KNOWN_V1: &str = "0000000000000007000000192c2d0bfa010000000174876e8000ffffffff00000003616263";
const KNOWN_V0: &str = "000000000000000800000010f1e3b0ba0000000000026b30ffffffff";

#[test]
fn known_answer_legacy_messages() {
    let mut set = hex(KNOWN_V1);
    set.extend(hex(KNOWN_V0));
    let (batches, incomplete) = read_all(Bytes::from(set), DecodeOptions::default()).unwrap();
    assert_eq!(incomplete, None);
    assert_eq!(batches.len(), 2);
    let (h1, r1) = &batches[0];
    assert_eq!(
        (
            h1.magic,
            h1.crc,
            h1.base_offset,
            h1.record_count,
            h1.max_timestamp
        ),
        (1, 0x2c2d_0bfa, 7, 1, 1_600_000_000_000)
    );
    assert_eq!(
        r1[0],
        Record {
            offset: 7,
            timestamp: 1_600_000_000_000,
            key: None,
            value: Some(Bytes::from_static(b"abc")),
            headers: Headers::new()
        }
    );
    let (h0, r0) = &batches[1];
    assert_eq!((h0.magic, h0.crc, h0.producer_id), (0, 0xf1e3_b0ba, -1));
    assert_eq!(
        r0[0],
        Record {
            offset: 8,
            timestamp: NO_TIMESTAMP,
            key: Some(Bytes::from_static(b"k0")),
            value: None,
            headers: Headers::new()
        }
    );
}

#[test]
fn crc_check_values() {
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

// ------------------------------------------------------------- kafka-python

/// The records of testdata/gen_kafka_python.py's `recipe`.
fn kafka_python_recipe(i: i64) -> (Option<Vec<u8>>, Option<Vec<u8>>, Vec<Header>, i64) {
    let key = (i % 5 != 0).then(|| format!("key-{i}").into_bytes());
    let value = (i % 7 != 3).then(|| {
        format!("value-{i}-")
            .repeat(1 + ((i * 37) % 200) as usize)
            .into_bytes()
    });
    let headers = (0..i % 3)
        .map(|j| {
            Header::new(
                format!("h{j}"),
                (j != 1).then(|| Bytes::from(format!("hv{i}-{j}"))),
            )
        })
        .collect();
    (
        key,
        value,
        headers,
        1_700_000_000_000 + i * 13 - (i % 4) * 5,
    )
}

#[test]
fn reads_kafka_python_batches() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/records/testdata/kafka_python");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 12, "{files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = Bytes::from(std::fs::read(&path).unwrap());
        let (batches, incomplete) =
            read_all(data, DecodeOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(incomplete, None, "{name}");
        let magic: i8 = name[1..2].parse().unwrap();
        let codec = &name[3..name.len() - 4];
        let records: Vec<&Record> = batches.iter().flat_map(|(_, r)| r).collect();
        assert_eq!(records.len(), 40, "{name}");
        for (i, r) in records.iter().enumerate() {
            let (key, value, headers, ts) = kafka_python_recipe(i as i64);
            assert_eq!(r.offset, 1000 + i as i64, "{name} record {i}");
            assert_eq!(r.key.as_deref(), key.as_deref(), "{name} record {i}");
            assert_eq!(r.value.as_deref(), value.as_deref(), "{name} record {i}");
            let expected_ts = if magic == 0 { NO_TIMESTAMP } else { ts };
            assert_eq!(r.timestamp, expected_ts, "{name} record {i}");
            if magic == 2 {
                assert_eq!(r.headers, headers, "{name} record {i}");
            } else {
                assert!(r.headers.is_empty());
            }
        }
        for (h, _) in &batches {
            assert_eq!(h.magic, magic, "{name}");
            assert_eq!(h.compression.name(), codec, "{name}");
        }
        if magic == 2 {
            let h = &batches[0].0;
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.base_sequence),
                (4242, 7, 100)
            );
            assert_eq!(
                (h.base_offset, h.last_offset(), h.record_count),
                (1000, 1039, 40)
            );
        } else if codec != "none" {
            let h = &batches[0].0;
            assert_eq!(
                (h.base_offset, h.last_offset(), h.record_count),
                (1000, 1039, 40),
                "{name}"
            );
        } else {
            assert_eq!(batches.len(), 40);
        }
    }
}

// ------------------------------------------------------------ builder basics

#[test]
fn every_codec_round_trips_and_reuses_the_builder() {
    for codec in Compression::ALL {
        let mut b = RecordBatchBuilder::with_capacity(codec, 1024);
        for batch_no in 0..3i64 {
            b.set_base_offset(batch_no * 100)
                .set_producer(9, 2, (batch_no * 50) as i32);
            for i in 0..50 {
                let value = format!("value {i} of batch {batch_no} ").repeat(5);
                b.append(
                    1_000 + i,
                    Some(format!("k{i}").as_bytes()),
                    Some(value.as_bytes()),
                    &[],
                )
                .unwrap();
            }
            assert_eq!(b.len(), 50);
            let bytes = b.finish().unwrap();
            assert!(b.is_empty());
            let batch = RecordBatch::decode(bytes, DecodeOptions::default()).unwrap();
            assert_eq!(batch.header().compression, codec);
            assert_eq!(batch.header().base_sequence, (batch_no * 50) as i32);
            let records: Vec<_> = batch.records().unwrap().map(Result::unwrap).collect();
            assert_eq!(records.len(), 50);
            assert_eq!(records[49].offset, batch_no * 100 + 49);
            assert_eq!(
                records[7].value.as_deref(),
                Some(format!("value 7 of batch {batch_no} ").repeat(5).as_bytes())
            );
            assert_eq!(batch.header().max_timestamp, 1_049);
        }
    }
}

#[test]
fn builder_errors() {
    let mut b = RecordBatchBuilder::new(Compression::None);
    assert!(matches!(b.finish(), Err(EncodeError::InvalidBatch(_))));
    b.append(i64::MIN, None, None, &[]).unwrap();
    let before = b.uncompressed_size();
    assert!(matches!(
        b.append(i64::MAX, None, None, &[]),
        Err(EncodeError::InvalidBatch(_))
    ));
    assert_eq!(
        b.uncompressed_size(),
        before,
        "a failed append writes nothing"
    );
    assert_eq!(b.len(), 1);
    // Length, attributes, timestamp delta, offset delta, key length, key, value length, header count.
    assert_eq!(
        b.record_size(i64::MIN, Some(b"abc"), None, &[]),
        Some(1 + 1 + 1 + 1 + 1 + 3 + 1 + 1)
    );
    assert_eq!(b.record_size(0, None, None, &[]), None);
    // A level snappy does not have.
    b.set_compression(Compression::Snappy)
        .set_compression_level(Some(3));
    assert!(matches!(b.finish(), Err(EncodeError::InvalidBatch(_))));
    assert_eq!(b.len(), 1, "a failed finish keeps the records");
    b.set_compression_level(None);
    assert!(b.finish().is_ok());
}

#[test]
fn log_append_time_applies_the_max_timestamp() {
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.set_timestamp_type(TimestampType::LogAppendTime);
    b.append(5, None, Some(b"a"), &[]).unwrap();
    b.append(9, None, Some(b"b"), &[]).unwrap();
    b.append(7, None, Some(b"c"), &[]).unwrap();
    let batch = RecordBatch::decode(b.finish().unwrap(), DecodeOptions::default()).unwrap();
    assert_eq!(
        batch.header().timestamp_type(),
        TimestampType::LogAppendTime
    );
    assert!(batch.records().unwrap().all(|r| r.unwrap().timestamp == 9));
}

#[test]
fn control_batches() {
    for (commit, codec) in [(true, Compression::None), (false, Compression::Gzip)] {
        let mut b = RecordBatchBuilder::new(codec);
        b.set_control(true)
            .set_transactional(true)
            .set_producer(77, 3, -1)
            .set_base_offset(500);
        b.append_control(123, &ControlRecord::marker(commit, 12))
            .unwrap();
        let batch = RecordBatch::decode(b.finish().unwrap(), DecodeOptions::default()).unwrap();
        assert!(batch.is_control());
        let c = batch.control_record().unwrap().unwrap();
        assert_eq!(
            c.kind,
            if commit {
                ControlRecordType::Commit
            } else {
                ControlRecordType::Abort
            }
        );
        assert_eq!((c.version, c.coordinator_epoch), (0, 12));
    }
    // Not a control batch.
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.append(1, None, None, &[]).unwrap();
    assert_eq!(
        RecordBatch::decode(b.finish().unwrap(), DecodeOptions::default())
            .unwrap()
            .control_record()
            .unwrap(),
        None
    );
    // Other control types keep their number; a marker without a value is malformed.
    let leader_change =
        ControlRecord::parse(Some(&Bytes::from_static(&[0, 0, 0, 2])), None).unwrap();
    assert_eq!(
        (leader_change.kind, leader_change.coordinator_epoch),
        (ControlRecordType::Other(2), -1)
    );
    assert!(ControlRecord::parse(Some(&Bytes::from_static(&[0, 0, 0, 1])), None).is_err());
    assert!(ControlRecord::parse(Some(&Bytes::from_static(&[0, 0, 0])), None).is_err());
    assert!(
        ControlRecord::parse(
            Some(&Bytes::from_static(&[0xff, 0xff, 0, 0])),
            Some(&Bytes::from_static(&[0; 6]))
        )
        .is_err()
    );
    assert!(ControlRecord::parse(None, None).is_err());
}

// ---------------------------------------------------------- malformed input

fn small_batch(codec: Compression) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(codec);
    for i in 0..3 {
        b.append(
            i,
            Some(b"key"),
            Some(b"value value value"),
            &[Header::new("h", None)],
        )
        .unwrap();
    }
    b.finish().unwrap().to_vec()
}

#[test]
fn truncated_record_sets_are_incomplete_not_errors() {
    let one = small_batch(Compression::None);
    let mut two = one.clone();
    two.extend(small_batch(Compression::Lz4));
    for cut in 0..two.len() {
        let (batches, incomplete) = read_all(
            Bytes::copy_from_slice(&two[..cut]),
            DecodeOptions::default(),
        )
        .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let expected_batches = usize::from(cut >= one.len());
        assert_eq!(batches.len(), expected_batches, "cut at {cut}");
        if cut == 0 || cut == one.len() {
            assert_eq!(incomplete, None);
        } else {
            let i = incomplete.unwrap();
            let start = if cut > one.len() { one.len() } else { 0 };
            assert_eq!(i.position, start);
            assert_eq!(i.present, cut - start);
            assert_eq!(i.size.is_some(), cut - start >= 12, "cut at {cut}");
            assert_eq!(i.base_offset.is_some(), cut - start >= 8);
        }
    }
    // A single batch cut short is an error for `RecordBatch::decode`.
    let err = RecordBatch::decode(Bytes::copy_from_slice(&one[..30]), DecodeOptions::default())
        .unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Truncated { .. }),
        "{err}"
    );
}

#[test]
fn every_flipped_bit_in_the_crc_range_is_a_crc_mismatch() {
    for codec in [Compression::None, Compression::Zstd] {
        let batch = small_batch(codec);
        for byte in 17..batch.len() {
            for bit in 0..8 {
                let mut bad = batch.clone();
                bad[byte] ^= 1 << bit;
                let err = read_all(Bytes::from(bad.clone()), DecodeOptions::default()).unwrap_err();
                assert!(
                    matches!(err.kind(), DecodeErrorKind::CrcMismatch { .. }),
                    "byte {byte} bit {bit}: {err}"
                );
                // Without the check it may decode or fail, but never panics.
                let _ = read_all(Bytes::from(bad), no_crc());
            }
        }
    }
}

#[test]
fn record_counts_beyond_the_bytes_are_errors() {
    let batch = small_batch(Compression::None);
    for count in [i32::MAX, 4, 1 << 30] {
        let mut bad = batch.clone();
        bad[57..61].copy_from_slice(&count.to_be_bytes());
        fix_crc(&mut bad);
        let err = read_all(Bytes::from(bad), DecodeOptions::default()).unwrap_err();
        // 4 records fit the byte count but the 4th is missing.
        assert!(
            matches!(
                err.kind(),
                DecodeErrorKind::LengthTooLarge { .. }
                    | DecodeErrorKind::Truncated { .. }
                    | DecodeErrorKind::InvalidVarint
            ),
            "count {count}: {err}"
        );
    }
    // 2^31 as a count is negative.
    let mut bad = batch.clone();
    bad[57..61].copy_from_slice(&0x8000_0000u32.to_be_bytes());
    fix_crc(&mut bad);
    let err = read_all(Bytes::from(bad), DecodeOptions::default()).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::NegativeLength(i64::from(i32::MIN))
    );
    // 2^31 - 1 records claimed with 10 bytes present.
    let raw = raw_v2(0, i32::MAX, &[0; 10]);
    let err = read_all(Bytes::from(raw), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            DecodeErrorKind::LengthTooLarge {
                length: 0x7fff_ffff,
                remaining: 10
            }
        ),
        "{err}"
    );
    // Fewer records claimed than present: the rest is trailing garbage.
    let mut bad = batch.clone();
    bad[57..61].copy_from_slice(&2i32.to_be_bytes());
    fix_crc(&mut bad);
    let err = read_all(Bytes::from(bad), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::TrailingBytes(_)),
        "{err}"
    );
    // Compressed: the count is checked after decompression.
    let mut bad = small_batch(Compression::Zstd);
    bad[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    fix_crc(&mut bad);
    let err = read_all(Bytes::from(bad), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::LengthTooLarge { .. }),
        "{err}"
    );
}

#[test]
fn malformed_records_are_errors() {
    let cases: &[(&[u8], fn(&DecodeErrorKind) -> bool)] = &[
        // Record length varint that never ends.
        (&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], |k| {
            *k == DecodeErrorKind::InvalidVarint
        }),
        // Negative record length.
        (&[0x03, 0, 0, 0, 0, 0, 0], |k| {
            matches!(k, DecodeErrorKind::NegativeLength(-2))
        }),
        // Record longer than the batch.
        (&[0x7e, 0, 0, 0, 0, 0, 0], |k| {
            matches!(k, DecodeErrorKind::LengthTooLarge { .. })
        }),
        // Key length -2.
        (&[0x0c, 0, 0, 0, 0x03, 0, 0], |k| {
            matches!(k, DecodeErrorKind::NegativeLength(-2))
        }),
        // Key longer than the record.
        (&[0x0c, 0, 0, 0, 0x40, 0, 0], |k| {
            matches!(k, DecodeErrorKind::LengthTooLarge { .. })
        }),
        // Header count -1.
        (&[0x0c, 0, 0, 0, 0x01, 0x01, 0x01], |k| {
            matches!(k, DecodeErrorKind::NegativeLength(-1))
        }),
        // 2^30 headers in a short record.
        (
            &[0x14, 0, 0, 0, 0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x08],
            |k| matches!(k, DecodeErrorKind::LengthTooLarge { .. }),
        ),
        // Header with a null key.
        (&[0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01], |k| {
            matches!(k, DecodeErrorKind::NegativeLength(-1))
        }),
        // Bytes after the headers inside the record.
        (&[0x0e, 0, 0, 0, 0x01, 0x01, 0x00, 0x00], |k| {
            matches!(k, DecodeErrorKind::TrailingBytes(1))
        }),
    ];
    for (i, (records, check)) in cases.iter().enumerate() {
        let raw = raw_v2(0, 1, records);
        let err = read_all(Bytes::from(raw), DecodeOptions::default()).unwrap_err();
        assert!(check(err.kind()), "case {i}: {err} (path {})", err.path());
    }
}

#[test]
fn batch_level_errors() {
    // Batch length below the smallest message.
    let mut raw = vec![0u8; 12];
    raw[8..12].copy_from_slice(&13i32.to_be_bytes());
    assert!(read_all(Bytes::from(raw), DecodeOptions::default()).is_err());
    // Negative batch length.
    let mut raw = vec![0u8; 20];
    raw[8..12].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(read_all(Bytes::from(raw), DecodeOptions::default()).is_err());
    // v2 batch length shorter than its header.
    let mut raw = small_batch(Compression::None);
    raw.truncate(40);
    raw[8..12].copy_from_slice(&28i32.to_be_bytes());
    let err = read_all(Bytes::from(raw), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::InvalidRecord(_)),
        "{err}"
    );
    // Unknown magic.
    let mut raw = small_batch(Compression::None);
    raw[16] = 3;
    let err = read_all(Bytes::from(raw), DecodeOptions::default()).unwrap_err();
    assert_eq!(err.kind(), &DecodeErrorKind::UnsupportedMagic(3));
    assert_eq!(err.path(), "record_batch.magic");
    // Codec id 5.
    let raw = raw_v2(5, 1, &[0x0c, 0, 0, 0, 1, 1, 0]);
    let err = read_all(Bytes::from(raw), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Compression(_)),
        "{err}"
    );
    // Garbage that claims to be gzip.
    let raw = raw_v2(1, 1, &[1, 2, 3, 4, 5, 6, 7, 8]);
    let err = read_all(Bytes::from(raw), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Compression(_)),
        "{err}"
    );
    // An error stops the iteration.
    let mut set = raw_v2(0, 1, &[0xff; 7]);
    set.extend(small_batch(Compression::None));
    let mut it = RecordBatches::new(Bytes::from(set));
    let first = it.next().unwrap().unwrap();
    assert!(first.records().unwrap().next().unwrap().is_err());
}

#[test]
fn decompression_is_capped() {
    let mut b = RecordBatchBuilder::new(Compression::Zstd);
    let value = vec![b'x'; 100_000];
    b.append(0, None, Some(&value), &[]).unwrap();
    let bytes = b.finish().unwrap();
    assert!(bytes.len() < 1_000);
    let small = DecodeOptions {
        max_decompressed_size: 50_000,
        ..DecodeOptions::default()
    };
    let batch = RecordBatch::decode(bytes.clone(), small).unwrap();
    let err = batch.records().unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Compression(_)),
        "{err}"
    );
    let batch = RecordBatch::decode(bytes, DecodeOptions::default()).unwrap();
    assert_eq!(
        batch
            .records()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .value
            .unwrap()
            .len(),
        100_000
    );
}

#[test]
fn records_are_slices_of_the_input() {
    let bytes = Bytes::from(small_batch(Compression::None));
    let range = bytes.as_ptr_range();
    let batch = RecordBatch::decode(bytes.clone(), DecodeOptions::default()).unwrap();
    for r in batch.records().unwrap() {
        let r = r.unwrap();
        assert!(range.contains(&r.key.as_ref().unwrap().as_ptr()));
        assert!(range.contains(&r.value.as_ref().unwrap().as_ptr()));
        assert!(range.contains(&r.headers.iter().next().unwrap().key.as_ptr()));
    }
    assert_eq!(batch.raw(), &bytes);
}

// ------------------------------------------------------------------ legacy

/// One legacy message entry.
fn legacy_message(
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = BytesMut::new();
    body.put_i8(magic);
    body.put_i8(attributes);
    if magic == 1 {
        body.put_i64(timestamp);
    }
    for b in [key, value] {
        match b {
            None => body.put_i32(-1),
            Some(b) => {
                body.put_i32(b.len() as i32);
                body.put_slice(b);
            }
        }
    }
    let mut out = BytesMut::new();
    out.put_i64(offset);
    out.put_i32(body.len() as i32 + 4);
    out.put_u32(crc32(&body));
    out.put_slice(&body);
    out.to_vec()
}

/// A compressed wrapper around `inner` (a message set).
fn legacy_wrapper(
    offset: i64,
    magic: i8,
    codec: Compression,
    log_append: Option<i64>,
    inner: &[u8],
) -> Vec<u8> {
    let mut compressed = Vec::new();
    codec.compress(inner, None, &mut compressed).unwrap();
    let attributes = codec.attribute_bits() as i8 | if log_append.is_some() { 0x08 } else { 0 };
    legacy_message(
        offset,
        magic,
        attributes,
        log_append.unwrap_or(0),
        None,
        Some(&compressed),
    )
}

#[test]
fn legacy_wrappers_and_their_errors() {
    let mut inner = Vec::new();
    for i in 0..3 {
        inner.extend(legacy_message(
            i,
            1,
            0,
            100 + i,
            Some(b"k"),
            Some(format!("v{i}").as_bytes()),
        ));
    }
    // v1 relative offsets, log-append time from the wrapper.
    let set = legacy_wrapper(52, 1, Compression::Gzip, Some(999), &inner);
    let (batches, _) = read_all(Bytes::from(set), DecodeOptions::default()).unwrap();
    let (h, records) = &batches[0];
    assert_eq!(
        (h.base_offset, h.last_offset(), h.record_count),
        (50, 52, 3)
    );
    assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(
        records
            .iter()
            .map(|r| (r.offset, r.timestamp))
            .collect::<Vec<_>>(),
        vec![(50, 999), (51, 999), (52, 999)]
    );

    // Nested compression.
    let nested = legacy_wrapper(
        0,
        1,
        Compression::Snappy,
        None,
        &legacy_wrapper(0, 1, Compression::Gzip, None, &inner),
    );
    let err = read_all(Bytes::from(nested), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::InvalidRecord(_)),
        "{err}"
    );
    // Empty inner set.
    let empty = legacy_wrapper(0, 1, Compression::Gzip, None, &[]);
    assert!(read_all(Bytes::from(empty), DecodeOptions::default()).is_err());
    // Null wrapper value.
    let null = legacy_message(0, 1, 1, 0, None, None);
    assert!(read_all(Bytes::from(null), DecodeOptions::default()).is_err());
    // Truncated inner message.
    let cut = legacy_wrapper(0, 0, Compression::Gzip, None, &inner[..inner.len() - 1]);
    assert!(read_all(Bytes::from(cut), DecodeOptions::default()).is_err());
    // zstd is not a legacy codec.
    let zstd = legacy_wrapper(0, 1, Compression::Zstd, None, &inner);
    assert!(read_all(Bytes::from(zstd), DecodeOptions::default()).is_err());
    // Inner CRC mismatch, found only with the check on.
    let mut bad_inner = inner.clone();
    let last = bad_inner.len() - 1;
    bad_inner[last] ^= 1;
    let set = legacy_wrapper(2, 1, Compression::Gzip, None, &bad_inner);
    let err = read_all(Bytes::from(set.clone()), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::CrcMismatch { .. }),
        "{err}"
    );
    assert!(read_all(Bytes::from(set), no_crc()).is_ok());
    // Outer CRC mismatch.
    let mut bad = legacy_message(0, 0, 0, 0, None, Some(b"x"));
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    let err = read_all(Bytes::from(bad), DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::CrcMismatch { .. }),
        "{err}"
    );
}

#[test]
fn mixed_formats_in_one_record_set() {
    let mut set = legacy_message(0, 0, 0, 0, None, Some(b"old"));
    set.extend(legacy_message(1, 1, 0, 5, None, Some(b"newer")));
    let mut b = RecordBatchBuilder::new(Compression::Snappy);
    b.set_base_offset(2);
    b.append(6, None, Some(b"newest"), &[]).unwrap();
    set.extend_from_slice(&b.finish().unwrap());
    let (batches, _) = read_all(Bytes::from(set), DecodeOptions::default()).unwrap();
    let values: Vec<_> = batches
        .iter()
        .flat_map(|(_, r)| r)
        .map(|r| (r.offset, r.value.clone().unwrap()))
        .collect();
    assert_eq!(
        values,
        vec![(0, "old".into()), (1, "newer".into()), (2, "newest".into())]
    );
}

// -------------------------------------------------------------- properties

#[derive(Debug, Clone)]
struct TestRecord {
    timestamp_offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<Header>,
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn arb_record() -> impl Strategy<Value = TestRecord> {
    (
        -(1i64 << 40)..(1i64 << 40),
        prop::option::of(arb_bytes(40)),
        prop::option::of(prop_oneof![arb_bytes(100), Just(vec![b'z'; 3000])]),
        prop::collection::vec(
            (arb_bytes(12), prop::option::of(arb_bytes(20)))
                .prop_map(|(k, v)| Header::new(k, v.map(Bytes::from))),
            0..4,
        ),
    )
        .prop_map(|(timestamp_offset, key, value, headers)| TestRecord {
            timestamp_offset,
            key,
            value,
            headers,
        })
}

fn arb_compression() -> impl Strategy<Value = Compression> {
    prop::sample::select(Compression::ALL.to_vec())
}

#[derive(Debug, Clone)]
struct TestBatch {
    compression: Compression,
    base_offset: i64,
    base_timestamp: i64,
    partition_leader_epoch: i32,
    producer: (i64, i16, i32),
    transactional: bool,
    control: bool,
    log_append: bool,
    records: Vec<TestRecord>,
}

fn arb_batch() -> impl Strategy<Value = TestBatch> {
    (
        arb_compression(),
        0i64..(1 << 50),
        0i64..(1 << 45),
        any::<i32>(),
        (any::<i64>(), any::<i16>(), any::<i32>()),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        prop::collection::vec(arb_record(), 1..30),
    )
        .prop_map(
            |(
                compression,
                base_offset,
                base_timestamp,
                partition_leader_epoch,
                producer,
                (transactional, control, log_append),
                records,
            )| {
                TestBatch {
                    compression,
                    base_offset,
                    base_timestamp,
                    partition_leader_epoch,
                    producer,
                    transactional,
                    control,
                    log_append,
                    records,
                }
            },
        )
}

fn build(t: &TestBatch) -> Bytes {
    let mut b = RecordBatchBuilder::new(t.compression);
    b.set_base_offset(t.base_offset)
        .set_partition_leader_epoch(t.partition_leader_epoch)
        .set_producer(t.producer.0, t.producer.1, t.producer.2)
        .set_transactional(t.transactional)
        .set_control(t.control)
        .set_timestamp_type(if t.log_append {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        });
    for r in &t.records {
        let before = b.uncompressed_size();
        let predicted = b.record_size(
            t.base_timestamp + r.timestamp_offset,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        );
        b.append(
            t.base_timestamp + r.timestamp_offset,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        )
        .unwrap();
        assert_eq!(Some(b.uncompressed_size() - before), predicted);
    }
    b.finish().unwrap()
}

fn check(t: &TestBatch, header: &BatchHeader, records: &[Record]) -> Result<(), TestCaseError> {
    let max_ts = t
        .records
        .iter()
        .map(|r| t.base_timestamp + r.timestamp_offset)
        .max()
        .unwrap();
    prop_assert_eq!(header.magic, 2);
    prop_assert_eq!(header.compression, t.compression);
    prop_assert_eq!(header.base_offset, t.base_offset);
    prop_assert_eq!(header.partition_leader_epoch, t.partition_leader_epoch);
    prop_assert_eq!(
        (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence
        ),
        t.producer
    );
    prop_assert_eq!(header.is_transactional(), t.transactional);
    prop_assert_eq!(header.is_control(), t.control);
    prop_assert_eq!(header.record_count as usize, t.records.len());
    prop_assert_eq!(
        header.last_offset(),
        t.base_offset + t.records.len() as i64 - 1
    );
    prop_assert_eq!(
        header.base_timestamp,
        t.base_timestamp + t.records[0].timestamp_offset
    );
    prop_assert_eq!(header.max_timestamp, max_ts);
    prop_assert_eq!(records.len(), t.records.len());
    for (i, (r, e)) in records.iter().zip(&t.records).enumerate() {
        prop_assert_eq!(r.offset, t.base_offset + i as i64);
        let ts = if t.log_append {
            max_ts
        } else {
            t.base_timestamp + e.timestamp_offset
        };
        prop_assert_eq!(r.timestamp, ts);
        prop_assert_eq!(r.key.as_deref(), e.key.as_deref());
        prop_assert_eq!(r.value.as_deref(), e.value.as_deref());
        prop_assert_eq!(&r.headers, &e.headers);
    }
    Ok(())
}

/// A legacy record set built from a test batch: each record its own
/// message, or all of them in one wrapper.
fn build_legacy(t: &TestBatch, magic: i8) -> Vec<u8> {
    let ts = |r: &TestRecord| t.base_timestamp + r.timestamp_offset;
    let codec = match t.compression {
        Compression::Zstd => Compression::None,
        c => c,
    };
    if codec == Compression::None {
        let mut out = Vec::new();
        for (i, r) in t.records.iter().enumerate() {
            out.extend(legacy_message(
                t.base_offset + i as i64,
                magic,
                0,
                ts(r),
                r.key.as_deref(),
                r.value.as_deref(),
            ));
        }
        return out;
    }
    let mut inner = Vec::new();
    for (i, r) in t.records.iter().enumerate() {
        let offset = if magic == 0 {
            t.base_offset + i as i64
        } else {
            i as i64
        };
        inner.extend(legacy_message(
            offset,
            magic,
            0,
            ts(r),
            r.key.as_deref(),
            r.value.as_deref(),
        ));
    }
    legacy_wrapper(
        t.base_offset + t.records.len() as i64 - 1,
        magic,
        codec,
        None,
        &inner,
    )
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    PutI32(usize, i32),
    PutByte(usize, u8),
    Insert(usize, Vec<u8>),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop::sample::select(vec![0, -1, -2, 1, 7, 61, i32::MAX, i32::MIN, 0x4000_0000])
        )
            .prop_map(|(i, v)| Mutation::PutI32(i, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::PutByte(i, v)),
        (any::<usize>(), arb_bytes(8)).prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

fn mutate(data: &mut Vec<u8>, m: &Mutation, fix: bool) {
    if data.is_empty() {
        return;
    }
    let n = data.len();
    match m {
        Mutation::Flip(i, b) => data[i % n] ^= 1 << b,
        Mutation::Truncate(i) => data.truncate(i % n),
        Mutation::PutI32(i, v) => {
            let i = i % n;
            let end = (i + 4).min(n);
            data[i..end].copy_from_slice(&v.to_be_bytes()[..end - i]);
        }
        Mutation::PutByte(i, v) => data[i % n] = *v,
        Mutation::Insert(i, v) => {
            let i = i % n;
            data.splice(i..i, v.iter().copied());
        }
    }
    // Optionally make the CRC right again, to get past it into the records.
    if fix && data.len() > 61 && data[16] == 2 {
        fix_crc(data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn batches_round_trip(batches in prop::collection::vec(arb_batch(), 1..4)) {
        let mut set = BytesMut::new();
        for t in &batches {
            set.extend_from_slice(&build(t));
        }
        let (read, incomplete) = read_all(set.freeze(), DecodeOptions::default()).unwrap();
        prop_assert_eq!(incomplete, None);
        prop_assert_eq!(read.len(), batches.len());
        for (t, (header, records)) in batches.iter().zip(&read) {
            check(t, header, records)?;
        }
    }

    #[test]
    fn legacy_round_trip(t in arb_batch(), magic in 0i8..2) {
        let set = build_legacy(&t, magic);
        let (read, incomplete) = read_all(Bytes::from(set), DecodeOptions::default()).unwrap();
        prop_assert_eq!(incomplete, None);
        let records: Vec<&Record> = read.iter().flat_map(|(_, r)| r).collect();
        prop_assert_eq!(records.len(), t.records.len());
        for (i, (r, e)) in records.iter().zip(&t.records).enumerate() {
            prop_assert_eq!(r.offset, t.base_offset + i as i64);
            let ts = if magic == 0 { NO_TIMESTAMP } else { t.base_timestamp + e.timestamp_offset };
            prop_assert_eq!(r.timestamp, ts);
            prop_assert_eq!(r.key.as_deref(), e.key.as_deref());
            prop_assert_eq!(r.value.as_deref(), e.value.as_deref());
        }
        for (h, _) in &read {
            prop_assert_eq!(h.magic, magic);
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in arb_bytes(300), verify in any::<bool>()) {
        let options = DecodeOptions { verify_crc: verify, max_decompressed_size: 1 << 16 };
        let _ = read_all(Bytes::from(data.clone()), options);
        // The same bytes as the records of a batch with a valid CRC.
        for attributes in [0, 1, 2, 3, 4] {
            let count = data.first().map_or(1, |&c| i32::from(c % 8));
            let _ = read_all(Bytes::from(raw_v2(attributes, count, &data)), options);
        }
    }

    #[test]
    fn mutated_batches_never_panic(
        t in arb_batch(),
        legacy in prop::option::of(0i8..2),
        mutations in prop::collection::vec(arb_mutation(), 1..4),
        fix in any::<bool>(),
    ) {
        let mut data = match legacy {
            Some(magic) => build_legacy(&t, magic),
            None => build(&t).to_vec(),
        };
        for m in &mutations {
            mutate(&mut data, m, fix);
        }
        let options = DecodeOptions { verify_crc: !fix, max_decompressed_size: 1 << 20 };
        let _ = read_all(Bytes::from(data.clone()), options);
        let _ = read_all(Bytes::from(data), no_crc());
    }
}

// ------------------------------------------------- patching sealed batches

fn arb_producer_fields() -> impl Strategy<Value = ProducerFields> {
    (any::<i64>(), any::<i16>(), any::<i32>(), any::<bool>()).prop_map(
        |(producer_id, producer_epoch, base_sequence, transactional)| ProducerFields {
            producer_id,
            producer_epoch,
            base_sequence,
            transactional,
        },
    )
}

#[test]
fn read_v2_reads_the_header_of_a_sealed_batch() {
    let batch = Bytes::from(hex(KNOWN_V2));
    let h = BatchHeader::read_v2(&batch).unwrap();
    assert_eq!(
        h,
        *RecordBatch::decode(batch.clone(), DecodeOptions::default())
            .unwrap()
            .header()
    );
    assert_eq!((h.base_offset, h.record_count), (42, 2));
    assert_eq!(
        h.producer_fields(),
        ProducerFields {
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: 3,
            transactional: true
        }
    );
    // Only the header is needed.
    assert_eq!(BatchHeader::read_v2(&batch[..61]).unwrap(), h);
}

#[test]
fn read_v2_and_patching_refuse_short_and_foreign_input() {
    let batch = hex(KNOWN_V2);
    for n in 0..61 {
        let err = BatchHeader::read_v2(&batch[..n]).unwrap_err();
        assert!(
            matches!(err.kind(), DecodeErrorKind::Truncated { .. }),
            "{n} bytes: {err}"
        );
        let mut short = batch[..n].to_vec();
        assert!(set_producer_fields(&mut short, ProducerFields::NONE).is_err());
        assert_eq!(short, &batch[..n], "an error left the bytes changed");
    }
    // A header without the records: cannot be patched (the CRC covers them).
    let mut header_only = batch[..61].to_vec();
    let err = set_producer_fields(&mut header_only, ProducerFields::NONE).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::Truncated { .. }),
        "{err}"
    );
    // Bytes after the batch.
    let mut longer = batch.clone();
    longer.push(0);
    let err = set_producer_fields(&mut longer, ProducerFields::NONE).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::TrailingBytes(1)),
        "{err}"
    );
    // A legacy message.
    let mut legacy = batch.clone();
    legacy[16] = 1;
    let err = BatchHeader::read_v2(&legacy).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::UnsupportedMagic(1)),
        "{err}"
    );
    // A corrupted batch is not given a fresh, valid CRC.
    let mut corrupt = batch.clone();
    *corrupt.last_mut().unwrap() ^= 1;
    let before = corrupt.clone();
    let err = set_producer_fields(&mut corrupt, ProducerFields::NONE).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::CrcMismatch { .. }),
        "{err}"
    );
    assert_eq!(corrupt, before);
    // Negative record count, batch length below the header.
    let mut negative = batch.clone();
    negative[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(
        BatchHeader::read_v2(&negative).unwrap_err().kind(),
        DecodeErrorKind::NegativeLength(-1)
    ));
    let mut tiny = batch.clone();
    tiny[8..12].copy_from_slice(&48i32.to_be_bytes());
    assert!(matches!(
        BatchHeader::read_v2(&tiny).unwrap_err().kind(),
        DecodeErrorKind::InvalidRecord(_)
    ));
}

#[test]
fn with_producer_fields_patches_shared_bytes_without_touching_other_handles() {
    let original = Bytes::from(hex(KNOWN_V2));
    let other = original.clone();
    let fields = ProducerFields {
        producer_id: 99,
        producer_epoch: 4,
        base_sequence: 0,
        transactional: false,
    };
    let patched = with_producer_fields(original, fields).unwrap();
    assert_eq!(
        BatchHeader::read_v2(&patched).unwrap().producer_fields(),
        fields
    );
    assert_eq!(
        other,
        Bytes::from(hex(KNOWN_V2)),
        "a shared buffer was written"
    );
    // Unique: patched in place, the same allocation.
    let unique = Bytes::from(hex(KNOWN_V2));
    let ptr = unique.as_ptr();
    let patched = with_producer_fields(unique, fields).unwrap();
    assert_eq!(patched.as_ptr(), ptr);
    // An error hands the bytes back.
    let short = Bytes::from(hex(KNOWN_V2)).slice(..30);
    let (back, _) = with_producer_fields(short.clone(), fields).unwrap_err();
    assert_eq!(back, short);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Patching a sealed batch gives exactly the bytes of building it with
    /// those producer fields, in every codec.
    #[test]
    fn patching_equals_building_with_the_fields(mut t in arb_batch(), fields in arb_producer_fields()) {
        // A control batch is transactional by definition; patching keeps it so.
        if t.control {
            t.transactional = true;
        }
        let fields = ProducerFields { transactional: fields.transactional || t.control, ..fields };
        let mut patched = build(&t).to_vec();
        set_producer_fields(&mut patched, fields).unwrap();
        let mut expected = t.clone();
        expected.producer = (fields.producer_id, fields.producer_epoch, fields.base_sequence);
        expected.transactional = fields.transactional;
        prop_assert_eq!(&patched, &build(&expected).to_vec());
        let header = BatchHeader::read_v2(&patched).unwrap();
        prop_assert_eq!(header.producer_fields(), fields);
        prop_assert_eq!(header.record_count as usize, t.records.len());
        let (read, _) = read_all(Bytes::from(patched), DecodeOptions::default()).unwrap();
        check(&expected, &read[0].0, &read[0].1)?;
    }

    #[test]
    fn patching_mutated_batches_never_panics(
        t in arb_batch(),
        mutations in prop::collection::vec(arb_mutation(), 1..4),
        fix in any::<bool>(),
        fields in arb_producer_fields(),
    ) {
        let mut data = build(&t).to_vec();
        for m in &mutations {
            mutate(&mut data, m, fix);
        }
        let _ = BatchHeader::read_v2(&data);
        let before = data.clone();
        if set_producer_fields(&mut data, fields).is_err() {
            prop_assert_eq!(data, before);
        } else {
            // What it accepted, it left whole, with a valid CRC.
            prop_assert!(super::patch::read_v2_header(&data, true).is_ok());
        }
    }
}

/// Writes batches built by purekafka for testdata/check_kafka_python.py
/// (run by hand: `PUREKAFKA_INTEROP_OUT=dir cargo test -p purekafka-protocol
/// write_batches_for_kafka_python -- --ignored`).
#[test]
#[ignore]
fn write_batches_for_kafka_python() {
    let dir = std::path::PathBuf::from(std::env::var("PUREKAFKA_INTEROP_OUT").unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    for codec in Compression::ALL {
        let mut b = RecordBatchBuilder::new(codec);
        b.set_base_offset(1000).set_producer(4242, 7, 100);
        for i in 0..40 {
            let (key, value, headers, ts) = kafka_python_recipe(i);
            b.append(ts, key.as_deref(), value.as_deref(), &headers)
                .unwrap();
        }
        std::fs::write(
            dir.join(format!("v2_{}.bin", codec.name())),
            b.finish().unwrap(),
        )
        .unwrap();
    }
}
