//! purekafka's transactional producer against Apache Kafka 4.4: commit and
//! abort as our own read_committed and read_uncommitted consumers see them,
//! several transactions in a row, transactions over several partitions and
//! topics, offsets sent in a transaction, zombie fencing, an abortable
//! error followed by an abort and a committed transaction, a transactional
//! id the broker denies, a timeout against a broker that went away, and
//! what follows the coordinator's abort of a transaction open longer than
//! transaction.timeout.ms (commit, send, abort; as Java's producer, under
//! transactions v2 and v1).

use purekafka::config::{ConsumerConfig, IsolationLevel, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, ConsumerGroupMetadata, OffsetAndMetadata};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{Error, ErrorCode, TopicPartition};
use purekafka_integration::trace_capture::TraceCapture;
use purekafka_integration::txn::wait_for_timeout_abort;
use purekafka_integration::{AclResource, Cluster, cluster_or_skip, rt, unique_topic};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn txn_config(bootstrap: &str, txid: &str) -> ProducerConfig {
    let mut cfg = ProducerConfig::new(bootstrap);
    cfg.transactional_id = Some(txid.to_owned());
    cfg.linger = Duration::from_millis(5);
    cfg
}

async fn txn_producer(bootstrap: &str, txid: &str) -> Producer {
    let p = Producer::new(txn_config(bootstrap, txid)).await.unwrap();
    p.init_transactions().await.unwrap();
    p
}

async fn consumer(bootstrap: &str, parts: &[(&str, i32)], isolation: IsolationLevel) -> Consumer {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(100);
    cfg.isolation_level = isolation;
    let c = Consumer::new(cfg).await.unwrap();
    c.assign(parts.iter().copied()).unwrap();
    c
}

/// Values read until `want` arrived and then 1.5 s of quiet (or 30 s in all),
/// per topic-partition, in offset order.
async fn read_values(c: &Consumer, want: usize) -> BTreeMap<(String, i32), Vec<String>> {
    let mut got: BTreeMap<(String, i32), Vec<String>> = BTreeMap::new();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut quiet_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now > deadline || quiet_until.is_some_and(|q| now > q) {
            return got;
        }
        for r in c.poll(Duration::from_millis(200)).await.unwrap() {
            let v = String::from_utf8(r.value.as_deref().unwrap_or_default().to_vec()).unwrap();
            got.entry((r.topic.to_string(), r.partition))
                .or_default()
                .push(v);
            n += 1;
        }
        if n >= want && quiet_until.is_none() {
            quiet_until = Some(Instant::now() + Duration::from_millis(1500));
        }
    }
}

