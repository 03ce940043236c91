//! `purekafka produce`: records from stdin or files, one per line (or one
//! JSON object per line with `--json`), pipelined through one producer.

use crate::fail::{self, CliError, CliResult};
use crate::progress::Progress;
use crate::settings::Settings;
use crate::{Output, print_json};
use base64::Engine as _;
use purekafka::{DeliveryFuture, Header, Producer, ProducerRecord};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `produce`'s options.
#[derive(Debug, clap::Args)]
pub struct ProduceArgs {
    /// The topic to write to.
    pub topic: String,
    /// Files to read, in order (default: stdin; `-` is stdin).
    pub files: Vec<PathBuf>,
    /// Split each line into key and value at the first SEP (kcat's -K).
    #[arg(short = 'K', long = "key-delimiter", value_name = "SEP")]
    pub key_delimiter: Option<String>,
    /// A header on every record (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Every record to this partition (default: the partitioner's choice).
    #[arg(short, long)]
    pub partition: Option<i32>,
    /// Each line is a JSON object: {"key", "value", "headers", "partition",
    /// "timestamp"}; a value that is not a string is written as compact JSON.
    /// `consume --output json` prints this shape.
    #[arg(long)]
    pub json: bool,
    /// Compression codec: none, gzip, snappy, lz4, zstd (compression.type).
    #[arg(short = 'z', long = "compression", value_name = "CODEC")]
    pub compression: Option<String>,
    /// acks: all (-1), 1 or 0.
    #[arg(long)]
    pub acks: Option<String>,
    /// Idempotent delivery (the default unless acks/retries rule it out).
    #[arg(long, conflicts_with = "no_idempotence")]
    pub idempotent: bool,
    /// Turns idempotence off (enable.idempotence=false).
    #[arg(long)]
    pub no_idempotence: bool,
    /// Writes everything in one transaction with this transactional.id:
    /// committed at the end, aborted if a record failed (an input error
    /// stops the run uncommitted: the broker aborts it after
    /// transaction.timeout.ms).
    #[arg(long, value_name = "ID")]
    pub transactional_id: Option<String>,
    /// At most this many records a second.
    #[arg(long, value_name = "RECORDS_PER_SEC")]
    pub rate: Option<f64>,
    /// The line delimiter (default: newline). `\n`, `\t` and `\0` work.
    #[arg(short = 'D', long = "delimiter", value_name = "DELIM")]
    pub delimiter: Option<String>,
    /// No progress bar (it is shown on a terminal for runs over a second).
    #[arg(long)]
    pub no_progress: bool,
}

/// One record parsed from the input, owning its bytes.
#[derive(Debug)]
struct Line {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<Header>,
    partition: Option<i32>,
    timestamp: Option<i64>,
}

fn unescape(s: &str) -> Vec<u8> {
    match s {
        "\\n" => b"\n".to_vec(),
        "\\t" => b"\t".to_vec(),
        "\\0" => vec![0],
        "\\r\\n" => b"\r\n".to_vec(),
        other => other.as_bytes().to_vec(),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn json_bytes(v: &serde_json::Value, what: &str, line: u64) -> CliResult<Option<Vec<u8>>> {
    Ok(match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone().into_bytes()),
        serde_json::Value::Object(o) if o.len() == 1 && o.contains_key("base64") => {
            let b = o.get("base64").and_then(|b| b.as_str()).unwrap_or_default();
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| CliError::usage(format!("line {line}: {what}.base64: {e}")))?,
            )
        }
        other => Some(other.to_string().into_bytes()),
    })
}

