//! `purekafka groups list|describe|lag|reset-offsets`.

use crate::fail::{self, CliError, CliResult};
use crate::settings::Settings;
use crate::{Output, print_json, when};
use purekafka::TopicPartition;
use purekafka::admin::{Admin, GroupOptions, GroupType, ListGroupsOptions, OffsetSpec};
use purekafka::consumer::OffsetAndMetadata;
use serde_json::json;
use std::collections::BTreeMap;

/// `groups`' subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum GroupsCmd {
    /// Every group, with its state and type.
    List,
    /// A group's state, members and their partitions.
    Describe {
        /// The group.
        group: String,
    },
    /// A group's committed offsets, end offsets and lag per partition.
    Lag {
        /// The group.
        group: String,
    },
    /// Moves a group's committed offsets (the group must have no members).
    /// A dry run unless --execute.
    ResetOffsets(ResetArgs),
}

/// `groups reset-offsets`' options.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["to_earliest", "to_latest", "to_datetime", "to_offset", "shift_by"])))]
pub struct ResetArgs {
    /// The group.
    group: String,
    /// Only these topics (repeatable; default: every topic the group committed).
    #[arg(short, long = "topic")]
    topics: Vec<String>,
    /// To the log start.
    #[arg(long)]
    to_earliest: bool,
    /// To the end.
    #[arg(long)]
    to_latest: bool,
    /// To the first record at or after TIME (ms, RFC 3339 or -1h).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    to_datetime: Option<String>,
    /// To this offset.
    #[arg(long, value_name = "OFFSET")]
    to_offset: Option<i64>,
    /// Moves each committed offset by N (negative: back), kept within the log.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    shift_by: Option<i64>,
    /// Only print the plan (the default).
    #[arg(long, conflicts_with = "execute")]
    dry_run: bool,
    /// Commit the new offsets.
    #[arg(long)]
    execute: bool,
}

