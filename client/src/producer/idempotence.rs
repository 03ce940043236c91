//! The producer's idempotent sequencing as one state machine, sans-IO.
//!
//! [`Idempotence`] owns the producer id and epoch and, per partition (in a
//! [`PartitionState`] the accumulator keeps beside the partition's queue but
//! cannot look into), the next sequence number, the batches in flight and
//! where they went, and whether the leader has acknowledged our sequence. It
//! does no I/O and reads no clock. The accumulator and the sender ask it
//!
//! - whether anything may be sent ([`can_send`](Idempotence::can_send)) and
//!   whether an InitProducerId is due ([`needs_producer_id`](Idempotence::needs_producer_id));
//! - whether a partition may send now ([`gate`](Idempotence::gate), then
//!   [`may_send_to`](Idempotence::may_send_to) its leader), and with what
//!   producer id, epoch and sequence ([`assign`](Idempotence::assign));
//!
//! and tell it what happened: a batch went out ([`on_sent`](Idempotence::on_sent)),
//! a batch got an answer or its request failed ([`on_response`](Idempotence::on_response),
//! which answers with a [`Decision`]: done, retry or fail, and whether to
//! refresh metadata and whether the epoch was bumped), a batch left without
//! an answer ([`forget`](Idempotence::forget), [`sequence_gap`](Idempotence::sequence_gap)),
//! InitProducerId succeeded or failed ([`on_producer_id`](Idempotence::on_producer_id),
//! which answers with an [`InitOutcome`]).
//!
//! # States
//!
//! The producer id ([`ProducerIdState`]):
//!
//! ```text
//!  Uninitialized ──InitProducerId ok──▶ Ready(id, epoch)
//!  Ready(id, e) ──sequence lost, or a sequenced batch failed for good──▶ Ready(id, e+1)
//!  Ready(id, i16::MAX) ──the same──▶ NeedsNewId ──InitProducerId ok──▶ Ready(id', e')
//! ```
//!
//! The epoch is bumped here, without a round trip, as the Java client and
//! librdkafka do for an idempotent producer (KIP-360); only at the last epoch
//! is a new id needed, asked for (with the old id and epoch, InitProducerId
//! v3+) once nothing is in flight. Transactions (issue #13) add their states
//! beside `Ready`: an InitProducerId with `transactional.id`, then
//! `InTransaction` (AddPartitionsToTxn before a partition's first batch),
//! `Committing`/`Aborting` (EndTxn), `AbortableError` (the application must
//! abort; `on_response` answers a fenced or failed batch with it) and
//! `FatalError` (a fenced producer: everything fails).
//!
//! A partition ([`PartitionState`]):
//!
//! - *unconfirmed* (a new epoch, or after any failure): one batch in flight.
//!   A leader with no state for our producer accepts any first sequence, so
//!   with batch 0 failed and batch 1 pipelined behind it, batch 1 would be
//!   written and batch 0's retry after it (seen on Kafka 4.4);
//! - *confirmed* (the leader acknowledged a batch of ours under the current
//!   epoch): up to `max.in.flight.requests.per.connection` (at most 5);
//! - *retrying* (a batch failed and waits for a retry): nothing is sent until
//!   the batches in flight are back; then the retry goes first, alone;
//! - *behind the epoch* (the epoch was bumped since it counted): once its
//!   batches in flight under the old epoch are back it restarts at sequence 0
//!   under the new one ([`Gate::Restarted`]), so a bump stalls no other
//!   partition;
//!
//! and, in every state, while batches are in flight to one broker nothing
//! goes to another: after a leader change newer batches wait for the old
//! leader's answers, so a broker that checks no sequences cannot write them
//! ahead of a retry.
//!
//! Errors: `DUPLICATE_SEQUENCE_NUMBER` is a success (an earlier attempt was
//! written). `OUT_OF_ORDER_SEQUENCE_NUMBER` behind an earlier batch of ours
//! that is not done is that batch's consequence: retry. Otherwise it,
//! `UNKNOWN_PRODUCER_ID` and `INVALID_PRODUCER_EPOCH` mean the broker lost
//! our sequence: bump the epoch and retry (renumbered). A sequenced batch
//! that fails for good leaves a gap: bump. A batch whose last attempt got no
//! verdict ([`Decision::possibly_written`]) is never renumbered: the
//! accumulator fails it as possibly written at the restart.
//!
//! With idempotence off the machine keeps only the in-flight limits and the
//! one-broker rule, and never sequences.

