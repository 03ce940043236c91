//! What the consumer commits, and where its positions start (issue #10,
//! items 1-5), on the librdkafka mock and the real Kafka: a consumer that
//! uses `assign()` with a `group.id` commits and resumes from the group's
//! offsets; auto-commit, `commit()` and `close()` commit only what the
//! application was handed and released (by a later poll, or by
//! `store_offset` with `enable.auto.offset.store=false`); a stream commits
//! only what it yielded; a seek in `on_partitions_assigned` stands; a commit
//! during a rebalance fails at once instead of waiting behind the join.

// Test helpers outside #[test] fns: panicking is how they fail a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::StreamExt;
use purekafka::TopicPartition;
use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, ConsumerRecord, OffsetAndMetadata, RebalanceListener};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::{Cluster, unique_topic};
use purekafka_protocol::ErrorCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn group_config(bootstrap: &str, group: &str) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(50);
    cfg.group_id = Some(group.to_string());
    cfg.enable_auto_commit = false;
    cfg.heartbeat_interval = Duration::from_millis(300);
    // The mock waits session.timeout - 1 s for members to rejoin a rebalance.
    cfg.session_timeout = Duration::from_secs(3);
    cfg
}

async fn produce(bootstrap: &str, topic: &str, partition: i32, n: usize) {
    let p = Producer::new(ProducerConfig::new(bootstrap)).await.unwrap();
    let mut acks = Vec::with_capacity(n);
    for i in 0..n {
        let v = format!("v{i}");
        acks.push(
            p.enqueue(ProducerRecord::to(topic).partition(partition).value(&v))
                .await
                .unwrap(),
        );
    }
    for a in acks {
        a.await.unwrap();
    }
    p.close(Duration::from_secs(10)).await.unwrap();
}

/// Polls until `n` records arrived (or `timeout`); returns every batch.
async fn poll_batches(c: &Consumer, n: usize, timeout: Duration) -> Vec<Vec<ConsumerRecord>> {
    let deadline = Instant::now() + timeout;
    let mut batches = Vec::new();
    let mut got = 0;
    while got < n && Instant::now() < deadline {
        let b = c.poll(Duration::from_millis(100)).await.unwrap();
        if !b.is_empty() {
            got += b.len();
            batches.push(b);
        }
    }
    assert_eq!(got, n, "records read");
    batches
}

/// The group's committed offset for `topic`/`partition`, read by `c`.
async fn committed(c: &Consumer, topic: &str, partition: i32) -> Option<i64> {
    c.committed(&[(topic, partition)])
        .await
        .unwrap()
        .get(&TopicPartition::new(topic, partition))
        .map(|o| o.offset)
}

/// The group's committed offset, read by a new consumer of the group (one
/// that neither subscribes nor assigns).
async fn committed_by_a_new_member(
    broker: &Cluster,
    group: &str,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    let c = Consumer::new(group_config(broker.bootstrap(), group))
        .await
        .unwrap();
    let o = committed(&c, topic, partition).await;
    c.close().await.unwrap();
    o
}

fn om(offset: i64) -> OffsetAndMetadata {
    OffsetAndMetadata {
        offset,
        metadata: None,
    }
}

