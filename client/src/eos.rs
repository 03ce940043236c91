//! Exactly-once consume-transform-produce: [`EosSession`], Java's
//! consume-transform-produce loop (`sendOffsetsToTransaction` with the
//! consumer's `groupMetadata()`) and franz-go's `GroupTransactSession` in one
//! type.
//!
//! A session owns a consumer in a group (`isolation.level=read_committed`,
//! `enable.auto.commit=false`) and a transactional producer. Its
//! [`poll`](EosSession::poll) opens a transaction when none is open; the
//! application produces what it makes of the records through the session
//! ([`send`](EosSession::send), [`enqueue`](EosSession::enqueue), or
//! [`producer`](EosSession::producer)); [`commit`](EosSession::commit)
//! commits the offsets of everything polled since the transaction began with
//! the transaction, so the output and the input's progress become visible
//! together, or not at all.
//!
//! A transaction never spans a rebalance. When the group revokes, loses or
//! assigns partitions, or the member's generation changes, while a
//! transaction is open (or during a poll), the session aborts it, drops the
//! records that poll returned, and rewinds the consumer to the group's
//! committed offsets: the records are read again, by this member or the
//! partition's new owner, and what was produced from them is never visible
//! to `read_committed` readers. The offsets go to the coordinator with the
//! generation the records were read in, so a member fenced by a rebalance
//! it has not noticed yet cannot commit them either (KIP-447).
//!
//! Nor does a transaction outlive `transaction.timeout.ms`: the coordinator
//! aborts a transaction open that long and bumps the epoch, after which
//! sending its offsets or committing it fails for good (the producer is
//! fenced, as Java's is). A `commit()` that finds the transaction open at
//! least that long (counted from the poll that opened it) aborts it and
//! rewinds instead ([`AbortReason::TransactionTimeout`]): the records are
//! read again. Under transactions v2 that abort succeeds even once the
//! coordinator has aborted the transaction itself; under v1 the
//! coordinator's abort fences the producer, and only a new session goes on.
//!
//! ```no_run
//! use purekafka::config::{ConsumerConfig, ProducerConfig};
//! use purekafka::eos::{EosSession, Outcome};
//! use purekafka::ProducerRecord;
//! use std::time::Duration;
//!
//! # async fn run() -> purekafka::Result<()> {
//! let mut consumer = ConsumerConfig::new("localhost:9092");
//! consumer.group_id = Some("doubler".into());
//! let mut producer = ProducerConfig::new("localhost:9092");
//! // One transactional.id per running instance (KIP-447): a restarted
//! // instance fences its predecessor and aborts what it left open.
//! producer.transactional_id = Some("doubler-1".into());
//! let session = EosSession::new(consumer, producer).await?;
//! session.subscribe(&["numbers"])?;
//! loop {
//!     for r in session.poll(Duration::from_millis(500)).await? {
//!         let n: i64 = std::str::from_utf8(r.value.as_deref().unwrap_or_default())
//!             .ok().and_then(|s| s.parse().ok()).unwrap_or(0);
//!         let doubled = (2 * n).to_string();
//!         session.enqueue(ProducerRecord::to("doubled").value(&doubled)).await?;
//!     }
//!     match session.commit().await? {
//!         Outcome::Committed { .. } | Outcome::Empty => {}
//!         // Rewound: the next polls return those records again.
//!         Outcome::Aborted(reason) => eprintln!("transaction aborted: {reason}"),
//!     }
//! }
//! # }
//! ```

use crate::TopicPartition;
use crate::config::{ConsumerConfig, IsolationLevel, ProducerConfig};
use crate::consumer::{
    Consumer, ConsumerGroupMetadata, ConsumerRecord, OffsetAndMetadata, RebalanceListener,
};
use crate::error::{ConfigError, Error, Result};
use crate::producer::{Delivered, DeliveryFuture, Producer, ProducerRecord};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What [`EosSession::commit`] did.
#[derive(Debug)]
pub enum Outcome {
    /// The transaction committed with these consumed offsets (the next
    /// offset to read, per partition; empty if nothing was polled).
    Committed {
        /// The offsets committed with the transaction.
        offsets: Vec<(TopicPartition, i64)>,
    },
    /// No transaction was open (nothing polled since the last commit or abort).
    Empty,
    /// The transaction was aborted and the consumer rewound to the group's
    /// committed offsets: nothing it produced is visible, and the next polls
    /// return the records again (those of partitions still assigned).
    Aborted(AbortReason),
}

