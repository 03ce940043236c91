//! The transactional producer's state machine, sans-IO.
//!
//! [`Transaction`] owns a transactional producer's state: where it stands
//! ([`TxnState`]), its producer id and epoch, the transaction coordinator,
//! the partitions in the open transaction, and the one operation the
//! application is waiting for (`init_transactions`, `send_offsets_to_transaction`,
//! `commit_transaction`, `abort_transaction`). It does no I/O and reads no
//! clock: the application's calls ([`start_init`](Transaction::start_init),
//! [`begin`](Transaction::begin), [`check_send`](Transaction::check_send), ...)
//! are judged at once (a misuse is a typed [`Error::TransactionState`] naming
//! the state); [`next`](Transaction::next) says which request to send now
//! (one at a time, as the Java client does), and the answer goes back through
//! [`on_response`](Transaction::on_response).
//!
//! # States
//!
//! ```text
//!  Uninitialized ─init─▶ Initializing ─InitProducerId ok─▶ Ready
//!  Ready ─begin─▶ InTransaction ─commit─▶ Committing ─EndTxn ok─▶ Ready
//!                 InTransaction ─abort──▶ Aborting ───EndTxn ok─▶ Ready
//!  InTransaction/Committing ─a send failed, a partition or the group denied─▶ AbortableError
//!  AbortableError ─abort─▶ Aborting
//!  any ─fenced, not authorized for the transactional id, unsupported─▶ FatalError
//! ```
//!
//! Versions: under transactions v1 a partition is added with
//! AddPartitionsToTxn before its first batch in a transaction (the sender
//! holds its batches until then: [`partition_sendable`](Transaction::partition_sendable)),
//! and the group with AddOffsetsToTxn before TxnOffsetCommit; under v2
//! (KIP-890, the broker's finalized `transaction.version` >= 2, Produce v12+,
//! TxnOffsetCommit v5+, EndTxn v5+) both are implicit and every EndTxn
//! returns a new epoch (sequences restart at 0 in the next transaction).
//!
//! Errors are classed as the Java client's `TransactionManager` does:
//! coordinator moves and loads, CONCURRENT_TRANSACTIONS and network
//! failures are retried with backoff (`retry.backoff.ms` ..
//! `retry.backoff.max.ms`; the application's call is bounded by
//! `max.block.ms`); a failed send, a denied topic or group, a rebalanced
//! consumer (KIP-447) make the transaction abortable; a newer producer
//! with the same id (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH from a
//! coordinator), a denied transactional id, an unsupported broker make the
//! producer fail for good.
//!
//! The coordinator aborts a transaction open longer than
//! `transaction.timeout.ms`, and bumps the epoch. What follows is Java's
//! (checked against Kafka 4.4): a batch sent after it fails with
//! INVALID_PRODUCER_EPOCH, which makes the transaction abortable (KIP-588);
//! a commit's EndTxn is INVALID_TXN_STATE under v2 (PRODUCER_FENCED under
//! v1), fatal; an abort's EndTxn under v2 succeeds (the coordinator takes
//! it as the retry of its own abort) and returns the new epoch, so the
//! producer goes on; under v1 it is PRODUCER_FENCED, fatal.
//! After a failed batch (a sequence gap) the next abort bumps the epoch
//! (InitProducerId with the current id and epoch, KIP-360) under v1; under
//! v2 the abort's EndTxn bumps it.

use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::error::Error;
pub use crate::net::coordinator::CoordinatorType;
use crate::producer::idempotence::ProducerId;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use purekafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use purekafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A set of topic-partitions, looked up without allocating.
#[derive(Debug, Default)]
struct PartSet(BTreeMap<Arc<str>, BTreeSet<i32>>);

impl PartSet {
    fn contains(&self, topic: &str, partition: i32) -> bool {
        self.0.get(topic).is_some_and(|p| p.contains(&partition))
    }

    fn insert(&mut self, (topic, partition): (Arc<str>, i32)) {
        self.0.entry(topic).or_default().insert(partition);
    }

