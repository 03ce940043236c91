//! Group membership, classic protocol, sans-IO.
//!
//! [`Membership`] is the consumer's side of the group protocol: finding the
//! coordinator, JoinGroup / SyncGroup, heartbeats, leaving, and the rebalance
//! callbacks around them. It does no I/O and reads no clock. The driver feeds
//! it inputs, each with the current time:
//!
//! - application calls: [`subscribe`](Membership::subscribe),
//!   [`unsubscribe`](Membership::unsubscribe), [`poll`](Membership::poll)
//!   (every time the application polls), [`close`](Membership::close);
//! - network results: [`on_response`](Membership::on_response),
//!   [`on_request_failed`](Membership::on_request_failed);
//! - [`on_metadata`](Membership::on_metadata) (partition counts),
//!   [`commit_done`](Membership::commit_done),
//!   [`on_coordinator_error`](Membership::on_coordinator_error) (errors from
//!   OffsetCommit / OffsetFetch that concern the group);
//! - [`handle_timeout`](Membership::handle_timeout) once
//!   [`next_timeout`](Membership::next_timeout) has passed;
//!
//! and drains [`Action`]s with [`next_action`](Membership::next_action) after
//! each input, performing them in order.
//!
//! The behaviour follows the Java consumer's `AbstractCoordinator` and
//! `ConsumerCoordinator`:
//!
//! - A (re)join starts from [`poll`](Membership::poll), as Java joins inside
//!   `poll()`: first the rebalance callbacks of the join preparation (eager:
//!   revoke everything; cooperative: revoke only partitions of topics no
//!   longer subscribed; with auto-commit, offsets are committed first), then
//!   JoinGroup. Once started, a rebalance runs to completion (retries,
//!   SyncGroup, follow-up rejoins) without further polls.
//! - Heartbeats go out every `heartbeat_interval` while the member is in the
//!   group (after the JoinGroup response, through SyncGroup, and when stable).
//!   No successful heartbeat for `session_timeout` marks the coordinator
//!   unknown and rediscovers it. No poll for `max_poll_interval` leaves the
//!   group (LeaveGroup for dynamic members; static members send nothing) and
//!   drops the partitions as lost; the next poll rejoins.
//! - Errors are handled per API as Java does: `MEMBER_ID_REQUIRED` rejoins
//!   with the given member id; `REBALANCE_IN_PROGRESS` rejoins;
//!   `ILLEGAL_GENERATION` / `UNKNOWN_MEMBER_ID` reset the generation (the
//!   member id too, for the latter), the partitions are lost, and the member
//!   rejoins; `NOT_COORDINATOR` / `COORDINATOR_NOT_AVAILABLE` and connection
//!   failures rediscover the coordinator, then retry; `FENCED_INSTANCE_ID`,
//!   group authorization failures and protocol inconsistencies are fatal.
//!
//! One deliberate difference: when the generation is reset outside a
//! rebalance (heartbeat error, poll timeout), [`Action::Lost`] is emitted
//! right away rather than at the next poll, so that the driver can stop
//! fetching partitions the member no longer owns.

use super::TopicPartition;
use super::assignor::{self, Assignor, GroupAssignment, MemberSubscription, RebalanceProtocol};
use super::discovery::Discovery;
use super::protocol::{ASSIGNMENT_VERSION, Assignment, SUBSCRIPTION_VERSION, Subscription};
use super::requests::{
    Coordinator, Destination, GroupApiVersions, GroupRequest, GroupResponse, OutboundRequest,
    RequestId,
};
use crate::consumer::backoff::Retries;
use crate::error::ConfigError;
use crate::{Error, Result};
use purekafka_protocol::messages::{
    FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
    join_group_request::JoinGroupRequestProtocol, leave_group_request::MemberIdentity,
    sync_group_request::SyncGroupRequestAssignment,
};
use purekafka_protocol::{ApiKey, DecodeError, DecodeErrorKind, ErrorCode};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// The protocol type of consumer groups.
pub const PROTOCOL_TYPE: &str = "consumer";

/// Java's extra time on the JoinGroup request timeout.
const JOIN_GROUP_TIMEOUT_LAPSE: Duration = Duration::from_secs(5);

/// Longest reason string sent to the broker (Java truncates at 255).
const MAX_REASON_LEN: usize = 255;

/// Settings of a group member. [`MembershipConfig::new`] gives the Java
/// consumer's defaults.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id`: set for a static member.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms` (45 s).
    pub session_timeout: Duration,
    /// How long the coordinator waits for members to rejoin; Java uses
    /// `max.poll.interval.ms` (300 s).
    pub rebalance_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (300 s).
    pub max_poll_interval: Duration,
    /// `retry.backoff.ms` (100 ms): the first retry of a failed
    /// FindCoordinator, JoinGroup, SyncGroup or Heartbeat waits this long,
    /// each further failure in a row twice as long (±20% jitter), up to
    /// `retry_backoff_max`; a success starts again from here.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (1 s): the longest retry backoff.
    pub retry_backoff_max: Duration,
    /// `client.rack`, sent in the subscription.
    pub rack_id: Option<String>,
    /// `enable.auto.commit` (true): commit consumed offsets before revoking
    /// partitions in a rebalance, and before leaving on close
    /// ([`Action::CommitBeforeRevoke`]).
    pub commit_before_revoke: bool,
    /// API versions to build requests for.
    pub versions: GroupApiVersions,
}

impl MembershipConfig {
    /// The Java consumer's defaults for `group_id`.
    #[cfg(test)]
    pub fn new(group_id: impl Into<String>) -> Self {
        MembershipConfig {
            group_id: group_id.into(),
            group_instance_id: None,
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1000),
            rack_id: None,
            commit_before_revoke: true,
            versions: GroupApiVersions::default(),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.group_id.is_empty() {
            return Err(ConfigError::new(
                "group.id",
                "a consumer group needs a non-empty group.id",
            )
            .into());
        }
        if let Some(id) = &self.group_instance_id
            && (id.is_empty()
                || id.len() > 249
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        {
            return Err(ConfigError::new(
                "group.instance.id",
                "must be 1 to 249 characters of ASCII letters, digits, '.', '_' and '-'",
            )
            .into());
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err(ConfigError::new(
                "heartbeat.interval.ms",
                "must be lower than session.timeout.ms",
            )
            .into());
        }
        if self.heartbeat_interval.is_zero() {
            return Err(ConfigError::new("heartbeat.interval.ms", "must be positive").into());
        }
        Ok(())
    }
}

/// What the driver must do, in order.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send the request to its destination; report the outcome with
    /// [`Membership::on_response`] or [`Membership::on_request_failed`].
    Send(OutboundRequest),
    /// The member leads this generation and needs the partition count of
    /// these topics to assign: answer with [`Membership::on_metadata`] (from
    /// the cache if it is fresh; absent topics do not exist).
    NeedMetadata {
        /// Every topic the group subscribes to.
        topics: Vec<String>,
    },
    /// Auto-commit: commit the consumed offsets of these partitions (with
    /// [`Membership::commit_generation`]) now, then call
    /// [`Membership::commit_done`], whatever the outcome. The member waits
    /// up to the rebalance timeout.
    CommitBeforeRevoke {
        /// The partitions owned now.
        partitions: Vec<TopicPartition>,
    },
    /// Call `on_partitions_revoked(partitions)`: the member gives them up
    /// (stop fetching them; they may still be committed until the next
    /// action).
    Revoked {
        /// Revoked partitions (eager: possibly empty, as in Java).
        partitions: Vec<TopicPartition>,
    },
    /// Call `on_partitions_lost(partitions)`: they may already belong to
    /// another member; stop fetching and do not commit them.
    Lost {
        /// Lost partitions (never empty).
        partitions: Vec<TopicPartition>,
    },
    /// A rebalance completed. Call `on_partitions_revoked(revoked)` if it is
    /// not empty, then `on_partitions_assigned(added)` (always, as Java);
    /// fetch `partitions`.
    Assigned {
        /// The member's full assignment.
        partitions: Vec<TopicPartition>,
        /// Newly assigned.
        added: Vec<TopicPartition>,
        /// Taken away (cooperative protocol; empty under eager, where
        /// everything was revoked before joining).
        revoked: Vec<TopicPartition>,
    },
    /// A non-fatal error worth surfacing (Java would throw it from `poll`);
    /// the member carries on. Errors it gets over by retrying or rejoining
    /// (retriable codes, the rebalance's own codes) are logged instead.
    Error(Error),
    /// The member cannot continue (fenced, not authorized, inconsistent
    /// protocol...). Owned partitions were emitted as lost; every later input
    /// is ignored but [`Membership::close`].
    Fatal(Error),
    /// [`Membership::close`] completed (LeaveGroup answered or not needed).
    Closed,
}

