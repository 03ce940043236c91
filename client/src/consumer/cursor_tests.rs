//! [`Cursor`] on hand-built record sets: transactional batches, control
//! markers and the fetch response's aborted-transactions list, read with
//! `read_uncommitted` and `read_committed`.

use super::fetcher::CompletedFetch;
use super::{ConsumerEvent, Cursor};
use bytes::{Bytes, BytesMut};
use purekafka_protocol::messages::fetch_response::AbortedTransaction;
use purekafka_protocol::records::{
    Compression, ControlRecord, ControlRecordType, DecodeOptions, RecordBatchBuilder,
};

const TS: i64 = 1_700_000_000_000;
const P1: i64 = 1001; // commits its transaction
const P2: i64 = 2002; // aborts, commits, aborts again
const P3: i64 = 3003; // idempotent, not transactional

/// One batch of the log.
enum B {
    /// Data records; `pid` -1 for a plain producer.
    Data {
        base: i64,
        pid: i64,
        txn: bool,
        values: &'static [&'static str],
        codec: Compression,
    },
    /// A commit (`true`) or abort marker of `pid`.
    Marker { base: i64, pid: i64, commit: bool },
}

fn encode(batches: &[B]) -> Bytes {
    let mut out = BytesMut::new();
    for b in batches {
        match b {
            B::Data {
                base,
                pid,
                txn,
                values,
                codec,
            } => {
                let mut bb = RecordBatchBuilder::new(*codec);
                bb.set_base_offset(*base);
                if *pid >= 0 {
                    bb.set_producer(*pid, 0, i32::try_from(*base).unwrap());
                }
                bb.set_transactional(*txn);
                for (i, v) in values.iter().enumerate() {
                    let k = format!("k{}", base + i as i64);
                    bb.append(
                        TS + base + i as i64,
                        Some(k.as_bytes()),
                        Some(v.as_bytes()),
                        &[],
                    )
                    .unwrap();
                }
                out.extend_from_slice(&bb.finish().unwrap());
            }
            B::Marker { base, pid, commit } => {
                let mut bb = RecordBatchBuilder::new(Compression::None);
                bb.set_base_offset(*base)
                    .set_producer(*pid, 0, -1)
                    .set_transactional(true)
                    .set_control(true);
                let marker = ControlRecord::marker(*commit, 7);
                assert_eq!(
                    marker.kind,
                    if *commit {
                        ControlRecordType::Commit
                    } else {
                        ControlRecordType::Abort
                    }
                );
                bb.append_control(TS + base, &marker).unwrap();
                out.extend_from_slice(&bb.finish().unwrap());
            }
        }
    }
    out.freeze()
}

/// The log (offset: what):
///
/// ```text
///  0-1  plain producer                 plain-0, plain-1
///  2-3  P1 txn                         p1-a, p1-b            (committed at 10)
///  4-5  P2 txn, lz4                    p2-x0, p2-x1          (aborted at 11)
///  6    P3 idempotent, not txn         p3-0
///  7-8  P2 txn (same transaction)      p2-x2, p2-x3          (aborted at 11)
///  9    P1 txn, zstd                   p1-c                  (committed at 10)
/// 10    P1 COMMIT marker
/// 11    P2 ABORT marker
/// 12    P2 txn (a new transaction)     p2-ok                 (committed at 13)
/// 13    P2 COMMIT marker
/// 14    P2 txn (another one)           p2-y                  (aborted at 15)
/// 15    P2 ABORT marker
/// ```
///
/// The fetch response lists P2's two aborted transactions, at 4 and 14.
fn log() -> (Bytes, Vec<AbortedTransaction>) {
    let none = Compression::None;
    let batches = [
        B::Data {
            base: 0,
            pid: -1,
            txn: false,
            values: &["plain-0", "plain-1"],
            codec: none,
        },
        B::Data {
            base: 2,
            pid: P1,
            txn: true,
            values: &["p1-a", "p1-b"],
            codec: none,
        },
        B::Data {
            base: 4,
            pid: P2,
            txn: true,
            values: &["p2-x0", "p2-x1"],
            codec: Compression::Lz4,
        },
        B::Data {
            base: 6,
            pid: P3,
            txn: false,
            values: &["p3-0"],
            codec: none,
        },
        B::Data {
            base: 7,
            pid: P2,
            txn: true,
            values: &["p2-x2", "p2-x3"],
            codec: none,
        },
        B::Data {
            base: 9,
            pid: P1,
            txn: true,
            values: &["p1-c"],
            codec: Compression::Zstd,
        },
        B::Marker {
            base: 10,
            pid: P1,
            commit: true,
        },
        B::Marker {
            base: 11,
            pid: P2,
            commit: false,
        },
        B::Data {
            base: 12,
            pid: P2,
            txn: true,
            values: &["p2-ok"],
            codec: none,
        },
        B::Marker {
            base: 13,
            pid: P2,
            commit: true,
        },
        B::Data {
            base: 14,
            pid: P2,
            txn: true,
            values: &["p2-y"],
            codec: none,
        },
        B::Marker {
            base: 15,
            pid: P2,
            commit: false,
        },
    ];
    let aborted = vec![
        AbortedTransaction {
            producer_id: P2,
            first_offset: 4,
            ..Default::default()
        },
        AbortedTransaction {
            producer_id: P2,
            first_offset: 14,
            ..Default::default()
        },
    ];
    (encode(&batches), aborted)
}