fn values(got: &BTreeMap<(String, i32), Vec<String>>) -> Vec<String> {
    let mut v: Vec<String> = got.values().flatten().cloned().collect();
    v.sort();
    v
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn committed_records_are_visible_and_aborted_ones_are_not() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    let a = unique_topic("txn-commit-a");
    let b = unique_topic("txn-commit-b");
    c.create_topic(&a, 3).unwrap();
    c.create_topic(&b, 2).unwrap();
    rt().block_on(async {
        let p = txn_producer(c.bootstrap(), &unique_topic("txid-commit")).await;
        // Transaction 1, committed: three partitions of one topic, two of another.
        p.begin_transaction().unwrap();
        let mut pending = Vec::new();
        for (t, part, v) in [
            (&a, 0, "c1-a0"),
            (&a, 1, "c1-a1"),
            (&a, 2, "c1-a2"),
            (&b, 0, "c1-b0"),
            (&b, 1, "c1-b1"),
        ] {
            pending.push(
                p.enqueue(ProducerRecord::to(t).partition(part).value(v))
                    .await
                    .unwrap(),
            );
        }
        // The commit sends what is buffered first: every delivery is done.
        p.commit_transaction().await.unwrap();
        for d in pending {
            let done = tokio::time::timeout(Duration::from_millis(100), d)
                .await
                .expect("commit_transaction returned before a record of it was delivered");
            done.unwrap();
        }
        // Transaction 2, aborted, on the same partitions.
        p.begin_transaction().unwrap();
        let mut aborted = Vec::new();
        for (t, part, v) in [(&a, 0, "a2-a0"), (&a, 2, "a2-a2"), (&b, 1, "a2-b1")] {
            aborted.push(
                p.enqueue(ProducerRecord::to(t).partition(part).value(v))
                    .await
                    .unwrap(),
            );
        }
        // They reach the log (a read_uncommitted consumer sees them) ...
        for d in aborted {
            d.await.unwrap();
        }
        p.abort_transaction().await.unwrap();
        // Transactions 3 and 4, committed, one after the other.
        for round in 3..5 {
            p.begin_transaction().unwrap();
            for part in 0..3 {
                let v = format!("c{round}-a{part}");
                p.send(ProducerRecord::to(&a).partition(part).value(&v))
                    .await
                    .unwrap();
            }
            p.commit_transaction().await.unwrap();
        }
        // A commit with nothing sent is allowed (and ends nothing on the broker).
        p.begin_transaction().unwrap();
        p.commit_transaction().await.unwrap();

        let parts = [
            (&a[..], 0),
            (&a[..], 1),
            (&a[..], 2),
            (&b[..], 0),
            (&b[..], 1),
        ];
        let committed = [
            "c1-a0", "c1-a1", "c1-a2", "c1-b0", "c1-b1", "c3-a0", "c3-a1", "c3-a2", "c4-a0",
            "c4-a1", "c4-a2",
        ];
        let rc = consumer(c.bootstrap(), &parts, IsolationLevel::ReadCommitted).await;
        let got = read_values(&rc, committed.len()).await;
        assert_eq!(values(&got), sorted(&committed), "read_committed");
        // Order within a partition is the order of the transactions.
        assert_eq!(
            got.get(&(a.clone(), 0)).unwrap(),
            &["c1-a0", "c3-a0", "c4-a0"]
        );
        let ru = consumer(c.bootstrap(), &parts, IsolationLevel::ReadUncommitted).await;
        let got = read_values(&ru, committed.len() + 3).await;
        let mut all: Vec<&str> = committed.to_vec();
        all.extend(["a2-a0", "a2-a2", "a2-b1"]);
        assert_eq!(values(&got), sorted(&all), "read_uncommitted");
        p.close(Duration::from_secs(10)).await.unwrap();
        let e = p.begin_transaction().expect_err("a closed producer");
        assert!(matches!(e, Error::Closed(_)), "{e:?}");
    });
}

#[test]
fn a_second_producer_with_the_same_id_fences_the_first() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("txn-fence");
    c.create_topic(&topic, 1).unwrap();
    let txid = unique_topic("txid-fence");
    rt().block_on(async {
        let old = txn_producer(c.bootstrap(), &txid).await;
        old.begin_transaction().unwrap();
        old.send(ProducerRecord::to(&topic).value("zombie-1"))
            .await
            .unwrap();
        // The newer instance takes the id over: the older one's open
        // transaction is aborted, and its epoch is stale.
        let new = txn_producer(c.bootstrap(), &txid).await;
        let e = old
            .send(ProducerRecord::to(&topic).value("zombie-2"))
            .await
            .expect_err("a fenced producer's send must fail");
        assert!(
            matches!(
                e.code(),
                Some(ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH)
            ),
            "{e:?}"
        );
        let e = old
            .commit_transaction()
            .await
            .expect_err("a fenced producer cannot commit");
        // As Java's: a Produce's INVALID_PRODUCER_EPOCH makes the
        // transaction abortable (it may be the coordinator's timeout abort),
        // and the abort's EndTxn is then fenced for good.
        let e = match e {
            Error::TransactionAbortable { cause, .. }
                if cause.code() == Some(ErrorCode::INVALID_PRODUCER_EPOCH) =>
            {
                old.abort_transaction()
                    .await
                    .expect_err("a fenced producer cannot abort")
            }
            e => e,
        };
        let Error::TransactionFatal {
            transactional_id,
            cause,
        } = &e
        else {
            panic!("expected a fatal error, got {e:?}")
        };
        assert_eq!(transactional_id, &txid);
        assert_eq!(cause.code(), Some(ErrorCode::PRODUCER_FENCED), "{cause:?}");
        // Every later call fails at once with the same cause.
        let t0 = Instant::now();
        for r in [
            old.begin_transaction(),
            old.abort_transaction().await,
            old.send(ProducerRecord::to(&topic).value("zombie-3"))
                .await
                .map(drop),
        ] {
            let e = r.expect_err("a fenced producer fails fast");
            assert!(matches!(e, Error::TransactionFatal { .. }), "{e:?}");
            assert!(e.to_string().contains(&txid), "{e}");
        }
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        // The newer producer's transactions are intact.
        for v in ["new-1", "new-2"] {
            new.begin_transaction().unwrap();
            new.send(ProducerRecord::to(&topic).value(v)).await.unwrap();
            new.commit_transaction().await.unwrap();
        }
        let rc = consumer(c.bootstrap(), &[(&topic, 0)], IsolationLevel::ReadCommitted).await;
        let got = read_values(&rc, 2).await;
        assert_eq!(values(&got), sorted(&["new-1", "new-2"]));
    });
}

