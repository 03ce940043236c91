//! A raw-TCP broker that misbehaves (`purekafka_integration::bad_broker`):
//! a wrong correlation id, an oversized frame, an answer trickled one byte at
//! a time, a broker that accepts and never answers, one that stops reading.
//! Each ends in a clear error within the configured timeouts; nothing hangs;
//! nothing acknowledged is lost.

use purekafka::config::{Acks, ProducerConfig};
use purekafka::net::{Cluster, ClusterOptions, ConnOptions};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::bad_broker::{BadBroker, Misbehave};
use purekafka_integration::rt;
use std::time::{Duration, Instant};

fn opts(bootstrap: &str, request_timeout: Duration) -> ClusterOptions {
    ClusterOptions {
        bootstrap: vec![bootstrap.to_string()],
        conn: ConnOptions {
            request_timeout,
            ..ConnOptions::default()
        },
        reconnect_backoff: Duration::from_millis(20),
        reconnect_backoff_max: Duration::from_millis(200),
        metadata_max_age: Duration::from_secs(60),
        allow_auto_create_topics: false,
    }
}

/// Connects to `broker` and returns the error, failing if it took longer than `within`.
fn connect_error(broker: &BadBroker, request_timeout: Duration, within: Duration) -> String {
    let t0 = Instant::now();
    let r = rt().block_on(async {
        tokio::time::timeout(
            within + Duration::from_secs(5),
            Cluster::connect(opts(&broker.bootstrap(), request_timeout)),
        )
        .await
    });
    let e = match r {
        Err(_) => panic!("connecting to a misbehaving broker hung past {within:?}"),
        Ok(Ok(_)) => panic!("connected to a broker that misbehaves"),
        Ok(Err(e)) => e.to_string(),
    };
    assert!(
        t0.elapsed() <= within,
        "the error took {:?} (limit {within:?}): {e}",
        t0.elapsed()
    );
    e
}

#[test]
fn a_wrong_correlation_id_is_a_clear_error() {
    let b = BadBroker::start(Misbehave::WrongCorrelationId);
    let e = connect_error(&b, Duration::from_secs(5), Duration::from_secs(5));
    assert!(e.contains("correlation id"), "{e}");
    assert!(
        e.contains(&b.bootstrap()),
        "the error names the broker: {e}"
    );
}

#[test]
fn an_oversized_frame_is_refused_before_it_is_read() {
    let b = BadBroker::start(Misbehave::OversizedFrame);
    let e = connect_error(&b, Duration::from_secs(5), Duration::from_secs(5));
    assert!(
        e.to_lowercase().contains("malformed") || e.contains("large"),
        "{e}"
    );
    assert!(
        e.contains(&b.bootstrap()),
        "the error names the broker: {e}"
    );
}

#[test]
fn a_broker_that_never_answers_times_out_within_request_timeout() {
    let b = BadBroker::start(Misbehave::Silent);
    let e = connect_error(&b, Duration::from_millis(800), Duration::from_secs(4));
    assert!(e.contains("timed out") || e.contains("timeout"), "{e}");
    assert!(b.connections() >= 1);
}

#[test]
fn an_answer_trickled_one_byte_at_a_time_still_arrives() {
    let b = BadBroker::start(Misbehave::Trickle(Duration::from_millis(1)));
    let cluster = rt().block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            Cluster::connect(opts(&b.bootstrap(), Duration::from_secs(20))),
        )
        .await
        .expect("a trickled answer hung")
        .expect("a trickled but correct answer is an answer")
    });
    assert_eq!(cluster.metadata().brokers.len(), 1);
}

#[test]
fn acks_0_to_a_broker_that_stops_reading_fails_the_records_instead_of_hanging() {
    let b = BadBroker::start(Misbehave::StopsReading);
    rt().block_on(async {
        let cfg = ProducerConfig::from_properties([
            ("bootstrap.servers", b.bootstrap().as_str()),
            ("acks", "0"),
            ("request.timeout.ms", "1000"),
            ("delivery.timeout.ms", "4000"),
            ("linger.ms", "5"),
            ("max.block.ms", "2000"),
        ])
        .unwrap();
        assert_eq!(cfg.acks, Acks::None);
        let p = Producer::new(cfg).await.unwrap();
        let value = vec![b'x'; 16 * 1024];
        let mut futures = Vec::new();
        // Far more than the socket buffers hold: the writes must stall.
        for _ in 0..4_000 {
            match p.enqueue(ProducerRecord::to("stalled").value(&value)).await {
                Ok(f) => futures.push(f),
                Err(_) => break, // buffer.memory full and max.block.ms passed
            }
        }
        let t0 = Instant::now();
        tokio::time::timeout(Duration::from_secs(30), p.flush())
            .await
            .expect("flush hung on a broker that stopped reading")
            .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(30));
        let mut failed = 0;
        for f in futures {
            if let Err(e) = f.await {
                failed += 1;
                let s = e.to_string();
                assert!(
                    s.contains("delivery.timeout.ms")
                        || s.contains("timed out")
                        || s.contains("stopped reading"),
                    "{s}"
                );
            }
        }
        assert!(
            failed > 0,
            "every record reported written to a broker that read none of them"
        );
        let _ = p.close(Duration::from_secs(5)).await;
    });
}
