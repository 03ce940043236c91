use super::*;

/// The SASL settings of a SASL_PLAINTEXT client with these properties,
/// through the one parser of them (the client config's), validated.
fn cfg(props: &[(&str, &str)]) -> Result<SaslConfig, ConfigError> {
    let mut c = crate::config::ClientConfig::default();
    c.set("security.protocol", "SASL_PLAINTEXT")?;
    for (k, v) in props {
        c.set(k, v)?;
    }
    SaslConfig::from_client(&c)
        .map(|s| s.unwrap_or_else(|| panic!("SASL_PLAINTEXT gives a SASL config")))
}

fn handshake_ok() -> SaslHandshakeResponse {
    SaslHandshakeResponse {
        error_code: 0,
        mechanisms: vec!["PLAIN".into(), "SCRAM-SHA-256".into()],
        ..Default::default()
    }
}

fn auth_ok(bytes: &[u8], lifetime_ms: i64) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse {
        error_code: 0,
        error_message: None,
        auth_bytes: bytes.to_vec().into(),
        session_lifetime_ms: lifetime_ms,
        ..Default::default()
    }
}

fn plain_exchange(user: &str, pass: &str) -> Exchange {
    let c = cfg(&[
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", user),
        ("sasl.password", pass),
    ])
    .unwrap();
    let m = c.validate().unwrap();
    Exchange::new(m, MechanismClient::new(m, &c, None).unwrap())
}

#[test]
fn plain_sends_one_message_and_reads_the_session_lifetime() {
    let mut x = plain_exchange("alice", "alice-secret");
    assert_eq!(x.handshake().mechanism, "PLAIN");
    let first = x.on_handshake(&handshake_ok()).unwrap();
    assert_eq!(&first.auth_bytes[..], b"\0alice\0alice-secret");
    match x.on_authenticate(&auth_ok(b"", 10_000)).unwrap() {
        Next::Done(a) => assert_eq!(a.session_lifetime, Some(Duration::from_secs(10))),
        n => panic!("{n:?}"),
    }
    // A second response is out of turn.
    assert!(x.on_authenticate(&auth_ok(b"", 0)).is_err());
    // No lifetime: none.
    let mut x = plain_exchange("a", "b");
    x.handshake();
    x.on_handshake(&handshake_ok()).unwrap();
    assert!(matches!(
        x.on_authenticate(&auth_ok(b"", 0)).unwrap(),
        Next::Done(Authenticated {
            session_lifetime: None
        })
    ));
}