use crate::error::Error;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::records::ProducerFields;
use std::time::Duration;

/// An idempotent producer's id and epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerId {
    /// The producer id InitProducerId gave.
    pub id: i64,
    /// Its epoch.
    pub epoch: i16,
}

/// Where the producer id stands (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProducerIdState {
    /// No id yet: nothing is sent until InitProducerId succeeds.
    Uninitialized,
    /// Sending under this id and epoch.
    Ready(ProducerId),
    /// The epoch ran out: a new id is needed (InitProducerId once nothing is
    /// in flight), asked for with the last one.
    NeedsNewId(ProducerId),
}

/// Settings of the machine (from the producer configuration).
#[derive(Debug, Clone, Copy)]
pub struct IdempotenceConfig {
    /// `enable.idempotence` (with `acks=all`).
    pub enabled: bool,
    /// Batches in flight per partition once confirmed (at most 5 with idempotence).
    pub max_in_flight: usize,
    /// `retry.backoff.ms`: the first InitProducerId retry's wait.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`: the longest.
    pub retry_backoff_max: Duration,
    /// A transactional producer: the id and epoch come from the
    /// transaction machine (InitProducerId with `transactional.id`, EndTxn
    /// under transactions v2), never from a local bump, and a batch whose
    /// sequence the broker lost fails (the transaction must be aborted).
    pub transactional: bool,
}

/// One partition's sequencing state; only [`Idempotence`] changes it.
#[derive(Debug, Default)]
pub struct PartitionState {
    /// Batches in flight.
    in_flight: usize,
    /// The broker they went to.
    in_flight_to: Option<i32>,
    /// The sequence of the next batch sealed.
    next_seq: i32,
    /// The leader acknowledged a batch under the current epoch, and nothing
    /// failed since.
    confirmed: bool,
    /// A batch failed and waits for a retry.
    retrying: bool,
    /// The id and epoch `next_seq` counts under.
    epoch: Option<ProducerId>,
    /// Base sequences of this partition's batches not done yet (in flight
    /// or waiting for a retry), oldest first.
    outstanding: Vec<i32>,
}

impl PartitionState {
    /// Batches of this partition in flight.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}

/// Whether a partition may send (from [`Idempotence::gate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Not now: batches in flight must come back first, or the limit is reached.
    Blocked,
    /// Yes.
    Open,
    /// Yes, and the partition now counts from sequence 0 under this id and
    /// epoch: give each queued batch that had a sequence a new one with
    /// [`Idempotence::assign`], in order (and fail, instead, each that may
    /// already be in the log).
    Restarted(ProducerId),
}

/// What a batch's attempt came to, as [`Idempotence::on_response`] needs it.
#[derive(Debug, Clone, Copy)]
pub enum Response<'a> {
    /// Written.
    Written,
    /// The broker answered with an error code.
    Kafka(ErrorCode),
    /// The request failed: connection, timeout, an answer that does not decode.
    Failed(&'a Error),
}

/// The facts about a batch [`Idempotence::on_response`] decides on.
#[derive(Debug, Clone, Copy)]
pub struct BatchFacts {
    /// Its base sequence, if it has one.
    pub base_sequence: Option<i32>,
    /// The id and epoch it carries.
    pub producer: Option<ProducerId>,
    /// The retry policy allows another attempt (`retries`, `delivery.timeout.ms`).
    pub may_retry: bool,
}

/// What becomes of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered (a duplicate sequence counts).
    Delivered,
    /// Queue it again, ahead of newer batches, to resend the same bytes.
    Retry,
    /// Fail it with the error.
    Fail,
}

/// The machine's answer to a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// What becomes of the batch.
    pub verdict: Verdict,
    /// The attempt got no verdict the broker stands by: the batch may be in
    /// the log, so it must never be renumbered.
    pub possibly_written: bool,
    /// Metadata looks stale: refresh it.
    pub refresh_metadata: bool,
    /// The epoch was bumped (or a new id is needed).
    pub bumped_epoch: bool,
}

