//! The admin client's producer and transaction calls against the real
//! Kafka 4.4: describe_producers shows the producers that wrote to a
//! partition; a Java transaction held open is listed and described by its
//! coordinator, abort_transaction ends it at its partition (a
//! read_committed consumer then reads past it), and fence_producers makes
//! the Java producer's commit, and purekafka's transactional producer's,
//! fail as fenced.

use purekafka::TopicPartition;
use purekafka::admin::{
    AbortTransactionSpec, Admin, AllOk, DescribeProducersOptions, ListTransactionsOptions,
    TransactionState,
};
use purekafka::config::ConsumerConfig;
use purekafka::consumer::Consumer;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{AdminConfig, ErrorCode, ProducerConfig};
use purekafka_integration::java::java_peer_command;
use purekafka_integration::{Cluster, CoordinatorKind, Json, b64, rt, unique_topic};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn admin_config(c: &Cluster) -> AdminConfig {
    AdminConfig::from_properties([("bootstrap.servers", c.bootstrap())]).unwrap()
}

/// A Java transaction (JavaPeer produce --hold) left open until ended.
struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
    /// The offsets its records were written at.
    offsets: Vec<i64>,
}

impl Held {
    /// Writes `n` records to partition 0 of `topic` in a transaction of
    /// `txid` and returns once they are acknowledged, the transaction open.
    fn open(c: &Cluster, topic: &str, txid: &str, n: usize) -> Held {
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
        let mut cmd = java_peer_command(c, &args, Duration::from_secs(120)).unwrap();
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
        for i in 0..n {
            let mut o = serde_json::Map::new();
            o.insert(
                "key".into(),
                Json::from(b64::encode(format!("k{i}").as_bytes())),
            );
            o.insert(
                "value".into(),
                Json::from(b64::encode(format!("in the transaction {i}").as_bytes())),
            );
            o.insert("headers".into(), Json::Array(Vec::new()));
            o.insert("partition".into(), 0.into());
            o.insert("timestamp".into(), Json::Null);
            writeln!(stdin, "{}", Json::Object(o)).unwrap();
        }
        writeln!(stdin, "hold").unwrap();
        stdin.flush().unwrap();
        let mut held = Held {
            child,
            stdin: Some(stdin),
            lines,
            stderr: Some(stderr),
            offsets: Vec::new(),
        };
        loop {
            let line = held.next_line(Duration::from_secs(90));
            if line.contains("\"event\"") {
                assert!(line.contains("open"), "{line}");
                break;
            }
            let v: Json = serde_json::from_str(&line).unwrap();
            held.offsets.push(v["offset"].as_i64().unwrap());
        }
        assert_eq!(held.offsets.len(), n);
        held
    }

    fn next_line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => l,
            Err(_) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self.stderr.take().map(|h| h.join().unwrap_or_default());
                panic!("the Java transaction: no more output; stderr: {err:?}");
            }
        }
    }

    /// Tells the producer to commit; returns whether it exited cleanly and
    /// what it printed on stderr.
    fn commit(mut self) -> (bool, String) {
        let mut stdin = self.stdin.take().unwrap();
        writeln!(stdin, "commit").unwrap();
        drop(stdin);
        let status = self.child.wait().unwrap();
        let err = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        (status.success(), err)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a read_committed consumer of partition 0 reads within `wait`
/// (values, by offset).
async fn read_committed(c: &Cluster, topic: &str, wait: Duration) -> Vec<(i64, String)> {
    let cfg = ConsumerConfig::from_properties([
        ("bootstrap.servers", c.bootstrap()),
        ("isolation.level", "read_committed"),
        ("auto.offset.reset", "earliest"),
    ])
    .unwrap();
    let consumer = Consumer::new(cfg).await.unwrap();
    consumer.assign([(topic, 0)]).unwrap();
    let mut got = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < wait {
        for r in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            let v = r
                .value
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            got.push((r.offset, v.into_owned()));
        }
    }
    got
}

