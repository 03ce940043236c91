//! The producer's record accumulator, sans-IO.
//!
//! Records are appended into one open batch per partition. The sender asks
//! [`Accumulator::drain`] (with `now` and a leader lookup) for the batches
//! that are ready — full, lingered long enough, or flushed — grouped by
//! leader; it reports each partition's outcome back through
//! [`Accumulator::complete`]. The accumulator owns the batches, their queues,
//! buffer accounting, linger, retry backoff and delivery timeouts; whether a
//! partition may send, with which sequence, and what an answer means for
//! idempotence (retry, fail, bump the epoch) is decided by the
//! [`Idempotence`] state machine it holds.
//!
//! Nothing here does I/O or reads a clock: it is tested with a fake `now`.

use crate::error::Error;
use crate::producer::delivery::{BatchShared, RecordMetadata};
use crate::producer::idempotence::{
    BatchFacts, Gate, Idempotence, IdempotenceConfig, InitOutcome, PartitionState, ProducerId,
    Response, Verdict, seq_before,
};
use bytes::Bytes;
use purekafka_compression::Compression;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::records::{Header, RecordBatchBuilder, with_producer_fields};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Accumulator settings (from the producer configuration).
#[derive(Debug, Clone)]
pub struct AccumulatorConfig {
    /// `batch.size`.
    pub batch_size: usize,
    /// `linger.ms`.
    pub linger: Duration,
    /// `compression.type`.
    pub compression: Compression,
    /// `compression.level`.
    pub compression_level: Option<i32>,
    /// Batches in flight per partition (at most 5 with idempotence).
    pub max_in_flight_per_partition: usize,
    /// `enable.idempotence`.
    pub idempotent: bool,
    /// `retries`.
    pub retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub retry_backoff_max: Duration,
    /// `delivery.timeout.ms`.
    pub delivery_timeout: Duration,
    /// `max.request.size`.
    pub max_request_size: usize,
    /// `transactional.id` is set: batches carry the transactional bit, and
    /// the first failed batch is kept for the transaction
    /// ([`Accumulator::take_txn_failure`]).
    pub transactional: bool,
}

/// A batch on its way to a broker.
#[derive(Debug)]
pub struct Batch {
    /// Unique id (per producer).
    pub id: u64,
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    builder: Option<RecordBatchBuilder>,
    /// The encoded batch, once sealed.
    pub sealed: Option<Bytes>,
    /// Records in the batch.
    pub records: i32,
    /// Bytes counted against `buffer.memory`.
    pub accounted: usize,
    created: Instant,
    full: bool,
    /// Sends attempted.
    pub attempts: u32,
    /// Base sequence, once assigned (idempotent producers).
    pub base_seq: Option<i32>,
    /// Producer id and epoch stamped into the batch.
    pub producer: Option<ProducerId>,
    retry_at: Option<Instant>,
    last_error: Option<Error>,
    /// An attempt ended without a verdict (timeout, lost connection,
    /// garbled answer): the batch may be in the log under its sequence.
    maybe_written: bool,
    /// Completion shared with the records' delivery futures.
    pub shared: Arc<BatchShared>,
}

impl Batch {
    fn deadline(&self, cfg: &AccumulatorConfig) -> Instant {
        self.created + cfg.delivery_timeout
    }
}

#[derive(Debug, Default)]
struct PartQueue {
    queue: VecDeque<Batch>,
    /// Sequencing state, changed only by the [`Idempotence`] machine.
    seq: PartitionState,
}

/// After [`Gate::Restarted`]: the queued batches of `pq` that had a sequence
/// get new ones from `idem`, in order, except one that may already be in the
/// log (its last attempt got no verdict): under the new epoch the broker
/// could not tell it is a duplicate, so it goes to `failed` as possibly
/// written.
fn renumber(pq: &mut PartQueue, idem: &mut Idempotence, failed: &mut Vec<(Batch, Error)>) {
    let queue = std::mem::take(&mut pq.queue);
    for mut b in queue {
        if b.base_seq.is_none() {
            pq.queue.push_back(b);
            continue;
        }
        if b.maybe_written {
            let err = Error::PossiblyWritten {
                topic: b.topic.to_string(),
                partition: b.partition,
                reason: format!(
                    "its last attempt got no verdict ({}), and the producer epoch had to be bumped, so resending it could duplicate it",
                    b.last_error
                        .as_ref()
                        .map_or_else(|| "no answer".to_owned(), ToString::to_string)
                ),
            };
            failed.push((b, err));
            continue;
        }
        let Some(fields) = idem.assign(&mut pq.seq, b.records) else {
            pq.queue.push_back(b);
            continue;
        };
        if let Some(bytes) = b.sealed.take() {
            match with_producer_fields(bytes, fields) {
                Ok(patched) => b.sealed = Some(patched),
                Err((_, e)) => {
                    // Not for a batch we sealed; were it to happen, the
                    // records are only in those bytes, so the batch fails
                    // (and its sequence is a gap the next restart closes).
                    idem.forget(&mut pq.seq, Some(fields.base_sequence), false);
                    idem.sequence_gap();
                    let err = Error::Fatal(format!(
                        "cannot restamp the sealed batch for {}-{} with a new producer epoch: {e}",
                        b.topic, b.partition
                    ));
                    failed.push((b, err));
                    continue;
                }
            }
        }
        b.base_seq = Some(fields.base_sequence);
        b.producer = Some(ProducerId {
            id: fields.producer_id,
            epoch: fields.producer_epoch,
        });
        pq.queue.push_back(b);
    }
}

/// What a partition's produce attempt came to.
#[derive(Debug, Clone)]
pub enum PartitionOutcome {
    /// Written at `base_offset`.
    Ok {
        /// Offset of the first record.
        base_offset: i64,
        /// Broker log-append time, or -1.
        log_append_time: i64,
    },
    /// The broker answered with an error code.
    Kafka(ErrorCode, Option<String>),
    /// The request failed (network, timeout): the outcome is unknown.
    Request(Error),
}

/// What the sender must do after [`Accumulator::complete`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Followup {
    /// Metadata looks stale: refresh it.
    pub refresh_metadata: bool,
    /// The producer epoch was bumped (here, or by asking for a new producer
    /// id once nothing is in flight: see [`Accumulator::needs_producer_id`]).
    pub bump_epoch: bool,
}

/// Counters the producer exposes as metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AccumulatorStats {
    /// Retries scheduled.
    pub retries: u64,
    /// Batches failed.
    pub failed_batches: u64,
    /// Records failed.
    pub failed_records: u64,
}