#[test]
fn a_refused_password_is_a_rejection_with_the_brokers_message() {
    let mut x = plain_exchange("alice", "wrong-pass-zz");
    x.handshake();
    x.on_handshake(&handshake_ok()).unwrap();
    let e = x
        .on_authenticate(&SaslAuthenticateResponse {
            error_code: ErrorCode::SASL_AUTHENTICATION_FAILED.0,
            error_message: Some("Authentication failed: Invalid username or password".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e,
        StepError::Rejected("Authentication failed: Invalid username or password".into())
    );
}

#[test]
fn an_unsupported_mechanism_lists_what_the_broker_offers() {
    let c = cfg(&[
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "u"),
        ("sasl.password", "p"),
    ])
    .unwrap();
    let m = c.validate().unwrap();
    let mut x = Exchange::new(m, MechanismClient::new(m, &c, None).unwrap());
    x.handshake();
    let e = x
        .on_handshake(&SaslHandshakeResponse {
            error_code: ErrorCode::UNSUPPORTED_SASL_MECHANISM.0,
            mechanisms: vec!["PLAIN".into()],
            ..Default::default()
        })
        .unwrap_err();
    let StepError::Unsupported(s) = e else {
        panic!("{e:?}")
    };
    assert!(
        s.contains("SCRAM-SHA-512") && s.contains("offers: PLAIN"),
        "{s}"
    );
}

#[test]
fn scram_runs_two_rounds_and_checks_the_server() {
    // The RFC 7677 exchange, through the Kafka framing.
    let c = cfg(&[
        ("sasl.mechanism", "SCRAM-SHA-256"),
        ("sasl.username", "user"),
        ("sasl.password", "pencil"),
    ])
    .unwrap();
    let client = MechanismClient::Scram(ScramClient::new(
        ScramHash::Sha256,
        "user",
        c.password.clone().unwrap(),
        "rOprNGfwEbeRWgbNEkqO".into(),
    ));
    let mut x = Exchange::new(Mechanism::ScramSha256, client);
    assert_eq!(x.handshake().mechanism, "SCRAM-SHA-256");
    let first = x.on_handshake(&handshake_ok()).unwrap();
    assert_eq!(&first.auth_bytes[..], b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let sf =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    let Next::Send(fin) = x.on_authenticate(&auth_ok(sf, 0)).unwrap() else {
        panic!("expected the client-final message")
    };
    assert!(
        fin.auth_bytes
            .ends_with(b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    );
    let done = x
        .on_authenticate(&auth_ok(
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
            3_600_000,
        ))
        .unwrap();
    assert!(matches!(done, Next::Done(a) if a.session_lifetime == Some(Duration::from_secs(3600))));
}

#[test]
fn an_oauthbearer_rejection_carries_the_brokers_challenge() {
    let c = cfg(&[
        ("sasl.mechanism", "OAUTHBEARER"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredLoginStringClaim_sub=\"alice\";",
        ),
    ])
    .unwrap();
    let token =
        oauthbearer::UnsecuredTokenProvider::new("alice").token_at(std::time::SystemTime::now());
    let mut x = Exchange::new(
        Mechanism::OAuthBearer,
        MechanismClient::new(Mechanism::OAuthBearer, &c, Some(token)).unwrap(),
    );
    x.handshake();
    let first = x.on_handshake(&handshake_ok()).unwrap();
    assert!(first.auth_bytes.starts_with(b"n,,\x01auth=Bearer eyJ"));
    let Next::Send(kvsep) = x
        .on_authenticate(&auth_ok(br#"{"status":"invalid_token"}"#, 0))
        .unwrap()
    else {
        panic!("an error challenge is answered")
    };
    assert_eq!(&kvsep.auth_bytes[..], b"\x01");
    let e = x
        .on_authenticate(&SaslAuthenticateResponse {
            error_code: ErrorCode::SASL_AUTHENTICATION_FAILED.0,
            error_message: Some("Authentication failed".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("invalid_token"), "{e}");
}

#[test]
fn reauth_is_between_85_and_95_percent() {
    for _ in 0..100 {
        let d = reauth_after(Duration::from_secs(100));
        assert!(
            d >= Duration::from_secs(85) && d <= Duration::from_secs(95),
            "{d:?}"
        );
    }
}

#[test]
fn properties_java_and_librdkafka_names() {
    let c = cfg(&[
        ("sasl.mechanisms", "scram-sha-512"),
        (
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="bob-secret";"#,
        ),
    ])
    .unwrap();
    assert_eq!(c.validate().unwrap(), Mechanism::ScramSha512);
    assert_eq!(c.username.as_deref(), Some("bob"));
    assert_eq!(c.password.as_ref().map(Secret::expose), Some("bob-secret"));

    let c = cfg(&[
        ("sasl.mechanism", "OAUTHBEARER"),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
        (
            "sasl.oauthbearer.config",
            "principal=alice lifeSeconds=60 extension_a=1",
        ),
    ])
    .unwrap();
    assert_eq!(c.validate().unwrap(), Mechanism::OAuthBearer);
    assert_eq!(c.oauthbearer_extensions, vec![("a".into(), "1".into())]);
    // Without the unsecure flag, sasl.oauthbearer.config alone makes no provider.
    let e = cfg(&[
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.config", "principal=alice"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("token provider"), "{e}");
}

#[test]
fn gssapi_is_refused_with_the_reason() {
    let e = cfg(&[("sasl.mechanism", "GSSAPI")]).unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("sasl.mechanism") && s.contains("Kerberos") && s.contains("pure-Rust"),
        "{s}"
    );
    let e = cfg(&[(
        "sasl.jaas.config",
        "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
    )])
    .unwrap_err();
    assert!(e.to_string().contains("Kerberos"), "{e}");
}

#[test]
fn missing_credentials_are_config_errors() {
    for (props, want) in [
        (&[][..], "sasl.mechanism"),
        (&[("sasl.mechanism", "PLAIN")][..], "sasl.username"),
        (
            &[("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.username", "u")][..],
            "sasl.password",
        ),
        (&[("sasl.mechanism", "OAUTHBEARER")][..], "token provider"),
    ] {
        let e = cfg(props).unwrap_err();
        assert!(e.to_string().contains(want), "{props:?}: {e}");
    }
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let pw = "Zq9-distinctive-password";
    let c = cfg(&[
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", "alice"),
        ("sasl.password", pw),
    ])
    .unwrap();
    assert!(!format!("{c:?}").contains(pw));
    let m = c.validate().unwrap();
    let x = Exchange::new(m, MechanismClient::new(m, &c, None).unwrap());
    assert!(!format!("{x:?}").contains(pw));
    let session = SaslSession::new(c).unwrap();
    assert!(!format!("{session:?}").contains(pw));
    // Bad JAAS texts holding the password: the error does not quote it.
    for bad in [
        format!(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required password="{pw}""#
        ),
        format!(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required password="{pw}";"#
        ),
        format!(r#"Nope required username="u" password="{pw}";"#),
    ] {
        let e = cfg(&[("sasl.jaas.config", &bad)]).unwrap_err();
        assert!(!e.to_string().contains(pw), "{e}");
        assert!(!format!("{e:?}").contains(pw), "{e:?}");
    }
    let e = cfg(&[
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
        ("sasl.oauthbearer.config", &format!("nope={pw}")),
    ])
    .unwrap_err();
    assert!(!e.to_string().contains(pw), "{e}");
    // An unsecured token is a secret too.
    let c = cfg(&[
        ("sasl.mechanism", "OAUTHBEARER"),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
        ("sasl.oauthbearer.config", "principal=alice"),
    ])
    .unwrap();
    let t =
        oauthbearer::UnsecuredTokenProvider::new("alice").token_at(std::time::SystemTime::now());
    let x = Exchange::new(
        Mechanism::OAuthBearer,
        MechanismClient::new(Mechanism::OAuthBearer, &c, Some(t.clone())).unwrap(),
    );
    assert!(!format!("{x:?}").contains(t.value.expose()));
}

#[test]
fn client_configs_take_the_sasl_properties() {
    use crate::config::{ConsumerConfig, ProducerConfig, SecurityProtocol};
    let pw = "Kq2-distinctive-jaas-pw";
    let jaas = format!(
        r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="{pw}";"#
    );
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanisms", "SCRAM-SHA-256"),
        ("sasl.jaas.config", jaas.as_str()),
    ])
    .unwrap();
    let s = SaslConfig::from_client(&c.client).unwrap().unwrap();
    assert_eq!(s.mechanism, Some(Mechanism::ScramSha256));
    assert_eq!(s.username.as_deref(), Some("alice"));
    assert_eq!(s.password.as_ref().map(Secret::expose), Some(pw));
    assert!(!format!("{c:?}").contains(pw));
    // sasl.username / sasl.password win over the JAAS text.
    let c = ConsumerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.jaas.config", jaas.as_str()),
        ("sasl.username", "bob"),
        ("sasl.password", "other"),
    ])
    .unwrap();
    let s = SaslConfig::from_client(&c.client).unwrap().unwrap();
    assert_eq!(s.username.as_deref(), Some("bob"));
    // A bad JAAS text fails at set(), without showing the password.
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("sasl.jaas.config", &jaas[..jaas.len() - 1]),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("sasl.jaas.config"), "{e}");
    assert!(!format!("{e} {e:?}").contains(pw), "{e:?}");
    // Missing credentials are caught by validate().
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("sasl.username"), "{e}");
    // No SASL protocol: no SASL session, whatever else is set.
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("sasl.mechanism", "PLAIN"),
    ])
    .unwrap();
    assert!(SaslConfig::from_client(&c.client).unwrap().is_none());
    // librdkafka's unsecured tokens, and a provider set in code.
    let c = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
        ("sasl.oauthbearer.config", "principal=alice extension_x=1"),
    ])
    .unwrap();
    let s = SaslConfig::from_client(&c.client).unwrap().unwrap();
    assert!(s.token_provider.is_some());
    assert_eq!(s.oauthbearer_extensions, vec![("x".into(), "1".into())]);
    let provider: Arc<dyn oauthbearer::TokenProvider> =
        Arc::new(oauthbearer::UnsecuredTokenProvider::new("carol"));
    let c = ProducerConfig::new("h:1")
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl_mechanism(Mechanism::OAuthBearer)
        .sasl_token_provider(provider.clone())
        .build()
        .unwrap();
    let s = SaslConfig::from_client(&c.client).unwrap().unwrap();
    assert!(s.token_provider.is_some());
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("sasl.login.callback.handler.class", "com.example.Handler"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("sasl_token_provider"), "{e}");
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("sasl.mechanism", "GSSAPI"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("Kerberos"), "{e}");
}
