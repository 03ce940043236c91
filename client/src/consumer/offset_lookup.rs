//! Offset lookups of the consumer: the Java consumer's `offsetsForTimes`,
//! `beginningOffsets` and `endOffsets`.
//!
//! They ask the partitions' leaders (ListOffsets) through the consumer's
//! own connections, and neither move a position nor need an assignment:
//! what a tool computing lag, or an application seeking to a point in time,
//! asks before it seeks. Each call is bounded by `default.api.timeout.ms`;
//! a moved leader is retried meanwhile, a partition that does not exist
//! fails the call naming it.
//!
//! ```no_run
//! # async fn demo(consumer: purekafka::Consumer) -> purekafka::Result<()> {
//! use purekafka::TopicPartition;
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//!
//! // Replay the last hour of partition 0.
//! let hour_ago = SystemTime::now() - Duration::from_secs(3600);
//! let ms = hour_ago.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
//! let tp = TopicPartition::new("events", 0);
//! consumer.assign([tp.clone()])?;
//! let found = consumer.offsets_for_times([(tp.clone(), ms)]).await?;
//! match found.get(&tp).copied().flatten() {
//!     Some(at) => consumer.seek(tp.clone(), at.offset)?,
//!     // No record that recent: start at the end.
//!     None => consumer.seek_to_end([tp.clone()])?,
//! }
//! // Lag of what has not been read yet.
//! let end = consumer.end_offsets([tp.clone()]).await?;
//! println!("behind by {}", end[&tp] - consumer.position(tp).await?);
//! # Ok(()) }
//! ```

use super::Consumer;
use crate::TopicPartition;
use crate::admin::{Admin, ListOffsetsOptions, OffsetSpec};
use crate::config::AdminConfig;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Where [`Consumer::offsets_for_times`] found a record: the first offset
/// whose timestamp is at or after the one asked for (Java's
/// `OffsetAndTimestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// The record's offset.
    pub offset: i64,
    /// The record's timestamp (ms since the epoch).
    pub timestamp: i64,
    /// The leader epoch of that record, if the broker said.
    pub leader_epoch: Option<i32>,
}

impl Consumer {
    /// An admin view over this consumer's connections, with its timeouts.
    fn lookup_admin(&self) -> Admin {
        let cfg = &self.inner.cfg;
        let admin = AdminConfig {
            client: cfg.client.clone(),
            default_api_timeout: cfg.default_api_timeout,
        };
        Admin::over(self.inner.cluster.clone(), admin)
    }

    /// One ListOffsets spec per partition; the first failing partition
    /// fails the call (as Java's throws), naming it.
    async fn list_offsets(
        &self,
        specs: Vec<(TopicPartition, OffsetSpec)>,
    ) -> Result<BTreeMap<TopicPartition, (i64, i64, Option<i32>)>> {
        if specs.is_empty() {
            return Ok(BTreeMap::new());
        }
        let opts = ListOffsetsOptions {
            timeout: None,
            isolation_level: self.inner.cfg.isolation_level,
        };
        let found = self.lookup_admin().list_offsets_with(specs, opts).await?;
        let mut out = BTreeMap::new();
        for (tp, r) in found {
            let o = r?;
            out.insert(tp, (o.offset, o.timestamp, o.leader_epoch));
        }
        Ok(out)
    }

    /// For each partition, the first offset whose record's timestamp is at
    /// or after the given one (ms since the epoch), or `None` when no such
    /// record exists (Java's `offsetsForTimes`). The positions do not move:
    /// [`seek`](Self::seek) to what you found. A negative timestamp is
    /// refused (use [`beginning_offsets`](Self::beginning_offsets) /
    /// [`end_offsets`](Self::end_offsets) for the ends).
    pub async fn offsets_for_times(
        &self,
        times: impl IntoIterator<Item = (impl Into<TopicPartition>, i64)>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        let mut specs = Vec::new();
        for (tp, ms) in times {
            let tp = tp.into();
            if ms < 0 {
                return Err(Error::InvalidArgument {
                    call: "offsets_for_times",
                    reason: format!(
                        "the target time for {tp} is {ms}: it cannot be negative \
                         (beginning_offsets and end_offsets look up the ends)"
                    ),
                });
            }
            specs.push((tp, OffsetSpec::Timestamp(ms)));
        }
        let found = self.list_offsets(specs).await?;
        Ok(found
            .into_iter()
            .map(|(tp, (offset, timestamp, leader_epoch))| {
                let hit = (offset >= 0).then_some(OffsetAndTimestamp {
                    offset,
                    timestamp,
                    leader_epoch,
                });
                (tp, hit)
            })
            .collect())
    }

    /// The first offset of each partition (its log start offset; Java's
    /// `beginningOffsets`).
    pub async fn beginning_offsets(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.ends(partitions, OffsetSpec::Earliest).await
    }

    /// The end offset of each partition: the offset the next record
    /// written gets (the high watermark), or with
    /// `isolation.level=read_committed` the last stable offset, as Java's
    /// `endOffsets`.
    pub async fn end_offsets(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.ends(partitions, OffsetSpec::Latest).await
    }

    async fn ends(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        let specs = partitions.into_iter().map(|p| (p.into(), spec)).collect();
        let found = self.list_offsets(specs).await?;
        Ok(found.into_iter().map(|(tp, (o, _, _))| (tp, o)).collect())
    }
}
