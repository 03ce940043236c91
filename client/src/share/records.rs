//! The records of one ShareFetch partition (sans-IO): the record batches,
//! cut to the offsets the broker says this member acquired, each record
//! with its delivery count; the acquired offsets that carry no record
//! (control batches, compacted-away offsets) are gaps, acknowledged as
//! such so they do not stay locked until the lock times out.
//!
//! Nothing from the wire is trusted: acquired ranges that are empty,
//! negative or overlap an earlier one are ignored (in part), records
//! outside every range are dropped, a batch that does not decode ends the
//! partition's records there and its acquired offsets after the last good
//! record are released (delivered again, until the broker's delivery
//! limit archives them).

use super::ShareRecord;
use super::acks::GAP;
use crate::consumer::ConsumerRecord;
use bytes::Bytes;
use purekafka_protocol::DecodeError;
use purekafka_protocol::messages::share_fetch_response::AcquiredRecords;
use purekafka_protocol::records::{DecodeOptions, RecordBatches};
use std::sync::Arc;

/// A range of acquired offsets and their delivery count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Acquired {
    pub first: i64,
    pub last: i64,
    pub delivery_count: u16,
}

/// The acquired ranges of a response, made safe: sorted, disjoint,
/// non-negative, non-empty.
pub(crate) fn acquired_ranges(wire: &[AcquiredRecords]) -> Vec<Acquired> {
    let mut v: Vec<Acquired> = wire
        .iter()
        .filter(|a| a.first_offset >= 0 && a.first_offset <= a.last_offset)
        .map(|a| Acquired {
            first: a.first_offset,
            last: a.last_offset,
            delivery_count: u16::try_from(a.delivery_count).unwrap_or(0),
        })
        .collect();
    v.sort_by_key(|a| a.first);
    let mut out: Vec<Acquired> = Vec::with_capacity(v.len());
    for mut a in v {
        if let Some(prev) = out.last() {
            if a.last <= prev.last {
                continue; // inside the previous range
            }
            if a.first <= prev.last {
                a.first = prev.last + 1;
            }
        }
        out.push(a);
    }
    out
}

/// What one partition of a ShareFetch response holds for the application.
#[derive(Debug, Default)]
pub(crate) struct PartitionRecords {
    /// The acquired records, in offset order.
    pub records: Vec<ShareRecord>,
    /// How many of `records` each record batch holds, in order (none
    /// zero): a poll hands out whole batches, as Java's does.
    pub batches: Vec<usize>,
    /// Acknowledgements the client makes itself: gaps, and (after a decode
    /// error) releases; `(first, last, type)`.
    pub auto_acks: Vec<(i64, i64, i8)>,
    /// The batch that did not decode, if one did not, with the first
    /// acquired offset not read before it.
    pub error: Option<(i64, DecodeError)>,
}

