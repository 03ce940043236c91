//! `purekafka metadata` and `purekafka topics`: the cluster (id,
//! controller, brokers) and its topics (partitions, leaders, replicas, ISR),
//! from the admin client; and the partitions that `produce`, `consume` and
//! `bench` look up with the producer's or consumer's `partitions_for`.

use crate::fail::{self, CliError, CliResult};
use crate::settings::Settings;
use crate::{Output, print_json};
use purekafka::admin::{Admin, ListTopicsOptions, TopicDescription};
use purekafka::{Consumer, ErrorCode, PartitionInfo, Producer};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long `produce`, `consume` and `bench` wait for a topic's partitions
/// (a topic being auto-created included) before failing, naming it.
const TOPIC_WAIT: Duration = Duration::from_secs(10);

/// The partitions of `topic` as `producer` sees them; a topic that does not
/// show up within [`TOPIC_WAIT`] fails the command, named.
pub async fn producer_partitions(
    producer: &Producer,
    topic: &str,
    bootstrap: &str,
) -> CliResult<Vec<PartitionInfo>> {
    partitions(producer.partitions_for(topic), topic, bootstrap).await
}

/// The partitions of `topic` as `consumer` sees them (see
/// [`producer_partitions`]).
pub async fn consumer_partitions(
    consumer: &Consumer,
    topic: &str,
    bootstrap: &str,
) -> CliResult<Vec<PartitionInfo>> {
    partitions(consumer.partitions_for(topic), topic, bootstrap).await
}

async fn partitions(
    lookup: impl Future<Output = purekafka::Result<Vec<PartitionInfo>>>,
    topic: &str,
    bootstrap: &str,
) -> CliResult<Vec<PartitionInfo>> {
    let unknown = || {
        fail::kafka(
            purekafka::Error::UnknownTopic {
                topic: topic.to_owned(),
            },
            bootstrap,
        )
    };
    match tokio::time::timeout(TOPIC_WAIT, lookup).await {
        Ok(Ok(partitions)) if !partitions.is_empty() => Ok(partitions),
        Ok(Ok(_)) | Err(_) => Err(unknown()),
        Ok(Err(e)) => Err(fail::kafka(e, bootstrap)),
    }
}

async fn connect(settings: &Settings) -> CliResult<Admin> {
    Admin::new(settings.admin()?)
        .await
        .map_err(|e| fail::kafka(e, settings.bootstrap()))
}

/// The descriptions of `topics` (when empty: every topic, internal ones if
/// `internal`), by name; a topic the cluster lacks is
/// UNKNOWN_TOPIC_OR_PARTITION.
async fn describe(
    admin: &Admin,
    topics: &[String],
    internal: bool,
    bootstrap: &str,
) -> CliResult<BTreeMap<String, purekafka::Result<TopicDescription>>> {
    let k = |e| fail::kafka(e, bootstrap);
    let names: Vec<String> = if topics.is_empty() {
        let opts = ListTopicsOptions {
            list_internal: internal,
            ..Default::default()
        };
        let listed = admin.list_topics_with(opts).await.map_err(k)?;
        listed.into_iter().map(|t| t.name).collect()
    } else {
        topics.to_vec()
    };
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    admin.describe_topics(names).await.map_err(k)
}

fn is_unknown(e: &purekafka::Error) -> bool {
    e.code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
}

fn error_name(e: &purekafka::Error) -> String {
    match e.code() {
        Some(c) => c
            .name()
            .map_or(format!("error code {}", c.0), str::to_owned),
        None => e.to_string(),
    }
}

fn leader(l: Option<i32>) -> String {
    l.map_or("none".to_owned(), |id| id.to_string())
}

