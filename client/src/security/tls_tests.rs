#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

//! The TLS step against an in-process rustls server on loopback, with the
//! certificates in `testdata/` (see its README).

use super::*;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PASSWORD: &str = "unit-test-key-password";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/security/testdata")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

fn trusting_ca() -> TlsSettings {
    TlsSettings {
        ca_pem: Some(text("ca.crt")),
        ..TlsSettings::default()
    }
}

fn with_client_key(key: &str, password: Option<&str>) -> TlsSettings {
    TlsSettings {
        certificate_location: Some(data("client.crt")),
        key_location: Some(data(key)),
        key_password: password.map(Secret::new),
        ..trusting_ca()
    }
}

/// A TLS server on loopback that echoes what it reads; with `client_auth`
/// it requires a client certificate signed by the test CA. Returns its port
/// and, per accepted connection, whether the client showed a certificate.
async fn echo_server(
    versions: &[&'static SupportedProtocolVersion],
    client_auth: bool,
) -> (u16, tokio::sync::mpsc::UnboundedReceiver<bool>) {
    let provider = builtin_provider().unwrap();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(data("server.crt"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(data("server.key")).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap();
    let builder = if client_auth {
        let mut roots = RootCertStore::empty();
        add_pem_certs(&mut roots, text("ca.crt").as_bytes()).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = Arc::new(builder.with_single_cert(certs, key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = tx.send(tls.get_ref().1.peer_certificates().is_some());
                let mut buf = [0u8; 1024];
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let _ = tls.flush().await;
                }
            });
        }
    });
    (port, rx)
}

/// Handshakes with `host` on the server's port and echoes one message.
async fn round_trip(settings: &TlsSettings, port: u16, host: &str) -> Result<()> {
    let connector = settings.connector().map_err(Error::from)?;
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut stream = connector.handshake(tcp, host).await?;
    stream
        .write_all(b"ping")
        .await
        .map_err(|e| io_error(host, e))?;
    stream.flush().await.map_err(|e| io_error(host, e))?;
    let mut got = [0u8; 4];
    stream
        .read_exact(&mut got)
        .await
        .map_err(|e| io_error(host, e))?;
    assert_eq!(&got, b"ping");
    Ok(())
}

fn io_error(host: &str, e: std::io::Error) -> Error {
    Error::Io {
        broker: host.to_owned(),
        reason: Arc::new(e),
    }
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12, &rustls::version::TLS13];

#[tokio::test]
async fn handshakes_over_tls_1_2_and_1_3_by_name_and_by_ip() {
    let (port, _) = echo_server(BOTH, false).await;
    for v in [TlsVersion::Tls12, TlsVersion::Tls13] {
        let s = TlsSettings {
            versions: vec![v],
            ..trusting_ca()
        };
        round_trip(&s, port, "localhost").await.unwrap();
        round_trip(&s, port, "127.0.0.1").await.unwrap();
    }
    // A server that speaks only TLS 1.2 and a client that wants only 1.3.
    let (port12, _) = echo_server(&[&rustls::version::TLS12], false).await;
    let s = TlsSettings {
        versions: vec![TlsVersion::Tls13],
        ..trusting_ca()
    };
    let e = round_trip(&s, port12, "localhost").await.unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("ssl.enabled.protocols"), "{e}");
}

#[tokio::test]
async fn an_untrusted_certificate_fails_naming_what_is_trusted() {
    let (port, _) = echo_server(BOTH, false).await;
    // The server's own leaf as the only anchor: not the CA that signed it.
    let s = TlsSettings {
        ca_location: Some(data("client.crt")),
        ..TlsSettings::default()
    };
    let e = round_trip(&s, port, "localhost").await.unwrap_err();
    let t = e.to_string();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(t.contains("not signed by a trusted CA"), "{t}");
    assert!(t.contains("client.crt (1 certificates)"), "{t}");
    assert!(!e.is_retriable());
}

