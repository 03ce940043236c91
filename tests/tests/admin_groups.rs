//! The admin client's group calls against Apache Kafka 4.4: list (type
//! and state filters), describe classic and KIP-848 consumer groups, lag
//! in one call, list/alter/delete committed offsets, delete groups, and a
//! denied describe on the SASL listener. The effects are read back by our
//! consumer (offsets reset by us are where the next consumer starts) and
//! by a fresh `Admin`.

use purekafka::admin::{GroupOptions, GroupType, ListGroupsOptions, MembersToRemove};
use purekafka::consumer::{Consumer, OffsetAndMetadata};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{Admin, AdminConfig, ConsumerConfig, ErrorCode, ProducerConfig, TopicPartition};
use purekafka_integration::{Cluster, Feature, require, rt, unique_topic};
use std::time::{Duration, Instant};

async fn new_admin(c: &Cluster) -> Admin {
    Admin::new(
        AdminConfig::from_properties([
            ("bootstrap.servers", c.bootstrap()),
            ("default.api.timeout.ms", "30000"),
        ])
        .unwrap(),
    )
    .await
    .unwrap()
}

async fn produce(c: &Cluster, topic: &str, partition: i32, n: usize) {
    let p = Producer::new(ProducerConfig::new(c.bootstrap()))
        .await
        .unwrap();
    for i in 0..n {
        p.send(
            ProducerRecord::to(topic)
                .partition(partition)
                .value(format!("v{i}").as_str()),
        )
        .await
        .unwrap();
    }
}

async fn consumer(c: &Cluster, group: &str, protocol: &str) -> Consumer {
    Consumer::new(
        ConsumerConfig::from_properties([
            ("bootstrap.servers", c.bootstrap()),
            ("group.id", group),
            ("group.protocol", protocol),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
        ])
        .unwrap(),
    )
    .await
    .unwrap()
}

/// Polls until `n` records arrived; returns them as (partition, offset).
async fn read(consumer: &Consumer, n: usize) -> Vec<(i32, i64)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records",
            got.len()
        );
        for r in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            got.push((r.partition, r.offset));
        }
    }
    got
}

