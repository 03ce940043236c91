//! `purekafka metadata` and `purekafka topics`: what a Metadata request
//! tells (brokers, controller, topics, partitions, leaders, replicas, ISR),
//! with the partitions' offsets on request.

use crate::fail::{self, CliError, CliResult};
use crate::settings::Settings;
use crate::{Output, print_json};
use purekafka::ErrorCode;
use purekafka::net::{Cluster, ClusterOptions};
use purekafka_protocol::messages::metadata_request::MetadataRequestTopic;
use purekafka_protocol::messages::{MetadataRequest, MetadataResponse};
use serde_json::json;

/// Connects a bare cluster handle (no producer or consumer tasks).
pub async fn connect(settings: &Settings) -> CliResult<Cluster> {
    let config = settings.consumer()?;
    Cluster::connect(ClusterOptions::from_config(&config.client))
        .await
        .map_err(|e| fail::kafka(e, settings.bootstrap()))
}

/// A Metadata request for `topics` (all topics when empty).
pub async fn fetch(
    cluster: &Cluster,
    topics: &[String],
    bootstrap: &str,
) -> CliResult<MetadataResponse> {
    let req = MetadataRequest {
        topics: if topics.is_empty() {
            None
        } else {
            Some(
                topics
                    .iter()
                    .map(|t| MetadataRequestTopic {
                        name: Some(t.clone()),
                        ..Default::default()
                    })
                    .collect(),
            )
        },
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let conn = cluster
        .any_broker()
        .await
        .map_err(|e| fail::kafka(e, bootstrap))?;
    let mut resp = conn
        .send(&req)
        .await
        .map_err(|e| fail::kafka(e, bootstrap))?;
    resp.brokers.sort_by_key(|b| b.node_id);
    resp.topics.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &mut resp.topics {
        t.partitions.sort_by_key(|p| p.partition_index);
    }
    Ok(resp)
}

fn code_name(code: i16) -> Option<String> {
    (code != 0).then(|| {
        ErrorCode(code)
            .name()
            .map_or(format!("error code {code}"), str::to_owned)
    })
}

/// `metadata [TOPIC...]`.
pub async fn run(settings: Settings, topics: Vec<String>, output: Output) -> CliResult<()> {
    let bootstrap = settings.bootstrap().to_owned();
    let cluster = connect(&settings).await?;
    let md = fetch(&cluster, &topics, &bootstrap).await?;
    let missing: Vec<&str> = md
        .topics
        .iter()
        .filter(|t| t.error_code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0)
        .filter_map(|t| t.name.as_deref())
        .collect();
    match output {
        Output::Json => print_json(&json!({
            "cluster_id": md.cluster_id,
            "controller": md.controller_id,
            "brokers": md.brokers.iter().map(|b| json!({
                "id": b.node_id, "host": b.host, "port": b.port, "rack": b.rack,
            })).collect::<Vec<_>>(),
            "topics": md.topics.iter().map(|t| json!({
                "name": t.name,
                "id": t.topic_id.to_string(),
                "internal": t.is_internal,
                "error": code_name(t.error_code),
                "partitions": t.partitions.iter().map(|p| json!({
                    "partition": p.partition_index,
                    "leader": p.leader_id,
                    "leader_epoch": p.leader_epoch,
                    "replicas": p.replica_nodes,
                    "isr": p.isr_nodes,
                    "offline": p.offline_replicas,
                    "error": code_name(p.error_code),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })),
        Output::Text => {
            println!(
                "cluster {} (controller {}), {} brokers:",
                md.cluster_id.as_deref().unwrap_or("?"),
                md.controller_id,
                md.brokers.len()
            );
            for b in &md.brokers {
                println!(
                    "  broker {} at {}:{}{}{}",
                    b.node_id,
                    b.host,
                    b.port,
                    b.rack
                        .as_deref()
                        .map_or(String::new(), |r| format!(" rack {r}")),
                    if b.node_id == md.controller_id {
                        " (controller)"
                    } else {
                        ""
                    }
                );
            }
            println!("{} topics:", md.topics.len());
            for t in &md.topics {
                println!(
                    "  topic {:?} with {} partitions{}{}",
                    t.name.as_deref().unwrap_or("?"),
                    t.partitions.len(),
                    if t.is_internal { " (internal)" } else { "" },
                    code_name(t.error_code).map_or(String::new(), |e| format!(": {e}"))
                );
                for p in &t.partitions {
                    println!(
                        "    partition {}, leader {}, replicas: {:?}, isrs: {:?}{}",
                        p.partition_index,
                        p.leader_id,
                        p.replica_nodes,
                        p.isr_nodes,
                        code_name(p.error_code).map_or(String::new(), |e| format!(", {e}"))
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
    let cluster = connect(&settings).await?;
    let md = fetch(&cluster, &[], &bootstrap).await?;
    let topics: Vec<_> = md
        .topics
        .iter()
        .filter(|t| internal || !t.is_internal)
        .collect();
    match output {
        Output::Json => print_json(&json!(
            topics
                .iter()
                .map(|t| json!({
                    "name": t.name,
                    "partitions": t.partitions.len(),
                    "replication": t.partitions.first().map_or(0, |p| p.replica_nodes.len()),
                    "internal": t.is_internal,
                }))
                .collect::<Vec<_>>()
        )),
        Output::Text => {
            let width = topics
                .iter()
                .filter_map(|t| t.name.as_ref().map(String::len))
                .max()
                .unwrap_or(5)
                .max(5);
            println!("{:<width$}  PARTITIONS  REPLICATION", "TOPIC");
            for t in topics {
                println!(
                    "{:<width$}  {:>10}  {:>11}",
                    t.name.as_deref().unwrap_or("?"),
                    t.partitions.len(),
                    t.partitions.first().map_or(0, |p| p.replica_nodes.len())
                );
            }
        }
    }
    Ok(())
}
