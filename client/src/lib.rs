//! purekafka: a Kafka client written entirely in Rust.
//!
//! ```no_run
//! use purekafka::{Consumer, ConsumerConfig, Producer, ProducerConfig, ProducerRecord};
//! use std::time::Duration;
//!
//! # async fn demo() -> purekafka::Result<()> {
//! let producer = Producer::new(ProducerConfig::new("localhost:9092")).await?;
//! let written = producer.send(ProducerRecord::to("events").value("hello")).await?;
//! println!("{}-{}@{}", written.topic, written.partition, written.offset);
//!
//! let mut cfg = ConsumerConfig::new("localhost:9092");
//! cfg.group_id = Some("my-app".into());
//! let consumer = Consumer::new(cfg).await?;
//! consumer.subscribe(&["events"])?;
//! for record in consumer.poll(Duration::from_secs(1)).await? {
//!     println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
//! }
//! # Ok(()) }
//! ```
//!
//! The types an application names are re-exported here; the modules hold
//! the rest:
//! - [`admin`]: the admin client: topics, configs, groups, offsets, ACLs...
//! - [`config`]: typed configuration, and the Java/librdkafka property names.
//! - [`producer`]: batching, partitioning, idempotent delivery.
//! - [`consumer`]: fetching, consumer groups, offsets.
//! - [`PartitionInfo`]: a topic's partitions, from `partitions_for` on a
//!   producer or consumer (Java's `partitionsFor`).
//! - [`share`]: share groups (KIP-932): queue-like consumption, per-record acknowledgement.
//! - [`eos`]: exactly-once consume-transform-produce over transactions.
//! - [`security`]: TLS and SASL.
//! - [`serde`]: typed producers and consumers.

#![deny(missing_docs)]

/// Declares an item `pub` with the `unstable-internals` feature and
/// `pub(crate)` without it: for the few internals (the SASL session, the TLS
/// connector) that purekafka's integration tests drive directly.
macro_rules! unstable_pub {
    ($(#[$attr:meta])* pub $($item:tt)*) => {
        #[cfg(feature = "unstable-internals")]
        $(#[$attr])* pub $($item)*
        #[cfg(not(feature = "unstable-internals"))]
        $(#[$attr])* pub(crate) $($item)*
    };
}

pub mod admin;
pub mod config;
pub mod consumer;
pub mod eos;
pub mod error;
// The connections and the broker pool are the client's own; purekafka's
// integration tests drive them against hostile and real brokers through the
// `unstable-internals` feature (not covered by semver).
#[cfg(feature = "unstable-internals")]
pub mod net;
#[cfg(not(feature = "unstable-internals"))]
pub(crate) mod net;
mod partition_info;
pub mod producer;
pub mod security;
pub mod serde;
pub mod share;
mod time;
mod topic_partition;

pub use admin::Admin;
pub use config::AdminConfig;
pub use config::{
    Acks, AssignmentStrategy, ConsumerConfig, IsolationLevel, OffsetReset, ProducerConfig,
    SecurityProtocol,
};
pub use consumer::{Consumer, ConsumerGroupMetadata, ConsumerRecord};
pub use error::{Error, Result};
pub use partition_info::PartitionInfo;
pub use producer::{Delivered, DeliveryFuture, Producer, ProducerRecord};
pub use purekafka_compression::Compression;
pub use purekafka_protocol::Uuid;
pub use purekafka_protocol::error_code::ErrorCode;
pub use purekafka_protocol::records::{Header, Headers, TimestampType};
pub use share::{AcknowledgeType, ShareConsumer, ShareRecord};
pub use topic_partition::TopicPartition;
