//! The consumer's group task: drives the sans-IO [`Membership`] state
//! machine over real connections, applies assignments to the fetcher, runs
//! rebalance callbacks, and commits and fetches offsets.

use super::fetch_session::Tp;
use super::group::{
    Action, Destination, GroupApiVersions, GroupResponse, Membership, MembershipConfig,
    OutboundRequest, RequestId,
};
use super::{Inner, OffsetSpec, PartState};
use crate::config::OffsetReset;
use crate::error::{Error, Result};
use crate::net::Connection;
use crate::net::conn::encode_frame_with;
use purekafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use purekafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use purekafka_protocol::messages::{OffsetCommitRequest, OffsetFetchRequest};
use purekafka_protocol::{ApiKey, ErrorCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Called when the group moves partitions to or from this consumer.
pub trait RebalanceListener: Send + Sync {
    /// Partitions newly assigned (always called after a rebalance, maybe empty).
    fn on_partitions_assigned(&self, _partitions: &[(String, i32)]) {}
    /// Partitions given up; their offsets were committed first when
    /// `enable.auto.commit` is on.
    fn on_partitions_revoked(&self, _partitions: &[(String, i32)]) {}
    /// Partitions lost (another member may own them now): do not commit them.
    fn on_partitions_lost(&self, _partitions: &[(String, i32)]) {}
}

/// An offset to commit, with optional metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to read.
    pub offset: i64,
    /// Metadata stored with it.
    pub metadata: Option<String>,
}

