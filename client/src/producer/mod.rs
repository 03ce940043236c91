//! The producer: batching, partitioning, compression, idempotent delivery.
//!
//! ```no_run
//! # async fn demo() -> purekafka::Result<()> {
//! use purekafka::config::ProducerConfig;
//! use purekafka::producer::{Producer, ProducerRecord};
//!
//! let producer = Producer::new(ProducerConfig::from_properties([("bootstrap.servers", "localhost:9092")])?).await?;
//! // One await: the record is acknowledged (or failed) when `send` returns.
//! let done = producer.send(ProducerRecord::to("events").key("user-1").value("{\"clicked\":true}")).await?;
//! println!("written to {}-{} at offset {}", done.topic, done.partition, done.offset);
//!
//! // Pipelining: enqueue many, then await their deliveries.
//! let mut pending = Vec::new();
//! for i in 0..100u32 {
//!     pending.push(producer.enqueue(ProducerRecord::to("events").value(&i.to_be_bytes())).await?);
//! }
//! for delivery in pending {
//!     delivery.await?;
//! }
//! producer.close(std::time::Duration::from_secs(30)).await?;
//! # Ok(()) }
//! ```
//!
//! Idempotence is on by default (as in the Java client): a retried batch
//! keeps its producer id, epoch and sequence, so the broker stores it once
//! and in order. With `enable.idempotence=false` and more than one request in
//! flight per connection, a batch that is retried can land after a later one
//! (the same caveat as the Java client's); set
//! `max.in.flight.requests.per.connection=1` if order matters without
//! idempotence.
//!
//! Three ways to send, as in the Java client:
//! - [`Producer::send`] waits until the broker acknowledges the record and
//!   returns where it was written (Java's `send(record).get()`). Simple, but
//!   one record at a time per task: use it where each record must be known
//!   written before the next step.
//! - [`Producer::enqueue`] waits only for buffer space (`buffer.memory`, up
//!   to `max.block.ms`) and the topic's metadata, and returns a
//!   [`DeliveryFuture`] to await later (Java's `send(record)` keeping the
//!   `Future`). Many records then share batches and requests: use it for
//!   throughput. [`Producer::try_enqueue`] does not wait at all.
//! - [`Producer::send_with_callback`] enqueues and calls a closure with the
//!   delivery report (Java's `send(record, callback)`).
//!
//! Records are copied once, into their batch.
//!
//! # Transactions
//!
//! With `transactional.id` the producer writes in transactions, as Java's
//! does: what is sent between [`Producer::begin_transaction`] and
//! [`Producer::commit_transaction`] (with the consumer offsets given to
//! [`Producer::send_offsets_to_transaction`]) becomes visible to
//! `read_committed` consumers at once, or, after
//! [`Producer::abort_transaction`], never.
//!
//! ```no_run
//! # async fn demo() -> purekafka::Result<()> {
//! use purekafka::config::ProducerConfig;
//! use purekafka::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
//! use purekafka::producer::{Producer, ProducerRecord};
//! use purekafka::Error;
//!
//! let producer = Producer::new(ProducerConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("transactional.id", "orders-enricher-1"),
//! ])?).await?;
//! producer.init_transactions().await?; // fences older producers with this id
//! producer.begin_transaction()?;
//! producer.enqueue(ProducerRecord::to("enriched").key("o-1").value("{}")).await?;
//! let offsets = [(("orders", 0), OffsetAndMetadata { offset: 42, metadata: None })];
//! producer
//!     .send_offsets_to_transaction(offsets, &ConsumerGroupMetadata::new("enricher"))
//!     .await?;
//! match producer.commit_transaction().await {
//!     Ok(()) => {}
//!     // A send failed: nothing was committed; abort and go on.
//!     Err(Error::TransactionAbortable { .. }) => producer.abort_transaction().await?,
//!     // Fenced by a newer instance, or not authorized: this producer is done.
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! Kafka 4's transactions v2 (KIP-890) are used when the broker has
//! finalized `transaction.version` 2, v1 (AddPartitionsToTxn,
//! AddOffsetsToTxn) otherwise. The state machine is
//! `producer/transaction.rs`.

