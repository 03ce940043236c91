//! The admin client's retry paths on a real failure: three Kafka 4.4 nodes
//! (replication 3, min.insync.replicas 2), one SIGKILLed.
//!
//! - The node coordinating a group dies: describing the group, listing its
//!   committed offsets and deleting it still succeed within
//!   `default.api.timeout.ms`, at the coordinator the group moved to (the
//!   cached one is forgotten when its connection fails and looked up again
//!   until the brokers name a live one).
//! - A node the admin client is not connected to dies: topics are created
//!   at once (the controller may not know yet) and after the controller
//!   fenced it (replication 2 placed on the live nodes; replication 3 with
//!   the fenced node's replica out of sync, as Kafka 4.4 places them).
//!
//! The two tests share the cluster and run one at a time (each kills a
//! node and starts it again).

use purekafka::admin::{GroupOptions, NewTopic};
use purekafka::consumer::OffsetAndMetadata;
use purekafka::{Admin, AdminConfig, ErrorCode, TopicPartition};
use purekafka_integration::{
    Cluster, CoordinatorKind, Feature, cluster_or_skip, require, rt, unique_topic,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The admin calls' default timeout (`default.api.timeout.ms`): each call
/// after a kill must finish within it.
const API_TIMEOUT: Duration = Duration::from_secs(60);

/// The shared cluster, started by the first test; the lock runs the tests
/// one at a time.
static CLUSTER: Mutex<Option<&'static Cluster>> = Mutex::new(None);

/// The shared cluster (started on first use); the caller holds the lock.
fn shared(slot: &mut Option<&'static Cluster>) -> purekafka_integration::Result<&'static Cluster> {
    if let Some(c) = *slot {
        return Ok(c);
    }
    let c: &'static Cluster = Box::leak(Box::new(Cluster::kafka_private(3)?));
    *slot = Some(c);
    Ok(c)
}

async fn admin(bootstrap: &str) -> Admin {
    Admin::new(AdminConfig::from_properties([("bootstrap.servers", bootstrap)]).unwrap())
        .await
        .unwrap()
}

/// Starts every node a previous test left dead.
fn revive(c: &Cluster) {
    let alive = c.alive_nodes().unwrap();
    for n in c.node_ids() {
        if !alive.contains(&n) {
            c.start_node(n).unwrap();
        }
    }
}

/// Kills `node` off the runtime's threads (the launcher call blocks).
async fn kill(c: &'static Cluster, node: i32) {
    tokio::task::spawn_blocking(move || c.kill_node(node))
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn group_calls_follow_the_coordinator_when_its_node_dies() {
    let mut slot = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let c = cluster_or_skip!(shared(&mut slot));
    require!(c, Feature::NodeRestart);
    revive(c);
    let topic = unique_topic("admin-fo-grp");
    let group = unique_topic("admin-fo-grp-g");
    c.create_topic(&topic, 3).unwrap();
    // Also creates __consumer_offsets (replication 3) while all three live.
    let victim = c.coordinator(CoordinatorKind::Group, &group).unwrap();
    let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = (0..3)
        .map(|p| {
            (
                TopicPartition::new(topic.as_str(), p),
                OffsetAndMetadata {
                    offset: 10 + i64::from(p),
                    metadata: Some(format!("m{p}")),
                },
            )
        })
        .collect();
    rt().block_on(async {
        let a = admin(c.bootstrap()).await;
        assert_eq!(a.config().default_api_timeout, API_TIMEOUT);
        let set = a
            .alter_consumer_group_offsets(&group, offsets.clone())
            .await
            .unwrap();
        assert!(set.values().all(Result::is_ok), "{set:?}");
        // The admin client knows (caches) the coordinator before the kill.
        let d = a.describe_consumer_groups([group.as_str()]).await.unwrap();
        let d = d[&group].as_ref().unwrap();
        assert_eq!(d.coordinator, victim, "{d:?}");

        kill(c, victim).await;
        let t0 = Instant::now();
        let mut d = a.describe_consumer_groups([group.as_str()]).await.unwrap();
        let described = t0.elapsed();
        // Kafka 4.4's coordinator serves reads (DescribeGroups, OffsetFetch)
        // from the state its log has committed; a node just elected leader
        // of the group's __consumer_offsets partition may not have advanced
        // its high watermark past the last commit yet (the surviving
        // follower has to fetch from it first), and answers
        // GROUP_ID_NOT_FOUND meanwhile. Only a live coordinator gives that
        // answer, so the call did follow the move; ask again for a while.
        let mut lagged = 0;
        while matches!(&d[&group], Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND))
            && t0.elapsed() < API_TIMEOUT
        {
            lagged += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            d = a.describe_consumer_groups([group.as_str()]).await.unwrap();
        }
        let d = d[&group].as_ref().unwrap_or_else(|e| {
            panic!("describe after the kill ({described:?}, {lagged} GROUP_ID_NOT_FOUND): {e}")
        });
        assert_ne!(d.coordinator, victim, "the coordinator moved: {d:?}");
        assert_eq!(d.state, "Empty", "{d:?}");
        assert!(d.members.is_empty(), "{d:?}");

        let t1 = Instant::now();
        let got = a.list_consumer_group_offsets(&group, None).await.unwrap();
        assert_eq!(got, offsets, "the offsets committed before the kill");
        let listed = t1.elapsed();

        let t2 = Instant::now();
        let deleted = a
            .delete_consumer_groups([group.as_str()], GroupOptions::default())
            .await
            .unwrap();
        assert!(deleted[&group].is_ok(), "{deleted:?}");
        let gone = t2.elapsed();
        eprintln!(
            "coordinator {victim} killed: described in {described:?} (at {}; {lagged} answers \
             of a lagging high watermark first), offsets in {listed:?}, deleted in {gone:?}",
            d.coordinator
        );
        for (what, took) in [
            ("describe", described),
            ("list offsets", listed),
            ("delete", gone),
        ] {
            assert!(took < API_TIMEOUT, "{what} took {took:?}");
        }
        // Deleted: no offsets left (or no group at all).
        match a.list_consumer_group_offsets(&group, None).await {
            Ok(left) => assert!(left.is_empty(), "{left:?}"),
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{e}"),
        }
    });
    c.start_node(victim).unwrap();
}

#[test]
fn topics_are_created_while_another_node_is_down() {
    let mut slot = CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let c = cluster_or_skip!(shared(&mut slot));
    require!(c, Feature::NodeRestart);
    revive(c);
    let victim = rt().block_on(async {
        // Connected to one node only; another one dies.
        let nodes = admin(c.bootstrap())
            .await
            .describe_cluster()
            .await
            .unwrap()
            .nodes;
        assert_eq!(nodes.len(), 3, "{nodes:?}");
        let (ours, victim) = (&nodes[0], nodes[1].id);
        let a = admin(&format!("127.0.0.1:{}", ours.port)).await;
        kill(c, victim).await;

        // At once: the controller may still count the node in.
        let first = unique_topic("admin-fo-topic");
        let t0 = Instant::now();
        let r = a
            .create_topics([NewTopic::new(first.as_str(), 3, 2)])
            .await
            .unwrap();
        let took = t0.elapsed();
        let created = r[&first]
            .as_ref()
            .unwrap_or_else(|e| panic!("create with node {victim} down ({took:?}): {e}"));
        assert!(took < API_TIMEOUT, "{took:?}");
        assert_eq!(created.num_partitions, 3, "{created:?}");

        // Once the controller fenced it: the live nodes only.
        let t0 = Instant::now();
        while a
            .describe_cluster()
            .await
            .unwrap()
            .nodes
            .iter()
            .any(|n| n.id == victim)
        {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "node {victim} still listed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (second, three) = (
            unique_topic("admin-fo-topic2"),
            unique_topic("admin-fo-topic3"),
        );
        let r = a
            .create_topics([
                NewTopic::new(second.as_str(), 2, 2),
                NewTopic::new(three.as_str(), 1, 3),
            ])
            .await
            .unwrap();
        assert!(r[&second].is_ok(), "{r:?}");
        // Kafka 4.4 places a replica on a fenced node when the live ones
        // are too few (it registered, and may come back): replication 3
        // is created, that replica out of sync and never the leader.
        assert!(r[&three].is_ok(), "{r:?}");
        // The broker's metadata shows a created topic a moment later.
        let t0 = Instant::now();
        let d = loop {
            let d = a
                .describe_topics([second.as_str(), three.as_str()])
                .await
                .unwrap();
            if d.values().all(Result::is_ok) || t0.elapsed() > Duration::from_secs(15) {
                break d;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let two = d[&second].as_ref().unwrap();
        assert_eq!(two.partitions.len(), 2, "{two:?}");
        for p in &two.partitions {
            assert_eq!(p.replicas.len(), 2, "{p:?}");
            assert!(!p.replicas.contains(&victim), "{p:?} on the dead node");
            assert!(p.leader.is_some_and(|l| l != victim), "{p:?}");
        }
        let p = &d[&three].as_ref().unwrap().partitions[0];
        assert_eq!(p.replicas.len(), 3, "{p:?}");
        assert!(!p.isr.contains(&victim), "{p:?}");
        assert!(p.leader.is_some_and(|l| l != victim), "{p:?}");
        eprintln!("node {victim} killed: created at once in {took:?}, then on the live nodes");
        victim
    });
    c.start_node(victim).unwrap();
}