/// Batches per partition, sequencing, retry and failure decisions.
#[derive(Debug)]
pub struct Accumulator {
    cfg: AccumulatorConfig,
    topics: HashMap<Arc<str>, Vec<PartQueue>>,
    in_flight: HashMap<u64, Batch>,
    next_id: u64,
    /// Producer id, epoch and sequencing.
    idem: Idempotence,
    flushing: bool,
    /// Bytes held by batches not yet completed.
    pub buffered: usize,
    /// Batches completed whose callbacks have not run yet (see
    /// [`Accumulator::take_completed`]).
    completed: Vec<Arc<BatchShared>>,
    /// Counters.
    pub stats: AccumulatorStats,
    /// The first batch failure not yet taken (transactional producers).
    txn_failure: Option<Error>,
    /// The `now` of the last [`drain`](Accumulator::drain): what became
    /// ready after it has not been looked at ([`next_deadline`](Accumulator::next_deadline)).
    drained_at: Option<Instant>,
}

/// The batches ready for one broker.
#[derive(Debug)]
pub struct Drained {
    /// Leader node id.
    pub broker: i32,
    /// One batch per partition.
    pub batches: Vec<DrainedBatch>,
}

/// A sealed batch handed to the sender.
#[derive(Debug, Clone)]
pub struct DrainedBatch {
    /// Batch id, for [`Accumulator::complete`].
    pub id: u64,
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// The encoded batch.
    pub bytes: Bytes,
    /// Records in it.
    pub records: i32,
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new(cfg: AccumulatorConfig) -> Self {
        Accumulator {
            cfg: cfg.clone(),
            topics: HashMap::new(),
            in_flight: HashMap::new(),
            next_id: 1,
            idem: Idempotence::new(IdempotenceConfig {
                enabled: cfg.idempotent,
                max_in_flight: cfg.max_in_flight_per_partition,
                retry_backoff: cfg.retry_backoff,
                retry_backoff_max: cfg.retry_backoff_max,
                transactional: cfg.transactional,
            }),
            flushing: false,
            buffered: 0,
            completed: Vec::new(),
            stats: AccumulatorStats::default(),
            txn_failure: None,
            drained_at: None,
        }
    }

    /// The first batch that failed since the last call (transactional
    /// producers: a failed send makes the transaction abortable).
    pub fn take_txn_failure(&mut self) -> Option<Error> {
        self.txn_failure.take()
    }

    /// The idempotence state machine (producer id, epoch, sequences).
    pub fn idempotence(&self) -> &Idempotence {
        &self.idem
    }

    /// Sets the producer id and epoch (as InitProducerId gave them). Each
    /// partition takes them in [`drain`](Self::drain) once nothing of it is
    /// in flight under the old ones: its sequences restart at 0 and queued
    /// batches that had a sequence are renumbered in order.
    #[cfg(test)]
    pub fn set_producer(&mut self, producer_id: i64, epoch: i16) {
        self.idem.on_producer_id(Ok(ProducerId {
            id: producer_id,
            epoch,
        }));
    }

    /// InitProducerId's result, for the machine to judge (see [`InitOutcome`]).
    pub fn on_producer_id(&mut self, result: Result<ProducerId, &Error>) -> InitOutcome {
        self.idem.on_producer_id(result)
    }

    /// Whether the sender must send InitProducerId now.
    pub fn needs_producer_id(&self) -> bool {
        self.idem.needs_producer_id()
    }

    /// The producer id and epoch in use.
    #[cfg(test)]
    pub fn producer(&self) -> Option<ProducerId> {
        self.idem.producer()
    }