/// `metadata [TOPIC...]`.
pub async fn run(settings: Settings, topics: Vec<String>, output: Output) -> CliResult<()> {
    let bootstrap = settings.bootstrap().to_owned();
    let admin = connect(&settings).await?;
    let mut cluster = admin
        .describe_cluster()
        .await
        .map_err(|e| fail::kafka(e, &bootstrap))?;
    cluster.nodes.sort_by_key(|n| n.id);
    let described = describe(&admin, &topics, true, &bootstrap).await?;
    let missing: Vec<&str> = described
        .iter()
        .filter(|(_, d)| d.as_ref().is_err_and(is_unknown))
        .map(|(name, _)| name.as_str())
        .collect();
    match output {
        Output::Json => print_json(&json!({
            "cluster_id": cluster.cluster_id,
            "controller": cluster.controller,
            "brokers": cluster.nodes.iter().map(|b| json!({
                "id": b.id, "host": b.host, "port": b.port, "rack": b.rack,
            })).collect::<Vec<_>>(),
            "topics": described.iter().map(|(name, d)| match d {
                Ok(t) => json!({
                    "name": name,
                    "id": t.topic_id.to_string(),
                    "internal": t.is_internal,
                    "error": null,
                    "partitions": t.partitions.iter().map(|p| json!({
                        "partition": p.partition,
                        "leader": p.leader,
                        "leader_epoch": p.leader_epoch,
                        "replicas": p.replicas,
                        "isr": p.isr,
                        "offline": p.offline_replicas,
                    })).collect::<Vec<_>>(),
                }),
                Err(e) => json!({
                    "name": name,
                    "error": error_name(e),
                    "partitions": [],
                }),
            }).collect::<Vec<_>>(),
        })),
        Output::Text => {
            println!(
                "cluster {} (controller {}), {} brokers:",
                cluster.cluster_id,
                leader(cluster.controller),
                cluster.nodes.len()
            );
            for b in &cluster.nodes {
                println!(
                    "  broker {} at {}:{}{}{}",
                    b.id,
                    b.host,
                    b.port,
                    b.rack
                        .as_deref()
                        .map_or(String::new(), |r| format!(" rack {r}")),
                    if Some(b.id) == cluster.controller {
                        " (controller)"
                    } else {
                        ""
                    }
                );
            }
            println!("{} topics:", described.len());
            for (name, d) in &described {
                let t = match d {
                    Ok(t) => t,
                    Err(e) => {
                        println!("  topic {name:?} with 0 partitions: {}", error_name(e));
                        continue;
                    }
                };
                println!(
                    "  topic {name:?} with {} partitions{}",
                    t.partitions.len(),
                    if t.is_internal { " (internal)" } else { "" },
                );
                for p in &t.partitions {
                    println!(
                        "    partition {}, leader {}, replicas: {:?}, isrs: {:?}{}",
                        p.partition,
                        leader(p.leader),
                        p.replicas,
                        p.isr,
                        if p.offline_replicas.is_empty() {
                            String::new()
                        } else {
                            format!(", offline: {:?}", p.offline_replicas)
                        }
                    );
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(
            CliError::runtime(format!("no such topic: {}", missing.join(", ")))
                .hint("`purekafka topics` lists the topics the cluster has"),
        )
    }
}

/// `topics` (list): names, partition counts, replication.
pub async fn list(settings: Settings, output: Output, internal: bool) -> CliResult<()> {
    let bootstrap = settings.bootstrap().to_owned();
    let admin = connect(&settings).await?;
    let described = describe(&admin, &[], internal, &bootstrap).await?;
    // A topic deleted between the listing and the description is left out.
    let topics: Vec<&TopicDescription> = described
        .values()
        .filter_map(|d| d.as_ref().ok())
        .filter(|t| internal || !t.is_internal)
        .collect();
    let replication = |t: &TopicDescription| t.partitions.first().map_or(0, |p| p.replicas.len());
    match output {
        Output::Json => print_json(&json!(
            topics
                .iter()
                .map(|t| json!({
                    "name": t.name,
                    "partitions": t.partitions.len(),
                    "replication": replication(t),
                    "internal": t.is_internal,
                }))
                .collect::<Vec<_>>()
        )),
        Output::Text => {
            let width = topics
                .iter()
                .map(|t| t.name.len())
                .max()
                .unwrap_or(5)
                .max(5);
            println!("{:<width$}  PARTITIONS  REPLICATION", "TOPIC");
            for t in topics {
                println!(
                    "{:<width$}  {:>10}  {:>11}",
                    t.name,
                    t.partitions.len(),
                    replication(t)
                );
            }
        }
    }
    Ok(())
}
