//! The harness on an external cluster (real Kafka, Redpanda): runs only when
//! PUREKAFKA_TEST_BOOTSTRAP is set, e.g.
//! `PUREKAFKA_TEST_BOOTSTRAP=127.0.0.1:9092 cargo test -p purekafka-integration --test harness_external`.

mod common;

use common::{round_trip, sample_records};
use purekafka_integration::{
    BrokerKind, Cluster, Codec, Feature, PeerClient, skip_notice, unique_topic,
};

fn external() -> Option<&'static Cluster> {
    let c = Cluster::external();
    if c.is_none() {
        skip_notice("PUREKAFKA_TEST_BOOTSTRAP is not set");
    }
    c
}

#[test]
fn external_round_trips_with_both_peers() {
    let Some(c) = external() else { return };
    assert_eq!(c.kind(), BrokerKind::External);
    assert!(!c.supports(Feature::FaultInjection));
    let topic = unique_topic("harness-ext");
    c.create_topic(&topic, 3)
        .expect("CreateTopics on the external cluster");
    let first = sample_records("ck", 9, 3, true);
    round_trip(
        c,
        &topic,
        PeerClient::Confluent,
        Codec::Zstd,
        PeerClient::KafkaPython,
        &first,
        &[],
    );
    let codec = if c.supports(Feature::Snappy) {
        Codec::Snappy
    } else {
        Codec::Gzip
    };
    let second = sample_records("kp", 6, 3, false);
    round_trip(
        c,
        &topic,
        PeerClient::KafkaPython,
        codec,
        PeerClient::Confluent,
        &second,
        &first,
    );
}
