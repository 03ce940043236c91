//! purekafka's `read_committed` consumer against real transactions on Kafka
//! 4.4, written by the two reference transactional producers: the Java
//! client's (`scripts/java/JavaPeer.java`) and librdkafka's (confluent-kafka,
//! `scripts/peer.py`).
//!
//! Each writer fills three partitions with committed and aborted
//! transactions between non-transactional records, then holds two
//! transactions open at once (one to commit, one to abort) with
//! non-transactional records written while they are open, so that in every
//! partition the log reads:
//!
//! ```text
//! plain0 | c1 COMMIT | a1 ABORT | plain1 | c2 COMMIT | a2 ABORT | h1 .. plain2 .. h2 .. plain3 | (h2 ABORT) (h1 COMMIT)
//! ```
//!
//! One read_committed consumer, polling throughout, must return exactly the
//! committed and non-transactional records at the offsets their producers
//! were told, in order, no aborted record and no control record; while `h1`
//! is open it must stop at the last stable offset (h1's first offset) although
//! the partitions hold more, aborting `h2` must not move it, and committing
//! `h1` must release h1, plain2 and plain3 but not h2. A read_uncommitted
//! consumer sees every data record, open transactions included, and still no
//! control record.
//!
//! The other way round, purekafka's transactional producer writes committed
//! and aborted transactions, and the read_committed consumers of all three
//! clients (purekafka, Java, confluent-kafka) return exactly the committed
//! records, at the offsets the producer was told.

use purekafka::config::{ConsumerConfig, IsolationLevel, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, ConsumerRecord};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::java::{
    JavaConsume, JavaProduce, java_consume, java_peer_command, java_produce,
};
use purekafka_integration::{
    Acked, Cluster, Codec, Json, PeerClient, Record, b64, cluster_or_skip, python, rt, script,
    unique_topic,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 3;

#[derive(Clone, Copy, Debug)]
enum Writer {
    Java,
    Confluent,
}

/// `n` records of segment `tag`, spread over the partitions in turn.
fn segment(tag: &str, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            key: Some(format!("{tag}-{i}").into_bytes()),
            value: Some(format!("{tag} value {i}").into_bytes()),
            headers: vec![("segment".into(), Some(tag.as_bytes().to_vec()))],
            partition: Some(i as i32 % PARTITIONS),
            timestamp: None,
        })
        .collect()
}

fn record_line(r: &Record) -> String {
    let bytes = |b: &Option<Vec<u8>>| -> Json { b.as_deref().map(b64::encode).into() };
    let headers: Vec<Json> = r
        .headers
        .iter()
        .map(|(k, v)| Json::Array(vec![k.as_str().into(), bytes(v)]))
        .collect();
    let mut o = serde_json::Map::new();
    o.insert("key".into(), bytes(&r.key));
    o.insert("value".into(), bytes(&r.value));
    o.insert("headers".into(), Json::Array(headers));
    o.insert("partition".into(), r.partition.into());
    o.insert("timestamp".into(), r.timestamp.into());
    Json::Object(o).to_string()
}

fn parse_acked(line: &str) -> Acked {
    let v: Json = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    Acked {
        topic: v["topic"].as_str().unwrap().to_owned(),
        partition: v["partition"].as_i64().unwrap() as i32,
        offset: v["offset"].as_i64().unwrap(),
    }
}

/// Writes `records` outside any transaction (the writer's idempotent producer).
fn produce_plain(w: Writer, c: &Cluster, topic: &str, records: &[Record]) -> Vec<Acked> {
    match w {
        Writer::Java => java_produce(c, topic, &JavaProduce::default(), records).unwrap(),
        Writer::Confluent => c
            .peer_produce(topic, PeerClient::Confluent, Codec::None, records)
            .unwrap(),
    }
}