const ALL_DATA: &[(i64, &str)] = &[
    (0, "plain-0"),
    (1, "plain-1"),
    (2, "p1-a"),
    (3, "p1-b"),
    (4, "p2-x0"),
    (5, "p2-x1"),
    (6, "p3-0"),
    (7, "p2-x2"),
    (8, "p2-x3"),
    (9, "p1-c"),
    (12, "p2-ok"),
    (14, "p2-y"),
];

const COMMITTED: &[(i64, &str)] = &[
    (0, "plain-0"),
    (1, "plain-1"),
    (2, "p1-a"),
    (3, "p1-b"),
    (6, "p3-0"),
    (9, "p1-c"),
    (12, "p2-ok"),
];

fn cursor(records: Bytes, aborted: Vec<AbortedTransaction>, fetch_offset: i64) -> Cursor {
    let cf = CompletedFetch {
        tp: crate::TopicPartition::new("t", 0),
        fetch_offset,
        seek_gen: 1,
        records,
        aborted,
    };
    Cursor::new(cf, DecodeOptions::default())
}

/// Reads the whole fetch `max` records at a time; returns (offset, value)
/// of every record and the cursor's final position.
fn read_all(mut c: Cursor, max: usize, read_committed: bool) -> (Vec<(i64, String)>, i64) {
    let mut out = Vec::new();
    for _ in 0..1000 {
        let before = out.len();
        c.read(max, read_committed, &mut out).unwrap();
        assert!(
            out.len() - before <= max,
            "read returned {} records, max {max}",
            out.len() - before
        );
        if c.done {
            break;
        }
    }
    assert!(c.done, "the cursor never finished");
    let got = out
        .into_iter()
        .map(|e| match e {
            ConsumerEvent::Record(r) => {
                assert_eq!(
                    r.key.as_deref(),
                    Some(format!("k{}", r.offset).as_bytes()),
                    "key of offset {}",
                    r.offset
                );
                assert_eq!(r.timestamp, TS + r.offset);
                (
                    r.offset,
                    String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
                )
            }
            ConsumerEvent::PartitionEof { .. } => panic!("a cursor never yields EOF events"),
        })
        .collect();
    (got, c.next_offset)
}

fn owned(v: &[(i64, &str)]) -> Vec<(i64, String)> {
    v.iter().map(|(o, s)| (*o, (*s).to_string())).collect()
}

/// read_uncommitted returns every data record, read_committed drops the
/// aborted transactions; neither returns a marker, at any batch size.
#[test]
fn reads_every_data_record_or_only_the_committed_ones_and_no_marker() {
    let (records, aborted) = log();
    let cases = [
        (false, ALL_DATA, &[usize::MAX, 1, 3][..]),
        (true, COMMITTED, &[usize::MAX, 1, 2, 5][..]),
    ];
    for (committed, want, maxes) in cases {
        for &max in maxes {
            let c = cursor(records.clone(), aborted.clone(), 0);
            let (got, pos) = read_all(c, max, committed);
            let what = format!("read_committed={committed}, max {max}");
            assert_eq!(got, owned(want), "{what}");
            assert_eq!(pos, 16, "position after the last (control) batch, {what}");
        }
    }
}

#[test]
fn read_committed_without_an_aborted_list_keeps_everything() {
    // The aborted-transactions list, not the markers, says what to drop: a
    // fetch whose list is empty has no aborted records.
    let (records, _) = log();
    let (got, pos) = read_all(cursor(records, Vec::new(), 0), usize::MAX, true);
    assert_eq!(got, owned(ALL_DATA));
    assert_eq!(pos, 16);
}

#[test]
fn read_committed_from_inside_an_aborted_batch() {
    // Fetching from offset 5 returns the whole batch at 4; the aborted list
    // still starts at 4.
    let (records, aborted) = log();
    let (got, pos) = read_all(
        cursor(records.clone(), aborted.clone(), 5),
        usize::MAX,
        true,
    );
    let want: Vec<(i64, &str)> = COMMITTED.iter().copied().filter(|(o, _)| *o >= 5).collect();
    assert_eq!(got, owned(&want));
    assert_eq!(pos, 16);
    let (got, pos) = read_all(cursor(records, aborted, 5), usize::MAX, false);
    let want: Vec<(i64, &str)> = ALL_DATA.iter().copied().filter(|(o, _)| *o >= 5).collect();
    assert_eq!(got, owned(&want));
    assert_eq!(pos, 16);
}

