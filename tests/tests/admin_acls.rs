//! The admin client's security calls against the real Kafka 4.4
//! (StandardAuthorizer, allow.everyone.if.no.acl.found=false, SCRAM users):
//! ACLs we create decide what a SASL user may do, deleting them takes that
//! away again; SCRAM credentials we upsert are the ones a SASL login
//! checks, a new password replaces the old, a deleted one logs in no more.
//! Each effect is proved by what a client can then do, not by our own read.
//!
//! The admin runs as a super user (PLAINTEXT, User:ANONYMOUS) except where
//! a test is about a principal without rights (bob over SASL).

use purekafka::admin::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermissionType, Admin,
    PatternType, ResourcePattern, ResourceType, ScramCredentialAlteration, ScramMechanism,
};
use purekafka::config::ProducerConfig;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{AdminConfig, Error, ErrorCode};
use purekafka_integration::{Cluster, Feature, require, rt, unique_topic};
use std::future::Future;
use std::time::{Duration, Instant};

fn super_admin(c: &Cluster) -> AdminConfig {
    AdminConfig::from_properties([("bootstrap.servers", c.bootstrap())]).unwrap()
}

fn sasl_props(
    c: &Cluster,
    mechanism: &str,
    user: &str,
    password: &str,
) -> Vec<(&'static str, String)> {
    vec![
        (
            "bootstrap.servers",
            c.listener("SASL_PLAINTEXT").unwrap().to_string(),
        ),
        ("security.protocol", "SASL_PLAINTEXT".into()),
        ("sasl.mechanism", mechanism.into()),
        ("sasl.username", user.into()),
        ("sasl.password", password.into()),
    ]
}

fn sasl_admin(c: &Cluster, mechanism: &str, user: &str, password: &str) -> AdminConfig {
    let p = sasl_props(c, mechanism, user, password);
    AdminConfig::from_properties(p.iter().map(|(k, v)| (*k, v.as_str()))).unwrap()
}

fn sasl_producer(c: &Cluster, user: &str) -> ProducerConfig {
    let mut p = sasl_props(c, "SCRAM-SHA-256", user, c.secret(user).unwrap());
    p.push(("delivery.timeout.ms", "10000".into()));
    p.push(("request.timeout.ms", "5000".into()));
    ProducerConfig::from_properties(p.iter().map(|(k, v)| (*k, v.as_str()))).unwrap()
}

/// Whether `user` (a fresh producer) may write to `topic` now: `Ok(())`, or
/// the error that denied it.
async fn try_produce(c: &Cluster, user: &str, topic: &str) -> Result<(), Error> {
    let p = Producer::new(sasl_producer(c, user)).await?;
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        p.send(ProducerRecord::to(topic).value("v")),
    )
    .await
    .expect("a produce must end (written or refused), not hang");
    let _ = p.close(Duration::from_secs(5)).await;
    r.map(drop)
}

