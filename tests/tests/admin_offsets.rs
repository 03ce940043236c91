//! The admin client's offset and record calls against Apache Kafka 4.4:
//! list offsets (earliest, latest, by timestamp, max timestamp, earliest
//! local) checked against the offsets the producer was acknowledged, and
//! delete records, after which our consumer starts at the new log start.

use purekafka::admin::{ListOffsetsOptions, OffsetSpec};
use purekafka::consumer::Consumer;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{Admin, AdminConfig, ConsumerConfig, ErrorCode, ProducerConfig, TopicPartition};
use purekafka_integration::{Cluster, Feature, require, rt, unique_topic};
use std::time::{Duration, Instant};

async fn new_admin(c: &Cluster) -> Admin {
    Admin::new(
        AdminConfig::from_properties([
            ("bootstrap.servers", c.bootstrap()),
            ("default.api.timeout.ms", "30000"),
        ])
        .unwrap(),
    )
    .await
    .unwrap()
}

#[test]
fn list_offsets_by_every_spec() {
    let c = Cluster::kafka();
    require!(c, Feature::ListOffsetsByTimestamp);
    let t = unique_topic("admin-offsets");
    c.create_topic(&t, 2).unwrap();
    rt().block_on(async {
        let p = Producer::new(ProducerConfig::new(c.bootstrap()))
            .await
            .unwrap();
        // Timestamps 1000, 2000, ... 5000, and the largest in the middle.
        let stamps = [1000, 2000, 9000, 3000, 4000];
        let mut acked = Vec::new();
        for ts in stamps {
            let w = p
                .send(ProducerRecord::to(&t).partition(0).timestamp(ts).value("x"))
                .await
                .unwrap();
            acked.push(w.offset);
        }
        assert_eq!(acked, [0, 1, 2, 3, 4]);
        let tp = TopicPartition::new(t.as_str(), 0);
        let empty = TopicPartition::new(t.as_str(), 1);
        let missing = TopicPartition::new(t.as_str(), 7);
        let admin = new_admin(c).await;
        let q = |spec| [(tp.clone(), spec)];
        let one = |r: std::collections::BTreeMap<TopicPartition, purekafka::Result<_>>| {
            r.into_values().next().unwrap().unwrap()
        };
        let l: purekafka::admin::ListedOffset =
            one(admin.list_offsets(q(OffsetSpec::Latest)).await.unwrap());
        assert_eq!(l.offset, 5);
        let e: purekafka::admin::ListedOffset =
            one(admin.list_offsets(q(OffsetSpec::Earliest)).await.unwrap());
        assert_eq!(e.offset, 0);
        let by_ts: purekafka::admin::ListedOffset = one(admin
            .list_offsets(q(OffsetSpec::Timestamp(2500)))
            .await
            .unwrap());
        assert_eq!(
            (by_ts.offset, by_ts.timestamp),
            (2, 9000),
            "first at or after 2500"
        );
        let max: purekafka::admin::ListedOffset = one(admin
            .list_offsets(q(OffsetSpec::MaxTimestamp))
            .await
            .unwrap());
        assert_eq!((max.offset, max.timestamp), (2, 9000));
        let local: purekafka::admin::ListedOffset = one(admin
            .list_offsets(q(OffsetSpec::EarliestLocal))
            .await
            .unwrap());
        assert_eq!(local.offset, 0);
        let after: purekafka::admin::ListedOffset = one(admin
            .list_offsets(q(OffsetSpec::Timestamp(99_000)))
            .await
            .unwrap());
        assert_eq!(after.offset, -1, "no record that late");

        // Several partitions in one call, each with its outcome.
        let out = admin
            .list_offsets_with(
                [
                    (tp.clone(), OffsetSpec::Latest),
                    (empty.clone(), OffsetSpec::Latest),
                    (missing.clone(), OffsetSpec::Latest),
                ],
                ListOffsetsOptions {
                    timeout: Some(Duration::from_secs(10)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(out[&tp].as_ref().unwrap().offset, 5);
        assert_eq!(out[&empty].as_ref().unwrap().offset, 0);
        let e = out[&missing].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION), "{e}");
        assert!(e.to_string().contains(&format!("{t}-7")), "{e}");
    });
}

#[test]
fn delete_records_moves_the_log_start_for_the_next_consumer() {
    let c = Cluster::kafka();
    require!(c, Feature::DeleteRecords);
    let t = unique_topic("admin-delrec");
    c.create_topic(&t, 1).unwrap();
    rt().block_on(async {
        let p = Producer::new(ProducerConfig::new(c.bootstrap()))
            .await
            .unwrap();
        for i in 0..10 {
            p.send(ProducerRecord::to(&t).value(format!("v{i}").as_str()))
                .await
                .unwrap();
        }
        let tp = TopicPartition::new(t.as_str(), 0);
        let admin = new_admin(c).await;
        let out = admin.delete_records([(tp.clone(), 6)]).await.unwrap();
        assert_eq!(*out[&tp].as_ref().unwrap(), 6);
        let past = admin.delete_records([(tp.clone(), 50)]).await.unwrap();
        let e = past[&tp].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::OFFSET_OUT_OF_RANGE), "{e}");

        let fresh = new_admin(c).await;
        let start = fresh
            .list_offsets([(tp.clone(), OffsetSpec::Earliest)])
            .await
            .unwrap();
        assert_eq!(start[&tp].as_ref().unwrap().offset, 6);
        // A consumer from the beginning sees offsets 6..10 only.
        let consumer = Consumer::new(
            ConsumerConfig::from_properties([
                ("bootstrap.servers", c.bootstrap()),
                ("auto.offset.reset", "earliest"),
            ])
            .unwrap(),
        )
        .await
        .unwrap();
        consumer.assign([(t.as_str(), 0)]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut offsets = Vec::new();
        while offsets.len() < 4 {
            assert!(Instant::now() < deadline, "{offsets:?}");
            for r in consumer.poll(Duration::from_millis(500)).await.unwrap() {
                offsets.push(r.offset);
            }
        }
        assert_eq!(offsets, [6, 7, 8, 9]);
    });
}
