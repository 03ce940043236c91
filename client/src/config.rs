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
//! close), an invalid value (with the value and what is accepted), a
//! property of the other client type ("linger.ms is a producer property"),
//! or a cross-field rule that does not hold.
//!
//! # Properties
//!
//! Durations (`.ms`) are whole milliseconds in `0..=2147483647` unless a
//! smaller range is given (`linger.ms` also takes librdkafka's fractional
//! milliseconds). Booleans are `true`/`false` (also `1`/`0`), enum values
//! are case-insensitive. Empty strings for optional strings mean "unset".
//!
//! Client properties (accepted by all three config types):
//!
//! | Property | Aliases | Default | Field |
//! |----------|---------|---------|-------|
//! | `bootstrap.servers` | `metadata.broker.list` | required | `bootstrap_servers` (`host:port` list, port 1..=65535, IPv6 as `[::1]:9092`) |
//! | `client.id` | | `purekafka` | `client_id` |
//! | `client.rack` | | unset | `client_rack` |
//! | `request.timeout.ms` | `socket.timeout.ms` | 30000 | `request_timeout` |
//! | `reconnect.backoff.ms` | | 50 | `reconnect_backoff` (≤ max) |
//! | `reconnect.backoff.max.ms` | | 1000 | `reconnect_backoff_max` |
//! | `retry.backoff.ms` | | 100 | `retry_backoff` (≤ max) |
//! | `retry.backoff.max.ms` | | 1000 | `retry_backoff_max` |
//! | `metadata.max.age.ms` | `topic.metadata.refresh.interval.ms` | 300000 | `metadata_max_age` |
//! | `max.in.flight.requests.per.connection` | `max.in.flight` | 5 | `max_in_flight_requests_per_connection` (≥ 1) |
//! | `socket.connection.setup.timeout.ms` | | 10000 | `socket_connection_setup_timeout` |
//! | `connections.max.idle.ms` | | 540000 | `connections_max_idle` |
//! | `receive.message.max.bytes` | | 100000000 | `receive_message_max_bytes` (1000..=2147483647) |
//! | `security.protocol` | | `plaintext` | `security_protocol` (`plaintext` only, for now) |
//! | `allow.auto.create.topics` | | `true` | `allow_auto_create_topics` |
//!
//! Producer properties ([`ProducerConfig`]):
//!
//! | Property | Aliases | Default | Field |
//! |----------|---------|---------|-------|
//! | `acks` | `request.required.acks` | `all` | `acks` (`0`, `1`, `all` = `-1`) |
//! | `enable.idempotence` | | `true` | `enable_idempotence` (see below) |
//! | `linger.ms` | `queue.buffering.max.ms` | 5 | `linger` |
//! | `batch.size` | | 16384 | `batch_size` |
//! | `buffer.memory` | | 33554432 | `buffer_memory` |
//! | `max.block.ms` | | 60000 | `max_block` |
//! | `max.request.size` | `message.max.bytes` | 1048576 | `max_request_size` |
//! | `compression.type` | `compression.codec` | `none` | `compression` (`none`, `gzip`, `snappy`, `lz4`, `zstd`) |
//! | `compression.level` | | unset (codec default) | `compression_level` (gzip 1..=9, lz4 1..=17, zstd -131072..=22; `-1` = unset) |
//! | `retries` | `message.send.max.retries` | 2147483647 | `retries` |
//! | `delivery.timeout.ms` | `message.timeout.ms` | 120000 | `delivery_timeout` (≥ `linger.ms` + `request.timeout.ms`) |
//! | `partitioner.ignore.keys` | | `false` | `partitioner_ignore_keys` |
//! | `partitioner.adaptive.partitioning.enable` | | `true` | `partitioner_adaptive` (not used yet) |
//! | `transactional.id` | | unset | `transactional_id` (requires idempotence) |
//! | `transaction.timeout.ms` | | 60000 | `transaction_timeout` (≥ 1000) |
//!
//! Idempotence follows the Java client: it needs `acks=all`, `retries` > 0
//! and `max.in.flight.requests.per.connection` ≤ 5. If `enable.idempotence`
//! was set explicitly (setter, [`set`](ProducerConfig::set) or assigning the
//! field), a conflicting setting is an error naming both; if it was left at
//! its default, a conflicting setting silently turns it off.
//!
//! Consumer properties ([`ConsumerConfig`]):
//!
//! | Property | Aliases | Default | Field |
//! |----------|---------|---------|-------|
//! | `group.id` | | unset | `group_id` |
//! | `group.instance.id` | | unset | `group_instance_id` (requires `group.id`) |
//! | `auto.offset.reset` | | `latest` | `auto_offset_reset` (`earliest`/`smallest`/`beginning`, `latest`/`largest`/`end`, `none`/`error`) |
//! | `enable.auto.commit` | | `true` | `enable_auto_commit` (no effect without `group.id`) |
//! | `auto.commit.interval.ms` | | 5000 | `auto_commit_interval` |
//! | `enable.auto.offset.store` | | `true` | `enable_auto_offset_store` (`false`: only offsets given to `Consumer::store_offset` are committed) |
//! | `session.timeout.ms` | | 45000 | `session_timeout` (≥ 1) |
//! | `heartbeat.interval.ms` | | 3000 | `heartbeat_interval` (≥ 1, < `session.timeout.ms`) |
//! | `max.poll.interval.ms` | | 300000 | `max_poll_interval` (≥ 1) |
//! | `max.poll.records` | | 500 | `max_poll_records` (≥ 1) |
//! | `fetch.min.bytes` | | 1 | `fetch_min_bytes` |
//! | `fetch.max.bytes` | | 52428800 | `fetch_max_bytes` (≤ `receive.message.max.bytes` - 512) |
//! | `fetch.max.wait.ms` | `fetch.wait.max.ms` | 500 | `fetch_max_wait` |
//! | `max.partition.fetch.bytes` | `fetch.message.max.bytes` | 1048576 | `max_partition_fetch_bytes` |
//! | `isolation.level` | | `read_uncommitted` | `isolation_level` (`read_uncommitted`, `read_committed`) |
//! | `check.crcs` | | `true` | `check_crcs` |
//! | `partition.assignment.strategy` | | `range,cooperative-sticky` | `partition_assignment_strategy` (comma list of `range`, `roundrobin`, `cooperative-sticky` or the Java class names) |
//! | `enable.partition.eof` | | `false` | `enable_partition_eof` |
//!
//! Properties that purekafka accepts and ignores on purpose (logged with
//! `tracing::debug!`), so that existing Java / librdkafka configs load:
//!
//! - `key.serializer`, `value.serializer`, `key.deserializer`,
//!   `value.deserializer`: serialization is done by Rust types.
//! - `socket.keepalive.enable`, `socket.nagle.disable`, `send.buffer.bytes`,
//!   `receive.buffer.bytes`: the connection layer picks its socket options.
//! - `statistics.interval.ms`, `metric.reporters`, `metrics.num.samples`,
//!   `metrics.sample.window.ms`, `metrics.recording.level`,
//!   `auto.include.jmx.reporter`: no metrics reporters; use `tracing`.
//! - `api.version.request`, `broker.version.fallback`: ApiVersions is always
//!   used.
//! - `partitioner.availability.timeout.ms`: no adaptive partitioning yet.
//! - `log_level`, `debug`: use `tracing` filters.
//!
//! Any `ssl.*` or `sasl.*` property is rejected with "not supported yet".
//!
//! [`validate`]: ProducerConfig::validate

use crate::error::ConfigError;
use purekafka_compression::Compression;
use std::time::Duration;

// ---------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------

/// `security.protocol`. Only [`Plaintext`](SecurityProtocol::Plaintext) works
/// yet; the others parse, and [`ClientConfig::validate`] rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityProtocol {
    /// `plaintext`.
    #[default]
    Plaintext,
    /// `ssl`.
    Ssl,
    /// `sasl_plaintext`.
    SaslPlaintext,
    /// `sasl_ssl`.
    SaslSsl,
}

impl SecurityProtocol {
    const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// The property value: `plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl`.
    pub const fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }
}

impl std::fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SecurityProtocol {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_security_protocol(s).map_err(|r| invalid("security.protocol", s, &r))
    }
}

fn parse_security_protocol(s: &str) -> Result<SecurityProtocol, String> {
    let s = s.trim();
    SecurityProtocol::ALL
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| "expected plaintext, ssl, sasl_plaintext or sasl_ssl".to_owned())
}

/// `acks`: how many replicas must have a record before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Acks {
    /// `0`: no acknowledgement (the broker sends no response).
    None,
    /// `1`: the leader has written it.
    Leader,
    /// `all` / `-1`: all in-sync replicas have it.
    #[default]
    All,
}

impl Acks {
    /// The `acks` field of a Produce request: 0, 1 or -1.
    pub const fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }

    /// The property value: `0`, `1` or `all`.
    pub const fn name(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

impl std::fmt::Display for Acks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Acks {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_acks(s).map_err(|r| invalid("acks", s, &r))
    }
}

fn parse_acks(s: &str) -> Result<Acks, String> {
    match s.trim() {
        "0" => Ok(Acks::None),
        "1" => Ok(Acks::Leader),
        "-1" => Ok(Acks::All),
        a if a.eq_ignore_ascii_case("all") => Ok(Acks::All),
        _ => Err("expected 0, 1, all or -1".to_owned()),
    }
}

/// `auto.offset.reset`: where to start when a partition has no valid
/// committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OffsetReset {
    /// `earliest` (librdkafka also `smallest`, `beginning`).
    Earliest,
    /// `latest` (librdkafka also `largest`, `end`).
    #[default]
    Latest,
    /// `none` (librdkafka `error`): report an error instead.
    None,
}

impl OffsetReset {
    /// The Java property value: `earliest`, `latest` or `none`.
    pub const fn name(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
            OffsetReset::None => "none",
        }
    }
}

impl std::fmt::Display for OffsetReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for OffsetReset {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_offset_reset(s).map_err(|r| invalid("auto.offset.reset", s, &r))
    }
}