pub(crate) enum GroupCmd {
    Subscribe(Vec<String>),
    SubscribePattern(regex::Regex),
    Unsubscribe,
    Poll,
    Listener(Arc<dyn RebalanceListener>),
    /// `offsets: None` commits the positions `poll` has reached, read when
    /// the commit is sent: a partition revoked meanwhile is not committed
    /// under the new generation (its new owner may already read from the
    /// older committed offset).
    Commit {
        offsets: Option<Vec<(Tp, OffsetAndMetadata)>>,
        reply: Option<oneshot::Sender<Result<Committed>>>,
    },
    Committed {
        tps: Vec<Tp>,
        reply: oneshot::Sender<Result<HashMap<Tp, OffsetAndMetadata>>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// Offsets a commit stored, by partition.
pub type Committed = Vec<((Arc<str>, i32), OffsetAndMetadata)>;

type CoordCache = Arc<tokio::sync::Mutex<Option<(i32, Connection)>>>;

enum Event {
    Response(RequestId, Result<GroupResponse>),
    Committed(Result<HashMap<Tp, OffsetAndMetadata>>, Vec<Tp>),
    CommitResult {
        offsets: Vec<(Tp, OffsetAndMetadata)>,
        generation: i32,
        result: Result<purekafka_protocol::messages::OffsetCommitResponse>,
        then: Then,
    },
}

/// What to do once a commit is answered.
enum Then {
    /// Answer the application (or nobody: async and auto commits).
    Reply(Option<oneshot::Sender<Result<Committed>>>),
    /// The state machine waits for it before revoking.
    CommitDone,
    /// Close the member afterwards.
    Close(oneshot::Sender<()>),
}

struct Driver {
    inner: Arc<Inner>,
    m: Membership,
    listener: Option<Arc<dyn RebalanceListener>>,
    pattern: Option<regex::Regex>,
    events_tx: mpsc::UnboundedSender<Event>,
    /// One connection to the coordinator, shared by group requests and
    /// offset commits (a new connection per request would cost a TCP and
    /// ApiVersions handshake each time).
    coord: CoordCache,
    closing: Option<oneshot::Sender<()>>,
    versions_set: bool,
}

pub(crate) async fn run(inner: Arc<Inner>, mut cmds: mpsc::UnboundedReceiver<GroupCmd>) {
    let Some(group_id) = inner.cfg.group_id.clone() else {
        return;
    };
    let cfg = &inner.cfg;
    let mconf = MembershipConfig {
        group_id,
        group_instance_id: cfg.group_instance_id.clone(),
        session_timeout: cfg.session_timeout,
        rebalance_timeout: cfg.max_poll_interval,
        heartbeat_interval: cfg.heartbeat_interval,
        max_poll_interval: cfg.max_poll_interval,
        retry_backoff: cfg.client.retry_backoff,
        rack_id: cfg.client.client_rack.clone(),
        commit_before_revoke: cfg.enable_auto_commit,
        versions: GroupApiVersions::default(),
    };
    let names: Vec<&str> = cfg
        .partition_assignment_strategy
        .iter()
        .map(|s| s.name())
        .collect();
    let m = match Membership::with_assignor_names(mconf, &names) {
        Ok(m) => m,
        Err(e) => {
            inner.lock().errors.push_back(e);
            inner.data.notify_waiters();
            return;
        }
    };
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let mut d = Driver {
        inner: inner.clone(),
        m,
        listener: None,
        pattern: None,
        events_tx,
        coord: CoordCache::default(),
        closing: None,
        versions_set: false,
    };
    let auto_commit = cfg.enable_auto_commit;
    let mut next_auto_commit = Instant::now() + cfg.auto_commit_interval;
    let mut next_metadata = Instant::now() + Duration::from_secs(1);
    loop {
        d.drain_actions().await;
        if d.closing.is_none() && inner.closed.load(Ordering::Acquire) && cmds.is_closed() {
            return;
        }
        let mut wake = d.m.next_timeout().map(Instant::from_std);
        if auto_commit {
            wake = Some(wake.map_or(next_auto_commit, |w| w.min(next_auto_commit)));
        }
        wake = Some(wake.map_or(next_metadata, |w| w.min(next_metadata)));
        tokio::select! {
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { return };
                let now = std::time::Instant::now();
                match cmd {
                    GroupCmd::Subscribe(topics) => {
                        d.pattern = None;
                        d.inner.cluster.add_topics(topics.iter().map(String::as_str));
                        d.ensure_versions().await;
                        d.m.subscribe(now, topics);
                    }
                    GroupCmd::SubscribePattern(re) => {
                        d.pattern = Some(re);
                        d.ensure_versions().await;
                        d.refresh_pattern(now).await;
                    }
                    GroupCmd::Unsubscribe => d.m.unsubscribe(now),
                    GroupCmd::Poll => d.m.poll(now),
                    GroupCmd::Listener(l) => d.listener = Some(l),
                    GroupCmd::Commit { offsets, reply } => {
                        let offsets = offsets.unwrap_or_else(|| d.consumed_offsets(None));
                        d.start_commit(offsets, Then::Reply(reply));
                    }
                    GroupCmd::Committed { tps, reply } => {
                        let _ = reply.send(d.fetch_committed(&tps).await);
                    }
                    GroupCmd::Close { reply } => {
                        if auto_commit {
                            let offsets = d.consumed_offsets(None);
                            d.start_commit(offsets, Then::Close(reply));
                        } else {
                            d.closing = Some(reply);
                            d.m.close(now);
                        }
                    }
                }
            }
            Some(ev) = events_rx.recv() => {
                let now = std::time::Instant::now();
                match ev {
                    Event::Response(id, Ok(resp)) => d.m.on_response(now, id, resp),
                    Event::Response(id, Err(e)) => {
                        tracing::debug!("group request {id} failed: {e}");
                        if std::env::var_os("PUREKAFKA_DEBUG_GROUP").is_some() {
                            eprintln!("group request {id} failed: {e}");
                        }
                        *d.coord.lock().await = None;
                        d.m.on_request_failed(now, id, &e);
                    }
                    Event::Committed(result, tps) => d.apply_committed(result, tps),
                    Event::CommitResult { offsets, generation, result, then } => {
                        let r = d.finish_commit(offsets, generation, result).await;
                        match then {
                            Then::Reply(Some(tx)) => { let _ = tx.send(r); }
                            Then::Reply(None) => if let Err(e) = r { tracing::debug!("commit failed: {e}"); },
                            Then::CommitDone => {
                                if let Err(e) = r { tracing::warn!("commit before revoke failed: {e}"); }
                                d.m.commit_done(now);
                            }
                            Then::Close(reply) => {
                                if let Err(e) = r { tracing::warn!("commit on close failed: {e}"); }
                                d.closing = Some(reply);
                                d.m.close(now);
                            }
                        }
                    }
                }
            }
            _ = sleep_until_opt(wake) => {
                let now = Instant::now();
                d.m.handle_timeout(now.into_std());
                if auto_commit && now >= next_auto_commit {
                    next_auto_commit = now + d.inner.cfg.auto_commit_interval;
                    let offsets = d.consumed_offsets(None);
                    if !offsets.is_empty() {
                        d.start_commit(offsets, Then::Reply(None));
                    }
                }
                if now >= next_metadata {
                    next_metadata = now + d.inner.cfg.client.metadata_max_age.min(Duration::from_secs(30)).max(Duration::from_millis(500));
                    d.metadata_tick().await;
                }
            }
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Driver {
    async fn ensure_versions(&mut self) {
        if self.versions_set {
            return;
        }
        if let Ok(conn) = self.inner.cluster.any_broker().await {
            let v = |api: ApiKey| conn.version_for(api).unwrap_or(api.usable_versions().max);
            self.m.set_api_versions(GroupApiVersions {
                find_coordinator: v(ApiKey::FindCoordinator),
                join_group: v(ApiKey::JoinGroup),
                sync_group: v(ApiKey::SyncGroup),
                heartbeat: v(ApiKey::Heartbeat),
                leave_group: v(ApiKey::LeaveGroup),
            });
            self.versions_set = true;
        }
    }

    async fn drain_actions(&mut self) {
        while let Some(action) = self.m.next_action() {
            if std::env::var_os("PUREKAFKA_DEBUG_GROUP").is_some() {
                eprintln!("group action: {action:?}");
            }
            match action {
                Action::Send(req) => self.send(req),
                Action::NeedMetadata { topics } => {
                    self.inner
                        .cluster
                        .add_topics(topics.iter().map(String::as_str));
                    let _ = self.inner.cluster.refresh_metadata().await;
                    let counts = self.partition_counts(&topics);
                    self.m.on_metadata(std::time::Instant::now(), &counts);
                }
                Action::CommitBeforeRevoke { partitions } => {
                    let tps: Vec<Tp> = partitions
                        .iter()
                        .map(|(t, p)| (Arc::from(t.as_str()), *p))
                        .collect();
                    let offsets = self.consumed_offsets(Some(&tps));
                    self.start_commit(offsets, Then::CommitDone);
                }
                Action::Revoked { partitions } => {
                    self.remove(&partitions);
                    if let Some(l) = &self.listener {
                        l.on_partitions_revoked(&partitions);
                    }
                }
                Action::Lost { partitions } => {
                    self.remove(&partitions);
                    if let Some(l) = &self.listener {
                        l.on_partitions_lost(&partitions);
                    }
                }
                Action::Assigned {
                    partitions,
                    added,
                    revoked,
                } => {
                    if !revoked.is_empty() {
                        self.remove(&revoked);
                        if let Some(l) = &self.listener {
                            l.on_partitions_revoked(&revoked);
                        }
                    }
                    self.assign(&partitions);
                    if let Some(l) = &self.listener {
                        l.on_partitions_assigned(&added);
                    }
                }
                Action::Error(e) | Action::Fatal(e) => {
                    self.inner.lock().errors.push_back(e);
                    self.inner.data.notify_waiters();
                }
                Action::Closed => {
                    if let Some(tx) = self.closing.take() {
                        let _ = tx.send(());
                    }
                }
            }
        }
    }

    fn partition_counts(&self, topics: &[String]) -> BTreeMap<String, i32> {
        let md = self.inner.cluster.metadata();
        topics
            .iter()
            .filter_map(|t| {
                md.topics
                    .get(t)
                    .filter(|i| i.error == ErrorCode::NONE)
                    .map(|i| (t.clone(), i.partitions.len() as i32))
            })
            .collect()
    }

    async fn metadata_tick(&mut self) {
        let now = std::time::Instant::now();
        if self.pattern.is_some() {
            self.refresh_pattern(now).await;
            return;
        }
        let topics: Vec<String> = self.m.metadata_topics().into_iter().collect();
        if topics.is_empty() {
            return;
        }
        if self.inner.cluster.fresh_metadata().await.is_ok() {
            let counts = self.partition_counts(&topics);
            self.m.on_metadata(now, &counts);
        }
    }

    /// Lists every topic and subscribes to those matching the pattern.
    async fn refresh_pattern(&mut self, now: std::time::Instant) {
        let Some(re) = self.pattern.clone() else {
            return;
        };
        let names = match self.list_topics().await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("listing topics for the pattern subscription: {e}");
                return;
            }
        };
        let matched: Vec<String> = names.into_iter().filter(|t| re.is_match(t)).collect();
        self.inner
            .cluster
            .add_topics(matched.iter().map(String::as_str));
        let current: Vec<String> = self.m.subscription().iter().cloned().collect();
        let mut sorted = matched.clone();
        sorted.sort();
        if sorted != current {
            self.m.subscribe(now, matched);
        }
        let _ = self.inner.cluster.refresh_metadata().await;
        let topics: Vec<String> = self.m.metadata_topics().into_iter().collect();
        let counts = self.partition_counts(&topics);
        self.m.on_metadata(now, &counts);
    }

    async fn list_topics(&self) -> Result<Vec<String>> {
        let conn = self.inner.cluster.any_broker().await?;
        let req = purekafka_protocol::messages::MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let resp = conn.send(&req).await?;
        Ok(resp
            .topics
            .into_iter()
            .filter(|t| !t.is_internal && t.error_code == 0)
            .filter_map(|t| t.name)
            .collect())
    }

    fn send(&mut self, req: OutboundRequest) {
        let inner = self.inner.clone();
        let tx = self.events_tx.clone();
        let cached = self.coord.clone();
        tokio::spawn(async move {
            let id = req.id;
            let r = send_group_request(&inner, req, cached).await;
            let _ = tx.send(Event::Response(id, r));
        });
    }

    /// The next offsets to commit: the positions `poll` has reached.
    fn consumed_offsets(&self, only: Option<&[Tp]>) -> Vec<(Tp, OffsetAndMetadata)> {
        let st = self.inner.lock();
        st.parts
            .iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .filter_map(|(tp, ps)| {
                let pos = ps.position?;
                (Some(pos) != ps.committed).then(|| {
                    (
                        tp.clone(),
                        OffsetAndMetadata {
                            offset: pos,
                            metadata: None,
                        },
                    )
                })
            })
            .collect()
    }

    /// Sends an OffsetCommit without blocking the group task (heartbeats and
    /// SyncGroup must not wait behind a commit); the answer comes back as
    /// [`Event::CommitResult`].
    fn start_commit(&mut self, offsets: Vec<(Tp, OffsetAndMetadata)>, then: Then) {
        let (generation, member) = match self.m.commit_generation() {
            Some((g, m)) => (g, m.to_string()),
            None => (-1, String::new()),
        };
        let tx = self.events_tx.clone();
        if offsets.is_empty() {
            let result = Ok(purekafka_protocol::messages::OffsetCommitResponse::default());
            let _ = tx.send(Event::CommitResult {
                offsets,
                generation,
                result,
                then,
            });
            return;
        }
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for (tp, om) in &offsets {
            let p = OffsetCommitRequestPartition {
                partition_index: tp.1,
                committed_offset: om.offset,
                committed_leader_epoch: -1,
                committed_metadata: om.metadata.clone(),
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.name == *tp.0) {
                Some(t) => t.partitions.push(p),
                None => topics.push(OffsetCommitRequestTopic {
                    name: tp.0.to_string(),
                    partitions: vec![p],
                    ..Default::default()
                }),
            }
        }
        let req = OffsetCommitRequest {
            group_id: self.m.group_id().to_string(),
            generation_id_or_member_epoch: generation,
            member_id: member,
            group_instance_id: self.m.group_instance_id().map(str::to_string),
            topics,
            ..Default::default()
        };
        let coordinator = self.m.coordinator().cloned();
        let inner = self.inner.clone();
        let cache = self.coord.clone();
        tokio::spawn(async move {
            let result = async {
                let c = coordinator.ok_or_else(|| {
                    Error::kafka(ErrorCode::COORDINATOR_NOT_AVAILABLE, "OffsetCommit")
                })?;
                let conn = coordinator_conn(&inner, &c, &cache).await?;
                let version = conn.version_for(ApiKey::OffsetCommit)?.min(9);
                conn.send_versioned(&req, version).await
            }
            .await;
            let _ = tx.send(Event::CommitResult {
                offsets,
                generation,
                result,
                then,
            });
        });
    }

    /// Applies an OffsetCommit answer: committed positions, group errors.
    async fn finish_commit(
        &mut self,
        offsets: Vec<(Tp, OffsetAndMetadata)>,
        generation: i32,
        result: Result<purekafka_protocol::messages::OffsetCommitResponse>,
    ) -> Result<Committed> {
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                *self.coord.lock().await = None;
                return Err(e);
            }
        };
        let mut first_err = None;
        let now = std::time::Instant::now();
        for t in resp.topics {
            for p in t.partitions {
                let code = ErrorCode(p.error_code);
                if code == ErrorCode::NONE {
                    let tp: Tp = (Arc::from(t.name.as_str()), p.partition_index);
                    if let Some(om) = offsets
                        .iter()
                        .find(|(x, _)| *x == tp)
                        .map(|(_, o)| o.offset)
                    {
                        if let Some(ps) = self.inner.lock().parts.get_mut(&tp) {
                            ps.committed = Some(om);
                        }
                    }
                    continue;
                }
                if matches!(
                    code,
                    ErrorCode::NOT_COORDINATOR
                        | ErrorCode::COORDINATOR_NOT_AVAILABLE
                        | ErrorCode::ILLEGAL_GENERATION
                        | ErrorCode::UNKNOWN_MEMBER_ID
                        | ErrorCode::REBALANCE_IN_PROGRESS
                        | ErrorCode::FENCED_INSTANCE_ID
                ) {
                    self.m
                        .on_coordinator_error(now, "OffsetCommit", code, generation);
                    if code == ErrorCode::NOT_COORDINATOR
                        || code == ErrorCode::COORDINATOR_NOT_AVAILABLE
                    {
                        *self.coord.lock().await = None;
                    }
                }
                first_err.get_or_insert(Error::kafka_tp(
                    code,
                    "OffsetCommit",
                    &t.name,
                    p.partition_index,
                ));
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(offsets),
        }
    }

    async fn fetch_committed(&mut self, tps: &[Tp]) -> Result<HashMap<Tp, OffsetAndMetadata>> {
        let r = fetch_committed_standalone(
            &self.inner,
            self.m.coordinator().cloned(),
            self.m.group_id().to_string(),
            tps,
            &self.coord,
        )
        .await;
        if r.is_err() {
            *self.coord.lock().await = None;
        }
        r
    }

    fn remove(&mut self, partitions: &[(String, i32)]) {
        let mut st = self.inner.lock();
        for (t, p) in partitions {
            let tp: Tp = (Arc::from(t.as_str()), *p);
            st.parts.remove(&tp);
            super::drop_buffered(&mut st, &tp);
        }
        drop(st);
        self.inner.wake_fetcher.notify_one();
    }

    /// Applies a new assignment: kept partitions keep their positions; new
    /// ones start from the committed offset (looked up now), else
    /// `auto.offset.reset`.
    fn assign(&mut self, partitions: &[(String, i32)]) {
        let tps: Vec<Tp> = partitions
            .iter()
            .map(|(t, p)| (Arc::from(t.as_str()), *p))
            .collect();
        let mut added = Vec::new();
        {
            let mut st = self.inner.lock();
            let keep: std::collections::HashSet<&Tp> = tps.iter().collect();
            let gone: Vec<Tp> = st
                .parts
                .keys()
                .filter(|tp| !keep.contains(tp))
                .cloned()
                .collect();
            for tp in gone {
                st.parts.remove(&tp);
                super::drop_buffered(&mut st, &tp);
            }
            for tp in &tps {
                if !st.parts.contains_key(tp) {
                    st.parts.insert(
                        tp.clone(),
                        PartState {
                            awaiting_committed: true,
                            ..PartState::default()
                        },
                    );
                    added.push(tp.clone());
                }
            }
        }
        self.inner.cluster.add_topics(tps.iter().map(|tp| &*tp.0));
        if added.is_empty() {
            return;
        }
        // Committed offsets for the new partitions, without blocking the task.
        self.spawn_fetch_committed(added, Duration::ZERO);
    }

    /// Looks up committed offsets in the background (after `delay`); the
    /// answer comes back as [`Event::Committed`].
    fn spawn_fetch_committed(&self, tps: Vec<Tp>, delay: Duration) {
        let tx = self.events_tx.clone();
        let inner = self.inner.clone();
        let coordinator = self.m.coordinator().cloned();
        let group_id = self.m.group_id().to_string();
        let cached = self.coord.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let r = fetch_committed_standalone(&inner, coordinator, group_id, &tps, &cached).await;
            let _ = tx.send(Event::Committed(r, tps));
        });
    }

    fn apply_committed(&mut self, result: Result<HashMap<Tp, OffsetAndMetadata>>, tps: Vec<Tp>) {
        let reset = match self.inner.cfg.auto_offset_reset {
            OffsetReset::Earliest => Some(OffsetSpec::Earliest),
            OffsetReset::Latest => Some(OffsetSpec::Latest),
            OffsetReset::None => None,
        };
        let mut st = self.inner.lock();
        let committed = match result {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("OffsetFetch failed: {e}; retrying");
                drop(st);
                self.spawn_fetch_committed(tps, self.inner.cfg.client.retry_backoff);
                return;
            }
        };
        let mut errors = Vec::new();
        for tp in tps {
            let Some(ps) = st.parts.get_mut(&tp) else {
                continue;
            };
            if !ps.awaiting_committed {
                continue;
            }
            ps.awaiting_committed = false;
            match committed.get(&tp) {
                Some(om) => {
                    ps.position = Some(om.offset);
                    ps.committed = Some(om.offset);
                }
                None => match reset {
                    Some(spec) => ps.start_reset(spec),
                    None => errors.push(Error::Kafka {
                        code: ErrorCode::OFFSET_OUT_OF_RANGE,
                        api: "OffsetFetch",
                        topic: Some(tp.0.to_string()),
                        partition: Some(tp.1),
                        message: Some("no committed offset and auto.offset.reset=none".into()),
                    }),
                },
            }
        }
        st.errors.extend(errors);
        drop(st);
        self.inner.wake_fetcher.notify_one();
        self.inner.data.notify_waiters();
    }
}