/// Writes `records` in one transaction of `txid` and commits or aborts it.
fn produce_txn(
    w: Writer,
    c: &Cluster,
    topic: &str,
    txid: &str,
    records: &[Record],
    abort: bool,
) -> Vec<Acked> {
    match w {
        Writer::Java => {
            let opts = JavaProduce {
                codec: Some(Codec::Lz4),
                transactional_id: Some(txid.into()),
                abort,
                ..JavaProduce::default()
            };
            java_produce(c, topic, &opts, records).unwrap()
        }
        Writer::Confluent => {
            let mut args = vec![
                "produce",
                "--topic",
                topic,
                "--client",
                "confluent",
                "--compression",
                "zstd",
                "--transactional-id",
                txid,
            ];
            if abort {
                args.push("--abort");
            }
            let input: String = records.iter().map(|r| record_line(r) + "\n").collect();
            let lines = c
                .run_peer(&args, Some(input), Duration::from_secs(60))
                .unwrap();
            let acked: Vec<Acked> = lines.iter().map(|l| parse_acked(l)).collect();
            assert_eq!(acked.len(), records.len(), "confluent acked {lines:?}");
            acked
        }
    }
}

/// A transaction the writer holds open (`--hold`) until [`Held::end`].
struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
    what: String,
}

impl Held {
    /// Sends `records` in a new transaction of `txid` and returns once they
    /// are acknowledged and the transaction is open, with their acks.
    fn open(
        w: Writer,
        c: &Cluster,
        topic: &str,
        txid: &str,
        records: &[Record],
    ) -> (Held, Vec<Acked>) {
        let timeout = Duration::from_secs(90);
        let mut cmd = match w {
            Writer::Java => {
                let args: Vec<String> = [
                    "produce",
                    "--topic",
                    topic,
                    "--transactional-id",
                    txid,
                    "--hold",
                ]
                .map(String::from)
                .to_vec();
                java_peer_command(c, &args, timeout).unwrap()
            }
            Writer::Confluent => {
                let mut cmd = Command::new(python());
                cmd.arg(script("peer.py")).args([
                    "produce",
                    "--topic",
                    topic,
                    "--client",
                    "confluent",
                    "--transactional-id",
                    txid,
                    "--hold",
                    "--bootstrap",
                    c.bootstrap(),
                    "--timeout",
                    "90",
                ]);
                cmd
            }
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        for r in records {
            writeln!(stdin, "{}", record_line(r)).unwrap();
        }
        writeln!(stdin, "hold").unwrap();
        stdin.flush().unwrap();
        let mut held = Held {
            child,
            stdin: Some(stdin),
            lines,
            stderr: Some(stderr),
            what: format!("{w:?} transaction {txid}"),
        };
        let mut acked = Vec::new();
        loop {
            let line = held.next_line(timeout);
            if line.contains("\"event\"") {
                assert!(line.contains("open"), "{}: {line}", held.what);
                break;
            }
            acked.push(parse_acked(&line));
        }
        assert_eq!(acked.len(), records.len(), "{}: acks", held.what);
        (held, acked)
    }

    fn next_line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => l,
            Err(_) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self.stderr.take().map(|h| h.join().unwrap_or_default());
                panic!("{}: no more output; stderr: {err:?}", self.what);
            }
        }
    }

    /// Commits or aborts the transaction and waits for the writer to exit.
    fn end(mut self, commit: bool) {
        let mut stdin = self.stdin.take().unwrap();
        writeln!(stdin, "{}", if commit { "commit" } else { "abort" }).unwrap();
        drop(stdin);
        let line = self.next_line(Duration::from_secs(60));
        let want = if commit { "committed" } else { "aborted" };
        assert!(line.contains(want), "{}: {line}", self.what);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{}: exit {status}", self.what);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A written record and where its producer was told it landed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Placed {
    partition: i32,
    offset: i64,
    key: String,
    value: String,
}

fn placed(records: &[Record], acked: &[Acked]) -> Vec<Placed> {
    assert_eq!(records.len(), acked.len());
    records
        .iter()
        .zip(acked)
        .map(|(r, a)| {
            assert_eq!(Some(a.partition), r.partition, "acked on another partition");
            Placed {
                partition: a.partition,
                offset: a.offset,
                key: String::from_utf8(r.key.clone().unwrap()).unwrap(),
                value: String::from_utf8(r.value.clone().unwrap()).unwrap(),
            }
        })
        .collect()
}

fn from_consumer(r: &ConsumerRecord) -> Placed {
    let text = |b: &Option<bytes::Bytes>, what: &str| {
        let b = b
            .as_ref()
            .unwrap_or_else(|| panic!("{what} missing at {}@{}", r.partition, r.offset));
        String::from_utf8(b.to_vec()).unwrap_or_else(|_| {
            panic!(
                "{what} at {}@{} is not one we wrote (a control record?): {b:?}",
                r.partition, r.offset
            )
        })
    };
    Placed {
        partition: r.partition,
        offset: r.offset,
        key: text(&r.key, "key"),
        value: text(&r.value, "value"),
    }
}

