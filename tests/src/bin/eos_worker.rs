//! One instance of an exactly-once pipeline, for `tests/tests/eos.rs`: reads
//! numbered records from `--input` in group `--group` through
//! [`purekafka::eos::EosSession`] and writes each one's transform to
//! `--output` in the same transaction as its offset: key unchanged, value
//! `out-<input value>`, header `src` = `<partition>@<offset>` of the input.
//!
//! ```text
//! eos_worker --bootstrap B --group G --input IN --output OUT --transactional-id ID
//!            [--commit-delay-ms N] [--max-poll-records N] [--session-timeout-ms N]
//!            [--transaction-timeout-ms N]
//! ```
//!
//! It prints JSON lines on stdout: `{"event":"ready"}` once subscribed;
//! per transaction `{"event":"produced","records":n}` when its records are
//! written (acknowledged, before the commit, which comes `--commit-delay-ms`
//! later: a test that kills the process then kills it mid-transaction), then
//! `{"event":"committed","records":n}` or `{"event":"aborted","reason":..}`;
//! `{"event":"error","error":..}` for an error it retries. It runs until its
//! stdin closes (then closes the session and exits 0), or until the
//! producer fails for good (exit 3).

use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::eos::{EosSession, Outcome};
use purekafka::{Error, Header, ProducerRecord};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn emit(line: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn args() -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let Some(name) = k.strip_prefix("--") else {
            return Err(format!("unexpected argument {k}"));
        };
        let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
        out.insert(name.to_owned(), v);
    }
    for need in ["bootstrap", "group", "input", "output", "transactional-id"] {
        if !out.contains_key(need) {
            return Err(format!("--{need} is required"));
        }
    }
    Ok(out)
}

fn ms(a: &HashMap<String, String>, name: &str, default: u64) -> Result<Duration, String> {
    match a.get(name) {
        None => Ok(Duration::from_millis(default)),
        Some(v) => v
            .parse()
            .map(Duration::from_millis)
            .map_err(|e| format!("--{name} {v}: {e}")),
    }
}

async fn run(a: HashMap<String, String>) -> Result<(), String> {
    let bootstrap = &a["bootstrap"];
    let mut c = ConsumerConfig::new(bootstrap);
    c.group_id = Some(a["group"].clone());
    c.auto_offset_reset = OffsetReset::Earliest;
    c.fetch_max_wait = Duration::from_millis(100);
    c.session_timeout = ms(&a, "session-timeout-ms", 6000)?;
    c.heartbeat_interval = Duration::from_millis(1000);
    c.max_poll_records = match a.get("max-poll-records") {
        None => 200,
        Some(v) => v
            .parse()
            .map_err(|e| format!("--max-poll-records {v}: {e}"))?,
    };
    let mut p = ProducerConfig::new(bootstrap);
    p.transactional_id = Some(a["transactional-id"].clone());
    p.transaction_timeout = ms(&a, "transaction-timeout-ms", 10_000)?;
    p.linger = Duration::from_millis(5);
    let commit_delay = ms(&a, "commit-delay-ms", 0)?;
    let output = a["output"].clone();

    let session = EosSession::new(c, p).await.map_err(|e| e.to_string())?;
    session
        .subscribe(&[a["input"].as_str()])
        .map_err(|e| e.to_string())?;
    emit(serde_json::json!({"event": "ready"}));

    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
        }
        s.store(true, Ordering::SeqCst);
    });

    while !stop.load(Ordering::SeqCst) {
        let records = match session.poll(Duration::from_millis(200)).await {
            Ok(r) => r,
            Err(e) => {
                fatal_or_log(&e)?;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut failed = None;
        for r in &records {
            let value = format!(
                "out-{}",
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
            );
            let src = format!("{}@{}", r.partition, r.offset);
            let headers = [Header::new("src", Some(bytes::Bytes::from(src)))];
            let mut rec = ProducerRecord::to(&output).value(&value).headers(&headers);
            if let Some(k) = r.key.as_deref() {
                rec = rec.key(k);
            }
            if let Err(e) = session.enqueue(rec).await {
                failed = Some(e);
                break;
            }
        }
        if let Some(e) = failed {
            // A failed send makes the transaction abortable: commit() aborts it.
            fatal_or_log(&e)?;
        }
        if !records.is_empty() {
            // In the log, not committed: a kill from here on is mid-transaction.
            if let Err(e) = session.producer().flush().await {
                fatal_or_log(&e)?;
            }
            emit(serde_json::json!({"event": "produced", "records": records.len()}));
            if !commit_delay.is_zero() {
                tokio::time::sleep(commit_delay).await;
            }
        }
        loop {
            match session.commit().await {
                Ok(Outcome::Committed { .. }) => {
                    if !records.is_empty() {
                        emit(serde_json::json!({"event": "committed", "records": records.len()}));
                    }
                }
                Ok(Outcome::Empty) => {}
                Ok(Outcome::Aborted(reason)) => {
                    emit(serde_json::json!({"event": "aborted", "reason": reason.to_string()}));
                }
                Err(e @ Error::TransactionTimeout { .. }) => {
                    // The commit goes on: wait for it again.
                    emit(serde_json::json!({"event": "error", "error": e.to_string()}));
                    continue;
                }
                Err(e) => {
                    fatal_or_log(&e)?;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            break;
        }
    }
    session.close().await.map_err(|e| e.to_string())
}

/// Logs an error the session survives; an `Err` for one it does not.
fn fatal_or_log(e: &Error) -> Result<(), String> {
    if matches!(e, Error::TransactionFatal { .. }) {
        return Err(e.to_string());
    }
    emit(serde_json::json!({"event": "error", "error": e.to_string()}));
    Ok(())
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("eos_worker: {e}");
            std::process::exit(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("eos_worker: no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(a)) {
        emit(serde_json::json!({"event": "fatal", "error": e}));
        eprintln!("eos_worker: {e}");
        std::process::exit(3);
    }
}
