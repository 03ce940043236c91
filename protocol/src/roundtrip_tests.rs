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
