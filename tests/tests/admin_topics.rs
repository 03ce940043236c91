//! The admin client's topic calls against Apache Kafka 4.4: create (with
//! configs, validate-only, an existing name and an invalid config in the
//! same call), delete (by name, by id, a missing one), list, describe
//! (with authorized operations), add partitions, and calls denied on the
//! SASL listener. Each effect is read back independently: by a fresh
//! `Admin` (new connections), by the harness's own Metadata requests
//! (`Cluster::leader`, Python, not our code), or by producing to a new
//! partition.

use purekafka::admin::{
    AllOk, CreatePartitionsOptions, CreateTopicsOptions, DeleteTopicsOptions,
    DescribeTopicsOptions, ListTopicsOptions, NewPartitions, NewTopic,
};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{Admin, AdminConfig, ErrorCode, ProducerConfig};
use purekafka_integration::{
    AclResource, Cluster, CoordinatorKind, Feature, require, rt, unique_topic,
};
use std::time::{Duration, Instant};

fn admin_config(bootstrap: &str) -> AdminConfig {
    AdminConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("default.api.timeout.ms", "30000"),
    ])
    .unwrap()
}

async fn new_admin(c: &Cluster) -> Admin {
    Admin::new(admin_config(c.bootstrap())).await.unwrap()
}

/// Waits (a fresh Admin each time) until `topic` has `partitions`
/// partitions, each with a leader.
async fn described_with_leaders(c: &Cluster, topic: &str, partitions: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let fresh = new_admin(c).await;
        let d = fresh.describe_topics([topic]).await.unwrap();
        if let Some(Ok(t)) = d.get(topic)
            && t.partitions.len() == partitions
            && t.partitions.iter().all(|p| p.leader.is_some())
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not described with {partitions} led partitions: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn create_topics_each_topic_has_its_outcome() {
    let c = Cluster::kafka();
    require!(c, Feature::Admin);
    let existing = unique_topic("admin-existing");
    c.create_topic(&existing, 1).unwrap();
    let a = unique_topic("admin-create-a");
    let b = unique_topic("admin-create-b");
    let bad = unique_topic("admin-create-badcfg");
    rt().block_on(async {
        let admin = new_admin(c).await;
        let out = admin
            .create_topics([
                NewTopic::new(&a, 3, 1).config("retention.ms", "123456"),
                NewTopic::with_defaults(&b),
                NewTopic::new(&existing, 1, 1),
                NewTopic::new(&bad, 1, 1).config("cleanup.policy", "not-a-policy"),
            ])
            .await
            .unwrap();
        assert_eq!(out.len(), 4, "{out:?}");
        let created = out[&a].as_ref().unwrap();
        assert!(!created.topic_id.is_zero(), "{created:?}");
        assert_eq!(created.num_partitions, 3);
        assert_eq!(created.replication_factor, 1);
        let retention = created.configs.iter().find(|c| c.name == "retention.ms");
        assert_eq!(
            retention.and_then(|c| c.value.as_deref()),
            Some("123456"),
            "{created:?}"
        );
        // The broker's defaults (num.partitions=1 in the harness).
        assert!(out[&b].as_ref().unwrap().num_partitions >= 1);
        let e = out[&existing].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS), "{e}");
        assert!(e.to_string().contains(&existing), "{e}");
        let e = out[&bad].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_CONFIG), "{e}");
        assert!(e.to_string().contains("cleanup.policy"), "{e}");
        assert!(e.to_string().contains(&bad), "{e}");

        // Read back: a fresh Admin, and the harness's own Metadata.
        described_with_leaders(c, &a, 3).await;
        let (leader, isr) = c.leader(&a, 2).unwrap();
        assert!(leader >= 0 && isr.contains(&leader), "{leader} {isr:?}");
        let fresh = new_admin(c).await;
        let d = fresh.describe_topics([&a, &bad]).await.unwrap();
        assert_eq!(d[&a].as_ref().unwrap().topic_id, created.topic_id);
        assert_eq!(
            d[&bad].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "the topic with the invalid config was not created"
        );
        // A record lands in the last new partition.
        let p = Producer::new(ProducerConfig::new(c.bootstrap()))
            .await
            .unwrap();
        let w = p
            .send(ProducerRecord::to(&a).partition(2).value("x"))
            .await
            .unwrap();
        assert_eq!((w.partition, w.offset), (2, 0));
    });
}

