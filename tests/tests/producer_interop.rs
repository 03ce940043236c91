//! purekafka's producer writes, the reference clients read: every record is
//! there once, byte-identical, in send order per partition, on the partition
//! the Java partitioner picks — in every codec.

use purekafka::config::{Acks, ProducerConfig};
use purekafka::producer::partitioner::default_partition;
use purekafka::producer::{Header, Producer, ProducerRecord};
use purekafka_compression::Compression;
use purekafka_integration::rt;
use purekafka_integration::{
    Cluster as Broker, Consumed, PeerClient, cluster_or_skip, unique_topic,
};
use std::collections::HashMap;
use std::time::Duration;

const PARTITIONS: u32 = 6;

fn key(i: usize) -> Vec<u8> {
    format!("user-{}", i % 997).into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!(
        "{{\"seq\":{i},\"type\":\"page_view\",\"path\":\"/products/{}\",\"pad\":\"{}\"}}",
        i * 7 % 1000,
        "x".repeat(i % 40)
    )
    .into_bytes()
}

/// Produces `n` keyed records with headers (every 50th a tombstone, every
/// 70th with a null key) and returns the send order per partition.
async fn produce(
    bootstrap: &str,
    topic: &str,
    n: usize,
    codec: Compression,
) -> HashMap<i32, Vec<usize>> {
    let mut cfg = ProducerConfig::new(bootstrap);
    cfg.compression = codec;
    cfg.acks = Acks::All;
    cfg.enable_idempotence = Some(true);
    cfg.linger = Duration::from_millis(5);
    let producer = Producer::new(cfg).await.unwrap();
    let mut futures = Vec::with_capacity(n);
    for i in 0..n {
        let k = key(i);
        let v = value(i);
        let headers = [
            Header::new("seq", Some(i.to_string().into())),
            Header::new("null-header", None),
        ];
        let mut r = ProducerRecord::to(topic).headers(&headers);
        if i % 70 != 0 {
            r = r.key(&k);
        }
        if i % 50 != 0 {
            r = r.value(&v);
        }
        futures.push((i, producer.enqueue(r).await.unwrap()));
    }
    producer.flush().await.unwrap();
    let mut order: HashMap<i32, Vec<(i64, usize)>> = HashMap::new();
    for (i, f) in futures {
        let d = f
            .await
            .unwrap_or_else(|e| panic!("record {i} not delivered: {e}"));
        assert_eq!(&*d.topic, topic);
        order.entry(d.partition).or_default().push((d.offset, i));
    }
    let m = producer.metrics();
    assert_eq!(m.records_sent, n as u64, "{m:?}");
    assert_eq!(m.failed_records, 0);
    producer.close(Duration::from_secs(10)).await.unwrap();
    order
        .into_iter()
        .map(|(p, mut v)| {
            v.sort();
            // Offsets are distinct and increase with send order.
            for w in v.windows(2) {
                assert!(
                    w[0].0 < w[1].0 && w[0].1 < w[1].1,
                    "partition {p}: offsets not in send order: {w:?}"
                );
            }
            (p, v.into_iter().map(|(_, i)| i).collect())
        })
        .collect()
}

fn check(consumed: &[Consumed], sent: &HashMap<i32, Vec<usize>>, n: usize, who: &str) {
    assert_eq!(
        consumed.len(),
        n,
        "{who}: consumed {} of {n}",
        consumed.len()
    );
    let mut by_part: HashMap<i32, Vec<&Consumed>> = HashMap::new();
    for c in consumed {
        by_part
            .entry(c.record.partition.unwrap())
            .or_default()
            .push(c);
    }
    for (p, idxs) in sent {
        let got = by_part
            .get(p)
            .unwrap_or_else(|| panic!("{who}: nothing read from partition {p}"));
        assert_eq!(got.len(), idxs.len(), "{who}: partition {p}");
        for (c, &i) in got.iter().zip(idxs) {
            let r = &c.record;
            let want_key = (i % 70 != 0).then(|| key(i));
            let want_value = (i % 50 != 0).then(|| value(i));
            assert_eq!(r.key, want_key, "{who}: key of record {i}");
            assert_eq!(r.value, want_value, "{who}: value of record {i}");
            assert_eq!(
                r.headers,
                vec![
                    ("seq".to_string(), Some(i.to_string().into_bytes())),
                    ("null-header".to_string(), None)
                ],
                "{who}: headers of record {i}"
            );
            if let Some(k) = &want_key {
                assert_eq!(
                    *p,
                    default_partition(k, PARTITIONS as i32),
                    "{who}: record {i} not on the Java partitioner's choice"
                );
            }
        }
    }
}

fn run(broker: &Broker, codec: Compression, n: usize) {
    let topic = unique_topic(&format!("produce-{codec}"));
    broker.create_topic(&topic, PARTITIONS).unwrap();
    let sent = rt().block_on(produce(broker.bootstrap(), &topic, n, codec));
    for client in [PeerClient::Confluent, PeerClient::KafkaPython] {
        let consumed = broker
            .peer_consume(&topic, client, n, Duration::from_secs(120))
            .unwrap();
        check(
            &consumed,
            &sent,
            n,
            &format!("{client:?} on {:?} ({codec})", broker.kind()),
        );
    }
}

#[test]
fn mock_100k_records_in_every_codec_are_read_back_by_both_reference_clients() {
    let broker = Broker::mock(3);
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        run(broker, codec, 100_000);
    }
}

#[test]
fn kafka_20k_records_in_every_codec_are_read_back_by_both_reference_clients() {
    let broker = cluster_or_skip!(Broker::try_kafka());
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        run(broker, codec, 20_000);
    }
}
