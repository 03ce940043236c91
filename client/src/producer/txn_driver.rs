//! The transactional producer's background task: runs the
//! [`Transaction`](super::transaction::Transaction) machine's requests
//! (FindCoordinator, InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
//! TxnOffsetCommit, EndTxn) one at a time and feeds the answers back; hands
//! new producer ids and epochs to the accumulator and fails its queued
//! batches when the transaction can no longer commit. All decisions are the
//! machine's.

use crate::error::{Error, Result};
use crate::net::coordinator::{RetryPolicy, coordinator_connection, find_coordinator};
use crate::producer::ProducerShared;
use crate::producer::transaction::{
    Action, CoordinatorType, Target, Transaction, TxnRequest, TxnResponse, TxnVersion,
};
use purekafka_protocol::ApiKey;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::time::Instant;

pub(crate) fn lock(m: &Mutex<Transaction>) -> MutexGuard<'_, Transaction> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Applies what the machine produced for others: a new producer id or
/// epoch for the accumulator, queued batches to fail. Takes the
/// transaction lock, then the accumulator's (the crate's lock order).
pub(crate) fn apply_effects(shared: &ProducerShared) {
    let Some(txn) = shared.txn.as_ref() else {
        return;
    };
    let mut failed = false;
    {
        let mut t = lock(txn);
        let producer = t.take_new_producer();
        let fail = t.take_fail_queued();
        if producer.is_some() || fail.is_some() {
            let mut acc = shared.lock_acc();
            if let Some(p) = producer {
                acc.on_producer_id(Ok(p));
            }
            if let Some(e) = fail {
                acc.fail_all_queued(&e);
                // Those failures are the transaction's end, not news for it.
                let _ = acc.take_txn_failure();
                failed = true;
            }
        }
    }
    if failed {
        shared.run_callbacks();
        shared.space.notify_waiters();
    }
    shared.wake.notify_one();
    shared.txn_done.notify_waiters();
}

pub(crate) async fn run(shared: Arc<ProducerShared>) {
    let Some(txn) = shared.txn.as_ref() else {
        return;
    };
    loop {
        // Closed and drained: no call of the application waits any more
        // (they fail once the producer is closed), so the task ends, even
        // in a backoff.
        if shared.closed.load(Ordering::Acquire) && shared.is_closed_and_empty() {
            shared.txn_done.notify_waiters();
            return;
        }
        let action = lock(txn).next(Instant::now().into_std());
        match action {
            Action::Send { target, request } => {
                let cap = lock(txn).max_version(&request);
                let result = perform(&shared, target, &request, cap).await;
                if let Err(e) = &result {
                    tracing::debug!(
                        "transactional.id '{}': {}: {e}",
                        lock(txn).transactional_id(),
                        request.api()
                    );
                }
                lock(txn).on_response(Instant::now().into_std(), result);
                apply_effects(&shared);
            }
            Action::Wait(t) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(Instant::from_std(t)) => {}
                    _ = shared.txn_wake.notified() => {}
                }
            }
            Action::Idle => shared.txn_wake.notified().await,
        }
    }
}

async fn perform(
    shared: &ProducerShared,
    target: Target,
    request: &TxnRequest,
    cap: i16,
) -> Result<TxnResponse> {
    if let TxnRequest::FindCoordinator { kind, key } = request {
        // The client's one lookup, with its retries for up to
        // request.timeout.ms; the machine retries beyond that.
        let client = &shared.cfg.client;
        let policy = RetryPolicy {
            backoff: client.retry_backoff,
            backoff_max: client.retry_backoff_max,
            deadline: std::time::Instant::now() + client.request_timeout,
        };
        let found = find_coordinator(&shared.cluster, *kind, key, policy).await?;
        let version = match kind {
            CoordinatorType::Transaction => {
                let c = coordinator_connection(&shared.cluster, &found).await?;
                txn_version(c.versions())
            }
            _ => TxnVersion::V1,
        };
        let node = found.id;
        tracing::debug!("{kind:?} coordinator of '{key}' is node {node} ({version:?})");
        return Ok(TxnResponse::Coordinator { node, version });
    }
    let conn = match target {
        Target::AnyBroker => shared.cluster.any_broker().await?,
        Target::TxnCoordinator(n) | Target::GroupCoordinator(n) => shared.cluster.broker(n).await?,
    };
    let v = |api: ApiKey| conn.version_for(api).map(|v| v.min(cap));
    Ok(match request {
        TxnRequest::FindCoordinator { .. } => {
            return Err(Error::Fatal("FindCoordinator is answered above".into()));
        }
        TxnRequest::InitProducerId(r) => {
            TxnResponse::InitProducerId(conn.send_versioned(r, v(ApiKey::InitProducerId)?).await?)
        }
        TxnRequest::AddPartitions(r) => TxnResponse::AddPartitions(
            conn.send_versioned(r, v(ApiKey::AddPartitionsToTxn)?)
                .await?,
        ),
        TxnRequest::AddOffsets(r) => {
            TxnResponse::AddOffsets(conn.send_versioned(r, v(ApiKey::AddOffsetsToTxn)?).await?)
        }
        TxnRequest::TxnOffsetCommit(r) => {
            TxnResponse::TxnOffsetCommit(conn.send_versioned(r, v(ApiKey::TxnOffsetCommit)?).await?)
        }
        TxnRequest::EndTxn(r) => {
            TxnResponse::EndTxn(conn.send_versioned(r, v(ApiKey::EndTxn)?).await?)
        }
    })
}

/// Transactions v2 (KIP-890) when the broker finalized `transaction.version`
/// 2 or more and speaks the versions it needs.
fn txn_version(v: &purekafka_protocol::version::BrokerVersions) -> TxnVersion {
    let max = |api: ApiKey| v.range(api).map_or(-1, |r| r.max);
    if v.finalized_feature("transaction.version").unwrap_or(0) >= 2
        && max(ApiKey::Produce) >= 12
        && max(ApiKey::EndTxn) >= 5
        && max(ApiKey::TxnOffsetCommit) >= 5
    {
        TxnVersion::V2
    } else {
        TxnVersion::V1
    }
}
