//! The client's network layer against librdkafka's mock cluster: bootstrap,
//! metadata, pipelining, version negotiation, and failures that must end in
//! an error rather than a hang.

use purekafka::Error;
use purekafka::net::{Cluster, ClusterOptions, ConnOptions, Connection};
use purekafka_integration::rt;
use purekafka_integration::{Cluster as Broker, unique_topic};
use purekafka_protocol::ApiKey;
use purekafka_protocol::messages::MetadataRequest;
use std::time::Duration;

fn opts(bootstrap: &str) -> ClusterOptions {
    ClusterOptions {
        bootstrap: bootstrap.split(',').map(str::to_string).collect(),
        conn: ConnOptions {
            request_timeout: Duration::from_secs(5),
            ..Default::default()
        },
        reconnect_backoff: Duration::from_millis(20),
        reconnect_backoff_max: Duration::from_millis(200),
        metadata_max_age: Duration::from_secs(300),
        allow_auto_create_topics: false,
    }
}

purekafka_integration::on_mock_and_kafka! {
fn bootstraps_and_reads_topic_metadata(broker: 3) {
    let topic = unique_topic("net-md");
    broker.create_topic(&topic, 6).unwrap();
    rt().block_on(async {
        // A bad first entry is skipped: any reachable entry is enough.
        let cluster = Cluster::connect(opts(&format!("127.0.0.1:1,{}", broker.bootstrap())))
            .await
            .unwrap();
        let md = cluster.metadata();
        assert_eq!(md.brokers.len(), broker.brokers(), "{md:?}");
        let t = cluster.topic(&topic, Duration::from_secs(5)).await.unwrap();
        assert_eq!(t.partitions.len(), 6);
        for p in &t.partitions {
            assert!(
                md.brokers.contains_key(&p.leader)
                    || cluster.metadata().brokers.contains_key(&p.leader)
            );
            let conn = cluster.broker(p.leader).await.unwrap();
            assert!(!conn.is_closed());
        }
        // The mock answers ApiVersions v3+ with UNSUPPORTED_VERSION: the
        // connection fell back and still negotiated modern versions.
        let conn = cluster.any_broker().await.unwrap();
        assert!(conn.version_for(ApiKey::Metadata).unwrap() >= 9);
        assert!(conn.version_for(ApiKey::Produce).unwrap() >= 7);
    });
}
}

purekafka_integration::on_mock_and_kafka! {
fn unknown_topic_is_a_clear_error(broker) {
    rt().block_on(async {
        let cluster = Cluster::connect(opts(broker.bootstrap())).await.unwrap();
        let e = cluster
            .topic("no-such-topic-here", Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no-such-topic-here"), "{e}");
    });
}
}

#[test]
fn unreachable_bootstrap_fails_fast_with_the_servers_named() {
    rt().block_on(async {
        let start = std::time::Instant::now();
        let e = Cluster::connect(opts("127.0.0.1:1,127.0.0.1:2"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::BootstrapUnreachable { .. }), "{e:?}");
        let s = e.to_string();
        assert!(
            s.contains("127.0.0.1:1") && s.contains("127.0.0.1:2"),
            "{s}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        let e = Cluster::connect(opts("")).await.unwrap_err();
        assert!(e.to_string().contains("bootstrap.servers"), "{e}");
    });
}

purekafka_integration::on_mock_and_kafka! {
fn many_pipelined_requests_on_one_connection_all_complete(broker) {
    rt().block_on(async {
        let addr = broker.bootstrap().split(',').next().unwrap().to_string();
        let conn = Connection::connect(
            &addr,
            "test",
            ConnOptions {
                max_in_flight: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let c = conn.clone();
            tasks.push(tokio::spawn(async move {
                c.send(&MetadataRequest {
                    topics: Some(vec![]),
                    ..Default::default()
                })
                .await
            }));
        }
        for t in tasks {
            let resp = t.await.unwrap().unwrap();
            assert_eq!(resp.brokers.len(), 1);
        }
        // Dropping a pending future is safe: the connection keeps working.
        let c = conn.clone();
        let fut = async move { c.send(&MetadataRequest::default()).await };
        drop(fut);
        let pending = tokio::spawn({
            let c = conn.clone();
            async move { c.send(&MetadataRequest::default()).await }
        });
        pending.abort();
        assert!(
            conn.send(&MetadataRequest {
                topics: Some(vec![]),
                ..Default::default()
            })
            .await
            .is_ok()
        );
    });
}
}

#[test]
fn slow_broker_times_out_and_a_dead_one_fails_every_request() {
    let broker = Broker::mock_private(1).unwrap();
    let addr = broker.bootstrap().split(',').next().unwrap().to_string();
    rt().block_on(async {
        let conn = Connection::connect(
            &addr,
            "slow",
            ConnOptions {
                request_timeout: Duration::from_millis(300),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        broker.set_rtt(-1, 1500).unwrap();
        let start = std::time::Instant::now();
        let e = conn.send(&MetadataRequest::default()).await.unwrap_err();
        assert!(matches!(e, Error::RequestTimeout { .. }), "{e:?}");
        assert!(
            start.elapsed() < Duration::from_millis(1400),
            "timed out late: {:?}",
            start.elapsed()
        );
        assert!(e.to_string().contains("Metadata"), "{e}");
        broker.set_rtt(-1, 0).unwrap();

        // Broker goes down with requests in flight: each fails, none hangs.
        let conn = Connection::connect(&addr, "dying", ConnOptions::default())
            .await
            .unwrap();
        broker.set_rtt(-1, 500).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let c = conn.clone();
            tasks.push(tokio::spawn(async move {
                c.send(&MetadataRequest::default()).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        broker.broker_down(-1).unwrap();
        for t in tasks {
            let r = tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("request hung")
                .unwrap();
            assert!(r.is_err(), "request succeeded on a dead broker");
        }
        broker.broker_up(-1).unwrap();
        broker.set_rtt(-1, 0).unwrap();
    });
}
