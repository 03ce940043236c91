//! purekafka: a Kafka client written entirely in Rust.
//!
//! - [`config`]: typed configuration, and the Java/librdkafka property names.
//! - [`net`]: connections (one task per socket), the broker pool, metadata.
//! - [`producer`]: batching, partitioning, idempotent delivery.
//! - [`consumer`]: fetching, consumer groups, offsets.
//! - [`security`]: SASL authentication.

pub mod config;
pub mod consumer;
pub mod error;
pub mod net;
pub mod producer;
pub mod security;
pub mod serde;
mod time;

pub use error::{Error, Result};
pub use purekafka_protocol::error_code::ErrorCode;
