//! Decoding within the bytes received (issue #10 item 11): an array's count
//! against its elements' minimum size, the decode budget, unknown tagged
//! fields kept as raw bytes. `tests/decode_allocations.rs` measures the
//! memory itself with a counting allocator.

use crate::codec::{DecodeBudget, Message, RawTaggedField, UnknownTaggedFields};
use crate::error::DecodeErrorKind;
use crate::messages::{
    ApiVersionsResponse, ConsumerProtocolSubscription, MetadataResponse, api_versions_response,
    consumer_protocol_subscription, metadata_response,
};
use crate::primitives::{Uuid, put_uvarint};
use bytes::{BufMut, Bytes, BytesMut};

fn encoded<M: Message>(m: &M, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    m.encode(&mut b, version).unwrap();
    b.freeze()
}

/// What decoding `bytes` charges to its budget, and the decoded value.
fn charged<M: Message>(bytes: &Bytes, version: i16) -> (M, usize) {
    let mut budget = DecodeBudget::for_input(bytes.len());
    let m = M::decode_with(&mut bytes.clone(), version, &mut budget).unwrap();
    (m, budget.charged())
}

#[test]
fn kafka_shaped_messages_use_a_fraction_of_the_budget() {
    let metadata = MetadataResponse {
        brokers: (0..3)
            .map(|n| metadata_response::MetadataResponseBroker {
                node_id: n,
                host: format!("broker-{n}.kafka.example.com"),
                port: 9092,
                rack: Some(format!("rack-{n}")),
                ..Default::default()
            })
            .collect(),
        topics: (0..50u8)
            .map(|t| metadata_response::MetadataResponseTopic {
                name: Some(format!("events.topic-{t}")),
                topic_id: Uuid([t; 16]),
                partitions: (0..32)
                    .map(|p| metadata_response::MetadataResponsePartition {
                        partition_index: p,
                        replica_nodes: vec![0, 1, 2],
                        isr_nodes: vec![0, 1, 2],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let subscription = ConsumerProtocolSubscription {
        topics: (0..200).map(|t| format!("events.topic-{t}")).collect(),
        owned_partitions: (0..200)
            .map(|t| consumer_protocol_subscription::TopicPartition {
                topic: format!("events.topic-{t}"),
                partitions: vec![0, 1],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    for (name, bytes, charge) in [
        ("Metadata v12", encoded(&metadata, 12), {
            let b = encoded(&metadata, 12);
            let (m, c) = charged::<MetadataResponse>(&b, 12);
            assert_eq!(m, metadata);
            c
        }),
        ("Metadata v1", encoded(&metadata, 1), {
            let b = encoded(&metadata, 1);
            charged::<MetadataResponse>(&b, 1).1
        }),
        ("Subscription v3", encoded(&subscription, 3), {
            let b = encoded(&subscription, 3);
            let (s, c) = charged::<ConsumerProtocolSubscription>(&b, 3);
            assert_eq!(s, subscription);
            c
        }),
    ] {
        let ratio = charge as f64 / bytes.len() as f64;
        println!(
            "{name}: {charge} bytes charged for {} ({ratio:.2}x)",
            bytes.len()
        );
        // Half the limit at most: real traffic is nowhere near it.
        assert!(
            ratio < (DecodeBudget::FACTOR / 2) as f64,
            "{name}: {charge} bytes charged for {} ({ratio:.2}x)",
            bytes.len()
        );
    }
}

#[test]
fn a_count_the_bytes_cannot_hold_at_minimum_size_is_rejected() {
    // Metadata v1: brokers [count 1000], each at least 12 bytes (node id,
    // empty host, port, null rack); 1000 bytes follow.
    let mut b = BytesMut::new();
    b.put_i32(1000);
    b.put_bytes(0, 1000);
    let err = MetadataResponse::decode(&mut b.freeze(), 1).unwrap_err();
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::ArrayTooLong {
            count: 1000,
            min_element: 12,
            remaining: 1000
        },
        "{err}"
    );
    assert!(
        err.to_string().contains("needs at least 12000 bytes"),
        "{err}"
    );
    // A count the bytes do hold decodes.
    let mut b = BytesMut::new();
    b.put_i32(2);
    b.put_bytes(0, 24);
    b.put_i32(-1); // controller id
    b.put_i32(0); // topics
    assert_eq!(
        MetadataResponse::decode_exact(b.freeze(), 1)
            .unwrap()
            .brokers
            .len(),
        2
    );
}

#[test]
fn empty_strings_by_the_thousand_exceed_the_budget_with_a_typed_error() {
    // 12,000 empty topic names: 24,000 wire bytes, 288,000 bytes of `String`s.
    let n = 12_000;
    let mut b = BytesMut::new();
    b.put_i32(n);
    (0..n).for_each(|_| b.put_i16(0));
    b.put_i32(-1);
    let input = b.freeze();
    let err = ConsumerProtocolSubscription::decode(&mut input.clone(), 0).unwrap_err();
    let DecodeErrorKind::MemoryLimit {
        needed,
        limit,
        input: len,
    } = *err.kind()
    else {
        panic!("{err}");
    };
    assert_eq!(len, input.len());
    assert_eq!(limit, input.len() * DecodeBudget::FACTOR);
    assert_eq!(needed, n as usize * std::mem::size_of::<String>());
    assert!(err.path().contains("Topics"), "{}", err.path());
    // The same names, not empty, decode.
    let mut b = BytesMut::new();
    b.put_i32(n);
    (0..n).for_each(|i| {
        let t = format!("topic-{i}");
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    });
    b.put_i32(-1);
    let s = ConsumerProtocolSubscription::decode_exact(b.freeze(), 0).unwrap();
    assert_eq!(s.topics.len(), n as usize);
}

#[test]
fn a_small_frame_gets_the_floor() {
    let b = DecodeBudget::for_input(10);
    assert_eq!(b.limit(), DecodeBudget::FLOOR);
    let mut b = DecodeBudget::for_input(1 << 20);
    assert_eq!(b.limit(), 8 << 20);
    b.charge(8 << 20).unwrap();
    assert!(b.charge(1).is_err());
    assert_eq!(b.charged(), 8 << 20, "a failed charge takes nothing");
}

/// ApiVersions v3 with `tags` as its tagged fields (body otherwise empty).
fn api_versions_with_tags(tags: &[(u32, &[u8])]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0); // error code
    b.put_u8(1); // api keys: empty compact array
    b.put_i32(0); // throttle
    put_uvarint(&mut b, tags.len() as u32);
    for (tag, data) in tags {
        put_uvarint(&mut b, *tag);
        put_uvarint(&mut b, data.len() as u32);
        b.put_slice(data);
    }
    b.freeze()
}

#[test]
fn a_flood_of_unknown_tagged_fields_is_one_slice_of_the_input() {
    let tags: Vec<(u32, Vec<u8>)> = (0..2000u32).map(|t| (100 + t, vec![t as u8])).collect();
    let refs: Vec<(u32, &[u8])> = tags.iter().map(|(t, d)| (*t, &d[..])).collect();
    let input = api_versions_with_tags(&refs);
    let (m, charge) = charged::<ApiVersionsResponse>(&input, 3);
    assert_eq!(m.unknown_tagged_fields.len(), 2000);
    let got: Vec<(u32, Vec<u8>)> = m
        .unknown_tagged_fields
        .iter()
        .map(|f| (f.tag, f.data.to_vec()))
        .collect();
    assert_eq!(got, tags);
    // One box around one slice: no allocation per field.
    assert_eq!(charge, std::mem::size_of::<Bytes>());
    assert_eq!(encoded(&m, 3), input, "written back byte for byte");
}

#[test]
fn kept_tags_split_by_a_known_one_are_copied_and_written_back_in_place() {
    // Tag 0 (SupportedFeatures) sent empty, its default: kept raw. Tag 1
    // (FinalizedFeaturesEpoch) 7: decoded. Tag 9: unknown, kept. The kept
    // ones are not adjacent in the input, so they are copied.
    let epoch = 7i64.to_be_bytes();
    let input = api_versions_with_tags(&[(0, &[1]), (1, &epoch), (9, b"xyz")]);
    let (m, charge) = charged::<ApiVersionsResponse>(&input, 3);
    assert_eq!(m.finalized_features_epoch, 7);
    let kept: Vec<u32> = m.unknown_tagged_fields.iter().map(|f| f.tag).collect();
    assert_eq!(kept, vec![0, 9]);
    assert!(charge <= 64, "{charge}");
    assert_eq!(encoded(&m, 3), input, "written back byte for byte");
    // Set the typed value of the kept tag 0: the typed one replaces it.
    let mut m = m;
    m.supported_features = vec![api_versions_response::SupportedFeatureKey {
        name: "f".into(),
        min_version: 1,
        max_version: 2,
        ..Default::default()
    }];
    let again = ApiVersionsResponse::decode_exact(encoded(&m, 3), 3).unwrap();
    assert_eq!(again.supported_features, m.supported_features);
    let kept: Vec<u32> = again.unknown_tagged_fields.iter().map(|f| f.tag).collect();
    assert_eq!(kept, vec![9]);
}

#[test]
fn unknown_tagged_fields_build_and_compare_by_their_fields() {
    let mut a = UnknownTaggedFields::new();
    assert!(a.is_empty());
    a.push(3, b"ab");
    a.push(70_000, b"");
    let b: UnknownTaggedFields = [
        RawTaggedField {
            tag: 3,
            data: Bytes::from_static(b"ab"),
        },
        RawTaggedField {
            tag: 70_000,
            data: Bytes::new(),
        },
    ]
    .into_iter()
    .collect();
    assert_eq!(a, b);
    assert_eq!(a.len(), 2);
    assert_eq!(
        format!("{a:?}"),
        "[RawTaggedField { tag: 3, data: b\"ab\" }, RawTaggedField { tag: 70000, data: b\"\" }]"
    );
    let empty: UnknownTaggedFields = std::iter::empty().collect();
    assert_eq!(empty, UnknownTaggedFields::new());
}
