//! Typed configuration, and the Java / librdkafka property names.
//!
//! Every client takes a typed config: [`ClientConfig`] (connection settings
//! shared by all clients), [`ProducerConfig`] and [`ConsumerConfig`] (each
//! holding a `client: ClientConfig`). There are three ways to fill one:
//!
//! ```
//! use purekafka::config::{Acks, ProducerConfig};
//! use std::time::Duration;
//!
//! // 1. Typed, builder style: consuming setters named like the fields.
//! let config = ProducerConfig::new("broker1:9092,broker2:9092")
//!     .linger(Duration::from_millis(10))
//!     .acks(Acks::All)
//!     .client_id("orders-service")
//!     .build()?; // runs validate()
//!
//! // 2. From Java / librdkafka properties (validated too).
//! let same = ProducerConfig::from_properties([
//!     ("bootstrap.servers", "broker1:9092,broker2:9092"),
//!     ("queue.buffering.max.ms", "10"), // librdkafka's name for linger.ms
//!     ("acks", "all"),
//!     ("client.id", "orders-service"),
//! ])?;
//! assert_eq!(config, same);
//!
//! // 3. One property at a time; `validate()` when done.
//! let mut config = ProducerConfig::default();
//! config.set("bootstrap.servers", "localhost:9092")?;
//! config.set("compression.type", "zstd")?;
//! config.validate()?;
//! # Ok::<(), purekafka::error::ConfigError>(())
//! ```
//!
//! Fields are public: assigning them directly is fine, [`validate`]
//! (ProducerConfig::validate) checks ranges and the cross-field rules.
//!
//! Errors are [`ConfigError`]s naming the property as the user spelled it:
//! an unknown name (with "did you mean linger.ms?" when a known name is
//! close), an invalid value (with the value, unless it is a secret, and
//! what is accepted), a property of the other client type ("linger.ms is a
//! producer property"), or a cross-field rule that does not hold.
//!
//! # Properties
//!
//! Each property is declared once, in this module's `declare_config!`
//! table: its name, aliases, field, kind of value, default and doc line.
//! The fields, the builder setters, [`set`](ProducerConfig::set), the range
//! checks of `validate()`, the tables in the docs of [`ClientConfig`],
//! [`ProducerConfig`] and [`ConsumerConfig`], and [`properties()`] are all
//! generated from it.
//!
//! Booleans are `true`/`false` (also `1`/`0`), enum values are
//! case-insensitive, values are trimmed (secrets excepted), and an empty
//! value for an optional property means "unset".
//!
//! Idempotence follows the Java client: it needs `acks=all`, `retries` > 0
//! and `max.in.flight.requests.per.connection` ≤ 5. If `enable.idempotence`
//! was set (`Some(true)`), a conflicting setting is an error naming both;
//! if it was left unset (`None`), a conflicting setting turns it off
//! ([`ProducerConfig::is_idempotent`] says which it is).
//!
//! Properties that Java or librdkafka configs commonly carry and that
//! purekafka ignores on purpose are accepted (logged with `tracing::debug!`)
//! so that those configs load: see [`IGNORED_PROPERTIES`]. Any other
//! `ssl.*` or `sasl.*` property is rejected with "not supported yet".
//!
//! Values that must not be shown (passwords, tokens, private keys) are
//! [`Secret`]s: `Debug` prints `[redacted]`, and errors never echo them.
//!
//! [`validate`]: ProducerConfig::validate

#[macro_use]
mod decl;
#[cfg(test)]
mod tests;
mod values;

pub use decl::{PropertyInfo, Scope, Secret};
pub use values::{
    Acks, AssignmentStrategy, GroupProtocol, IsolationLevel, OffsetReset, SecurityProtocol,
    parse_host_port,
};

use crate::error::ConfigError;
use crate::security::sasl::oauthbearer::TokenProvider;
use crate::security::sasl::props::{
    parse_jaas_config, parse_mechanism, parse_oauthbearer_config, parse_token_provider,
};
use crate::security::sasl::{Mechanism, TokenProviderRef};
use crate::security::tls::{
    CryptoProviderRef, EndpointIdentification, RustlsConfigRef, TlsSettings, TlsVersion,
    parse_crypto_provider, parse_enabled_protocols, parse_endpoint_identification,
    parse_rustls_config,
};
use decl::{any_value, not_declared};
use purekafka_compression::Compression;
use std::time::Duration;
use values::{check_bootstrap, parse_bootstrap, parse_compression_level, split_servers};

