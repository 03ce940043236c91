//! The harness itself, on librdkafka's mock cluster: it starts, takes
//! commands, and the Python peers can write and read through it.

mod common;

use common::{round_trip, sample_records};
use purekafka_integration::{
    BrokerKind, Cluster, Codec, CoordinatorKind, Error, Feature, Json, PeerClient, Record, codes,
    require, unique_topic,
};
use std::time::{Duration, Instant};

const PRODUCE: i16 = 0;

#[test]
fn mock_starts_and_creates_a_three_partition_topic() {
    let c = Cluster::mock(3);
    assert_eq!(c.kind(), BrokerKind::Mock);
    assert_eq!(
        c.bootstrap().split(',').count(),
        3,
        "bootstrap {}",
        c.bootstrap()
    );
    for hp in c.bootstrap().split(',') {
        let port: u16 = hp
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("host:port");
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("mock broker accepts connections");
    }
    let topic = unique_topic("harness-create");
    c.create_topic(&topic, 3).expect("create topic");
    let out = c
        .run_peer(
            &["partitions", "--topic", &topic],
            None,
            Duration::from_secs(20),
        )
        .expect("metadata");
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        serde_json::from_str::<Json>(&out[0])
            .expect("json")
            .get("partitions"),
        Some(&Json::from(vec![0i64, 1, 2]))
    );
}