#[test]
fn classic_group_describe_lag_offsets_and_delete() {
    let c = Cluster::kafka();
    require!(c, Feature::Admin);
    let t = unique_topic("admin-grp");
    let g = unique_topic("admin-grp-g");
    c.create_topic(&t, 2).unwrap();
    rt().block_on(async {
        produce(c, &t, 0, 4).await;
        produce(c, &t, 1, 6).await;
        let member = consumer(c, &g, "classic").await;
        member.subscribe(&[&t]).unwrap();
        read(&member, 10).await;
        member.commit().await.unwrap();
        let admin = new_admin(c).await;

        let d = admin.describe_consumer_groups([&g]).await.unwrap();
        let d = d[&g].as_ref().unwrap();
        assert_eq!(d.group_type, GroupType::Classic);
        assert_eq!(d.state, "Stable");
        assert!(!d.is_simple);
        assert_eq!(d.members.len(), 1, "{d:?}");
        let mut owned = d.members[0].assignment.clone();
        owned.sort();
        assert_eq!(
            owned,
            [
                TopicPartition::new(t.as_str(), 0),
                TopicPartition::new(t.as_str(), 1)
            ]
        );

        let listed = admin
            .list_groups(ListGroupsOptions {
                types: vec![GroupType::Classic],
                states: vec!["Stable".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(listed.iter().any(|l| l.group_id == g), "{listed:?}");
        let consumer_only = admin
            .list_groups(ListGroupsOptions {
                types: vec![GroupType::Consumer],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!consumer_only.iter().any(|l| l.group_id == g));

        // Lag: none, then 5 on partition 0.
        let lag = admin.consumer_group_lag(&g).await.unwrap();
        assert_eq!(lag.len(), 2, "{lag:?}");
        assert!(lag.values().all(|l| l.lag == Some(0)), "{lag:?}");
        produce(c, &t, 0, 5).await;
        let lag = admin.consumer_group_lag(&g).await.unwrap();
        let p0 = lag[&TopicPartition::new(t.as_str(), 0)];
        assert_eq!((p0.committed, p0.end_offset, p0.lag), (Some(4), 9, Some(5)));

        // Offsets of a group with a member cannot be changed; it cannot be
        // deleted either.
        let e = admin
            .delete_consumer_groups([&g], GroupOptions::default())
            .await
            .unwrap()
            .remove(&g)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::NON_EMPTY_GROUP), "{e}");
        assert!(e.to_string().contains(&g), "{e}");
        member.close().await.unwrap();

        // Reset partition 1 to offset 2 and forget partition 0's commit.
        let out = admin
            .alter_consumer_group_offsets(
                &g,
                [(
                    TopicPartition::new(t.as_str(), 1),
                    OffsetAndMetadata {
                        offset: 2,
                        metadata: Some("reset by admin".into()),
                    },
                )],
            )
            .await
            .unwrap();
        assert!(out.values().all(Result::is_ok), "{out:?}");
        let out = admin
            .delete_consumer_group_offsets(&g, [TopicPartition::new(t.as_str(), 0)])
            .await
            .unwrap();
        assert!(out.values().all(Result::is_ok), "{out:?}");
        let fresh = new_admin(c).await;
        let committed = fresh.list_consumer_group_offsets(&g, None).await.unwrap();
        assert_eq!(committed.len(), 1, "{committed:?}");
        let p1 = &committed[&TopicPartition::new(t.as_str(), 1)];
        assert_eq!(p1.offset, 2);
        assert_eq!(p1.metadata.as_deref(), Some("reset by admin"));

        // The next consumer starts where we put it: partition 0 from the
        // beginning (no commit, earliest), partition 1 at 2.
        let next = consumer(c, &g, "classic").await;
        next.subscribe(&[&t]).unwrap();
        let mut got = read(&next, 9 + 4).await;
        got.sort();
        let p1_offsets: Vec<i64> = got.iter().filter(|(p, _)| *p == 1).map(|r| r.1).collect();
        assert_eq!(p1_offsets, [2, 3, 4, 5]);
        assert_eq!(got.iter().filter(|(p, _)| *p == 0).count(), 9);
        next.close().await.unwrap();

        let out = admin
            .delete_consumer_groups(
                [g.clone(), "admin-no-such-group".into()],
                GroupOptions::default(),
            )
            .await
            .unwrap();
        assert!(out[&g].is_ok(), "{out:?}");
        let e = out["admin-no-such-group"].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{e}");
        let gone = fresh.list_consumer_group_offsets(&g, None).await.unwrap();
        assert!(gone.is_empty(), "{gone:?}");
    });
}

#[test]
fn kip848_group_is_described_as_a_consumer_group() {
    let c = Cluster::kafka();
    require!(c, Feature::ConsumerGroupHeartbeat);
    let t = unique_topic("admin-grp848");
    let g = unique_topic("admin-grp848-g");
    c.create_topic(&t, 3).unwrap();
    rt().block_on(async {
        produce(c, &t, 0, 3).await;
        let member = consumer(c, &g, "consumer").await;
        member.subscribe(&[&t]).unwrap();
        read(&member, 3).await;
        let admin = new_admin(c).await;
        // The assignment settles within a few heartbeats.
        let deadline = Instant::now() + Duration::from_secs(30);
        let d = loop {
            let d = admin
                .describe_consumer_groups_with(
                    [&g],
                    GroupOptions {
                        include_authorized_operations: true,
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
                .remove(&g)
                .unwrap()
                .unwrap();
            if d.members.len() == 1 && d.members[0].assignment.len() == 3 {
                break d;
            }
            assert!(Instant::now() < deadline, "{d:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(d.group_type, GroupType::Consumer);
        assert_eq!(d.state, "Stable");
        assert!(d.group_epoch.is_some_and(|e| e >= 1));
        let m = &d.members[0];
        assert!(m.member_epoch.is_some_and(|e| e >= 1), "{m:?}");
        assert_eq!(m.target_assignment.as_ref(), Some(&m.assignment));
        assert!(!d.partition_assignor.is_empty());
        assert!(
            d.authorized_operations
                .is_some_and(|o| o.allows("DESCRIBE"))
        );
        let listed = admin
            .list_groups(ListGroupsOptions {
                types: vec![GroupType::Consumer],
                ..Default::default()
            })
            .await
            .unwrap();
        let l = listed.iter().find(|l| l.group_id == g).expect("listed");
        assert_eq!(l.group_type, Some(GroupType::Consumer));
        member.close().await.unwrap();
    });
}

#[test]
fn share_group_is_described_with_its_members() {
    let c = Cluster::kafka();
    require!(c, Feature::ShareGroups);
    let t = unique_topic("admin-grp-share");
    let g = unique_topic("admin-grp-share-g");
    c.create_topic(&t, 2).unwrap();
    rt().block_on(async {
        let mut cfg = ConsumerConfig::new(c.bootstrap());
        cfg.group_id = Some(g.clone());
        cfg.fetch_max_wait = Duration::from_millis(200);
        let member = purekafka::ShareConsumer::new(cfg).await.unwrap();
        member.subscribe(&[t.as_str()]).unwrap();
        let admin = new_admin(c).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let d = loop {
            member.poll(Duration::from_millis(200)).await.unwrap();
            let d = admin
                .describe_share_groups([&g], GroupOptions::default())
                .await
                .unwrap()
                .remove(&g)
                .unwrap();
            if let Ok(d) = &d
                && d.members.len() == 1
                && d.members[0].assignment.len() == 2
            {
                break d.clone();
            }
            assert!(Instant::now() < deadline, "{d:?}");
        };
        assert_eq!(d.state, "Stable");
        assert!(d.group_epoch >= 1);
        let m = &d.members[0];
        assert_eq!(m.member_id, member.member_id());
        assert_eq!(m.subscribed_topics, std::slice::from_ref(&t));
        let listed = admin
            .list_groups(ListGroupsOptions {
                types: vec![GroupType::Share],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(listed.iter().any(|l| l.group_id == g), "{listed:?}");
        // A consumer group is not a share group.
        let other = unique_topic("admin-grp-share-none");
        let e = admin
            .describe_share_groups([&other], GroupOptions::default())
            .await
            .unwrap()
            .remove(&other)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{e}");
        assert!(e.to_string().contains(&other), "{e}");
        member.close(Duration::from_secs(5)).await.unwrap();
    });
}

#[test]
fn static_members_are_removed_by_instance_id() {
    let c = Cluster::kafka();
    require!(c, Feature::Admin);
    let t = unique_topic("admin-grp-static");
    let g = unique_topic("admin-grp-static-g");
    c.create_topic(&t, 1).unwrap();
    rt().block_on(async {
        produce(c, &t, 0, 1).await;
        let member = Consumer::new(
            ConsumerConfig::from_properties([
                ("bootstrap.servers", c.bootstrap()),
                ("group.id", g.as_str()),
                ("group.instance.id", "worker-1"),
                ("auto.offset.reset", "earliest"),
            ])
            .unwrap(),
        )
        .await
        .unwrap();
        member.subscribe(&[&t]).unwrap();
        read(&member, 1).await;
        let admin = new_admin(c).await;
        let out = admin
            .remove_members_from_consumer_group(
                &g,
                MembersToRemove::Static(vec!["worker-1".into(), "worker-9".into()]),
            )
            .await
            .unwrap();
        assert!(out["worker-1"].is_ok(), "{out:?}");
        let e = out["worker-9"].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_MEMBER_ID), "{e}");
        let d = new_admin(c)
            .await
            .describe_consumer_groups([&g])
            .await
            .unwrap();
        let d = d[&g].as_ref().unwrap();
        assert!(
            d.members
                .iter()
                .all(|m| m.group_instance_id.as_deref() != Some("worker-1")),
            "{d:?}"
        );
        drop(member);
    });
}

#[test]
fn denied_group_calls_name_the_group_on_the_sasl_listener() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    let g = unique_topic("admin-grp-acl");
    rt().block_on(async {
        let bob = Admin::new(
            AdminConfig::from_properties([
                ("bootstrap.servers", c.listener("SASL_PLAINTEXT").unwrap()),
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("sasl.username", "bob"),
                ("sasl.password", c.secret("bob").unwrap()),
                ("default.api.timeout.ms", "15000"),
            ])
            .unwrap(),
        )
        .await
        .unwrap();
        let t0 = Instant::now();
        let d = bob.describe_consumer_groups([&g]).await.unwrap();
        let e = d[&g].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED), "{e}");
        assert!(e.to_string().contains(&g), "{e}");
        let e = bob.list_consumer_group_offsets(&g, None).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    });
}