impl Decision {
    fn delivered() -> Decision {
        Decision {
            verdict: Verdict::Delivered,
            possibly_written: false,
            refresh_metadata: false,
            bumped_epoch: false,
        }
    }
}

/// The machine's answer to an InitProducerId result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitOutcome {
    /// Sending under this id and epoch.
    Ready(ProducerId),
    /// A passing failure: ask again after this long.
    RetryAfter(Duration),
    /// A failure that will not pass by itself (authorization, unsupported):
    /// fail what waits with it, and ask again after this long, when records
    /// wait, so that fixing the cause brings the producer back.
    FailQueued {
        /// When to ask again.
        retry_after: Duration,
    },
}

/// The idempotence state machine (see the module docs).
#[derive(Debug)]
pub struct Idempotence {
    cfg: IdempotenceConfig,
    state: ProducerIdState,
    /// Batches in flight, all partitions.
    in_flight: usize,
    /// The wait before the next InitProducerId retry.
    init_backoff: Duration,
    epoch_bumps: u64,
}

impl Idempotence {
    /// A machine with no producer id yet.
    pub fn new(cfg: IdempotenceConfig) -> Self {
        Idempotence {
            cfg,
            state: ProducerIdState::Uninitialized,
            in_flight: 0,
            init_backoff: cfg.retry_backoff,
            epoch_bumps: 0,
        }
    }

    /// Where the producer id stands.
    #[cfg(test)]
    pub fn state(&self) -> ProducerIdState {
        self.state
    }

    /// The id and epoch batches are sealed with now.
    pub fn producer(&self) -> Option<ProducerId> {
        match self.state {
            ProducerIdState::Ready(p) => Some(p),
            _ => None,
        }
    }

    /// Epoch bumps so far (and new ids asked for when the epoch ran out).
    #[cfg(test)]
    pub fn epoch_bumps(&self) -> u64 {
        self.epoch_bumps
    }

    /// Batches in flight, all partitions.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether batches may be sent at all: always without idempotence,
    /// with it only under a producer id.
    pub fn can_send(&self) -> bool {
        !self.cfg.enabled || matches!(self.state, ProducerIdState::Ready(_))
    }

    /// Whether the sender must send InitProducerId now: there is no id, or
    /// the epoch ran out and nothing is in flight under the old one.
    pub fn needs_producer_id(&self) -> bool {
        self.cfg.enabled
            && !self.cfg.transactional
            && match self.state {
                ProducerIdState::Uninitialized => true,
                ProducerIdState::NeedsNewId(_) => self.in_flight == 0,
                ProducerIdState::Ready(_) => false,
            }
    }

    /// The id and epoch to put in InitProducerId (v3+, KIP-360), if any.
    pub fn init_request(&self) -> Option<ProducerId> {
        match self.state {
            ProducerIdState::Uninitialized => None,
            ProducerIdState::Ready(p) | ProducerIdState::NeedsNewId(p) => Some(p),
        }
    }

    /// InitProducerId's result: an id and epoch, or the error.
    pub fn on_producer_id(&mut self, result: Result<ProducerId, &Error>) -> InitOutcome {
        match result {
            Ok(p) => {
                self.state = ProducerIdState::Ready(p);
                self.init_backoff = self.cfg.retry_backoff;
                // Each partition takes the new id and epoch in `gate`, once
                // nothing of it is in flight under the old one.
                InitOutcome::Ready(p)
            }
            Err(e) if e.is_retriable() => {
                let wait = self.init_backoff;
                self.init_backoff = self
                    .init_backoff
                    .saturating_mul(2)
                    .min(self.cfg.retry_backoff_max.max(wait));
                InitOutcome::RetryAfter(wait)
            }
            Err(_) => InitOutcome::FailQueued {
                retry_after: self.cfg.retry_backoff_max.max(self.init_backoff),
            },
        }
    }

    /// Sequences can no longer be trusted: bump the epoch here, or at the
    /// last epoch ask for a new id.
    fn bump_epoch(&mut self) {
        if self.cfg.transactional {
            // The transaction machine bumps the epoch when the transaction
            // is aborted (see producer/transaction.rs).
            return;
        }
        self.epoch_bumps += 1;
        self.state = match self.state {
            ProducerIdState::Ready(p) if p.epoch < i16::MAX => ProducerIdState::Ready(ProducerId {
                id: p.id,
                epoch: p.epoch + 1,
            }),
            ProducerIdState::Ready(p) | ProducerIdState::NeedsNewId(p) => {
                ProducerIdState::NeedsNewId(p)
            }
            ProducerIdState::Uninitialized => ProducerIdState::Uninitialized,
        };
    }

