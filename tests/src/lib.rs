//! Broker harness for purekafka's integration tests.
//!
//! Every test run talks to real brokers, started by the project's own scripts:
//!
//! | kind | what | started by | good for |
//! | --- | --- | --- | --- |
//! | [`BrokerKind::Mock`] | librdkafka's mock cluster (N brokers, one process) | `scripts/mock_cluster.py` | fault injection, multi-broker, leader moves |
//! | [`BrokerKind::Tansu`] | tansu 0.6.0, a Kafka-compatible broker, sqlite storage | `scripts/supervise.py` | admin API, a broker that is not librdkafka's |
//! | [`BrokerKind::External`] | whatever `PUREKAFKA_TEST_BOOTSTRAP` points at (Kafka, Redpanda) | you | the real thing |
//!
//! Brokers are shared by all tests of one test binary ([`Cluster::mock`],
//! [`Cluster::tansu`]) or owned by one test ([`Cluster::mock_private`], for
//! tests that break things). Each broker process reads its stdin from a pipe
//! held by the test binary: when the binary exits — normally, after a panic,
//! or killed — the pipe closes and the broker stops. No broker outlives a run.
//!
//! Tests use topics from [`unique_topic`] so they never see each other's data,
//! ask [`Cluster::supports`] (or [`require!`]) before using something a broker
//! lacks, and use the Python peers ([`Cluster::peer_produce`],
//! [`Cluster::peer_consume`]) to check interop with kafka-python and
//! confluent-kafka (librdkafka).
//!
//! Environment:
//! - `PUREKAFKA_PYTHON`: the python with the peers installed (else `<repo>/.venv/bin/python`).
//! - `PUREKAFKA_TANSU`: the tansu binary (else `~/.cache/purekafka/tansu-0.6.0/bin/tansu`).
//! - `PUREKAFKA_TEST_BOOTSTRAP`: bootstrap servers of an external cluster.
//! - `PUREKAFKA_TEST_LACKS`: comma-separated [`Feature`] names the external cluster lacks.
//! - `PUREKAFKA_START_TIMEOUT`: seconds to wait for a broker to start (default 60).
//! - `CI=true`: a missing tansu fails the tansu tests instead of skipping them.

// A test harness: panicking with a clear message is how a test reports a broken setup.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

pub mod b64;
pub mod bad_broker;
pub mod java;
pub mod poll;
pub mod trace_capture;
pub mod txn;

pub use poll::{poll_error, poll_records, poll_until};
/// A JSON value, as the Python and Java peers and the launchers speak it (one object a line).
pub use serde_json::Value as Json;
pub use trace_capture::TraceCapture;

/// README.md's Rust examples, compiled as this crate's doctests (it can name
/// both purekafka and this harness), so they keep building against the API
/// they show.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Which kind of broker a [`Cluster`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerKind {
    /// Apache Kafka 4.4.0 (KRaft), started from its Maven artifacts.
    Kafka,
    /// librdkafka's mock cluster.
    Mock,
    /// tansu 0.6.0 with sqlite storage.
    Tansu,
    /// An external cluster from `PUREKAFKA_TEST_BOOTSTRAP`.
    External,
}

impl fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokerKind::Kafka => "Apache Kafka 4.4.0",
            BrokerKind::Mock => "mock (librdkafka)",
            BrokerKind::Tansu => "tansu 0.6.0",
            BrokerKind::External => "external cluster",
        })
    }
}

/// Something a test may need that not every broker has. See [`Cluster::supports`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// Admin requests: CreateTopics, DescribeConfigs, ListGroups, DescribeGroups.
    Admin,
    /// DeleteTopics deletes only the named topic (tansu/sqlite deletes every topic).
    DeleteTopics,
    /// Transactions end to end, EndTxn included.
    Transactions,
    /// Transaction markers are real control batches in the log.
    RealTxnMarkers,
    /// InitProducerId v0-2 works (idempotence on old protocol versions).
    IdempotentInitProducerIdV0_2,
    /// The broker stores and serves snappy batches correctly.
    Snappy,
    /// CreatePartitions.
    CreatePartitions,
    /// OffsetForLeaderEpoch.
    OffsetForLeaderEpoch,
    /// OffsetDelete.
    OffsetDelete,
    /// AlterConfigs / IncrementalAlterConfigs.
    AlterConfigs,
    /// DeleteRecords.
    DeleteRecords,
    /// Broker-side fault injection (errors, delays, broker down, leader moves).
    FaultInjection,
    /// ListOffsets by timestamp returns a real offset.
    ListOffsetsByTimestamp,
    /// ApiVersions v3+ is answered (not UNSUPPORTED_VERSION).
    ApiVersionsV3,
    /// KIP-848 consumer groups (ConsumerGroupHeartbeat).
    ConsumerGroupHeartbeat,
    /// Metadata returns real authorized_operations.
    AuthorizedOperations,
    /// Fetch returns as soon as min bytes are there, not after half of max wait.
    PromptFetch,
    /// More than 5 MiB in one partition.
    LargePartitions,
    /// More than one broker.
    MultiBroker,
    /// TLS listeners (none of our brokers yet).
    Tls,
    /// SASL authentication (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER).
    Sasl,
    /// ACLs enforced by an authorizer (StandardAuthorizer on Kafka).
    Acls,
    /// The broker validates idempotent sequence numbers and drops duplicate
    /// batches (the mock does neither).
    SequenceValidation,
    /// Broker processes can be killed and restarted (real failures, not injected).
    NodeRestart,
    /// KIP-932 share groups (ShareGroupHeartbeat, ShareFetch, ShareAcknowledge).
    ShareGroups,
}

impl Feature {
    /// Every feature, for tables and `PUREKAFKA_TEST_LACKS` parsing.
    pub const ALL: &'static [Feature] = &[
        Feature::Admin,
        Feature::DeleteTopics,
        Feature::Transactions,
        Feature::RealTxnMarkers,
        Feature::IdempotentInitProducerIdV0_2,
        Feature::Snappy,
        Feature::CreatePartitions,
        Feature::OffsetForLeaderEpoch,
        Feature::OffsetDelete,
        Feature::AlterConfigs,
        Feature::DeleteRecords,
        Feature::FaultInjection,
        Feature::ListOffsetsByTimestamp,
        Feature::ApiVersionsV3,
        Feature::ConsumerGroupHeartbeat,
        Feature::AuthorizedOperations,
        Feature::PromptFetch,
        Feature::LargePartitions,
        Feature::MultiBroker,
        Feature::Tls,
        Feature::Sasl,
        Feature::Acls,
        Feature::SequenceValidation,
        Feature::NodeRestart,
        Feature::ShareGroups,
    ];

    /// Parses a feature by its Rust name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Feature> {
        let want = name.trim();
        Feature::ALL
            .iter()
            .copied()
            .find(|f| format!("{f:?}").eq_ignore_ascii_case(want))
    }
}

/// Which client the Python peer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerClient {
    /// kafka-python (pure Python).
    KafkaPython,
    /// confluent-kafka (librdkafka).
    Confluent,
}

impl PeerClient {
    fn flag(self) -> &'static str {
        match self {
            PeerClient::KafkaPython => "kafka-python",
            PeerClient::Confluent => "confluent",
        }
    }
}

/// Compression codec for the peer producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// snappy (xerial framing for old formats, raw in v2 batches).
    Snappy,
    /// lz4 frame.
    Lz4,
    /// zstd.
    Zstd,
}