    /// Batches in flight.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether nothing is queued or in flight.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
            && self
                .topics
                .values()
                .all(|p| p.iter().all(|q| q.queue.is_empty()))
    }

    /// Makes every queued batch ready now (flush/close).
    pub fn set_flushing(&mut self, on: bool) {
        self.flushing = on;
    }

    /// The completions of every batch not yet done (for `flush`).
    pub fn pending(&self) -> Vec<Arc<BatchShared>> {
        let mut v: Vec<_> = self.in_flight.values().map(|b| b.shared.clone()).collect();
        for parts in self.topics.values() {
            for pq in parts {
                v.extend(pq.queue.iter().map(|b| b.shared.clone()));
            }
        }
        v
    }

    /// Appends a record to `topic`/`partition` (the topic has `partitions`
    /// partitions). Returns the batch's completion and the record's index in
    /// it, and whether a batch became ready (full).
    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &mut self,
        topic: &str,
        partitions: usize,
        partition: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        now: Instant,
    ) -> Result<(Arc<BatchShared>, u32, bool), Error> {
        let cfg = &self.cfg;
        let parts = match self.topics.get_mut(topic) {
            Some(p) => p,
            None => self.topics.entry(Arc::from(topic)).or_default(),
        };
        let idx = usize::try_from(partition)
            .ok()
            .filter(|i| *i < partitions)
            .ok_or_else(|| Error::UnknownPartition {
                topic: topic.to_string(),
                partition,
                count: partitions,
            })?;
        if parts.len() < partitions {
            parts.resize_with(partitions, PartQueue::default);
        }
        let Some(pq) = parts.get_mut(idx) else {
            return Err(Error::UnknownPartition {
                topic: topic.to_string(),
                partition,
                count: partitions,
            });
        };
        // Room in the open batch?
        let mut became_full = false;
        let need_new = match pq.queue.back() {
            Some(b) if !b.full => {
                let builder = b.builder.as_ref();
                match builder.and_then(|bl| {
                    bl.record_size(timestamp, key, value, headers)
                        .map(|s| (bl, s))
                }) {
                    Some((bl, size)) => {
                        bl.uncompressed_size() + size > cfg.batch_size && !bl.is_empty()
                    }
                    None => true,
                }
            }
            _ => true,
        };
        if need_new {
            if let Some(b) = pq.queue.back_mut()
                && !b.full
            {
                b.full = true;
                became_full = true;
            }
            let mut builder = RecordBatchBuilder::with_capacity(
                cfg.compression,
                cfg.batch_size.min(1 << 20) + 128,
            );
            builder.set_compression_level(cfg.compression_level);
            let topic_arc = self
                .topics
                .get_key_value(topic)
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| Arc::from(topic));
            let id = self.next_id;
            self.next_id += 1;
            let Some(pq) = self.topics.get_mut(topic).and_then(|p| p.get_mut(idx)) else {
                return Err(Error::UnknownPartition {
                    topic: topic.to_string(),
                    partition,
                    count: partitions,
                });
            };
            pq.queue.push_back(Batch {
                id,
                topic: topic_arc,
                partition,
                builder: Some(builder),
                sealed: None,
                records: 0,
                accounted: 0,
                created: now,
                full: false,
                attempts: 0,
                base_seq: None,
                producer: None,
                retry_at: None,
                last_error: None,
                maybe_written: false,
                shared: BatchShared::new(),
            });
        }
        let Some(pq) = self.topics.get_mut(topic).and_then(|p| p.get_mut(idx)) else {
            return Err(Error::UnknownPartition {
                topic: topic.to_string(),
                partition,
                count: partitions,
            });
        };
        let Some(batch) = pq.queue.back_mut() else {
            return Err(Error::Fatal("accumulator lost its open batch".into()));
        };
        let Some(builder) = batch.builder.as_mut() else {
            return Err(Error::Fatal("open batch has no builder".into()));
        };
        let before = builder.uncompressed_size();
        builder
            .append(timestamp, key, value, headers)
            .map_err(|source| Error::RecordEncode {
                topic: topic.to_string(),
                partition,
                source,
            })?;
        let added = builder.uncompressed_size() - before;
        batch.records += 1;
        batch.accounted += added;
        self.buffered += added;
        let index = (batch.records - 1) as u32;
        if builder.uncompressed_size() >= self.cfg.batch_size {
            batch.full = true;
            became_full = true;
        }
        Ok((batch.shared.clone(), index, became_full))
    }

    /// When the sender must look again: the first time after the last
    /// [`drain`](Self::drain) (or after `now`, before any) at which a queued
    /// batch becomes ready (linger or retry backoff expiry) or expires. It
    /// may be past already (a batch lingering at the drain became ready
    /// since): then drain again at once. Counting from `now` instead lost
    /// such a batch when the clock moved past its linger between the drain
    /// and this call (a loaded machine): it then waited for its delivery
    /// timeout, unsent. Batches that were ready at the drain but blocked
    /// (too many in flight, no leader, no producer id) are not counted:
    /// what unblocks them (a response, new metadata) wakes the sender, and
    /// counting them would make it spin.
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let looked_at = self.drained_at.map_or(now, |d| d.min(now));
        let mut best: Option<Instant> = None;
        let mut consider = |t: Instant| {
            if t > looked_at {
                best = Some(best.map_or(t, |x: Instant| x.min(t)));
            }
        };
        for parts in self.topics.values() {
            for pq in parts {
                if let Some(b) = pq.queue.front() {
                    consider(b.deadline(&self.cfg));
                    let blocked = self.idem.blocked(&pq.seq);
                    if !blocked && !b.full && b.sealed.is_none() {
                        consider(b.retry_at.unwrap_or(b.created + self.cfg.linger));
                    } else if !blocked && let Some(t) = b.retry_at {
                        consider(t);
                    }
                }
            }
        }
        best
    }

    /// Fails batches that waited past `delivery.timeout.ms` without being sent.
    pub fn expire(&mut self, now: Instant) -> usize {
        let cfg = &self.cfg;
        let idem = &mut self.idem;
        let mut expired = Vec::new();
        for parts in self.topics.values_mut() {
            for pq in parts.iter_mut() {
                while let Some(b) = pq.queue.front() {
                    if b.deadline(cfg) > now {
                        break;
                    }
                    if let Some(b) = pq.queue.pop_front() {
                        idem.forget(&mut pq.seq, b.base_seq, false);
                        expired.push(b);
                    }
                }
            }
        }
        // A sequenced batch that is dropped leaves a gap: the epoch must be
        // bumped before the next send.
        if expired.iter().any(|b| b.base_seq.is_some()) {
            self.idem.sequence_gap();
        }
        let n = expired.len();
        for b in expired {
            let err = Error::DeliveryTimeout {
                topic: b.topic.to_string(),
                partition: b.partition,
                timeout: self.cfg.delivery_timeout,
                last_error: b.last_error.as_ref().map(ToString::to_string),
            };
            self.fail_batch(b, err);
        }
        n
    }

    /// Takes the batches that are ready, sealed, grouped by leader. `leader`
    /// maps a partition to its leader (None while unknown). Which partitions
    /// may send, and with which sequence, the [`Idempotence`] machine says:
    /// nothing while an idempotent producer has no id.
    pub fn drain(
        &mut self,
        now: Instant,
        mut leader: impl FnMut(&str, i32) -> Option<i32>,
    ) -> Vec<Drained> {
        self.drained_at = Some(now);
        if !self.idem.can_send() {
            return Vec::new();
        }
        let mut by_broker: HashMap<i32, (usize, Vec<DrainedBatch>)> = HashMap::new();
        let max_req = self.cfg.max_request_size;
        let linger = self.cfg.linger;
        let flushing = self.flushing;
        let idem = &mut self.idem;
        let mut moved = Vec::new();
        let mut failed = Vec::new();
        for parts in self.topics.values_mut() {
            for pq in parts.iter_mut() {
                match idem.gate(&mut pq.seq) {
                    Gate::Blocked => continue,
                    Gate::Restarted(_) => renumber(pq, idem, &mut failed),
                    Gate::Open => {}
                }
                // One batch per partition per request, as the Java client does.
                let Some(b) = pq.queue.front() else { continue };
                let ready = b.full || flushing || now >= b.created + linger || b.sealed.is_some();
                if !ready || b.retry_at.is_some_and(|t| now < t) {
                    continue;
                }
                let Some(leader) = leader(&b.topic, b.partition) else {
                    continue;
                };
                if !idem.may_send_to(&pq.seq, leader) {
                    continue;
                }
                let entry = by_broker.entry(leader).or_default();
                let size = b.sealed.as_ref().map_or_else(
                    || {
                        b.builder
                            .as_ref()
                            .map_or(0, RecordBatchBuilder::uncompressed_size)
                    },
                    Bytes::len,
                );
                if !entry.1.is_empty() && entry.0 + size > max_req {
                    continue;
                }
                let Some(mut b) = pq.queue.pop_front() else {
                    continue;
                };
                if b.sealed.is_none()
                    && let Some(mut builder) = b.builder.take()
                {
                    let fields = idem.assign(&mut pq.seq, b.records);
                    if let Some(f) = fields {
                        builder.set_producer(f.producer_id, f.producer_epoch, f.base_sequence);
                        builder.set_transactional(f.transactional);
                        b.base_seq = Some(f.base_sequence);
                        b.producer = Some(ProducerId {
                            id: f.producer_id,
                            epoch: f.producer_epoch,
                        });
                    }
                    match builder.finish() {
                        Ok(bytes) => b.sealed = Some(bytes),
                        Err(source) => {
                            if fields.is_some() {
                                // Its sequence was taken: a gap.
                                idem.forget(&mut pq.seq, b.base_seq, false);
                                idem.sequence_gap();
                            }
                            let e = Error::RecordEncode {
                                topic: b.topic.to_string(),
                                partition: b.partition,
                                source,
                            };
                            failed.push((b, e));
                            continue;
                        }
                    }
                }
                let Some(bytes) = b.sealed.clone() else {
                    continue;
                };
                entry.0 += bytes.len();
                b.attempts += 1;
                idem.on_sent(&mut pq.seq, leader);
                entry.1.push(DrainedBatch {
                    id: b.id,
                    topic: b.topic.clone(),
                    partition: b.partition,
                    bytes,
                    records: b.records,
                });
                moved.push(b);
            }
        }
        for (b, err) in failed {
            self.fail_batch(b, err);
        }
        for b in moved {
            self.in_flight.insert(b.id, b);
        }
        by_broker
            .into_iter()
            .map(|(broker, (_, batches))| Drained { broker, batches })
            .collect()
    }

    fn part_mut(&mut self, topic: &str, partition: i32) -> Option<&mut PartQueue> {
        self.topics
            .get_mut(topic)
            .and_then(|p| p.get_mut(usize::try_from(partition).ok()?))
    }

    /// Records the outcome of an in-flight batch: the [`Idempotence`]
    /// machine decides whether it is delivered, retried or failed (and
    /// whether the epoch is bumped); the retry policy (`retries`,
    /// `delivery.timeout.ms`, backoff) is applied here.
    pub fn complete(&mut self, id: u64, outcome: PartitionOutcome, now: Instant) -> Followup {
        let mut f = Followup::default();
        let Some(mut b) = self.in_flight.remove(&id) else {
            return f;
        };
        let past_deadline = now >= b.deadline(&self.cfg);
        let facts = BatchFacts {
            base_sequence: b.base_seq,
            producer: b.producer,
            may_retry: !past_deadline && b.attempts <= self.cfg.retries,
        };
        let response = match &outcome {
            PartitionOutcome::Ok { .. } => Response::Written,
            PartitionOutcome::Kafka(code, _) => Response::Kafka(*code),
            PartitionOutcome::Request(e) => Response::Failed(e),
        };
        let part = self
            .topics
            .get_mut(&*b.topic)
            .and_then(|p| p.get_mut(usize::try_from(b.partition).ok()?));
        let Some(pq) = part else {
            // Partitions are never removed, so this batch has its partition.
            self.fail_batch(
                b,
                Error::Fatal("a batch in flight lost its partition".into()),
            );
            return f;
        };
        let d = self.idem.on_response(&mut pq.seq, facts, response);
        f.refresh_metadata = d.refresh_metadata;
        f.bump_epoch = d.bumped_epoch;
        b.maybe_written |= d.possibly_written;
        let err = match outcome {
            PartitionOutcome::Ok {
                base_offset,
                log_append_time,
            } => {
                self.succeed(b, base_offset, log_append_time);
                return f;
            }
            PartitionOutcome::Kafka(code, message) => Error::Kafka {
                code,
                api: "Produce",
                topic: Some(b.topic.to_string()),
                partition: Some(b.partition),
                message,
            },
            PartitionOutcome::Request(e) => e,
        };
        match d.verdict {
            Verdict::Delivered => {
                // A duplicate sequence: written by an earlier attempt, at an
                // offset the broker no longer tells.
                self.succeed(b, -1, -1);
            }
            Verdict::Retry => {
                self.stats.retries += 1;
                let backoff = self.retry_backoff(b.attempts);
                b.retry_at = Some(now + backoff);
                b.last_error = Some(err);
                let Some(pq) = self.part_mut(&b.topic.clone(), b.partition) else {
                    return f;
                };
                // Back into the queue, in sequence order, ahead of newer batches.
                let pos = pq
                    .queue
                    .iter()
                    .position(|q| match (q.base_seq, b.base_seq) {
                        (Some(qs), Some(bs)) => seq_before(bs, qs),
                        (None, _) => true,
                        _ => q.id > b.id,
                    })
                    .unwrap_or(pq.queue.len());
                pq.queue.insert(pos, b);
            }
            Verdict::Fail => {
                let err = if past_deadline {
                    Error::DeliveryTimeout {
                        topic: b.topic.to_string(),
                        partition: b.partition,
                        timeout: self.cfg.delivery_timeout,
                        last_error: Some(err.to_string()),
                    }
                } else {
                    err
                };
                self.fail_batch(b, err);
            }
        }
        f
    }

    fn retry_backoff(&self, attempts: u32) -> Duration {
        let base = self.cfg.retry_backoff;
        let exp = base.saturating_mul(1u32 << attempts.saturating_sub(1).min(10));
        exp.min(self.cfg.retry_backoff_max.max(base))
    }

    fn succeed(&mut self, b: Batch, base_offset: i64, log_append_time: i64) {
        self.buffered = self.buffered.saturating_sub(b.accounted);
        self.completed.push(b.shared.clone());
        b.shared.complete(Ok(RecordMetadata {
            topic: b.topic.clone(),
            partition: b.partition,
            base_offset,
            log_append_time,
        }));
    }

    fn fail_batch(&mut self, b: Batch, err: Error) {
        if self.cfg.transactional && self.txn_failure.is_none() {
            self.txn_failure = Some(err.clone());
        }
        self.buffered = self.buffered.saturating_sub(b.accounted);
        self.stats.failed_batches += 1;
        self.stats.failed_records += u64::try_from(b.records).unwrap_or(0);
        self.completed.push(b.shared.clone());
        b.shared.complete(Err(err));
    }

    /// Batches completed since the last call: run their callbacks
    /// ([`BatchShared::run_callbacks`]) after releasing the accumulator.
    pub fn take_completed(&mut self) -> Vec<Arc<BatchShared>> {
        std::mem::take(&mut self.completed)
    }

    /// Fails everything queued (not in flight) with `err` (close timeout).
    /// A queued batch that was sent before (it waits for a retry) may be in
    /// the log already: it fails as [`Error::PossiblyWritten`] instead.
    pub fn fail_all_queued(&mut self, err: &Error) {
        let mut all = Vec::new();
        for parts in self.topics.values_mut() {
            for pq in parts.iter_mut() {
                for b in pq.queue.drain(..) {
                    self.idem.forget(&mut pq.seq, b.base_seq, false);
                    all.push(b);
                }
            }
        }
        for b in all {
            let e = if b.attempts > 0 {
                Error::PossiblyWritten {
                    topic: b.topic.to_string(),
                    partition: b.partition,
                    reason: format!(
                        "it was waiting to be retried when the producer stopped ({err})"
                    ),
                }
            } else {
                err.clone()
            };
            self.fail_batch(b, e);
        }
    }

    /// Fails everything in flight with `err` (used when the sender stops).
    pub fn fail_all_in_flight(&mut self, reason: &str) {
        let ids: Vec<u64> = self.in_flight.keys().copied().collect();
        for id in ids {
            if let Some(b) = self.in_flight.remove(&id) {
                let (seq, idem) = (b.base_seq, &mut self.idem);
                if let Some(pq) = self
                    .topics
                    .get_mut(&*b.topic)
                    .and_then(|p| p.get_mut(usize::try_from(b.partition).ok()?))
                {
                    idem.forget(&mut pq.seq, seq, true);
                }
                let err = Error::PossiblyWritten {
                    topic: b.topic.to_string(),
                    partition: b.partition,
                    reason: reason.to_owned(),
                };
                self.fail_batch(b, err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use purekafka_protocol::records::RecordBatches;

    fn cfg() -> AccumulatorConfig {
        AccumulatorConfig {
            batch_size: 1000,
            linger: Duration::from_millis(5),
            compression: Compression::None,
            compression_level: None,
            max_in_flight_per_partition: 5,
            idempotent: true,
            retries: 10,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1000),
            delivery_timeout: Duration::from_secs(120),
            max_request_size: 1 << 20,
            transactional: false,
        }
    }

    fn leader(_: &str, _: i32) -> Option<i32> {
        Some(1)
    }

    fn batch_header(bytes: &Bytes) -> purekafka_protocol::records::BatchHeader {
        *RecordBatches::new(bytes.clone())
            .next()
            .unwrap()
            .unwrap()
            .header()
    }

    fn drain_ids(acc: &mut Accumulator, now: Instant) -> Vec<DrainedBatch> {
        acc.drain(now, leader)
            .into_iter()
            .flat_map(|d| d.batches)
            .collect()
    }

    /// Sends one one-record batch on partition `p` and acknowledges it, so the
    /// leader "holds our sequence" and the partition may pipeline.
    fn confirm_partition(acc: &mut Accumulator, p: i32, now: Instant) {
        fill_batch(acc, p, 1, now);
        let d = drain_ids(acc, now + Duration::from_millis(10));
        assert_eq!(d.len(), 1);
        let ok = PartitionOutcome::Ok {
            base_offset: 0,
            log_append_time: -1,
        };
        acc.complete(d[0].id, ok, now);
    }

    fn fill_batch(acc: &mut Accumulator, p: i32, n: usize, now: Instant) -> Arc<BatchShared> {
        let mut last = None;
        for i in 0..n {
            let (s, _, _) = acc
                .append(
                    "t",
                    4,
                    p,
                    1000 + i as i64,
                    Some(b"k"),
                    Some(&[7u8; 20]),
                    &[],
                    now,
                )
                .unwrap();
            last = Some(s);
        }
        last.unwrap()
    }

    #[test]
    fn waits_for_linger_or_a_full_batch() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(AccumulatorConfig {
            idempotent: false,
            ..cfg()
        });
        fill_batch(&mut acc, 0, 3, t0);
        assert!(
            drain_ids(&mut acc, t0).is_empty(),
            "drained before linger.ms"
        );
        assert!(acc.next_deadline(t0).unwrap() <= t0 + Duration::from_millis(5));
        let d = drain_ids(&mut acc, t0 + Duration::from_millis(5));
        assert_eq!(d.len(), 1);
        assert_eq!(batch_header(&d[0].bytes).record_count, 3);
        // Past batch.size the first batch is full and ready at once.
        let (_, _, _) = acc
            .append("t", 4, 1, 0, None, Some(&[0u8; 600]), &[], t0)
            .unwrap();
        let (_, idx, full) = acc
            .append("t", 4, 1, 0, None, Some(&[0u8; 600]), &[], t0)
            .unwrap();
        assert_eq!(idx, 0, "second record starts a new batch");
        assert!(full, "the first batch became full");
        let d = drain_ids(&mut acc, t0);
        assert_eq!(d.len(), 1, "only the full batch is ready");
    }

    #[test]
    fn transactional_batches_carry_the_transactional_bit_and_keep_the_first_failure() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(AccumulatorConfig {
            transactional: true,
            ..cfg()
        });
        acc.set_producer(77, 3);
        fill_batch(&mut acc, 0, 2, t0);
        fill_batch(&mut acc, 1, 2, t0);
        let d = drain_ids(&mut acc, t0 + Duration::from_millis(10));
        assert_eq!(d.len(), 2);
        for b in &d {
            let h = batch_header(&b.bytes);
            assert!(h.attributes.is_transactional(), "{h:?}");
            assert_eq!((h.producer_id, h.producer_epoch), (77, 3));
        }
        assert!(acc.take_txn_failure().is_none());
        let now = t0 + Duration::from_millis(20);
        acc.complete(
            d[0].id,
            PartitionOutcome::Kafka(ErrorCode::MESSAGE_TOO_LARGE, None),
            now,
        );
        acc.complete(
            d[1].id,
            PartitionOutcome::Kafka(ErrorCode::INVALID_PRODUCER_EPOCH, None),
            now,
        );
        let first = acc
            .take_txn_failure()
            .expect("a failed batch is kept for the transaction");
        assert_eq!(first.code(), Some(ErrorCode::MESSAGE_TOO_LARGE));
        assert!(acc.take_txn_failure().is_none(), "taken once");
        // No local epoch bump: the fenced batch failed, the epoch stayed.
        assert_eq!(acc.producer(), Some(ProducerId { id: 77, epoch: 3 }));
        // A non-transactional producer keeps no failure.
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(1, 0);
        fill_batch(&mut acc, 0, 1, t0);
        let d = drain_ids(&mut acc, t0 + Duration::from_millis(10));
        assert!(!batch_header(&d[0].bytes).attributes.is_transactional());
        acc.complete(
            d[0].id,
            PartitionOutcome::Kafka(ErrorCode::MESSAGE_TOO_LARGE, None),
            now,
        );
        assert!(acc.take_txn_failure().is_none());
    }

    #[test]
    fn idempotent_batches_get_consecutive_sequences_and_wait_for_a_producer_id() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(cfg());
        fill_batch(&mut acc, 0, 3, t0);
        let later = t0 + Duration::from_millis(10);
        assert!(
            drain_ids(&mut acc, later).is_empty(),
            "sent without a producer id"
        );
        acc.set_producer(77, 2);
        let d = drain_ids(&mut acc, later);
        let h = batch_header(&d[0].bytes);
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (77, 2, 0)
        );
        let ok = PartitionOutcome::Ok {
            base_offset: 0,
            log_append_time: -1,
        };
        acc.complete(d[0].id, ok, later);
        fill_batch(&mut acc, 0, 4, later);
        let d = drain_ids(&mut acc, later + Duration::from_millis(10));
        assert_eq!(batch_header(&d[0].bytes).base_sequence, 3);
    }

    #[test]
    fn retries_resend_the_same_bytes_in_sequence_order() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(5, 0);
        confirm_partition(&mut acc, 0, t0);
        let mut sent = Vec::new();
        for _ in 0..3 {
            fill_batch(&mut acc, 0, 2, t0);
            // One batch per partition per drain; all three go in flight.
            sent.extend(drain_ids(&mut acc, t0 + Duration::from_millis(10)));
        }
        assert_eq!(sent.len(), 3);
        let now = t0 + Duration::from_millis(20);
        // The first fails (leader moved); the later two fail out of order.
        let f = acc.complete(
            sent[0].id,
            PartitionOutcome::Kafka(ErrorCode::NOT_LEADER_OR_FOLLOWER, None),
            now,
        );
        assert!(f.refresh_metadata && !f.bump_epoch);
        assert!(
            drain_ids(&mut acc, now + Duration::from_secs(1)).is_empty(),
            "sent while earlier batches are in flight"
        );
        for b in &sent[1..] {
            let f = acc.complete(
                b.id,
                PartitionOutcome::Kafka(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, None),
                now,
            );
            assert!(
                !f.bump_epoch,
                "an out-of-order reply behind a failed batch must not bump the epoch"
            );
        }
        // After the failures, one batch at a time until one succeeds; then
        // the rest pipeline again.
        let later = now + Duration::from_secs(1);
        let first = drain_ids(&mut acc, later);
        assert_eq!(first.len(), 1);
        assert!(drain_ids(&mut acc, later).is_empty());
        let ok = PartitionOutcome::Ok {
            base_offset: 10,
            log_append_time: -1,
        };
        acc.complete(first[0].id, ok.clone(), later);
        let mut again = first;
        for _ in 0..2 {
            again.extend(drain_ids(&mut acc, later));
        }
        let seqs: Vec<i32> = again
            .iter()
            .map(|b| batch_header(&b.bytes).base_sequence)
            .collect();
        assert_eq!(seqs, vec![1, 3, 5]);
        for (a, b) in sent.iter().zip(&again) {
            assert_eq!(
                a.bytes, b.bytes,
                "a retry must carry the original producer id, epoch and sequence"
            );
        }
        for b in &again[1..] {
            acc.complete(b.id, ok.clone(), now);
        }
        assert!(acc.is_empty());
        assert_eq!(acc.stats.retries, 3);
    }

    #[test]
    fn lost_sequence_bumps_the_epoch_and_renumbers() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(9, 0);
        fill_batch(&mut acc, 0, 2, t0);
        let d = drain_ids(&mut acc, t0 + Duration::from_millis(10));
        let f = acc.complete(
            d[0].id,
            PartitionOutcome::Kafka(ErrorCode::UNKNOWN_PRODUCER_ID, None),
            t0,
        );
        assert!(f.bump_epoch);
        // Bumped here, no InitProducerId round trip (KIP-360, as Java does).
        assert!(!acc.needs_producer_id());
        assert_eq!(acc.producer(), Some(ProducerId { id: 9, epoch: 1 }));
        let d2 = drain_ids(&mut acc, t0 + Duration::from_secs(5));
        let h = batch_header(&d2[0].bytes);
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (9, 1, 0)
        );
    }

    #[test]
    fn an_epoch_bump_stalls_no_partition_that_has_nothing_to_wait_for() {
        // Partition 0 loses its sequence while partition 1's batch hangs in
        // flight at an unreachable broker: partition 2 keeps sending under the
        // new epoch at once; partition 1 switches once its batch is back.
        let t0 = Instant::now();
        let t = t0 + Duration::from_millis(10);
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(5, 0);
        for p in 0..3 {
            confirm_partition(&mut acc, p, t0);
        }
        for p in 0..3 {
            fill_batch(&mut acc, p, 1, t0);
        }
        let d = drain_ids(&mut acc, t);
        assert_eq!(d.len(), 3);
        let id = |p: i32| d.iter().find(|b| b.partition == p).unwrap().id;
        acc.complete(
            id(0),
            PartitionOutcome::Kafka(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, None),
            t,
        );
        let ok = PartitionOutcome::Ok {
            base_offset: 1,
            log_append_time: -1,
        };
        acc.complete(id(2), ok.clone(), t);
        fill_batch(&mut acc, 2, 1, t);
        fill_batch(&mut acc, 1, 1, t);
        let later = t + Duration::from_secs(2);
        let next: Vec<_> = drain_ids(&mut acc, later);
        let parts: Vec<i32> = next.iter().map(|b| b.partition).collect();
        assert!(parts.contains(&0) && parts.contains(&2), "sent {parts:?}");
        assert!(
            !parts.contains(&1),
            "partition 1 switched epochs with a batch in flight"
        );
        for b in &next {
            let h = batch_header(&b.bytes);
            assert_eq!(
                (h.producer_epoch, h.base_sequence),
                (1, 0),
                "partition {}",
                b.partition
            );
        }
        acc.complete(id(1), ok, later);
        let p1 = drain_ids(&mut acc, later);
        assert_eq!(p1.len(), 1);
        let h = batch_header(&p1[0].bytes);
        assert_eq!(
            (p1[0].partition, h.producer_epoch, h.base_sequence),
            (1, 1, 0)
        );
    }

    #[test]
    fn duplicate_sequence_is_success_and_fatal_errors_fail_the_batch() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(1, 0);
        let s = fill_batch(&mut acc, 0, 1, t0);
        let d = drain_ids(&mut acc, t0 + Duration::from_millis(10));
        acc.complete(
            d[0].id,
            PartitionOutcome::Kafka(ErrorCode::DUPLICATE_SEQUENCE_NUMBER, None),
            t0,
        );
        assert!(s.is_complete());
        let s = fill_batch(&mut acc, 1, 1, t0);
        let d = drain_ids(&mut acc, t0 + Duration::from_millis(10));
        let f = acc.complete(
            d[0].id,
            PartitionOutcome::Kafka(ErrorCode::MESSAGE_TOO_LARGE, None),
            t0,
        );
        assert!(f.bump_epoch, "a failed sequenced batch leaves a gap");
        assert!(s.is_complete());
        assert_eq!(acc.stats.failed_records, 1);
        assert_eq!(acc.buffered, 0, "failed batches free their buffer space");
    }

    #[test]
    fn a_batch_still_lingering_at_the_drain_is_woken_for_when_asked_after_its_linger() {
        // Seen on Kafka 4.4 under CI load (one `send` at a time, linger.ms 5):
        // the sender drained at t0 + 1 ms (the batch still lingering), was
        // descheduled past the linger, and only then asked for its next
        // wake-up. The linger's expiry was already past, so only the
        // delivery timeout counted: the sender slept 120 s, and the record
        // failed with DeliveryTimeout, never sent.
        let t0 = Instant::now();
        for idempotent in [false, true] {
            let mut acc = Accumulator::new(AccumulatorConfig {
                idempotent,
                ..cfg()
            });
            acc.set_producer(7, 0);
            fill_batch(&mut acc, 0, 1, t0);
            let drained_at = t0 + Duration::from_millis(1);
            assert!(drain_ids(&mut acc, drained_at).is_empty(), "lingering");
            let asked_at = t0 + Duration::from_millis(20);
            let wake = acc.next_deadline(asked_at);
            assert!(
                wake.is_some_and(|w| w <= asked_at),
                "the batch became ready after the drain: wake at once, not at {:?}",
                wake.map(|w| w - t0)
            );
            assert_eq!(drain_ids(&mut acc, asked_at).len(), 1);
        }
    }

    #[test]
    fn a_ready_batch_without_a_leader_is_not_woken_for_until_something_changes() {
        // What unblocks it (new metadata) wakes the sender: a deadline in
        // the past here would make it spin.
        let t0 = Instant::now();
        let mut acc = Accumulator::new(AccumulatorConfig {
            idempotent: false,
            ..cfg()
        });
        fill_batch(&mut acc, 0, 1, t0);
        let drained_at = t0 + Duration::from_millis(10);
        assert!(acc.drain(drained_at, |_, _| None).is_empty());
        let asked_at = t0 + Duration::from_millis(20);
        assert_eq!(
            acc.next_deadline(asked_at),
            Some(t0 + cfg().delivery_timeout),
            "only its delivery timeout"
        );
    }

    #[test]
    fn unsent_batches_expire_after_delivery_timeout() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(AccumulatorConfig {
            idempotent: false,
            delivery_timeout: Duration::from_secs(1),
            ..cfg()
        });
        let s = fill_batch(&mut acc, 2, 2, t0);
        // No leader: nothing drains.
        assert!(
            acc.drain(t0 + Duration::from_millis(10), |_, _| None)
                .is_empty()
        );
        assert_eq!(acc.expire(t0 + Duration::from_millis(999)), 0);
        assert_eq!(acc.expire(t0 + Duration::from_secs(1)), 1);
        assert!(s.is_complete());
        assert!(acc.is_empty());
    }

    #[test]
    fn at_most_max_in_flight_batches_per_partition() {
        let t0 = Instant::now();
        let mut acc = Accumulator::new(AccumulatorConfig {
            max_in_flight_per_partition: 2,
            ..cfg()
        });
        acc.set_producer(1, 0);
        // The first batch goes alone (see the next test); once acknowledged,
        // up to the limit pipeline.
        fill_batch(&mut acc, 0, 1, t0);
        let first = drain_ids(&mut acc, t0 + Duration::from_millis(10));
        assert_eq!(first.len(), 1);
        let ok = PartitionOutcome::Ok {
            base_offset: 0,
            log_append_time: -1,
        };
        acc.complete(first[0].id, ok, t0);
        let mut total = 0;
        for _ in 0..4 {
            fill_batch(&mut acc, 0, 1, t0);
            total += drain_ids(&mut acc, t0 + Duration::from_millis(10)).len();
        }
        assert_eq!(total, 2);
        assert_eq!(acc.in_flight(), 2);
    }

    #[test]
    fn a_partition_pipelines_only_once_the_leader_has_acknowledged_our_sequence() {
        // A leader with no state for our producer accepts any first sequence:
        // with batch 0 failed and batch 1 in flight, batch 1 would be written
        // first and batch 0's retry after it. So batch 1 waits for batch 0.
        let t0 = Instant::now();
        let t = t0 + Duration::from_millis(10);
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(7, 0);
        fill_batch(&mut acc, 0, 1, t0);
        fill_batch(&mut acc, 1, 1, t0);
        let first = drain_ids(&mut acc, t);
        assert_eq!(first.len(), 2, "one batch per partition");
        fill_batch(&mut acc, 0, 1, t0);
        assert!(
            drain_ids(&mut acc, t).is_empty(),
            "partition 0's second batch waits"
        );
        let p0 = first.iter().find(|b| b.partition == 0).unwrap().id;
        let not_leader = PartitionOutcome::Kafka(ErrorCode::NOT_LEADER_OR_FOLLOWER, None);
        acc.complete(p0, not_leader, t);
        // The retry goes first, alone; then the rest may pipeline.
        let later = t + Duration::from_secs(2);
        let retry = drain_ids(&mut acc, later);
        assert_eq!(retry.len(), 1);
        assert_eq!(batch_header(&retry[0].bytes).base_sequence, 0);
        assert!(drain_ids(&mut acc, later).is_empty());
        let ok = PartitionOutcome::Ok {
            base_offset: 0,
            log_append_time: -1,
        };
        acc.complete(retry[0].id, ok.clone(), later);
        let next = drain_ids(&mut acc, later);
        assert_eq!(next.len(), 1);
        assert_eq!(batch_header(&next[0].bytes).base_sequence, 1);
        fill_batch(&mut acc, 0, 1, later);
        let ready = later + Duration::from_millis(10);
        assert_eq!(
            drain_ids(&mut acc, ready).len(),
            1,
            "confirmed: pipelining again"
        );
        // A new epoch starts over: one batch until it is acknowledged.
        acc.set_producer(7, 1);
        let t2 = ready + Duration::from_millis(10);
        fill_batch(&mut acc, 2, 1, ready);
        assert_eq!(drain_ids(&mut acc, t2).len(), 1);
        fill_batch(&mut acc, 2, 1, ready);
        assert!(
            drain_ids(&mut acc, t2).is_empty(),
            "a new epoch waits for its first ack"
        );
    }

    #[test]
    fn after_a_leader_change_newer_batches_wait_for_the_old_leaders_answers() {
        // Seen on the mock (which checks no sequences) under leader moves:
        // batch 1 went to the new leader while batch 0, in flight at the old
        // one, failed and was retried behind it.
        let t0 = Instant::now();
        let t = t0 + Duration::from_millis(10);
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(3, 0);
        confirm_partition(&mut acc, 0, t0);
        fill_batch(&mut acc, 0, 1, t0);
        let first = drain_ids(&mut acc, t);
        assert_eq!(first.len(), 1);
        fill_batch(&mut acc, 0, 1, t0);
        let to_new_leader = |_: &str, _: i32| Some(2);
        let d: Vec<_> = acc
            .drain(t, to_new_leader)
            .into_iter()
            .flat_map(|d| d.batches)
            .collect();
        assert!(
            d.is_empty(),
            "sent to the new leader while the old one has a batch"
        );
        let not_leader = PartitionOutcome::Kafka(ErrorCode::NOT_LEADER_OR_FOLLOWER, None);
        acc.complete(first[0].id, not_leader, t);
        let later = t + Duration::from_secs(2);
        let d: Vec<_> = acc
            .drain(later, to_new_leader)
            .into_iter()
            .flat_map(|d| (d.broker, d.batches).1)
            .collect();
        assert_eq!(d.len(), 1);
        assert_eq!(
            batch_header(&d[0].bytes).base_sequence,
            1,
            "the retry goes first"
        );
    }

    #[test]
    fn after_a_retry_a_partition_sends_one_batch_at_a_time_until_one_succeeds() {
        // On a broker that checks no sequences, a retry failing again while
        // a newer batch was in flight behind it would land after that batch.
        let t0 = Instant::now();
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(4, 0);
        confirm_partition(&mut acc, 0, t0);
        fill_batch(&mut acc, 0, 1, t0);
        let t = t0 + Duration::from_millis(10);
        let a = drain_ids(&mut acc, t);
        let timed_out = PartitionOutcome::Kafka(ErrorCode::REQUEST_TIMED_OUT, None);
        acc.complete(a[0].id, timed_out.clone(), t);
        fill_batch(&mut acc, 0, 1, t);
        let later = t + Duration::from_secs(2);
        let retry = drain_ids(&mut acc, later);
        assert_eq!(retry.len(), 1);
        assert!(
            drain_ids(&mut acc, later).is_empty(),
            "a newer batch went out behind the retry"
        );
        acc.complete(retry[0].id, timed_out, later);
        let again = later + Duration::from_secs(2);
        let retry2 = drain_ids(&mut acc, again);
        assert_eq!(batch_header(&retry2[0].bytes).base_sequence, 1);
        assert!(drain_ids(&mut acc, again).is_empty());
        let ok = PartitionOutcome::Ok {
            base_offset: 1,
            log_append_time: -1,
        };
        acc.complete(retry2[0].id, ok, again);
        let next = drain_ids(&mut acc, again);
        assert_eq!(batch_header(&next[0].bytes).base_sequence, 2);
    }

    #[test]
    fn an_undecodable_produce_response_is_retried_only_with_idempotence() {
        let t0 = Instant::now();
        let t = t0 + Duration::from_millis(10);
        let garbled = || {
            PartitionOutcome::Request(Error::Decode {
                broker: "b1".into(),
                api: "Produce",
                version: 12,
                source: purekafka_protocol::DecodeError::new(
                    purekafka_protocol::DecodeErrorKind::NegativeLength(-7),
                ),
            })
        };
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(6, 0);
        let rec = fill_batch(&mut acc, 0, 1, t0);
        let d = drain_ids(&mut acc, t);
        acc.complete(d[0].id, garbled(), t);
        assert!(
            !rec.is_complete(),
            "an idempotent batch failed on a garbled response"
        );
        assert_eq!(
            drain_ids(&mut acc, t + Duration::from_secs(2)).len(),
            1,
            "retried"
        );

        let mut acc = Accumulator::new(AccumulatorConfig {
            idempotent: false,
            ..cfg()
        });
        let rec = fill_batch(&mut acc, 0, 1, t0);
        let d = drain_ids(&mut acc, t);
        acc.complete(d[0].id, garbled(), t);
        assert!(
            rec.is_complete(),
            "without idempotence a resend could duplicate: fail it"
        );
    }

    #[test]
    fn an_epoch_bump_never_renumbers_a_batch_that_may_be_in_the_log() {
        // Renumbered under a new epoch, a batch the broker may have written
        // (its request timed out) would be a duplicate it cannot detect.
        let t0 = Instant::now();
        let t = t0 + Duration::from_millis(10);
        let mut acc = Accumulator::new(cfg());
        acc.set_producer(8, 0);
        let unknown = fill_batch(&mut acc, 0, 1, t0);
        let sure = fill_batch(&mut acc, 1, 1, t0);
        let d = drain_ids(&mut acc, t);
        assert_eq!(d.len(), 2);
        let p0 = d.iter().find(|b| b.partition == 0).unwrap().id;
        let p1 = d.iter().find(|b| b.partition == 1).unwrap().id;
        let timeout = Error::RequestTimeout {
            broker: "b1".into(),
            api: "Produce",
            timeout: Duration::from_secs(30),
        };
        acc.complete(p0, PartitionOutcome::Request(timeout), t);
        let f = acc.complete(
            p1,
            PartitionOutcome::Kafka(ErrorCode::UNKNOWN_PRODUCER_ID, None),
            t,
        );
        assert!(f.bump_epoch);
        assert_eq!(
            acc.producer(),
            Some(ProducerId { id: 8, epoch: 1 }),
            "bumped here, no round trip"
        );
        let again = drain_ids(&mut acc, t + Duration::from_secs(2));
        match unknown.result() {
            Some(Err(Error::PossiblyWritten { partition: 0, .. })) => {}
            other => panic!("the timed-out batch was not failed as possibly written: {other:?}"),
        }
        assert!(
            !sure.is_complete(),
            "a batch the broker refused is safe to renumber"
        );
        assert_eq!(again.len(), 1);
        let h = batch_header(&again[0].bytes);
        assert_eq!(
            (again[0].partition, h.producer_epoch, h.base_sequence),
            (1, 1, 0)
        );
    }
}
