//! The high-throughput consumer: a group member with large fetches that
//! handles the end of each partition (`enable.partition.eof`, librdkafka's
//! `_PARTITION_EOF`) and, with `--exit-at-eof`, stops once every assigned
//! partition has reached it.
//!
//! ```text
//! high_throughput_consumer --bootstrap HOST:PORT [--topic events] [--group ht-consumer] [--exit-at-eof]
//! ```

use purekafka::consumer::ConsumerEvent;
use purekafka::{Consumer, ConsumerConfig};
use purekafka_examples::Args;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let topic = args.or("topic", "events");
    let group = args.or("group", "ht-consumer");
    let exit_at_eof = std::env::args().any(|a| a == "--exit-at-eof");

    let config = ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("client.id", "high-throughput-consumer"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "true"),
        ("auto.commit.interval.ms", "1000"),
        ("fetch.min.bytes", "65536"),
        ("fetch.max.wait.ms", "100"),
        ("max.partition.fetch.bytes", "4194304"),
        ("max.poll.records", "5000"),
        ("enable.partition.eof", "true"),
    ])?;
    let consumer = Consumer::new(config).await?;
    consumer.subscribe(&[topic.as_str()])?;

    let start = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut at_end: BTreeSet<i32> = BTreeSet::new();
    loop {
        for event in consumer.poll_events(Duration::from_millis(500)).await? {
            match event {
                ConsumerEvent::Record(r) => {
                    records += 1;
                    bytes += r.value.as_ref().map_or(0, |v| v.len()) as u64;
                    at_end.remove(&r.partition);
                }
                ConsumerEvent::PartitionEof {
                    topic,
                    partition,
                    offset,
                } => {
                    println!("reached end of {topic} [{partition}] at offset {offset}");
                    at_end.insert(partition);
                }
            }
        }
        let assigned = consumer.assignment();
        if exit_at_eof
            && !assigned.is_empty()
            && assigned.iter().all(|tp| at_end.contains(&tp.partition))
        {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    consumer.close().await?;
    println!(
        "consumed {records} records ({:.1} MB) from {} partitions in {secs:.2} s: {:.0} records/s",
        bytes as f64 / 1e6,
        at_end.len(),
        records as f64 / secs
    );
    Ok(())
}
