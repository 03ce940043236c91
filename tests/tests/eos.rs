//! Exactly-once processing on Kafka 4.4: the consumer's group metadata
//! (KIP-447), and the consume-transform-produce helper (`purekafka::eos`).

use purekafka::config::{ConsumerConfig, GroupProtocol, OffsetReset};
use purekafka::consumer::Consumer;
use purekafka_integration::{Cluster, cluster_or_skip, rt, unique_topic};
use std::time::{Duration, Instant};

fn group_consumer(bootstrap: &str, group: &str, protocol: GroupProtocol) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.group_id = Some(group.into());
    cfg.group_protocol = protocol;
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.enable_auto_commit = false;
    cfg.fetch_max_wait = Duration::from_millis(100);
    cfg
}

/// Polls every consumer until `done` holds, for at most 60 s.
async fn poll_until(cs: &[&Consumer], what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what} within 60 s");
        for c in cs {
            c.poll(Duration::from_millis(100)).await.unwrap();
        }
    }
}

fn group_metadata_follows_the_generation(protocol: GroupProtocol) {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("eos-meta");
    broker.create_topic(&topic, 4).unwrap();
    let group = unique_topic("eos-meta-group");
    rt().block_on(async {
        // Without group.id there is no group metadata.
        let plain = Consumer::new(ConsumerConfig::new(broker.bootstrap()))
            .await
            .unwrap();
        assert!(plain.group_metadata().is_err(), "no group.id, no metadata");

        let mut cfg = group_consumer(broker.bootstrap(), &group, protocol);
        cfg.group_instance_id = Some("instance-1".into());
        let c1 = Consumer::new(cfg).await.unwrap();
        let before = c1.group_metadata().unwrap();
        assert_eq!(before.group_id, group);
        assert_eq!(before.generation_id, -1, "no generation before joining");
        assert_eq!(before.member_id, "");
        assert_eq!(before.group_instance_id.as_deref(), Some("instance-1"));

        c1.subscribe(&[topic.as_str()]).unwrap();
        poll_until(&[&c1], "c1 assigned", || c1.assignment().len() == 4).await;
        let first = c1.group_metadata().unwrap();
        assert!(
            first.generation_id > 0,
            "a generation once joined: {first:?}"
        );
        assert!(!first.member_id.is_empty(), "a member id once joined");
        assert_eq!(first.group_instance_id.as_deref(), Some("instance-1"));

        // A second member: a new generation (member epoch) for the first.
        let c2 = Consumer::new(group_consumer(broker.bootstrap(), &group, protocol))
            .await
            .unwrap();
        c2.subscribe(&[topic.as_str()]).unwrap();
        poll_until(&[&c1, &c2], "the partitions split", || {
            c1.assignment().len() == 2
                && c2.assignment().len() == 2
                && c1.group_metadata().unwrap().generation_id > first.generation_id
        })
        .await;
        let second = c1.group_metadata().unwrap();
        let other = c2.group_metadata().unwrap();
        assert_eq!(second.member_id, first.member_id, "c1 keeps its member id");
        assert_ne!(other.member_id, second.member_id);
        assert!(other.generation_id > 0);
        assert_eq!(other.group_instance_id, None);
        if protocol == GroupProtocol::Classic {
            assert_eq!(
                other.generation_id, second.generation_id,
                "one generation for the whole classic group"
            );
        }
        c2.close().await.unwrap();
        c1.close().await.unwrap();
    });
}

#[test]
fn group_metadata_follows_the_generation_classic() {
    group_metadata_follows_the_generation(GroupProtocol::Classic);
}

#[test]
fn group_metadata_follows_the_generation_consumer_protocol() {
    group_metadata_follows_the_generation(GroupProtocol::Consumer);
}
