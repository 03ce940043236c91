//! Producer benchmark: records/s, MB/s and client CPU-seconds per million
//! records, 100-byte records, acks=all, idempotence on, against a local broker.
//!
//! ```text
//! cargo run --release -p purekafka-benches --bin produce_bench -- [records] [mock|tansu|BOOTSTRAP]
//! ```
//! With `mock` (the default) the project's librdkafka mock cluster is started;
//! with `tansu`, the project's tansu; anything else is a bootstrap list. Client
//! CPU is this process's user+system time (the broker runs in another
//! process), read from /proc/self/stat.
//!
//! `benches/kafka_bench.py` runs it beside the Java client on one Kafka with
//! these (all optional): `PUREKAFKA_BENCH_TOPIC` (an existing topic: none is
//! created), `PUREKAFKA_BENCH_PARTITIONS` (6), `PUREKAFKA_BENCH_KEY_BYTES`
//! (4; 16 writes random 16-digit decimal keys, as the Java tool's
//! `--key-distribution random --record-key-range 10^16` does),
//! `PUREKAFKA_BENCH_BATCH_SIZE` (262144), `PUREKAFKA_BENCH_PROPERTIES` (more
//! client properties, `k=v;k=v`: TLS for the SSL rows),
//! `PUREKAFKA_BENCH_TRANSACTION_MS` (transactional: a `transactional.id`,
//! and a commit once a transaction has run this long, as
//! ProducerPerformance's `--transaction-duration-ms` does: the send loop
//! commits, waiting for it, then begins the next).

use purekafka::config::{Acks, ProducerConfig};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_benches::{cpu_seconds, start_broker};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let target = args.get(2).map_or("mock", String::as_str);
    let (broker, bootstrap) = start_broker(target);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let num = |k: &str, d: usize| env(k).map_or(d, |v| v.parse().expect(k));
    let key_mode = env("PUREKAFKA_BENCH_KEY_BYTES").unwrap_or_else(|| "4".into());
    let java_keys = key_mode == "java";
    let key_bytes: usize = if java_keys {
        10
    } else {
        key_mode.parse().expect("PUREKAFKA_BENCH_KEY_BYTES")
    };
    let batch_size = num("PUREKAFKA_BENCH_BATCH_SIZE", 256 * 1024);
    let partitions = num("PUREKAFKA_BENCH_PARTITIONS", 6);
    let txn_ms = env("PUREKAFKA_BENCH_TRANSACTION_MS")
        .map(|v| Duration::from_millis(v.parse().expect("PUREKAFKA_BENCH_TRANSACTION_MS")));
    let topic = env("PUREKAFKA_BENCH_TOPIC")
        .unwrap_or_else(|| format!("bench-produce-{}", std::process::id()));
    if let Some(b) = &broker {
        b.create_topic(&topic, u32::try_from(partitions).expect("partitions"))
            .expect("create topic");
    }
    // Keys made before the clock starts, so formatting them is not timed.
    let keys: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            if java_keys {
                let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33;
                (x % 2_000_000_000).to_string().into_bytes()
            } else if key_bytes == 16 {
                // A cheap deterministic spread over [10^15, 10^16): 16 digits.
                let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % 9_000_000_000_000_000
                    + 1_000_000_000_000_000;
                format!("{x:016}").into_bytes()
            } else {
                let mut k = (i as u32).to_be_bytes().to_vec();
                k.resize(key_bytes, 0);
                k
            }
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut cfg = ProducerConfig::new(&bootstrap);
        cfg.acks = Acks::All;
        cfg.enable_idempotence = Some(true);
        cfg.linger = Duration::from_millis(5);
        cfg.batch_size = batch_size;
        if txn_ms.is_some() {
            cfg.transactional_id = Some(format!("bench-txn-{}", std::process::id()));
        }
        for (k, v) in purekafka_benches::extra_properties() {
            cfg.set(&k, &v).expect(&k);
        }
        let producer = Producer::new(cfg).await.expect("producer");
        // Warm up: metadata, producer id, connections.
        if txn_ms.is_some() {
            producer.init_transactions().await.expect("init_transactions");
            producer.begin_transaction().expect("begin");
            producer.send(ProducerRecord::to(&topic).value("warm-up")).await.expect("ack");
            producer.commit_transaction().await.expect("commit");
        } else {
            producer.send(ProducerRecord::to(&topic).value("warm-up")).await.expect("ack");
        }
        let value = [b'x'; 100];
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let mut last = None;
        let mut transactions = 0u64;
        let mut txn_start = Instant::now();
        if txn_ms.is_some() {
            producer.begin_transaction().expect("begin");
        }
        for (i, key) in keys.iter().enumerate() {
            if let Some(d) = txn_ms
                && txn_start.elapsed() >= d
            {
                producer.commit_transaction().await.expect("commit");
                transactions += 1;
                producer.begin_transaction().expect("begin");
                txn_start = Instant::now();
            }
            let f = producer.enqueue(ProducerRecord::to(&topic).key(key).value(&value)).await.expect("send");
            if i + 1 == n {
                last = Some(f);
            }
        }
        if txn_ms.is_some() {
            producer.commit_transaction().await.expect("commit");
            transactions += 1;
        } else {
            producer.flush().await.expect("flush");
        }
        if let Some(f) = last {
            f.await.expect("last record acknowledged");
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let m = producer.metrics();
        assert!(m.failed_records == 0, "{m:?}");
        let mb = (n * 100) as f64 / 1e6;
        let txns = match txn_ms {
            Some(d) => format!(", {transactions} transactions of {} ms", d.as_millis()),
            None => String::new(),
        };
        println!(
            "produce {n} x ({key_mode} B key + 100 B value) to {target}, {partitions} partitions, batch.size {batch_size}{txns}: {:.0} records/s, {:.1} MB/s, client CPU {:.3} s = {:.3} CPU-s per million records, avg batch {:.0} B",
            n as f64 / wall,
            mb / wall,
            cpu,
            cpu / (n as f64 / 1e6),
            m.avg_batch_size
        );
        producer.close(Duration::from_secs(10)).await.expect("close");
    });
    drop(broker);
}
