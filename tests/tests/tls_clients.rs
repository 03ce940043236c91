//! Producers and consumers over TLS against the real Kafka 4.4, configured
//! with the Java/librdkafka property names: the `SSL` listener (client
//! certificate required), `SSL_NOAUTH`, and interop over TLS: the Java
//! client and librdkafka (confluent-kafka) read over TLS what purekafka
//! wrote over TLS, and purekafka reads what Java wrote over TLS.

use purekafka::config::{ConsumerConfig, ProducerConfig};
use purekafka::consumer::Consumer;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::java::{JavaConsume, JavaProduce, java_consume, java_produce};
use purekafka_integration::{Cluster, Feature, Record, python, require, rt, unique_topic};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

fn path(c: &Cluster, name: &str) -> String {
    c.cert(name)
        .unwrap_or_else(|| panic!("no {name} certificate"))
        .display()
        .to_string()
}

/// Properties for `listener`: TLS trusting the harness's CA, with the
/// client certificate (encrypted key) on `SSL`.
fn tls_props(c: &Cluster, listener: &str) -> Vec<(String, String)> {
    let addr = c.listener(listener).expect("listener");
    let mut p = vec![
        ("bootstrap.servers".to_string(), addr.to_string()),
        ("security.protocol".into(), "ssl".into()),
        ("ssl.ca.location".into(), path(c, "ca")),
    ];
    if listener == "SSL" {
        p.push(("ssl.certificate.location".into(), path(c, "client_cert")));
        p.push(("ssl.key.location".into(), path(c, "client_key_encrypted")));
        p.push((
            "ssl.key.password".into(),
            c.secret("client_key_password").unwrap().into(),
        ));
    }
    p
}

fn as_pairs(p: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

fn values(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}-{i:04}")).collect()
}

/// Produces `vals` (key = value) to `topic` over TLS with purekafka.
fn produce(props: &[(String, String)], topic: &str, vals: &[String]) {
    rt().block_on(async {
        let cfg = ProducerConfig::from_properties(as_pairs(props)).expect("producer config");
        let p = Producer::new(cfg).await.expect("producer over TLS");
        for v in vals {
            // Awaited as sent; the consumers check every record arrived.
            let _ = p
                .send(ProducerRecord::to(topic).key(v).value(v))
                .await
                .expect("sent over TLS");
        }
        p.flush().await.expect("delivered over TLS");
        p.close(Duration::from_secs(10)).await.unwrap();
    });
}

/// Reads `n` values of `topic` in a group over TLS with purekafka.
fn consume(props: &[(String, String)], topic: &str, n: usize) -> BTreeSet<String> {
    rt().block_on(async {
        let group = unique_topic("tls-group");
        let mut p: Vec<(&str, &str)> = as_pairs(props).collect();
        p.push(("group.id", &group));
        p.push(("auto.offset.reset", "earliest"));
        let consumer = Consumer::new(ConsumerConfig::from_properties(p).expect("consumer config"))
            .await
            .expect("consumer over TLS");
        consumer.subscribe(&[topic]).unwrap();
        let mut got = BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while got.len() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} consumed in 60 s",
                got.len()
            );
            for r in consumer.poll(Duration::from_millis(500)).await.unwrap() {
                got.insert(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
            }
        }
        consumer.commit().await.unwrap();
        consumer.close().await.unwrap();
        got
    })
}

