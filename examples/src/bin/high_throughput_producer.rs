//! The high-throughput producer: lz4, large batches with a linger,
//! idempotence, records pipelined (enqueue now, acknowledgements later).
//!
//! ```text
//! high_throughput_producer --bootstrap HOST:PORT [--topic events] [--records 100000] [--size 200]
//! ```

use purekafka::{DeliveryFuture, Producer, ProducerConfig, ProducerRecord};
use purekafka_examples::Args;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let topic = args.or("topic", "events");
    let records: u64 = args.num("records", 100_000);
    let size: usize = args.num("size", 200);

    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "high-throughput-producer"),
        ("compression.type", "lz4"),
        ("batch.size", "131072"),
        ("linger.ms", "20"),
        ("enable.idempotence", "true"),
        ("acks", "all"),
        ("buffer.memory", "67108864"),
        ("max.in.flight.requests.per.connection", "5"),
    ])?;
    let producer = Producer::new(config).await?;
    let value: Vec<u8> = (0..size).map(|i| b"0123456789abcdef"[i % 16]).collect();
    let start = Instant::now();
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut failed = 0u64;
    for i in 0..records {
        let key = format!("key-{}", i % 1000);
        pending.push_back(
            producer
                .enqueue(ProducerRecord::to(&topic).key(&key).value(&value))
                .await?,
        );
        // Keep a bounded number of futures: settle the oldest as they finish.
        while pending.len() > 50_000 || pending.front().is_some_and(|f| f.try_result().is_some()) {
            if let Some(f) = pending.pop_front() {
                failed += u64::from(f.await.is_err());
            }
        }
    }
    producer.flush().await?;
    for f in pending {
        failed += u64::from(f.await.is_err());
    }
    let secs = start.elapsed().as_secs_f64();
    let m = producer.metrics();
    producer.close(Duration::from_secs(10)).await?;
    println!(
        "produced {records} records of {size} B to {topic} in {secs:.2} s: {:.0} records/s, {:.1} MB/s; \
         {} batches (avg {:.0} B compressed), {} retries, {failed} failed",
        records as f64 / secs,
        (records * size as u64) as f64 / 1e6 / secs,
        m.batches_sent,
        m.avg_batch_size,
        m.retries
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
