//! Transactions as their coordinator sees them, for tests.

use purekafka::admin::TransactionState;
use purekafka::{Admin, AdminConfig};
use std::time::{Duration, Instant};

/// Waits until the coordinator has aborted `txid`'s open transaction for
/// its timeout (state CompleteAbort; the harness's broker checks every 2 s:
/// transaction.abort.timed.out.transaction.cleanup.interval.ms in
/// scripts/kafka_cluster.py). Panics after 30 s, naming the last state.
pub async fn wait_for_timeout_abort(bootstrap: &str, txid: &str) {
    let config = AdminConfig::from_properties([("bootstrap.servers", bootstrap)]).unwrap();
    let admin = Admin::new(config).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        let got = admin.describe_transactions([txid]).await.unwrap();
        if let Some(Ok(d)) = got.get(txid) {
            if d.state == TransactionState::CompleteAbort {
                return;
            }
            last = Some(d.state.clone());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the coordinator did not abort {txid}'s transaction in 30 s (last state {last:?})");
}
