//! The client's error type.
//!
//! Every error names what went wrong and where: the broker, the API and
//! version, the topic and partition. Kafka's own error codes arrive as
//! [`ErrorCode`]s inside [`Error::Kafka`]; [`Error::is_retriable`] says whether
//! trying again can help.
//!
//! ```no_run
//! use purekafka::{Error, ErrorCode, Producer, ProducerRecord};
//!
//! # async fn demo(producer: Producer) {
//! match producer.send(ProducerRecord::to("events").value("x")).await {
//!     Ok(written) => println!("at offset {}", written.offset),
//!     Err(Error::Kafka { code: ErrorCode::TOPIC_AUTHORIZATION_FAILED, topic, .. }) => {
//!         eprintln!("not allowed to write to {topic:?}: grant WRITE on it");
//!     }
//!     Err(e) if e.is_retriable() => eprintln!("transient, try again: {e}"),
//!     Err(e) => eprintln!("failed for good: {e}"),
//! }
//! # }
//! ```

use purekafka_protocol::error_code::ErrorCode;
// The sources some variants carry, for applications that look into them.
pub use purekafka_protocol::version::NoCommonVersion;
pub use purekafka_protocol::{DecodeError, DecodeErrorKind, EncodeError};
use std::sync::Arc;
use std::time::Duration;

/// A `Result` with purekafka's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A configuration property with a bad name or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{property}: {reason}")]
pub struct ConfigError {
    /// The property, by its Java/librdkafka name (`linger.ms`).
    pub property: String,
    /// What is wrong, and what would be accepted.
    pub reason: String,
}

impl ConfigError {
    /// A new error for `property`.
    pub fn new(property: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            property: property.into(),
            reason: reason.into(),
        }
    }
}