/// Why a transaction was aborted instead of committed.
#[derive(Debug)]
pub enum AbortReason {
    /// The group rebalanced (or the member's generation changed) while the
    /// transaction was open.
    Rebalance,
    /// The application asked for it ([`EosSession::abort`]).
    Requested,
    /// Sending the offsets or committing failed in a way the producer
    /// survives ([`Error::TransactionAbortable`], or a timeout of
    /// `send_offsets_to_transaction`); the session goes on.
    Failed(Error),
    /// The transaction was open at least `transaction.timeout.ms` when
    /// `commit()` came: the coordinator aborts such a transaction (and bumps
    /// the epoch), and its offsets or its commit would then fail for good
    /// (as Java's producer does). The session aborted it instead (under
    /// transactions v2 that succeeds even after the coordinator's abort);
    /// commit more often, or raise `transaction.timeout.ms`.
    TransactionTimeout {
        /// How long the transaction had been open.
        open_for: Duration,
        /// `transaction.timeout.ms`.
        timeout: Duration,
    },
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbortReason::Rebalance => f.write_str("the consumer group rebalanced"),
            AbortReason::Requested => f.write_str("abort() was called"),
            AbortReason::Failed(e) => write!(f, "{e}"),
            AbortReason::TransactionTimeout { open_for, timeout } => write!(
                f,
                "the transaction was open for {open_for:?}, at least transaction.timeout.ms ({timeout:?}), which the coordinator aborts: commit more often or raise transaction.timeout.ms"
            ),
        }
    }
}

// --- the decisions, sans-IO -----------------------------------------------

/// Offsets read in the open transaction, for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    /// The first offset returned (where a rewind goes without a committed offset).
    first: i64,
    /// One past the last offset returned: what the transaction commits.
    next: i64,
}

/// Where the open transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Open: records may be polled and produced.
    Open,
    /// `commit_transaction` was called and timed out: it goes on; only
    /// committing again (to wait for it) is allowed.
    Committing,
}

#[derive(Debug)]
struct OpenTxn {
    /// The member's generation when the transaction began: the offsets
    /// are committed with it, and a new one means a rebalance.
    group: ConsumerGroupMetadata,
    /// [`SessionState::rebalances`] when it began.
    rebalances: u64,
    offsets: BTreeMap<TopicPartition, Span>,
    phase: Phase,
    /// When it began (the coordinator's clock starts at its first write, later).
    began: Instant,
}

/// Partitions to rewind after an abort: to the group's committed offset,
/// else (no offset committed yet) to the fallback, the first offset the
/// aborted transaction (or the dropped poll) returned (`None`: a partition
/// given up without records read, left where the assignment put it).
/// Partitions no longer assigned are left alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Rewind {
    pub partitions: Vec<(TopicPartition, Option<i64>)>,
}

/// What must happen before anything else once a transaction was given up:
/// abort it (`abort`, until `abort_transaction` succeeded), then rewind.
/// Kept until both succeed: a rewind left out would skip the aborted
/// transaction's records for good.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Recovery {
    pub abort: bool,
    pub rewind: Rewind,
}

/// Taken before a poll, compared after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PollTicket {
    rebalances: u64,
    generation: i32,
}

/// What to do with the records a poll returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterPoll {
    /// Hand them to the application; `begin`: open a transaction first.
    Deliver { begin: bool },
    /// A rebalance came first: drop the records, abort the open transaction
    /// (`abort`), rewind.
    Drop { abort: bool, rewind: Rewind },
}

/// What [`EosSession::commit`] must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CommitPlan {
    /// No transaction is open.
    Nothing,
    /// The group rebalanced since the transaction began: abort and rewind.
    Abort(Rewind),
    /// The transaction has been open `open_for`, at least
    /// `transaction.timeout.ms` (`timeout`): abort and rewind.
    Expired {
        rewind: Rewind,
        open_for: Duration,
        timeout: Duration,
    },
    /// Send these offsets with `group` (unless empty), then commit.
    Commit {
        offsets: Vec<(TopicPartition, i64)>,
        group: ConsumerGroupMetadata,
    },
    /// A commit timed out earlier and goes on: wait for it again.
    Resume,
}

