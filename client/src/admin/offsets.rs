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

use super::{Admin, Target, by_topic, per_partition, remaining_ms, require};
use crate::TopicPartition;
use crate::config::IsolationLevel;
use crate::error::Result;
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

impl Admin {
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
        let spec = |tp: &TopicPartition| specs.get(tp).copied().unwrap_or(OffsetSpec::Latest);
        let ask = |leader: i32, tps: Vec<TopicPartition>| async move {
            // The newest spec asked for decides the version needed.
            let newest = tps
                .iter()
                .map(spec)
                .max_by_key(|s| s.min_version())
                .unwrap_or(OffsetSpec::Latest);
            let build = |version: i16| {
                require(version, newest.min_version(), newest.what())?;
                Ok(ListOffsetsRequest {
                    replica_id: -1,
                    isolation_level: isolation,
                    topics: by_topic(tps.iter().map(|tp| {
                        let p = ListOffsetsPartition {
                            partition_index: tp.partition,
                            timestamp: spec(tp).wire(),
                            ..Default::default()
                        };
                        (tp, p)
                    }))
                    .into_iter()
                    .map(|(name, partitions)| ListOffsetsTopic {
                        name: name.to_string(),
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                    timeout_ms: remaining_ms(deadline),
                    ..Default::default()
                })
            };
            let (resp, _) = self
                .call_with(Target::Broker(leader), deadline, build, |_| None)
                .await?;
            let topics = resp.topics.into_iter().map(|t| (t.name, t.partitions));
            Ok(per_partition("ListOffsets", topics, |p| {
                let offset = ListedOffset {
                    offset: p.offset,
                    timestamp: p.timestamp,
                    leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                };
                (p.partition_index, p.error_code, None, offset)
            }))
        };
        self.per_leader("ListOffsets", keys, deadline, None, ask)
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
        let ask = |leader: i32, tps: Vec<TopicPartition>| async move {
            let req = DeleteRecordsRequest {
                topics: by_topic(tps.iter().map(|tp| {
                    let p = DeleteRecordsPartition {
                        partition_index: tp.partition,
                        offset: before.get(tp).copied().unwrap_or(0),
                        ..Default::default()
                    };
                    (tp, p)
                }))
                .into_iter()
                .map(|(name, partitions)| DeleteRecordsTopic {
                    name: name.to_string(),
                    partitions,
                    ..Default::default()
                })
                .collect(),
                timeout_ms: remaining_ms(deadline),
                ..Default::default()
            };
            let resp = self
                .call_until(Target::Broker(leader), &req, deadline, |_| None)
                .await?;
            let topics = resp.topics.into_iter().map(|t| (t.name, t.partitions));
            Ok(per_partition("DeleteRecords", topics, |p| {
                (p.partition_index, p.error_code, None, p.low_watermark)
            }))
        };
        self.per_leader("DeleteRecords", keys, deadline, None, ask)
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
