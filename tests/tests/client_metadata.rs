//! The metadata producers and consumers give applications, Java's
//! `partitionsFor` and `listTopics`: `Producer::partitions_for`,
//! `Consumer::partitions_for` and `Consumer::list_topics`. On librdkafka's
//! mock (three brokers, replication 3; leaders moved and topic errors
//! injected) and on Apache Kafka 4.4 (each leader and ISR checked against
//! the launcher's own metadata, not our code).

use purekafka::{
    Consumer, ConsumerConfig, Error, ErrorCode, PartitionInfo, Producer, ProducerConfig,
    ProducerRecord,
};
use purekafka_integration::{BrokerKind, Cluster, on_mock_and_kafka, rt, unique_topic};
use std::time::{Duration, Instant};

/// A topic of `partitions` partitions: replicated on all three mock brokers,
/// on Kafka's one node as the harness creates it.
fn topic_of(c: &Cluster, prefix: &str, partitions: u32) -> String {
    let topic = unique_topic(prefix);
    if c.kind() == BrokerKind::Mock {
        c.mock_cmd(
            "create_topic",
            [
                ("topic", topic.as_str().into()),
                ("partitions", partitions.into()),
                ("replication", 3.into()),
            ],
        )
        .unwrap();
    } else {
        c.create_topic(&topic, partitions).unwrap();
    }
    topic
}

fn consumer_config(c: &Cluster, props: &[(&str, &str)]) -> ConsumerConfig {
    let mut all = vec![("bootstrap.servers", c.bootstrap())];
    all.extend_from_slice(props);
    ConsumerConfig::from_properties(all).unwrap()
}

fn producer_config(c: &Cluster, props: &[(&str, &str)]) -> ProducerConfig {
    let mut all = vec![("bootstrap.servers", c.bootstrap())];
    all.extend_from_slice(props);
    ProducerConfig::from_properties(all).unwrap()
}

fn indexes(partitions: &[PartitionInfo]) -> Vec<i32> {
    partitions.iter().map(|p| p.partition).collect()
}

on_mock_and_kafka! {
    fn partitions_for_names_each_partitions_leader_replicas_and_isr(c: 3) {
        let topic = topic_of(c, "md-partitions", 3);
        rt().block_on(async {
            let producer = Producer::new(producer_config(c, &[])).await.unwrap();
            let consumer = Consumer::new(consumer_config(c, &[])).await.unwrap();
            let from_producer = producer.partitions_for(&topic).await.unwrap();
            let from_consumer = consumer.partitions_for(&topic).await.unwrap();
            assert_eq!(indexes(&from_consumer), [0, 1, 2]);
            assert_eq!(from_producer, from_consumer);
            for p in &from_consumer {
                assert_eq!(&*p.topic, topic);
                assert_eq!(p.topic_partition().to_string(), format!("{topic}-{}", p.partition));
                let leader = p.leader.expect("every partition has a leader");
                assert!(p.isr.contains(&leader), "{p:?}");
                assert!(p.offline_replicas.is_empty(), "{p:?}");
                let mut replicas = p.replicas.clone();
                replicas.sort_unstable();
                if c.kind() == BrokerKind::Mock {
                    assert_eq!(replicas, [1, 2, 3], "{p:?}");
                } else {
                    let (l, isr) = c.leader(&topic, p.partition).unwrap();
                    assert_eq!((leader, &p.isr), (l, &isr), "{p:?}");
                    assert_eq!(replicas, [l], "{p:?}");
                }
            }

            // list_topics has it, internal topics beside it, as Java's does.
            let all = consumer.list_topics().await.unwrap();
            assert_eq!(all.get(&topic), Some(&from_consumer));

            // The partitions named are the ones records go to.
            for p in &from_producer {
                let d = producer
                    .send(ProducerRecord::to(&topic).partition(p.partition).value("x"))
                    .await
                    .unwrap();
                assert_eq!(d.partition, p.partition);
            }
            producer.close(Duration::from_secs(10)).await.unwrap();
            consumer.close().await.unwrap();
        });
    }

    fn an_unknown_topic_is_empty_for_a_consumer_and_times_out_for_a_producer(c) {
        let missing = unique_topic("md-missing");
        rt().block_on(async {
            let no_create = [("allow.auto.create.topics", "false")];
            let consumer = Consumer::new(consumer_config(c, &no_create)).await.unwrap();
            let started = Instant::now();
            assert_eq!(consumer.partitions_for(&missing).await.unwrap(), []);
            // At once, as Java's: UNKNOWN_TOPIC_OR_PARTITION is an answer.
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
            assert!(!consumer.list_topics().await.unwrap().contains_key(&missing));

            let block = [("allow.auto.create.topics", "false"), ("max.block.ms", "1500")];
            let producer = Producer::new(producer_config(c, &block)).await.unwrap();
            let started = Instant::now();
            let e = producer.partitions_for(&missing).await.unwrap_err();
            let waited = started.elapsed();
            assert!(matches!(e, Error::MaxBlockTimeout { .. }), "{e:?}");
            assert!(e.to_string().contains(&missing), "{e}");
            assert!(
                waited >= Duration::from_millis(1400) && waited < Duration::from_secs(10),
                "max.block.ms is 1.5 s, waited {waited:?}"
            );
            producer.close(Duration::from_secs(10)).await.unwrap();
            consumer.close().await.unwrap();
        });
    }

    fn a_consumer_lookup_makes_the_broker_create_a_missing_topic(c) {
        // allow.auto.create.topics defaults to true, as in Java, and both
        // brokers create topics on request (Kafka: auto.create.topics.enable).
        // Kafka 4.4 answers the request that starts the creation with
        // UNKNOWN_TOPIC_OR_PARTITION (its controller creates the topic
        // afterwards), so that first answer is empty, as Java's is; the mock
        // creates it at once.
        let topic = unique_topic("md-auto");
        rt().block_on(async {
            let consumer = Consumer::new(consumer_config(c, &[])).await.unwrap();
            let first = consumer.partitions_for(&topic).await.unwrap();
            assert_eq!(first.is_empty(), c.kind() == BrokerKind::Kafka, "{first:?}");
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut partitions = first;
            while partitions.is_empty() {
                assert!(Instant::now() < deadline, "{topic} was not created");
                tokio::time::sleep(Duration::from_millis(200)).await;
                partitions = consumer.partitions_for(&topic).await.unwrap();
            }
            assert!(partitions.iter().all(|p| p.leader.is_some()), "{partitions:?}");
            consumer.close().await.unwrap();

            // A producer waits (max.block.ms) for a topic it makes the broker
            // create, as Java's waitOnMetadata does.
            let producer_topic = unique_topic("md-auto-producer");
            let producer = Producer::new(producer_config(c, &[])).await.unwrap();
            let partitions = producer.partitions_for(&producer_topic).await.unwrap();
            assert!(!partitions.is_empty(), "{producer_topic}");
            assert!(partitions.iter().all(|p| *p.topic == *producer_topic), "{partitions:?}");
            producer.close(Duration::from_secs(10)).await.unwrap();
        });
    }
}