/// The session's state and every decision it takes: fed the consumer's group
/// metadata, the rebalance callbacks and the polled offsets, it says when to
/// begin, commit, abort and rewind. No I/O.
#[derive(Debug, Default)]
pub(crate) struct SessionState {
    /// Rebalance callbacks seen (revoked, lost, assigned).
    rebalances: u64,
    /// Partitions revoked or lost since the last rewind or commit: a rewind
    /// looks their committed offsets up again too.
    given_up: BTreeSet<TopicPartition>,
    txn: Option<OpenTxn>,
    /// A transaction given up, still to abort and rewind.
    recovery: Option<Recovery>,
    /// The session was closed.
    closed: bool,
    /// The producer's `transaction.timeout.ms` (`None`: not checked).
    transaction_timeout: Option<Duration>,
}

impl SessionState {
    /// A session whose producer has this `transaction.timeout.ms`.
    pub fn new(transaction_timeout: Duration) -> Self {
        SessionState {
            transaction_timeout: Some(transaction_timeout),
            ..SessionState::default()
        }
    }

    /// A rebalance callback: `given_up` are the partitions revoked or lost
    /// (empty for an assignment).
    pub fn on_rebalance(&mut self, given_up: &[TopicPartition]) {
        self.rebalances += 1;
        self.given_up.extend(given_up.iter().cloned());
    }

    /// Before a poll. Fails if a commit is under way or the session closed.
    pub fn before_poll(&self, group: &ConsumerGroupMetadata) -> Result<PollTicket> {
        self.usable()?;
        if self
            .txn
            .as_ref()
            .is_some_and(|t| t.phase == Phase::Committing)
        {
            return Err(Error::TransactionState {
                operation: "EosSession::poll",
                state: "Committing",
                hint: "a commit timed out and goes on: call commit() again until it returns",
            });
        }
        Ok(PollTicket {
            rebalances: self.rebalances,
            generation: group.generation_id,
        })
    }

    /// After a poll that returned `records` (partition and offset each), with
    /// the group metadata read after it, at `now`.
    pub fn after_poll<'a>(
        &mut self,
        ticket: PollTicket,
        group: &ConsumerGroupMetadata,
        records: impl IntoIterator<Item = (&'a TopicPartition, i64)>,
        now: Instant,
    ) -> AfterPoll {
        let moved = ticket.rebalances != self.rebalances
            || ticket.generation != group.generation_id
            || self.txn.as_ref().is_some_and(|t| self.rebalanced(t, group));
        if moved {
            let mut firsts: BTreeMap<TopicPartition, i64> = BTreeMap::new();
            for (tp, offset) in records {
                let f = firsts.entry(tp.clone()).or_insert(offset);
                *f = (*f).min(offset);
            }
            let abort = self.txn.is_some();
            for (tp, span) in self.txn.take().map(|t| t.offsets).unwrap_or_default() {
                let f = firsts.entry(tp).or_insert(span.first);
                *f = (*f).min(span.first);
            }
            let rewind = self.take_rewind(firsts);
            self.recovery = Some(Recovery {
                abort,
                rewind: rewind.clone(),
            });
            return AfterPoll::Drop { abort, rewind };
        }
        let begin = self.txn.is_none();
        let txn = self.txn.get_or_insert_with(|| OpenTxn {
            group: group.clone(),
            rebalances: ticket.rebalances,
            offsets: BTreeMap::new(),
            phase: Phase::Open,
            began: now,
        });
        for (tp, offset) in records {
            let next = offset.saturating_add(1);
            txn.offsets
                .entry(tp.clone())
                .and_modify(|s| {
                    s.first = s.first.min(offset);
                    s.next = s.next.max(next);
                })
                .or_insert(Span {
                    first: offset,
                    next,
                });
        }
        AfterPoll::Deliver { begin }
    }

    /// Opening the transaction (after [`AfterPoll::Deliver`] with `begin`)
    /// failed: there is none, and the records' partitions are rewound.
    pub fn begin_failed(&mut self) -> Rewind {
        let rewind = match self.txn.take() {
            Some(t) => self.rewind_of(t.offsets),
            None => Rewind::default(),
        };
        self.recovery = Some(Recovery {
            abort: false,
            rewind: rewind.clone(),
        });
        rewind
    }

