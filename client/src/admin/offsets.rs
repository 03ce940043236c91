//! Partition offsets and records: list offsets (earliest, latest, by
//! timestamp, max timestamp, earliest local) and delete records before an
//! offset (Java's `listOffsets` and `deleteRecords`).
//!
//! Both go to each partition's leader; a partition whose leader moved is
//! asked again after a metadata refresh. Each partition has its own
//! outcome.
//!
//! ```no_run
//! use purekafka::admin::OffsetSpec;
//! use purekafka::{Admin, TopicPartition};
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! let tp = TopicPartition::new("events", 0);
//! let end = admin.list_offsets([(tp.clone(), OffsetSpec::Latest)]).await?;
//! let hour_ago = OffsetSpec::Timestamp(1_700_000_000_000);
//! let then = admin.list_offsets([(tp.clone(), hour_ago)]).await?;
//! println!("end {:?}, an hour ago {:?}", end[&tp], then[&tp]);
//! // Drop everything before offset 100.
//! let low = admin.delete_records([(tp.clone(), 100)]).await?;
//! println!("log start now {:?}", low[&tp]);
//! # Ok(()) }
//! ```

use super::{Admin, Target, remaining_ms, require, topic_error};
use crate::TopicPartition;
use crate::config::IsolationLevel;
use crate::error::{Error, Result};
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use purekafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use purekafka_protocol::messages::{DeleteRecordsRequest, ListOffsetsRequest};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which offset [`Admin::list_offsets`] looks up (Java's `OffsetSpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The end offset (the high watermark; the last stable offset with
    /// `read_committed`).
    Latest,
    /// The offset of the record with the largest timestamp (ListOffsets
    /// v7+).
    MaxTimestamp,
    /// The first offset still on the broker's local disk, with tiered
    /// storage (ListOffsets v8+).
    EarliestLocal,
    /// The first offset whose timestamp is at or after this (milliseconds
    /// since the epoch); none: the end offset is -1.
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::EarliestLocal => -4,
            OffsetSpec::Timestamp(t) => t,
        }
    }

    /// The ListOffsets version that knows it.
    fn min_version(self) -> i16 {
        match self {
            OffsetSpec::MaxTimestamp => 7,
            OffsetSpec::EarliestLocal => 8,
            _ => 1,
        }
    }

    /// What it is, for an error saying the broker lacks it.
    fn what(self) -> &'static str {
        match self {
            OffsetSpec::MaxTimestamp => "the max-timestamp offset spec",
            OffsetSpec::EarliestLocal => "the earliest-local offset spec",
            OffsetSpec::Earliest => "the earliest offset spec",
            OffsetSpec::Latest => "the latest offset spec",
            OffsetSpec::Timestamp(_) => "an offset by timestamp",
        }
    }
}

/// An offset [`Admin::list_offsets`] found (Java's `ListOffsetsResultInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset (-1 when no record matches a timestamp).
    pub offset: i64,
    /// The record's timestamp, where the lookup was by timestamp (else -1).
    pub timestamp: i64,
    /// The leader epoch of that record, if known.
    pub leader_epoch: Option<i32>,
}

/// Options of [`Admin::list_offsets_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOffsetsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// `ReadCommitted`: `Latest` is the last stable offset.
    pub isolation_level: IsolationLevel,
}

/// Options of [`Admin::delete_records_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteRecordsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
}

/// Leader-routing errors worth another round (after a metadata refresh);
/// a partition that does not exist is not waited for.
fn retry_moved(e: &Error) -> bool {
    match e.code() {
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => false,
        Some(c) => c.is_stale_metadata(),
        None => true,
    }
}

