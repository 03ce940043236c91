use super::decl::{edit_distance, invalid_value, known_names, suggest};
use super::*;
use std::collections::{BTreeMap, BTreeSet};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `set` on a fresh config, expecting an error; returns it.
fn producer_err(name: &str, value: &str) -> ConfigError {
    let mut c = ProducerConfig::new("localhost:9092");
    let before = c.clone();
    let e = c
        .set(name, value)
        .expect_err(&format!("{name}={value:?} should fail"));
    assert_eq!(c, before, "a failed set({name}) changed the config");
    e
}

fn consumer_err(name: &str, value: &str) -> ConfigError {
    let mut c = ConsumerConfig::new("localhost:9092");
    let before = c.clone();
    let e = c
        .set(name, value)
        .expect_err(&format!("{name}={value:?} should fail"));
    assert_eq!(c, before, "a failed set({name}) changed the config");
    e
}

fn assert_mentions(e: &ConfigError, property: &str, needles: &[&str]) {
    assert_eq!(e.property, property, "{e}");
    let s = e.to_string();
    for n in needles {
        assert!(s.contains(n), "{s:?} does not mention {n:?}");
    }
}

#[test]
fn bootstrap_servers_are_required() {
    for e in [
        ClientConfig::default().validate().unwrap_err(),
        ProducerConfig::default().validate().unwrap_err(),
        ConsumerConfig::default().validate().unwrap_err(),
        ProducerConfig::new(" , ").validate().unwrap_err(),
        ProducerConfig::from_properties([("linger.ms", "1")]).unwrap_err(),
    ] {
        assert_mentions(&e, "bootstrap.servers", &["bootstrap.servers is required"]);
    }
}

// -- the declaration -----------------------------------------------------

/// `set(name, value)` on the default config of `scope`; the config after.
fn set_on_default(scope: Scope, name: &str, value: &str) -> Result<String, ConfigError> {
    Ok(match scope {
        Scope::Client => {
            let mut c = ClientConfig::default();
            c.set(name, value)?;
            assert_eq!(c, ClientConfig::default(), "{name}={value:?}");
            format!("{c:?}")
        }
        Scope::Producer => {
            let mut c = ProducerConfig::default();
            c.set(name, value)?;
            assert_eq!(c, ProducerConfig::default(), "{name}={value:?}");
            format!("{c:?}")
        }
        Scope::Consumer => {
            let mut c = ConsumerConfig::default();
            c.set(name, value)?;
            assert_eq!(c, ConsumerConfig::default(), "{name}={value:?}");
            format!("{c:?}")
        }
        Scope::Admin => {
            let mut c = AdminConfig::default();
            c.set(name, value)?;
            assert_eq!(c, AdminConfig::default(), "{name}={value:?}");
            format!("{c:?}")
        }
    })
}

/// The documented default of every property, set by its name or any
/// alias, is accepted and is the value the config starts with.
#[test]
fn declared_defaults_are_the_defaults() {
    let mut n = 0;
    for p in properties() {
        for name in p.names() {
            set_on_default(p.scope, name, p.default)
                .unwrap_or_else(|e| panic!("default of {}: {e}", p.name));
            n += 1;
        }
    }
    assert!(n > 50, "{n} names");
}

#[test]
fn defaults_are_consistent_and_the_java_ones_where_it_matters() {
    assert!(ProducerConfig::new("localhost:9092").validate().is_ok());
    assert!(ConsumerConfig::new("localhost:9092").validate().is_ok());
    assert!(ClientConfig::new("localhost:9092").validate().is_ok());
    let p = ProducerConfig::default();
    assert_eq!((p.acks, p.enable_idempotence), (Acks::All, None));
    assert!(p.is_idempotent());
    assert_eq!(p.linger, ms(5));
    assert_eq!(p.compression_level, None);
    assert_eq!(p.client.client_id, "purekafka");
    assert!(p.client.bootstrap_servers.is_empty());
    let c = ConsumerConfig::default();
    assert_eq!(
        c.partition_assignment_strategy,
        [
            AssignmentStrategy::Range,
            AssignmentStrategy::CooperativeSticky
        ]
    );
    assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
    assert_eq!(c.group_id, None);
}

#[test]
fn every_name_is_declared_once_and_not_ignored() {
    // Once per config type; Java declares a few for two client types (the
    // consumer's and the admin client's `default.api.timeout.ms`): such a
    // name is the same field with the same default and values in both, and
    // never also a property of every client (Scope::Client).
    let mut seen: BTreeMap<&str, &PropertyInfo> = BTreeMap::new();
    for p in properties() {
        assert!(!p.doc.is_empty() && !p.values.is_empty(), "{}", p.name);
        for name in p.names() {
            if let Some(first) = seen.insert(name, p) {
                assert!(
                    first.scope != p.scope
                        && first.scope != Scope::Client
                        && (first.field, first.default, first.values)
                            == (p.field, p.default, p.values),
                    "{name} is declared twice ({:?} and {:?}) differently or for one type",
                    first.scope,
                    p.scope
                );
            }
        }
    }
    let mut seen: BTreeSet<&str> = seen.into_keys().collect();
    for (name, why) in IGNORED_PROPERTIES {
        assert!(!seen.contains(name), "{name} is declared and ignored");
        assert!(seen.insert(name), "{name} is ignored twice");
        assert!(!why.is_empty());
    }
}

#[test]
fn client_properties_are_accepted_by_every_config() {
    for p in ClientConfig::PROPERTIES {
        assert_eq!(p.scope, Scope::Client);
        for name in p.names() {
            let mut producer = ProducerConfig::default();
            producer.set(name, p.default).unwrap();
            let mut consumer = ConsumerConfig::default();
            consumer.set(name, p.default).unwrap();
        }
    }
    // And they reach the client config, by the builder or by name.
    let mut c = ConsumerConfig::new("h:1").request_timeout(ms(7));
    assert_eq!(c.client.request_timeout, ms(7));
    c.set("socket.timeout.ms", "8").unwrap();
    assert_eq!(c.client.request_timeout, ms(8));
    let p = ProducerConfig::new("h:1").client_rack("r1");
    assert_eq!(p.client.client_rack.as_deref(), Some("r1"));
}