impl Codec {
    fn flag(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

/// Kafka / librdkafka error codes commonly pushed into the mock.
pub mod codes {
    /// Partition leader moved.
    pub const NOT_LEADER_OR_FOLLOWER: i32 = 6;
    /// Request timed out on the broker.
    pub const REQUEST_TIMED_OUT: i32 = 7;
    /// Network exception.
    pub const NETWORK_EXCEPTION: i32 = 13;
    /// Coordinator is loading.
    pub const COORDINATOR_LOAD_IN_PROGRESS: i32 = 14;
    /// Coordinator not available.
    pub const COORDINATOR_NOT_AVAILABLE: i32 = 15;
    /// Not the coordinator.
    pub const NOT_COORDINATOR: i32 = 16;
    /// Not enough in-sync replicas.
    pub const NOT_ENOUGH_REPLICAS: i32 = 19;
    /// Unknown topic or partition.
    pub const UNKNOWN_TOPIC_OR_PARTITION: i32 = 3;
    /// Topic authorization failed.
    pub const TOPIC_AUTHORIZATION_FAILED: i32 = 29;
    /// Out-of-order sequence number (idempotent producer).
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i32 = 45;
    /// librdkafka-internal: the mock closes the connection instead of answering.
    pub const TRANSPORT: i32 = -195;
}

/// Everything that can go wrong in the harness, each with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A tool or broker is not installed; the message says how to install it.
    NotInstalled(String),
    /// A broker did not start or died.
    Start(String),
    /// The operation needs a feature this broker lacks.
    Unsupported {
        /// The broker.
        kind: BrokerKind,
        /// What it lacks.
        feature: Feature,
    },
    /// The mock launcher refused a command.
    Command(String),
    /// A Python peer failed.
    Peer(String),
    /// An I/O error talking to a helper process.
    Io(String),
}

impl Error {
    /// `true` for [`Error::NotInstalled`].
    pub fn is_not_installed(&self) -> bool {
        matches!(self, Error::NotInstalled(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotInstalled(m)
            | Error::Start(m)
            | Error::Command(m)
            | Error::Peer(m)
            | Error::Io(m) => f.write_str(m),
            Error::Unsupported { kind, feature } => write!(f, "{kind} lacks {feature:?}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e.to_string())
    }
}

/// Result of harness operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------
// Environment

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// `<repo>/scripts/<name>`.
pub fn script(name: &str) -> PathBuf {
    repo_root().join("scripts").join(name)
}

/// `true` when running in CI (`CI` is `true` or `1`).
pub fn in_ci() -> bool {
    matches!(
        std::env::var("CI").as_deref(),
        Ok("true") | Ok("1") | Ok("TRUE") | Ok("True")
    )
}

/// The python that has the peers installed: `PUREKAFKA_PYTHON`, else `<repo>/.venv/bin/python`.
pub fn try_python() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PUREKAFKA_PYTHON").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(Error::NotInstalled(format!(
                "PUREKAFKA_PYTHON={} does not exist: run ./scripts/setup-python.sh and export the path it prints",
                p.display()
            )))
        };
    }
    let venv = repo_root().join(".venv").join("bin").join("python");
    if venv.exists() {
        Ok(venv)
    } else {
        Err(Error::NotInstalled(format!(
            "no Python peers: {} is missing; run ./scripts/setup-python.sh",
            venv.display()
        )))
    }
}

/// Like [`try_python`], panicking with the fix when it is missing.
pub fn python() -> PathBuf {
    try_python().unwrap_or_else(|e| panic!("{e}"))
}

/// The tansu binary: `PUREKAFKA_TANSU`, else the cache `scripts/install-tansu.sh` fills.
pub fn tansu_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PUREKAFKA_TANSU").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(Error::NotInstalled(format!(
                "PUREKAFKA_TANSU={} does not exist: run ./scripts/install-tansu.sh",
                p.display()
            )))
        };
    }
    let cache = std::env::var_os("PUREKAFKA_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("purekafka"))
        });
    let Some(cache) = cache else {
        return Err(Error::NotInstalled(
            "tansu not installed: HOME is unset; set PUREKAFKA_TANSU".into(),
        ));
    };
    let bin = cache.join("tansu-0.6.0").join("bin").join("tansu");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(Error::NotInstalled(format!(
            "tansu not installed ({} missing): run ./scripts/install-tansu.sh (about 30 minutes the first time)",
            bin.display()
        )))
    }
}

/// The Kafka install `scripts/install-kafka.sh` made: `PUREKAFKA_KAFKA_HOME`,
/// else `~/.cache/purekafka/kafka-4.4.0` (or under `PUREKAFKA_CACHE`).
pub fn kafka_home() -> Result<PathBuf> {
    let home = match std::env::var_os("PUREKAFKA_KAFKA_HOME").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => {
            let cache = std::env::var_os("PUREKAFKA_CACHE")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .map(|h| PathBuf::from(h).join(".cache").join("purekafka"))
                })
                .ok_or_else(|| {
                    Error::NotInstalled(
                        "Kafka not installed: HOME is unset; set PUREKAFKA_KAFKA_HOME".into(),
                    )
                })?;
            cache.join("kafka-4.4.0")
        }
    };
    if home.join("lib").join("kafka_2.13-4.4.0.jar").exists() {
        Ok(home)
    } else {
        Err(Error::NotInstalled(format!(
            "Apache Kafka 4.4.0 not installed ({} has no lib/kafka_2.13-4.4.0.jar): run ./scripts/install-kafka.sh (needs java 17+ and mvn; ~1-2 minutes the first time)",
            home.display()
        )))
    }
}

/// The Java peer's classes (`scripts/java/JavaPeer.java`, compiled by
/// `scripts/install-kafka.sh`) and the classpath to run it with.
pub fn java_peer_classpath() -> Result<String> {
    let home = kafka_home()?;
    let peer = home.join("peer");
    if !peer.join("JavaPeer.class").exists() {
        return Err(Error::NotInstalled(format!(
            "the Java peer is not compiled ({} missing): run ./scripts/install-kafka.sh",
            peer.join("JavaPeer.class").display()
        )));
    }
    Ok(format!("{}:{}/lib/*", peer.display(), home.display()))
}

/// A python for the stdlib-only launchers: the peers' venv when there, else `python3`.
fn python3() -> Result<PathBuf> {
    Ok(try_python().unwrap_or_else(|_| PathBuf::from("python3")))
}