async fn coordinator_conn(
    inner: &Inner,
    c: &super::group::Coordinator,
    cache: &CoordCache,
) -> Result<Connection> {
    let mut slot = cache.lock().await;
    if let Some((id, conn)) = slot.as_ref() {
        if *id == c.node_id && !conn.is_closed() {
            return Ok(conn.clone());
        }
    }
    let addr = format!("{}:{}", c.host, c.port);
    let conn = Connection::connect(
        &addr,
        &format!("{addr} (coordinator {})", c.node_id),
        inner.cluster.options().conn.clone(),
    )
    .await?;
    *slot = Some((c.node_id, conn.clone()));
    Ok(conn)
}

async fn send_group_request(
    inner: &Inner,
    req: OutboundRequest,
    cached: CoordCache,
) -> Result<GroupResponse> {
    let conn = match &req.destination {
        Destination::AnyBroker => inner.cluster.any_broker().await?,
        Destination::Coordinator(c) => coordinator_conn(inner, c, &cached).await?,
    };
    let api = req.request.api_key();
    let version = req.version;
    let frame = encode_frame_with(api, version, &inner.cfg.client.client_id, |buf| {
        req.request.encode(buf, version)
    })?;
    let timeout = req
        .min_timeout
        .map_or(inner.cfg.client.request_timeout, |t| {
            t.max(inner.cfg.client.request_timeout)
        });
    let body = conn
        .submit(frame, api, version, timeout)
        .await?
        .response()
        .await?;
    match GroupResponse::decode(api, version, body.clone()) {
        Some(Ok(r)) => Ok(r),
        // librdkafka's mock answers a failed SyncGroup with a null assignment,
        // which no version allows; keep its error code (throttle time, then
        // error code) rather than failing the request.
        Some(Err(_))
            if api == ApiKey::SyncGroup
                && body.len() >= 6
                && i16::from_be_bytes([body[4], body[5]]) != 0 =>
        {
            Ok(GroupResponse::SyncGroup(
                purekafka_protocol::messages::SyncGroupResponse {
                    throttle_time_ms: i32::from_be_bytes([body[0], body[1], body[2], body[3]]),
                    error_code: i16::from_be_bytes([body[4], body[5]]),
                    ..Default::default()
                },
            ))
        }
        Some(Err(source)) => Err(Error::Decode {
            broker: conn.broker().to_string(),
            api: api.name(),
            version,
            source,
        }),
        None => Err(Error::Unsupported("non-group API in the group driver")),
    }
}

