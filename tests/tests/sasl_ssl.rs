//! SASL over TLS against the real Kafka 4.4's SASL_SSL listener: produce and
//! consume in a group with each of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
//! OAUTHBEARER, and a refused login over TLS.

mod sasl_util;

use purekafka::producer::Producer;
use purekafka_integration::{Cluster, Feature, require, rt};
use sasl_util::{producer_config, round_trip, sasl_props};
use std::time::Duration;

#[test]
fn produce_and_consume_in_a_group_with_every_mechanism_over_tls() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    require!(c, Feature::Tls);
    for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] {
        round_trip(c, "SASL_SSL", m, "admin", 200);
    }
}

#[test]
fn a_wrong_password_over_tls_is_refused_naming_the_mechanism() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    require!(c, Feature::Tls);
    let props = sasl_props(c, "SASL_SSL", "SCRAM-SHA-512", "alice", "wrong-Tls-Pw-19");
    let r = rt().block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            Producer::new(producer_config(&props).unwrap()),
        )
        .await
        .expect("a refused login must fail, not hang")
    });
    let Err(e) = r else {
        panic!("the broker accepted a wrong password")
    };
    let s = e.to_string();
    assert!(
        s.contains("SCRAM-SHA-512") && s.contains("authentication"),
        "{s}"
    );
    assert!(!s.contains("wrong-Tls-Pw-19"), "{s}");
    assert!(!e.is_retriable(), "{e:?}");
}