/// The consumer asks a broker each time: a moved leader shows at once, a
/// leaderless partition has none; a refused topic fails naming it (the
/// producer's lookup too); a
/// retriable topic error is asked again until it clears, or until
/// `default.api.timeout.ms`.
#[test]
fn mock_consumer_lookups_see_leader_moves_and_topic_errors() {
    // Its own mock: the topic errors injected here would reach the other
    // tests' list_topics on the shared one (an all-topics Metadata answer
    // with an unauthorized topic fails listTopics, in Java as here; a real
    // broker leaves out the topics a principal may not describe).
    let c: &'static Cluster = Box::leak(Box::new(Cluster::mock_private(3).unwrap()));
    let topic = topic_of(c, "md-faults", 3);
    rt().block_on(async {
        let consumer = Consumer::new(consumer_config(c, &[("default.api.timeout.ms", "1500")]))
            .await
            .unwrap();
        let before = consumer.partitions_for(&topic).await.unwrap();
        let moved_to = before[1]
            .replicas
            .iter()
            .copied()
            .find(|r| Some(*r) != before[1].leader)
            .unwrap();
        c.set_leader(&topic, 1, moved_to).unwrap();
        c.set_leader(&topic, 2, -1).unwrap();
        let after = consumer.partitions_for(&topic).await.unwrap();
        assert_eq!(after[0].leader, before[0].leader);
        assert_eq!(after[1].leader, Some(moved_to));
        assert_eq!(after[2].leader, None);

        c.topic_set_error(&topic, i32::from(ErrorCode::TOPIC_AUTHORIZATION_FAILED.0))
            .unwrap();
        let e = consumer.partitions_for(&topic).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
        assert!(e.to_string().contains(&topic), "{e}");
        // A producer new to the topic fails the same way, at once (not
        // after max.block.ms).
        let producer = Producer::new(producer_config(c, &[])).await.unwrap();
        let started = Instant::now();
        let e = producer.partitions_for(&topic).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
        assert!(e.to_string().contains(&topic), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        producer.close(Duration::from_secs(10)).await.unwrap();

        // Still LEADER_NOT_AVAILABLE at default.api.timeout.ms: that error.
        c.topic_set_error(&topic, i32::from(ErrorCode::LEADER_NOT_AVAILABLE.0))
            .unwrap();
        let started = Instant::now();
        let e = consumer.partitions_for(&topic).await.unwrap_err();
        let waited = started.elapsed();
        assert_eq!(e.code(), Some(ErrorCode::LEADER_NOT_AVAILABLE), "{e}");
        assert!(e.to_string().contains(&topic), "{e}");
        assert!(
            waited >= Duration::from_millis(1400) && waited < Duration::from_secs(10),
            "default.api.timeout.ms is 1.5 s, waited {waited:?}"
        );

        // Cleared while the lookup retries: it answers.
        let cleared = topic.clone();
        let clear = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            c.topic_set_error(&cleared, 0).unwrap();
        });
        let started = Instant::now();
        let answered = consumer.partitions_for(&topic).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(indexes(&answered), [0, 1, 2]);
        clear.join().unwrap();
        consumer.close().await.unwrap();
    });
}