#[test]
fn a_failed_send_makes_the_transaction_abortable_and_the_producer_goes_on_after_abort() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    let small = unique_topic("txn-small");
    c.create_topic_with(&small, 1, None, &[("max.message.bytes", "2000")])
        .unwrap();
    let other = unique_topic("txn-other");
    c.create_topic(&other, 1).unwrap();
    rt().block_on(async {
        let p = txn_producer(c.bootstrap(), &unique_topic("txid-abortable")).await;
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::to(&other).value("lost-1"))
            .await
            .unwrap();
        let big = vec![b'x'; 10_000];
        let e = p
            .send(ProducerRecord::to(&small).value(&big))
            .await
            .expect_err("the broker refuses a record above max.message.bytes");
        assert!(
            matches!(
                e.code(),
                Some(ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE)
            ),
            "{e:?}"
        );
        // Nothing more is accepted in this transaction, and it cannot commit.
        let e = p
            .send(ProducerRecord::to(&other).value("refused"))
            .await
            .expect_err("a send after an abortable error");
        assert!(matches!(e, Error::TransactionAbortable { .. }), "{e:?}");
        let e = p
            .commit_transaction()
            .await
            .expect_err("commit after a failed send");
        let Error::TransactionAbortable { cause, .. } = &e else {
            panic!("expected an abortable error, got {e:?}")
        };
        assert!(cause.to_string().contains(&small[..]), "{cause}");
        assert!(e.to_string().contains("abort_transaction"), "{e}");
        p.abort_transaction().await.unwrap();
        // The producer goes on.
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::to(&other).value("kept-1"))
            .await
            .unwrap();
        p.send(ProducerRecord::to(&small).value("kept-small"))
            .await
            .unwrap();
        p.commit_transaction().await.unwrap();
        let rc = consumer(
            c.bootstrap(),
            &[(&other, 0), (&small, 0)],
            IsolationLevel::ReadCommitted,
        )
        .await;
        let got = read_values(&rc, 2).await;
        assert_eq!(values(&got), sorted(&["kept-1", "kept-small"]));
    });
}

async fn try_committed_offset(
    bootstrap: &str,
    group: &str,
    tp: (&str, i32),
) -> purekafka::Result<Option<i64>> {
    try_committed_offset_within(bootstrap, group, tp, Duration::from_secs(30)).await
}

/// [`try_committed_offset`] waiting up to `within`: while a
/// transaction holds offsets for the partition, committed() waits (as
/// Java's does) and then fails with UNSTABLE_OFFSET_COMMIT.
async fn try_committed_offset_within(
    bootstrap: &str,
    group: &str,
    tp: (&str, i32),
    within: Duration,
) -> purekafka::Result<Option<i64>> {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.group_id = Some(group.to_owned());
    let c = Consumer::new(cfg).await?;
    let got = c.committed_timeout([tp], within).await?;
    Ok(got.get(&TopicPartition::from(tp)).map(|o| o.offset))
}

/// The committed offset once stable: right after a commit the coordinator
/// may still answer UNSTABLE_OFFSET_COMMIT while it writes the transaction's
/// markers; Java's consumer retries that, and so does this (for 10 s).
async fn committed_offset(bootstrap: &str, group: &str, tp: (&str, i32)) -> Option<i64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match try_committed_offset(bootstrap, group, tp).await {
            Err(e)
                if e.code() == Some(ErrorCode::UNSTABLE_OFFSET_COMMIT)
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            r => return r.unwrap(),
        }
    }
}