/// Sorted by partition, then offset: each partition's log order.
fn by_log_order(mut v: Vec<Placed>) -> Vec<Placed> {
    v.sort_by_key(|p| (p.partition, p.offset));
    v
}

async fn consumer(bootstrap: &str, topic: &str, isolation: IsolationLevel) -> Consumer {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(100);
    cfg.isolation_level = isolation;
    let c = Consumer::new(cfg).await.unwrap();
    let parts: Vec<(&str, i32)> = (0..PARTITIONS).map(|p| (topic, p)).collect();
    c.assign(&parts).unwrap();
    c
}

/// Polls until `want` records have arrived in all, then `quiet` more; returns
/// what arrived, in arrival order (each partition's records in order).
async fn poll_until(c: &Consumer, want: usize, quiet: Duration, who: &str) -> Vec<Placed> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < want {
        assert!(
            Instant::now() < deadline,
            "{who}: {} of {want} records within 60 s",
            got.len()
        );
        got.extend(
            c.poll(Duration::from_millis(300))
                .await
                .unwrap()
                .iter()
                .map(from_consumer),
        );
    }
    let end = Instant::now() + quiet;
    while Instant::now() < end {
        got.extend(
            c.poll(Duration::from_millis(200))
                .await
                .unwrap()
                .iter()
                .map(from_consumer),
        );
    }
    // Arrival order must already be log order within each partition.
    for p in 0..PARTITIONS {
        let offs: Vec<i64> = got
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert!(
            offs.windows(2).all(|w| w[0] < w[1]),
            "{who}: partition {p} out of order: {offs:?}"
        );
    }
    got
}

fn assert_same(got: Vec<Placed>, want: &[Placed], who: &str) {
    let got = by_log_order(got);
    let want = by_log_order(want.to_vec());
    if got != want {
        let g: BTreeMap<(i32, i64), &str> = got
            .iter()
            .map(|r| ((r.partition, r.offset), r.key.as_str()))
            .collect();
        let w: BTreeMap<(i32, i64), &str> = want
            .iter()
            .map(|r| ((r.partition, r.offset), r.key.as_str()))
            .collect();
        let extra: Vec<_> = g.iter().filter(|(k, _)| !w.contains_key(k)).collect();
        let missing: Vec<_> = w.iter().filter(|(k, _)| !g.contains_key(k)).collect();
        panic!(
            "{who}: {} records, want {}; unexpected {extra:?}; missing {missing:?}",
            got.len(),
            want.len()
        );
    }
}