    fn max_in_flight(&self, ps: &PartitionState) -> usize {
        if self.cfg.enabled && !ps.confirmed {
            1
        } else {
            self.cfg.max_in_flight.max(1)
        }
    }

    /// Whether `ps` may send now; see [`Gate`]. Call before each batch.
    pub fn gate(&mut self, ps: &mut PartitionState) -> Gate {
        if ps.retrying {
            if ps.in_flight > 0 {
                return Gate::Blocked;
            }
            ps.retrying = false;
        }
        let mut gate = Gate::Open;
        if self.cfg.enabled
            && let Some(current) = self.producer()
            && ps.epoch != Some(current)
        {
            if ps.in_flight > 0 {
                // The old epoch's batches come back first.
                return Gate::Blocked;
            }
            ps.next_seq = 0;
            ps.confirmed = false;
            ps.epoch = Some(current);
            ps.outstanding.clear();
            gate = Gate::Restarted(current);
        }
        if ps.in_flight >= self.max_in_flight(ps) {
            return Gate::Blocked;
        }
        gate
    }

    /// Whether `ps` is blocked whatever its batches' readiness (for the
    /// sender's next wake-up: what unblocks it, a response, wakes it anyway).
    pub fn blocked(&self, ps: &PartitionState) -> bool {
        ps.in_flight >= self.max_in_flight(ps) || (ps.retrying && ps.in_flight > 0)
    }

    /// Whether a batch of `ps` may go to `leader`: not while others are in
    /// flight to another broker.
    pub fn may_send_to(&self, ps: &PartitionState, leader: i32) -> bool {
        ps.in_flight == 0 || ps.in_flight_to.is_none_or(|to| to == leader)
    }

    /// The producer fields for a batch of `records` records about to be
    /// sealed (or renumbered after [`Gate::Restarted`]): the next sequence
    /// under the current id and epoch. `None` without idempotence.
    pub fn assign(&mut self, ps: &mut PartitionState, records: i32) -> Option<ProducerFields> {
        if !self.cfg.enabled {
            return None;
        }
        let p = self.producer()?;
        let seq = ps.next_seq;
        ps.next_seq = wrap_seq(seq, records);
        ps.outstanding.push(seq);
        Some(ProducerFields {
            producer_id: p.id,
            producer_epoch: p.epoch,
            base_sequence: seq,
            transactional: self.cfg.transactional,
        })
    }

    /// A batch of `ps` was handed to the sender for `broker`.
    pub fn on_sent(&mut self, ps: &mut PartitionState, broker: i32) {
        ps.in_flight += 1;
        ps.in_flight_to = Some(broker);
        self.in_flight += 1;
    }