mod accumulator;
mod delivery;
mod idempotence;
pub mod partitioner;
mod sender;
mod transaction;
mod txn_driver;

use crate::PartitionInfo;
use crate::config::{Acks, ProducerConfig};
use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::error::{Error, Result};
use crate::net::{Cluster, ClusterOptions, TopicInfo};
use accumulator::{Accumulator, AccumulatorConfig};
pub use delivery::{Delivered, DeliveryFuture};
use partitioner::{DefaultPartitioner, Leaders, Partitioner};
pub use purekafka_protocol::records::Header;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::time::Instant;
use transaction::{Ticket, Transaction, TxnConfig};

/// A record to send. It borrows its data: `send` copies it into a batch.
#[derive(Debug, Clone, Copy)]
pub struct ProducerRecord<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// Key; `None` is a null key.
    pub key: Option<&'a [u8]>,
    /// Value; `None` is a null value (a tombstone on compacted topics).
    pub value: Option<&'a [u8]>,
    /// Headers.
    pub headers: &'a [Header],
    /// Create time in milliseconds since the epoch; `None` = now.
    pub timestamp: Option<i64>,
}

/// The builder methods a record shares whatever its key and value are
/// (this [`ProducerRecord`] and the typed producer's record): `to`,
/// `headers`, `partition`, `timestamp`, written once. `$a` is the record's
/// lifetime.
macro_rules! record_setters {
    ($a:lifetime) => {
        /// A record for `topic` with no key, value or headers.
        pub fn to(topic: &$a str) -> Self {
            Self {
                topic,
                partition: None,
                key: None,
                value: None,
                headers: &[],
                timestamp: None,
            }
        }

        /// Sets the headers.
        pub fn headers(mut self, headers: &$a [$crate::Header]) -> Self {
            self.headers = headers;
            self
        }

        /// Sends to this partition.
        pub fn partition(mut self, partition: i32) -> Self {
            self.partition = Some(partition);
            self
        }

        /// Sets the create time (ms since the epoch).
        pub fn timestamp(mut self, ms: i64) -> Self {
            self.timestamp = Some(ms);
            self
        }
    };
}
pub(crate) use record_setters;

impl<'a> ProducerRecord<'a> {
    record_setters!('a);

    /// Sets the key.
    pub fn key<K: AsRef<[u8]> + ?Sized>(mut self, key: &'a K) -> Self {
        self.key = Some(key.as_ref());
        self
    }

    /// Sets the value.
    pub fn value<V: AsRef<[u8]> + ?Sized>(mut self, value: &'a V) -> Self {
        self.value = Some(value.as_ref());
        self
    }

    /// Bytes the record takes in a batch, roughly (for size limits).
    fn approx_size(&self) -> usize {
        let h: usize = self
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.as_ref().map_or(0, |v| v.len()) + 10)
            .sum();
        self.key.map_or(0, <[u8]>::len) + self.value.map_or(0, <[u8]>::len) + h + 21
    }
}

/// Counters a user can read (see [`Producer::metrics`]).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Records acknowledged by brokers.
    pub records_sent: AtomicU64,
    /// Record bytes (batches, after compression) sent.
    pub bytes_sent: AtomicU64,
    /// Batches sent (counting retries).
    pub batches_sent: AtomicU64,
    /// Produce requests sent.
    pub requests: AtomicU64,
    /// Retries scheduled.
    pub retries: AtomicU64,
    /// Error responses and failed requests.
    pub errors: AtomicU64,
    /// Records that failed for good.
    pub failed_records: AtomicU64,
    /// Sum of produce request latencies in microseconds.
    pub latency_us_total: AtomicU64,
}

