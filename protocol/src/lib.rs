//! The Kafka wire protocol, sans-IO: bytes in, values out.
//!
//! - [`primitives`]: integers, varints, strings, bytes, UUIDs.
//! - [`messages`]: every client-facing request and response at every version
//!   from Kafka 4.0's floor to the newest, generated from our definitions in
//!   `protocol/messages/*.kmsg` (see `purekafka-codegen`).
//! - [`frame`]: size-prefixed framing and request/response headers.
//! - [`records`]: record batches (magic v2) and legacy message sets.
//! - [`ErrorCode`]: Kafka's error codes.
//!
//! No tokio, no clock, no sockets.

#![deny(missing_docs)]

pub mod codec;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod primitives;
pub mod records;
pub mod version;

/// Every generated message, one module per message, re-exported by name.
#[allow(clippy::all, unused_imports, unused_mut)]
pub mod messages {
    include!(concat!(env!("OUT_DIR"), "/messages.rs"));
}

/// What generated code needs in scope.
pub(crate) mod generated_prelude {
    pub use crate::ApiKey;
    #[cfg(test)]
    pub use crate::codec::testgen::{Arbitrary, Gen, check_min_size, roundtrip_one};
    pub use crate::codec::*;
    pub use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
    pub use crate::primitives::{Uuid, put_uvarint};
    pub use bytes::{Bytes, BytesMut};
}

pub use codec::{
    DecodeBudget, Decoder, Message, RawTaggedField, Request, Response, UnknownTaggedFields,
    VersionRange,
};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use error_code::ErrorCode;
pub use messages::{AnyRequest, AnyResponse, ApiKey};
pub use primitives::Uuid;

#[cfg(test)]
mod decode_budget_tests;
#[cfg(test)]
mod roundtrip_tests;
