//! `purekafka bench produce|consume`: throughput, latency percentiles and
//! the client's CPU time per million records, with a live progress line.

use crate::fail::{self, CliError, CliResult};
use crate::progress::Progress;
use crate::settings::Settings;
use crate::{Output, print_json};
use purekafka::{Consumer, Producer, ProducerRecord};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `bench`'s subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCmd {
    /// Produce N records as fast as the producer takes them.
    Produce(BenchProduce),
    /// Read N records from the beginning of every partition.
    Consume(BenchConsume),
}

/// `bench produce`'s options.
#[derive(Debug, clap::Args)]
pub struct BenchProduce {
    /// The topic (it must exist, or the broker must create topics on use).
    pub topic: String,
    /// Records to send.
    #[arg(short = 'n', long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Value size in bytes.
    #[arg(short = 's', long, default_value_t = 100)]
    pub size: usize,
    /// Key size in bytes (0: no key).
    #[arg(long, default_value_t = 0)]
    pub key_size: usize,
    /// No progress line.
    #[arg(long)]
    pub no_progress: bool,
}

/// `bench consume`'s options.
#[derive(Debug, clap::Args)]
pub struct BenchConsume {
    /// The topic.
    pub topic: String,
    /// Records to read (the run fails if the topic has fewer within --timeout).
    #[arg(short = 'n', long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// No progress line.
    #[arg(long)]
    pub no_progress: bool,
}

/// Latencies in a log-linear histogram (16 buckets per power of two of
/// microseconds: within ~6%), filled from any thread without locks.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
}

const SUB: u64 = 16;

impl Histogram {
    /// Empty.
    pub fn new() -> Histogram {
        Histogram {
            buckets: (0..64 * SUB).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn index(us: u64) -> usize {
        if us < SUB {
            return us as usize;
        }
        let exp = 63 - u64::from(us.leading_zeros()); // us >= 16: exp >= 4
        let sub = (us >> (exp - 4)) & (SUB - 1);
        ((exp - 3) * SUB + sub) as usize
    }

    fn lower_bound(i: usize) -> u64 {
        let i = i as u64;
        if i < SUB {
            return i;
        }
        let exp = i / SUB + 3;
        let sub = i % SUB;
        (SUB + sub) << (exp - 4)
    }

    /// Records one latency.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(Self::index(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The latency below which a fraction `q` of the samples fall, in ms.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let lo = Self::lower_bound(i);
                let hi = Self::lower_bound(i + 1).max(lo + 1);
                return Some((lo + hi) as f64 / 2.0 / 1000.0);
            }
        }
        None
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

/// This process's user + system CPU time, from /proc/self/stat (Linux);
/// `None` elsewhere.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5): 12 and 13 here.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // /proc reports in USER_HZ, 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// One benchmark's result.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    /// produce or consume.
    pub kind: &'static str,
    /// The topic.
    pub topic: String,
    /// Records measured.
    pub records: u64,
    /// Bytes (keys and values).
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Records per second.
    pub records_per_sec: f64,
    /// MB (10^6 bytes) per second.
    pub mb_per_sec: f64,
    /// Latency percentiles in ms (produce: enqueue to acknowledgement;
    /// consume: the record's age when read).
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
    /// Client CPU seconds per million records.
    pub cpu_s_per_million: Option<f64>,
}

fn print_report(r: &Report, output: Output) {
    match output {
        Output::Json => print_json(&serde_json::json!(r)),
        Output::Text => {
            let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
            let latency = if r.kind == "produce" {
                "latency: enqueue to acknowledgement"
            } else {
                "latency: record age when read"
            };
            println!(
                "| {:<7} | {:>10} | {:>8} | {:>11} | {:>7} | {:>7} | {:>7} | {:>8} | {:>12} |",
                "bench",
                "records",
                "seconds",
                "records/s",
                "MB/s",
                "p50 ms",
                "p99 ms",
                "p999 ms",
                "CPU-s/M rec"
            );
            println!(
                "| {:<7} | {:>10} | {:>8.2} | {:>11.0} | {:>7.1} | {:>7} | {:>7} | {:>8} | {:>12} |",
                r.kind,
                r.records,
                r.seconds,
                r.records_per_sec,
                r.mb_per_sec,
                ms(r.p50_ms),
                ms(r.p99_ms),
                ms(r.p999_ms),
                r.cpu_s_per_million
                    .map_or("-".to_owned(), |c| format!("{c:.2}"))
            );
            println!("({latency}; topic {})", r.topic);
        }
    }
}

fn report(
    kind: &'static str,
    topic: &str,
    records: u64,
    bytes: u64,
    elapsed: Duration,
    cpu: Option<f64>,
    h: &Histogram,
) -> Report {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    Report {
        kind,
        topic: topic.to_owned(),
        records,
        bytes,
        seconds,
        records_per_sec: records as f64 / seconds,
        mb_per_sec: bytes as f64 / 1e6 / seconds,
        p50_ms: h.quantile_ms(0.50),
        p99_ms: h.quantile_ms(0.99),
        p999_ms: h.quantile_ms(0.999),
        cpu_s_per_million: cpu
            .filter(|_| records > 0)
            .map(|c| c * 1e6 / records as f64),
    }
}

/// Runs a benchmark.
pub async fn run(settings: Settings, cmd: BenchCmd, output: Output) -> CliResult<()> {
    match cmd {
        BenchCmd::Produce(a) => produce(settings, a, output).await,
        BenchCmd::Consume(a) => consume(settings, a, output).await,
    }
}

