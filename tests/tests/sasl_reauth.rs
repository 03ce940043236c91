//! KIP-368 re-authentication against the real Kafka 4.4: the harness's
//! broker ends SASL sessions after 20 s (`connections.max.reauth.ms`), and
//! closes a connection whose session has ended at its next request. A
//! client that re-authenticates in time keeps its connections: requests on
//! one connection for longer than a session all succeed, and a producer
//! that keeps producing past it never opens another connection.

mod sasl_util;

use purekafka::config::ClientConfig;
use purekafka::net::{ConnOptions, Connection};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::security::sasl::SaslSession;
use purekafka_integration::{Cluster, Feature, port_of, require, rt, unique_topic};
use purekafka_protocol::messages::MetadataRequest;
use sasl_util::{producer_config, sasl_props};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tests watch this process's connections to the SASL listener: one
/// at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The SASL session of a SASL_PLAINTEXT client with the `sasl.*` of these
/// properties.
fn session(props: &[(String, String)]) -> Arc<SaslSession> {
    let mut c = ClientConfig::default();
    c.set("security.protocol", "SASL_PLAINTEXT").unwrap();
    for (k, v) in props {
        if k.starts_with("sasl.") {
            c.set(k, v).unwrap();
        }
    }
    SaslSession::from_client(&c)
        .unwrap()
        .expect("SASL_PLAINTEXT authenticates")
}

/// Local ports of this process's established connections to 127.0.0.1:`port`.
fn local_ports_to(port: u16) -> BTreeSet<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&want.as_str()) && f.get(3) == Some(&"01"))
                .then(|| f.get(1).map(|s| s.to_string()))
                .flatten()
        })
        .collect()
}

#[test]
fn one_connection_serves_requests_past_its_session_lifetime() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    let addr = c.listener("SASL_PLAINTEXT").unwrap();
    rt().block_on(async {
        for m in ["SCRAM-SHA-256", "OAUTHBEARER"] {
            let props = sasl_props(c, "SASL_PLAINTEXT", m, "admin", c.secret("admin").unwrap());
            let opts = ConnOptions {
                sasl: Some(session(&props)),
                ..ConnOptions::default()
            };
            let conn = Connection::connect(addr, addr, opts).await.unwrap();
            // Sessions last 20 s; requests for 26 s on this one connection.
            let t0 = Instant::now();
            let mut n = 0;
            while t0.elapsed() < Duration::from_secs(26) {
                conn.send(&MetadataRequest::default())
                    .await
                    .unwrap_or_else(|e| {
                        panic!("{m}: request {n} at {:?} failed: {e}", t0.elapsed())
                    });
                n += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            assert!(!conn.is_closed(), "{m}");
        }
    });
}

#[test]
fn a_producer_keeps_its_connections_across_re_authentication() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    let topic = unique_topic("sasl-reauth");
    c.create_topic(&topic, 2).unwrap();
    let props = sasl_props(
        c,
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
        "admin",
        c.secret("admin").unwrap(),
    );
    let port = port_of(c.listener("SASL_PLAINTEXT").unwrap());
    rt().block_on(async {
        let p = Producer::new(producer_config(&props).unwrap())
            .await
            .unwrap();
        let t0 = Instant::now();
        let mut seen = BTreeSet::new();
        let mut n = 0u64;
        while t0.elapsed() < Duration::from_secs(30) {
            let v = n.to_string();
            p.send(ProducerRecord::to(&topic).value(&v))
                .await
                .unwrap_or_else(|e| panic!("record {n} at {:?}: {e}", t0.elapsed()));
            n += 1;
            if t0.elapsed() > Duration::from_secs(2) {
                seen.extend(local_ports_to(port));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Bootstrap and leader connections, opened in the first seconds; a
        // connection closed for an ended session would add a port.
        let at_end = local_ports_to(port);
        assert!(
            seen.is_subset(&at_end) && !at_end.is_empty(),
            "connections changed: seen {seen:?}, open at the end {at_end:?}"
        );
        p.close(Duration::from_secs(10)).await.unwrap();
    });
}
