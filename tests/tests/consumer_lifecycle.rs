//! What happens around a consumer's records rather than to them (issue
//! #10, consumer side of items 6, 7 and 10): a rebalance listener that
//! panics, dropping the last handle without `close()`, and retries of a
//! broker that keeps failing. Tests that count connections or requests own
//! a private mock broker, so what they count is their own.

// Test helpers outside #[test] fns: panicking is how they fail a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use purekafka::Error;
use purekafka::TopicPartition;
use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, RebalanceListener};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::{
    BrokerKind, Cluster, connections_to, poll_records, port_of, unique_topic,
};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn session_timeout(broker: &Cluster) -> Duration {
    // The mock waits session.timeout - 1 s for members to rejoin; Kafka on a
    // busy 2-core machine needs more slack (see group_mock.rs).
    if broker.kind() == BrokerKind::Kafka {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(3)
    }
}

fn group_config(broker: &Cluster, group: &str) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(broker.bootstrap());
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(50);
    cfg.group_id = Some(group.to_string());
    cfg.enable_auto_commit = false;
    cfg.heartbeat_interval = Duration::from_millis(300);
    cfg.session_timeout = session_timeout(broker);
    cfg
}

async fn produce(bootstrap: &str, topic: &str, partitions: i32, per_partition: usize) {
    let p = Producer::new(ProducerConfig::new(bootstrap)).await.unwrap();
    let mut acks = Vec::new();
    for partition in 0..partitions {
        for i in 0..per_partition {
            let v = format!("v{i}");
            acks.push(
                p.enqueue(ProducerRecord::to(topic).partition(partition).value(&v))
                    .await
                    .unwrap(),
            );
        }
    }
    for a in acks {
        a.await.unwrap();
    }
    p.close(Duration::from_secs(10)).await.unwrap();
}

fn owned(c: &Consumer) -> BTreeSet<i32> {
    c.assignment().into_iter().map(|tp| tp.partition).collect()
}

/// Panics in every callback, after noting which ran.
#[derive(Default)]
struct Panicking {
    calls: Mutex<Vec<&'static str>>,
}

impl RebalanceListener for Panicking {
    fn on_partitions_assigned(&self, partitions: &[TopicPartition]) {
        self.calls.lock().unwrap().push("assigned");
        panic!("listener bug (assigned {partitions:?})");
    }
    fn on_partitions_revoked(&self, partitions: &[TopicPartition]) {
        self.calls.lock().unwrap().push("revoked");
        panic!("listener bug (revoked {partitions:?})");
    }
    fn on_partitions_lost(&self, partitions: &[TopicPartition]) {
        self.calls.lock().unwrap().push("lost");
        panic!("listener bug (lost {partitions:?})");
    }
}

fn panicked_in(errors: &[Error], callback: &str) -> bool {
    errors.iter().any(|e| {
        matches!(e, Error::CallbackPanicked { callback: c, message }
            if c.ends_with(callback) && message.contains("listener bug"))
    })
}

purekafka_integration::on_mock_and_kafka! {
/// Issue #10 item 6: a listener that panics in every callback neither stops
/// the group task (heartbeats, revocation) nor leaves the consumer fetching
/// partitions the group gave to another member; each panic comes out of a
/// `poll` as `CallbackPanicked`, naming the callback.
fn a_panicking_rebalance_listener_is_reported_and_never_leaves_two_owners(broker) {
    let topic = unique_topic("panicking-listener");
    let group = unique_topic("panicking-listener-g");
    broker.create_topic(&topic, 4).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 4, 5).await;
        let all: BTreeSet<i32> = (0..4).collect();
        let a = Consumer::new(group_config(broker, &group)).await.unwrap();
        let listener = Arc::new(Panicking::default());
        a.set_rebalance_listener(listener.clone()).unwrap();
        a.subscribe(&[topic.as_str()]).unwrap();
        let mut a_errors = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while owned(&a) != all {
            assert!(Instant::now() < deadline, "a never got the partitions");
            if let Err(e) = a.poll(Duration::from_millis(100)).await {
                a_errors.push(e);
            }
        }

        // A second member joins: a must give partitions up even though
        // its listener panics again.
        let b = Consumer::new(group_config(broker, &group)).await.unwrap();
        b.subscribe(&[topic.as_str()]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut settled_at: Option<Instant> = None;
        loop {
            let (ra, rb) = tokio::join!(
                a.poll(Duration::from_millis(100)),
                b.poll(Duration::from_millis(100))
            );
            if let Err(e) = ra {
                a_errors.push(e);
            }
            // No error for b: what the rebalance goes through (the mock's
            // SyncGroup race answers a late follower INVALID_REQUEST, and
            // the member rejoins) is the consumer's business, not the
            // application's, as in Java.
            if let Err(e) = rb {
                panic!("b: {e}");
            }
            let (oa, ob) = (owned(&a), owned(&b));
            let both: Vec<&i32> = oa.intersection(&ob).collect();
            assert!(
                both.is_empty(),
                "partitions {both:?} have two owners (a {oa:?}, b {ob:?}); a's listener ran {:?}",
                listener.calls.lock().unwrap()
            );
            let split = !oa.is_empty() && !ob.is_empty() && oa.union(&ob).count() == 4;
            match (split, settled_at) {
                (true, None) => settled_at = Some(Instant::now()),
                (false, _) => settled_at = None,
                _ => {}
            }
            // Split, and still split a session timeout later: a keeps
            // heartbeating (a dead group task would get it fenced and its
            // partitions handed to b).
            if settled_at.is_some_and(|t| {
                t.elapsed() > session_timeout(broker) + Duration::from_secs(2)
            }) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the group never settled: a {oa:?}, b {ob:?}; a's listener ran {:?}",
                listener.calls.lock().unwrap()
            );
        }
        let calls = listener.calls.lock().unwrap().clone();
        assert!(calls.contains(&"revoked"), "a never gave partitions up: {calls:?}");
        // a's polls reported its listener's panics and nothing else.
        assert!(
            a_errors
                .iter()
                .all(|e| matches!(e, Error::CallbackPanicked { .. })),
            "poll returned errors the application cannot act on: {a_errors:?}"
        );
        assert!(
            panicked_in(&a_errors, "on_partitions_assigned"),
            "poll did not report the panic in on_partitions_assigned: {a_errors:?}"
        );
        assert!(
            panicked_in(&a_errors, "on_partitions_revoked"),
            "poll did not report the panic in on_partitions_revoked: {a_errors:?}"
        );
        a.close().await.unwrap();
        b.close().await.unwrap();
    });
}

}

