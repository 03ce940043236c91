//! The event-driven microservice: user, order and payment events, each
//! routed by its handler to a processed topic; a failing handler is retried
//! with exponential backoff, and what still fails goes to a dead-letter
//! topic with the error and the attempt count in its headers.
//!
//! ```text
//! event_microservice --bootstrap HOST:PORT --generate 30   # write sample events, then exit
//! event_microservice --bootstrap HOST:PORT [--expect 30] [--prefix P] [--group event-service]
//! ```
//! Topics: `user-events`, `order-events`, `payment-events`, each with a
//! `-processed` twin, and `dead-letter` (all prefixed `P-` with `--prefix P`).
//! A sample event with `"fail": "twice"` fails its first two attempts; with
//! `"fail": "always"` it ends in the dead-letter topic.

use purekafka::{Consumer, ConsumerConfig, Header, Producer, ProducerConfig, ProducerRecord};
use purekafka_examples::Args;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const KINDS: [&str; 3] = ["user", "order", "payment"];
const MAX_ATTEMPTS: u32 = 4;
const BASE_BACKOFF: Duration = Duration::from_millis(20);

struct Topics {
    prefix: String,
}

impl Topics {
    fn name(&self, base: &str) -> String {
        if self.prefix.is_empty() {
            base.to_owned()
        } else {
            format!("{}-{base}", self.prefix)
        }
    }
    fn input(&self, kind: &str) -> String {
        self.name(&format!("{kind}-events"))
    }
    fn processed(&self, kind: &str) -> String {
        self.name(&format!("{kind}-events-processed"))
    }
}

/// One handler attempt. `attempt` starts at 1.
fn handle(kind: &str, event: &Value, attempt: u32) -> Result<Value, String> {
    match event.get("fail").and_then(Value::as_str) {
        Some("always") => return Err(format!("{kind} handler rejected event {}", event["id"])),
        Some("twice") if attempt <= 2 => {
            return Err(format!("transient failure on attempt {attempt}"));
        }
        _ => {}
    }
    let mut out = event.clone();
    let status = match kind {
        "user" => "profile-updated",
        "order" => "order-confirmed",
        _ => "payment-captured",
    };
    out["status"] = json!(status);
    out["attempts"] = json!(attempt);
    Ok(out)
}

async fn generate(producer: &Producer, topics: &Topics, n: u64) -> purekafka::Result<()> {
    for i in 0..n {
        let kind = KINDS[(i % 3) as usize];
        let fail = match i % 10 {
            4 => json!("twice"),
            7 => json!("always"),
            _ => Value::Null,
        };
        let event = json!({ "id": i, "type": kind, "fail": fail, "amount_cents": i * 100 });
        let value = event.to_string();
        let key = format!("{kind}-{i}");
        producer
            .send(
                ProducerRecord::to(&topics.input(kind))
                    .key(&key)
                    .value(&value),
            )
            .await?;
    }
    println!("generated {n} events");
    Ok(())
}

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let topics = Topics {
        prefix: args.or("prefix", ""),
    };
    let producer = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "event-service"),
        ("acks", "all"),
        ("enable.idempotence", "true"),
    ])?)
    .await?;
    if let Some(n) = args.get("generate") {
        return generate(&producer, &topics, n.parse().unwrap_or(30)).await;
    }
    let expect: u64 = args.num("expect", u64::MAX);
    let group = args.or("group", "event-service");
    let consumer = Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
    ])?)
    .await?;
    let inputs: Vec<String> = KINDS.iter().map(|k| topics.input(k)).collect();
    let input_refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    consumer.subscribe(&input_refs)?;
    let dead_letter = topics.name("dead-letter");

    let mut routed: BTreeMap<String, u64> = BTreeMap::new();
    let (mut seen, mut retries, mut dead) = (0u64, 0u64, 0u64);
    let mut last_record = Instant::now();
    while seen < expect && last_record.elapsed() < Duration::from_secs(10) {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if records.is_empty() {
            continue;
        }
        last_record = Instant::now();
        for r in &records {
            seen += 1;
            let kind = KINDS
                .iter()
                .find(|k| *r.topic == topics.input(k))
                .copied()
                .unwrap_or("user");
            let raw = r.value.as_deref().unwrap_or_default();
            let parsed: Result<Value, String> =
                serde_json::from_slice(raw).map_err(|e| format!("not JSON: {e}"));
            // Retry with exponential backoff: 20, 40, 80 ms between attempts.
            let mut attempt = 1;
            let outcome = loop {
                let result = parsed.clone().and_then(|e| handle(kind, &e, attempt));
                match result {
                    Ok(v) => break Ok(v),
                    Err(e) if attempt >= MAX_ATTEMPTS || parsed.is_err() => break Err(e),
                    Err(_) => {
                        tokio::time::sleep(BASE_BACKOFF * 2u32.pow(attempt - 1)).await;
                        attempt += 1;
                        retries += 1;
                    }
                }
            };
            match outcome {
                Ok(v) => {
                    let to = topics.processed(kind);
                    let value = v.to_string();
                    let mut rec = ProducerRecord::to(&to).value(&value);
                    rec.key = r.key.as_deref();
                    producer.send(rec).await?;
                    *routed.entry(to).or_default() += 1;
                }
                Err(error) => {
                    let headers = [
                        Header::new("error", Some(error.into_bytes().into())),
                        Header::new("attempts", Some(attempt.to_string().into_bytes().into())),
                        Header::new(
                            "source",
                            Some(
                                format!("{}-{}@{}", r.topic, r.partition, r.offset)
                                    .into_bytes()
                                    .into(),
                            ),
                        ),
                    ];
                    let mut rec = ProducerRecord::to(&dead_letter).headers(&headers);
                    rec.key = r.key.as_deref();
                    rec.value = r.value.as_deref();
                    producer.send(rec).await?;
                    dead += 1;
                }
            }
        }
        consumer.commit().await?;
    }
    consumer.close().await?;
    producer.close(Duration::from_secs(10)).await?;
    println!(
        "handled {seen} events: routed {routed:?}; {retries} retries; {dead} to {dead_letter}"
    );
    Ok(())
}