fn parse_json_line(text: &[u8], line: u64) -> CliResult<Line> {
    let v: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
        CliError::usage(format!(
            "line {line} is not JSON ({e}); --json expects one object per line: \
             {{\"key\": \"k\", \"value\": ..., \"headers\": {{\"h\": \"v\"}}}}"
        ))
    })?;
    let Some(o) = v.as_object() else {
        return Err(CliError::usage(format!(
            "line {line}: --json expects an object per line, got {v}"
        )));
    };
    let null = serde_json::Value::Null;
    let mut headers = Vec::new();
    match o.get("headers") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(m)) => {
            for (k, v) in m {
                headers.push(Header::new(
                    k.clone(),
                    json_bytes(v, "headers", line)?.map(Into::into),
                ));
            }
        }
        Some(serde_json::Value::Array(a)) => {
            for h in a {
                let k = json_bytes(h.get("key").unwrap_or(&null), "headers[].key", line)?
                    .unwrap_or_default();
                let v = json_bytes(h.get("value").unwrap_or(&null), "headers[].value", line)?;
                headers.push(Header::new(k, v.map(Into::into)));
            }
        }
        Some(other) => {
            return Err(CliError::usage(format!(
                "line {line}: headers must be an object or an array of {{key, value}}, got {other}"
            )));
        }
    }
    let int = |name: &str| -> CliResult<Option<i64>> {
        match o.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                CliError::usage(format!("line {line}: {name} must be an integer, got {v}"))
            }),
        }
    };
    let partition =
        match int("partition")? {
            None => None,
            Some(p) => Some(i32::try_from(p).map_err(|_| {
                CliError::usage(format!("line {line}: partition {p} is out of range"))
            })?),
        };
    Ok(Line {
        key: json_bytes(o.get("key").unwrap_or(&null), "key", line)?,
        value: json_bytes(o.get("value").unwrap_or(&null), "value", line)?,
        headers,
        partition,
        timestamp: int("timestamp")?,
    })
}

/// Reads the inputs on a thread of its own (stdin and files block), in
/// chunks of lines.
fn spawn_reader(
    files: Vec<PathBuf>,
    delim: Vec<u8>,
    read_bytes: Arc<AtomicU64>,
) -> tokio::sync::mpsc::Receiver<CliResult<Vec<Vec<u8>>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        let sources: Vec<Option<PathBuf>> = if files.is_empty() {
            vec![None]
        } else {
            files
                .into_iter()
                .map(|f| (f.as_os_str() != "-").then_some(f))
                .collect()
        };
        for src in sources {
            let reader: Box<dyn Read> = match &src {
                None => Box::new(std::io::stdin()),
                Some(p) => match std::fs::File::open(p) {
                    Ok(f) => Box::new(f),
                    Err(e) => {
                        let _ = tx.blocking_send(Err(CliError::usage(format!(
                            "cannot open {}: {e}",
                            p.display()
                        ))));
                        return;
                    }
                },
            };
            let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
            let last = delim.last().copied().unwrap_or(b'\n');
            let mut chunk = Vec::with_capacity(1024);
            loop {
                // One record: read up to the delimiter's last byte until the
                // whole delimiter ends the buffer (or the input ends).
                let mut buf = Vec::new();
                let mut failed = None;
                loop {
                    match reader.read_until(last, &mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            read_bytes.fetch_add(n as u64, Ordering::Relaxed);
                            if buf.ends_with(&delim) {
                                buf.truncate(buf.len() - delim.len());
                                break;
                            }
                            if buf.last() != Some(&last) {
                                break; // the end of the input
                            }
                        }
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                if let Some(e) = failed {
                    let _ = tx.blocking_send(Err(CliError::runtime(format!(
                        "reading {}: {e}",
                        src.as_ref()
                            .map_or("stdin".to_owned(), |p| p.display().to_string())
                    ))));
                    return;
                }
                if buf.is_empty() && reader.fill_buf().map_or(true, |b| b.is_empty()) {
                    break;
                }
                chunk.push(buf);
                if chunk.len() >= 1024 {
                    if tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                        return;
                    }
                    chunk.reserve(1024);
                }
            }
            if !chunk.is_empty() && tx.blocking_send(Ok(chunk)).is_err() {
                return;
            }
        }
    });
    rx
}

#[derive(Default, serde::Serialize)]
struct PartitionStats {
    records: u64,
    first_offset: Option<i64>,
    last_offset: Option<i64>,
}

#[derive(Default)]
struct Stats {
    records: u64,
    bytes: u64,
    failed: u64,
    first_error: Option<String>,
    partitions: BTreeMap<i32, PartitionStats>,
}