#[test]
fn a_fetch_ending_in_markers_moves_the_position_past_them() {
    // Only control batches (e.g. a fetch from offset 10): nothing to return,
    // but the position must move on, else the consumer fetches them forever.
    let batches = [
        B::Marker {
            base: 10,
            pid: P1,
            commit: true,
        },
        B::Marker {
            base: 11,
            pid: P2,
            commit: false,
        },
    ];
    let aborted = vec![AbortedTransaction {
        producer_id: P2,
        first_offset: 4,
        ..Default::default()
    }];
    for read_committed in [false, true] {
        let (got, pos) = read_all(
            cursor(encode(&batches), aborted.clone(), 10),
            usize::MAX,
            read_committed,
        );
        assert!(got.is_empty(), "read_committed={read_committed}: {got:?}");
        assert_eq!(pos, 12, "read_committed={read_committed}");
    }
}

/// Issue #10 item 13: a broker's offsets are not trusted to leave room for
/// `offset + 1`. A batch holding offsets i64::MAX - 1 and i64::MAX is read
/// without overflowing (debug builds panicked in `poll`, release builds
/// wrapped the position to i64::MIN): the position saturates at i64::MAX,
/// and the cursor says it went past the last offset (so the partition is
/// not fetched again: see `partitions_tests`). Read from i64::MAX, only the
/// record there is returned.
#[test]
fn a_record_at_the_largest_offset_saturates_the_position_instead_of_overflowing() {
    let base = i64::MAX - 1;
    let mut bb = RecordBatchBuilder::new(Compression::None);
    bb.set_base_offset(base);
    for v in ["next-to-last", "last"] {
        bb.append(TS, Some(b"k".as_slice()), Some(v.as_bytes()), &[])
            .unwrap();
    }
    let records = bb.finish().unwrap();
    let offsets = |out: &[ConsumerEvent]| -> Vec<i64> {
        out.iter()
            .filter_map(|e| match e {
                ConsumerEvent::Record(r) => Some(r.offset),
                ConsumerEvent::PartitionEof { .. } => None,
            })
            .collect()
    };
    let mut c = cursor(records.clone(), Vec::new(), base);
    let mut out: Vec<ConsumerEvent> = Vec::new();
    c.read(1, false, &mut out).unwrap();
    assert_eq!(offsets(&out), vec![base]);
    assert!(!c.past_end, "i64::MAX not read yet");
    while !c.done {
        c.read(10, false, &mut out).unwrap();
    }
    assert_eq!(offsets(&out), vec![base, i64::MAX]);
    assert_eq!(c.next_offset, i64::MAX, "the position saturates");
    assert!(c.past_end);

    let mut c = cursor(records, Vec::new(), i64::MAX);
    let mut out: Vec<ConsumerEvent> = Vec::new();
    while !c.done {
        c.read(10, false, &mut out).unwrap();
    }
    assert_eq!(offsets(&out), vec![i64::MAX], "read from i64::MAX");
    assert_eq!(c.next_offset, i64::MAX);
    assert!(c.past_end);
}

#[test]
fn records_that_do_not_decode_fail_the_read_naming_the_partition_and_offset() {
    let first = encode(&[B::Data {
        base: 10,
        pid: -1,
        txn: false,
        values: &["a", "b"],
        codec: Compression::None,
    }]);
    let second = encode(&[B::Data {
        base: 12,
        pid: -1,
        txn: false,
        values: &["c"],
        codec: Compression::None,
    }]);
    let mut log = BytesMut::from(&first[..]);
    let at = log.len();
    log.extend_from_slice(&second);
    // The last byte of the second batch's last record: its CRC no longer matches.
    let end = log.len() - 1;
    log[end] ^= 0xff;
    assert!(at < end);
    let cf = CompletedFetch {
        tp: crate::TopicPartition::new("t", 3),
        fetch_offset: 10,
        seek_gen: 1,
        records: log.freeze(),
        aborted: Vec::new(),
    };
    let opts = DecodeOptions {
        verify_crc: true,
        ..DecodeOptions::default()
    };
    let mut c = Cursor::new(cf, opts);
    let mut out: Vec<super::ConsumerRecord> = Vec::new();
    let e = c.read(100, false, &mut out).unwrap_err();
    // What came before the bad batch was read; the error is at its offset.
    assert_eq!(out.iter().map(|r| r.offset).collect::<Vec<_>>(), [10, 11]);
    match &e {
        crate::Error::CorruptRecords {
            topic,
            partition,
            offset,
            ..
        } => assert_eq!((topic.as_str(), *partition, *offset), ("t", 3, 12)),
        e => panic!("{e:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("t-3") && text.contains("offset 12") && text.contains("seek past"),
        "{text}"
    );
}