fn start_timeout() -> Duration {
    let secs = std::env::var("PUREKAFKA_START_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs.max(1))
}

/// A fresh work directory under `<repo>/target/purekafka-it/` for logs and broker data.
fn work_dir(kind: &str) -> Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let base = repo_root().join("target").join("purekafka-it");
    fs::create_dir_all(&base)?;
    // Sweep directories of earlier runs: those of processes that are gone and
    // older than an hour (recent ones stay, to read after a failure), and
    // anything older than a day.
    if let Ok(rd) = fs::read_dir(&base) {
        for e in rd.flatten() {
            let age = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            let pid = e
                .file_name()
                .to_string_lossy()
                .split('-')
                .nth(1)
                .map(str::to_owned);
            let gone = pid.is_some_and(|p| !Path::new("/proc").join(p).exists())
                && Path::new("/proc/self").exists();
            let stale = age.is_some_and(|a| {
                a > Duration::from_secs(86_400) || (gone && a > Duration::from_secs(3_600))
            });
            if stale {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = base.join(format!(
        "{kind}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A resource an ACL is about ([`Cluster::grant`]).
#[derive(Debug, Clone, Copy)]
pub enum AclResource<'a> {
    /// A topic, by name.
    Topic(&'a str),
    /// A consumer group.
    Group(&'a str),
    /// A transactional id.
    TransactionalId(&'a str),
    /// The cluster.
    Cluster,
}

/// A free TCP port on 127.0.0.1 (free when asked; the supervisor re-checks).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Established TCP connections (IPv4) of this machine whose remote end is
/// 127.0.0.1:`port`: with a broker of the test's own, the test's client
/// connections (Linux `/proc/net/tcp`; 0 elsewhere).
pub fn connections_to(port: u16) -> usize {
    let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(2) == Some(&want.as_str()) && f.get(3) == Some(&"01")
        })
        .count()
}

/// The port of the first entry of a bootstrap list.
pub fn port_of(bootstrap: &str) -> u16 {
    bootstrap
        .split(',')
        .next()
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in bootstrap {bootstrap:?}"))
}

/// The tokio runtime a test drives purekafka with: multi-threaded, two
/// workers (the CI machine has two cores), time and I/O enabled.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the tests' tokio runtime")
}

/// A topic name no other test (in this or any other run) uses:
/// `<prefix>-<pid>-<ms since epoch>-<counter>`, prefix sanitised to Kafka's alphabet.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "{clean}-{}-{ms}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The running test's name (libtest names each test's thread after it).
pub fn current_test_name() -> String {
    thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("<test>")
        .to_owned()
}

/// Prints `SKIP <test>: <why>` straight to the process's stderr, past libtest's
/// output capture, so skips show in every run (and in CI logs).
pub fn skip_notice(why: &str) {
    let line = format!("SKIP {}: {why}\n", current_test_name());
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Prints `ON-KAFKA <test>` past libtest's capture: `scripts/test.sh` counts
/// the tests that ran against the real Kafka from these lines.
fn kafka_notice() {
    let line = format!("ON-KAFKA {}\n", current_test_name());
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Fails the running test because its broker could not be set up.
pub fn setup_failed(e: &Error) -> ! {
    panic!("{e}")
}

/// Returns from the enclosing test, printing `SKIP <test>: <broker> lacks <feature>`
/// to stderr, when the cluster lacks the feature.
///
/// ```ignore
/// let c = Cluster::mock(3);
/// require!(c, Feature::Admin);
/// ```
#[macro_export]
macro_rules! require {
    ($cluster:expr, $feature:expr) => {
        if !$cluster.supports($feature) {
            $crate::skip_notice(&format!("{} lacks {:?}", $cluster.kind(), $feature));
            return;
        }
    };
}

/// Evaluates a `Result<&Cluster>`; when the broker is not installed and we are
/// not in CI, prints `SKIP <test>: <what to install>` and returns from the test.
/// Any other error (and a missing broker in CI) panics with the message.
///
/// ```ignore
/// let c = cluster_or_skip!(Cluster::try_tansu());
/// ```
#[macro_export]
macro_rules! cluster_or_skip {
    ($start:expr) => {
        match $start {
            Ok(c) => c,
            Err(e) if e.is_not_installed() && !$crate::in_ci() => {
                $crate::skip_notice(&e.to_string());
                return;
            }
            Err(e) => $crate::setup_failed(&e),
        }
    };
}

// ---------------------------------------------------------------------------
// Helper processes

/// A child whose stdin we hold open; closing it (drop, or our own exit) stops it.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    log: PathBuf,
}

impl Proc {
    fn spawn(mut cmd: Command, log: PathBuf) -> Result<Proc> {
        let log_file = File::create(&log)?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Start(format!("cannot run {program}: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Io("child has no stdout".into()))?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Proc {
            child,
            stdin,
            lines: rx,
            log,
        })
    }

    fn recv(&mut self, timeout: Duration, what: &str) -> Result<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => Ok(l),
            Err(RecvTimeoutError::Timeout) => Err(Error::Start(format!(
                "{what}: no answer within {}s (log: {})",
                timeout.as_secs(),
                self.log.display()
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self
                    .child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                Err(Error::Start(format!(
                    "{what}: helper exited ({status}); last log lines:\n{}",
                    tail(&self.log, 15)
                )))
            }
        }
    }

    fn send(&mut self, line: &str) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| Error::Io("helper stdin closed".into()))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()?;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        drop(self.stdin.take()); // EOF: the helper stops its broker and exits
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(path: &Path, n: usize) -> String {
    let mut s = String::new();
    if File::open(path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .is_err()
    {
        return format!("(no log at {})", path.display());
    }
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------
// Cluster

/// One request the mock cluster saw (see [`Cluster::mock_requests`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MockRequest {
    /// Broker id it was sent to.
    pub broker: i32,
    /// Its API key.
    pub api_key: i16,
    /// When, in microseconds on librdkafka's monotonic clock.
    pub ts_us: i64,
}

/// Group or transaction coordinator, for [`Cluster::coordinator_set`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinatorKind {
    /// Consumer group coordinator (key = group id).
    Group,
    /// Transaction coordinator (key = transactional id).
    Transaction,
}

/// A record as the peers read and write it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Key, `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// Value, `None` for a null value (tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order; a header value may be null.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Partition to produce to (`None`: the peer's partitioner picks).
    pub partition: Option<i32>,
    /// Create time in ms (`None`: now).
    pub timestamp: Option<i64>,
}

impl Record {
    /// A record with this key and value and nothing else.
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Record {
        Record {
            key: Some(key.into()),
            value: Some(value.into()),
            ..Record::default()
        }
    }

    fn to_json(&self) -> Json {
        let bytes = |b: &Option<Vec<u8>>| b.as_deref().map(b64::encode).into();
        json_object([
            ("key", bytes(&self.key)),
            ("value", bytes(&self.value)),
            (
                "headers",
                Json::Array(
                    self.headers
                        .iter()
                        .map(|(k, v)| Json::Array(vec![k.as_str().into(), bytes(v)]))
                        .collect(),
                ),
            ),
            ("partition", self.partition.into()),
            ("timestamp", self.timestamp.into()),
        ])
    }
}

/// Where the peer producer's record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acked {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
}

/// A record the peer consumer read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumed {
    /// Topic.
    pub topic: String,
    /// Offset in the partition (`record.partition` is always set).
    pub offset: i64,
    /// Key, value, headers, partition and timestamp.
    pub record: Record,
    /// 0 create time, 1 log-append time, `None` if the client did not say.
    pub timestamp_type: Option<i64>,
}

fn field<'a>(v: &'a Json, k: &str, line: &str) -> Result<&'a Json> {
    v.get(k)
        .ok_or_else(|| Error::Peer(format!("peer output lacks {k:?}: {line}")))
}

fn int_field(v: &Json, k: &str, line: &str) -> Result<i64> {
    field(v, k, line)?
        .as_i64()
        .ok_or_else(|| Error::Peer(format!("peer output {k:?} is not an integer: {line}")))
}

/// Parses a peer's acknowledgement line `{"topic","partition","offset"}`
/// (peer.py and the Java peer print the same).
pub(crate) fn parse_acked(l: &str) -> Result<Acked> {
    let v = serde_json::from_str::<Json>(l).map_err(|e| Error::Peer(format!("{e}: {l}")))?;
    Ok(Acked {
        topic: field(&v, "topic", l)?
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        partition: i32::try_from(int_field(&v, "partition", l)?).unwrap_or(-1),
        offset: int_field(&v, "offset", l)?,
    })
}

/// A peer producer's input: `records` as JSON, one a line.
pub(crate) fn peer_input(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| r.to_json().to_string() + "\n")
        .collect()
}

/// Parses a peer producer's acknowledgement lines; fails unless there is one
/// for each of the `sent` records. `who` names the peer in the error.
pub(crate) fn parse_all_acked(lines: &[String], sent: usize, who: &str) -> Result<Vec<Acked>> {
    let acked = lines
        .iter()
        .map(|l| parse_acked(l))
        .collect::<Result<Vec<_>>>()?;
    if acked.len() != sent {
        return Err(Error::Peer(format!(
            "{who} acknowledged {} of {sent} records",
            acked.len()
        )));
    }
    Ok(acked)
}

