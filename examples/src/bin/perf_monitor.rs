//! Performance monitoring: a producer and a consumer run on one topic while
//! the client's metrics (records/s, bytes, request latency, errors, retries,
//! consumer lag) are printed periodically and served in the Prometheus text
//! format on a local port, for any metrics system to scrape.
//!
//! ```text
//! perf_monitor --bootstrap HOST:PORT [--topic perf] [--seconds 30] [--rate 2000]
//!     [--port 9464] [--interval-ms 1000]
//! ```
//! `--port 0` picks a free port; the first line printed names it.

use purekafka::producer::MetricsSnapshot;
use purekafka::{Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
use purekafka_examples::Args;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the consumer side measures (the producer keeps its own metrics).
#[derive(Default)]
struct ConsumerStats {
    records: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    lag: AtomicI64,
}

struct Snapshot {
    producer: MetricsSnapshot,
    consumed: u64,
    consumed_bytes: u64,
    consumer_errors: u64,
    lag: i64,
}

fn prometheus(s: &Snapshot) -> String {
    let p = &s.producer;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "purekafka_producer_records_sent_total",
        "counter",
        "Records acknowledged by brokers.",
        p.records_sent as f64,
    );
    metric(
        "purekafka_producer_bytes_sent_total",
        "counter",
        "Batch bytes sent (after compression).",
        p.bytes_sent as f64,
    );
    metric(
        "purekafka_producer_requests_total",
        "counter",
        "Produce requests sent.",
        p.requests as f64,
    );
    metric(
        "purekafka_producer_retries_total",
        "counter",
        "Retries scheduled.",
        p.retries as f64,
    );
    metric(
        "purekafka_producer_errors_total",
        "counter",
        "Error responses and failed requests.",
        p.errors as f64,
    );
    metric(
        "purekafka_producer_request_latency_seconds",
        "gauge",
        "Average produce request latency.",
        p.avg_request_latency.as_secs_f64(),
    );
    metric(
        "purekafka_producer_buffer_used_bytes",
        "gauge",
        "Bytes of buffer.memory in use.",
        p.buffer_used as f64,
    );
    metric(
        "purekafka_consumer_records_total",
        "counter",
        "Records consumed.",
        s.consumed as f64,
    );
    metric(
        "purekafka_consumer_bytes_total",
        "counter",
        "Value bytes consumed.",
        s.consumed_bytes as f64,
    );
    metric(
        "purekafka_consumer_errors_total",
        "counter",
        "Failed polls.",
        s.consumer_errors as f64,
    );
    metric(
        "purekafka_consumer_lag",
        "gauge",
        "Records between the consumer's positions and the high watermarks.",
        s.lag as f64,
    );
    out
}

/// Serves `/metrics` (any path, in fact) until the process ends.
async fn serve(
    listener: tokio::net::TcpListener,
    snapshot: Arc<dyn Fn() -> Snapshot + Send + Sync>,
) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let snapshot = snapshot.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await; // the request line; one per connection
            let body = prometheus(&snapshot());
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

#[tokio::main]
async fn main() -> purekafka::Result<()> {
    let args = Args::from_env();
    let bootstrap = args.bootstrap();
    let topic = args.or("topic", "perf");
    let seconds: u64 = args.num("seconds", 30);
    let rate: u64 = args.num("rate", 2000).max(1);
    let port: u16 = args.num("port", 9464);
    let interval = Duration::from_millis(args.num("interval-ms", 1000));

    let producer = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("client.id", "perf-monitor"),
        ("linger.ms", "5"),
        ("compression.type", "lz4"),
    ])?)
    .await?;
    let consumer = Consumer::new(ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", "perf-monitor"),
        ("auto.offset.reset", "earliest"),
    ])?)
    .await?;
    consumer.subscribe(&[topic.as_str()])?;
    let stats = Arc::new(ConsumerStats::default());

    let snapshot: Arc<dyn Fn() -> Snapshot + Send + Sync> = {
        let (producer, stats) = (producer.clone(), stats.clone());
        Arc::new(move || Snapshot {
            producer: producer.metrics(),
            consumed: stats.records.load(Ordering::Relaxed),
            consumed_bytes: stats.bytes.load(Ordering::Relaxed),
            consumer_errors: stats.errors.load(Ordering::Relaxed),
            lag: stats.lag.load(Ordering::Relaxed),
        })
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            purekafka::Error::Serialization(format!("cannot listen on port {port}: {e}"))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| purekafka::Error::Serialization(e.to_string()))?;
    println!("serving Prometheus metrics on http://{addr}/metrics");
    tokio::spawn(serve(listener, snapshot.clone()));

    // The consumer: counts what it reads, and its lag after each poll.
    let reader = {
        let (consumer, stats) = (consumer.clone(), stats.clone());
        tokio::spawn(async move {
            loop {
                match consumer.poll(Duration::from_millis(200)).await {
                    Ok(records) => {
                        for r in &records {
                            stats.records.fetch_add(1, Ordering::Relaxed);
                            stats.bytes.fetch_add(
                                r.value.as_ref().map_or(0, |v| v.len()) as u64,
                                Ordering::Relaxed,
                            );
                        }
                        let mut lag = 0;
                        for tp in consumer.assignment() {
                            let hw = consumer.high_watermark(&tp).unwrap_or(-1);
                            let pos = tokio::time::timeout(
                                Duration::from_millis(1),
                                consumer.position(&tp),
                            )
                            .await;
                            if let (true, Ok(Ok(pos))) = (hw >= 0, pos) {
                                lag += (hw - pos).max(0);
                            }
                        }
                        stats.lag.store(lag, Ordering::Relaxed);
                    }
                    Err(purekafka::Error::Closed(_)) => break,
                    Err(_) => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };

    // The load: `rate` records a second; the metrics printed every interval.
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let last_print = Arc::new(Mutex::new((Instant::now(), 0u64, 0u64)));
    let mut sent = 0u64;
    while Instant::now() < end {
        let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let value = format!("{{\"n\":{sent},\"payload\":\"{}\"}}", "x".repeat(100));
        // Fire and forget: the producer's metrics count the outcome.
        drop(
            producer
                .enqueue(ProducerRecord::to(&topic).value(&value))
                .await?,
        );
        sent += 1;
        let mut last = last_print
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.0.elapsed() >= interval {
            let s = snapshot();
            let secs = last.0.elapsed().as_secs_f64();
            println!(
                "metrics: produced {:.0} records/s ({} total, {} bytes, avg request {:.1} ms, {} errors, {} retries); \
                 consumed {:.0} records/s ({} total), lag {}",
                (s.producer.records_sent - last.1) as f64 / secs,
                s.producer.records_sent,
                s.producer.bytes_sent,
                s.producer.avg_request_latency.as_secs_f64() * 1e3,
                s.producer.errors,
                s.producer.retries,
                (s.consumed - last.2) as f64 / secs,
                s.consumed,
                s.lag
            );
            *last = (Instant::now(), s.producer.records_sent, s.consumed);
        }
    }
    producer.flush().await?;
    // Let the consumer catch up (at most 10 s), then stop.
    let catch_up = Instant::now();
    while stats.records.load(Ordering::Relaxed) < sent
        && catch_up.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    consumer.close().await?;
    let _ = reader.await;
    producer.close(Duration::from_secs(10)).await?;
    let s = snapshot();
    println!(
        "done: produced {} records, consumed {}, {} producer errors, {} consumer errors",
        s.producer.records_sent, s.consumed, s.producer.errors, s.consumer_errors
    );
    Ok(())
}
