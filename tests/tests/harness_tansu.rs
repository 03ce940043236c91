//! The harness on tansu: it starts through the supervisor, creates topics with
//! CreateTopics and the Python peers write and read through it.
//! Not in the default run since the real Kafka joined the harness: these
//! tests are ignored; run them with `-- --ignored` after `scripts/install-tansu.sh`.

mod common;

use common::{round_trip, sample_records};
use purekafka_integration::{
    BrokerKind, Cluster, Codec, Feature, PeerClient, cluster_or_skip, unique_topic,
};

#[test]
#[ignore = "tansu left the default run (Kafka 4.4 covers it): ./scripts/install-tansu.sh, then cargo test --test harness_tansu -- --ignored"]
fn tansu_round_trips_with_both_peers() {
    let c = cluster_or_skip!(Cluster::try_tansu());
    assert_eq!(c.kind(), BrokerKind::Tansu);
    assert!(c.supports(Feature::Admin) && !c.supports(Feature::Snappy));
    let topic = unique_topic("harness-tansu");
    c.create_topic(&topic, 3).expect("CreateTopics on tansu");
    let first = sample_records("ck", 9, 3, true);
    round_trip(
        c,
        &topic,
        PeerClient::Confluent,
        Codec::None,
        PeerClient::KafkaPython,
        &first,
        &[],
    );
    let second = sample_records("kp", 6, 3, false);
    round_trip(
        c,
        &topic,
        PeerClient::KafkaPython,
        Codec::None,
        PeerClient::Confluent,
        &second,
        &first,
    );
}

#[test]
#[ignore = "tansu left the default run (Kafka 4.4 covers it): ./scripts/install-tansu.sh, then cargo test --test harness_tansu -- --ignored"]
fn tansu_round_trips_compressed_batches() {
    let c = cluster_or_skip!(Cluster::try_tansu());
    // Snappy is broken on tansu's sqlite storage (a tansu 0.6.0 defect).
    for codec in [Codec::Gzip, Codec::Lz4, Codec::Zstd] {
        let topic = unique_topic(&format!("harness-tansu-{codec:?}"));
        c.create_topic(&topic, 2).expect("CreateTopics on tansu");
        let a = sample_records("ck", 4, 2, false);
        round_trip(
            c,
            &topic,
            PeerClient::Confluent,
            codec,
            PeerClient::KafkaPython,
            &a,
            &[],
        );
        let b = sample_records("kp", 4, 2, false);
        round_trip(
            c,
            &topic,
            PeerClient::KafkaPython,
            codec,
            PeerClient::Confluent,
            &b,
            &a,
        );
    }
}

#[test]
#[ignore = "tansu left the default run (Kafka 4.4 covers it): ./scripts/install-tansu.sh, then cargo test --test harness_tansu -- --ignored"]
fn tansu_rejects_a_duplicate_topic() {
    let c = cluster_or_skip!(Cluster::try_tansu());
    let topic = unique_topic("harness-tansu-dup");
    c.create_topic(&topic, 1).expect("first create");
    let e = c
        .create_topic(&topic, 1)
        .expect_err("second create must fail");
    assert!(e.to_string().contains("already exists"), "{e}");
}