impl Stats {
    fn settle(&mut self, r: purekafka::Result<purekafka::Delivered>) {
        match r {
            Ok(d) => {
                self.records += 1;
                let p = self.partitions.entry(d.partition).or_default();
                p.records += 1;
                if d.offset >= 0 {
                    p.first_offset = Some(p.first_offset.map_or(d.offset, |f| f.min(d.offset)));
                    p.last_offset = Some(p.last_offset.map_or(d.offset, |l| l.max(d.offset)));
                }
            }
            Err(e) => {
                self.failed += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e.to_string());
                }
            }
        }
    }
}

/// Applies the command's flags to the properties.
fn apply_flags(settings: &mut Settings, a: &ProduceArgs) {
    if let Some(c) = &a.compression {
        settings.set("compression.type", c);
    }
    if let Some(acks) = &a.acks {
        settings.set("acks", acks);
    }
    if a.idempotent {
        settings.set("enable.idempotence", "true");
    }
    if a.no_idempotence {
        settings.set("enable.idempotence", "false");
    }
    if let Some(id) = &a.transactional_id {
        settings.set("transactional.id", id);
    }
}

/// Runs `produce`.
pub async fn run(mut settings: Settings, a: ProduceArgs, output: Output) -> CliResult<()> {
    apply_flags(&mut settings, &a);
    let bootstrap = settings.bootstrap().to_owned();
    let config = settings.producer()?;
    let mut static_headers = Vec::new();
    for h in &a.headers {
        let Some((k, v)) = h.split_once('=') else {
            return Err(CliError::usage(format!(
                "header {h:?}: expected KEY=VALUE (-H trace=abc)"
            )));
        };
        static_headers.push(Header::new(k.to_owned(), Some(v.to_owned().into())));
    }
    if let Some(r) = a.rate
        && !(r > 0.0 && r.is_finite())
    {
        return Err(CliError::usage(format!(
            "--rate {r}: expected a positive number of records per second"
        )));
    }
    let total_bytes: Option<u64> =
        if a.files.is_empty() || a.files.iter().any(|f| f.as_os_str() == "-") {
            None
        } else {
            a.files
                .iter()
                .map(|f| std::fs::metadata(f).map(|m| m.len()).ok())
                .sum()
        };
    let delim = a.delimiter.as_deref().map_or(b"\n".to_vec(), unescape);
    if delim.is_empty() {
        return Err(CliError::usage("--delimiter must not be empty"));
    }
    let key_delim = a.key_delimiter.as_deref().map(unescape);

    let producer = Producer::new(config)
        .await
        .map_err(|e| fail::kafka(e, &bootstrap))?;
    // The topic must exist (or be created automatically): fail early, by name.
    crate::metadata::producer_partitions(&producer, &a.topic, &bootstrap).await?;

    if a.transactional_id.is_some() {
        producer
            .init_transactions()
            .await
            .map_err(|e| fail::kafka(e, &bootstrap))?;
        producer
            .begin_transaction()
            .map_err(|e| fail::kafka(e, &bootstrap))?;
    }
    let read_bytes = Arc::new(AtomicU64::new(0));
    let mut rx = spawn_reader(a.files.clone(), delim, read_bytes.clone());
    let mut progress = Progress::new("produce:", !a.no_progress);
    let mut stats = Stats::default();
    let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
    let start = Instant::now();
    let mut n: u64 = 0;
    let mut line_no: u64 = 0;
    while let Some(chunk) = rx.recv().await {
        for raw in chunk? {
            line_no += 1;
            if raw.is_empty() && !a.json {
                continue;
            }
            if a.json && raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line = if a.json {
                parse_json_line(&raw, line_no)?
            } else {
                let (key, value) = match key_delim.as_deref().and_then(|d| {
                    find(&raw, d).map(|i| (raw[..i].to_vec(), raw[i + d.len()..].to_vec()))
                }) {
                    Some((k, v)) => (Some(k), Some(v)),
                    None => (None, Some(raw)),
                };
                Line {
                    key,
                    value,
                    headers: Vec::new(),
                    partition: None,
                    timestamp: None,
                }
            };
            if let Some(rate) = a.rate {
                let due = start + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let mut headers = static_headers.clone();
            headers.extend(line.headers);
            let mut rec = ProducerRecord::to(&a.topic).headers(&headers);
            rec.key = line.key.as_deref();
            rec.value = line.value.as_deref();
            rec.partition = a.partition.or(line.partition);
            rec.timestamp = line.timestamp;
            stats.bytes +=
                (rec.key.map_or(0, <[u8]>::len) + rec.value.map_or(0, <[u8]>::len)) as u64;
            let fut = producer
                .enqueue(rec)
                .await
                .map_err(|e| fail::kafka(e, &bootstrap))?;
            pending.push_back(fut);
            n += 1;
            // Bounded: settle the oldest once many are outstanding.
            while pending.len() > 100_000 {
                if let Some(f) = pending.pop_front() {
                    stats.settle(f.await);
                }
            }
            while pending.front().is_some_and(|f| f.try_result().is_some()) {
                if let Some(f) = pending.pop_front() {
                    stats.settle(f.await);
                }
            }
            progress.tick(
                n,
                stats.bytes,
                read_bytes.load(Ordering::Relaxed),
                total_bytes,
            );
        }
    }
    producer
        .flush()
        .await
        .map_err(|e| fail::kafka(e, &bootstrap))?;
    for f in pending {
        stats.settle(f.await);
    }
    progress.finish();
    let mut transaction = None;
    if a.transactional_id.is_some() {
        let ended = if stats.first_error.is_none() {
            producer.commit_transaction().await.map(|()| "committed")
        } else {
            producer.abort_transaction().await.map(|()| "aborted")
        };
        transaction = Some(ended.map_err(|e| fail::kafka(e, &bootstrap))?);
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = producer.close(Duration::from_secs(10)).await;
    match output {
        Output::Json => print_json(&serde_json::json!({
            "topic": a.topic,
            "records": stats.records,
            "failed": stats.failed,
            "bytes": stats.bytes,
            "seconds": secs,
            "partitions": stats.partitions.iter().map(|(p, s)| serde_json::json!({
                "partition": p, "records": s.records,
                "first_offset": s.first_offset, "last_offset": s.last_offset,
            })).collect::<Vec<_>>(),
            "error": stats.first_error,
            "transaction": transaction,
        })),
        Output::Text => {
            let parts: Vec<String> = stats
                .partitions
                .iter()
                .map(|(p, s)| match (s.first_offset, s.last_offset) {
                    (Some(f), Some(l)) => format!("{p}: {} (offsets {f}..{l})", s.records),
                    _ => format!("{p}: {}", s.records),
                })
                .collect();
            eprintln!(
                "produced {} records ({} bytes) to {} in {:.2} s{}{}",
                stats.records,
                stats.bytes,
                a.topic,
                secs,
                if parts.is_empty() {
                    String::new()
                } else {
                    format!("; partition {}", parts.join(", "))
                },
                if stats.failed > 0 {
                    format!("; {} FAILED", stats.failed)
                } else {
                    String::new()
                }
            );
            if let Some(t) = transaction {
                eprintln!("transaction {t}");
            }
        }
    }
    match stats.first_error {
        Some(e) => Err(CliError::runtime(format!(
            "{} of {} records were not delivered; the first error: {e}",
            stats.failed,
            stats.failed + stats.records
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_take_strings_objects_and_base64() {
        let l = parse_json_line(
            br#"{"key":"k","value":{"n":1},"headers":{"h":"v"},"partition":2,"timestamp":5}"#,
            1,
        )
        .unwrap();
        assert_eq!(l.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(l.value.as_deref(), Some(&br#"{"n":1}"#[..]));
        assert_eq!(l.headers.len(), 1);
        assert_eq!((l.partition, l.timestamp), (Some(2), Some(5)));
        let l = parse_json_line(br#"{"value":{"base64":"/wA="},"key":null}"#, 1).unwrap();
        assert_eq!(l.value.as_deref(), Some(&[0xff, 0][..]));
        assert!(l.key.is_none());
        let e = parse_json_line(b"nope", 7).unwrap_err().to_string();
        assert!(e.contains("line 7"), "{e}");
    }

    #[test]
    fn key_delimiter_splits_at_the_first() {
        assert_eq!(find(b"a::b::c", b"::"), Some(1));
        assert_eq!(find(b"abc", b""), None);
    }
}