    fn back(&mut self, ps: &mut PartitionState) {
        ps.in_flight = ps.in_flight.saturating_sub(1);
        if ps.in_flight == 0 {
            ps.in_flight_to = None;
        }
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    fn done(ps: &mut PartitionState, seq: Option<i32>) {
        if let Some(seq) = seq
            && let Some(i) = ps.outstanding.iter().position(|&s| s == seq)
        {
            ps.outstanding.remove(i);
        }
    }

    /// A batch of `ps` in flight got `response`: what becomes of it.
    pub fn on_response(
        &mut self,
        ps: &mut PartitionState,
        batch: BatchFacts,
        response: Response<'_>,
    ) -> Decision {
        self.back(ps);
        let sequenced = self.cfg.enabled && batch.base_sequence.is_some();
        let mut d = Decision::delivered();
        let retriable = match response {
            Response::Written | Response::Kafka(ErrorCode::DUPLICATE_SEQUENCE_NUMBER) => {
                // A duplicate was written by an earlier attempt: a success
                // whose offset the broker no longer tells.
                Self::done(ps, batch.base_sequence);
                // An acknowledgement of our sequence under this epoch, unless
                // a batch failed since (it waits for its retry): "nothing has
                // failed since" is the rule for pipelining.
                if sequenced
                    && !ps.retrying
                    && batch.producer.is_some()
                    && batch.producer == self.producer()
                {
                    ps.confirmed = true;
                }
                return d;
            }
            Response::Kafka(code) => {
                // The leader may have appended it and then timed out
                // waiting for replicas.
                d.possibly_written = matches!(
                    code,
                    ErrorCode::REQUEST_TIMED_OUT | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                );
                d.refresh_metadata = code.is_stale_metadata();
                let sequence_lost = matches!(
                    code,
                    ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
                        | ErrorCode::UNKNOWN_PRODUCER_ID
                        | ErrorCode::INVALID_PRODUCER_EPOCH
                );
                if self.cfg.enabled && sequence_lost {
                    let behind_earlier = code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
                        && batch
                            .base_sequence
                            .is_some_and(|seq| ps.outstanding.iter().any(|&s| seq_before(s, seq)));
                    if behind_earlier {
                        true
                    } else if self.cfg.transactional {
                        // No local bump inside a transaction: the batch fails
                        // and the transaction must be aborted (the transaction
                        // machine decides whether the producer goes on).
                        false
                    } else {
                        // The broker lost track of our sequence: new epoch,
                        // renumber, resend (nothing of this batch was written).
                        self.bump_epoch();
                        d.bumped_epoch = true;
                        true
                    }
                } else {
                    code.is_retriable()
                }
            }
            Response::Failed(e) => {
                d.refresh_metadata = true;
                // Only a failure to connect (or to set the connection up:
                // TLS, ApiVersions, SASL) proves the request never left.
                d.possibly_written = !matches!(
                    e,
                    Error::Connect { .. }
                        | Error::BootstrapUnreachable { .. }
                        | Error::Setup { .. }
                );
                // An answer that does not decode says nothing of the batch's
                // fate. With idempotence a resend is safe (the broker drops
                // a duplicate sequence); without, it may duplicate.
                e.is_retriable() || (self.cfg.enabled && matches!(e, Error::Decode { .. }))
            }
        };
        if retriable && batch.may_retry {
            d.verdict = Verdict::Retry;
            if self.cfg.enabled {
                ps.retrying = true;
                // One batch at a time until one succeeds again: a retry
                // failing a second time must not find a newer batch already
                // written by a broker that checks no sequences.
                ps.confirmed = false;
            }
        } else {
            d.verdict = Verdict::Fail;
            Self::done(ps, batch.base_sequence);
            if sequenced {
                // A sequenced batch that failed for good leaves a gap (or,
                // if its outcome is unknown, maybe not): either way
                // sequences restart under a new epoch, as Java does.
                if !d.bumped_epoch {
                    self.bump_epoch();
                    d.bumped_epoch = true;
                }
                ps.retrying = true;
            }
        }
        d
    }

    /// A batch of `ps` that had `base_sequence` leaves without a response
    /// (expired in the queue, failed at close or when no producer id can be
    /// had). `in_flight`: it was in flight. Call [`sequence_gap`](Self::sequence_gap)
    /// if the partition will go on sending.
    pub fn forget(&mut self, ps: &mut PartitionState, base_sequence: Option<i32>, in_flight: bool) {
        if in_flight {
            self.back(ps);
        }
        Self::done(ps, base_sequence);
    }

    /// Sequenced batches were dropped unsent (expired): the next sequence
    /// would leave a gap, so bump the epoch.
    pub fn sequence_gap(&mut self) {
        if self.cfg.enabled {
            self.bump_epoch();
        }
    }
}

/// The sequence after `count` records from `seq` (sequences wrap at i32::MAX).
pub fn wrap_seq(seq: i32, count: i32) -> i32 {
    let next = i64::from(seq) + i64::from(count);
    (next % (i64::from(i32::MAX) + 1)) as i32
}

/// Whether sequence `a` comes before `b` (allowing for wrap-around).
pub fn seq_before(a: i32, b: i32) -> bool {
    let d = i64::from(b) - i64::from(a);
    (d > 0 && d < i64::from(i32::MAX) / 2) || d < -(i64::from(i32::MAX) / 2)
}

#[cfg(test)]
#[path = "idempotence_tests.rs"]
mod tests;