#[test]
fn validate_only_creates_nothing() {
    let c = Cluster::kafka();
    require!(c, Feature::Admin);
    let t = unique_topic("admin-validate");
    rt().block_on(async {
        let admin = new_admin(c).await;
        let out = admin
            .create_topics_with(
                [NewTopic::new(&t, 4, 1)],
                CreateTopicsOptions {
                    validate_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(out[&t].as_ref().unwrap().num_partitions, 4);
        let bad = admin
            .create_topics_with(
                [NewTopic::new(&t, 1, 7)],
                CreateTopicsOptions {
                    validate_only: true,
                    timeout: Some(Duration::from_secs(10)),
                },
            )
            .await
            .unwrap();
        let e = bad[&t].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_REPLICATION_FACTOR), "{e}");
        let fresh = new_admin(c).await;
        let d = fresh.describe_topics([&t]).await.unwrap();
        assert_eq!(
            d[&t].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
        assert!(
            !fresh
                .list_topics()
                .await
                .unwrap()
                .iter()
                .any(|l| l.name == t)
        );
    });
}

#[test]
fn delete_topics_by_name_and_id_and_a_missing_one() {
    let c = Cluster::kafka();
    require!(c, Feature::Admin);
    let by_name = unique_topic("admin-del-name");
    let by_id = unique_topic("admin-del-id");
    let missing = unique_topic("admin-del-missing");
    c.create_topic(&by_name, 1).unwrap();
    c.create_topic(&by_id, 2).unwrap();
    rt().block_on(async {
        let admin = new_admin(c).await;
        let id = admin.describe_topics([&by_id]).await.unwrap()[&by_id]
            .as_ref()
            .unwrap()
            .topic_id;
        let out = admin.delete_topics([&by_name, &missing]).await.unwrap();
        assert!(out[&by_name].is_ok(), "{out:?}");
        let e = out[&missing].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION), "{e}");
        assert!(e.to_string().contains(&missing), "{e}");
        let out = admin
            .delete_topics_by_id([id], DeleteTopicsOptions::default())
            .await
            .unwrap();
        assert!(out[&id].is_ok(), "{out:?}");
        // A fresh Admin no longer lists either (deletion is asynchronous
        // on the broker: wait for it).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let fresh = new_admin(c).await;
            let names: Vec<String> = fresh
                .list_topics()
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.name)
                .collect();
            if !names.contains(&by_name) && !names.contains(&by_id) {
                break;
            }
            assert!(Instant::now() < deadline, "still listed: {names:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Deleting by an id that is gone is per-topic too.
        let again = admin
            .delete_topics_by_id([id], DeleteTopicsOptions::default())
            .await
            .unwrap();
        let e = again[&id].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_ID), "{e}");
    });
}

