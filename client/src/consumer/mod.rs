//! The consumer: fetching, positions, offsets, and consumer groups.
//!
//! ```no_run
//! # async fn demo() -> purekafka::Result<()> {
//! use purekafka::config::ConsumerConfig;
//! use purekafka::consumer::Consumer;
//! use std::time::Duration;
//!
//! let consumer = Consumer::new(ConsumerConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("auto.offset.reset", "earliest"),
//! ])?).await?;
//! consumer.assign(&[("events", 0), ("events", 1)])?;
//! for record in consumer.poll(Duration::from_secs(1)).await? {
//!     println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
//! }
//! # Ok(()) }
//! ```
//!
//! A background task keeps a fetch in flight to every leader while the
//! application processes what `poll` returned; fetched data waits in a
//! buffer bounded by `fetch.max.bytes`, and is decoded (decompressed, control
//! batches skipped, aborted transactions filtered) in `poll`.
//!
//! Commits are at-least-once: a record `poll` returned (or a stream yielded)
//! becomes committable when the application asks for more (the next `poll`,
//! the stream's next record) or calls `commit()`/`close()`; auto-commit
//! commits only committable offsets. With `enable.auto.offset.store=false`,
//! only offsets given to [`Consumer::store_offset`] are committable.

pub(crate) mod backoff;
mod commit_callbacks;
mod coordinator;
#[cfg(test)]
mod cursor_tests;
mod fetch_session;
mod fetcher;
pub mod group;
mod group_metadata;
mod offset_lookup;
mod partitions;
pub mod stream;

use commit_callbacks::CommitCallback;
use coordinator::GroupCmd;
pub use coordinator::{Committed, OffsetAndMetadata, RebalanceListener};
pub use group_metadata::ConsumerGroupMetadata;
pub use offset_lookup::OffsetAndTimestamp;

use crate::config::{ConsumerConfig, IsolationLevel};
use crate::error::{Error, Result};
use crate::net::{Cluster, ClusterOptions};
use crate::partition_info;
use crate::{PartitionInfo, TopicPartition};
use bytes::Bytes;
use fetch_session::Tp;
use fetcher::CompletedFetch;
use partitions::{Next, PartitionStates};
use purekafka_protocol::records::{
    ControlRecordType, DecodeOptions, Headers, RecordBatches, TimestampType,
};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A record read from Kafka. Key, value and headers share the fetched
/// buffer: reading a record copies nothing.
#[derive(Debug, Clone)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Whether the timestamp is the producer's or the broker's.
    pub timestamp_type: TimestampType,
    /// Key; `None` is null.
    pub key: Option<Bytes>,
    /// Value; `None` is null.
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Headers,
}

impl ConsumerRecord {
    /// The record's topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }

    /// A record decoded from a fetched batch of `topic`-`partition` whose
    /// timestamps are of `timestamp_type` (the consumer's and the share
    /// consumer's reads): takes the record's buffers, copies nothing.
    #[inline]
    pub(crate) fn decoded(
        topic: Arc<str>,
        partition: i32,
        timestamp_type: TimestampType,
        r: purekafka_protocol::records::Record,
    ) -> Self {
        ConsumerRecord {
            topic,
            partition,
            offset: r.offset,
            timestamp: r.timestamp,
            timestamp_type,
            key: r.key,
            value: r.value,
            headers: r.headers,
        }
    }
}

/// What `poll_events` returns: records, and partition-EOF notices when
/// `enable.partition.eof` is on.
#[derive(Debug, Clone)]
pub enum ConsumerEvent {
    /// A record.
    Record(ConsumerRecord),
    /// The consumer reached the end of a partition (the seeds' `_PARTITION_EOF`).
    PartitionEof {
        /// Topic.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// The position: the high watermark at the time.
        offset: i64,
    },
}

/// Where `poll` puts what it takes: records only (`poll`, no conversion, no
/// second vector), or records and events (`poll_events`).
pub(crate) trait Sink {
    fn record(&mut self, r: ConsumerRecord);
    fn event(&mut self, e: ConsumerEvent);
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn truncate(&mut self, len: usize);
}

