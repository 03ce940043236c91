//! Passwords and tokens never show: a client is configured with
//! distinctive secrets (a wrong password, a right one, an OAUTHBEARER
//! token), runs produce, consume and refused logins against the real
//! Kafka 4.4 with every tracing event and span recorded at TRACE level, and
//! every output path is searched for the secrets: the configs' `Debug`,
//! config errors (`Display` and `Debug`), client errors, and the logs.

mod sasl_util;

use purekafka::config::{ConsumerConfig, ProducerConfig};
use purekafka::producer::Producer;
use purekafka_integration::{Cluster, Feature, TraceCapture, require};
use sasl_util::{OAUTH_MODULE, consumer_config, producer_config, round_trip, sasl_props};
use std::fmt::Write as _;
use std::time::Duration;

const WRONG: &str = "Wr0ng-Pass-Qx71";
/// The start of every unsecured token (base64url of `{"alg":"none"}`).
const TOKEN_PREFIX: &str = "eyJhbGciOiJub25lIn0";

#[test]
fn no_secret_in_debug_errors_or_logs() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    let capture = TraceCapture::install();
    let admin_pw = c.secret("admin").unwrap();
    let mut out = String::new();

    // Successful clients: PLAIN, SCRAM and OAUTHBEARER, producing and consuming.
    for m in ["PLAIN", "SCRAM-SHA-512", "OAUTHBEARER"] {
        round_trip(c, "SASL_PLAINTEXT", m, "admin", 20);
        let props = sasl_props(c, "SASL_PLAINTEXT", m, "admin", admin_pw);
        let _ = writeln!(out, "{:?}", producer_config(&props).unwrap());
        let _ = writeln!(out, "{:?}", consumer_config(&props, "g").unwrap());
    }

    // Refused logins: the errors, and what the client logged meanwhile.
    for m in ["PLAIN", "SCRAM-SHA-256"] {
        let props = sasl_props(c, "SASL_PLAINTEXT", m, "alice", WRONG);
        let cfg = producer_config(&props).unwrap();
        let _ = writeln!(out, "{cfg:?}");
        let e = purekafka_integration::rt()
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(30), Producer::new(cfg)).await
            })
            .unwrap()
            .err()
            .unwrap();
        let _ = writeln!(out, "{e}\n{e:?}");
    }

    // Config errors around secrets.
    let bad = [
        (
            "sasl.jaas.config",
            format!("{OAUTH_MODULE} required password=\"{WRONG}\""),
        ),
        (
            "sasl.jaas.config",
            format!("Unknown required username=\"u\" password=\"{WRONG}\";"),
        ),
        (
            "sasl.jaas.config",
            format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required password=\"{WRONG}\";"
            ),
        ),
        (
            "sasl.oauthbearer.config",
            format!("principal=a bad={WRONG}"),
        ),
    ];
    for (k, v) in &bad {
        let mut p = vec![
            ("bootstrap.servers", "127.0.0.1:9".to_string()),
            ("security.protocol", "SASL_PLAINTEXT".into()),
            ("enable.sasl.oauthbearer.unsecure.jwt", "true".into()),
        ];
        p.push((k, v.clone()));
        let props = || p.iter().map(|(k, v)| (*k, v.as_str()));
        match ProducerConfig::from_properties(props()) {
            Ok(c) => {
                let _ = writeln!(out, "{c:?}");
                let _ = writeln!(out, "{:?}", c.build().err());
            }
            Err(e) => {
                let _ = writeln!(out, "{e}\n{e:?}");
            }
        }
        if let Err(e) = ConsumerConfig::from_properties(props()) {
            let _ = writeln!(out, "{e}\n{e:?}");
        }
    }

    let logs = capture.text();
    assert!(
        logs.contains("SASL"),
        "the capture saw no SASL log line: is the subscriber installed?\n{logs}"
    );
    for (name, text) in [("output", &out), ("logs", &logs)] {
        for secret in [WRONG, admin_pw, TOKEN_PREFIX] {
            if let Some(i) = text.find(secret) {
                let from = i.saturating_sub(200);
                panic!(
                    "{secret:?} appears in the {name}: ...{}...",
                    &text[from..(i + secret.len() + 50).min(text.len())]
                );
            }
        }
    }
}