/// Anything that can go wrong in the client.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),

    /// A broker address could not be resolved or connected to.
    #[error("cannot connect to {broker}: {reason}")]
    Connect {
        /// `host:port`, with the node id when known.
        broker: String,
        /// Why.
        reason: String,
    },

    /// Connection setup failed at a step after TCP connect (TLS handshake,
    /// ApiVersions, SASL authentication).
    #[error("cannot set up the connection to {broker}: {step} failed: {source}")]
    Setup {
        /// `host:port`, with the node id when known.
        broker: String,
        /// The step that failed.
        step: crate::net::SetupStep,
        /// The step's error.
        source: Box<Error>,
    },

    /// The TLS handshake failed for a reason another try will not mend: an
    /// untrusted or expired certificate, a host name the certificate does
    /// not carry, a refused client certificate, a peer that is not a TLS
    /// listener. The reason says what to change.
    #[error("{reason}")]
    Tls {
        /// What failed, and what to change.
        reason: String,
    },

    /// SASL authentication was refused or failed: wrong credentials, a
    /// mechanism the broker does not enable, a rejected token. Not retried:
    /// the configuration must change. (During connection setup it arrives
    /// inside [`Error::Setup`], which names the broker.)
    #[error("SASL {mechanism} authentication failed: {reason}")]
    Authentication {
        /// The mechanism (`SCRAM-SHA-512`).
        mechanism: &'static str,
        /// What the broker said, and what to check.
        reason: String,
    },

    /// No bootstrap server answered.
    #[error("none of the bootstrap servers could be reached ({servers}): {last_error}")]
    BootstrapUnreachable {
        /// The configured list.
        servers: String,
        /// The last failure seen.
        last_error: String,
    },

    /// The connection failed while requests were in flight.
    #[error("connection to {broker} failed: {reason}")]
    Io {
        /// The broker.
        broker: String,
        /// The I/O error.
        reason: Arc<std::io::Error>,
    },

    /// The connection was closed (by either side) before a response arrived.
    #[error("connection to {broker} closed")]
    Disconnected {
        /// The broker.
        broker: String,
    },

    /// A response's correlation id is not that of the oldest request in
    /// flight (Kafka answers in order): the broker, or something between,
    /// broke the protocol. The connection was closed and every request on
    /// it failed; a new connection may work.
    #[error("response from {broker} has correlation id {received}, {}; the connection was closed", fmt_expected(*api, *expected))]
    CorrelationMismatch {
        /// The broker.
        broker: String,
        /// The API of the oldest request in flight, if any.
        api: Option<&'static str>,
        /// Its correlation id.
        expected: Option<i32>,
        /// The correlation id received.
        received: i32,
    },

    /// No response within `request.timeout.ms`.
    #[error("{api} request to {broker} timed out after {timeout:?}")]
    RequestTimeout {
        /// The broker.
        broker: String,
        /// The API.
        api: &'static str,
        /// The timeout that passed.
        timeout: Duration,
    },

    /// A broker sent bytes that do not decode.
    #[error("malformed {api} v{version} response from {broker}: {source}")]
    Decode {
        /// The broker.
        broker: String,
        /// The API.
        api: &'static str,
        /// The version.
        version: i16,
        /// What was malformed.
        source: DecodeError,
    },

    /// A request could not be encoded.
    #[error("cannot encode {api} v{version}: {source}")]
    Encode {
        /// The API.
        api: &'static str,
        /// The version.
        version: i16,
        /// Why.
        source: EncodeError,
    },

    /// The broker and purekafka share no version of an API.
    #[error("{broker}: {source}")]
    UnsupportedVersion {
        /// The broker.
        broker: String,
        /// Which API and ranges.
        source: NoCommonVersion,
    },

    /// The version of an API the broker takes cannot carry what the call
    /// asks for (a field or value newer than the broker; Java's
    /// `UnsupportedVersionException`): leave it out, or upgrade the broker.
    #[error(
        "{broker}: {what} is not supported by the broker ({api} v{version}; it needs v{needs}+): leave it out or upgrade the broker"
    )]
    UnsupportedByBroker {
        /// The broker.
        broker: String,
        /// The API.
        api: &'static str,
        /// The version negotiated with the broker.
        version: i16,
        /// The first version that carries it.
        needs: i16,
        /// What the call asked for, by Kafka's field name (`validateOnly`).
        what: &'static str,
    },

    /// The broker answered with a Kafka error code.
    #[error("{api}{}: {code}{}", fmt_tp(topic.as_deref(), *partition), message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kafka {
        /// The error code.
        code: ErrorCode,
        /// The API that failed.
        api: &'static str,
        /// The topic, where the error is per topic.
        topic: Option<String>,
        /// The partition, where the error is per partition.
        partition: Option<i32>,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },

    /// A record is larger than `max.request.size` (or the broker's limit).
    #[error("record of {size} bytes is larger than max.request.size ({max} bytes)")]
    RecordTooLarge {
        /// Serialized size of the record.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// `try_enqueue` found the producer's buffer full (`buffer.memory`).
    #[error("producer queue is full (buffer.memory of {buffer_memory} bytes in use)")]
    QueueFull {
        /// The configured buffer size.
        buffer_memory: usize,
    },

    /// `send` waited `max.block.ms` for buffer space or metadata.
    #[error("{what} not available within max.block.ms ({timeout:?})")]
    MaxBlockTimeout {
        /// What was waited for.
        what: String,
        /// How long.
        timeout: Duration,
    },

    /// A record was not acknowledged within `delivery.timeout.ms`.
    #[error("record to {topic}-{partition} not delivered within delivery.timeout.ms ({timeout:?}){}", last_error.as_deref().map(|e| format!(": last error: {e}")).unwrap_or_default())]
    DeliveryTimeout {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The timeout.
        timeout: Duration,
        /// The last error seen while retrying.
        last_error: Option<String>,
    },

    /// The topic does not exist (or is not visible to this client).
    #[error("unknown topic {topic}")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },

    /// A partition that the topic does not have.
    #[error("topic {topic} has no partition {partition} (it has {count})")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// How many partitions the topic has.
        count: usize,
    },

    /// A consumer call named a partition the consumer is not assigned
    /// (Java's `IllegalStateException: No current assignment for
    /// partition`).
    #[error(
        "{topic}-{partition} is not assigned to this consumer: assign() it, or wait until the group assigns it (see assignment())"
    )]
    NotAssigned {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },

    /// A record, or the batch it joins, could not be encoded for
    /// `topic`-`partition` (a field beyond what the record format can
    /// carry, or a codec failure while sealing the batch): the record is
    /// not sent; fix the record or the producer's `compression.type`.
    #[error("a record batch for {topic}-{partition} could not be encoded: {source}")]
    RecordEncode {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// What could not be encoded.
        source: EncodeError,
    },

    /// Fetched records of a partition do not decode (a CRC mismatch with
    /// `check.crcs`, a truncated or malformed batch). The position stays at
    /// `offset`: polling again fails again; seek past it to skip the
    /// records, as Java's consumer asks. A share consumer cannot seek: it
    /// releases the records it acquired from `offset` on, and the broker
    /// delivers them again (and archives them after
    /// `group.share.delivery.count.limit` attempts).
    #[error(
        "records of {topic}-{partition} at offset {offset} do not decode: {source}; a consumer can seek past offset {offset} to skip them (a share consumer releases them to the broker)"
    )]
    CorruptRecords {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The position: the first offset not read.
        offset: i64,
        /// What was malformed.
        source: DecodeError,
    },

    /// A consumer's position for a partition was not known within
    /// `request.timeout.ms`: the committed offset or the offset reset
    /// (ListOffsets) it waits for did not finish (Java's `position()`
    /// `TimeoutException`). Retriable.
    #[error(
        "the position of {topic}-{partition} was not known within {timeout:?} (default.api.timeout.ms, or the call's timeout): its committed-offset or auto.offset.reset lookup did not finish; check that the partition has a leader and the group a coordinator"
    )]
    PositionTimeout {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// How long was waited.
        timeout: Duration,
    },

    /// An argument no call could accept (a negative target time, ...); the
    /// text says which and why.
    #[error("{call}: {reason}")]
    InvalidArgument {
        /// The call, by name (`offsets_for_times`).
        call: &'static str,
        /// What is wrong with the argument, and what would be accepted.
        reason: String,
    },

    /// The record was sent and no answer came before the producer gave up
    /// on it (close timed out): the broker may or may not have written it.
    /// Re-sending can duplicate it; read the partition to find out.
    #[error(
        "record to {topic}-{partition} possibly written: it was sent, but {reason} before the broker answered; read the partition before re-sending it"
    )]
    PossiblyWritten {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Why no answer will come.
        reason: String,
    },

    /// The client (producer, consumer) was closed.
    #[error("{0} is closed")]
    Closed(&'static str),

    /// A feature purekafka does not have yet.
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),

    /// A serializer or deserializer failed.
    #[error("serialization failed: {0}")]
    Serialization(String),

    /// The producer was fenced or hit an unrecoverable idempotence error.
    #[error("producer is in a fatal state: {0}")]
    Fatal(String),

    /// A transactional producer's call that its state does not allow:
    /// `begin_transaction` twice, `commit_transaction` without a
    /// transaction, a send outside a transaction, `abort_transaction` while
    /// a commit runs. Nothing changed; `hint` says what to call instead.
    #[error("{operation} is not allowed while the transactional producer is {state}: {hint}")]
    TransactionState {
        /// The call refused (`begin_transaction`, `send`, ...).
        operation: &'static str,
        /// The producer's transaction state then (`InTransaction`, ...).
        state: &'static str,
        /// What to do.
        hint: &'static str,
    },

    /// The open transaction failed and must be aborted (a send failed, the
    /// broker denied a topic or the group, a timeout): call
    /// `abort_transaction`, then begin a new transaction; the producer goes
    /// on. Every transactional call but the abort fails with this until then.
    #[error(
        "the transaction of transactional.id '{transactional_id}' must be aborted: {cause}; call abort_transaction() and begin a new transaction"
    )]
    TransactionAbortable {
        /// `transactional.id`.
        transactional_id: String,
        /// What failed first.
        cause: Box<Error>,
    },

    /// A transactional call (`init_transactions`, `commit_transaction`, ...)
    /// did not finish within `max.block.ms`. It goes on in the background:
    /// call it again to wait for it.
    #[error("{operation} of transactional.id '{transactional_id}' did not finish within max.block.ms ({timeout:?}): waiting for {waiting_for}{}; it goes on in the background: call {operation} again to wait for it", last_error.as_deref().map(|e| format!(" (last error: {e})")).unwrap_or_default())]
    TransactionTimeout {
        /// The call.
        operation: &'static str,
        /// `transactional.id`.
        transactional_id: String,
        /// The step it waits for (a request, or the records' delivery).
        waiting_for: String,
        /// The last error it retried, if any.
        last_error: Option<String>,
        /// `max.block.ms`.
        timeout: Duration,
    },

    /// The transactional producer cannot go on (fenced by a newer producer
    /// with the same `transactional.id`, not authorized for it, a broker
    /// without transactions): every later call fails with this at once.
    /// Close the producer; a new one (whose `init_transactions` fences this
    /// one) may take over.
    #[error(
        "transactional producer with transactional.id '{transactional_id}' failed for good: {cause}; close it"
    )]
    TransactionFatal {
        /// `transactional.id`.
        transactional_id: String,
        /// The original cause.
        cause: Box<Error>,
    },

    /// A share consumer's call that its state does not allow: polling
    /// again with records of the last poll unacknowledged (explicit mode),
    /// acknowledging a record the last poll did not return or one
    /// acknowledged already, `acknowledge` in implicit mode. Nothing
    /// changed; `reason` says what to do.
    #[error("{operation}: {reason}")]
    ShareConsumerState {
        /// The call refused (`poll`, `acknowledge`).
        operation: &'static str,
        /// Why, and what to do.
        reason: String,
    },

    /// A callback of the application's panicked. The client contained the
    /// panic and carried on (a rebalance still completed, partitions were
    /// still given up); this reports it.
    #[error("the application's {callback} panicked: {message}; the client carried on")]
    CallbackPanicked {
        /// Which callback (`RebalanceListener::on_partitions_revoked`, ...).
        callback: &'static str,
        /// The panic's message.
        message: String,
    },
}

