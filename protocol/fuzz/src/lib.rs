//! The bodies the fuzz targets share. `request` and `response` differ only in
//! which of `AnyRequest`/`AnyResponse` they decode, so both call
//! [`round_trip`].

use bytes::{Bytes, BytesMut};
use purekafka_protocol::{AnyRequest, AnyResponse, ApiKey, DecodeBudget, DecodeError, EncodeError};

/// A message of any API: what [`round_trip`] needs from `AnyRequest` and `AnyResponse`.
pub trait AnyMessage: Sized {
    /// Decodes the body of `api` at `version`, charging `budget`.
    fn decode(
        api: ApiKey,
        version: i16,
        buf: &mut Bytes,
        budget: &mut DecodeBudget,
    ) -> Result<Self, DecodeError>;
    /// Encodes the body at `version`.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>;
}

impl AnyMessage for AnyRequest {
    fn decode(
        api: ApiKey,
        version: i16,
        buf: &mut Bytes,
        budget: &mut DecodeBudget,
    ) -> Result<Self, DecodeError> {
        AnyRequest::decode_with(api, version, buf, budget)
    }
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        AnyRequest::encode(self, buf, version)
    }
}

impl AnyMessage for AnyResponse {
    fn decode(
        api: ApiKey,
        version: i16,
        buf: &mut Bytes,
        budget: &mut DecodeBudget,
    ) -> Result<Self, DecodeError> {
        AnyResponse::decode_with(api, version, buf, budget)
    }
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        AnyResponse::encode(self, buf, version)
    }
}

/// `data` is bytes 0-1 the API key, 2-3 the version, the rest a body. A body
/// that decodes must encode (unless the value cannot be written at that
/// version), decode again within the same memory budget (our encoding may be
/// shorter than the input, never more costly to decode), and encode to the
/// same bytes. Panics otherwise: that is the finding.
pub fn round_trip<M: AnyMessage>(data: &[u8]) {
    let Some(([k0, k1, v0, v1], body)) = data.split_first_chunk::<4>() else {
        return;
    };
    let Some(api) = ApiKey::from_i16(i16::from_be_bytes([*k0, *k1])) else {
        return;
    };
    let version = i16::from_be_bytes([*v0, *v1]);
    // The second decode gets a budget as large as the first one.
    let (mut first_budget, mut second_budget) = (
        DecodeBudget::for_input(body.len()),
        DecodeBudget::for_input(body.len()),
    );
    let mut buf = Bytes::copy_from_slice(body);
    let Ok(msg) = M::decode(api, version, &mut buf, &mut first_budget) else {
        return;
    };
    let mut first = BytesMut::new();
    if msg.encode(&mut first, version).is_err() {
        return;
    }
    let again = M::decode(
        api,
        version,
        &mut first.clone().freeze(),
        &mut second_budget,
    )
    .expect("re-decoding our own encoding");
    let mut second = BytesMut::new();
    again.encode(&mut second, version).expect("re-encoding");
    assert_eq!(first, second, "{api:?} v{version} does not round-trip");
}
