//! Share group membership (KIP-932), sans-IO: the ShareGroupHeartbeat
//! state machine. The broker assigns partitions; the member says what it
//! subscribes to, heartbeats at the interval the coordinator asks for, and
//! takes the assignment each response may carry.
//!
//! The driver asks [`ShareMembership::poll_action`] what to do at `now`
//! (find the coordinator, or send a heartbeat), reports the outcome
//! ([`on_coordinator`](ShareMembership::on_coordinator),
//! [`on_heartbeat`](ShareMembership::on_heartbeat)) and sleeps until
//! [`next_wakeup`](ShareMembership::next_wakeup). Like Java's
//! `ShareMembershipManager`:
//! - the member id is the client's own (a random UUID), kept for life;
//!   epoch 0 joins, -1 leaves;
//! - the subscription goes with the joining heartbeat and whenever it
//!   changes (null otherwise), the rack with the joining one;
//! - UNKNOWN_MEMBER_ID and FENCED_MEMBER_EPOCH drop the assignment and
//!   rejoin at epoch 0 at once; NOT_COORDINATOR and
//!   COORDINATOR_NOT_AVAILABLE look the coordinator up again;
//!   COORDINATOR_LOAD_IN_PROGRESS and failed requests retry after the
//!   retry backoff; any other error is fatal and reported to the
//!   application (GROUP_AUTHORIZATION_FAILED, GROUP_MAX_SIZE_REACHED,
//!   INVALID_REQUEST, UNSUPPORTED_VERSION, ...).

use crate::consumer::backoff::Retries;
use crate::error::Error;
use purekafka_protocol::messages::{ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse};
use purekafka_protocol::{ErrorCode, Uuid};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The epoch of a member that joins.
pub(crate) const JOIN: i32 = 0;
/// The epoch of a member that leaves.
pub(crate) const LEAVE: i32 = -1;

/// Settings of the member.
#[derive(Debug, Clone)]
pub(crate) struct ShareMembershipConfig {
    pub group_id: String,
    pub member_id: String,
    pub rack: Option<String>,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// `max.poll.interval.ms`: a member whose application does not poll
    /// this long leaves the group (its records go to the others), and
    /// rejoins at its next poll.
    pub max_poll_interval: Duration,
}

/// What the driver should do now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Look up the group's coordinator; report with `on_coordinator`.
    FindCoordinator,
    /// Send this heartbeat to the coordinator; report with `on_heartbeat`.
    Heartbeat(ShareGroupHeartbeatRequest),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not subscribed to anything: no heartbeats.
    Idle,
    /// Joining or a member (epoch > 0).
    Active,
    /// A leave heartbeat is due or in flight.
    Leaving,
    /// Left (or gave up): no more heartbeats.
    Done,
}

/// The member's state.
#[derive(Debug)]
pub(crate) struct ShareMembership {
    cfg: ShareMembershipConfig,
    state: State,
    epoch: i32,
    subscription: BTreeSet<String>,
    /// The subscription changed since the coordinator last took it.
    send_subscription: bool,
    assignment: BTreeMap<Uuid, BTreeSet<i32>>,
    /// Bumped whenever the assignment changes.
    assignment_gen: u64,
    interval: Duration,
    have_coordinator: bool,
    finding: bool,
    in_flight: bool,
    /// The subscription and epoch the heartbeat in flight carried.
    sent: Option<(bool, i32)>,
    next_at: Option<Instant>,
    retries: Retries,
    fatal: Option<Error>,
    /// When the application last polled (`None`: not yet).
    last_poll: Option<Instant>,
    /// Left because the application stopped polling; the next poll rejoins.
    stale: bool,
    /// Polled again while that leave was in flight: rejoin after it.
    stale_rejoin: bool,
    /// Went stale since the driver last asked ([`take_went_stale`](Self::take_went_stale)).
    went_stale: bool,
}

impl ShareMembership {
    pub fn new(cfg: ShareMembershipConfig) -> Self {
        ShareMembership {
            cfg,
            state: State::Idle,
            epoch: JOIN,
            subscription: BTreeSet::new(),
            send_subscription: false,
            assignment: BTreeMap::new(),
            assignment_gen: 0,
            interval: Duration::from_secs(5),
            have_coordinator: false,
            finding: false,
            in_flight: false,
            sent: None,
            next_at: None,
            retries: Retries::default(),
            fatal: None,
            last_poll: None,
            stale: false,
            stale_rejoin: false,
            went_stale: false,
        }
    }