#[test]
fn property_info_says_what_the_docs_say() {
    let linger = properties()
        .find(|p| p.matches("queue.buffering.max.ms"))
        .unwrap();
    assert_eq!(linger.name, "linger.ms");
    assert_eq!(linger.scope, Scope::Producer);
    assert_eq!(linger.field, "linger");
    assert_eq!(linger.default, "5");
    assert_eq!(
        linger.values,
        "milliseconds, 0..=2147483647, fractions allowed"
    );
    assert!(!linger.secret);
    let session = properties()
        .find(|p| p.name == "session.timeout.ms")
        .unwrap();
    assert_eq!(session.values, "milliseconds, 1..=2147483647");
    let rack = properties().find(|p| p.name == "client.rack").unwrap();
    assert_eq!((rack.scope, rack.default), (Scope::Client, ""));
    let strategies = properties()
        .find(|p| p.name == "partition.assignment.strategy")
        .unwrap();
    assert!(
        strategies
            .values
            .starts_with("comma-separated list of `range`")
    );
    let secret: Vec<&str> = properties().filter(|p| p.secret).map(|p| p.name).collect();
    for name in [
        "sasl.password",
        "sasl.jaas.config",
        "sasl.oauthbearer.config",
    ] {
        assert!(secret.contains(&name), "{name} is not marked secret");
    }
    assert!(!secret.contains(&"sasl.username"));
}

/// A config declared like the real ones, with secrets.
#[allow(dead_code, reason = "only some of the generated items are used")]
mod secret_decl {
    use super::super::decl::any_value;
    use super::*;

    fn parse_jaas(s: &str) -> Result<Option<Secret>, String> {
        if s.contains("password=") {
            Ok(Some(Secret::new(s)))
        } else {
            Err("expected a JAAS line with password=\"...\"".to_owned())
        }
    }

    declare_config!(@struct SecretConfig, Client, [#[doc = "Secrets."]], [], [], [],
        { "test.password" [] password: Option<Secret>, secret(), unset, "A password." }
        { secret "test.jaas" [] jaas: Option<Secret>,
          custom(parse_jaas, any_value, "a JAAS line"), unset, "A JAAS line." }
        { "test.user" [] user: Option<String>, opt_string(), unset, "A user." }
    );

    impl SecretConfig {
        pub(super) fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
            self.set_declared(name, value)
                .unwrap_or_else(|| Err(ConfigError::new(name, "unknown")))
        }
    }
}

#[test]
fn secrets_are_redacted_and_never_echoed() {
    use secret_decl::SecretConfig;
    let info = SecretConfig::PROPERTIES;
    assert_eq!(
        info.iter().map(|p| p.secret).collect::<Vec<_>>(),
        [true, true, false]
    );
    let c = SecretConfig::default()
        .password("hunter2-password")
        .user("alice");
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains("[redacted]") && debug.contains("alice"),
        "{debug}"
    );
    assert_eq!(
        c.password.as_ref().map(Secret::expose),
        Some("hunter2-password")
    );
    // A secret is taken as it is, spaces included.
    let mut c = SecretConfig::default();
    c.set("test.password", " hunter2 ").unwrap();
    assert_eq!(c.password.as_ref().map(Secret::expose), Some(" hunter2 "));
    // A rejected secret is not echoed; an ordinary value is.
    let e = c.set("test.jaas", "user=x hunter2-jaas").unwrap_err();
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("test.jaas") && shown.contains("not shown"),
            "{shown}"
        );
        assert!(shown.contains("expected a JAAS line"), "{shown}");
    }
    let e = invalid_value("acks", "acks", "most", false, "expected 0");
    assert!(e.to_string().contains("\"most\""), "{e}");
    // Names no declaration knows never echo the value either.
    for name in [
        "sasl.pasword",
        "ssl.key.passwrd",
        "pasword",
        "key.serializer",
    ] {
        let mut p = ProducerConfig::default();
        if let Err(e) = p.set(name, "hunter2-unknown") {
            assert!(!format!("{e} {e:?}").contains("hunter2"), "{e}");
        }
    }
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "[redacted]");
}

// -- aliases and spellings -----------------------------------------------

#[test]
fn aliases_set_the_same_fields() {
    // The librdkafka aliases, spelled out: each sets its property's field.
    let p = ProducerConfig::from_properties([
        ("metadata.broker.list", "k1:9092"),
        ("socket.timeout.ms", "1000"),
        ("topic.metadata.refresh.interval.ms", "2000"),
        ("max.in.flight", "4"),
        ("queue.buffering.max.ms", "0.5"),
        ("message.max.bytes", "5000"),
        ("compression.codec", "lz4"),
        ("message.send.max.retries", "9"),
        ("message.timeout.ms", "300000"),
        ("request.required.acks", "-1"),
    ])
    .unwrap();
    assert_eq!(p.client.bootstrap_servers, ["k1:9092"]);
    assert_eq!(p.client.request_timeout, ms(1000));
    assert_eq!(p.client.metadata_max_age, ms(2000));
    assert_eq!(p.client.max_in_flight_requests_per_connection, 4);
    assert_eq!(p.linger, Duration::from_micros(500));
    assert_eq!(p.max_request_size, 5000);
    assert_eq!(p.compression, Compression::Lz4);
    assert_eq!(p.retries, 9);
    assert_eq!(p.delivery_timeout, ms(300_000));
    assert_eq!(p.acks, Acks::All);
    let c = ConsumerConfig::from_properties([
        ("bootstrap.servers", "k1:9092"),
        ("fetch.wait.max.ms", "50"),
        ("fetch.message.max.bytes", "4096"),
    ])
    .unwrap();
    assert_eq!(c.fetch_max_wait, ms(50));
    assert_eq!(c.max_partition_fetch_bytes, 4096);
}

