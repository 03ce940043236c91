//! Networking: one task per broker connection, the broker pool, metadata.

pub mod cluster;
pub mod conn;

pub use cluster::{BrokerInfo, Cluster, ClusterOptions, Metadata, PartitionInfo, TopicInfo};
pub use conn::{ConnOptions, Connection};