/// Polls `probe` until `want` holds (ACL and credential changes reach the
/// brokers through the metadata log, a moment after the call returns).
async fn eventually<T: std::fmt::Debug, F: Future<Output = T>>(
    what: &str,
    mut probe: impl FnMut() -> F,
    want: impl Fn(&T) -> bool,
) {
    let t0 = Instant::now();
    loop {
        let got = probe().await;
        if want(&got) || t0.elapsed() > Duration::from_secs(20) {
            assert!(want(&got), "{what}: still {got:?} after {:?}", t0.elapsed());
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether the write was refused for want of rights: TOPIC_AUTHORIZATION_FAILED
/// with no ACL; with a DENY on WRITE the idempotent producer is refused
/// sooner, at InitProducerId (KIP-679 lets WRITE on some topic stand for
/// IDEMPOTENT_WRITE on the cluster; a DENY takes that away), with
/// CLUSTER_AUTHORIZATION_FAILED.
fn denied(r: &Result<(), Error>) -> bool {
    matches!(r, Err(e) if e.code() == Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
        || e.code() == Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED))
}

#[test]
fn acls_we_create_allow_and_deny_a_sasl_user_and_deleting_them_takes_it_back() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    let topic = unique_topic("admin-acl");
    c.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let admin = Admin::new(super_admin(c)).await.unwrap();
        // alice has no ACL on the topic: denied.
        let r = try_produce(c, "alice", &topic).await;
        assert!(denied(&r), "{r:?}");

        // Allow WRITE and DESCRIBE (WRITE also covers the idempotent
        // producer's InitProducerId, KIP-679).
        let allow: Vec<AclBinding> = [AclOperation::Write, AclOperation::Describe]
            .into_iter()
            .map(|op| {
                AclBinding::new(
                    ResourcePattern::topic(&topic),
                    AccessControlEntry::allow("User:alice", op),
                )
            })
            .collect();
        let created = admin.create_acls(allow.clone()).await.unwrap();
        assert_eq!(created.len(), 2);
        for (b, r) in &created {
            assert!(r.is_ok(), "{b}: {r:?}");
        }
        eventually(
            "alice allowed",
            || try_produce(c, "alice", &topic),
            Result::is_ok,
        )
        .await;

        // Our describe reads back exactly what we made, by a narrow filter.
        let filter = AclBindingFilter::any()
            .resource(ResourceType::Topic, &topic, PatternType::Literal)
            .principal("User:alice");
        let mut seen = admin.describe_acls(filter.clone()).await.unwrap();
        seen.sort();
        let mut want = allow.clone();
        want.sort();
        assert_eq!(seen, want);

        // A DENY wins over the ALLOW.
        let deny = AclBinding::new(
            ResourcePattern::topic(&topic),
            AccessControlEntry::deny("User:alice", AclOperation::Write),
        );
        let r = admin.create_acls([deny.clone()]).await.unwrap();
        assert!(r[&deny].is_ok(), "{r:?}");
        eventually(
            "alice denied by DENY",
            || try_produce(c, "alice", &topic),
            denied,
        )
        .await;

        // Deleting the DENY (by a filter matching it alone) allows again.
        let gone = admin
            .delete_acls([AclBindingFilter::any()
                .resource(ResourceType::Topic, &topic, PatternType::Literal)
                .permission(AclPermissionType::Deny)])
            .await
            .unwrap();
        let deleted: Vec<&AclBinding> = gone
            .values()
            .flat_map(|r| r.as_ref().unwrap())
            .map(|(b, r)| {
                assert!(r.is_ok(), "{b}: {r:?}");
                b
            })
            .collect();
        assert_eq!(deleted, [&deny]);
        eventually(
            "alice allowed again",
            || try_produce(c, "alice", &topic),
            Result::is_ok,
        )
        .await;

        // Deleting the rest: denied again, as at the start.
        let gone = admin.delete_acls([filter.clone()]).await.unwrap();
        assert_eq!(gone[&filter].as_ref().unwrap().len(), 2, "{gone:?}");
        eventually(
            "alice denied again",
            || try_produce(c, "alice", &topic),
            denied,
        )
        .await;
        assert!(
            admin
                .describe_acls(filter.clone())
                .await
                .unwrap()
                .is_empty()
        );
        // A filter that matches nothing deletes nothing, successfully.
        let none = admin.delete_acls([filter.clone()]).await.unwrap();
        assert!(none[&filter].as_ref().unwrap().is_empty());
    });
}