    /// At `commit()`, at `now`, with the group metadata read then.
    pub fn commit_plan(
        &mut self,
        group: &ConsumerGroupMetadata,
        now: Instant,
    ) -> Result<CommitPlan> {
        self.usable()?;
        let Some(t) = &self.txn else {
            return Ok(CommitPlan::Nothing);
        };
        if t.phase == Phase::Committing {
            return Ok(CommitPlan::Resume);
        }
        if self.rebalanced(t, group) {
            return Ok(CommitPlan::Abort(self.abort_rewind()));
        }
        let open_for = now.saturating_duration_since(t.began);
        if let Some(timeout) = self.transaction_timeout
            && open_for >= timeout
        {
            return Ok(CommitPlan::Expired {
                rewind: self.abort_rewind(),
                open_for,
                timeout,
            });
        }
        Ok(CommitPlan::Commit {
            offsets: t
                .offsets
                .iter()
                .map(|(tp, s)| (tp.clone(), s.next))
                .collect(),
            group: t.group.clone(),
        })
    }

    /// `commit_transaction` timed out: it goes on.
    pub fn commit_pending(&mut self) {
        if let Some(t) = &mut self.txn {
            t.phase = Phase::Committing;
        }
    }

    /// The transaction committed; returns its offsets.
    pub fn committed(&mut self) -> Vec<(TopicPartition, i64)> {
        let offsets = self
            .txn
            .take()
            .map(|t| t.offsets.into_iter().map(|(tp, s)| (tp, s.next)).collect())
            .unwrap_or_default();
        // What was given up before is settled: the offsets are committed.
        self.given_up.clear();
        offsets
    }

    /// The open transaction is to be aborted (a failure, or the
    /// application's `abort()`): what to rewind afterwards. `None` if none
    /// is open or its commit is under way (it cannot be aborted then).
    pub fn abort_plan(&mut self) -> Option<Rewind> {
        match &self.txn {
            Some(t) if t.phase == Phase::Open => Some(self.abort_rewind()),
            _ => None,
        }
    }

    /// The recovery still to do, if any.
    pub fn recovery(&self) -> Option<Recovery> {
        self.recovery.clone()
    }

    /// `abort_transaction` succeeded: only the rewind is left.
    pub fn aborted(&mut self) {
        if let Some(r) = &mut self.recovery {
            r.abort = false;
        }
    }

    /// The rewind is done: the session is clean.
    pub fn rewound(&mut self) {
        self.recovery = None;
    }

    /// The session closes: nothing more is allowed.
    pub fn close(&mut self) -> Option<Rewind> {
        self.closed = true;
        self.txn.take().map(|t| self.rewind_of(t.offsets))
    }

    fn usable(&self) -> Result<()> {
        if self.closed {
            return Err(Error::Closed("exactly-once session"));
        }
        if self.recovery.is_some() {
            return Err(Error::TransactionState {
                operation: "EosSession",
                state: "recovering",
                hint: "the last transaction's abort or rewind failed: call poll, commit or abort again to retry it",
            });
        }
        Ok(())
    }

    fn rebalanced(&self, t: &OpenTxn, group: &ConsumerGroupMetadata) -> bool {
        t.rebalances != self.rebalances
            || t.group.generation_id != group.generation_id
            || t.group.member_id != group.member_id
    }

    /// Gives the open transaction up: it is to be aborted, then rewound.
    fn abort_rewind(&mut self) -> Rewind {
        let offsets = self.txn.take().map(|t| t.offsets).unwrap_or_default();
        let rewind = self.rewind_of(offsets);
        self.recovery = Some(Recovery {
            abort: true,
            rewind: rewind.clone(),
        });
        rewind
    }

    fn rewind_of(&mut self, offsets: BTreeMap<TopicPartition, Span>) -> Rewind {
        self.take_rewind(offsets.into_iter().map(|(tp, s)| (tp, s.first)).collect())
    }

