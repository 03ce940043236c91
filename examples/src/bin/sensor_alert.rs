//! The sensor high-temperature alert: readings arrive on `sensor-data`; a
//! reading above the threshold becomes an alert on
//! `high-temperature-alerts`, keyed by sensor.
//!
//! ```text
//! sensor_alert --bootstrap HOST:PORT --generate 50         # write sample readings, then exit
//! sensor_alert --bootstrap HOST:PORT [--expect 50] [--threshold 30.0]
//!     [--input sensor-data] [--alerts high-temperature-alerts]
//! ```

use purekafka::serde::{Json, TypedConsumer, TypedProducer, TypedProducerRecord, Utf8String};
use purekafka::{Consumer, ConsumerConfig, Producer, ProducerConfig};
use purekafka_examples::{Args, now_ms};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize)]
struct Reading {
    sensor_id: String,
    temperature: f64,
    timestamp: i64,
}

#[derive(Serialize)]
struct Alert {
    sensor_id: String,
    temperature: f64,
    threshold: f64,
    timestamp: i64,
}

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let input = args.or("input", "sensor-data");
    let alerts = args.or("alerts", "high-temperature-alerts");
    let threshold: f64 = args.num("threshold", 30.0);
    let config = ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "sensor-alert"),
        ("linger.ms", "5"),
    ])?;
    if let Some(n) = args.get("generate") {
        let n: u32 = n.parse().unwrap_or(50);
        let p: TypedProducer<str, Reading, Utf8String, Json> =
            TypedProducer::with_serializers(Producer::new(config).await?, Utf8String, Json);
        for i in 0..n {
            let sensor = format!("sensor-{}", i % 5);
            // 20.0 to 34.5 °C: every tenth-of-the-cycle reading is hot.
            let r = Reading {
                sensor_id: sensor.clone(),
                temperature: 20.0 + f64::from(i % 30) / 2.0,
                timestamp: now_ms(),
            };
            p.send_record(
                TypedProducerRecord::to(&input)
                    .key(sensor.as_str())
                    .value(&r),
            )
            .await?;
        }
        p.close(Duration::from_secs(10)).await?;
        println!("generated {n} readings to {input}");
        return Ok(());
    }
    let expect: u64 = args.num("expect", u64::MAX);
    let consumer: TypedConsumer<String, Reading, Utf8String, Json> =
        TypedConsumer::with_deserializers(
            Consumer::new(ConsumerConfig::from_properties([
                ("bootstrap.servers", bootstrap.as_str()),
                ("group.id", "sensor-alert"),
                ("auto.offset.reset", "earliest"),
            ])?)
            .await?,
            Utf8String,
            Json,
        );
    consumer.consumer().subscribe(&[input.as_str()])?;
    let producer: TypedProducer<str, Alert, Utf8String, Json> =
        TypedProducer::with_serializers(Producer::new(config).await?, Utf8String, Json);
    let (mut readings, mut hot) = (0u64, 0u64);
    let mut last = Instant::now();
    while readings < expect && last.elapsed() < Duration::from_secs(10) {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if records.is_empty() {
            continue;
        }
        last = Instant::now();
        for r in records {
            let Ok(Some(reading)) = r.value else { continue };
            readings += 1;
            if reading.temperature > threshold {
                hot += 1;
                println!(
                    "ALERT {}: {:.1} °C > {threshold:.1} °C",
                    reading.sensor_id, reading.temperature
                );
                let alert = Alert {
                    sensor_id: reading.sensor_id.clone(),
                    temperature: reading.temperature,
                    threshold,
                    timestamp: reading.timestamp,
                };
                producer
                    .send_record(
                        TypedProducerRecord::to(&alerts)
                            .key(reading.sensor_id.as_str())
                            .value(&alert),
                    )
                    .await?;
            }
        }
    }
    producer.close(Duration::from_secs(10)).await?;
    consumer.close().await?;
    println!("checked {readings} readings: {hot} above {threshold:.1} °C sent to {alerts}");
    Ok(())
}
