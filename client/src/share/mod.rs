//! Share groups (KIP-932, Kafka 4.2+): queue-like consumption. The members
//! of a share group read the same partitions together; the broker hands
//! each record to one member at a time, locked for
//! `group.share.record.lock.duration.ms`, and the member accepts, releases
//! (to be delivered again, with a higher delivery count) or rejects it.
//! Java's `KafkaShareConsumer`.
//!
//! ```no_run
//! use purekafka::config::ConsumerConfig;
//! use purekafka::share::{AcknowledgeType, ShareConsumer};
//! use std::time::Duration;
//!
//! # async fn demo() -> purekafka::Result<()> {
//! let consumer = ShareConsumer::new(ConsumerConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("group.id", "workers"),
//!     ("share.acknowledgement.mode", "explicit"),
//! ])?).await?;
//! consumer.subscribe(&["jobs"])?;
//! loop {
//!     for record in consumer.poll(Duration::from_secs(1)).await? {
//!         let outcome = match record.value.as_deref() {
//!             Some(b"poison") => AcknowledgeType::Reject,
//!             Some(_) => AcknowledgeType::Accept,
//!             None => AcknowledgeType::Release,
//!         };
//!         consumer.acknowledge(&record, outcome)?;
//!     }
//!     // Acknowledgements also ride on the next poll's fetches; this waits
//!     // for the broker's answer.
//!     for (partition, result) in consumer.commit_sync(Duration::from_secs(5)).await? {
//!         if let Err(e) = result {
//!             eprintln!("{partition}: {e}");
//!         }
//!     }
//! #   break;
//! }
//! consumer.close(Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```
//!
//! How it works:
//! - Membership: a background task heartbeats (ShareGroupHeartbeat, see
//!   `membership.rs`) with the group's coordinator; the broker assigns the
//!   partitions. A fatal membership error (the group denied, say) is
//!   returned from the next `poll`.
//! - Fetching: `poll` sends a ShareFetch to the leader of each assigned
//!   partition (one in flight per broker, each in its share session, see
//!   `session.rs`) when nothing is buffered, with the acknowledgements
//!   pending for that broker's partitions piggy-backed. Only the records
//!   the broker says this member acquired are returned, each with its
//!   delivery count. A poll returns whole record batches until it has
//!   `max.poll.records` or more, as Java's does (it never splits a batch),
//!   so what one fetch acquired normally goes out in one poll instead of
//!   waiting in the buffer while its locks run. Like Java, the consumer
//!   keeps no clock on a record's lock: one still buffered when its lock
//!   runs out is returned anyway, and its acknowledgement fails with
//!   INVALID_RECORD_STATE (see [`ShareConsumer::acquisition_lock_timeout`]).
//! - Acknowledgement (`share.acknowledgement.mode`): `implicit` (the
//!   default) accepts every record of a poll at the next `poll`,
//!   `commit_sync`, `commit_async` or `close`; `explicit` wants
//!   [`ShareConsumer::acknowledge`] for each, and `poll` refuses to go on
//!   while a record of the last poll has none. Acknowledgements go out on
//!   the next ShareFetch to the partition's leader, or at once with
//!   `commit_sync` / `commit_async` (ShareAcknowledge, retried on
//!   retriable errors until the commit's timeout, see `commit.rs`). Results
//!   come back from `commit_sync` per partition, and to the callback set
//!   with [`ShareConsumer::set_acknowledgement_commit_callback`] for every
//!   acknowledgement sent. As in Java, acknowledgements that rode on a
//!   ShareFetch that failed are reported failed and not sent again (the
//!   records come back once their locks time out).
//! - `close` sends what is pending, closes every share session
//!   (ShareAcknowledge at epoch -1) and leaves the group (heartbeat at
//!   epoch -1); the broker releases the records still acquired. Dropping
//!   the consumer without `close` stops its tasks and closes its
//!   connections: its records are delivered to others once their locks
//!   time out.
//!
//! Settings: the consumer's `group.id` (required), `share.acknowledgement.mode`,
//! `share.acquire.mode` (`batch_optimized`, the default: the broker may lock
//! whole batches, more than `max.poll.records`, and a poll returns them;
//! `record_limit`: at most `max.poll.records` per fetch),
//! `max.poll.records` (ShareFetch's MaxRecords and BatchSize; a poll may
//! return more, to finish a record batch, as in Java),
//! `fetch.max.wait.ms`, `fetch.min.bytes`, `fetch.max.bytes`, `check.crcs`,
//! `client.rack`, `max.poll.interval.ms` (a member that does not poll this
//! long leaves the group and closes its share sessions, so its records go
//! to the others at once; its next poll rejoins), and the client settings. As in Java, the settings of
//! consumer groups that a share group does not have are refused:
//! `group.instance.id`, `enable.auto.commit`, `auto.offset.reset`,
//! `isolation.level`, `partition.assignment.strategy`, `session.timeout.ms`,
//! `heartbeat.interval.ms` (the group's configs `share.auto.offset.reset`,
//! `share.isolation.level` and the broker's `group.share.*` settings are
//! their equivalents).

mod acks;
mod commit;
pub(crate) mod membership;
mod records;
pub(crate) mod session;

pub use acks::AcknowledgeType;

use crate::TopicPartition;
use crate::config::{ConsumerConfig, ShareAcknowledgementMode, ShareAcquireMode};
use crate::consumer::ConsumerRecord;
use crate::error::{ConfigError, Error, Result};
use crate::net::coordinator::{
    CoordinatorType, RetryPolicy, coordinator_connection, find_coordinator,
};
use crate::net::{BrokerInfo, Cluster, ClusterOptions};
use acks::{AckBatch, InFlight, Pending, SharePartition};
use commit::{AckCommit, CommitSettings, Step};
use membership::{Action, ShareMembership, ShareMembershipConfig};
use purekafka_protocol::messages::{
    ShareAcknowledgeResponse, ShareFetchRequest, ShareFetchResponse,
};
use purekafka_protocol::records::DecodeOptions;
use purekafka_protocol::{ErrorCode, Uuid};
use session::{FetchLimits, ShareSession};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::{Deref, RangeInclusive};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A record a share consumer received: the record, and how many times the
/// broker has delivered it (1 the first time).
#[derive(Debug, Clone)]
pub struct ShareRecord {
    /// The record (`record.value`, or `value` through `Deref`).
    pub record: ConsumerRecord,
    /// How many times the broker has delivered this record, this delivery
    /// included.
    pub delivery_count: u16,
}

