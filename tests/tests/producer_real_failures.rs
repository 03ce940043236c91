//! The idempotent producer against real failures on a three-node Kafka 4.4
//! (replication 3, min.insync.replicas 2): partition leaders are killed with
//! SIGKILL mid-stream and started again, and one leader is moved by an
//! operator's reassignment and preferred election. Kafka validates sequence numbers and
//! drops duplicate batches, so what the log holds is the judge: every
//! acknowledged record is there exactly once, in send order per partition.
//! (The mock-based counterpart with injected faults is `producer_faults.rs`.)

use purekafka::config::{Acks, ProducerConfig};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::{Cluster as Broker, PeerClient, cluster_or_skip, unique_topic};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PARTITIONS: u32 = 6;
const N: usize = 30_000;

#[test]
fn killing_partition_leaders_loses_nothing_acknowledged_and_keeps_each_partition_in_order() {
    let broker: &'static Broker =
        cluster_or_skip!(Broker::kafka_private(3).map(|c| &*Box::leak(Box::new(c))));
    let topic = unique_topic("kill-leader");
    broker.create_topic(&topic, PARTITIONS).unwrap();
    let first_victim = broker.leader(&topic, 0).unwrap().0;

    // The failures run beside the producer: kill partition 0's leader, bring it
    // back, move partition 2's leader, then kill whichever node leads
    // partition 1 now, and bring it back.
    let chaos_topic = topic.clone();
    let chaos = std::thread::spawn(move || {
        let mut killed = Vec::new();
        std::thread::sleep(Duration::from_millis(1500));
        broker.kill_node(first_victim).unwrap();
        killed.push(first_victim);
        std::thread::sleep(Duration::from_secs(4));
        broker.start_node(first_victim).unwrap();
        let (lead2, isr2) = broker.leader(&chaos_topic, 2).unwrap();
        if let Some(&to) = isr2.iter().find(|&&n| n != lead2) {
            broker.move_leader(&chaos_topic, 2, to).unwrap();
            assert_eq!(broker.leader(&chaos_topic, 2).unwrap().0, to);
        }
        let second = broker.leader(&chaos_topic, 1).unwrap().0;
        broker.kill_node(second).unwrap();
        killed.push(second);
        std::thread::sleep(Duration::from_secs(4));
        broker.start_node(second).unwrap();
        killed
    });

    let acked: BTreeMap<usize, (i32, i64)> = rt().block_on(async {
        let cfg = ProducerConfig::new(broker.bootstrap())
            .acks(Acks::All)
            .enable_idempotence(true)
            .linger(Duration::from_millis(5))
            .build()
            .unwrap();
        let p = Producer::new(cfg).await.unwrap();
        let started = Instant::now();
        let mut pending = Vec::with_capacity(N);
        for i in 0..N {
            let part = (i % PARTITIONS as usize) as i32;
            let v = format!("{i}");
            pending.push((
                i,
                part,
                p.enqueue(ProducerRecord::to(&topic).partition(part).value(&v))
                    .await
                    .unwrap(),
            ));
            // Spread the stream over ~20 s so the failures land mid-stream.
            if i % 500 == 499 {
                let due = Duration::from_millis((i as u64 + 1) * 20_000 / N as u64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
        let mut acked = BTreeMap::new();
        let mut failed = Vec::new();
        for (i, part, f) in pending {
            match tokio::time::timeout(Duration::from_secs(150), f).await {
                Ok(Ok(d)) => {
                    assert_eq!(d.partition, part);
                    acked.insert(i, (d.partition, d.offset));
                }
                Ok(Err(e)) => failed.push((i, e.to_string())),
                Err(_) => panic!("delivery of record {i} never resolved"),
            }
        }
        p.close(Duration::from_secs(30)).await.unwrap();
        // Two leader kills are well inside delivery.timeout.ms: nothing should fail.
        assert!(
            failed.is_empty(),
            "{} sends failed, first: {:?}",
            failed.len(),
            failed.first()
        );
        acked
    });
    let killed = chaos.join().unwrap();
    assert_eq!(killed.len(), 2);

    // Read the log with librdkafka, independently of purekafka.
    let got = broker
        .peer_consume(&topic, PeerClient::Confluent, N, Duration::from_secs(120))
        .unwrap();
    let mut per_part: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
    for c in &got {
        let v: usize = String::from_utf8(c.record.value.clone().unwrap())
            .unwrap()
            .parse()
            .unwrap();
        per_part
            .entry(c.record.partition.unwrap())
            .or_default()
            .push((c.offset, v));
    }
    let mut seen = BTreeMap::new();
    for (part, recs) in &per_part {
        let mut last = None;
        for &(offset, v) in recs {
            assert_eq!(
                v % PARTITIONS as usize,
                *part as usize,
                "record {v} in partition {part}"
            );
            if let Some(prev) = seen.insert(v, (*part, offset)) {
                panic!("record {v} stored twice: at {prev:?} and {part}@{offset}");
            }
            if let Some(l) = last {
                assert!(
                    v > l,
                    "partition {part}: record {v} at offset {offset} after {l}"
                );
            }
            last = Some(v);
        }
    }
    for (i, (part, offset)) in &acked {
        let at = seen
            .get(i)
            .unwrap_or_else(|| panic!("acknowledged record {i} ({part}@{offset}) is missing"));
        assert_eq!(
            at,
            &(*part, *offset),
            "record {i} acknowledged at another offset"
        );
    }
    assert_eq!(got.len(), N, "the log holds more records than were sent");
}
