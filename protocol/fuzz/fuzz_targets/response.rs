//! Response bodies: bytes 0-1 the API key, 2-3 the version, the rest the
//! body. What decodes must encode, and encode the same after a second decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use purekafka_protocol::AnyResponse;
use purekafka_protocol_fuzz::round_trip;

fuzz_target!(|data: &[u8]| round_trip::<AnyResponse>(data));
