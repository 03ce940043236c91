//! Consumer features on the librdkafka mock: pattern subscription (new
//! matching topics picked up), pause/resume, out-of-range positions reset by
//! `auto.offset.reset`, `seek_to_end`, and committed offsets with metadata.

use purekafka::TopicPartition;
use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, ConsumerRecord, OffsetAndMetadata, RebalanceListener};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::{Cluster, rt};
use purekafka_integration::{poll_until, unique_topic};
use purekafka_protocol::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn config(bootstrap: &str, reset: OffsetReset) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.auto_offset_reset = reset;
    cfg.fetch_max_wait = Duration::from_millis(50);
    cfg
}

fn group_config(bootstrap: &str, group: &str) -> ConsumerConfig {
    let mut cfg = config(bootstrap, OffsetReset::Earliest);
    cfg.group_id = Some(group.to_string());
    cfg.enable_auto_commit = false;
    cfg.heartbeat_interval = Duration::from_millis(300);
    // The mock waits session.timeout - 1 s for members to rejoin a rebalance.
    cfg.session_timeout = Duration::from_secs(3);
    cfg
}

async fn producer(broker: &Cluster) -> Producer {
    Producer::new(ProducerConfig::new(broker.bootstrap()))
        .await
        .unwrap()
}

/// Writes `n` records `<tag>-<i>` to `topic`/`partition`; returns their offsets.
async fn produce(p: &Producer, topic: &str, partition: i32, tag: &str, n: usize) -> Vec<i64> {
    let mut fs = Vec::with_capacity(n);
    for i in 0..n {
        let v = format!("{tag}-{i}");
        fs.push(
            p.enqueue(ProducerRecord::to(topic).partition(partition).value(&v))
                .await
                .unwrap(),
        );
    }
    let mut out = Vec::with_capacity(n);
    for f in fs {
        out.push(f.await.unwrap().offset);
    }
    out
}

fn value(r: &ConsumerRecord) -> String {
    String::from_utf8(r.value.as_deref().unwrap_or_default().to_vec()).unwrap()
}

/// (topic, partition) -> offsets, in the order read.
fn by_partition(recs: &[ConsumerRecord]) -> BTreeMap<TopicPartition, Vec<i64>> {
    let mut m: BTreeMap<TopicPartition, Vec<i64>> = BTreeMap::new();
    for r in recs {
        m.entry(r.topic_partition()).or_default().push(r.offset);
    }
    m
}

#[derive(Default)]
struct Assigned(Mutex<BTreeSet<TopicPartition>>);

impl RebalanceListener for Assigned {
    fn on_partitions_assigned(&self, partitions: &[TopicPartition]) {
        self.0.lock().unwrap().extend(partitions.iter().cloned());
    }
    fn on_partitions_revoked(&self, partitions: &[TopicPartition]) {
        let mut a = self.0.lock().unwrap();
        for p in partitions {
            a.remove(p);
        }
    }
    fn on_partitions_lost(&self, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(partitions);
    }
}

/// Polls until `done` holds (see `poll_until`), then once more, briefly,
/// so that records that should not come (duplicates, a paused or reset
/// partition's) are in what the test checks.
async fn poll_settled(
    c: &Consumer,
    within: Duration,
    done: impl FnMut(&[ConsumerRecord]) -> bool,
) -> Vec<ConsumerRecord> {
    let mut got = poll_until(c, within, done).await;
    got.extend(c.poll(Duration::from_millis(300)).await.unwrap());
    got
}

fn tps(list: &[(&str, i32)]) -> BTreeSet<TopicPartition> {
    list.iter().map(TopicPartition::from).collect()
}

