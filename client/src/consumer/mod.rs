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
mod coordinator;
#[cfg(test)]
mod cursor_tests;
pub mod fetch_session;
mod fetcher;
pub mod group;
pub mod stream;

use coordinator::GroupCmd;
pub use coordinator::{Committed, OffsetAndMetadata, RebalanceListener};

use crate::config::{ConsumerConfig, IsolationLevel, OffsetReset};
use crate::error::{Error, Result};
use crate::net::{Cluster, ClusterOptions};
use bytes::Bytes;
use fetch_session::Tp;
use fetcher::CompletedFetch;
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

/// A number never handed out before: seek generations are unique across
/// partitions and assignments, so a fetch or cursor from before a seek, a
/// revocation or a reassignment can never pass for a current one.
pub(crate) fn next_gen() -> u64 {
    static GEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    GEN.fetch_add(1, Ordering::Relaxed)
}

#[derive(Debug)]
pub(crate) struct PartState {
    pub position: Option<i64>,
    pub leader_epoch: i32,
    pub paused: bool,
    pub reset: Option<OffsetSpec>,
    pub reset_in_flight: bool,
    pub fetch_in_flight: bool,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub eof_sent: bool,
    /// Bumped by every seek: fetches made before it are dropped.
    pub seek_gen: u64,
    /// The offset last committed (or read from the group) for it.
    pub committed: Option<i64>,
    /// Waiting for the group's committed offset (group assignment, or
    /// `assign()` with a `group.id`); a seek ends the wait.
    pub awaiting_committed: bool,
    /// The offset after the last record handed to the application (returned
    /// by `poll`, or yielded by a stream). Not committable yet: with
    /// `enable.auto.offset.store`, the next poll (or `commit()`/`close()`)
    /// releases it into `stored`.
    pub delivered: Option<i64>,
    /// The offset auto-commit, `commit()` and `close()` commit: released
    /// deliveries, or `store_offset`.
    pub stored: Option<i64>,
    /// Fetches and ListOffsets for it failed this many times in a row.
    pub failures: u32,
    /// After a failure: no Fetch or ListOffsets for it before then
    /// (`retry.backoff.ms`, doubling up to `retry.backoff.max.ms`).
    pub retry_at: Option<Instant>,
}