/// Decodes `records` for `topic`-`partition`, keeping the offsets in
/// `acquired` (from [`acquired_ranges`]).
pub(crate) fn decode(
    topic: &Arc<str>,
    partition: i32,
    records: Option<Bytes>,
    acquired: &[Acquired],
    opts: DecodeOptions,
) -> PartitionRecords {
    let mut out = PartitionRecords::default();
    if acquired.is_empty() {
        return out;
    }
    let mut range = 0usize;
    // The first acquired offset not yet accounted for (delivered or gap).
    let mut next = acquired.first().map_or(0, |a| a.first);
    let mut failed = false;
    // Where each batch's records start in `out.records`.
    let mut starts: Vec<usize> = Vec::new();
    'batches: for batch in RecordBatches::with_options(records.unwrap_or_default(), opts) {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                out.error = Some((next, e));
                failed = true;
                break;
            }
        };
        if batch.is_control() {
            continue;
        }
        let ts_type = batch.header().timestamp_type();
        let recs = match batch.records() {
            Ok(r) => r,
            Err(e) => {
                out.error = Some((next, e));
                failed = true;
                break;
            }
        };
        starts.push(out.records.len());
        for r in recs {
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some((next, e));
                    failed = true;
                    break 'batches;
                }
            };
            // Move to the range that may hold this offset.
            while let Some(a) = acquired.get(range) {
                if r.offset <= a.last {
                    break;
                }
                if next <= a.last {
                    out.auto_acks.push((next.max(a.first), a.last, GAP));
                }
                range += 1;
                next = acquired.get(range).map_or(i64::MAX, |n| n.first);
            }
            let Some(a) = acquired.get(range) else {
                break 'batches; // past every range
            };
            if r.offset < a.first || r.offset < next {
                continue; // not acquired, or a duplicate offset
            }
            if r.offset > next {
                out.auto_acks.push((next, r.offset - 1, GAP));
            }
            next = r.offset.saturating_add(1);
            out.records.push(ShareRecord {
                record: ConsumerRecord::decoded(topic.clone(), partition, ts_type, r),
                delivery_count: a.delivery_count,
            });
        }
    }
    starts.push(out.records.len());
    out.batches = starts
        .windows(2)
        .map(|w| match w {
            [a, b] => b.saturating_sub(*a),
            _ => 0,
        })
        .filter(|n| *n > 0)
        .collect();
    // What is left of the ranges: gaps, or releases after a decode error.
    let kind = if failed {
        super::AcknowledgeType::Release.wire()
    } else {
        GAP
    };
    while let Some(a) = acquired.get(range) {
        if next <= a.last && (next < i64::MAX || a.last == i64::MAX) {
            out.auto_acks.push((next.max(a.first), a.last, kind));
        }
        range += 1;
        next = acquired.get(range).map_or(i64::MAX, |n| n.first);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::AcknowledgeType;
    use purekafka_compression::Compression;
    use purekafka_protocol::records::{ControlRecord, RecordBatchBuilder};

    fn acq(first: i64, last: i64, dc: i16) -> AcquiredRecords {
        AcquiredRecords {
            first_offset: first,
            last_offset: last,
            delivery_count: dc,
            ..AcquiredRecords::default()
        }
    }

    fn batch(base: i64, n: usize) -> Vec<u8> {
        let mut b = RecordBatchBuilder::new(Compression::None);
        b.set_base_offset(base);
        for i in 0..n {
            let v = format!("v{}", base + i as i64);
            b.append(1000, None, Some(v.as_bytes()), &[]).unwrap();
        }
        b.finish().unwrap().to_vec()
    }

    fn run(bytes: Vec<u8>, acquired: &[AcquiredRecords]) -> PartitionRecords {
        decode(
            &Arc::from("t"),
            0,
            Some(Bytes::from(bytes)),
            &acquired_ranges(acquired),
            DecodeOptions::default(),
        )
    }

    fn offsets(p: &PartitionRecords) -> Vec<(i64, u16)> {
        p.records
            .iter()
            .map(|r| (r.offset, r.delivery_count))
            .collect()
    }

    #[test]
    fn keeps_only_acquired_offsets_with_their_delivery_counts() {
        let mut bytes = batch(0, 5);
        bytes.extend(batch(5, 5));
        let p = run(bytes, &[acq(1, 2, 1), acq(6, 8, 3)]);
        assert_eq!(offsets(&p), vec![(1, 1), (2, 1), (6, 3), (7, 3), (8, 3)]);
        // Two batches: 2 of the first's records acquired, 3 of the second's.
        assert_eq!(p.batches, vec![2, 3]);
        assert!(p.auto_acks.is_empty(), "{:?}", p.auto_acks);
        assert!(p.error.is_none());
        assert_eq!(p.records[0].value.as_deref(), Some(&b"v1"[..]));
        assert_eq!(&*p.records[0].topic, "t");
    }

    #[test]
    fn acquired_offsets_without_records_are_gaps() {
        // Records 0-2, a control batch at 3, records 4-5; acquired 0..=9.
        let mut bytes = batch(0, 3);
        let mut m = RecordBatchBuilder::new(Compression::None);
        m.set_base_offset(3)
            .set_producer(7, 0, -1)
            .set_transactional(true)
            .set_control(true);
        m.append_control(1000, &ControlRecord::marker(true, 0))
            .unwrap();
        bytes.extend(m.finish().unwrap().to_vec());
        bytes.extend(batch(4, 2));
        let p = run(bytes, &[acq(0, 9, 1)]);
        assert_eq!(
            offsets(&p).iter().map(|o| o.0).collect::<Vec<_>>(),
            vec![0, 1, 2, 4, 5]
        );
        assert_eq!(p.auto_acks, vec![(3, 3, GAP), (6, 9, GAP)]);
        // The control batch holds no record: two batches.
        assert_eq!(p.batches, vec![3, 2]);
    }

    #[test]
    fn hostile_ranges_are_cleaned_and_nothing_outside_them_is_delivered() {
        let ranges = acquired_ranges(&[
            acq(5, 3, 1),  // empty
            acq(-4, 2, 1), // negative
            acq(0, 4, 1),  // fine
            acq(2, 3, 9),  // inside the previous
            acq(3, 6, 2),  // overlaps: 5..=6 kept
            acq(9, i64::MAX, -1),
        ]);
        assert_eq!(
            ranges,
            vec![
                Acquired {
                    first: 0,
                    last: 4,
                    delivery_count: 1
                },
                Acquired {
                    first: 5,
                    last: 6,
                    delivery_count: 2
                },
                Acquired {
                    first: 9,
                    last: i64::MAX,
                    delivery_count: 0
                },
            ]
        );
        // A huge range costs one gap entry, not one per offset.
        let p = run(batch(0, 3), &[acq(1, i64::MAX, 1)]);
        assert_eq!(offsets(&p), vec![(1, 1), (2, 1)]);
        assert_eq!(p.auto_acks, vec![(3, i64::MAX, GAP)]);
        // No ranges: nothing, whatever the bytes.
        assert!(run(batch(0, 3), &[]).records.is_empty());
    }

    #[test]
    fn a_corrupt_batch_ends_the_records_and_releases_the_rest() {
        let mut bytes = batch(0, 3);
        let mut bad = batch(3, 3);
        let n = bad.len();
        bad[n - 2] ^= 0xff; // breaks the CRC
        bytes.extend(bad);
        let p = run(bytes, &[acq(0, 5, 1)]);
        assert_eq!(offsets(&p).len(), 3);
        assert_eq!(p.batches, vec![3]);
        assert_eq!(p.error.as_ref().map(|e| e.0), Some(3), "{:?}", p.error);
        assert_eq!(p.auto_acks, vec![(3, 5, AcknowledgeType::Release.wire())]);
    }
}