    fn extend(&mut self, keys: impl IntoIterator<Item = (Arc<str>, i32)>) {
        for k in keys {
            self.insert(k);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn clear(&mut self) {
        self.0.clear();
    }

    fn into_vec(self) -> Vec<(Arc<str>, i32)> {
        self.0
            .into_iter()
            .flat_map(|(t, ps)| ps.into_iter().map(move |p| (t.clone(), p)))
            .collect()
    }
}

/// Settings of the machine (from the producer configuration).
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transactional.id`.
    pub transactional_id: String,
    /// `transaction.timeout.ms`.
    pub transaction_timeout: Duration,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
}

/// The transaction protocol in use (chosen at `init_transactions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnVersion {
    /// AddPartitionsToTxn and AddOffsetsToTxn; the epoch stays across transactions.
    V1,
    /// KIP-890: implicit adds, a new epoch from every EndTxn.
    V2,
}

/// Where a transactional producer stands (see the module docs).
#[derive(Debug, Clone)]
pub enum TxnState {
    /// `init_transactions` not called yet.
    Uninitialized,
    /// `init_transactions` running.
    Initializing,
    /// No transaction open.
    Ready,
    /// A transaction is open.
    InTransaction,
    /// `commit_transaction` running.
    Committing,
    /// `abort_transaction` running.
    Aborting,
    /// The transaction failed (the cause): only an abort is allowed.
    AbortableError(Error),
    /// The producer failed for good (the cause).
    FatalError(Error),
}

impl TxnState {
    /// The state's name, as errors show it.
    pub fn name(&self) -> &'static str {
        match self {
            TxnState::Uninitialized => "Uninitialized",
            TxnState::Initializing => "Initializing",
            TxnState::Ready => "Ready",
            TxnState::InTransaction => "InTransaction",
            TxnState::Committing => "Committing",
            TxnState::Aborting => "Aborting",
            TxnState::AbortableError(_) => "AbortableError",
            TxnState::FatalError(_) => "FatalError",
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Any broker (FindCoordinator).
    AnyBroker,
    /// The transaction coordinator, this node.
    TxnCoordinator(i32),
    /// The group coordinator, this node.
    GroupCoordinator(i32),
}

/// A request the machine wants sent.
#[derive(Debug, Clone, PartialEq)]
pub enum TxnRequest {
    /// FindCoordinator for `key`.
    FindCoordinator {
        /// Which coordinator.
        kind: CoordinatorType,
        /// The transactional id or group id.
        key: String,
    },
    /// InitProducerId (with the transactional id).
    InitProducerId(InitProducerIdRequest),
    /// AddPartitionsToTxn (v1), sent at version 3 or lower.
    AddPartitions(AddPartitionsToTxnRequest),
    /// AddOffsetsToTxn (v1).
    AddOffsets(AddOffsetsToTxnRequest),
    /// TxnOffsetCommit, to the group coordinator.
    TxnOffsetCommit(TxnOffsetCommitRequest),
    /// EndTxn.
    EndTxn(EndTxnRequest),
}

impl TxnRequest {
    /// The API's name, for errors.
    pub fn api(&self) -> &'static str {
        match self {
            TxnRequest::FindCoordinator { .. } => "FindCoordinator",
            TxnRequest::InitProducerId(_) => "InitProducerId",
            TxnRequest::AddPartitions(_) => "AddPartitionsToTxn",
            TxnRequest::AddOffsets(_) => "AddOffsetsToTxn",
            TxnRequest::TxnOffsetCommit(_) => "TxnOffsetCommit",
            TxnRequest::EndTxn(_) => "EndTxn",
        }
    }
}

/// An answer to a [`TxnRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum TxnResponse {
    /// FindCoordinator named this node; for the transaction coordinator, the
    /// protocol its broker speaks (read from its ApiVersions).
    Coordinator {
        /// The coordinator's node id.
        node: i32,
        /// Transactions v1 or v2.
        version: TxnVersion,
    },
    /// InitProducerId's answer.
    InitProducerId(InitProducerIdResponse),
    /// AddPartitionsToTxn's answer.
    AddPartitions(AddPartitionsToTxnResponse),
    /// AddOffsetsToTxn's answer.
    AddOffsets(AddOffsetsToTxnResponse),
    /// TxnOffsetCommit's answer.
    TxnOffsetCommit(TxnOffsetCommitResponse),
    /// EndTxn's answer.
    EndTxn(EndTxnResponse),
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this, then report the answer (or the failure) with
    /// [`Transaction::on_response`].
    Send {
        /// Where.
        target: Target,
        /// What.
        request: TxnRequest,
    },
    /// Nothing before this instant (a backoff).
    Wait(Instant),
    /// Nothing to send until the application or the sender acts.
    Idle,
}

/// The application's transactional calls (an operation serves one of
/// `Init`, `SendOffsets`, `Commit`, `Abort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `init_transactions`.
    Init,
    /// `begin_transaction` (judged at once).
    Begin,
    /// `send` of a record (judged at once).
    Send,
    /// `send_offsets_to_transaction`.
    SendOffsets,
    /// `commit_transaction`.
    Commit,
    /// `abort_transaction`.
    Abort,
}

impl OpKind {
    /// The call's name.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Init => "init_transactions",
            OpKind::Begin => "begin_transaction",
            OpKind::Send => "send",
            OpKind::SendOffsets => "send_offsets_to_transaction",
            OpKind::Commit => "commit_transaction",
            OpKind::Abort => "abort_transaction",
        }
    }
}

/// One operation's handle: its result is asked for with [`Transaction::result`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    id: u64,
    /// The call it serves.
    pub kind: OpKind,
    /// The application must flush the producer and report with
    /// [`Transaction::on_flushed`] (commit and abort).
    pub needs_flush: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// InitProducerId (after FindCoordinator).
    InitPid,
    /// AddOffsetsToTxn (v1).
    AddOffsets,
    /// FindCoordinator for the group.
    FindGroup,
    /// TxnOffsetCommit.
    CommitOffsets,
    /// Waiting for the application's flush.
    Flush,
    /// EndTxn.
    EndTxn,
    /// InitProducerId with the current id and epoch (KIP-360 bump).
    Bump,
}

#[derive(Debug)]
struct Offsets {
    group: ConsumerGroupMetadata,
    offsets: Vec<(Arc<str>, i32, OffsetAndMetadata)>,
    coordinator: Option<i32>,
}

#[derive(Debug)]
struct Op {
    ticket: Ticket,
    step: Step,
    offsets: Option<Offsets>,
}

/// What the request in flight was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    FindTxnCoordinator,
    AddPartitions,
    /// A step of the operation with this ticket id.
    Op(u64, Step),
}

/// How an error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Try again after backoff; `refind`: look the coordinator up again first.
    Retry { refind: bool },
    /// The transaction must be aborted.
    Abortable,
    /// The producer is done.
    Fatal,
}

/// The transactional producer's state machine (see the module docs).
#[derive(Debug)]
pub struct Transaction {
    cfg: TxnConfig,
    state: TxnState,
    version: TxnVersion,
    producer: Option<ProducerId>,
    /// A new id or epoch for the sender, not taken yet.
    new_producer: Option<ProducerId>,
    coordinator: Option<i32>,
    /// Partitions in the open transaction (v1: added; v2: sent to).
    added: PartSet,
    /// Partitions to add (v1).
    pending: PartSet,
    /// Partitions being added (v1).
    adding: Vec<(Arc<str>, i32)>,
    /// The coordinator knows of the open transaction (a partition or the
    /// group was added, or a batch was sent under v2): it must be ended with
    /// EndTxn.
    started: bool,
    /// A batch failed for good: sequences must restart under a new epoch.
    bump_needed: bool,
    op: Option<Op>,
    in_flight: Option<Sent>,
    not_before: Option<Instant>,
    backoff: Duration,
    /// The last retriable error, for a timeout's message.
    last_error: Option<Error>,
    next_ticket: u64,
    finished: Vec<(u64, Result<(), Error>)>,
    /// Queued batches must fail with this (the transaction became abortable
    /// or is being aborted).
    fail_queued: Option<Error>,
}

/// Fatal for a failed batch (Java's `maybeTransitionToErrorState`): a
/// newer producer, a denied id or cluster, an unsupported broker. Anything
/// else a Produce answers makes the transaction abortable, INVALID_PRODUCER_EPOCH
/// too (KIP-588): the coordinator bumps the epoch when it aborts a
/// transaction open longer than `transaction.timeout.ms`, and under
/// transactions v2 the abort that follows ends it and the producer goes on.
fn fatal_for_send(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::PRODUCER_FENCED
            | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
            | ErrorCode::UNSUPPORTED_VERSION
            | ErrorCode::INVALID_PRODUCER_ID_MAPPING
    )
}

