//! The admin commands: `topics create|delete`, `configs describe|alter`.
//! Each resource has its own outcome; any failure makes the command fail
//! naming the resource.

use crate::fail::{self, CliError, CliResult};
use crate::settings::Settings;
use crate::{Output, print_json};
use purekafka::admin::{Admin, AlterConfigOp, ConfigResource, NewTopic};
use serde_json::json;
use std::collections::BTreeMap;

/// `configs`' subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigsCmd {
    /// A topic's or broker's configs (non-default ones unless --all).
    Describe {
        #[command(flatten)]
        target: Target,
        /// Every config, defaults included.
        #[arg(long)]
        all: bool,
    },
    /// Sets or deletes configs (incrementally: the others stay).
    Alter {
        #[command(flatten)]
        target: Target,
        /// Sets a config (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Deletes a config, back to its default (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
}

/// Which resource.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// A topic.
    #[arg(long, conflicts_with = "broker", required_unless_present = "broker")]
    topic: Option<String>,
    /// A broker, by node id.
    #[arg(long)]
    broker: Option<i32>,
}

impl Target {
    fn resource(&self) -> ConfigResource {
        match (&self.topic, self.broker) {
            (Some(t), _) => ConfigResource::topic(t.clone()),
            (None, Some(b)) => ConfigResource::broker(b),
            (None, None) => ConfigResource::broker_default(),
        }
    }

    fn name(&self) -> String {
        match (&self.topic, self.broker) {
            (Some(t), _) => format!("topic {t}"),
            (None, Some(b)) => format!("broker {b}"),
            (None, None) => "the cluster".to_owned(),
        }
    }
}

async fn connect(settings: &Settings) -> CliResult<Admin> {
    Admin::new(settings.admin()?)
        .await
        .map_err(|e| fail::kafka(e, settings.bootstrap()))
}

fn kv(s: &str, what: &str) -> CliResult<(String, String)> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| CliError::usage(format!("{what} {s:?}: expected KEY=VALUE")))
}

/// `topics create`.
pub async fn create(
    settings: Settings,
    name: String,
    partitions: Option<i32>,
    replication: Option<i16>,
    configs: Vec<String>,
    output: Output,
) -> CliResult<()> {
    let admin = connect(&settings).await?;
    let mut topic = NewTopic::with_defaults(name.clone());
    topic.num_partitions = partitions;
    topic.replication_factor = replication;
    for c in &configs {
        let (k, v) = kv(c, "--config")?;
        topic = topic.config(k, v);
    }
    let results = admin
        .create_topics([topic])
        .await
        .map_err(|e| fail::kafka(e, settings.bootstrap()))?;
    let outcome = results
        .into_iter()
        .next()
        .map(|(_, r)| r)
        .ok_or_else(|| CliError::runtime(format!("no answer for topic {name}")))?;
    let created = outcome.map_err(|e| fail::kafka(e, settings.bootstrap()))?;
    match output {
        Output::Json => print_json(&json!({
            "topic": name,
            "id": created.topic_id.to_string(),
            "partitions": created.num_partitions,
            "replication": created.replication_factor,
        })),
        Output::Text => println!(
            "created topic {name} ({} partitions, replication {})",
            created.num_partitions, created.replication_factor
        ),
    }
    Ok(())
}

/// `topics delete`.
pub async fn delete(settings: Settings, names: Vec<String>, output: Output) -> CliResult<()> {
    let admin = connect(&settings).await?;
    let results = admin
        .delete_topics(names)
        .await
        .map_err(|e| fail::kafka(e, settings.bootstrap()))?;
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for (name, r) in &results {
        match r {
            Ok(()) => rows.push(json!({ "topic": name, "deleted": true })),
            Err(e) => {
                rows.push(json!({ "topic": name, "deleted": false, "error": e.to_string() }));
                failed.push(format!("{name}: {e}"));
            }
        }
    }
    match output {
        Output::Json => print_json(&json!(rows)),
        Output::Text => {
            for (name, r) in &results {
                if r.is_ok() {
                    println!("deleted topic {name}");
                }
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::runtime(format!(
            "not deleted: {}",
            failed.join("; ")
        )))
    }
}

/// `configs describe|alter`.
pub async fn configs(settings: Settings, cmd: ConfigsCmd, output: Output) -> CliResult<()> {
    let admin = connect(&settings).await?;
    let k = |e| fail::kafka(e, settings.bootstrap());
    match cmd {
        ConfigsCmd::Describe { target, all } => {
            let results = admin
                .describe_configs([target.resource()])
                .await
                .map_err(k)?;
            let config = results
                .into_values()
                .next()
                .ok_or_else(|| CliError::runtime(format!("no answer for {}", target.name())))?
                .map_err(k)?;
            let entries: Vec<_> = config
                .entries
                .iter()
                .filter(|e| all || !e.is_default())
                .collect();
            match output {
                Output::Json => print_json(&json!(
                    entries
                        .iter()
                        .map(|e| json!({
                            "name": e.name,
                            "value": if e.sensitive { None } else { e.value.clone() },
                            "source": format!("{:?}", e.source),
                            "read_only": e.read_only,
                            "sensitive": e.sensitive,
                        }))
                        .collect::<Vec<_>>()
                )),
                Output::Text => {
                    let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(4);
                    for e in entries {
                        let value = if e.sensitive {
                            "[sensitive]".to_owned()
                        } else {
                            e.value.clone().unwrap_or_else(|| "(null)".to_owned())
                        };
                        println!("{:<width$}  {value}  ({:?})", e.name, e.source);
                    }
                }
            }
            Ok(())
        }
        ConfigsCmd::Alter {
            target,
            set,
            delete,
        } => {
            if set.is_empty() && delete.is_empty() {
                return Err(CliError::usage(
                    "nothing to change: give --set KEY=VALUE or --delete KEY",
                ));
            }
            let mut ops = Vec::new();
            let mut changed = BTreeMap::new();
            for s in &set {
                let (key, v) = kv(s, "--set")?;
                changed.insert(key.clone(), Some(v.clone()));
                ops.push(AlterConfigOp::set(key, v));
            }
            for d in &delete {
                changed.insert(d.clone(), None);
                ops.push(AlterConfigOp::delete(d.clone()));
            }
            let results = admin
                .incremental_alter_configs([(target.resource(), ops)])
                .await
                .map_err(k)?;
            for (_, r) in results {
                r.map_err(k)?;
            }
            match output {
                Output::Json => {
                    print_json(&json!({ "resource": target.name(), "changed": changed }))
                }
                Output::Text => println!("altered {}: {changed:?}", target.name()),
            }
            Ok(())
        }
    }
}