    /// The member epoch (0 while joining).
    #[cfg(test)]
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// The assigned partitions, by topic id, and a number that changes
    /// whenever they do.
    pub fn assignment(&self) -> (&BTreeMap<Uuid, BTreeSet<i32>>, u64) {
        (&self.assignment, self.assignment_gen)
    }

    /// The error that stopped the membership, if one did.
    pub fn fatal(&self) -> Option<&Error> {
        self.fatal.as_ref()
    }

    /// Whether the member has left (or stopped for good).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Subscribes to `topics` (replacing the subscription); an empty set
    /// leaves the group.
    pub fn subscribe(&mut self, topics: BTreeSet<String>, now: Instant) {
        if topics.is_empty() {
            if self.state == State::Active {
                self.leave(now);
            }
            self.subscription.clear();
            return;
        }
        if topics == self.subscription && self.state == State::Active {
            return;
        }
        self.subscription = topics;
        self.send_subscription = true;
        if matches!(self.state, State::Idle | State::Done | State::Leaving) && self.fatal.is_none()
        {
            self.state = State::Active;
            self.epoch = JOIN;
        }
        self.next_at = Some(now);
    }

    /// The application polled: a member that left for not polling
    /// (`max.poll.interval.ms`) rejoins. Returns whether it does.
    pub fn polled(&mut self, now: Instant) -> bool {
        self.last_poll = Some(now);
        if !self.stale {
            return false;
        }
        self.stale = false;
        if self.fatal.is_some() || self.subscription.is_empty() {
            return false;
        }
        tracing::info!(group = %self.cfg.group_id, member = %self.cfg.member_id, "polled again: rejoining the share group");
        if self.state == State::Done {
            self.state = State::Active;
            self.epoch = JOIN;
            self.send_subscription = true;
            self.next_at = Some(now);
        } else {
            // The leave is still under way: rejoin once it is done.
            self.stale_rejoin = true;
        }
        true
    }

    /// Whether the member left for not polling since the last call: the
    /// driver then closes its share sessions, so that the broker releases
    /// the records it holds to the other members at once (not when their
    /// locks time out).
    pub fn take_went_stale(&mut self) -> bool {
        std::mem::take(&mut self.went_stale)
    }

