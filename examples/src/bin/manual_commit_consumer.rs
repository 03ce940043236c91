//! The manual-commit consumer group over several topics: auto-commit off,
//! each polled batch processed, then committed synchronously, so a restart
//! goes on after the last processed record. The seed's settings, spelled as
//! their property names.
//!
//! ```text
//! manual_commit_consumer --bootstrap HOST:PORT --topics user-events,orders
//!     [--group user-events-processor] [--expect N] [--idle-secs 10]
//! ```
//! It stops after `--expect` records, or once nothing arrived for `--idle-secs`.

use purekafka::{Consumer, ConsumerConfig};
use purekafka_examples::Args;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let topics = args.or("topics", "user-events");
    let group = args.or("group", "user-events-processor");
    let expect: u64 = args.num("expect", u64::MAX);
    let idle = Duration::from_secs(args.num("idle-secs", 10));

    let config = ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("client.id", "manual-commit-consumer"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        ("session.timeout.ms", "30000"),
        ("max.poll.records", "500"),
    ])?;
    let consumer = Consumer::new(config).await?;
    let topic_list: Vec<&str> = topics.split(',').collect();
    consumer.subscribe(&topic_list)?;

    let mut per_topic: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    let mut commits = 0u64;
    let mut last_record = Instant::now();
    while total < expect && last_record.elapsed() < idle {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if records.is_empty() {
            continue;
        }
        last_record = Instant::now();
        for r in &records {
            // "Processing": parse the JSON value, count it by topic.
            let value = r.value.as_deref().unwrap_or_default();
            if serde_json::from_slice::<serde_json::Value>(value).is_err() {
                eprintln!(
                    "{}-{}@{}: not JSON, skipped",
                    r.topic, r.partition, r.offset
                );
            }
            *per_topic.entry(r.topic.to_string()).or_default() += 1;
            total += 1;
        }
        // The batch is processed: commit it before asking for more.
        let committed = consumer.commit().await?;
        commits += 1;
        println!(
            "processed {} records, committed {} partitions",
            records.len(),
            committed.len()
        );
    }
    consumer.close().await?;
    println!(
        "consumed {total} records in group {group} with {commits} commits; per topic: {per_topic:?}"
    );
    Ok(())
}