#[test]
fn prefixed_acls_cover_every_topic_with_the_prefix() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    let prefix = unique_topic("admin-acl-prefix");
    let topic = format!("{prefix}.orders");
    c.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let admin = Admin::new(super_admin(c)).await.unwrap();
        let acls: Vec<AclBinding> = [AclOperation::Write, AclOperation::Describe]
            .into_iter()
            .map(|op| {
                AclBinding::new(
                    ResourcePattern::topic(&prefix).prefixed(),
                    AccessControlEntry::allow("User:bob", op),
                )
            })
            .collect();
        let created = admin.create_acls(acls).await.unwrap();
        assert!(created.values().all(Result::is_ok), "{created:?}");
        eventually(
            "bob allowed by prefix",
            || try_produce(c, "bob", &topic),
            Result::is_ok,
        )
        .await;
        // MATCH finds the prefixed ACLs that apply to the topic's name.
        let matching = admin
            .describe_acls(AclBindingFilter::any().resource(
                ResourceType::Topic,
                &topic,
                PatternType::Match,
            ))
            .await
            .unwrap();
        assert!(
            matching
                .iter()
                .any(|b| b.pattern.pattern_type == PatternType::Prefixed
                    && b.pattern.name == prefix
                    && b.entry.principal == "User:bob"),
            "{matching:?}"
        );
        let f =
            AclBindingFilter::any().resource(ResourceType::Topic, &prefix, PatternType::Prefixed);
        let gone = admin.delete_acls([f.clone()]).await.unwrap();
        assert_eq!(gone[&f].as_ref().unwrap().len(), 2);
        eventually("bob denied again", || try_produce(c, "bob", &topic), denied).await;
    });
}

#[test]
fn acl_calls_without_rights_on_the_cluster_fail_per_binding_naming_it() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    rt().block_on(async {
        // bob is authenticated but may do nothing on the cluster.
        let bob = Admin::new(sasl_admin(
            c,
            "SCRAM-SHA-256",
            "bob",
            c.secret("bob").unwrap(),
        ))
        .await
        .unwrap();
        let b = AclBinding::new(
            ResourcePattern::topic("anything"),
            AccessControlEntry::allow("User:bob", AclOperation::All),
        );
        let mut indefinite = b.clone();
        indefinite.pattern.pattern_type = PatternType::Any;
        let r = bob
            .create_acls([b.clone(), indefinite.clone()])
            .await
            .unwrap();
        let e = r[&b].as_ref().unwrap_err();
        assert_eq!(
            e.code(),
            Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
            "{e}"
        );
        assert!(e.to_string().contains("User:bob"), "names the binding: {e}");
        assert!(e.to_string().contains("ALTER on the cluster"), "{e}");
        assert!(!e.is_retriable());
        // Not sent at all: rejected here, as Java's createAcls does.
        let e = r[&indefinite].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_REQUEST), "{e}");

        let e = bob
            .describe_acls(AclBindingFilter::any())
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
            "{e}"
        );
        assert!(e.to_string().contains("DESCRIBE on the cluster"), "{e}");

        let f = b.to_filter();
        let r = bob.delete_acls([f.clone()]).await.unwrap();
        let e = r[&f].as_ref().unwrap_err();
        assert_eq!(
            e.code(),
            Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
            "{e}"
        );
    });
}

/// Whether `user` can log in with `mechanism` and `password` now.
async fn login(c: &Cluster, mechanism: &str, user: &str, password: &str) -> Result<(), Error> {
    Admin::new(sasl_admin(c, mechanism, user, password))
        .await
        .map(drop)
}

fn refused(r: &Result<(), Error>) -> bool {
    matches!(r, Err(e) if e.to_string().contains("authentication failed"))
}

