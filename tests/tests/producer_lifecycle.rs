//! What happens around a producer's records rather than to them: dropping
//! the last handle without `close()`, and a delivery callback that panics.
//! Each test owns a private mock broker, so the connections counted in
//! /proc/net/tcp are this test's own.

use purekafka::config::ProducerConfig;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::{Cluster as Broker, PeerClient, connections_to, port_of, unique_topic};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[test]
fn dropping_the_last_producer_handle_delivers_what_was_sent_then_closes_its_connections() {
    const N: usize = 2_000;
    let broker = Broker::mock_private(1).unwrap();
    let topic = unique_topic("drop-producer");
    broker.create_topic(&topic, 3).unwrap();
    let port = port_of(broker.bootstrap());
    let rt = rt();
    rt.block_on(async {
        let p = Producer::new(
            ProducerConfig::new(broker.bootstrap()).linger(Duration::from_millis(50)),
        )
        .await
        .unwrap();
        let clone = p.clone();
        let mut futures = Vec::with_capacity(N);
        for i in 0..N {
            let v = format!("v{i}");
            futures.push(
                clone
                    .enqueue(ProducerRecord::to(&topic).value(&v))
                    .await
                    .unwrap(),
            );
        }
        assert!(
            connections_to(port) > 0,
            "the producer holds no connection to the broker"
        );
        // No flush, no close: the last handles go while records are buffered.
        drop(p);
        drop(clone);
        for (i, f) in futures.into_iter().enumerate() {
            tokio::time::timeout(Duration::from_secs(30), f)
                .await
                .unwrap_or_else(|_| {
                    panic!("record {i} never resolved after the producer was dropped")
                })
                .unwrap_or_else(|e| {
                    panic!("record {i} failed after the producer was dropped: {e}")
                });
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while connections_to(port) > 0 {
            assert!(
                Instant::now() < deadline,
                "{} connections still open 10 s after the last producer handle was dropped",
                connections_to(port)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let got = broker
        .peer_consume(&topic, PeerClient::Confluent, N, Duration::from_secs(30))
        .unwrap();
    assert_eq!(got.len(), N);
}

#[test]
fn a_panicking_delivery_callback_does_not_stop_the_producer() {
    const N: usize = 500;
    let broker = Broker::mock_private(1).unwrap();
    let topic = unique_topic("panic-callback");
    broker.create_topic(&topic, 1).unwrap();
    let rt = rt();
    rt.block_on(async {
        let p =
            Producer::new(ProducerConfig::new(broker.bootstrap()).linger(Duration::from_millis(5)))
                .await
                .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        for i in 0..N {
            let ran = ran.clone();
            let v = format!("v{i}");
            p.send_with_callback(ProducerRecord::to(&topic).value(&v), move |r| {
                r.unwrap();
                ran.fetch_add(1, Ordering::SeqCst);
                if i % 100 == 0 {
                    panic!("the application's callback panics on record {i}");
                }
            })
            .await
            .unwrap();
        }
        tokio::time::timeout(Duration::from_secs(20), p.flush())
            .await
            .expect("flush hung after a callback panicked")
            .unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            N,
            "callbacks after the panicking one did not run"
        );
        // The producer still works.
        let d = tokio::time::timeout(
            Duration::from_secs(10),
            p.enqueue(ProducerRecord::to(&topic).value("after"))
                .await
                .unwrap(),
        )
        .await
        .expect("a send after the panic never resolved")
        .unwrap();
        assert_eq!(d.offset, N as i64);
        p.close(Duration::from_secs(5)).await.unwrap();
    });
}

#[test]
fn close_timing_out_says_which_records_were_possibly_written() {
    let broker = Broker::mock_private(1).unwrap();
    let topic = unique_topic("close-possibly");
    broker.create_topic(&topic, 1).unwrap();
    let rt = rt();
    rt.block_on(async {
        let mut cfg = ProducerConfig::new(broker.bootstrap()).linger(Duration::from_millis(1));
        cfg.client.request_timeout = Duration::from_secs(30);
        let p = Producer::new(cfg).await.unwrap();
        // Warm up (metadata, producer id), then the broker goes slow.
        p.send(ProducerRecord::to(&topic).value("warm"))
            .await
            .unwrap();
        broker.set_rtt(-1, 5_000).unwrap();
        let mut futures = Vec::new();
        for i in 0..50 {
            let v = format!("v{i}");
            futures.push(
                p.enqueue(ProducerRecord::to(&topic).value(&v))
                    .await
                    .unwrap(),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let e = p.close(Duration::from_millis(300)).await.unwrap_err();
        assert!(e.to_string().contains("close"), "{e}");
        let mut possibly = 0;
        for f in futures {
            match f.await {
                Err(purekafka::Error::PossiblyWritten {
                    ref topic,
                    partition,
                    ..
                }) => {
                    assert_eq!((topic.as_str(), partition), (topic.as_str(), 0));
                    possibly += 1;
                }
                Err(purekafka::Error::Closed(_)) => {}
                other => panic!("a record in flight at a timed-out close: {other:?}"),
            }
        }
        assert!(possibly > 0, "no record was reported as possibly written");
    });
    broker.set_rtt(-1, 0).unwrap();
}

#[test]
fn a_producer_id_refused_for_authorization_fails_those_records_and_recovers_once_allowed() {
    const INIT_PRODUCER_ID: i16 = 22;
    const CLUSTER_AUTHORIZATION_FAILED: i32 = 31;
    let broker = Broker::mock_private(1).unwrap();
    let topic = unique_topic("pid-denied");
    broker.create_topic(&topic, 1).unwrap();
    broker
        .push_request_errors(INIT_PRODUCER_ID, &[CLUSTER_AUTHORIZATION_FAILED; 2])
        .unwrap();
    let rt = rt();
    rt.block_on(async {
        let mut cfg = ProducerConfig::new(broker.bootstrap());
        cfg.client.retry_backoff_max = Duration::from_millis(300);
        let p = Producer::new(cfg).await.unwrap();
        let first = p
            .enqueue(ProducerRecord::to(&topic).value("denied"))
            .await
            .unwrap();
        let e = tokio::time::timeout(Duration::from_secs(10), first)
            .await
            .expect("a record waiting for a refused producer id never resolved")
            .unwrap_err();
        assert_eq!(
            e.code(),
            Some(purekafka::ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
            "{e}"
        );
        assert!(e.to_string().contains("InitProducerId"), "{e}");
        // What to do: the grant (or turning idempotence off).
        assert!(e.to_string().contains("IDEMPOTENT_WRITE"), "{e}");
        // The ACL is granted (the pushed errors get used up): a later record
        // goes through; until then each fails with the same cause.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let f = p
                .enqueue(ProducerRecord::to(&topic).value("later"))
                .await
                .expect("the producer stayed fatal after a refused producer id");
            match tokio::time::timeout(Duration::from_secs(10), f)
                .await
                .expect("never resolved")
            {
                Ok(d) => {
                    assert_eq!(
                        d.offset, 0,
                        "only the records after the refusal are written"
                    );
                    break;
                }
                Err(e) => assert_eq!(
                    e.code(),
                    Some(purekafka::ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
                    "{e}"
                ),
            }
            assert!(
                Instant::now() < deadline,
                "no record went through after the refusals ended"
            );
        }
        p.close(Duration::from_secs(5)).await.unwrap();
    });
}

#[test]
fn an_idle_producer_refreshes_metadata_every_metadata_max_age() {
    const METADATA: i16 = 3;
    let broker = Broker::mock_private(1).unwrap();
    let topic = unique_topic("md-age");
    broker.create_topic(&topic, 1).unwrap();
    let rt = rt();
    rt.block_on(async {
        let p = Producer::new(
            ProducerConfig::from_properties([
                ("bootstrap.servers", broker.bootstrap()),
                ("metadata.max.age.ms", "300"),
            ])
            .unwrap(),
        )
        .await
        .unwrap();
        p.send(ProducerRecord::to(&topic).value("x")).await.unwrap();
        broker.start_request_tracking().unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let n = broker
            .mock_requests()
            .unwrap()
            .iter()
            .filter(|r| r.api_key == METADATA)
            .count();
        assert!(
            (3..=20).contains(&n),
            "{n} Metadata requests in 2 s with metadata.max.age.ms=300"
        );
        p.close(Duration::from_secs(5)).await.unwrap();
    });
}