#[test]
fn describe_producers_shows_the_idempotent_producers_that_wrote() {
    let c = Cluster::kafka();
    let topic = unique_topic("admin-producers");
    c.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let admin = Admin::new(admin_config(c)).await.unwrap();
        let tp = TopicPartition::new(topic.as_str(), 0);
        let before = admin.describe_producers([tp.clone()]).await.unwrap();
        assert_eq!(before[&tp].as_ref().unwrap(), &[], "nobody wrote yet");

        let p = Producer::new(ProducerConfig::new(c.bootstrap()))
            .await
            .unwrap();
        for i in 0..3 {
            p.send(
                ProducerRecord::to(&topic)
                    .partition(0)
                    .value(format!("v{i}").as_str()),
            )
            .await
            .unwrap();
        }
        let got = admin.describe_producers([tp.clone()]).await.unwrap();
        let states = got[&tp].as_ref().unwrap();
        assert_eq!(states.len(), 1, "{states:?}");
        let s = &states[0];
        assert!(s.producer_id >= 0, "{s:?}");
        // Three records, one at a time: sequences 0, 1, 2.
        assert_eq!(s.last_sequence, 2, "{s:?}");
        assert!(s.last_timestamp > 0, "{s:?}");
        assert_eq!(s.current_transaction_start_offset, None, "{s:?}");

        // A second producer is a second entry, with another id.
        let p2 = Producer::new(ProducerConfig::new(c.bootstrap()))
            .await
            .unwrap();
        p2.send(ProducerRecord::to(&topic).partition(0).value("other"))
            .await
            .unwrap();
        let got = admin.describe_producers([tp.clone()]).await.unwrap();
        let mut ids: Vec<i64> = got[&tp]
            .as_ref()
            .unwrap()
            .iter()
            .map(|s| s.producer_id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 2, "{got:?}");
        assert!(ids.contains(&s.producer_id));
        // Asked of a named broker (the leader here) instead of found.
        let leader = c.leader(&topic, 0).unwrap().0;
        let named = admin
            .describe_producers_with(
                [tp.clone()],
                DescribeProducersOptions {
                    broker_id: Some(leader),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(named[&tp].as_ref().unwrap(), got[&tp].as_ref().unwrap());
        p.close(Duration::from_secs(5)).await.unwrap();
        p2.close(Duration::from_secs(5)).await.unwrap();

        // Per partition: a partition the topic lacks and a topic that does
        // not exist fail alone, naming themselves.
        let missing_p = TopicPartition::new(topic.as_str(), 7);
        let missing_t = TopicPartition::new(unique_topic("no-such-topic").as_str(), 0);
        let got = admin
            .describe_producers([tp.clone(), missing_p.clone(), missing_t.clone()])
            .await
            .unwrap();
        assert_eq!(got[&tp].as_ref().unwrap().len(), 2);
        for tp in [&missing_p, &missing_t] {
            let e = got[tp].as_ref().unwrap_err();
            assert_eq!(
                e.code(),
                Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                "{tp}: {e}"
            );
            assert!(e.to_string().contains(tp.topic()), "{e}");
        }
    });
}

