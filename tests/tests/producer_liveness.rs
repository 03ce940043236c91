//! A record is sent, or fails with a reason, well within
//! `delivery.timeout.ms`: the producer's sender never sleeps on a record it
//! could send.
//!
//! Seen on Kafka 4.4 under CI load (examples' event_microservice: one
//! `send` at a time, each to a topic new to the producer, linger.ms 5): a
//! record waited the whole delivery timeout (120 s) unsent and failed with
//! `DeliveryTimeout` and no last error. The sender had drained while the
//! batch still lingered, was descheduled past the linger before it asked
//! for its next wake-up, and that expiry no longer counted (fixed in
//! `Accumulator::next_deadline`; its unit tests reproduce the decision
//! deterministically). Here the path runs end to end, on a loaded machine:
//! threads spin on every core while the producer sends, one record at a
//! time, to topics it has never seen, with lingers near the sender's
//! wake-up latency. Before the fix, such a run lost a record to the timeout.

use purekafka::config::ProducerConfig;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::{Cluster, on_mock_and_kafka, rt, setup_failed, unique_topic};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Busy threads, one per core, until dropped: the CI machine while other
/// builds run.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start() -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

const TOPICS: usize = 8;
const PER_TOPIC: usize = 40;

on_mock_and_kafka! {
    fn one_send_at_a_time_to_topics_new_to_the_producer_is_never_left_waiting(broker) {
        let prefix = unique_topic("liveness");
        let topics: Vec<String> = (0..TOPICS).map(|i| format!("{prefix}-{i}")).collect();
        for t in &topics {
            broker.create_topic(t, 1).unwrap();
        }
        let delivery_timeout = Duration::from_secs(6);
        let rt = rt();
        rt.block_on(async {
            // Lingers of 1 to 5 ms: the race needs the linger to run out
            // between the sender's drain and its next wake-up.
            for (i, topic) in topics.iter().enumerate() {
                let linger_ms = 1 + i % 5;
                let p = Producer::new(ProducerConfig::from_properties([
                    ("bootstrap.servers", broker.bootstrap()),
                    ("acks", "all"),
                    ("enable.idempotence", "true"),
                    ("linger.ms", &linger_ms.to_string()),
                    ("request.timeout.ms", "3000"),
                    ("delivery.timeout.ms", &delivery_timeout.as_millis().to_string()),
                ]).unwrap())
                .await
                .unwrap();
                let load = Load::start();
                let mut slowest = Duration::ZERO;
                for n in 0..PER_TOPIC {
                    let v = format!("{topic} #{n}");
                    let started = Instant::now();
                    let sent = tokio::time::timeout(
                        delivery_timeout + Duration::from_secs(5),
                        p.send(ProducerRecord::to(topic).key(&v).value(&v)),
                    )
                    .await;
                    let took = started.elapsed();
                    slowest = slowest.max(took);
                    match sent {
                        Ok(Ok(d)) => assert_eq!(&*d.topic, topic.as_str()),
                        Ok(Err(e)) => panic!(
                            "record {n} to {topic} (linger.ms {linger_ms}) failed after {took:?}: {e}"
                        ),
                        Err(_) => panic!(
                            "record {n} to {topic} (linger.ms {linger_ms}) never resolved in {took:?}"
                        ),
                    }
                    // Sending one record is a round trip, not a wait for a
                    // timeout: even a loaded machine answers within seconds.
                    assert!(
                        took < delivery_timeout / 2,
                        "record {n} to {topic} (linger.ms {linger_ms}) took {took:?}"
                    );
                }
                drop(load);
                eprintln!("{topic} (linger.ms {linger_ms}): slowest send {slowest:?}");
                p.close(Duration::from_secs(10)).await.unwrap();
            }
        });
    }
}

/// Metadata's API key.
const METADATA: i16 = 3;

/// While a partition has no leader, the producer asks for metadata after
/// `retry.backoff.ms`, doubling up to `retry.backoff.max.ms` (Java's
/// KIP-580 backoff), not again as soon as each answer comes back; once the
/// leader is back the waiting record goes. Before, a leaderless partition
/// was asked about at round-trip speed: thousands of Metadata requests in
/// these 2 s.
///
/// The partition is leaderless before the producer first sends to it (as
/// right after a topic is created): librdkafka's mock dies when a Produce
/// reaches a partition that has no leader, so a leader lost mid-stream
/// cannot be played here.
#[test]
fn a_leaderless_partition_is_asked_about_with_backoff_and_its_record_goes_once_it_has_a_leader() {
    // A mock of its own: the Metadata requests counted are this producer's.
    let broker = Cluster::mock_private(1).unwrap_or_else(|e| setup_failed(&e));
    let topic = unique_topic("leaderless");
    broker.create_topic(&topic, 1).unwrap();
    broker.set_leader(&topic, 0, -1).unwrap();
    let leaderless = Duration::from_secs(2);
    rt().block_on(async {
        let p = Producer::new(
            ProducerConfig::from_properties([
                ("bootstrap.servers", broker.bootstrap()),
                ("acks", "all"),
                ("retry.backoff.ms", "100"),
                ("retry.backoff.max.ms", "1000"),
            ])
            .unwrap(),
        )
        .await
        .unwrap();
        broker.start_request_tracking().unwrap();
        let sent = tokio::spawn({
            let p = p.clone();
            let topic = topic.clone();
            async move { p.send(ProducerRecord::to(&topic).value("v")).await }
        });
        tokio::time::sleep(leaderless).await;
        let asked: Vec<i64> = broker
            .mock_requests()
            .unwrap()
            .iter()
            .filter(|r| r.api_key == METADATA)
            .map(|r| r.ts_us)
            .collect();
        // The first 40 gaps between them say enough.
        let gaps_ms: Vec<i64> = asked
            .windows(2)
            .take(40)
            .map(|w| (w[1] - w[0]) / 1000)
            .collect();
        eprintln!(
            "{} Metadata requests in {leaderless:?} without a leader; gaps (ms): {gaps_ms:?}",
            asked.len()
        );
        assert!(
            !sent.is_finished(),
            "the record was answered without a leader: {:?}",
            sent.await
        );
        // The topic's lookup, then 100, 200, 400, 800 ms (±20%) apart:
        // about 6 in 2 s.
        assert!(
            (2..30).contains(&asked.len()),
            "{} Metadata requests in {leaderless:?} while the partition had no leader \
             (retry.backoff.ms 100, retry.backoff.max.ms 1000); gaps (ms): {gaps_ms:?}",
            asked.len()
        );

        // The leader is back: within a backoff (at most 1.2 s) the producer
        // sees it and the record is written.
        broker.set_leader(&topic, 0, 1).unwrap();
        let back = Instant::now();
        let done = tokio::time::timeout(Duration::from_secs(10), sent)
            .await
            .expect("the record never went after the leader came back")
            .unwrap()
            .unwrap();
        assert_eq!(
            (&*done.topic, done.partition, done.offset),
            (topic.as_str(), 0, 0)
        );
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the record went {:?} after the leader came back",
            back.elapsed()
        );
        p.close(Duration::from_secs(10)).await.unwrap();
    });
}