impl Sink for Vec<ConsumerRecord> {
    fn record(&mut self, r: ConsumerRecord) {
        self.push(r);
    }
    fn event(&mut self, _: ConsumerEvent) {}
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

impl Sink for Vec<ConsumerEvent> {
    fn record(&mut self, r: ConsumerRecord) {
        self.push(ConsumerEvent::Record(r));
    }
    fn event(&mut self, e: ConsumerEvent) {
        self.push(e);
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

/// Where a position comes from when it is reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start.
    Earliest,
    /// The high watermark (or last stable offset for read_committed).
    Latest,
    /// The first offset at or after a timestamp (ms).
    Timestamp(i64),
}

pub(crate) struct Inner {
    pub cfg: ConsumerConfig,
    pub cluster: Cluster,
    /// The one owner of partition state (see [`partitions`]): the
    /// application's calls, the fetch loop and the group task all go
    /// through it, and none awaits while holding the lock.
    state: Mutex<PartitionStates>,
    pub wake_fetcher: Notify,
    pub data: Notify,
    pub closed: AtomicBool,
    /// The group's last stable generation, as the group task published it
    /// (it owns the membership; this is a copy for [`Consumer::group_metadata`]).
    pub group_metadata: Mutex<Option<ConsumerGroupMetadata>>,
    /// What [`Consumer::subscription`] answers. The application's calls
    /// write it (so it is right as soon as `subscribe` returns); the group
    /// task writes a pattern's matched topics, only while that pattern is
    /// still the subscription (see [`Subscribed::publish`]).
    pub subscription: Mutex<Subscribed>,
}

/// The subscription as [`Consumer::subscription`] reports it.
#[derive(Debug, Default)]
pub(crate) struct Subscribed {
    /// Bumped at every subscribe, pattern subscribe and unsubscribe.
    pub seq: u64,
    /// The topics, sorted.
    pub topics: Vec<String>,
}

impl Subscribed {
    /// A new subscription (of these topics; none yet for a pattern):
    /// returns its sequence number.
    fn set(&mut self, topics: Vec<String>) -> u64 {
        self.seq += 1;
        self.topics = topics;
        self.topics.sort();
        self.topics.dedup();
        self.seq
    }

    /// The group task's view of subscription `seq` (a pattern's matched
    /// topics); ignored once the application subscribed anew.
    pub fn publish(&mut self, seq: u64, topics: impl IntoIterator<Item = String>) {
        if self.seq == seq {
            self.topics = topics.into_iter().collect();
            self.topics.sort();
            self.topics.dedup();
        }
    }
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, PartitionStates> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A Kafka consumer. Cheap to clone; all clones (and streams) share one
/// set of positions, tasks and connections.
///
/// [`Consumer::close`] is the graceful end: with `enable.auto.commit` it
/// commits what the application was handed (the last poll's records
/// included), then leaves the group, and waits (up to `request.timeout.ms`)
/// for both. Dropping the last clone (and every [`stream::RecordStream`])
/// without `close` stops fetching at once and, in the background without
/// blocking the dropping thread, leaves the group as `close` does (best
/// effort, within `request.timeout.ms`; a static member stays until its
/// session times out), then ends the consumer's tasks and closes its
/// connections. What drop does not do: commit the records the last `poll`
/// returned (the application never said it finished them; with
/// `enable.auto.commit`, only what was already committable is committed),
/// so the group's next owner reads them again. Only the end of the tokio
/// runtime cuts the leaving short (the session times out then).
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Inner>,
    group: Option<tokio::sync::mpsc::UnboundedSender<GroupCmd>>,
    _last: Arc<LastHandle>,
}

/// Dropped with the last [`Consumer`] clone: stops the fetcher. The group
/// task sees its command channel close (every sender is gone) and leaves.
struct LastHandle(Arc<Inner>);

impl Drop for LastHandle {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.wake_fetcher.notify_one();
        self.0.data.notify_waiters();
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("cluster", &self.inner.cluster)
            .finish()
    }
}

fn topic_partitions(parts: impl IntoIterator<Item = impl Into<TopicPartition>>) -> Vec<Tp> {
    parts.into_iter().map(Into::into).collect()
}

impl Consumer {
    /// Validates `config`, connects, and starts the fetcher.
    pub async fn new(config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let cluster = Cluster::connect(ClusterOptions::from_config(&config.client)).await?;
        let max_buffer_bytes = usize::try_from(config.fetch_max_bytes)
            .unwrap_or(50 << 20)
            .max(1 << 20);
        let inner = Arc::new(Inner {
            state: Mutex::new(PartitionStates::new(&config, max_buffer_bytes)),
            cfg: config,
            cluster,
            wake_fetcher: Notify::new(),
            data: Notify::new(),
            closed: AtomicBool::new(false),
            group_metadata: Mutex::new(None),
            subscription: Mutex::default(),
        });
        tokio::spawn(fetcher::run(inner.clone()));
        let group = if inner.cfg.group_id.is_some() {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(coordinator::run(inner.clone(), rx));
            Some(tx)
        } else {
            None
        };
        Ok(Consumer {
            _last: Arc::new(LastHandle(inner.clone())),
            inner,
            group,
        })
    }

