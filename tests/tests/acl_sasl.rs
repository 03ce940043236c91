//! Authorization on the real Kafka 4.4 (StandardAuthorizer,
//! allow.everyone.if.no.acl.found=false): a user without ACLs is denied,
//! and the client fails at once with an error naming the resource, never
//! retrying forever; once an operator grants the ACLs (Kafka's AclCommand,
//! through the harness), the same calls succeed.
//!
//! Users log in with SCRAM-SHA-256 over SASL_PLAINTEXT; each test uses its
//! own user so that grants of one test do not help another.

use purekafka::config::{ConsumerConfig, ProducerConfig};
use purekafka::consumer::Consumer;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{Error, ErrorCode};
use purekafka_integration::{
    AclResource, Cluster, Codec, Feature, PeerClient, Record, poll_error, poll_records, require,
    rt, unique_topic,
};
use std::time::{Duration, Instant};

fn props(c: &Cluster, user: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "bootstrap.servers",
            c.listener("SASL_PLAINTEXT").unwrap().to_string(),
        ),
        ("security.protocol", "SASL_PLAINTEXT".into()),
        ("sasl.mechanism", "SCRAM-SHA-256".into()),
        ("sasl.username", user.into()),
        ("sasl.password", c.secret(user).unwrap().into()),
    ]
}

fn producer_config(c: &Cluster, user: &str) -> ProducerConfig {
    let p = props(c, user);
    ProducerConfig::from_properties(p.iter().map(|(k, v)| (*k, v.as_str()))).unwrap()
}

fn consumer_config(c: &Cluster, user: &str, group: &str) -> ConsumerConfig {
    let mut p = props(c, user);
    p.push(("group.id", group.into()));
    p.push(("auto.offset.reset", "earliest".into()));
    ConsumerConfig::from_properties(p.iter().map(|(k, v)| (*k, v.as_str()))).unwrap()
}

fn assert_denied(e: &Error, code: ErrorCode, resource: &str, took: Duration) {
    assert_eq!(e.code(), Some(code), "{e:?}");
    assert!(
        e.to_string().contains(resource),
        "the error names no {resource}: {e}"
    );
    assert!(!e.is_retriable(), "{e}");
    assert!(
        took < Duration::from_secs(15),
        "denied only after {took:?}: {e}"
    );
}

#[test]
fn produce_is_denied_naming_the_topic_then_allowed_once_granted() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    let topic = unique_topic("acl-produce");
    c.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let p = Producer::new(producer_config(c, "alice")).await.unwrap();
        let t0 = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(60), async {
            p.send(ProducerRecord::to(&topic).value("denied")).await
        })
        .await
        .expect("a denied produce must fail, not hang or retry forever");
        let e = r.expect_err("alice has no ACL on the topic");
        assert_denied(
            &e,
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            &topic,
            t0.elapsed(),
        );
    });

    // Kafka 4.4: WRITE on a topic also allows the idempotent producer's
    // InitProducerId (KIP-679), no cluster-level IDEMPOTENT_WRITE needed.
    c.grant(
        "User:alice",
        &["Write", "Describe"],
        AclResource::Topic(&topic),
    )
    .unwrap();
    rt().block_on(async {
        let p = Producer::new(producer_config(c, "alice")).await.unwrap();
        let md = p
            .send(ProducerRecord::to(&topic).value("allowed"))
            .await
            .unwrap();
        assert_eq!(&*md.topic, topic.as_str());
        p.close(Duration::from_secs(10)).await.unwrap();
    });
    let got = c
        .peer_consume(&topic, PeerClient::Confluent, 1, Duration::from_secs(30))
        .unwrap();
    assert_eq!(got.len(), 1);
}

#[test]
fn a_group_is_denied_naming_the_group_then_allowed_once_granted() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    let topic = unique_topic("acl-group");
    c.create_topic(&topic, 1).unwrap();
    c.peer_produce(
        &topic,
        PeerClient::Confluent,
        Codec::None,
        &[Record::new("k", "v1"), Record::new("k", "v2")],
    )
    .unwrap();
    // bob may read the topic, not join the group.
    c.grant(
        "User:bob",
        &["Read", "Describe"],
        AclResource::Topic(&topic),
    )
    .unwrap();
    let group = unique_topic("acl-group-g");
    rt().block_on(async {
        let consumer = Consumer::new(consumer_config(c, "bob", &group))
            .await
            .unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        let t0 = Instant::now();
        let e = poll_error(
            &consumer,
            Duration::from_secs(30),
            "bob without a group ACL",
        )
        .await;
        assert_denied(
            &e,
            ErrorCode::GROUP_AUTHORIZATION_FAILED,
            &group,
            t0.elapsed(),
        );
    });

    c.grant("User:bob", &["Read"], AclResource::Group(&group))
        .unwrap();
    rt().block_on(async {
        let consumer = Consumer::new(consumer_config(c, "bob", &group))
            .await
            .unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        poll_records(
            &consumer,
            2,
            Duration::from_secs(60),
            "bob with the group ACL",
        )
        .await;
        consumer.commit().await.unwrap();
        consumer.close().await.unwrap();
    });
}

/// The same with group.protocol=consumer (KIP-848): the denied group
/// reaches poll at once, naming it, not a lookup retried forever.
#[test]
fn a_kip848_member_denied_the_group_fails_naming_the_group() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    let topic = unique_topic("acl-group-848");
    c.create_topic(&topic, 1).unwrap();
    c.grant(
        "User:bob",
        &["Read", "Describe"],
        AclResource::Topic(&topic),
    )
    .unwrap();
    let group = unique_topic("acl-group-848-g");
    rt().block_on(async {
        let mut cfg = consumer_config(c, "bob", &group);
        cfg.group_protocol = purekafka::config::GroupProtocol::Consumer;
        let consumer = Consumer::new(cfg).await.unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        let t0 = Instant::now();
        let e = poll_error(
            &consumer,
            Duration::from_secs(30),
            "a KIP-848 member without a group ACL",
        )
        .await;
        assert_denied(
            &e,
            ErrorCode::GROUP_AUTHORIZATION_FAILED,
            &group,
            t0.elapsed(),
        );
    });
}

// A subscribed topic the broker denies (TOPIC_AUTHORIZATION_FAILED in
// Metadata) is reported by poll, as Java's poll throws
// TopicAuthorizationException; before, poll returned nothing forever.
#[test]
fn a_consumer_denied_the_topic_fails_naming_the_topic() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    let topic = unique_topic("acl-fetch");
    c.create_topic(&topic, 1).unwrap();
    let group = unique_topic("acl-fetch-g");
    // The group is allowed, the topic is not.
    c.grant("User:alice", &["Read"], AclResource::Group(&group))
        .unwrap();
    rt().block_on(async {
        let consumer = Consumer::new(consumer_config(c, "alice", &group))
            .await
            .unwrap();
        consumer.subscribe(&[&topic]).unwrap();
        let t0 = Instant::now();
        let e = poll_error(&consumer, Duration::from_secs(30), "alice denied the topic").await;
        assert_denied(
            &e,
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            &topic,
            t0.elapsed(),
        );
    });
}