#[test]
fn a_scram_user_we_create_logs_in_a_new_password_replaces_the_old_and_deletion_ends_it() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    let user = unique_topic("carol");
    rt().block_on(async {
        let admin = Admin::new(super_admin(c)).await.unwrap();
        // Not a user yet.
        let d = admin
            .describe_user_scram_credentials(Some(&[user.as_str()]))
            .await
            .unwrap();
        let e = d[&user].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::RESOURCE_NOT_FOUND), "{e}");
        assert!(e.to_string().contains(&user), "{e}");
        assert!(refused(&login(c, "SCRAM-SHA-256", &user, "first-pw").await));

        let r = admin
            .alter_user_scram_credentials([ScramCredentialAlteration::upsert(
                &user,
                ScramMechanism::ScramSha256,
                8192,
                "first-pw",
            )])
            .await
            .unwrap();
        assert!(r[&user].is_ok(), "{r:?}");
        eventually(
            "login with the first password",
            || login(c, "SCRAM-SHA-256", &user, "first-pw"),
            Result::is_ok,
        )
        .await;
        // Only SCRAM-SHA-256 was set.
        assert!(refused(&login(c, "SCRAM-SHA-512", &user, "first-pw").await));
        let d = admin
            .describe_user_scram_credentials(Some(&[user.as_str()]))
            .await
            .unwrap();
        let infos = d[&user].as_ref().unwrap();
        assert_eq!(infos.len(), 1, "{infos:?}");
        assert_eq!(infos[0].mechanism, ScramMechanism::ScramSha256);
        assert_eq!(infos[0].iterations, 8192);

        // A new password: it works, the old one no longer does.
        let r = admin
            .alter_user_scram_credentials([ScramCredentialAlteration::upsert(
                &user,
                ScramMechanism::ScramSha256,
                4096,
                "second-pw",
            )])
            .await
            .unwrap();
        assert!(r[&user].is_ok(), "{r:?}");
        eventually(
            "login with the second password",
            || login(c, "SCRAM-SHA-256", &user, "second-pw"),
            Result::is_ok,
        )
        .await;
        let old = login(c, "SCRAM-SHA-256", &user, "first-pw").await;
        assert!(refused(&old), "the old password still works: {old:?}");

        // Deleted: no login, and describe says so.
        let r = admin
            .alter_user_scram_credentials([ScramCredentialAlteration::delete(
                &user,
                ScramMechanism::ScramSha256,
            )])
            .await
            .unwrap();
        assert!(r[&user].is_ok(), "{r:?}");
        eventually(
            "login refused after deletion",
            || login(c, "SCRAM-SHA-256", &user, "second-pw"),
            refused,
        )
        .await;
        let d = admin
            .describe_user_scram_credentials(Some(&[user.as_str()]))
            .await
            .unwrap();
        assert_eq!(
            d[&user].as_ref().unwrap_err().code(),
            Some(ErrorCode::RESOURCE_NOT_FOUND)
        );
    });
}

#[test]
fn scram_errors_name_the_user() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    let ghost = unique_topic("ghost");
    let weak = unique_topic("weak");
    rt().block_on(async {
        let admin = Admin::new(super_admin(c)).await.unwrap();
        let r = admin
            .alter_user_scram_credentials([
                // Deleting what does not exist.
                ScramCredentialAlteration::delete(&ghost, ScramMechanism::ScramSha512),
                // Fewer iterations than Kafka accepts (4096).
                ScramCredentialAlteration::upsert(&weak, ScramMechanism::ScramSha256, 100, "pw"),
            ])
            .await
            .unwrap();
        let e = r[&ghost].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::RESOURCE_NOT_FOUND), "{e}");
        assert!(e.to_string().contains(&ghost), "{e}");
        let e = r[&weak].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNACCEPTABLE_CREDENTIAL), "{e}");
        assert!(e.to_string().contains(&weak), "{e}");

        // The harness's users are there, each with both mechanisms.
        let all = admin.describe_user_scram_credentials(None).await.unwrap();
        let alice = all["alice"].as_ref().unwrap();
        let mut mechs: Vec<ScramMechanism> = alice.iter().map(|i| i.mechanism).collect();
        mechs.sort();
        assert_eq!(
            mechs,
            [ScramMechanism::ScramSha256, ScramMechanism::ScramSha512]
        );

        // bob may not look.
        let bob = Admin::new(sasl_admin(
            c,
            "SCRAM-SHA-256",
            "bob",
            c.secret("bob").unwrap(),
        ))
        .await
        .unwrap();
        let e = bob
            .describe_user_scram_credentials(Some(&["alice"]))
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
            "{e}"
        );
    });
}
