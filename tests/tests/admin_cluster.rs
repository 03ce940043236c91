//! The admin client's cluster calls against the real Kafka 4.4:
//! describe_cluster matches the nodes and cluster id the harness started;
//! features read back and update (validate-only leaves them, a real
//! downgrade and upgrade are seen by a fresh client); client quotas we set
//! are read back by a fresh Admin; on three nodes, a reassignment moves a
//! replica (the harness's own metadata read confirms), a preferred leader
//! election then moves the leader, and each broker's log dirs hold the
//! replicas it has.

use purekafka::TopicPartition;
use purekafka::admin::{
    Admin, ClientQuotaAlteration, ClientQuotaEntity, ClientQuotaFilter, ClientQuotaMatch,
    ClientQuotaOptions, DescribeClusterOptions, ElectionType, FeatureUpdate, LogDirDescription,
    UpdateFeaturesOptions,
};
use purekafka::{AdminConfig, ErrorCode};
use purekafka_integration::{Cluster, Feature, cluster_or_skip, require, rt, unique_topic};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn admin_config(bootstrap: &str) -> AdminConfig {
    AdminConfig::from_properties([("bootstrap.servers", bootstrap)]).unwrap()
}

async fn admin(bootstrap: &str) -> Admin {
    Admin::new(admin_config(bootstrap)).await.unwrap()
}

