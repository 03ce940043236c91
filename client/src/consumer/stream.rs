//! A [`Stream`] of records over a [`Consumer`].
//!
//! ```no_run
//! # async fn demo(consumer: purekafka::consumer::Consumer) -> purekafka::Result<()> {
//! // With futures_util::StreamExt (or tokio_stream::StreamExt) in scope:
//! // while let Some(record) = stream.next().await { ... }
//! let mut stream = consumer.stream();
//! let next = std::future::poll_fn(|cx| {
//!     futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), cx)
//! }).await;
//! if let Some(record) = next {
//!     let record = record?;
//!     println!("{}-{}@{}", record.topic, record.partition, record.offset);
//! }
//! # Ok(()) }
//! ```

use super::{Consumer, ConsumerRecord};
use crate::TopicPartition;
use crate::error::Result;
use futures_core::Stream;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long one underlying [`Consumer::poll`] waits by default. It only
/// bounds how late the stream notices [`Consumer::close`]: records wake it
/// as soon as they arrive.
pub const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_millis(500);

type PollFuture = Pin<Box<dyn Future<Output = Result<Vec<ConsumerRecord>>> + Send>>;

/// Records from a [`Consumer`], one at a time, from
/// [`Consumer::stream`].
///
/// - Items are `Ok(record)`, or `Err(e)` for an error [`Consumer::poll`]
///   returned; the stream goes on after an error (stop reading to stop).
/// - It ends (`None`) once the consumer is closed.
/// - It reads through [`Consumer::poll`], a batch at a time (up to
///   `max.poll.records`), and hands the batch out record by record. Records
///   of a batch not yet handed out when the stream is dropped are not lost:
///   the drop seeks their partitions back to the first of them.
/// - Commits cover only what the stream yielded: [`Consumer::commit`] and
///   [`Consumer::close`] commit up to the last record yielded; auto-commit
///   up to the one before it (asking for the next record says the
///   application is done with the previous one). Records of a batch not yet
///   yielded are never committed.
/// - Do not `poll` the consumer or `seek` it while a stream over it is in
///   use: the stream may hold records read before the seek.
pub struct RecordStream {
    consumer: Consumer,
    timeout: Duration,
    batch: std::vec::IntoIter<ConsumerRecord>,
    /// The record yielded last: finished once the next is asked for.
    last: Option<(TopicPartition, i64)>,
    pending: Option<PollFuture>,
    done: bool,
}

impl std::fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("timeout", &self.timeout)
            .field("buffered", &self.batch.len())
            .field("polling", &self.pending.is_some())
            .field("done", &self.done)
            .finish()
    }
}

impl Consumer {
    /// A [`Stream`] of this consumer's records (see [`RecordStream`]). The
    /// stream holds a handle to the consumer; it does not borrow it.
    pub fn stream(&self) -> RecordStream {
        RecordStream {
            consumer: self.clone(),
            timeout: DEFAULT_POLL_TIMEOUT,
            batch: Vec::new().into_iter(),
            last: None,
            pending: None,
            done: false,
        }
    }
}

impl RecordStream {
    /// Sets how long each underlying poll waits (default
    /// [`DEFAULT_POLL_TIMEOUT`]); at least 1 ms.
    pub fn with_poll_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Records read from the consumer and not handed out yet.
    pub fn buffered(&self) -> usize {
        self.batch.len()
    }

    /// The consumer read from.
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    fn closed(&self) -> bool {
        self.consumer.inner.closed.load(Ordering::Acquire)
    }
}

impl Stream for RecordStream {
    type Item = Result<ConsumerRecord>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(r) = this.batch.next() {
                this.consumer.yielded(&r, this.last.as_ref());
                this.last = Some((r.topic_partition(), r.offset));
                return Poll::Ready(Some(Ok(r)));
            }
            if this.closed() {
                this.done = true;
                this.pending = None;
                return Poll::Ready(None);
            }
            let fut = this.pending.get_or_insert_with(|| {
                let consumer = this.consumer.clone();
                let timeout = this.timeout;
                Box::pin(async move { consumer.poll_for_stream(timeout).await })
            });
            match fut.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => {
                    this.pending = None;
                    match result {
                        // Empty: the timeout passed. Look at `closed` and poll again.
                        Ok(records) => this.batch = records.into_iter(),
                        // Closed while waiting: the stream ends (next turn).
                        Err(crate::Error::Closed(_)) => {}
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (self.batch.len(), None)
        }
    }
}

impl Drop for RecordStream {
    fn drop(&mut self) {
        if self.batch.len() == 0 || self.closed() {
            return;
        }
        // Give back what was read but not handed out: the consumer's position
        // is already past it.
        let mut first: HashMap<TopicPartition, i64> = HashMap::new();
        for r in self.batch.as_slice() {
            let at = first.entry(r.topic_partition()).or_insert(r.offset);
            *at = (*at).min(r.offset);
        }
        for (tp, offset) in first {
            // Fails only for a partition no longer assigned: nothing to give back then.
            let _ = self.consumer.seek(tp, offset);
        }
    }
}