/// Fatal whatever the coordinator request: the producer cannot go on.
fn always_fatal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::PRODUCER_FENCED
            | ErrorCode::INVALID_PRODUCER_EPOCH
            | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
            | ErrorCode::UNSUPPORTED_VERSION
            | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
            | ErrorCode::INVALID_TXN_STATE
            | ErrorCode::INVALID_TRANSACTION_TIMEOUT
            | ErrorCode::TRANSACTION_COORDINATOR_FENCED
    )
}

fn classify(code: ErrorCode) -> Class {
    match code {
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
            Class::Retry { refind: true }
        }
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::CONCURRENT_TRANSACTIONS => {
            Class::Retry { refind: false }
        }
        c if always_fatal(c) => Class::Fatal,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED
        | ErrorCode::GROUP_AUTHORIZATION_FAILED
        | ErrorCode::TRANSACTION_ABORTABLE
        | ErrorCode::UNKNOWN_PRODUCER_ID
        | ErrorCode::INVALID_PRODUCER_ID_MAPPING
        | ErrorCode::OPERATION_NOT_ATTEMPTED
        | ErrorCode::UNKNOWN_MEMBER_ID
        | ErrorCode::ILLEGAL_GENERATION
        | ErrorCode::FENCED_INSTANCE_ID
        | ErrorCode::REBALANCE_IN_PROGRESS
        | ErrorCode::INVALID_GROUP_ID => Class::Abortable,
        c if c.is_retriable() => Class::Retry { refind: false },
        _ => Class::Fatal,
    }
}

fn classify_error(e: &Error) -> Class {
    match e {
        Error::Kafka { code, .. } => classify(*code),
        e if e.is_retriable() => Class::Retry { refind: true },
        _ => Class::Fatal,
    }
}

impl Transaction {
    /// A machine for a producer that has not called `init_transactions`.
    pub fn new(cfg: TxnConfig) -> Self {
        Transaction {
            backoff: cfg.retry_backoff,
            cfg,
            state: TxnState::Uninitialized,
            version: TxnVersion::V1,
            producer: None,
            new_producer: None,
            coordinator: None,
            added: PartSet::default(),
            pending: PartSet::default(),
            adding: Vec::new(),
            started: false,
            bump_needed: false,
            op: None,
            in_flight: None,
            not_before: None,
            last_error: None,
            next_ticket: 1,
            finished: Vec::new(),
            fail_queued: None,
        }
    }

    /// Where the producer stands.
    #[cfg(test)]
    pub fn state(&self) -> &TxnState {
        &self.state
    }

    /// The transaction protocol in use.
    #[cfg(test)]
    pub fn version(&self) -> TxnVersion {
        self.version
    }

    /// `transactional.id`.
    pub fn transactional_id(&self) -> &str {
        &self.cfg.transactional_id
    }

    /// The producer id and epoch, once initialized.
    #[cfg(test)]
    pub fn producer(&self) -> Option<ProducerId> {
        self.producer
    }

    /// A new producer id or epoch for the sender to seal batches with.
    pub fn take_new_producer(&mut self) -> Option<ProducerId> {
        self.new_producer.take()
    }

    /// Queued batches must fail with this error (once).
    pub fn take_fail_queued(&mut self) -> Option<Error> {
        self.fail_queued.take()
    }

    /// The highest Produce version for this protocol (v12 is where v2 begins).
    pub fn max_produce_version(&self) -> i16 {
        match self.version {
            TxnVersion::V1 => 11,
            TxnVersion::V2 => i16::MAX,
        }
    }

    /// The highest version of `api` this protocol allows.
    pub fn max_version(&self, request: &TxnRequest) -> i16 {
        match (request, self.version) {
            (TxnRequest::AddPartitions(_), _) => 3,
            (TxnRequest::TxnOffsetCommit(_), TxnVersion::V1)
            | (TxnRequest::EndTxn(_), TxnVersion::V1) => 4,
            // v6 names topics by id; v5 is what v2 needs.
            (TxnRequest::TxnOffsetCommit(_), TxnVersion::V2) => 5,
            // v6 is two-phase commit (KIP-939).
            (TxnRequest::InitProducerId(_), _) => 5,
            _ => i16::MAX,
        }
    }

    fn abortable(&self, cause: &Error) -> Error {
        Error::TransactionAbortable {
            transactional_id: self.cfg.transactional_id.clone(),
            cause: Box::new(cause.clone()),
        }
    }

    fn fatal(&self, cause: &Error) -> Error {
        Error::TransactionFatal {
            transactional_id: self.cfg.transactional_id.clone(),
            cause: Box::new(cause.clone()),
        }
    }

    fn misuse(&self, operation: &'static str, hint: &'static str) -> Error {
        Error::TransactionState {
            operation,
            state: self.state.name(),
            hint,
        }
    }

    /// Why `call` is refused in this state: in a failed state the failure,
    /// else a misuse naming the state and saying what to do.
    fn refused(&self, call: OpKind) -> Error {
        if let Some(e) = self.failed() {
            return e;
        }
        use OpKind as C;
        use TxnState as S;
        let hint = match (call, &self.state) {
            (C::Init, _) => "it is called once, before the first transaction",
            (C::SendOffsets | C::Commit, S::InTransaction) => {
                return Error::TransactionState {
                    operation: call.name(),
                    state: "InTransaction with send_offsets_to_transaction running",
                    hint: "await send_offsets_to_transaction (or call it again after its timeout) first",
                };
            }
            (C::Begin, S::Uninitialized | S::Initializing) => {
                "call init_transactions first (and let it finish)"
            }
            (C::Begin, S::InTransaction) => {
                "a transaction is open already: commit or abort it first"
            }
            (C::Begin, _) => {
                "the previous transaction is still ending: wait for its commit_transaction or abort_transaction"
            }
            (C::Send, S::Uninitialized | S::Initializing) => {
                "a transactional producer sends only in a transaction: call init_transactions, then begin_transaction"
            }
            (C::Send, S::Ready) => {
                "a transactional producer sends only in a transaction: call begin_transaction first"
            }
            (C::Send, _) => {
                "the transaction is ending: send in the next one, after begin_transaction"
            }
            (C::SendOffsets, _) => {
                "offsets are sent inside a transaction: call begin_transaction first"
            }
            (C::Commit, S::Aborting) => "abort_transaction is running: await it (or call it again)",
            (C::Abort, S::Committing) => {
                "commit_transaction is running: await it (or call it again after its timeout)"
            }
            (C::Commit | C::Abort, _) => {
                "there is no open transaction: call begin_transaction first"
            }
        };
        self.misuse(call.name(), hint)
    }

