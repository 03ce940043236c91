//! The admin client's config calls against Apache Kafka 4.4: incremental
//! alter (set, delete, append, subtract, validate-only) and describe (with
//! sources, synonyms and documentation) for topics, a broker, a broker's
//! loggers, a group and a client-metrics subscription; an invalid value
//! fails alone naming the config; denied calls on the SASL listener fail
//! per resource. Each change is read back independently: by librdkafka's
//! admin client (confluent-kafka, a Python subprocess) or by a fresh
//! `Admin`.

use purekafka::admin::{
    AlterConfigOp, AlterConfigsOptions, ConfigResource, ConfigSource, DescribeConfigsOptions,
    NewTopic,
};
use purekafka::{Admin, AdminConfig, ErrorCode};
use purekafka_integration::{Cluster, Feature, Json, python, require, rt, unique_topic};
use std::process::Command;

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

/// A topic's configs as librdkafka's admin client describes them.
fn librdkafka_topic_configs(c: &Cluster, topic: &str) -> Json {
    let script = r#"
import json, sys
from confluent_kafka.admin import AdminClient, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1]})
r = ConfigResource("topic", sys.argv[2])
cfg = a.describe_configs([r])[r].result(timeout=30)
print(json.dumps({k: v.value for k, v in cfg.items()}))
"#;
    let out = Command::new(python())
        .args(["-c", script, c.bootstrap(), topic])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "confluent-kafka describe_configs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// librdkafka's view once `key` reads `want` (a change reaches the
