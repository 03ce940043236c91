//! The broker pool and the metadata cache.
//!
//! [`Cluster`] bootstraps from `bootstrap.servers` (any reachable entry is
//! enough), keeps one [`Connection`] per broker (reconnecting with exponential
//! backoff and jitter), and caches metadata: refreshed when older than
//! `metadata.max.age.ms` and on demand when an error says it is stale.

use crate::error::{Error, Result};
use crate::net::conn::{ConnOptions, Connection};
use purekafka_protocol::messages::metadata_request::MetadataRequestTopic;
use purekafka_protocol::messages::{MetadataRequest, MetadataResponse};
use purekafka_protocol::{ErrorCode, Uuid};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// What the cluster needs from the client configuration.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `bootstrap.servers`.
    pub bootstrap: Vec<String>,
    /// Per-connection settings.
    pub conn: ConnOptions,
    /// `reconnect.backoff.ms`.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms`.
    pub reconnect_backoff_max: Duration,
    /// `metadata.max.age.ms`.
    pub metadata_max_age: Duration,
    /// `allow.auto.create.topics`.
    pub allow_auto_create_topics: bool,
}

impl ClusterOptions {
    /// Options from the client configuration.
    pub fn from_config(c: &crate::config::ClientConfig) -> Self {
        ClusterOptions {
            bootstrap: c.bootstrap_servers.clone(),
            conn: ConnOptions {
                client_id: c.client_id.clone(),
                request_timeout: c.request_timeout,
                max_in_flight: c.max_in_flight_requests_per_connection,
                connect_timeout: c.socket_connection_setup_timeout,
                max_response_size: c.receive_message_max_bytes,
                max_idle: Some(c.connections_max_idle),
                // Setup steps 2 and 4 (see net::setup): the TLS and SASL
                // configuration builds these.
                tls: crate::security::tls::tls_step(c),
                // One session for all of the client's connections (an
                // OAUTHBEARER token is shared); validate() checked it.
                sasl: match crate::security::sasl::SaslSession::from_client(c) {
                    Ok(s) => s.map(|s| s as Arc<dyn crate::net::SaslStep>),
                    Err(e) => {
                        tracing::error!("SASL settings: {e}");
                        None
                    }
                },
            },
            reconnect_backoff: c.reconnect_backoff,
            reconnect_backoff_max: c.reconnect_backoff_max,
            metadata_max_age: c.metadata_max_age,
            allow_auto_create_topics: c.allow_auto_create_topics,
        }
    }
}

/// A broker as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub id: i32,
    /// Host name.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition's leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub id: i32,
    /// Leader node id, or -1 while there is none.
    pub leader: i32,
    /// Leader epoch (-1 if unknown).
    pub leader_epoch: i32,
    /// Error for this partition (LEADER_NOT_AVAILABLE, ...).
    pub error: ErrorCode,
    /// The replicas' node ids, the preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// The offline replicas.
    pub offline_replicas: Vec<i32>,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Name.
    pub name: String,
    /// Topic id (zero when the broker is too old to send one).
    pub id: Uuid,
    /// Topic-level error (UNKNOWN_TOPIC_OR_PARTITION, ...).
    pub error: ErrorCode,
    /// Partitions, by index.
    pub partitions: Vec<PartitionInfo>,
}

/// A snapshot of cluster metadata.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Brokers by node id.
    pub brokers: HashMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: HashMap<String, Arc<TopicInfo>>,
    /// Controller id.
    pub controller: i32,
    /// When this snapshot was fetched.
    pub fetched_at: Option<Instant>,
}

impl Metadata {
    pub(crate) fn from_response(resp: MetadataResponse, now: Instant) -> Metadata {
        let brokers = resp
            .brokers
            .into_iter()
            .map(|b| {
                (
                    b.node_id,
                    BrokerInfo {
                        id: b.node_id,
                        host: b.host,
                        port: b.port,
                        rack: b.rack,
                    },
                )
            })
            .collect();
        let topics = resp
            .topics
            .into_iter()
            .filter_map(|t| {
                let name = t.name?;
                let mut partitions: Vec<PartitionInfo> = t
                    .partitions
                    .into_iter()
                    .map(|p| PartitionInfo {
                        id: p.partition_index,
                        leader: p.leader_id,
                        leader_epoch: p.leader_epoch,
                        error: ErrorCode(p.error_code),
                        replicas: p.replica_nodes,
                        isr: p.isr_nodes,
                        offline_replicas: p.offline_replicas,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.id);
                Some((
                    name.clone(),
                    Arc::new(TopicInfo {
                        name,
                        id: t.topic_id,
                        error: ErrorCode(t.error_code),
                        partitions,
                    }),
                ))
            })
            .collect();
        Metadata {
            brokers,
            topics,
            controller: resp.controller_id,
            fetched_at: Some(now),
        }
    }

    /// The leader of a partition, if it has one.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let t = self.topics.get(topic)?;
        let p = t.partitions.get(usize::try_from(partition).ok()?)?;
        (p.leader >= 0 && p.id == partition).then_some(p.leader)
    }
}