    /// Starts an operation for `kind` at `step` (a commit or an abort
    /// begins with the application's flush).
    fn start(&mut self, kind: OpKind, step: Step, offsets: Option<Offsets>) -> Ticket {
        let ticket = Ticket {
            id: self.next_ticket,
            kind,
            needs_flush: step == Step::Flush,
        };
        self.next_ticket += 1;
        self.op = Some(Op {
            ticket,
            step,
            offsets,
        });
        ticket
    }

    /// The error for a call in a failed state, if the state is one.
    fn failed(&self) -> Option<Error> {
        match &self.state {
            TxnState::FatalError(e) => Some(self.fatal(e)),
            TxnState::AbortableError(e) => Some(self.abortable(e)),
            _ => None,
        }
    }

    /// The running operation's ticket, if it serves `kind` (a call retried
    /// after its timeout joins it).
    fn running(&self, kind: OpKind) -> Option<Ticket> {
        self.op
            .as_ref()
            .filter(|op| op.ticket.kind == kind)
            .map(|op| Ticket {
                needs_flush: op.step == Step::Flush,
                ..op.ticket
            })
    }

    /// `init_transactions`: find the coordinator, get the producer id.
    pub fn start_init(&mut self) -> Result<Ticket, Error> {
        if let Some(t) = self.running(OpKind::Init) {
            return Ok(t);
        }
        if !matches!(self.state, TxnState::Uninitialized) {
            return Err(self.refused(OpKind::Init));
        }
        self.state = TxnState::Initializing;
        Ok(self.start(OpKind::Init, Step::InitPid, None))
    }

    /// `begin_transaction`.
    pub fn begin(&mut self) -> Result<(), Error> {
        if !matches!(self.state, TxnState::Ready) {
            return Err(self.refused(OpKind::Begin));
        }
        self.state = TxnState::InTransaction;
        self.added.clear();
        self.pending.clear();
        self.started = false;
        Ok(())
    }

    /// A record is about to be appended for `topic`/`partition`: allowed only
    /// in a transaction. Under v1 a partition new to the transaction is
    /// queued for AddPartitionsToTxn (its batches wait for it).
    pub fn check_send(&mut self, topic: &str, partition: i32) -> Result<(), Error> {
        if !matches!(self.state, TxnState::InTransaction) {
            return Err(self.refused(OpKind::Send));
        }
        // No allocation for a partition already known (every record
        // passes here).
        if self.version == TxnVersion::V1
            && !self.added.contains(topic, partition)
            && !self.pending.contains(topic, partition)
            && !self
                .adding
                .iter()
                .any(|(t, p)| **t == *topic && *p == partition)
        {
            self.pending.insert((Arc::from(topic), partition));
        }
        Ok(())
    }

    /// Whether the sender may send a batch of this partition now (v1: once
    /// the coordinator has added it to the transaction).
    pub fn partition_sendable(&self, topic: &str, partition: i32) -> bool {
        self.version == TxnVersion::V2 || self.added.contains(topic, partition)
    }

