//! Consumer benchmark: records/s, MB/s and client CPU-seconds per million
//! records for a fresh consumer reading a topic from the earliest offset,
//! 100-byte values with 4-byte keys, no compression.
//!
//! ```text
//! cargo run --release -p purekafka-benches --bin consume_bench -- [records] [mock|tansu|BOOTSTRAP] [partitions] [max.poll.records] [fetch.max.wait.ms]
//! ```
//! Defaults: 1,000,000 records, `mock`, 32 partitions, max.poll.records 500
//! and fetch.max.wait.ms 500 (the Java defaults).
//!
//! The topic is first filled by purekafka's producer (acks=all, idempotent,
//! compression none), records spread evenly over the partitions. Then a new
//! consumer is assigned every partition (auto.offset.reset=earliest) and
//! reads until it has all the records; only that part is timed. Client CPU is
//! this process's user+system time during the read (the broker runs in
//! another process).
//!
//! Partitions: the librdkafka mock keeps only the last 5 MiB of a partition.
//! A record here takes about 115 bytes in its batch, so 1M records are about
//! 115 MB: over 6 partitions that is ~19 MB each and the mock would drop the
//! oldest three quarters. 32 partitions hold ~3.6 MB each. The bench refuses
//! a mock run whose partitions would overflow, and checks it read exactly
//! `records` records starting at offset 0 of every partition.
//!
//! To profile only the read: `mkfifo /tmp/ctl /tmp/ack; PERF_CTL=/tmp/ctl
//! perf record --control=fifo:/tmp/ctl,/tmp/ack -D -1 -g ...`: with
//! `PERF_CTL` set the bench writes `enable`/`disable` to that fifo around the
//! read.

// A benchmark binary: a broken setup fails loudly.
#![allow(clippy::expect_used, clippy::panic)]

use purekafka::config::{Acks, ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::Consumer;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_benches::{cpu_seconds, start_broker};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Bytes one record takes in a v2 batch, roughly (value 100, key 4, framing),
/// plus a share of the batch header.
const BYTES_PER_RECORD: usize = 115;
/// What the mock keeps per partition.
const MOCK_PARTITION_BYTES: usize = 5 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let target = args.get(2).map_or("mock", String::as_str);
    let partitions: usize = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
        .max(1);
    let max_poll_records: usize = args
        .get(4)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
        .max(1);
    let fetch_max_wait_ms: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(500);
    let per_partition = n.div_ceil(partitions) * BYTES_PER_RECORD;
    if target == "mock" && per_partition > MOCK_PARTITION_BYTES * 9 / 10 {
        eprintln!(
            "{n} records over {partitions} partitions is ~{per_partition} bytes per partition; the mock keeps only the last {MOCK_PARTITION_BYTES}: use at least {} partitions",
            (n * BYTES_PER_RECORD).div_ceil(MOCK_PARTITION_BYTES * 9 / 10)
        );
        std::process::exit(2);
    }
    let (broker, bootstrap) = start_broker(target);
    // PUREKAFKA_BENCH_TOPIC: read this existing topic (of `partitions`
    // partitions, holding exactly `records`) instead of filling a new one.
    let existing = std::env::var("PUREKAFKA_BENCH_TOPIC")
        .ok()
        .filter(|t| !t.is_empty());
    let topic = existing
        .clone()
        .unwrap_or_else(|| format!("bench-consume-{}", std::process::id()));
    if let (Some(b), None) = (&broker, &existing) {
        b.create_topic(&topic, u32::try_from(partitions).expect("partitions"))
            .expect("create topic");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let p = i32::try_from(partitions).expect("partitions");
        if existing.is_none() {
        // Fill.
        let mut cfg = ProducerConfig::new(&bootstrap);
        cfg.acks = Acks::All;
        cfg.enable_idempotence = Some(true);
        cfg.set("compression.type", "none").expect("compression.type");
        cfg.linger = Duration::from_millis(5);
        cfg.batch_size = 256 * 1024;
        for (k, v) in purekafka_benches::extra_properties() {
            cfg.set(&k, &v).expect(&k);
        }
        let producer = Producer::new(cfg).await.expect("producer");
        let value = [b'x'; 100];
        let t0 = Instant::now();
        for i in 0..n {
            let key = (i as u32).to_be_bytes();
            let _delivery = producer
                .enqueue(ProducerRecord::to(&topic).partition(i as i32 % p).key(&key).value(&value))
                .await
                .expect("send");
        }
        producer.flush().await.expect("flush");
        let m = producer.metrics();
        assert!(m.failed_records == 0 && m.records_sent == n as u64, "fill failed: {m:?}");
        producer.close(Duration::from_secs(10)).await.expect("close");
        eprintln!(
            "filled {n} records in {:.1} s: {} batches of {:.0} B on average",
            t0.elapsed().as_secs_f64(),
            m.batches_sent,
            m.avg_batch_size
        );
        }

        // Read.
        let mut cfg = ConsumerConfig::new(&bootstrap);
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.max_poll_records = max_poll_records;
        cfg.fetch_max_wait = Duration::from_millis(fetch_max_wait_ms);
        for (k, v) in purekafka_benches::extra_properties() {
            cfg.set(&k, &v).expect(&k);
        }
        let consumer = Consumer::new(cfg).await.expect("consumer");
        let parts: Vec<(&str, i32)> = (0..p).map(|i| (topic.as_str(), i)).collect();
        let mut first_offset = vec![i64::MAX; partitions];
        let mut count = 0usize;
        let mut sink = 0usize;
        let mut bytes = 0usize;
        let mut polls = 0usize;
        perf_ctl("enable");
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        consumer.assign(&parts).expect("assign");
        while count < n {
            let records = consumer.poll(Duration::from_secs(10)).await.expect("poll");
            assert!(!records.is_empty(), "no record for 10 s after {count} of {n}");
            polls += 1;
            for r in &records {
                let k = r.key.as_deref().map_or(0, <[u8]>::len);
                let v = r.value.as_deref().map_or(0, |v| v.len() + usize::from(v.first().copied().unwrap_or(0)));
                sink += black_box(k + v);
                bytes += k + r.value.as_deref().map_or(0, <[u8]>::len);
                let f = &mut first_offset[r.partition as usize];
                *f = (*f).min(r.offset);
            }
            count += records.len();
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        perf_ctl("disable");
        // An existing topic may hold a few more (produce_bench's warm-up record).
        assert!(count == n || (existing.is_some() && count >= n), "read {count} records, more than the {n} written");
        assert!(first_offset.iter().all(|&o| o == 0), "a partition did not start at offset 0 (the broker dropped data?): {first_offset:?}");
        black_box(sink);
        let mb = bytes as f64 / 1e6;
        println!(
            "consume {n} records ({:.0} B key+value each) from {target}, {partitions} partitions, max.poll.records {max_poll_records}, fetch.max.wait.ms {fetch_max_wait_ms}: {:.0} records/s, {:.1} MB/s, client CPU {:.3} s = {:.3} CPU-s per million records, {:.0} records per poll",
            bytes as f64 / n as f64,
            n as f64 / wall,
            mb / wall,
            cpu,
            cpu / (n as f64 / 1e6),
            n as f64 / polls as f64,
        );
        consumer.close().await.expect("close");
    });
    drop(broker);
}

/// Tells `perf record --control` (fifo in `PERF_CTL`) to start or stop.
fn perf_ctl(cmd: &str) {
    if let Some(path) = std::env::var_os("PERF_CTL") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
            let _ = writeln!(f, "{cmd}");
        }
    }
}
