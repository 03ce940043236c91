//! Record batch encode and decode throughput (magic v2).
//!
//! ```text
//! cargo bench -p purekafka-benches --bench record_batch -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Two shapes, 1,000 records of 100 B values and 100 records of 10 KiB
//! values (keys of 13 B), each uncompressed, lz4 and zstd. Encode appends every
//! record to a reused `RecordBatchBuilder` and finishes the batch; decode
//! walks the batch, decompresses and reads every record, touching its key and
//! value. Each case is measured twice, once with records/s and once with
//! bytes/s of key + value payload.
//!
//! Before the benchmarks, the allocations of one encode and one decode per
//! case are counted and printed: they do not grow with the record count.

// Bench code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::System;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use purekafka_protocol::records::{Compression, RecordBatchBuilder, RecordBatches};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CODECS: [Compression; 3] = [Compression::None, Compression::Lz4, Compression::Zstd];

struct Shape {
    name: &'static str,
    count: usize,
    value_size: usize,
}

const SHAPES: [Shape; 2] = [
    Shape {
        name: "1000x100B",
        count: 1000,
        value_size: 100,
    },
    Shape {
        name: "100x10KiB",
        count: 100,
        value_size: 10 * 1024,
    },
];

/// Keys and values: JSON-ish text with pseudo-random numbers, so the codecs
/// have something realistic to do.
fn records(shape: &Shape) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..shape.count)
        .map(|i| {
            let key = format!("user-{:08}", next() % 100_000_000).into_bytes();
            let mut value = String::with_capacity(shape.value_size + 128);
            while value.len() < shape.value_size {
                let n = next();
                value.push_str(&format!(
                    "{{\"seq\":{i},\"ts\":{},\"event\":\"{}\",\"page\":\"/p/{}\",\"ms\":{}}}",
                    1_700_000_000_000u64 + n % 1_000_000,
                    ["view", "click", "buy", "search"][(n >> 20) as usize % 4],
                    (n >> 24) % 5000,
                    (n >> 40) % 900,
                ));
            }
            value.truncate(shape.value_size);
            (key, value.into_bytes())
        })
        .collect()
}

fn payload_bytes(records: &[(Vec<u8>, Vec<u8>)]) -> u64 {
    records
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64)
        .sum()
}

#[inline]
fn encode(builder: &mut RecordBatchBuilder, records: &[(Vec<u8>, Vec<u8>)]) -> Bytes {
    for (i, (k, v)) in records.iter().enumerate() {
        builder
            .append(1_700_000_000_000 + i as i64, Some(k), Some(v), &[])
            .unwrap();
    }
    builder.finish().unwrap()
}

/// Reads every record of every batch, touching key and value.
#[inline]
fn decode(batch: &Bytes) -> usize {
    let mut sum = 0usize;
    for b in RecordBatches::new(batch.clone()) {
        for r in b.unwrap().records().unwrap() {
            let r = r.unwrap();
            let k = r.key.unwrap();
            let v = r.value.unwrap();
            sum += k.len()
                + v.len()
                + usize::from(k.first().copied().unwrap_or(0))
                + usize::from(v.last().copied().unwrap_or(0));
        }
    }
    sum
}

fn builder_for(codec: Compression, records: &[(Vec<u8>, Vec<u8>)]) -> RecordBatchBuilder {
    let payload = usize::try_from(payload_bytes(records)).unwrap();
    RecordBatchBuilder::with_capacity(codec, payload + records.len() * 16)
}

/// Prints allocations per encoded and decoded batch.
fn report_allocations() {
    println!("allocations per batch (steady state, reused builder):");
    for shape in &SHAPES {
        let records = records(shape);
        for codec in CODECS {
            let mut builder = builder_for(codec, &records);
            let batch = encode(&mut builder, &records); // warm the builder
            let region = Region::new(GLOBAL);
            let out = black_box(encode(&mut builder, &records));
            let enc = region.change();
            drop(out);
            let region = Region::new(GLOBAL);
            black_box(decode(&batch));
            let dec = region.change();
            println!(
                "  {:<10} {:<5} encode: {} allocs + {} reallocs, decode: {} allocs + {} reallocs ({} records, {} B batch)",
                shape.name,
                codec.name(),
                enc.allocations,
                enc.reallocations,
                dec.allocations,
                dec.reallocations,
                records.len(),
                batch.len()
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    for (op, decode_op) in [("encode", false), ("decode", true)] {
        for unit in ["records", "bytes"] {
            let mut group = c.benchmark_group(format!("record_batch/{op}/{unit}"));
            for shape in &SHAPES {
                let records = records(shape);
                let throughput = match unit {
                    "records" => Throughput::Elements(records.len() as u64),
                    _ => Throughput::Bytes(payload_bytes(&records)),
                };
                group.throughput(throughput);
                for codec in CODECS {
                    let id = BenchmarkId::new(shape.name, codec.name());
                    let mut builder = builder_for(codec, &records);
                    if decode_op {
                        let batch = encode(&mut builder, &records);
                        group.bench_function(id, |b| b.iter(|| decode(black_box(&batch))));
                    } else {
                        group.bench_function(id, |b| {
                            b.iter(|| encode(&mut builder, black_box(&records)))
                        });
                    }
                }
            }
            group.finish();
        }
    }
}

criterion_group!(benches, bench);

fn main() {
    report_allocations();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
