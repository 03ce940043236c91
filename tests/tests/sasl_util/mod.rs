//! Helpers of the SASL tests (`sasl_*.rs`): client properties for a user,
//! mechanism and listener, and a produce-then-consume round trip.

#![allow(dead_code)] // each test binary uses its own part

use purekafka::config::{ConsumerConfig, ProducerConfig};
use purekafka::consumer::Consumer;
use purekafka::error::ConfigError;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::{Cluster, rt, unique_topic};
use std::time::{Duration, Instant};

pub const OAUTH_MODULE: &str =
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

/// Client properties for `user` with `mechanism` on `listener` (and, for
/// SASL_SSL, the harness's CA).
pub fn sasl_props(
    c: &Cluster,
    listener: &str,
    mechanism: &str,
    user: &str,
    password: &str,
) -> Vec<(String, String)> {
    let addr = c
        .listener(listener)
        .unwrap_or_else(|| panic!("no {listener} listener"));
    let mut p = vec![
        ("bootstrap.servers".to_string(), addr.to_string()),
        ("security.protocol".into(), listener.into()),
        ("sasl.mechanism".into(), mechanism.into()),
    ];
    if listener == "SASL_SSL" {
        let ca = c.cert("ca").expect("the secured Kafka has a CA");
        p.push(("ssl.ca.location".into(), ca.display().to_string()));
    }
    if mechanism == "OAUTHBEARER" {
        p.push((
            "sasl.jaas.config".into(),
            format!("{OAUTH_MODULE} required unsecuredLoginStringClaim_sub=\"{user}\";"),
        ));
    } else {
        p.push(("sasl.username".into(), user.into()));
        p.push(("sasl.password".into(), password.into()));
    }
    p
}

pub fn producer_config(props: &[(String, String)]) -> Result<ProducerConfig, ConfigError> {
    ProducerConfig::from_properties(props.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

pub fn consumer_config(
    props: &[(String, String)],
    group: &str,
) -> Result<ConsumerConfig, ConfigError> {
    let mut p: Vec<(&str, &str)> = props
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    p.push(("group.id", group));
    p.push(("auto.offset.reset", "earliest"));
    ConsumerConfig::from_properties(p)
}

/// Produces `n` records to a new topic and reads them back in a group,
/// all over `listener` with `mechanism` as `user`.
pub fn round_trip(c: &Cluster, listener: &str, mechanism: &str, user: &str, n: usize) {
    let topic = unique_topic(&format!("sasl-{}", mechanism.to_lowercase()));
    c.create_topic(&topic, 2).unwrap();
    let props = sasl_props(c, listener, mechanism, user, c.secret(user).unwrap());
    rt().block_on(async {
        let p = Producer::new(producer_config(&props).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{mechanism} producer: {e}"));
        let mut acks = Vec::new();
        for i in 0..n {
            let v = format!("{mechanism}-{i}");
            acks.push(
                p.enqueue(ProducerRecord::to(&topic).key(&v).value(&v))
                    .await
                    .unwrap(),
            );
        }
        for a in acks {
            a.await
                .unwrap_or_else(|e| panic!("{mechanism} delivery: {e}"));
        }
        p.close(Duration::from_secs(10)).await.unwrap();

        let group = unique_topic("sasl-group");
        let consumer = Consumer::new(consumer_config(&props, &group).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{mechanism} consumer: {e}"));
        consumer.subscribe(&[&topic]).unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while got.len() < n {
            assert!(
                Instant::now() < deadline,
                "{mechanism}: {} of {n} records consumed in 60 s",
                got.len()
            );
            for r in consumer.poll(Duration::from_millis(500)).await.unwrap() {
                got.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
            }
        }
        got.sort();
        let mut want: Vec<String> = (0..n).map(|i| format!("{mechanism}-{i}")).collect();
        want.sort();
        assert_eq!(got, want, "{mechanism}");
        consumer.commit().await.unwrap();
        consumer.close().await.unwrap();
    });
}