impl Default for PartState {
    fn default() -> Self {
        PartState {
            position: None,
            leader_epoch: -1,
            paused: false,
            reset: None,
            reset_in_flight: false,
            fetch_in_flight: false,
            high_watermark: -1,
            last_stable_offset: -1,
            eof_sent: false,
            seek_gen: next_gen(),
            committed: None,
            awaiting_committed: false,
            delivered: None,
            stored: None,
            failures: 0,
            retry_at: None,
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub parts: BTreeMap<Tp, PartState>,
    pub buffer: VecDeque<CompletedFetch>,
    pub buffered_bytes: usize,
    pub events: VecDeque<ConsumerEvent>,
    pub errors: VecDeque<Error>,
    /// A partly read fetch, kept between polls.
    pub current: Option<Cursor>,
}

impl State {
    /// Makes everything handed to the application committable (the
    /// application asked for more, or commits or closes: it is done with it).
    pub(crate) fn release_delivered(&mut self) {
        for ps in self.parts.values_mut() {
            if ps.delivered.is_some() {
                ps.stored = ps.delivered;
            }
        }
    }

    /// A stream yielded `offset` of `tp`; `released` is the record it
    /// yielded before, which the application has now finished (with
    /// `enable.auto.offset.store`; `None` without).
    pub(crate) fn yielded(&mut self, tp: &Tp, offset: i64, released: Option<(&Tp, i64)>) {
        if let Some((prev, at)) = released
            && let Some(ps) = self.parts.get_mut(prev)
        {
            let next = at.saturating_add(1);
            // Only a delivery of this assignment of the partition.
            if ps.delivered == Some(next) {
                ps.stored = Some(next);
            }
        }
        if let Some(ps) = self.parts.get_mut(tp)
            && ps.position.is_some_and(|p| p > offset)
        {
            ps.delivered = Some(offset.saturating_add(1));
        }
    }

    /// The stored offsets not committed yet (of `only`, when given).
    pub(crate) fn offsets_to_commit(&self, only: Option<&[Tp]>) -> Vec<(Tp, OffsetAndMetadata)> {
        self.parts
            .iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .filter_map(|(tp, ps)| {
                let offset = ps.stored?;
                (Some(offset) != ps.committed).then(|| {
                    (
                        tp.clone(),
                        OffsetAndMetadata {
                            offset,
                            metadata: None,
                        },
                    )
                })
            })
            .collect()
    }
}

pub(crate) struct Inner {
    pub cfg: ConsumerConfig,
    pub cluster: Cluster,
    state: Mutex<State>,
    pub wake_fetcher: Notify,
    pub data: Notify,
    pub closed: AtomicBool,
    pub max_buffer_bytes: usize,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
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

fn topic_partitions<'a>(parts: impl IntoIterator<Item = &'a (&'a str, i32)>) -> Vec<Tp> {
    parts
        .into_iter()
        .map(|(t, p)| (Arc::from(*t), *p))
        .collect()
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
            cfg: config,
            cluster,
            state: Mutex::new(State::default()),
            wake_fetcher: Notify::new(),
            data: Notify::new(),
            closed: AtomicBool::new(false),
            max_buffer_bytes,
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
        self.group_send(
            "subscribe",
            GroupCmd::Subscribe(topics.iter().map(|t| t.to_string()).collect()),
        )
    }

    /// Subscribes to every topic matching `pattern` (a regular expression,
    /// matched against the whole name), picking up new matching topics as
    /// metadata refreshes.
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            crate::error::ConfigError::new(
                "subscribe pattern",
                format!("{pattern:?} is not a valid regex: {e}"),
            )
        })?;
        self.group_send("subscribe", GroupCmd::SubscribePattern(re))
    }

    /// Leaves the subscription (partitions are revoked).
    pub fn unsubscribe(&self) -> Result<()> {
        self.group_send("unsubscribe", GroupCmd::Unsubscribe)
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
    pub async fn commit(&self) -> Result<Committed> {
        self.release_delivered();
        self.commit_offsets_inner(None).await
    }

    /// As [`Consumer::commit`], without waiting.
    pub fn commit_async(&self) -> Result<()> {
        self.release_delivered();
        self.group_send(
            "commit",
            GroupCmd::Commit {
                offsets: None,
                reply: None,
            },
        )
    }

    /// Commits explicit offsets (the next offset to read) with metadata. A
    /// consumer that uses [`Consumer::assign`] commits without a generation
    /// (as Java's does); a subscribed one fails at once during a rebalance
    /// (see [`Consumer::commit`]).
    pub async fn commit_offsets(
        &self,
        offsets: &[(&str, i32, OffsetAndMetadata)],
    ) -> Result<Committed> {
        let offsets = offsets
            .iter()
            .map(|(t, p, o)| ((Arc::from(*t), *p), o.clone()))
            .collect();
        self.commit_offsets_inner(Some(offsets)).await
    }

    async fn commit_offsets_inner(
        &self,
        offsets: Option<Vec<(Tp, OffsetAndMetadata)>>,
    ) -> Result<Committed> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.group_send(
            "commit",
            GroupCmd::Commit {
                offsets,
                reply: Some(tx),
            },
        )?;
        rx.await.map_err(|_| Error::Closed("consumer"))?
    }

    /// Makes the record at `offset` of `topic`/`partition` (and those
    /// before it) committable: auto-commit, [`Consumer::commit`] and
    /// [`Consumer::close`] commit `offset + 1`, the next offset to read.
    /// Call it once the application has processed the record. This is
    /// librdkafka's `rd_kafka_offset_store`: it requires
    /// `enable.auto.offset.store=false` (with the default `true`, records
    /// become committable when the next `poll` releases them), and the
    /// partition must be assigned.
    pub fn store_offset(&self, topic: &str, partition: i32, offset: i64) -> Result<()> {
        if self.inner.cfg.enable_auto_offset_store {
            return Err(crate::error::ConfigError::new(
                "enable.auto.offset.store",
                "must be false to store offsets with store_offset",
            )
            .into());
        }
        let mut st = self.inner.lock();
        let ps = st
            .parts
            .get_mut(&(Arc::from(topic), partition))
            .ok_or_else(|| not_assigned(topic, partition))?;
        ps.stored = Some(offset.saturating_add(1));
        Ok(())
    }

    /// With `enable.auto.offset.store`: what the application was handed
    /// becomes committable.
    fn release_delivered(&self) {
        if self.inner.cfg.enable_auto_offset_store {
            self.inner.lock().release_delivered();
        }
    }

    /// A stream handed out `r` (see [`stream::RecordStream`]); `before` is
    /// the record it handed out before, now finished.
    pub(crate) fn yielded(&self, r: &ConsumerRecord, before: Option<&(Tp, i64)>) {
        let released = before
            .filter(|_| self.inner.cfg.enable_auto_offset_store)
            .map(|(tp, o)| (tp, *o));
        self.inner
            .lock()
            .yielded(&(r.topic.clone(), r.partition), r.offset, released);
    }

    /// The group's committed offsets for these partitions (absent: none).
    /// Works without `subscribe` or `assign`, as long as `group.id` is set.
    pub async fn committed(
        &self,
        partitions: &[(&str, i32)],
    ) -> Result<std::collections::HashMap<(Arc<str>, i32), OffsetAndMetadata>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.group_send(
            "read committed offsets",
            GroupCmd::Committed {
                tps: topic_partitions(partitions),
                reply: tx,
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
    pub fn assign(&self, partitions: &[(&str, i32)]) -> Result<()> {
        let tps = topic_partitions(partitions);
        self.inner.cluster.add_topics(tps.iter().map(|tp| &*tp.0));
        let spec = match self.inner.cfg.auto_offset_reset {
            OffsetReset::Earliest => Some(OffsetSpec::Earliest),
            OffsetReset::Latest => Some(OffsetSpec::Latest),
            OffsetReset::None => None,
        };
        let mut added = Vec::new();
        {
            let mut st = self.inner.lock();
            let wanted: HashSet<&Tp> = tps.iter().collect();
            st.parts.retain(|tp, _| wanted.contains(tp));
            st.buffer.retain(|c| wanted.contains(&c.tp));
            st.buffered_bytes = st.buffer.iter().map(|c| c.records.len()).sum();
            if st.current.as_ref().is_some_and(|c| !wanted.contains(&c.tp)) {
                st.current = None;
            }
            for tp in tps.iter() {
                if st.parts.contains_key(tp) {
                    continue;
                }
                let mut ps = PartState::default();
                match spec {
                    // The group task looks up the committed offset first.
                    _ if self.group.is_some() => {
                        ps.awaiting_committed = true;
                        added.push(tp.clone());
                    }
                    Some(s) => ps.reset = Some(s),
                    None => st.errors.push_back(Error::Kafka {
                        code: purekafka_protocol::ErrorCode::OFFSET_OUT_OF_RANGE,
                        api: "ListOffsets",
                        topic: Some(tp.0.to_string()),
                        partition: Some(tp.1),
                        message: Some("no committed offset and auto.offset.reset=none".into()),
                    }),
                }
                st.parts.insert(tp.clone(), ps);
            }
        }
        if !added.is_empty() {
            self.group_send("assign", GroupCmd::Assign(added))?;
        }
        self.inner.wake_fetcher.notify_one();
        Ok(())
    }

    /// The partitions assigned.
    pub fn assignment(&self) -> Vec<(Arc<str>, i32)> {
        self.inner.lock().parts.keys().cloned().collect()
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
                self.inner.lock().errors.push_front(e);
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
            let mut cursor = {
                let mut st = self.inner.lock();
                if let Some(e) = st.errors.pop_front() {
                    return Some(e);
                }
                while let Some(ev) = st.events.pop_front() {
                    out.event(ev);
                }
                match st.current.take() {
                    Some(c) => c,
                    None => match st.buffer.pop_front() {
                        Some(cf) => {
                            st.buffered_bytes = st.buffered_bytes.saturating_sub(cf.records.len());
                            Cursor::new(cf, opts)
                        }
                        None => return None,
                    },
                }
            };
            let before = out.len();
            let result = cursor.read(max.saturating_sub(out.len()), read_committed, out);
            let mut st = self.inner.lock();
            let valid = st.parts.get(&cursor.tp).is_some_and(|ps| {
                ps.seek_gen == cursor.seek_gen && ps.position == Some(cursor.start_position)
            });
            if !valid {
                // Seeked or unassigned while we read: drop what we read.
                out.truncate(before);
                continue;
            }
            if let Some(ps) = st.parts.get_mut(&cursor.tp) {
                ps.position = Some(cursor.next_offset.max(cursor.start_position));
                ps.eof_sent = false;
                if deliver {
                    ps.delivered = ps.position;
                }
            }
            cursor.start_position = cursor.next_offset.max(cursor.start_position);
            if let Err(e) = result {
                let e = Error::Decode {
                    broker: "fetch".into(),
                    api: "Fetch",
                    version: -1,
                    source: e,
                };
                return Some(e);
            }
            if !cursor.done {
                st.current = Some(cursor);
            }
            if out.len() >= max {
                return None;
            }
        }
    }

    /// Sets the next offset to read from a partition.
    pub fn seek(&self, topic: &str, partition: i32, offset: i64) -> Result<()> {
        let mut st = self.inner.lock();
        let tp: Tp = (Arc::from(topic), partition);
        let ps = st
            .parts
            .get_mut(&tp)
            .ok_or_else(|| not_assigned(topic, partition))?;
        ps.position = Some(offset);
        ps.reset = None;
        ps.seek_gen = next_gen();
        ps.eof_sent = false;
        // A seek (in `on_partitions_assigned`, say) wins over the committed
        // offset being looked up.
        ps.awaiting_committed = false;
        drop_buffered(&mut st, &tp);
        drop(st);
        self.inner.wake_fetcher.notify_one();
        Ok(())
    }

    /// Reads these partitions from their first offset.
    pub fn seek_to_beginning(&self, partitions: &[(&str, i32)]) -> Result<()> {
        self.seek_spec(partitions, OffsetSpec::Earliest)
    }

    /// Reads these partitions from their end (only new records).
    pub fn seek_to_end(&self, partitions: &[(&str, i32)]) -> Result<()> {
        self.seek_spec(partitions, OffsetSpec::Latest)
    }

    fn seek_spec(&self, partitions: &[(&str, i32)], spec: OffsetSpec) -> Result<()> {
        let mut st = self.inner.lock();
        for tp in topic_partitions(partitions) {
            let ps = st
                .parts
                .get_mut(&tp)
                .ok_or_else(|| not_assigned(&tp.0, tp.1))?;
            ps.start_reset(spec);
            ps.awaiting_committed = false;
            drop_buffered(&mut st, &tp);
        }
        drop(st);
        self.inner.wake_fetcher.notify_one();
        Ok(())
    }

    /// The next offset `poll` will return for a partition, waiting (up to
    /// `request.timeout.ms`) while it is being looked up.
    pub async fn position(&self, topic: &str, partition: i32) -> Result<i64> {
        let tp: Tp = (Arc::from(topic), partition);
        let deadline = Instant::now() + self.inner.cfg.client.request_timeout;
        loop {
            let notified = self.inner.data.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.inner.lock();
                let ps = st
                    .parts
                    .get(&tp)
                    .ok_or_else(|| not_assigned(topic, partition))?;
                if let Some(p) = ps.position {
                    return Ok(p);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(Error::RequestTimeout {
                    broker: "partition leader".into(),
                    api: "ListOffsets",
                    timeout: self.inner.cfg.client.request_timeout,
                });
            }
        }
    }

    /// Stops fetching these partitions (positions are kept).
    pub fn pause(&self, partitions: &[(&str, i32)]) -> Result<()> {
        self.set_paused(partitions, true)
    }

    /// Resumes fetching these partitions.
    pub fn resume(&self, partitions: &[(&str, i32)]) -> Result<()> {
        self.set_paused(partitions, false)
    }

    fn set_paused(&self, partitions: &[(&str, i32)], paused: bool) -> Result<()> {
        let mut st = self.inner.lock();
        for tp in topic_partitions(partitions) {
            let ps = st
                .parts
                .get_mut(&tp)
                .ok_or_else(|| not_assigned(&tp.0, tp.1))?;
            ps.paused = paused;
            if paused {
                // Keep what was fetched but do not return it until resumed.
                drop_buffered(&mut st, &tp);
                if let Some(ps) = st.parts.get_mut(&tp) {
                    ps.seek_gen = next_gen();
                }
            }
        }
        drop(st);
        self.inner.wake_fetcher.notify_one();
        Ok(())
    }

    /// Paused partitions.
    pub fn paused(&self) -> Vec<(Arc<str>, i32)> {
        self.inner
            .lock()
            .parts
            .iter()
            .filter(|(_, p)| p.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The high watermark last seen for a partition (-1 before the first fetch).
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        self.inner
            .lock()
            .parts
            .get(&(Arc::from(topic), partition))
            .map(|p| p.high_watermark)
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

    /// The cluster this consumer talks to.
    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }
}

fn not_assigned(topic: &str, partition: i32) -> Error {
    Error::UnknownPartition {
        topic: format!("{topic} (not assigned to this consumer)"),
        partition,
        count: 0,
    }
}

pub(crate) fn drop_buffered(st: &mut State, tp: &Tp) {
    let before = st.buffer.len();
    st.buffer.retain(|c| &c.tp != tp);
    if st.buffer.len() != before {
        st.buffered_bytes = st.buffer.iter().map(|c| c.records.len()).sum();
    }
    if st.current.as_ref().is_some_and(|c| &c.tp == tp) {
        st.current = None;
    }
}

/// Reading position inside one completed fetch.
pub(crate) struct Cursor {
    tp: Tp,
    seek_gen: u64,
    /// The partition position when reading started.
    start_position: i64,
    /// The offset after the last record (or skipped batch) read.
    next_offset: i64,
    batches: RecordBatches,
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

    /// Appends up to `max` records to `out`.
    fn read<S: Sink>(
        &mut self,
        max: usize,
        read_committed: bool,
        out: &mut S,
    ) -> Result<(), purekafka_protocol::DecodeError> {
        let mut n = 0;
        while n < max {
            if let Some((records, ts_type, batch_next)) = self.records.as_mut() {
                match records.next() {
                    Some(r) => {
                        let r = r?;
                        if r.offset < self.start_position {
                            continue; // fetched from inside a batch
                        }
                        // Saturates: a broker's offset may be i64::MAX.
                        self.next_offset = r.offset.saturating_add(1);
                        out.record(ConsumerRecord {
                            topic: self.tp.0.clone(),
                            partition: self.tp.1,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            timestamp_type: *ts_type,
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                        });
                        n += 1;
                        continue;
                    }
                    None => {
                        // Offsets compacted away at the batch's end are skipped too.
                        self.next_offset = self.next_offset.max(*batch_next);
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
            let next = h.next_offset();
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
                    self.next_offset = self.next_offset.max(next);
                    continue;
                }
                if h.is_transactional() && self.aborted_producers.contains(&h.producer_id) {
                    self.next_offset = self.next_offset.max(next);
                    continue;
                }
            }
            if batch.is_control() {
                self.next_offset = self.next_offset.max(next);
                continue;
            }
            if next <= self.start_position {
                continue;
            }
            self.records = Some((batch.records()?, h.timestamp_type(), next));
        }
        Ok(())
    }
}

#[cfg(test)]
mod offset_store_tests {
    //! What becomes committable, on the shared state alone (no sockets).
    use super::*;

    fn tp(p: i32) -> Tp {
        (Arc::from("t"), p)
    }

    fn state(parts: &[(i32, i64)]) -> State {
        let mut st = State::default();
        for &(p, position) in parts {
            st.parts.insert(
                tp(p),
                PartState {
                    position: Some(position),
                    ..PartState::default()
                },
            );
        }
        st
    }

    fn to_commit(st: &State) -> Vec<(i32, i64)> {
        st.offsets_to_commit(None)
            .into_iter()
            .map(|(tp, o)| (tp.1, o.offset))
            .collect()
    }

    #[test]
    fn delivered_records_are_committable_only_once_released() {
        let mut st = state(&[(0, 10), (1, 3)]);
        if let Some(ps) = st.parts.get_mut(&tp(0)) {
            ps.delivered = Some(10);
        }
        assert!(to_commit(&st).is_empty(), "handed out, not released");
        st.release_delivered();
        assert_eq!(to_commit(&st), vec![(0, 10)], "nothing delivered on 1");
        if let Some(ps) = st.parts.get_mut(&tp(0)) {
            ps.committed = Some(10);
        }
        assert!(to_commit(&st).is_empty(), "already committed");
    }

    #[test]
    fn a_yielded_record_is_released_by_the_next_one() {
        // A poll for the stream read 0..100 (position 100) and delivered nothing.
        let mut st = state(&[(0, 100)]);
        st.yielded(&tp(0), 0, None);
        assert!(to_commit(&st).is_empty());
        st.yielded(&tp(0), 1, Some((&tp(0), 0)));
        assert_eq!(to_commit(&st), vec![(0, 1)], "record 0 finished");
        // commit()/close() release the one being processed too.
        st.release_delivered();
        assert_eq!(to_commit(&st), vec![(0, 2)]);
    }

    #[test]
    fn a_yield_from_another_assignment_of_the_partition_is_ignored() {
        // Offset 150 was read before the partition was revoked and assigned
        // again at 120: it is not this assignment's delivery.
        let mut st = state(&[(0, 120)]);
        st.yielded(&tp(0), 150, None);
        st.yielded(&tp(0), 151, Some((&tp(0), 150)));
        st.release_delivered();
        assert!(to_commit(&st).is_empty(), "{:?}", to_commit(&st));
    }
}
