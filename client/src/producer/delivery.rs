//! Delivery reports: how a record's fate reaches the application.
//!
//! Records of one batch share one [`BatchShared`]; each record's
//! [`DeliveryFuture`] holds it and its index, so sending a record allocates no
//! channel of its own. When the batch completes, every future and callback of
//! its records is woken with the record's own offset.

use crate::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

/// The outcome of a whole batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset of the batch's first record (-1 if the broker did not say:
    /// acks=0, or a duplicate the broker had already written).
    pub base_offset: i64,
    /// Broker log-append time, or -1 for create-time topics.
    pub log_append_time: i64,
}

/// Where and when a record was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// The record's offset, or -1 if unknown (acks=0).
    pub offset: i64,
    /// The record's timestamp: the broker's log-append time where the topic
    /// uses it, else the create time sent.
    pub timestamp: i64,
}

type Callback = Box<dyn FnOnce(Result<Delivered, Error>) + Send>;

/// Completion state shared by the records of one batch.
pub struct BatchShared {
    result: OnceLock<Result<RecordMetadata, Error>>,
    waiters: Mutex<Vec<Waker>>,
    callbacks: Mutex<Vec<(u32, i64, Callback)>>,
}

impl std::fmt::Debug for BatchShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchShared")
            .field("result", &self.result.get())
            .finish()
    }
}

/// Runs a user's delivery callback. A panic in it is contained and logged:
/// it must not kill the producer's task (which would leave every other
/// record's future and `flush` waiting forever) or skip the callbacks after it.
fn call(cb: Callback, result: Result<Delivered, Error>) {
    // Kept for the log line only: no formatting unless a callback panics
    // (this runs once per record).
    let what = match &result {
        Ok(d) => Ok((d.topic.clone(), d.partition, d.offset)),
        Err(e) => Err(e.clone()),
    };
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || cb(result))) {
        let what = match what {
            Ok((t, p, o)) => format!("{t}-{p}@{o}"),
            Err(e) => format!("a failed record ({e})"),
        };
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic".into());
        tracing::error!("a delivery callback for {what} panicked: {msg}; the producer carries on");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BatchShared {
    /// A batch not yet complete.
    pub fn new() -> Arc<BatchShared> {
        Arc::new(BatchShared {
            result: OnceLock::new(),
            waiters: Mutex::new(Vec::new()),
            callbacks: Mutex::new(Vec::new()),
        })
    }

    /// Completes the batch (the first call wins) and wakes its records'
    /// futures. Callbacks do not run here (the caller may hold the producer's
    /// lock, and a callback may call back into the producer): run them with
    /// [`BatchShared::run_callbacks`] once no lock is held.
    pub fn complete(&self, result: Result<RecordMetadata, Error>) {
        if self.result.set(result).is_err() {
            return;
        }
        let waiters = std::mem::take(&mut *lock(&self.waiters));
        for w in waiters {
            w.wake();
        }
    }

    /// Runs the callbacks registered so far, if the batch is complete. Safe to
    /// call from several places: each callback runs once.
    ///
    /// The callbacks run with this batch's callback list locked, so a second
    /// caller (a `flush` racing the sender) returns only once they have all
    /// run. A callback may use the producer, and register callbacks on other
    /// records; only this batch's list is held.
    pub fn run_callbacks(&self) {
        let Some(r) = self.result.get() else { return };
        let mut cbs = lock(&self.callbacks);
        for (index, ts, cb) in cbs.drain(..) {
            call(cb, record_result(r, index, ts));
        }
    }

    /// The batch's outcome, once complete.
    #[cfg(test)]
    pub fn result(&self) -> Option<&Result<RecordMetadata, Error>> {
        self.result.get()
    }

    /// Whether the batch is complete.
    pub fn is_complete(&self) -> bool {
        self.result.get().is_some()
    }

    /// Calls `cb` with record `index`'s outcome when the batch completes (at
    /// once if it already has).
    pub fn on_complete(&self, index: u32, timestamp: i64, cb: Callback) {
        {
            let mut cbs = lock(&self.callbacks);
            if self.result.get().is_none() {
                cbs.push((index, timestamp, cb));
                return;
            }
        }
        if let Some(r) = self.result.get() {
            call(cb, record_result(r, index, timestamp));
        }
    }

    /// Waits for completion.
    pub async fn wait(self: &Arc<Self>) {
        WaitBatch { shared: self }.await;
    }
}

struct WaitBatch<'a> {
    shared: &'a Arc<BatchShared>,
}

impl Future for WaitBatch<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.result.get().is_some() {
            return Poll::Ready(());
        }
        let mut w = lock(&self.shared.waiters);
        if self.shared.result.get().is_some() {
            return Poll::Ready(());
        }
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

fn record_result(
    r: &Result<RecordMetadata, Error>,
    index: u32,
    timestamp: i64,
) -> Result<Delivered, Error> {
    match r {
        Ok(m) => Ok(Delivered {
            topic: m.topic.clone(),
            partition: m.partition,
            // The base offset is the broker's word: never overflow on it.
            offset: if m.base_offset >= 0 {
                m.base_offset.saturating_add(i64::from(index))
            } else {
                -1
            },
            timestamp: if m.log_append_time >= 0 {
                m.log_append_time
            } else {
                timestamp
            },
        }),
        Err(e) => Err(e.clone()),
    }
}

/// Resolves when a sent record is acknowledged (or has failed for good).
#[must_use = "a DeliveryFuture does nothing unless awaited; drop it to fire and forget"]
pub struct DeliveryFuture {
    shared: Arc<BatchShared>,
    index: u32,
    timestamp: i64,
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryFuture")
            .field("index", &self.index)
            .field("done", &self.shared.is_complete())
            .finish()
    }
}

impl DeliveryFuture {
    pub(crate) fn new(shared: Arc<BatchShared>, index: u32, timestamp: i64) -> Self {
        DeliveryFuture {
            shared,
            index,
            timestamp,
        }
    }

    /// The outcome, if already known.
    pub fn try_result(&self) -> Option<Result<Delivered, Error>> {
        self.shared
            .result
            .get()
            .map(|r| record_result(r, self.index, self.timestamp))
    }
}

impl Future for DeliveryFuture {
    type Output = Result<Delivered, Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(r) = self.try_result() {
            return Poll::Ready(r);
        }
        let mut w = lock(&self.shared.waiters);
        if let Some(r) = self.try_result() {
            return Poll::Ready(r);
        }
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl DeliveryFuture {
    pub(crate) fn into_parts(self) -> (Arc<BatchShared>, u32, i64) {
        (self.shared, self.index, self.timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_offset_near_i64_max_saturates_instead_of_overflowing() {
        let m = RecordMetadata {
            topic: Arc::from("t"),
            partition: 0,
            base_offset: i64::MAX - 1,
            log_append_time: -1,
        };
        let d = record_result(&Ok(m), 5, 1).unwrap();
        assert_eq!(d.offset, i64::MAX);
    }
}