/// Runs a `groups` command.
pub async fn run(settings: Settings, cmd: GroupsCmd, output: Output) -> CliResult<()> {
    let bootstrap = settings.bootstrap().to_owned();
    let k = |e| fail::kafka(e, &bootstrap);
    let admin = Admin::new(settings.admin()?).await.map_err(k)?;
    match cmd {
        GroupsCmd::List => {
            let groups = admin
                .list_groups(ListGroupsOptions::default())
                .await
                .map_err(k)?;
            match output {
                Output::Json => print_json(&json!(
                    groups
                        .iter()
                        .map(|g| json!({
                            "group": g.group_id,
                            "state": g.state,
                            "type": g.group_type.as_ref().map(|t| t.as_str().to_owned()),
                            "protocol_type": g.protocol_type,
                        }))
                        .collect::<Vec<_>>()
                )),
                Output::Text => {
                    for g in groups {
                        println!(
                            "{}  {}  {}",
                            g.group_id,
                            g.state.as_deref().unwrap_or("-"),
                            g.group_type.as_ref().map_or("-", |t| t.as_str())
                        );
                    }
                }
            }
            Ok(())
        }
        GroupsCmd::Describe { group } => {
            // A share group (KIP-932) is described by ShareGroupDescribe;
            // ListGroups (v5+) says which type the group is.
            let is_share = admin
                .list_groups(ListGroupsOptions {
                    types: vec![GroupType::Share],
                    ..Default::default()
                })
                .await
                .map_err(k)?
                .iter()
                .any(|g| g.group_id == group);
            if is_share {
                return describe_share(&admin, &group, output, &bootstrap).await;
            }
            let d = admin
                .describe_consumer_groups([group.clone()])
                .await
                .map_err(k)?
                .into_values()
                .next()
                .ok_or_else(|| CliError::runtime(format!("no answer for group {group}")))?
                .map_err(k)?;
            let lag = admin.consumer_group_lag(&group).await.map_err(k)?;
            match output {
                Output::Json => print_json(&json!({
                    "group": d.group_id,
                    "state": d.state,
                    "type": d.group_type.as_str(),
                    "assignor": d.partition_assignor,
                    "coordinator": d.coordinator,
                    "members": d.members.iter().map(|m| json!({
                        "member_id": m.member_id,
                        "client_id": m.client_id,
                        "host": m.host,
                        "instance_id": m.group_instance_id,
                        "partitions": m.assignment.iter().map(|tp| tp.to_string()).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                    "lag": lag_json(&lag),
                })),
                Output::Text => {
                    println!(
                        "group {} ({}, {}), state {}, assignor {}, coordinator {}, {} members",
                        d.group_id,
                        d.group_type.as_str(),
                        if d.is_simple { "simple" } else { "managed" },
                        d.state,
                        d.partition_assignor,
                        d.coordinator,
                        d.members.len()
                    );
                    for m in &d.members {
                        let parts: Vec<String> =
                            m.assignment.iter().map(|tp| tp.to_string()).collect();
                        println!(
                            "  {} ({} at {}): {}",
                            m.member_id,
                            m.client_id,
                            m.host,
                            parts.join(", ")
                        );
                    }
                    print_lag(&lag);
                }
            }
            Ok(())
        }
        GroupsCmd::Lag { group } => {
            let lag = admin.consumer_group_lag(&group).await.map_err(k)?;
            match output {
                Output::Json => print_json(&lag_json(&lag)),
                Output::Text => print_lag(&lag),
            }
            Ok(())
        }
        GroupsCmd::ResetOffsets(a) => reset(&admin, a, output, &bootstrap).await,
    }
}

/// `groups describe` of a share group: its state, epochs and members with
/// their subscriptions and (shared) partitions.
async fn describe_share(
    admin: &Admin,
    group: &str,
    output: Output,
    bootstrap: &str,
) -> CliResult<()> {
    let k = |e| fail::kafka(e, bootstrap);
    let d = admin
        .describe_share_groups([group.to_owned()], GroupOptions::default())
        .await
        .map_err(k)?
        .into_values()
        .next()
        .ok_or_else(|| CliError::runtime(format!("no answer for group {group}")))?
        .map_err(k)?;
    match output {
        Output::Json => print_json(&json!({
            "group": d.group_id,
            "state": d.state,
            "type": "share",
            "group_epoch": d.group_epoch,
            "assignment_epoch": d.assignment_epoch,
            "assignor": d.partition_assignor,
            "coordinator": d.coordinator,
            "members": d.members.iter().map(|m| json!({
                "member_id": m.member_id,
                "client_id": m.client_id,
                "host": m.host,
                "member_epoch": m.member_epoch,
                "subscribed_topics": m.subscribed_topics,
                "partitions": m.assignment.iter().map(|tp| tp.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })),
        Output::Text => {
            println!(
                "group {} (share), state {}, epoch {}, assignor {}, coordinator {}, {} members",
                d.group_id,
                d.state,
                d.group_epoch,
                d.partition_assignor,
                d.coordinator,
                d.members.len()
            );
            for m in &d.members {
                let parts: Vec<String> = m.assignment.iter().map(|tp| tp.to_string()).collect();
                println!(
                    "  {} ({} at {}, epoch {}): {}",
                    m.member_id,
                    m.client_id,
                    m.host,
                    m.member_epoch,
                    parts.join(", ")
                );
            }
        }
    }
    Ok(())
}

type Lag = BTreeMap<TopicPartition, purekafka::admin::PartitionLag>;

fn lag_json(lag: &Lag) -> serde_json::Value {
    json!(
        lag.iter()
            .map(|(tp, l)| json!({
                "topic": &*tp.topic, "partition": tp.partition,
                "committed": l.committed, "end": l.end_offset, "lag": l.lag,
            }))
            .collect::<Vec<_>>()
    )
}

fn print_lag(lag: &Lag) {
    println!(
        "{:<30} {:>9} {:>12} {:>12} {:>8}",
        "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"
    );
    for (tp, l) in lag {
        println!(
            "{:<30} {:>9} {:>12} {:>12} {:>8}",
            tp.topic,
            tp.partition,
            l.committed.map_or("-".to_owned(), |c| c.to_string()),
            l.end_offset,
            l.lag.map_or("-".to_owned(), |c| c.to_string())
        );
    }
}

async fn reset(admin: &Admin, a: ResetArgs, output: Output, bootstrap: &str) -> CliResult<()> {
    let k = |e| fail::kafka(e, bootstrap);
    let committed = admin
        .list_consumer_group_offsets(&a.group, None)
        .await
        .map_err(k)?;
    // The partitions: every partition of the named topics, or what the group committed.
    let mut tps: Vec<TopicPartition> = Vec::new();
    if a.topics.is_empty() {
        tps.extend(committed.keys().cloned());
    } else {
        for (name, d) in admin.describe_topics(a.topics.clone()).await.map_err(k)? {
            let d = d.map_err(k)?;
            tps.extend(
                d.partitions
                    .iter()
                    .map(|p| TopicPartition::new(name.as_str(), p.partition)),
            );
        }
    }
    if tps.is_empty() {
        return Err(CliError::usage(format!(
            "group {} has no committed offsets: name the topics with --topic",
            a.group
        )));
    }
    let lookup =
        |spec: OffsetSpec| admin.list_offsets(tps.iter().map(move |tp| (tp.clone(), spec)));
    let earliest = lookup(OffsetSpec::Earliest).await.map_err(k)?;
    let latest = lookup(OffsetSpec::Latest).await.map_err(k)?;
    let by_time = match &a.to_datetime {
        Some(t) => {
            let ts = when::parse(t).map_err(|e| CliError::usage(format!("--to-datetime: {e}")))?;
            Some(lookup(OffsetSpec::Timestamp(ts)).await.map_err(k)?)
        }
        None => None,
    };
    let mut plan: Vec<(TopicPartition, Option<i64>, i64)> = Vec::new();
    for tp in &tps {
        let get =
            |m: &BTreeMap<TopicPartition, purekafka::Result<purekafka::admin::ListedOffset>>| {
                match m.get(tp) {
                    Some(Ok(o)) => Ok(o.offset),
                    Some(Err(e)) => Err(CliError::runtime(format!("{tp}: {e}"))),
                    None => Err(CliError::runtime(format!("{tp}: no offset in the answer"))),
                }
            };
        let (lo, hi) = (get(&earliest)?, get(&latest)?);
        let current = committed.get(tp).map(|o| o.offset);
        let target = if a.to_earliest {
            lo
        } else if a.to_latest {
            hi
        } else if let Some(m) = &by_time {
            // No record that late: the end.
            let o = get(m)?;
            if o < 0 { hi } else { o }
        } else if let Some(o) = a.to_offset {
            o.clamp(lo, hi)
        } else {
            let n = a.shift_by.unwrap_or(0);
            current.unwrap_or(lo).saturating_add(n).clamp(lo, hi)
        };
        plan.push((tp.clone(), current, target));
    }
    if a.execute {
        let results = admin
            .alter_consumer_group_offsets(
                &a.group,
                plan.iter().map(|(tp, _, o)| {
                    (
                        tp.clone(),
                        OffsetAndMetadata {
                            offset: *o,
                            metadata: None,
                        },
                    )
                }),
            )
            .await
            .map_err(k)?;
        let failed: Vec<String> = results
            .iter()
            .filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}")))
            .collect();
        if !failed.is_empty() {
            return Err(
                CliError::runtime(format!("offsets not reset: {}", failed.join("; ")))
                    .hint("the group must have no active members: stop its consumers first"),
            );
        }
    }
    match output {
        Output::Json => print_json(&json!({
            "group": a.group,
            "executed": a.execute,
            "partitions": plan.iter().map(|(tp, c, n)| json!({
                "topic": &*tp.topic, "partition": tp.partition, "current": c, "new": n,
            })).collect::<Vec<_>>(),
        })),
        Output::Text => {
            println!(
                "{:<30} {:>9} {:>12} {:>12}",
                "TOPIC", "PARTITION", "CURRENT", "NEW"
            );
            for (tp, c, n) in &plan {
                println!(
                    "{:<30} {:>9} {:>12} {:>12}",
                    tp.topic,
                    tp.partition,
                    c.map_or("-".to_owned(), |c| c.to_string()),
                    n
                );
            }
            if a.execute {
                println!("committed the new offsets of group {}", a.group);
            } else {
                println!("dry run: nothing changed (add --execute to commit these offsets)");
            }
        }
    }
    Ok(())
}
