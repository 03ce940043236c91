//! Generated message decode throughput: the responses a client reads most.
//!
//! ```text
//! cargo bench -p purekafka-protocol --bench message_decode [-- SECONDS_PER_CASE]
//! ```
//!
//! - `fetch`: a Fetch response v17, 4 topics x 64 partitions, each with a
//!   4 KiB record set (the consumer's hot path: the records stay zero-copy
//!   slices, so this measures the per-partition structure);
//! - `metadata`: a Metadata response v12, 3 brokers, 50 topics x 32
//!   partitions, 3 replicas each;
//! - `subscription`: a ConsumerProtocolSubscription v3, 200 topics and 200
//!   owned partitions (what a group leader decodes for every member).
//!
//! Each case runs for the given seconds (default 3) in rounds of 100
//! decodes; the line printed is the best round's time per decode and frame
//! bytes per second (the best round is the least disturbed by other work on
//! the machine). A plain timing loop, so this crate's tests need no bench
//! framework.

// Bench code: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use purekafka_protocol::Message;
use purekafka_protocol::Uuid;
use purekafka_protocol::messages::{
    ConsumerProtocolSubscription, FetchResponse, MetadataResponse, consumer_protocol_subscription,
    fetch_response, metadata_response,
};

fn encoded<M: Message>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn fetch() -> Bytes {
    let records = Bytes::from(vec![7u8; 4096]);
    let m = FetchResponse {
        responses: (0..4u8)
            .map(|t| fetch_response::FetchableTopicResponse {
                topic_id: Uuid([t + 1; 16]),
                partitions: (0..64)
                    .map(|p| fetch_response::PartitionData {
                        partition_index: p,
                        high_watermark: 1_000_000,
                        last_stable_offset: 1_000_000,
                        log_start_offset: 0,
                        records: Some(records.clone()),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    encoded(&m, 17)
}

fn metadata() -> Bytes {
    let m = MetadataResponse {
        brokers: (0..3)
            .map(|n| metadata_response::MetadataResponseBroker {
                node_id: n,
                host: format!("broker-{n}.kafka.example.com"),
                port: 9092,
                rack: Some(format!("rack-{n}")),
                ..Default::default()
            })
            .collect(),
        cluster_id: Some("q1Sh-9_ISia_zwGINzRvyQ".into()),
        controller_id: 1,
        topics: (0..50u8)
            .map(|t| metadata_response::MetadataResponseTopic {
                name: Some(format!("events.topic-{t}")),
                topic_id: Uuid([t; 16]),
                partitions: (0..32)
                    .map(|p| metadata_response::MetadataResponsePartition {
                        partition_index: p,
                        leader_id: p % 3,
                        leader_epoch: 4,
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
    encoded(&m, 12)
}

fn subscription() -> Bytes {
    let m = ConsumerProtocolSubscription {
        topics: (0..200).map(|t| format!("events.topic-{t}")).collect(),
        owned_partitions: (0..200)
            .map(|t| consumer_protocol_subscription::TopicPartition {
                topic: format!("events.topic-{t}"),
                partitions: vec![0],
                ..Default::default()
            })
            .collect(),
        generation_id: 12,
        rack_id: Some("rack-1".into()),
        ..Default::default()
    };
    encoded(&m, 3)
}

/// Decodes `frame` with `decode` for `secs`, printing the best round.
fn run(name: &str, frame: &Bytes, secs: f64, decode: impl Fn(Bytes)) {
    const ROUND: u32 = 100;
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut best = Duration::MAX;
    let mut rounds = 0u64;
    while Instant::now() < end || rounds < 3 {
        let start = Instant::now();
        for _ in 0..ROUND {
            decode(black_box(frame.clone()));
        }
        best = best.min(start.elapsed() / ROUND);
        rounds += 1;
    }
    let per_sec = frame.len() as f64 / best.as_secs_f64();
    println!(
        "message_decode/{name:<13} {:>10.2} us/decode {:>9.1} MiB/s ({} B frame, {} rounds)",
        best.as_secs_f64() * 1e6,
        per_sec / (1024.0 * 1024.0),
        frame.len(),
        rounds
    );
}

fn main() {
    let secs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<f64>().ok())
        .unwrap_or(3.0);
    let frame = fetch();
    run("fetch", &frame, secs, |b| {
        black_box(FetchResponse::decode_exact(b, 17).unwrap());
    });
    let frame = metadata();
    run("metadata", &frame, secs, |b| {
        black_box(MetadataResponse::decode_exact(b, 12).unwrap());
    });
    let frame = subscription();
    run("subscription", &frame, secs, |b| {
        black_box(ConsumerProtocolSubscription::decode_exact(b, 3).unwrap());
    });
}