async fn fetch_committed_standalone(
    inner: &Arc<Inner>,
    coordinator: Option<super::group::Coordinator>,
    group_id: String,
    tps: &[Tp],
    cached: &CoordCache,
) -> Result<HashMap<Tp, OffsetAndMetadata>> {
    let c = coordinator
        .ok_or_else(|| Error::kafka(ErrorCode::COORDINATOR_NOT_AVAILABLE, "OffsetFetch"))?;
    let conn = coordinator_conn(inner, &c, cached).await?;
    let version = conn.version_for(ApiKey::OffsetFetch)?.min(9);
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in tps {
        by_topic.entry(&tp.0).or_default().push(tp.1);
    }
    let req = if version >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id,
                // No member id with epoch -1, as Java's classic consumer: a
                // KIP-848 group that classic members joined checks a given
                // member id against its epoch and answers ILLEGAL_GENERATION.
                member_id: None,
                member_epoch: -1,
                topics: Some(
                    by_topic
                        .iter()
                        .map(|(t, ps)| OffsetFetchRequestTopics {
                            name: t.to_string(),
                            partition_indexes: ps.clone(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }],
            require_stable: true,
            ..Default::default()
        }
    } else {
        OffsetFetchRequest {
            group_id,
            topics: Some(
                by_topic
                    .iter()
                    .map(|(t, ps)| OffsetFetchRequestTopic {
                        name: t.to_string(),
                        partition_indexes: ps.clone(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            require_stable: true,
            ..Default::default()
        }
    };
    let resp = conn.send_versioned(&req, version).await?;
    let mut out = HashMap::new();
    let mut rows = Vec::new();
    if version >= 8 {
        for g in resp.groups {
            if g.error_code != 0 {
                return Err(Error::kafka(ErrorCode(g.error_code), "OffsetFetch"));
            }
            for t in g.topics {
                for p in t.partitions {
                    rows.push((
                        t.name.clone(),
                        p.partition_index,
                        p.committed_offset,
                        p.metadata,
                        p.error_code,
                    ));
                }
            }
        }
    } else {
        if resp.error_code != 0 {
            return Err(Error::kafka(ErrorCode(resp.error_code), "OffsetFetch"));
        }
        for t in resp.topics {
            for p in t.partitions {
                rows.push((
                    t.name.clone(),
                    p.partition_index,
                    p.committed_offset,
                    p.metadata,
                    p.error_code,
                ));
            }
        }
    }
    for (topic, partition, offset, metadata, code) in rows {
        if code != 0 {
            return Err(Error::kafka_tp(
                ErrorCode(code),
                "OffsetFetch",
                &topic,
                partition,
            ));
        }
        if offset >= 0 {
            out.insert(
                (Arc::from(topic.as_str()), partition),
                OffsetAndMetadata { offset, metadata },
            );
        }
    }
    Ok(out)
}
