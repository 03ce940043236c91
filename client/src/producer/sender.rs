//! The producer's background task: drains ready batches into Produce
//! requests, sends them to partition leaders, and feeds the outcomes back to
//! the accumulator. It also obtains (and bumps) the idempotent producer id.

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
    let mut refreshing = false;
    let (refresh_tx, mut refresh_rx) = mpsc::unbounded_channel::<()>();
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
        let refresh_due = md.fetched_at.map(|t| t + max_age);
        if (missing_leader || refresh_due.is_none_or(|t| t <= now)) && !refreshing {
            refreshing = true;
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
        let deadline = match (deadline, refresh_due.filter(|_| !refreshing)) {
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
                if follow.refresh_metadata && !refreshing {
                    refreshing = true;
                    spawn_refresh(&shared.cluster, refresh_tx.clone());
                }
            }
            Some(()) = refresh_rx.recv() => {
                refreshing = false;
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

fn spawn_refresh(cluster: &Cluster, done: mpsc::UnboundedSender<()>) {
    let cluster = cluster.clone();
    tokio::spawn(async move {
        if let Err(e) = cluster.refresh_metadata().await {
            tracing::debug!("metadata refresh failed: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = done.send(());
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
