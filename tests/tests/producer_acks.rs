//! `acks=0` and `acks=1` on the librdkafka mock and on Kafka 4.4: every record is delivered
//! (acks=0 reports offset -1, acks=1 the real offset), librdkafka reads them
//! all back where the producer said they went, and `send_with_callback`
//! reports every record once.

use purekafka::config::{Acks, ProducerConfig};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::{BrokerKind, Cluster as Broker, PeerClient, unique_topic};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PARTITIONS: u32 = 3;

#[test]
fn acks_below_all_turn_idempotence_off_unless_it_was_asked_for() {
    // The builder and the properties resolve idempotence as Java does.
    let cfg = ProducerConfig::new("localhost:9092");
    assert!(cfg.is_idempotent(), "default acks=all is idempotent");
    for acks in [Acks::None, Acks::Leader] {
        let cfg = ProducerConfig::new("localhost:9092")
            .acks(acks)
            .build()
            .unwrap();
        assert!(!cfg.is_idempotent(), "acks={acks} keeps idempotence on");
    }
    for acks in ["0", "1"] {
        let cfg = ProducerConfig::from_properties([
            ("bootstrap.servers", "localhost:9092"),
            ("acks", acks),
        ])
        .unwrap();
        assert!(!cfg.is_idempotent(), "acks={acks}");
    }
    // An explicit enable.idempotence=true with acks=0 is an error naming both.
    let e = ProducerConfig::new("localhost:9092")
        .enable_idempotence(true)
        .acks(Acks::None)
        .build()
        .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("enable.idempotence") && s.contains("acks=0"),
        "{s}"
    );
}

fn value(acks: Acks, i: usize) -> String {
    format!("acks{acks}-{i:05}-{}", "v".repeat(i % 30))
}

/// Produces `n` records with `acks`; returns (partition, offset) per record
/// as the delivery reports gave them, and how many batches were retried.
async fn produce(bootstrap: &str, topic: &str, acks: Acks, n: usize) -> (Vec<(i32, i64)>, u64) {
    let cfg = ProducerConfig::new(bootstrap)
        .acks(acks)
        .linger(Duration::from_millis(5))
        .build()
        .unwrap();
    assert!(!cfg.is_idempotent());
    let p = Producer::new(cfg).await.unwrap();
    let mut futures = Vec::with_capacity(n);
    for i in 0..n {
        let k = format!("key-{i}");
        let v = value(acks, i);
        futures.push(
            p.enqueue(ProducerRecord::to(topic).key(&k).value(&v))
                .await
                .unwrap(),
        );
    }
    let mut out = Vec::with_capacity(n);
    for (i, f) in futures.into_iter().enumerate() {
        let d = tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .unwrap_or_else(|_| panic!("acks={acks}: delivery of record {i} never resolved"))
            .unwrap_or_else(|e| panic!("acks={acks}: record {i} failed: {e}"));
        assert_eq!(&*d.topic, topic);
        assert!((0..PARTITIONS as i32).contains(&d.partition), "{d:?}");
        match acks {
            Acks::None => assert_eq!(d.offset, -1, "acks=0 has no offset to report: {d:?}"),
            _ => assert!(d.offset >= 0, "acks={acks}: {d:?}"),
        }
        out.push((d.partition, d.offset));
    }
    let m = p.metrics();
    assert_eq!(m.records_sent, n as u64, "{m:?}");
    assert_eq!(m.failed_records, 0, "{m:?}");
    p.close(Duration::from_secs(10)).await.unwrap();
    (out, m.retries)
}

