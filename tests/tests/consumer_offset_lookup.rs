//! The consumer's offset lookups (Java's `offsetsForTimes`,
//! `beginningOffsets`, `endOffsets`): by timestamp on the real Kafka, the
//! ends on the mock and on Kafka, the last stable offset under
//! `read_committed` while a transaction is open, and the errors a caller
//! can make.

// Test code: helpers fail loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use purekafka::admin::Admin;
use purekafka::config::{AdminConfig, ConsumerConfig, IsolationLevel, ProducerConfig};
use purekafka::consumer::Consumer;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{Error, TopicPartition};
use purekafka_integration::{Cluster, cluster_or_skip, on_mock_and_kafka, rt, unique_topic};
use std::time::{Duration, Instant};

/// Writes `n` records to partition `p`, record `i` with create time
/// `t0 + i * 1000`; returns their offsets.
async fn produce_timed(bootstrap: &str, topic: &str, p: i32, n: usize, t0: i64) -> Vec<i64> {
    let producer = Producer::new(ProducerConfig::new(bootstrap)).await.unwrap();
    let mut offsets = Vec::new();
    for i in 0..n {
        let v = format!("v{i}");
        let r = ProducerRecord::to(topic)
            .partition(p)
            .value(&v)
            .timestamp(t0 + i as i64 * 1000);
        offsets.push(producer.send(r).await.unwrap().offset);
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    offsets
}

fn consumer_config(bootstrap: &str) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.default_api_timeout = Duration::from_secs(20);
    cfg
}

on_mock_and_kafka! {
    fn beginning_and_end_offsets_of_partitions_nobody_is_assigned(broker) {
        let topic = unique_topic("lookup-ends");
        broker.create_topic(&topic, 2).unwrap();
        rt().block_on(async {
            produce_timed(broker.bootstrap(), &topic, 0, 7, 1_700_000_000_000).await;
            let c = Consumer::new(consumer_config(broker.bootstrap())).await.unwrap();
            let tps = [TopicPartition::new(topic.as_str(), 0), TopicPartition::new(topic.as_str(), 1)];
            let begin = c.beginning_offsets(tps.clone()).await.unwrap();
            let end = c.end_offsets(tps.clone()).await.unwrap();
            assert_eq!(begin[&tps[0]], 0);
            assert_eq!(begin[&tps[1]], 0);
            assert_eq!(end[&tps[0]], 7, "end offset of the written partition");
            assert_eq!(end[&tps[1]], 0, "end offset of the empty partition");
            assert!(c.assignment().is_empty(), "a lookup assigns nothing");
            // Nothing asked, nothing looked up.
            let none = c.end_offsets(Vec::<TopicPartition>::new()).await.unwrap();
            assert!(none.is_empty());
            c.close().await.unwrap();
        });
    }
}

#[test]
fn offsets_for_times_finds_the_first_record_at_or_after_each_time() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("lookup-times");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        let t0 = 1_700_000_000_000;
        let offsets = produce_timed(broker.bootstrap(), &topic, 0, 20, t0).await;
        assert_eq!(offsets, (0..20).collect::<Vec<i64>>());
        let c = Consumer::new(consumer_config(broker.bootstrap()))
            .await
            .unwrap();
        let p0 = TopicPartition::new(topic.as_str(), 0);
        let p1 = TopicPartition::new(topic.as_str(), 1);
        // Between records 10 and 11: record 11; exactly record 4's time: 4.
        let found = c
            .offsets_for_times([(p0.clone(), t0 + 10_500), (p1.clone(), t0)])
            .await
            .unwrap();
        let at = found[&p0].expect("a record after t0+10.5s");
        assert_eq!((at.offset, at.timestamp), (11, t0 + 11_000));
        assert_eq!(found[&p1], None, "an empty partition has no such record");
        let exact = c
            .offsets_for_times([(p0.clone(), t0 + 4_000)])
            .await
            .unwrap();
        assert_eq!(exact[&p0].map(|o| o.offset), Some(4));
        let before = c.offsets_for_times([(p0.clone(), 0)]).await.unwrap();
        assert_eq!(before[&p0].map(|o| o.offset), Some(0));
        let after = c
            .offsets_for_times([(p0.clone(), t0 + 60_000)])
            .await
            .unwrap();
        assert_eq!(after[&p0], None, "no record that late");

        // What it found is where a seek starts reading.
        c.assign([p0.clone()]).unwrap();
        c.seek(p0.clone(), at.offset).unwrap();
        let mut first = None;
        for _ in 0..100 {
            if let Some(r) = c.poll(Duration::from_millis(200)).await.unwrap().first() {
                first = Some((r.offset, r.timestamp));
                break;
            }
        }
        assert_eq!(first, Some((11, t0 + 11_000)));

        // A caller's mistakes, named.
        let neg = c.offsets_for_times([(p0.clone(), -1)]).await.unwrap_err();
        assert!(matches!(neg, Error::InvalidArgument { .. }), "{neg:?}");
        assert!(neg.to_string().contains(&p0.to_string()), "{neg}");
        let missing = TopicPartition::new(topic.as_str(), 9);
        let err = c.end_offsets([missing]).await.unwrap_err();
        assert!(err.to_string().contains(&topic), "names the topic: {err}");
        c.close().await.unwrap();
    });
}

#[test]
fn end_offsets_under_read_committed_stop_at_an_open_transaction() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("lookup-lso");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce_timed(broker.bootstrap(), &topic, 0, 5, 1_700_000_000_000).await;
        let mut pc = ProducerConfig::new(broker.bootstrap());
        pc.transactional_id = Some(unique_topic("lookup-lso-txn"));
        let txn = Producer::new(pc).await.unwrap();
        txn.init_transactions().await.unwrap();
        txn.begin_transaction().unwrap();
        for i in 0..3 {
            let v = format!("open {i}");
            txn.send(ProducerRecord::to(&topic).partition(0).value(&v))
                .await
                .unwrap();
        }
        let tp = TopicPartition::new(topic.as_str(), 0);
        let uncommitted = Consumer::new(consumer_config(broker.bootstrap()))
            .await
            .unwrap();
        let mut rc = consumer_config(broker.bootstrap());
        rc.isolation_level = IsolationLevel::ReadCommitted;
        let committed = Consumer::new(rc).await.unwrap();
        assert_eq!(uncommitted.end_offsets([tp.clone()]).await.unwrap()[&tp], 8);
        assert_eq!(
            committed.end_offsets([tp.clone()]).await.unwrap()[&tp],
            5,
            "read_committed: the last stable offset, before the open transaction"
        );
        txn.commit_transaction().await.unwrap();
        // The coordinator writes the commit marker after it answered
        // EndTxn: the last stable offset moves past it (the marker takes
        // an offset) a moment later.
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut end = 0;
        while Instant::now() < deadline {
            end = committed.end_offsets([tp.clone()]).await.unwrap()[&tp];
            if end == 9 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(end, 9, "after the commit, the marker included");

        // After records are deleted the beginning moves.
        let admin = Admin::new(AdminConfig::new(broker.bootstrap()))
            .await
            .unwrap();
        admin
            .delete_records([(tp.clone(), 2)])
            .await
            .unwrap()
            .into_values()
            .for_each(|r| {
                r.unwrap();
            });
        assert_eq!(
            committed.beginning_offsets([tp.clone()]).await.unwrap()[&tp],
            2
        );
        txn.close(Duration::from_secs(10)).await.unwrap();
        uncommitted.close().await.unwrap();
        committed.close().await.unwrap();
    });
}