#[test]
fn produce_and_consume_in_a_group_over_ssl_with_a_required_client_certificate() {
    let c = Cluster::kafka();
    require!(c, Feature::Tls);
    let topic = unique_topic("tls-mtls");
    c.create_topic(&topic, 3).unwrap();
    let props = tls_props(c, "SSL");
    let vals = values("mtls", 300);
    produce(&props, &topic, &vals);
    assert_eq!(
        consume(&props, &topic, vals.len()),
        vals.iter().cloned().collect()
    );
    // Without the certificate the same listener refuses the producer at
    // once, with an error that says why and is not retried.
    let no_cert: Vec<(String, String)> = props
        .iter()
        .filter(|(k, _)| !k.starts_with("ssl.key") && k != "ssl.certificate.location")
        .cloned()
        .collect();
    let started = Instant::now();
    let e = rt().block_on(async {
        let cfg = ProducerConfig::from_properties(as_pairs(&no_cert)).unwrap();
        match Producer::new(cfg).await {
            Ok(_) => panic!("connected without the required client certificate"),
            Err(e) => e,
        }
    });
    assert!(started.elapsed() < Duration::from_secs(10), "{e}");
    assert!(e.to_string().contains("client certificate"), "{e}");
    assert!(!e.is_retriable(), "{e:?}");
}

#[test]
fn java_and_librdkafka_read_over_tls_what_purekafka_wrote_over_tls() {
    let c = Cluster::kafka();
    require!(c, Feature::Tls);
    let topic = unique_topic("tls-interop");
    c.create_topic(&topic, 2).unwrap();
    let vals = values("interop", 200);
    produce(&tls_props(c, "SSL_NOAUTH"), &topic, &vals);
    let want: BTreeSet<String> = vals.iter().cloned().collect();
    let tls_addr = c.listener("SSL_NOAUTH").unwrap().to_string();

    // Java: PEM truststore, the host check on (its default: https).
    let java = JavaConsume {
        extra: vec![
            ("bootstrap.servers".into(), tls_addr.clone()),
            ("security.protocol".into(), "SSL".into()),
            ("ssl.truststore.type".into(), "PEM".into()),
            ("ssl.truststore.location".into(), path(c, "ca")),
        ],
        ..JavaConsume::default()
    };
    let got: BTreeSet<String> = java_consume(c, &topic, &java, vals.len(), Duration::from_secs(60))
        .expect("the Java consumer over TLS")
        .into_iter()
        .map(|r| String::from_utf8(r.record.value.unwrap()).unwrap())
        .collect();
    assert_eq!(got, want, "Java over TLS");

    // librdkafka, through confluent-kafka.
    let script = r#"
import sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, ca, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "security.protocol": "ssl", "ssl.ca.location": ca,
              "ssl.endpoint.identification.algorithm": "https", "group.id": "tls-rdkafka",
              "enable.auto.commit": False, "auto.offset.reset": "earliest"})
md = c.list_topics(topic, timeout=30)
c.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
got = 0
import time
deadline = time.time() + 60
while got < n and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        sys.exit("librdkafka error: %s" % m.error())
    print(m.value().decode())
    got += 1
c.close()
"#;
    let out = Command::new(python())
        .args(["-c", script, &tls_addr, &path(c, "ca"), &topic])
        .arg(vals.len().to_string())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "librdkafka over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want, "librdkafka over TLS");
}

#[test]
fn purekafka_reads_over_tls_what_java_wrote_over_tls() {
    let c = Cluster::kafka();
    require!(c, Feature::Tls);
    let topic = unique_topic("tls-from-java");
    c.create_topic(&topic, 2).unwrap();
    let vals = values("java", 150);
    let records: Vec<Record> = vals
        .iter()
        .map(|v| Record::new(v.clone(), v.clone()))
        .collect();
    let java = JavaProduce {
        extra: vec![
            (
                "bootstrap.servers".into(),
                c.listener("SSL_NOAUTH").unwrap().into(),
            ),
            ("security.protocol".into(), "SSL".into()),
            ("ssl.truststore.type".into(), "PEM".into()),
            ("ssl.truststore.location".into(), path(c, "ca")),
        ],
        ..JavaProduce::default()
    };
    java_produce(c, &topic, &java, &records).expect("the Java producer over TLS");
    // purekafka over the mTLS listener, TLS 1.2 only this time.
    let mut props = tls_props(c, "SSL");
    props.push(("ssl.enabled.protocols".into(), "TLSv1.2".into()));
    assert_eq!(
        consume(&props, &topic, vals.len()),
        vals.iter().cloned().collect()
    );
}