/// brokers through the metadata log: a read right after may be older), or
/// after 15 s whatever it is.
fn librdkafka_once(c: &Cluster, topic: &str, key: &str, want: &str) -> Json {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let seen = librdkafka_topic_configs(c, topic);
        if seen[key] == want || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn topic_configs_set_delete_append_subtract_read_back_by_librdkafka() {
    let c = Cluster::kafka();
    require!(c, Feature::AlterConfigs);
    let t = unique_topic("admin-cfg");
    let other = unique_topic("admin-cfg-other");
    rt().block_on(async {
        let admin = new_admin(c).await;
        admin
            .create_topics([
                NewTopic::new(&t, 1, 1).config("max.message.bytes", "200000"),
                NewTopic::new(&other, 1, 1),
            ])
            .await
            .unwrap()
            .into_values()
            .for_each(|r| {
                r.unwrap();
            });
        let topic = ConfigResource::topic(&t);
        let other_res = ConfigResource::topic(&other);

        // Validate only: nothing changes.
        let dry = admin
            .incremental_alter_configs_with(
                [(topic.clone(), vec![AlterConfigOp::set("retention.ms", "1")])],
                AlterConfigsOptions {
                    validate_only: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(dry[&topic].is_ok(), "{dry:?}");
        assert_ne!(librdkafka_topic_configs(c, &t)["retention.ms"], "1");

        let out = admin
            .incremental_alter_configs([
                (
                    topic.clone(),
                    vec![
                        AlterConfigOp::set("retention.ms", "7200000"),
                        AlterConfigOp::append("cleanup.policy", "compact"),
                        AlterConfigOp::delete("max.message.bytes"),
                    ],
                ),
                (
                    other_res.clone(),
                    vec![AlterConfigOp::set("cleanup.policy", "not-a-policy")],
                ),
            ])
            .await
            .unwrap();
        assert!(out[&topic].is_ok(), "{out:?}");
        let e = out[&other_res].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_CONFIG), "{e}");
        assert!(e.to_string().contains("cleanup.policy"), "{e}");
        assert!(e.to_string().contains(&other), "{e}");

        let seen = librdkafka_once(c, &t, "retention.ms", "7200000");
        assert_eq!(seen["retention.ms"], "7200000", "{seen}");
        assert_eq!(seen["cleanup.policy"], "delete,compact", "{seen}");
        assert_eq!(
            seen["max.message.bytes"], "1048588",
            "back to the default: {seen}"
        );
        assert_eq!(
            librdkafka_topic_configs(c, &other)["cleanup.policy"],
            "delete",
            "the invalid change left the other topic alone"
        );

        let out = admin
            .incremental_alter_configs([(
                topic.clone(),
                vec![AlterConfigOp::subtract("cleanup.policy", "delete")],
            )])
            .await
            .unwrap();
        assert!(out[&topic].is_ok(), "{out:?}");
        assert_eq!(
            librdkafka_once(c, &t, "cleanup.policy", "compact")["cleanup.policy"],
            "compact"
        );

        // A fresh Admin: sources, synonyms and documentation.
        let fresh = new_admin(c).await;
        let d = fresh
            .describe_configs_with(
                [topic.clone()],
                DescribeConfigsOptions {
                    include_synonyms: true,
                    include_documentation: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let cfg = d[&topic].as_ref().unwrap();
        let r = cfg.get("retention.ms").unwrap();
        assert_eq!(r.value.as_deref(), Some("7200000"));
        assert_eq!(r.source, ConfigSource::DynamicTopic);
        assert!(!r.is_default());
        // Synonyms in precedence order: the topic's own setting first.
        let first = r.synonyms.first().expect("synonyms asked for");
        assert_eq!(
            (first.name.as_str(), first.source, first.value.as_deref()),
            ("retention.ms", ConfigSource::DynamicTopic, Some("7200000"))
        );
        assert!(
            r.documentation.as_deref().is_some_and(|d| !d.is_empty()),
            "{r:?}"
        );
        let m = cfg.get("max.message.bytes").unwrap();
        assert!(m.source != ConfigSource::DynamicTopic, "{m:?}");
        // Not asked: no synonyms, no documentation.
        let plain = fresh.describe_configs([topic.clone()]).await.unwrap();
        let r = plain[&topic]
            .as_ref()
            .unwrap()
            .get("retention.ms")
            .unwrap()
            .clone();
        assert!(r.synonyms.is_empty() && r.documentation.is_none(), "{r:?}");
        let missing = ConfigResource::topic(unique_topic("admin-cfg-missing"));
        let d = fresh.describe_configs([missing.clone()]).await.unwrap();
        assert_eq!(
            d[&missing].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
    });
}

#[test]
fn broker_logger_group_and_client_metrics_configs() {
    let c = Cluster::kafka();
    require!(c, Feature::AlterConfigs);
    let node = c.node_ids().first().copied().unwrap_or(1);
    let group = unique_topic("admin-cfg-group");
    let metrics = unique_topic("admin-cfg-metrics");
    rt().block_on(async {
        let admin = new_admin(c).await;
        let broker = ConfigResource::broker(node);
        let d = admin
            .describe_configs_with(
                [broker.clone()],
                DescribeConfigsOptions {
                    include_synonyms: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let cfg = d[&broker].as_ref().unwrap();
        // The harness's server.properties sets it: a static broker config.
        let n = cfg.get("num.partitions").unwrap();
        assert!(
            matches!(n.source, ConfigSource::StaticBroker | ConfigSource::Default),
            "{n:?}"
        );
        assert!(cfg.entries.len() > 100, "{} entries", cfg.entries.len());

        let logger = ConfigResource::broker_logger(node);
        let group_res = ConfigResource::group(&group);
        let metrics_res = ConfigResource::client_metrics(&metrics);
        let out = admin
            .incremental_alter_configs([
                (
                    logger.clone(),
                    vec![AlterConfigOp::set("kafka.log.LogCleaner", "WARN")],
                ),
                (
                    group_res.clone(),
                    vec![AlterConfigOp::set("consumer.session.timeout.ms", "50000")],
                ),
                (
                    metrics_res.clone(),
                    vec![
                        AlterConfigOp::set("metrics", "org.apache.kafka.producer."),
                        AlterConfigOp::set("interval.ms", "60000"),
                    ],
                ),
            ])
            .await
            .unwrap();
        for (r, o) in &out {
            assert!(o.is_ok(), "{r}: {o:?}");
        }
        // The brokers apply a change from the metadata log: a read right
        // after the write may see the old value for a moment.
        let fresh = new_admin(c).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let d = loop {
            let d = fresh
                .describe_configs([logger.clone(), group_res.clone(), metrics_res.clone()])
                .await
                .unwrap();
            let applied = d[&group_res].as_ref().ok().and_then(|g| {
                g.get("consumer.session.timeout.ms")
                    .and_then(|e| e.value.clone())
            }) == Some("50000".into());
            if applied || std::time::Instant::now() > deadline {
                break d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let l = d[&logger].as_ref().unwrap();
        assert_eq!(
            l.get("kafka.log.LogCleaner")
                .and_then(|e| e.value.as_deref()),
            Some("WARN")
        );
        let g = d[&group_res].as_ref().unwrap();
        let s = g.get("consumer.session.timeout.ms").unwrap();
        assert_eq!(s.value.as_deref(), Some("50000"));
        assert_eq!(s.source, ConfigSource::Group);
        let m = d[&metrics_res].as_ref().unwrap();
        assert_eq!(
            m.get("interval.ms").and_then(|e| e.value.as_deref()),
            Some("60000")
        );
        assert_eq!(
            m.get("metrics").and_then(|e| e.value.as_deref()),
            Some("org.apache.kafka.producer.")
        );
        // An unknown group config is refused naming it.
        let out = admin
            .incremental_alter_configs([(
                group_res.clone(),
                vec![AlterConfigOp::set("no.such.group.config", "1")],
            )])
            .await
            .unwrap();
        let e = out[&group_res].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_CONFIG), "{e}");
        assert!(e.to_string().contains("no.such.group.config"), "{e}");
        // Back to the default level.
        let out = admin
            .incremental_alter_configs([(
                logger.clone(),
                vec![AlterConfigOp::delete("kafka.log.LogCleaner")],
            )])
            .await
            .unwrap();
        assert!(out[&logger].is_ok(), "{out:?}");
    });
}

#[test]
fn denied_config_calls_fail_per_resource_on_the_sasl_listener() {
    let c = Cluster::kafka();
    require!(c, Feature::Acls);
    let t = unique_topic("admin-cfg-acl");
    c.create_topic(&t, 1).unwrap();
    let node = c.node_ids().first().copied().unwrap_or(1);
    rt().block_on(async {
        let bob = Admin::new(
            AdminConfig::from_properties([
                ("bootstrap.servers", c.listener("SASL_PLAINTEXT").unwrap()),
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "bob"),
                ("sasl.password", c.secret("bob").unwrap()),
            ])
            .unwrap(),
        )
        .await
        .unwrap();
        let topic = ConfigResource::topic(&t);
        let broker = ConfigResource::broker(node);
        let d = bob
            .describe_configs([topic.clone(), broker.clone()])
            .await
            .unwrap();
        let e = d[&topic].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
        assert!(e.to_string().contains(&t), "{e}");
        let e = d[&broker].as_ref().unwrap_err();
        assert_eq!(
            e.code(),
            Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
            "{e}"
        );
        assert!(e.to_string().contains(&format!("broker '{node}'")), "{e}");
        let out = bob
            .incremental_alter_configs([(
                topic.clone(),
                vec![AlterConfigOp::set("retention.ms", "1")],
            )])
            .await
            .unwrap();
        let e = out[&topic].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
    });
}
