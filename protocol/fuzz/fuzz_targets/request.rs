//! Request bodies: bytes 0-1 the API key, 2-3 the version, the rest the
//! body. What decodes must encode, and encode the same after a second decode.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use purekafka_protocol::{AnyRequest, ApiKey};

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<4>() else { return };
    let Some(api) = ApiKey::from_i16(i16::from_be_bytes([head[0], head[1]])) else { return };
    let version = i16::from_be_bytes([head[2], head[3]]);
    let mut buf = Bytes::copy_from_slice(body);
    let Ok(msg) = AnyRequest::decode(api, version, &mut buf) else { return };
    let mut first = BytesMut::new();
    if msg.encode(&mut first, version).is_err() {
        return;
    }
    let again = AnyRequest::decode(api, version, &mut first.clone().freeze()).expect("re-decoding our own encoding");
    let mut second = BytesMut::new();
    again.encode(&mut second, version).expect("re-encoding");
    assert_eq!(first, second, "{api:?} v{version} does not round-trip");
});