/// `(name, contrasting value, value, check)`: the check must fail after
/// the contrasting value and hold after the value.
type Spelling<T> = (&'static str, &'static str, &'static str, fn(&T) -> bool);

fn check_spellings<T: Default + std::fmt::Debug>(
    cases: &[Spelling<T>],
    set: impl Fn(&mut T, &str, &str) -> Result<(), ConfigError>,
) {
    for (name, other, value, check) in cases {
        let mut c = T::default();
        set(&mut c, name, other).unwrap_or_else(|e| panic!("{name}={other}: {e}"));
        assert!(
            !check(&c),
            "{name}={other} already passes the check for {value}"
        );
        set(&mut c, name, value).unwrap_or_else(|e| panic!("{name}={value}: {e}"));
        assert!(check(&c), "{name}={value}: {c:?}");
    }
}

#[test]
fn enum_values_and_their_librdkafka_spellings() {
    use AssignmentStrategy::{CooperativeSticky, Range, RoundRobin};
    let consumer: &[Spelling<ConsumerConfig>] = &[
        ("auto.offset.reset", "latest", "smallest", |c| {
            c.auto_offset_reset == OffsetReset::Earliest
        }),
        ("auto.offset.reset", "latest", "beginning", |c| {
            c.auto_offset_reset == OffsetReset::Earliest
        }),
        ("auto.offset.reset", "earliest", "LARGEST", |c| {
            c.auto_offset_reset == OffsetReset::Latest
        }),
        ("auto.offset.reset", "earliest", "end", |c| {
            c.auto_offset_reset == OffsetReset::Latest
        }),
        ("auto.offset.reset", "earliest", "none", |c| {
            c.auto_offset_reset == OffsetReset::None
        }),
        ("auto.offset.reset", "earliest", "error", |c| {
            c.auto_offset_reset == OffsetReset::None
        }),
        (
            "isolation.level",
            "read_committed",
            "READ_UNCOMMITTED",
            |c| c.isolation_level == IsolationLevel::ReadUncommitted,
        ),
        (
            "partition.assignment.strategy",
            "range",
            "org.apache.kafka.clients.consumer.RangeAssignor, org.apache.kafka.clients.consumer.RoundRobinAssignor,\
             org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
            |c| c.partition_assignment_strategy == [Range, RoundRobin, CooperativeSticky],
        ),
        (
            "partition.assignment.strategy",
            "range",
            "cooperative-sticky,range,range",
            |c| c.partition_assignment_strategy == [CooperativeSticky, Range],
        ),
        ("check.crcs", "true", "0", |c| !c.check_crcs),
        ("check.crcs", "false", "1", |c| c.check_crcs),
        ("enable.partition.eof", "false", "TRUE", |c| {
            c.enable_partition_eof
        }),
        ("enable.partition.eof", "true", "False", |c| {
            !c.enable_partition_eof
        }),
    ];
    check_spellings(consumer, |c: &mut ConsumerConfig, n, v| c.set(n, v));
    let producer: &[Spelling<ProducerConfig>] = &[
        ("acks", "1", "0", |c| c.acks == Acks::None),
        ("acks", "1", "ALL", |c| c.acks == Acks::All),
        ("acks", "1", "-1", |c| c.acks == Acks::All),
        ("compression.type", "none", "GZIP", |c| {
            c.compression == Compression::Gzip
        }),
        ("compression.type", "none", "snappy", |c| {
            c.compression == Compression::Snappy
        }),
        ("compression.type", "zstd", "none", |c| {
            c.compression == Compression::None
        }),
        ("compression.level", "3", "-1", |c| {
            c.compression_level.is_none()
        }),
        ("security.protocol", "plaintext", "ssl", |c| {
            c.client.security_protocol == SecurityProtocol::Ssl
        }),
        ("security.protocol", "plaintext", "Sasl_Plaintext", |c| {
            c.client.security_protocol == SecurityProtocol::SaslPlaintext
        }),
        ("security.protocol", "ssl", "PLAINTEXT", |c| {
            c.client.security_protocol == SecurityProtocol::Plaintext
        }),
    ];
    check_spellings(producer, |c: &mut ProducerConfig, n, v| c.set(n, v));
}

#[test]
fn enums_round_trip_and_wire_values() {
    assert_eq!(
        (
            Acks::None.as_i16(),
            Acks::Leader.as_i16(),
            Acks::All.as_i16()
        ),
        (0, 1, -1)
    );
    assert_eq!(IsolationLevel::ReadUncommitted.as_i8(), 0);
    assert_eq!(IsolationLevel::ReadCommitted.as_i8(), 1);
    for a in [Acks::None, Acks::Leader, Acks::All] {
        assert_eq!(a.to_string().parse::<Acks>().unwrap(), a);
    }
    for p in SecurityProtocol::ALL {
        assert_eq!(p.to_string().parse::<SecurityProtocol>().unwrap(), p);
    }
    for r in [
        OffsetReset::Earliest,
        OffsetReset::Latest,
        OffsetReset::None,
    ] {
        assert_eq!(r.to_string().parse::<OffsetReset>().unwrap(), r);
    }
    for l in [
        IsolationLevel::ReadUncommitted,
        IsolationLevel::ReadCommitted,
    ] {
        assert_eq!(l.to_string().parse::<IsolationLevel>().unwrap(), l);
    }
    for a in AssignmentStrategy::ALL {
        assert_eq!(a.to_string().parse::<AssignmentStrategy>().unwrap(), a);
        assert_eq!(a.java_class().parse::<AssignmentStrategy>().unwrap(), a);
    }
    assert_eq!("-1".parse::<Acks>().unwrap(), Acks::All);
    let e = "2".parse::<Acks>().unwrap_err();
    assert_mentions(&e, "acks", &["\"2\"", "0, 1, all or -1"]);
    assert_mentions(
        &"tls".parse::<SecurityProtocol>().unwrap_err(),
        "security.protocol",
        &["\"tls\"", "plaintext"],
    );
    assert_mentions(
        &"first".parse::<OffsetReset>().unwrap_err(),
        "auto.offset.reset",
        &["earliest"],
    );
    assert_mentions(
        &"serializable".parse::<IsolationLevel>().unwrap_err(),
        "isolation.level",
        &["read_committed"],
    );
    assert_mentions(
        &"sticky".parse::<AssignmentStrategy>().unwrap_err(),
        "partition.assignment.strategy",
        &["cooperative-sticky"],
    );
}

#[test]
fn values_are_trimmed_and_optional_strings_can_be_unset() {
    let mut c = ConsumerConfig::new("h:1").group_id("g").client_rack("r");
    c.set(" session.timeout.ms ", " 6000 ").unwrap();
    assert_eq!(c.session_timeout, ms(6000));
    c.set("group.id", "").unwrap();
    c.set("client.rack", "  ").unwrap();
    assert_eq!((c.group_id, c.client.client_rack), (None, None));
    let mut p = ProducerConfig::new("h:1").transactional_id("t");
    p.set("transactional.id", "").unwrap();
    assert_eq!(p.transactional_id, None);
}

// -- name errors --------------------------------------------------------

#[test]
fn unknown_property_suggests_a_close_name() {
    let e = producer_err("linger.mss", "5");
    assert_mentions(
        &e,
        "linger.mss",
        &["unknown property", "did you mean linger.ms?"],
    );
    let e = producer_err("bootstrap.server", "h:1");
    assert_mentions(&e, "bootstrap.server", &["did you mean bootstrap.servers?"]);
    let e = consumer_err("sesion.timeout.ms", "1");
    assert_mentions(
        &e,
        "sesion.timeout.ms",
        &["did you mean session.timeout.ms?"],
    );
    let e = consumer_err("fetch.wait.max", "1");
    assert_mentions(&e, "fetch.wait.max", &["did you mean fetch.wait.max.ms?"]);
    let e = ClientConfig::default().set("client.idd", "x").unwrap_err();
    assert_mentions(&e, "client.idd", &["did you mean client.id?"]);
}

#[test]
fn unknown_property_without_a_close_name() {
    for name in ["foo", "interceptor.classes", "zzzzzzzzzzzzzz", ""] {
        let e = producer_err(name, "x");
        assert_eq!(e.property, name);
        assert_eq!(e.reason, "unknown property", "{name}");
    }
}

#[test]
fn property_of_the_other_client_type() {
    let e = consumer_err("linger.ms", "5");
    assert_mentions(&e, "linger.ms", &["is a producer property"]);
    let e = consumer_err("queue.buffering.max.ms", "5");
    assert_mentions(&e, "queue.buffering.max.ms", &["is a producer property"]);
    let e = producer_err("group.id", "g");
    assert_mentions(&e, "group.id", &["is a consumer property"]);
    let e = ClientConfig::default().set("acks", "1").unwrap_err();
    assert_mentions(&e, "acks", &["producer property", "ProducerConfig"]);
    let e = ClientConfig::default().set("group.id", "g").unwrap_err();
    assert_mentions(&e, "group.id", &["consumer property", "ConsumerConfig"]);
    // A name two config types take names both.
    let e = ClientConfig::default()
        .set("default.api.timeout.ms", "1")
        .unwrap_err();
    assert_mentions(
        &e,
        "default.api.timeout.ms",
        &[
            "consumer and admin property",
            "ConsumerConfig or AdminConfig",
        ],
    );
    let e = producer_err("default.api.timeout.ms", "1");
    assert_mentions(
        &e,
        "default.api.timeout.ms",
        &["consumer and admin property, not a producer"],
    );
}

#[test]
fn ssl_and_sasl_properties_are_not_supported_yet() {
    for name in ["ssl.keystore.location", "sasl.kerberos.service.name"] {
        assert_mentions(&producer_err(name, "x"), name, &["not supported yet"]);
        assert_mentions(&consumer_err(name, "x"), name, &["not supported yet"]);
    }
}

#[test]
fn a_misspelt_ssl_or_sasl_property_gets_a_suggestion() {
    let e = producer_err("sasl.pasword", "hunter2");
    assert_mentions(
        &e,
        "sasl.pasword",
        &["not supported yet", "did you mean sasl.password?"],
    );
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = consumer_err("ssl.zzzzzzzzzzzzzzzzzzzz", "v");
    assert!(!e.reason.contains("did you mean"), "{e}");
}

#[test]
fn ignored_properties_are_accepted_and_change_nothing() {
    for (name, _) in IGNORED_PROPERTIES {
        let mut p = ProducerConfig::new("h:1");
        p.set(name, "whatever")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p, ProducerConfig::new("h:1"), "{name}");
        let mut c = ConsumerConfig::new("h:1");
        c.set(name, "whatever")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c, ConsumerConfig::new("h:1"), "{name}");
        ClientConfig::default()
            .set(name, "x")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let c = ConsumerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        (
            "key.deserializer",
            "org.apache.kafka.common.serialization.StringDeserializer",
        ),
        ("statistics.interval.ms", "1000"),
    ])
    .unwrap();
    assert_eq!(c, ConsumerConfig::new("h:1"));
}