/// The generation the member is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The generation id (`-1`: none).
    pub generation_id: i32,
    /// The member id (empty: none).
    pub member_id: String,
    /// The assignor the coordinator chose.
    pub protocol_name: Option<String>,
}

/// The member's state, as Java names them (plus closing and failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Not in the group.
    Unjoined,
    /// Preparing to join (committing before revoke) or waiting for JoinGroup.
    PreparingRebalance,
    /// Joined; waiting for the assignment (leader: computing it).
    CompletingRebalance,
    /// Has an assignment for the current generation.
    Stable,
    /// Closing: committing, or waiting for the LeaveGroup response.
    Closing,
    /// Closed.
    Closed,
    /// Failed fatally.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FindCoordinator,
    JoinGroup,
    SyncGroup,
    Heartbeat,
    LeaveGroup,
}

impl Kind {
    fn api_key(self) -> ApiKey {
        match self {
            Kind::FindCoordinator => ApiKey::FindCoordinator,
            Kind::JoinGroup => ApiKey::JoinGroup,
            Kind::SyncGroup => ApiKey::SyncGroup,
            Kind::Heartbeat => ApiKey::Heartbeat,
            Kind::LeaveGroup => ApiKey::LeaveGroup,
        }
    }
}

#[derive(Debug)]
struct InFlight {
    id: RequestId,
    kind: Kind,
    version: i16,
    /// The generation when sent (Java's `sentGeneration`).
    generation_id: i32,
    member_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterCommit {
    Join,
    Close,
}

#[derive(Debug)]
enum Phase {
    Unjoined,
    /// Waiting for [`Membership::commit_done`] (or `deadline`) before revoking.
    Committing {
        deadline: Instant,
        then: AfterCommit,
    },
    /// PREPARING_REBALANCE: JoinGroup to send (not before `not_before`, and
    /// once the coordinator is known) or in flight.
    Joining {
        request: Option<RequestId>,
        not_before: Instant,
    },
    /// COMPLETING_REBALANCE, leader: waiting for partition counts.
    AwaitingMetadata {
        members: Vec<MemberSubscription>,
    },
    /// COMPLETING_REBALANCE: SyncGroup in flight.
    Syncing {
        request: RequestId,
    },
    Stable,
    /// LeaveGroup in flight on close.
    Leaving {
        request: RequestId,
    },
    Closed,
    Failed,
}

/// A consumer group member (classic protocol), sans-IO. See the module docs.
#[derive(Debug)]
pub struct Membership {
    config: MembershipConfig,
    assignors: Vec<Box<dyn Assignor>>,
    protocol: RebalanceProtocol,

    subscription: BTreeSet<String>,
    /// The subscription sent in the last JoinGroup.
    joined_subscription: BTreeSet<String>,
    owned: BTreeSet<TopicPartition>,

    generation: Generation,
    phase: Phase,
    rejoin_needed: bool,
    rejoin_reason: String,
    is_leader: bool,
    /// Leader: every topic the group subscribes to.
    group_subscription: BTreeSet<String>,
    /// Leader: the partition counts the assignment was computed with.
    assignment_snapshot: Option<BTreeMap<String, i32>>,

    discovery: Discovery,
    coordinator_wanted: bool,

    /// Failed JoinGroup / SyncGroup rounds since the last completed join.
    join_retries: Retries,
    /// Heartbeat failures in a row.
    heartbeat_retries: Retries,

    heartbeat_in_flight: Option<RequestId>,
    next_heartbeat: Option<Instant>,
    session_deadline: Option<Instant>,
    poll_deadline: Option<Instant>,