    /// When the member goes stale unless the application polls.
    fn poll_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Active => self.last_poll.map(|t| t + self.cfg.max_poll_interval),
            _ => None,
        }
    }

    /// Leaves the group: the next heartbeat carries epoch -1.
    pub fn leave(&mut self, now: Instant) {
        match self.state {
            State::Active if self.epoch > JOIN || self.in_flight => {
                self.state = State::Leaving;
                self.next_at = Some(now);
            }
            // Never joined: nothing to tell the coordinator.
            State::Active | State::Idle => self.state = State::Done,
            State::Leaving | State::Done => {}
        }
        self.clear_assignment();
    }

    fn clear_assignment(&mut self) {
        if !self.assignment.is_empty() {
            self.assignment.clear();
            self.assignment_gen += 1;
        }
    }

    /// What to do at `now`, if anything.
    pub fn poll_action(&mut self, now: Instant) -> Option<Action> {
        if matches!(self.state, State::Idle | State::Done) || self.in_flight || self.finding {
            return None;
        }
        if self.poll_deadline().is_some_and(|t| now >= t) {
            tracing::warn!(
                group = %self.cfg.group_id,
                member = %self.cfg.member_id,
                "no poll for max.poll.interval.ms ({:?}): leaving the share group; the next poll rejoins",
                self.cfg.max_poll_interval
            );
            self.leave(now);
            self.stale = true;
            self.went_stale = true;
        }
        if self.next_at.is_some_and(|t| t > now) {
            return None;
        }
        if !self.have_coordinator {
            self.finding = true;
            return Some(Action::FindCoordinator);
        }
        let leaving = self.state == State::Leaving;
        let joining = self.epoch == JOIN;
        let with_subscription = !leaving && (joining || self.send_subscription);
        let epoch = if leaving { LEAVE } else { self.epoch };
        self.in_flight = true;
        self.sent = Some((with_subscription, epoch));
        Some(Action::Heartbeat(ShareGroupHeartbeatRequest {
            group_id: self.cfg.group_id.clone(),
            member_id: self.cfg.member_id.clone(),
            member_epoch: epoch,
            rack_id: if joining && !leaving {
                self.cfg.rack.clone()
            } else {
                None
            },
            subscribed_topic_names: with_subscription
                .then(|| self.subscription.iter().cloned().collect()),
            ..ShareGroupHeartbeatRequest::default()
        }))
    }

    /// When to call [`poll_action`](Self::poll_action) next (`None`: only
    /// after the outcome of what is under way, or never).
    pub fn next_wakeup(&self) -> Option<Instant> {
        if matches!(self.state, State::Idle | State::Done) || self.in_flight || self.finding {
            return None;
        }
        match (self.next_at, self.poll_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn retry_later(&mut self, now: Instant) {
        let wait = self
            .retries
            .failed(self.cfg.retry_backoff, self.cfg.retry_backoff_max);
        self.next_at = Some(now + wait);
    }

    /// The coordinator lookup's outcome (`Err`: it failed, retried later;
    /// the lookup itself has retried what it can).
    pub fn on_coordinator(&mut self, found: Result<(), Error>, now: Instant) {
        self.finding = false;
        match found {
            Ok(()) => {
                self.have_coordinator = true;
                self.next_at = Some(now);
            }
            Err(e) if e.is_retriable() => {
                tracing::debug!(group = %self.cfg.group_id, "share group coordinator lookup failed: {e}");
                self.retry_later(now);
            }
            Err(e) => self.stop(e),
        }
    }

    fn stop(&mut self, e: Error) {
        tracing::warn!(group = %self.cfg.group_id, "share group membership stopped: {e}");
        self.fatal = Some(e);
        self.state = State::Done;
        self.clear_assignment();
    }

    /// The heartbeat's outcome. Returns whether the driver must forget the
    /// coordinator's connection (it moved or the connection failed).
    pub fn on_heartbeat(
        &mut self,
        result: Result<ShareGroupHeartbeatResponse, Error>,
        now: Instant,
    ) -> bool {
        self.in_flight = false;
        let (sent_subscription, sent_epoch) = self.sent.take().unwrap_or((false, self.epoch));
        if sent_epoch == LEAVE {
            // Whatever the answer, the member is gone (the session timeout
            // removes it otherwise).
            self.state = State::Done;
            self.epoch = JOIN;
            if std::mem::take(&mut self.stale_rejoin) {
                self.state = State::Active;
                self.send_subscription = true;
                self.next_at = Some(now);
            }
            return false;
        }
        let r = match result {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                tracing::debug!(group = %self.cfg.group_id, "ShareGroupHeartbeat failed: {e}");
                self.have_coordinator = false;
                self.retry_later(now);
                return true;
            }
            Err(e) => {
                self.stop(e);
                return false;
            }
        };
        let code = ErrorCode(r.error_code);
        if code == ErrorCode::NONE {
            self.retries.succeeded();
            if self.state == State::Leaving {
                // A leave was asked for while this heartbeat was in flight.
                self.epoch = r.member_epoch;
                self.next_at = Some(now);
                return false;
            }
            if sent_subscription {
                self.send_subscription = false;
            }
            self.epoch = r.member_epoch;
            if let Ok(ms) = u64::try_from(r.heartbeat_interval_ms)
                && ms > 0
            {
                self.interval = Duration::from_millis(ms);
            }
            if let Some(a) = r.assignment {
                let new: BTreeMap<Uuid, BTreeSet<i32>> = a
                    .topic_partitions
                    .into_iter()
                    .filter(|t| !t.partitions.is_empty())
                    .fold(BTreeMap::new(), |mut m, t| {
                        m.entry(t.topic_id)
                            .or_insert_with(BTreeSet::new)
                            .extend(t.partitions.into_iter().filter(|p| *p >= 0));
                        m
                    });
                if new != self.assignment {
                    self.assignment = new;
                    self.assignment_gen += 1;
                }
            }
            self.next_at = Some(if self.send_subscription {
                now
            } else {
                now + self.interval
            });
            return false;
        }
        let message = r.error_message.clone();
        if code == ErrorCode::UNKNOWN_MEMBER_ID || code == ErrorCode::FENCED_MEMBER_EPOCH {
            tracing::info!(
                group = %self.cfg.group_id,
                member = %self.cfg.member_id,
                "share group member fenced ({code}); rejoining"
            );
            self.epoch = JOIN;
            self.send_subscription = true;
            self.clear_assignment();
            self.next_at = if self.state == State::Leaving {
                self.state = State::Done;
                None
            } else {
                Some(now)
            };
            return false;
        }
        if code == ErrorCode::NOT_COORDINATOR || code == ErrorCode::COORDINATOR_NOT_AVAILABLE {
            self.have_coordinator = false;
            self.retry_later(now);
            return true;
        }
        if code.is_retriable() {
            self.retry_later(now);
            return false;
        }
        self.stop(Error::Kafka {
            code,
            api: "ShareGroupHeartbeat",
            topic: None,
            partition: None,
            message: Some(match message {
                Some(m) => format!("group {}: {m}", self.cfg.group_id),
                None => format!("group {}", self.cfg.group_id),
            }),
        });
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::share_group_heartbeat_response::{
        Assignment, TopicPartitions,
    };

    const T: Uuid = Uuid([3; 16]);

    fn machine() -> ShareMembership {
        ShareMembership::new(ShareMembershipConfig {
            group_id: "g".into(),
            member_id: "member-1".into(),
            rack: Some("r1".into()),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1000),
            max_poll_interval: Duration::from_secs(30),
        })
    }

    fn topics(ts: &[&str]) -> BTreeSet<String> {
        ts.iter().map(|t| t.to_string()).collect()
    }

    fn heartbeat(m: &mut ShareMembership, now: Instant) -> ShareGroupHeartbeatRequest {
        match m.poll_action(now) {
            Some(Action::Heartbeat(r)) => r,
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }

    fn ok(epoch: i32, assignment: Option<&[i32]>) -> ShareGroupHeartbeatResponse {
        ShareGroupHeartbeatResponse {
            member_id: Some("member-1".into()),
            member_epoch: epoch,
            heartbeat_interval_ms: 1000,
            assignment: assignment.map(|ps| Assignment {
                topic_partitions: vec![TopicPartitions {
                    topic_id: T,
                    partitions: ps.to_vec(),
                    ..TopicPartitions::default()
                }],
                ..Assignment::default()
            }),
            ..ShareGroupHeartbeatResponse::default()
        }
    }

    fn err(code: ErrorCode) -> ShareGroupHeartbeatResponse {
        ShareGroupHeartbeatResponse {
            error_code: code.0,
            ..ShareGroupHeartbeatResponse::default()
        }
    }

    /// Subscribed, coordinator found, joined at epoch 1 with `ps`.
    fn joined(now: Instant, ps: &[i32]) -> ShareMembership {
        let mut m = machine();
        m.subscribe(topics(&["t"]), now);
        assert_eq!(m.poll_action(now), Some(Action::FindCoordinator));
        m.on_coordinator(Ok(()), now);
        heartbeat(&mut m, now);
        m.on_heartbeat(Ok(ok(1, Some(ps))), now);
        m
    }

    #[test]
    fn idle_until_subscribed_then_joins_with_epoch_zero_subscription_and_rack() {
        let now = Instant::now();
        let mut m = machine();
        assert_eq!(m.poll_action(now), None);
        assert_eq!(m.next_wakeup(), None);
        m.subscribe(topics(&["t", "u"]), now);
        assert_eq!(m.poll_action(now), Some(Action::FindCoordinator));
        assert_eq!(m.poll_action(now), None, "one lookup at a time");
        m.on_coordinator(Ok(()), now);
        let r = heartbeat(&mut m, now);
        assert_eq!(
            (r.group_id.as_str(), r.member_id.as_str()),
            ("g", "member-1")
        );
        assert_eq!(r.member_epoch, JOIN);
        assert_eq!(r.rack_id.as_deref(), Some("r1"));
        assert_eq!(
            r.subscribed_topic_names,
            Some(vec!["t".to_string(), "u".to_string()])
        );
        assert_eq!(m.poll_action(now), None, "one heartbeat in flight");
        assert!(!m.on_heartbeat(Ok(ok(3, Some(&[0, 2]))), now));
        assert_eq!(m.epoch(), 3);
        let (a, generation) = m.assignment();
        assert_eq!(
            a.get(&T).map(|s| s.iter().copied().collect::<Vec<_>>()),
            Some(vec![0, 2])
        );
        assert_eq!(generation, 1);
        // Next heartbeat at the interval, with the epoch and no subscription.
        assert_eq!(m.next_wakeup(), Some(now + Duration::from_secs(1)));
        assert_eq!(m.poll_action(now + Duration::from_millis(999)), None);
        let r = heartbeat(&mut m, now + Duration::from_secs(1));
        assert_eq!(r.member_epoch, 3);
        assert_eq!(r.subscribed_topic_names, None);
        assert_eq!(r.rack_id, None);
        // No assignment in the response: unchanged.
        m.on_heartbeat(Ok(ok(3, None)), now + Duration::from_secs(1));
        assert_eq!(m.assignment().1, 1);
        // An empty assignment replaces it.
        let r = heartbeat(&mut m, now + Duration::from_secs(2));
        assert_eq!(r.member_epoch, 3);
        m.on_heartbeat(Ok(ok(4, Some(&[]))), now + Duration::from_secs(2));
        assert!(m.assignment().0.is_empty());
        assert_eq!(m.assignment().1, 2);
    }

    #[test]
    fn a_changed_subscription_goes_out_at_once_and_until_taken() {
        let now = Instant::now();
        let mut m = joined(now, &[0]);
        m.subscribe(topics(&["t", "v"]), now);
        let r = heartbeat(&mut m, now);
        assert_eq!(r.member_epoch, 1);
        assert_eq!(
            r.subscribed_topic_names,
            Some(vec!["t".to_string(), "v".to_string()])
        );
        // Lost: sent again.
        m.on_heartbeat(Err(Error::Disconnected { broker: "b".into() }), now);
        assert_eq!(
            m.poll_action(now + Duration::from_secs(2)),
            Some(Action::FindCoordinator)
        );
        m.on_coordinator(Ok(()), now + Duration::from_secs(2));
        let r = heartbeat(&mut m, now + Duration::from_secs(2));
        assert!(r.subscribed_topic_names.is_some());
        m.on_heartbeat(Ok(ok(2, None)), now + Duration::from_secs(2));
        let r = heartbeat(&mut m, now + Duration::from_secs(4));
        assert_eq!(r.subscribed_topic_names, None);
    }

    #[test]
    fn fenced_or_unknown_member_drops_the_assignment_and_rejoins_at_zero() {
        for code in [ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode::UNKNOWN_MEMBER_ID] {
            let now = Instant::now();
            let mut m = joined(now, &[0, 1]);
            let later = now + Duration::from_secs(1);
            heartbeat(&mut m, later);
            assert!(!m.on_heartbeat(Ok(err(code)), later));
            assert!(m.assignment().0.is_empty(), "{code}");
            let r = heartbeat(&mut m, later);
            assert_eq!(r.member_epoch, JOIN);
            assert_eq!(r.member_id, "member-1", "the member id is kept");
            assert!(r.subscribed_topic_names.is_some());
            assert!(m.fatal().is_none());
        }
    }

    #[test]
    fn coordinator_errors_look_it_up_again_after_a_backoff() {
        let now = Instant::now();
        let t = now + Duration::from_secs(1);
        for code in [
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ] {
            let mut m = joined(now, &[0]);
            heartbeat(&mut m, t);
            assert!(m.on_heartbeat(Ok(err(code)), t), "forget the connection");
            let at = m.next_wakeup().unwrap();
            assert!(at > t && at <= t + Duration::from_millis(120), "{at:?}");
            assert_eq!(m.poll_action(at), Some(Action::FindCoordinator));
            // The assignment is kept: the member is still a member.
            assert_eq!(m.assignment().0.len(), 1);
        }
        let mut m = joined(now, &[0]);
        heartbeat(&mut m, t);
        assert!(!m.on_heartbeat(Ok(err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)), t));
        let at = m.next_wakeup().unwrap();
        assert!(matches!(m.poll_action(at), Some(Action::Heartbeat(_))));
    }

    #[test]
    fn a_fatal_error_stops_the_member_and_is_reported() {
        let now = Instant::now();
        let mut m = joined(now, &[0]);
        let now = now + Duration::from_secs(1);
        heartbeat(&mut m, now);
        m.on_heartbeat(
            Ok(ShareGroupHeartbeatResponse {
                error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
                error_message: Some("denied".into()),
                ..ShareGroupHeartbeatResponse::default()
            }),
            now,
        );
        let e = m.fatal().unwrap().to_string();
        assert!(
            e.contains("GROUP_AUTHORIZATION_FAILED") && e.contains("group g"),
            "{e}"
        );
        assert!(m.is_done());
        assert_eq!(m.poll_action(now + Duration::from_secs(60)), None);
        assert!(m.assignment().0.is_empty());
        // A later subscribe does not revive it.
        m.subscribe(topics(&["x"]), now);
        assert_eq!(m.poll_action(now), None);
    }

    #[test]
    fn leave_sends_epoch_minus_one_once_and_ends() {
        let now = Instant::now();
        let mut m = joined(now, &[0]);
        m.leave(now);
        assert!(m.assignment().0.is_empty());
        let r = heartbeat(&mut m, now);
        assert_eq!(r.member_epoch, LEAVE);
        assert_eq!(r.subscribed_topic_names, None);
        m.on_heartbeat(Ok(ok(LEAVE, None)), now);
        assert!(m.is_done());
        assert_eq!(m.poll_action(now + Duration::from_secs(10)), None);

        // Leaving while a heartbeat is in flight: the leave follows it.
        let mut m = joined(now, &[0]);
        heartbeat(&mut m, now + Duration::from_secs(1));
        m.leave(now + Duration::from_secs(1));
        m.on_heartbeat(Ok(ok(1, Some(&[0]))), now + Duration::from_secs(1));
        assert!(
            m.assignment().0.is_empty(),
            "a late assignment is not taken"
        );
        let r = heartbeat(&mut m, now + Duration::from_secs(1));
        assert_eq!(r.member_epoch, LEAVE);

        // Never joined: nothing to send.
        let mut m = machine();
        m.subscribe(topics(&["t"]), now);
        m.leave(now);
        assert!(m.is_done());
        assert_eq!(m.poll_action(now), None);
    }

    #[test]
    fn a_member_that_stops_polling_leaves_and_rejoins_at_its_next_poll() {
        let now = Instant::now();
        let mut m = joined(now, &[0]);
        m.polled(now);
        // Heartbeats go on while the application polls in time.
        let mut t = now;
        for _ in 0..3 {
            t += Duration::from_secs(1);
            let r = heartbeat(&mut m, t);
            assert_eq!(r.member_epoch, 1);
            m.on_heartbeat(Ok(ok(1, None)), t);
        }
        // The poll deadline wakes the driver even between heartbeats.
        let deadline = now + Duration::from_secs(30);
        while t + Duration::from_secs(1) < deadline {
            t += Duration::from_secs(1);
            heartbeat(&mut m, t);
            m.on_heartbeat(Ok(ok(1, None)), t);
        }
        assert!(m.next_wakeup().unwrap() <= deadline);
        let r = heartbeat(&mut m, deadline);
        assert_eq!(r.member_epoch, LEAVE, "stale: leaves");
        assert!(m.take_went_stale());
        assert!(!m.take_went_stale());
        assert!(m.assignment().0.is_empty());
        m.on_heartbeat(Ok(ok(LEAVE, None)), deadline);
        assert!(m.is_done());
        assert_eq!(m.poll_action(deadline + Duration::from_secs(5)), None);
        // The next poll rejoins with the subscription.
        let later = deadline + Duration::from_secs(10);
        assert!(m.polled(later));
        let r = heartbeat(&mut m, later);
        assert_eq!(r.member_epoch, JOIN);
        assert_eq!(r.subscribed_topic_names, Some(vec!["t".to_string()]));
        assert!(!m.polled(later), "only one rejoin");

        // Polled again while the leave is in flight: rejoins right after.
        let mut m = joined(now, &[0]);
        m.polled(now);
        let r = heartbeat(&mut m, now + Duration::from_secs(31));
        assert_eq!(r.member_epoch, LEAVE);
        assert!(m.polled(now + Duration::from_secs(31)));
        m.on_heartbeat(Ok(ok(LEAVE, None)), now + Duration::from_secs(31));
        let r = heartbeat(&mut m, now + Duration::from_secs(31));
        assert_eq!(r.member_epoch, JOIN);
    }
}
