//! The value types of properties: enums with their spellings, and the
//! bootstrap list and compression-level parsers.

use super::decl::{Choice, invalid_value};
use crate::error::ConfigError;
use purekafka_compression::Compression;

/// `FromStr` for a [`Choice`] enum, with errors naming `property`.
macro_rules! from_str_by_choice {
    ($t:ty, $property:literal) => {
        impl std::str::FromStr for $t {
            type Err = ConfigError;

            fn from_str(s: &str) -> Result<Self, ConfigError> {
                <$t as Choice>::parse_choice(s)
                    .map_err(|r| invalid_value($property, $property, s, false, &r))
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// `security.protocol`. Only [`Plaintext`](SecurityProtocol::Plaintext) works
/// yet; the others parse, and [`ClientConfig::validate`](super::ClientConfig::validate)
/// rejects them.
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
    /// Every protocol.
    pub const ALL: [SecurityProtocol; 4] = [
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

impl Choice for SecurityProtocol {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        (
            SecurityProtocol::Plaintext.name(),
            SecurityProtocol::Plaintext,
        ),
        (SecurityProtocol::Ssl.name(), SecurityProtocol::Ssl),
        (
            SecurityProtocol::SaslPlaintext.name(),
            SecurityProtocol::SaslPlaintext,
        ),
        (SecurityProtocol::SaslSsl.name(), SecurityProtocol::SaslSsl),
    ];
}

from_str_by_choice!(SecurityProtocol, "security.protocol");

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

impl Choice for Acks {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        (Acks::None.name(), Acks::None),
        (Acks::Leader.name(), Acks::Leader),
        (Acks::All.name(), Acks::All),
        ("-1", Acks::All),
    ];
}

from_str_by_choice!(Acks, "acks");

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

impl Choice for OffsetReset {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        (OffsetReset::Earliest.name(), OffsetReset::Earliest),
        (OffsetReset::Latest.name(), OffsetReset::Latest),
        (OffsetReset::None.name(), OffsetReset::None),
        ("smallest", OffsetReset::Earliest),
        ("beginning", OffsetReset::Earliest),
        ("largest", OffsetReset::Latest),
        ("end", OffsetReset::Latest),
        ("error", OffsetReset::None),
    ];
}

from_str_by_choice!(OffsetReset, "auto.offset.reset");

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

impl Choice for IsolationLevel {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        (
            IsolationLevel::ReadUncommitted.name(),
            IsolationLevel::ReadUncommitted,
        ),
        (
            IsolationLevel::ReadCommitted.name(),
            IsolationLevel::ReadCommitted,
        ),
    ];
}

from_str_by_choice!(IsolationLevel, "isolation.level");

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
    /// Every strategy.
    pub const ALL: [AssignmentStrategy; 3] = [
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

impl Choice for AssignmentStrategy {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        (AssignmentStrategy::Range.name(), AssignmentStrategy::Range),
        (
            AssignmentStrategy::RoundRobin.name(),
            AssignmentStrategy::RoundRobin,
        ),
        (
            AssignmentStrategy::CooperativeSticky.name(),
            AssignmentStrategy::CooperativeSticky,
        ),
        (
            AssignmentStrategy::Range.java_class(),
            AssignmentStrategy::Range,
        ),
        (
            AssignmentStrategy::RoundRobin.java_class(),
            AssignmentStrategy::RoundRobin,
        ),
        (
            AssignmentStrategy::CooperativeSticky.java_class(),
            AssignmentStrategy::CooperativeSticky,
        ),
    ];
}

from_str_by_choice!(AssignmentStrategy, "partition.assignment.strategy");

impl Choice for Compression {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        (Compression::None.name(), Compression::None),
        (Compression::Gzip.name(), Compression::Gzip),
        (Compression::Snappy.name(), Compression::Snappy),
        (Compression::Lz4.name(), Compression::Lz4),
        (Compression::Zstd.name(), Compression::Zstd),
    ];
}

/// `compression.level`: an integer, `-1` or empty for the codec's default
/// (checked against the codec by `ProducerConfig::validate`).
pub(crate) fn parse_compression_level(v: &str) -> Result<Option<i32>, String> {
    match v.trim() {
        "" => Ok(None),
        v => match v.parse::<i32>() {
            Ok(-1) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(
                "expected an integer (the codec's level; -1 for the codec's default)".to_owned(),
            ),
        },
    }
}

/// Splits a `host:port` bootstrap entry. IPv6 hosts are bracketed
/// (`[::1]:9092`); the brackets are not part of the returned host.
pub fn parse_host_port(entry: &str) -> Result<(&str, u16), ConfigError> {
    host_port(entry).map_err(|reason| ConfigError::new("bootstrap.servers", reason))
}

fn host_port(entry: &str) -> Result<(&str, u16), String> {
    let bad = |why: &str| {
        format!(
            "invalid entry {entry:?}: {why} (expected host:port, port 1..=65535, IPv6 as [addr]:port)"
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

/// The entries of a comma-separated `host:port` list (not checked).
pub(crate) fn split_servers(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `bootstrap.servers` from a property string: every entry checked.
pub(crate) fn parse_bootstrap(v: &str) -> Result<Vec<String>, String> {
    let servers = split_servers(v);
    for s in &servers {
        host_port(s)?;
    }
    Ok(servers)
}

/// `bootstrap.servers` as a field holds it: at least one entry, each valid.
pub(crate) fn check_bootstrap(servers: &Vec<String>) -> Result<(), String> {
    if servers.is_empty() {
        return Err("bootstrap.servers is required (a comma-separated host:port list)".to_owned());
    }
    for s in servers {
        host_port(s)?;
    }
    Ok(())
}

/// `group.protocol`: which consumer group protocol a member speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupProtocol {
    /// `classic`: JoinGroup / SyncGroup, the client-side assignors of
    /// `partition.assignment.strategy`.
    #[default]
    Classic,
    /// `consumer`: KIP-848's ConsumerGroupHeartbeat; the broker assigns
    /// (`group.remote.assignor`) and rebalances are incremental (Kafka 4.0+).
    Consumer,
}

impl GroupProtocol {
    /// The property value: `classic` or `consumer`.
    pub const fn name(self) -> &'static str {
        match self {
            GroupProtocol::Classic => "classic",
            GroupProtocol::Consumer => "consumer",
        }
    }
}

impl Choice for GroupProtocol {
    const SPELLINGS: &'static [(&'static str, Self)] = &[
        (GroupProtocol::Classic.name(), GroupProtocol::Classic),
        (GroupProtocol::Consumer.name(), GroupProtocol::Consumer),
    ];
}

from_str_by_choice!(GroupProtocol, "group.protocol");