purekafka_integration::on_mock_and_kafka! {
fn assigned_consumer_with_a_group_commits_and_resumes_from_the_committed_offset(broker) {
    let topic = unique_topic("assign-commit");
    let group = unique_topic("assign-commit-g");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 0, 10).await;
        produce(broker.bootstrap(), &topic, 1, 10).await;
        let t = topic.as_str();
        let mut cfg = group_config(broker.bootstrap(), &group);
        cfg.auto_offset_reset = OffsetReset::Latest;

        // No subscribe: commit and committed go to the group's coordinator.
        let c = Consumer::new(cfg.clone()).await.unwrap();
        c.assign([(t, 0), (t, 1)]).unwrap();
        let done = c.commit_offsets([((t, 0), om(5))]).await.unwrap();
        assert_eq!(done, vec![(TopicPartition::new(t, 0), om(5))]);
        assert_eq!(committed(&c, t, 0).await, Some(5));
        assert_eq!(committed(&c, t, 1).await, None);
        c.close().await.unwrap();

        // A new assigned consumer starts at the committed 5 on partition 0,
        // and at auto.offset.reset (latest: 10) where nothing is committed.
        let c = Consumer::new(cfg).await.unwrap();
        c.assign([(t, 0), (t, 1)]).unwrap();
        assert_eq!(c.position((t, 0)).await.unwrap(), 5, "partition 0 resumes at the commit");
        assert_eq!(c.position((t, 1)).await.unwrap(), 10, "partition 1 starts at latest");
        let got: Vec<ConsumerRecord> = poll_batches(&c, 5, Duration::from_secs(15))
            .await
            .concat();
        assert!(got.iter().all(|r| r.partition == 0), "read partition 1");
        assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), (5..10).collect::<Vec<_>>());
        // commit() commits what poll returned.
        let done = c.commit().await.unwrap();
        assert!(done.contains(&(TopicPartition::new(t, 0), om(10))), "{done:?}");
        assert_eq!(committed(&c, t, 0).await, Some(10));
        c.close().await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn auto_commit_commits_only_records_a_later_poll_released(broker) {
    let topic = unique_topic("auto-commit-release");
    let group = unique_topic("auto-commit-release-g");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 0, 10).await;
        let t = topic.as_str();
        let mut cfg = group_config(broker.bootstrap(), &group);
        cfg.enable_auto_commit = true;
        cfg.auto_commit_interval = Duration::from_millis(100);
        let c = Consumer::new(cfg).await.unwrap();
        c.subscribe(&[t]).unwrap();
        let batches = poll_batches(&c, 10, Duration::from_secs(20)).await;
        let last_start = batches.last().unwrap()[0].offset;
        // The application works on the last batch without polling: none of
        // it may be committed, however many auto-commit intervals pass.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before = committed(&c, t, 0).await;
        assert!(
            before.is_none_or(|o| o <= last_start),
            "committed {before:?} while records from {last_start} were being processed"
        );
        // store_offset belongs to enable.auto.offset.store=false.
        assert!(c.store_offset((t, 0), 3).is_err());
        // The next poll releases them; the next auto-commit commits them.
        c.poll(Duration::from_millis(50)).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while committed(&c, t, 0).await != Some(10) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(committed(&c, t, 0).await, Some(10));
        c.close().await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn without_auto_offset_store_only_stored_offsets_are_committed(broker) {
    let topic = unique_topic("offset-store");
    let group = unique_topic("offset-store-g");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 0, 10).await;
        let t = topic.as_str();
        let mut cfg = ConsumerConfig::from_properties([
            ("bootstrap.servers", broker.bootstrap()),
            ("enable.auto.offset.store", "false"),
        ])
        .unwrap();
        assert!(!cfg.enable_auto_offset_store);
        let base = group_config(broker.bootstrap(), &group);
        cfg.group_id = base.group_id;
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.fetch_max_wait = base.fetch_max_wait;
        cfg.heartbeat_interval = base.heartbeat_interval;
        cfg.session_timeout = base.session_timeout;
        cfg.auto_commit_interval = Duration::from_millis(100);
        let c = Consumer::new(cfg.clone()).await.unwrap();
        c.subscribe(&[t]).unwrap();
        poll_batches(&c, 10, Duration::from_secs(20)).await;
        c.poll(Duration::from_millis(50)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(committed(&c, t, 0).await, None, "committed without a store");
        assert!(c.commit().await.unwrap().is_empty(), "commit() without a store");
        assert!(c.store_offset((t, 7), 3).is_err(), "a partition not assigned");
        // The record at offset 4 is processed: 5 is committable.
        c.store_offset((t, 0), 4).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while committed(&c, t, 0).await != Some(5) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(committed(&c, t, 0).await, Some(5), "auto-commit of the stored offset");
        c.store_offset((t, 0), 6).unwrap();
        let done = c.commit().await.unwrap();
        assert_eq!(done, vec![(TopicPartition::new(t, 0), om(7))]);
        c.close().await.unwrap();
        assert_eq!(
            committed_by_a_new_member(broker, &group, t, 0).await,
            Some(7),
            "close committed more than was stored"
        );
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn stream_commits_only_records_it_yielded(broker) {
    let topic = unique_topic("stream-commit");
    let group = unique_topic("stream-commit-g");
    let auto_group = unique_topic("stream-autocommit-g");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 0, 200).await;
        let t = topic.as_str();

        // commit(): what the stream yielded, not the batch it polled.
        let mut cfg = group_config(broker.bootstrap(), &group);
        cfg.max_poll_records = 100;
        let c = Consumer::new(cfg).await.unwrap();
        c.subscribe(&[t]).unwrap();
        let mut stream = c.stream();
        let mut offsets = Vec::new();
        for _ in 0..10 {
            offsets.push(stream.next().await.unwrap().unwrap().offset);
        }
        assert_eq!(offsets, (0..10).collect::<Vec<_>>());
        let done = c.commit().await.unwrap();
        assert_eq!(done, vec![(TopicPartition::new(t, 0), om(10))]);
        assert_eq!(committed(&c, t, 0).await, Some(10));
        drop(stream);
        c.close().await.unwrap();

        // Auto-commit: the record being processed (the last yielded) is not
        // committed; close commits what was yielded, nothing more.
        let mut cfg = group_config(broker.bootstrap(), &auto_group);
        cfg.max_poll_records = 100;
        cfg.enable_auto_commit = true;
        cfg.auto_commit_interval = Duration::from_millis(100);
        let c = Consumer::new(cfg).await.unwrap();
        c.subscribe(&[t]).unwrap();
        let mut stream = c.stream();
        for i in 0..10 {
            assert_eq!(stream.next().await.unwrap().unwrap().offset, i);
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        let mid = committed(&c, t, 0).await;
        assert!(mid.is_none_or(|o| o <= 9), "auto-commit committed {mid:?} after 10 yielded");
        c.close().await.unwrap();
        drop(stream);
        assert_eq!(committed_by_a_new_member(broker, &auto_group, t, 0).await, Some(10));
    });
}
}