fn run(w: Writer) {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic(&format!("rc-{w:?}").to_lowercase());
    broker.create_topic(&topic, PARTITIONS as u32).unwrap();
    let txid = |n: &str| unique_topic(&format!("rc-{w:?}-{n}").to_lowercase());
    let (txn_a, txn_b) = (txid("a"), txid("b"));
    let rt = rt();

    // Completed transactions between non-transactional records.
    let mut committed: Vec<Placed> = Vec::new(); // what read_committed must return
    let mut everything: Vec<Placed> = Vec::new(); // every data record
    for (tag, n, kind) in [
        ("plain0", 10, None),
        ("c1", 15, Some(false)),
        ("a1", 12, Some(true)),
        ("plain1", 9, None),
        ("c2", 9, Some(false)),
        ("a2", 6, Some(true)),
    ] {
        let recs = segment(tag, n);
        let acked = match kind {
            None => produce_plain(w, broker, &topic, &recs),
            Some(abort) => produce_txn(w, broker, &topic, &txn_a, &recs, abort),
        };
        let p = placed(&recs, &acked);
        if kind != Some(true) {
            committed.extend(p.iter().cloned());
        }
        everything.extend(p);
    }

    // Two transactions open at once, records written around them.
    let h1 = segment("h1", 6);
    let (held1, acked) = Held::open(w, broker, &topic, &txn_a, &h1);
    let h1 = placed(&h1, &acked);
    let plain2 = segment("plain2", 6);
    let plain2 = placed(&plain2, &produce_plain(w, broker, &topic, &plain2));
    let h2 = segment("h2", 6);
    let (held2, acked) = Held::open(w, broker, &topic, &txn_b, &h2);
    let h2 = placed(&h2, &acked);
    let plain3 = segment("plain3", 6);
    let plain3 = placed(&plain3, &produce_plain(w, broker, &topic, &plain3));
    // The last stable offset of each partition: h1's first record there.
    let lso: BTreeMap<i32, i64> = (0..PARTITIONS)
        .map(|p| {
            let first = h1.iter().filter(|r| r.partition == p).map(|r| r.offset);
            (p, first.min().unwrap())
        })
        .collect();

    rt.block_on(async {
        let rc = consumer(broker.bootstrap(), &topic, IsolationLevel::ReadCommitted).await;
        let ru = consumer(broker.bootstrap(), &topic, IsolationLevel::ReadUncommitted).await;

        // While h1 is open: everything before it, and nothing past it.
        let got = poll_until(&rc, committed.len(), Duration::from_millis(1500), "rc open").await;
        assert_same(got, &committed, "read_committed while h1 and h2 are open");
        for p in 0..PARTITIONS {
            let pos = rc.position((&topic, p)).await.unwrap();
            assert_eq!(pos, lso[&p], "read_committed stops at the LSO of {p}");
            let hw = rc.high_watermark((&topic, p));
            assert!(
                hw.is_some_and(|hw| hw > pos),
                "partition {p} holds more than the consumer may read: hw {hw:?}, lso {pos}"
            );
        }
        // read_uncommitted sees the open transactions and what follows them.
        let mut all_open = everything.clone();
        all_open.extend(h1.iter().chain(&plain2).chain(&h2).chain(&plain3).cloned());
        let got = poll_until(&ru, all_open.len(), Duration::from_millis(500), "ru open").await;
        assert_same(got, &all_open, "read_uncommitted while h1 and h2 are open");

        // Aborting h2 does not move the LSO: h1 still holds it.
        tokio::task::spawn_blocking(move || held2.end(false))
            .await
            .unwrap();
        let got = poll_until(&rc, 0, Duration::from_millis(1500), "rc after h2 abort").await;
        assert_same(got, &[], "read_committed after h2 aborted, h1 still open");

        // Committing h1 releases h1, plain2 and plain3; h2 stays hidden.
        tokio::task::spawn_blocking(move || held1.end(true))
            .await
            .unwrap();
        let released: Vec<Placed> = h1.iter().chain(&plain2).chain(&plain3).cloned().collect();
        let got = poll_until(&rc, released.len(), Duration::from_millis(1500), "rc end").await;
        assert_same(got, &released, "read_committed after h1 committed");
        // The markers are not records to read_uncommitted either.
        let got = poll_until(&ru, 0, Duration::from_millis(1000), "ru end").await;
        assert_same(got, &[], "read_uncommitted after both markers");
        rc.close().await.unwrap();
        ru.close().await.unwrap();
    });

    // A fresh read_committed consumer reads the finished log in one go.
    committed.extend(h1.iter().chain(&plain2).chain(&plain3).cloned());
    rt.block_on(async {
        let rc = consumer(broker.bootstrap(), &topic, IsolationLevel::ReadCommitted).await;
        let got = poll_until(&rc, committed.len(), Duration::from_millis(1000), "fresh").await;
        assert_same(got, &committed, "a fresh read_committed consumer");
        rc.close().await.unwrap();
    });
}

#[test]
fn read_committed_over_java_transactions() {
    run(Writer::Java);
}

#[test]
fn read_committed_over_confluent_transactions() {
    run(Writer::Confluent);
}