fn run(broker: &Broker, acks: Acks) {
    const N: usize = 5_000;
    let topic = unique_topic(&format!("acks-{acks}"));
    broker.create_topic(&topic, PARTITIONS).unwrap();
    // Kafka 4.4 can answer the first Produce to a new partition with
    // NOT_LEADER_OR_FOLLOWER; to an acks=0 request it answers by closing the
    // connection, and everything in flight on it is lost: that is acks=0, in
    // every client. So the partitions take one acknowledged record first.
    let warm = if broker.kind() == BrokerKind::Kafka {
        rt().block_on(async {
            let p = Producer::new(ProducerConfig::new(broker.bootstrap()))
                .await
                .unwrap();
            for part in 0..PARTITIONS as i32 {
                p.send(ProducerRecord::to(&topic).partition(part).value("warm-up"))
                    .await
                    .unwrap();
            }
            p.close(Duration::from_secs(5)).await.unwrap();
        });
        PARTITIONS as usize
    } else {
        0
    };
    let (delivered, retries) = rt().block_on(produce(broker.bootstrap(), &topic, acks, N));
    let mut consumed = broker
        .peer_consume(
            &topic,
            PeerClient::Confluent,
            N + warm,
            Duration::from_secs(30),
        )
        .unwrap();
    consumed.retain(|c| c.record.value.as_deref() != Some(b"warm-up".as_slice()));
    assert_eq!(
        consumed.len(),
        N,
        "acks={acks}: librdkafka read {} of {N}",
        consumed.len()
    );
    // Every record once, on the partition (and, for acks=1, at the offset) its
    // delivery report named, in send order within its partition unless a
    // batch was retried: without idempotence a retry can land behind batches
    // pipelined after it, as in the Java client (Kafka 4.4 answers the first
    // Produce to a new topic with NOT_LEADER_OR_FOLLOWER now and then).
    let mut seen: HashMap<usize, (i32, i64)> = HashMap::new();
    let mut last_in_part: HashMap<i32, usize> = HashMap::new();
    for c in &consumed {
        let v = String::from_utf8(c.record.value.clone().unwrap()).unwrap();
        let i: usize = v
            .split('-')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected value {v:?}"));
        assert_eq!(v, value(acks, i));
        assert_eq!(c.record.key.as_deref(), Some(format!("key-{i}").as_bytes()));
        let part = c.record.partition.unwrap();
        assert!(
            seen.insert(i, (part, c.offset)).is_none(),
            "acks={acks}: record {i} read twice"
        );
        if let Some(prev) = last_in_part.insert(part, i) {
            assert!(
                retries > 0 || prev < i,
                "acks={acks}: partition {part}: record {i} after {prev}"
            );
        }
    }
    for (i, &(part, offset)) in delivered.iter().enumerate() {
        let (rp, ro) = *seen
            .get(&i)
            .unwrap_or_else(|| panic!("acks={acks}: record {i} missing"));
        assert_eq!(
            rp, part,
            "acks={acks}: record {i} reported on partition {part}, read from {rp}"
        );
        if acks != Acks::None {
            assert_eq!(
                ro, offset,
                "acks={acks}: record {i} reported at offset {offset}, read at {ro}"
            );
        }
    }
}

purekafka_integration::on_mock_and_kafka! {
fn acks_0_delivers_5000_records_with_offset_minus_one(broker) {
    run(broker, Acks::None);
}

fn acks_1_delivers_5000_records_at_their_offsets(broker) {
    run(broker, Acks::Leader);
}

fn send_with_callback_reports_every_record_once(broker) {
    const N: usize = 1_000;
    let topic = unique_topic("acks-callback");
    broker.create_topic(&topic, PARTITIONS).unwrap();
    rt().block_on(async {
        let p =
            Producer::new(ProducerConfig::new(broker.bootstrap()).linger(Duration::from_millis(5)))
                .await
                .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let reports: Arc<Mutex<Vec<(usize, i32, i64)>>> = Arc::default();
        for i in 0..N {
            let v = format!("cb-{i}");
            let (count, reports) = (count.clone(), reports.clone());
            p.send_with_callback(ProducerRecord::to(&topic).value(&v), move |r| {
                let d = r.unwrap_or_else(|e| panic!("record {i} failed: {e}"));
                reports.lock().unwrap().push((i, d.partition, d.offset));
                count.fetch_add(1, Ordering::SeqCst);
            })
            .await
            .unwrap();
        }
        p.flush().await.unwrap();
        // As in Java and librdkafka, every callback has run when flush returns.
        assert_eq!(
            count.load(Ordering::SeqCst),
            N,
            "callbacks run when flush returned"
        );
        p.close(Duration::from_secs(5)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(count.load(Ordering::SeqCst), N, "no callback runs twice");
        let mut reports = reports.lock().unwrap().clone();
        reports.sort();
        assert_eq!(
            reports.iter().map(|r| r.0).collect::<Vec<_>>(),
            (0..N).collect::<Vec<_>>()
        );
        // Each report names a distinct (partition, offset).
        let mut places: Vec<(i32, i64)> = reports.iter().map(|r| (r.1, r.2)).collect();
        places.sort();
        places.dedup();
        assert_eq!(places.len(), N, "two records reported at the same offset");
        assert!(places.iter().all(|&(_, o)| o >= 0));
    });
}

fn a_callback_can_send_again(broker) {
    // Chaining a send from a delivery callback (retry, follow-up event) is
    // common; it must neither deadlock nor lose the second record.
    let topic = unique_topic("acks-callback-chain");
    broker.create_topic(&topic, 1).unwrap();
    let bootstrap = broker.bootstrap().to_string();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    // Its own thread: a deadlocked runtime cannot be shut down.
    std::thread::spawn(move || {
        rt().block_on(async {
            let p = Producer::new(ProducerConfig::new(&bootstrap))
                .await
                .unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (p2, t2) = (p.clone(), topic.clone());
            p.send_with_callback(ProducerRecord::to(&topic).value("first"), move |r| {
                r.unwrap();
                let _ = p2.metrics();
                let second = p2.try_enqueue(ProducerRecord::to(&t2).value("second"));
                let _ = tx.send(second.map(drop));
            })
            .await
            .unwrap();
            rx.await.unwrap().unwrap();
            p.flush().await.unwrap();
            p.close(Duration::from_secs(5)).await.unwrap();
            let _ = done_tx.send(());
        });
    });
    done_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the producer deadlocked: a callback sent a record");
}
}
