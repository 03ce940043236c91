//! SASL against the real Kafka 4.4's SASL_PLAINTEXT listener: produce and
//! consume (in a group) with each of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
//! OAUTHBEARER (Kafka's unsecured JWS), and each failure provoked: a wrong
//! password (one clear error, at once, no retry storm), an unknown user, a
//! token the broker rejects, GSSAPI.

mod sasl_util;

use purekafka::Error;
use purekafka::config::ProducerConfig;
use purekafka::producer::Producer;
use purekafka_integration::{Cluster, Feature, require, rt};
use sasl_util::{OAUTH_MODULE, producer_config, round_trip, sasl_props};
use std::time::{Duration, Instant};

#[test]
fn produce_and_consume_with_every_mechanism() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] {
        round_trip(c, "SASL_PLAINTEXT", m, "admin", 200);
    }
}

/// Producer::new against a listener with credentials the broker refuses:
/// the error, and how long it took.
fn refused(props: &[(String, String)]) -> (Error, Duration) {
    rt().block_on(async {
        let t0 = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(30),
            Producer::new(producer_config(props).unwrap()),
        )
        .await
        .expect("a refused login must fail, not hang");
        match r {
            Ok(_) => panic!("the broker accepted credentials it must refuse"),
            Err(e) => (e, t0.elapsed()),
        }
    })
}

#[test]
fn a_wrong_password_fails_at_once_naming_the_mechanism_and_the_broker() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    let addr = c.listener("SASL_PLAINTEXT").unwrap();
    for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let props = sasl_props(c, "SASL_PLAINTEXT", m, "alice", "not-alices-password");
        let (e, took) = refused(&props);
        let s = e.to_string();
        assert!(s.contains(m), "{m}: the error names no mechanism: {s}");
        assert!(s.contains(addr), "{m}: the error names no broker: {s}");
        assert!(
            s.contains("sasl.password"),
            "{m}: the error says not what to check: {s}"
        );
        assert!(
            !s.contains("not-alices-password"),
            "{m}: the error shows the password: {s}"
        );
        assert!(
            !e.is_retriable(),
            "{m}: an authentication failure is not retriable: {e:?}"
        );
        assert!(took < Duration::from_secs(10), "{m}: took {took:?}");
    }
    // An unknown user is refused the same way.
    let props = sasl_props(c, "SASL_PLAINTEXT", "SCRAM-SHA-512", "mallory", "x");
    let (e, _) = refused(&props);
    assert!(e.to_string().contains("SCRAM-SHA-512"), "{e}");
}

#[test]
fn a_token_the_broker_rejects_fails_with_its_reason() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    // A token for no one (an empty sub claim): Kafka's unsecured validator
    // refuses it and says why.
    let mut props = sasl_props(c, "SASL_PLAINTEXT", "OAUTHBEARER", "admin", "");
    props.retain(|(k, _)| k != "sasl.jaas.config");
    props.push((
        "sasl.jaas.config".into(),
        format!("{OAUTH_MODULE} required unsecuredLoginStringClaim_sub=\"\";"),
    ));
    let (e, took) = refused(&props);
    let s = e.to_string();
    assert!(s.contains("OAUTHBEARER") && s.contains("token"), "{s}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn gssapi_is_a_config_error_that_says_why() {
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "127.0.0.1:9"),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "GSSAPI"),
    ])
    .and_then(|c| c.build().map(drop))
    .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("sasl.mechanism") && s.contains("Kerberos"),
        "{s}"
    );
}

#[test]
fn sasl_without_a_mechanism_or_credentials_is_a_config_error() {
    for props in [
        vec![("security.protocol", "SASL_PLAINTEXT")],
        vec![
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-256"),
        ],
    ] {
        let mut p = vec![("bootstrap.servers", "127.0.0.1:9")];
        p.extend(props);
        let e = ProducerConfig::from_properties(p)
            .and_then(|c| c.build().map(drop))
            .unwrap_err();
        assert!(e.to_string().contains("sasl."), "{e}");
    }
}