    fn group(&self, what: &'static str) -> Result<&tokio::sync::mpsc::UnboundedSender<GroupCmd>> {
        self.group.as_ref().ok_or_else(|| {
            crate::error::ConfigError::new("group.id", format!("is required to {what}")).into()
        })
    }

    fn group_send(&self, what: &'static str, cmd: GroupCmd) -> Result<()> {
        self.group(what)?
            .send(cmd)
            .map_err(|_| Error::Closed("consumer"))
    }

    /// Joins the consumer group (`group.id`) subscribed to these topics; the
    /// group assigns partitions, and `poll` drives membership.
    pub fn subscribe(&self, topics: &[&str]) -> Result<()> {
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        self.group_send("subscribe", GroupCmd::Subscribe(topics.clone()))?;
        // After the send: a closed consumer's subscription stays as it was.
        self.subscribed().set(topics);
        Ok(())
    }

    fn subscribed(&self) -> MutexGuard<'_, Subscribed> {
        self.inner
            .subscription
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The subscribed topics, sorted (Java's `subscription()`): those given
    /// to [`subscribe`](Self::subscribe); with
    /// [`subscribe_pattern`](Self::subscribe_pattern), the topics it
    /// currently matches (with `group.protocol=classic`, those of the last
    /// metadata refresh that match; with `group.protocol=consumer`, where
    /// the broker evaluates the pattern, the topics it assigned this member
    /// partitions of). Empty before any subscription, after
    /// [`unsubscribe`](Self::unsubscribe), and for a consumer that only
    /// uses [`assign`](Self::assign).
    pub fn subscription(&self) -> Vec<String> {
        self.subscribed().topics.clone()
    }

    /// Subscribes to every topic matching `pattern` (a regular expression,
    /// matched against the whole name), picking up new matching topics as
    /// metadata refreshes. With `group.protocol=consumer` the broker
    /// evaluates it (KIP-848's SubscribedTopicRegex, RE2J syntax, which the
    /// `regex` crate's checked syntax is a close subset of) and assigns the
    /// matching topics, those created later included.
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            crate::error::ConfigError::new(
                "subscribe pattern",
                format!("{pattern:?} is not a valid regex: {e}"),
            )
        })?;
        self.group("subscribe")?;
        let seq = self.subscribed().set(Vec::new());
        self.group_send("subscribe", GroupCmd::SubscribePattern(re, seq))
    }

    /// Leaves the subscription (partitions are revoked).
    pub fn unsubscribe(&self) -> Result<()> {
        self.group_send("unsubscribe", GroupCmd::Unsubscribe)?;
        self.subscribed().set(Vec::new());
        Ok(())
    }

    /// The consumer's place in its group, for
    /// [`Producer::send_offsets_to_transaction`](crate::producer::Producer::send_offsets_to_transaction)
    /// (Java's `groupMetadata()`): the group id, `group.instance.id`, and the
    /// generation id (with `group.protocol=consumer`, the member epoch) and
    /// member id of the last generation the member joined. Before the first
    /// join: generation -1 and no member id. Take it just before committing
    /// a transaction: it changes with every rebalance, and the coordinator
    /// refuses offsets from an older generation (KIP-447). Fails without
    /// `group.id`.
    pub fn group_metadata(&self) -> Result<ConsumerGroupMetadata> {
        let Some(group_id) = &self.inner.cfg.group_id else {
            return Err(crate::error::ConfigError::new(
                "group.id",
                "is required for the consumer's group metadata",
            )
            .into());
        };
        let published = self
            .inner
            .group_metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Ok(published.unwrap_or_else(|| ConsumerGroupMetadata {
            group_instance_id: self.inner.cfg.group_instance_id.clone(),
            ..ConsumerGroupMetadata::new(group_id.clone())
        }))
    }

    /// Sets the callbacks run when the group assigns, revokes or loses partitions.
    pub fn set_rebalance_listener(&self, listener: Arc<dyn RebalanceListener>) -> Result<()> {
        self.group_send("set a rebalance listener", GroupCmd::Listener(listener))
    }

    /// Commits what the application was handed, and waits for the answer:
    /// the offset after the last record `poll` returned (or a stream
    /// yielded) per partition. With `enable.auto.offset.store=false`, only
    /// the offsets given to [`Consumer::store_offset`]. Returns what was
    /// committed: the offsets are read when the commit is sent, so a
    /// partition revoked since the last `poll` is left out (its new owner
    /// may already read from the older committed offset).
    ///
    /// While the group is rebalancing the commit is not sent: it fails at
    /// once with `REBALANCE_IN_PROGRESS` (as Java's `RebalanceInProgressException`);
    /// poll to complete the rebalance, then commit again.
    ///
    /// Waits up to `default.api.timeout.ms` (Java's `commitSync()`),
    /// retrying what a retry can fix (the coordinator moved, is loading or
    /// did not answer in time); then the last error.
    pub async fn commit(&self) -> Result<Committed> {
        self.commit_timeout(self.inner.cfg.default_api_timeout)
            .await
    }

    /// As [`commit`](Self::commit), waiting up to `timeout` (Java's
    /// `commitSync(Duration)`).
    pub async fn commit_timeout(&self, timeout: Duration) -> Result<Committed> {
        self.release_delivered();
        self.commit_offsets_inner(None, timeout).await
    }

    /// As [`Consumer::commit`], without waiting.
    pub fn commit_async(&self) -> Result<()> {
        self.commit_async_inner(None)
    }

    /// As [`Consumer::commit_async`], and `callback` learns how the commit
    /// ended (Java's `commitAsync(OffsetCommitCallback)`): what was
    /// committed, or why not. Callbacks run in the order their commits were
    /// asked for, even when a later one is answered first, on the consumer's
    /// group task: keep them short, they hold up heartbeats and rebalances.
    /// As Java's async commits, a failed one is not retried (a retried older
    /// commit could land after a newer one): the callback gets the error,
    /// retriable ones included ([`Error::is_retriable`]). A callback that
    /// panics does not stop the consumer: the panic is caught, logged, and
    /// the next `poll` returns [`Error::CallbackPanicked`]. Consumers
    /// dropped with commits in flight tell their callbacks
    /// [`Error::Closed`]. Fails at once (the callback is not called)
    /// without `group.id` or once the consumer is closed.
    pub fn commit_async_with(
        &self,
        callback: impl FnOnce(Result<Committed>) + Send + 'static,
    ) -> Result<()> {
        self.commit_async_inner(Some(Box::new(callback)))
    }

    /// Releases what was handed out and queues a commit of the stored
    /// offsets, answered to `callback` if there is one.
    fn commit_async_inner(&self, callback: Option<CommitCallback>) -> Result<()> {
        self.release_delivered();
        self.group_send(
            "commit",
            GroupCmd::Commit {
                offsets: None,
                reply: None,
                callback,
                timeout: None,
            },
        )
    }

    /// Commits explicit offsets (the next offset to read) with metadata, as
    /// Java's `commitSync(Map<TopicPartition, OffsetAndMetadata>)`: pairs of
    /// a partition (a [`TopicPartition`] or a `(topic, partition)` tuple)
    /// and its offset, from a slice, an array or a map. A consumer that uses
    /// [`Consumer::assign`] commits without a generation (as Java's does); a
    /// subscribed one fails at once during a rebalance (see
    /// [`Consumer::commit`]).
    pub async fn commit_offsets(
        &self,
        offsets: impl IntoIterator<Item = (impl Into<TopicPartition>, OffsetAndMetadata)>,
    ) -> Result<Committed> {
        let timeout = self.inner.cfg.default_api_timeout;
        self.commit_offsets_timeout(offsets, timeout).await
    }

    /// As [`commit_offsets`](Self::commit_offsets), waiting up to `timeout`
    /// (Java's `commitSync(Map, Duration)`).
    pub async fn commit_offsets_timeout(
        &self,
        offsets: impl IntoIterator<Item = (impl Into<TopicPartition>, OffsetAndMetadata)>,
        timeout: Duration,
    ) -> Result<Committed> {
        let offsets = offsets.into_iter().map(|(tp, o)| (tp.into(), o)).collect();
        self.commit_offsets_inner(Some(offsets), timeout).await
    }

    async fn commit_offsets_inner(
        &self,
        offsets: Option<Vec<(Tp, OffsetAndMetadata)>>,
        timeout: Duration,
    ) -> Result<Committed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.group_send(
            "commit",
            GroupCmd::Commit {
                offsets,
                reply: Some(tx),
                callback: None,
                timeout: Some(timeout),
            },
        )?;
        rx.await.map_err(|_| Error::Closed("consumer"))?
    }

    /// Makes the record at `offset` of a partition (and those before it)
    /// committable: auto-commit, [`Consumer::commit`] and
    /// [`Consumer::close`] commit `offset + 1`, the next offset to read.
    /// Call it once the application has processed the record. This is
    /// librdkafka's `rd_kafka_offset_store`: it requires
    /// `enable.auto.offset.store=false` (with the default `true`, records
    /// become committable when the next `poll` releases them), and the
    /// partition must be assigned.
    pub fn store_offset(&self, partition: impl Into<TopicPartition>, offset: i64) -> Result<()> {
        if self.inner.cfg.enable_auto_offset_store {
            return Err(crate::error::ConfigError::new(
                "enable.auto.offset.store",
                "must be false to store offsets with store_offset",
            )
            .into());
        }
        self.inner.lock().store_offset(&partition.into(), offset)
    }

    /// With `enable.auto.offset.store`: what the application was handed
    /// becomes committable.
    fn release_delivered(&self) {
        self.inner.lock().release_delivered();
    }

    /// A stream handed out `r` (see [`stream::RecordStream`]); `before` is
    /// the record it handed out before, now finished.
    pub(crate) fn yielded(&self, r: &ConsumerRecord, before: Option<&(Tp, i64)>) {
        let released = before.map(|(tp, o)| (tp, *o));
        self.inner
            .lock()
            .yielded(&r.topic_partition(), r.offset, released);
    }

    /// The group's committed offsets for these partitions (absent: none).
    /// Works without `subscribe` or `assign`, as long as `group.id` is set.
    /// Waits for the coordinator, and retries what it answers that a retry
    /// can fix (it moved or is loading, a transaction's offsets are still
    /// pending), up to `default.api.timeout.ms` (as Java's
    /// `committed(Set)`); see [`committed_timeout`](Self::committed_timeout)
    /// to say how long.
    pub async fn committed(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<std::collections::HashMap<TopicPartition, OffsetAndMetadata>> {
        let timeout = self.inner.cfg.default_api_timeout;
        self.committed_timeout(partitions, timeout).await
    }

    /// As [`committed`](Self::committed), waiting up to `timeout` (Java's
    /// `committed(Set, Duration)`); then the last retriable error (or
    /// COORDINATOR_NOT_AVAILABLE when the coordinator was not found).
    pub async fn committed_timeout(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
        timeout: Duration,
    ) -> Result<std::collections::HashMap<TopicPartition, OffsetAndMetadata>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.group_send(
            "read committed offsets",
            GroupCmd::Committed {
                tps: topic_partitions(partitions),
                reply: tx,
                timeout,
            },
        )?;
        rx.await.map_err(|_| Error::Closed("consumer"))?
    }

    /// Reads these partitions (replacing any earlier assignment), outside
    /// any group membership. With a `group.id`, new partitions start from
    /// the group's committed offset (looked up at the group's coordinator),
    /// else from `auto.offset.reset`; without one, from `auto.offset.reset`.
    /// With a `group.id`, commits work as with `subscribe` (they are sent
    /// without a generation, as Java's `assign` does).
    pub fn assign(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<()> {
        let tps = topic_partitions(partitions);
        self.inner
            .cluster
            .add_topics(tps.iter().map(TopicPartition::topic));
        // With a group, the group task looks up the committed offsets first.
        let added = self.inner.lock().assign(&tps, self.group.is_some());
        if self.group.is_some() && !added.is_empty() {
            self.group_send("assign", GroupCmd::Assign(added))?;
        }
        self.inner.wake_fetcher.notify_one();
        self.inner.data.notify_waiters();
        Ok(())
    }

    /// The partitions assigned.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.inner.lock().assignment()
    }

    /// Waits up to `timeout` for records; returns at most `max.poll.records`.
    /// An empty result means none arrived in time.
    ///
    /// With `enable.auto.offset.store` (the default), calling `poll` tells
    /// the consumer the application is done with what the previous `poll`
    /// returned: only then does it become committable (by auto-commit), so
    /// auto-commit never covers records still being processed.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.poll_into(
            timeout,
            Vec::with_capacity(self.inner.cfg.max_poll_records.clamp(1, 10_000)),
            true,
        )
        .await
    }

    /// As [`Consumer::poll`], with partition-EOF events.
    pub async fn poll_events(&self, timeout: Duration) -> Result<Vec<ConsumerEvent>> {
        self.poll_into(timeout, Vec::new(), true).await
    }

    /// As [`Consumer::poll`], but what it returns is not handed to the
    /// application yet: a stream marks records delivered as it yields them.
    pub(crate) async fn poll_for_stream(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.poll_into(
            timeout,
            Vec::with_capacity(self.inner.cfg.max_poll_records.clamp(1, 10_000)),
            false,
        )
        .await
    }

    /// `deliver`: what is taken counts as handed to the application.
    async fn poll_into<S: Sink>(&self, timeout: Duration, mut out: S, deliver: bool) -> Result<S> {
        // The application is done with what it was handed before (released
        // before the group task sees the poll, which may commit before a
        // rebalance).
        self.release_delivered();
        if let Some(g) = &self.group {
            // Tells the group this member is alive (max.poll.interval.ms).
            let _ = g.send(GroupCmd::Poll);
        }
        let deadline = Instant::now() + timeout;
        let max = self.inner.cfg.max_poll_records.max(1);
        loop {
            if self.inner.closed.load(Ordering::Acquire) {
                return Err(Error::Closed("consumer"));
            }
            let notified = self.inner.data.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(e) = self.take_records(max, &mut out, deliver) {
                if out.is_empty() {
                    return Err(e);
                }
                self.inner.lock().unread_error(e);
            }
            if !out.is_empty() {
                self.inner.wake_fetcher.notify_one();
                return Ok(out);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(out);
            }
        }
    }

    /// Moves up to `max` records (and pending events) into `out`; returns an
    /// error to raise, if any.
    fn take_records<S: Sink>(&self, max: usize, out: &mut S, deliver: bool) -> Option<Error> {
        let read_committed = self.inner.cfg.isolation_level == IsolationLevel::ReadCommitted;
        let opts = DecodeOptions {
            verify_crc: self.inner.cfg.check_crcs,
            ..DecodeOptions::default()
        };
        loop {
            // Take the current cursor, or the next completed fetch, out of the
            // lock; decode without holding it.
            let mut cursor = match self.inner.lock().next_read(out, opts) {
                Next::Error(e) => return Some(e),
                Next::Read(c) => c,
                Next::Empty => return None,
            };
            let before = out.len();
            let result = cursor.read(max.saturating_sub(out.len()), read_committed, out);
            if !self
                .inner
                .lock()
                .finish_read(cursor, deliver, result.is_ok())
            {
                // Seeked or unassigned while we read: drop what we read.
                out.truncate(before);
                continue;
            }
            if let Err(e) = result {
                return Some(e);
            }
            if out.len() >= max {
                return None;
            }
        }
    }

    /// Sets the next offset to read from a partition.
    pub fn seek(&self, partition: impl Into<TopicPartition>, offset: i64) -> Result<()> {
        // Wins over the committed offset being looked up (a seek in
        // `on_partitions_assigned`, say) and over a reset under way.
        self.inner.lock().seek(&partition.into(), offset)?;
        self.inner.wake_fetcher.notify_one();
        Ok(())
    }

    /// Reads these partitions from their first offset.
    pub fn seek_to_beginning(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<()> {
        self.seek_spec(partitions, OffsetSpec::Earliest)
    }

    /// Reads these partitions from their end (only new records).
    pub fn seek_to_end(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<()> {
        self.seek_spec(partitions, OffsetSpec::Latest)
    }

    fn seek_spec(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
        spec: OffsetSpec,
    ) -> Result<()> {
        self.inner
            .lock()
            .seek_to(&topic_partitions(partitions), spec)?;
        self.inner.wake_fetcher.notify_one();
        Ok(())
    }

    /// The next offset `poll` will return for a partition, waiting (up to
    /// `default.api.timeout.ms`, as Java's `position`) while it is being
    /// looked up (its committed offset, or `auto.offset.reset`'s). Fails at
    /// once for a partition not assigned; after the wait,
    /// [`Error::PositionTimeout`].
    pub async fn position(&self, partition: impl Into<TopicPartition>) -> Result<i64> {
        self.position_timeout(partition, self.inner.cfg.default_api_timeout)
            .await
    }

    /// As [`position`](Self::position), waiting up to `timeout` (Java's
    /// `position(TopicPartition, Duration)`).
    pub async fn position_timeout(
        &self,
        partition: impl Into<TopicPartition>,
        timeout: Duration,
    ) -> Result<i64> {
        let tp: Tp = partition.into();
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.data.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(p) = self.inner.lock().position(&tp)? {
                return Ok(p);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(Error::PositionTimeout {
                    topic: tp.topic.to_string(),
                    partition: tp.partition,
                    timeout,
                });
            }
        }
    }

    /// Stops fetching these partitions (positions are kept).
    pub fn pause(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<()> {
        self.set_paused(partitions, true)
    }

    /// Resumes fetching these partitions.
    pub fn resume(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<()> {
        self.set_paused(partitions, false)
    }

    fn set_paused(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
        paused: bool,
    ) -> Result<()> {
        self.inner
            .lock()
            .set_paused(&topic_partitions(partitions), paused)?;
        self.inner.wake_fetcher.notify_one();
        Ok(())
    }

    /// Paused partitions.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.inner.lock().paused()
    }

    /// The high watermark last seen for a partition (-1 before the first fetch).
    pub fn high_watermark(&self, partition: impl Into<TopicPartition>) -> Option<i64> {
        self.inner.lock().high_watermark(&partition.into())
    }

    /// Stops the consumer: with a group, commits what the application was
    /// handed (as [`Consumer::commit`]; when `enable.auto.commit` is on) and
    /// leaves the group (dynamic members; a static member stays until its
    /// session times out, as in Java).
    pub async fn close(&self) -> Result<()> {
        self.release_delivered();
        if let Some(g) = &self.group {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if g.send(GroupCmd::Close { reply: tx }).is_ok() {
                let _ = tokio::time::timeout(self.inner.cfg.client.request_timeout, rx).await;
            }
        }
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake_fetcher.notify_one();
        // A poll waiting for data returns at once (with Error::Closed).
        self.inner.data.notify_waiters();
        Ok(())
    }

    /// The partitions of `topic` (Java's `partitionsFor`): each one's
    /// leader, replicas and in-sync replicas, asked of any broker now.
    ///
    /// As in Java, a topic the cluster does not have has no partitions: an
    /// empty list, at once. With `allow.auto.create.topics` (the default)
    /// the request asks the broker to create it, if its
    /// `auto.create.topics.enable` allows; Kafka (KRaft) answers that request
    /// with UNKNOWN_TOPIC_OR_PARTITION while its controller creates the
    /// topic, so the list is empty then and the topic there moments later.
    /// Retriable failures are tried again for up to `default.api.timeout.ms`,
    /// then returned; a topic the broker refuses (authorization, an invalid
    /// name) is [`Error::Kafka`] naming it.
    pub async fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionInfo>> {
        self.partitions_for_timeout(topic, self.inner.cfg.default_api_timeout)
            .await
    }

    /// As [`partitions_for`](Self::partitions_for), retrying for up to
    /// `timeout` (Java's `partitionsFor(String, Duration)`).
    pub async fn partitions_for_timeout(
        &self,
        topic: &str,
        timeout: Duration,
    ) -> Result<Vec<PartitionInfo>> {
        let mut found = self.lookup_partitions(Some(&[topic]), timeout).await?;
        Ok(found.remove(topic).unwrap_or_default())
    }

    /// Every topic of the cluster with its partitions (Java's
    /// `listTopics`), internal topics included, by name. Waits as
    /// [`partitions_for`](Self::partitions_for) does.
    pub async fn list_topics(&self) -> Result<BTreeMap<String, Vec<PartitionInfo>>> {
        self.list_topics_timeout(self.inner.cfg.default_api_timeout)
            .await
    }

    /// As [`list_topics`](Self::list_topics), retrying for up to `timeout`
    /// (Java's `listTopics(Duration)`).
    pub async fn list_topics_timeout(
        &self,
        timeout: Duration,
    ) -> Result<BTreeMap<String, Vec<PartitionInfo>>> {
        self.lookup_partitions(None, timeout).await
    }

    async fn lookup_partitions(
        &self,
        topics: Option<&[&str]>,
        timeout: Duration,
    ) -> Result<BTreeMap<String, Vec<PartitionInfo>>> {
        let cfg = &self.inner.cfg;
        let retry = partition_info::Lookup {
            backoff: cfg.client.retry_backoff,
            backoff_max: cfg.client.retry_backoff_max,
            deadline: Instant::now() + timeout,
            timeout,
        };
        partition_info::lookup(&self.inner.cluster, topics, &retry).await
    }
}

/// Reading position inside one completed fetch.
pub(crate) struct Cursor {
    tp: Tp,
    seek_gen: u64,
    /// The partition position when reading started.
    start_position: i64,
    /// The offset after the last record (or skipped batch) read; saturates
    /// at `i64::MAX`.
    next_offset: i64,
    /// The record (or a skipped batch) at `i64::MAX` was read: no offset
    /// follows, so the partition has nothing left to fetch.
    past_end: bool,
    batches: RecordBatches,
    /// The batch being read: its records, timestamp type and last offset.
    records: Option<(purekafka_protocol::records::Records, TimestampType, i64)>,
    aborted: VecDeque<(i64, i64)>,
    aborted_producers: HashSet<i64>,
    done: bool,
}

impl Cursor {
    fn new(cf: CompletedFetch, opts: DecodeOptions) -> Cursor {
        Cursor {
            start_position: cf.fetch_offset,
            next_offset: cf.fetch_offset,
            past_end: false,
            batches: RecordBatches::with_options(cf.records, opts),
            records: None,
            aborted: cf
                .aborted
                .iter()
                .map(|a| (a.first_offset, a.producer_id))
                .collect(),
            aborted_producers: HashSet::new(),
            tp: cf.tp,
            seek_gen: cf.seek_gen,
            done: false,
        }
    }

    /// Moves the position past `last`, the offset of a record or the last
    /// offset of a skipped batch.
    fn passed(&mut self, last: i64) {
        self.next_offset = self.next_offset.max(last.saturating_add(1));
        self.past_end |= last == i64::MAX;
    }

    /// Appends up to `max` records to `out`. Records that do not decode
    /// end the read with [`Error::CorruptRecords`] at the first offset not
    /// read; what was read before them stays in `out`.
    fn read<S: Sink>(&mut self, max: usize, read_committed: bool, out: &mut S) -> Result<()> {
        self.read_records(max, read_committed, out)
            .map_err(|source| Error::CorruptRecords {
                topic: self.tp.topic.to_string(),
                partition: self.tp.partition,
                offset: self.next_offset,
                source,
            })
    }

    fn read_records<S: Sink>(
        &mut self,
        max: usize,
        read_committed: bool,
        out: &mut S,
    ) -> Result<(), purekafka_protocol::DecodeError> {
        let mut n = 0;
        while n < max {
            if let Some((records, ts_type, batch_last)) = self.records.as_mut() {
                match records.next() {
                    Some(r) => {
                        let r = r?;
                        if r.offset < self.start_position {
                            continue; // fetched from inside a batch
                        }
                        let ts_type = *ts_type;
                        // Saturates: a broker's offset may be i64::MAX.
                        self.passed(r.offset);
                        let (topic, partition) = (self.tp.topic.clone(), self.tp.partition);
                        out.record(ConsumerRecord::decoded(topic, partition, ts_type, r));
                        n += 1;
                        continue;
                    }
                    None => {
                        // Offsets compacted away at the batch's end are skipped too.
                        let last = *batch_last;
                        self.passed(last);
                        self.records = None;
                    }
                }
            }
            let Some(batch) = self.batches.next() else {
                self.done = true;
                return Ok(());
            };
            let batch = batch?;
            let h = *batch.header();
            let last = h.last_offset();
            if read_committed && h.producer_id >= 0 {
                while let Some(&(first, pid)) = self.aborted.front() {
                    if first > h.last_offset() {
                        break;
                    }
                    self.aborted_producers.insert(pid);
                    self.aborted.pop_front();
                }
                if batch.is_control() {
                    if let Ok(Some(c)) = batch.control_record()
                        && c.kind == ControlRecordType::Abort
                    {
                        self.aborted_producers.remove(&h.producer_id);
                    }
                    self.passed(last);
                    continue;
                }
                if h.is_transactional() && self.aborted_producers.contains(&h.producer_id) {
                    self.passed(last);
                    continue;
                }
            }
            if batch.is_control() {
                self.passed(last);
                continue;
            }
            if last < self.start_position {
                continue; // entirely before the position
            }
            self.records = Some((batch.records()?, h.timestamp_type(), last));
        }
        Ok(())
    }
}