    in_flight: Vec<InFlight>,
    next_id: u64,
    actions: VecDeque<Action>,
}

fn ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn truncate_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_LEN {
        return reason.to_string();
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

/// Transport trouble (retry after rediscovering the coordinator) as opposed
/// to errors that retrying cannot fix.
fn is_transient(e: &Error) -> bool {
    matches!(
        e,
        Error::Connect { .. }
            | Error::Io { .. }
            | Error::Disconnected { .. }
            | Error::RequestTimeout { .. }
            | Error::BootstrapUnreachable { .. }
            | Error::Decode { .. }
    ) || e.is_retriable()
}

/// Whether an error a group response carried, outside the codes each
/// handler knows, is one the member gets over by itself (it retries or
/// rejoins after a backoff): such errors are logged, never handed to the
/// application, as Java's consumer retries them inside `poll` without
/// throwing. Retriable codes; the rebalance's own codes; and the librdkafka
/// mock's INVALID_REQUEST to a follower whose SyncGroup comes after the
/// leader's (its SyncGroup race): the member rejoins.
fn recovers_by_itself(api: &'static str, code: ErrorCode) -> bool {
    code.is_retriable()
        || matches!(
            code,
            ErrorCode::REBALANCE_IN_PROGRESS
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::MEMBER_ID_REQUIRED
        )
        || (api == "SyncGroup" && code == ErrorCode::INVALID_REQUEST)
}

fn kafka_error(code: ErrorCode, api: &'static str, message: Option<String>) -> Error {
    Error::Kafka {
        code,
        api,
        topic: None,
        partition: None,
        message,
    }
}

impl Membership {
    /// A member using `assignors`, in order of preference (at least one).
    pub fn new(config: MembershipConfig, assignors: Vec<Box<dyn Assignor>>) -> Result<Self> {
        config.validate()?;
        if assignors.is_empty() {
            return Err(ConfigError::new(
                "partition.assignment.strategy",
                "at least one assignor is needed",
            )
            .into());
        }
        let mut names = BTreeSet::new();
        for a in &assignors {
            if !names.insert(a.name()) {
                return Err(ConfigError::new(
                    "partition.assignment.strategy",
                    format!("{} is listed twice", a.name()),
                )
                .into());
            }
        }
        // The highest protocol every assignor supports.
        let protocol = assignors
            .iter()
            .map(|a| a.protocol())
            .min()
            .unwrap_or(RebalanceProtocol::Eager);
        let discovery = Discovery::new(
            &config.group_id,
            config.retry_backoff,
            config.retry_backoff_max,
        );
        Ok(Membership {
            config,
            assignors,
            protocol,
            subscription: BTreeSet::new(),
            joined_subscription: BTreeSet::new(),
            owned: BTreeSet::new(),
            generation: Generation {
                generation_id: -1,
                member_id: String::new(),
                protocol_name: None,
            },
            phase: Phase::Unjoined,
            rejoin_needed: false,
            rejoin_reason: String::new(),
            is_leader: false,
            group_subscription: BTreeSet::new(),
            assignment_snapshot: None,
            discovery,
            coordinator_wanted: false,
            join_retries: Retries::default(),
            heartbeat_retries: Retries::default(),
            heartbeat_in_flight: None,
            next_heartbeat: None,
            session_deadline: None,
            poll_deadline: None,
            in_flight: Vec::new(),
            next_id: 1,
            actions: VecDeque::new(),
        })
    }

    /// A member using the built-in assignors named in `names` (`range`,
    /// `roundrobin`, `cooperative-sticky`), in order of preference.
    pub fn with_assignor_names(config: MembershipConfig, names: &[&str]) -> Result<Self> {
        let mut assignors = Vec::with_capacity(names.len());
        for name in names {
            let a = assignor::builtin(name).ok_or_else(|| {
                Error::from(ConfigError::new(
                    "partition.assignment.strategy",
                    format!(
                        "unknown assignor {name:?} (known: range, roundrobin, cooperative-sticky)"
                    ),
                ))
            })?;
            assignors.push(a);
        }
        Membership::new(config, assignors)
    }

    // ----- accessors -----

    /// The next action to perform, in order.
    pub fn next_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |i: Option<Instant>| {
            if let Some(i) = i {
                t = Some(t.map_or(i, |t| t.min(i)));
            }
        };
        match &self.phase {
            Phase::Closed | Phase::Failed => return None,
            Phase::Committing { deadline, .. } => consider(Some(*deadline)),
            Phase::Joining {
                request: None,
                not_before,
            } if self.discovery.coordinator().is_some() => consider(Some(*not_before)),
            _ => {}
        }
        if self.wants_coordinator() {
            // Without a backoff pending, the lookup was sent already.
            consider(self.discovery.retry_at());
        }
        if self.heartbeat_enabled() {
            consider(self.poll_deadline);
            if self.discovery.coordinator().is_some() {
                consider(self.session_deadline);
                if self.heartbeat_in_flight.is_none() {
                    consider(self.next_heartbeat);
                }
            }
        }
        t
    }

    /// The state, as Java names it.
    pub fn state(&self) -> MemberState {
        match self.phase {
            Phase::Unjoined => MemberState::Unjoined,
            Phase::Committing {
                then: AfterCommit::Close,
                ..
            }
            | Phase::Leaving { .. } => MemberState::Closing,
            Phase::Committing {
                then: AfterCommit::Join,
                ..
            }
            | Phase::Stable => MemberState::Stable,
            Phase::Joining { .. } => MemberState::PreparingRebalance,
            Phase::AwaitingMetadata { .. } | Phase::Syncing { .. } => {
                MemberState::CompletingRebalance
            }
            Phase::Closed => MemberState::Closed,
            Phase::Failed => MemberState::Failed,
        }
    }

    /// The current generation (may be mid-rebalance).
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// Generation id and member id to commit offsets with, when the member
    /// is stable in a valid generation (Java's `generationIfStable`). `None`:
    /// a commit of group-assigned partitions would fail now.
    pub fn commit_generation(&self) -> Option<(i32, &str)> {
        let stable = matches!(self.phase, Phase::Stable | Phase::Committing { .. });
        (stable && self.generation_valid())
            .then_some((self.generation.generation_id, &self.generation.member_id))
    }

    /// `group.id`.
    pub fn group_id(&self) -> &str {
        &self.config.group_id
    }

    /// `group.instance.id`.
    pub fn group_instance_id(&self) -> Option<&str> {
        self.config.group_instance_id.as_deref()
    }

    /// The coordinator, when known: where OffsetCommit and OffsetFetch go.
    pub fn coordinator(&self) -> Option<&Coordinator> {
        self.discovery.coordinator()
    }

    /// The partitions the member owns now.
    #[cfg(test)]
    pub fn assignment(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// The subscription.
    pub fn subscription(&self) -> &BTreeSet<String> {
        &self.subscription
    }

    /// Whether this member leads the current generation.
    #[cfg(test)]
    pub fn is_leader(&self) -> bool {
        self.is_leader
    }

    /// The rebalance protocol in use.
    #[cfg(test)]
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        self.protocol
    }

    /// Topics whose metadata the driver should keep fresh and pass to
    /// [`on_metadata`](Self::on_metadata): the subscription, plus, for the
    /// leader, every topic the group subscribes to.
    pub fn metadata_topics(&self) -> BTreeSet<String> {
        let mut t = self.subscription.clone();
        if self.is_leader {
            t.extend(self.group_subscription.iter().cloned());
        }
        t
    }

    /// Switches API versions (after negotiating with a new coordinator).
    pub fn set_api_versions(&mut self, versions: GroupApiVersions) {
        self.config.versions = versions;
    }

    // ----- application inputs -----

    /// Subscribes to `topics` (replacing the subscription). The change takes
    /// effect at the next [`poll`](Self::poll). An empty list unsubscribes.
    pub fn subscribe<I, S>(&mut self, now: Instant, topics: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics.is_empty() {
            self.unsubscribe(now);
            return;
        }
        if self.is_terminal() {
            return;
        }
        self.subscription = topics;
        if self.subscription != self.joined_subscription {
            self.request_rejoin("subscription changed");
        }
        self.drive(now);
    }

    /// Unsubscribes: revokes (or loses) the partitions, leaves the group.
    pub fn unsubscribe(&mut self, now: Instant) {
        if self.is_terminal() || matches!(self.phase, Phase::Leaving { .. }) {
            return;
        }
        self.leave_prepare();
        self.maybe_leave_group(now, "the consumer unsubscribed from all topics");
        self.reset_generation(true, "the consumer unsubscribed from all topics");
        self.subscription.clear();
        self.joined_subscription.clear();
        self.rejoin_needed = false;
        self.coordinator_wanted = false;
        self.phase = Phase::Unjoined;
        self.drive(now);
    }

    /// The application polled: resets the `max.poll.interval` timer and, if
    /// the member must (re)join, starts the join.
    pub fn poll(&mut self, now: Instant) {
        if self.is_terminal() || self.state() == MemberState::Closing {
            return;
        }
        self.poll_deadline = Some(now + self.config.max_poll_interval);
        let idle = matches!(self.phase, Phase::Unjoined | Phase::Stable);
        if idle
            && !self.subscription.is_empty()
            && (self.rejoin_needed || self.subscription != self.joined_subscription)
        {
            self.start_join(now);
        }
        self.drive(now);
    }

    /// Closes: commits (auto-commit), revokes (or loses) the partitions and
    /// leaves the group (dynamic members only; a static member stays until
    /// its session times out, as in Java). Ends with [`Action::Closed`].
    pub fn close(&mut self, now: Instant) {
        match self.phase {
            Phase::Closed
            | Phase::Leaving { .. }
            | Phase::Committing {
                then: AfterCommit::Close,
                ..
            } => return,
            Phase::Failed => {
                self.phase = Phase::Closed;
                self.emit(Action::Closed);
                return;
            }
            Phase::Committing {
                deadline,
                then: AfterCommit::Join,
            } => {
                self.phase = Phase::Committing {
                    deadline,
                    then: AfterCommit::Close,
                };
                return;
            }
            Phase::Stable
                if self.config.commit_before_revoke
                    && !self.owned.is_empty()
                    && self.generation_valid() =>
            {
                let partitions = self.owned.iter().cloned().collect();
                self.emit(Action::CommitBeforeRevoke { partitions });
                let deadline = now + self.config.rebalance_timeout;
                self.phase = Phase::Committing {
                    deadline,
                    then: AfterCommit::Close,
                };
                self.drive(now);
                return;
            }
            _ => {}
        }
        self.finish_close(now);
    }

    /// The offsets asked for by [`Action::CommitBeforeRevoke`] were committed
    /// (or the commit failed: the member proceeds either way).
    pub fn commit_done(&mut self, now: Instant) {
        if let Phase::Committing { then, .. } = self.phase {
            self.after_commit(now, then);
        }
        self.drive(now);
    }

    // ----- network and metadata inputs -----

    /// Partition counts of topics (those in [`metadata_topics`](Self::metadata_topics);
    /// missing topics do not exist). Completes the leader's assignment after
    /// [`Action::NeedMetadata`]; later, a leader that sees counts change
    /// from those it assigned with rejoins at the next poll.
    pub fn on_metadata(&mut self, now: Instant, partition_counts: &BTreeMap<String, i32>) {
        if self.is_terminal() {
            return;
        }
        if matches!(self.phase, Phase::AwaitingMetadata { .. }) {
            let Phase::AwaitingMetadata { members } =
                std::mem::replace(&mut self.phase, Phase::Unjoined)
            else {
                return;
            };
            self.perform_assignment(now, members, partition_counts);
        } else if let Some(snapshot) = &self.assignment_snapshot
            && self.is_leader
            && *snapshot != self.counts_for(&self.group_subscription, partition_counts)
        {
            tracing::info!(group = %self.config.group_id, "partition counts changed since the assignment; rejoining");
            self.request_rejoin("cached metadata has changed");
        }
        self.drive(now);
    }

    /// The response to request `id`.
    pub fn on_response(&mut self, now: Instant, id: RequestId, response: GroupResponse) {
        let Some(pos) = self.in_flight.iter().position(|f| f.id == id) else {
            return;
        };
        let sent = self.in_flight.swap_remove(pos);
        if self.is_terminal() {
            return;
        }
        match (sent.kind, response) {
            (Kind::FindCoordinator, GroupResponse::FindCoordinator(r)) => {
                self.on_find_coordinator(now, &sent, r)
            }
            (Kind::JoinGroup, GroupResponse::JoinGroup(r)) => self.on_join_group(now, &sent, r),
            (Kind::SyncGroup, GroupResponse::SyncGroup(r)) => self.on_sync_group(now, &sent, r),
            (Kind::Heartbeat, GroupResponse::Heartbeat(r)) => self.on_heartbeat(now, &sent, r),
            (Kind::LeaveGroup, GroupResponse::LeaveGroup(r)) => self.on_leave_group(now, &sent, r),
            (kind, r) => {
                // A driver bug: handle it like a response that did not decode.
                tracing::warn!(?kind, api = ?r.api_key(), "response does not match the request");
                let e = Error::Decode {
                    broker: self.coordinator_name(),
                    api: super::requests::api_name(kind.api_key()),
                    version: sent.version,
                    source: DecodeError::new(DecodeErrorKind::InvalidValue(
                        "a response to another request",
                    )),
                };
                self.in_flight.push(sent);
                self.on_request_failed(now, id, &e);
                return;
            }
        }
        self.drive(now);
    }

    /// Request `id` got no response: connection failure, timeout, or a
    /// response that did not decode.
    pub fn on_request_failed(&mut self, now: Instant, id: RequestId, error: &Error) {
        let Some(pos) = self.in_flight.iter().position(|f| f.id == id) else {
            return;
        };
        if self.is_terminal() {
            self.in_flight.swap_remove(pos);
            return;
        }
        let kind = self.in_flight[pos].kind;
        if !is_transient(error) {
            self.in_flight.swap_remove(pos);
            if kind == Kind::LeaveGroup {
                self.leave_answered(id);
            } else {
                self.fatal(error.clone());
            }
            return;
        }
        tracing::debug!(?kind, %error, "group request failed");
        if kind == Kind::FindCoordinator {
            self.in_flight.swap_remove(pos);
            // Retried after a backoff, whatever the error.
            let _ = self.discovery.on_failed(now, error);
        } else {
            // Every in-flight coordinator request went to the current
            // coordinator: it is gone, and they all fail with this one.
            self.mark_coordinator_unknown(now, "connection to the coordinator failed");
        }
        self.drive(now);
    }

    /// An OffsetCommit / OffsetFetch (or other coordinator) response carried
    /// `code`, for a request sent with `sent_generation_id`: lets the member
    /// react as Java does (rediscover the coordinator, rejoin, reset the
    /// generation, or fail on fencing).
    pub fn on_coordinator_error(
        &mut self,
        now: Instant,
        api: &'static str,
        code: ErrorCode,
        sent_generation_id: i32,
    ) {
        if self.is_terminal() {
            return;
        }
        match code {
            ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::REQUEST_TIMED_OUT => {
                self.mark_coordinator_unknown(now, "coordinator error on commit");
            }
            ErrorCode::REBALANCE_IN_PROGRESS => self.request_rejoin("group is rebalancing"),
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION
                if sent_generation_id == self.generation.generation_id =>
            {
                self.generation_error(now, code, api);
            }
            ErrorCode::FENCED_INSTANCE_ID => self.fatal(Error::kafka(code, api)),
            _ => {}
        }
        self.drive(now);
    }

    /// Asks for the coordinator to be found even when not in a group
    /// (offset commits with manual assignment).
    pub fn ensure_coordinator(&mut self, now: Instant) {
        self.coordinator_wanted = true;
        self.drive(now);
    }

    /// Timers: call when [`next_timeout`](Self::next_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.drive(now);
    }