// The declaration: one entry per property.
//
// { "java.name" ["alias", ...] field: Type, kind(args), default, "doc line"
//   [, set(arg: ArgType) => expression] }
//
// See config/decl.rs for the kinds. 2147483647 is Java's Integer.MAX_VALUE,
// the upper bound of most Java int properties.
declare_config! {
    /// Connection settings shared by producers, consumers and admin clients.
    ///
    /// Accepted by all three config types (the producer and consumer
    /// configs hold one as `client`, and forward its setters).
    client ClientConfig {
        { "bootstrap.servers" ["metadata.broker.list"] bootstrap_servers: Vec<String>,
          custom(parse_bootstrap, check_bootstrap,
                 "comma-separated `host:port` list (port 1..=65535, IPv6 as `[::1]:9092`)"),
          unset, "The brokers to ask for the cluster's metadata first. Required.",
          set(servers: &str) => split_servers(servers) },
        { "client.id" [] client_id: String, string(), "purekafka",
          "The name sent with every request, for broker logs and quotas." },
        { "client.rack" [] client_rack: Option<String>, opt_string(), unset,
          "The rack or zone of this client, for fetching from the closest replica." },
        { "request.timeout.ms" ["socket.timeout.ms"] request_timeout: Duration,
          ms(0, 2147483647), "30000",
          "How long to wait for a response before the request fails (or is retried)." },
        { "reconnect.backoff.ms" [] reconnect_backoff: Duration, ms(0, 2147483647), "50",
          "The first wait before reconnecting to a broker; doubles up to the max." },
        { "reconnect.backoff.max.ms" [] reconnect_backoff_max: Duration,
          ms(0, 2147483647), "1000",
          "The longest wait before reconnecting to a broker." },
        { "retry.backoff.ms" [] retry_backoff: Duration, ms(0, 2147483647), "100",
          "The first wait before retrying a failed request; doubles up to the max." },
        { "retry.backoff.max.ms" [] retry_backoff_max: Duration, ms(0, 2147483647), "1000",
          "The longest wait before retrying a failed request." },
        { "metadata.max.age.ms" ["topic.metadata.refresh.interval.ms"] metadata_max_age: Duration,
          ms(0, 2147483647), "300000",
          "Metadata older than this is refreshed even without an error." },
        { "max.in.flight.requests.per.connection" ["max.in.flight"]
          max_in_flight_requests_per_connection: usize, int(1, 2147483647), "5",
          "Requests sent on one connection before a response (at most 5 with idempotence)." },
        { "socket.connection.setup.timeout.ms" [] socket_connection_setup_timeout: Duration,
          ms(0, 2147483647), "10000",
          "How long connecting to a broker may take." },
        { "connections.max.idle.ms" [] connections_max_idle: Duration,
          ms(0, 2147483647), "540000",
          "A connection idle this long is closed (and reopened on next use)." },
        { "receive.message.max.bytes" [] receive_message_max_bytes: usize,
          int(1000, 2147483647), "100000000",
          "The largest response frame accepted from a broker." },
        { "security.protocol" [] security_protocol: SecurityProtocol,
          choice(SecurityProtocol, "`plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl`"),
          "plaintext", "How to talk to brokers." },
        { "ssl.ca.location" [] ssl_ca_location: Option<String>, opt_string(), unset,
          "CA certificates to trust: a PEM file or a directory of them; unset (and no ssl.ca.pem): the platform's roots." },
        { "ssl.ca.pem" [] ssl_ca_pem: Option<String>, opt_string(), unset,
          "CA certificates to trust, as inline PEM." },
        { "ssl.certificate.location" [] ssl_certificate_location: Option<String>, opt_string(), unset,
          "The client's certificate chain (PEM file), for brokers that require one." },
        { "ssl.certificate.pem" [] ssl_certificate_pem: Option<String>, opt_string(), unset,
          "The client's certificate chain, as inline PEM." },
        { "ssl.key.location" [] ssl_key_location: Option<String>, opt_string(), unset,
          "The client certificate's private key (PEM: PKCS#8, PKCS#1, SEC1 or encrypted PKCS#8)." },
        { "ssl.key.pem" [] ssl_key_pem: Option<Secret>, secret(), unset,
          "The client certificate's private key, as inline PEM." },
        { "ssl.key.password" [] ssl_key_password: Option<Secret>, secret(), unset,
          "The password of an encrypted private key (ENCRYPTED PRIVATE KEY)." },
        { "ssl.endpoint.identification.algorithm" [] ssl_endpoint_identification_algorithm: EndpointIdentification,
          custom(parse_endpoint_identification, any_value, "`https`, `none` or empty (no host check)"),
          "https", "`https`: the broker's certificate must name the host connected to (bootstrap, then advertised)." },
        { "ssl.enabled.protocols" [] ssl_enabled_protocols: Vec<TlsVersion>,
          custom(parse_enabled_protocols, any_value, "comma-separated `TLSv1.2`, `TLSv1.3`"),
          "TLSv1.2,TLSv1.3", "The TLS versions offered." },
        { "ssl.provider" [] ssl_crypto_provider: Option<CryptoProviderRef>,
          custom(parse_crypto_provider, any_value, "set in code: `ssl_crypto_provider(Arc<rustls::crypto::CryptoProvider>)`"),
          unset, "The rustls crypto provider; unset: the process default if installed, else graviola.",
          set(p: std::sync::Arc<rustls::crypto::CryptoProvider>) => Some(CryptoProviderRef(p)) },
        { "ssl.engine.factory.class" [] ssl_rustls_config: Option<RustlsConfigRef>,
          custom(parse_rustls_config, any_value, "set in code: `ssl_rustls_config(Arc<rustls::ClientConfig>)`"),
          unset, "A complete rustls ClientConfig, used instead of every other ssl.* property.",
          set(c: std::sync::Arc<rustls::ClientConfig>) => Some(RustlsConfigRef(c)) },
        { "sasl.mechanism" ["sasl.mechanisms"] sasl_mechanism: Option<Mechanism>,
          custom(parse_mechanism, any_value,
                 "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER` (not `GSSAPI`: no pure-Rust Kerberos)"),
          unset, "The SASL mechanism (security.protocol sasl_*); no default.",
          set(m: Mechanism) => Some(m) },
        { "sasl.username" [] sasl_username: Option<String>, opt_string(), unset,
          "The SASL user (PLAIN, SCRAM), or `username=` in sasl.jaas.config." },
        { "sasl.password" [] sasl_password: Option<Secret>, secret(), unset,
          "The SASL user's password (PLAIN, SCRAM), or `password=` in sasl.jaas.config." },
        { secret "sasl.jaas.config" [] sasl_jaas_config: Option<Secret>,
          custom(parse_jaas_config, any_value,
                 "`<LoginModule> required key=\"value\" ...;` (PlainLoginModule, ScramLoginModule: `username`, `password`; OAuthBearerLoginModule: `unsecuredLoginStringClaim_sub`)"),
          unset, "Java's login configuration, read as the Java client reads it.",
          set(v: &str) => Some(Secret::new(v)) },
        { secret "sasl.oauthbearer.config" [] sasl_oauthbearer_config: Option<Secret>,
          custom(parse_oauthbearer_config, any_value,
                 "`principal=<sub> [lifeSeconds=<n>] [scope=<a,b>] [extension_<k>=<v>]`"),
          unset, "librdkafka's unsecured OAUTHBEARER tokens (with enable.sasl.oauthbearer.unsecure.jwt).",
          set(v: &str) => Some(Secret::new(v)) },
        { "enable.sasl.oauthbearer.unsecure.jwt" [] enable_sasl_oauthbearer_unsecure_jwt: bool,
          bool(), "false",
          "Make unsigned OAUTHBEARER tokens from sasl.oauthbearer.config (testing only)." },
        { "sasl.login.callback.handler.class" [] sasl_token_provider: Option<TokenProviderRef>,
          custom(parse_token_provider, any_value, "set in code: `sasl_token_provider(Arc<dyn TokenProvider>)`"),
          unset, "Where OAUTHBEARER tokens come from (async, cached, refreshed before expiry).",
          set(p: std::sync::Arc<dyn TokenProvider>) => Some(TokenProviderRef(p)) },
        { "allow.auto.create.topics" [] allow_auto_create_topics: bool, bool(), "true",
          "Whether a metadata request may create a missing topic (if the broker allows it)." },
    }

    /// Producer settings.
    ///
    /// Accepts the [`ClientConfig`] properties too.
    producer ProducerConfig {
        { "acks" ["request.required.acks"] acks: Acks,
          choice(Acks, "`0`, `1`, `all` (= `-1`)"), "all",
          "How many replicas must have a record before it counts as written." },
        { "enable.idempotence" [] enable_idempotence: Option<bool>, opt_bool(), unset,
          "Exactly-once per partition; unset: on unless acks, retries or max.in.flight rule it out." },
        { "linger.ms" ["queue.buffering.max.ms"] linger: Duration,
          ms_frac(0, 2147483647), "5",
          "How long a batch waits for more records before it is sent." },
        { "batch.size" [] batch_size: usize, int(0, 2147483647), "16384",
          "The size a batch is sent at without waiting for linger.ms, in bytes." },
        { "buffer.memory" [] buffer_memory: usize, int(0, 9223372036854775807), "33554432",
          "Bytes of records waiting to be sent before send()/enqueue() wait for room." },
        { "max.block.ms" [] max_block: Duration, ms(0, 2147483647), "60000",
          "How long send()/enqueue() wait for room in a full buffer or for missing metadata." },
        { "max.request.size" ["message.max.bytes"] max_request_size: usize,
          int(0, 2147483647), "1048576",
          "The largest record (and Produce request) sent, in bytes." },
        { "compression.type" ["compression.codec"] compression: Compression,
          choice(Compression, "`none`, `gzip`, `snappy`, `lz4`, `zstd`"), "none",
          "The codec of record batches." },
        { "compression.level" [] compression_level: Option<i32>,
          custom(parse_compression_level, any_value,
                 "gzip 1..=9, lz4 1..=17, zstd -131072..=22; `-1`: the codec's default"),
          unset, "The codec's compression level.",
          set(level: i32) => Some(level) },
        { "retries" ["message.send.max.retries"] retries: u32, int(0, 2147483647), "2147483647",
          "How often a failed batch is retried (within delivery.timeout.ms)." },
        { "delivery.timeout.ms" ["message.timeout.ms"] delivery_timeout: Duration,
          ms(0, 2147483647), "120000",
          "How long a record may take from send() to its acknowledgement, retries included." },
        { "partitioner.ignore.keys" [] partitioner_ignore_keys: bool, bool(), "false",
          "Partition keyed records as if they had no key." },
        { "partitioner.adaptive.partitioning.enable" [] partitioner_adaptive: bool,
          bool(), "true",
          "Send keyless records to faster brokers more often (not used yet)." },
        { "transactional.id" [] transactional_id: Option<String>, opt_string(), unset,
          "The id of a transactional producer (requires idempotence)." },
        { "transaction.timeout.ms" [] transaction_timeout: Duration,
          ms(1000, 2147483647), "60000",
          "How long a transaction may stay open before the coordinator aborts it." },
    }

    /// Consumer settings.
    ///
    /// Accepts the [`ClientConfig`] properties too.
    consumer ConsumerConfig {
        { "group.id" [] group_id: Option<String>, opt_string(), unset,
          "The consumer group; unset: no group, no commits, assign partitions yourself." },
        { "group.instance.id" [] group_instance_id: Option<String>, opt_string(), unset,
          "A static member id, kept across restarts (requires group.id)." },
        { "auto.offset.reset" [] auto_offset_reset: OffsetReset,
          choice(OffsetReset,
                 "`earliest` (`smallest`, `beginning`), `latest` (`largest`, `end`), `none` (`error`)"),
          "latest", "Where to start in a partition without a valid committed offset." },
        { "enable.auto.commit" [] enable_auto_commit: bool, bool(), "true",
          "Commit offsets in the background (no effect without group.id)." },
        { "auto.commit.interval.ms" [] auto_commit_interval: Duration,
          ms(0, 2147483647), "5000", "How often offsets are committed automatically." },
        { "enable.auto.offset.store" [] enable_auto_offset_store: bool, bool(), "true",
          "A polled record becomes committable at the next poll; false: only Consumer::store_offset." },
        { "session.timeout.ms" [] session_timeout: Duration, ms(1, 2147483647), "45000",
          "A member not heard from this long leaves the group." },
        { "heartbeat.interval.ms" [] heartbeat_interval: Duration, ms(1, 2147483647), "3000",
          "How often the member heartbeats (below session.timeout.ms)." },
        { "max.poll.interval.ms" [] max_poll_interval: Duration, ms(1, 2147483647), "300000",
          "A member that does not poll for this long leaves the group." },
        { "max.poll.records" [] max_poll_records: usize, int(1, 2147483647), "500",
          "The most records one poll returns." },
        { "fetch.min.bytes" [] fetch_min_bytes: i32, int(0, 2147483647), "1",
          "The broker waits for this many bytes (or fetch.max.wait.ms) before answering a Fetch." },
        { "fetch.max.bytes" [] fetch_max_bytes: i32, int(0, 2147483647), "52428800",
          "The most bytes one Fetch response carries (below receive.message.max.bytes - 512)." },
        { "fetch.max.wait.ms" ["fetch.wait.max.ms"] fetch_max_wait: Duration,
          ms(0, 2147483647), "500",
          "How long the broker may hold a Fetch waiting for fetch.min.bytes." },
        { "max.partition.fetch.bytes" ["fetch.message.max.bytes"] max_partition_fetch_bytes: i32,
          int(0, 2147483647), "1048576",
          "The most bytes one Fetch returns for one partition." },
        { "isolation.level" [] isolation_level: IsolationLevel,
          choice(IsolationLevel, "`read_uncommitted`, `read_committed`"), "read_uncommitted",
          "Whether records of open and aborted transactions are returned." },
        { "check.crcs" [] check_crcs: bool, bool(), "true",
          "Check the CRC of every fetched record batch." },
        { "partition.assignment.strategy" [] partition_assignment_strategy: Vec<AssignmentStrategy>,
          list(AssignmentStrategy,
               "`range`, `roundrobin`, `cooperative-sticky` (or the Java class names)"),
          "range,cooperative-sticky",
          "The assignors this member supports, in order of preference (Java 4.0's default)." },
        { "enable.partition.eof" [] enable_partition_eof: bool, bool(), "false",
          "Report reaching the end of a partition." },
        { "share.acknowledgement.mode" [] share_acknowledgement_mode: ShareAcknowledgementMode,
          choice(ShareAcknowledgementMode, "`implicit`, `explicit`"), "implicit",
          "Share consumers: `implicit` accepts a poll's records at the next poll; `explicit` wants each acknowledged." },
        { "share.acquire.mode" [] share_acquire_mode: ShareAcquireMode,
          choice(ShareAcquireMode, "`batch_optimized`, `record_limit`"), "batch_optimized",
          "Share consumers: `batch_optimized` lets the broker lock whole batches (more than max.poll.records); `record_limit` locks at most max.poll.records per fetch." },
        { "group.protocol" [] group_protocol: GroupProtocol,
          choice(GroupProtocol, "`classic`, `consumer`"), "classic",
          "The group protocol: `classic` (JoinGroup/SyncGroup) or `consumer` (KIP-848, Kafka 4.0+: the broker assigns, incrementally)." },
        { "group.remote.assignor" [] group_remote_assignor: Option<String>, opt_string(), unset,
          "With group.protocol=consumer: the broker's assignor (`uniform`, `range`); unset: the broker's default." },
        { "default.api.timeout.ms" [] default_api_timeout: Duration, ms(0, 2147483647), "60000",
          "How long a consumer call that asks the brokers (commit, committed, position, partitions_for, list_topics, offsets_for_times, beginning_offsets, end_offsets) may take, retries included, unless its `_timeout` form says otherwise." },
    }

    /// Admin client settings.
    ///
    /// Accepts the [`ClientConfig`] properties too (`request.timeout.ms`,
    /// `retry.backoff.ms` and `retry.backoff.max.ms` among them: one
    /// request's timeout and the waits between an admin call's retries).
    admin AdminConfig {
        { "default.api.timeout.ms" [] default_api_timeout: Duration, ms(0, 2147483647), "60000",
          "How long an admin call may take, retries included, unless its options say otherwise." },
    }
}