/// A snapshot of the producer's metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsSnapshot {
    /// Records acknowledged.
    pub records_sent: u64,
    /// Batch bytes sent.
    pub bytes_sent: u64,
    /// Batches sent.
    pub batches_sent: u64,
    /// Average batch size in bytes.
    pub avg_batch_size: f64,
    /// Produce requests.
    pub requests: u64,
    /// Retries.
    pub retries: u64,
    /// Errors seen (including retried ones).
    pub errors: u64,
    /// Records that failed for good.
    pub failed_records: u64,
    /// Average produce request latency.
    pub avg_request_latency: Duration,
    /// Bytes of `buffer.memory` in use.
    pub buffer_used: usize,
    /// `buffer.memory`.
    pub buffer_total: usize,
}

pub(crate) struct ProducerShared {
    pub(crate) cfg: ProducerConfig,
    pub(crate) cluster: Cluster,
    acc: Mutex<Accumulator>,
    /// Wakes the sender: a batch is ready, a flush or close began.
    pub(crate) wake: Notify,
    /// Buffer space was freed.
    pub(crate) space: Notify,
    /// The sender finished after close.
    pub(crate) idle: Notify,
    pub(crate) closed: AtomicBool,
    pub(crate) fatal: Mutex<Option<Error>>,
    pub(crate) metrics: Metrics,
    partitioner: DefaultPartitioner,
    /// The transaction machine (with `transactional.id`). Lock order: this,
    /// then the accumulator.
    pub(crate) txn: Option<Mutex<Transaction>>,
    /// Wakes the transaction task.
    pub(crate) txn_wake: Notify,
    /// A transactional operation may have finished.
    pub(crate) txn_done: Notify,
}

impl ProducerShared {
    pub(crate) fn lock_acc(&self) -> MutexGuard<'_, Accumulator> {
        self.acc
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs the callbacks of batches completed since the last call, with no
    /// lock held (a callback may use the producer).
    pub(crate) fn run_callbacks(&self) {
        let done = self.lock_acc().take_completed();
        for b in done {
            b.run_callbacks();
        }
    }

    pub(crate) fn is_closed_and_empty(&self) -> bool {
        self.closed.load(Ordering::Acquire) && self.lock_acc().is_empty()
    }
}

/// A Kafka producer. Cheap to clone; all clones share one set of buffers
/// and connections.
///
/// [`Producer::close`] is the graceful end: it waits (up to a timeout) until
/// what was sent is delivered and says what was not. Dropping the last clone
/// without `close` loses nothing either: the producer stops accepting
/// records, keeps delivering what it holds in the background (each record
/// still resolves its future and callback, within `delivery.timeout.ms`),
/// then ends its task and closes its connections. Only the end of the tokio
/// runtime cuts that short.
#[derive(Clone)]
pub struct Producer {
    shared: Arc<ProducerShared>,
    _last: Arc<LastHandle>,
}

/// Dropped with the last [`Producer`] clone: tells the sender to finish.
struct LastHandle(Arc<ProducerShared>);

impl Drop for LastHandle {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.wake.notify_one();
        self.0.txn_wake.notify_one();
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("cluster", &self.shared.cluster)
            .finish()
    }
}

/// Which partitions of a topic have a leader, from the current metadata
/// (read only when the sticky rule asks).
struct TopicLeaders<'a> {
    cluster: &'a Cluster,
    topic: &'a str,
}