async fn produce(settings: Settings, a: BenchProduce, output: Output) -> CliResult<()> {
    let bootstrap = settings.bootstrap().to_owned();
    let k = |e| fail::kafka(e, &bootstrap);
    let producer = Producer::new(settings.producer()?).await.map_err(k)?;
    crate::metadata::producer_partitions(&producer, &a.topic, &bootstrap).await?;
    let value: Vec<u8> = (0..a.size).map(|i| b'a' + (i % 26) as u8).collect();
    let hist = Arc::new(Histogram::new());
    let acked = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_error: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let mut progress = Progress::new("bench produce:", !a.no_progress);
    let per = (a.size + a.key_size) as u64;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut key = vec![b'0'; a.key_size];
    for i in 0..a.records {
        let mut rec = ProducerRecord::to(&a.topic).value(&value);
        if a.key_size > 0 {
            // A changing key spreads the records over the partitions.
            let digits = format!("{:0width$}", i % 1_000_000_007, width = a.key_size);
            let d = digits.as_bytes();
            let n = d.len().min(key.len());
            key[..n].copy_from_slice(&d[d.len() - n..]);
            rec = rec.key(&key);
        }
        let sent = Instant::now();
        let (h, ok, bad, first) = (
            hist.clone(),
            acked.clone(),
            failed.clone(),
            first_error.clone(),
        );
        producer
            .send_with_callback(rec, move |r| match r {
                Ok(_) => {
                    h.record(sent.elapsed());
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    bad.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut f) = first.lock()
                        && f.is_none()
                    {
                        *f = Some(e.to_string());
                    }
                }
            })
            .await
            .map_err(k)?;
        if i % 1024 == 0 {
            let n = acked.load(Ordering::Relaxed);
            progress.tick(n, n * per, n, Some(a.records));
        }
    }
    // Wait for every acknowledgement, drawing progress meanwhile.
    let flush = producer.flush();
    tokio::pin!(flush);
    loop {
        tokio::select! {
            r = &mut flush => { r.map_err(k)?; break; }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                let n = acked.load(Ordering::Relaxed);
                progress.tick(n, n * per, n, Some(a.records));
            }
        }
    }
    // Callbacks run right after the batch completes; give stragglers a moment.
    let settle = Instant::now();
    while acked.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < a.records
        && settle.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| b - a);
    progress.finish();
    let _ = producer.close(Duration::from_secs(10)).await;
    let n = acked.load(Ordering::Relaxed);
    print_report(
        &report("produce", &a.topic, n, n * per, elapsed, cpu, &hist),
        output,
    );
    let bad = failed.load(Ordering::Relaxed);
    if bad > 0 {
        let first = first_error.lock().ok().and_then(|f| f.clone());
        return Err(CliError::runtime(format!(
            "{bad} records failed; the first: {}",
            first.unwrap_or_default()
        )));
    }
    Ok(())
}

async fn consume(mut settings: Settings, a: BenchConsume, output: Output) -> CliResult<()> {
    let bootstrap = settings.bootstrap().to_owned();
    let k = |e| fail::kafka(e, &bootstrap);
    settings.default_prop("auto.offset.reset", "earliest");
    let consumer = Consumer::new(settings.consumer()?).await.map_err(k)?;
    let tps: Vec<(&str, i32)> =
        crate::metadata::consumer_partitions(&consumer, &a.topic, &bootstrap)
            .await?
            .iter()
            .map(|p| (a.topic.as_str(), p.partition))
            .collect();
    consumer.assign(&tps).map_err(k)?;
    consumer.seek_to_beginning(&tps).map_err(k)?;
    let hist = Histogram::new();
    let mut progress = Progress::new("bench consume:", !a.no_progress);
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(a.timeout);
    let (mut n, mut bytes) = (0u64, 0u64);
    while n < a.records {
        if Instant::now() > deadline {
            progress.finish();
            return Err(CliError::runtime(format!(
                "read {n} of {} records from {} in {} s",
                a.records, a.topic, a.timeout
            ))
            .hint(
                "the topic has fewer records than -n: produce more (`bench produce`) or lower -n",
            ));
        }
        let records = consumer.poll(Duration::from_millis(500)).await.map_err(k)?;
        let now = crate::when::now_ms();
        for r in &records {
            n += 1;
            bytes += (r.key.as_ref().map_or(0, |k| k.len())
                + r.value.as_ref().map_or(0, |v| v.len())) as u64;
            let age = u64::try_from(now.saturating_sub(r.timestamp)).unwrap_or(0);
            hist.record(Duration::from_millis(age));
        }
        progress.tick(n, bytes, n, Some(a.records));
    }
    let elapsed = start.elapsed();
    let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| b - a);
    progress.finish();
    let _ = consumer.close().await;
    print_report(
        &report("consume", &a.topic, n, bytes, elapsed, cpu, &hist),
        output,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_a_bucket() {
        let h = Histogram::new();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((p50 - 5.0).abs() / 5.0 < 0.07, "{p50}");
        assert!((p99 - 9.9).abs() / 9.9 < 0.07, "{p99}");
        for i in 0..200 {
            assert!(Histogram::lower_bound(i) < Histogram::lower_bound(i + 1));
            assert_eq!(Histogram::index(Histogram::lower_bound(i)), i);
        }
        assert!(Histogram::new().quantile_ms(0.5).is_none());
    }

    #[test]
    fn cpu_time_is_read() {
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(cpu_seconds().is_some());
        }
    }
}
