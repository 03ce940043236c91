//! The producer's background task: drains ready batches into Produce
//! requests, sends them to partition leaders, and feeds the outcomes back to
//! the accumulator. It also obtains (and bumps) the idempotent producer id.

use crate::consumer::backoff::Retries;
use crate::error::{Error, Result};
use crate::net::Cluster;
use crate::producer::ProducerShared;
use crate::producer::accumulator::{Drained, Followup, PartitionOutcome};
use crate::producer::idempotence::{InitOutcome, ProducerId};
use crate::producer::txn_driver;
use purekafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use purekafka_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse};
use purekafka_protocol::{ApiKey, ErrorCode, Uuid};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

type Outcomes = Vec<(u64, PartitionOutcome)>;

pub(crate) async fn run(shared: Arc<ProducerShared>) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Outcomes>();
    let mut refresh = RefreshPolicy::new(
        shared.cfg.client.retry_backoff,
        shared.cfg.client.retry_backoff_max,
    );
    let (refresh_tx, mut refresh_rx) = mpsc::unbounded_channel::<bool>();
    let mut dispatchers: HashMap<i32, mpsc::UnboundedSender<Drained>> = HashMap::new();
    loop {
        let now = Instant::now();
        // Producer id first (idempotence), and a new one once the epoch ran
        // out and nothing is in flight: the machine says when, and what a
        // failure means.
        let need_pid = shared.lock_acc().needs_producer_id();
        if need_pid && !shared.is_closed_and_empty() {
            let result = init_producer_id(&shared).await;
            let outcome = shared.lock_acc().on_producer_id(result.as_ref().copied());
            match outcome {
                InitOutcome::Ready(_) => {}
                InitOutcome::RetryAfter(wait) => {
                    if let Err(e) = &result {
                        tracing::debug!("InitProducerId: {e}; retrying in {wait:?}");
                    }
                    tokio::time::sleep(wait).await;
                    expire_and_wake(&shared, Instant::now());
                    continue;
                }
                InitOutcome::FailQueued { retry_after } => {
                    // Not retriable as such (authorization, unsupported):
                    // what waits fails now with the cause, and the next
                    // records try again, so fixing the cause (granting
                    // IdempotentWrite, say) brings the producer back.
                    let e = match result {
                        Err(e) => e,
                        Ok(_) => Error::Fatal("InitProducerId failed".into()),
                    };
                    tracing::warn!("cannot obtain a producer id for idempotence: {e}");
                    shared.lock_acc().fail_all_queued(&e);
                    shared.run_callbacks();
                    shared.space.notify_waiters();
                    if shared.closed.load(Ordering::Acquire) {
                        return;
                    }
                    tokio::time::sleep(retry_after).await;
                    let woken = shared.wake.notified();
                    tokio::pin!(woken);
                    woken.as_mut().enable();
                    if shared.lock_acc().is_empty() && !shared.closed.load(Ordering::Acquire) {
                        woken.await;
                    }
                    continue;
                }
            }
        }
        expire_and_wake(&shared, now);

        // Drain what is ready.
        let md = shared.cluster.metadata();
        let mut missing_leader = false;
        // A transactional producer's batch waits until its partition is in
        // the transaction (AddPartitionsToTxn, transactions v1). Lock order:
        // the transaction, then the accumulator.
        let drained = {
            let mut txn = shared.txn.as_ref().map(txn_driver::lock);
            let drained = shared.lock_acc().drain(now.into_std(), |topic, partition| {
                let l = md.leader(topic, partition);
                missing_leader |= l.is_none();
                match &txn {
                    Some(t) if !t.partition_sendable(topic, partition) => None,
                    _ => l,
                }
            });
            if let Some(t) = txn.as_mut()
                && !drained.is_empty()
            {
                t.on_produce_sent();
            }
            drained
        };
        // metadata.max.age.ms: refresh even when nothing failed, so leader
        // moves and new partitions are seen (as the Java producer does).
        let max_age = shared.cfg.client.metadata_max_age;
        let refresh_due = md.fetched_at.map_or(now, |t| t + max_age);
        if refresh.after_drain(now, missing_leader, refresh_due) {
            spawn_refresh(&shared.cluster, refresh_tx.clone());
        }
        for d in drained {
            // One dispatcher per broker keeps requests in drain order, so a
            // partition's batches reach the broker in sequence.
            let tx = dispatchers.entry(d.broker).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(dispatch(shared.clone(), rx, done_tx.clone()));
                tx
            });
            if let Err(mpsc::error::SendError(d)) = tx.send(d) {
                let e = Error::Closed("producer dispatcher");
                let _ = done_tx.send(
                    d.batches
                        .iter()
                        .map(|b| (b.id, PartitionOutcome::Request(e.clone())))
                        .collect(),
                );
            }
        }

        if shared.closed.load(Ordering::Acquire) && shared.lock_acc().is_empty() {
            shared.idle.notify_waiters();
            return;
        }

        let deadline = shared
            .lock_acc()
            .next_deadline(Instant::now().into_std())
            .map(Instant::from_std);
        // Wake for the next metadata refresh too (not while one runs).
        let deadline = match (deadline, refresh.wake_at(refresh_due)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            Some(outcomes) = done_rx.recv() => {
                let mut follow = Followup::default();
                let now = Instant::now().into_std();
                {
                    let mut acc = shared.lock_acc();
                    for (id, outcome) in outcomes {
                        let f = acc.complete(id, outcome, now);
                        follow.refresh_metadata |= f.refresh_metadata;
                        follow.bump_epoch |= f.bump_epoch;
                    }
                    shared.metrics.retries.store(acc.stats.retries, Ordering::Relaxed);
                    shared.metrics.failed_records.store(acc.stats.failed_records, Ordering::Relaxed);
                }
                shared.run_callbacks();
                shared.space.notify_waiters();
                if let Some(txn) = shared.txn.as_ref() {
                    // A failed send makes the transaction abortable (or, fenced,
                    // the producer fatal): the machine decides.
                    let failure = shared.lock_acc().take_txn_failure();
                    if let Some(e) = failure {
                        txn_driver::lock(txn).on_send_failed(&e, true);
                        txn_driver::apply_effects(&shared);
                    }
                }
                if follow.refresh_metadata && refresh.stale() {
                    spawn_refresh(&shared.cluster, refresh_tx.clone());
                }
            }
            Some(ok) = refresh_rx.recv() => {
                refresh.finished(ok, Instant::now());
            }
            _ = shared.wake.notified() => {}
            _ = crate::time::sleep_until_opt(deadline) => {}
        }
    }
}

