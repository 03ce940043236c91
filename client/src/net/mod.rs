//! Networking: one task per broker connection, the broker pool, metadata.
//!
//! [`setup`] is the order in which a connection is set up and the seam
//! where TLS ([`TlsStep`]) and SASL ([`SaslStep`]) plug in.
//!
//! This module is the client's own: applications reach metadata through
//! `Producer::partitions_for`, `Consumer::partitions_for` and the admin
//! client. It is public only with the `unstable-internals` feature, for
//! purekafka's integration tests (not covered by semver).

pub mod cluster;
pub mod conn;
pub(crate) mod coordinator;
pub(crate) mod pipeline;
pub mod setup;
#[cfg(test)]
mod test_broker;

// The paths the integration tests name (with `unstable-internals`).
#[cfg_attr(not(feature = "unstable-internals"), allow(unused_imports))]
pub use cluster::{BrokerInfo, Cluster, ClusterOptions, Metadata, PartitionInfo, TopicInfo};
#[cfg_attr(not(feature = "unstable-internals"), allow(unused_imports))]
pub use conn::{ConnOptions, Connection};
#[cfg_attr(not(feature = "unstable-internals"), allow(unused_imports))]
pub use setup::{BoxTransport, SaslStep, SetupStep, StepFuture, TlsStep, Transport};
