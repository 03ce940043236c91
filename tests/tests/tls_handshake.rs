//! TLS connection setup against the real Kafka 4.4 listeners, one
//! connection at a time (`Connection::connect` with the TLS step): which
//! settings get through the handshake and ApiVersions, and which fail, how
//! fast, and with what words.
//!
//! The broker's certificate names `localhost` and `127.0.0.1`; it is signed
//! by the harness's CA. The `SSL` listener requires a client certificate,
//! `SSL_NOAUTH` does not. Certificates the broker does not serve (one for
//! another host, an expired one) are served by `openssl s_server`, an
//! independent TLS server, with the harness's keys.

use purekafka::config::Secret;
use purekafka::error::Error;
use purekafka::net::{ConnOptions, Connection};
use purekafka::security::tls::{EndpointIdentification, TlsSettings, TlsVersion};
use purekafka_integration::{Cluster, Feature, cluster_or_skip, require, rt};
use purekafka_protocol::ApiKey;
use purekafka_protocol::messages::MetadataRequest;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn cert(c: &Cluster, name: &str) -> std::path::PathBuf {
    c.cert(name)
        .unwrap_or_else(|| panic!("harness has no {name} certificate"))
        .to_path_buf()
}

fn trusting_ca(c: &Cluster) -> TlsSettings {
    TlsSettings {
        ca_location: Some(cert(c, "ca")),
        ..TlsSettings::default()
    }
}

fn with_client_cert(c: &Cluster) -> TlsSettings {
    TlsSettings {
        certificate_location: Some(cert(c, "client_cert")),
        key_location: Some(cert(c, "client_key")),
        ..trusting_ca(c)
    }
}

fn opts(tls: Option<&TlsSettings>) -> ConnOptions {
    ConnOptions {
        connect_timeout: CONNECT_TIMEOUT,
        request_timeout: Duration::from_secs(10),
        tls: tls.map(|t| {
            Arc::new(t.connector().expect("TLS settings build")) as Arc<dyn purekafka::net::TlsStep>
        }),
        ..ConnOptions::default()
    }
}

/// Connects and asks for metadata: the connection works end to end.
fn connect_and_ask(addr: &str, tls: Option<&TlsSettings>) -> purekafka::Result<Vec<(String, i32)>> {
    rt().block_on(async {
        let conn = Connection::connect(addr, addr, opts(tls)).await?;
        assert!(
            conn.versions().range(ApiKey::Metadata).is_some(),
            "ApiVersions went through"
        );
        let md = conn
            .send(&MetadataRequest {
                topics: Some(vec![]),
                ..Default::default()
            })
            .await?;
        Ok(md
            .brokers
            .iter()
            .map(|b| (b.host.clone(), b.port))
            .collect())
    })
}

/// Connects, expecting a failure; returns it and how long it took.
fn connect_err(addr: &str, tls: Option<&TlsSettings>) -> (Error, Duration) {
    let started = Instant::now();
    let r = connect_and_ask(addr, tls);
    let took = started.elapsed();
    match r {
        Ok(brokers) => panic!("connecting to {addr} should fail, got metadata {brokers:?}"),
        Err(e) => (e, took),
    }
}

