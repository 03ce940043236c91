//! Typed producing and consuming over serde against the mock cluster: serde
//! structs in, the same structs out; a record that is not JSON comes back as
//! a per-record error while the records around it decode.

// Test helpers outside #[test] fns: panicking is how they fail a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use purekafka::Error;
use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::Consumer;
use purekafka::producer::{Header, Producer, ProducerRecord};
use purekafka::serde::{
    Json, Raw, TypedConsumer, TypedProducer, TypedProducerRecord, TypedRecord, Utf8String,
};
use purekafka_integration::rt;
use purekafka_integration::unique_topic;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    items: Vec<Item>,
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Item {
    sku: String,
    quantity: u32,
    price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct OrderKey {
    region: String,
    id: u64,
}

fn order(i: u64) -> Order {
    Order {
        id: i,
        customer: format!("customer-{i} \u{e9}\"quoted\""),
        items: (0..i % 3 + 1)
            .map(|j| Item {
                sku: format!("sku-{j}"),
                quantity: j as u32 + 1,
                price_cents: 995 * j as i64,
            })
            .collect(),
        note: i.is_multiple_of(2).then(|| "gift".to_string()),
    }
}

fn key(i: u64) -> OrderKey {
    OrderKey {
        region: "eu".into(),
        id: i,
    }
}

async fn consumer(bootstrap: &str, topic: &str, partitions: i32) -> Consumer {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(100);
    let c = Consumer::new(cfg).await.unwrap();
    let parts: Vec<(&str, i32)> = (0..partitions).map(|p| (topic, p)).collect();
    c.assign(&parts).unwrap();
    c
}

async fn poll_n<K, V>(c: &TypedConsumer<K, V>, n: usize) -> Vec<TypedRecord<K, V>>
where
    Json: purekafka::serde::Deserializer<K> + purekafka::serde::Deserializer<V>,
{
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < n && Instant::now() < deadline {
        out.extend(c.poll(Duration::from_millis(500)).await.unwrap());
    }
    // Nothing more arrives.
    out.extend(c.poll(Duration::from_millis(300)).await.unwrap());
    out
}

purekafka_integration::on_mock_and_kafka! {
fn structs_round_trip_and_a_bad_record_is_a_per_record_error(broker) {
    let topic = unique_topic("typed-serde");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let producer = Producer::new(ProducerConfig::new(broker.bootstrap())).await.unwrap();
        let typed: TypedProducer<OrderKey, Order> = TypedProducer::new(producer.clone());
        // Offsets 0..3: typed, each awaited until written.
        for i in 0..3 {
            let d = typed.send(&topic, Some(&key(i)), Some(&order(i))).await.unwrap();
            assert_eq!(d.offset, i as i64);
        }
        let mut acks = Vec::new();
        // Offset 3: a value that is not JSON, sent untyped (enqueued, awaited below).
        let bad_key = serde_json::to_vec(&key(3)).unwrap();
        acks.push(producer.enqueue(ProducerRecord::to(&topic).key(&bad_key).value(b"{\"id\": 3, oops")).await.unwrap());
        // Offset 4: a key that is not JSON with a good value.
        let good_value = serde_json::to_vec(&order(4)).unwrap();
        acks.push(producer.enqueue(ProducerRecord::to(&topic).key(b"\xff\xfe").value(&good_value)).await.unwrap());
        // Offset 5: headers, partition and timestamp through the record builder.
        let headers = [Header::new("trace", Some("abc".into()))];
        let (k5, v5) = (key(5), order(5));
        let rec = TypedProducerRecord::to(&topic).key(&k5).value(&v5).partition(0).headers(&headers).timestamp(1_700_000_000_005);
        assert_eq!(typed.send_record(rec).await.unwrap().offset, 5);
        for (i, a) in acks.into_iter().enumerate() {
            assert_eq!(a.await.unwrap().offset, i as i64 + 3);
        }
        // Offset 6: a tombstone (null value), offset 7: null key.
        assert_eq!(typed.send(&topic, Some(&key(6)), None).await.unwrap().offset, 6);
        assert_eq!(typed.send(&topic, None, Some(&order(7))).await.unwrap().offset, 7);

        let c: TypedConsumer<OrderKey, Order> = TypedConsumer::new(consumer(broker.bootstrap(), &topic, 1).await);
        let got = poll_n(&c, 8).await;
        assert_eq!(got.len(), 8, "{got:#?}");
        for (i, r) in got.iter().enumerate() {
            assert_eq!((r.partition, r.offset), (0, i as i64), "order");
            let i = i as u64;
            match i {
                3 => {
                    assert_eq!(r.key.as_ref().unwrap().as_ref(), Some(&key(3)), "the key of the bad record still decodes");
                    let e = r.value.as_ref().unwrap_err();
                    assert!(matches!(e, Error::Serialization(m) if m.contains("value") && m.contains(&topic) && m.contains("JSON")), "{e}");
                    assert_eq!(r.raw_value.as_deref(), Some(&b"{\"id\": 3, oops"[..]), "raw bytes kept");
                }
                4 => {
                    let e = r.key.as_ref().unwrap_err();
                    assert!(e.to_string().contains("key"), "{e}");
                    assert_eq!(r.value.as_ref().unwrap().as_ref(), Some(&order(4)));
                }
                6 => {
                    assert_eq!(r.key.as_ref().unwrap().as_ref(), Some(&key(6)));
                    assert!(matches!(r.value, Ok(None)), "tombstone: {:?}", r.value);
                }
                7 => {
                    assert!(matches!(r.key, Ok(None)), "null key: {:?}", r.key);
                    assert_eq!(r.value.as_ref().unwrap().as_ref(), Some(&order(7)));
                }
                _ => {
                    assert!(r.is_ok(), "{r:#?}");
                    assert_eq!(r.key.as_ref().unwrap().as_ref(), Some(&key(i)));
                    assert_eq!(r.value.as_ref().unwrap().as_ref(), Some(&order(i)));
                }
            }
        }
        let r5 = &got[5];
        assert_eq!(r5.timestamp, 1_700_000_000_005);
        assert_eq!(r5.headers.get(b"trace").and_then(|h| h.value).as_deref(), Some(&b"abc"[..]));
        c.close().await.unwrap();
        typed.close(Duration::from_secs(10)).await.unwrap();
    });
}
}

