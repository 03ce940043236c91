//! The real-time log processing system: applications write JSON log lines
//! to `raw-logs`; the processor counts them by level, sends an alert to
//! `alerts` for every ERROR, and publishes the counts to `log-metrics`.
//!
//! ```text
//! log_processor --bootstrap HOST:PORT --generate 1000      # write sample logs, then exit
//! log_processor --bootstrap HOST:PORT [--expect 1000]       # process (until N records, or idle 10 s)
//!     [--raw-logs raw-logs] [--alerts alerts] [--metrics log-metrics] [--group log-processor]
//! ```

use purekafka::serde::{Json, TypedProducer, TypedProducerRecord, Utf8String};
use purekafka::{Consumer, ConsumerConfig, Producer, ProducerConfig};
use purekafka_examples::{Args, now_ms};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize)]
struct LogLine {
    timestamp: i64,
    level: String,
    service: String,
    message: String,
}

#[derive(Serialize)]
struct Alert<'a> {
    service: &'a str,
    message: &'a str,
    log_timestamp: i64,
    source: String,
}

#[derive(Serialize)]
struct Metrics<'a> {
    timestamp: i64,
    processed: u64,
    counts: &'a BTreeMap<String, u64>,
}

async fn producer(bootstrap: &str, id: &str) -> purekafka::Result<Producer> {
    Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("client.id", id),
        ("acks", "all"),
        ("linger.ms", "5"),
        ("compression.type", "lz4"),
    ])?)
    .await
}

async fn generate(bootstrap: &str, topic: &str, n: u64) -> purekafka::Result<()> {
    let p: TypedProducer<str, LogLine, Utf8String, Json> = TypedProducer::with_serializers(
        producer(bootstrap, "log-generator").await?,
        Utf8String,
        Json,
    );
    let levels = ["INFO", "INFO", "WARN", "ERROR", "DEBUG"];
    let services = ["api", "auth", "billing"];
    let mut last = None;
    for i in 0..n {
        let service = services[(i % 3) as usize];
        let line = LogLine {
            timestamp: now_ms(),
            level: levels[(i % 5) as usize].to_owned(),
            service: service.to_owned(),
            message: format!("request {i} handled"),
        };
        last = Some(
            p.enqueue(TypedProducerRecord::to(topic).key(service).value(&line))
                .await?,
        );
    }
    p.flush().await?;
    if let Some(f) = last {
        f.await?;
    }
    p.close(Duration::from_secs(10)).await?;
    println!("generated {n} log lines to {topic}");
    Ok(())
}

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let raw = args.or("raw-logs", "raw-logs");
    let alerts_topic = args.or("alerts", "alerts");
    let metrics_topic = args.or("metrics", "log-metrics");
    if let Some(n) = args.get("generate") {
        let n = n.parse().unwrap_or(1000);
        return generate(&bootstrap, &raw, n).await;
    }
    let expect: u64 = args.num("expect", u64::MAX);
    let group = args.or("group", "log-processor");

    let consumer = Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
    ])?)
    .await?;
    consumer.subscribe(&[raw.as_str()])?;
    let out: TypedProducer<str, serde_json::Value, Utf8String, Json> =
        TypedProducer::with_serializers(
            producer(&bootstrap, "log-processor").await?,
            Utf8String,
            Json,
        );

    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let (mut processed, mut alerts, mut bad) = (0u64, 0u64, 0u64);
    let mut last_record = Instant::now();
    while processed < expect && last_record.elapsed() < Duration::from_secs(10) {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if records.is_empty() {
            continue;
        }
        last_record = Instant::now();
        let mut pending = Vec::new();
        for r in &records {
            processed += 1;
            let Ok(line) =
                serde_json::from_slice::<LogLine>(r.value.as_deref().unwrap_or_default())
            else {
                bad += 1;
                continue;
            };
            *counts.entry(line.level.clone()).or_default() += 1;
            if line.level == "ERROR" {
                let alert = Alert {
                    service: &line.service,
                    message: &line.message,
                    log_timestamp: line.timestamp,
                    source: format!("{}-{}@{}", r.topic, r.partition, r.offset),
                };
                let value = serde_json::to_value(&alert)
                    .map_err(|e| purekafka::Error::Serialization(e.to_string()))?;
                pending.push(
                    out.enqueue(
                        TypedProducerRecord::to(&alerts_topic)
                            .key(line.service.as_str())
                            .value(&value),
                    )
                    .await?,
                );
                alerts += 1;
            }
        }
        // The window's counts go to log-metrics; alerts and metrics are
        // written before the input is committed (at-least-once).
        let metrics = Metrics {
            timestamp: now_ms(),
            processed,
            counts: &counts,
        };
        let value = serde_json::to_value(&metrics)
            .map_err(|e| purekafka::Error::Serialization(e.to_string()))?;
        out.send_record(
            TypedProducerRecord::to(&metrics_topic)
                .key("log-processor")
                .value(&value),
        )
        .await?;
        for alert in pending {
            alert.await?;
        }
        consumer.commit().await?;
    }
    out.flush().await?;
    out.close(Duration::from_secs(10)).await?;
    consumer.close().await?;
    println!(
        "processed {processed} log lines ({bad} unreadable): {counts:?}; {alerts} alerts to {alerts_topic}"
    );
    Ok(())
}
