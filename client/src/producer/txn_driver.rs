//! The transactional producer's background task: runs the
//! [`Transaction`](super::transaction::Transaction) machine's requests
//! (FindCoordinator, InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
//! TxnOffsetCommit, EndTxn) one at a time and feeds the answers back; hands
//! new producer ids and epochs to the accumulator and fails its queued
//! batches when the transaction can no longer commit. All decisions are the
//! machine's.

use crate::error::{Error, Result};
use crate::producer::ProducerShared;
use crate::producer::transaction::{
    Action, CoordinatorKind, Target, Transaction, TxnRequest, TxnResponse, TxnVersion,
};
use purekafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use purekafka_protocol::{ApiKey, ErrorCode};
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
            Action::Idle => {
                if shared.closed.load(Ordering::Acquire) && shared.is_closed_and_empty() {
                    return;
                }
                shared.txn_wake.notified().await;
            }
        }
    }
}

async fn perform(
    shared: &ProducerShared,
    target: Target,
    request: &TxnRequest,
    cap: i16,
) -> Result<TxnResponse> {
    let conn = match target {
        Target::AnyBroker => shared.cluster.any_broker().await?,
        Target::TxnCoordinator(n) | Target::GroupCoordinator(n) => shared.cluster.broker(n).await?,
    };
    let v = |api: ApiKey| conn.version_for(api).map(|v| v.min(cap));
    Ok(match request {
        TxnRequest::FindCoordinator { kind, key } => {
            let node = find_coordinator(&conn, *kind, key).await?;
            let version = match kind {
                CoordinatorKind::Transaction => {
                    let c = shared.cluster.broker(node).await?;
                    txn_version(c.versions())
                }
                CoordinatorKind::Group => TxnVersion::V1,
            };
            tracing::debug!("{kind:?} coordinator of '{key}' is node {node} ({version:?})");
            TxnResponse::Coordinator { node, version }
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

/// One FindCoordinator round trip (the machine retries).
async fn find_coordinator(
    conn: &crate::net::conn::Connection,
    kind: CoordinatorKind,
    key: &str,
) -> Result<i32> {
    let version = conn.version_for(ApiKey::FindCoordinator)?;
    let key_type = match kind {
        CoordinatorKind::Transaction => 1,
        CoordinatorKind::Group => 0,
    };
    let req = if version >= 4 {
        FindCoordinatorRequest {
            key_type,
            coordinator_keys: vec![key.to_owned()],
            ..Default::default()
        }
    } else {
        FindCoordinatorRequest {
            key: key.to_owned(),
            key_type,
            ..Default::default()
        }
    };
    let resp: FindCoordinatorResponse = conn.send_versioned(&req, version).await?;
    let (code, message, node) = if version >= 4 {
        match resp.coordinators.iter().find(|c| c.key == key) {
            Some(c) => (ErrorCode(c.error_code), c.error_message.clone(), c.node_id),
            None => (ErrorCode::COORDINATOR_NOT_AVAILABLE, None, -1),
        }
    } else {
        (ErrorCode(resp.error_code), resp.error_message, resp.node_id)
    };
    let noun = match kind {
        CoordinatorKind::Transaction => "transactional.id",
        CoordinatorKind::Group => "group",
    };
    if code != ErrorCode::NONE {
        return Err(Error::Kafka {
            code,
            api: "FindCoordinator",
            topic: None,
            partition: None,
            message: Some(match message.filter(|m| !m.is_empty()) {
                Some(m) => format!("{noun} '{key}': {m}"),
                None => format!("{noun} '{key}'"),
            }),
        });
    }
    Ok(node)
}