    /// The rewind of `firsts` (first offsets read, by partition); resets the
    /// partitions given up (the rewind settles them).
    ///
    /// Without a committed offset, a partition goes back to the first offset
    /// read: every position since the group's last commit (none) came from
    /// the reset policy and then moved only over records this member read,
    /// in the aborted transaction or the dropped poll, so the first of them
    /// is where reading began. That holds for a partition given up and
    /// assigned again too: the records of the poll that saw it come back
    /// were read from the new assignment's starting point (a rewind that
    /// skipped them would lose them for good). A member that read the
    /// partition in between and committed left a committed offset, which wins.
    fn take_rewind(&mut self, firsts: BTreeMap<TopicPartition, i64>) -> Rewind {
        let given_up = std::mem::take(&mut self.given_up);
        let mut partitions: Vec<(TopicPartition, Option<i64>)> = firsts
            .into_iter()
            .map(|(tp, first)| (tp, Some(first)))
            .collect();
        // Partitions given up and assigned again start from the committed
        // offset the consumer looked up; looking it up again after the abort
        // costs little and settles any doubt.
        for tp in given_up {
            if !partitions.iter().any(|(p, _)| *p == tp) {
                partitions.push((tp, None));
            }
        }
        Rewind { partitions }
    }
}

// --- the session -------------------------------------------------------------

/// The consumer's rebalance callbacks, noted in the session's state and
/// passed on to the application's listener.
struct Watch {
    state: Arc<Mutex<SessionState>>,
    user: Mutex<Option<Arc<dyn RebalanceListener>>>,
}

impl Watch {
    fn user(&self) -> Option<Arc<dyn RebalanceListener>> {
        self.user
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn note(&self, given_up: &[TopicPartition]) {
        lock(&self.state).on_rebalance(given_up);
    }
}

impl RebalanceListener for Watch {
    fn on_partitions_assigned(&self, partitions: &[TopicPartition]) {
        self.note(&[]);
        if let Some(u) = self.user() {
            u.on_partitions_assigned(partitions);
        }
    }

    fn on_partitions_revoked(&self, partitions: &[TopicPartition]) {
        self.note(partitions);
        if let Some(u) = self.user() {
            u.on_partitions_revoked(partitions);
        }
    }

    fn on_partitions_lost(&self, partitions: &[TopicPartition]) {
        self.note(partitions);
        if let Some(u) = self.user() {
            u.on_partitions_lost(partitions);
        }
    }
}

fn lock(state: &Mutex<SessionState>) -> MutexGuard<'_, SessionState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An exactly-once consume-transform-produce loop: a consumer in a group
/// and a transactional producer whose transactions carry the consumer's
/// offsets. See the [module documentation](self).
///
/// Calls are serialized: `poll`, `commit` and `abort` wait for each other.
pub struct EosSession {
    consumer: Consumer,
    producer: Producer,
    state: Arc<Mutex<SessionState>>,
    watch: Arc<Watch>,
    /// One of poll / commit / abort at a time.
    turn: tokio::sync::Mutex<()>,
}

impl fmt::Debug for EosSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EosSession")
            .field("consumer", &self.consumer)
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

impl EosSession {
    /// Starts the consumer and the producer, and initializes transactions
    /// (`init_transactions`: this fences an earlier producer with the same
    /// `transactional.id` and aborts what it left open). `consumer` needs a
    /// `group.id` and `producer` a `transactional.id`; the session sets
    /// `isolation.level=read_committed` and `enable.auto.commit=false` (the
    /// offsets are committed by the transactions, and only what other
    /// transactions committed is read).
    pub async fn new(mut consumer: ConsumerConfig, producer: ProducerConfig) -> Result<EosSession> {
        if consumer.group_id.is_none() {
            return Err(ConfigError::new(
                "group.id",
                "is required by the exactly-once session: its offsets are committed in the group",
            )
            .into());
        }
        if producer.transactional_id.is_none() {
            return Err(ConfigError::new(
                "transactional.id",
                "is required by the exactly-once session: set one per running instance",
            )
            .into());
        }
        consumer.isolation_level = IsolationLevel::ReadCommitted;
        consumer.enable_auto_commit = false;
        let transaction_timeout = producer.transaction_timeout;
        let producer = Producer::new(producer).await?;
        producer.init_transactions().await?;
        let consumer = Consumer::new(consumer).await?;
        let state = Arc::new(Mutex::new(SessionState::new(transaction_timeout)));
        let watch = Arc::new(Watch {
            state: state.clone(),
            user: Mutex::new(None),
        });
        consumer.set_rebalance_listener(watch.clone())?;
        Ok(EosSession {
            consumer,
            producer,
            state,
            watch,
            turn: tokio::sync::Mutex::new(()),
        })
    }

