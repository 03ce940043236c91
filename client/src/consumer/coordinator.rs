//! The consumer's group task: drives the sans-IO [`Membership`] state
//! machine over real connections, applies assignments to the fetcher, runs
//! rebalance callbacks, and commits and fetches offsets.

use super::Inner;
use super::commit_callbacks::{self, CommitCallback, CommitCallbacks};
use super::fetch_session::Tp;
use super::group::{
    Action, ConsumerMember, ConsumerMemberConfig, Destination, GroupApiVersions, GroupMember,
    GroupResponse, MemberState, Membership, MembershipConfig, OutboundRequest, RequestId,
};
use crate::TopicPartition;
use crate::config::GroupProtocol;
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
use purekafka_protocol::{ApiKey, ErrorCode, Uuid};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Called when the group moves partitions to or from this consumer, on the
/// consumer's group task. A callback that panics does not stop the
/// consumer: the rebalance completes as if it had returned (revoked or lost
/// partitions are still given up, the assignment still applies), the panic
/// is logged, and the next `poll` returns [`Error::CallbackPanicked`]
/// naming the callback.
pub trait RebalanceListener: Send + Sync {
    /// Partitions newly assigned (always called after a rebalance, maybe empty).
    fn on_partitions_assigned(&self, _partitions: &[TopicPartition]) {}
    /// Partitions given up; their offsets were committed first when
    /// `enable.auto.commit` is on.
    fn on_partitions_revoked(&self, _partitions: &[TopicPartition]) {}
    /// Partitions lost (another member may own them now): do not commit them.
    fn on_partitions_lost(&self, _partitions: &[TopicPartition]) {}
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
    /// A pattern, and its subscription's sequence number (see
    /// `Subscribed::publish`).
    SubscribePattern(regex::Regex, u64),
    Unsubscribe,
    /// `Consumer::assign` added these partitions: look up their committed
    /// offsets (they wait in `awaiting_committed`).
    Assign(Vec<Tp>),
    Poll,
    Listener(Arc<dyn RebalanceListener>),
    /// `offsets: None` commits the stored offsets (see
    /// `PartitionStates::offsets_to_commit`),
    /// read when the commit is sent: a partition revoked meanwhile is not
    /// committed under the new generation (its new owner may already read
    /// from the older committed offset).
    Commit {
        offsets: Option<Vec<(Tp, OffsetAndMetadata)>>,
        reply: Option<oneshot::Sender<Result<Committed>>>,
        /// `commit_async_with`'s callback (then `reply` is none).
        callback: Option<CommitCallback>,
        /// How long a commit that is waited for retries what a retry can
        /// fix; `None`: `request.timeout.ms` (asynchronous commits are not
        /// retried).
        timeout: Option<Duration>,
    },
    Committed {
        tps: Vec<Tp>,
        reply: oneshot::Sender<Result<HashMap<Tp, OffsetAndMetadata>>>,
        /// How long to wait for (and retry at) the coordinator.
        timeout: Duration,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// Offsets a commit stored, by partition.
pub type Committed = Vec<(TopicPartition, OffsetAndMetadata)>;

type CoordCache = Arc<tokio::sync::Mutex<Option<(i32, Connection)>>>;

enum Event {
    Response(RequestId, Result<GroupResponse>),
    /// Committed offsets looked up for assigned partitions, at the
    /// `attempts`-th retry.
    Committed(Result<HashMap<Tp, OffsetAndMetadata>>, Vec<Tp>, u32),
    CommitResult {
        offsets: Vec<(Tp, OffsetAndMetadata)>,
        generation: i32,
        result: Result<purekafka_protocol::messages::OffsetCommitResponse>,
        then: Then,
        /// Coordinator errors are retried until then.
        deadline: Deadline,
    },
    /// A commit that ended without a request (failed on the client side).
    CommitEnded {
        result: Result<Committed>,
        then: Then,
    },
    /// The answer to `Consumer::committed`.
    CommittedReply {
        tps: Vec<Tp>,
        result: Result<HashMap<Tp, OffsetAndMetadata>>,
        reply: oneshot::Sender<Result<HashMap<Tp, OffsetAndMetadata>>>,
        deadline: Deadline,
    },
}

/// Whether an offset request that failed with `e` is worth sending again
/// (Java's commitSync and committed() retry these until their timeout; its
/// async and auto commits do not, and neither do ours: a retried older
/// commit could land after a newer one): the coordinator moved, is loading
/// (on a new Kafka 4.4 node, a group's first OffsetCommit can get
/// NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS from the coordinator
/// FindCoordinator just named), or the connection failed.
fn retry_offsets_request(e: &Error) -> bool {
    match e.code() {
        Some(c) => matches!(
            c,
            ErrorCode::NOT_COORDINATOR
                | ErrorCode::COORDINATOR_NOT_AVAILABLE
                | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
                // KIP-848: the commit went out with an epoch a heartbeat
                // has since moved on from; sent again with the new one (as
                // Java's commitSync does).
                | ErrorCode::STALE_MEMBER_EPOCH
                // OffsetFetch with require_stable while a transaction's
                // offsets for the partition are pending (also for a moment
                // right after its commit): Java's committed() waits it out.
                | ErrorCode::UNSTABLE_OFFSET_COMMIT
        ),
        None => e.is_retriable(),
    }
}

/// How long an offset request (a commit, a committed-offset lookup) may
/// take, retries included, and since when it has been trying.
#[derive(Clone, Copy, Debug)]
struct Deadline {
    started: Instant,
    at: Instant,
}

impl Deadline {
    fn within(timeout: Duration) -> Deadline {
        let started = Instant::now();
        Deadline {
            started,
            at: started + timeout,
        }
    }

    fn timeout(&self) -> Duration {
        self.at.saturating_duration_since(self.started)
    }

    /// When to try again after a failure at `now`: after as long as it has
    /// been trying (so the waits double), within `retry.backoff.ms` and
    /// `retry.backoff.max.ms`, never past the deadline.
    fn retry_at(&self, cfg: &crate::config::ClientConfig, now: Instant) -> Instant {
        let tried = now.saturating_duration_since(self.started);
        let wait = tried.clamp(
            cfg.retry_backoff,
            cfg.retry_backoff_max.max(cfg.retry_backoff),
        );
        (now + wait).min(self.at.max(now))
    }
}

/// Offset requests waiting for the coordinator to be found (a consumer that
/// only assigns, or one whose coordinator moved).
enum Waiting {
    Commit {
        offsets: Vec<(Tp, OffsetAndMetadata)>,
        then: Then,
        deadline: Deadline,
        not_before: Instant,
    },
    Committed {
        tps: Vec<Tp>,
        reply: oneshot::Sender<Result<HashMap<Tp, OffsetAndMetadata>>>,
        deadline: Deadline,
        not_before: Instant,
        /// Why the last attempt failed (what the caller gets at the
        /// deadline; none: the coordinator was never found).
        last: Option<Error>,
    },
    /// Committed offsets for assigned partitions (retried until found), and
    /// how many times they were retried.
    Lookup(Vec<Tp>, u32),
}

impl Waiting {
    fn deadline(&self) -> Option<Instant> {
        match self {
            Waiting::Commit { deadline, .. } | Waiting::Committed { deadline, .. } => {
                Some(deadline.at)
            }
            Waiting::Lookup(..) => None,
        }
    }

    fn not_before(&self) -> Option<Instant> {
        match self {
            Waiting::Commit { not_before, .. } | Waiting::Committed { not_before, .. } => {
                Some(*not_before)
            }
            Waiting::Lookup(..) => None,
        }
    }

    /// When the group task must look at it again.
    fn wake(&self, now: Instant) -> Option<Instant> {
        let retry = self.not_before().filter(|t| *t > now);
        match (retry, self.deadline()) {
            (Some(r), Some(d)) => Some(r.min(d)),
            (r, d) => r.or(d),
        }
    }
}

/// A commit asked for by a subscribed member without a stable generation:
/// not sent (it would go out without a generation, behind the JoinGroup),
/// as Java's `RebalanceInProgressException`. `joining`: a rebalance is under
/// way (else the member joins at its next poll).
fn rebalance_in_progress(joining: bool) -> Error {
    let why = if joining {
        "the consumer is rebalancing its group"
    } else {
        "the consumer has no generation of its group yet (it rejoins at the next poll)"
    };
    Error::Kafka {
        code: ErrorCode::REBALANCE_IN_PROGRESS,
        api: "OffsetCommit",
        topic: None,
        partition: None,
        message: Some(format!(
            "not sent: {why}; poll to complete the rebalance, then retry the commit"
        )),
    }
}

/// The coordinator was not found within `within` (a duration and where it
/// comes from).
fn no_coordinator(api: &'static str, within: &str) -> Error {
    Error::Kafka {
        code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
        api,
        topic: None,
        partition: None,
        message: Some(format!(
            "the group coordinator was not found within {within}; check that the group's coordinator (the broker leading its __consumer_offsets partition) is up and reachable"
        )),
    }
}

/// What to do once a commit is answered.
enum Then {
    /// Answer the application (or nobody: async and auto commits).
    Reply(Option<oneshot::Sender<Result<Committed>>>),
    /// Run `commit_async_with`'s callback (see [`CommitCallbacks`]).
    Callback(u64),
    /// The state machine waits for it before revoking.
    CommitDone,
    /// Close the member afterwards.
    Close(oneshot::Sender<()>),
}

/// A [`RebalanceListener`] callback.
#[derive(Clone, Copy)]
enum Callback {
    Assigned,
    Revoked,
    Lost,
}

impl Callback {
    fn name(self) -> &'static str {
        match self {
            Callback::Assigned => "RebalanceListener::on_partitions_assigned",
            Callback::Revoked => "RebalanceListener::on_partitions_revoked",
            Callback::Lost => "RebalanceListener::on_partitions_lost",
        }
    }
}

struct Driver {
    inner: Arc<Inner>,
    m: GroupMember,
    listener: Option<Arc<dyn RebalanceListener>>,
    /// The pattern subscription, and its sequence number.
    pattern: Option<regex::Regex>,
    pattern_seq: u64,
    events_tx: mpsc::UnboundedSender<Event>,
    /// One connection to the coordinator, shared by group requests and
    /// offset commits (a new connection per request would cost a TCP and
    /// ApiVersions handshake each time).
    coord: CoordCache,
    closing: Option<oneshot::Sender<()>>,
    versions_set: bool,
    /// Offset requests waiting for the coordinator.
    waiting: Vec<Waiting>,
    /// The member closed (left the group, or had nothing to leave).
    left: bool,
    /// KIP-848: partitions paused here until their revocation at the next
    /// poll (see `ConsumerMember::pending_revocation`).
    revoking: std::collections::BTreeSet<Tp>,
    /// `commit_async_with`'s callbacks, run in commit order.
    callbacks: CommitCallbacks,
    /// Resolves once the last OffsetCommit started is on the coordinator
    /// connection's queue: the next one waits for it.
    commit_sent: Option<oneshot::Receiver<()>>,
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
        retry_backoff_max: cfg.client.retry_backoff_max,
        rack_id: cfg.client.client_rack.clone(),
        commit_before_revoke: cfg.enable_auto_commit,
        versions: GroupApiVersions::default(),
    };
    let names: Vec<&str> = cfg
        .partition_assignment_strategy
        .iter()
        .map(|s| s.name())
        .collect();
    let m = match cfg.group_protocol {
        GroupProtocol::Classic => {
            Membership::with_assignor_names(mconf, &names).map(GroupMember::Classic)
        }
        GroupProtocol::Consumer => ConsumerMember::new(ConsumerMemberConfig {
            group_id: mconf.group_id,
            member_id: super::group::heartbeat::random_member_id(),
            group_instance_id: mconf.group_instance_id,
            rack_id: mconf.rack_id,
            rebalance_timeout: cfg.max_poll_interval,
            max_poll_interval: cfg.max_poll_interval,
            remote_assignor: cfg.group_remote_assignor.clone(),
            retry_backoff: cfg.client.retry_backoff,
            retry_backoff_max: cfg.client.retry_backoff_max,
            commit_before_revoke: cfg.enable_auto_commit,
            find_coordinator_version: ApiKey::FindCoordinator.usable_versions().max,
            heartbeat_version: ApiKey::ConsumerGroupHeartbeat.usable_versions().max,
        })
        .map(GroupMember::Consumer),
    };
    let m = match m {
        Ok(m) => m,
        Err(e) => {
            inner.lock().push_error(e);
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
        pattern_seq: 0,
        events_tx,
        coord: CoordCache::default(),
        closing: None,
        versions_set: false,
        waiting: Vec::new(),
        left: false,
        revoking: Default::default(),
        callbacks: CommitCallbacks::default(),
        commit_sent: None,
    };
    let auto_commit = cfg.enable_auto_commit;
    let mut next_auto_commit = Instant::now() + cfg.auto_commit_interval;
    let mut next_metadata = Instant::now() + Duration::from_secs(1);
    // `close()` asked to close (its commit, then LeaveGroup).
    let mut close_started = false;
    // Every handle is gone: the task ends once the member has left (or
    // gave up leaving) or then, whichever comes first.
    let mut exit_by: Option<Instant> = None;
    loop {
        // Before the actions: what it sends may ask for the coordinator.
        d.flush_waiting(Instant::now());
        d.drain_actions().await;
        d.publish_group_metadata();
        d.publish_pattern_topics();
        let now = Instant::now();
        if let Some(t) = exit_by
            && (d.left || now >= t)
        {
            if !d.left {
                tracing::debug!("consumer dropped: gave up leaving the group in time");
            }
            let panics = d.callbacks.close();
            d.report_panics(commit_callbacks::CALLBACK_NAME, panics);
            return;
        }
        let mut wake = d.m.next_timeout().map(Instant::from_std);
        if let Some(t) = exit_by {
            wake = Some(wake.map_or(t, |w| w.min(t)));
        }
        if let Some(w) = d.waiting.iter().filter_map(|w| w.wake(now)).min() {
            wake = Some(wake.map_or(w, |x| x.min(w)));
        }
        if auto_commit {
            wake = Some(wake.map_or(next_auto_commit, |w| w.min(next_auto_commit)));
        }
        wake = Some(wake.map_or(next_metadata, |w| w.min(next_metadata)));
        tokio::select! {
            cmd = cmds.recv(), if exit_by.is_none() => {
                let now = std::time::Instant::now();
                let Some(cmd) = cmd else {
                    // The last handle was dropped without close() (or after
                    // a close() that timed out): leave the group as close
                    // does, in the background, best effort, within
                    // request.timeout.ms. Only what was already committable
                    // is committed (auto-commit): the last poll's records
                    // were not released by the application.
                    exit_by = Some(Instant::now() + d.inner.cfg.client.request_timeout);
                    if !close_started {
                        close_started = true;
                        let (reply, _) = oneshot::channel();
                        d.start_close(now, reply, auto_commit);
                    }
                    continue;
                };
                match cmd {
                    GroupCmd::Subscribe(topics) => {
                        d.pattern = None;
                        d.inner.cluster.add_topics(topics.iter().map(String::as_str));
                        d.ensure_versions().await;
                        d.m.subscribe(now, topics);
                    }
                    GroupCmd::SubscribePattern(re, seq) => {
                        d.pattern_seq = seq;
                        d.ensure_versions().await;
                        if let GroupMember::Consumer(m) = &mut d.m {
                            // KIP-848: the broker evaluates the regex.
                            m.subscribe_regex(now, re.as_str());
                            d.pattern = Some(re);
                        } else {
                            d.pattern = Some(re);
                            d.refresh_pattern(now).await;
                        }
                    }
                    GroupCmd::Unsubscribe => {
                        // Else the next metadata tick would match (and
                        // subscribe to) the pattern again.
                        d.pattern = None;
                        d.m.unsubscribe(now);
                    }
                    GroupCmd::Assign(tps) => {
                        d.ensure_versions().await;
                        d.spawn_fetch_committed(tps, 0);
                    }
                    GroupCmd::Poll => d.m.poll(now),
                    GroupCmd::Listener(l) => d.listener = Some(l),
                    GroupCmd::Commit { offsets, reply, callback, timeout } => {
                        d.ensure_versions().await;
                        let offsets = offsets.unwrap_or_else(|| d.stored_offsets(None));
                        let deadline = timeout.map_or_else(|| d.deadline(), Deadline::within);
                        let then = match callback {
                            Some(cb) => Then::Callback(d.callbacks.started(cb)),
                            None => Then::Reply(reply),
                        };
                        d.start_commit(offsets, then, deadline);
                    }
                    GroupCmd::Committed { tps, reply, timeout } => {
                        d.ensure_versions().await;
                        d.fetch_committed(tps, reply, Deadline::within(timeout));
                    }
                    GroupCmd::Close { reply } => {
                        close_started = true;
                        d.start_close(now, reply, auto_commit);
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
                    Event::Committed(result, tps, attempts) => {
                        d.apply_committed(result, tps, attempts);
                    }
                    Event::CommitResult { offsets, generation, result, then, deadline } => {
                        let r = d.finish_commit(offsets.clone(), generation, result).await;
                        match r {
                            Err(e) if !matches!(then, Then::Reply(None) | Then::Callback(_))
                                && retry_offsets_request(&e)
                                && Instant::now() < deadline.at =>
                            {
                                tracing::debug!("commit failed: {e}; retrying");
                                d.m.ensure_coordinator(now);
                                let not_before = d.retry_at(deadline);
                                d.waiting.push(Waiting::Commit { offsets, then, deadline, not_before });
                            }
                            r => d.commit_ended(now, then, r),
                        }
                    }
                    Event::CommitEnded { result, then } => d.commit_ended(now, then, result),
                    Event::CommittedReply { tps, result, reply, deadline } => match result {
                        Err(e) if retry_offsets_request(&e) && Instant::now() < deadline.at => {
                            tracing::debug!("OffsetFetch failed: {e}; retrying");
                            // A transaction's pending offsets say nothing
                            // about the coordinator: keep it.
                            if e.code() != Some(ErrorCode::UNSTABLE_OFFSET_COMMIT) {
                                *d.coord.lock().await = None;
                                if let Some(code) = e.code() {
                                    let generation = d.m.generation_id();
                                    d.m.on_coordinator_error(now, "OffsetFetch", code, generation);
                                }
                                d.m.ensure_coordinator(now);
                            }
                            let not_before = d.retry_at(deadline);
                            let last = Some(e);
                            d.waiting.push(Waiting::Committed { tps, reply, deadline, not_before, last });
                        }
                        r => { let _ = reply.send(r); }
                    },
                }
            }
            _ = crate::time::sleep_until_opt(wake) => {
                let now = Instant::now();
                d.m.handle_timeout(now.into_std());
                if auto_commit && now >= next_auto_commit {
                    next_auto_commit = now + d.inner.cfg.auto_commit_interval;
                    let offsets = d.stored_offsets(None);
                    if !offsets.is_empty() {
                        let deadline = d.deadline();
                        d.start_commit(offsets, Then::Reply(None), deadline);
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

impl Driver {
    async fn ensure_versions(&mut self) {
        if self.versions_set {
            return;
        }
        if let Ok(conn) = self.inner.cluster.any_broker().await {
            let v = |api: ApiKey| conn.version_for(api).unwrap_or(api.usable_versions().max);
            self.m.set_api_versions(
                GroupApiVersions {
                    find_coordinator: v(ApiKey::FindCoordinator),
                    join_group: v(ApiKey::JoinGroup),
                    sync_group: v(ApiKey::SyncGroup),
                    heartbeat: v(ApiKey::Heartbeat),
                    leave_group: v(ApiKey::LeaveGroup),
                },
                v(ApiKey::ConsumerGroupHeartbeat),
            );
            self.versions_set = true;
        }
    }

    /// Publishes the member's generation for `Consumer::group_metadata` when
    /// a new stable one begins.
    fn publish_group_metadata(&self) {
        let Some((generation_id, member_id)) = self.m.commit_generation() else {
            return;
        };
        let mut published = self
            .inner
            .group_metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if published
            .as_ref()
            .is_some_and(|g| g.generation_id == generation_id && g.member_id == member_id)
        {
            return;
        }
        *published = Some(super::ConsumerGroupMetadata {
            group_id: self.m.group_id().to_owned(),
            generation_id,
            member_id: member_id.to_owned(),
            group_instance_id: self.m.group_instance_id().map(str::to_owned),
        });
    }

    /// Publishes the topics a pattern subscription currently matches, for
    /// `Consumer::subscription`: the classic member's subscription (the
    /// matching topics of the last refresh); KIP-848's broker evaluates the
    /// pattern, so there, the topics it assigned partitions of.
    fn publish_pattern_topics(&self) {
        if self.pattern.is_none() {
            return;
        }
        let topics: Vec<String> = match &self.m {
            GroupMember::Classic(m) => m.subscription().iter().cloned().collect(),
            GroupMember::Consumer(_) => self
                .inner
                .lock()
                .assignment()
                .iter()
                .map(|tp| tp.topic().to_owned())
                .collect(),
        };
        self.inner
            .subscription
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .publish(self.pattern_seq, topics);
    }

    /// KIP-848: pauses the partitions that are to be revoked at the next
    /// poll (a poll does not hand out their records any more: what the
    /// application has of them is committed before they move), and resumes
    /// those that stay after all. Partitions the application paused itself
    /// are left alone.
    fn pause_pending_revocation(&mut self) {
        if self.m.consumer().is_none() {
            return;
        }
        let pending: std::collections::BTreeSet<Tp> =
            self.m.pending_revocation().into_iter().collect();
        if pending.is_empty() && self.revoking.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        let assigned: std::collections::BTreeSet<Tp> = inner.assignment().into_iter().collect();
        let user_paused: std::collections::BTreeSet<Tp> = inner.paused().into_iter().collect();
        self.revoking.retain(|tp| assigned.contains(tp));
        let pause: Vec<Tp> = pending
            .iter()
            .filter(|tp| assigned.contains(*tp) && !self.revoking.contains(*tp))
            .filter(|tp| !user_paused.contains(*tp))
            .cloned()
            .collect();
        let resume: Vec<Tp> = self
            .revoking
            .iter()
            .filter(|tp| !pending.contains(*tp))
            .cloned()
            .collect();
        if !pause.is_empty() {
            let _ = inner.set_paused(&pause, true);
            self.revoking.extend(pause);
        }
        if !resume.is_empty() {
            let _ = inner.set_paused(&resume, false);
            for tp in &resume {
                self.revoking.remove(tp);
            }
        }
        drop(inner);
        self.inner.wake_fetcher.notify_one();
    }

    async fn drain_actions(&mut self) {
        self.drain_actions_once().await;
        self.pause_pending_revocation();
    }

    /// Performs the member's actions, in order.
    async fn drain_actions_once(&mut self) {
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
                    self.resolve_topic_ids().await;
                }
                Action::CommitBeforeRevoke { partitions } => {
                    let offsets = self.stored_offsets(Some(&partitions));
                    let deadline = self.deadline();
                    self.start_commit(offsets, Then::CommitDone, deadline);
                }
                Action::Revoked { partitions } => {
                    self.remove(&partitions);
                    self.call_listener(Callback::Revoked, &partitions);
                }
                Action::Lost { partitions } => {
                    self.remove(&partitions);
                    self.call_listener(Callback::Lost, &partitions);
                }
                Action::Assigned {
                    partitions,
                    added,
                    revoked,
                } => {
                    if !revoked.is_empty() {
                        self.remove(&revoked);
                        self.call_listener(Callback::Revoked, &revoked);
                    }
                    self.assign(&partitions);
                    self.call_listener(Callback::Assigned, &added);
                }
                Action::Error(e) | Action::Fatal(e) => {
                    self.inner.lock().push_error(e);
                    self.inner.data.notify_waiters();
                }
                Action::Closed => {
                    self.left = true;
                    if let Some(tx) = self.closing.take() {
                        let _ = tx.send(());
                    }
                }
            }
        }
    }

    /// Runs one of the application's rebalance callbacks. A panic in it is
    /// contained: it must not end the group task (which would leave the
    /// fetcher reading partitions the group gives to another member, and
    /// stop heartbeats and revocations). The partitions were already given
    /// up or taken (the callback runs after); the panic is logged and the
    /// next `poll` returns it as [`Error::CallbackPanicked`].
    fn call_listener(&self, cb: Callback, partitions: &[TopicPartition]) {
        let Some(l) = self.listener.clone() else {
            return;
        };
        let run = std::panic::AssertUnwindSafe(|| match cb {
            Callback::Assigned => l.on_partitions_assigned(partitions),
            Callback::Revoked => l.on_partitions_revoked(partitions),
            Callback::Lost => l.on_partitions_lost(partitions),
        });
        let Err(panic) = std::panic::catch_unwind(run) else {
            return;
        };
        let message = commit_callbacks::panic_message(panic.as_ref());
        tracing::debug!(
            "{} partitions when {} panicked",
            partitions.len(),
            cb.name()
        );
        self.report_panics(cb.name(), vec![message]);
    }

    /// An application callback panicked (the panic was caught): logged, and
    /// the next `poll` returns it as [`Error::CallbackPanicked`].
    fn report_panics(&self, callback: &'static str, messages: Vec<String>) {
        if messages.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        for message in messages {
            tracing::error!(
                group = %self.m.group_id(),
                "{callback} panicked: {message}; the consumer carries on"
            );
            inner.push_error(Error::CallbackPanicked { callback, message });
        }
        drop(inner);
        self.inner.data.notify_waiters();
    }

    /// The partition counts of the subscribed `topics` the metadata knows.
    /// A subscribed topic the broker refuses to describe
    /// (TOPIC_AUTHORIZATION_FAILED) is also reported to `poll`, once per
    /// metadata refresh, as the Java consumer throws
    /// `TopicAuthorizationException`: without it the application would wait
    /// forever for records that never come.
    fn partition_counts(&self, topics: &[String]) -> BTreeMap<String, i32> {
        let md = self.inner.cluster.metadata();
        let denied: Vec<&String> = topics
            .iter()
            .filter(|t| {
                md.topics
                    .get(t.as_str())
                    .is_some_and(|i| i.error == ErrorCode::TOPIC_AUTHORIZATION_FAILED)
            })
            .collect();
        if !denied.is_empty() {
            let mut inner = self.inner.lock();
            for t in denied {
                inner.push_error(Error::Kafka {
                    code: ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                    api: "Metadata",
                    topic: Some(t.clone()),
                    partition: None,
                    message: Some(format!(
                        "not authorized to read topic {t}: grant this client's principal READ and DESCRIBE on it, or unsubscribe"
                    )),
                });
            }
            drop(inner);
            self.inner.data.notify_waiters();
        }
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
        if self.m.consumer().is_some() {
            if self.m.metadata_topics().is_empty() {
                self.resolve_topic_ids().await;
                return;
            }
        } else if self.pattern.is_some() {
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
        self.resolve_topic_ids().await;
    }

    /// KIP-848 assignments name topics by id: gives the member the names
    /// the metadata knows, and, for ids it does not know (a regex
    /// subscription's topics), asks a broker for every topic.
    async fn resolve_topic_ids(&mut self) {
        let Some(m) = self.m.consumer() else {
            return;
        };
        let mut wanted = m.unresolved_topic_ids();
        let mut names: BTreeMap<Uuid, String> = self
            .inner
            .cluster
            .metadata()
            .topics
            .iter()
            .filter(|(_, t)| !t.id.is_zero())
            .map(|(name, t)| (t.id, name.to_string()))
            .collect();
        wanted.retain(|id| !names.contains_key(id));
        if !wanted.is_empty() {
            match self.list_topic_ids().await {
                Ok(all) => {
                    let found: Vec<String> = all
                        .iter()
                        .filter(|(id, _)| wanted.contains(id))
                        .map(|(_, n)| n.clone())
                        .collect();
                    self.inner
                        .cluster
                        .add_topics(found.iter().map(String::as_str));
                    names.extend(all);
                }
                Err(e) => tracing::debug!("listing topics to resolve assigned topic ids: {e}"),
            }
        }
        self.m.on_topic_names(std::time::Instant::now(), &names);
    }

    /// Every topic's id and name.
    async fn list_topic_ids(&self) -> Result<Vec<(Uuid, String)>> {
        Ok(self
            .all_topics()
            .await?
            .into_iter()
            .filter(|t| t.error_code == 0 && !t.topic_id.is_zero())
            .filter_map(|t| t.name.map(|n| (t.topic_id, n)))
            .collect())
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
        Ok(self
            .all_topics()
            .await?
            .into_iter()
            .filter(|t| !t.is_internal && t.error_code == 0)
            .filter_map(|t| t.name)
            .collect())
    }

    /// Every topic's metadata (a Metadata request for all topics).
    async fn all_topics(
        &self,
    ) -> Result<Vec<purekafka_protocol::messages::metadata_response::MetadataResponseTopic>> {
        let conn = self.inner.cluster.any_broker().await?;
        let req = purekafka_protocol::messages::MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        Ok(conn.send(&req).await?.topics)
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

    /// The next offsets to commit: the stored ones (released deliveries, or
    /// `store_offset`) not committed yet.
    fn stored_offsets(&self, only: Option<&[Tp]>) -> Vec<(Tp, OffsetAndMetadata)> {
        self.inner.lock().offsets_to_commit(only)
    }

    /// When to retry an offset request that has until `deadline`.
    fn retry_at(&self, deadline: Deadline) -> Instant {
        deadline.retry_at(&self.inner.cfg.client, Instant::now())
    }

    /// How long a commit nobody waits for (auto-commit, before a revoke,
    /// at close) may wait for (and retry at) the coordinator.
    fn deadline(&self) -> Deadline {
        Deadline::within(self.inner.cfg.client.request_timeout)
    }

    /// Whether partitions come from the group (subscribe), not `assign()`.
    fn subscribed(&self) -> bool {
        self.pattern.is_some() || !self.m.subscription().is_empty()
    }

    /// Closes the member: commits the stored offsets first with
    /// auto-commit, then leaves; `reply` is answered once it has left.
    fn start_close(&mut self, now: std::time::Instant, reply: oneshot::Sender<()>, commit: bool) {
        if commit {
            let offsets = self.stored_offsets(None);
            let deadline = self.deadline();
            self.start_commit(offsets, Then::Close(reply), deadline);
        } else {
            self.closing = Some(reply);
            self.m.close(now);
        }
    }

    /// A commit is over: answer whoever waits for it.
    fn commit_ended(&mut self, now: std::time::Instant, then: Then, r: Result<Committed>) {
        match then {
            Then::Reply(Some(tx)) => {
                let _ = tx.send(r);
            }
            Then::Reply(None) => {
                if let Err(e) = r {
                    tracing::debug!("commit failed: {e}");
                }
            }
            Then::Callback(id) => {
                let panics = self.callbacks.ended(id, r);
                self.report_panics(commit_callbacks::CALLBACK_NAME, panics);
            }
            Then::CommitDone => {
                if let Err(e) = r {
                    tracing::warn!("commit before revoke failed: {e}");
                }
                self.m.commit_done(now);
            }
            Then::Close(reply) => {
                if let Err(e) = r {
                    tracing::warn!("commit on close failed: {e}");
                }
                self.closing = Some(reply);
                self.m.close(now);
            }
        }
    }

    /// Sends what waited for the coordinator once it is known; fails what
    /// waited past its deadline.
    fn flush_waiting(&mut self, now: Instant) {
        if self.waiting.is_empty() {
            return;
        }
        let known = self.m.coordinator().is_some();
        for w in std::mem::take(&mut self.waiting) {
            if known && w.not_before().is_none_or(|t| now >= t) {
                match w {
                    Waiting::Commit {
                        offsets,
                        then,
                        deadline,
                        ..
                    } => self.start_commit(offsets, then, deadline),
                    Waiting::Committed {
                        tps,
                        reply,
                        deadline,
                        ..
                    } => self.fetch_committed(tps, reply, deadline),
                    Waiting::Lookup(tps, attempts) => self.spawn_fetch_committed(tps, attempts),
                }
                continue;
            }
            if w.deadline().is_none_or(|d| now < d) {
                self.waiting.push(w);
                continue;
            }
            match w {
                Waiting::Commit { then, deadline, .. } => {
                    let within = format!("{:?}", deadline.timeout());
                    let result = Err(no_coordinator("OffsetCommit", &within));
                    let _ = self.events_tx.send(Event::CommitEnded { result, then });
                }
                Waiting::Committed { reply, last, .. } => {
                    let e = last.unwrap_or_else(|| no_coordinator("OffsetFetch", "the timeout"));
                    let _ = reply.send(Err(e));
                }
                Waiting::Lookup(..) => {}
            }
        }
    }

    /// Sends an OffsetCommit without blocking the group task (heartbeats and
    /// SyncGroup must not wait behind a commit); the answer comes back as
    /// [`Event::CommitResult`]. A subscribed member commits with its stable
    /// generation and fails at once without one (rebalancing); an assigning
    /// consumer commits without a generation. Waits for the coordinator
    /// when it is not known.
    fn start_commit(
        &mut self,
        offsets: Vec<(Tp, OffsetAndMetadata)>,
        then: Then,
        deadline: Deadline,
    ) {
        let tx = self.events_tx.clone();
        let (generation, member) = if self.subscribed() {
            match self.m.commit_generation() {
                Some((g, m)) => (g, m.to_string()),
                None if offsets.is_empty() => (-1, String::new()),
                None => {
                    let joining = matches!(
                        self.m.state(),
                        MemberState::PreparingRebalance | MemberState::CompletingRebalance
                    );
                    let result = Err(rebalance_in_progress(joining));
                    let _ = tx.send(Event::CommitEnded { result, then });
                    return;
                }
            }
        } else {
            (-1, String::new())
        };
        if offsets.is_empty() {
            let result = Ok(purekafka_protocol::messages::OffsetCommitResponse::default());
            let _ = tx.send(Event::CommitResult {
                offsets,
                generation,
                result,
                then,
                deadline,
            });
            return;
        }
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for (tp, om) in &offsets {
            let p = OffsetCommitRequestPartition {
                partition_index: tp.partition,
                committed_offset: om.offset,
                committed_leader_epoch: -1,
                committed_metadata: om.metadata.clone(),
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.name == *tp.topic) {
                Some(t) => t.partitions.push(p),
                None => topics.push(OffsetCommitRequestTopic {
                    name: tp.topic.to_string(),
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
        let Some(c) = self.m.coordinator().cloned() else {
            self.m.ensure_coordinator(std::time::Instant::now());
            self.waiting.push(Waiting::Commit {
                offsets,
                then,
                deadline,
                not_before: Instant::now(),
            });
            return;
        };
        let inner = self.inner.clone();
        let cache = self.coord.clone();
        // Commits go out in the order they were asked for (each task would
        // otherwise race the others to the connection): an older commit
        // landing after a newer one would move the group's offsets back.
        let (sent, this_sent) = oneshot::channel::<()>();
        let before = self.commit_sent.replace(this_sent);
        tokio::spawn(async move {
            let result = async {
                if let Some(before) = before {
                    // Sent (or given up: the sender is dropped either way).
                    let _ = before.await;
                }
                let conn = coordinator_conn(&inner, &c, &cache).await?;
                let version = conn.version_for(ApiKey::OffsetCommit)?.min(9);
                let pending = conn.submit_request(&req, version).await;
                // On the connection's queue (or failed): the next may go.
                drop(sent);
                pending?.decode::<OffsetCommitRequest>().await
            }
            .await;
            let _ = tx.send(Event::CommitResult {
                offsets,
                generation,
                result,
                then,
                deadline,
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
                    let tp = Tp::new(t.name.as_str(), p.partition_index);
                    if let Some(om) = offsets
                        .iter()
                        .find(|(x, _)| *x == tp)
                        .map(|(_, o)| o.offset)
                    {
                        self.inner.lock().committed(&tp, om);
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

    /// Answers `Consumer::committed` from the coordinator (once it is
    /// known, until `deadline`), without blocking the group task.
    fn fetch_committed(
        &mut self,
        tps: Vec<Tp>,
        reply: oneshot::Sender<Result<HashMap<Tp, OffsetAndMetadata>>>,
        deadline: Deadline,
    ) {
        if self.m.coordinator().is_none() {
            self.m.ensure_coordinator(std::time::Instant::now());
            self.waiting.push(Waiting::Committed {
                tps,
                reply,
                deadline,
                not_before: Instant::now(),
                last: None,
            });
            return;
        }
        let inner = self.inner.clone();
        let coordinator = self.m.coordinator().cloned();
        let group_id = self.m.group_id().to_string();
        let cache = self.coord.clone();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let result =
                fetch_committed_standalone(&inner, coordinator, group_id, &tps, &cache).await;
            let _ = tx.send(Event::CommittedReply {
                tps,
                result,
                reply,
                deadline,
            });
        });
    }

    fn remove(&mut self, partitions: &[Tp]) {
        self.inner.lock().revoke(partitions);
        self.inner.wake_fetcher.notify_one();
    }

    /// Applies a new assignment: kept partitions keep their positions; new
    /// ones start from the committed offset (looked up now), else
    /// `auto.offset.reset`.
    fn assign(&mut self, tps: &[Tp]) {
        let added = self.inner.lock().assign(tps, true);
        self.inner
            .cluster
            .add_topics(tps.iter().map(|tp| &*tp.topic));
        self.inner.wake_fetcher.notify_one();
        if added.is_empty() {
            return;
        }
        // Committed offsets for the new partitions, without blocking the task.
        self.spawn_fetch_committed(added, 0);
    }

    /// Looks up committed offsets in the background (once the coordinator
    /// is known; the `attempts`-th retry after the growing retry backoff);
    /// the answer comes back as [`Event::Committed`].
    fn spawn_fetch_committed(&mut self, tps: Vec<Tp>, attempts: u32) {
        if self.m.coordinator().is_none() {
            self.m.ensure_coordinator(std::time::Instant::now());
            self.waiting.push(Waiting::Lookup(tps, attempts));
            return;
        }
        let delay = if attempts == 0 {
            Duration::ZERO
        } else {
            super::fetcher::retry_backoff(&self.inner.cfg.client, attempts)
        };
        let tx = self.events_tx.clone();
        let inner = self.inner.clone();
        let coordinator = self.m.coordinator().cloned();
        let group_id = self.m.group_id().to_string();
        let cached = self.coord.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let r = fetch_committed_standalone(&inner, coordinator, group_id, &tps, &cached).await;
            let _ = tx.send(Event::Committed(r, tps, attempts));
        });
    }

    fn apply_committed(
        &mut self,
        result: Result<HashMap<Tp, OffsetAndMetadata>>,
        tps: Vec<Tp>,
        attempts: u32,
    ) {
        let committed = match result {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("OffsetFetch failed: {e}; retrying");
                if let Some(code) = e.code().filter(|c| {
                    matches!(
                        *c,
                        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE
                    )
                }) {
                    let generation = self.m.generation_id();
                    self.m.on_coordinator_error(
                        std::time::Instant::now(),
                        "OffsetFetch",
                        code,
                        generation,
                    );
                }
                self.spawn_fetch_committed(tps, attempts.saturating_add(1));
                return;
            }
        };
        // A partition seeked (or revoked) since keeps what it has.
        let applied = self.inner.lock().apply_committed(&tps, &committed);
        self.inner.wake_fetcher.notify_one();
        if applied.wake {
            self.inner.data.notify_waiters();
        }
    }
}

async fn coordinator_conn(
    inner: &Inner,
    c: &super::group::Coordinator,
    cache: &CoordCache,
) -> Result<Connection> {
    let mut slot = cache.lock().await;
    if let Some((id, conn)) = slot.as_ref()
        && *id == c.node_id
        && !conn.is_closed()
    {
        return Ok(conn.clone());
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
    let frame = encode_frame_with(api, version, |buf| req.request.encode(buf, version))?;
    let timeout = req
        .min_timeout
        .map_or(inner.cfg.client.request_timeout, |t| {
            t.max(inner.cfg.client.request_timeout)
        });
    let body = conn.submit(frame, timeout).await?.response().await?;
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
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
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
            // RequireStable is v7+ and not ignorable: below, the broker
            // cannot be asked (Java downgrades the same way).
            require_stable: version >= 7,
            ..Default::default()
        }
    };
    let resp = conn.send_versioned(&req, version).await?;
    let mut out = HashMap::new();
    // One partition's answer: the same in the grouped (v8+) and the older layout.
    let mut take = |topic: &Arc<str>,
                    partition: i32,
                    offset: i64,
                    metadata: Option<String>,
                    code: i16|
     -> Result<()> {
        if code != 0 {
            return Err(Error::kafka_tp(
                ErrorCode(code),
                "OffsetFetch",
                topic,
                partition,
            ));
        }
        if offset >= 0 {
            out.insert(
                Tp::new(topic.clone(), partition),
                OffsetAndMetadata { offset, metadata },
            );
        }
        Ok(())
    };
    if version >= 8 {
        for g in resp.groups {
            if g.error_code != 0 {
                return Err(Error::kafka(ErrorCode(g.error_code), "OffsetFetch"));
            }
            for t in g.topics {
                let topic: Arc<str> = t.name.into();
                for p in t.partitions {
                    let (i, o, c) = (p.partition_index, p.committed_offset, p.error_code);
                    take(&topic, i, o, p.metadata, c)?;
                }
            }
        }
    } else {
        if resp.error_code != 0 {
            return Err(Error::kafka(ErrorCode(resp.error_code), "OffsetFetch"));
        }
        for t in resp.topics {
            let topic: Arc<str> = t.name.into();
            for p in t.partitions {
                let (i, o, c) = (p.partition_index, p.committed_offset, p.error_code);
                take(&topic, i, o, p.metadata, c)?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod deadline_tests {
    use super::Deadline;
    use std::time::Duration;

    fn cfg() -> crate::config::ClientConfig {
        crate::config::ClientConfig {
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            ..Default::default()
        }
    }

    /// The wait grows with how long the request has been trying, whatever
    /// the timeout: a 60 s commit starts at retry.backoff.ms, a 2 s lookup
    /// does not jump to retry.backoff.max.ms; never past the deadline.
    #[test]
    fn retries_back_off_from_when_the_request_started() {
        let cfg = cfg();
        for timeout in [Duration::from_secs(2), Duration::from_secs(60)] {
            let d = Deadline::within(timeout);
            assert_eq!(d.timeout(), timeout);
            let t = d.started;
            assert_eq!(d.retry_at(&cfg, t) - t, Duration::from_millis(100));
            let at = t + Duration::from_millis(400);
            assert_eq!(d.retry_at(&cfg, at) - at, Duration::from_millis(400));
            let at = t + Duration::from_millis(1500);
            let expect = Duration::from_secs(1).min(d.at - at);
            assert_eq!(d.retry_at(&cfg, at) - at, expect, "{timeout:?}");
        }
        let d = Deadline::within(Duration::from_millis(250));
        let at = d.started + Duration::from_millis(200);
        assert_eq!(d.retry_at(&cfg, at), d.at, "not past the deadline");
        let late = d.at + Duration::from_millis(5);
        assert_eq!(d.retry_at(&cfg, late), late);
    }
}