declare_ignored! {
    /// Java / librdkafka properties that purekafka accepts and ignores on
    /// purpose, with the reason, so that existing configs load.
    "key.serializer" => "serialization is done by Rust types",
    "value.serializer" => "serialization is done by Rust types",
    "key.deserializer" => "deserialization is done by Rust types",
    "value.deserializer" => "deserialization is done by Rust types",
    "socket.keepalive.enable" => "the connection layer picks its socket options",
    "socket.nagle.disable" => "the connection layer picks its socket options",
    "send.buffer.bytes" => "the connection layer picks its socket options",
    "receive.buffer.bytes" => "the connection layer picks its socket options",
    "statistics.interval.ms" => "no statistics callback; use tracing",
    "metric.reporters" => "no metrics reporters; use tracing",
    "metrics.num.samples" => "no metrics reporters; use tracing",
    "metrics.sample.window.ms" => "no metrics reporters; use tracing",
    "metrics.recording.level" => "no metrics reporters; use tracing",
    "auto.include.jmx.reporter" => "no metrics reporters; use tracing",
    "api.version.request" => "ApiVersions is always used",
    "broker.version.fallback" => "ApiVersions is always used",
    "partitioner.availability.timeout.ms" => "adaptive partitioning is not implemented",
    "log_level" => "use tracing filters",
    "debug" => "use tracing filters",
}