    /// Subscribes the consumer to these topics (see [`Consumer::subscribe`]).
    pub fn subscribe(&self, topics: &[&str]) -> Result<()> {
        self.consumer.subscribe(topics)
    }

    /// The application's rebalance callbacks, called after the session has
    /// noted the rebalance (the session installs its own listener on the
    /// consumer; use this instead of [`Consumer::set_rebalance_listener`]).
    pub fn set_rebalance_listener(&self, listener: Arc<dyn RebalanceListener>) {
        *self
            .watch
            .user
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(listener);
    }

    /// The consumer (to read positions, pause partitions...). Do not commit
    /// through it, seek it, or replace its rebalance listener: the session
    /// does those.
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// The transactional producer: what it sends between a `poll` and a
    /// `commit` is in the transaction. Do not begin, commit or abort through
    /// it: the session does those.
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Polls the consumer; opens a transaction first if none is open. The
    /// records returned belong to the open transaction: produce their
    /// results before [`commit`](Self::commit). If the group rebalanced
    /// since the transaction began (or during this poll), the transaction is
    /// aborted, the consumer rewound, and the records dropped: this returns
    /// nothing, and later polls return them again.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let _turn = self.turn.lock().await;
        self.recover().await?;
        let ticket = lock(&self.state).before_poll(&self.consumer.group_metadata()?)?;
        let records = self.consumer.poll(timeout).await?;
        let group = self.consumer.group_metadata()?;
        let tps: Vec<TopicPartition> = records
            .iter()
            .map(ConsumerRecord::topic_partition)
            .collect();
        let next = lock(&self.state).after_poll(
            ticket,
            &group,
            tps.iter().zip(records.iter().map(|r| r.offset)),
            Instant::now(),
        );
        match next {
            AfterPoll::Deliver { begin } => {
                if begin && let Err(e) = self.producer.begin_transaction() {
                    lock(&self.state).begin_failed();
                    self.recover().await?;
                    return Err(e);
                }
                Ok(records)
            }
            AfterPoll::Drop { abort, .. } => {
                tracing::info!(
                    group = %group.group_id,
                    generation = group.generation_id,
                    dropped = records.len(),
                    "exactly-once session: the group rebalanced; {}rewinding to the committed offsets",
                    if abort { "aborting the open transaction, " } else { "" }
                );
                self.recover().await?;
                Ok(Vec::new())
            }
        }
    }

    /// Sends a record in the open transaction and waits for it (see
    /// [`Producer::send`]). Call it between [`poll`](Self::poll) and
    /// [`commit`](Self::commit).
    pub async fn send(&self, record: ProducerRecord<'_>) -> Result<Delivered> {
        self.producer.send(record).await
    }

    /// Queues a record in the open transaction (see [`Producer::enqueue`]);
    /// [`commit`](Self::commit) waits for every queued record.
    pub async fn enqueue(&self, record: ProducerRecord<'_>) -> Result<DeliveryFuture> {
        self.producer.enqueue(record).await
    }