#[test]
fn describe_cluster_matches_the_harness() {
    let c = Cluster::kafka();
    rt().block_on(async {
        let a = admin(c.bootstrap()).await;
        let d = a.describe_cluster().await.unwrap();
        assert_eq!(d.cluster_id, c.cluster_id());
        let ids: Vec<i32> = d.nodes.iter().map(|n| n.id).collect();
        assert_eq!(ids, c.node_ids());
        let controller = d.controller.expect("a controller");
        assert!(ids.contains(&controller), "{controller} not in {ids:?}");
        assert_eq!(d.authorized_operations, None, "not asked for");
        // The PLAINTEXT listener's port is the one the harness connects to.
        let port: i32 = c.bootstrap().rsplit(':').next().unwrap().parse().unwrap();
        assert!(d.nodes.iter().any(|n| n.port == port), "{d:?}");

        // Asked for: the super user may do everything on the cluster.
        let d = a
            .describe_cluster_with(DescribeClusterOptions {
                include_authorized_operations: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let ops = d.authorized_operations.expect("asked for");
        for op in ["ALTER", "DESCRIBE", "CLUSTER_ACTION", "ALTER_CONFIGS"] {
            assert!(ops.allows(op), "{op} missing from {:?}", ops.names());
        }
    });
}

#[test]
fn features_read_back_and_update() {
    let c = Cluster::kafka();
    rt().block_on(async {
        let a = admin(c.bootstrap()).await;
        let f = a.describe_features().await.unwrap();
        // The 4.4 defaults the harness runs with (README).
        assert_eq!(f.finalized["transaction.version"].max, 2, "{f:?}");
        assert_eq!(f.finalized["group.version"].max, 1, "{f:?}");
        assert!(f.finalized.contains_key("metadata.version"), "{f:?}");
        assert!(f.supported["transaction.version"].max >= 2, "{f:?}");
        assert!(f.finalized_epoch.is_some(), "{f:?}");

        // Errors per feature: a downgrade sent as an upgrade, a level no
        // broker supports.
        let r = a
            .update_features_with(
                [
                    ("transaction.version", FeatureUpdate::upgrade(1)),
                    ("group.version", FeatureUpdate::upgrade(99)),
                ],
                UpdateFeaturesOptions {
                    validate_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for (name, outcome) in &r {
            let e = outcome.as_ref().unwrap_err();
            assert_eq!(
                e.code(),
                Some(ErrorCode::INVALID_UPDATE_VERSION),
                "{name}: {e}"
            );
        }

        // validate_only accepts a safe downgrade and changes nothing.
        let r = a
            .update_features_with(
                [("transaction.version", FeatureUpdate::safe_downgrade(1))],
                UpdateFeaturesOptions {
                    validate_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(r["transaction.version"].is_ok(), "{r:?}");
        let f = admin(c.bootstrap())
            .await
            .describe_features()
            .await
            .unwrap();
        assert_eq!(f.finalized["transaction.version"].max, 2);

        // For real: down to 1, then up to 2 again, each seen by a fresh
        // client once the brokers have it.
        for (update, level) in [
            (FeatureUpdate::safe_downgrade(1), 1),
            (FeatureUpdate::upgrade(2), 2),
        ] {
            let r = a
                .update_features([("transaction.version", update)])
                .await
                .unwrap();
            assert!(r["transaction.version"].is_ok(), "{r:?}");
            let t0 = Instant::now();
            loop {
                let f = admin(c.bootstrap())
                    .await
                    .describe_features()
                    .await
                    .unwrap();
                let now = f.finalized.get("transaction.version").map(|v| v.max);
                if now == Some(level) {
                    break;
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(20),
                    "transaction.version still {now:?}, not {level}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
}

#[test]
fn client_quotas_are_read_back_by_a_fresh_admin() {
    let c = Cluster::kafka();
    let user = unique_topic("quota-user");
    let client = unique_topic("quota-client");
    rt().block_on(async {
        let a = admin(c.bootstrap()).await;
        let u = ClientQuotaEntity::user(&user);
        let pair =
            ClientQuotaEntity::user(&user).with(ClientQuotaEntity::CLIENT_ID, Some(client.clone()));
        let set = [
            ClientQuotaAlteration::new(u.clone())
                .set("producer_byte_rate", 1_048_576.0)
                .set("consumer_byte_rate", 2_097_152.0),
            ClientQuotaAlteration::new(pair.clone()).set("request_percentage", 50.0),
        ];
        // validate_only: accepted, nothing stored.
        let r = a
            .alter_client_quotas_with(
                set.clone(),
                ClientQuotaOptions {
                    validate_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(r.values().all(Result::is_ok), "{r:?}");
        let q = admin(c.bootstrap())
            .await
            .describe_client_quotas(ClientQuotaFilter::exact(&u))
            .await
            .unwrap();
        assert!(q.is_empty(), "{q:?}");

        let r = a.alter_client_quotas(set).await.unwrap();
        assert!(r.values().all(Result::is_ok), "{r:?}");
        let fresh = admin(c.bootstrap()).await;
        let t0 = Instant::now();
        let q = loop {
            let q = fresh
                .describe_client_quotas(ClientQuotaFilter::exact(&u))
                .await
                .unwrap();
            if !q.is_empty() || t0.elapsed() > Duration::from_secs(20) {
                break q;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(q.len(), 1, "strict: only the user entity: {q:?}");
        assert_eq!(q[&u]["producer_byte_rate"], 1_048_576.0);
        assert_eq!(q[&u]["consumer_byte_rate"], 2_097_152.0);
        // Not strict, any client id: the user and the pair.
        let q = fresh
            .describe_client_quotas(ClientQuotaFilter::all().component(
                ClientQuotaEntity::USER,
                ClientQuotaMatch::Exact(user.clone()),
            ))
            .await
            .unwrap();
        assert_eq!(q[&pair]["request_percentage"], 50.0, "{q:?}");
        assert_eq!(q.len(), 2, "{q:?}");

        // Remove one key: the other stays.
        let r = a
            .alter_client_quotas([
                ClientQuotaAlteration::new(u.clone()).remove("producer_byte_rate")
            ])
            .await
            .unwrap();
        assert!(r[&u].is_ok(), "{r:?}");
        let t0 = Instant::now();
        loop {
            let q = admin(c.bootstrap())
                .await
                .describe_client_quotas(ClientQuotaFilter::exact(&u))
                .await
                .unwrap();
            if !q[&u].contains_key("producer_byte_rate") {
                assert_eq!(q[&u]["consumer_byte_rate"], 2_097_152.0);
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "{q:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // An unknown quota name fails for its entity, naming it.
        let bad = ClientQuotaEntity::user(unique_topic("quota-bad"));
        let r = a
            .alter_client_quotas(
                [ClientQuotaAlteration::new(bad.clone()).set("no_such_quota", 1.0)],
            )
            .await
            .unwrap();
        let e = r[&bad].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_REQUEST), "{e}");
        assert!(e.to_string().contains("quota-bad"), "{e}");
    });
}

#[test]
fn a_reassignment_moves_a_replica_and_an_election_moves_the_leader() {
    let c = cluster_or_skip!(Cluster::kafka_private(3));
    require!(&c, Feature::MultiBroker);
    let topic = unique_topic("admin-reassign");
    // One partition, two replicas: one node holds none.
    c.create_topic_with(&topic, 1, Some(2), &[]).unwrap();
    let (leader, isr) = c.leader(&topic, 0).unwrap();
    let outsider = c
        .node_ids()
        .into_iter()
        .find(|n| !isr.contains(n))
        .expect("a node without a replica");
    let tp = TopicPartition::new(topic.as_str(), 0);
    rt().block_on(async {
        let a = admin(c.bootstrap()).await;
        // The log dirs: the leader has the replica (its log appears a
        // moment after the metadata names the leader), the outsider not.
        let holds =
            |dirs: &BTreeMap<i32, purekafka::Result<BTreeMap<String, LogDirDescription>>>,
             id: i32| {
                dirs[&id]
                    .as_ref()
                    .unwrap()
                    .values()
                    .any(|d| d.replicas.contains_key(&tp))
            };
        let t0 = Instant::now();
        let dirs = loop {
            let dirs = a.describe_log_dirs([leader, outsider]).await.unwrap();
            if holds(&dirs, leader) || t0.elapsed() > Duration::from_secs(20) {
                break dirs;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(holds(&dirs, leader), "{dirs:?}");
        assert!(!holds(&dirs, outsider), "{dirs:?}");
        for d in dirs[&leader].as_ref().unwrap().values() {
            assert!(d.error.is_none(), "{d:?}");
            assert!(d.total_bytes.is_some_and(|b| b > 0), "{d:?}");
        }

        // Move the replicas to (outsider, leader): the outsider first, the
        // preferred leader.
        let r = a
            .alter_partition_reassignments([(tp.clone(), Some(vec![outsider, leader]))])
            .await
            .unwrap();
        assert!(r[&tp].is_ok(), "{r:?}");
        let t0 = Instant::now();
        loop {
            let going = a
                .list_partition_reassignments(Some(vec![tp.clone()]))
                .await
                .unwrap();
            let (_, isr) = c.leader(&topic, 0).unwrap();
            if going.is_empty() && isr.contains(&outsider) && isr.len() == 2 {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "reassignment not done: {going:?}, isr {isr:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let dirs = a.describe_log_dirs([outsider]).await.unwrap();
        assert!(holds(&dirs, outsider), "{dirs:?}");

        // The preferred replica (the outsider) becomes leader by election.
        let t0 = Instant::now();
        loop {
            let r = a
                .elect_leaders(ElectionType::Preferred, Some(vec![tp.clone()]))
                .await
                .unwrap();
            let (now, _) = c.leader(&topic, 0).unwrap();
            if now == outsider {
                break;
            }
            // Not yet in sync for an election: try again.
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "leader still {now}: {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Again: nothing to do, per partition.
        let r = a
            .elect_leaders(ElectionType::Preferred, Some(vec![tp.clone()]))
            .await
            .unwrap();
        assert_eq!(
            r[&tp].as_ref().unwrap_err().code(),
            Some(ErrorCode::ELECTION_NOT_NEEDED),
            "{r:?}"
        );

        // Unclean: a partition with a live leader needs none either.
        let r = a
            .elect_leaders(ElectionType::Unclean, Some(vec![tp.clone()]))
            .await
            .unwrap();
        assert_eq!(
            r[&tp].as_ref().unwrap_err().code(),
            Some(ErrorCode::ELECTION_NOT_NEEDED),
            "{r:?}"
        );

        // Cancelling when nothing is going on, and a partition that does
        // not exist, fail alone.
        let ghost = TopicPartition::new(topic.as_str(), 5);
        let r = a
            .alter_partition_reassignments([(tp.clone(), None), (ghost.clone(), Some(vec![1, 2]))])
            .await
            .unwrap();
        assert_eq!(
            r[&tp].as_ref().unwrap_err().code(),
            Some(ErrorCode::NO_REASSIGNMENT_IN_PROGRESS),
            "{r:?}"
        );
        assert_eq!(
            r[&ghost].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "{r:?}"
        );
    });
}