#[derive(Default)]
struct Slot {
    conn: Option<Connection>,
    failures: u32,
    retry_at: Option<Instant>,
}

struct State {
    metadata: Arc<Metadata>,
    /// Topics the client has asked about; metadata requests name them.
    topics: BTreeSet<String>,
}

struct Inner {
    opts: ClusterOptions,
    state: Mutex<State>,
    /// One slot per broker id; the async lock serialises connecting.
    slots: Mutex<HashMap<i32, Arc<tokio::sync::Mutex<Slot>>>>,
    bootstrap: tokio::sync::Mutex<Slot>,
    refresh: tokio::sync::Mutex<()>,
}

/// The brokers of one cluster and what is known about them; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("bootstrap", &self.inner.opts.bootstrap)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Cluster {
    /// Connects to the first reachable bootstrap server and loads metadata.
    pub async fn connect(mut opts: ClusterOptions) -> Result<Cluster> {
        opts.bootstrap.retain(|s| !s.trim().is_empty());
        if opts.bootstrap.is_empty() {
            return Err(crate::error::ConfigError::new(
                "bootstrap.servers",
                "is required (host:port, comma separated)",
            )
            .into());
        }
        let c = Cluster {
            inner: Arc::new(Inner {
                opts,
                state: Mutex::new(State {
                    metadata: Arc::new(Metadata::default()),
                    topics: BTreeSet::new(),
                }),
                slots: Mutex::new(HashMap::new()),
                bootstrap: tokio::sync::Mutex::new(Slot::default()),
                refresh: tokio::sync::Mutex::new(()),
            }),
        };
        c.refresh_metadata().await?;
        Ok(c)
    }

    /// The options in force.
    pub fn options(&self) -> &ClusterOptions {
        &self.inner.opts
    }

    /// The current metadata snapshot.
    pub fn metadata(&self) -> Arc<Metadata> {
        lock(&self.inner.state).metadata.clone()
    }

    /// A connection to any broker: a live one if there is one, else a
    /// bootstrap server.
    pub async fn any_broker(&self) -> Result<Connection> {
        let md = self.metadata();
        // Prefer a broker we already talk to.
        let ids: Vec<i32> = md.brokers.keys().copied().collect();
        for id in &ids {
            let slot = self.slot(*id);
            if let Ok(g) = slot.try_lock()
                && let Some(c) = g.conn.as_ref().filter(|c| !c.is_closed())
            {
                return Ok(c.clone());
            }
        }
        let mut last = None;
        for id in ids {
            match self.broker(id).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        match self.bootstrap_conn().await {
            Ok(c) => Ok(c),
            Err(e) => Err(last.map_or(e, |l| l)),
        }
    }

    async fn bootstrap_conn(&self) -> Result<Connection> {
        let mut slot = self.inner.bootstrap.lock().await;
        if let Some(c) = slot.conn.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let mut last_error = String::new();
        for addr in &self.inner.opts.bootstrap {
            match Connection::connect(
                addr,
                &format!("bootstrap {addr}"),
                self.inner.opts.conn.clone(),
            )
            .await
            {
                Ok(c) => {
                    slot.conn = Some(c.clone());
                    return Ok(c);
                }
                // A refused login or certificate fails the same way on every
                // bootstrap server: the user must change the configuration.
                Err(e) if !e.is_retriable() => return Err(e),
                Err(e) => {
                    tracing::debug!("bootstrap server {addr}: {e}");
                    last_error = e.to_string();
                }
            }
        }
        Err(Error::BootstrapUnreachable {
            servers: self.inner.opts.bootstrap.join(","),
            last_error,
        })
    }

    fn slot(&self, id: i32) -> Arc<tokio::sync::Mutex<Slot>> {
        lock(&self.inner.slots).entry(id).or_default().clone()
    }

    /// A connection to broker `id`, connecting (after any backoff) if needed.
    pub async fn broker(&self, id: i32) -> Result<Connection> {
        let slot = self.slot(id);
        let mut g = slot.lock().await;
        if let Some(c) = g.conn.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        if let Some(at) = g.retry_at {
            tokio::time::sleep_until(at).await;
        }
        let info = self.metadata().brokers.get(&id).cloned();
        let Some(info) = info else {
            return Err(Error::Connect {
                broker: format!("node {id}"),
                reason: "not in the cluster metadata".into(),
            });
        };
        let name = format!("{} (node {id})", info.addr());
        match Connection::connect(&info.addr(), &name, self.inner.opts.conn.clone()).await {
            Ok(c) => {
                g.conn = Some(c.clone());
                g.failures = 0;
                g.retry_at = None;
                Ok(c)
            }
            Err(e) => {
                g.failures = g.failures.saturating_add(1);
                g.retry_at = Some(Instant::now() + self.backoff(g.failures));
                Err(e)
            }
        }
    }

    /// Exponential backoff with ±20% jitter for the `failures`-th failure.
    fn backoff(&self, failures: u32) -> Duration {
        let base = self.inner.opts.reconnect_backoff.as_millis() as u64;
        let max = self.inner.opts.reconnect_backoff_max.as_millis() as u64;
        let exp = base
            .saturating_mul(1u64 << failures.saturating_sub(1).min(20))
            .min(max.max(base));
        let jitter = jitter_fraction();
        Duration::from_millis(((exp as f64) * (0.8 + 0.4 * jitter)) as u64)
    }

    /// Adds topics whose metadata the client needs.
    pub fn add_topics<'a>(&self, topics: impl IntoIterator<Item = &'a str>) -> bool {
        let mut st = lock(&self.inner.state);
        let mut added = false;
        for t in topics {
            added |= st.topics.insert(t.to_string());
        }
        added
    }

    /// Fetches metadata for the known topics now (one fetch at a time; callers
    /// that arrive during a fetch share its result).
    pub async fn refresh_metadata(&self) -> Result<Arc<Metadata>> {
        let asked_at = Instant::now();
        let _g = self.inner.refresh.lock().await;
        {
            let md = self.metadata();
            if md.fetched_at.is_some_and(|t| t >= asked_at) {
                return Ok(md);
            }
        }
        let topics: Vec<String> = lock(&self.inner.state).topics.iter().cloned().collect();
        let conn = self.any_broker().await?;
        let req = MetadataRequest {
            topics: Some(
                topics
                    .into_iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(name),
                        ..Default::default()
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: self.inner.opts.allow_auto_create_topics,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        let md = Arc::new(Metadata::from_response(resp, Instant::now()));
        lock(&self.inner.state).metadata = md.clone();
        Ok(md)
    }

    /// Metadata no older than `metadata.max.age.ms`.
    pub async fn fresh_metadata(&self) -> Result<Arc<Metadata>> {
        let md = self.metadata();
        match md.fetched_at {
            Some(t) if t.elapsed() < self.inner.opts.metadata_max_age => Ok(md),
            _ => self.refresh_metadata().await,
        }
    }

    /// A topic's metadata, fetching it if the topic is new to this client.
    /// Waits up to `max_wait` for a topic that does not exist yet (auto
    /// creation) or has no leaders.
    pub async fn topic(&self, topic: &str, max_wait: Duration) -> Result<Arc<TopicInfo>> {
        let deadline = Instant::now() + max_wait;
        self.add_topics([topic]);
        let mut backoff = Duration::from_millis(10);
        loop {
            let md = self.metadata();
            if let Some(t) = md.topics.get(topic) {
                if t.error == ErrorCode::NONE && !t.partitions.is_empty() {
                    return Ok(t.clone());
                }
                if !t.error.is_retriable() && t.error != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                    return Err(Error::Kafka {
                        code: t.error,
                        api: "Metadata",
                        topic: Some(topic.into()),
                        partition: None,
                        message: None,
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(match md.topics.get(topic) {
                    Some(t)
                        if t.error != ErrorCode::NONE
                            && t.error != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION =>
                    {
                        Error::Kafka {
                            code: t.error,
                            api: "Metadata",
                            topic: Some(topic.into()),
                            partition: None,
                            message: None,
                        }
                    }
                    _ => Error::UnknownTopic {
                        topic: topic.into(),
                    },
                });
            }
            self.refresh_metadata().await?;
            if self
                .metadata()
                .topics
                .get(topic)
                .is_some_and(|t| t.error == ErrorCode::NONE && !t.partitions.is_empty())
            {
                continue;
            }
            tokio::time::sleep(backoff.min(deadline.saturating_duration_since(Instant::now())))
                .await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }
}

/// A number in [0, 1) that differs between calls (for backoff jitter).
fn jitter_fraction() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() % 10_000) as f64 / 10_000.0
}