/// Issue #10 item 7: the last handle dropped without `close()` leaves the
/// group at once (a LeaveGroup), so a new member gets every partition
/// without waiting for the dropped member's session to time out. Real Kafka
/// only: the mock answers a LeaveGroup with a rebalance that waits the
/// group's session timeout anyway (the mock test below sees the LeaveGroup).
#[test]
fn dropping_the_last_consumer_handle_leaves_the_group_without_waiting_for_the_session() {
    let broker: &Cluster = purekafka_integration::cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("drop-consumer-leave");
    let group = unique_topic("drop-consumer-leave-g");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        let all: BTreeSet<i32> = (0..2).collect();
        let mut cfg = group_config(broker, &group);
        // Long enough that waiting for it fails the test.
        cfg.session_timeout = Duration::from_secs(45);
        let a = Consumer::new(cfg.clone()).await.unwrap();
        a.subscribe(&[topic.as_str()]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while owned(&a) != all {
            assert!(Instant::now() < deadline, "a never got the partitions");
            let _ = a.poll(Duration::from_millis(100)).await;
        }
        let clone = a.clone();
        let t = Instant::now();
        drop(a);
        drop(clone);
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "drop blocked for {:?}",
            t.elapsed()
        );

        let b = Consumer::new(cfg).await.unwrap();
        b.subscribe(&[topic.as_str()]).unwrap();
        let start = Instant::now();
        while owned(&b) != all {
            assert!(
                start.elapsed() < Duration::from_secs(25),
                "b waited {:?} for the partitions: the dropped member never left",
                start.elapsed()
            );
            b.poll(Duration::from_millis(100)).await.unwrap();
        }
        b.close().await.unwrap();
    });
}

/// Issue #10 item 7: dropping every handle of a subscribed consumer (a
/// clone included) without `close()` sends a LeaveGroup, stops fetching and
/// closes every connection to the broker.
#[test]
fn dropping_the_last_consumer_handle_stops_fetching_and_closes_its_connections() {
    let broker = Cluster::mock_private(1).unwrap();
    let topic = unique_topic("drop-consumer");
    let group = unique_topic("drop-consumer-g");
    broker.create_topic(&topic, 2).unwrap();
    let port = port_of(broker.bootstrap());
    let rt = rt();
    rt.block_on(async {
        produce(broker.bootstrap(), &topic, 2, 5).await;
        let c = Consumer::new(group_config(&broker, &group)).await.unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();
        poll_records(&c, 10, Duration::from_secs(30), "before the drop").await;
        assert!(connections_to(port) > 0, "the consumer holds no connection");
        broker.start_request_tracking().unwrap();
        let clone = c.clone();
        let t = Instant::now();
        drop(c);
        drop(clone);
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "drop blocked for {:?}",
            t.elapsed()
        );

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = broker
                .mock_requests()
                .unwrap()
                .iter()
                .any(|r| r.api_key == 13);
            if left && connections_to(port) == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "10 s after the drop: LeaveGroup sent: {left}, {} connections open",
                connections_to(port)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        broker.clear_requests().unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = broker.mock_requests().unwrap();
        assert!(
            after.is_empty(),
            "requests after the consumer closed: {after:?}"
        );
    });
}

/// Requests of `api_key` recorded by the mock.
fn count(broker: &Cluster, api_key: i16) -> usize {
    broker
        .mock_requests()
        .unwrap()
        .iter()
        .filter(|r| r.api_key == api_key)
        .count()
}