#[test]
fn offsets_sent_in_a_transaction_are_committed_with_it_and_only_then() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    let input = unique_topic("txn-offsets-in");
    let output = unique_topic("txn-offsets-out");
    c.create_topic(&input, 2).unwrap();
    c.create_topic(&output, 1).unwrap();
    let group = unique_topic("txn-offsets-group");
    rt().block_on(async {
        let p = txn_producer(c.bootstrap(), &unique_topic("txid-offsets")).await;
        let gm = ConsumerGroupMetadata::new(group.clone());
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::to(&output).value("out-1"))
            .await
            .unwrap();
        p.send_offsets_to_transaction(
            [
                (
                    (&input[..], 0),
                    OffsetAndMetadata {
                        offset: 5,
                        metadata: Some("m5".into()),
                    },
                ),
                (
                    (&input[..], 1),
                    OffsetAndMetadata {
                        offset: 3,
                        metadata: None,
                    },
                ),
            ],
            &gm,
        )
        .await
        .unwrap();
        // Not committed before the transaction is: the coordinator answers
        // UNSTABLE_OFFSET_COMMIT (offsets of an open transaction), which
        // committed() waits out until its timeout (2 s here), or none.
        let before = tokio::time::timeout(
            Duration::from_secs(15),
            try_committed_offset_within(
                c.bootstrap(),
                &group,
                (&input, 0),
                Duration::from_secs(2),
            ),
        )
        .await;
        assert!(
            matches!(&before, Ok(Ok(None)))
                || matches!(&before, Ok(Err(e)) if e.code() == Some(ErrorCode::UNSTABLE_OFFSET_COMMIT)),
            "offset committed before the transaction: {before:?}"
        );
        p.commit_transaction().await.unwrap();
        assert_eq!(
            committed_offset(c.bootstrap(), &group, (&input, 0)).await,
            Some(5)
        );
        assert_eq!(
            committed_offset(c.bootstrap(), &group, (&input, 1)).await,
            Some(3)
        );
        // Offsets of an aborted transaction are not committed.
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::to(&output).value("out-2"))
            .await
            .unwrap();
        p.send_offsets_to_transaction(
            [(
                (&input[..], 0),
                OffsetAndMetadata {
                    offset: 9,
                    metadata: None,
                },
            )],
            &gm,
        )
        .await
        .unwrap();
        p.abort_transaction().await.unwrap();
        assert_eq!(
            committed_offset(c.bootstrap(), &group, (&input, 0)).await,
            Some(5)
        );
        // A transaction of offsets alone commits too.
        p.begin_transaction().unwrap();
        p.send_offsets_to_transaction(
            [(
                (&input[..], 1),
                OffsetAndMetadata {
                    offset: 11,
                    metadata: None,
                },
            )],
            &gm,
        )
        .await
        .unwrap();
        p.commit_transaction().await.unwrap();
        assert_eq!(
            committed_offset(c.bootstrap(), &group, (&input, 1)).await,
            Some(11)
        );
        let rc = consumer(c.bootstrap(), &[(&output, 0)], IsolationLevel::ReadCommitted).await;
        let got = read_values(&rc, 1).await;
        assert_eq!(values(&got), sorted(&["out-1"]));
    });
}

fn sasl_config(c: &Cluster, user: &str, txid: &str) -> ProducerConfig {
    let props = [
        ("bootstrap.servers", c.listener("SASL_PLAINTEXT").unwrap()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", user),
        ("sasl.password", c.secret(user).unwrap()),
        ("transactional.id", txid),
        ("max.block.ms", "20000"),
    ];
    ProducerConfig::from_properties(props).unwrap()
}

#[test]
fn a_transactional_id_without_acl_is_a_fatal_error_naming_it() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    if c.listener("SASL_PLAINTEXT").is_none() {
        eprintln!(
            "SKIP a_transactional_id_without_acl_is_a_fatal_error_naming_it: no SASL listener"
        );
        return;
    }
    let topic = unique_topic("txn-acl");
    c.create_topic(&topic, 1).unwrap();
    let txid = unique_topic("txid-acl");
    c.grant(
        "User:alice",
        &["Write", "Describe"],
        AclResource::Topic(&topic),
    )
    .unwrap();
    rt().block_on(async {
        let p = Producer::new(sasl_config(c, "alice", &txid)).await.unwrap();
        let t0 = Instant::now();
        let e = p
            .init_transactions()
            .await
            .expect_err("alice has no ACL on the transactional id");
        let Error::TransactionFatal {
            transactional_id,
            cause,
        } = &e
        else {
            panic!("expected a fatal error, got {e:?}")
        };
        assert_eq!(transactional_id, &txid);
        assert_eq!(
            cause.code(),
            Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
            "{cause:?}"
        );
        assert!(e.to_string().contains(&txid), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        // Fatal: every call fails at once with the cause.
        let e = p.begin_transaction().expect_err("after a fatal error");
        assert!(matches!(e, Error::TransactionFatal { .. }), "{e:?}");
        let e = p
            .init_transactions()
            .await
            .expect_err("after a fatal error");
        assert!(matches!(e, Error::TransactionFatal { .. }), "{e:?}");
    });
    // With the ACL, a new producer with that id works.
    c.grant(
        "User:alice",
        &["Write", "Describe"],
        AclResource::TransactionalId(&txid),
    )
    .unwrap();
    rt().block_on(async {
        let p = Producer::new(sasl_config(c, "alice", &txid)).await.unwrap();
        p.init_transactions().await.unwrap();
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::to(&topic).value("granted"))
            .await
            .unwrap();
        p.commit_transaction().await.unwrap();
    });
}