fn expire_and_wake(shared: &ProducerShared, now: Instant) {
    let n = shared.lock_acc().expire(now.into_std());
    if n > 0 {
        shared.run_callbacks();
        shared.space.notify_waiters();
    }
}

/// When the sender refreshes metadata, sans-IO: the sender runs the
/// refreshes and says what it saw. A refresh goes when
/// `metadata.max.age.ms` ran out, when a drain found a ready batch whose
/// partition has no leader, and at once when a Produce answer said the
/// metadata is stale (NOT_LEADER_OR_FOLLOWER and the like: something new
/// is known). One at a time. A refresh that failed, or after which a
/// partition still has no leader, holds the next back (except a Produce
/// answer's): `retry.backoff.ms`, doubled per such refresh in a row up to
/// `retry.backoff.max.ms`, ±20% jitter, as the Java producer's metadata
/// backoff (KIP-580). One that finds every leader it was asked for resets
/// it. Without the hold, a partition whose leader stays unknown (a topic
/// just created, a leader election) was asked about at round-trip speed.
#[derive(Debug)]
struct RefreshPolicy {
    backoff: Duration,
    backoff_max: Duration,
    retries: Retries,
    running: bool,
    /// A refresh ended well: the next drain says whether it found the
    /// leaders that were missing.
    ended: bool,
    /// No refresh but a Produce answer's before this.
    not_before: Option<Instant>,
    /// The last drain had a ready batch whose partition has no leader.
    missing_leader: bool,
}

impl RefreshPolicy {
    fn new(backoff: Duration, backoff_max: Duration) -> Self {
        RefreshPolicy {
            backoff,
            backoff_max,
            retries: Retries::default(),
            running: false,
            ended: false,
            not_before: None,
            missing_leader: false,
        }
    }

    /// After a drain at `now` that found a ready batch without a leader or
    /// not, with `metadata.max.age.ms` running out at `due`: whether to
    /// start a refresh now.
    fn after_drain(&mut self, now: Instant, missing_leader: bool, due: Instant) -> bool {
        self.missing_leader = missing_leader;
        if std::mem::take(&mut self.ended) {
            if missing_leader {
                self.hold_back(now);
            } else {
                self.retries.succeeded();
                self.not_before = None;
            }
        }
        let start = !self.running
            && (missing_leader || due <= now)
            && self.not_before.is_none_or(|t| t <= now);
        self.running |= start;
        start
    }

    /// A Produce answer said the metadata is stale: whether to start a
    /// refresh now (yes, unless one runs).
    fn stale(&mut self) -> bool {
        let start = !self.running;
        self.running = true;
        start
    }

