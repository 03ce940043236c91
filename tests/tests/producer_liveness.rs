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
use purekafka_integration::{on_mock_and_kafka, rt, unique_topic};
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
