//! The scenario-test fixture both member state machines' tests share
//! (`membership_tests`, `heartbeat_tests`): a member, a fake clock, and
//! the actions it emits. Each test file adds what is particular to its
//! protocol in its own `impl Harness<...>`.

use super::heartbeat::ConsumerMember;
use super::membership::{Action, MemberState, Membership};
use super::requests::{Destination, GroupRequest, GroupResponse, OutboundRequest, RequestId};
use crate::Error;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::FindCoordinatorResponse;
use purekafka_protocol::messages::find_coordinator_response::Coordinator as FoundCoordinator;
use std::time::{Duration, Instant};

/// What the fixture drives: the inputs both members take alike.
pub(super) trait Member {
    fn next_action(&mut self) -> Option<Action>;
    fn next_timeout(&self) -> Option<Instant>;
    fn state(&self) -> MemberState;
    fn handle_timeout(&mut self, now: Instant);
    fn on_response(&mut self, now: Instant, id: RequestId, response: GroupResponse);
}

macro_rules! member {
    ($t:ty) => {
        impl Member for $t {
            fn next_action(&mut self) -> Option<Action> {
                <$t>::next_action(self)
            }
            fn next_timeout(&self) -> Option<Instant> {
                <$t>::next_timeout(self)
            }
            fn state(&self) -> MemberState {
                <$t>::state(self)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn on_response(&mut self, now: Instant, id: RequestId, response: GroupResponse) {
                <$t>::on_response(self, now, id, response)
            }
        }
    };
}
member!(Membership);
member!(ConsumerMember);

pub(super) struct Harness<M> {
    pub m: M,
    pub now: Instant,
}

impl<M: Member> Harness<M> {
    pub fn of(m: M) -> Self {
        Harness {
            m,
            now: Instant::now(),
        }
    }

    pub fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.m.next_action()).collect()
    }

    /// Exactly one action, a Send.
    pub fn one_send(&mut self) -> OutboundRequest {
        let actions = self.drain();
        match actions.as_slice() {
            [Action::Send(r)] => r.clone(),
            other => panic!("expected one Send, got {other:#?}"),
        }
    }

    pub fn none(&mut self) {
        let actions = self.drain();
        assert!(actions.is_empty(), "expected no action, got {actions:#?}");
    }

    pub fn tick(&mut self, d: Duration) {
        self.now += d;
        self.m.handle_timeout(self.now);
    }

    /// The delay before the member's next timer, now.
    pub fn wait(&self) -> Duration {
        let at = self.m.next_timeout();
        at.map(|t| t - self.now)
            .unwrap_or_else(|| panic!("no timer set"))
    }

    /// Waits out the member's next timer, checking that nothing goes out
    /// before it ends; the wait.
    pub fn wait_out(&mut self) -> Duration {
        let wait = self.wait();
        self.tick(wait.saturating_sub(Duration::from_millis(1)));
        self.none();
        self.tick(wait.min(Duration::from_millis(1)));
        wait
    }

    pub fn reply(&mut self, id: RequestId, r: GroupResponse) {
        self.m.on_response(self.now, id, r);
    }

    /// Answers `find`, a FindCoordinator of group `g` to any broker, with
    /// `answer` (see [`found`], [`coordinator_answer`]).
    pub fn answer_find(&mut self, find: &OutboundRequest, answer: GroupResponse) {
        assert_eq!(find.destination, Destination::AnyBroker, "{find:?}");
        let GroupRequest::FindCoordinator(f) = &find.request else {
            panic!("expected a FindCoordinator, got {find:?}")
        };
        assert_eq!(f.key_type, 0);
        assert!(
            f.coordinator_keys == ["g"] || f.key == "g",
            "the group's key: {f:?}"
        );
        self.reply(find.id, answer);
    }

    /// Answers `find` GROUP_AUTHORIZATION_FAILED: the member fails, its
    /// error naming the group (once).
    pub fn deny_find(&mut self, find: &OutboundRequest) {
        let denied = coordinator_answer("g", ErrorCode::GROUP_AUTHORIZATION_FAILED, -1);
        self.answer_find(find, denied);
        let actions = self.drain();
        let [Action::Fatal(Error::Kafka { code, message, .. })] = actions.as_slice() else {
            panic!("expected a fatal error, got {actions:#?}")
        };
        assert_eq!(
            (*code, message.as_deref()),
            (ErrorCode::GROUP_AUTHORIZATION_FAILED, Some("group 'g'"))
        );
        assert_eq!(self.m.state(), MemberState::Failed);
    }
}

/// FindCoordinator's (v4+) answer for group `g`: node `node` at
/// `broker<node>:9092`.
pub(super) fn found(node: i32) -> GroupResponse {
    coordinator_answer("g", ErrorCode::NONE, node)
}

/// FindCoordinator's (v4+) answer for `key`: `code`, and node `node` at
/// `broker<node>:9092`.
pub(super) fn coordinator_answer(key: &str, code: ErrorCode, node: i32) -> GroupResponse {
    GroupResponse::FindCoordinator(FindCoordinatorResponse {
        coordinators: vec![FoundCoordinator {
            key: key.into(),
            node_id: node,
            host: format!("broker{node}"),
            port: 9092,
            error_code: code.0,
            ..Default::default()
        }],
        ..Default::default()
    })
}