    /// The refresh ended at `now`, fetched (`ok`) or failed.
    fn finished(&mut self, ok: bool, now: Instant) {
        self.running = false;
        self.ended = ok;
        if !ok {
            self.hold_back(now);
        }
    }

    fn hold_back(&mut self, now: Instant) {
        self.not_before = Some(now + self.retries.failed(self.backoff, self.backoff_max));
    }

    /// When the sender must wake to start the next refresh, given that
    /// `metadata.max.age.ms` runs out at `due` (none while one runs).
    fn wake_at(&self, due: Instant) -> Option<Instant> {
        if self.running {
            return None;
        }
        let aged = self.not_before.map_or(due, |t| t.max(due));
        match self.not_before.filter(|_| self.missing_leader) {
            Some(t) => Some(t.min(aged)),
            None => Some(aged),
        }
    }
}

/// Refreshes metadata in the background; `done` learns whether it was fetched.
fn spawn_refresh(cluster: &Cluster, done: mpsc::UnboundedSender<bool>) {
    let cluster = cluster.clone();
    tokio::spawn(async move {
        let ok = match cluster.refresh_metadata().await {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!("metadata refresh failed: {e}");
                false
            }
        };
        let _ = done.send(ok);
    });
}

async fn init_producer_id(shared: &ProducerShared) -> Result<ProducerId> {
    let conn = shared.cluster.any_broker().await?;
    let version = conn.version_for(ApiKey::InitProducerId)?;
    let current = shared.lock_acc().idempotence().init_request();
    let mut req = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: i32::MAX,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if let Some(p) = current
        && version >= 3
    {
        // KIP-360: bump the epoch of the id we have.
        req.producer_id = p.id;
        req.producer_epoch = p.epoch;
    }
    let resp = conn.send_versioned(&req, version).await?;
    let code = ErrorCode(resp.error_code);
    if code != ErrorCode::NONE {
        // InitProducerId carries no error message: say what the code means here.
        let hint = if code == ErrorCode::CLUSTER_AUTHORIZATION_FAILED {
            "; an idempotent producer needs WRITE on a topic or IDEMPOTENT_WRITE on the cluster \
             (an ACL denying WRITE also refuses it), or set enable.idempotence=false"
        } else {
            ""
        };
        return Err(Error::Kafka {
            code,
            api: "InitProducerId",
            topic: None,
            partition: None,
            message: Some(format!(
                "the broker {} refused a producer id for idempotence{hint}",
                conn.broker()
            )),
        });
    }
    Ok(ProducerId {
        id: resp.producer_id,
        epoch: resp.producer_epoch,
    })
}

/// Submits one broker's requests in order; their responses are awaited
/// concurrently.
async fn dispatch(
    shared: Arc<ProducerShared>,
    mut rx: mpsc::UnboundedReceiver<Drained>,
    done: mpsc::UnboundedSender<Outcomes>,
) {
    while let Some(d) = rx.recv().await {
        match submit_batches(&shared, d).await {
            Submitted::Done(outcomes) => {
                let _ = done.send(outcomes);
            }
            Submitted::Pending(p) => {
                let shared = shared.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    let _ = done.send(p.finish(&shared).await);
                });
            }
        }
    }
}

enum Submitted {
    Done(Outcomes),
    Pending(Box<PendingProduce>),
}

struct PendingProduce {
    pending: crate::net::conn::PendingResponse,
    broker: String,
    ids: Vec<u64>,
    counts: HashMap<u64, u64>,
    index: HashMap<(Arc<str>, i32), u64>,
    topic_ids: HashMap<Arc<str>, Uuid>,
    version: i16,
    started: Instant,
}

