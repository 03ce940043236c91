//! Bad input to the producer: each a clear error, no panic, no hang.

use purekafka::Error;
use purekafka::config::ProducerConfig;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::{Cluster as Broker, unique_topic};
use std::time::{Duration, Instant};

#[test]
fn unreachable_bootstrap_list_is_named() {
    rt().block_on(async {
        let start = Instant::now();
        let e = Producer::new(ProducerConfig::new("127.0.0.1:1,127.0.0.1:2"))
            .await
            .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("127.0.0.1:1") && s.contains("bootstrap"), "{s}");
        assert!(start.elapsed() < Duration::from_secs(15));
    });
}

#[test]
fn unknown_property_and_bad_value_name_the_property() {
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "localhost:9092"),
        ("linger.mss", "5"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("linger.mss"), "{e}");
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "localhost:9092"),
        ("acks", "most"),
    ])
    .unwrap_err();
    let s = e.to_string();
    assert!(s.contains("acks") && s.contains("most"), "{s}");
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "localhost:9092"),
        ("compression.type", "brotli"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("compression.type"), "{e}");
}

purekafka_integration::on_mock_and_kafka! {
fn oversize_record_unknown_partition_and_send_after_close(broker) {
    let topic = unique_topic("bad-input");
    broker.create_topic(&topic, 2).unwrap();
    rt().block_on(async {
        let mut cfg = ProducerConfig::new(broker.bootstrap());
        cfg.max_request_size = 10_000;
        let p = Producer::new(cfg).await.unwrap();
        let big = vec![0u8; 20_000];
        let e = p
            .enqueue(ProducerRecord::to(&topic).value(&big))
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::RecordTooLarge { max: 10_000, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("max.request.size"), "{e}");
        let e = p
            .enqueue(ProducerRecord::to(&topic).value("x").partition(7))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no partition 7"), "{e}");
        // A good record still goes through after the bad ones.
        let d = p
            .send(ProducerRecord::to(&topic).value("ok")).await.unwrap();
        assert!(d.offset >= 0);
        p.close(Duration::from_secs(5)).await.unwrap();
        let e = p
            .enqueue(ProducerRecord::to(&topic).value("late"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Closed(_)), "{e}");
        let e = p
            .try_enqueue(ProducerRecord::to(&topic).value("late"))
            .unwrap_err();
        assert!(matches!(e, Error::Closed(_)), "{e}");
    });
}
}

#[test]
fn full_buffer_blocks_enqueue_and_fails_try_enqueue() {
    let broker = Broker::mock_private(1).unwrap();
    let topic = unique_topic("full-buffer");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let mut cfg = ProducerConfig::new(broker.bootstrap());
        cfg.buffer_memory = 64 * 1024;
        cfg.max_block = Duration::from_millis(300);
        cfg.linger = Duration::from_millis(0);
        let p = Producer::new(cfg).await.unwrap();
        p.send(ProducerRecord::to(&topic).value("warm-up"))
            .await
            .unwrap();
        // The broker stops answering: the buffer fills up.
        broker.set_rtt(-1, 3000).unwrap();
        let v = vec![1u8; 1000];
        let mut futures = Vec::new();
        let mut queue_full = false;
        for _ in 0..200 {
            match p.try_enqueue(ProducerRecord::to(&topic).value(&v)) {
                Ok(f) => futures.push(f),
                Err(Error::QueueFull { .. }) => {
                    queue_full = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(queue_full, "try_enqueue never reported a full buffer");
        let start = Instant::now();
        let e = p
            .enqueue(ProducerRecord::to(&topic).value(&v))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::MaxBlockTimeout { .. }), "{e}");
        assert!(
            start.elapsed() >= Duration::from_millis(250),
            "send did not wait max.block.ms"
        );
        broker.set_rtt(-1, 0).unwrap();
        // Nothing buffered is lost once the broker answers again.
        for f in futures {
            f.await.unwrap();
        }
        p.close(Duration::from_secs(10)).await.unwrap();
    });
}