impl Leaders for TopicLeaders<'_> {
    fn has_leader(&self, partition: i32) -> bool {
        self.cluster
            .metadata()
            .leader(self.topic, partition)
            .is_some()
    }

    fn available(&self) -> Vec<i32> {
        self.cluster
            .metadata()
            .topics
            .get(self.topic)
            .map(|t| {
                t.partitions
                    .iter()
                    .filter(|p| p.leader >= 0)
                    .map(|p| p.id)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Producer {
    /// Validates `config`, connects to the cluster and starts the sender.
    pub async fn new(config: ProducerConfig) -> Result<Producer> {
        Self::with_partitioner(config, None).await
    }

    /// As [`Producer::new`], with a partitioner of the user's.
    pub async fn with_partitioner(
        config: ProducerConfig,
        partitioner: Option<Arc<dyn Partitioner>>,
    ) -> Result<Producer> {
        // build() validates; is_idempotent() applies the Java rule (idempotence
        // off by itself when acks or retries rule it out and the user did not ask for it).
        let config = config.build()?;
        let cluster = Cluster::connect(ClusterOptions::from_config(&config.client)).await?;
        let idempotent = config.is_idempotent() && config.acks == Acks::All;
        let max_in_flight = if idempotent {
            config
                .client
                .max_in_flight_requests_per_connection
                .clamp(1, 5)
        } else {
            config.client.max_in_flight_requests_per_connection.max(1)
        };
        let acc = Accumulator::new(AccumulatorConfig {
            batch_size: config.batch_size.max(1),
            linger: config.linger,
            compression: config.compression,
            compression_level: config.compression_level,
            max_in_flight_per_partition: max_in_flight,
            idempotent,
            retries: config.retries,
            retry_backoff: config.client.retry_backoff,
            retry_backoff_max: config.client.retry_backoff_max,
            delivery_timeout: config.delivery_timeout,
            max_request_size: config.max_request_size,
            transactional: config.transactional_id.is_some(),
        });
        let txn = config.transactional_id.as_ref().map(|id| {
            Mutex::new(Transaction::new(TxnConfig {
                transactional_id: id.clone(),
                transaction_timeout: config.transaction_timeout,
                retry_backoff: config.client.retry_backoff,
                retry_backoff_max: config.client.retry_backoff_max,
            }))
        });
        let seed = now_ms() as u64 ^ 0x9e37_79b9_7f4a_7c15;
        let shared = Arc::new(ProducerShared {
            cluster,
            acc: Mutex::new(acc),
            wake: Notify::new(),
            space: Notify::new(),
            idle: Notify::new(),
            closed: AtomicBool::new(false),
            fatal: Mutex::new(None),
            metrics: Metrics::default(),
            partitioner: DefaultPartitioner::from_config(&config, seed).with_user_opt(partitioner),
            cfg: config,
            txn,
            txn_wake: Notify::new(),
            txn_done: Notify::new(),
        });
        tokio::spawn(sender::run(shared.clone()));
        if shared.txn.is_some() {
            tokio::spawn(txn_driver::run(shared.clone()));
        }
        Ok(Producer {
            _last: Arc::new(LastHandle(shared.clone())),
            shared,
        })
    }

    /// Sends a record and waits until the broker acknowledges it (or it fails
    /// for good): Java's `send(record).get()`. Returns where the record was
    /// written.
    ///
    /// Waiting for each record before sending the next puts one record in
    /// each request; to send many records at once, [`enqueue`](Self::enqueue)
    /// them and await their [`DeliveryFuture`]s afterwards. Cancelling this
    /// future (dropping it) after the record was enqueued does not cancel the
    /// send.
    pub async fn send(&self, record: ProducerRecord<'_>) -> Result<Delivered> {
        self.enqueue(record).await?.await
    }

    /// As [`enqueue`](Self::enqueue) without waiting at all: a full buffer is
    /// [`Error::QueueFull`], and unknown topic metadata is fetched in the
    /// background while the call fails with [`Error::UnknownTopic`] (retry
    /// later). For callers that must not block, such as a callback or a
    /// bounded event loop.
    pub fn try_enqueue(&self, record: ProducerRecord<'_>) -> Result<DeliveryFuture> {
        let md = self.shared.cluster.metadata();
        let Some(topic) = md
            .topics
            .get(record.topic)
            .filter(|t| !t.partitions.is_empty())
            .cloned()
        else {
            let cluster = self.shared.cluster.clone();
            cluster.add_topics([record.topic]);
            tokio::spawn(async move {
                let _ = cluster.refresh_metadata().await;
            });
            return Err(Error::UnknownTopic {
                topic: record.topic.to_string(),
            });
        };
        self.append(record, topic.partitions.len())
    }

    /// Enqueues a record as [`enqueue`](Self::enqueue) does and calls
    /// `callback` with its delivery report (Java's `send(record, callback)`).
    /// The callback may run on the producer's background task: keep it short
    /// and never block in it.
    pub async fn send_with_callback<F>(&self, record: ProducerRecord<'_>, callback: F) -> Result<()>
    where
        F: FnOnce(Result<Delivered>) + Send + 'static,
    {
        let ts = record.timestamp.unwrap_or_else(now_ms);
        let f = self
            .enqueue(ProducerRecord {
                timestamp: Some(ts),
                ..record
            })
            .await?;
        f.on_complete(Box::new(callback));
        Ok(())
    }

    /// Enqueues a record for sending, waiting up to `max.block.ms` for buffer
    /// space and the topic's metadata but not for the broker: the returned
    /// [`DeliveryFuture`] resolves when the record is acknowledged. Dropping
    /// it does not cancel the send (fire and forget).
    ///
    /// This is the form for throughput (Java's `send(record)` keeping the
    /// `Future`): enqueue many records, then await their futures (or
    /// [`flush`](Self::flush)), and they travel in shared batches.
    pub async fn enqueue(&self, record: ProducerRecord<'_>) -> Result<DeliveryFuture> {
        let max_block = self.shared.cfg.max_block;
        let deadline = Instant::now() + max_block;
        let md = self.shared.cluster.metadata();
        let partitions = match md
            .topics
            .get(record.topic)
            .filter(|t| !t.partitions.is_empty())
        {
            Some(t) => t.partitions.len(),
            None => {
                drop(md);
                self.wait_for_topic(record.topic).await?.partitions.len()
            }
        };
        loop {
            match self.append(record, partitions) {
                Err(Error::QueueFull { buffer_memory }) => {
                    let notified = self.shared.space.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    // Re-check after registering, so a free between the check
                    // and the wait is not missed.
                    match self.append(record, partitions) {
                        Err(Error::QueueFull { .. }) => {}
                        other => return other,
                    }
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return Err(Error::MaxBlockTimeout {
                            what: format!(
                                "buffer space (buffer.memory {buffer_memory} bytes full)"
                            ),
                            timeout: max_block,
                        });
                    }
                }
                other => return other,
            }
        }
    }

    fn append(&self, record: ProducerRecord<'_>, partitions: usize) -> Result<DeliveryFuture> {
        let sh = &self.shared;
        if sh.closed.load(Ordering::Acquire) {
            return Err(Error::Closed("producer"));
        }
        if let Some(e) = sh
            .fatal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Err(e);
        }
        let size = record.approx_size();
        let max = sh.cfg.max_request_size;
        if size + 61 > max {
            return Err(Error::RecordTooLarge { size, max });
        }
        let n = i32::try_from(partitions).unwrap_or(i32::MAX);
        let leaders = TopicLeaders {
            cluster: &sh.cluster,
            topic: record.topic,
        };
        let choice = sh.partitioner.partition(
            record.topic,
            record.partition,
            record.key,
            record.value,
            n,
            &leaders,
        )?;
        let partition = choice.partition;
        let ts = record.timestamp.unwrap_or_else(now_ms);
        // A transactional producer sends only in a transaction; the machine
        // stays locked while the record is appended, so a commit cannot begin
        // between the check and the append (lock order: transaction, then
        // accumulator).
        let mut txn = sh.txn.as_ref().map(txn_driver::lock);
        if let Some(t) = txn.as_mut() {
            let pending_before = t.has_pending_partitions();
            t.check_send(record.topic, partition)?;
            if !pending_before && t.has_pending_partitions() {
                sh.txn_wake.notify_one();
            }
        }
        let mut acc = sh.lock_acc();
        if acc.buffered + size > sh.cfg.buffer_memory && acc.buffered > 0 {
            return Err(Error::QueueFull {
                buffer_memory: sh.cfg.buffer_memory,
            });
        }
        let (batch, index, full) = acc.append(
            record.topic,
            partitions,
            partition,
            ts,
            record.key,
            record.value,
            record.headers,
            Instant::now().into_std(),
        )?;
        drop(acc);
        drop(txn);
        sh.partitioner.on_append(record.topic, choice, size);
        if full || index == 0 {
            sh.wake.notify_one();
        }
        Ok(DeliveryFuture::new(batch, index, ts))
    }

    /// Sends everything buffered now (ignoring `linger.ms`) and waits until
    /// every record sent before the call is acknowledged or failed.
    pub async fn flush(&self) -> Result<()> {
        let pending = {
            let mut acc = self.shared.lock_acc();
            acc.set_flushing(true);
            acc.pending()
        };
        self.shared.wake.notify_one();
        for b in &pending {
            b.wait().await;
            // Callbacks of records sent before the flush have run when it returns.
            b.run_callbacks();
        }
        self.shared.lock_acc().set_flushing(false);
        Ok(())
    }

    /// Stops accepting records, delivers what is buffered, and stops. Records
    /// still undelivered after `timeout` fail: with [`Error::Closed`] if they
    /// were never sent, with [`Error::PossiblyWritten`] if they were sent and
    /// not answered (the broker may have written them); none is dropped silently.
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        self.shared.closed.store(true, Ordering::Release);
        let flushed = tokio::time::timeout(timeout, self.flush()).await;
        if flushed.is_err() {
            {
                let mut acc = self.shared.lock_acc();
                acc.fail_all_queued(&Error::Closed("producer"));
                acc.fail_all_in_flight(&format!("close() timed out after {timeout:?}"));
            }
            self.shared.run_callbacks();
        }
        let idle = self.shared.idle.notified();
        self.shared.wake.notify_one();
        self.shared.txn_wake.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(1), idle).await;
        match flushed {
            Ok(r) => r,
            Err(_) => Err(Error::MaxBlockTimeout {
                what: "delivery of buffered records before close".into(),
                timeout,
            }),
        }
    }

    fn txn(&self, operation: &'static str) -> Result<&Mutex<Transaction>> {
        let txn = self.shared.txn.as_ref().ok_or(Error::TransactionState {
            operation,
            state: "not transactional",
            hint: "set transactional.id to use transactions",
        })?;
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::Closed("producer"));
        }
        Ok(txn)
    }

    /// Waits for a transactional operation's result, up to `deadline`.
    async fn wait_txn(&self, ticket: Ticket, deadline: Instant) -> Result<()> {
        let Some(txn) = self.shared.txn.as_ref() else {
            return Err(Error::Fatal("no transaction machine".into()));
        };
        loop {
            let done = self.shared.txn_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if let Some(r) = txn_driver::lock(txn).result(ticket) {
                return r;
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                return Err(self.txn_timeout(txn, ticket));
            }
        }
    }

    fn txn_timeout(&self, txn: &Mutex<Transaction>, ticket: Ticket) -> Error {
        let t = txn_driver::lock(txn);
        let (waiting_for, last_error) = t.describe_wait(ticket);
        Error::TransactionTimeout {
            operation: ticket.kind.name(),
            transactional_id: t.transactional_id().to_owned(),
            waiting_for,
            last_error,
            timeout: self.shared.cfg.max_block,
        }
    }

    /// Java's `initTransactions()`: finds the transaction coordinator of
    /// `transactional.id` and gets the producer id and epoch from it
    /// (InitProducerId). This fences any older producer with the same
    /// `transactional.id` (its next call fails with
    /// [`Error::TransactionFatal`]) and completes or aborts the transaction
    /// it left open. Call it once, before the first [`begin_transaction`](Self::begin_transaction).
    ///
    /// Bounded by `max.block.ms`: a timeout ([`Error::TransactionTimeout`])
    /// leaves the call running in the background; call it again to wait for
    /// it. A broker that refuses the transactional id (ACLs) fails it with
    /// [`Error::TransactionFatal`].
    pub async fn init_transactions(&self) -> Result<()> {
        let txn = self.txn("init_transactions")?;
        let deadline = Instant::now() + self.shared.cfg.max_block;
        let ticket = txn_driver::lock(txn).start_init()?;
        self.shared.txn_wake.notify_one();
        self.wait_txn(ticket, deadline).await
    }

    /// Java's `beginTransaction()`: opens a transaction. Everything sent
    /// until [`commit_transaction`](Self::commit_transaction) or
    /// [`abort_transaction`](Self::abort_transaction) is written, or not, as
    /// one. Needs no round trip. A second call before the commit or abort,
    /// or a call before [`init_transactions`](Self::init_transactions), is
    /// [`Error::TransactionState`].
    pub fn begin_transaction(&self) -> Result<()> {
        let txn = self.txn("begin_transaction")?;
        let mut t = txn_driver::lock(txn);
        t.begin()?;
        // A failure left from the previous transaction is not this one's.
        let _ = self.shared.lock_acc().take_txn_failure();
        Ok(())
    }

    /// Java's `sendOffsetsToTransaction(offsets, groupMetadata)`: commits
    /// the consumer group's offsets (the next offset to read, per
    /// partition) with the open transaction, so the records a
    /// consume-transform-produce loop read count as consumed exactly when
    /// what it produced from them is committed. `group` is the consumer's
    /// current [`ConsumerGroupMetadata`]: the group coordinator refuses the
    /// offsets of a member fenced by a rebalance (KIP-447), which makes the
    /// transaction abortable ([`Error::TransactionAbortable`]).
    ///
    /// Bounded by `max.block.ms`, as [`init_transactions`](Self::init_transactions).
    pub async fn send_offsets_to_transaction<T, I>(
        &self,
        offsets: I,
        group: &ConsumerGroupMetadata,
    ) -> Result<()>
    where
        T: Into<crate::TopicPartition>,
        I: IntoIterator<Item = (T, OffsetAndMetadata)>,
    {
        let txn = self.txn("send_offsets_to_transaction")?;
        let deadline = Instant::now() + self.shared.cfg.max_block;
        let offsets: Vec<_> = offsets
            .into_iter()
            .map(|(tp, om)| {
                let tp: crate::TopicPartition = tp.into();
                (tp.topic, tp.partition, om)
            })
            .collect();
        let ticket = txn_driver::lock(txn).start_send_offsets(group.clone(), offsets)?;
        self.shared.txn_wake.notify_one();
        self.wait_txn(ticket, deadline).await
    }

    /// Java's `commitTransaction()`: sends everything buffered, waits for
    /// it, and commits the transaction (EndTxn). If a record of the
    /// transaction failed, nothing is committed and this returns
    /// [`Error::TransactionAbortable`]: call
    /// [`abort_transaction`](Self::abort_transaction), then begin again.
    ///
    /// Bounded by `max.block.ms`: after a timeout ([`Error::TransactionTimeout`])
    /// the commit goes on; call `commit_transaction` again to wait for it
    /// (the transaction cannot be aborted then, as in Java).
    pub async fn commit_transaction(&self) -> Result<()> {
        self.end_transaction(true).await
    }

    /// Java's `abortTransaction()`: drops what is buffered and not sent yet
    /// (those records fail), waits for what is in flight, and aborts the
    /// transaction (EndTxn): `read_committed` consumers never see its
    /// records. Allowed in a transaction and after
    /// [`Error::TransactionAbortable`]; the producer is then ready for
    /// [`begin_transaction`](Self::begin_transaction).
    ///
    /// Bounded by `max.block.ms`, as [`commit_transaction`](Self::commit_transaction).
    pub async fn abort_transaction(&self) -> Result<()> {
        self.end_transaction(false).await
    }

    async fn end_transaction(&self, commit: bool) -> Result<()> {
        let operation = if commit {
            "commit_transaction"
        } else {
            "abort_transaction"
        };
        let txn = self.txn(operation)?;
        let deadline = Instant::now() + self.shared.cfg.max_block;
        let ticket = {
            let mut t = txn_driver::lock(txn);
            if commit {
                t.start_commit()?
            } else {
                t.start_abort()?
            }
        };
        // Queued batches of an aborted transaction fail now.
        txn_driver::apply_effects(&self.shared);
        if ticket.needs_flush {
            if tokio::time::timeout_at(deadline, self.flush())
                .await
                .is_err()
            {
                return Err(self.txn_timeout(txn, ticket));
            }
            let failure = self.shared.lock_acc().take_txn_failure();
            txn_driver::lock(txn).on_flushed(ticket, failure);
            txn_driver::apply_effects(&self.shared);
            self.shared.txn_wake.notify_one();
        }
        self.wait_txn(ticket, deadline).await
    }

    /// A snapshot of the producer's metrics.
    pub fn metrics(&self) -> MetricsSnapshot {
        let m = &self.shared.metrics;
        let batches = m.batches_sent.load(Ordering::Relaxed);
        let bytes = m.bytes_sent.load(Ordering::Relaxed);
        let requests = m.requests.load(Ordering::Relaxed);
        MetricsSnapshot {
            records_sent: m.records_sent.load(Ordering::Relaxed),
            bytes_sent: bytes,
            batches_sent: batches,
            avg_batch_size: if batches == 0 {
                0.0
            } else {
                bytes as f64 / batches as f64
            },
            requests,
            retries: m.retries.load(Ordering::Relaxed),
            errors: m.errors.load(Ordering::Relaxed),
            failed_records: m.failed_records.load(Ordering::Relaxed),
            avg_request_latency: Duration::from_micros(
                m.latency_us_total.load(Ordering::Relaxed) / requests.max(1),
            ),
            buffer_used: self.shared.lock_acc().buffered,
            buffer_total: self.shared.cfg.buffer_memory,
        }
    }

    /// The partitions of `topic` (Java's `partitionsFor`): each one's
    /// leader, replicas and in-sync replicas, from this producer's metadata.
    ///
    /// A topic new to the producer is waited for as [`enqueue`](Self::enqueue)
    /// waits for it: up to `max.block.ms`, the broker creating it meanwhile if
    /// `allow.auto.create.topics` and the broker's `auto.create.topics.enable`
    /// allow; one that does not appear by then is [`Error::MaxBlockTimeout`]
    /// naming it (Java: a `TimeoutException`, "Topic ... not present in
    /// metadata"), and one the broker refuses (authorization, an invalid
    /// name) is [`Error::Kafka`] naming it at once.
    pub async fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionInfo>> {
        Ok(PartitionInfo::of(&*self.wait_for_topic(topic).await?))
    }

    /// `topic`'s metadata, fetched and waited for (up to `max.block.ms`) if
    /// the producer has none yet.
    async fn wait_for_topic(&self, topic: &str) -> Result<Arc<TopicInfo>> {
        let max_block = self.shared.cfg.max_block;
        match self.shared.cluster.topic(topic, max_block).await {
            Err(Error::UnknownTopic { topic }) => Err(Error::MaxBlockTimeout {
                what: format!("metadata for topic {topic}"),
                timeout: max_block,
            }),
            found => found,
        }
    }
}

impl DeliveryFuture {
    fn on_complete(self, cb: Box<dyn FnOnce(Result<Delivered>) + Send>) {
        let (shared, index, ts) = self.into_parts();
        shared.on_complete(index, ts, cb);
    }
}
