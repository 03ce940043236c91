//! `purekafka consume`: read topics from a chosen position, in a group or
//! from explicit partitions, and print each record as text, a kcat-style
//! format or JSON.

use crate::fail::{self, CliError, CliResult};
use crate::format::{Format, record_json};
use crate::settings::Settings;
use crate::{Output, when};
use purekafka::Consumer;
use purekafka::consumer::ConsumerEvent;
use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// `consume`'s options.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// The topics to read.
    #[arg(required = true)]
    pub topics: Vec<String>,
    /// Join this consumer group (subscribe; the group assigns partitions and
    /// the position is the group's committed offset). With -p, read those
    /// partitions from the group's committed offsets without joining.
    #[arg(short = 'G', long = "group")]
    pub group: Option<String>,
    /// Read only these partitions (repeatable; default: every partition).
    #[arg(short, long = "partition")]
    pub partitions: Vec<i32>,
    /// Where to start: beginning, end, stored (the group's committed
    /// offset), N (an offset), -N (N before the end), or @TIME / s@TIME (the
    /// first record at or after TIME: ms, RFC 3339 or -1h). Default: end, or
    /// stored with -G (falling back to end; `-o beginning` falls back to the
    /// beginning).
    #[arg(short, long = "offset", allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// Exit once every partition read has reached its end.
    #[arg(short, long = "exit")]
    pub exit: bool,
    /// Exit after this many records.
    #[arg(short, long)]
    pub count: Option<u64>,
    /// kcat's format string: %t topic, %p partition, %o offset, %k key, %s
    /// value, %K/%S key/value length, %T timestamp, %y its type, %h headers,
    /// %H their count, \n \t escapes (default "%s\n").
    #[arg(short, long)]
    pub format: Option<String>,
    /// Print "KEY<SEP>VALUE" (kcat's -K); ignored with -f.
    #[arg(short = 'K', long = "key-delimiter", value_name = "SEP")]
    pub key_delimiter: Option<String>,
    /// Stop after the first record at or after this time (ms, RFC 3339 or -1h).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
}

/// Where a read starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    Beginning,
    End,
    Stored,
    Offset(i64),
    FromEnd(i64),
    Time(i64),
}

fn parse_start(s: &str) -> CliResult<Start> {
    let bad = |why: String| {
        CliError::usage(format!(
            "-o {s}: {why}; expected beginning, end, stored, an offset, -N or @TIME"
        ))
    };
    Ok(match s {
        "beginning" | "earliest" | "begin" => Start::Beginning,
        "end" | "latest" => Start::End,
        "stored" | "committed" => Start::Stored,
        _ => {
            if let Some(t) = s.strip_prefix("s@").or_else(|| s.strip_prefix('@')) {
                Start::Time(when::parse(t).map_err(bad)?)
            } else if let Some(n) = s.strip_prefix('-') {
                Start::FromEnd(n.parse().map_err(|e| bad(format!("{e}")))?)
            } else {
                Start::Offset(s.parse().map_err(|e| bad(format!("{e}")))?)
            }
        }
    })
}

enum Printer {
    Format(Format),
    Json,
}