    // ----- internals: the loop -----

    /// An unexpected error code in a group response that the member
    /// carries on after: handed to the application only when it cannot be
    /// got over by retrying (see [`recovers_by_itself`]).
    fn unexpected(&mut self, api: &'static str, code: ErrorCode) {
        if recovers_by_itself(api, code) {
            tracing::warn!(group = %self.config.group_id, %code, api, "group request failed; retrying");
        } else {
            self.emit(Action::Error(Error::kafka(code, api)));
        }
    }

    /// When to retry a JoinGroup / SyncGroup round that failed.
    fn join_retry_at(&mut self, now: Instant) -> Instant {
        let (base, max) = (self.config.retry_backoff, self.config.retry_backoff_max);
        now + self.join_retries.failed(base, max)
    }

    /// When to retry a Heartbeat that failed.
    fn heartbeat_retry_at(&mut self, now: Instant) -> Instant {
        let (base, max) = (self.config.retry_backoff, self.config.retry_backoff_max);
        now + self.heartbeat_retries.failed(base, max)
    }

    fn emit(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    fn is_terminal(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Failed)
    }

    fn generation_valid(&self) -> bool {
        self.generation.generation_id != -1 && !self.generation.member_id.is_empty()
    }

    fn wants_coordinator(&self) -> bool {
        self.coordinator_wanted
            || !matches!(self.phase, Phase::Unjoined | Phase::Closed | Phase::Failed)
    }

    /// Java's heartbeat thread runs from the JoinGroup response on.
    fn heartbeat_enabled(&self) -> bool {
        matches!(
            self.phase,
            Phase::AwaitingMetadata { .. }
                | Phase::Syncing { .. }
                | Phase::Stable
                | Phase::Committing { .. }
        ) && self.generation_valid()
    }