/// Every declared property: the client ones, then the producer's, the
/// consumer's and the admin client's. The tables in the docs of the config types show the
/// same.
///
/// ```
/// use purekafka::config::{Scope, properties};
///
/// // A table of the producer's own properties, as a tool might print it.
/// for p in properties().filter(|p| p.scope == Scope::Producer) {
///     let default = if p.default.is_empty() { "unset" } else { p.default };
///     println!("{:<45} {:<12} {}", p.name, default, p.doc);
/// }
/// let linger = properties().find(|p| p.matches("queue.buffering.max.ms"));
/// assert_eq!(linger.map(|p| (p.name, p.field)), Some(("linger.ms", "linger")));
/// ```
pub fn properties() -> impl Iterator<Item = &'static PropertyInfo> {
    ClientConfig::PROPERTIES
        .iter()
        .chain(ProducerConfig::PROPERTIES)
        .chain(ConsumerConfig::PROPERTIES)
        .chain(AdminConfig::PROPERTIES)
}

/// The error of a cross-field rule that does not hold.
fn rule(property: &'static str, reason: String) -> Result<(), ConfigError> {
    Err(ConfigError::new(property, reason))
}

// ---------------------------------------------------------------------------
// ClientConfig
// ---------------------------------------------------------------------------

impl ClientConfig {
    /// Defaults, with `bootstrap` (a comma-separated `host:port` list) as
    /// `bootstrap.servers`. The entries are checked by [`validate`](Self::validate).
    pub fn new(bootstrap: &str) -> Self {
        ClientConfig {
            bootstrap_servers: split_servers(bootstrap),
            ..ClientConfig::default()
        }
    }

