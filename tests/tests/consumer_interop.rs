//! The reference clients write, purekafka's consumer reads: all records,
//! in order per partition, byte-identical, in every codec — also when
//! starting from an offset inside a batch.

use purekafka::config::{ConsumerConfig, OffsetReset};
use purekafka::consumer::{Consumer, ConsumerEvent};
use purekafka_integration::rt;
use purekafka_integration::{
    Cluster as Broker, Codec, PeerClient, Record, cluster_or_skip, unique_topic,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const PARTITIONS: u32 = 4;

/// Records with keys, values, headers and explicit partitions; kafka-python
/// cannot send a null header value, so `null_header` is off for it.
fn records(n: usize, null_header: bool) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            key: (i % 13 != 0).then(|| format!("key-{i}").into_bytes()),
            // kafka-python also refuses a record with neither key nor value.
            value: (i % 17 != 0 || (i % 13 == 0 && !null_header)).then(|| {
                format!("{{\"n\":{i},\"blob\":\"{}\"}}", "ab".repeat(i % 50)).into_bytes()
            }),
            headers: vec![
                ("h".into(), Some(i.to_string().into_bytes())),
                ("nil".into(), (!null_header).then(Vec::new)),
            ],
            partition: Some((i % PARTITIONS as usize) as i32),
            timestamp: Some(1_700_000_000_000 + i as i64),
        })
        .collect()
}

async fn consume_all(
    bootstrap: &str,
    topic: &str,
    n: usize,
) -> Vec<purekafka::consumer::ConsumerRecord> {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(100);
    let c = Consumer::new(cfg).await.unwrap();
    let parts: Vec<(&str, i32)> = (0..PARTITIONS as i32).map(|p| (topic, p)).collect();
    c.assign(&parts).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while out.len() < n && Instant::now() < deadline {
        out.extend(c.poll(Duration::from_millis(500)).await.unwrap());
    }
    // Nothing more arrives.
    out.extend(c.poll(Duration::from_millis(300)).await.unwrap());
    c.close().await.unwrap();
    out
}

fn check(got: &[purekafka::consumer::ConsumerRecord], sent: &[Record], who: &str) {
    assert_eq!(
        got.len(),
        sent.len(),
        "{who}: read {} of {}",
        got.len(),
        sent.len()
    );
    let mut per_part: HashMap<i32, Vec<&purekafka::consumer::ConsumerRecord>> = HashMap::new();
    for r in got {
        per_part.entry(r.partition).or_default().push(r);
    }
    for p in 0..PARTITIONS as i32 {
        let want: Vec<&Record> = sent.iter().filter(|r| r.partition == Some(p)).collect();
        let have = per_part.remove(&p).unwrap_or_default();
        assert_eq!(have.len(), want.len(), "{who}: partition {p}");
        for (i, (h, w)) in have.iter().zip(&want).enumerate() {
            assert_eq!(h.offset, i as i64, "{who}: partition {p} offsets");
            assert_eq!(h.key.as_deref(), w.key.as_deref(), "{who}: key");
            assert_eq!(h.value.as_deref(), w.value.as_deref(), "{who}: value");
            assert_eq!(Some(h.timestamp), w.timestamp, "{who}: timestamp");
            let headers: Vec<(String, Option<Vec<u8>>)> = h
                .headers
                .iter()
                .map(|x| {
                    (
                        String::from_utf8(x.key.to_vec()).unwrap(),
                        x.value.map(|v| v.to_vec()),
                    )
                })
                .collect();
            assert_eq!(headers, w.headers, "{who}: headers");
        }
    }
}

fn run(broker: &Broker, client: PeerClient, codec: Codec, n: usize) {
    let topic = unique_topic(&format!("consume-{client:?}-{codec:?}").to_lowercase());
    broker.create_topic(&topic, PARTITIONS).unwrap();
    let sent = records(n, client == PeerClient::Confluent);
    broker.peer_produce(&topic, client, codec, &sent).unwrap();
    let got = rt().block_on(consume_all(broker.bootstrap(), &topic, n));
    check(
        &got,
        &sent,
        &format!("{client:?}/{codec:?} on {:?}", broker.kind()),
    );
}

const CODECS: [Codec; 5] = [
    Codec::None,
    Codec::Gzip,
    Codec::Snappy,
    Codec::Lz4,
    Codec::Zstd,
];

#[test]
fn mock_reads_confluent_in_every_codec() {
    for codec in CODECS {
        run(Broker::mock(1), PeerClient::Confluent, codec, 100_000);
    }
}

#[test]
fn mock_reads_kafka_python_in_every_codec() {
    for codec in CODECS {
        run(Broker::mock(1), PeerClient::KafkaPython, codec, 100_000);
    }
}

#[test]
fn kafka_reads_confluent_and_kafka_python_in_every_codec() {
    let broker = cluster_or_skip!(Broker::try_kafka());
    for codec in CODECS {
        run(broker, PeerClient::Confluent, codec, 20_000);
        run(broker, PeerClient::KafkaPython, codec, 5_000);
    }
}

#[test]
fn starting_inside_a_compressed_batch_and_partition_eof() {
    let broker = Broker::mock(1);
    let topic = unique_topic("consume-mid-batch");
    broker.create_topic(&topic, PARTITIONS).unwrap();
    let sent = records(400, true);
    broker
        .peer_produce(&topic, PeerClient::Confluent, Codec::Lz4, &sent)
        .unwrap();
    rt().block_on(async {
        let mut cfg = ConsumerConfig::new(broker.bootstrap());
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.enable_partition_eof = true;
        cfg.fetch_max_wait = Duration::from_millis(50);
        let c = Consumer::new(cfg).await.unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        c.seek((&topic, 0), 37).unwrap();
        let mut got = Vec::new();
        let mut eof = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        while eof.is_none() && Instant::now() < deadline {
            for e in c.poll_events(Duration::from_millis(300)).await.unwrap() {
                match e {
                    ConsumerEvent::Record(r) => got.push(r),
                    ConsumerEvent::PartitionEof { offset, .. } => eof = Some(offset),
                }
            }
        }
        let want: Vec<&Record> = sent
            .iter()
            .filter(|r| r.partition == Some(0))
            .skip(37)
            .collect();
        assert_eq!(
            got.first().map(|r| r.offset),
            Some(37),
            "first record after seeking into a batch"
        );
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.value.as_deref(), w.value.as_deref());
        }
        assert_eq!(eof, Some(100), "partition EOF at the high watermark");
        assert_eq!(c.position((&topic, 0)).await.unwrap(), 100);
        // seek_to_beginning rewinds.
        c.seek_to_beginning([(topic.as_str(), 0)]).unwrap();
        assert_eq!(c.position((&topic, 0)).await.unwrap(), 0);
        let first = loop {
            let recs = c.poll(Duration::from_secs(5)).await.unwrap();
            if let Some(r) = recs.into_iter().next() {
                break r;
            }
        };
        assert_eq!(first.offset, 0);
    });
}

#[test]
fn auto_offset_reset_none_names_the_partition() {
    let broker = Broker::mock(1);
    let topic = unique_topic("consume-reset-none");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let mut cfg = ConsumerConfig::new(broker.bootstrap());
        cfg.auto_offset_reset = OffsetReset::None;
        let c = Consumer::new(cfg).await.unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        let e = c.poll(Duration::from_secs(2)).await.unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains(&format!("{topic}-0")) && s.contains("auto.offset.reset=none"),
            "{s}"
        );
    });
}