/// Builds and submits one Produce request.
async fn submit_batches(shared: &ProducerShared, d: Drained) -> Submitted {
    let ids: Vec<u64> = d.batches.iter().map(|b| b.id).collect();
    let fail_all = |e: Error| {
        Submitted::Done(
            ids.iter()
                .map(|id| (*id, PartitionOutcome::Request(e.clone())))
                .collect(),
        )
    };
    let conn = match shared.cluster.broker(d.broker).await {
        Ok(c) => c,
        Err(e) => return fail_all(e),
    };
    let md = shared.cluster.metadata();
    let mut version = match conn.version_for(ApiKey::Produce) {
        Ok(v) => v,
        Err(e) => return fail_all(e),
    };
    // Produce v13 names topics by id: use it only when every id is known.
    let topic_ids: HashMap<Arc<str>, Uuid> = d
        .batches
        .iter()
        .map(|b| {
            (
                b.topic.clone(),
                md.topics.get(&*b.topic).map_or(Uuid::ZERO, |t| t.id),
            )
        })
        .collect();
    if version >= 13 && topic_ids.values().any(Uuid::is_zero) {
        version = 12;
    }
    let transactional_id = match shared.txn.as_ref() {
        Some(t) => {
            let t = txn_driver::lock(t);
            version = version.min(t.max_produce_version());
            Some(t.transactional_id().to_owned())
        }
        None => None,
    };
    let mut topics: Vec<TopicProduceData> = Vec::new();
    let mut index: HashMap<(Arc<str>, i32), u64> = HashMap::new();
    let counts: HashMap<u64, u64> = d
        .batches
        .iter()
        .map(|b| (b.id, u64::try_from(b.records).unwrap_or(0)))
        .collect();
    let mut bytes = 0usize;
    for b in &d.batches {
        bytes += b.bytes.len();
        index.insert((b.topic.clone(), b.partition), b.id);
        let pd = PartitionProduceData {
            index: b.partition,
            records: Some(b.bytes.clone()),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.name == *b.topic) {
            Some(t) => t.partition_data.push(pd),
            None => topics.push(TopicProduceData {
                name: b.topic.to_string(),
                topic_id: topic_ids.get(&b.topic).copied().unwrap_or_default(),
                partition_data: vec![pd],
                ..Default::default()
            }),
        }
    }
    let acks = shared.cfg.acks.as_i16();
    let req = ProduceRequest {
        transactional_id,
        acks,
        timeout_ms: i32::try_from(shared.cfg.client.request_timeout.as_millis())
            .unwrap_or(i32::MAX),
        topic_data: topics,
        ..Default::default()
    };
    let m = &shared.metrics;
    m.requests.fetch_add(1, Ordering::Relaxed);
    m.batches_sent
        .fetch_add(d.batches.len() as u64, Ordering::Relaxed);
    m.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    if acks == 0 {
        return match conn.send_no_response(&req, version).await {
            Ok(()) => {
                m.records_sent
                    .fetch_add(counts.values().sum(), Ordering::Relaxed);
                Submitted::Done(
                    ids.iter()
                        .map(|id| {
                            (
                                *id,
                                PartitionOutcome::Ok {
                                    base_offset: -1,
                                    log_append_time: -1,
                                },
                            )
                        })
                        .collect(),
                )
            }
            Err(e) => fail_all(e),
        };
    }
    let started = Instant::now();
    match conn.submit_request(&req, version).await {
        Ok(pending) => Submitted::Pending(Box::new(PendingProduce {
            pending,
            broker: conn.broker().to_string(),
            ids,
            counts,
            index,
            topic_ids,
            version,
            started,
        })),
        Err(e) => fail_all(e),
    }
}

