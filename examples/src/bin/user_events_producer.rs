//! The user-events producer: JSON events keyed by user id, sent in
//! batches of futures, each with a delivery callback, then flushed and
//! closed. The seed's settings, spelled as their property names.
//!
//! ```text
//! user_events_producer --bootstrap HOST:PORT [--topic user-events] [--events 100]
//! ```

use purekafka::serde::{Json, TypedProducer, TypedProducerRecord, Utf8String};
use purekafka::{Producer, ProducerConfig};
use purekafka_examples::{Args, now_ms};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Serialize)]
struct UserEvent {
    user_id: String,
    event_type: &'static str,
    timestamp: i64,
    properties: BTreeMap<&'static str, String>,
}

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let topic = args.or("topic", "user-events");
    let events: u64 = args.num("events", 100);

    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "user-events-producer"),
        ("acks", "all"),
        ("retries", "3"),
        ("batch.size", "16384"),
        ("linger.ms", "10"),
        ("compression.type", "snappy"),
        ("enable.idempotence", "true"),
    ])?;
    let producer: TypedProducer<str, UserEvent, Utf8String, Json> =
        TypedProducer::with_serializers(Producer::new(config).await?, Utf8String, Json);

    // The delivery callback: counts what was written where, and what failed.
    let delivered = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let per_partition: Arc<Mutex<BTreeMap<i32, u64>>> = Arc::default();
    let on_delivery = {
        let (ok, bad, parts) = (delivered.clone(), failed.clone(), per_partition.clone());
        move |result: purekafka::Result<purekafka::Delivered>| match result {
            Ok(d) => {
                ok.fetch_add(1, Ordering::Relaxed);
                *parts.lock().unwrap().entry(d.partition).or_default() += 1;
            }
            Err(e) => {
                bad.fetch_add(1, Ordering::Relaxed);
                eprintln!("delivery failed: {e}");
            }
        }
    };

    let kinds = ["login", "page_view", "add_to_cart", "purchase", "logout"];
    let batch_size = 25;
    let mut sent = 0;
    while sent < events {
        // One batch: enqueue every event, then wait for all their futures.
        let mut futures = Vec::new();
        let batch_end = (sent + batch_size).min(events);
        for i in sent..batch_end {
            let user = format!("user-{}", i % 10);
            let event = UserEvent {
                user_id: user.clone(),
                event_type: kinds[(i % 5) as usize],
                timestamp: now_ms(),
                properties: BTreeMap::from([("sequence", i.to_string())]),
            };
            let future = producer
                .enqueue(
                    TypedProducerRecord::to(&topic)
                        .key(user.as_str())
                        .value(&event),
                )
                .await?;
            futures.push(future);
        }
        let n = futures.len();
        sent = batch_end;
        // The batch's futures resolve as the broker acknowledges; each
        // outcome goes to the delivery callback (confluent-kafka calls it
        // from poll/flush in the same way).
        for f in futures {
            on_delivery(f.await);
        }
        println!("batch of {n} events acknowledged ({sent}/{events})");
    }
    producer.flush().await?;
    producer.close(Duration::from_secs(10)).await?;
    println!(
        "delivered {} events to {topic} ({} failed); per partition: {:?}",
        delivered.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        per_partition.lock().unwrap()
    );
    Ok(())
}