#[test]
fn list_topics_leaves_internal_topics_out_unless_asked() {
    let c = Cluster::kafka();
    require!(c, Feature::Admin);
    let t = unique_topic("admin-list");
    c.create_topic(&t, 1).unwrap();
    // A group lookup makes the broker create __consumer_offsets.
    c.coordinator(CoordinatorKind::Group, &unique_topic("admin-list-group"))
        .unwrap();
    rt().block_on(async {
        let admin = new_admin(c).await;
        let plain = admin.list_topics().await.unwrap();
        assert!(
            plain.iter().any(|l| l.name == t && !l.is_internal),
            "{plain:?}"
        );
        assert!(plain.iter().all(|l| !l.is_internal), "{plain:?}");
        let all = admin
            .list_topics_with(ListTopicsOptions {
                list_internal: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let offsets = all.iter().find(|l| l.name == "__consumer_offsets");
        assert!(offsets.is_some_and(|l| l.is_internal), "{all:?}");
        let listed = plain.iter().find(|l| l.name == t).unwrap();
        let described = admin.describe_topics([&t]).await.unwrap()[&t]
            .as_ref()
            .unwrap()
            .topic_id;
        assert_eq!(listed.topic_id, described);
    });
}

#[test]
fn describe_topics_with_authorized_operations() {
    let c = Cluster::kafka();
    require!(c, Feature::AuthorizedOperations);
    let t = unique_topic("admin-describe");
    c.create_topic(&t, 2).unwrap();
    rt().block_on(async {
        let admin = new_admin(c).await;
        let d = admin
            .describe_topics_with(
                [t.clone()],
                DescribeTopicsOptions {
                    include_authorized_operations: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .all()
            .unwrap();
        let t = &d[&t];
        assert_eq!(t.partitions.len(), 2);
        for (i, p) in t.partitions.iter().enumerate() {
            assert_eq!(p.partition, i as i32);
            let (leader, isr) = c.leader(&t.name, p.partition).unwrap();
            assert_eq!(p.leader, Some(leader), "as the harness's Metadata says");
            assert_eq!(p.isr, isr);
            assert_eq!(p.replicas, [leader]);
        }
        // PLAINTEXT is a super user here: every topic operation.
        let ops = t.authorized_operations.expect("asked for");
        for op in [
            "READ",
            "WRITE",
            "DESCRIBE",
            "DELETE",
            "ALTER",
            "DESCRIBE_CONFIGS",
        ] {
            assert!(ops.allows(op), "{op} missing from {:?}", ops.names());
        }
        // Not asked: not reported.
        let d = admin.describe_topics([&t.name]).await.unwrap();
        assert_eq!(d[&t.name].as_ref().unwrap().authorized_operations, None);
        // By id: the same topic; an id no topic has fails alone, naming it.
        let unknown = purekafka_protocol::Uuid([7; 16]);
        let by_id = admin
            .describe_topics_by_id([t.topic_id, unknown], DescribeTopicsOptions::default())
            .await
            .unwrap();
        let same = by_id[&t.topic_id].as_ref().unwrap();
        assert_eq!((&same.name, same.partitions.len()), (&t.name, 2));
        let e = by_id[&unknown].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_ID), "{e}");
        assert!(e.to_string().contains(&unknown.to_string()), "{e}");
    });
}

#[test]
fn create_partitions_grows_a_topic() {
    let c = Cluster::kafka();
    require!(c, Feature::CreatePartitions);
    let t = unique_topic("admin-partitions");
    let missing = unique_topic("admin-partitions-missing");
    c.create_topic(&t, 1).unwrap();
    rt().block_on(async {
        let admin = new_admin(c).await;
        let dry = admin
            .create_partitions_with(
                [(t.as_str(), NewPartitions::increase_to(5))],
                CreatePartitionsOptions {
                    validate_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(dry[&t].is_ok(), "{dry:?}");
        let out = admin
            .create_partitions([
                (t.as_str(), NewPartitions::increase_to(3)),
                (missing.as_str(), NewPartitions::increase_to(3)),
            ])
            .await
            .unwrap();
        assert!(out[&t].is_ok(), "{out:?}");
        let e = out[&missing].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION), "{e}");
        described_with_leaders(c, &t, 3).await;
        let (leader, _) = c.leader(&t, 2).unwrap();
        assert!(leader >= 0);
        // Shrinking is refused for that topic.
        let out = admin
            .create_partitions([(t.as_str(), NewPartitions::increase_to(2))])
            .await
            .unwrap();
        let e = out[&t].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_PARTITIONS), "{e}");
        assert!(e.to_string().contains(&t), "{e}");
    });
}

fn sasl_admin_config(c: &Cluster, user: &str) -> AdminConfig {
    AdminConfig::from_properties([
        ("bootstrap.servers", c.listener("SASL_PLAINTEXT").unwrap()),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", user),
        ("sasl.password", c.secret(user).unwrap()),
        ("default.api.timeout.ms", "20000"),
    ])
    .unwrap()
}

#[test]
fn denied_calls_fail_per_topic_on_the_sasl_listener() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    // bob has no ACLs; he may create (and then describe) only `allowed`.
    let allowed = unique_topic("admin-acl-allowed");
    let denied = unique_topic("admin-acl-denied");
    let existing = unique_topic("admin-acl-existing");
    c.create_topic(&existing, 1).unwrap();
    c.grant(
        "User:bob",
        &["Create", "Describe"],
        AclResource::Topic(&allowed),
    )
    .unwrap();
    rt().block_on(async {
        let bob = Admin::new(sasl_admin_config(c, "bob")).await.unwrap();
        let t0 = Instant::now();
        let out = bob
            .create_topics([NewTopic::new(&allowed, 1, 1), NewTopic::new(&denied, 1, 1)])
            .await
            .unwrap();
        assert!(out[&allowed].is_ok(), "{out:?}");
        let e = out[&denied].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
        assert!(e.to_string().contains(&denied), "{e}");
        assert!(!e.is_retriable());
        // Just created: the broker's metadata may not show it for a moment.
        let d = loop {
            let d = bob.describe_topics([&allowed, &existing]).await.unwrap();
            let fresh = d[&allowed].as_ref().err().map(|e| e.code())
                == Some(Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
            if !fresh || t0.elapsed() > Duration::from_secs(10) {
                break d;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(d[&allowed].is_ok(), "{d:?}");
        let e = d[&existing].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
        assert!(e.to_string().contains(&existing), "{e}");
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "denials are not retried: {:?}",
            t0.elapsed()
        );
        // The super user's view: only `allowed` was created.
        let fresh = new_admin(c).await;
        let d = fresh.describe_topics([&allowed, &denied]).await.unwrap();
        assert!(d[&allowed].is_ok());
        assert_eq!(
            d[&denied].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
    });
}