/// A one-node Kafka of this test's own (it kills the node or changes a
/// feature); `None`, after a SKIP line, when Kafka is not installed
/// outside CI.
fn private_kafka(test: &str) -> Option<Cluster> {
    match Cluster::kafka_private(1) {
        Ok(c) => Some(c),
        Err(e) if e.is_not_installed() && !purekafka_integration::in_ci() => {
            eprintln!("SKIP {test}: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn init_transactions_against_a_broker_that_went_away_fails_within_max_block_ms() {
    let Some(c) = private_kafka("init_transactions_against_a_broker_that_went_away") else {
        return;
    };
    rt().block_on(async {
        let mut cfg = txn_config(c.bootstrap(), "txid-gone");
        cfg.max_block = Duration::from_secs(3);
        let p = Producer::new(cfg).await.unwrap();
        c.kill_node(1).unwrap();
        let t0 = Instant::now();
        let e = p
            .init_transactions()
            .await
            .expect_err("no broker to answer");
        let took = t0.elapsed();
        let Error::TransactionTimeout {
            operation,
            transactional_id,
            waiting_for,
            ..
        } = &e
        else {
            panic!("expected a timeout, got {e:?}")
        };
        assert_eq!(*operation, "init_transactions");
        assert_eq!(transactional_id, "txid-gone");
        assert!(waiting_for.contains("FindCoordinator"), "{e}");
        assert!(e.to_string().contains("max.block.ms"), "{e}");
        assert!(
            took >= Duration::from_millis(2900) && took < Duration::from_secs(5),
            "{took:?}"
        );
        // Still not initialized: a transaction cannot begin.
        let e = p.begin_transaction().expect_err("init did not finish");
        assert!(matches!(e, Error::TransactionState { .. }), "{e:?}");
    });
}

/// Transactions v1 (AddPartitionsToTxn, AddOffsetsToTxn, one epoch for
/// every transaction) on a Kafka 4.4 whose transaction.version was
/// downgraded to 1, as a cluster upgraded from 3.x runs it.
#[test]
fn transactions_v1_on_a_broker_with_transaction_version_1() {
    let Some(c) = private_kafka("transactions_v1_on_a_broker_with_transaction_version_1") else {
        return;
    };
    let previous = c.set_feature("transaction.version", 1).unwrap();
    assert_eq!(previous, 2, "Kafka 4.4 finalizes transaction.version 2");
    // The client's log says which transaction protocol it chose.
    let log = TraceCapture::install();
    let a = unique_topic("txn-v1-a");
    let b = unique_topic("txn-v1-b");
    let input = unique_topic("txn-v1-in");
    c.create_topic(&a, 2).unwrap();
    c.create_topic(&b, 1).unwrap();
    c.create_topic(&input, 1).unwrap();
    let group = unique_topic("txn-v1-group");
    let txid = unique_topic("txid-v1");
    rt().block_on(async {
        let p = txn_producer(c.bootstrap(), &txid).await;
        let text = log.text();
        let chosen: Vec<&str> = text.lines().filter(|l| l.contains(&txid)).collect();
        assert!(
            chosen.iter().any(|l| l.contains("(V1)")),
            "the producer did not choose transactions v1: {chosen:?}"
        );
        let gm = ConsumerGroupMetadata::new(group.clone());
        // Committed: partitions of two topics and the group's offset.
        p.begin_transaction().unwrap();
        for (t, part, v) in [(&a, 0, "c1-a0"), (&a, 1, "c1-a1"), (&b, 0, "c1-b0")] {
            p.send(ProducerRecord::to(t).partition(part).value(v))
                .await
                .unwrap();
        }
        p.send_offsets_to_transaction(
            [(
                (&input[..], 0),
                OffsetAndMetadata {
                    offset: 4,
                    metadata: None,
                },
            )],
            &gm,
        )
        .await
        .unwrap();
        p.commit_transaction().await.unwrap();
        // Aborted, offsets too.
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::to(&a).partition(0).value("a2-a0"))
            .await
            .unwrap();
        p.send_offsets_to_transaction(
            [(
                (&input[..], 0),
                OffsetAndMetadata {
                    offset: 8,
                    metadata: None,
                },
            )],
            &gm,
        )
        .await
        .unwrap();
        p.abort_transaction().await.unwrap();
        // Committed again, on one epoch (v1 does not bump it per transaction).
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::to(&a).partition(0).value("c3-a0"))
            .await
            .unwrap();
        p.commit_transaction().await.unwrap();
        assert_eq!(
            committed_offset(c.bootstrap(), &group, (&input, 0)).await,
            Some(4)
        );
        let parts = [(&a[..], 0), (&a[..], 1), (&b[..], 0)];
        let rc = consumer(c.bootstrap(), &parts, IsolationLevel::ReadCommitted).await;
        let got = read_values(&rc, 4).await;
        assert_eq!(values(&got), sorted(&["c1-a0", "c1-a1", "c1-b0", "c3-a0"]));
        let ru = consumer(c.bootstrap(), &parts, IsolationLevel::ReadUncommitted).await;
        let got = read_values(&ru, 5).await;
        assert_eq!(
            values(&got),
            sorted(&["c1-a0", "c1-a1", "c1-b0", "a2-a0", "c3-a0"])
        );
        // Fencing works the same way.
        let newer = txn_producer(c.bootstrap(), &txid).await;
        let e = p.begin_transaction().and(Ok(()));
        let e = match e {
            Ok(()) => p
                .send(ProducerRecord::to(&a).partition(1).value("zombie"))
                .await
                .map(drop),
            Err(e) => Err(e),
        };
        assert!(e.is_err(), "the older producer is fenced");
        let e = p.commit_transaction().await.expect_err("fenced");
        assert!(matches!(e, Error::TransactionFatal { .. }), "{e:?}");
        newer.begin_transaction().unwrap();
        newer
            .send(ProducerRecord::to(&a).partition(1).value("newer"))
            .await
            .unwrap();
        newer.commit_transaction().await.unwrap();
    });
}

/// What the application does once the coordinator has aborted its
/// transaction for `transaction.timeout.ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AfterTimeout {
    /// Commits.
    Commit,
    /// Sends one more record, then commits.
    Send,
    /// Aborts.
    Abort,
}