    /// Whether a new partition waits for AddPartitionsToTxn (for the sender:
    /// wake the driver).
    pub fn has_pending_partitions(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The sender sent batches in the open transaction (under v2 this is
    /// what starts it on the coordinator).
    pub fn on_produce_sent(&mut self) {
        if matches!(
            self.state,
            TxnState::InTransaction | TxnState::Committing | TxnState::AbortableError(_)
        ) {
            self.started = true;
        }
    }

    /// A batch of the open transaction failed for good: the transaction
    /// must be aborted, or, for a fencing or authorization error, the
    /// producer is done. `sequence_gap`: the failed batch had a sequence, so
    /// the epoch must be bumped before the next transaction.
    pub fn on_send_failed(&mut self, error: &Error, sequence_gap: bool) {
        self.bump_needed |= sequence_gap;
        let fatal = error.code().is_some_and(fatal_for_send);
        match self.state {
            TxnState::FatalError(_) => {}
            _ if fatal => self.become_fatal(self.explained(error.clone())),
            TxnState::InTransaction | TxnState::Committing => {
                self.become_abortable(self.explained(error.clone()));
            }
            _ => {}
        }
    }

    /// What a code that often follows the coordinator's timeout abort
    /// means, for the error's message.
    fn hint(&self, code: ErrorCode, api: &'static str) -> Option<String> {
        let timeout = self.cfg.transaction_timeout.as_millis();
        match (code, api) {
            (ErrorCode::INVALID_PRODUCER_EPOCH, "Produce") => Some(format!(
                "the epoch moved on: the transaction coordinator aborted the transaction, open longer than transaction.timeout.ms ({timeout} ms), or a newer producer with this transactional.id took over"
            )),
            (ErrorCode::INVALID_TXN_STATE, "EndTxn") => Some(format!(
                "the transaction is no longer open on the coordinator: it aborted it, open longer than transaction.timeout.ms ({timeout} ms), or a newer producer with this transactional.id (or an admin's fence_producers) took over"
            )),
            (ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH, _) => Some(format!(
                "a newer producer with this transactional.id took over, or the coordinator aborted the transaction, open longer than transaction.timeout.ms ({timeout} ms), and bumped the epoch"
            )),
            _ => None,
        }
    }

    /// `error` with [`hint`](Self::hint) added to its message.
    fn explained(&self, error: Error) -> Error {
        match error {
            Error::Kafka {
                code,
                api,
                topic,
                partition,
                message,
            } => {
                let message = match (message, self.hint(code, api)) {
                    (Some(m), Some(h)) => Some(format!("{m}; {h}")),
                    (m, h) => m.or(h),
                };
                Error::Kafka {
                    code,
                    api,
                    topic,
                    partition,
                    message,
                }
            }
            other => other,
        }
    }

    /// `send_offsets_to_transaction`: the group's offsets, committed with
    /// the transaction.
    pub fn start_send_offsets(
        &mut self,
        group: ConsumerGroupMetadata,
        offsets: Vec<(Arc<str>, i32, OffsetAndMetadata)>,
    ) -> Result<Ticket, Error> {
        if !matches!(self.state, TxnState::InTransaction) || self.op.is_some() {
            return Err(self.refused(OpKind::SendOffsets));
        }
        let step = match self.version {
            TxnVersion::V1 => Step::AddOffsets,
            TxnVersion::V2 => Step::FindGroup,
        };
        let offsets = Offsets {
            group,
            offsets,
            coordinator: None,
        };
        Ok(self.start(OpKind::SendOffsets, step, Some(offsets)))
    }

    /// `commit_transaction`: the application flushes, then reports with
    /// [`on_flushed`](Self::on_flushed); then EndTxn.
    pub fn start_commit(&mut self) -> Result<Ticket, Error> {
        if let Some(t) = self.running(OpKind::Commit) {
            return Ok(t);
        }
        if !matches!(self.state, TxnState::InTransaction) || self.op.is_some() {
            return Err(self.refused(OpKind::Commit));
        }
        self.state = TxnState::Committing;
        Ok(self.start(OpKind::Commit, Step::Flush, None))
    }

    /// `abort_transaction`: queued batches fail ([`take_fail_queued`](Self::take_fail_queued)),
    /// the application waits for those in flight and reports with
    /// [`on_flushed`](Self::on_flushed); then EndTxn.
    pub fn start_abort(&mut self) -> Result<Ticket, Error> {
        if let Some(t) = self.running(OpKind::Abort) {
            return Ok(t);
        }
        if !matches!(
            self.state,
            TxnState::InTransaction | TxnState::AbortableError(_)
        ) {
            return Err(self.refused(OpKind::Abort));
        }
        self.state = TxnState::Aborting;
        // A running send_offsets_to_transaction is given up.
        if let Some(op) = self.op.take() {
            let e = self.misuse(
                op.ticket.kind.name(),
                "abort_transaction was called while it ran",
            );
            self.finish(op.ticket, Err(e));
        }
        self.pending.clear();
        self.fail_queued = Some(Error::Fatal(format!(
            "the transaction of transactional.id '{}' was aborted before this record was sent",
            self.cfg.transactional_id
        )));
        Ok(self.start(OpKind::Abort, Step::Flush, None))
    }

    /// The flush of a commit or abort is done; `failure` is the first send
    /// of the transaction that failed, if one did.
    pub fn on_flushed(&mut self, ticket: Ticket, failure: Option<Error>) {
        let Some(op) = self.op.as_mut().filter(|op| op.ticket.id == ticket.id) else {
            return;
        };
        if op.step != Step::Flush {
            return;
        }
        match ticket.kind {
            OpKind::Commit => {
                if let Some(e) = failure {
                    if matches!(self.state, TxnState::Committing) {
                        self.on_send_failed(&e, false);
                    }
                    // The state says how it failed; the commit fails with it.
                    let err = self.failed().unwrap_or_else(|| self.abortable(&e));
                    self.end_op(Err(err));
                    return;
                }
                if let TxnState::AbortableError(_) | TxnState::FatalError(_) = self.state {
                    let err = self
                        .failed()
                        .unwrap_or_else(|| Error::Fatal("unreachable".into()));
                    self.end_op(Err(err));
                } else if self.started {
                    op.step = Step::EndTxn;
                } else {
                    // Nothing reached the coordinator: nothing to end.
                    self.become_ready();
                    self.end_op(Ok(()));
                }
            }
            OpKind::Abort => {
                if self.started {
                    op.step = Step::EndTxn;
                } else if self.bump_needed && self.producer.is_some() {
                    op.step = Step::Bump;
                } else {
                    self.become_ready();
                    self.end_op(Ok(()));
                }
            }
            _ => {}
        }
    }

    /// The result of the operation with `ticket`, once it is over.
    pub fn result(&self, ticket: Ticket) -> Option<Result<(), Error>> {
        self.finished
            .iter()
            .find(|(id, _)| *id == ticket.id)
            .map(|(_, r)| r.clone())
    }

    /// What an operation waits for, and the last error it retried, for its
    /// timeout's message.
    pub fn describe_wait(&self, ticket: Ticket) -> (String, Option<String>) {
        let step = match self.op.as_ref().filter(|op| op.ticket.id == ticket.id) {
            Some(op) => match op.step {
                Step::InitPid if self.coordinator.is_none() => {
                    "FindCoordinator (the transaction coordinator)"
                }
                Step::InitPid | Step::Bump => "InitProducerId",
                Step::AddOffsets => "AddOffsetsToTxn",
                Step::FindGroup => "FindCoordinator (the group coordinator)",
                Step::CommitOffsets => "TxnOffsetCommit",
                Step::Flush => "the transaction's records to be delivered",
                Step::EndTxn => "EndTxn",
            },
            None => "its result",
        };
        (
            step.to_owned(),
            self.last_error.as_ref().map(ToString::to_string),
        )
    }

    fn finish(&mut self, ticket: Ticket, result: Result<(), Error>) {
        if self.finished.len() >= 16 {
            let _ = self.finished.remove(0);
        }
        self.finished.push((ticket.id, result));
    }

    fn end_op(&mut self, result: Result<(), Error>) {
        if let Some(op) = self.op.take() {
            self.finish(op.ticket, result);
        }
        self.last_error = None;
    }

    fn become_ready(&mut self) {
        self.state = TxnState::Ready;
        self.added.clear();
        self.pending.clear();
        self.adding.clear();
        self.started = false;
    }

    fn become_abortable(&mut self, cause: Error) {
        if matches!(
            self.state,
            TxnState::AbortableError(_) | TxnState::FatalError(_) | TxnState::Aborting
        ) {
            return;
        }
        self.fail_queued = Some(self.abortable(&cause));
        self.state = TxnState::AbortableError(cause);
        self.pending.clear();
        // An operation waiting for an answer (send_offsets) fails; a commit
        // waiting for its flush fails once the flush is done.
        if let Some(op) = &self.op
            && op.step != Step::Flush
        {
            let e = self.failed();
            self.end_op(Err(e.unwrap_or_else(|| Error::Fatal("unreachable".into()))));
        }
    }

    fn become_fatal(&mut self, cause: Error) {
        if matches!(self.state, TxnState::FatalError(_)) {
            return;
        }
        let err = self.fatal(&cause);
        self.fail_queued = Some(err.clone());
        self.state = TxnState::FatalError(cause);
        self.pending.clear();
        if self.op.is_some() {
            self.end_op(Err(err));
        }
    }

    /// Retries after backoff (CONCURRENT_TRANSACTIONS, the coordinator
    /// ending the previous transaction, soon); `refind`: look the
    /// coordinator up again first.
    fn retry_later(&mut self, now: Instant, error: Error, refind: bool) {
        if refind {
            self.coordinator = None;
        }
        let wait = if error.code() == Some(ErrorCode::CONCURRENT_TRANSACTIONS) {
            self.cfg.retry_backoff.min(Duration::from_millis(20))
        } else {
            let w = self.backoff;
            self.backoff = self
                .backoff
                .saturating_mul(2)
                .min(self.cfg.retry_backoff_max.max(self.cfg.retry_backoff));
            w
        };
        self.not_before = Some(now + wait);
        self.last_error = Some(error);
    }

    /// What to send now.
    pub fn next(&mut self, now: Instant) -> Action {
        if self.in_flight.is_some() || matches!(self.state, TxnState::FatalError(_)) {
            return Action::Idle;
        }
        if let Some(t) = self.not_before {
            if now < t {
                return Action::Wait(t);
            }
            self.not_before = None;
        }
        let tid = self.cfg.transactional_id.clone();
        let wants_coordinator = self.op.as_ref().is_some_and(|op| {
            matches!(
                op.step,
                Step::InitPid | Step::AddOffsets | Step::EndTxn | Step::Bump
            )
        }) || !self.pending.is_empty();
        let Some(node) = self.coordinator else {
            if !wants_coordinator {
                return Action::Idle;
            }
            self.in_flight = Some(Sent::FindTxnCoordinator);
            return Action::Send {
                target: Target::AnyBroker,
                request: TxnRequest::FindCoordinator {
                    kind: CoordinatorType::Transaction,
                    key: tid,
                },
            };
        };
        let pid = self.producer;
        // New partitions first: batches (and so a commit's flush) wait for them.
        if !self.pending.is_empty()
            && let Some(p) = pid
            && matches!(self.state, TxnState::InTransaction | TxnState::Committing)
        {
            self.adding = std::mem::take(&mut self.pending).into_vec();
            let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
            for (t, part) in &self.adding {
                match topics.iter_mut().find(|x| x.name == **t) {
                    Some(x) => x.partitions.push(*part),
                    None => topics.push(AddPartitionsToTxnTopic {
                        name: t.to_string(),
                        partitions: vec![*part],
                        ..Default::default()
                    }),
                }
            }
            self.in_flight = Some(Sent::AddPartitions);
            return Action::Send {
                target: Target::TxnCoordinator(node),
                request: TxnRequest::AddPartitions(AddPartitionsToTxnRequest {
                    v3_and_below_transactional_id: tid,
                    v3_and_below_producer_id: p.id,
                    v3_and_below_producer_epoch: p.epoch,
                    v3_and_below_topics: topics,
                    ..Default::default()
                }),
            };
        }
        let Some(op) = self.op.as_mut() else {
            return Action::Idle;
        };
        let ticket_id = op.ticket.id;
        let (target, request) = match op.step {
            Step::Flush => return Action::Idle,
            Step::InitPid | Step::Bump => {
                let (id, epoch) = match (op.step, pid) {
                    // KIP-360: bump the epoch of the id we have (v3+).
                    (Step::Bump, Some(p)) => (p.id, p.epoch),
                    _ => (-1, -1),
                };
                (
                    Target::TxnCoordinator(node),
                    TxnRequest::InitProducerId(InitProducerIdRequest {
                        transactional_id: Some(tid),
                        transaction_timeout_ms: i32::try_from(
                            self.cfg.transaction_timeout.as_millis(),
                        )
                        .unwrap_or(i32::MAX),
                        producer_id: id,
                        producer_epoch: epoch,
                        ..Default::default()
                    }),
                )
            }
            Step::AddOffsets => {
                let (Some(p), Some(o)) = (pid, op.offsets.as_ref()) else {
                    return Action::Idle;
                };
                (
                    Target::TxnCoordinator(node),
                    TxnRequest::AddOffsets(AddOffsetsToTxnRequest {
                        transactional_id: tid,
                        producer_id: p.id,
                        producer_epoch: p.epoch,
                        group_id: o.group.group_id.clone(),
                        ..Default::default()
                    }),
                )
            }
            Step::FindGroup => {
                let Some(o) = op.offsets.as_ref() else {
                    return Action::Idle;
                };
                if o.coordinator.is_some() {
                    op.step = Step::CommitOffsets;
                    return self.next(now);
                }
                (
                    Target::AnyBroker,
                    TxnRequest::FindCoordinator {
                        kind: CoordinatorType::Group,
                        key: o.group.group_id.clone(),
                    },
                )
            }
            Step::CommitOffsets => {
                let (Some(p), Some(o)) = (pid, op.offsets.as_ref()) else {
                    return Action::Idle;
                };
                let Some(gc) = o.coordinator else {
                    op.step = Step::FindGroup;
                    return self.next(now);
                };
                let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
                for (t, part, om) in &o.offsets {
                    let pd = TxnOffsetCommitRequestPartition {
                        partition_index: *part,
                        committed_offset: om.offset,
                        committed_metadata: om.metadata.clone(),
                        ..Default::default()
                    };
                    match topics.iter_mut().find(|x| x.name == **t) {
                        Some(x) => x.partitions.push(pd),
                        None => topics.push(TxnOffsetCommitRequestTopic {
                            name: t.to_string(),
                            partitions: vec![pd],
                            ..Default::default()
                        }),
                    }
                }
                (
                    Target::GroupCoordinator(gc),
                    TxnRequest::TxnOffsetCommit(TxnOffsetCommitRequest {
                        transactional_id: tid,
                        group_id: o.group.group_id.clone(),
                        producer_id: p.id,
                        producer_epoch: p.epoch,
                        generation_id_or_member_epoch: o.group.generation_id,
                        member_id: o.group.member_id.clone(),
                        group_instance_id: o.group.group_instance_id.clone(),
                        topics,
                        ..Default::default()
                    }),
                )
            }
            Step::EndTxn => {
                let Some(p) = pid else {
                    return Action::Idle;
                };
                (
                    Target::TxnCoordinator(node),
                    TxnRequest::EndTxn(EndTxnRequest {
                        transactional_id: tid,
                        producer_id: p.id,
                        producer_epoch: p.epoch,
                        committed: op.ticket.kind == OpKind::Commit,
                        ..Default::default()
                    }),
                )
            }
        };
        self.in_flight = Some(Sent::Op(ticket_id, op.step));
        Action::Send { target, request }
    }

    /// The answer to the request [`next`](Self::next) asked for, or the
    /// transport's failure (the API named in it).
    pub fn on_response(&mut self, now: Instant, result: Result<TxnResponse, Error>) {
        let Some(sent) = self.in_flight.take() else {
            return;
        };
        match sent {
            Sent::FindTxnCoordinator => self.on_txn_coordinator(now, result),
            Sent::AddPartitions => self.on_add_partitions(now, result),
            Sent::Op(id, step) => {
                if self
                    .op
                    .as_ref()
                    .is_none_or(|op| op.ticket.id != id || op.step != step)
                {
                    // The operation was given up (an abort replaced it).
                    return;
                }
                match step {
                    Step::InitPid | Step::Bump => self.on_init_producer_id(now, result),
                    Step::AddOffsets => self.on_add_offsets(now, result),
                    Step::FindGroup => self.on_group_coordinator(now, result),
                    Step::CommitOffsets => self.on_txn_offset_commit(now, result),
                    Step::EndTxn => self.on_end_txn(now, result),
                    Step::Flush => {}
                }
            }
        }
    }

    /// Handles a failure by its class; `api` names the request in errors.
    fn on_failure(&mut self, now: Instant, error: Error) {
        match classify_error(&error) {
            Class::Retry { refind } => {
                self.retry_later(now, error, refind);
            }
            Class::Abortable
                if matches!(self.state, TxnState::InTransaction | TxnState::Committing) =>
            {
                self.become_abortable(error);
            }
            _ => self.become_fatal(error),
        }
    }

    fn kafka_error(&self, code: ErrorCode, api: &'static str, message: Option<String>) -> Error {
        self.explained(Error::Kafka {
            code,
            api,
            topic: None,
            partition: None,
            message: Some(match message.filter(|m| !m.is_empty()) {
                Some(m) => format!("transactional.id '{}': {m}", self.cfg.transactional_id),
                None => format!("transactional.id '{}'", self.cfg.transactional_id),
            }),
        })
    }

    fn on_txn_coordinator(&mut self, now: Instant, result: Result<TxnResponse, Error>) {
        match result {
            Ok(TxnResponse::Coordinator { node, version }) => {
                self.coordinator = Some(node);
                if matches!(self.state, TxnState::Initializing) {
                    self.version = version;
                }
            }
            Ok(other) => self.unexpected(now, "FindCoordinator", &other),
            Err(e) => self.on_failure(now, e),
        }
    }

    fn unexpected(&mut self, now: Instant, api: &'static str, got: &TxnResponse) {
        let e = Error::Fatal(format!(
            "the transaction driver answered {api} with {}",
            match got {
                TxnResponse::Coordinator { .. } => "a coordinator",
                TxnResponse::InitProducerId(_) => "InitProducerId",
                TxnResponse::AddPartitions(_) => "AddPartitionsToTxn",
                TxnResponse::AddOffsets(_) => "AddOffsetsToTxn",
                TxnResponse::TxnOffsetCommit(_) => "TxnOffsetCommit",
                TxnResponse::EndTxn(_) => "EndTxn",
            }
        ));
        let _ = now;
        self.become_fatal(e);
    }

    fn on_init_producer_id(&mut self, now: Instant, result: Result<TxnResponse, Error>) {
        let resp = match result {
            Ok(TxnResponse::InitProducerId(r)) => r,
            Ok(other) => return self.unexpected(now, "InitProducerId", &other),
            Err(e) => return self.on_failure(now, e),
        };
        let code = ErrorCode(resp.error_code);
        if code == ErrorCode::NONE {
            let p = ProducerId {
                id: resp.producer_id,
                epoch: resp.producer_epoch,
            };
            self.producer = Some(p);
            self.new_producer = Some(p);
            self.bump_needed = false;
            self.backoff = self.cfg.retry_backoff;
            self.become_ready();
            self.end_op(Ok(()));
            return;
        }
        let e = self.kafka_error(code, "InitProducerId", None);
        match classify(code) {
            Class::Retry { refind } => {
                self.retry_later(now, e, refind);
            }
            // Nothing to abort yet (or the abort's bump failed): done.
            Class::Abortable | Class::Fatal => self.become_fatal(e),
        }
    }

    fn on_add_partitions(&mut self, now: Instant, result: Result<TxnResponse, Error>) {
        let resp = match result {
            Ok(TxnResponse::AddPartitions(r)) => r,
            Ok(other) => return self.unexpected(now, "AddPartitionsToTxn", &other),
            Err(e) => {
                self.pending.extend(self.adding.drain(..));
                return self.on_failure(now, e);
            }
        };
        let mut worst: Option<(Class, Error)> = None;
        let mut ok = Vec::new();
        for t in &resp.results_by_topic_v3_and_below {
            for p in &t.results_by_partition {
                let code = ErrorCode(p.partition_error_code);
                if code == ErrorCode::NONE {
                    ok.push((Arc::<str>::from(t.name.as_str()), p.partition_index));
                    continue;
                }
                if code == ErrorCode::OPERATION_NOT_ATTEMPTED {
                    // Another partition of the request failed.
                    continue;
                }
                let class = classify(code);
                let e = self.explained(Error::Kafka {
                    code,
                    api: "AddPartitionsToTxn",
                    topic: Some(t.name.clone()),
                    partition: Some(p.partition_index),
                    message: Some(format!("transactional.id '{}'", self.cfg.transactional_id)),
                });
                let rank = |c: Class| match c {
                    Class::Fatal => 2,
                    Class::Abortable => 1,
                    Class::Retry { .. } => 0,
                };
                if worst.as_ref().is_none_or(|(w, _)| rank(class) > rank(*w)) {
                    worst = Some((class, e));
                }
            }
        }
        match worst {
            None => {
                self.backoff = self.cfg.retry_backoff;
                self.last_error = None;
                self.settle_adding(&ok);
            }
            Some((Class::Retry { refind }, e)) => {
                self.settle_adding(&ok);
                self.retry_later(now, e, refind);
            }
            Some((Class::Abortable, e)) => {
                self.adding.clear();
                self.started |= !ok.is_empty();
                self.added.extend(ok);
                self.become_abortable(e);
            }
            Some((Class::Fatal, e)) => {
                self.adding.clear();
                self.become_fatal(e);
            }
        }
    }

    /// The partitions being added that the coordinator added (`ok`) are in
    /// the transaction; the others are asked again.
    fn settle_adding(&mut self, ok: &[(Arc<str>, i32)]) {
        for key in std::mem::take(&mut self.adding) {
            if ok.contains(&key) {
                self.added.insert(key);
                self.started = true;
            } else {
                self.pending.insert(key);
            }
        }
    }

    /// The group of the running send_offsets_to_transaction, for errors.
    fn offsets_group(&self) -> &str {
        self.op
            .as_ref()
            .and_then(|op| op.offsets.as_ref())
            .map_or("", |o| o.group.group_id.as_str())
    }

    fn on_add_offsets(&mut self, now: Instant, result: Result<TxnResponse, Error>) {
        let resp = match result {
            Ok(TxnResponse::AddOffsets(r)) => r,
            Ok(other) => return self.unexpected(now, "AddOffsetsToTxn", &other),
            Err(e) => return self.on_failure(now, e),
        };
        let code = ErrorCode(resp.error_code);
        if code == ErrorCode::NONE {
            self.started = true;
            self.backoff = self.cfg.retry_backoff;
            if let Some(op) = self.op.as_mut() {
                op.step = Step::FindGroup;
            }
            return;
        }
        let group = self.offsets_group().to_owned();
        let e = self.kafka_error(code, "AddOffsetsToTxn", Some(format!("group '{group}'")));
        self.on_failure(now, e);
    }

    fn on_group_coordinator(&mut self, now: Instant, result: Result<TxnResponse, Error>) {
        match result {
            Ok(TxnResponse::Coordinator { node, .. }) => {
                if let Some(op) = self.op.as_mut() {
                    if let Some(o) = op.offsets.as_mut() {
                        o.coordinator = Some(node);
                    }
                    op.step = Step::CommitOffsets;
                }
            }
            Ok(other) => self.unexpected(now, "FindCoordinator", &other),
            // A group-side coordinator error must not make us look up the
            // transaction coordinator again.
            Err(e) => match classify_error(&e) {
                Class::Retry { .. } => self.retry_later(now, e, false),
                _ => self.on_failure(now, e),
            },
        }
    }

    fn on_txn_offset_commit(&mut self, now: Instant, result: Result<TxnResponse, Error>) {
        let resp = match result {
            Ok(TxnResponse::TxnOffsetCommit(r)) => r,
            Ok(other) => return self.unexpected(now, "TxnOffsetCommit", &other),
            Err(e) => {
                if let Some(o) = self.op.as_mut().and_then(|op| op.offsets.as_mut()) {
                    o.coordinator = None;
                }
                if let Some(op) = self.op.as_mut() {
                    op.step = Step::FindGroup;
                }
                return match classify_error(&e) {
                    Class::Retry { .. } => self.retry_later(now, e, false),
                    _ => self.on_failure(now, e),
                };
            }
        };
        let group = self.offsets_group().to_owned();
        let mut first: Option<Error> = None;
        for t in &resp.topics {
            for p in &t.partitions {
                let code = ErrorCode(p.error_code);
                if code != ErrorCode::NONE && first.is_none() {
                    first = Some(self.explained(Error::Kafka {
                        code,
                        api: "TxnOffsetCommit",
                        topic: Some(t.name.clone()),
                        partition: Some(p.partition_index),
                        message: Some(format!(
                            "group '{group}', transactional.id '{}'",
                            self.cfg.transactional_id
                        )),
                    }));
                }
            }
        }
        let Some(e) = first else {
            self.started = true;
            self.backoff = self.cfg.retry_backoff;
            self.end_op(Ok(()));
            return;
        };
        match classify_error(&e) {
            Class::Retry { refind } => {
                if refind && let Some(op) = self.op.as_mut() {
                    op.step = Step::FindGroup;
                    if let Some(o) = op.offsets.as_mut() {
                        o.coordinator = None;
                    }
                }
                self.retry_later(now, e, false);
            }
            _ => self.on_failure(now, e),
        }
    }

    fn on_end_txn(&mut self, now: Instant, result: Result<TxnResponse, Error>) {
        let resp = match result {
            Ok(TxnResponse::EndTxn(r)) => r,
            Ok(other) => return self.unexpected(now, "EndTxn", &other),
            Err(e) => return self.on_end_failure(now, e),
        };
        let code = ErrorCode(resp.error_code);
        if code != ErrorCode::NONE {
            let e = self.kafka_error(code, "EndTxn", None);
            return self.on_end_failure(now, e);
        }
        self.backoff = self.cfg.retry_backoff;
        if self.version == TxnVersion::V2 && resp.producer_id >= 0 && resp.producer_epoch >= 0 {
            // KIP-890: every transaction ends with a new epoch (or, at the
            // last epoch, a new id).
            let p = ProducerId {
                id: resp.producer_id,
                epoch: resp.producer_epoch,
            };
            if Some(p) != self.producer {
                self.producer = Some(p);
                self.new_producer = Some(p);
            }
            self.bump_needed = false;
        }
        if self.bump_needed
            && let Some(op) = self.op.as_mut()
        {
            // KIP-360: a batch failed, sequences restart under a new epoch.
            op.step = Step::Bump;
            self.started = false;
            return;
        }
        self.become_ready();
        self.end_op(Ok(()));
    }

    /// EndTxn failed: retry what passes; anything else (an abortable error
    /// to an EndTxn is the coordinator's verdict on the commit) is fatal
    /// for an abort and abortable for a commit.
    ///
    /// A coordinator that no longer knows the producer id
    /// (INVALID_PRODUCER_ID_MAPPING: the transactional id expired;
    /// UNKNOWN_PRODUCER_ID) has no transaction to end: as Java's
    /// EndTxnHandler (`abortableErrorIfPossible`), the commit becomes
    /// abortable, and the abort gets the producer a new epoch (or id) by
    /// InitProducerId with the current one (KIP-360) in place of the EndTxn
    /// the coordinator refuses; Java's next abort skips straight to that
    /// InitProducerId. If that fails too, the producer is done.
    fn on_end_failure(&mut self, now: Instant, e: Error) {
        let id_unknown = matches!(
            e.code(),
            Some(ErrorCode::INVALID_PRODUCER_ID_MAPPING | ErrorCode::UNKNOWN_PRODUCER_ID)
        );
        match classify_error(&e) {
            Class::Retry { refind } => {
                self.retry_later(now, e, refind);
            }
            Class::Abortable if matches!(self.state, TxnState::Committing) => {
                // Leave Committing for the abortable state; the commit fails.
                self.bump_needed |= id_unknown;
                self.state = TxnState::InTransaction;
                self.become_abortable(e);
            }
            Class::Abortable
                if id_unknown
                    && self.producer.is_some()
                    && matches!(self.state, TxnState::Aborting) =>
            {
                if let Some(op) = self.op.as_mut() {
                    op.step = Step::Bump;
                }
                self.bump_needed = true;
                self.started = false;
                self.last_error = Some(e);
            }
            _ => self.become_fatal(e),
        }
    }
}

#[cfg(test)]
#[path = "transaction_tests.rs"]
mod tests;