/// A map with tuple keys has no JSON form.
#[derive(Serialize)]
struct Unjsonable {
    by_pair: BTreeMap<(u8, u8), u32>,
}

purekafka_integration::on_mock_and_kafka! {
fn serialization_errors_send_nothing_and_unsized_types_work(broker) {
    let topic = unique_topic("typed-serde-errors");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        let producer = Producer::new(ProducerConfig::new(broker.bootstrap())).await.unwrap();
        let bad: TypedProducer<str, Unjsonable> = TypedProducer::new(producer.clone());
        let v = Unjsonable { by_pair: [((1, 2), 3)].into_iter().collect() };
        let e = bad.send(&topic, Some("k"), Some(&v)).await.unwrap_err();
        assert!(matches!(&e, Error::Serialization(m) if m.starts_with("value: ") && m.contains(&topic) && m.contains("key must be a string")), "{e}");
        let e = bad.try_enqueue(TypedProducerRecord::to(&topic).key("k").value(&v)).unwrap_err();
        assert!(matches!(e, Error::Serialization(_)), "{e}");

        // Text keys, byte values: unsized types, no JSON.
        let text: TypedProducer<str, [u8], Utf8String, Raw> = TypedProducer::new(producer.clone());
        let mut acks = Vec::new();
        for i in 0..20u8 {
            let k = format!("k{i}");
            acks.push(text.enqueue(TypedProducerRecord::to(&topic).key(k.as_str()).value(&[i, 0, 255][..]).partition(1)).await.unwrap());
        }
        text.flush().await.unwrap();
        for (i, a) in acks.into_iter().enumerate() {
            assert_eq!(a.await.unwrap().offset, i as i64);
        }

        let c = consumer(broker.bootstrap(), &topic, 2).await;
        let c: TypedConsumer<String, bytes::Bytes, Utf8String, Raw> = TypedConsumer::with_deserializers(c, Utf8String, Raw);
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.len() < 20 && Instant::now() < deadline {
            got.extend(c.poll(Duration::from_millis(500)).await.unwrap());
        }
        got.extend(c.poll(Duration::from_millis(300)).await.unwrap());
        // The failed sends wrote nothing: only the 20 good records, all on partition 1.
        assert_eq!(got.len(), 20);
        for (i, r) in got.iter().enumerate() {
            assert_eq!((r.partition, r.offset), (1, i as i64));
            assert_eq!(r.key.as_ref().unwrap().as_deref(), Some(format!("k{i}").as_str()));
            assert_eq!(r.value.as_ref().unwrap().as_deref(), Some(&[i as u8, 0, 255][..]));
        }
        c.close().await.unwrap();
        producer.close(Duration::from_secs(10)).await.unwrap();
    });
}
}