/// One transaction left open past transaction.timeout.ms (3 s), then
/// `after`; the outcome of each call is the Java producer's (4.4, checked
/// on Kafka 4.4 under both transaction versions). Returns the value the
/// next transaction committed (by this producer if Java's goes on, else
/// by a new producer with the same id).
async fn after_the_timeout_abort(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    v2: bool,
    after: AfterTimeout,
) -> String {
    let txid = unique_topic(&format!("txid-timeout-{after:?}"));
    let mut cfg = txn_config(bootstrap, &txid);
    cfg.transaction_timeout = Duration::from_secs(3);
    let p = Producer::new(cfg.clone()).await.unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    let record = |v| ProducerRecord::to(topic).partition(partition).value(v);
    let old = format!("old-{after:?}");
    p.send(record(&old)).await.unwrap();
    wait_for_timeout_abort(bootstrap, &txid).await;
    let fenced = |e: &Error| matches!(e, Error::TransactionFatal { cause, .. } if cause.code() == Some(ErrorCode::PRODUCER_FENCED));
    // Under v2 an abort is taken as a retry of the coordinator's own abort;
    // under v1 the bumped epoch fences every EndTxn.
    let goes_on = match after {
        AfterTimeout::Commit => {
            let e = p
                .commit_transaction()
                .await
                .expect_err("commit after the timeout");
            let want = if v2 {
                ErrorCode::INVALID_TXN_STATE
            } else {
                ErrorCode::PRODUCER_FENCED
            };
            assert!(
                matches!(&e, Error::TransactionFatal { cause, .. } if cause.code() == Some(want)),
                "{after:?} v2={v2}: {e:?}"
            );
            assert!(
                e.to_string().contains("transaction.timeout.ms (3000 ms)"),
                "{e}"
            );
            let e = p
                .abort_transaction()
                .await
                .expect_err("abort after a fatal commit");
            assert!(matches!(e, Error::TransactionFatal { .. }), "{e:?}");
            false
        }
        AfterTimeout::Send | AfterTimeout::Abort => {
            if after == AfterTimeout::Send {
                let e = p
                    .send(ProducerRecord::to(topic).partition(partition).value("late"))
                    .await
                    .expect_err("a send under the old epoch");
                assert_eq!(
                    e.code(),
                    Some(ErrorCode::INVALID_PRODUCER_EPOCH),
                    "v2={v2}: {e:?}"
                );
                let e = p
                    .commit_transaction()
                    .await
                    .expect_err("commit after a failed send");
                let Error::TransactionAbortable { cause, .. } = &e else {
                    panic!("v2={v2}: expected an abortable error, got {e:?}")
                };
                assert_eq!(cause.code(), Some(ErrorCode::INVALID_PRODUCER_EPOCH), "{e}");
                assert!(
                    e.to_string().contains("transaction.timeout.ms (3000 ms)"),
                    "{e}"
                );
            }
            let r = p.abort_transaction().await;
            if v2 {
                r.unwrap();
            } else {
                let e = r.expect_err("v1: the abort is fenced");
                assert!(fenced(&e), "{after:?}: {e:?}");
                assert!(
                    e.to_string().contains("transaction.timeout.ms (3000 ms)"),
                    "{e}"
                );
            }
            v2
        }
    };
    let new = format!("new-{after:?}");
    let p = if goes_on {
        p
    } else {
        let e = p
            .begin_transaction()
            .expect_err("the producer failed for good");
        assert!(matches!(e, Error::TransactionFatal { .. }), "{e:?}");
        let n = Producer::new(cfg).await.unwrap();
        n.init_transactions().await.unwrap();
        n
    };
    p.begin_transaction().unwrap();
    p.send(record(&new)).await.unwrap();
    p.commit_transaction().await.unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
    new
}