#[test]
fn a_held_transaction_is_listed_described_and_aborted_at_its_partition() {
    let c = Cluster::kafka();
    let topic = unique_topic("admin-txn-abort");
    let txid = unique_topic("admin-txn-abort-id");
    c.create_topic(&topic, 1).unwrap();
    let held = Held::open(c, &topic, &txid, 2);
    rt().block_on(async {
        let admin = Admin::new(admin_config(c)).await.unwrap();
        let tp = TopicPartition::new(topic.as_str(), 0);

        // Its coordinator describes it: open, on our partition.
        let d = admin.describe_transactions([txid.as_str()]).await.unwrap();
        let d = d[&txid].as_ref().unwrap().clone();
        assert_eq!(d.state, TransactionState::Ongoing, "{d:?}");
        assert!(d.partitions.contains(&tp), "{d:?}");
        assert!(d.transaction_start_time_ms.is_some(), "{d:?}");
        assert_eq!(
            d.coordinator_id,
            c.coordinator(CoordinatorKind::Transaction, &txid).unwrap()
        );

        // Every broker is asked; ours lists it, also by state and producer id.
        let listed = admin.list_transactions().await.unwrap().all().unwrap();
        let all: Vec<_> = listed.into_values().flatten().collect();
        let mine = all
            .iter()
            .find(|t| t.transactional_id == txid)
            .unwrap_or_else(|| panic!("{txid} not in {all:?}"));
        assert_eq!(mine.producer_id, d.producer_id);
        assert_eq!(mine.state, TransactionState::Ongoing);
        let filtered = admin
            .list_transactions_with(ListTransactionsOptions {
                states: vec![TransactionState::Ongoing],
                producer_ids: vec![d.producer_id],
                ..Default::default()
            })
            .await
            .unwrap()
            .all()
            .unwrap();
        let ids: Vec<&str> = filtered
            .values()
            .flatten()
            .map(|t| t.transactional_id.as_str())
            .collect();
        assert_eq!(ids, [txid.as_str()]);
        let none = admin
            .list_transactions_with(ListTransactionsOptions {
                states: vec![TransactionState::CompleteCommit],
                producer_ids: vec![d.producer_id],
                ..Default::default()
            })
            .await
            .unwrap()
            .all()
            .unwrap();
        assert!(none.values().all(Vec::is_empty), "{none:?}");
        // By pattern (ListTransactions v2) and by age (v1): only ours, and
        // not once we ask for transactions open for an hour.
        let by_pattern = admin
            .list_transactions_with(ListTransactionsOptions {
                transactional_id_pattern: Some(format!("^{txid}$")),
                ..Default::default()
            })
            .await
            .unwrap()
            .all()
            .unwrap();
        let ids: Vec<&str> = by_pattern
            .values()
            .flatten()
            .map(|t| t.transactional_id.as_str())
            .collect();
        assert_eq!(ids, [txid.as_str()]);
        let old = admin
            .list_transactions_with(ListTransactionsOptions {
                transactional_id_pattern: Some(format!("^{txid}$")),
                open_longer_than: Some(Duration::from_secs(3600)),
                ..Default::default()
            })
            .await
            .unwrap()
            .all()
            .unwrap();
        assert!(old.values().all(Vec::is_empty), "{old:?}");

        // The partition's leader shows the producer with its open transaction.
        let producers = admin.describe_producers([tp.clone()]).await.unwrap();
        let p = producers[&tp]
            .as_ref()
            .unwrap()
            .iter()
            .find(|p| p.producer_id == d.producer_id)
            .cloned()
            .unwrap_or_else(|| panic!("producer {} not in {producers:?}", d.producer_id));
        assert_eq!(p.current_transaction_start_offset, Some(held.offsets[0]));

        // A plain record after it: a read_committed consumer stops at the
        // open transaction and sees nothing.
        let plain = Producer::new(ProducerConfig::new(c.bootstrap()))
            .await
            .unwrap();
        let after = plain
            .send(ProducerRecord::to(&topic).partition(0).value("after"))
            .await
            .unwrap();
        plain.close(Duration::from_secs(5)).await.unwrap();
        assert!(
            read_committed(c, &topic, Duration::from_secs(3))
                .await
                .is_empty()
        );

        // Aborted at the partition: the consumer reads past it, and only
        // the plain record; the leader shows no open transaction.
        admin
            .abort_transaction(AbortTransactionSpec::for_producer(tp.clone(), &p))
            .await
            .unwrap();
        let got = read_committed(c, &topic, Duration::from_secs(5)).await;
        assert_eq!(got, [(after.offset, "after".to_string())]);
        let producers = admin.describe_producers([tp.clone()]).await.unwrap();
        let p = producers[&tp]
            .as_ref()
            .unwrap()
            .iter()
            .find(|s| s.producer_id == d.producer_id)
            .unwrap();
        assert_eq!(p.current_transaction_start_offset, None, "{p:?}");

        // Errors per resource.
        let ghost = unique_topic("no-such-txid");
        let d = admin.describe_transactions([ghost.as_str()]).await.unwrap();
        let e = d[&ghost].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND), "{e}");
        assert!(e.to_string().contains(&ghost), "{e}");
        let e = admin
            .abort_transaction(AbortTransactionSpec {
                partition: TopicPartition::new(unique_topic("no-such-topic").as_str(), 0),
                producer_id: 1,
                producer_epoch: 0,
                coordinator_epoch: -1,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION), "{e}");
    });
    drop(held);
}