fn parse_offset_reset(s: &str) -> Result<OffsetReset, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "earliest" | "smallest" | "beginning" => Ok(OffsetReset::Earliest),
        "latest" | "largest" | "end" => Ok(OffsetReset::Latest),
        "none" | "error" => Ok(OffsetReset::None),
        _ => Err("expected earliest, latest or none (librdkafka: smallest, beginning, largest, end, error)"
            .to_owned()),
    }
}

/// `isolation.level`: whether a consumer sees records of open or aborted
/// transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IsolationLevel {
    /// `read_uncommitted`: everything.
    #[default]
    ReadUncommitted,
    /// `read_committed`: only committed transactional records.
    ReadCommitted,
}

impl IsolationLevel {
    /// The `isolation_level` field of a Fetch/ListOffsets request: 0 or 1.
    pub const fn as_i8(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }

    /// The property value.
    pub const fn name(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "read_uncommitted",
            IsolationLevel::ReadCommitted => "read_committed",
        }
    }
}

impl std::fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for IsolationLevel {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_isolation_level(s).map_err(|r| invalid("isolation.level", s, &r))
    }
}

fn parse_isolation_level(s: &str) -> Result<IsolationLevel, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("read_uncommitted") {
        Ok(IsolationLevel::ReadUncommitted)
    } else if s.eq_ignore_ascii_case("read_committed") {
        Ok(IsolationLevel::ReadCommitted)
    } else {
        Err("expected read_uncommitted or read_committed".to_owned())
    }
}

/// One entry of `partition.assignment.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignmentStrategy {
    /// `range` / `org.apache.kafka.clients.consumer.RangeAssignor`.
    Range,
    /// `roundrobin` / `org.apache.kafka.clients.consumer.RoundRobinAssignor`.
    RoundRobin,
    /// `cooperative-sticky` /
    /// `org.apache.kafka.clients.consumer.CooperativeStickyAssignor`.
    CooperativeSticky,
}

impl AssignmentStrategy {
    const ALL: [AssignmentStrategy; 3] = [
        AssignmentStrategy::Range,
        AssignmentStrategy::RoundRobin,
        AssignmentStrategy::CooperativeSticky,
    ];

    /// The librdkafka name: `range`, `roundrobin`, `cooperative-sticky`.
    /// (The protocol name in JoinGroup is the same.)
    pub const fn name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::RoundRobin => "roundrobin",
            AssignmentStrategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The Java client's class name.
    pub const fn java_class(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "org.apache.kafka.clients.consumer.RangeAssignor",
            AssignmentStrategy::RoundRobin => {
                "org.apache.kafka.clients.consumer.RoundRobinAssignor"
            }
            AssignmentStrategy::CooperativeSticky => {
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
            }
        }
    }
}

impl std::fmt::Display for AssignmentStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for AssignmentStrategy {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_assignor(s).map_err(|r| invalid("partition.assignment.strategy", s, &r))
    }
}

fn parse_assignor(s: &str) -> Result<AssignmentStrategy, String> {
    let s = s.trim();
    AssignmentStrategy::ALL
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(s) || a.java_class() == s)
        .ok_or_else(|| {
            format!(
                "unknown assignor {s:?}: expected range, roundrobin, cooperative-sticky \
                 or org.apache.kafka.clients.consumer.{{RangeAssignor,RoundRobinAssignor,CooperativeStickyAssignor}}"
            )
        })
}

fn parse_assignors(s: &str) -> Result<Vec<AssignmentStrategy>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let a = parse_assignor(part)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(
            "expected at least one assignor (range, roundrobin, cooperative-sticky)".to_owned(),
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Value parsing helpers. Each returns the reason on failure; the caller
// turns it into a ConfigError naming the property and the value.
// ---------------------------------------------------------------------------

const MAX_INT: i64 = i32::MAX as i64;

fn invalid(property: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::new(property, format!("invalid value {value:?}: {reason}"))
}

fn int_in(v: &str, min: i64, max: i64) -> Result<i64, String> {
    match v.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected an integer in {min}..={max}")),
    }
}

fn usize_in(v: &str, min: i64, max: i64) -> Result<usize, String> {
    let n = int_in(v, min, max)?;
    usize::try_from(n).map_err(|_| format!("expected an integer in {min}..={max}"))
}

fn i32_in(v: &str, min: i64, max: i64) -> Result<i32, String> {
    let n = int_in(v, min, max)?;
    i32::try_from(n).map_err(|_| format!("expected an integer in {min}..={max}"))
}

fn ms_in(v: &str, min: i64, max: i64) -> Result<Duration, String> {
    let err = || format!("expected milliseconds (an integer) in {min}..={max}");
    let n = int_in(v, min, max).map_err(|_| err())?;
    u64::try_from(n)
        .map(Duration::from_millis)
        .map_err(|_| err())
}

fn ms(v: &str) -> Result<Duration, String> {
    ms_in(v, 0, MAX_INT)
}

/// Milliseconds that may have a fraction (librdkafka's `linger.ms` is a double).
fn ms_frac(v: &str) -> Result<Duration, String> {
    if let Ok(d) = ms(v) {
        return Ok(d);
    }
    match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && (0.0..=MAX_INT as f64).contains(&f) => {
            Ok(Duration::from_secs_f64(f / 1000.0))
        }
        _ => Err(format!(
            "expected milliseconds in 0..={MAX_INT} (fractions allowed)"
        )),
    }
}

fn boolean(v: &str) -> Result<bool, String> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("true") || v == "1" {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") || v == "0" {
        Ok(false)
    } else {
        Err("expected true or false".to_owned())
    }
}

fn opt_string(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn parse_compression(v: &str) -> Result<Compression, String> {
    v.trim()
        .parse::<Compression>()
        .map_err(|_| "expected none, gzip, snappy, lz4 or zstd".to_owned())
}

fn parse_compression_level(v: &str) -> Result<Option<i32>, String> {
    match v.trim().parse::<i32>() {
        Ok(-1) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(_) => {
            Err("expected an integer (the codec's level; -1 for the codec's default)".to_owned())
        }
    }
}

/// Splits a `host:port` bootstrap entry. IPv6 hosts are bracketed
/// (`[::1]:9092`); the brackets are not part of the returned host.
pub fn parse_host_port(entry: &str) -> Result<(&str, u16), ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(
            "bootstrap.servers",
            format!(
                "invalid entry {entry:?}: {why} (expected host:port, port 1..=65535, IPv6 as [addr]:port)"
            ),
        )
    };
    if let Some((scheme, _)) = entry.split_once("://") {
        return Err(bad(&format!(
            "remove the {scheme}:// prefix (security.protocol sets the protocol)"
        )));
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = after.strip_prefix(':').ok_or_else(|| bad("missing port"))?;
        // `addr` or `addr%zone` (a link-local address with its interface).
        let (addr, zone) = match host.split_once('%') {
            Some((addr, zone)) => (addr, Some(zone)),
            None => (host, None),
        };
        let addr_ok = addr.contains(':')
            && addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        let zone_ok = zone.is_none_or(|z| {
            !z.is_empty()
                && z.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
        if !addr_ok || !zone_ok {
            return Err(bad("invalid IPv6 address"));
        }
        (host, port)
    } else {
        let (host, port) = entry.rsplit_once(':').ok_or_else(|| bad("missing port"))?;
        if host.contains(':') {
            return Err(bad("IPv6 addresses must be bracketed"));
        }
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(bad("invalid host name"));
        }
        (host, port)
    };
    match port.parse::<u16>() {
        Ok(p) if p != 0 && !port.starts_with('+') => Ok((host, p)),
        _ => Err(bad("invalid port")),
    }
}

fn split_servers(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bootstrap(v: &str) -> Result<Vec<String>, String> {
    let servers = split_servers(v);
    for s in &servers {
        parse_host_port(s).map_err(|e| e.reason)?;
    }
    Ok(servers)
}

// ---------------------------------------------------------------------------
// Property tables
// ---------------------------------------------------------------------------

/// One named property: canonical name, aliases and how it sets a field.
struct Prop<T: 'static> {
    name: &'static str,
    aliases: &'static [&'static str],
    set: fn(&mut T, &str) -> Result<(), String>,
}

