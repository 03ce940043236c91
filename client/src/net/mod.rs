//! Networking: one task per broker connection, the broker pool, metadata.
//!
//! [`setup`] is the order in which a connection is set up and the seam
//! where TLS ([`TlsStep`]) and SASL ([`SaslStep`]) plug in.
//!
//! A client's [`Cluster`] is reachable from it, for the metadata it holds:
//!
//! ```no_run
//! # async fn demo(consumer: purekafka::Consumer) -> purekafka::Result<()> {
//! let cluster = consumer.cluster();
//! cluster.add_topics(["events"]);
//! let md = cluster.refresh_metadata().await?;
//! for (id, broker) in &md.brokers {
//!     println!("node {id}: {}", broker.addr());
//! }
//! if let Some(t) = md.topics.get("events") {
//!     println!("events: {} partitions, leader of 0: {:?}", t.partitions.len(), md.leader("events", 0));
//! }
//! # Ok(()) }
//! ```

pub mod cluster;
pub mod conn;
pub(crate) mod coordinator;
pub(crate) mod pipeline;
pub mod setup;
#[cfg(test)]
mod test_broker;

pub use cluster::{BrokerInfo, Cluster, ClusterOptions, Metadata, PartitionInfo, TopicInfo};
pub use conn::{ConnOptions, Connection};
pub use setup::{BoxTransport, SaslStep, SetupStep, StepFuture, TlsStep, Transport};