impl Admin {
    /// The leaders of `partitions`, by node, from fresh metadata (the
    /// families routing to partition leaders use it); a
    /// partition without a known leader gets its error.
    pub(crate) async fn partition_leaders(
        &self,
        api: &'static str,
        partitions: Vec<TopicPartition>,
    ) -> Result<(
        BTreeMap<i32, Vec<TopicPartition>>,
        BTreeMap<TopicPartition, Error>,
    )> {
        let cluster = self.cluster();
        cluster.add_topics(partitions.iter().map(|tp| tp.topic()));
        let md = cluster.refresh_metadata().await?;
        let mut leaders: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        let mut failed = BTreeMap::new();
        for tp in partitions {
            match md.topics.get(tp.topic()) {
                Some(t) if t.error != ErrorCode::NONE => {
                    let e = topic_error(t.error, api, tp.topic(), Some(tp.partition), None);
                    failed.insert(tp, e);
                }
                None => {
                    let e = topic_error(
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        api,
                        tp.topic(),
                        Some(tp.partition),
                        None,
                    );
                    failed.insert(tp, e);
                }
                Some(t) => match md.leader(tp.topic(), tp.partition) {
                    Some(l) => leaders.entry(l).or_default().push(tp),
                    None => {
                        let code = if t.partitions.iter().any(|p| p.id == tp.partition) {
                            ErrorCode::LEADER_NOT_AVAILABLE
                        } else {
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                        };
                        let e = topic_error(code, api, tp.topic(), Some(tp.partition), None);
                        failed.insert(tp, e);
                    }
                },
            }
        }
        Ok((leaders, failed))
    }

    /// Looks up offsets (Java's `listOffsets`), with the default options.
    pub async fn list_offsets(
        &self,
        specs: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
        self.list_offsets_with(specs, ListOffsetsOptions::default())
            .await
    }

    /// Looks up an offset per partition: each partition's outcome (a
    /// missing partition is UNKNOWN_TOPIC_OR_PARTITION naming it).
    pub async fn list_offsets_with(
        &self,
        specs: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
        opts: ListOffsetsOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
        let deadline = self.deadline(opts.timeout);
        let specs: BTreeMap<TopicPartition, OffsetSpec> = specs.into_iter().collect();
        let isolation = i8::from(opts.isolation_level == IsolationLevel::ReadCommitted);
        let keys: Vec<TopicPartition> = specs.keys().cloned().collect();
        let specs = &specs;
        self.per_resource(
            "ListOffsets",
            keys,
            deadline,
            retry_moved,
            |keys| async move {
                let (leaders, failed) = self.partition_leaders("ListOffsets", keys).await?;
                let mut out: BTreeMap<TopicPartition, Result<ListedOffset>> =
                    failed.into_iter().map(|(k, e)| (k, Err(e))).collect();
                for (leader, tps) in leaders {
                    let mut by_topic: BTreeMap<&str, Vec<&TopicPartition>> = BTreeMap::new();
                    for tp in &tps {
                        by_topic.entry(tp.topic()).or_default().push(tp);
                    }
                    // The newest spec asked for decides the version needed.
                    let newest = tps
                        .iter()
                        .filter_map(|tp| specs.get(tp))
                        .max_by_key(|s| s.min_version())
                        .copied()
                        .unwrap_or(OffsetSpec::Latest);
                    let build = |version: i16| {
                        require(version, newest.min_version(), newest.what())?;
                        Ok(ListOffsetsRequest {
                            replica_id: -1,
                            isolation_level: isolation,
                            topics: by_topic
                                .iter()
                                .map(|(t, ps)| ListOffsetsTopic {
                                    name: t.to_string(),
                                    partitions: ps
                                        .iter()
                                        .map(|tp| ListOffsetsPartition {
                                            partition_index: tp.partition,
                                            timestamp: specs
                                                .get(*tp)
                                                .copied()
                                                .unwrap_or(OffsetSpec::Latest)
                                                .wire(),
                                            ..Default::default()
                                        })
                                        .collect(),
                                    ..Default::default()
                                })
                                .collect(),
                            timeout_ms: remaining_ms(deadline),
                            ..Default::default()
                        })
                    };
                    match self
                        .call_with(Target::Broker(leader), deadline, build, |_| None)
                        .await
                    {
                        Ok((resp, _)) => {
                            for t in resp.topics {
                                for p in t.partitions {
                                    let tp =
                                        TopicPartition::new(t.name.as_str(), p.partition_index);
                                    let code = ErrorCode(p.error_code);
                                    let r = if code == ErrorCode::NONE {
                                        Ok(ListedOffset {
                                            offset: p.offset,
                                            timestamp: p.timestamp,
                                            leader_epoch: (p.leader_epoch >= 0)
                                                .then_some(p.leader_epoch),
                                        })
                                    } else {
                                        Err(topic_error(
                                            code,
                                            "ListOffsets",
                                            &t.name,
                                            Some(p.partition_index),
                                            None,
                                        ))
                                    };
                                    out.insert(tp, r);
                                }
                            }
                        }
                        Err(e) => out.extend(tps.into_iter().map(|tp| (tp, Err(e.clone())))),
                    }
                }
                Ok(out)
            },
        )
        .await
    }

