//! One connection at a time, SASL against the real Kafka 4.4: setup step 4
//! (`purekafka::security::sasl::SaslSession` as the connection's SaslStep)
//! with every mechanism and user, and the errors of a refused login.

use purekafka::Error;
use purekafka::config::ClientConfig;
use purekafka::net::{ConnOptions, Connection, SetupStep};
use purekafka::security::sasl::SaslSession;
use purekafka_integration::{Cluster, Feature, require, rt};
use purekafka_protocol::messages::MetadataRequest;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The SASL session of a SASL_PLAINTEXT client with these properties.
fn session(props: &[(&str, &str)]) -> Arc<SaslSession> {
    let mut c = ClientConfig::default();
    c.set("security.protocol", "SASL_PLAINTEXT").unwrap();
    for (k, v) in props {
        c.set(k, v).unwrap();
    }
    SaslSession::from_client(&c)
        .unwrap()
        .expect("SASL_PLAINTEXT authenticates")
}

fn user_session(mechanism: &str, user: &str, password: &str) -> Arc<SaslSession> {
    if mechanism == "OAUTHBEARER" {
        let jaas = format!(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredLoginStringClaim_sub=\"{user}\";"
        );
        return session(&[("sasl.mechanism", mechanism), ("sasl.jaas.config", &jaas)]);
    }
    session(&[
        ("sasl.mechanism", mechanism),
        ("sasl.username", user),
        ("sasl.password", password),
    ])
}

async fn connect(addr: &str, s: Arc<SaslSession>) -> purekafka::Result<Connection> {
    let opts = ConnOptions {
        sasl: Some(s),
        ..ConnOptions::default()
    };
    Connection::connect(addr, &format!("{addr} (node 1)"), opts).await
}

#[test]
fn every_mechanism_authenticates_and_the_connection_serves_requests() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    let addr = c.listener("SASL_PLAINTEXT").unwrap();
    rt().block_on(async {
        for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] {
            for user in ["admin", "alice"] {
                let conn = connect(addr, user_session(m, user, c.secret(user).unwrap()))
                    .await
                    .unwrap_or_else(|e| panic!("{m} as {user}: {e}"));
                // A request after authentication: the broker answers it.
                let md = conn.send(&MetadataRequest::default()).await.unwrap();
                assert!(!md.brokers.is_empty(), "{m}");
            }
        }
    });
}

#[test]
fn a_refused_login_is_a_setup_error_naming_broker_step_and_mechanism() {
    let c = Cluster::kafka();
    require!(c, Feature::Sasl);
    let addr = c.listener("SASL_PLAINTEXT").unwrap();
    rt().block_on(async {
        for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
            let t0 = Instant::now();
            let e = connect(addr, user_session(m, "bob", "wrong-Pw-7731"))
                .await
                .unwrap_err();
            assert!(t0.elapsed() < Duration::from_secs(10));
            let Error::Setup {
                broker,
                step,
                source,
            } = &e
            else {
                panic!("{m}: {e:?}")
            };
            assert_eq!(*step, SetupStep::Sasl);
            assert!(broker.contains(addr));
            let Error::Authentication { mechanism, reason } = &**source else {
                panic!("{m}: {source:?}")
            };
            assert_eq!(*mechanism, m);
            assert!(reason.contains("sasl.password"), "{reason}");
            assert!(!e.is_retriable());
            let s = format!("{e} {e:?}");
            assert!(!s.contains("wrong-Pw-7731"), "{s}");
        }
    });
}
