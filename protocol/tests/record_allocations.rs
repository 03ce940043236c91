//! The record hot paths allocate nothing per record: appending to a
//! `RecordBatchBuilder` with room reserved, and iterating a batch's records.
//!
//! A counting global allocator sees every allocation in this test binary, so
//! it holds a single test.

#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use bytes::Bytes;
use purekafka_protocol::records::{
    Compression, Header, RecordBatch, RecordBatchBuilder, RecordBatches,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const RECORDS: usize = 1_000;

fn build(
    codec: Compression,
    builder: &mut RecordBatchBuilder,
    value: &[u8],
    headers: &[Header],
) -> Bytes {
    builder.set_compression(codec);
    for i in 0..RECORDS {
        let key = (i as u64).to_be_bytes();
        builder
            .append(
                1_700_000_000_000 + i as i64,
                Some(&key),
                Some(value),
                headers,
            )
            .unwrap();
    }
    builder.finish().unwrap()
}

/// Allocations while appending and iterating one batch of `RECORDS` records.
fn allocations(codec: Compression, headers: &[Header]) -> (usize, usize) {
    let value = vec![b'v'; 100];
    let mut builder = RecordBatchBuilder::with_capacity(codec, RECORDS * 200);
    let region = Region::new(GLOBAL);
    for i in 0..RECORDS {
        let key = (i as u64).to_be_bytes();
        builder
            .append(
                1_700_000_000_000 + i as i64,
                Some(&key),
                Some(&value),
                headers,
            )
            .unwrap();
    }
    let appends = region.change().allocations + region.change().reallocations;
    let bytes = builder.finish().unwrap();

    let batch = RecordBatch::decode(bytes, Default::default()).unwrap();
    let records = batch.records().unwrap();
    let region = Region::new(GLOBAL);
    let mut n = 0;
    for r in records {
        let r = r.unwrap();
        n += r.key.map_or(0, |k| k.len()) + r.value.map_or(0, |v| v.len());
        for h in &r.headers {
            n += h.key.len();
        }
    }
    let reads = region.change().allocations + region.change().reallocations;
    assert_eq!(
        n,
        RECORDS * (8 + 100 + headers.iter().map(|h| h.key.len()).sum::<usize>())
    );
    (appends, reads)
}

#[test]
fn hot_paths_allocate_nothing_per_record() {
    let headers = [
        Header::new("trace-id", Some(Bytes::from_static(b"0123456789abcdef"))),
        Header::new("n", None),
    ];
    for codec in Compression::ALL {
        for h in [&headers[..], &[]] {
            // The counting allocator is process-wide: the test harness's own
            // threads can allocate meanwhile, so take the quietest of a few runs.
            let (appends, reads) = (0..5)
                .map(|_| allocations(codec, h))
                .fold((usize::MAX, usize::MAX), |(a, r), (x, y)| {
                    (a.min(x), r.min(y))
                });
            assert_eq!(appends, 0, "{codec}: appending {RECORDS} records allocated");
            // Decompressed records live in a `Bytes` made from a `Vec`; the
            // bytes crate allocates its shared header at the first slice, so
            // a compressed batch may cost one allocation per batch here.
            let allowed = usize::from(codec != Compression::None);
            assert!(
                reads <= allowed,
                "{codec}: iterating {RECORDS} records allocated {reads} times"
            );
        }
    }

    // Whole batches: a reused builder costs one output allocation (plus the
    // codec's own work) per batch, whatever the record count.
    let value = vec![b'v'; 100];
    let mut builder = RecordBatchBuilder::with_capacity(Compression::None, RECORDS * 200);
    let region = Region::new(GLOBAL);
    let bytes = build(Compression::None, &mut builder, &value, &[]);
    let stats = region.change();
    assert!(
        stats.allocations + stats.reallocations <= 2,
        "uncompressed batch: {stats:?}"
    );
    eprintln!("finishing an uncompressed batch: {stats:?}");
    // Reading every batch of a record set: no allocation for uncompressed data.
    let region = Region::new(GLOBAL);
    let mut count = 0;
    for batch in RecordBatches::new(bytes) {
        for r in batch.unwrap().records().unwrap() {
            count += usize::from(r.unwrap().value.is_some());
        }
    }
    let stats = region.change();
    assert_eq!(count, RECORDS);
    assert_eq!(
        stats.allocations + stats.reallocations,
        0,
        "reading an uncompressed batch: {stats:?}"
    );
}