fn listener(c: &Cluster, name: &str) -> String {
    c.listener(name)
        .unwrap_or_else(|| panic!("Kafka has no {name} listener"))
        .split(',')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn ssl_with_a_client_certificate_rsa_ec_and_encrypted_keys() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    require!(c, Feature::Tls);
    let addr = listener(c, "SSL");
    let port: i32 = addr.rsplit(':').next().unwrap().parse().unwrap();
    // Plain PKCS#8 RSA key.
    let brokers = connect_and_ask(&addr, Some(&with_client_cert(c))).expect("RSA client cert");
    // Metadata advertises the listener's host: the name later connections
    // check the certificate against.
    assert_eq!(brokers, vec![("127.0.0.1".to_owned(), port)]);
    // EC P-256 key.
    let ec = TlsSettings {
        certificate_location: Some(cert(c, "client_ec_cert")),
        key_location: Some(cert(c, "client_ec_key")),
        ..trusting_ca(c)
    };
    connect_and_ask(&addr, Some(&ec)).expect("EC client cert");
    // Encrypted PKCS#8 with ssl.key.password; inline PEM for all three.
    let inline = TlsSettings {
        ca_pem: Some(std::fs::read_to_string(cert(c, "ca")).unwrap()),
        certificate_pem: Some(std::fs::read_to_string(cert(c, "client_cert")).unwrap()),
        key_pem: Some(Secret::new(
            std::fs::read_to_string(cert(c, "client_key_encrypted")).unwrap(),
        )),
        key_password: Some(Secret::new(c.secret("client_key_password").unwrap())),
        ..TlsSettings::default()
    };
    connect_and_ask(&addr, Some(&inline)).expect("encrypted inline key");
    // The wrong password is a configuration error naming the property.
    let wrong = TlsSettings {
        key_password: Some(Secret::new("not-the-password")),
        ..inline
    };
    let e = wrong
        .connector()
        .expect_err("a wrong key password must fail");
    assert_eq!(e.property, "ssl.key.pem", "{e}");
    assert!(e.reason.contains("ssl.key.password"), "{e}");
}

#[test]
fn tls_1_2_and_1_3_each_work_and_hosts_are_checked_by_name_and_ip() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    require!(c, Feature::Tls);
    let addr = listener(c, "SSL_NOAUTH");
    for v in [TlsVersion::Tls12, TlsVersion::Tls13] {
        let s = TlsSettings {
            versions: vec![v],
            ..trusting_ca(c)
        };
        connect_and_ask(&addr, Some(&s)).unwrap_or_else(|e| panic!("{v:?}: {e}"));
    }
    // By DNS name (SNI sent, the certificate's DNS name matched) and by IP
    // (the certificate's IP name matched).
    let port = addr.rsplit(':').next().unwrap();
    connect_and_ask(&format!("localhost:{port}"), Some(&trusting_ca(c))).expect("localhost");
    connect_and_ask(&format!("127.0.0.1:{port}"), Some(&trusting_ca(c))).expect("127.0.0.1");
    // A CA directory works as well as a file.
    let dir = Path::new(&cert(c, "ca")).parent().unwrap().to_path_buf();
    let s = TlsSettings {
        ca_location: Some(dir),
        ..TlsSettings::default()
    };
    connect_and_ask(&addr, Some(&s)).expect("ssl.ca.location as a directory");
}

#[test]
fn a_required_client_certificate_that_is_missing_fails_clearly() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    require!(c, Feature::Tls);
    let addr = listener(c, "SSL");
    for v in [TlsVersion::Tls12, TlsVersion::Tls13] {
        let s = TlsSettings {
            versions: vec![v],
            ..trusting_ca(c)
        };
        let (e, took) = connect_err(&addr, Some(&s));
        let text = e.to_string();
        assert!(
            took < CONNECT_TIMEOUT + Duration::from_secs(2),
            "{v:?} took {took:?}: {text}"
        );
        assert!(text.contains(&addr), "names the broker: {text}");
        assert!(
            text.to_lowercase().contains("certificate"),
            "{v:?}: says a certificate is the problem: {text}"
        );
        assert!(!e.is_retriable(), "{v:?}: {text}");
    }
}

#[test]
fn an_untrusted_ca_fails_naming_the_trust_settings() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    require!(c, Feature::Tls);
    let addr = listener(c, "SSL_NOAUTH");
    // Trust only a certificate that did not sign the broker's.
    let s = TlsSettings {
        ca_location: Some(cert(c, "wronghost_cert")),
        ..TlsSettings::default()
    };
    let (e, took) = connect_err(&addr, Some(&s));
    let text = e.to_string();
    assert!(took < CONNECT_TIMEOUT, "{took:?}");
    assert!(matches!(&e, Error::Setup { .. }), "{e:?}");
    assert!(text.contains(&addr), "{text}");
    assert!(text.contains("the TLS handshake"), "{text}");
    assert!(text.contains("not signed by a trusted CA"), "{text}");
    assert!(text.contains("ssl.ca.location"), "{text}");
    assert!(!e.is_retriable(), "{text}");
}