// -- value errors -------------------------------------------------------

#[test]
fn invalid_integers_and_durations() {
    let cases: &[(&str, &str, &str)] = &[
        ("linger.ms", "soon", "0..=2147483647"),
        ("linger.ms", "-1", "0..=2147483647"),
        ("linger.ms", "NaN", "fractions allowed"),
        ("linger.ms", "inf", "fractions allowed"),
        ("request.timeout.ms", "2147483648", "0..=2147483647"),
        ("request.timeout.ms", "1.5", "0..=2147483647"),
        ("retries", "-1", "0..=2147483647"),
        ("retries", "2147483648", "0..=2147483647"),
        ("batch.size", "lots", "0..=2147483647"),
        ("buffer.memory", "-5", "0..="),
        (
            "max.in.flight.requests.per.connection",
            "0",
            "1..=2147483647",
        ),
        (
            "max.in.flight",
            "0",
            "alias of max.in.flight.requests.per.connection",
        ),
        ("receive.message.max.bytes", "999", "1000..=2147483647"),
        ("transaction.timeout.ms", "999", "1000..=2147483647"),
        ("compression.level", "high", "integer"),
        ("max.request.size", "", "0..=2147483647"),
    ];
    for (name, value, accepted) in cases {
        let e = producer_err(name, value);
        assert_mentions(&e, name, &[&format!("{value:?}"), accepted]);
    }
    let cases: &[(&str, &str, &str)] = &[
        ("session.timeout.ms", "0", "1..=2147483647"),
        ("heartbeat.interval.ms", "0", "1..=2147483647"),
        ("max.poll.interval.ms", "0", "1..=2147483647"),
        ("max.poll.records", "0", "1..=2147483647"),
        ("fetch.min.bytes", "-1", "0..=2147483647"),
        ("fetch.max.bytes", "3000000000", "0..=2147483647"),
        ("max.partition.fetch.bytes", "x", "0..=2147483647"),
        (
            "fetch.message.max.bytes",
            "x",
            "alias of max.partition.fetch.bytes",
        ),
        ("auto.commit.interval.ms", "-3", "0..=2147483647"),
    ];
    for (name, value, accepted) in cases {
        let e = consumer_err(name, value);
        assert_mentions(&e, name, &[&format!("{value:?}"), accepted]);
    }
}