impl<T> Prop<T> {
    fn matches(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

fn find<T>(table: &'static [Prop<T>], name: &str) -> Option<&'static Prop<T>> {
    table.iter().find(|p| p.matches(name))
}

fn apply<T>(prop: &Prop<T>, target: &mut T, name: &str, value: &str) -> Result<(), ConfigError> {
    (prop.set)(target, value).map_err(|reason| {
        let alias = if name == prop.name {
            String::new()
        } else {
            format!(" (alias of {})", prop.name)
        };
        ConfigError::new(name, format!("invalid value {value:?}{alias}: {reason}"))
    })
}

const CLIENT_PROPS: &[Prop<ClientConfig>] = &[
    Prop {
        name: "bootstrap.servers",
        aliases: &["metadata.broker.list"],
        set: |c, v| {
            c.bootstrap_servers = parse_bootstrap(v)?;
            Ok(())
        },
    },
    Prop {
        name: "client.id",
        aliases: &[],
        set: |c, v| {
            c.client_id = v.trim().to_owned();
            Ok(())
        },
    },
    Prop {
        name: "client.rack",
        aliases: &[],
        set: |c, v| {
            c.client_rack = opt_string(v);
            Ok(())
        },
    },
    Prop {
        name: "request.timeout.ms",
        aliases: &["socket.timeout.ms"],
        set: |c, v| {
            c.request_timeout = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "reconnect.backoff.ms",
        aliases: &[],
        set: |c, v| {
            c.reconnect_backoff = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "reconnect.backoff.max.ms",
        aliases: &[],
        set: |c, v| {
            c.reconnect_backoff_max = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "retry.backoff.ms",
        aliases: &[],
        set: |c, v| {
            c.retry_backoff = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "retry.backoff.max.ms",
        aliases: &[],
        set: |c, v| {
            c.retry_backoff_max = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "metadata.max.age.ms",
        aliases: &["topic.metadata.refresh.interval.ms"],
        set: |c, v| {
            c.metadata_max_age = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "max.in.flight.requests.per.connection",
        aliases: &["max.in.flight"],
        set: |c, v| {
            c.max_in_flight_requests_per_connection = usize_in(v, 1, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "socket.connection.setup.timeout.ms",
        aliases: &[],
        set: |c, v| {
            c.socket_connection_setup_timeout = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "connections.max.idle.ms",
        aliases: &[],
        set: |c, v| {
            c.connections_max_idle = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "receive.message.max.bytes",
        aliases: &[],
        set: |c, v| {
            c.receive_message_max_bytes = usize_in(v, 1000, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "security.protocol",
        aliases: &[],
        set: |c, v| {
            c.security_protocol = parse_security_protocol(v)?;
            Ok(())
        },
    },
    Prop {
        name: "allow.auto.create.topics",
        aliases: &[],
        set: |c, v| {
            c.allow_auto_create_topics = boolean(v)?;
            Ok(())
        },
    },
];

const PRODUCER_PROPS: &[Prop<ProducerConfig>] = &[
    Prop {
        name: "acks",
        aliases: &["request.required.acks"],
        set: |c, v| {
            c.acks = parse_acks(v)?;
            Ok(())
        },
    },
    Prop {
        name: "enable.idempotence",
        aliases: &[],
        set: |c, v| {
            c.enable_idempotence = boolean(v)?;
            c.idempotence = IdempotenceSource::Explicit;
            Ok(())
        },
    },
    Prop {
        name: "linger.ms",
        aliases: &["queue.buffering.max.ms"],
        set: |c, v| {
            c.linger = ms_frac(v)?;
            Ok(())
        },
    },
    Prop {
        name: "batch.size",
        aliases: &[],
        set: |c, v| {
            c.batch_size = usize_in(v, 0, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "buffer.memory",
        aliases: &[],
        set: |c, v| {
            c.buffer_memory = usize_in(v, 0, i64::MAX)?;
            Ok(())
        },
    },
    Prop {
        name: "max.block.ms",
        aliases: &[],
        set: |c, v| {
            c.max_block = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "max.request.size",
        aliases: &["message.max.bytes"],
        set: |c, v| {
            c.max_request_size = usize_in(v, 0, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "compression.type",
        aliases: &["compression.codec"],
        set: |c, v| {
            c.compression = parse_compression(v)?;
            Ok(())
        },
    },
    Prop {
        name: "compression.level",
        aliases: &[],
        set: |c, v| {
            c.compression_level = parse_compression_level(v)?;
            Ok(())
        },
    },
    Prop {
        name: "retries",
        aliases: &["message.send.max.retries"],
        set: |c, v| {
            c.retries =
                u32::try_from(int_in(v, 0, MAX_INT)?).map_err(|_| "out of range".to_owned())?;
            Ok(())
        },
    },
    Prop {
        name: "delivery.timeout.ms",
        aliases: &["message.timeout.ms"],
        set: |c, v| {
            c.delivery_timeout = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "partitioner.ignore.keys",
        aliases: &[],
        set: |c, v| {
            c.partitioner_ignore_keys = boolean(v)?;
            Ok(())
        },
    },
    Prop {
        name: "partitioner.adaptive.partitioning.enable",
        aliases: &[],
        set: |c, v| {
            c.partitioner_adaptive = boolean(v)?;
            Ok(())
        },
    },
    Prop {
        name: "transactional.id",
        aliases: &[],
        set: |c, v| {
            c.transactional_id = opt_string(v);
            Ok(())
        },
    },
    Prop {
        name: "transaction.timeout.ms",
        aliases: &[],
        set: |c, v| {
            c.transaction_timeout = ms_in(v, 1000, MAX_INT)?;
            Ok(())
        },
    },
];

const CONSUMER_PROPS: &[Prop<ConsumerConfig>] = &[
    Prop {
        name: "group.id",
        aliases: &[],
        set: |c, v| {
            c.group_id = opt_string(v);
            Ok(())
        },
    },
    Prop {
        name: "group.instance.id",
        aliases: &[],
        set: |c, v| {
            c.group_instance_id = opt_string(v);
            Ok(())
        },
    },
    Prop {
        name: "auto.offset.reset",
        aliases: &[],
        set: |c, v| {
            c.auto_offset_reset = parse_offset_reset(v)?;
            Ok(())
        },
    },
    Prop {
        name: "enable.auto.commit",
        aliases: &[],
        set: |c, v| {
            c.enable_auto_commit = boolean(v)?;
            Ok(())
        },
    },
    Prop {
        name: "auto.commit.interval.ms",
        aliases: &[],
        set: |c, v| {
            c.auto_commit_interval = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "enable.auto.offset.store",
        aliases: &[],
        set: |c, v| {
            c.enable_auto_offset_store = boolean(v)?;
            Ok(())
        },
    },
    Prop {
        name: "session.timeout.ms",
        aliases: &[],
        set: |c, v| {
            c.session_timeout = ms_in(v, 1, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "heartbeat.interval.ms",
        aliases: &[],
        set: |c, v| {
            c.heartbeat_interval = ms_in(v, 1, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "max.poll.interval.ms",
        aliases: &[],
        set: |c, v| {
            c.max_poll_interval = ms_in(v, 1, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "max.poll.records",
        aliases: &[],
        set: |c, v| {
            c.max_poll_records = usize_in(v, 1, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "fetch.min.bytes",
        aliases: &[],
        set: |c, v| {
            c.fetch_min_bytes = i32_in(v, 0, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "fetch.max.bytes",
        aliases: &[],
        set: |c, v| {
            c.fetch_max_bytes = i32_in(v, 0, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "fetch.max.wait.ms",
        aliases: &["fetch.wait.max.ms"],
        set: |c, v| {
            c.fetch_max_wait = ms(v)?;
            Ok(())
        },
    },
    Prop {
        name: "max.partition.fetch.bytes",
        aliases: &["fetch.message.max.bytes"],
        set: |c, v| {
            c.max_partition_fetch_bytes = i32_in(v, 0, MAX_INT)?;
            Ok(())
        },
    },
    Prop {
        name: "isolation.level",
        aliases: &[],
        set: |c, v| {
            c.isolation_level = parse_isolation_level(v)?;
            Ok(())
        },
    },
    Prop {
        name: "check.crcs",
        aliases: &[],
        set: |c, v| {
            c.check_crcs = boolean(v)?;
            Ok(())
        },
    },
    Prop {
        name: "partition.assignment.strategy",
        aliases: &[],
        set: |c, v| {
            c.partition_assignment_strategy = parse_assignors(v)?;
            Ok(())
        },
    },
    Prop {
        name: "enable.partition.eof",
        aliases: &[],
        set: |c, v| {
            c.enable_partition_eof = boolean(v)?;
            Ok(())
        },
    },
];

/// Java / librdkafka properties that purekafka accepts and ignores on
/// purpose, with the reason (see the module docs).
pub const IGNORED_PROPERTIES: &[(&str, &str)] = &[
    ("key.serializer", "serialization is done by Rust types"),
    ("value.serializer", "serialization is done by Rust types"),
    ("key.deserializer", "deserialization is done by Rust types"),
    (
        "value.deserializer",
        "deserialization is done by Rust types",
    ),
    (
        "socket.keepalive.enable",
        "the connection layer picks its socket options",
    ),
    (
        "socket.nagle.disable",
        "the connection layer picks its socket options",
    ),
    (
        "send.buffer.bytes",
        "the connection layer picks its socket options",
    ),
    (
        "receive.buffer.bytes",
        "the connection layer picks its socket options",
    ),
    (
        "statistics.interval.ms",
        "no statistics callback; use tracing",
    ),
    ("metric.reporters", "no metrics reporters; use tracing"),
    ("metrics.num.samples", "no metrics reporters; use tracing"),
    (
        "metrics.sample.window.ms",
        "no metrics reporters; use tracing",
    ),
    (
        "metrics.recording.level",
        "no metrics reporters; use tracing",
    ),
    (
        "auto.include.jmx.reporter",
        "no metrics reporters; use tracing",
    ),
    ("api.version.request", "ApiVersions is always used"),
    ("broker.version.fallback", "ApiVersions is always used"),
    (
        "partitioner.availability.timeout.ms",
        "adaptive partitioning is not implemented",
    ),
    ("log_level", "use tracing filters"),
    ("debug", "use tracing filters"),
];

/// Which kind of config a property belongs to (for "X is a producer property").
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Client,
    Producer,
    Consumer,
}

/// Handles a name none of `kind`'s tables knows: ignored, SSL/SASL, the
/// other client type's, or unknown (with a suggestion).
fn not_found(kind: Kind, name: &str, value: &str) -> Result<(), ConfigError> {
    if let Some((_, why)) = IGNORED_PROPERTIES.iter().find(|(n, _)| *n == name) {
        tracing::debug!(
            property = name,
            value,
            "configuration property ignored: {why}"
        );
        return Ok(());
    }
    if name.starts_with("ssl.") || name.starts_with("sasl.") {
        return Err(ConfigError::new(name, "SSL and SASL are not supported yet"));
    }
    let producer = find(PRODUCER_PROPS, name).is_some();
    let consumer = find(CONSUMER_PROPS, name).is_some();
    match kind {
        Kind::Client if producer => {
            return Err(ConfigError::new(
                name,
                "is a producer property: set it on ProducerConfig",
            ));
        }
        Kind::Client if consumer => {
            return Err(ConfigError::new(
                name,
                "is a consumer property: set it on ConsumerConfig",
            ));
        }
        Kind::Consumer if producer => {
            return Err(ConfigError::new(
                name,
                "is a producer property, not a consumer property",
            ));
        }
        Kind::Producer if consumer => {
            return Err(ConfigError::new(
                name,
                "is a consumer property, not a producer property",
            ));
        }
        _ => {}
    }
    let candidates = known_names(kind);
    let reason = match suggest(name, candidates) {
        Some(s) => format!("unknown property; did you mean {s}?"),
        None => "unknown property".to_owned(),
    };
    Err(ConfigError::new(name, reason))
}

fn known_names(kind: Kind) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = CLIENT_PROPS.iter().flat_map(Prop::names).collect();
    match kind {
        Kind::Client => {}
        Kind::Producer => names.extend(PRODUCER_PROPS.iter().flat_map(Prop::names)),
        Kind::Consumer => names.extend(CONSUMER_PROPS.iter().flat_map(Prop::names)),
    }
    names
}

/// The closest known name, if it is close enough to be a likely typo.
fn suggest(name: &str, candidates: Vec<&'static str>) -> Option<&'static str> {
    let limit = (name.chars().count() / 4).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance (over chars).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------
// ClientConfig
// ---------------------------------------------------------------------------

/// Connection settings shared by producers, consumers and admin clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `bootstrap.servers` (alias `metadata.broker.list`): `host:port` entries.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`, default `purekafka`.
    pub client_id: String,
    /// `client.rack`, for fetching from the closest replica.
    pub client_rack: Option<String>,
    /// `request.timeout.ms` (alias `socket.timeout.ms`), default 30 s.
    pub request_timeout: Duration,
    /// `reconnect.backoff.ms`, default 50 ms.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`, default 1 s.
    pub reconnect_backoff_max: Duration,
    /// `retry.backoff.ms`, default 100 ms.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms`, default 1 s.
    pub retry_backoff_max: Duration,
    /// `metadata.max.age.ms` (alias `topic.metadata.refresh.interval.ms`), default 5 min.
    pub metadata_max_age: Duration,
    /// `max.in.flight.requests.per.connection` (alias `max.in.flight`), default 5.
    pub max_in_flight_requests_per_connection: usize,
    /// `socket.connection.setup.timeout.ms`, default 10 s.
    pub socket_connection_setup_timeout: Duration,
    /// `connections.max.idle.ms`, default 9 min.
    pub connections_max_idle: Duration,
    /// `receive.message.max.bytes`: the largest response frame accepted,
    /// default 100000000.
    pub receive_message_max_bytes: usize,
    /// `security.protocol`, default `plaintext` (the only one supported yet).
    pub security_protocol: SecurityProtocol,
    /// `allow.auto.create.topics`, default true.
    pub allow_auto_create_topics: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: Vec::new(),
            client_id: "purekafka".to_owned(),
            client_rack: None,
            request_timeout: Duration::from_millis(30_000),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1000),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1000),
            metadata_max_age: Duration::from_millis(300_000),
            max_in_flight_requests_per_connection: 5,
            socket_connection_setup_timeout: Duration::from_millis(10_000),
            connections_max_idle: Duration::from_millis(540_000),
            receive_message_max_bytes: 100_000_000,
            security_protocol: SecurityProtocol::Plaintext,
            allow_auto_create_topics: true,
        }
    }
}

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
        match find(CLIENT_PROPS, name) {
            Some(p) => apply(p, self, name, value),
            None => not_found(Kind::Client, name, value),
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

    /// Checks ranges and cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bootstrap_servers.is_empty() {
            return Err(ConfigError::new(
                "bootstrap.servers",
                "bootstrap.servers is required",
            ));
        }
        for s in &self.bootstrap_servers {
            parse_host_port(s)?;
        }
        if self.security_protocol != SecurityProtocol::Plaintext {
            return Err(ConfigError::new(
                "security.protocol",
                format!(
                    "security.protocol={} is not supported yet (only plaintext is)",
                    self.security_protocol
                ),
            ));
        }
        if self.max_in_flight_requests_per_connection == 0 {
            return Err(ConfigError::new(
                "max.in.flight.requests.per.connection",
                "must be at least 1",
            ));
        }
        if self.receive_message_max_bytes < 1000 {
            return Err(ConfigError::new(
                "receive.message.max.bytes",
                format!(
                    "must be at least 1000, got {}",
                    self.receive_message_max_bytes
                ),
            ));
        }
        if self.reconnect_backoff > self.reconnect_backoff_max {
            return Err(ConfigError::new(
                "reconnect.backoff.ms",
                format!(
                    "reconnect.backoff.ms ({} ms) must not exceed reconnect.backoff.max.ms ({} ms)",
                    self.reconnect_backoff.as_millis(),
                    self.reconnect_backoff_max.as_millis()
                ),
            ));
        }
        if self.retry_backoff > self.retry_backoff_max {
            return Err(ConfigError::new(
                "retry.backoff.ms",
                format!(
                    "retry.backoff.ms ({} ms) must not exceed retry.backoff.max.ms ({} ms)",
                    self.retry_backoff.as_millis(),
                    self.retry_backoff_max.as_millis()
                ),
            ));
        }
        Ok(())
    }

    /// [`validate`](Self::validate)s and returns the config.
    pub fn build(self) -> Result<Self, ConfigError> {
        self.validate()?;
        Ok(self)
    }

    /// `bootstrap.servers` from a comma-separated list.
    pub fn bootstrap_servers(mut self, servers: &str) -> Self {
        self.bootstrap_servers = split_servers(servers);
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// `client.rack`.
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.client_rack = Some(rack.into());
        self
    }

    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// `reconnect.backoff.ms`.
    pub fn reconnect_backoff(mut self, d: Duration) -> Self {
        self.reconnect_backoff = d;
        self
    }

    /// `reconnect.backoff.max.ms`.
    pub fn reconnect_backoff_max(mut self, d: Duration) -> Self {
        self.reconnect_backoff_max = d;
        self
    }

    /// `retry.backoff.ms`.
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.retry_backoff = d;
        self
    }

    /// `retry.backoff.max.ms`.
    pub fn retry_backoff_max(mut self, d: Duration) -> Self {
        self.retry_backoff_max = d;
        self
    }

    /// `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, d: Duration) -> Self {
        self.metadata_max_age = d;
        self
    }

    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight_requests_per_connection(mut self, n: usize) -> Self {
        self.max_in_flight_requests_per_connection = n;
        self
    }

    /// `socket.connection.setup.timeout.ms`.
    pub fn socket_connection_setup_timeout(mut self, d: Duration) -> Self {
        self.socket_connection_setup_timeout = d;
        self
    }

    /// `connections.max.idle.ms`.
    pub fn connections_max_idle(mut self, d: Duration) -> Self {
        self.connections_max_idle = d;
        self
    }

    /// `receive.message.max.bytes`.
    pub fn receive_message_max_bytes(mut self, n: usize) -> Self {
        self.receive_message_max_bytes = n;
        self
    }

    /// `security.protocol`.
    pub fn security_protocol(mut self, p: SecurityProtocol) -> Self {
        self.security_protocol = p;
        self
    }

    /// `allow.auto.create.topics`.
    pub fn allow_auto_create_topics(mut self, allow: bool) -> Self {
        self.allow_auto_create_topics = allow;
        self
    }
}

/// Builder setters on `ProducerConfig`/`ConsumerConfig` that forward to
/// their `client`, then run `$after` (the producer re-resolves idempotence).
macro_rules! forward_client_setters {
    ($after:ident; $($(#[$m:meta])* $name:ident($arg:ident: $ty:ty);)*) => {
        $(
            $(#[$m])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.client = self.client.$name($arg);
                self.$after();
                self
            }
        )*
    };
}

// ---------------------------------------------------------------------------
// ProducerConfig
// ---------------------------------------------------------------------------

/// Where `enable_idempotence`'s value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdempotenceSource {
    /// Not set by the user: the value is the Java default rule's, last
    /// computed as the given value.
    Auto(bool),
    /// Set by the user (setter, `set`, or a direct assignment noticed
    /// because the field differs from the last computed value).
    Explicit,
}

/// Producer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Connection settings.
    pub client: ClientConfig,
    /// `acks` (alias `request.required.acks`), default `all`.
    pub acks: Acks,
    /// `enable.idempotence`, default true; turned off automatically by
    /// conflicting settings unless set explicitly (see the module docs).
    pub enable_idempotence: bool,
    /// `linger.ms` (alias `queue.buffering.max.ms`), default 5 ms.
    pub linger: Duration,
    /// `batch.size`, default 16384.
    pub batch_size: usize,
    /// `buffer.memory`, default 32 MiB.
    pub buffer_memory: usize,
    /// `max.block.ms`, default 60 s.
    pub max_block: Duration,
    /// `max.request.size` (alias `message.max.bytes`), default 1 MiB.
    pub max_request_size: usize,
    /// `compression.type` (alias `compression.codec`), default none.
    pub compression: Compression,
    /// `compression.level`: `None` for the codec's default.
    pub compression_level: Option<i32>,
    /// `retries` (alias `message.send.max.retries`), default 2147483647.
    pub retries: u32,
    /// `delivery.timeout.ms` (alias `message.timeout.ms`), default 120 s.
    pub delivery_timeout: Duration,
    /// `partitioner.ignore.keys`, default false.
    pub partitioner_ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable`, default true (not used yet).
    pub partitioner_adaptive: bool,
    /// `transactional.id`.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`, default 60 s.
    pub transaction_timeout: Duration,
    idempotence: IdempotenceSource,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client: ClientConfig::default(),
            acks: Acks::All,
            enable_idempotence: true,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            max_request_size: 1_048_576,
            compression: Compression::None,
            compression_level: None,
            retries: 2_147_483_647,
            delivery_timeout: Duration::from_millis(120_000),
            partitioner_ignore_keys: false,
            partitioner_adaptive: true,
            transactional_id: None,
            transaction_timeout: Duration::from_millis(60_000),
            idempotence: IdempotenceSource::Auto(true),
        }
    }
}

/// Idempotence needs at most this many in-flight requests per connection.
const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: usize = 5;

impl ProducerConfig {
    /// Defaults, with `bootstrap` (a comma-separated `host:port` list) as
    /// `bootstrap.servers`. Chain setters, then [`build`](Self::build).
    pub fn new(bootstrap: &str) -> Self {
        ProducerConfig {
            client: ClientConfig::new(bootstrap),
            ..ProducerConfig::default()
        }
    }

    /// Sets one property by its Java or librdkafka name (producer and
    /// client properties).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let name = name.trim();
        let result = if let Some(p) = find(PRODUCER_PROPS, name) {
            apply(p, self, name, value)
        } else if let Some(p) = find(CLIENT_PROPS, name) {
            apply(p, &mut self.client, name, value)
        } else {
            not_found(Kind::Producer, name, value)
        };
        self.resolve_idempotence();
        result
    }

    /// A validated config from `(name, value)` properties.
    pub fn from_properties<I, K, V>(props: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = ProducerConfig::default();
        for (k, v) in props {
            c.set(k.as_ref(), v.as_ref())?;
        }
        c.validate()?;
        Ok(c)
    }

    /// The setting that keeps idempotence from working, as
    /// `(property, "property=value")`, in the Java client's order.
    fn idempotence_conflict(&self) -> Option<(&'static str, String)> {
        if self.retries == 0 {
            Some(("retries", "retries=0".to_owned()))
        } else if self.acks != Acks::All {
            Some(("acks", format!("acks={}", self.acks)))
        } else if self.client.max_in_flight_requests_per_connection > MAX_IN_FLIGHT_FOR_IDEMPOTENCE
        {
            Some((
                "max.in.flight.requests.per.connection",
                format!(
                    "max.in.flight.requests.per.connection={}",
                    self.client.max_in_flight_requests_per_connection
                ),
            ))
        } else {
            None
        }
    }

    /// Applies the Java rule for an idempotence the user did not choose:
    /// on unless a conflicting setting is present.
    fn resolve_idempotence(&mut self) {
        match self.idempotence {
            IdempotenceSource::Explicit => {}
            IdempotenceSource::Auto(last) if last != self.enable_idempotence => {
                // The field was assigned directly: that is a choice.
                self.idempotence = IdempotenceSource::Explicit;
            }
            IdempotenceSource::Auto(_) => {
                let on = self.idempotence_conflict().is_none();
                self.enable_idempotence = on;
                self.idempotence = IdempotenceSource::Auto(on);
            }
        }
    }

    /// Checks ranges and cross-field rules (client ones included).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.client.validate()?;
        if self.enable_idempotence
            && let Some((property, setting)) = self.idempotence_conflict()
        {
            return Err(ConfigError::new(
                "enable.idempotence",
                format!(
                    "enable.idempotence=true conflicts with {setting}: the idempotent producer needs acks=all, \
                     retries > 0 and max.in.flight.requests.per.connection <= 5; change {property} or set \
                     enable.idempotence=false"
                ),
            ));
        }
        if self.transactional_id.is_some() && !self.enable_idempotence {
            let why = match self.idempotence_conflict() {
                Some((_, setting)) => format!("idempotence is off because of {setting}"),
                None => "enable.idempotence=false".to_owned(),
            };
            return Err(ConfigError::new(
                "transactional.id",
                format!("transactional.id requires enable.idempotence=true ({why})"),
            ));
        }
        if self.retries > i32::MAX as u32 {
            return Err(ConfigError::new(
                "retries",
                format!("must be at most {}, got {}", i32::MAX, self.retries),
            ));
        }
        let floor = self.linger + self.client.request_timeout;
        if self.delivery_timeout < floor {
            return Err(ConfigError::new(
                "delivery.timeout.ms",
                format!(
                    "delivery.timeout.ms ({} ms) must be at least linger.ms + request.timeout.ms ({} + {} = {} ms)",
                    self.delivery_timeout.as_millis(),
                    self.linger.as_millis(),
                    self.client.request_timeout.as_millis(),
                    floor.as_millis()
                ),
            ));
        }
        if let Some(level) = self.compression_level {
            match self.compression.level_range() {
                None => {
                    return Err(ConfigError::new(
                        "compression.level",
                        format!(
                            "compression.type={} has no compression levels, got {level}",
                            self.compression
                        ),
                    ));
                }
                Some((lo, hi)) => {
                    let gzip_default = self.compression == Compression::Gzip && level == -1;
                    if !(lo..=hi).contains(&level) && !gzip_default {
                        return Err(ConfigError::new(
                            "compression.level",
                            format!(
                                "{level} is out of range for compression.type={}: expected {lo}..={hi}",
                                self.compression
                            ),
                        ));
                    }
                }
            }
        }
        if self.transaction_timeout < Duration::from_millis(1000) {
            return Err(ConfigError::new(
                "transaction.timeout.ms",
                format!(
                    "must be at least 1000 ms, got {} ms",
                    self.transaction_timeout.as_millis()
                ),
            ));
        }
        Ok(())
    }

    /// [`validate`](Self::validate)s and returns the config.
    pub fn build(mut self) -> Result<Self, ConfigError> {
        self.resolve_idempotence();
        self.validate()?;
        Ok(self)
    }

    /// Resolution hook for forwarded client setters.
    fn after_client_change(&mut self) {
        self.resolve_idempotence();
    }

    forward_client_setters! { after_client_change;
        /// `bootstrap.servers` from a comma-separated list.
        bootstrap_servers(servers: &str);
        /// `client.id`.
        client_id(id: impl Into<String>);
        /// `client.rack`.
        client_rack(rack: impl Into<String>);
        /// `request.timeout.ms`.
        request_timeout(d: Duration);
        /// `reconnect.backoff.ms`.
        reconnect_backoff(d: Duration);
        /// `reconnect.backoff.max.ms`.
        reconnect_backoff_max(d: Duration);
        /// `retry.backoff.ms`.
        retry_backoff(d: Duration);
        /// `retry.backoff.max.ms`.
        retry_backoff_max(d: Duration);
        /// `metadata.max.age.ms`.
        metadata_max_age(d: Duration);
        /// `max.in.flight.requests.per.connection`.
        max_in_flight_requests_per_connection(n: usize);
        /// `socket.connection.setup.timeout.ms`.
        socket_connection_setup_timeout(d: Duration);
        /// `connections.max.idle.ms`.
        connections_max_idle(d: Duration);
        /// `receive.message.max.bytes`.
        receive_message_max_bytes(n: usize);
        /// `security.protocol`.
        security_protocol(p: SecurityProtocol);
        /// `allow.auto.create.topics`.
        allow_auto_create_topics(allow: bool);
    }

    /// Replaces the whole client config.
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.client = client;
        self.resolve_idempotence();
        self
    }

    /// `acks`.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self.resolve_idempotence();
        self
    }

    /// `enable.idempotence` (an explicit choice: conflicts become errors).
    pub fn enable_idempotence(mut self, on: bool) -> Self {
        self.enable_idempotence = on;
        self.idempotence = IdempotenceSource::Explicit;
        self
    }

    /// `linger.ms`.
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }

    /// `batch.size`.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// `buffer.memory`.
    pub fn buffer_memory(mut self, n: usize) -> Self {
        self.buffer_memory = n;
        self
    }

    /// `max.block.ms`.
    pub fn max_block(mut self, d: Duration) -> Self {
        self.max_block = d;
        self
    }

    /// `max.request.size`.
    pub fn max_request_size(mut self, n: usize) -> Self {
        self.max_request_size = n;
        self
    }

    /// `compression.type`.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// `compression.level`.
    pub fn compression_level(mut self, level: i32) -> Self {
        self.compression_level = Some(level);
        self
    }

    /// `retries`.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self.resolve_idempotence();
        self
    }

    /// `delivery.timeout.ms`.
    pub fn delivery_timeout(mut self, d: Duration) -> Self {
        self.delivery_timeout = d;
        self
    }

    /// `partitioner.ignore.keys`.
    pub fn partitioner_ignore_keys(mut self, ignore: bool) -> Self {
        self.partitioner_ignore_keys = ignore;
        self
    }

    /// `partitioner.adaptive.partitioning.enable`.
    pub fn partitioner_adaptive(mut self, on: bool) -> Self {
        self.partitioner_adaptive = on;
        self
    }

    /// `transactional.id`.
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.transactional_id = Some(id.into());
        self
    }

    /// `transaction.timeout.ms`.
    pub fn transaction_timeout(mut self, d: Duration) -> Self {
        self.transaction_timeout = d;
        self
    }
}

// ---------------------------------------------------------------------------
// ConsumerConfig
// ---------------------------------------------------------------------------

/// Consumer settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// Connection settings (`client.rack` lives here).
    pub client: ClientConfig,
    /// `group.id`.
    pub group_id: Option<String>,
    /// `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// `auto.offset.reset`, default latest.
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit`, default true (no effect without `group.id`).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`, default 5 s.
    pub auto_commit_interval: Duration,
    /// `enable.auto.offset.store`, default true: a record `poll` returned
    /// becomes committable (by auto-commit, `commit()`, `close()`) once the
    /// next `poll` (or `commit()`/`close()`) releases it. `false`
    /// (librdkafka's explicit model): only offsets given to
    /// `Consumer::store_offset` are committed.
    pub enable_auto_offset_store: bool,
    /// `session.timeout.ms`, default 45 s.
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms`, default 3 s; below `session_timeout`.
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms`, default 5 min.
    pub max_poll_interval: Duration,
    /// `max.poll.records`, default 500.
    pub max_poll_records: usize,
    /// `fetch.min.bytes`, default 1.
    pub fetch_min_bytes: i32,
    /// `fetch.max.bytes`, default 52428800.
    pub fetch_max_bytes: i32,
    /// `fetch.max.wait.ms` (alias `fetch.wait.max.ms`), default 500 ms.
    pub fetch_max_wait: Duration,
    /// `max.partition.fetch.bytes` (alias `fetch.message.max.bytes`), default 1 MiB.
    pub max_partition_fetch_bytes: i32,
    /// `isolation.level`, default read_uncommitted.
    pub isolation_level: IsolationLevel,
    /// `check.crcs`, default true.
    pub check_crcs: bool,
    /// `partition.assignment.strategy`, default `[Range, CooperativeSticky]`
    /// (the Java 4.0 default), in order of preference.
    pub partition_assignment_strategy: Vec<AssignmentStrategy>,
    /// `enable.partition.eof`, default false.
    pub enable_partition_eof: bool,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            group_id: None,
            group_instance_id: None,
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5000),
            enable_auto_offset_store: true,
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3000),
            max_poll_interval: Duration::from_millis(300_000),
            max_poll_records: 500,
            fetch_min_bytes: 1,
            fetch_max_bytes: 52_428_800,
            fetch_max_wait: Duration::from_millis(500),
            max_partition_fetch_bytes: 1_048_576,
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            partition_assignment_strategy: vec![
                AssignmentStrategy::Range,
                AssignmentStrategy::CooperativeSticky,
            ],
            enable_partition_eof: false,
        }
    }
}

/// Room a Fetch response needs beyond `fetch.max.bytes` (librdkafka's rule).
const FETCH_RESPONSE_OVERHEAD: usize = 512;

impl ConsumerConfig {
    /// Defaults, with `bootstrap` (a comma-separated `host:port` list) as
    /// `bootstrap.servers`. Chain setters, then [`build`](Self::build).
    pub fn new(bootstrap: &str) -> Self {
        ConsumerConfig {
            client: ClientConfig::new(bootstrap),
            ..ConsumerConfig::default()
        }
    }

    /// Sets one property by its Java or librdkafka name (consumer and
    /// client properties).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let name = name.trim();
        if let Some(p) = find(CONSUMER_PROPS, name) {
            apply(p, self, name, value)
        } else if let Some(p) = find(CLIENT_PROPS, name) {
            apply(p, &mut self.client, name, value)
        } else {
            not_found(Kind::Consumer, name, value)
        }
    }

    /// A validated config from `(name, value)` properties.
    pub fn from_properties<I, K, V>(props: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = ConsumerConfig::default();
        for (k, v) in props {
            c.set(k.as_ref(), v.as_ref())?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks ranges and cross-field rules (client ones included).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.client.validate()?;
        if self.session_timeout.is_zero() {
            return Err(ConfigError::new(
                "session.timeout.ms",
                "must be at least 1 ms",
            ));
        }
        if self.heartbeat_interval.is_zero() {
            return Err(ConfigError::new(
                "heartbeat.interval.ms",
                "must be at least 1 ms",
            ));
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err(ConfigError::new(
                "heartbeat.interval.ms",
                format!(
                    "heartbeat.interval.ms ({} ms) must be lower than session.timeout.ms ({} ms)",
                    self.heartbeat_interval.as_millis(),
                    self.session_timeout.as_millis()
                ),
            ));
        }
        if self.max_poll_interval.is_zero() {
            return Err(ConfigError::new(
                "max.poll.interval.ms",
                "must be at least 1 ms",
            ));
        }
        if self.max_poll_records == 0 {
            return Err(ConfigError::new("max.poll.records", "must be at least 1"));
        }
        for (name, v) in [
            ("fetch.min.bytes", self.fetch_min_bytes),
            ("fetch.max.bytes", self.fetch_max_bytes),
            ("max.partition.fetch.bytes", self.max_partition_fetch_bytes),
        ] {
            if v < 0 {
                return Err(ConfigError::new(
                    name,
                    format!("must not be negative, got {v}"),
                ));
            }
        }
        let fetch_max = usize::try_from(self.fetch_max_bytes).unwrap_or(0);
        if fetch_max + FETCH_RESPONSE_OVERHEAD > self.client.receive_message_max_bytes {
            return Err(ConfigError::new(
                "fetch.max.bytes",
                format!(
                    "fetch.max.bytes ({fetch_max}) + {FETCH_RESPONSE_OVERHEAD} must not exceed \
                     receive.message.max.bytes ({}): raise receive.message.max.bytes",
                    self.client.receive_message_max_bytes
                ),
            ));
        }
        if self.partition_assignment_strategy.is_empty() {
            return Err(ConfigError::new(
                "partition.assignment.strategy",
                "expected at least one assignor (range, roundrobin, cooperative-sticky)",
            ));
        }
        if self.group_instance_id.is_some() && self.group_id.is_none() {
            return Err(ConfigError::new(
                "group.instance.id",
                "group.instance.id requires group.id",
            ));
        }
        Ok(())
    }

    /// [`validate`](Self::validate)s and returns the config.
    pub fn build(self) -> Result<Self, ConfigError> {
        self.validate()?;
        Ok(self)
    }

    /// Nothing to re-resolve after a client setter.
    fn after_client_change(&mut self) {}

    forward_client_setters! { after_client_change;
        /// `bootstrap.servers` from a comma-separated list.
        bootstrap_servers(servers: &str);
        /// `client.id`.
        client_id(id: impl Into<String>);
        /// `client.rack`.
        client_rack(rack: impl Into<String>);
        /// `request.timeout.ms`.
        request_timeout(d: Duration);
        /// `reconnect.backoff.ms`.
        reconnect_backoff(d: Duration);
        /// `reconnect.backoff.max.ms`.
        reconnect_backoff_max(d: Duration);
        /// `retry.backoff.ms`.
        retry_backoff(d: Duration);
        /// `retry.backoff.max.ms`.
        retry_backoff_max(d: Duration);
        /// `metadata.max.age.ms`.
        metadata_max_age(d: Duration);
        /// `max.in.flight.requests.per.connection`.
        max_in_flight_requests_per_connection(n: usize);
        /// `socket.connection.setup.timeout.ms`.
        socket_connection_setup_timeout(d: Duration);
        /// `connections.max.idle.ms`.
        connections_max_idle(d: Duration);
        /// `receive.message.max.bytes`.
        receive_message_max_bytes(n: usize);
        /// `security.protocol`.
        security_protocol(p: SecurityProtocol);
        /// `allow.auto.create.topics`.
        allow_auto_create_topics(allow: bool);
    }

    /// Replaces the whole client config.
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.client = client;
        self
    }

    /// `group.id`.
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.group_id = Some(id.into());
        self
    }

    /// `group.instance.id`.
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// `auto.offset.reset`.
    pub fn auto_offset_reset(mut self, r: OffsetReset) -> Self {
        self.auto_offset_reset = r;
        self
    }

    /// `enable.auto.commit`.
    pub fn enable_auto_commit(mut self, on: bool) -> Self {
        self.enable_auto_commit = on;
        self
    }

    /// `auto.commit.interval.ms`.
    pub fn auto_commit_interval(mut self, d: Duration) -> Self {
        self.auto_commit_interval = d;
        self
    }

    /// `enable.auto.offset.store`.
    pub fn enable_auto_offset_store(mut self, on: bool) -> Self {
        self.enable_auto_offset_store = on;
        self
    }

    /// `session.timeout.ms`.
    pub fn session_timeout(mut self, d: Duration) -> Self {
        self.session_timeout = d;
        self
    }

    /// `heartbeat.interval.ms`.
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d;
        self
    }

    /// `max.poll.interval.ms`.
    pub fn max_poll_interval(mut self, d: Duration) -> Self {
        self.max_poll_interval = d;
        self
    }

    /// `max.poll.records`.
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.max_poll_records = n;
        self
    }

    /// `fetch.min.bytes`.
    pub fn fetch_min_bytes(mut self, n: i32) -> Self {
        self.fetch_min_bytes = n;
        self
    }

    /// `fetch.max.bytes`.
    pub fn fetch_max_bytes(mut self, n: i32) -> Self {
        self.fetch_max_bytes = n;
        self
    }

    /// `fetch.max.wait.ms`.
    pub fn fetch_max_wait(mut self, d: Duration) -> Self {
        self.fetch_max_wait = d;
        self
    }

    /// `max.partition.fetch.bytes`.
    pub fn max_partition_fetch_bytes(mut self, n: i32) -> Self {
        self.max_partition_fetch_bytes = n;
        self
    }

    /// `isolation.level`.
    pub fn isolation_level(mut self, l: IsolationLevel) -> Self {
        self.isolation_level = l;
        self
    }

    /// `check.crcs`.
    pub fn check_crcs(mut self, on: bool) -> Self {
        self.check_crcs = on;
        self
    }

    /// `partition.assignment.strategy`, in order of preference.
    pub fn partition_assignment_strategy(
        mut self,
        s: impl IntoIterator<Item = AssignmentStrategy>,
    ) -> Self {
        self.partition_assignment_strategy = s.into_iter().collect();
        self
    }

    /// `enable.partition.eof`.
    pub fn enable_partition_eof(mut self, on: bool) -> Self {
        self.enable_partition_eof = on;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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

    // -- defaults ----------------------------------------------------------

    #[test]
    fn client_defaults() {
        let c = ClientConfig::default();
        assert!(c.bootstrap_servers.is_empty());
        assert_eq!(c.client_id, "purekafka");
        assert_eq!(c.client_rack, None);
        assert_eq!(c.request_timeout, ms(30_000));
        assert_eq!(c.reconnect_backoff, ms(50));
        assert_eq!(c.reconnect_backoff_max, ms(1000));
        assert_eq!(c.retry_backoff, ms(100));
        assert_eq!(c.retry_backoff_max, ms(1000));
        assert_eq!(c.metadata_max_age, ms(300_000));
        assert_eq!(c.max_in_flight_requests_per_connection, 5);
        assert_eq!(c.socket_connection_setup_timeout, ms(10_000));
        assert_eq!(c.connections_max_idle, ms(540_000));
        assert_eq!(c.receive_message_max_bytes, 100_000_000);
        assert_eq!(c.security_protocol, SecurityProtocol::Plaintext);
        assert!(c.allow_auto_create_topics);
    }

    #[test]
    fn producer_defaults() {
        let p = ProducerConfig::default();
        assert_eq!(p.client, ClientConfig::default());
        assert_eq!(p.acks, Acks::All);
        assert!(p.enable_idempotence);
        assert_eq!(p.linger, ms(5));
        assert_eq!(p.batch_size, 16_384);
        assert_eq!(p.buffer_memory, 33_554_432);
        assert_eq!(p.max_block, ms(60_000));
        assert_eq!(p.max_request_size, 1_048_576);
        assert_eq!(p.compression, Compression::None);
        assert_eq!(p.compression_level, None);
        assert_eq!(p.retries, 2_147_483_647);
        assert_eq!(p.delivery_timeout, ms(120_000));
        assert!(!p.partitioner_ignore_keys);
        assert!(p.partitioner_adaptive);
        assert_eq!(p.transactional_id, None);
        assert_eq!(p.transaction_timeout, ms(60_000));
        // The defaults are consistent: only the bootstrap servers are missing.
        assert!(ProducerConfig::new("localhost:9092").validate().is_ok());
    }

    #[test]
    fn consumer_defaults() {
        let c = ConsumerConfig::default();
        assert_eq!(c.client, ClientConfig::default());
        assert_eq!(c.group_id, None);
        assert_eq!(c.group_instance_id, None);
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert!(c.enable_auto_commit);
        assert_eq!(c.auto_commit_interval, ms(5000));
        assert!(c.enable_auto_offset_store);
        assert_eq!(c.session_timeout, ms(45_000));
        assert_eq!(c.heartbeat_interval, ms(3000));
        assert_eq!(c.max_poll_interval, ms(300_000));
        assert_eq!(c.max_poll_records, 500);
        assert_eq!(c.fetch_min_bytes, 1);
        assert_eq!(c.fetch_max_bytes, 52_428_800);
        assert_eq!(c.fetch_max_wait, ms(500));
        assert_eq!(c.max_partition_fetch_bytes, 1_048_576);
        assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
        assert!(c.check_crcs);
        assert_eq!(
            c.partition_assignment_strategy,
            vec![
                AssignmentStrategy::Range,
                AssignmentStrategy::CooperativeSticky
            ]
        );
        assert!(!c.enable_partition_eof);
        assert!(ConsumerConfig::new("localhost:9092").validate().is_ok());
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

    // -- every property sets its field --------------------------------------

    type Check<T> = (&'static str, &'static str, fn(&T) -> bool);

    fn client_cases() -> Vec<Check<ClientConfig>> {
        vec![
            ("bootstrap.servers", "a:1, b.example:9093,[::1]:9094", |c| {
                c.bootstrap_servers == ["a:1", "b.example:9093", "[::1]:9094"]
            }),
            ("client.id", "svc", |c| c.client_id == "svc"),
            ("client.rack", "use1-az1", |c| {
                c.client_rack.as_deref() == Some("use1-az1")
            }),
            ("request.timeout.ms", "1234", |c| {
                c.request_timeout == ms(1234)
            }),
            ("reconnect.backoff.ms", "7", |c| {
                c.reconnect_backoff == ms(7)
            }),
            ("reconnect.backoff.max.ms", "7000", |c| {
                c.reconnect_backoff_max == ms(7000)
            }),
            ("retry.backoff.ms", "8", |c| c.retry_backoff == ms(8)),
            ("retry.backoff.max.ms", "8000", |c| {
                c.retry_backoff_max == ms(8000)
            }),
            ("metadata.max.age.ms", "9000", |c| {
                c.metadata_max_age == ms(9000)
            }),
            ("max.in.flight.requests.per.connection", "3", |c| {
                c.max_in_flight_requests_per_connection == 3
            }),
            ("socket.connection.setup.timeout.ms", "11", |c| {
                c.socket_connection_setup_timeout == ms(11)
            }),
            ("connections.max.idle.ms", "12", |c| {
                c.connections_max_idle == ms(12)
            }),
            ("receive.message.max.bytes", "2000", |c| {
                c.receive_message_max_bytes == 2000
            }),
            ("security.protocol", "SASL_SSL", |c| {
                c.security_protocol == SecurityProtocol::SaslSsl
            }),
            ("allow.auto.create.topics", "false", |c| {
                !c.allow_auto_create_topics
            }),
        ]
    }

    fn producer_cases() -> Vec<Check<ProducerConfig>> {
        vec![
            ("acks", "1", |c| c.acks == Acks::Leader),
            ("enable.idempotence", "false", |c| !c.enable_idempotence),
            ("linger.ms", "10", |c| c.linger == ms(10)),
            ("batch.size", "1", |c| c.batch_size == 1),
            ("buffer.memory", "4096", |c| c.buffer_memory == 4096),
            ("max.block.ms", "13", |c| c.max_block == ms(13)),
            ("max.request.size", "2048", |c| c.max_request_size == 2048),
            ("compression.type", "zstd", |c| {
                c.compression == Compression::Zstd
            }),
            ("compression.level", "4", |c| c.compression_level == Some(4)),
            ("retries", "3", |c| c.retries == 3),
            ("delivery.timeout.ms", "200000", |c| {
                c.delivery_timeout == ms(200_000)
            }),
            ("partitioner.ignore.keys", "true", |c| {
                c.partitioner_ignore_keys
            }),
            ("partitioner.adaptive.partitioning.enable", "false", |c| {
                !c.partitioner_adaptive
            }),
            ("transactional.id", "tx-1", |c| {
                c.transactional_id.as_deref() == Some("tx-1")
            }),
            ("transaction.timeout.ms", "15000", |c| {
                c.transaction_timeout == ms(15_000)
            }),
        ]
    }

    fn consumer_cases() -> Vec<Check<ConsumerConfig>> {
        vec![
            ("group.id", "g1", |c| c.group_id.as_deref() == Some("g1")),
            ("group.instance.id", "i1", |c| {
                c.group_instance_id.as_deref() == Some("i1")
            }),
            ("auto.offset.reset", "earliest", |c| {
                c.auto_offset_reset == OffsetReset::Earliest
            }),
            ("enable.auto.commit", "false", |c| !c.enable_auto_commit),
            ("enable.auto.offset.store", "false", |c| {
                !c.enable_auto_offset_store
            }),
            ("auto.commit.interval.ms", "100", |c| {
                c.auto_commit_interval == ms(100)
            }),
            ("session.timeout.ms", "10000", |c| {
                c.session_timeout == ms(10_000)
            }),
            ("heartbeat.interval.ms", "1000", |c| {
                c.heartbeat_interval == ms(1000)
            }),
            ("max.poll.interval.ms", "60000", |c| {
                c.max_poll_interval == ms(60_000)
            }),
            ("max.poll.records", "10", |c| c.max_poll_records == 10),
            ("fetch.min.bytes", "1024", |c| c.fetch_min_bytes == 1024),
            ("fetch.max.bytes", "1000000", |c| {
                c.fetch_max_bytes == 1_000_000
            }),
            ("fetch.max.wait.ms", "100", |c| c.fetch_max_wait == ms(100)),
            ("max.partition.fetch.bytes", "65536", |c| {
                c.max_partition_fetch_bytes == 65_536
            }),
            ("isolation.level", "read_committed", |c| {
                c.isolation_level == IsolationLevel::ReadCommitted
            }),
            ("check.crcs", "false", |c| !c.check_crcs),
            ("partition.assignment.strategy", "roundrobin", |c| {
                c.partition_assignment_strategy == [AssignmentStrategy::RoundRobin]
            }),
            ("enable.partition.eof", "true", |c| c.enable_partition_eof),
        ]
    }

    /// Sets each case on a default config: the check must fail before and
    /// pass after; the canonical names covered must be exactly the table's.
    fn run_cases<T: Default + std::fmt::Debug>(
        cases: Vec<Check<T>>,
        table: &[Prop<T>],
        set: impl Fn(&mut T, &str, &str) -> Result<(), ConfigError>,
    ) {
        for (name, value, check) in &cases {
            let mut c = T::default();
            assert!(!check(&c), "{name}: the check already holds on the default");
            set(&mut c, name, value).unwrap_or_else(|e| panic!("{name}={value}: {e}"));
            assert!(check(&c), "{name}={value} did not set its field: {c:?}");
        }
        let covered: BTreeSet<&str> = cases.iter().map(|c| c.0).collect();
        let table: BTreeSet<&str> = table.iter().map(|p| p.name).collect();
        assert_eq!(covered, table, "every property needs a case");
        assert_eq!(cases.len(), table.len(), "duplicate cases");
    }

    #[test]
    fn every_client_property_sets_its_field() {
        run_cases(
            client_cases(),
            CLIENT_PROPS,
            |c: &mut ClientConfig, n, v| c.set(n, v),
        );
    }

    #[test]
    fn every_producer_property_sets_its_field() {
        run_cases(
            producer_cases(),
            PRODUCER_PROPS,
            |c: &mut ProducerConfig, n, v| c.set(n, v),
        );
    }

    #[test]
    fn every_consumer_property_sets_its_field() {
        run_cases(
            consumer_cases(),
            CONSUMER_PROPS,
            |c: &mut ConsumerConfig, n, v| c.set(n, v),
        );
    }

    #[test]
    fn producer_and_consumer_accept_every_client_property() {
        for (name, value, check) in client_cases() {
            let mut p = ProducerConfig::default();
            p.set(name, value)
                .unwrap_or_else(|e| panic!("producer {name}: {e}"));
            assert!(check(&p.client), "producer {name}");
            let mut c = ConsumerConfig::default();
            c.set(name, value)
                .unwrap_or_else(|e| panic!("consumer {name}: {e}"));
            assert!(check(&c.client), "consumer {name}");
        }
    }

    /// Every alias sets the same field as its canonical name.
    fn check_aliases<T: Default + PartialEq + std::fmt::Debug>(
        cases: Vec<Check<T>>,
        table: &[Prop<T>],
        set: impl Fn(&mut T, &str, &str) -> Result<(), ConfigError>,
    ) -> usize {
        let mut n = 0;
        for prop in table {
            let (_, value, check) = cases.iter().find(|c| c.0 == prop.name).expect("case");
            let mut canonical = T::default();
            set(&mut canonical, prop.name, value).expect("canonical");
            for alias in prop.aliases {
                let mut via_alias = T::default();
                set(&mut via_alias, alias, value).unwrap_or_else(|e| panic!("{alias}: {e}"));
                assert!(
                    check(&via_alias),
                    "{alias} did not set {}'s field",
                    prop.name
                );
                assert_eq!(via_alias, canonical, "{alias} vs {}", prop.name);
                n += 1;
            }
        }
        n
    }

    #[test]
    fn aliases_set_the_same_fields() {
        let n = check_aliases(
            client_cases(),
            CLIENT_PROPS,
            |c: &mut ClientConfig, k, v| c.set(k, v),
        ) + check_aliases(
            producer_cases(),
            PRODUCER_PROPS,
            |c: &mut ProducerConfig, k, v| c.set(k, v),
        ) + check_aliases(
            consumer_cases(),
            CONSUMER_PROPS,
            |c: &mut ConsumerConfig, k, v| c.set(k, v),
        );
        assert_eq!(n, 12, "aliases checked");
        // The librdkafka aliases the docs promise, spelled out.
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
    }

    #[test]
    fn ssl_and_sasl_properties_are_not_supported_yet() {
        for name in ["ssl.ca.location", "sasl.mechanism", "sasl.jaas.config"] {
            assert_mentions(&producer_err(name, "x"), name, &["not supported yet"]);
            assert_mentions(&consumer_err(name, "x"), name, &["not supported yet"]);
        }
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
                "earliest, latest or none",
            ),
            (
                "isolation.level",
                "committed",
                "read_uncommitted or read_committed",
            ),
            (
                "partition.assignment.strategy",
                "range,sticky",
                "unknown assignor \"sticky\"",
            ),
            (
                "partition.assignment.strategy",
                " , ",
                "at least one assignor",
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
        for (p, name) in [
            (SecurityProtocol::Ssl, "ssl"),
            (SecurityProtocol::SaslPlaintext, "sasl_plaintext"),
            (SecurityProtocol::SaslSsl, "sasl_ssl"),
        ] {
            let e = ok.clone().security_protocol(p).validate().unwrap_err();
            assert_mentions(
                &e,
                "security.protocol",
                &[&format!("security.protocol={name} is not supported yet")],
            );
        }
        let e = ok
            .clone()
            .max_in_flight_requests_per_connection(0)
            .validate()
            .unwrap_err();
        assert_mentions(&e, "max.in.flight.requests.per.connection", &["at least 1"]);
        let e = ok
            .clone()
            .receive_message_max_bytes(999)
            .validate()
            .unwrap_err();
        assert_mentions(&e, "receive.message.max.bytes", &["at least 1000", "999"]);
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
            .build()
            .unwrap_err();
        assert_eq!(e.property, "security.protocol");
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
                let e = ProducerConfig::from_properties([
                    ("bootstrap.servers", "h:1"),
                    order[0],
                    order[1],
                ])
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
        assert!(p.enable_idempotence);
    }

    #[test]
    fn implicit_idempotence_turns_off_on_conflict_like_java() {
        for (name, value) in [("acks", "1"), ("retries", "0"), ("max.in.flight", "6")] {
            let p = ProducerConfig::from_properties([("bootstrap.servers", "h:1"), (name, value)])
                .unwrap();
            assert!(!p.enable_idempotence, "{name}={value}");
        }
        let p = ProducerConfig::new("h:1").acks(Acks::None).build().unwrap();
        assert!(!p.enable_idempotence);
        let p = ProducerConfig::new("h:1").retries(0).build().unwrap();
        assert!(!p.enable_idempotence);
        let p = ProducerConfig::new("h:1")
            .max_in_flight_requests_per_connection(10)
            .build()
            .unwrap();
        assert!(!p.enable_idempotence);
        // Only the final values count: undoing the conflict turns it back on.
        let p = ProducerConfig::new("h:1")
            .acks(Acks::Leader)
            .acks(Acks::All)
            .build()
            .unwrap();
        assert!(p.enable_idempotence);
        let mut p = ProducerConfig::new("h:1");
        p.set("acks", "1").unwrap();
        p.set("acks", "all").unwrap();
        assert!(p.enable_idempotence);
        // Explicitly off stays off.
        let p = ProducerConfig::new("h:1")
            .enable_idempotence(false)
            .acks(Acks::All)
            .build()
            .unwrap();
        assert!(!p.enable_idempotence);
    }

    #[test]
    fn direct_field_assignments_count_as_explicit() {
        // Assigned false directly: a later set() must not turn it back on.
        let mut p = ProducerConfig::new("h:1");
        p.enable_idempotence = false;
        p.set("linger.ms", "1").unwrap();
        assert!(!p.enable_idempotence);
        // Assigned true directly after the rule turned it off: an explicit
        // request that conflicts.
        let mut p = ProducerConfig::new("h:1").acks(Acks::Leader);
        assert!(!p.enable_idempotence);
        p.enable_idempotence = true;
        p.set("linger.ms", "1").unwrap();
        assert_mentions(
            &p.validate().unwrap_err(),
            "enable.idempotence",
            &["acks=1"],
        );
        // A conflicting field assigned directly, never resolved: validate
        // reports it rather than guessing.
        let mut p = ProducerConfig::new("h:1");
        p.acks = Acks::Leader;
        assert_mentions(
            &p.validate().unwrap_err(),
            "enable.idempotence",
            &["acks=1"],
        );
        assert!(
            !p.clone().build().unwrap().enable_idempotence,
            "build() applies the Java rule"
        );
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
        assert!(p.enable_idempotence);
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
            &["at most 2147483647"],
        );
        let p = ProducerConfig::new("h:1").transaction_timeout(ms(999));
        assert_mentions(
            &p.validate().unwrap_err(),
            "transaction.timeout.ms",
            &["at least 1000 ms", "999"],
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
            &["at least 1"],
        );
        assert_mentions(
            &base().heartbeat_interval(ms(0)).build().unwrap_err(),
            "heartbeat.interval.ms",
            &["at least 1"],
        );
        assert_mentions(
            &base().max_poll_interval(ms(0)).build().unwrap_err(),
            "max.poll.interval.ms",
            &["at least 1"],
        );
        assert_mentions(
            &base().max_poll_records(0).build().unwrap_err(),
            "max.poll.records",
            &["at least 1"],
        );
        assert_mentions(
            &base().fetch_min_bytes(-1).build().unwrap_err(),
            "fetch.min.bytes",
            &["negative", "-1"],
        );
        assert_mentions(
            &base().fetch_max_bytes(-1).build().unwrap_err(),
            "fetch.max.bytes",
            &["negative"],
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
    fn every_client_setter_is_forwarded() {
        let client = ClientConfig::new("x:1")
            .bootstrap_servers("a:1,b:2")
            .client_id("c")
            .client_rack("r")
            .request_timeout(ms(1))
            .reconnect_backoff(ms(2))
            .reconnect_backoff_max(ms(3))
            .retry_backoff(ms(4))
            .retry_backoff_max(ms(5))
            .metadata_max_age(ms(6))
            .max_in_flight_requests_per_connection(2)
            .socket_connection_setup_timeout(ms(7))
            .connections_max_idle(ms(8))
            .receive_message_max_bytes(9000)
            .security_protocol(SecurityProtocol::Ssl)
            .allow_auto_create_topics(false);
        macro_rules! same {
            ($t:ty) => {{
                let c = <$t>::new("x:1")
                    .bootstrap_servers("a:1,b:2")
                    .client_id("c")
                    .client_rack("r")
                    .request_timeout(ms(1))
                    .reconnect_backoff(ms(2))
                    .reconnect_backoff_max(ms(3))
                    .retry_backoff(ms(4))
                    .retry_backoff_max(ms(5))
                    .metadata_max_age(ms(6))
                    .max_in_flight_requests_per_connection(2)
                    .socket_connection_setup_timeout(ms(7))
                    .connections_max_idle(ms(8))
                    .receive_message_max_bytes(9000)
                    .security_protocol(SecurityProtocol::Ssl)
                    .allow_auto_create_topics(false);
                assert_eq!(c.client, client);
                assert_eq!(<$t>::default().client(client.clone()).client, client);
            }};
        }
        same!(ProducerConfig);
        same!(ConsumerConfig);
        assert_ne!(client, ClientConfig::new("x:1"));
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

    /// The property tables in the module docs list exactly the registered
    /// names, aliases and ignored properties.
    #[test]
    fn doc_tables_list_every_property() {
        let src = include_str!("config.rs");
        let mut documented = BTreeSet::new();
        for line in src.lines().filter(|l| l.starts_with("//! | `")) {
            let cols: Vec<&str> = line.split('|').map(str::trim).collect();
            // ["//!", "`name`", "`alias`, ...", default, field, ""]
            documented.insert(cols[1].trim_matches('`').to_owned());
            for alias in cols[2]
                .split(',')
                .map(|a| a.trim().trim_matches('`'))
                .filter(|a| !a.is_empty())
            {
                documented.insert(alias.to_owned());
            }
        }
        let registered: BTreeSet<String> = CLIENT_PROPS
            .iter()
            .flat_map(Prop::names)
            .chain(PRODUCER_PROPS.iter().flat_map(Prop::names))
            .chain(CONSUMER_PROPS.iter().flat_map(Prop::names))
            .map(str::to_owned)
            .collect();
        assert_eq!(documented, registered);
        let docs: String = src
            .lines()
            .filter_map(|l| l.strip_prefix("//!"))
            .collect::<Vec<_>>()
            .join(" ");
        for (name, _) in IGNORED_PROPERTIES {
            assert!(
                docs.contains(&format!("`{name}`")),
                "{name} is not documented"
            );
        }
        // No name is both registered and ignored, or registered twice.
        for (name, _) in IGNORED_PROPERTIES {
            assert!(!registered.contains(*name), "{name}");
        }
        let all: Vec<&str> = known_names(Kind::Producer)
            .into_iter()
            .chain(CONSUMER_PROPS.iter().flat_map(Prop::names))
            .collect();
        assert_eq!(all.len(), registered.len(), "a name is registered twice");
    }

    #[test]
    fn edit_distance_and_suggestions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("linger.ms", "linger.ms"), 0);
        assert_eq!(edit_distance("lnger.ms", "linger.ms"), 1);
        assert_eq!(suggest("ack", known_names(Kind::Producer)), Some("acks"));
        assert_eq!(suggest("xyz", known_names(Kind::Producer)), None);
        assert_eq!(
            suggest("group.idd", known_names(Kind::Producer)),
            None,
            "not a producer name"
        );
        assert_eq!(
            suggest("group.idd", known_names(Kind::Consumer)),
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
}