fn fmt_expected(api: Option<&str>, expected: Option<i32>) -> String {
    match (api, expected) {
        (Some(api), Some(id)) => format!("but the oldest request in flight ({api}) has {id}"),
        _ => "but no request is in flight".to_string(),
    }
}

fn fmt_tp(topic: Option<&str>, partition: Option<i32>) -> String {
    match (topic, partition) {
        (Some(t), Some(p)) => format!(" on {t}-{p}"),
        (Some(t), None) => format!(" on {t}"),
        _ => String::new(),
    }
}

impl Error {
    /// Whether retrying the operation may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Kafka { code, .. } => code.is_retriable(),
            Error::Setup { source, .. } => source.is_retriable(),
            // TLS's verdict on a live connection (a TLS 1.3 broker refusing
            // the client certificate) fails the same way again.
            Error::Io { reason, .. } => !crate::security::tls::is_tls_verdict(reason),
            Error::Connect { .. }
            | Error::Disconnected { .. }
            | Error::CorrelationMismatch { .. }
            | Error::RequestTimeout { .. }
            | Error::PositionTimeout { .. }
            | Error::BootstrapUnreachable { .. } => true,
            _ => false,
        }
    }

    /// The Kafka error code, if this is a broker error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// A Kafka error for `api`.
    pub fn kafka(code: ErrorCode, api: &'static str) -> Self {
        Error::Kafka {
            code,
            api,
            topic: None,
            partition: None,
            message: None,
        }
    }

    /// A Kafka error for `api` on a topic-partition.
    pub fn kafka_tp(code: ErrorCode, api: &'static str, topic: &str, partition: i32) -> Self {
        Error::Kafka {
            code,
            api,
            topic: Some(topic.to_string()),
            partition: Some(partition),
            message: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_context() {
        let e = Error::kafka_tp(ErrorCode::NOT_LEADER_OR_FOLLOWER, "Produce", "orders", 3);
        let s = e.to_string();
        assert!(s.contains("Produce on orders-3"), "{s}");
        assert!(s.contains("NOT_LEADER_OR_FOLLOWER"), "{s}");
        assert!(e.is_retriable());
        let e = Error::RecordTooLarge {
            size: 2_000_000,
            max: 1_048_576,
        };
        assert!(e.to_string().contains("max.request.size"));
        assert!(!e.is_retriable());
    }
}