    /// Sets one property by its Java or librdkafka name.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let name = name.trim();
        match self.set_declared(name, value) {
            Some(result) => result,
            None => not_declared(Scope::Client, name),
        }
    }

    /// A validated config from `(name, value)` properties.
    pub fn from_properties<I, K, V>(props: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = ClientConfig::default();
        for (k, v) in props {
            c.set(k.as_ref(), v.as_ref())?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks every field's range, then the cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_declared()?;
        // The TLS settings build: files read, key decrypted, key and
        // certificate matching (security.protocol ssl and sasl_ssl).
        if let Some(tls) = TlsSettings::from_client(self) {
            tls.connector()?;
        }
        // The SASL settings hang together (mechanism, credentials).
        crate::security::sasl::SaslConfig::from_client(self)?;
        for (name, low, max_name, max) in [
            (
                "reconnect.backoff.ms",
                self.reconnect_backoff,
                "reconnect.backoff.max.ms",
                self.reconnect_backoff_max,
            ),
            (
                "retry.backoff.ms",
                self.retry_backoff,
                "retry.backoff.max.ms",
                self.retry_backoff_max,
            ),
        ] {
            if low > max {
                return rule(
                    name,
                    format!(
                        "{name} ({} ms) must not exceed {max_name} ({} ms)",
                        low.as_millis(),
                        max.as_millis()
                    ),
                );
            }
        }
        Ok(())
    }

    /// [`validate`](Self::validate)s and returns the config.
    pub fn build(self) -> Result<Self, ConfigError> {
        self.validate()?;
        Ok(self)
    }
}