#[test]
fn invalid_enums_and_booleans() {
    let cases: &[(&str, &str, &str)] = &[
        ("acks", "2", "0, 1, all or -1"),
        ("enable.idempotence", "yes", "true or false"),
        (
            "compression.type",
            "brotli",
            "none, gzip, snappy, lz4 or zstd",
        ),
        ("compression.codec", "brotli", "alias of compression.type"),
        (
            "security.protocol",
            "tls",
            "plaintext, ssl, sasl_plaintext or sasl_ssl",
        ),
        ("allow.auto.create.topics", "maybe", "true or false"),
        ("partitioner.ignore.keys", "2", "true or false"),
    ];
    for (name, value, accepted) in cases {
        assert_mentions(
            &producer_err(name, value),
            name,
            &[&format!("{value:?}"), accepted],
        );
    }
    let cases: &[(&str, &str, &str)] = &[
        (
            "auto.offset.reset",
            "by_duration:PT1H",
            "earliest, latest, none",
        ),
        (
            "isolation.level",
            "committed",
            "read_uncommitted or read_committed",
        ),
        (
            "partition.assignment.strategy",
            "range,sticky",
            "\"sticky\": expected range, roundrobin",
        ),
        (
            "partition.assignment.strategy",
            " , ",
            "at least one of range",
        ),
        ("check.crcs", "on", "true or false"),
    ];
    for (name, value, accepted) in cases {
        assert_mentions(
            &consumer_err(name, value),
            name,
            &[&format!("{value:?}"), accepted],
        );
    }
}

#[test]
fn invalid_bootstrap_entries() {
    let cases: &[(&str, &str)] = &[
        ("localhost", "missing port"),
        ("localhost:0", "invalid port"),
        ("localhost:65536", "invalid port"),
        ("localhost:+80", "invalid port"),
        ("localhost:", "invalid port"),
        (":9092", "missing host"),
        ("::1:9092", "must be bracketed"),
        ("[::1]", "missing port"),
        ("[::1:9092", "unclosed"),
        ("[zz]:9092", "invalid IPv6"),
        ("bad host:9092", "invalid host name"),
        ("PLAINTEXT://h:9092", "remove the PLAINTEXT:// prefix"),
        ("[::1%]:9092", "invalid IPv6"),
        ("[1234]:9092", "invalid IPv6"),
        ("good:1,bad", "\"bad\""),
    ];
    for (value, why) in cases {
        let e = producer_err("bootstrap.servers", value);
        assert_mentions(&e, "bootstrap.servers", &[why, "host:port"]);
    }
    // Fields assigned directly are checked by validate().
    let mut c = ClientConfig::new("h:1");
    c.bootstrap_servers.push("nope".into());
    assert_mentions(
        &c.validate().unwrap_err(),
        "bootstrap.servers",
        &["\"nope\"", "missing port"],
    );
}

#[test]
fn valid_bootstrap_entries() {
    for (entry, host, port) in [
        ("localhost:9092", "localhost", 9092),
        ("10.0.0.1:1", "10.0.0.1", 1),
        ("a-b.c_d:65535", "a-b.c_d", 65535),
        ("[::1]:9092", "::1", 9092),
        ("[fe80::1%eth0]:9093", "fe80::1%eth0", 9093),
    ] {
        assert_eq!(parse_host_port(entry).unwrap(), (host, port), "{entry}");
    }
    let c = ClientConfig::new(" a:1 ,, b:2 ,");
    assert_eq!(c.bootstrap_servers, ["a:1", "b:2"]);
    assert!(c.validate().is_ok());
}

// -- validate() ---------------------------------------------------------