    /// Deletes the records before the given offsets (Java's
    /// `deleteRecords`), with the default options.
    pub async fn delete_records(
        &self,
        before: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> Result<BTreeMap<TopicPartition, Result<i64>>> {
        self.delete_records_with(before, DeleteRecordsOptions::default())
            .await
    }

    /// Deletes the records before each offset (-1: the high watermark):
    /// each partition's new log start offset, or its error
    /// (OFFSET_OUT_OF_RANGE past the end, ...).
    pub async fn delete_records_with(
        &self,
        before: impl IntoIterator<Item = (TopicPartition, i64)>,
        opts: DeleteRecordsOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<i64>>> {
        let deadline = self.deadline(opts.timeout);
        let before: BTreeMap<TopicPartition, i64> = before.into_iter().collect();
        let keys: Vec<TopicPartition> = before.keys().cloned().collect();
        let before = &before;
        self.per_resource(
            "DeleteRecords",
            keys,
            deadline,
            retry_moved,
            |keys| async move {
                let (leaders, failed) = self.partition_leaders("DeleteRecords", keys).await?;
                let mut out: BTreeMap<TopicPartition, Result<i64>> =
                    failed.into_iter().map(|(k, e)| (k, Err(e))).collect();
                for (leader, tps) in leaders {
                    let mut by_topic: BTreeMap<&str, Vec<&TopicPartition>> = BTreeMap::new();
                    for tp in &tps {
                        by_topic.entry(tp.topic()).or_default().push(tp);
                    }
                    let req = DeleteRecordsRequest {
                        topics: by_topic
                            .iter()
                            .map(|(t, ps)| DeleteRecordsTopic {
                                name: t.to_string(),
                                partitions: ps
                                    .iter()
                                    .map(|tp| DeleteRecordsPartition {
                                        partition_index: tp.partition,
                                        offset: before.get(*tp).copied().unwrap_or(0),
                                        ..Default::default()
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        timeout_ms: remaining_ms(deadline),
                        ..Default::default()
                    };
                    match self
                        .call_until(Target::Broker(leader), &req, deadline, |_| None)
                        .await
                    {
                        Ok(resp) => {
                            for t in resp.topics {
                                for p in t.partitions {
                                    let tp =
                                        TopicPartition::new(t.name.as_str(), p.partition_index);
                                    let code = ErrorCode(p.error_code);
                                    let r = if code == ErrorCode::NONE {
                                        Ok(p.low_watermark)
                                    } else {
                                        Err(topic_error(
                                            code,
                                            "DeleteRecords",
                                            &t.name,
                                            Some(p.partition_index),
                                            None,
                                        ))
                                    };
                                    out.insert(tp, r);
                                }
                            }
                        }
                        Err(e) => out.extend(tps.into_iter().map(|tp| (tp, Err(e.clone())))),
                    }
                }
                Ok(out)
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_on_the_wire() {
        assert_eq!(OffsetSpec::Earliest.wire(), -2);
        assert_eq!(OffsetSpec::Latest.wire(), -1);
        assert_eq!(OffsetSpec::MaxTimestamp.wire(), -3);
        assert_eq!(OffsetSpec::EarliestLocal.wire(), -4);
        assert_eq!(OffsetSpec::Timestamp(1234).wire(), 1234);
        assert_eq!(OffsetSpec::MaxTimestamp.min_version(), 7);
        assert_eq!(OffsetSpec::EarliestLocal.min_version(), 8);
    }
}