#[test]
fn tls_to_a_plaintext_port_fails_within_the_timeout() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    require!(c, Feature::Tls);
    let addr = listener(c, "PLAINTEXT");
    let (e, took) = connect_err(&addr, Some(&trusting_ca(c)));
    let text = e.to_string();
    assert!(
        took < CONNECT_TIMEOUT + Duration::from_secs(1),
        "took {took:?}: {text}"
    );
    assert!(text.contains(&addr), "{text}");
    assert!(text.contains("TLS listener"), "{text}");
    assert!(!e.is_retriable(), "{text}");
}

#[test]
fn plaintext_to_a_tls_port_fails_within_the_timeout() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    require!(c, Feature::Tls);
    let addr = listener(c, "SSL_NOAUTH");
    let (e, took) = connect_err(&addr, None);
    let text = e.to_string();
    assert!(took < CONNECT_TIMEOUT, "took {took:?}: {text}");
    assert!(text.contains(&addr), "{text}");
    assert!(text.contains("answered in TLS"), "{text}");
    assert!(text.contains("security.protocol=ssl"), "{text}");
    assert!(!e.is_retriable(), "{text}");
}

/// `openssl s_server` presenting `cert`/`key` on a free loopback port.
struct SServer {
    child: Child,
    port: u16,
}

impl SServer {
    fn start(cert: &Path, key: &Path) -> SServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        SServer { child, port }
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_certificate_for_another_host_fails_unless_the_host_check_is_off() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    require!(c, Feature::Tls);
    let server = SServer::start(&cert(c, "wronghost_cert"), &cert(c, "wronghost_key"));
    let addr = format!("127.0.0.1:{}", server.port);
    let (e, took) = connect_err(&addr, Some(&trusting_ca(c)));
    let text = e.to_string();
    assert!(took < CONNECT_TIMEOUT, "{took:?}");
    assert!(text.contains("not valid for \"127.0.0.1\""), "{text}");
    assert!(text.contains("wrong.example"), "says what it names: {text}");
    assert!(
        text.contains("ssl.endpoint.identification.algorithm"),
        "{text}"
    );
    assert!(!e.is_retriable(), "{text}");
    // With the host check off, the handshake gets through (s_server then
    // does not speak Kafka, so ApiVersions fails: not the TLS step).
    let off = TlsSettings {
        endpoint_identification: EndpointIdentification::None,
        ..trusting_ca(c)
    };
    let (e, _) = connect_err(&addr, Some(&off));
    match &e {
        Error::Setup { step, .. } => assert_ne!(
            *step,
            purekafka::net::SetupStep::Tls,
            "the handshake itself passes: {e}"
        ),
        other => panic!("expected a setup error after the handshake, got {other:?}"),
    }
    // ... but the chain is still checked.
    let untrusted = TlsSettings {
        endpoint_identification: EndpointIdentification::None,
        ca_location: Some(cert(c, "client_cert")),
        ..TlsSettings::default()
    };
    let (e, _) = connect_err(&addr, Some(&untrusted));
    assert!(e.to_string().contains("not signed by a trusted CA"), "{e}");
}

#[test]
fn an_expired_certificate_fails_saying_so() {
    let c = cluster_or_skip!(Cluster::try_kafka());
    require!(c, Feature::Tls);
    let server = SServer::start(&cert(c, "expired_cert"), &cert(c, "expired_key"));
    let addr = format!("127.0.0.1:{}", server.port);
    let (e, took) = connect_err(&addr, Some(&trusting_ca(c)));
    let text = e.to_string();
    assert!(took < CONNECT_TIMEOUT, "{took:?}");
    assert!(text.contains(&addr), "{text}");
    assert!(text.contains("has expired"), "{text}");
    assert!(!e.is_retriable(), "{text}");
    // The host check being off does not excuse an expired certificate.
    let off = TlsSettings {
        endpoint_identification: EndpointIdentification::None,
        ..trusting_ca(c)
    };
    let (e, _) = connect_err(&addr, Some(&off));
    assert!(e.to_string().contains("has expired"), "{e}");
}