/// Parses a peer's consumed-record line (peer.py and the Java peer print the same).
pub(crate) fn parse_consumed(l: &str) -> Result<Consumed> {
    let v = serde_json::from_str::<Json>(l).map_err(|e| Error::Peer(format!("{e}: {l}")))?;
    let headers = field(&v, "headers", l)?
        .as_array()
        .ok_or_else(|| Error::Peer(format!("headers is not an array: {l}")))?
        .iter()
        .map(|h| match h.as_array().map(Vec::as_slice) {
            Some([Json::String(k), val]) => Ok((k.clone(), bytes_field(val, l)?)),
            _ => Err(Error::Peer(format!("bad header {h}: {l}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Consumed {
        topic: field(&v, "topic", l)?
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        offset: int_field(&v, "offset", l)?,
        timestamp_type: v.get("timestamp_type").and_then(Json::as_i64),
        record: Record {
            key: bytes_field(field(&v, "key", l)?, l)?,
            value: bytes_field(field(&v, "value", l)?, l)?,
            headers,
            partition: Some(i32::try_from(int_field(&v, "partition", l)?).unwrap_or(-1)),
            timestamp: v.get("timestamp").and_then(Json::as_i64),
        },
    })
}

fn bytes_field(v: &Json, line: &str) -> Result<Option<Vec<u8>>> {
    match v {
        Json::Null => Ok(None),
        Json::String(s) => b64::decode(s)
            .map(Some)
            .map_err(|e| Error::Peer(format!("{e}: {line}"))),
        _ => Err(Error::Peer(format!(
            "peer output: bytes must be base64 or null: {line}"
        ))),
    }
}

/// A JSON object from `(key, value)` pairs.
fn json_object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
    Json::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// A running (or external) Kafka cluster. See the crate docs.
pub struct Cluster {
    kind: BrokerKind,
    bootstrap: String,
    brokers: usize,
    proc: Option<Mutex<Proc>>,
    dir: Option<PathBuf>,
    lacks: Vec<Feature>,
    kafka: Option<KafkaInfo>,
}

/// What `scripts/kafka_cluster.py` reported about a Kafka it started.
#[derive(Clone, Debug, Default)]
struct KafkaInfo {
    /// Listener name (PLAINTEXT, SSL, SSL_NOAUTH, SASL_PLAINTEXT, SASL_SSL) to bootstrap list.
    listeners: HashMap<String, String>,
    /// Certificate and key files by name (ca, client_cert, client_key, ...).
    certs: HashMap<String, PathBuf>,
    /// SASL users and their passwords.
    users: HashMap<String, String>,
    /// Node id to its PLAINTEXT port.
    nodes: HashMap<i32, u16>,
    /// The cluster id it was formatted with.
    cluster_id: String,
    /// Whether the SSL/SASL listeners and the authorizer are on.
    secure: bool,
}

impl KafkaInfo {
    fn parse(line: &str) -> Result<KafkaInfo> {
        let v = serde_json::from_str::<Json>(line)
            .map_err(|e| Error::Start(format!("kafka_cluster.py: bad READY line {line:?}: {e}")))?;
        let strings = |k: &str| -> HashMap<String, String> {
            match v.get(k) {
                Some(Json::Object(m)) => m
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect(),
                _ => HashMap::new(),
            }
        };
        let nodes = match v.get("nodes") {
            Some(Json::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| Some((k.parse().ok()?, u16::try_from(v.as_i64()?).ok()?)))
                .collect(),
            _ => HashMap::new(),
        };
        let certs: HashMap<String, PathBuf> = strings("certs")
            .into_iter()
            .map(|(k, v)| (k, PathBuf::from(v)))
            .collect();
        Ok(KafkaInfo {
            listeners: strings("listeners"),
            secure: !certs.is_empty(),
            certs,
            users: strings("users"),
            nodes,
            cluster_id: v
                .get("cluster_id")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("kind", &self.kind)
            .field("bootstrap", &self.bootstrap)
            .finish()
    }
}

static MOCKS: Mutex<Option<HashMap<usize, &'static Cluster>>> = Mutex::new(None);
static KAFKA: OnceLock<Result<&'static Cluster>> = OnceLock::new();
static TANSU: OnceLock<Result<&'static Cluster>> = OnceLock::new();
static EXTERNAL: OnceLock<Option<&'static Cluster>> = OnceLock::new();

impl Cluster {
    /// The mock cluster with `brokers` brokers shared by this test binary,
    /// started on first use. Do not break it (broker down, pushed errors) in
    /// a shared cluster: tests run in parallel; use [`Cluster::mock_private`].
    pub fn try_mock(brokers: usize) -> Result<&'static Cluster> {
        let mut guard = MOCKS.lock().unwrap_or_else(|p| p.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        if let Some(c) = map.get(&brokers) {
            return Ok(c);
        }
        let c: &'static Cluster = Box::leak(Box::new(Cluster::mock_private(brokers)?));
        map.insert(brokers, c);
        Ok(c)
    }

    /// [`Cluster::try_mock`], panicking with the fix on failure.
    pub fn mock(brokers: usize) -> &'static Cluster {
        Cluster::try_mock(brokers).unwrap_or_else(|e| panic!("mock cluster: {e}"))
    }

    /// A mock cluster owned by the caller: stopped when dropped. For tests that
    /// inject faults.
    pub fn mock_private(brokers: usize) -> Result<Cluster> {
        if brokers == 0 {
            return Err(Error::Start(
                "a mock cluster needs at least one broker".into(),
            ));
        }
        let py = try_python()?;
        let dir = work_dir("mock")?;
        let mut cmd = Command::new(&py);
        cmd.arg(script("mock_cluster.py"))
            .arg("--brokers")
            .arg(brokers.to_string())
            .current_dir(&dir);
        let mut proc = Proc::spawn(cmd, dir.join("mock.log"))?;
        let first = proc.recv(start_timeout(), "mock_cluster.py start")?;
        let Some(bootstrap) = first.strip_prefix("BOOTSTRAP ") else {
            return Err(Error::Start(format!(
                "mock_cluster.py: {first} (log: {}); run ./scripts/setup-python.sh if librdkafka is missing",
                proc.log.display()
            )));
        };
        let c = Cluster {
            kind: BrokerKind::Mock,
            bootstrap: bootstrap.trim().to_owned(),
            brokers,
            proc: Some(Mutex::new(proc)),
            dir: Some(dir),
            lacks: Vec::new(),
            kafka: None,
        };
        // scripts/mock_cluster.py caps the group API versions the mock
        // mis-parses (see there).
        Ok(c)
    }

    /// The single-node Apache Kafka 4.4 shared by this test binary, started on
    /// first use by `scripts/kafka_cluster.py` with every listener (PLAINTEXT,
    /// SSL with and without client certificates, SASL_PLAINTEXT, SASL_SSL), SCRAM
    /// users, the StandardAuthorizer, transactions v2, KIP-848 and share groups.
    /// Do not kill or reconfigure it: tests share it; use [`Cluster::kafka_private`].
    /// A failed start is remembered: later calls fail at once with the same error.
    pub fn try_kafka() -> Result<&'static Cluster> {
        let c = KAFKA
            .get_or_init(|| Cluster::start_kafka(1, true).map(|c| &*Box::leak(Box::new(c))))
            .clone();
        if c.is_ok() {
            kafka_notice();
        }
        c
    }

    /// [`Cluster::try_kafka`], panicking with the fix on failure.
    pub fn kafka() -> &'static Cluster {
        Cluster::try_kafka().unwrap_or_else(|e| panic!("kafka: {e}"))
    }

    /// A Kafka cluster of `nodes` combined broker+controller nodes owned by the
    /// caller (stopped when dropped), PLAINTEXT only. With 3 nodes: replication
    /// 3 and min.insync.replicas 2, for failure tests ([`Cluster::kill_node`],
    /// [`Cluster::start_node`]).
    pub fn kafka_private(nodes: usize) -> Result<Cluster> {
        let c = Cluster::start_kafka(nodes, false);
        if c.is_ok() {
            kafka_notice();
        }
        c
    }

    fn start_kafka(nodes: usize, secure: bool) -> Result<Cluster> {
        if nodes == 0 {
            return Err(Error::Start(
                "a Kafka cluster needs at least one node".into(),
            ));
        }
        let home = kafka_home()?;
        let py = python3()?;
        let dir = work_dir("kafka")?;
        let mut cmd = Command::new(py);
        cmd.arg(script("kafka_cluster.py"))
            .arg("--home")
            .arg(&home)
            .arg("--dir")
            .arg(&dir)
            .arg("--nodes")
            .arg(nodes.to_string())
            .arg("--start-timeout")
            .arg(start_timeout().as_secs().max(60).to_string())
            .current_dir(&dir);
        if !secure {
            cmd.arg("--no-security");
        }
        let mut proc = Proc::spawn(cmd, dir.join("launcher.log"))?;
        let wait = start_timeout().max(Duration::from_secs(60)) + Duration::from_secs(60);
        let first = proc.recv(wait, "kafka_cluster.py start")?;
        let Some(ready) = first.strip_prefix("READY ") else {
            return Err(Error::Start(format!(
                "Kafka did not start: {first} (logs under {})",
                dir.display()
            )));
        };
        let info = KafkaInfo::parse(ready)?;
        let bootstrap = info.listeners.get("PLAINTEXT").cloned().ok_or_else(|| {
            Error::Start(format!(
                "kafka_cluster.py: no PLAINTEXT listener in {ready}"
            ))
        })?;
        Ok(Cluster {
            kind: BrokerKind::Kafka,
            bootstrap,
            brokers: nodes,
            proc: Some(Mutex::new(proc)),
            dir: Some(dir),
            lacks: Vec::new(),
            kafka: Some(info),
        })
    }

    /// The tansu broker shared by this test binary, started on first use
    /// (through `scripts/supervise.py`, on a free port, sqlite storage in a
    /// fresh directory). A failed start is remembered: later calls fail at once.
    pub fn try_tansu() -> Result<&'static Cluster> {
        TANSU
            .get_or_init(|| Cluster::tansu_private().map(|c| &*Box::leak(Box::new(c))))
            .clone()
    }

    /// [`Cluster::try_tansu`], panicking with the fix on failure.
    pub fn tansu() -> &'static Cluster {
        Cluster::try_tansu().unwrap_or_else(|e| panic!("tansu: {e}"))
    }

    /// A tansu broker owned by the caller: stopped when dropped.
    pub fn tansu_private() -> Result<Cluster> {
        let bin = tansu_binary()?;
        let py = try_python()?;
        let dir = work_dir("tansu")?;
        let timeout = start_timeout();
        let mut last = String::new();
        // A port found free can be taken before tansu binds it: retry a few times.
        for _ in 0..3 {
            let port = free_port()?;
            let url = format!("tcp://127.0.0.1:{port}");
            let mut cmd = Command::new(&py);
            cmd.arg(script("supervise.py"))
                .arg("--ready-port")
                .arg(port.to_string())
                .arg("--ready-timeout")
                .arg(timeout.as_secs().to_string())
                .arg("--log")
                .arg(dir.join("tansu.log"))
                .arg("--cwd")
                .arg(&dir)
                .arg("--")
                .arg(&bin)
                .arg("broker")
                .arg("--listener-url")
                .arg(&url)
                .arg("--advertised-listener-url")
                .arg(&url)
                .arg("--storage-engine")
                .arg("sqlite://tansu.db");
            let mut proc = Proc::spawn(cmd, dir.join("supervise.log"))?;
            let line = proc.recv(timeout + Duration::from_secs(15), "tansu start")?;
            if line.starts_with("READY") {
                return Ok(Cluster {
                    kind: BrokerKind::Tansu,
                    bootstrap: format!("127.0.0.1:{port}"),
                    brokers: 1,
                    proc: Some(Mutex::new(proc)),
                    dir: Some(dir),
                    lacks: Vec::new(),
                    kafka: None,
                });
            }
            last = line;
            if !last.contains("already in use") {
                break;
            }
        }
        Err(Error::Start(format!(
            "tansu did not start: {last}\nlast lines of {}:\n{}",
            dir.join("tansu.log").display(),
            tail(&dir.join("tansu.log"), 15)
        )))
    }

    /// The external cluster named by `PUREKAFKA_TEST_BOOTSTRAP`, if set.
    /// `PUREKAFKA_TEST_LACKS` lists features it lacks (e.g. `Tls,Sasl`);
    /// fault injection is never available on it.
    pub fn external() -> Option<&'static Cluster> {
        *EXTERNAL.get_or_init(|| {
            let bootstrap = std::env::var("PUREKAFKA_TEST_BOOTSTRAP")
                .ok()
                .filter(|s| !s.trim().is_empty())?;
            let mut lacks = vec![Feature::FaultInjection, Feature::Tls, Feature::Sasl];
            if let Ok(list) = std::env::var("PUREKAFKA_TEST_LACKS") {
                for name in list.split(',').filter(|s| !s.trim().is_empty()) {
                    match Feature::from_name(name) {
                        Some(f) => lacks.push(f),
                        None => panic!(
                            "PUREKAFKA_TEST_LACKS: unknown feature {name:?}; known: {:?}",
                            Feature::ALL
                        ),
                    }
                }
            }
            let brokers = bootstrap.split(',').count();
            Some(&*Box::leak(Box::new(Cluster {
                kind: BrokerKind::External,
                bootstrap: bootstrap.trim().to_owned(),
                brokers,
                proc: None,
                dir: None,
                lacks,
                kafka: None,
            })))
        })
    }

    /// The best real broker available: the external cluster when
    /// `PUREKAFKA_TEST_BOOTSTRAP` is set, else the shared Kafka.
    pub fn from_env() -> Result<&'static Cluster> {
        match Cluster::external() {
            Some(c) => Ok(c),
            None => Cluster::try_kafka(),
        }
    }

    /// `host:port,host:port` to give a client.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Which kind of broker this is.
    pub fn kind(&self) -> BrokerKind {
        self.kind
    }

    /// Number of brokers (from the bootstrap list for an external cluster).
    pub fn brokers(&self) -> usize {
        self.brokers
    }

    /// Directory with this cluster's logs and data (`None` for external).
    pub fn work_dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether this broker has `feature`. The tables come from each broker's
    /// known limits (see README.md, "Brokers used by the tests").
    pub fn supports(&self, feature: Feature) -> bool {
        use Feature as F;
        match self.kind {
            BrokerKind::Kafka => {
                let secure = self.kafka.as_ref().is_some_and(|k| k.secure);
                match feature {
                    F::FaultInjection => false,
                    // KIP-896 (Kafka 4.0) removed InitProducerId v0-1 and
                    // the other pre-2.1 request versions.
                    F::IdempotentInitProducerIdV0_2 => false,
                    F::MultiBroker => self.brokers > 1,
                    F::Tls | F::Sasl | F::Acls => secure,
                    F::NodeRestart => self.proc.is_some(),
                    _ => true,
                }
            }
            BrokerKind::Mock => match feature {
                F::Transactions
                | F::IdempotentInitProducerIdV0_2
                | F::Snappy
                | F::OffsetForLeaderEpoch
                | F::FaultInjection
                | F::ConsumerGroupHeartbeat
                | F::PromptFetch => true,
                F::MultiBroker => self.brokers > 1,
                F::Admin
                | F::DeleteTopics
                | F::RealTxnMarkers
                | F::CreatePartitions
                | F::OffsetDelete
                | F::AlterConfigs
                | F::DeleteRecords
                | F::ListOffsetsByTimestamp
                | F::ApiVersionsV3
                | F::AuthorizedOperations
                | F::LargePartitions
                | F::Tls
                | F::Sasl
                | F::Acls
                | F::SequenceValidation
                | F::NodeRestart
                | F::ShareGroups => false,
            },
            BrokerKind::Tansu => match feature {
                F::Admin
                | F::ListOffsetsByTimestamp
                | F::ApiVersionsV3
                | F::LargePartitions
                | F::DeleteRecords => true,
                F::DeleteTopics
                | F::Transactions
                | F::RealTxnMarkers
                | F::IdempotentInitProducerIdV0_2
                | F::Snappy
                | F::CreatePartitions
                | F::OffsetForLeaderEpoch
                | F::OffsetDelete
                | F::AlterConfigs
                | F::FaultInjection
                | F::ConsumerGroupHeartbeat
                | F::AuthorizedOperations
                | F::PromptFetch
                | F::MultiBroker
                | F::Tls
                | F::Sasl
                | F::Acls
                | F::SequenceValidation
                | F::NodeRestart
                | F::ShareGroups => false,
            },
            BrokerKind::External => match feature {
                F::MultiBroker => self.brokers > 1 && !self.lacks.contains(&feature),
                f => !self.lacks.contains(&f),
            },
        }
    }

    /// `Err(Unsupported)` unless the broker has `feature`.
    pub fn need(&self, feature: Feature) -> Result<()> {
        if self.supports(feature) {
            Ok(())
        } else {
            Err(Error::Unsupported {
                kind: self.kind,
                feature,
            })
        }
    }

    /// Creates `name` with `partitions` partitions (replication 1) and waits
    /// until it shows in metadata. Mock: through the launcher; tansu and
    /// external: CreateTopics from kafka-python's admin client.
    pub fn create_topic(&self, name: &str, partitions: u32) -> Result<()> {
        if partitions == 0 {
            return Err(Error::Command(
                "a topic needs at least one partition".into(),
            ));
        }
        match self.kind {
            BrokerKind::Kafka => self.create_topic_with(name, partitions, None, &[]),
            BrokerKind::Mock => {
                self.mock_cmd(
                    "create_topic",
                    [("topic", name.into()), ("partitions", partitions.into())],
                )?;
                Ok(())
            }
            BrokerKind::Tansu | BrokerKind::External => {
                let p = partitions.to_string();
                self.run_peer(
                    &[
                        "create-topic",
                        "--topic",
                        name,
                        "--partitions",
                        &p,
                        "--client",
                        "kafka-python",
                    ],
                    None,
                    Duration::from_secs(30),
                )?;
                Ok(())
            }
        }
    }

    // --- Kafka control ---------------------------------------------------

    /// Creates `name` on Kafka with `partitions`, `replication` (`None`: 1 on a
    /// single node, 3 on three) and topic configs through purekafka's own
    /// `Admin` (an existing topic is fine), and waits until every partition
    /// has a leader and an in-sync replica.
    pub fn create_topic_with(
        &self,
        name: &str,
        partitions: u32,
        replication: Option<u16>,
        configs: &[(&str, &str)],
    ) -> Result<()> {
        if self.kind != BrokerKind::Kafka {
            return Err(Error::Command(format!(
                "create_topic_with is for Kafka, not {}",
                self.kind
            )));
        }
        // Through purekafka's own Admin (CreateTopics), on a thread of its
        // own so that callers inside a tokio runtime can use it too.
        let replication = replication.unwrap_or(if self.brokers() == 1 { 1 } else { 3 });
        let replication = i16::try_from(replication)
            .map_err(|_| Error::Command(format!("replication {replication} is too large")))?;
        let partitions = i32::try_from(partitions)
            .map_err(|_| Error::Command(format!("{partitions} partitions is too many")))?;
        let mut topic = purekafka::admin::NewTopic::new(name, partitions, replication);
        for (k, v) in configs {
            topic = topic.config(*k, *v);
        }
        let (bootstrap, owned) = (self.bootstrap().to_string(), name.to_string());
        let run = move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Io(format!("a runtime for the admin client: {e}")))?;
            rt.block_on(create_and_wait(&bootstrap, topic, &owned))
        };
        thread::spawn(run).join().map_err(|_| {
            Error::Command(format!("creating topic {name}: the admin thread panicked"))
        })?
    }

    /// Kills Kafka node `node` (1-based) with SIGKILL: a crash, no controlled shutdown.
    pub fn kill_node(&self, node: i32) -> Result<()> {
        self.need(Feature::NodeRestart)?;
        self.launcher_cmd("kill", [("node", node.into())]).map(drop)
    }

    /// Stops Kafka node `node` with SIGTERM (controlled shutdown: leaders move first).
    pub fn stop_node(&self, node: i32) -> Result<()> {
        self.need(Feature::NodeRestart)?;
        self.launcher_cmd("stop", [("node", node.into())]).map(drop)
    }

    /// Starts a killed or stopped node again and waits until it serves.
    pub fn start_node(&self, node: i32) -> Result<()> {
        self.need(Feature::NodeRestart)?;
        self.launcher_cmd("start", [("node", node.into())])
            .map(drop)
    }

    /// The live Kafka nodes' ids.
    pub fn alive_nodes(&self) -> Result<Vec<i32>> {
        let v = self.launcher_cmd::<&str>("status", [])?;
        Ok(v.get("alive")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_i64().and_then(|n| i32::try_from(n).ok()))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The leader and ISR of `topic`/`partition`, as a live node's metadata says.
    pub fn leader(&self, topic: &str, partition: i32) -> Result<(i32, Vec<i32>)> {
        if self.kind != BrokerKind::Kafka {
            return Err(Error::Command(format!(
                "leader is for Kafka, not {}",
                self.kind
            )));
        }
        let v = self.launcher_cmd(
            "leader",
            [
                ("topic", Json::from(topic)),
                ("partition", partition.into()),
            ],
        )?;
        let leader = v
            .get("leader")
            .and_then(Json::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(-1);
        let isr = v
            .get("isr")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_i64().and_then(|n| i32::try_from(n).ok()))
                    .collect()
            })
            .unwrap_or_default();
        Ok((leader, isr))
    }

    /// The Kafka node that coordinates group (or transactional id) `key`.
    pub fn coordinator(&self, kind: CoordinatorKind, key: &str) -> Result<i32> {
        if self.kind != BrokerKind::Kafka {
            return Err(Error::Command(format!(
                "coordinator is for Kafka, not {}",
                self.kind
            )));
        }
        let kt = match kind {
            CoordinatorKind::Group => "group",
            CoordinatorKind::Transaction => "transaction",
        };
        let v = self.launcher_cmd(
            "coordinator",
            [("key", Json::from(key)), ("key_type", kt.into())],
        )?;
        v.get("node")
            .and_then(Json::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| Error::Command(format!("coordinator: bad reply {v}")))
    }

    /// Makes `node` the leader of `topic`/`partition` without a failure, as an
    /// operator would: reorders the replicas (ReassignPartitionsCommand) and
    /// runs a preferred leader election. Waits until metadata shows it.
    pub fn move_leader(&self, topic: &str, partition: i32, node: i32) -> Result<()> {
        if self.kind != BrokerKind::Kafka {
            return Err(Error::Command(format!(
                "move_leader is for Kafka, not {} (use set_leader on the mock)",
                self.kind
            )));
        }
        self.launcher_cmd(
            "move_leader",
            [
                ("topic", Json::from(topic)),
                ("partition", partition.into()),
                ("node", node.into()),
            ],
        )
        .map(drop)
    }

    /// The bootstrap list of a Kafka listener by name: `PLAINTEXT`, `SSL`
    /// (client certificate required), `SSL_NOAUTH`, `SASL_PLAINTEXT`, `SASL_SSL`.
    pub fn listener(&self, name: &str) -> Option<&str> {
        self.kafka.as_ref()?.listeners.get(name).map(String::as_str)
    }

    /// A certificate or key file of the secured Kafka: `ca`, `client_cert`,
    /// `client_key`, `client_key_encrypted` (password: [`Cluster::secret`]
    /// `client_key_password`), `client_ec_cert`, `client_ec_key`, `broker_cert`,
    /// `wronghost_cert`/`_key`, `expired_cert`/`_key`. All PEM, keys PKCS#8.
    pub fn cert(&self, name: &str) -> Option<&Path> {
        self.kafka.as_ref()?.certs.get(name).map(PathBuf::as_path)
    }

    /// The password of SASL user `user` (`admin` is a super user; `alice` and
    /// `bob` have no ACLs until a test grants them), or the client key's
    /// password for `client_key_password`.
    pub fn secret(&self, user: &str) -> Option<&str> {
        let k = self.kafka.as_ref()?;
        if user == "client_key_password" {
            return Some("client-key-secret");
        }
        k.users.get(user).map(String::as_str)
    }

    /// Allows (`grant`) `operations` (`Read`, `Write`, `Describe`,
    /// `IdempotentWrite`, ...) to `principal` (`User:alice`) on `resource`
    /// of the secured Kafka, with Kafka's own AclCommand (a JVM: ~2-4 s).
    pub fn grant(
        &self,
        principal: &str,
        operations: &[&str],
        resource: AclResource<'_>,
    ) -> Result<()> {
        self.acl("add", principal, operations, resource)
    }

    /// Sets the finalized level of a Kafka feature (`transaction.version`,
    /// `group.version`, ...) with Kafka's FeatureCommand, upgrading or
    /// downgrading it; returns the previous level. Use a private cluster
    /// ([`Cluster::kafka_private`]): the change is cluster-wide.
    pub fn set_feature(&self, name: &str, level: i16) -> Result<i16> {
        if self.kind != BrokerKind::Kafka {
            return Err(Error::Command(format!(
                "set_feature is for Kafka, not {}",
                self.kind
            )));
        }
        let out = self.launcher_cmd(
            "feature",
            [
                ("name", Json::from(name)),
                ("level", i32::from(level).into()),
            ],
        )?;
        Ok(out["previous"]
            .as_i64()
            .and_then(|v| i16::try_from(v).ok())
            .unwrap_or(0))
    }

    /// Removes what [`Cluster::grant`] allowed.
    pub fn revoke(
        &self,
        principal: &str,
        operations: &[&str],
        resource: AclResource<'_>,
    ) -> Result<()> {
        self.acl("remove", principal, operations, resource)
    }

    fn acl(
        &self,
        action: &str,
        principal: &str,
        operations: &[&str],
        resource: AclResource<'_>,
    ) -> Result<()> {
        if self.kafka.is_none() {
            return Err(Error::Command(format!(
                "ACLs are for the secured Kafka, not {}",
                self.kind
            )));
        }
        let (key, value) = match resource {
            AclResource::Topic(t) => ("topic", Json::from(t)),
            AclResource::Group(g) => ("group", Json::from(g)),
            AclResource::TransactionalId(t) => ("transactional_id", Json::from(t)),
            AclResource::Cluster => ("cluster", Json::from(true)),
        };
        let ops: Vec<Json> = operations.iter().map(|o| Json::from(*o)).collect();
        self.launcher_cmd(
            "acl",
            [
                ("action", Json::from(action)),
                ("principal", principal.into()),
                ("operations", Json::Array(ops)),
                (key, value),
            ],
        )
        .map(drop)
    }

    /// The Kafka cluster id (empty for other brokers).
    pub fn cluster_id(&self) -> &str {
        self.kafka.as_ref().map_or("", |k| k.cluster_id.as_str())
    }

    /// Node ids of a Kafka cluster (1-based), sorted.
    pub fn node_ids(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self
            .kafka
            .as_ref()
            .map(|k| k.nodes.keys().copied().collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    // --- mock control -------------------------------------------------

    /// Sends one command to the mock launcher (see `scripts/mock_cluster.py`)
    /// and returns the JSON that came with `OK` (`Null` if none).
    pub fn mock_cmd<K: Into<String>>(
        &self,
        cmd: &str,
        fields: impl IntoIterator<Item = (K, Json)>,
    ) -> Result<Json> {
        self.need(Feature::FaultInjection)?;
        self.launcher_cmd(cmd, fields)
    }

    /// One command to the launcher (`mock_cluster.py` or `kafka_cluster.py`).
    fn launcher_cmd<K: Into<String>>(
        &self,
        cmd: &str,
        fields: impl IntoIterator<Item = (K, Json)>,
    ) -> Result<Json> {
        let proc = self
            .proc
            .as_ref()
            .ok_or_else(|| Error::Command(format!("{} has no launcher", self.kind)))?;
        let mut obj = json_object(fields);
        if let Json::Object(m) = &mut obj {
            m.insert("cmd".into(), cmd.into());
        }
        let mut p = proc.lock().unwrap_or_else(|e| e.into_inner());
        p.send(&obj.to_string())?;
        // Starting a Kafka node waits for it to serve: allow for a slow JVM.
        let line = p.recv(
            start_timeout() + Duration::from_secs(60),
            &format!("launcher command {cmd}"),
        )?;
        if line == "OK" {
            Ok(Json::Null)
        } else if let Some(rest) = line.strip_prefix("OK ") {
            serde_json::from_str::<Json>(rest)
                .map_err(|e| Error::Command(format!("mock {cmd}: bad reply {line:?}: {e}")))
        } else if let Some(reason) = line.strip_prefix("ERR ") {
            Err(Error::Command(format!("mock {cmd}: {reason}")))
        } else {
            Err(Error::Command(format!(
                "mock {cmd}: unexpected reply {line:?}"
            )))
        }
    }

    /// The next `codes.len()` requests of `api_key` (any broker) fail with these
    /// error codes, in order. [`codes::TRANSPORT`] closes the connection instead.
    pub fn push_request_errors(&self, api_key: i16, codes: &[i32]) -> Result<()> {
        let errs = Json::from(codes.to_vec());
        self.mock_cmd(
            "push_request_errors",
            [("api_key", api_key.into()), ("errors", errs)],
        )
        .map(drop)
    }

    /// Per-broker error stack with delays: each `(code, rtt_ms)` answers one
    /// request of `api_key` on `broker` with `code` (0 = success) after `rtt_ms`.
    pub fn broker_push_request_errors(
        &self,
        broker: i32,
        api_key: i16,
        errors: &[(i32, u32)],
    ) -> Result<()> {
        let errs = Json::Array(
            errors
                .iter()
                .map(|&(c, rtt)| Json::from(vec![Json::from(c), Json::from(rtt)]))
                .collect(),
        );
        self.mock_cmd(
            "broker_push_request_errors",
            [
                ("broker", broker.into()),
                ("api_key", api_key.into()),
                ("errors", errs),
            ],
        )
        .map(drop)
    }

    /// Drops the pushed errors for `api_key`.
    pub fn clear_request_errors(&self, api_key: i16) -> Result<()> {
        self.mock_cmd("clear_request_errors", [("api_key", api_key.into())])
            .map(drop)
    }

    /// Adds `ms` of round-trip time to every response of `broker` (-1: all).
    pub fn set_rtt(&self, broker: i32, ms: u32) -> Result<()> {
        self.mock_cmd("set_rtt", [("broker", broker.into()), ("ms", ms.into())])
            .map(drop)
    }

    /// Closes `broker`'s connections and refuses new ones (-1: all). Leaders stay.
    pub fn broker_down(&self, broker: i32) -> Result<()> {
        self.mock_cmd("broker_down", [("broker", broker.into())])
            .map(drop)
    }

    /// Lets `broker` accept connections again.
    pub fn broker_up(&self, broker: i32) -> Result<()> {
        self.mock_cmd("broker_up", [("broker", broker.into())])
            .map(drop)
    }

    /// Drops every open connection to `broker` once (down then up at once).
    pub fn disconnect(&self, broker: i32) -> Result<()> {
        self.mock_cmd("disconnect", [("broker", broker.into())])
            .map(drop)
    }

    /// Moves the leadership of `topic`/`partition` to `broker` (-1: leaderless).
    pub fn set_leader(&self, topic: &str, partition: i32, broker: i32) -> Result<()> {
        self.mock_cmd(
            "set_leader",
            [
                ("topic", topic.into()),
                ("partition", partition.into()),
                ("broker", broker.into()),
            ],
        )
        .map(drop)
    }

    /// Sets the preferred read replica of `topic`/`partition` (KIP-392).
    pub fn set_follower(&self, topic: &str, partition: i32, broker: i32) -> Result<()> {
        self.mock_cmd(
            "set_follower",
            [
                ("topic", topic.into()),
                ("partition", partition.into()),
                ("broker", broker.into()),
            ],
        )
        .map(drop)
    }

    /// Sets the follower's low/high watermarks (-1: the leader's).
    pub fn set_follower_wmarks(&self, topic: &str, partition: i32, lo: i64, hi: i64) -> Result<()> {
        self.mock_cmd(
            "set_follower_wmarks",
            [
                ("topic", topic.into()),
                ("partition", partition.into()),
                ("lo", lo.into()),
                ("hi", hi.into()),
            ],
        )
        .map(drop)
    }

    /// Makes `broker` the coordinator for group / transactional id `key`.
    pub fn coordinator_set(&self, kind: CoordinatorKind, key: &str, broker: i32) -> Result<()> {
        let kt = match kind {
            CoordinatorKind::Group => "group",
            CoordinatorKind::Transaction => "transaction",
        };
        self.mock_cmd(
            "coordinator_set",
            [
                ("key_type", kt.into()),
                ("key", key.into()),
                ("broker", broker.into()),
            ],
        )
        .map(drop)
    }

    /// Sets group.initial.rebalance.delay.ms (the launcher starts with 0).
    pub fn group_initial_rebalance_delay(&self, ms: u32) -> Result<()> {
        self.mock_cmd("group_initial_rebalance_delay", [("ms", ms.into())])
            .map(drop)
    }

    /// Makes Metadata (and AddPartitionsToTxn) report `code` for `topic`.
    pub fn topic_set_error(&self, topic: &str, code: i32) -> Result<()> {
        self.mock_cmd(
            "topic_set_error",
            [("topic", topic.into()), ("error", code.into())],
        )
        .map(drop)
    }

    /// Restricts the versions of `api_key` advertised in ApiVersions (-1, -1: remove it).
    pub fn set_apiversion(&self, api_key: i16, min: i16, max: i16) -> Result<()> {
        self.mock_cmd(
            "set_apiversion",
            [
                ("api_key", api_key.into()),
                ("min", min.into()),
                ("max", max.into()),
            ],
        )
        .map(drop)
    }

    /// Starts recording requests (see [`Cluster::mock_requests`]).
    pub fn start_request_tracking(&self) -> Result<()> {
        self.mock_cmd::<&str>("start_request_tracking", [])
            .map(drop)
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) -> Result<()> {
        self.mock_cmd::<&str>("clear_requests", []).map(drop)
    }

    /// The requests recorded since [`Cluster::start_request_tracking`].
    pub fn mock_requests(&self) -> Result<Vec<MockRequest>> {
        let v = self.mock_cmd::<&str>("get_requests", [])?;
        let list = v
            .get("requests")
            .and_then(Json::as_array)
            .ok_or_else(|| Error::Command(format!("get_requests: bad reply {v}")))?;
        list.iter()
            .map(|r| {
                let n = |k: &str| {
                    r.get(k)
                        .and_then(Json::as_i64)
                        .ok_or_else(|| Error::Command(format!("get_requests: {r}")))
                };
                Ok(MockRequest {
                    broker: i32::try_from(n("broker")?).unwrap_or(-1),
                    api_key: i16::try_from(n("api_key")?).unwrap_or(-1),
                    ts_us: n("ts_us")?,
                })
            })
            .collect()
    }

    // --- Python peers -----------------------------------------------------

    /// Runs `scripts/peer.py` with `args` (bootstrap added; on the mock, kafka-python
    /// gets `--api-version 2.3.0`), feeding `input` on stdin. Returns stdout lines.
    pub fn run_peer(
        &self,
        args: &[&str],
        input: Option<String>,
        timeout: Duration,
    ) -> Result<Vec<String>> {
        let py = try_python()?;
        let mut cmd = Command::new(py);
        cmd.arg(script("peer.py"))
            .args(args)
            .arg("--bootstrap")
            .arg(&self.bootstrap);
        cmd.arg("--timeout")
            .arg(timeout.as_secs().max(1).to_string());
        if self.kind == BrokerKind::Mock {
            // The mock answers ApiVersions v3+ with UNSUPPORTED_VERSION and
            // kafka-python 3 does not fall back; 2.3.0 is the newest that works.
            cmd.arg("--api-version").arg("2.3.0");
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Peer(format!("cannot run peer.py: {e}")))?;
        let mut stdin = child.stdin.take();
        let writer = thread::spawn(move || {
            if let (Some(s), Some(text)) = (stdin.as_mut(), input) {
                let _ = s.write_all(text.as_bytes());
            }
            drop(stdin);
        });
        let mut out = child
            .stdout
            .take()
            .ok_or_else(|| Error::Io("peer has no stdout".into()))?;
        let mut err = child
            .stderr
            .take()
            .ok_or_else(|| Error::Io("peer has no stderr".into()))?;
        let out_t = thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err_t = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        // peer.py enforces its own --timeout; this is the backstop for a hang.
        let deadline = Instant::now() + timeout + Duration::from_secs(30);
        let status = loop {
            if let Some(st) = child.try_wait()? {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let _ = writer.join();
        let stdout = out_t.join().unwrap_or_default();
        let stderr = err_t.join().unwrap_or_default();
        match status {
            Some(st) if st.success() => Ok(stdout.lines().map(str::to_owned).collect()),
            Some(st) => Err(Error::Peer(format!(
                "peer.py {} ({st}): {}",
                args.join(" "),
                stderr
                    .lines()
                    .filter(|l| !l.starts_with('%'))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))),
            None => Err(Error::Peer(format!(
                "peer.py {} hung past {}s and was killed",
                args.join(" "),
                timeout.as_secs() + 30
            ))),
        }
    }

    /// Produces `records` to `topic` with a reference client; returns where each landed.
    pub fn peer_produce(
        &self,
        topic: &str,
        client: PeerClient,
        codec: Codec,
        records: &[Record],
    ) -> Result<Vec<Acked>> {
        let lines = self.run_peer(
            &[
                "produce",
                "--topic",
                topic,
                "--client",
                client.flag(),
                "--compression",
                codec.flag(),
            ],
            Some(peer_input(records)),
            // kafka-python sends a few tens of thousands of records a second.
            Duration::from_secs(30 + records.len() as u64 / 1000),
        )?;
        parse_all_acked(&lines, records.len(), "peer")
    }

    /// Reads `count` records of `topic` from the beginning of every partition
    /// with a reference client, ordered by partition then offset. Fails if fewer
    /// arrive within `timeout`.
    pub fn peer_consume(
        &self,
        topic: &str,
        client: PeerClient,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Consumed>> {
        let n = count.to_string();
        let lines = self.run_peer(
            &[
                "consume",
                "--topic",
                topic,
                "--client",
                client.flag(),
                "--count",
                &n,
            ],
            None,
            timeout,
        )?;
        lines.iter().map(|l| parse_consumed(l)).collect()
    }
}

/// Writes each test once and runs it on the mock cluster and on the real
/// Kafka: every `fn name(broker) { ... }` becomes a module `name` with two
/// tests, `name::mock` and `name::kafka`, in which `broker` is a
/// `&'static Cluster`. `fn name(broker: 3)` asks for a 3-broker mock (Kafka
/// stays the shared single node). The Kafka test skips with the fix when
/// Kafka is not installed, and fails under `CI=true`.
///
/// ```ignore
/// purekafka_integration::on_mock_and_kafka! {
///     fn acks_1_delivers_every_record(broker) {
///         run(broker, Acks::Leader);
///     }
/// }
/// ```
#[macro_export]
macro_rules! on_mock_and_kafka {
    () => {};
    ($(#[$m:meta])* fn $name:ident($b:ident) $body:block $($rest:tt)*) => {
        $crate::on_mock_and_kafka! { $(#[$m])* fn $name($b: 1) $body $($rest)* }
    };
    ($(#[$m:meta])* fn $name:ident($b:ident : $n:literal) $body:block $($rest:tt)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$m])*
            #[test]
            fn mock() {
                let $b: &'static $crate::Cluster = $crate::Cluster::mock($n);
                $body
            }

            $(#[$m])*
            #[test]
            fn kafka() {
                let $b: &'static $crate::Cluster =
                    $crate::cluster_or_skip!($crate::Cluster::try_kafka());
                $body
            }
        }
        $crate::on_mock_and_kafka! { $($rest)* }
    };
}

/// Creates `topic` with purekafka's Admin (an existing one is fine) and
/// waits until every partition has a leader and an in-sync replica.
async fn create_and_wait(
    bootstrap: &str,
    topic: purekafka::admin::NewTopic,
    name: &str,
) -> Result<()> {
    use purekafka::ErrorCode;
    let admin_err =
        |e: purekafka::Error| Error::Command(format!("admin: creating topic {name}: {e}"));
    let config = purekafka::AdminConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("default.api.timeout.ms", "30000"),
    ])
    .map_err(|e| admin_err(e.into()))?;
    let admin = purekafka::Admin::new(config).await.map_err(admin_err)?;
    let partitions = usize::try_from(topic.num_partitions.unwrap_or(1)).unwrap_or(1);
    let mut out = admin.create_topics([topic]).await.map_err(admin_err)?;
    match out.remove(name) {
        Some(Ok(_)) => {}
        Some(Err(e)) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
        Some(Err(e)) => return Err(admin_err(e)),
        None => {
            return Err(Error::Command(format!(
                "admin: no CreateTopics result for {name}"
            )));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = admin.describe_topics([name]).await.map_err(admin_err)?;
        if let Some(Ok(t)) = d.get(name)
            && t.partitions.len() == partitions
            && t.partitions
                .iter()
                .all(|p| p.leader.is_some() && !p.isr.is_empty())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Command(format!(
                "topic {name} not ready within 30 s: {d:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