    fn request_rejoin(&mut self, reason: &str) {
        tracing::info!(group = %self.config.group_id, reason, "rejoin requested");
        self.rejoin_needed = true;
        self.rejoin_reason = reason.to_string();
    }

    fn drive(&mut self, now: Instant) {
        if self.is_terminal() {
            return;
        }
        if self.heartbeat_enabled() {
            if self.discovery.coordinator().is_some()
                && self.session_deadline.is_some_and(|d| now >= d)
            {
                self.mark_coordinator_unknown(
                    now,
                    "session timed out without a heartbeat response",
                );
            }
            if self.poll_deadline.is_some_and(|d| now >= d)
                && !matches!(
                    self.phase,
                    Phase::Committing {
                        then: AfterCommit::Close,
                        ..
                    }
                )
            {
                self.poll_timeout(now);
            }
        }
        if let Phase::Committing { deadline, then } = self.phase
            && now >= deadline
        {
            tracing::warn!(group = %self.config.group_id, "commit before revoke did not finish in time; carrying on");
            self.after_commit(now, then);
        }
        if self.is_terminal() {
            return;
        }
        self.maybe_find_coordinator(now);
        self.maybe_send_join(now);
        self.maybe_heartbeat(now);
    }

    fn new_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    fn send(
        &mut self,
        kind: Kind,
        request: GroupRequest,
        version: i16,
        min_timeout: Option<Duration>,
    ) -> Option<RequestId> {
        let destination = match kind {
            Kind::FindCoordinator => Destination::AnyBroker,
            _ => Destination::Coordinator(self.discovery.coordinator()?.clone()),
        };
        let id = self.new_id();
        self.in_flight.push(InFlight {
            id,
            kind,
            version,
            generation_id: self.generation.generation_id,
            member_id: self.generation.member_id.clone(),
        });
        self.emit(Action::Send(OutboundRequest {
            id,
            destination,
            version,
            request,
            min_timeout,
        }));
        Some(id)
    }

    fn maybe_find_coordinator(&mut self, now: Instant) {
        if !self.wants_coordinator() {
            return;
        }
        let version = self.config.versions.find_coordinator;
        if let Some(r) = self.discovery.request(now, version) {
            self.send(
                Kind::FindCoordinator,
                GroupRequest::FindCoordinator(r),
                version,
                None,
            );
        }
    }

    fn mark_coordinator_unknown(&mut self, now: Instant, reason: &str) {
        let Some(old) = self.discovery.lost() else {
            return;
        };
        tracing::info!(group = %self.config.group_id, coordinator = %old, reason, "group coordinator unavailable; rediscovering");
        // Requests to it will not be answered usefully: fail them all.
        let failed: Vec<InFlight> = {
            let (gone, keep) = std::mem::take(&mut self.in_flight)
                .into_iter()
                .partition(|f| f.kind != Kind::FindCoordinator);
            self.in_flight = keep;
            gone
        };
        for f in failed {
            match f.kind {
                Kind::Heartbeat => {
                    self.heartbeat_in_flight = None;
                    self.next_heartbeat = Some(self.heartbeat_retry_at(now));
                }
                Kind::JoinGroup | Kind::SyncGroup => {
                    let current = match self.phase {
                        Phase::Joining {
                            request: Some(r), ..
                        }
                        | Phase::Syncing { request: r } => r == f.id,
                        _ => false,
                    };
                    if current {
                        self.request_rejoin("coordinator unavailable during the rebalance");
                        let at = self.join_retry_at(now);
                        self.enter_joining(at);
                    }
                }
                Kind::LeaveGroup => self.leave_answered(f.id),
                Kind::FindCoordinator => {}
            }
        }
    }

    // ----- joining -----

    /// Java's `onJoinPrepare`, then JoinGroup.
    fn start_join(&mut self, now: Instant) {
        if !self.generation_valid() {
            self.lose_all();
            self.enter_joining(now);
            return;
        }
        if self.config.commit_before_revoke && !self.owned.is_empty() {
            let partitions = self.owned.iter().cloned().collect();
            self.emit(Action::CommitBeforeRevoke { partitions });
            self.phase = Phase::Committing {
                deadline: now + self.config.rebalance_timeout,
                then: AfterCommit::Join,
            };
            return;
        }
        self.revoke_for_join();
        self.enter_joining(now);
    }

    fn after_commit(&mut self, now: Instant, then: AfterCommit) {
        match then {
            AfterCommit::Join => {
                if self.generation_valid() {
                    self.revoke_for_join();
                } else {
                    self.lose_all();
                }
                self.enter_joining(now);
            }
            AfterCommit::Close => self.finish_close(now),
        }
    }

    fn revoke_for_join(&mut self) {
        match self.protocol {
            RebalanceProtocol::Eager => {
                let partitions: Vec<TopicPartition> =
                    std::mem::take(&mut self.owned).into_iter().collect();
                self.emit(Action::Revoked { partitions });
            }
            RebalanceProtocol::Cooperative => {
                let gone: Vec<TopicPartition> = self
                    .owned
                    .iter()
                    .filter(|tp| !self.subscription.contains(&*tp.topic))
                    .cloned()
                    .collect();
                if !gone.is_empty() {
                    for tp in &gone {
                        self.owned.remove(tp);
                    }
                    self.emit(Action::Revoked { partitions: gone });
                }
            }
        }
    }

    fn lose_all(&mut self) {
        if !self.owned.is_empty() {
            let partitions: Vec<TopicPartition> =
                std::mem::take(&mut self.owned).into_iter().collect();
            tracing::info!(group = %self.config.group_id, ?partitions, "partitions lost");
            self.emit(Action::Lost { partitions });
        }
    }

    fn enter_joining(&mut self, not_before: Instant) {
        self.is_leader = false;
        self.group_subscription.clear();
        self.assignment_snapshot = None;
        self.phase = Phase::Joining {
            request: None,
            not_before,
        };
    }

    fn maybe_send_join(&mut self, now: Instant) {
        let Phase::Joining {
            request: None,
            not_before,
        } = self.phase
        else {
            return;
        };
        if self.discovery.coordinator().is_none() || now < not_before {
            return;
        }
        let version = self.config.versions.join_group;
        if self.config.group_instance_id.is_some() && version < 5 {
            self.fatal(Error::Unsupported(
                "static membership (group.instance.id) with a broker below JoinGroup v5",
            ));
            return;
        }
        let topics: Vec<String> = self.subscription.iter().cloned().collect();
        let owned: Vec<TopicPartition> = self.owned.iter().cloned().collect();
        let protocols: Result<Vec<_>> = self
            .assignors
            .iter()
            .map(|a| {
                let subscription = Subscription {
                    topics: topics.clone(),
                    user_data: a.user_data(&topics, self.generation.generation_id),
                    owned_partitions: owned.clone(),
                    generation_id: self.generation.generation_id,
                    rack_id: self.config.rack_id.clone(),
                };
                Ok(JoinGroupRequestProtocol {
                    name: a.name().to_string(),
                    metadata: subscription.encode(SUBSCRIPTION_VERSION)?,
                    ..Default::default()
                })
            })
            .collect();
        let protocols = match protocols {
            Ok(p) => p,
            Err(e) => return self.fatal(e),
        };
        let request = JoinGroupRequest {
            group_id: self.config.group_id.clone(),
            session_timeout_ms: ms(self.config.session_timeout),
            rebalance_timeout_ms: if version >= 1 {
                ms(self.config.rebalance_timeout)
            } else {
                -1
            },
            member_id: self.generation.member_id.clone(),
            group_instance_id: self.instance_id_from(5, version),
            protocol_type: PROTOCOL_TYPE.to_string(),
            protocols,
            reason: (version >= 8).then(|| truncate_reason(&self.rejoin_reason)),
            ..Default::default()
        };
        tracing::info!(group = %self.config.group_id, member = %self.generation.member_id, "(re)joining group");
        let timeout = self
            .config
            .rebalance_timeout
            .saturating_add(JOIN_GROUP_TIMEOUT_LAPSE);
        let id = self.send(
            Kind::JoinGroup,
            GroupRequest::JoinGroup(request),
            version,
            Some(timeout),
        );
        self.joined_subscription = self.subscription.clone();
        self.phase = Phase::Joining {
            request: id,
            not_before,
        };
    }

