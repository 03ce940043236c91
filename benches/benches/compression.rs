//! Compression and decompression throughput per codec on JSON event batches
//! of ~16 KiB (a typical `batch.size`) and ~1 MiB (a large batch).
//!
//! ```text
//! cargo bench -p purekafka-benches --bench compression -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Throughput is in uncompressed bytes for both directions. The compression
//! ratio of each codec is printed once before its group. With
//! `PUREKAFKA_BENCH_DUMP=<dir>` the payloads are also written there (as
//! `events-16k.json`, `events-1m.json`) so that the reference C tools can be
//! run on exactly the same bytes (`zstd -b1 -e3 <file>`).

// Test/bench code: failing loudly is the point.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use purekafka_compression::Compression;

/// Deterministic pseudo-random click-stream events, one JSON object per line,
/// until `target` bytes (the last line is kept whole).
fn json_events(target: usize) -> Vec<u8> {
    const TYPES: [&str; 6] = [
        "page_view",
        "click",
        "add_to_cart",
        "purchase",
        "search",
        "login",
    ];
    const AGENTS: [&str; 3] = [
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
        "okhttp/4.12.0",
    ];
    const COUNTRIES: [&str; 6] = ["DE", "US", "FR", "JP", "BR", "IN"];
    let mut state = 0x853C_49E6_748F_EA9Bu64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::with_capacity(target + 512);
    let mut i = 0u64;
    while out.len() < target {
        let id = next();
        let r = next();
        out.push_str(&format!(
            "{{\"event_id\":\"{id:016x}-{i:08}\",\"user\":\"user-{}\",\"ts\":{},\"type\":\"{}\",\
             \"path\":\"/products/{}\",\"session\":\"{:012x}\",\"ua\":\"{}\",\
             \"amount_cents\":{},\"country\":\"{}\"}}\n",
            r % 50_000,
            1_732_300_000_000 + i * 37 + (r >> 20) % 30,
            TYPES[(r >> 8) as usize % TYPES.len()],
            (r >> 24) % 10_000,
            next() >> 16,
            AGENTS[(r >> 40) as usize % AGENTS.len()],
            (r >> 32) % 100_000,
            COUNTRIES[(r >> 50) as usize % COUNTRIES.len()],
        ));
        i += 1;
    }
    out.into_bytes()
}

/// Codec configurations benchmarked: gzip at its fastest and default level,
/// the others at their default (lz4 and zstd have a single speed here).
const CONFIGS: [(Compression, Option<i32>, &str); 5] = [
    (Compression::Gzip, Some(1), "gzip-1"),
    (Compression::Gzip, None, "gzip-6"),
    (Compression::Snappy, None, "snappy"),
    (Compression::Lz4, None, "lz4"),
    (Compression::Zstd, None, "zstd"),
];

fn bench(c: &mut Criterion) {
    for (label, target, samples) in [("16KiB", 16 * 1024, 50), ("1MiB", 1 << 20, 10)] {
        let plain = json_events(target);
        if let Some(dir) = std::env::var_os("PUREKAFKA_BENCH_DUMP") {
            let name = if target < (1 << 20) {
                "events-16k.json"
            } else {
                "events-1m.json"
            };
            std::fs::write(std::path::Path::new(&dir).join(name), &plain)
                .unwrap_or_else(|e| panic!("PUREKAFKA_BENCH_DUMP: {e}"));
        }
        let mut group = c.benchmark_group(format!("compression/{label}"));
        group.sample_size(samples);
        group.throughput(Throughput::Bytes(plain.len() as u64));
        for (codec, level, name) in CONFIGS {
            let mut wire = Vec::new();
            codec
                .compress(&plain, level, &mut wire)
                .unwrap_or_else(|e| panic!("{e}"));
            println!(
                "ratio {label} {name}: {} -> {} bytes = {:.2}x",
                plain.len(),
                wire.len(),
                plain.len() as f64 / wire.len() as f64
            );
            let mut buf = Vec::with_capacity(plain.len() * 2);
            group.bench_function(BenchmarkId::new("compress", name), |b| {
                b.iter(|| {
                    buf.clear();
                    codec
                        .compress(black_box(&plain), level, &mut buf)
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(buf.len())
                })
            });
            group.bench_function(BenchmarkId::new("decompress", name), |b| {
                b.iter(|| {
                    buf.clear();
                    codec
                        .decompress(black_box(&wire), plain.len(), &mut buf)
                        .unwrap_or_else(|e| panic!("{e}"));
                    black_box(buf.len())
                })
            });
        }
        group.finish();
    }
}

/// Decoding what other clients write: the interop fixtures of
/// `compression/tests/data` (a ~150 KiB events payload compressed by
/// kafka-python's codec module over zlib, snappy, liblz4 and libzstd).
fn bench_reference(c: &mut Criterion) {
    const PLAIN: &[u8] = include_bytes!("../../compression/tests/data/events.json");
    const FIXTURES: [(&str, Compression, &[u8]); 6] = [
        (
            "gzip-9",
            Compression::Gzip,
            include_bytes!("../../compression/tests/data/events.json.gzip"),
        ),
        (
            "snappy-xerial",
            Compression::Snappy,
            include_bytes!("../../compression/tests/data/events.json.snappy-xerial"),
        ),
        (
            "snappy-raw",
            Compression::Snappy,
            include_bytes!("../../compression/tests/data/events.json.snappy-raw"),
        ),
        (
            "lz4",
            Compression::Lz4,
            include_bytes!("../../compression/tests/data/events.json.lz4"),
        ),
        (
            "zstd-3",
            Compression::Zstd,
            include_bytes!("../../compression/tests/data/events.json.zstd"),
        ),
        (
            "zstd-19",
            Compression::Zstd,
            include_bytes!("../../compression/tests/data/events.json.zstd-l19-nosize"),
        ),
    ];
    let mut group = c.benchmark_group("compression/reference-150KiB");
    group.sample_size(30);
    group.throughput(Throughput::Bytes(PLAIN.len() as u64));
    let mut buf = Vec::with_capacity(PLAIN.len());
    for (name, codec, wire) in FIXTURES {
        group.bench_function(BenchmarkId::new("decompress", name), |b| {
            b.iter(|| {
                buf.clear();
                codec
                    .decompress(black_box(wire), PLAIN.len(), &mut buf)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(buf.len(), PLAIN.len());
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench, bench_reference
}
criterion_main!(benches);
