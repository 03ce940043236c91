//! `purekafka`: produce, consume, inspect and benchmark Kafka from the
//! command line, on the purekafka client (no C anywhere in the build).
//!
//! ```text
//! purekafka -b localhost:9092 produce events -K: < lines.txt
//! purekafka consume events -o beginning -e -f '%p@%o %k=%s\n'
//! purekafka metadata --output json
//! purekafka bench produce events -n 1000000 -X compression.type=lz4
//! ```
//!
//! Client properties are the Java/librdkafka names (`-X linger.ms=5`), and
//! named profiles live in `~/.config/purekafka/config.toml` (see
//! `settings.rs`).

mod acls;
mod admin;
mod bench;
mod consume;
mod fail;
mod format;
mod groups;
mod metadata;
mod offsets;
mod produce;
mod progress;
mod settings;
mod when;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use fail::{CliError, CliResult};
use settings::Settings;
use std::path::PathBuf;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// One JSON document (or, for `consume`, one JSON object per record per
    /// line), for scripts.
    Json,
}

/// Prints a JSON value on one line.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

#[derive(Debug, Parser)]
#[command(
    name = "purekafka",
    version,
    about = "Produce, consume, inspect and benchmark Kafka (purekafka: a Kafka client in pure Rust)",
    after_help = "Client properties are the Java/librdkafka names: -X security.protocol=ssl -X ssl.ca.location=ca.pem.\n\
                  Profiles: ~/.config/purekafka/config.toml (or -F FILE), chosen with -P NAME.\n\
                  `purekafka properties` lists every property."
)]
struct Cli {
    /// Bootstrap servers, host:port[,host:port...] (bootstrap.servers).
    #[arg(short = 'b', long, global = true, env = "PUREKAFKA_BOOTSTRAP")]
    bootstrap: Option<String>,
    /// A client property by its Java/librdkafka name (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE", global = true, value_parser = settings::parse_x)]
    properties: Vec<(String, String)>,
    /// The config file with named profiles (default ~/.config/purekafka/config.toml).
    #[arg(short = 'F', long = "config-file", global = true, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// The profile to use (default: the file's `default`).
    #[arg(short = 'P', long, global = true, env = "PUREKAFKA_PROFILE")]
    profile: Option<String>,
    /// text or json.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write records from stdin or files (one per line, or JSON lines).
    #[command(visible_alias = "p")]
    Produce(produce::ProduceArgs),
    /// Read records: from the beginning, the end, an offset, a time or a
    /// group's committed position.
    #[command(visible_alias = "c")]
    Consume(consume::ConsumeArgs),
    /// Brokers, controller, topics, partitions, leaders, replicas and ISR.
    #[command(visible_alias = "md")]
    Metadata {
        /// Only these topics (default: all).
        topics: Vec<String>,
    },
    /// List the topics (or create, delete or describe them).
    Topics {
        /// Include internal topics (__consumer_offsets, ...) in the list.
        #[arg(long)]
        internal: bool,
        #[command(subcommand)]
        cmd: Option<TopicsCmd>,
    },
    /// Consumer groups: list, describe, lag, reset-offsets.
    #[command(subcommand)]
    Groups(groups::GroupsCmd),
    /// List, create and delete ACLs.
    #[command(subcommand)]
    Acls(acls::AclsCmd),
    /// Describe or alter topic and broker configs.
    #[command(subcommand)]
    Configs(admin::ConfigsCmd),
    /// Produce or consume benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Every client property: name, aliases, scope, default and meaning.
    Properties {
        /// Only names containing this text.
        filter: Option<String>,
    },
    /// Shell completions (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum TopicsCmd {
    /// Creates a topic.
    Create {
        /// The topic.
        name: String,
        /// Partitions (default: the broker's num.partitions).
        #[arg(short, long)]
        partitions: Option<i32>,
        /// Replication factor (default: the broker's default.replication.factor).
        #[arg(short, long)]
        replication: Option<i16>,
        /// A topic config (repeatable): -c retention.ms=3600000.
        #[arg(short, long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
    },
    /// Deletes topics.
    Delete {
        /// The topics.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Partitions, leaders, replicas and ISR of topics (as `metadata TOPIC...`).
    Describe {
        /// The topics.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

fn properties(filter: Option<&str>, output: Output) {
    let rows: Vec<_> = purekafka::config::properties()
        .filter(|p| filter.is_none_or(|f| p.names().any(|n| n.contains(f))))
        .collect();
    match output {
        Output::Json => print_json(&serde_json::json!(
            rows.iter()
                .map(|p| serde_json::json!({
                    "name": p.name,
                    "aliases": p.names().skip(1).collect::<Vec<_>>(),
                    "scope": p.scope.name(),
                    "default": p.default,
                    "doc": p.doc,
                }))
                .collect::<Vec<_>>()
        )),
        Output::Text => {
            for p in rows {
                let default = if p.default.is_empty() {
                    "(unset)"
                } else {
                    p.default
                };
                println!(
                    "{:<42} {:<9} {:<14} {}",
                    p.name,
                    p.scope.name(),
                    default,
                    p.doc
                );
            }
        }
    }
}

async fn run(cli: Cli) -> CliResult<()> {
    let settings = || {
        Settings::resolve(
            cli.config_file.as_deref(),
            cli.profile.as_deref(),
            cli.bootstrap.as_deref(),
            &cli.properties,
        )
    };
    match cli.command {
        Command::Produce(a) => produce::run(settings()?, a, cli.output).await,
        Command::Consume(a) => consume::run(settings()?, a, cli.output).await,
        Command::Metadata { topics } => metadata::run(settings()?, topics, cli.output).await,
        Command::Topics { internal, cmd } => match cmd {
            None => metadata::list(settings()?, cli.output, internal).await,
            Some(TopicsCmd::Create {
                name,
                partitions,
                replication,
                config,
            }) => {
                admin::create(
                    settings()?,
                    name,
                    partitions,
                    replication,
                    config,
                    cli.output,
                )
                .await
            }
            Some(TopicsCmd::Delete { names }) => {
                admin::delete(settings()?, names, cli.output).await
            }
            Some(TopicsCmd::Describe { names }) => {
                metadata::run(settings()?, names, cli.output).await
            }
        },
        Command::Groups(cmd) => groups::run(settings()?, cmd, cli.output).await,
        Command::Acls(cmd) => acls::run(settings()?, cmd, cli.output).await,
        Command::Configs(cmd) => admin::configs(settings()?, cmd, cli.output).await,
        Command::Bench(cmd) => bench::run(settings()?, cmd, cli.output).await,
        Command::Properties { filter } => {
            properties(filter.as_deref(), cli.output);
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "purekafka",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let output = cli.output;
    let result = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => Err(CliError::runtime(format!(
            "cannot start the async runtime: {e}"
        ))),
    };
    if let Err(e) = result {
        match output {
            Output::Json => eprintln!("{}", e.to_json()),
            Output::Text => eprintln!("purekafka: error: {e}"),
        }
        std::process::exit(e.code);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
