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
    let topic = format!("bench-produce-{}", std::process::id());
    if let Some(b) = &broker {
        b.create_topic(&topic, 6).expect("create topic");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut cfg = ProducerConfig::new(&bootstrap);
        cfg.acks = Acks::All;
        cfg.enable_idempotence = true;
        cfg.linger = Duration::from_millis(5);
        cfg.batch_size = 256 * 1024;
        let producer = Producer::new(cfg).await.expect("producer");
        // Warm up: metadata, producer id, connections.
        producer.send(ProducerRecord::to(&topic).value("warm-up")).await.expect("send").await.expect("ack");
        let value = [b'x'; 100];
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let mut last = None;
        for i in 0..n {
            let key = (i as u32).to_be_bytes();
            let f = producer.send(ProducerRecord::to(&topic).key(&key).value(&value)).await.expect("send");
            if i + 1 == n {
                last = Some(f);
            }
        }
        producer.flush().await.expect("flush");
        if let Some(f) = last {
            f.await.expect("last record acknowledged");
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let m = producer.metrics();
        assert!(m.failed_records == 0, "{m:?}");
        let mb = (n * 100) as f64 / 1e6;
        println!(
            "produce {n} x 100 B to {target}: {:.0} records/s, {:.1} MB/s, client CPU {:.3} s = {:.3} CPU-s per million records, avg batch {:.0} B",
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