#[test]
fn client_validation_rules() {
    let ok = ClientConfig::new("h:1");
    assert!(ok.validate().is_ok());
    // TLS settings are built by validate(): a CA file that is not there
    // fails naming it (the rest: security::tls's tests).
    let e = ok
        .clone()
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_ca_location("/nonexistent/ca.pem")
        .validate()
        .unwrap_err();
    assert_mentions(&e, "ssl.ca.location", &["/nonexistent/ca.pem"]);
    // SASL needs a mechanism (and credentials: security::sasl's tests).
    let e = ok
        .clone()
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .validate()
        .unwrap_err();
    assert_mentions(&e, "sasl.mechanism", &["needs sasl.mechanism"]);
    let e = ok
        .clone()
        .max_in_flight_requests_per_connection(0)
        .validate()
        .unwrap_err();
    assert_mentions(
        &e,
        "max.in.flight.requests.per.connection",
        &["0 is out of range", "1..=2147483647"],
    );
    let e = ok
        .clone()
        .receive_message_max_bytes(999)
        .validate()
        .unwrap_err();
    assert_mentions(
        &e,
        "receive.message.max.bytes",
        &["999", "1000..=2147483647"],
    );
    let e = ok
        .clone()
        .reconnect_backoff(ms(2000))
        .validate()
        .unwrap_err();
    assert_mentions(
        &e,
        "reconnect.backoff.ms",
        &["2000 ms", "reconnect.backoff.max.ms (1000 ms)"],
    );
    let e = ok.clone().retry_backoff(ms(1001)).validate().unwrap_err();
    assert_mentions(
        &e,
        "retry.backoff.ms",
        &["1001 ms", "retry.backoff.max.ms (1000 ms)"],
    );
    assert!(
        ok.clone()
            .retry_backoff(ms(1000))
            .reconnect_backoff(ms(1000))
            .validate()
            .is_ok()
    );
    // Client rules apply to producer and consumer configs too.
    let e = ProducerConfig::new("h:1")
        .security_protocol(SecurityProtocol::Ssl)
        .ssl_ca_location("/nonexistent/ca.pem")
        .build()
        .unwrap_err();
    assert_eq!(e.property, "ssl.ca.location");
    let e = ConsumerConfig::new("h:1")
        .retry_backoff(ms(5000))
        .build()
        .unwrap_err();
    assert_eq!(e.property, "retry.backoff.ms");
}

#[test]
fn explicit_idempotence_conflicts_are_errors_naming_both() {
    for (props, setting) in [
        (("acks", "1"), "acks=1"),
        (("acks", "0"), "acks=0"),
        (("retries", "0"), "retries=0"),
        (
            ("max.in.flight.requests.per.connection", "6"),
            "max.in.flight.requests.per.connection=6",
        ),
    ] {
        // Either order.
        for order in [
            [("enable.idempotence", "true"), props],
            [props, ("enable.idempotence", "true")],
        ] {
            let e =
                ProducerConfig::from_properties([("bootstrap.servers", "h:1"), order[0], order[1]])
                    .unwrap_err();
            assert_mentions(
                &e,
                "enable.idempotence",
                &["enable.idempotence=true", setting],
            );
        }
    }
    let e = ProducerConfig::new("h:1")
        .enable_idempotence(true)
        .acks(Acks::Leader)
        .build()
        .unwrap_err();
    assert_mentions(&e, "enable.idempotence", &["acks=1"]);
    // Explicit true with compatible settings is fine.
    let p = ProducerConfig::new("h:1")
        .enable_idempotence(true)
        .max_in_flight_requests_per_connection(5)
        .build()
        .unwrap();
    assert!(p.is_idempotent());
}

#[test]
fn implicit_idempotence_turns_off_on_conflict_like_java() {
    for (name, value) in [("acks", "1"), ("retries", "0"), ("max.in.flight", "6")] {
        let p =
            ProducerConfig::from_properties([("bootstrap.servers", "h:1"), (name, value)]).unwrap();
        assert!(!p.is_idempotent(), "{name}={value}");
    }
    let p = ProducerConfig::new("h:1").acks(Acks::None).build().unwrap();
    assert!(!p.is_idempotent());
    let p = ProducerConfig::new("h:1").retries(0).build().unwrap();
    assert!(!p.is_idempotent());
    let p = ProducerConfig::new("h:1")
        .max_in_flight_requests_per_connection(10)
        .build()
        .unwrap();
    assert!(!p.is_idempotent());
    // Only the final values count: undoing the conflict turns it back on.
    let p = ProducerConfig::new("h:1")
        .acks(Acks::Leader)
        .acks(Acks::All)
        .build()
        .unwrap();
    assert!(p.is_idempotent());
    let mut p = ProducerConfig::new("h:1");
    p.set("acks", "1").unwrap();
    p.set("acks", "all").unwrap();
    assert!(p.is_idempotent());
    // Explicitly off stays off.
    let p = ProducerConfig::new("h:1")
        .enable_idempotence(false)
        .acks(Acks::All)
        .build()
        .unwrap();
    assert!(!p.is_idempotent());
    // Unset stays unset: the rule is applied when the config is read.
    let p = ProducerConfig::new("h:1")
        .acks(Acks::Leader)
        .build()
        .unwrap();
    assert_eq!(p.enable_idempotence, None);
    assert!(!p.is_idempotent());
    assert!(ProducerConfig::new("h:1").is_idempotent(), "the default");
}

#[test]
fn idempotence_assigned_directly_is_as_explicit_as_set() {
    // Some(false): a later set() does not turn it back on.
    let mut p = ProducerConfig::new("h:1");
    p.enable_idempotence = Some(false);
    p.set("linger.ms", "1").unwrap();
    assert!(!p.is_idempotent());
    // Some(true) with a conflicting setting: an error naming both.
    let mut p = ProducerConfig::new("h:1").acks(Acks::Leader);
    p.enable_idempotence = Some(true);
    assert_mentions(
        &p.validate().unwrap_err(),
        "enable.idempotence",
        &["enable.idempotence=true", "acks=1"],
    );
    // A conflicting field assigned directly with idempotence unset: off,
    // as in Java, not an error.
    let mut p = ProducerConfig::new("h:1");
    p.acks = Acks::Leader;
    assert!(p.validate().is_ok());
    assert!(!p.is_idempotent());
    // set("enable.idempotence", "") unsets it again.
    let mut p = ProducerConfig::new("h:1").enable_idempotence(false);
    assert_eq!(p.enable_idempotence, Some(false));
    p.set("enable.idempotence", "").unwrap();
    assert_eq!(p.enable_idempotence, None);
    assert!(p.is_idempotent());
}

#[test]
fn transactional_id_requires_idempotence() {
    let e = ProducerConfig::new("h:1")
        .transactional_id("tx")
        .enable_idempotence(false)
        .build()
        .unwrap_err();
    assert_mentions(
        &e,
        "transactional.id",
        &[
            "requires enable.idempotence=true",
            "enable.idempotence=false",
        ],
    );
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("transactional.id", "tx"),
        ("acks", "1"),
    ])
    .unwrap_err();
    assert_mentions(
        &e,
        "transactional.id",
        &["idempotence is off because of acks=1"],
    );
    let p = ProducerConfig::new("h:1")
        .transactional_id("tx")
        .build()
        .unwrap();
    assert!(p.is_idempotent());
}

