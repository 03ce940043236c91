//! The TLS key and its password never show: clients are configured with an
//! inline encrypted key and its password (right, then wrong), with a
//! garbled inline key, and connect to the real Kafka 4.4's mTLS listener
//! with every tracing event and span recorded at TRACE level; then every
//! output path is searched for the password and for every line of the
//! key's PEM body: the configs' `Debug`, config errors (`Display`, `Debug`),
//! client errors, and the logs.

use purekafka::config::ProducerConfig;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::{Cluster, Feature, TraceCapture, require, rt, unique_topic};
use std::fmt::Write as _;
use std::time::Duration;

const WRONG: &str = "Wr0ng-Tls-Key-Pw-58";

#[test]
fn no_key_or_key_password_in_debug_errors_or_logs() {
    let c = Cluster::kafka();
    require!(c, Feature::Tls);
    let capture = TraceCapture::install();
    let password = c.secret("client_key_password").unwrap();
    let read = |name: &str| std::fs::read_to_string(c.cert(name).unwrap()).unwrap();
    let encrypted = read("client_key_encrypted");
    let plain = read("client_key");
    let body_lines: Vec<String> = encrypted
        .lines()
        .chain(plain.lines())
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
        .map(str::to_owned)
        .collect();
    let props = |key_pem: &str, password: &str| -> Vec<(String, String)> {
        vec![
            (
                "bootstrap.servers".into(),
                c.listener("SSL").unwrap().into(),
            ),
            ("security.protocol".into(), "ssl".into()),
            (
                "ssl.ca.location".into(),
                c.cert("ca").unwrap().display().to_string(),
            ),
            ("ssl.certificate.pem".into(), read("client_cert")),
            ("ssl.key.pem".into(), key_pem.into()),
            ("ssl.key.password".into(), password.into()),
        ]
    };
    let config = |p: &[(String, String)]| {
        ProducerConfig::from_properties(p.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    };
    let mut out = String::new();

    // The right password: a producer connects over mTLS and writes.
    let good = config(&props(&encrypted, password)).expect("valid TLS config");
    let _ = writeln!(out, "{good:?} {:?}", good.client);
    let topic = unique_topic("tls-secrets");
    c.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let p = Producer::new(good).await.expect("producer over mTLS");
        let _ = p
            .send(ProducerRecord::to(&topic).value("v"))
            .await
            .expect("sent");
        p.flush().await.expect("delivered");
        let _ = writeln!(out, "{:?}", p.metrics());
        p.close(Duration::from_secs(10)).await.unwrap();
    });

    // The wrong password, and a garbled key: config errors.
    let garbled = plain.replace('A', "!");
    for bad in [props(&encrypted, WRONG), props(&garbled, "")] {
        let e = config(&bad).expect_err("a bad key must be a config error");
        assert_eq!(e.property, "ssl.key.pem", "{e}");
        let _ = writeln!(out, "{e} {e:?}");
        // Set one property at a time, then validate: the same.
        let mut cfg = ProducerConfig::default();
        for (k, v) in &bad {
            cfg.set(k, v).expect("each value parses alone");
        }
        let _ = writeln!(out, "{cfg:?}");
        let e = cfg
            .validate()
            .expect_err("validate builds the TLS settings");
        let _ = writeln!(out, "{e} {e:?}");
    }
    assert!(
        out.contains("ssl.key.password"),
        "the wrong password was reported: {out}"
    );

    let logs = capture.text();
    assert!(!logs.is_empty(), "tracing recorded nothing");
    for (what, text) in [("output", &out), ("logs", &logs)] {
        for secret in [password, WRONG] {
            assert!(!text.contains(secret), "{what} shows a key password");
        }
        for line in &body_lines {
            assert!(
                !text.contains(line.as_str()),
                "{what} shows a line of a private key"
            );
        }
    }
}