#[tokio::test]
async fn the_host_must_be_named_by_the_certificate_unless_the_check_is_off() {
    let (port, _) = echo_server(BOTH, false).await;
    for host in ["broker.example", "127.0.0.2"] {
        let e = round_trip(&trusting_ca(), port, host).await.unwrap_err();
        let t = e.to_string();
        assert!(t.contains(&format!("not valid for {host:?}")), "{t}");
        assert!(
            t.contains("localhost, 127.0.0.1"),
            "says what it names: {t}"
        );
        assert!(!e.is_retriable());
    }
    let off = TlsSettings {
        endpoint_identification: EndpointIdentification::None,
        ..trusting_ca()
    };
    round_trip(&off, port, "broker.example").await.unwrap();
    // The chain is still checked with the host check off.
    let untrusted = TlsSettings {
        ca_location: Some(data("client.crt")),
        ca_pem: None,
        ..off
    };
    let e = round_trip(&untrusted, port, "broker.example")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not signed by a trusted CA"), "{e}");
}

#[tokio::test]
async fn client_certificates_with_every_key_form_and_none() {
    for v in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let (port, mut shown) = echo_server(&[v], true).await;
        for s in [
            with_client_key("client.key", None),
            with_client_key("client-sec1.key", None),
            with_client_key("client-encrypted.key", Some(PASSWORD)),
            TlsSettings {
                certificate_pem: Some(text("client.crt")),
                key_pem: Some(Secret::new(text("client-encrypted.key"))),
                key_password: Some(Secret::new(PASSWORD)),
                ..trusting_ca()
            },
        ] {
            round_trip(&s, port, "localhost")
                .await
                .unwrap_or_else(|e| panic!("{v:?} {s:?}: {e}"));
            assert_eq!(shown.recv().await, Some(true));
        }
        // Without a certificate: refused. TLS 1.2 says so in the handshake,
        // TLS 1.3 on the first read; either way it names the fix and is
        // not retried.
        let e = round_trip(&trusting_ca(), port, "localhost")
            .await
            .unwrap_err();
        let t = e.to_string();
        assert!(t.contains("client certificate"), "{v:?}: {t}");
        assert!(t.contains("ssl.certificate.location"), "{v:?}: {t}");
        assert!(!e.is_retriable(), "{v:?}: {e:?}");
    }
}