/// Every [`AfterTimeout`], each on its own partition, at once; then a
/// read_committed consumer sees only the records committed after.
async fn timeout_aborts(c: &Cluster, v2: bool) {
    let topic = unique_topic("txn-timeout");
    c.create_topic(&topic, 3).unwrap();
    let cases = [
        AfterTimeout::Commit,
        AfterTimeout::Send,
        AfterTimeout::Abort,
    ];
    let run = |partition: i32| {
        after_the_timeout_abort(
            c.bootstrap(),
            &topic,
            partition,
            v2,
            cases[partition as usize],
        )
    };
    let (a, b, d) = tokio::join!(run(0), run(1), run(2));
    let committed = [a, b, d];
    let parts: Vec<(&str, i32)> = (0..3).map(|p| (&topic[..], p)).collect();
    let rc = consumer(c.bootstrap(), &parts, IsolationLevel::ReadCommitted).await;
    let got = read_values(&rc, committed.len()).await;
    let want: Vec<&str> = committed.iter().map(String::as_str).collect();
    assert_eq!(values(&got), sorted(&want), "read_committed, v2={v2}");
    // The timed-out transactions' records were written, then aborted.
    let ru = consumer(c.bootstrap(), &parts, IsolationLevel::ReadUncommitted).await;
    let got = read_values(&ru, 2 * committed.len()).await;
    for after in cases {
        let old = format!("old-{after:?}");
        assert!(values(&got).contains(&old), "{old} not in the log: {got:?}");
    }
}

#[test]
fn the_coordinators_timeout_abort_under_transactions_v2() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    rt().block_on(timeout_aborts(c, true));
}

#[test]
fn the_coordinators_timeout_abort_under_transactions_v1() {
    let Some(c) = private_kafka("the_coordinators_timeout_abort_under_transactions_v1") else {
        return;
    };
    assert_eq!(c.set_feature("transaction.version", 1).unwrap(), 2);
    rt().block_on(timeout_aborts(&c, false));
}