/// Runs `consume`.
pub async fn run(mut settings: Settings, a: ConsumeArgs, output: Output) -> CliResult<()> {
    let start = match &a.offset {
        Some(o) => parse_start(o)?,
        None if a.group.is_some() => Start::Stored,
        None => Start::End,
    };
    if start == Start::Stored && a.group.is_none() {
        return Err(CliError::usage(
            "-o stored reads a group's committed offsets: name the group with -G GROUP",
        ));
    }
    let until = match &a.until {
        Some(t) => Some(when::parse(t).map_err(|e| CliError::usage(format!("--until: {e}")))?),
        None => None,
    };
    let printer = match (&a.format, output) {
        (_, Output::Json) => Printer::Json,
        (Some(f), _) => Printer::Format(Format::parse(f).map_err(CliError::usage)?),
        (None, _) => {
            let f = match &a.key_delimiter {
                Some(sep) => format!("%k{}%s\\n", sep.replace('%', "%%")),
                None => "%s\\n".to_owned(),
            };
            Printer::Format(Format::parse(&f).map_err(CliError::usage)?)
        }
    };
    let subscribe = a.group.is_some() && a.partitions.is_empty();
    if let Some(g) = &a.group {
        settings.set("group.id", g);
        // Only what was printed is committed (a -c limit can stop mid-batch).
        settings.set("enable.auto.offset.store", "false");
    }
    // Where a partition without a usable position starts.
    let reset = match start {
        Start::Beginning => "earliest",
        Start::End | Start::Stored => "latest",
        _ => "earliest",
    };
    settings.default_prop("auto.offset.reset", reset);
    if a.exit {
        settings.set("enable.partition.eof", "true");
        settings.default_prop("fetch.max.wait.ms", "100");
    }
    let bootstrap = settings.bootstrap().to_owned();
    let config = settings.consumer()?;
    let consumer = Consumer::new(config)
        .await
        .map_err(|e| fail::kafka(e, &bootstrap))?;
    let k = |e| fail::kafka(e, &bootstrap);

    if subscribe {
        let topics: Vec<&str> = a.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(k)?;
        if !matches!(start, Start::Stored | Start::Beginning | Start::End) {
            return Err(CliError::usage(
                "in a group (-G without -p) the start is the committed offset; -o beginning/end \
                 choose where partitions without one start. For an offset or a time, name the \
                 partitions with -p (or reset the group's offsets with `groups reset-offsets`)",
            ));
        }
    } else {
        let mut tps: Vec<(String, i32)> = Vec::new();
        for t in &a.topics {
            let all: Vec<i32> = crate::metadata::consumer_partitions(&consumer, t, &bootstrap)
                .await?
                .iter()
                .map(|p| p.partition)
                .collect();
            if a.partitions.is_empty() {
                tps.extend(all.iter().map(|p| (t.clone(), *p)));
            } else {
                for p in &a.partitions {
                    if !all.contains(p) {
                        return Err(CliError::usage(format!(
                            "{t} has no partition {p} (it has {})",
                            all.len()
                        )));
                    }
                    tps.push((t.clone(), *p));
                }
            }
        }
        let refs: Vec<(&str, i32)> = tps.iter().map(|(t, p)| (t.as_str(), *p)).collect();
        consumer.assign(&refs).map_err(k)?;
        match start {
            Start::Stored => {} // assign with a group.id reads the committed offsets
            Start::Beginning => consumer.seek_to_beginning(&refs).map_err(k)?,
            Start::End => consumer.seek_to_end(&refs).map_err(k)?,
            Start::Offset(o) => {
                for (t, p) in &refs {
                    consumer.seek((*t, *p), o).map_err(k)?;
                }
            }
            Start::FromEnd(n) => {
                consumer.seek_to_end(&refs).map_err(k)?;
                for (t, p) in &refs {
                    let end = consumer.position((*t, *p)).await.map_err(k)?;
                    consumer.seek((*t, *p), (end - n).max(0)).map_err(k)?;
                }
            }
            Start::Time(ts) => {
                let offsets = crate::offsets::for_time(&settings, &refs, ts).await?;
                for ((t, p), o) in refs.iter().zip(offsets) {
                    consumer.seek((*t, *p), o).map_err(k)?;
                }
            }
        }
    }

    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
    let mut eof: HashSet<(Arc<str>, i32)> = HashSet::new();
    let mut printed: u64 = 0;
    let mut stopped_by_time: BTreeSet<(Arc<str>, i32)> = BTreeSet::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let result: CliResult<()> = 'outer: loop {
        if a.count.is_some_and(|c| printed >= c) {
            break Ok(());
        }
        let events = tokio::select! {
            r = consumer.poll_events(Duration::from_millis(500)) => r,
            _ = &mut ctrl_c => break Ok(()),
        };
        let events = match events {
            Ok(e) => e,
            Err(e) => break Err(k(e)),
        };
        for ev in events {
            match ev {
                ConsumerEvent::Record(r) => {
                    let tp = (r.topic.clone(), r.partition);
                    if stopped_by_time.contains(&tp) {
                        continue;
                    }
                    eof.remove(&tp);
                    if until.is_some_and(|u| r.timestamp >= u) {
                        // The first record at or after --until ends this partition.
                        stopped_by_time.insert(tp.clone());
                        eof.insert(tp);
                        let _ = consumer.pause([(r.topic.clone(), r.partition)]);
                        continue;
                    }
                    let written = match &printer {
                        Printer::Format(f) => f.write(&mut out, &r),
                        Printer::Json => serde_json::to_writer(&mut out, &record_json(&r))
                            .map_err(std::io::Error::from)
                            .and_then(|()| out.write_all(b"\n")),
                    };
                    if let Err(e) = written {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            break 'outer Ok(());
                        }
                        break 'outer Err(e.into());
                    }
                    if a.group.is_some() {
                        let _ = consumer.store_offset((r.topic.clone(), r.partition), r.offset);
                    }
                    printed += 1;
                    if a.count.is_some_and(|c| printed >= c) {
                        break;
                    }
                }
                ConsumerEvent::PartitionEof {
                    topic, partition, ..
                } => {
                    eof.insert((topic, partition));
                }
            }
        }
        if let Err(e) = out.flush() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break Ok(());
            }
            break Err(e.into());
        }
        if a.exit || until.is_some() {
            let assigned = consumer.assignment();
            let all_done = !assigned.is_empty()
                && assigned
                    .iter()
                    .all(|tp| eof.contains(&(tp.topic.clone(), tp.partition)));
            if all_done && (a.exit || stopped_by_time.len() == assigned.len()) {
                break Ok(());
            }
        }
    };
    let _ = out.flush();
    let closed = consumer.close().await;
    result?;
    closed.map_err(k)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_like_kcat() {
        assert_eq!(parse_start("beginning").unwrap(), Start::Beginning);
        assert_eq!(parse_start("end").unwrap(), Start::End);
        assert_eq!(parse_start("42").unwrap(), Start::Offset(42));
        assert_eq!(parse_start("-5").unwrap(), Start::FromEnd(5));
        assert_eq!(parse_start("s@1000").unwrap(), Start::Time(1000));
        assert_eq!(
            parse_start("@1970-01-01T00:00:01Z").unwrap(),
            Start::Time(1000)
        );
        assert!(parse_start("soon").is_err());
    }
}