impl Deref for ShareRecord {
    type Target = ConsumerRecord;

    fn deref(&self) -> &ConsumerRecord {
        &self.record
    }
}

/// The outcome of acknowledgements sent for one partition, as the
/// acknowledgement commit callback gets it.
#[derive(Debug, Clone)]
pub struct AcknowledgementResult {
    /// The partition.
    pub partition: TopicPartition,
    /// The offsets acknowledged (ranges, gaps the client acknowledged
    /// itself left out).
    pub offsets: Vec<RangeInclusive<i64>>,
    /// `Ok`, or why the broker did not take them (the records are then
    /// delivered again once their locks time out, if they were acquired).
    pub result: Result<()>,
}

type AckCallback = Arc<dyn Fn(&[AcknowledgementResult]) + Send + Sync>;

/// A buffered fetch: one partition's acquired records.
struct Buffered {
    part: SharePartition,
    records: VecDeque<ShareRecord>,
    /// How many of `records` each record batch holds, in order.
    batches: VecDeque<usize>,
}

struct State {
    membership: ShareMembership,
    /// The subscription, as the application gave it.
    subscription: BTreeSet<String>,
    buffer: VecDeque<Buffered>,
    in_flight: InFlight,
    pending: Pending,
    /// Brokers with a ShareFetch or ShareAcknowledge under way.
    busy: HashSet<i32>,
    /// Errors for `poll` to return.
    errors: VecDeque<Error>,
    /// The broker's record lock duration, from the last ShareFetch.
    lock_timeout: Option<Duration>,
    metadata_refreshing: bool,
    last_refresh: Option<Instant>,
}

impl State {
    fn new(membership: ShareMembership) -> State {
        State {
            membership,
            subscription: BTreeSet::new(),
            buffer: VecDeque::new(),
            in_flight: InFlight::default(),
            pending: Pending::default(),
            busy: HashSet::new(),
            errors: VecDeque::new(),
            lock_timeout: None,
            metadata_refreshing: false,
            last_refresh: None,
        }
    }
}

struct Inner {
    cfg: ConsumerConfig,
    group_id: String,
    member_id: String,
    cluster: Cluster,
    state: Mutex<State>,
    sessions: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<ShareSession>>>>,
    /// A fetch finished (records, errors), or the assignment changed.
    data: Notify,
    /// The membership has something to do (subscription, leave, close).
    wake_heartbeat: Notify,
    /// The membership changed (joined, left, assignment).
    membership_changed: Notify,
    closed: AtomicBool,
    /// `close` has begun: no new ShareFetch (its records would stay
    /// acquired by a member that is leaving).
    closing: AtomicBool,
    callback: Mutex<Option<AckCallback>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn session(&self, broker: i32) -> Arc<tokio::sync::Mutex<ShareSession>> {
        lock(&self.sessions).entry(broker).or_default().clone()
    }

    fn limits(&self, max_wait: Duration) -> FetchLimits {
        let max_records = i32::try_from(self.cfg.max_poll_records).unwrap_or(i32::MAX);
        FetchLimits {
            max_wait_ms: i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX),
            min_bytes: self.cfg.fetch_min_bytes,
            max_bytes: self.cfg.fetch_max_bytes,
            max_records,
            batch_size: max_records,
            acquire_mode: match self.cfg.share_acquire_mode {
                ShareAcquireMode::BatchOptimized => 0,
                ShareAcquireMode::RecordLimit => 1,
            },
        }
    }

    fn report(&self, results: &[AcknowledgementResult]) {
        if results.is_empty() {
            return;
        }
        for r in results {
            if let Err(e) = &r.result {
                tracing::debug!(partition = %r.partition, "acknowledgement failed: {e}");
            }
        }
        let cb = lock(&self.callback).clone();
        if let Some(cb) = cb
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(results))).is_err()
        {
            self.state().errors.push_back(Error::CallbackPanicked {
                callback: "the acknowledgement commit callback",
                message: "panicked".into(),
            });
        }
    }
}

/// Java's `KafkaShareConsumer`: a member of a share group. See the
/// [module docs](self).
pub struct ShareConsumer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ShareConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareConsumer")
            .field("group_id", &self.inner.group_id)
            .field("member_id", &self.inner.member_id)
            .finish()
    }
}

impl Drop for ShareConsumer {
    fn drop(&mut self) {
        // Stops the heartbeat task (without leaving: see the module docs);
        // the last task to end drops the connections.
        self.inner.closed.store(true, Ordering::Release);
        self.inner.wake_heartbeat.notify_one();
        self.inner.data.notify_waiters();
    }
}

/// The consumer group settings a share consumer does not have (Java's
/// `ShareConsumerConfig` refuses them too). A field counts as set when it
/// differs from its default.
fn check_config(cfg: &ConsumerConfig) -> std::result::Result<(), ConfigError> {
    let d = ConsumerConfig::default();
    // (property, whether it differs from its default)
    macro_rules! set {
        ($field:ident) => {
            cfg.$field != d.$field
        };
    }
    let refused = [
        ("group.instance.id", set!(group_instance_id)),
        ("enable.auto.commit", set!(enable_auto_commit)),
        ("auto.offset.reset", set!(auto_offset_reset)),
        ("isolation.level", set!(isolation_level)),
        (
            "partition.assignment.strategy",
            set!(partition_assignment_strategy),
        ),
        ("session.timeout.ms", set!(session_timeout)),
        ("heartbeat.interval.ms", set!(heartbeat_interval)),
    ];
    if let Some((name, _)) = refused.iter().find(|(_, set)| *set) {
        let instead = match *name {
            "auto.offset.reset" => "; set the group config share.auto.offset.reset instead",
            "isolation.level" => "; set the group config share.isolation.level instead",
            "session.timeout.ms" | "heartbeat.interval.ms" => {
                "; the broker's group.share.session.timeout.ms and group.share.heartbeat.interval.ms rule"
            }
            _ => "",
        };
        return Err(ConfigError::new(
            *name,
            format!(
                "is not supported by a share consumer (KafkaShareConsumer refuses it too){instead}"
            ),
        ));
    }
    match cfg.group_id.as_deref().map(str::trim) {
        Some(g) if !g.is_empty() => Ok(()),
        _ => Err(ConfigError::new(
            "group.id",
            "is required by a share consumer (the share group's name)",
        )),
    }
}