#[test]
fn peers_round_trip_on_mock() {
    let c = Cluster::mock(3);
    let topic = unique_topic("harness-rt");
    c.create_topic(&topic, 3).expect("create topic");
    // confluent-kafka writes (null header values allowed), kafka-python reads...
    let first = sample_records("ck", 12, 3, true);
    round_trip(
        c,
        &topic,
        PeerClient::Confluent,
        Codec::None,
        PeerClient::KafkaPython,
        &first,
        &[],
    );
    // ...then kafka-python writes, confluent-kafka reads everything.
    let second = sample_records("kp", 9, 3, false);
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
fn peers_round_trip_every_codec_on_mock() {
    let c = Cluster::mock(3);
    for codec in [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd] {
        let topic = unique_topic(&format!("harness-{codec:?}"));
        c.create_topic(&topic, 2).expect("create topic");
        let a = sample_records("ck", 6, 2, false);
        round_trip(
            c,
            &topic,
            PeerClient::Confluent,
            codec,
            PeerClient::KafkaPython,
            &a,
            &[],
        );
        let b = sample_records("kp", 6, 2, false);
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
fn pushed_produce_errors_are_seen_and_retried() {
    let c = Cluster::mock_private(1).expect("private mock");
    require!(c, Feature::FaultInjection);
    let topic = unique_topic("harness-faults");
    c.create_topic(&topic, 1).expect("create topic");
    c.start_request_tracking().expect("tracking");

    // Retriable: librdkafka retries through three NOT_LEADER_OR_FOLLOWER answers.
    c.push_request_errors(PRODUCE, &[codes::NOT_LEADER_OR_FOLLOWER; 3])
        .expect("push");
    let mut r = Record::new("k", "v");
    r.partition = Some(0);
    let acked = c
        .peer_produce(&topic, PeerClient::Confluent, Codec::None, &[r.clone()])
        .expect("delivered via retries");
    assert_eq!(acked[0].offset, 0);
    let produces = c
        .mock_requests()
        .expect("requests")
        .iter()
        .filter(|q| q.api_key == PRODUCE)
        .count();
    assert!(
        produces >= 4,
        "3 failed Produce requests and 1 good one expected, broker saw {produces}"
    );

    // Not retriable: the error reaches the client.
    c.push_request_errors(PRODUCE, &[codes::TOPIC_AUTHORIZATION_FAILED])
        .expect("push");
    let err = c
        .peer_produce(&topic, PeerClient::Confluent, Codec::None, &[r.clone()])
        .expect_err("must fail");
    assert!(
        err.to_string().contains("TOPIC_AUTHORIZATION_FAILED"),
        "{err}"
    );

    // And the same for kafka-python.
    c.push_request_errors(PRODUCE, &[codes::TOPIC_AUTHORIZATION_FAILED])
        .expect("push");
    let err = c
        .peer_produce(&topic, PeerClient::KafkaPython, Codec::None, &[r.clone()])
        .expect_err("must fail");
    assert!(
        err.to_string().contains("TopicAuthorizationFailed"),
        "{err}"
    );

    // The stack is empty again: the next produce lands right after the first.
    let acked = c
        .peer_produce(&topic, PeerClient::KafkaPython, Codec::None, &[r])
        .expect("clean produce");
    assert_eq!(acked[0].offset, 1);
}

#[test]
fn leader_moves_and_delays_are_applied() {
    let c = Cluster::mock_private(3).expect("private mock");
    let topic = unique_topic("harness-leader");
    c.create_topic(&topic, 1).expect("create topic");
    c.set_leader(&topic, 0, 3).expect("set leader");
    c.coordinator_set(CoordinatorKind::Group, "g", 2)
        .expect("coordinator");
    c.start_request_tracking().expect("tracking");
    c.broker_push_request_errors(3, PRODUCE, &[(0, 700)])
        .expect("delay one produce");
    let mut r = Record::new("k", "v");
    r.partition = Some(0);
    let t = Instant::now();
    c.peer_produce(&topic, PeerClient::Confluent, Codec::None, &[r])
        .expect("produce");
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "the pushed 700 ms delay was not applied"
    );
    let to: Vec<i32> = c
        .mock_requests()
        .expect("requests")
        .iter()
        .filter(|q| q.api_key == PRODUCE)
        .map(|q| q.broker)
        .collect();
    assert!(
        !to.is_empty() && to.iter().all(|&b| b == 3),
        "Produce must go to the new leader 3, went to {to:?}"
    );
}

#[test]
fn broker_down_refuses_connections_until_up() {
    let c = Cluster::mock_private(2).expect("private mock");
    let port = |i: usize| -> u16 {
        c.bootstrap()
            .split(',')
            .nth(i)
            .and_then(|hp| hp.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .expect("port")
    };
    let p1 = port(0);
    std::net::TcpStream::connect(("127.0.0.1", p1)).expect("up");
    c.broker_down(1).expect("down");
    // The mock stops accepting on broker 1: either connect fails or the socket is closed at once.
    let refused = match std::net::TcpStream::connect(("127.0.0.1", p1)) {
        Err(_) => true,
        Ok(mut s) => {
            use std::io::Read;
            s.set_read_timeout(Some(Duration::from_secs(3))).ok();
            let mut b = [0u8; 1];
            matches!(s.read(&mut b), Ok(0) | Err(_))
        }
    };
    assert!(refused, "broker 1 still serves after broker_down");
    c.broker_up(1).expect("up");
    c.disconnect(2).expect("disconnect");
    std::net::TcpStream::connect(("127.0.0.1", p1)).expect("up again");
}

#[test]
fn bad_mock_commands_fail_with_a_reason() {
    let c = Cluster::mock(3);
    let e = c
        .mock_cmd::<&str>("no_such_command", [])
        .expect_err("unknown command");
    assert!(
        matches!(&e, Error::Command(m) if m.contains("unknown cmd")),
        "{e}"
    );
    let e = c.set_rtt(99, 1).expect_err("unknown broker");
    assert!(e.to_string().contains("broker"), "{e}");
    assert!(c.create_topic("x", 0).is_err());
}

#[test]
fn feature_table_matches_the_mock() {
    let c = Cluster::mock(3);
    assert!(c.supports(Feature::FaultInjection));
    assert!(c.supports(Feature::MultiBroker));
    assert!(!c.supports(Feature::Admin));
    assert!(!c.supports(Feature::ListOffsetsByTimestamp));
    assert!(matches!(
        c.need(Feature::Tls),
        Err(Error::Unsupported {
            kind: BrokerKind::Mock,
            feature: Feature::Tls
        })
    ));
    let one = Cluster::mock(1);
    assert!(!one.supports(Feature::MultiBroker));
    assert_ne!(one.bootstrap(), c.bootstrap());
}

#[test]
fn unique_topics_differ() {
    let a = unique_topic("t");
    let b = unique_topic("t");
    assert_ne!(a, b);
    assert!(unique_topic("a b/c").starts_with("a_b_c-"));
}