#[test]
fn delivery_timeout_must_cover_linger_and_request_timeout() {
    let e = ProducerConfig::new("h:1")
        .delivery_timeout(ms(30_004))
        .build()
        .unwrap_err();
    assert_mentions(
        &e,
        "delivery.timeout.ms",
        &["30004 ms", "5 + 30000 = 30005 ms"],
    );
    assert!(
        ProducerConfig::new("h:1")
            .delivery_timeout(ms(30_005))
            .build()
            .is_ok()
    );
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("linger.ms", "1000"),
        ("request.timeout.ms", "120000"),
    ])
    .unwrap_err();
    assert_mentions(&e, "delivery.timeout.ms", &["1000 + 120000 = 121000 ms"]);
}

#[test]
fn compression_level_is_checked_against_the_codec() {
    let base = || ProducerConfig::new("h:1");
    assert!(
        base()
            .compression(Compression::Gzip)
            .compression_level(9)
            .build()
            .is_ok()
    );
    assert!(
        base()
            .compression(Compression::Gzip)
            .compression_level(-1)
            .build()
            .is_ok()
    );
    assert!(
        base()
            .compression(Compression::Zstd)
            .compression_level(-5)
            .build()
            .is_ok()
    );
    assert!(
        base()
            .compression(Compression::Lz4)
            .compression_level(17)
            .build()
            .is_ok()
    );
    for (codec, level, range) in [
        (Compression::Gzip, 10, "1..=9"),
        (Compression::Gzip, 0, "1..=9"),
        (Compression::Lz4, 18, "1..=17"),
        (Compression::Zstd, 23, "..=22"),
    ] {
        let e = base()
            .compression(codec)
            .compression_level(level)
            .build()
            .unwrap_err();
        assert_mentions(
            &e,
            "compression.level",
            &[
                &format!("{level}"),
                &format!("compression.type={codec}"),
                range,
            ],
        );
    }
    for codec in [Compression::None, Compression::Snappy] {
        let e = base()
            .compression(codec)
            .compression_level(1)
            .build()
            .unwrap_err();
        assert_mentions(
            &e,
            "compression.level",
            &[&format!(
                "compression.type={codec} has no compression levels"
            )],
        );
    }
    // Order of the properties does not matter; -1 means "default" for any codec.
    let p = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("compression.level", "12"),
        ("compression.type", "zstd"),
    ])
    .unwrap();
    assert_eq!(
        (p.compression, p.compression_level),
        (Compression::Zstd, Some(12))
    );
    assert!(
        ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("compression.level", "-1")
        ])
        .is_ok()
    );
}

#[test]
fn producer_range_rules_for_directly_assigned_fields() {
    let mut p = ProducerConfig::new("h:1");
    p.retries = u32::MAX;
    assert_mentions(
        &p.validate().unwrap_err(),
        "retries",
        &["4294967295 is out of range", "0..=2147483647"],
    );
    let p = ProducerConfig::new("h:1").transaction_timeout(ms(999));
    assert_mentions(
        &p.validate().unwrap_err(),
        "transaction.timeout.ms",
        &["999 ms is out of range", "1000..=2147483647"],
    );
}

#[test]
fn consumer_validation_rules() {
    let base = || ConsumerConfig::new("h:1");
    let e = base().heartbeat_interval(ms(45_000)).build().unwrap_err();
    assert_mentions(
        &e,
        "heartbeat.interval.ms",
        &["45000 ms", "session.timeout.ms (45000 ms)"],
    );
    let e = ConsumerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("session.timeout.ms", "2000"),
    ])
    .unwrap_err();
    assert_mentions(
        &e,
        "heartbeat.interval.ms",
        &["3000 ms", "lower than session.timeout.ms (2000 ms)"],
    );
    assert!(base().heartbeat_interval(ms(44_999)).build().is_ok());
    assert_mentions(
        &base().session_timeout(ms(0)).build().unwrap_err(),
        "session.timeout.ms",
        &["0 ms is out of range", "1..=2147483647"],
    );
    assert_mentions(
        &base().heartbeat_interval(ms(0)).build().unwrap_err(),
        "heartbeat.interval.ms",
        &["0 ms is out of range", "1..=2147483647"],
    );
    assert_mentions(
        &base().max_poll_interval(ms(0)).build().unwrap_err(),
        "max.poll.interval.ms",
        &["0 ms is out of range", "1..=2147483647"],
    );
    assert_mentions(
        &base().max_poll_records(0).build().unwrap_err(),
        "max.poll.records",
        &["0 is out of range", "1..=2147483647"],
    );
    assert_mentions(
        &base().fetch_min_bytes(-1).build().unwrap_err(),
        "fetch.min.bytes",
        &["-1 is out of range", "0..=2147483647"],
    );
    assert_mentions(
        &base().fetch_max_bytes(-1).build().unwrap_err(),
        "fetch.max.bytes",
        &["-1 is out of range"],
    );
    assert_mentions(
        &base().max_partition_fetch_bytes(-2).build().unwrap_err(),
        "max.partition.fetch.bytes",
        &["-2"],
    );
    let e = base().fetch_max_bytes(99_999_489).build().unwrap_err();
    assert_mentions(
        &e,
        "fetch.max.bytes",
        &["99999489", "receive.message.max.bytes (100000000)"],
    );
    assert!(base().fetch_max_bytes(99_999_488).build().is_ok());
    assert!(
        base()
            .fetch_max_bytes(200_000_000)
            .receive_message_max_bytes(200_000_512)
            .build()
            .is_ok()
    );
    let e = base()
        .partition_assignment_strategy([])
        .build()
        .unwrap_err();
    assert_mentions(&e, "partition.assignment.strategy", &["at least one"]);
    let e = base().group_instance_id("i").build().unwrap_err();
    assert_mentions(&e, "group.instance.id", &["requires group.id"]);
    assert!(base().group_id("g").group_instance_id("i").build().is_ok());
}

