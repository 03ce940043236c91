//! The demo's Rust half: produce a stream of JSON events with purekafka,
//! then read them back in a consumer group, and say what happened and how
//! fast. `scripts/demo.sh` starts the broker and runs this.
//!
//! ```text
//! demo --bootstrap HOST:PORT --topic TOPIC [--events N]
//! ```

use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::Consumer;
use purekafka::producer::Producer;
use purekafka::serde::{TypedConsumer, TypedProducer, TypedProducerRecord, Utf8String};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// An event, as an application would send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    id: u64,
    user: String,
    kind: String,
    ts: i64,
    price_cents: u32,
    path: String,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bootstrap), Some(topic)) = (arg(&args, "--bootstrap"), arg(&args, "--topic")) else {
        eprintln!("usage: demo --bootstrap HOST:PORT --topic TOPIC [--events N]");
        std::process::exit(2);
    };
    let events: u64 = arg(&args, "--events")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    if let Err(e) = run(&bootstrap, &topic, events).await {
        eprintln!("demo: FAILED: {e}");
        std::process::exit(1);
    }
}

async fn run(bootstrap: &str, topic: &str, n: u64) -> purekafka::Result<()> {
    // Producer: the Java/librdkafka property names work as they are.
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("client.id", "purekafka-demo"),
        ("compression.type", "lz4"),
        ("linger.ms", "5"),
        ("acks", "all"),
    ])?;
    let producer: TypedProducer<str, Event, Utf8String> = TypedProducer::with_serializers(
        Producer::new(config).await?,
        Utf8String,
        purekafka::serde::Json,
    );
    let kinds = ["page_view", "click", "add_to_cart", "checkout", "search"];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let t0 = Instant::now();
    let mut last = None;
    for i in 0..n {
        let user = format!("user-{}", (i * 7919) % 1000);
        let event = Event {
            id: i,
            user: user.clone(),
            kind: kinds[(i % 5) as usize].to_string(),
            ts: now + i as i64,
            price_cents: ((i * 104_729) % 100_000) as u32,
            path: format!("/p/{}", (i * 31) % 5000),
        };
        // Enqueued, not awaited one by one: the events share batches.
        last = Some(
            producer
                .enqueue(
                    TypedProducerRecord::to(topic)
                        .key(user.as_str())
                        .value(&event),
                )
                .await?,
        );
    }
    producer.producer().flush().await?;
    if let Some(f) = last {
        f.await?;
    }
    let produced = t0.elapsed();
    let m = producer.metrics();
    println!(
        "demo: produced {n} JSON events in {:.2}s = {:.0} events/s ({} batches, avg {:.0} B compressed, {} retries)",
        produced.as_secs_f64(),
        n as f64 / produced.as_secs_f64(),
        m.batches_sent,
        m.avg_batch_size,
        m.retries
    );
    producer.producer().close(Duration::from_secs(10)).await?;

    // Consumer group: the group assigns every partition to this member.
    let mut config = ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("group.id", "purekafka-demo"),
        ("client.id", "purekafka-demo"),
        ("enable.auto.commit", "true"),
    ])?;
    config.auto_offset_reset = OffsetReset::Earliest;
    config.fetch_max_wait = Duration::from_millis(100);
    let consumer: TypedConsumer<String, Event, Utf8String> = TypedConsumer::with_deserializers(
        Consumer::new(config).await?,
        Utf8String,
        purekafka::serde::Json,
    );
    consumer.consumer().subscribe(&[topic])?;
    let t0 = Instant::now();
    let mut seen = HashSet::new();
    let mut bad = 0u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while (seen.len() as u64) < n && Instant::now() < deadline {
        for r in consumer.poll(Duration::from_millis(500)).await? {
            match r.value {
                Ok(Some(e)) => {
                    seen.insert(e.id);
                }
                _ => bad += 1,
            }
        }
    }
    let consumed = t0.elapsed();
    println!(
        "demo: consumed {} events in group purekafka-demo in {:.2}s = {:.0} events/s (assignment: {} partitions, {bad} undecodable)",
        seen.len(),
        consumed.as_secs_f64(),
        seen.len() as f64 / consumed.as_secs_f64(),
        consumer.consumer().assignment().len()
    );
    consumer.consumer().commit().await?;
    consumer.consumer().close().await?;
    if seen.len() as u64 != n || bad > 0 {
        return Err(purekafka::Error::Serialization(format!(
            "expected {n} distinct events back, got {} ({bad} bad)",
            seen.len()
        )));
    }
    println!("demo: ok: every event produced was consumed back");
    Ok(())
}