/// A random member id (the client chooses it since KIP-1082), in Kafka's
/// UUID text form.
fn random_member_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: time and address, unique enough for a member id.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = (t ^ (std::ptr::addr_of!(b) as usize as u128)).to_le_bytes();
    }
    // Version 4, variant 1, as Java's Uuid.randomUuid.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Uuid(b).to_string()
}

impl ShareConsumer {
    /// Connects (bootstrap and metadata) and starts the membership task;
    /// [`subscribe`](Self::subscribe) joins the group.
    pub async fn new(cfg: ConsumerConfig) -> Result<ShareConsumer> {
        cfg.validate()?;
        check_config(&cfg)?;
        let group_id = cfg.group_id.clone().unwrap_or_default();
        let cluster = Cluster::connect(ClusterOptions::from_config(&cfg.client)).await?;
        let member_id = random_member_id();
        let membership = ShareMembership::new(ShareMembershipConfig {
            group_id: group_id.clone(),
            member_id: member_id.clone(),
            rack: cfg.client.client_rack.clone(),
            retry_backoff: cfg.client.retry_backoff,
            retry_backoff_max: cfg.client.retry_backoff_max,
            max_poll_interval: cfg.max_poll_interval,
        });
        let inner = Arc::new(Inner {
            cfg,
            group_id,
            member_id,
            cluster,
            state: Mutex::new(State::new(membership)),
            sessions: Mutex::new(HashMap::new()),
            data: Notify::new(),
            wake_heartbeat: Notify::new(),
            membership_changed: Notify::new(),
            closed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            callback: Mutex::new(None),
        });
        tokio::spawn(heartbeat_loop(inner.clone()));
        Ok(ShareConsumer { inner })
    }

    /// The member id this consumer uses in the group.
    pub fn member_id(&self) -> &str {
        &self.inner.member_id
    }

    /// The share group.
    pub fn group_id(&self) -> &str {
        &self.inner.group_id
    }