// ---------------------------------------------------------------------------
// ProducerConfig
// ---------------------------------------------------------------------------

/// What each client type's config (producer, consumer, admin) has around
/// its `client: ClientConfig`, written once: `new`, `set` (the type's own
/// properties, then the client's), `from_properties`, `client` and `build`.
/// Each type writes its own `validate`.
macro_rules! client_type_config {
    ($ty:ident, $scope:expr, $set_doc:literal) => {
        impl $ty {
            /// Defaults, with `bootstrap` (a comma-separated `host:port` list) as
            /// `bootstrap.servers`. Chain setters, then [`build`](Self::build).
            pub fn new(bootstrap: &str) -> Self {
                $ty {
                    client: ClientConfig::new(bootstrap),
                    ..$ty::default()
                }
            }

            #[doc = $set_doc]
            pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
                let name = name.trim();
                if let Some(result) = self.set_declared(name, value) {
                    return result;
                }
                match self.client.set_declared(name, value) {
                    Some(result) => result,
                    None => not_declared($scope, name),
                }
            }

            /// A validated config from `(name, value)` properties.
            pub fn from_properties<I, K, V>(props: I) -> Result<Self, ConfigError>
            where
                I: IntoIterator<Item = (K, V)>,
                K: AsRef<str>,
                V: AsRef<str>,
            {
                let mut c = $ty::default();
                for (k, v) in props {
                    c.set(k.as_ref(), v.as_ref())?;
                }
                c.validate()?;
                Ok(c)
            }

            /// Replaces the whole client config.
            pub fn client(mut self, client: ClientConfig) -> Self {
                self.client = client;
                self
            }

            /// [`validate`](Self::validate)s and returns the config.
            pub fn build(self) -> Result<Self, ConfigError> {
                self.validate()?;
                Ok(self)
            }
        }
    };
}

