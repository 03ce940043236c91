//! Networking: one task per broker connection, the broker pool, metadata.
//!
//! [`setup`] is the order in which a connection is set up and the seam
//! where TLS ([`TlsStep`]) and SASL ([`SaslStep`]) plug in.

pub mod cluster;
pub mod conn;
pub(crate) mod coordinator;
pub mod pipeline;
pub mod setup;
#[cfg(test)]
mod test_broker;

pub use cluster::{BrokerInfo, Cluster, ClusterOptions, Metadata, PartitionInfo, TopicInfo};
pub use conn::{ConnOptions, Connection};
pub use setup::{BoxTransport, SaslStep, SetupStep, StepFuture, TlsStep, Transport};