purekafka_integration::on_mock_and_kafka! {
fn subscribe_pattern_takes_matching_topics_and_picks_up_new_ones(broker) {
    let prefix = unique_topic("pattern");
    let a = format!("{prefix}-a");
    let b = format!("{prefix}-b");
    // Contains the prefix but does not start with it: the pattern is anchored.
    let other = format!("other-{prefix}-c");
    let late = format!("{prefix}-late");
    broker.create_topic(&a, 2).unwrap();
    broker.create_topic(&b, 3).unwrap();
    broker.create_topic(&other, 2).unwrap();
    rt().block_on(async {
        let p = producer(broker).await;
        for (t, parts) in [(&a, 2), (&b, 3), (&other, 2)] {
            for part in 0..parts {
                produce(&p, t, part, &format!("{t}/{part}"), 10).await;
            }
        }
        let mut cfg = group_config(broker.bootstrap(), &unique_topic("pattern-group"));
        cfg.client.metadata_max_age = Duration::from_secs(1);
        let c = Consumer::new(cfg).await.unwrap();
        let listener = Arc::new(Assigned::default());
        c.set_rebalance_listener(listener.clone()).unwrap();
        c.subscribe_pattern(&format!("^{prefix}-.*")).unwrap();

        let got = poll_settled(&c, Duration::from_secs(15), |r| r.len() >= 50).await;
        let want_ab = tps(&[(&a, 0), (&a, 1), (&b, 0), (&b, 1), (&b, 2)]);
        assert_eq!(*listener.0.lock().unwrap(), want_ab, "assigned partitions");
        let assignment: BTreeSet<TopicPartition> = c.assignment().into_iter().collect();
        assert_eq!(assignment, want_ab, "Consumer::assignment");
        let parts = by_partition(&got);
        assert_eq!(
            parts.keys().cloned().collect::<BTreeSet<_>>(),
            want_ab,
            "partitions read"
        );
        for (tp, offsets) in &parts {
            assert_eq!(*offsets, (0..10).collect::<Vec<i64>>(), "{tp:?}");
        }
        for r in &got {
            assert_eq!(
                value(r),
                format!("{}/{}-{}", r.topic, r.partition, r.offset)
            );
        }

        // Commit, so that the rebalance the new topic causes resumes from here.
        let committed = c.commit().await.unwrap();
        assert_eq!(committed.len(), 5, "{committed:?}");
        assert!(
            committed.iter().all(|(_, o)| o.offset == 10),
            "{committed:?}"
        );

        // A new matching topic is picked up on a metadata refresh (1 s here),
        // and its records are read.
        broker.create_topic(&late, 1).unwrap();
        produce(&p, &late, 0, "late", 7).await;
        let t0 = Instant::now();
        let more = poll_settled(&c, Duration::from_secs(15), |r| {
            r.iter().filter(|x| *x.topic == *late).count() >= 7
        })
        .await;
        let late_offsets: Vec<i64> = more
            .iter()
            .filter(|r| *r.topic == *late)
            .map(|r| r.offset)
            .collect();
        assert_eq!(
            late_offsets,
            (0..7).collect::<Vec<i64>>(),
            "records of the topic created after subscribing"
        );
        eprintln!("new topic consumed {:?} after it was written", t0.elapsed());
        assert!(
            more.iter().all(|r| *r.topic == *late),
            "old records read again after the rebalance: {:?}",
            by_partition(&more)
        );
        let mut want_all = want_ab.clone();
        want_all.insert(TopicPartition::new(late.as_str(), 0));
        assert_eq!(*listener.0.lock().unwrap(), want_all);
        assert!(c.assignment().iter().all(|tp| tp.topic() != other));
        c.close().await.unwrap();
        p.close(Duration::from_secs(5)).await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn pause_stops_one_partition_and_resume_loses_nothing(broker) {
    const N: usize = 300;
    let topic = unique_topic("pause");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        let p = producer(broker).await;
        produce(&p, &topic, 0, "p0", N).await;
        produce(&p, &topic, 1, "p1", N).await;
        let mut cfg = config(broker.bootstrap(), OffsetReset::Earliest);
        cfg.max_poll_records = 20;
        let c = Consumer::new(cfg).await.unwrap();
        c.assign([(topic.as_str(), 0), (topic.as_str(), 1)])
            .unwrap();
        // Read a little of partition 1 first, so that data of it is fetched
        // and buffered when it is paused.
        let mut before = poll_until(&c, Duration::from_secs(10), |r| {
            r.iter().any(|x| x.partition == 1)
        })
        .await;
        assert!(before.iter().any(|x| x.partition == 1));
        c.pause([(topic.as_str(), 1)]).unwrap();
        assert_eq!(c.paused(), vec![TopicPartition::new(topic.as_str(), 1)]);
        let p1_before: Vec<i64> = before
            .iter()
            .filter(|r| r.partition == 1)
            .map(|r| r.offset)
            .collect();
        let paused_at = c.position((&topic, 1)).await.unwrap();
        assert_eq!(
            paused_at,
            p1_before.last().unwrap() + 1,
            "position of the paused partition"
        );
        assert!(
            (paused_at as usize) < N,
            "partition 1 was read to the end before the pause; raise N"
        );

        // While paused: partition 0 to its end, nothing of partition 1, also
        // for records written to partition 1 meanwhile.
        produce(&p, &topic, 1, "p1-late", 10).await;
        let p0_before = before.iter().filter(|r| r.partition == 0).count();
        let during = poll_until(&c, Duration::from_secs(10), |r| {
            p0_before + r.iter().filter(|x| x.partition == 0).count() >= N
        })
        .await;
        let during = [during, c.poll(Duration::from_millis(500)).await.unwrap()].concat();
        let leaked: Vec<i64> = during
            .iter()
            .filter(|r| r.partition == 1)
            .map(|r| r.offset)
            .collect();
        assert!(
            leaked.is_empty(),
            "paused partition 1 returned offsets {leaked:?}"
        );
        assert_eq!(
            c.position((&topic, 1)).await.unwrap(),
            paused_at,
            "the paused position moved"
        );

        c.resume([(topic.as_str(), 1)]).unwrap();
        assert!(c.paused().is_empty());
        let after = poll_settled(&c, Duration::from_secs(10), |r| {
            p1_before.len() + r.len() >= N + 10
        })
        .await;
        before.extend(during);
        before.extend(after);
        let parts = by_partition(&before);
        assert_eq!(
            parts[&TopicPartition::new(topic.as_str(), 0)],
            (0..N as i64).collect::<Vec<_>>(),
            "partition 0: lost or duplicated"
        );
        assert_eq!(
            parts[&TopicPartition::new(topic.as_str(), 1)],
            (0..N as i64 + 10).collect::<Vec<_>>(),
            "partition 1: lost or duplicated"
        );
        for r in &before {
            let want = if r.partition == 1 && r.offset >= N as i64 {
                format!("p1-late-{}", r.offset - N as i64)
            } else {
                format!("p{}-{}", r.partition, r.offset)
            };
            assert_eq!(value(r), want);
        }
        c.close().await.unwrap();
        p.close(Duration::from_secs(5)).await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn out_of_range_position_resets_to_earliest(broker) {
    let topic = unique_topic("oor-earliest");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let p = producer(broker).await;
        produce(&p, &topic, 0, "old", 20).await;
        let c = Consumer::new(config(broker.bootstrap(), OffsetReset::Earliest))
            .await
            .unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        c.seek((&topic, 0), 1_000_000).unwrap();
        assert_eq!(c.position((&topic, 0)).await.unwrap(), 1_000_000);
        let got = poll_settled(&c, Duration::from_secs(10), |r| r.len() >= 20).await;
        let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets,
            (0..20).collect::<Vec<_>>(),
            "after OFFSET_OUT_OF_RANGE with earliest"
        );
        assert_eq!(value(&got[0]), "old-0");
        assert_eq!(c.position((&topic, 0)).await.unwrap(), 20);
        c.close().await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn out_of_range_position_resets_to_latest_and_none_is_an_error(broker) {
    let topic = unique_topic("oor-latest");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let p = producer(broker).await;
        produce(&p, &topic, 0, "old", 20).await;
        let c = Consumer::new(config(broker.bootstrap(), OffsetReset::Latest))
            .await
            .unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        // Let the first (latest) reset land, then jump out of range.
        assert_eq!(c.position((&topic, 0)).await.unwrap(), 20);
        c.seek((&topic, 0), 1_000_000).unwrap();
        let mut old = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            old.extend(c.poll(Duration::from_millis(100)).await.unwrap());
            // position() waits while the reset is in flight.
            let pos = c.position((&topic, 0)).await.unwrap();
            if pos != 1_000_000 {
                assert_eq!(pos, 20, "reset to latest: the high watermark");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the out-of-range position was never reset"
            );
        }
        old.extend(c.poll(Duration::from_millis(500)).await.unwrap());
        assert!(
            old.is_empty(),
            "latest returned old records: {:?}",
            by_partition(&old)
        );
        assert_eq!(c.high_watermark((&topic, 0)), Some(20));
        // Only what is written now is read.
        produce(&p, &topic, 0, "new", 5).await;
        let got = poll_settled(&c, Duration::from_secs(10), |r| r.len() >= 5).await;
        assert_eq!(
            got.iter().map(|r| r.offset).collect::<Vec<_>>(),
            (20..25).collect::<Vec<_>>()
        );
        assert_eq!(value(&got[0]), "new-0");
        c.close().await.unwrap();

        // auto.offset.reset=none: poll reports OFFSET_OUT_OF_RANGE instead.
        let c = Consumer::new(config(broker.bootstrap(), OffsetReset::Latest))
            .await
            .unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        assert_eq!(c.position((&topic, 0)).await.unwrap(), 25);
        c.close().await.unwrap();
        let c = Consumer::new(config(broker.bootstrap(), OffsetReset::None))
            .await
            .unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        let e = c.poll(Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::OFFSET_OUT_OF_RANGE), "{e}");
        c.seek((&topic, 0), 1_000_000).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let e = loop {
            match c.poll(Duration::from_millis(200)).await {
                Err(e) => break e,
                Ok(r) => assert!(r.is_empty(), "read {} records at offset 1000000", r.len()),
            }
            assert!(
                Instant::now() < deadline,
                "no error for an out-of-range position with auto.offset.reset=none"
            );
        };
        assert_eq!(e.code(), Some(ErrorCode::OFFSET_OUT_OF_RANGE), "{e}");
        assert!(e.to_string().contains("1000000"), "{e}");
        c.close().await.unwrap();
        p.close(Duration::from_secs(5)).await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn seek_to_end_reads_only_new_records(broker) {
    let topic = unique_topic("seek-end");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        let p = producer(broker).await;
        produce(&p, &topic, 0, "old0", 30).await;
        produce(&p, &topic, 1, "old1", 12).await;
        let c = Consumer::new(config(broker.bootstrap(), OffsetReset::Earliest))
            .await
            .unwrap();
        let both = [(topic.as_str(), 0), (topic.as_str(), 1)];
        c.assign(both).unwrap();
        c.seek_to_end(both).unwrap();
        assert_eq!(c.position((&topic, 0)).await.unwrap(), 30);
        assert_eq!(c.position((&topic, 1)).await.unwrap(), 12);
        let old = c.poll(Duration::from_millis(500)).await.unwrap();
        assert!(
            old.is_empty(),
            "read old records after seek_to_end: {:?}",
            by_partition(&old)
        );
        produce(&p, &topic, 0, "new0", 8).await;
        produce(&p, &topic, 1, "new1", 3).await;
        let got = poll_settled(&c, Duration::from_secs(10), |r| r.len() >= 11).await;
        let parts = by_partition(&got);
        assert_eq!(parts[&TopicPartition::new(topic.as_str(), 0)], (30..38).collect::<Vec<_>>());
        assert_eq!(parts[&TopicPartition::new(topic.as_str(), 1)], (12..15).collect::<Vec<_>>());
        assert_eq!(got.len(), 11);
        assert!(got.iter().all(|r| value(r).starts_with("new")));
        // And back to the beginning of one partition: all of it again.
        c.seek_to_beginning([(topic.as_str(), 1)]).unwrap();
        let again = poll_settled(&c, Duration::from_secs(10), |r| r.len() >= 15).await;
        assert_eq!(
            by_partition(&again)[&TopicPartition::new(topic.as_str(), 1)],
            (0..15).collect::<Vec<_>>()
        );
        assert_eq!(again.len(), 15, "partition 0 read again");
        c.close().await.unwrap();
        p.close(Duration::from_secs(5)).await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn committed_offset_and_metadata_round_trip_in_a_group(broker) {
    let topic = unique_topic("commit-meta");
    let group = unique_topic("commit-meta-group");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        let p = producer(broker).await;
        produce(&p, &topic, 0, "r", 20).await;
        let c = Consumer::new(group_config(broker.bootstrap(), &group))
            .await
            .unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();
        // Join (and read partition 0 to its end).
        let got = poll_until(&c, Duration::from_secs(15), |r| r.len() >= 20).await;
        assert_eq!(got.len(), 20, "the member read {} of 20", got.len());
        assert_eq!(c.assignment().len(), 2);
        let none = c
            .committed(&[(topic.as_str(), 0), (topic.as_str(), 1)])
            .await
            .unwrap();
        assert!(none.is_empty(), "committed before any commit: {none:?}");

        let committed = c
            .commit_offsets([
                (
                    (topic.as_str(), 0),
                    OffsetAndMetadata {
                        offset: 5,
                        metadata: Some("m".into()),
                    },
                ),
                (
                    (topic.as_str(), 1),
                    OffsetAndMetadata {
                        offset: 0,
                        metadata: None,
                    },
                ),
            ])
            .await
            .unwrap();
        let committed: BTreeMap<i32, OffsetAndMetadata> =
            committed.into_iter().map(|(tp, o)| (tp.partition, o)).collect();
        assert_eq!(
            committed[&0],
            OffsetAndMetadata {
                offset: 5,
                metadata: Some("m".into())
            }
        );
        let read = c
            .committed(&[(topic.as_str(), 0), (topic.as_str(), 1)])
            .await
            .unwrap();
        let read0 = &read[&TopicPartition::new(topic.as_str(), 0)];
        assert_eq!(read0.offset, 5);
        assert_eq!(read0.metadata.as_deref(), Some("m"));
        let read1 = &read[&TopicPartition::new(topic.as_str(), 1)];
        assert_eq!(read1.offset, 0);
        assert!(
            read1.metadata.as_deref().unwrap_or("").is_empty(),
            "{read1:?}"
        );
        c.close().await.unwrap();

        // The next member of the group starts at the committed offset.
        let c2 = Consumer::new(group_config(broker.bootstrap(), &group))
            .await
            .unwrap();
        c2.subscribe(&[topic.as_str()]).unwrap();
        let got = poll_settled(&c2, Duration::from_secs(15), |r| r.len() >= 15).await;
        assert_eq!(
            got.iter().map(|r| r.offset).collect::<Vec<_>>(),
            (5..20).collect::<Vec<_>>()
        );
        let read = c2.committed(&[(topic.as_str(), 0)]).await.unwrap();
        assert_eq!(
            read.get(&TopicPartition::new(topic.as_str(), 0)),
            Some(&OffsetAndMetadata {
                offset: 5,
                metadata: Some("m".into())
            })
        );
        c2.close().await.unwrap();
        p.close(Duration::from_secs(5)).await.unwrap();
    });
}
}