    /// Commits the open transaction with the offsets of everything polled in
    /// it, in the generation it was polled in. Aborts it instead, and
    /// rewinds the consumer, if the group rebalanced meanwhile or the
    /// transaction failed in a way the producer survives; returns
    /// [`Outcome::Aborted`] then. Errors: the producer failed for good
    /// ([`Error::TransactionFatal`], e.g. fenced by a newer instance with the
    /// same `transactional.id`: close the session); the commit timed out
    /// ([`Error::TransactionTimeout`]: it goes on; call `commit` again); an
    /// abort or rewind failed (a broker unreachable: the next `poll`,
    /// `commit` or `abort` retries it before anything else).
    pub async fn commit(&self) -> Result<Outcome> {
        let _turn = self.turn.lock().await;
        self.recover().await?;
        let group = self.consumer.group_metadata()?;
        let plan = lock(&self.state).commit_plan(&group, Instant::now())?;
        match plan {
            CommitPlan::Nothing => return Ok(Outcome::Empty),
            CommitPlan::Abort(_) => {
                tracing::info!(
                    group = %group.group_id,
                    generation = group.generation_id,
                    "exactly-once session: the group rebalanced; aborting instead of committing"
                );
                self.recover().await?;
                return Ok(Outcome::Aborted(AbortReason::Rebalance));
            }
            CommitPlan::Expired {
                open_for, timeout, ..
            } => {
                let reason = AbortReason::TransactionTimeout { open_for, timeout };
                tracing::info!(
                    group = %group.group_id,
                    "exactly-once session: {reason}; aborting instead of committing"
                );
                self.recover().await?;
                return Ok(Outcome::Aborted(reason));
            }
            CommitPlan::Resume => {}
            CommitPlan::Commit { offsets, group } => {
                if !offsets.is_empty() {
                    let with_meta = offsets.into_iter().map(|(tp, next)| {
                        (
                            tp,
                            OffsetAndMetadata {
                                offset: next,
                                metadata: None,
                            },
                        )
                    });
                    match self
                        .producer
                        .send_offsets_to_transaction(with_meta, &group)
                        .await
                    {
                        Ok(()) => {}
                        Err(
                            e @ (Error::TransactionAbortable { .. }
                            | Error::TransactionTimeout { .. }),
                        ) => return self.abort_after(e).await,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        match self.producer.commit_transaction().await {
            Ok(()) => Ok(Outcome::Committed {
                offsets: lock(&self.state).committed(),
            }),
            Err(e @ Error::TransactionAbortable { .. }) => self.abort_after(e).await,
            Err(e @ Error::TransactionTimeout { .. }) => {
                lock(&self.state).commit_pending();
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Aborts the open transaction (nothing it produced becomes visible) and
    /// rewinds the consumer to the group's committed offsets. Returns
    /// [`Outcome::Empty`] if none was open.
    pub async fn abort(&self) -> Result<Outcome> {
        let _turn = self.turn.lock().await;
        self.recover().await?;
        if lock(&self.state).abort_plan().is_none() {
            return Ok(Outcome::Empty);
        }
        self.recover().await?;
        Ok(Outcome::Aborted(AbortReason::Requested))
    }

    /// Aborts an open transaction, closes the consumer (leaving the group)
    /// and the producer.
    pub async fn close(&self) -> Result<()> {
        let _turn = self.turn.lock().await;
        let open = {
            let mut st = lock(&self.state);
            let abort = st.recovery().is_some_and(|r| r.abort);
            st.close().is_some() || abort
        };
        if open {
            // Best effort: a producer that failed for good cannot abort, and
            // the coordinator aborts the transaction at its timeout anyway.
            if let Err(e) = self.producer.abort_transaction().await {
                tracing::warn!("exactly-once session: aborting at close failed: {e}");
            }
        }
        let consumer = self.consumer.close().await;
        let producer = self.producer.close(Duration::from_secs(30)).await;
        consumer.and(producer)
    }

    async fn abort_after(&self, cause: Error) -> Result<Outcome> {
        tracing::info!("exactly-once session: aborting the transaction: {cause}");
        lock(&self.state).abort_plan();
        self.recover().await?;
        Ok(Outcome::Aborted(AbortReason::Failed(cause)))
    }

    /// Aborts the transaction given up and rewinds, if that is still to do.
    async fn recover(&self) -> Result<()> {
        let Some(r) = lock(&self.state).recovery() else {
            return Ok(());
        };
        if r.abort {
            self.producer.abort_transaction().await?;
            lock(&self.state).aborted();
        }
        self.rewind(r.rewind).await?;
        lock(&self.state).rewound();
        Ok(())
    }

    /// Seeks the listed partitions still assigned back to the group's
    /// committed offsets (else to their fallback).
    async fn rewind(&self, rewind: Rewind) -> Result<()> {
        let assigned: BTreeSet<TopicPartition> = self.consumer.assignment().into_iter().collect();
        let targets: Vec<(TopicPartition, Option<i64>)> = rewind
            .partitions
            .into_iter()
            .filter(|(tp, _)| assigned.contains(tp))
            .collect();
        if targets.is_empty() {
            return Ok(());
        }
        let committed = self
            .consumer
            .committed(targets.iter().map(|(tp, _)| tp.clone()))
            .await?;
        for (tp, fallback) in targets {
            let to = committed.get(&tp).map(|o| o.offset).or(fallback);
            if let Some(offset) = to {
                self.consumer.seek(tp, offset)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "eos_tests.rs"]
mod tests;