/// purekafka's transactional producer: `(tag, n, commit)` transactions in
/// order, on all partitions; returns every record with its offset and
/// whether its transaction committed.
async fn purekafka_transactions(
    bootstrap: &str,
    topic: &str,
    txid: &str,
    txns: &[(&str, usize, bool)],
) -> Vec<(Placed, bool)> {
    let mut cfg = ProducerConfig::new(bootstrap);
    cfg.transactional_id = Some(txid.into());
    cfg.linger = Duration::from_millis(5);
    let p = Producer::new(cfg).await.unwrap();
    p.init_transactions().await.unwrap();
    let mut out = Vec::new();
    for &(tag, n, commit) in txns {
        p.begin_transaction().unwrap();
        let recs = segment(tag, n);
        let mut pending = Vec::new();
        for r in &recs {
            let (k, v) = (r.key.as_deref().unwrap(), r.value.as_deref().unwrap());
            let rec = ProducerRecord::to(topic)
                .partition(r.partition.unwrap())
                .key(k)
                .value(v);
            pending.push(p.enqueue(rec).await.unwrap());
        }
        // Delivered before the end of the transaction: the offsets are known.
        p.flush().await.unwrap();
        let mut acked = Vec::new();
        for f in pending {
            let d = f.await.unwrap();
            acked.push(Acked {
                topic: topic.into(),
                partition: d.partition,
                offset: d.offset,
            });
        }
        if commit {
            p.commit_transaction().await.unwrap();
        } else {
            p.abort_transaction().await.unwrap();
        }
        out.extend(placed(&recs, &acked).into_iter().map(|pl| (pl, commit)));
    }
    p.close(Duration::from_secs(10)).await.unwrap();
    out
}

fn placed_of(c: &purekafka_integration::Consumed) -> Placed {
    let text = |b: &Option<Vec<u8>>| String::from_utf8(b.clone().unwrap()).unwrap();
    Placed {
        partition: c.record.partition.unwrap(),
        offset: c.offset,
        key: text(&c.record.key),
        value: text(&c.record.value),
    }
}

#[test]
fn purekafka_transactions_read_committed_by_purekafka_java_and_confluent() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("rc-ours");
    broker.create_topic(&topic, PARTITIONS as u32).unwrap();
    let txid = unique_topic("rc-ours-txn");
    let rt = rt();
    let written = rt.block_on(purekafka_transactions(
        broker.bootstrap(),
        &topic,
        &txid,
        &[
            ("c1", 15, true),
            ("a1", 12, false),
            ("c2", 9, true),
            ("a2", 9, false),
            ("a3", 6, false),
            ("c3", 12, true),
        ],
    ));
    let committed: Vec<Placed> = written
        .iter()
        .filter(|(_, c)| *c)
        .map(|(p, _)| p.clone())
        .collect();
    let everything: Vec<Placed> = written.iter().map(|(p, _)| p.clone()).collect();

    rt.block_on(async {
        let rc = consumer(broker.bootstrap(), &topic, IsolationLevel::ReadCommitted).await;
        let got = poll_until(&rc, committed.len(), Duration::from_millis(1500), "ours").await;
        assert_same(got, &committed, "purekafka read_committed");
        rc.close().await.unwrap();
        let ru = consumer(broker.bootstrap(), &topic, IsolationLevel::ReadUncommitted).await;
        let got = poll_until(&ru, everything.len(), Duration::from_millis(1000), "ru").await;
        assert_same(got, &everything, "purekafka read_uncommitted");
        ru.close().await.unwrap();
    });

    // Java's read_committed consumer: the same records at the same offsets.
    // (It stops at the count: had it seen an aborted record, a committed one
    // would be missing from what it returned.)
    let java = java_consume(
        broker,
        &topic,
        &JavaConsume {
            isolation_level: Some("read_committed".into()),
            ..JavaConsume::default()
        },
        committed.len(),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_same(
        java.iter().map(placed_of).collect(),
        &committed,
        "Java read_committed",
    );

    // librdkafka's (confluent-kafka) read_committed consumer likewise.
    let n = committed.len().to_string();
    let lines = broker
        .run_peer(
            &[
                "consume",
                "--topic",
                &topic,
                "--client",
                "confluent",
                "--count",
                &n,
                "--isolation-level",
                "read_committed",
            ],
            None,
            Duration::from_secs(60),
        )
        .unwrap();
    let confluent: Vec<Placed> = lines
        .iter()
        .map(|l| {
            let v: Json = serde_json::from_str(l).unwrap();
            let text =
                |k: &str| String::from_utf8(b64::decode(v[k].as_str().unwrap()).unwrap()).unwrap();
            Placed {
                partition: v["partition"].as_i64().unwrap() as i32,
                offset: v["offset"].as_i64().unwrap(),
                key: text("key"),
                value: text("value"),
            }
        })
        .collect();
    assert_same(confluent, &committed, "confluent-kafka read_committed");
}