client_type_config!(
    ProducerConfig,
    Scope::Producer,
    "Sets one property by its Java or librdkafka name (producer and client properties)."
);
client_type_config!(
    ConsumerConfig,
    Scope::Consumer,
    "Sets one property by its Java or librdkafka name (consumer and client properties)."
);
client_type_config!(
    AdminConfig,
    Scope::Admin,
    "Sets one property by its Java or librdkafka name (admin and client properties)."
);

/// Idempotence needs at most this many in-flight requests per connection.
const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;

impl ProducerConfig {
    /// Whether the producer is idempotent: `enable.idempotence` if it was
    /// set, else the Java rule (on unless `acks`, `retries` or
    /// `max.in.flight.requests.per.connection` rule it out).
    pub fn is_idempotent(&self) -> bool {
        self.enable_idempotence
            .unwrap_or_else(|| self.idempotence_conflict().is_none())
    }

    /// The setting that keeps idempotence from working, as
    /// `(property, "property=value")`, in the Java client's order.
    fn idempotence_conflict(&self) -> Option<(&'static str, String)> {
        let in_flight = self.client.max_in_flight_requests_per_connection;
        if self.retries == 0 {
            Some(("retries", "retries=0".to_owned()))
        } else if self.acks != Acks::All {
            Some(("acks", format!("acks={}", self.acks)))
        } else if in_flight > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
            Some((
                "max.in.flight.requests.per.connection",
                format!("max.in.flight.requests.per.connection={in_flight}"),
            ))
        } else {
            None
        }
    }

    /// Checks every field's range (client ones included), then the
    /// cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.client.validate()?;
        self.check_declared()?;
        if self.enable_idempotence == Some(true)
            && let Some((property, setting)) = self.idempotence_conflict()
        {
            return rule(
                "enable.idempotence",
                format!(
                    "enable.idempotence=true conflicts with {setting}: the idempotent producer needs acks=all, \
                     retries > 0 and max.in.flight.requests.per.connection <= 5; change {property} or set \
                     enable.idempotence=false"
                ),
            );
        }
        if self.transactional_id.is_some() && !self.is_idempotent() {
            let why = match self.idempotence_conflict() {
                Some((_, setting)) => format!("idempotence is off because of {setting}"),
                None => "enable.idempotence=false".to_owned(),
            };
            return rule(
                "transactional.id",
                format!("transactional.id requires enable.idempotence=true ({why})"),
            );
        }
        let floor = self.linger + self.client.request_timeout;
        if self.delivery_timeout < floor {
            return rule(
                "delivery.timeout.ms",
                format!(
                    "delivery.timeout.ms ({} ms) must be at least linger.ms + request.timeout.ms ({} + {} = {} ms)",
                    self.delivery_timeout.as_millis(),
                    self.linger.as_millis(),
                    self.client.request_timeout.as_millis(),
                    floor.as_millis()
                ),
            );
        }
        if let Some(level) = self.compression_level {
            match self.compression.level_range() {
                None => {
                    return rule(
                        "compression.level",
                        format!(
                            "compression.type={} has no compression levels, got {level}",
                            self.compression
                        ),
                    );
                }
                Some((lo, hi)) => {
                    let gzip_default = self.compression == Compression::Gzip && level == -1;
                    if !(lo..=hi).contains(&level) && !gzip_default {
                        return rule(
                            "compression.level",
                            format!(
                                "{level} is out of range for compression.type={}: expected {lo}..={hi}",
                                self.compression
                            ),
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// ConsumerConfig
// ---------------------------------------------------------------------------

/// Room a Fetch response needs beyond `fetch.max.bytes` (librdkafka's rule).
const FETCH_RESPONSE_OVERHEAD: usize = 512;

impl ConsumerConfig {
    /// Checks every field's range (client ones included), then the
    /// cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.client.validate()?;
        self.check_declared()?;
        if self.heartbeat_interval >= self.session_timeout {
            return rule(
                "heartbeat.interval.ms",
                format!(
                    "heartbeat.interval.ms ({} ms) must be lower than session.timeout.ms ({} ms)",
                    self.heartbeat_interval.as_millis(),
                    self.session_timeout.as_millis()
                ),
            );
        }
        let fetch_max = usize::try_from(self.fetch_max_bytes).unwrap_or(0);
        if fetch_max + FETCH_RESPONSE_OVERHEAD > self.client.receive_message_max_bytes {
            return rule(
                "fetch.max.bytes",
                format!(
                    "fetch.max.bytes ({fetch_max}) + {FETCH_RESPONSE_OVERHEAD} must not exceed \
                     receive.message.max.bytes ({}): raise receive.message.max.bytes",
                    self.client.receive_message_max_bytes
                ),
            );
        }
        if self.group_instance_id.is_some() && self.group_id.is_none() {
            return rule(
                "group.instance.id",
                "group.instance.id requires group.id".to_owned(),
            );
        }
        self.check_group_protocol()
    }

    /// Java's rule for `group.protocol=consumer`: the settings of the
    /// classic protocol that the broker now owns (session timeout,
    /// heartbeat interval, assignment) are refused rather than ignored. A
    /// field is taken as set when it differs from its default (a config
    /// does not remember which properties were given). With
    /// `group.protocol=classic`, `group.remote.assignor` is refused.
    fn check_group_protocol(&self) -> Result<(), ConfigError> {
        let d = ConsumerConfig::default();
        match self.group_protocol {
            GroupProtocol::Consumer => {
                let moved = [
                    (
                        "session.timeout.ms",
                        self.session_timeout != d.session_timeout,
                        "the broker's group.consumer.session.timeout.ms",
                    ),
                    (
                        "heartbeat.interval.ms",
                        self.heartbeat_interval != d.heartbeat_interval,
                        "the broker's group.consumer.heartbeat.interval.ms",
                    ),
                    (
                        "partition.assignment.strategy",
                        self.partition_assignment_strategy != d.partition_assignment_strategy,
                        "group.remote.assignor (uniform or range)",
                    ),
                ];
                for (name, set, instead) in moved {
                    if set {
                        return rule(
                            name,
                            format!(
                                "{name} is not supported with group.protocol=consumer: the \
                                 broker decides it there; use {instead}, or group.protocol=classic"
                            ),
                        );
                    }
                }
                if self.group_remote_assignor.as_deref() == Some("") {
                    return rule(
                        "group.remote.assignor",
                        "group.remote.assignor must not be empty".to_owned(),
                    );
                }
            }
            GroupProtocol::Classic if self.group_remote_assignor.is_some() => {
                return rule(
                    "group.remote.assignor",
                    "group.remote.assignor needs group.protocol=consumer (with the classic \
                     protocol, assignors are set by partition.assignment.strategy)"
                        .to_owned(),
                );
            }
            GroupProtocol::Classic => {}
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// AdminConfig
// ---------------------------------------------------------------------------

impl AdminConfig {
    /// Checks every field's range (client ones included).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.client.validate()?;
        self.check_declared()
    }
}

// ---------------------------------------------------------------------------
// ShareAcknowledgementMode
// ---------------------------------------------------------------------------

/// `share.acknowledgement.mode`: how a [`ShareConsumer`](crate::share::ShareConsumer)
/// acknowledges records (KIP-932).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ShareAcknowledgementMode {
    /// `implicit`: every record a poll returned is accepted at the next
    /// poll (or commit, or close).
    #[default]
    Implicit,
    /// `explicit`: the application acknowledges each record (accept,
    /// release, reject) before polling again.
    Explicit,
}

impl ShareAcknowledgementMode {
    /// The property value: `implicit` or `explicit`.
    pub const fn name(self) -> &'static str {
        match self {
            ShareAcknowledgementMode::Implicit => "implicit",
            ShareAcknowledgementMode::Explicit => "explicit",
        }
    }
}

impl decl::Choice for ShareAcknowledgementMode {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("implicit", ShareAcknowledgementMode::Implicit),
        ("explicit", ShareAcknowledgementMode::Explicit),
    ];
}

/// `share.acquire.mode` (KIP-1206): how many records one ShareFetch may
/// lock for a [`ShareConsumer`](crate::share::ShareConsumer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ShareAcquireMode {
    /// `batch_optimized`: whole record batches, possibly more than
    /// `max.poll.records` (a poll returns whole batches, as Java's does).
    #[default]
    BatchOptimized,
    /// `record_limit`: at most `max.poll.records` per fetch.
    RecordLimit,
}

impl ShareAcquireMode {
    /// The property value: `batch_optimized` or `record_limit`.
    pub const fn name(self) -> &'static str {
        match self {
            ShareAcquireMode::BatchOptimized => "batch_optimized",
            ShareAcquireMode::RecordLimit => "record_limit",
        }
    }
}

impl decl::Choice for ShareAcquireMode {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        ("batch_optimized", ShareAcquireMode::BatchOptimized),
        ("record_limit", ShareAcquireMode::RecordLimit),
    ];
}
