//! `Consumer::stream` against the mock cluster: every record once, in order
//! per partition; records arriving later wake it; records buffered when it is
//! dropped are not lost; it ends when the consumer closes.

// Test helpers outside #[test] fns: panicking is how they fail a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::StreamExt;
use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, ConsumerRecord};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::unique_topic;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

async fn produce(bootstrap: &str, topic: &str, partitions: i32, n: usize, tag: &str) {
    let p = Producer::new(ProducerConfig::new(bootstrap)).await.unwrap();
    let mut acks = Vec::new();
    for i in 0..n {
        let v = format!("{tag}-{i}");
        acks.push(
            p.enqueue(
                ProducerRecord::to(topic)
                    .partition(i as i32 % partitions)
                    .value(&v),
            )
            .await
            .unwrap(),
        );
    }
    for a in acks {
        a.await.unwrap();
    }
    p.close(Duration::from_secs(10)).await.unwrap();
}

async fn consumer(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    max_poll_records: usize,
) -> Consumer {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(100);
    cfg.max_poll_records = max_poll_records;
    let c = Consumer::new(cfg).await.unwrap();
    let parts: Vec<(&str, i32)> = (0..partitions).map(|p| (topic, p)).collect();
    c.assign(&parts).unwrap();
    c
}

/// Checks `got` is `tag-0..n` spread round-robin over `partitions`, dense
/// offsets from 0 in each.
fn check(got: &[ConsumerRecord], partitions: i32, n: usize, tag: &str) {
    assert_eq!(got.len(), n);
    let mut per: BTreeMap<i32, Vec<&ConsumerRecord>> = BTreeMap::new();
    for r in got {
        per.entry(r.partition).or_default().push(r);
    }
    for (p, rs) in per {
        for (j, r) in rs.iter().enumerate() {
            assert_eq!(r.offset, j as i64, "partition {p}");
            let i = j * partitions as usize + p as usize;
            assert_eq!(
                r.value.as_deref(),
                Some(format!("{tag}-{i}").as_bytes()),
                "partition {p} offset {j}"
            );
        }
    }
}

purekafka_integration::on_mock_and_kafka! {
fn streams_every_record_once_and_wakes_on_new_ones(broker) {
    let topic = unique_topic("stream-all");
    broker.create_topic(&topic, 3).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 3, 1000, "a").await;
        let c = consumer(broker.bootstrap(), &topic, 3, 64).await;
        let mut stream = c.stream();
        let mut got = Vec::new();
        while got.len() < 1000 {
            let r = tokio::time::timeout(Duration::from_secs(30), stream.next())
                .await
                .expect("stream stalled")
                .expect("stream ended");
            got.push(r.unwrap());
        }
        check(&got, 3, 1000, "a");
        // Nothing more: the next item does not come.
        assert!(
            tokio::time::timeout(Duration::from_millis(700), stream.next())
                .await
                .is_err(),
            "an extra record"
        );

        // Records produced while the stream waits wake it (well before a
        // poll timeout would matter: the stream polls with 10 s here).
        let mut stream = stream.with_poll_timeout(Duration::from_secs(10));
        let waiter = tokio::spawn(async move {
            let t0 = Instant::now();
            let r = stream.next().await;
            (r, t0.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        produce(broker.bootstrap(), &topic, 3, 1, "late").await;
        let (r, waited) = tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .unwrap()
            .unwrap();
        let r = r.expect("stream ended").unwrap();
        assert_eq!(r.value.as_deref(), Some(&b"late-0"[..]));
        assert_eq!((r.partition, r.offset), (0, 334));
        assert!(waited < Duration::from_secs(5), "woke after {waited:?}");
        c.close().await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn dropping_a_stream_gives_back_buffered_records(broker) {
    let topic = unique_topic("stream-drop");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        produce(broker.bootstrap(), &topic, 2, 400, "d").await;
        let c = consumer(broker.bootstrap(), &topic, 2, 100).await;
        let mut got = Vec::new();
        let mut stream = c.stream();
        for _ in 0..10 {
            got.push(
                tokio::time::timeout(Duration::from_secs(30), stream.next())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap(),
            );
        }
        assert!(
            stream.buffered() > 0,
            "the poll should have returned more than 10 records"
        );
        drop(stream);
        // The rest through a new stream and plain polls: all 400, each once.
        let mut stream = c.stream();
        for _ in 0..50 {
            got.push(
                tokio::time::timeout(Duration::from_secs(30), stream.next())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap(),
            );
        }
        drop(stream);
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.len() < 400 && Instant::now() < deadline {
            got.extend(c.poll(Duration::from_millis(500)).await.unwrap());
        }
        got.extend(c.poll(Duration::from_millis(300)).await.unwrap());
        check(&got, 2, 400, "d");
        c.close().await.unwrap();
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn stream_ends_when_the_consumer_closes(broker) {
    let topic = unique_topic("stream-close");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let c = consumer(broker.bootstrap(), &topic, 1, 500).await;
        let mut stream = c.stream().with_poll_timeout(Duration::from_millis(200));
        let closer = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            closer.close().await.unwrap();
        });
        let t0 = Instant::now();
        let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("stream did not end after close");
        assert!(end.is_none(), "{end:?}");
        assert!(
            t0.elapsed() >= Duration::from_millis(250),
            "ended before close"
        );
        assert!(stream.next().await.is_none(), "fused");
    });
}
}