    /// Subscribes to `topics`, replacing the subscription (empty:
    /// [`unsubscribe`](Self::unsubscribe)). The broker assigns partitions.
    pub fn subscribe<S: AsRef<str>>(&self, topics: &[S]) -> Result<()> {
        self.check_open()?;
        let topics: BTreeSet<String> = topics
            .iter()
            .map(|t| t.as_ref().trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        self.inner
            .cluster
            .add_topics(topics.iter().map(String::as_str));
        {
            let mut st = self.inner.state();
            st.subscription = topics.clone();
            st.membership.subscribe(topics, std::time::Instant::now());
        }
        self.inner.wake_heartbeat.notify_one();
        Ok(())
    }

    /// Leaves the group (the records still acquired are released by the
    /// broker); [`subscribe`](Self::subscribe) joins again.
    pub fn unsubscribe(&self) -> Result<()> {
        self.subscribe::<&str>(&[])
    }

    /// The subscription.
    pub fn subscription(&self) -> Vec<String> {
        self.inner.state().subscription.iter().cloned().collect()
    }

    /// The partitions the broker assigned to this member (topics whose id
    /// the client cannot name yet are left out).
    pub fn assignment(&self) -> Vec<TopicPartition> {
        let md = self.inner.cluster.metadata();
        let names: HashMap<Uuid, &str> = md
            .topics
            .values()
            .map(|t| (t.id, t.name.as_str()))
            .collect();
        let st = self.inner.state();
        let (a, _) = st.membership.assignment();
        a.iter()
            .filter_map(|(id, ps)| names.get(id).map(|n| (*n, ps)))
            .flat_map(|(n, ps)| ps.iter().map(move |p| TopicPartition::new(n, *p)))
            .collect()
    }

    /// The record lock duration the broker reported in its last ShareFetch
    /// answer (`group.share.record.lock.duration.ms`, or the group's
    /// `share.record.lock.duration.ms`), Java's `acquisitionLockTimeoutMs`.
    pub fn acquisition_lock_timeout(&self) -> Option<Duration> {
        self.inner.state().lock_timeout
    }

    /// Sets the callback told the outcome of every acknowledgement sent
    /// (on a ShareFetch, by `commit_sync`, `commit_async` or `close`), per
    /// partition. It runs on the client's task: keep it short, do not block.
    pub fn set_acknowledgement_commit_callback(
        &self,
        callback: impl Fn(&[AcknowledgementResult]) + Send + Sync + 'static,
    ) {
        *lock(&self.inner.callback) = Some(Arc::new(callback));
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed("share consumer"));
        }
        Ok(())
    }

    fn mode(&self) -> ShareAcknowledgementMode {
        self.inner.cfg.share_acknowledgement_mode
    }

    /// Acknowledges one record of the last poll (explicit mode). The
    /// acknowledgement goes out with the next fetch from its partition's
    /// leader, or with `commit_sync` / `commit_async`.
    pub fn acknowledge(&self, record: &ShareRecord, kind: AcknowledgeType) -> Result<()> {
        self.acknowledge_offset(&record.topic, record.partition, record.offset, kind)
    }

    /// [`acknowledge`](Self::acknowledge) by topic, partition and offset.
    pub fn acknowledge_offset(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        kind: AcknowledgeType,
    ) -> Result<()> {
        self.check_open()?;
        if self.mode() != ShareAcknowledgementMode::Explicit {
            return Err(Error::ShareConsumerState {
                operation: "acknowledge",
                reason: "share.acknowledgement.mode is implicit: every record is accepted at the next poll; set share.acknowledgement.mode=explicit to acknowledge records one by one".into(),
            });
        }
        let mut st = self.inner.state();
        let State {
            in_flight, pending, ..
        } = &mut *st;
        in_flight
            .acknowledge(topic, partition, offset, kind, pending)
            .map_err(|why| Error::ShareConsumerState {
                operation: "acknowledge",
                reason: match why {
                    acks::AckRefusal::NotDelivered => format!(
                        "{topic}-{partition}@{offset} is not a record the last poll returned"
                    ),
                    acks::AckRefusal::AlreadyAcknowledged => {
                        format!("{topic}-{partition}@{offset} was acknowledged already")
                    }
                },
            })
    }

    /// Settles the last poll's records before going on: implicit mode
    /// accepts them; explicit mode wants each acknowledged.
    fn settle_last_poll(&self, operation: &'static str, strict: bool) -> Result<()> {
        let mut st = self.inner.state();
        let State {
            in_flight, pending, ..
        } = &mut *st;
        match self.mode() {
            ShareAcknowledgementMode::Implicit => {
                in_flight.acknowledge_all(AcknowledgeType::Accept, pending);
            }
            ShareAcknowledgementMode::Explicit => {
                let n = in_flight.unacknowledged();
                if n > 0 && strict {
                    return Err(Error::ShareConsumerState {
                        operation,
                        reason: format!(
                            "{n} record(s) of the last poll are not acknowledged; with share.acknowledgement.mode=explicit, acknowledge every record (accept, release or reject) before polling again"
                        ),
                    });
                }
                if n == 0 {
                    in_flight.clear();
                }
            }
        }
        Ok(())
    }

    /// Returns acquired records (whole record batches, until there are
    /// `max.poll.records` or more, as Java's poll), waiting up to `timeout`
    /// for some. Implicit mode accepts the last poll's records
    /// first; explicit mode fails if one of them is not acknowledged.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ShareRecord>> {
        self.check_open()?;
        self.settle_last_poll("poll", true)?;
        if self
            .inner
            .state()
            .membership
            .polled(std::time::Instant::now())
        {
            self.inner.wake_heartbeat.notify_one();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.inner.data.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = self.inner.state();
                if let Some(e) = st.membership.fatal() {
                    return Err(e.clone());
                }
                let out = take_records(&mut st, self.inner.cfg.max_poll_records);
                if !out.is_empty() {
                    return Ok(out);
                }
                if let Some(e) = st.errors.pop_front() {
                    return Err(e);
                }
            }
            self.check_open()?;
            start_requests(&self.inner);
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    /// Sends every pending acknowledgement now (ShareAcknowledge; implicit
    /// mode accepts the last poll's records first) and waits up to
    /// `timeout` for the brokers' answers: per partition, `Ok` or why the
    /// broker did not take them, naming the broker. Retriable errors are
    /// retried (after `retry.backoff.ms`, doubling up to
    /// `retry.backoff.max.ms`) until `timeout`; what is still not done then
    /// is a [`Error::RequestTimeout`] naming the partition's leader. As in
    /// Java, a request that reached the broker and got no answer (the
    /// connection dropped) is not sent again: the broker may have applied
    /// it. Java's `commitSync(Duration)`.
    pub async fn commit_sync(
        &self,
        timeout: Duration,
    ) -> Result<HashMap<TopicPartition, Result<()>>> {
        self.check_open()?;
        self.settle_last_poll("commit_sync", false)?;
        let results = acknowledge_pending(&self.inner, false, timeout).await;
        Ok(results
            .into_iter()
            .map(|r| (r.partition, r.result))
            .collect())
    }

    /// [`commit_sync`](Self::commit_sync) without waiting, retrying for up
    /// to `default.api.timeout.ms`: the results go to the acknowledgement
    /// commit callback. Java's `commitAsync`.
    pub fn commit_async(&self) -> Result<()> {
        self.check_open()?;
        self.settle_last_poll("commit_async", false)?;
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let timeout = inner.cfg.default_api_timeout;
            acknowledge_pending(&inner, false, timeout).await;
        });
        Ok(())
    }

    /// Sends the pending acknowledgements (implicit mode accepts the last
    /// poll's records first), closes every share session, leaves the group,
    /// and stops; waits up to `timeout`. Records still acquired are
    /// released by the broker.
    pub async fn close(self, timeout: Duration) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        self.settle_last_poll("close", false)?;
        self.inner.closing.store(true, Ordering::Release);
        let deadline = Instant::now() + timeout;
        acknowledge_pending(&self.inner, true, timeout).await;
        {
            let mut st = self.inner.state();
            st.membership.leave(std::time::Instant::now());
        }
        self.inner.wake_heartbeat.notify_one();
        loop {
            let changed = self.inner.membership_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.inner.state().membership.is_done() {
                break;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// Moves buffered records out, whole record batches until there are `max`
/// or more (Java's `ShareCompletedFetch.fetchRecords`: a poll never splits
/// a batch, so with `batch_optimized` what one fetch acquired goes out in
/// one poll rather than waiting in the buffer, its locks running, for the
/// next), and marks them delivered.
fn take_records(st: &mut State, max: usize) -> Vec<ShareRecord> {
    let mut out = Vec::new();
    while out.len() < max {
        let Some(b) = st.buffer.front_mut() else {
            break;
        };
        while out.len() < max {
            let Some(n) = b.batches.pop_front() else {
                break;
            };
            for r in b.records.drain(..n.min(b.records.len())) {
                st.in_flight.delivered(&b.part, r.offset);
                out.push(r);
            }
        }
        if b.batches.is_empty() || b.records.is_empty() {
            // Records no batch accounts for would be a decoder bug: they
            // go out with the last batch rather than stay.
            for r in b.records.drain(..) {
                st.in_flight.delivered(&b.part, r.offset);
                out.push(r);
            }
            st.buffer.pop_front();
        }
    }
    out
}

/// The assigned partitions by leader; asks for metadata when a topic id
/// or a leader is unknown.
fn plan(inner: &Arc<Inner>) -> HashMap<i32, BTreeSet<SharePartition>> {
    let md = inner.cluster.metadata();
    let names: HashMap<Uuid, &Arc<crate::net::TopicInfo>> =
        md.topics.values().map(|t| (t.id, t)).collect();
    let mut by_leader: HashMap<i32, BTreeSet<SharePartition>> = HashMap::new();
    let mut missing = false;
    let st = inner.state();
    let (assignment, _) = st.membership.assignment();
    for (id, ps) in assignment {
        let Some(t) = names.get(id) else {
            missing = true;
            continue;
        };
        let topic: Arc<str> = Arc::from(t.name.as_str());
        for p in ps {
            match md.leader(&t.name, *p) {
                Some(leader) => {
                    by_leader.entry(leader).or_default().insert(SharePartition {
                        topic: topic.clone(),
                        partition: *p,
                        topic_id: *id,
                    });
                }
                None => missing = true,
            }
        }
    }
    drop(st);
    if missing {
        refresh_metadata(inner);
    }
    by_leader
}

/// One metadata refresh at a time, at most every `retry.backoff.ms`.
fn refresh_metadata(inner: &Arc<Inner>) {
    {
        let mut st = inner.state();
        let now = Instant::now();
        if st.metadata_refreshing
            || st
                .last_refresh
                .is_some_and(|t| now < t + inner.cfg.client.retry_backoff)
        {
            return;
        }
        st.metadata_refreshing = true;
        st.last_refresh = Some(now);
    }
    let inner = inner.clone();
    tokio::spawn(async move {
        if let Err(e) = inner.cluster.refresh_metadata().await {
            tracing::debug!("share consumer metadata refresh failed: {e}");
        }
        inner.state().metadata_refreshing = false;
        inner.data.notify_waiters();
    });
}

/// Starts a ShareFetch to every leader of an assigned partition that has
/// nothing under way, if nothing is buffered; a ShareAcknowledge for
/// acknowledgements of partitions no longer fetched.
fn start_requests(inner: &Arc<Inner>) {
    let by_leader = plan(inner);
    let md = inner.cluster.metadata();
    let mut st = inner.state();
    if !st.buffer.is_empty() {
        return;
    }
    let fetched: HashSet<SharePartition> = by_leader.values().flatten().cloned().collect();
    // Acknowledgements of partitions not fetched (revoked): by leader.
    let leftovers = st
        .pending
        .take_where(|p| !fetched.contains(p) && md.leader(&p.topic, p.partition).is_some());
    let mut ack_only: HashMap<i32, Vec<(SharePartition, Vec<AckBatch>)>> = HashMap::new();
    for (p, b) in leftovers {
        if let Some(l) = md.leader(&p.topic, p.partition) {
            ack_only.entry(l).or_default().push((p, b));
        }
    }
    for (broker, wanted) in by_leader {
        if st.busy.contains(&broker) {
            continue;
        }
        st.busy.insert(broker);
        let inner = inner.clone();
        let extra = ack_only.remove(&broker).unwrap_or_default();
        tokio::spawn(async move {
            fetch_from(&inner, broker, wanted, extra).await;
            inner.state().busy.remove(&broker);
            inner.data.notify_waiters();
        });
    }
    for (broker, acks) in ack_only {
        if st.busy.contains(&broker) {
            st.pending.restore(acks);
            continue;
        }
        st.busy.insert(broker);
        let inner = inner.clone();
        tokio::spawn(async move {
            let timeout = inner.cfg.default_api_timeout;
            let results = acknowledge_on(&inner, broker, acks, false, timeout).await;
            inner.report(&results);
            inner.state().busy.remove(&broker);
        });
    }
}

fn ack_results(
    acks: &[(SharePartition, Vec<AckBatch>)],
    mut outcome: impl FnMut(&SharePartition) -> Result<()>,
) -> Vec<AcknowledgementResult> {
    acks.iter()
        .filter_map(|(p, batches)| {
            let offsets: Vec<RangeInclusive<i64>> = batches
                .iter()
                .filter(|b| b.kind != acks::GAP)
                .map(|b| b.first..=b.last)
                .collect();
            (!offsets.is_empty()).then(|| AcknowledgementResult {
                partition: TopicPartition::new(p.topic.clone(), p.partition),
                offsets,
                result: outcome(p),
            })
        })
        .collect()
}

fn partition_error(
    code: ErrorCode,
    api: &'static str,
    broker: &str,
    p: &SharePartition,
    message: Option<String>,
) -> Error {
    Error::Kafka {
        code,
        api,
        topic: Some(p.topic.to_string()),
        partition: Some(p.partition),
        message: Some(match message {
            Some(m) => format!("broker {broker}: {m}"),
            None => format!("broker {broker}"),
        }),
    }
}

/// Whether a partition error means the metadata is stale.
fn stale_metadata(code: ErrorCode) -> bool {
    code == ErrorCode::NOT_LEADER_OR_FOLLOWER
        || code == ErrorCode::FENCED_LEADER_EPOCH
        || code == ErrorCode::UNKNOWN_LEADER_EPOCH
        || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        || code == ErrorCode::UNKNOWN_TOPIC_ID
        || code == ErrorCode::KAFKA_STORAGE_ERROR
        || code == ErrorCode::LEADER_NOT_AVAILABLE
}

/// One ShareFetch to `broker`, its results into the buffer.
async fn fetch_from(
    inner: &Arc<Inner>,
    broker: i32,
    wanted: BTreeSet<SharePartition>,
    extra: Vec<(SharePartition, Vec<AckBatch>)>,
) {
    let session = inner.session(broker);
    let mut session = session.lock().await;
    if inner.closing.load(Ordering::Acquire) {
        // close() sends what is pending itself.
        inner.state().pending.restore(extra);
        return;
    }
    let (acks, req) = {
        let mut st = inner.state();
        let acks = if session.is_new() {
            Vec::new()
        } else {
            st.pending.take_where(|p| wanted.contains(p))
        };
        let req = session.fetch(
            &inner.group_id,
            &inner.member_id,
            &wanted,
            &acks,
            inner.limits(inner.cfg.fetch_max_wait),
        );
        (acks, req)
    };
    let result = send_fetch(inner, broker, &req).await;
    let (conn_name, resp) = match result {
        Ok(v) => v,
        Err(e) => {
            session.failed();
            inner.state().pending.restore(extra);
            let retriable = e.is_retriable();
            tracing::debug!(broker, "ShareFetch failed: {e}");
            inner.report(&ack_results(&acks, |_| Err(e.clone())));
            if retriable {
                refresh_metadata(inner);
                tokio::time::sleep(inner.cfg.client.retry_backoff).await;
            } else {
                inner.state().errors.push_back(e);
            }
            return;
        }
    };
    let code = ErrorCode(resp.error_code);
    if code != ErrorCode::NONE {
        session.failed();
        inner.state().pending.restore(extra);
        let e = Error::Kafka {
            code,
            api: "ShareFetch",
            topic: None,
            partition: None,
            message: Some(match &resp.error_message {
                Some(m) => format!("group {} on broker {conn_name}: {m}", inner.group_id),
                None => format!("group {} on broker {conn_name}", inner.group_id),
            }),
        };
        inner.report(&ack_results(&acks, |_| Err(e.clone())));
        if session::resets_session(code) || code.is_retriable() {
            tracing::debug!(broker, "ShareFetch: {e}; a new share session follows");
            tokio::time::sleep(inner.cfg.client.retry_backoff).await;
        } else {
            inner.state().errors.push_back(e);
        }
        return;
    }
    session.succeeded();
    drop(session);
    handle_fetch_response(inner, &conn_name, &wanted, &acks, resp);
    // Acknowledgements of partitions this fetch does not list (listing
    // them would fetch them): a ShareAcknowledge of their own.
    // Its own task: its retries must not hold this broker's fetches back.
    if !extra.is_empty() {
        let inner = inner.clone();
        tokio::spawn(async move {
            let timeout = inner.cfg.default_api_timeout;
            let results = acknowledge_on(&inner, broker, extra, false, timeout).await;
            inner.report(&results);
        });
    }
}

async fn send_fetch(
    inner: &Inner,
    broker: i32,
    req: &ShareFetchRequest,
) -> Result<(String, ShareFetchResponse)> {
    let conn = inner.cluster.broker(broker).await?;
    let r = conn.send(req).await?;
    Ok((conn.broker().to_string(), r))
}

fn handle_fetch_response(
    inner: &Arc<Inner>,
    broker: &str,
    wanted: &BTreeSet<SharePartition>,
    acks: &[(SharePartition, Vec<AckBatch>)],
    resp: ShareFetchResponse,
) {
    let by_id: HashMap<(Uuid, i32), &SharePartition> = wanted
        .iter()
        .chain(acks.iter().map(|(p, _)| p))
        .map(|p| ((p.topic_id, p.partition), p))
        .collect();
    let opts = DecodeOptions {
        verify_crc: inner.cfg.check_crcs,
        ..DecodeOptions::default()
    };
    let mut ack_answers: commit::Answers = HashMap::new();
    let mut buffered = Vec::new();
    let mut errors = Vec::new();
    let mut auto_acks = Vec::new();
    let mut stale = false;
    for t in resp.responses {
        for pd in t.partitions {
            let Some(&p) = by_id.get(&(t.topic_id, pd.partition_index)) else {
                tracing::debug!(
                    broker,
                    "ShareFetch answered for a partition it was not asked about"
                );
                continue;
            };
            ack_answers.insert(
                (p.topic_id, p.partition),
                (
                    ErrorCode(pd.acknowledge_error_code),
                    pd.acknowledge_error_message.clone(),
                ),
            );
            let code = ErrorCode(pd.error_code);
            if code != ErrorCode::NONE {
                if stale_metadata(code) {
                    stale = true;
                } else {
                    errors.push(partition_error(
                        code,
                        "ShareFetch",
                        broker,
                        p,
                        pd.error_message,
                    ));
                }
                continue;
            }
            let ranges = records::acquired_ranges(&pd.acquired_records);
            let got = records::decode(&p.topic, p.partition, pd.records, &ranges, opts);
            if let Some((offset, source)) = got.error {
                errors.push(Error::CorruptRecords {
                    topic: p.topic.to_string(),
                    partition: p.partition,
                    offset,
                    source,
                });
            }
            for (first, last, kind) in got.auto_acks {
                auto_acks.push((p.clone(), first, last, kind));
            }
            if !got.records.is_empty() {
                buffered.push(Buffered {
                    part: p.clone(),
                    records: got.records.into(),
                    batches: got.batches.into(),
                });
            }
        }
    }
    let results = commit::piggybacked_results(acks, &mut ack_answers, broker);
    {
        let mut st = inner.state();
        if let Ok(ms) = u64::try_from(resp.acquisition_lock_timeout_ms)
            && ms > 0
        {
            st.lock_timeout = Some(Duration::from_millis(ms));
        }
        st.buffer.extend(buffered);
        for (p, first, last, kind) in auto_acks {
            st.pending.add(&p, first, last, kind);
        }
        // Only errors that stop the application (authorization, say).
        for e in errors {
            if e.is_retriable() {
                tracing::debug!("ShareFetch: {e}");
            } else {
                st.errors.push_back(e);
            }
        }
    }
    inner.report(&results);
    if stale {
        refresh_metadata(inner);
    }
}

/// Sends `acks` to `broker` in a ShareAcknowledge (at -1 when `close`,
/// which also closes the session), retried as `commit.rs` decides for up
/// to `timeout`; opens the session first if it has none (acknowledgements
/// need one). Every partition's outcome names the broker.
async fn acknowledge_on(
    inner: &Arc<Inner>,
    broker: i32,
    acks: Vec<(SharePartition, Vec<AckBatch>)>,
    close: bool,
    timeout: Duration,
) -> Vec<AcknowledgementResult> {
    let mut commit = AckCommit::new(
        CommitSettings {
            group_id: inner.group_id.clone(),
            broker: broker_name(inner, broker),
            timeout,
            retry_backoff: inner.cfg.client.retry_backoff,
            retry_backoff_max: inner.cfg.client.retry_backoff_max,
            close,
        },
        acks,
        std::time::Instant::now(),
    );
    let deadline = Instant::now()
        + commit
            .deadline()
            .saturating_duration_since(std::time::Instant::now());
    let shared = inner.session(broker);
    loop {
        let batch = match commit.next(std::time::Instant::now()) {
            Step::Done => break,
            Step::Wait(d) => {
                // Without the session: fetches go on between retries.
                tokio::time::sleep(d).await;
                continue;
            }
            Step::Send(batch) => batch,
        };
        // A fetch may hold the session: waiting for it counts against the
        // timeout.
        let Ok(mut session) = tokio::time::timeout_at(deadline, shared.lock()).await else {
            commit.timed_out();
            break;
        };
        if close && batch.is_empty() && !session.is_open() {
            // Nothing to acknowledge, no session to close.
            break;
        }
        let attempt = tokio::time::timeout_at(deadline, async {
            if !session.is_open() {
                open_session(inner, broker, &mut session).await?;
            }
            let Some(req) = session.acknowledge(&inner.group_id, &inner.member_id, &batch, close)
            else {
                return Err(Attempt::OpenFailed(Error::kafka(
                    ErrorCode::SHARE_SESSION_NOT_FOUND,
                    "ShareAcknowledge",
                )));
            };
            let conn = inner
                .cluster
                .broker(broker)
                .await
                .map_err(Attempt::NotSent)?;
            let name = conn.broker().to_string();
            let answer: Result<ShareAcknowledgeResponse> = conn.send(&req).await;
            match answer {
                Ok(r) => Ok((name, r)),
                Err(e) => Err(Attempt::Lost(e)),
            }
        })
        .await;
        let now = std::time::Instant::now();
        match attempt {
            Err(_) => {
                // Cut off at the deadline: the answer, if one comes, is lost.
                session.failed();
                commit.timed_out();
                break;
            }
            Ok(Err(Attempt::OpenFailed(e))) => {
                session.failed();
                commit.on_open_failed(e, now);
            }
            Ok(Err(Attempt::NotSent(e))) => {
                session.failed();
                commit.on_send_failed(e, false, now);
            }
            Ok(Err(Attempt::Lost(e))) => {
                session.failed();
                commit.on_send_failed(e, true, now);
            }
            Ok(Ok((name, resp))) => {
                commit.set_broker(&name);
                let code = ErrorCode(resp.error_code);
                if code != ErrorCode::NONE {
                    session.failed();
                } else if close {
                    session.closed();
                } else {
                    session.succeeded();
                }
                let mut partitions = commit::Answers::new();
                for t in resp.responses {
                    for p in t.partitions {
                        partitions.insert(
                            (t.topic_id, p.partition_index),
                            (ErrorCode(p.error_code), p.error_message),
                        );
                    }
                }
                commit.on_response(code, resp.error_message, &mut partitions, now);
            }
        }
    }
    if commit.needs_metadata() {
        refresh_metadata(inner);
    }
    commit.into_results()
}

/// How one ShareAcknowledge attempt failed.
enum Attempt {
    /// Opening the share session failed (nothing was acknowledged).
    OpenFailed(Error),
    /// No connection: the request never left.
    NotSent(Error),
    /// Sent, and no answer: the broker may have applied it.
    Lost(Error),
}

/// Opens a share session with `broker` for acknowledgements: a ShareFetch
/// at epoch 0 listing nothing.
async fn open_session(
    inner: &Arc<Inner>,
    broker: i32,
    session: &mut ShareSession,
) -> std::result::Result<(), Attempt> {
    let req = session.fetch(
        &inner.group_id,
        &inner.member_id,
        &BTreeSet::new(),
        &[],
        inner.limits(Duration::ZERO),
    );
    match send_fetch(inner, broker, &req).await {
        Ok((_, r)) if r.error_code == 0 => {
            session.succeeded();
            Ok(())
        }
        Ok((name, r)) => Err(Attempt::OpenFailed(Error::Kafka {
            code: ErrorCode(r.error_code),
            api: "ShareFetch",
            topic: None,
            partition: None,
            message: Some(format!(
                "opening a share session on {name} to acknowledge: {}",
                r.error_message.unwrap_or_default()
            )),
        })),
        Err(e) => Err(Attempt::OpenFailed(e)),
    }
}

/// `broker` as its connection names it (`host:port (node N)`), from the
/// metadata, before a connection exists.
fn broker_name(inner: &Inner, broker: i32) -> String {
    match inner.cluster.metadata().brokers.get(&broker) {
        Some(b) => format!("{} (node {broker})", b.addr()),
        None => format!("node {broker}"),
    }
}

/// Sends every pending acknowledgement (ShareAcknowledge per leader), and
/// with `close` closes every open share session; returns (and reports)
/// the results, within `timeout` (retries included).
async fn acknowledge_pending(
    inner: &Arc<Inner>,
    close: bool,
    timeout: Duration,
) -> Vec<AcknowledgementResult> {
    let md = inner.cluster.metadata();
    let (by_broker, unrouted) = {
        let mut st = inner.state();
        let taken = st.pending.take_where(|_| true);
        let mut by_broker: HashMap<i32, Vec<(SharePartition, Vec<AckBatch>)>> = HashMap::new();
        let mut unrouted = Vec::new();
        for (p, b) in taken {
            match md.leader(&p.topic, p.partition) {
                Some(l) => by_broker.entry(l).or_default().push((p, b)),
                None => unrouted.push((p, b)),
            }
        }
        (by_broker, unrouted)
    };
    let mut brokers: BTreeSet<i32> = by_broker.keys().copied().collect();
    if close {
        brokers.extend(lock(&inner.sessions).keys().copied());
    }
    let mut by_broker = by_broker;
    let mut tasks = tokio::task::JoinSet::new();
    for broker in brokers {
        let acks = by_broker.remove(&broker).unwrap_or_default();
        let inner = inner.clone();
        tasks.spawn(async move { acknowledge_on(&inner, broker, acks, close, timeout).await });
    }
    let mut results = ack_results(&unrouted, |p| {
        Err(Error::Kafka {
            code: ErrorCode::LEADER_NOT_AVAILABLE,
            api: "ShareAcknowledge",
            topic: Some(p.topic.to_string()),
            partition: Some(p.partition),
            message: Some("no known leader to send the acknowledgement to".into()),
        })
    });
    while let Some(r) = tasks.join_next().await {
        if let Ok(r) = r {
            results.extend(r);
        }
    }
    inner.report(&results);
    results
}

/// The membership task: runs the heartbeat state machine until the member
/// has left (close) or the consumer is dropped.
async fn heartbeat_loop(inner: Arc<Inner>) {
    let mut coordinator: Option<BrokerInfo> = None;
    let mut last_gen = 0u64;
    loop {
        let wake = inner.wake_heartbeat.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let dropped = inner.closed.load(Ordering::Acquire);
        let (action, next, done, stale) = {
            let mut st = inner.state();
            let action = if dropped {
                None
            } else {
                st.membership.poll_action(std::time::Instant::now())
            };
            let stale = st.membership.take_went_stale();
            if stale {
                // The broker gives our records to others once the sessions
                // close: what is buffered is no longer ours.
                st.buffer.clear();
            }
            (
                action,
                st.membership.next_wakeup(),
                st.membership.is_done(),
                stale,
            )
        };
        if dropped {
            break;
        }
        if stale {
            let inner = inner.clone();
            tokio::spawn(async move {
                let timeout = inner.cfg.default_api_timeout;
                acknowledge_pending(&inner, true, timeout).await;
            });
        }
        match action {
            Some(Action::FindCoordinator) => {
                let policy = RetryPolicy {
                    backoff: inner.cfg.client.retry_backoff,
                    backoff_max: inner.cfg.client.retry_backoff_max,
                    deadline: std::time::Instant::now() + inner.cfg.client.request_timeout,
                };
                let found = find_coordinator(
                    &inner.cluster,
                    CoordinatorType::Group,
                    &inner.group_id,
                    policy,
                )
                .await;
                let found = found.map(|c| {
                    coordinator = Some(c);
                });
                inner
                    .state()
                    .membership
                    .on_coordinator(found, std::time::Instant::now());
                continue;
            }
            Some(Action::Heartbeat(req)) => {
                let result = match &coordinator {
                    Some(c) => {
                        let c = c.clone();
                        async {
                            let conn = coordinator_connection(&inner.cluster, &c).await?;
                            conn.send(&req).await
                        }
                        .await
                    }
                    None => Err(Error::kafka(
                        ErrorCode::COORDINATOR_NOT_AVAILABLE,
                        "ShareGroupHeartbeat",
                    )),
                };
                let changed = {
                    let mut st = inner.state();
                    if st
                        .membership
                        .on_heartbeat(result, std::time::Instant::now())
                    {
                        coordinator = None;
                    }
                    let (_, generation) = st.membership.assignment();
                    let changed = generation != last_gen;
                    last_gen = generation;
                    changed
                };
                inner.membership_changed.notify_waiters();
                if changed {
                    inner.data.notify_waiters();
                }
                continue;
            }
            None => {}
        }
        if done {
            inner.membership_changed.notify_waiters();
        }
        match next {
            Some(at) => {
                let at = Instant::now() + at.saturating_duration_since(std::time::Instant::now());
                let _ = tokio::time::timeout_at(at, wake).await;
            }
            None => wake.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_group_settings_are_refused_and_group_id_required() {
        let ok = ConsumerConfig::from_properties([
            ("bootstrap.servers", "localhost:9092"),
            ("group.id", "g"),
        ])
        .unwrap();
        assert!(check_config(&ok).is_ok());
        for (k, v) in [
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("isolation.level", "read_committed"),
            ("group.instance.id", "i"),
            ("session.timeout.ms", "10000"),
        ] {
            let mut c = ok.clone();
            c.set(k, v).unwrap();
            let e = check_config(&c).unwrap_err();
            assert_eq!(e.property, k);
            assert!(e.reason.contains("share consumer"), "{e}");
        }
        let mut c = ok.clone();
        c.group_id = None;
        assert_eq!(check_config(&c).unwrap_err().property, "group.id");
        let mut c = ok;
        c.set("share.acknowledgement.mode", "EXPLICIT").unwrap();
        assert_eq!(
            c.share_acknowledgement_mode,
            ShareAcknowledgementMode::Explicit
        );
        assert!(c.set("share.acknowledgement.mode", "auto").is_err());
        assert_eq!(c.share_acquire_mode, ShareAcquireMode::BatchOptimized);
        c.set("share.acquire.mode", "record_limit").unwrap();
        assert_eq!(c.share_acquire_mode, ShareAcquireMode::RecordLimit);
    }

    #[test]
    fn member_ids_are_random_uuids() {
        let a = random_member_id();
        let b = random_member_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
    }

    fn part(p: i32) -> SharePartition {
        SharePartition {
            topic: Arc::from("t"),
            partition: p,
            topic_id: Uuid([1; 16]),
        }
    }

    fn rec(p: i32, offset: i64) -> ShareRecord {
        ShareRecord {
            record: ConsumerRecord {
                topic: Arc::from("t"),
                partition: p,
                offset,
                timestamp: 0,
                timestamp_type: purekafka_protocol::records::TimestampType::CreateTime,
                key: None,
                value: None,
                headers: Default::default(),
            },
            delivery_count: 1,
        }
    }

    #[test]
    fn take_records_hands_out_whole_batches_until_max_and_marks_them() {
        let mut st = State::new(ShareMembership::new(ShareMembershipConfig {
            group_id: "g".into(),
            member_id: "m".into(),
            rack: None,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(300),
        }));
        st.buffer = VecDeque::from([
            Buffered {
                part: part(0),
                records: (0..7).map(|o| rec(0, o)).collect(),
                batches: VecDeque::from([2, 3, 2]),
            },
            Buffered {
                part: part(1),
                records: (0..2).map(|o| rec(1, o)).collect(),
                batches: VecDeque::from([2]),
            },
        ]);
        let offsets = |got: &[ShareRecord]| {
            got.iter()
                .map(|r| (r.partition, r.offset))
                .collect::<Vec<_>>()
        };
        // 3 wanted: the first batch (2) is not enough, the second is taken
        // whole (as Java's poll: it never splits a record batch).
        let got = take_records(&mut st, 3);
        assert_eq!(offsets(&got), vec![(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]);
        assert_eq!(st.in_flight.unacknowledged(), 5);
        assert_eq!(st.buffer.len(), 2);
        // One wanted, a batch of two: both; then on to the next partition.
        let got = take_records(&mut st, 1);
        assert_eq!(offsets(&got), vec![(0, 5), (0, 6)]);
        assert_eq!(st.buffer.len(), 1);
        let got = take_records(&mut st, 10);
        assert_eq!(offsets(&got), vec![(1, 0), (1, 1)]);
        assert!(st.buffer.is_empty());
        assert_eq!(st.in_flight.unacknowledged(), 9);
    }

    #[test]
    fn ack_results_leave_gaps_out() {
        let acks = vec![
            (
                part(0),
                vec![
                    AckBatch {
                        first: 0,
                        last: 3,
                        kind: 1,
                    },
                    AckBatch {
                        first: 4,
                        last: 9,
                        kind: acks::GAP,
                    },
                ],
            ),
            (
                part(1),
                vec![AckBatch {
                    first: 5,
                    last: 5,
                    kind: acks::GAP,
                }],
            ),
        ];
        let r = ack_results(&acks, |_| Ok(()));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].partition, TopicPartition::new("t", 0));
        assert_eq!(r[0].offsets, vec![0..=3]);
    }
}