#[test]
fn key_errors_name_the_property_and_never_show_the_key_or_password() {
    let key_body: Vec<String> = text("client-encrypted.key")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    let check = |s: TlsSettings, property: &str, needle: &str| {
        let e = s.connector().unwrap_err();
        assert_eq!(e.property, property, "{e}");
        assert!(e.reason.contains(needle), "{e}");
        let shown = format!("{e} {e:?} {s:?}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(!shown.contains("wrong-password-xyzzy"), "{shown}");
        for line in &key_body {
            assert!(!shown.contains(line.as_str()), "{shown}");
        }
    };
    check(
        with_client_key("client-encrypted.key", None),
        "ssl.key.location",
        "set ssl.key.password",
    );
    check(
        with_client_key("client-encrypted.key", Some("wrong-password-xyzzy")),
        "ssl.key.location",
        "wrong ssl.key.password",
    );
    check(
        TlsSettings {
            certificate_pem: Some(text("client.crt")),
            key_pem: Some(Secret::new(text("client-encrypted.key"))),
            key_password: Some(Secret::new("wrong-password-xyzzy")),
            ..trusting_ca()
        },
        "ssl.key.pem",
        "wrong ssl.key.password",
    );
    // A key that is not PEM at all: its text is not quoted.
    let garbage = format!("-----BEGIN PRIVATE KEY-----\n{}!!\n", key_body[0]);
    check(
        TlsSettings {
            certificate_pem: Some(text("client.crt")),
            key_pem: Some(Secret::new(garbage)),
            ..trusting_ca()
        },
        "ssl.key.pem",
        "PEM",
    );
    // The server's key with the client's certificate.
    check(
        TlsSettings {
            certificate_location: Some(data("client.crt")),
            key_location: Some(data("server.key")),
            ..trusting_ca()
        },
        "ssl.key.location",
        "cannot be used with this certificate",
    );
    check(
        TlsSettings {
            certificate_location: Some(data("client.crt")),
            ..trusting_ca()
        },
        "ssl.certificate.location",
        "needs its private key",
    );
    check(
        TlsSettings {
            key_location: Some(data("client.key")),
            ..trusting_ca()
        },
        "ssl.key.location",
        "needs its certificate",
    );
}

#[test]
fn ca_settings_errors_name_the_property() {
    let missing = TlsSettings {
        ca_location: Some(data("no-such-file.pem")),
        ..TlsSettings::default()
    };
    let e = missing.connector().unwrap_err();
    assert_eq!(e.property, "ssl.ca.location");
    assert!(e.reason.contains("no-such-file.pem"), "{e}");
    let no_certs = TlsSettings {
        ca_pem: Some("not a certificate".into()),
        ..TlsSettings::default()
    };
    let e = no_certs.connector().unwrap_err();
    assert_eq!(e.property, "ssl.ca.pem");
    assert!(e.reason.contains("no PEM certificate"), "{e}");
    // A directory: its files are read (keys and this README hold none).
    let dir = TlsSettings {
        ca_location: Some(data("")),
        ..TlsSettings::default()
    };
    let c = dir.connector().unwrap();
    assert!(format!("{c:?}").contains("certificates"), "{c:?}");
}

#[test]
fn debug_shows_no_secret() {
    let s = TlsSettings {
        certificate_pem: Some(text("client.crt")),
        key_pem: Some(Secret::new(text("client.key"))),
        key_password: Some(Secret::new("hunter2-distinctive")),
        ..trusting_ca()
    };
    let c = s.connector().unwrap();
    let shown = format!(
        "{s:?} {c:?} {:?}",
        c.rustls_config().client_auth_cert_resolver
    );
    assert!(!shown.contains("hunter2-distinctive"), "{shown}");
    for line in text("client.key")
        .lines()
        .filter(|l| !l.starts_with("-----"))
    {
        assert!(!shown.contains(line), "{shown}");
    }
}

#[test]
fn property_values_parse() {
    assert_eq!(
        EndpointIdentification::parse("HTTPS"),
        Ok(EndpointIdentification::Https)
    );
    assert_eq!(
        EndpointIdentification::parse(""),
        Ok(EndpointIdentification::None)
    );
    assert_eq!(
        EndpointIdentification::parse("none"),
        Ok(EndpointIdentification::None)
    );
    assert!(EndpointIdentification::parse("ldaps").is_err());
    assert_eq!(
        TlsVersion::parse_list("TLSv1.2, TLSv1.3"),
        Ok(vec![TlsVersion::Tls12, TlsVersion::Tls13])
    );
    assert_eq!(
        TlsVersion::parse_list("tlsv1.3"),
        Ok(vec![TlsVersion::Tls13])
    );
    assert!(TlsVersion::parse_list("TLSv1.1").is_err());
    assert!(TlsVersion::parse_list("").is_err());
}

#[test]
fn a_supplied_crypto_provider_is_used() {
    // A provider without TLS 1.3 suites: asking for TLS 1.3 then fails,
    // which shows the supplied provider, not the built-in one, was taken.
    let mut p = (*builtin_provider().unwrap()).clone();
    p.cipher_suites
        .retain(|s| s.version() == &rustls::version::TLS12);
    let s = TlsSettings {
        versions: vec![TlsVersion::Tls13],
        crypto_provider: Some(Arc::new(p)),
        ..trusting_ca()
    };
    let e = s.connector().unwrap_err();
    assert_eq!(e.property, "ssl.enabled.protocols", "{e}");
}

#[test]
fn a_tls_record_is_told_from_a_kafka_frame() {
    // What Kafka's SSL listener sends a plaintext client: an alert record.
    assert!(looks_like_tls_record(&[
        0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a
    ]));
    assert!(looks_like_tls_record(&[0x16, 0x03, 0x01]));
    // Kafka frames: a size prefix far below 0x15030000.
    assert!(!looks_like_tls_record(&[0x00, 0x00, 0x01, 0x00]));
    assert!(!looks_like_tls_record(&[0x15, 0x04, 0x00]));
    assert!(!looks_like_tls_record(&[0x15]));
    let e = plaintext_to_tls_error();
    assert!(!e.is_retriable());
    assert!(e.to_string().contains("security.protocol=ssl"), "{e}");
}
