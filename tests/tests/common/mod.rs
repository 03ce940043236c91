//! Checks shared by the harness self-tests.

// Test helpers outside #[test] fns: panicking is how they fail a test.
#![allow(clippy::panic)]

use purekafka_integration::{Cluster, Codec, Consumed, PeerClient, Record};
use std::collections::BTreeMap;
use std::time::Duration;

/// Records with distinct keys, spread over `partitions`, with headers (one with
/// a null value when `null_header`) and binary, empty and null values.
pub fn sample_records(tag: &str, n: usize, partitions: i32, null_header: bool) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let mut r = Record::new(
                format!("{tag}-k{i}"),
                format!("{tag}-v{i}-").repeat(i % 7 + 1),
            );
            r.partition = Some(i as i32 % partitions);
            r.headers = vec![
                ("i".into(), Some(i.to_string().into_bytes())),
                ("bin".into(), Some(vec![0, 255, i as u8])),
            ];
            if null_header {
                r.headers.push(("none".into(), None));
            }
            match i % 5 {
                3 => r.value = Some(Vec::new()),
                4 => r.value = None,
                _ => {}
            }
            r
        })
        .collect()
}

/// Produces `records` with `producer` and reads the topic back with `consumer`;
/// asserts the topic holds exactly `expect_before` earlier records plus these,
/// with keys, values, headers and partitions intact and offsets dense from 0.
pub fn round_trip(
    c: &Cluster,
    topic: &str,
    producer: PeerClient,
    codec: Codec,
    consumer: PeerClient,
    records: &[Record],
    expect_before: &[Record],
) {
    let acked = c
        .peer_produce(topic, producer, codec, records)
        .unwrap_or_else(|e| panic!("{producer:?}/{codec:?} produce on {}: {e}", c.kind()));
    assert_eq!(acked.len(), records.len());
    for (a, r) in acked.iter().zip(records) {
        assert_eq!(a.topic, topic);
        assert_eq!(
            Some(a.partition),
            r.partition,
            "record went to the wrong partition"
        );
    }
    let total = expect_before.len() + records.len();
    let got = c
        .peer_consume(topic, consumer, total, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{consumer:?} consume on {}: {e}", c.kind()));
    assert_eq!(got.len(), total, "consumed a different number of records");
    check_offsets_dense(&got);
    let key = |r: &Record| r.key.clone();
    let want: BTreeMap<_, _> = expect_before
        .iter()
        .chain(records)
        .map(|r| (key(r), r.clone()))
        .collect();
    assert_eq!(want.len(), total, "test bug: keys must be unique");
    for g in &got {
        assert_eq!(g.topic, topic);
        let w = want
            .get(&g.record.key)
            .unwrap_or_else(|| panic!("unexpected record {g:?}"));
        assert_eq!(g.record.value, w.value, "value of {:?}", g.record.key);
        assert_eq!(g.record.headers, w.headers, "headers of {:?}", g.record.key);
        assert_eq!(
            g.record.partition, w.partition,
            "partition of {:?}",
            g.record.key
        );
        assert!(
            g.record.timestamp.is_some_and(|t| t > 0),
            "no timestamp on {g:?}"
        );
    }
}

/// Offsets of each partition are 0, 1, 2, ... with no gap or duplicate.
pub fn check_offsets_dense(got: &[Consumed]) {
    let mut by_part: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for g in got {
        by_part
            .entry(g.record.partition.unwrap_or(-1))
            .or_default()
            .push(g.offset);
    }
    for (p, offs) in by_part {
        let want: Vec<i64> = (0..offs.len() as i64).collect();
        assert_eq!(offs, want, "offsets of partition {p}");
    }
}