// -- builders and from_properties ----------------------------------------

#[test]
fn builder_and_properties_agree() {
    let built = ProducerConfig::new("b1:9092,b2:9092")
        .client_id("orders")
        .client_rack("az1")
        .request_timeout(ms(10_000))
        .linger(ms(10))
        .acks(Acks::All)
        .batch_size(65_536)
        .compression(Compression::Gzip)
        .compression_level(5)
        .delivery_timeout(ms(60_000))
        .build()
        .unwrap();
    let props = ProducerConfig::from_properties([
        ("bootstrap.servers", "b1:9092,b2:9092"),
        ("client.id", "orders"),
        ("client.rack", "az1"),
        ("request.timeout.ms", "10000"),
        ("linger.ms", "10"),
        ("acks", "all"),
        ("batch.size", "65536"),
        ("compression.type", "gzip"),
        ("compression.level", "5"),
        ("delivery.timeout.ms", "60000"),
    ])
    .unwrap();
    assert_eq!(built, props);
    assert_ne!(built, ProducerConfig::new("b1:9092,b2:9092"));

    let built = ConsumerConfig::new("b1:9092")
        .group_id("g")
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .isolation_level(IsolationLevel::ReadCommitted)
        .partition_assignment_strategy([AssignmentStrategy::CooperativeSticky])
        .max_poll_records(100)
        .build()
        .unwrap();
    let props = ConsumerConfig::from_properties(vec![
        ("bootstrap.servers".to_string(), "b1:9092".to_string()),
        ("group.id".into(), "g".into()),
        ("auto.offset.reset".into(), "earliest".into()),
        ("enable.auto.commit".into(), "false".into()),
        ("isolation.level".into(), "read_committed".into()),
        (
            "partition.assignment.strategy".into(),
            "cooperative-sticky".into(),
        ),
        ("max.poll.records".into(), "100".into()),
    ])
    .unwrap();
    assert_eq!(built, props);
    let client =
        ClientConfig::from_properties([("bootstrap.servers", "b1:9092"), ("client.id", "x")])
            .unwrap();
    assert_eq!(
        client,
        ClientConfig::new("b1:9092").client_id("x").build().unwrap()
    );
}

#[test]
fn from_properties_stops_at_the_first_bad_property() {
    let e = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("acks", "2"),
        ("lingr.ms", "1"),
    ])
    .unwrap_err();
    assert_eq!(e.property, "acks");
    let e = ConsumerConfig::from_properties([("bootstrap.servers", "h:1"), ("lingr.ms", "1")])
        .unwrap_err();
    assert_eq!(e.property, "lingr.ms");
    let e = ClientConfig::from_properties([("bootstrap.servers", "h")]).unwrap_err();
    assert_mentions(&e, "bootstrap.servers", &["missing port"]);
    // A later value wins.
    let p = ProducerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("linger.ms", "1"),
        ("linger.ms", "2"),
    ])
    .unwrap();
    assert_eq!(p.linger, ms(2));
}

// -- docs and helpers ----------------------------------------------------

#[test]
fn edit_distance_and_suggestions() {
    assert_eq!(edit_distance("", ""), 0);
    assert_eq!(edit_distance("abc", ""), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("linger.ms", "linger.ms"), 0);
    assert_eq!(edit_distance("lnger.ms", "linger.ms"), 1);
    assert_eq!(suggest("ack", known_names(Scope::Producer)), Some("acks"));
    assert_eq!(suggest("xyz", known_names(Scope::Producer)), None);
    assert_eq!(
        suggest("group.idd", known_names(Scope::Producer)),
        None,
        "not a producer name"
    );
    assert_eq!(
        suggest("group.idd", known_names(Scope::Consumer)),
        Some("group.id")
    );
}

#[test]
fn fractional_linger_is_librdkafka_compatible() {
    let mut p = ProducerConfig::default();
    p.set("linger.ms", "0.25").unwrap();
    assert_eq!(p.linger, Duration::from_micros(250));
    p.set("linger.ms", "0").unwrap();
    assert_eq!(p.linger, Duration::ZERO);
    p.set("linger.ms", "2147483647").unwrap();
    assert_eq!(p.linger, ms(2_147_483_647));
    assert!(p.set("linger.ms", "2147483648").is_err());
    assert!(p.set("linger.ms", "-0.5").is_err());
}

#[test]
fn group_protocol_consumer_refuses_classic_only_settings() {
    let c = ConsumerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("group.id", "g"),
        ("group.protocol", "consumer"),
        ("group.remote.assignor", "range"),
    ])
    .unwrap();
    assert_eq!(c.group_protocol, GroupProtocol::Consumer);
    assert_eq!(c.group_remote_assignor.as_deref(), Some("range"));
    assert_eq!(
        ConsumerConfig::default().group_protocol,
        GroupProtocol::Classic
    );
    for (name, value) in [
        ("session.timeout.ms", "10000"),
        ("heartbeat.interval.ms", "1000"),
        ("partition.assignment.strategy", "roundrobin"),
    ] {
        let e = ConsumerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("group.id", "g"),
            ("group.protocol", "consumer"),
            (name, value),
        ])
        .unwrap_err();
        assert_eq!(e.property, name, "{e}");
        assert!(e.reason.contains("group.protocol=consumer"), "{e}");
        // The same settings are fine with the classic protocol.
        ConsumerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("group.id", "g"),
            (name, value),
        ])
        .unwrap();
    }
    let e = ConsumerConfig::from_properties([
        ("bootstrap.servers", "h:1"),
        ("group.remote.assignor", "uniform"),
    ])
    .unwrap_err();
    assert_eq!(e.property, "group.remote.assignor", "{e}");
    let e = ConsumerConfig::from_properties([("group.protocol", "next")]).unwrap_err();
    assert!(e.to_string().contains("classic or consumer"), "{e}");
}