/// Issue #10 item 10: while the broker keeps failing ListOffsets, then
/// Fetch, the consumer retries with a growing backoff (retry.backoff.ms 100
/// doubling up to retry.backoff.max.ms 1000): a handful of requests a
/// second, not one per round trip; metadata refreshes too. It reads once
/// the broker recovers.
#[test]
fn list_offsets_fetch_and_metadata_retries_back_off_while_the_broker_keeps_failing() {
    const NOT_LEADER: i32 = 6;
    const LIST_OFFSETS: i16 = 2;
    const FETCH: i16 = 1;
    const METADATA: i16 = 3;
    let broker = Cluster::mock_private(1).unwrap();
    let topic = unique_topic("retry-backoff");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 1, 5).await;
        let mut cfg = ConsumerConfig::new(broker.bootstrap());
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.fetch_max_wait = Duration::from_millis(50);
        cfg.client.retry_backoff = Duration::from_millis(100);
        cfg.client.retry_backoff_max = Duration::from_millis(1000);
        let c = Consumer::new(cfg).await.unwrap();

        // ListOffsets (the position reset) keeps failing for 3 s.
        broker
            .push_request_errors(LIST_OFFSETS, &[NOT_LEADER; 1000])
            .unwrap();
        broker.start_request_tracking().unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        let start = Instant::now();
        // (At round-trip speed the 1000 errors run out within the window
        // and records come: counted, not failed on, so the counts below
        // say what happened.)
        let mut got = 0;
        while start.elapsed() < Duration::from_secs(3) {
            got += c.poll(Duration::from_millis(100)).await.unwrap().len();
        }
        let (list, md) = (count(&broker, LIST_OFFSETS), count(&broker, METADATA));
        eprintln!("3 s of ListOffsets failures: {list} ListOffsets, {md} Metadata");
        // 100 + 200 + 400 + 800 + 1000 ms (±20%): about 6 in 3 s.
        assert!(list <= 12, "{list} ListOffsets in 3 s of failures");
        assert!(
            md <= 15,
            "{md} Metadata requests in 3 s of ListOffsets failures"
        );
        broker.clear_request_errors(LIST_OFFSETS).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got < 5 {
            assert!(
                Instant::now() < deadline,
                "read {got} of 5 after ListOffsets recovered"
            );
            got += c.poll(Duration::from_millis(100)).await.unwrap().len();
        }

        // Then Fetch keeps failing for 3 s.
        broker
            .push_request_errors(FETCH, &[NOT_LEADER; 1000])
            .unwrap();
        broker.clear_requests().unwrap();
        produce(broker.bootstrap(), &topic, 1, 5).await;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            let _ = c.poll(Duration::from_millis(100)).await.unwrap();
        }
        let (fetches, md) = (count(&broker, FETCH), count(&broker, METADATA));
        eprintln!("3 s of Fetch failures: {fetches} Fetch, {md} Metadata");
        assert!(fetches <= 12, "{fetches} Fetch requests in 3 s of failures");
        assert!(md <= 15, "{md} Metadata requests in 3 s of Fetch failures");
        broker.clear_request_errors(FETCH).unwrap();
        poll_records(&c, 5, Duration::from_secs(10), "after Fetch recovered").await;
        c.close().await.unwrap();
    });
}

/// Issue #10 item 10: an `assign()`ed consumer with a `group.id` looks up
/// the group's committed offset until it gets one; while the coordinator
/// keeps answering COORDINATOR_LOAD_IN_PROGRESS, those lookups back off
/// (growing to retry.backoff.max.ms), not every retry.backoff.ms forever.
#[test]
fn committed_offset_lookups_back_off_while_the_coordinator_keeps_failing() {
    const LOAD_IN_PROGRESS: i32 = 14;
    const OFFSET_FETCH: i16 = 9;
    let broker = Cluster::mock_private(1).unwrap();
    let topic = unique_topic("lookup-backoff");
    let group = unique_topic("lookup-backoff-g");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 1, 5).await;
        let mut cfg = group_config(&broker, &group);
        cfg.client.retry_backoff = Duration::from_millis(100);
        cfg.client.retry_backoff_max = Duration::from_millis(1000);
        let c = Consumer::new(cfg).await.unwrap();
        broker
            .push_request_errors(OFFSET_FETCH, &[LOAD_IN_PROGRESS; 1000])
            .unwrap();
        broker.start_request_tracking().unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        let start = Instant::now();
        let mut got = 0;
        while start.elapsed() < Duration::from_secs(3) {
            got += c.poll(Duration::from_millis(100)).await.unwrap().len();
        }
        let lookups = count(&broker, OFFSET_FETCH);
        eprintln!("3 s of OffsetFetch failures: {lookups} OffsetFetch");
        // 0 + 100 + 200 + 400 + 800 + 1000 ms (±20%): about 6 in 3 s.
        assert!(lookups <= 12, "{lookups} OffsetFetch in 3 s of failures");
        broker.clear_request_errors(OFFSET_FETCH).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got < 5 {
            assert!(
                Instant::now() < deadline,
                "read {got} of 5 after the coordinator recovered"
            );
            got += c.poll(Duration::from_millis(100)).await.unwrap().len();
        }
        c.close().await.unwrap();
    });
}