    fn is_current(&self, id: RequestId) -> bool {
        match self.phase {
            Phase::Joining {
                request: Some(r), ..
            }
            | Phase::Syncing { request: r }
            | Phase::Leaving { request: r } => r == id,
            _ => false,
        }
    }

    fn generation_unchanged(&self, sent: &InFlight) -> bool {
        sent.generation_id == self.generation.generation_id
            && sent.member_id == self.generation.member_id
    }

    fn on_join_group(&mut self, now: Instant, sent: &InFlight, r: JoinGroupResponse) {
        if !self.is_current(sent.id) {
            return;
        }
        let code = ErrorCode(r.error_code);
        let retry_now = now;
        match code {
            ErrorCode::NONE => self.joined(now, r),
            ErrorCode::MEMBER_ID_REQUIRED => {
                // Rejoin at once with the member id the coordinator gave.
                self.generation = Generation {
                    generation_id: -1,
                    member_id: r.member_id,
                    protocol_name: None,
                };
                self.request_rejoin("need to re-join with the given member-id");
                self.enter_joining(retry_now);
            }
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => {
                if self.generation_unchanged(sent) {
                    self.reset_generation(code == ErrorCode::UNKNOWN_MEMBER_ID, "JoinGroup error");
                }
                self.request_rejoin(if code == ErrorCode::UNKNOWN_MEMBER_ID {
                    "rebalance failed due to UnknownMemberIdException"
                } else {
                    "rebalance failed due to IllegalGenerationException"
                });
                self.enter_joining(retry_now);
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                self.request_rejoin("rebalance failed due to RebalanceInProgressException");
                self.enter_joining(retry_now);
            }
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
                let at = self.join_retry_at(now);
                self.enter_joining(at);
            }
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                let at = self.join_retry_at(now);
                self.enter_joining(at);
                self.mark_coordinator_unknown(now, "JoinGroup: not the coordinator");
            }
            ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::INCONSISTENT_GROUP_PROTOCOL
            | ErrorCode::INVALID_SESSION_TIMEOUT
            | ErrorCode::INVALID_GROUP_ID
            | ErrorCode::GROUP_AUTHORIZATION_FAILED
            | ErrorCode::GROUP_MAX_SIZE_REACHED
            | ErrorCode::UNSUPPORTED_VERSION => self.fatal(Error::kafka(code, "JoinGroup")),
            _ => {
                self.unexpected("JoinGroup", code);
                let at = self.join_retry_at(now);
                self.enter_joining(at);
            }
        }
    }

    /// A successful JoinGroup response.
    fn joined(&mut self, now: Instant, r: JoinGroupResponse) {
        if let Some(t) = r.protocol_type.as_deref()
            && t != PROTOCOL_TYPE
        {
            let msg =
                format!("coordinator answered protocol type {t:?}, expected {PROTOCOL_TYPE:?}");
            self.fatal(kafka_error(
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                "JoinGroup",
                Some(msg),
            ));
            return;
        }
        let name = r.protocol_name.clone().unwrap_or_default();
        if !self.assignors.iter().any(|a| a.name() == name) {
            let msg =
                format!("coordinator selected assignor {name:?}, which this member does not have");
            self.fatal(kafka_error(
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                "JoinGroup",
                Some(msg),
            ));
            return;
        }
        self.generation = Generation {
            generation_id: r.generation_id,
            member_id: r.member_id.clone(),
            protocol_name: Some(name),
        };
        tracing::info!(group = %self.config.group_id, generation = r.generation_id, member = %r.member_id, leader = %r.leader, "joined group");
        // Java enables the heartbeat thread here, resetting its timers.
        self.session_deadline = Some(now + self.config.session_timeout);
        self.poll_deadline = Some(now + self.config.max_poll_interval);
        self.next_heartbeat = Some(now + self.config.heartbeat_interval);

        if r.leader != r.member_id {
            self.send_sync(now, Vec::new());
            return;
        }
        self.is_leader = true;
        let mut members = Vec::with_capacity(r.members.len());
        for m in r.members {
            let subscription = match Subscription::decode(m.metadata) {
                Ok(s) => s,
                Err(source) => {
                    // Java fails the rebalance; we give that member nothing.
                    self.emit(Action::Error(Error::Decode {
                        broker: self.coordinator_name(),
                        api: "JoinGroup",
                        version: self.config.versions.join_group,
                        source,
                    }));
                    Subscription::default()
                }
            };
            members.push(MemberSubscription {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                subscription,
            });
        }
        self.group_subscription = members
            .iter()
            .flat_map(|m| m.subscription.topics.iter().cloned())
            .collect();
        if r.skip_assignment {
            // A returning static leader whose assignment the coordinator kept.
            self.send_sync(now, Vec::new());
            return;
        }
        let topics = self.group_subscription.iter().cloned().collect();
        self.phase = Phase::AwaitingMetadata { members };
        self.emit(Action::NeedMetadata { topics });
    }

    fn coordinator_name(&self) -> String {
        self.discovery
            .coordinator()
            .as_ref()
            .map_or_else(|| "coordinator".to_string(), |c| c.to_string())
    }

    fn counts_for(
        &self,
        topics: &BTreeSet<String>,
        counts: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, i32> {
        topics
            .iter()
            .filter_map(|t| counts.get(t).filter(|n| **n > 0).map(|n| (t.clone(), *n)))
            .collect()
    }

    /// The leader's assignment (Java's `onLeaderElected`).
    fn perform_assignment(
        &mut self,
        now: Instant,
        members: Vec<MemberSubscription>,
        counts: &BTreeMap<String, i32>,
    ) {
        let name = self.generation.protocol_name.clone().unwrap_or_default();
        let Some(assignor) = self.assignors.iter().find(|a| a.name() == name) else {
            self.fatal(kafka_error(
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                "SyncGroup",
                Some(name),
            ));
            return;
        };
        let counts = self.counts_for(&self.group_subscription, counts);
        let result = assignor.assign(&counts, &members).and_then(|a| {
            if self.protocol == RebalanceProtocol::Cooperative
                && assignor.name() != "cooperative-sticky"
            {
                validate_cooperative(&members, &a)?;
            }
            Ok(a)
        });
        let assignment = match result {
            Ok(a) => a,
            Err(e) => {
                self.emit(Action::Error(e));
                self.request_rejoin("assignment failed");
                let at = self.join_retry_at(now);
                self.enter_joining(at);
                return;
            }
        };
        let out: Result<Vec<_>> = members
            .iter()
            .map(|m| {
                let partitions = assignment.get(&m.member_id).cloned().unwrap_or_default();
                let a = Assignment {
                    partitions,
                    user_data: None,
                };
                Ok(SyncGroupRequestAssignment {
                    member_id: m.member_id.clone(),
                    assignment: a.encode(ASSIGNMENT_VERSION)?,
                    ..Default::default()
                })
            })
            .collect();
        let out = match out {
            Ok(o) => o,
            Err(e) => return self.fatal(e),
        };
        self.assignment_snapshot = Some(counts);
        self.send_sync(now, out);
    }

    /// `group.instance.id` for a request at `version` of an API that has
    /// the field from version `since` on (JoinGroup 5, SyncGroup and
    /// Heartbeat 3); None before.
    fn instance_id_from(&self, since: i16, version: i16) -> Option<String> {
        if version >= since {
            self.config.group_instance_id.clone()
        } else {
            None
        }
    }

    fn send_sync(&mut self, now: Instant, assignments: Vec<SyncGroupRequestAssignment>) {
        let version = self.config.versions.sync_group;
        let request = SyncGroupRequest {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation.generation_id,
            member_id: self.generation.member_id.clone(),
            group_instance_id: self.instance_id_from(3, version),
            protocol_type: (version >= 5).then(|| PROTOCOL_TYPE.to_string()),
            protocol_name: if version >= 5 {
                self.generation.protocol_name.clone()
            } else {
                None
            },
            assignments,
            ..Default::default()
        };
        match self.send(
            Kind::SyncGroup,
            GroupRequest::SyncGroup(request),
            version,
            None,
        ) {
            Some(id) => self.phase = Phase::Syncing { request: id },
            None => {
                // The coordinator went away while the leader assigned.
                self.request_rejoin("coordinator unavailable during the rebalance");
                let at = self.join_retry_at(now);
                self.enter_joining(at);
            }
        }
    }

    fn on_sync_group(&mut self, now: Instant, sent: &InFlight, r: SyncGroupResponse) {
        if !self.is_current(sent.id) {
            return;
        }
        let code = ErrorCode(r.error_code);
        match code {
            ErrorCode::NONE => {
                let type_ok = r
                    .protocol_type
                    .as_deref()
                    .is_none_or(|t| t == PROTOCOL_TYPE);
                let name_ok = r.protocol_name.is_none()
                    || r.protocol_name.as_deref() == self.generation.protocol_name.as_deref();
                if !type_ok || !name_ok {
                    let msg = format!(
                        "SyncGroup answered protocol {:?}/{:?}",
                        r.protocol_type, r.protocol_name
                    );
                    self.fatal(kafka_error(
                        ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                        "SyncGroup",
                        Some(msg),
                    ));
                    return;
                }
                match Assignment::decode(r.assignment) {
                    Ok(a) => self.join_complete(now, a),
                    Err(source) => {
                        self.emit(Action::Error(Error::Decode {
                            broker: self.coordinator_name(),
                            api: "SyncGroup",
                            version: self.config.versions.sync_group,
                            source,
                        }));
                        self.request_rejoin("malformed assignment");
                        let at = self.join_retry_at(now);
                        self.enter_joining(at);
                    }
                }
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                self.request_rejoin("rebalance failed due to RebalanceInProgressException");
                self.enter_joining(now);
            }
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => {
                if self.generation_unchanged(sent) {
                    // ILLEGAL_GENERATION keeps the member id: it may still be valid.
                    self.reset_generation(code == ErrorCode::UNKNOWN_MEMBER_ID, "SyncGroup error");
                }
                self.request_rejoin("rebalance failed: stale generation");
                self.enter_joining(now);
            }
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                self.request_rejoin("rebalance failed: coordinator moved");
                let at = self.join_retry_at(now);
                self.enter_joining(at);
                self.mark_coordinator_unknown(now, "SyncGroup: not the coordinator");
            }
            ErrorCode::FENCED_INSTANCE_ID | ErrorCode::GROUP_AUTHORIZATION_FAILED => {
                self.fatal(Error::kafka(code, "SyncGroup"))
            }
            _ => {
                self.unexpected("SyncGroup", code);
                self.request_rejoin("SyncGroup failed");
                let at = self.join_retry_at(now);
                self.enter_joining(at);
            }
        }
    }

    /// Java's `onJoinComplete`.
    fn join_complete(&mut self, now: Instant, assignment: Assignment) {
        self.phase = Phase::Stable;
        self.join_retries.succeeded();
        self.rejoin_needed = false;
        self.rejoin_reason.clear();
        if !self.is_leader {
            self.assignment_snapshot = None;
        }
        let assigned: BTreeSet<TopicPartition> = assignment.partitions.into_iter().collect();
        if let Some(tp) = assigned
            .iter()
            .find(|tp| !self.subscription.contains(&*tp.topic))
        {
            tracing::info!(group = %self.config.group_id, topic = %tp.topic, "assignment does not match the subscription; rejoining");
            self.request_rejoin("received assignment does not match the current subscription");
            self.start_join(now);
            return;
        }
        let added: Vec<TopicPartition> = assigned.difference(&self.owned).cloned().collect();
        let revoked: Vec<TopicPartition> = match self.protocol {
            RebalanceProtocol::Cooperative => self.owned.difference(&assigned).cloned().collect(),
            RebalanceProtocol::Eager => Vec::new(),
        };
        self.owned = assigned;
        tracing::info!(group = %self.config.group_id, generation = self.generation.generation_id, ?added, ?revoked, "assignment received");
        self.emit(Action::Assigned {
            partitions: self.owned.iter().cloned().collect(),
            added,
            revoked: revoked.clone(),
        });
        if !revoked.is_empty() {
            // Cooperative: rejoin so that the revoked partitions can be
            // assigned to their new owners.
            self.request_rejoin("need to revoke partitions and re-join");
            self.start_join(now);
        }
    }

    // ----- heartbeats -----

    fn maybe_heartbeat(&mut self, now: Instant) {
        if !self.heartbeat_enabled()
            || self.discovery.coordinator().is_none()
            || self.heartbeat_in_flight.is_some()
        {
            return;
        }
        if self.next_heartbeat.is_some_and(|t| now < t) {
            return;
        }
        let version = self.config.versions.heartbeat;
        let request = HeartbeatRequest {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation.generation_id,
            member_id: self.generation.member_id.clone(),
            group_instance_id: self.instance_id_from(3, version),
            ..Default::default()
        };
        self.next_heartbeat = Some(now + self.config.heartbeat_interval);
        self.heartbeat_in_flight = self.send(
            Kind::Heartbeat,
            GroupRequest::Heartbeat(request),
            version,
            None,
        );
    }

    fn on_heartbeat(&mut self, now: Instant, sent: &InFlight, r: HeartbeatResponse) {
        if self.heartbeat_in_flight == Some(sent.id) {
            self.heartbeat_in_flight = None;
        }
        let code = ErrorCode(r.error_code);
        match code {
            ErrorCode::NONE => {
                self.heartbeat_retries.succeeded();
                self.session_deadline = Some(now + self.config.session_timeout);
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                // Keep heartbeating through the rebalance.
                self.heartbeat_retries.succeeded();
                self.session_deadline = Some(now + self.config.session_timeout);
                if matches!(self.phase, Phase::Stable) {
                    self.request_rejoin("group is already rebalancing");
                }
            }
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                self.next_heartbeat = Some(self.heartbeat_retry_at(now));
                self.mark_coordinator_unknown(now, "Heartbeat: not the coordinator");
            }
            ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::FENCED_INSTANCE_ID => {
                if !self.generation_unchanged(sent) {
                    return; // about a generation we already left
                }
                if code == ErrorCode::FENCED_INSTANCE_ID {
                    self.fatal(Error::kafka(code, "Heartbeat"));
                } else {
                    self.generation_error(now, code, "Heartbeat");
                }
            }
            ErrorCode::GROUP_AUTHORIZATION_FAILED => self.fatal(Error::kafka(code, "Heartbeat")),
            _ => {
                self.unexpected("Heartbeat", code);
                self.next_heartbeat = Some(self.heartbeat_retry_at(now));
            }
        }
    }

    /// ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID outside JoinGroup and SyncGroup.
    fn generation_error(&mut self, now: Instant, code: ErrorCode, api: &'static str) {
        let reason = format!("encountered {code} from {api} response");
        self.reset_generation(code == ErrorCode::UNKNOWN_MEMBER_ID, &reason);
        match self.phase {
            // Mid-rebalance: the rebalance restarts (the stale SyncGroup
            // response will be ignored).
            Phase::AwaitingMetadata { .. }
            | Phase::Syncing { .. }
            | Phase::Committing {
                then: AfterCommit::Join,
                ..
            } => self.enter_joining(now),
            Phase::Committing {
                then: AfterCommit::Close,
                ..
            } => self.finish_close(now),
            // Stable: rejoin at the next poll, as Java.
            Phase::Stable => self.phase = Phase::Unjoined,
            _ => {}
        }
    }

    /// Java's `resetStateAndRejoin`: forget the generation (and the member
    /// id); owned partitions are lost.
    fn reset_generation(&mut self, reset_member_id: bool, reason: &str) {
        self.generation.generation_id = -1;
        self.generation.protocol_name = None;
        if reset_member_id {
            self.generation.member_id.clear();
        }
        self.lose_all();
        self.request_rejoin(reason);
    }

    fn poll_timeout(&mut self, now: Instant) {
        tracing::warn!(
            group = %self.config.group_id,
            "consumer poll timeout has expired: the time between polls exceeded max.poll.interval.ms; leaving the group"
        );
        self.maybe_leave_group(now, "consumer poll timeout has expired.");
        self.reset_generation(true, "consumer poll timeout has expired.");
        self.phase = Phase::Unjoined;
        self.poll_deadline = None;
    }

    // ----- leaving -----

    /// Java's `onLeavePrepare`.
    fn leave_prepare(&mut self) {
        if self.owned.is_empty() {
            return;
        }
        let rebalancing = matches!(
            self.phase,
            Phase::Joining { .. } | Phase::AwaitingMetadata { .. } | Phase::Syncing { .. }
        );
        if !self.generation_valid() || rebalancing {
            self.lose_all();
        } else {
            let partitions: Vec<TopicPartition> =
                std::mem::take(&mut self.owned).into_iter().collect();
            self.emit(Action::Revoked { partitions });
        }
    }

    /// Java's `maybeLeaveGroup`: only dynamic members in the group send
    /// LeaveGroup (once, not retried).
    fn maybe_leave_group(&mut self, _now: Instant, reason: &str) -> Option<RequestId> {
        let joined = !matches!(self.phase, Phase::Unjoined);
        if self.config.group_instance_id.is_some()
            || self.discovery.coordinator().is_none()
            || !joined
            || self.generation.member_id.is_empty()
        {
            return None;
        }
        let version = self.config.versions.leave_group;
        let mut request = LeaveGroupRequest {
            group_id: self.config.group_id.clone(),
            ..Default::default()
        };
        if version >= 3 {
            request.members = vec![MemberIdentity {
                member_id: self.generation.member_id.clone(),
                group_instance_id: None,
                reason: (version >= 5).then(|| truncate_reason(reason)),
                ..Default::default()
            }];
        } else {
            request.member_id = self.generation.member_id.clone();
        }
        tracing::info!(group = %self.config.group_id, member = %self.generation.member_id, reason, "leaving group");
        self.send(
            Kind::LeaveGroup,
            GroupRequest::LeaveGroup(request),
            version,
            None,
        )
    }

    fn finish_close(&mut self, now: Instant) {
        self.leave_prepare();
        let request = self.maybe_leave_group(now, "the consumer is being closed");
        self.reset_generation(true, "the consumer is being closed");
        self.rejoin_needed = false;
        match request {
            Some(request) => self.phase = Phase::Leaving { request },
            None => {
                self.phase = Phase::Closed;
                self.emit(Action::Closed);
            }
        }
    }

    fn leave_answered(&mut self, id: RequestId) {
        if matches!(self.phase, Phase::Leaving { request } if request == id) {
            self.phase = Phase::Closed;
            self.emit(Action::Closed);
        }
    }

    fn on_leave_group(&mut self, _now: Instant, sent: &InFlight, r: LeaveGroupResponse) {
        let code = ErrorCode(r.error_code);
        let member_code = r
            .members
            .first()
            .map_or(ErrorCode::NONE, |m| ErrorCode(m.error_code));
        if code != ErrorCode::NONE || member_code != ErrorCode::NONE {
            tracing::info!(group = %self.config.group_id, %code, %member_code, "LeaveGroup failed");
        }
        self.leave_answered(sent.id);
    }

    fn on_find_coordinator(&mut self, now: Instant, sent: &InFlight, r: FindCoordinatorResponse) {
        match self.discovery.on_response(now, sent.version, r) {
            Some(Ok(_)) => self.session_deadline = Some(now + self.config.session_timeout),
            Some(Err(e)) if e.code() == Some(ErrorCode::GROUP_AUTHORIZATION_FAILED) => {
                self.fatal(e)
            }
            // Looked up again after a backoff; Java's poll throws what
            // retrying cannot fix, and polls again.
            Some(Err(e @ Error::Kafka { .. })) => self.emit(Action::Error(e)),
            Some(Err(_)) | None => {}
        }
    }

    fn fatal(&mut self, error: Error) {
        // A denied group names the group (the broker's message does not;
        // FindCoordinator's errors name their key already).
        let error = match error {
            Error::Kafka {
                code: ErrorCode::GROUP_AUTHORIZATION_FAILED,
                api,
                topic,
                partition,
                message,
            } if api != "FindCoordinator" => Error::Kafka {
                code: ErrorCode::GROUP_AUTHORIZATION_FAILED,
                api,
                topic,
                partition,
                message: Some(match message.filter(|m| !m.is_empty()) {
                    Some(m) => format!("group {}: {m}", self.config.group_id),
                    None => format!("group {}", self.config.group_id),
                }),
            },
            e => e,
        };
        tracing::error!(group = %self.config.group_id, %error, "group membership failed");
        self.lose_all();
        self.in_flight.clear();
        self.heartbeat_in_flight = None;
        self.phase = Phase::Failed;
        self.emit(Action::Fatal(error));
    }
}

/// Java's `validateCooperativeAssignment` for custom cooperative assignors:
/// no partition may be given to a member while another still owns it.
fn validate_cooperative(
    members: &[MemberSubscription],
    assignment: &GroupAssignment,
) -> Result<()> {
    let mut owner: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
    for m in members {
        for tp in &m.subscription.owned_partitions {
            owner.insert(tp, &m.member_id);
        }
    }
    for (member, parts) in assignment {
        for tp in parts {
            if let Some(o) = owner.get(tp)
                && *o != member.as_str()
            {
                return Err(kafka_error(
                    ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                    "SyncGroup",
                    Some(format!(
                        "assignor gave {tp} to {member} while {o} still owns it (cooperative protocol)"
                    )),
                ));
            }
        }
    }
    Ok(())
}