/// Seeks every assigned partition to `offset` (an external offset store).
struct SeekOnAssign {
    consumer: OnceLock<Consumer>,
    offset: i64,
}

impl RebalanceListener for SeekOnAssign {
    fn on_partitions_assigned(&self, partitions: &[TopicPartition]) {
        let c = self.consumer.get().unwrap();
        for tp in partitions {
            c.seek(tp, self.offset).unwrap();
        }
    }
}

purekafka_integration::on_mock_and_kafka! {
fn seek_in_on_partitions_assigned_is_not_overwritten_by_the_committed_offset(broker) {
    let topic = unique_topic("seek-on-assign");
    let group = unique_topic("seek-on-assign-g");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 0, 20).await;
        let t = topic.as_str();
        // The group has 3 committed.
        let c = Consumer::new(group_config(broker.bootstrap(), &group)).await.unwrap();
        c.subscribe(&[t]).unwrap();
        poll_batches(&c, 20, Duration::from_secs(20)).await;
        c.commit_offsets([((t, 0), om(3))]).await.unwrap();
        c.close().await.unwrap();

        let c = Consumer::new(group_config(broker.bootstrap(), &group)).await.unwrap();
        let listener = Arc::new(SeekOnAssign { consumer: OnceLock::new(), offset: 7 });
        listener.consumer.set(c.clone()).ok().unwrap();
        c.set_rebalance_listener(listener).unwrap();
        c.subscribe(&[t]).unwrap();
        let got = poll_batches(&c, 13, Duration::from_secs(20)).await.concat();
        assert_eq!(got[0].offset, 7, "the listener's seek was overwritten");
        assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), (7..20).collect::<Vec<_>>());
        // The committed 3, looked up meanwhile, does not move the position back.
        let again = c.poll(Duration::from_millis(1000)).await.unwrap();
        assert!(again.is_empty(), "read again from {:?}", again.first().map(|r| r.offset));
        c.close().await.unwrap();
    });
}
}

/// Polls `c` until it owns `n` partitions.
async fn poll_until_assigned(c: &Consumer, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while c.assignment().len() != n && Instant::now() < deadline {
        c.poll(Duration::from_millis(100)).await.unwrap();
    }
    assert_eq!(c.assignment().len(), n, "partitions assigned");
}

purekafka_integration::on_mock_and_kafka! {
fn commit_during_a_rebalance_fails_fast_and_does_not_stall_the_join(broker) {
    let topic = unique_topic("commit-rebalance");
    let group = unique_topic("commit-rebalance-g");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        let t = topic.as_str();
        // A member that stops polling: the broker waits for it to rejoin
        // (up to its rebalance timeout, max.poll.interval.ms).
        let mut cfg = group_config(broker.bootstrap(), &group);
        cfg.session_timeout = Duration::from_secs(10);
        cfg.max_poll_interval = Duration::from_secs(10);
        let m = Consumer::new(cfg.clone()).await.unwrap();
        m.subscribe(&[t]).unwrap();
        poll_until_assigned(&m, 2, Duration::from_secs(20)).await;

        // A second member starts joining: its JoinGroup waits for m.
        let a = Consumer::new(cfg).await.unwrap();
        a.subscribe(&[t]).unwrap();
        for _ in 0..5 {
            a.poll(Duration::from_millis(200)).await.unwrap();
        }
        assert!(a.assignment().is_empty(), "joined without m rejoining");
        let t0 = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(5), a.commit_offsets([((t, 0), om(1))]))
            .await
            .expect("a commit during the rebalance waited behind the join");
        let e = r.expect_err("a commit during the rebalance succeeded");
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "took {:?}",
            t0.elapsed()
        );
        assert_eq!(e.code(), Some(ErrorCode::REBALANCE_IN_PROGRESS), "{e}");
        // Not retriable as a Kafka code (as in Java): the application polls,
        // then commits again.
        assert!(
            e.to_string().contains("rebalancing") && e.to_string().contains("retry"),
            "{e}"
        );

        // The join completes once m rejoins, and a's commits work again.
        let deadline = Instant::now() + Duration::from_secs(20);
        while (a.assignment().len() != 1 || m.assignment().len() != 1) && Instant::now() < deadline
        {
            let (ra, rm) = tokio::join!(
                a.poll(Duration::from_millis(100)),
                m.poll(Duration::from_millis(100))
            );
            ra.unwrap();
            rm.unwrap();
        }
        assert_eq!((a.assignment().len(), m.assignment().len()), (1, 1));
        let tp = a.assignment()[0].clone();
        a.commit_offsets([(tp, om(0))]).await.unwrap();
        a.close().await.unwrap();
        m.close().await.unwrap();
    });
}
}