impl PendingProduce {
    /// Awaits the response and maps it to per-batch outcomes.
    async fn finish(self, shared: &ProducerShared) -> Outcomes {
        let m = &shared.metrics;
        let PendingProduce {
            pending,
            broker,
            ids,
            counts,
            mut index,
            topic_ids,
            version,
            started,
        } = self;
        let resp: ProduceResponse = match pending.decode::<ProduceRequest>().await {
            Ok(r) => r,
            Err(e) => {
                m.errors.fetch_add(1, Ordering::Relaxed);
                return ids
                    .iter()
                    .map(|id| (*id, PartitionOutcome::Request(e.clone())))
                    .collect();
            }
        };
        m.latency_us_total
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let by_id: HashMap<Uuid, Arc<str>> =
            topic_ids.iter().map(|(n, id)| (*id, n.clone())).collect();
        let mut out = Vec::with_capacity(ids.len());
        for t in resp.responses {
            let name: Arc<str> = if version >= 13 {
                match by_id.get(&t.topic_id) {
                    Some(n) => n.clone(),
                    None => continue,
                }
            } else {
                Arc::from(t.name.as_str())
            };
            for p in t.partition_responses {
                let Some(id) = index.remove(&(name.clone(), p.index)) else {
                    continue;
                };
                let code = ErrorCode(p.error_code);
                if code == ErrorCode::NONE {
                    m.records_sent
                        .fetch_add(counts.get(&id).copied().unwrap_or(0), Ordering::Relaxed);
                    out.push((
                        id,
                        PartitionOutcome::Ok {
                            base_offset: p.base_offset,
                            log_append_time: p.log_append_time_ms,
                        },
                    ));
                } else {
                    m.errors.fetch_add(1, Ordering::Relaxed);
                    out.push((id, PartitionOutcome::Kafka(code, p.error_message)));
                }
            }
        }
        // Partitions the broker did not answer for: unknown outcome.
        for (_, id) in index {
            out.push((
                id,
                PartitionOutcome::Request(Error::Decode {
                    broker: broker.clone(),
                    api: "Produce",
                    version,
                    source: purekafka_protocol::DecodeError::new(
                        purekafka_protocol::DecodeErrorKind::InvalidValue(
                            "response lacks a partition that was sent",
                        ),
                    ),
                }),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const AGE: Duration = Duration::from_secs(300);

    fn policy() -> RefreshPolicy {
        RefreshPolicy::new(100 * MS, 1000 * MS)
    }

    /// `d` within ±20% of `term`, and within [100, 1000] ms.
    fn about(d: Duration, term: Duration) -> bool {
        d >= term.mul_f64(0.8).max(100 * MS) && d <= term.mul_f64(1.2).min(1000 * MS)
    }

    #[test]
    fn a_partition_without_a_leader_is_asked_about_with_exponential_backoff() {
        let mut r = policy();
        let t0 = Instant::now();
        let due = t0 + AGE;
        assert!(
            r.after_drain(t0, true, due),
            "the first missing leader is asked about at once"
        );
        assert!(!r.after_drain(t0, true, due), "one refresh at a time");
        assert_eq!(r.wake_at(due), None);
        let mut now = t0 + 2 * MS;
        for term in [100, 200, 400, 800, 1000, 1000].map(|n| n * MS) {
            r.finished(true, now);
            // Still no leader: held back, and the sender wakes when it may ask again.
            assert!(!r.after_drain(now, true, due));
            let at = r.wake_at(due).expect("a wake-up for the next refresh");
            assert!(
                about(at - now, term),
                "{:?} after the refresh, not {term:?}",
                at - now
            );
            assert!(
                !r.after_drain(at - MS, true, due),
                "asked before the backoff ran out"
            );
            assert!(r.after_drain(at, true, due));
            now = at + 2 * MS;
        }
    }

    #[test]
    fn finding_the_leader_resets_the_backoff_and_a_produce_answer_acts_at_once() {
        let mut r = policy();
        let mut now = Instant::now();
        let due = now + AGE;
        assert!(r.after_drain(now, true, due));
        for _ in 0..4 {
            r.finished(true, now);
            assert!(!r.after_drain(now, true, due));
            now = r.wake_at(due).expect("wake-up");
            assert!(r.after_drain(now, true, due));
        }
        // A Produce answer (NOT_LEADER_OR_FOLLOWER) while held back: at once.
        r.finished(true, now);
        assert!(!r.after_drain(now, true, due));
        assert!(
            r.wake_at(due)
                .is_some_and(|t| t - now >= 1000 * MS * 8 / 10)
        );
        assert!(r.stale(), "a Produce answer's refresh waits for no backoff");
        assert!(!r.stale(), "one refresh at a time");
        // It found the leader: nothing more until metadata.max.age.ms...
        r.finished(true, now);
        assert!(!r.after_drain(now, false, due));
        assert_eq!(r.wake_at(due), Some(due));
        // ...and the next missing leader is asked about at once, then after
        // retry.backoff.ms again.
        assert!(r.after_drain(now, true, due));
        r.finished(true, now);
        assert!(!r.after_drain(now, true, due));
        assert!(r.wake_at(due).is_some_and(|t| about(t - now, 100 * MS)));
    }

    #[test]
    fn a_failed_refresh_holds_back_the_next_even_when_metadata_is_old() {
        let mut r = policy();
        let now = Instant::now();
        // No metadata yet (due now), and the refresh fails.
        assert!(r.after_drain(now, false, now));
        r.finished(false, now);
        assert!(!r.after_drain(now, false, now));
        let at = r.wake_at(now).expect("wake-up");
        assert!(about(at - now, 100 * MS), "{:?}", at - now);
        assert!(r.after_drain(at, false, now));
        r.finished(false, at);
        let next = r.wake_at(now).expect("wake-up");
        assert!(about(next - at, 200 * MS), "{:?}", next - at);
        // Fetched, every leader known: the backoff starts over.
        assert!(r.after_drain(next, false, now));
        r.finished(true, next);
        let due = next + AGE;
        assert!(!r.after_drain(next, false, due));
        assert_eq!(r.wake_at(due), Some(due));
        assert!(
            r.after_drain(due, false, due),
            "metadata.max.age.ms ran out"
        );
        r.finished(false, due);
        assert!(r.wake_at(due).is_some_and(|t| about(t - due, 100 * MS)));
    }
}
