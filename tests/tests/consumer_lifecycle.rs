//! What happens around a consumer's records rather than to them (issue
//! #10, consumer side of items 6, 7 and 10): a rebalance listener that
//! panics, dropping the last handle without `close()`, and retries of a
//! broker that keeps failing. Tests that count connections or requests own
//! a private mock broker, so what they count is their own.

// Test helpers outside #[test] fns: panicking is how they fail a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use purekafka::Error;
use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, RebalanceListener};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::{BrokerKind, Cluster, unique_topic};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

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
                p.send(ProducerRecord::to(topic).partition(partition).value(&v))
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
    c.assignment().into_iter().map(|(_, p)| p).collect()
}

/// Panics in every callback, after noting which ran.
#[derive(Default)]
struct Panicking {
    calls: Mutex<Vec<&'static str>>,
}

impl RebalanceListener for Panicking {
    fn on_partitions_assigned(&self, partitions: &[(String, i32)]) {
        self.calls.lock().unwrap().push("assigned");
        panic!("listener bug (assigned {partitions:?})");
    }
    fn on_partitions_revoked(&self, partitions: &[(String, i32)]) {
        self.calls.lock().unwrap().push("revoked");
        panic!("listener bug (revoked {partitions:?})");
    }
    fn on_partitions_lost(&self, partitions: &[(String, i32)]) {
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