#[test]
fn fence_producers_makes_the_held_transactions_commit_fail() {
    let c = Cluster::kafka();
    let topic = unique_topic("admin-txn-fence");
    let txid = unique_topic("admin-txn-fence-id");
    c.create_topic(&topic, 1).unwrap();
    let held = Held::open(c, &topic, &txid, 2);
    let before = rt().block_on(async {
        let admin = Admin::new(admin_config(c)).await.unwrap();
        let d = admin.describe_transactions([txid.as_str()]).await.unwrap();
        let d = d[&txid].as_ref().unwrap().clone();
        assert_eq!(d.state, TransactionState::Ongoing);
        let fenced = admin.fence_producers([txid.as_str()]).await.unwrap();
        let f = fenced[&txid].as_ref().unwrap();
        assert_eq!(f.producer_id, d.producer_id, "{f:?} vs {d:?}");
        assert!(f.epoch > d.producer_epoch, "{f:?} vs {d:?}");
        d
    });
    // The Java producer's commit now fails: it was fenced.
    let (ok, stderr) = held.commit();
    assert!(!ok, "the fenced producer's commit succeeded: {stderr}");
    assert!(
        stderr.contains("ProducerFenced") || stderr.contains("InvalidProducerEpoch"),
        "{stderr}"
    );
    rt().block_on(async {
        // Its records were aborted with the fence: read_committed sees none.
        assert!(
            read_committed(c, &topic, Duration::from_secs(3))
                .await
                .is_empty()
        );
        let admin = Admin::new(admin_config(c)).await.unwrap();
        let d = admin.describe_transactions([txid.as_str()]).await.unwrap();
        let d = d[&txid].as_ref().unwrap();
        assert_ne!(d.state, TransactionState::Ongoing, "{d:?}");
        assert!(d.producer_epoch > before.producer_epoch, "{d:?}");
    });
}

#[test]
fn fence_producers_fences_our_transactional_producer() {
    let c = Cluster::kafka();
    let topic = unique_topic("admin-txn-fence-ours");
    let txid = unique_topic("admin-txn-fence-ours-id");
    c.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let cfg = ProducerConfig::from_properties([
            ("bootstrap.servers", c.bootstrap()),
            ("transactional.id", txid.as_str()),
        ])
        .unwrap();
        let p = Producer::new(cfg).await.unwrap();
        p.init_transactions().await.unwrap();
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::to(&topic).partition(0).value("fenced"))
            .await
            .unwrap();
        let admin = Admin::new(admin_config(c)).await.unwrap();
        let fenced = admin.fence_producers([txid.as_str()]).await.unwrap();
        assert!(fenced[&txid].is_ok(), "{fenced:?}");
        let e = p.commit_transaction().await.unwrap_err();
        let text = format!("{e:?}");
        assert!(
            text.contains("PRODUCER_FENCED") || text.contains("INVALID_PRODUCER_EPOCH"),
            "{e}"
        );
        assert!(
            read_committed(c, &topic, Duration::from_secs(3))
                .await
                .is_empty()
        );
    });
}
