//! Property tests over every generated message at every version.

use crate::codec::testgen::Gen;
use bytes::Bytes;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Encode → decode → equal, and decode → encode → same bytes, for every
    /// message at every version.
    #[test]
    fn every_message_roundtrips_at_every_version(seed: u64) {
        let mut g = Gen::new(seed);
        for (name, versions, check) in crate::messages::roundtrip_table() {
            for v in versions.iter() {
                if let Err(e) = check(&mut g, v) {
                    prop_assert!(false, "{name}: {e}");
                }
            }
        }
    }

    /// No struct's min_size is more than a value of it encodes to (an
    /// overestimate would reject a valid array as too long for its bytes).
    #[test]
    fn min_size_never_exceeds_an_encoding(seed: u64) {
        let mut g = Gen::new(seed);
        for (_, versions, flexible, checks) in crate::messages::min_size_table() {
            for v in versions.iter() {
                for (name, check) in checks() {
                    if let Err(e) = check(&mut g, v, flexible.contains(v)) {
                        prop_assert!(false, "{name}: {e}");
                    }
                }
            }
        }
    }

    /// Arbitrary bytes never panic any decoder at any version.
    #[test]
    fn arbitrary_bytes_never_panic_a_decoder(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let data = Bytes::from(data);
        for (_, versions, decode) in crate::messages::decoder_table() {
            for v in versions.iter() {
                let _ = decode(&mut data.clone(), v);
            }
        }
    }
}

#[test]
fn table_covers_every_definition() {
    // Every request and response is in the table (one per .kmsg definition).
    let names: Vec<&str> = crate::messages::roundtrip_table()
        .iter()
        .map(|t| t.0)
        .collect();
    for must in [
        "ProduceRequest",
        "FetchResponse",
        "ApiVersionsRequest",
        "RequestHeader",
        "ConsumerProtocolAssignment",
    ] {
        assert!(names.contains(&must), "{must} missing");
    }
}
