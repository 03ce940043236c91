//! Scenario tests for [`ConsumerMember`] (KIP-848): scripted
//! ConsumerGroupHeartbeat responses, a fake clock, no sockets.

use super::TopicPartition;
use super::heartbeat::{ConsumerMember, ConsumerMemberConfig, random_member_id};
use super::membership::{Action, MemberState};
use super::requests::{GroupRequest, GroupResponse, OutboundRequest};
use super::test_harness::{Harness, coordinator_answer, found};
use crate::Error;
use purekafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment, TopicPartitions,
};
use purekafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use purekafka_protocol::{ErrorCode, Uuid};
use std::collections::BTreeMap;
use std::time::Duration;

const T1: Uuid = Uuid([1; 16]);
const T2: Uuid = Uuid([2; 16]);
const INTERVAL: Duration = Duration::from_millis(1000);

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn config() -> ConsumerMemberConfig {
    let mut c = ConsumerMemberConfig::new("g", "member-1");
    c.commit_before_revoke = false;
    c
}

fn names() -> BTreeMap<Uuid, String> {
    BTreeMap::from([(T1, "t1".to_string()), (T2, "t2".to_string())])
}

fn assignment(parts: &[(Uuid, &[i32])]) -> Option<Assignment> {
    Some(Assignment {
        topic_partitions: parts
            .iter()
            .map(|(id, ps)| TopicPartitions {
                topic_id: *id,
                partitions: ps.to_vec(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn ok(epoch: i32, a: Option<Assignment>) -> GroupResponse {
    GroupResponse::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        member_epoch: epoch,
        heartbeat_interval_ms: 1000,
        assignment: a,
        ..Default::default()
    })
}

fn err(code: ErrorCode) -> GroupResponse {
    GroupResponse::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        error_code: code.0,
        ..Default::default()
    })
}

fn hb(r: &OutboundRequest) -> &ConsumerGroupHeartbeatRequest {
    match &r.request {
        GroupRequest::ConsumerGroupHeartbeat(h) => h,
        other => panic!("expected a heartbeat, got {other:?}"),
    }
}

/// The owned partitions a heartbeat acknowledges, as (topic id, partition).
fn acked(h: &ConsumerGroupHeartbeatRequest) -> Option<Vec<(Uuid, i32)>> {
    h.topic_partitions.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic_id, *p)))
            .collect()
    })
}

impl Harness<ConsumerMember> {
    fn new(config: ConsumerMemberConfig) -> Self {
        Harness::of(ConsumerMember::new(config).unwrap())
    }

    /// Subscribes to t1 and t2, polls, finds the coordinator: the join
    /// heartbeat.
    fn join(&mut self) -> OutboundRequest {
        self.m.subscribe(self.now, ["t1", "t2"]);
        self.none();
        self.m.poll(self.now);
        let find = self.one_send();
        self.answer_find(&find, found(1));
        self.one_send()
    }

    /// Joined at epoch 1 owning t1-0, t1-1 and t2-0 (acknowledged).
    fn stable(&mut self) {
        let j = self.join();
        self.reply(j.id, ok(1, assignment(&[(T1, &[0, 1]), (T2, &[0])])));
        let a = self.drain();
        assert!(
            matches!(a.as_slice(), [Action::NeedMetadata { .. }]),
            "{a:#?}"
        );
        self.m.on_topic_names(self.now, &names());
        let a = self.assigned();
        assert_eq!(a.added.len(), 3);
        self.reply(a.ack.id, ok(1, None));
        self.none();
    }

    /// Drains what applying an assignment emits: `Assigned`, then the
    /// heartbeat that acknowledges it.
    fn assigned(&mut self) -> Assigned {
        let a = self.drain();
        let [
            Action::Assigned {
                partitions,
                added,
                revoked,
            },
            Action::Send(ack),
        ] = a.as_slice()
        else {
            panic!("expected Assigned and its acknowledgement, got {a:#?}");
        };
        Assigned {
            partitions: partitions.clone(),
            added: added.clone(),
            revoked: revoked.clone(),
            ack: ack.clone(),
        }
    }
}

/// An `Action::Assigned` and the heartbeat acknowledging it.
struct Assigned {
    partitions: Vec<TopicPartition>,
    added: Vec<TopicPartition>,
    revoked: Vec<TopicPartition>,
    ack: OutboundRequest,
}

#[test]
fn joins_with_epoch_zero_and_the_full_state() {
    let mut c = config();
    c.group_instance_id = Some("i-1".into());
    c.rack_id = Some("r1".into());
    c.remote_assignor = Some("range".into());
    let mut h = Harness::new(c);
    let j = h.join();
    let r = hb(&j);
    assert_eq!(r.group_id, "g");
    assert_eq!(r.member_id, "member-1");
    assert_eq!(r.member_epoch, 0);
    assert_eq!(r.instance_id.as_deref(), Some("i-1"));
    assert_eq!(r.rack_id.as_deref(), Some("r1"));
    assert_eq!(r.rebalance_timeout_ms, 300_000);
    assert_eq!(
        r.subscribed_topic_names,
        Some(vec!["t1".to_string(), "t2".to_string()])
    );
    assert_eq!(r.subscribed_topic_regex, None);
    assert_eq!(r.server_assignor.as_deref(), Some("range"));
    assert_eq!(
        acked(r),
        Some(vec![]),
        "joining acknowledges owning nothing"
    );
    assert_eq!(h.m.state(), MemberState::PreparingRebalance);
    assert_eq!(h.m.commit_generation(), None, "no epoch yet");
}

#[test]
fn does_not_join_before_a_poll() {
    let mut h = Harness::new(config());
    h.m.subscribe(h.now, ["t1"]);
    h.none();
    h.tick(Duration::from_secs(10));
    h.none();
    assert_eq!(h.m.next_timeout(), None);
}

#[test]
fn reconciles_after_resolving_topic_ids_then_acknowledges() {
    let mut h = Harness::new(config());
    let j = h.join();
    h.reply(j.id, ok(3, assignment(&[(T1, &[1, 0])])));
    // t1's id is not known yet: ask for metadata, assign nothing.
    let a = h.drain();
    assert!(
        matches!(a.as_slice(), [Action::NeedMetadata { .. }]),
        "{a:#?}"
    );
    assert_eq!(
        h.m.unresolved_topic_ids().into_iter().collect::<Vec<_>>(),
        vec![T1]
    );
    h.m.on_topic_names(h.now, &names());
    let a = h.assigned();
    assert_eq!(a.partitions, vec![tp("t1", 0), tp("t1", 1)]);
    assert_eq!(a.added, a.partitions);
    assert!(a.revoked.is_empty());
    // The acknowledgement goes at once, with the epoch the broker gave.
    let r = hb(&a.ack);
    assert_eq!(r.member_epoch, 3);
    assert_eq!(acked(r), Some(vec![(T1, 0), (T1, 1)]));
    assert_eq!(r.subscribed_topic_names, None, "unchanged: not resent");
    assert_eq!(r.rebalance_timeout_ms, -1, "unchanged: not resent");
    assert_eq!(r.rack_id, None);
    assert_eq!(h.m.commit_generation(), Some((3, "member-1")));
    assert_eq!(h.m.state(), MemberState::Stable);
}

#[test]
fn heartbeats_at_the_broker_interval_with_only_what_changed() {
    let mut h = Harness::new(config());
    h.stable();
    // Not before the interval the broker gave.
    h.tick(INTERVAL - Duration::from_millis(1));
    h.none();
    assert_eq!(h.m.next_timeout(), Some(h.now + Duration::from_millis(1)));
    h.tick(Duration::from_millis(1));
    let next = h.one_send();
    let r = hb(&next);
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.member_id, "member-1");
    assert_eq!(acked(r), None, "owned partitions unchanged: not resent");
    assert_eq!(r.subscribed_topic_names, None);
    assert_eq!(r.server_assignor, None);
    assert_eq!(r.rebalance_timeout_ms, -1);
    // One in flight at a time.
    h.tick(INTERVAL * 3);
    h.none();
    // The broker may change the interval.
    h.reply(
        next.id,
        GroupResponse::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
            member_epoch: 1,
            heartbeat_interval_ms: 250,
            ..Default::default()
        }),
    );
    h.none();
    assert_eq!(h.m.next_timeout(), Some(h.now + Duration::from_millis(250)));
}

#[test]
fn revokes_only_what_moves_and_assigns_only_what_is_new() {
    let mut h = Harness::new(config());
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    // t1-1 moves away, t2-1 arrives; t1-0 and t2-0 stay.
    h.reply(next.id, ok(2, assignment(&[(T1, &[0]), (T2, &[0, 1])])));
    // Giving partitions up waits for the application's poll; meanwhile the
    // driver holds back the records of the partition that moves.
    h.none();
    assert_eq!(h.m.pending_revocation(), vec![tp("t1", 1)]);
    h.tick(Duration::from_millis(10));
    h.none();
    h.m.poll(h.now);
    let a = h.assigned();
    assert_eq!(a.revoked, vec![tp("t1", 1)]);
    assert_eq!(a.added, vec![tp("t2", 1)]);
    assert_eq!(a.partitions, vec![tp("t1", 0), tp("t2", 0), tp("t2", 1)]);
    assert_eq!(acked(hb(&a.ack)), Some(vec![(T1, 0), (T2, 0), (T2, 1)]));
    assert!(h.m.pending_revocation().is_empty());
    assert_eq!(hb(&a.ack).member_epoch, 2);
}

#[test]
fn an_empty_first_assignment_is_still_reported_once() {
    let mut h = Harness::new(config());
    let j = h.join();
    h.reply(j.id, ok(1, assignment(&[])));
    let a = h.drain();
    let [
        Action::Assigned {
            partitions,
            added,
            revoked,
        },
    ] = a.as_slice()
    else {
        panic!("{a:#?}");
    };
    assert!(partitions.is_empty() && added.is_empty() && revoked.is_empty());
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, ok(1, assignment(&[])));
    h.none();
}

#[test]
fn new_partitions_are_taken_at_once() {
    let mut h = Harness::new(config());
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, ok(2, assignment(&[(T1, &[0, 1, 2]), (T2, &[0])])));
    let a = h.assigned();
    assert_eq!(a.added, vec![tp("t1", 2)]);
    assert!(a.revoked.is_empty());
    assert_eq!(acked(hb(&a.ack)).map(|v| v.len()), Some(4));
}

#[test]
fn an_epoch_bump_without_a_new_assignment_changes_nothing() {
    let mut h = Harness::new(config());
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, ok(5, None));
    h.none();
    assert_eq!(h.m.commit_generation(), Some((5, "member-1")));
    // The same assignment again: no callbacks either.
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, ok(5, assignment(&[(T1, &[0, 1]), (T2, &[0])])));
    h.none();
}

#[test]
fn auto_commit_commits_the_revoked_partitions_before_revoking() {
    let mut c = config();
    c.commit_before_revoke = true;
    let mut h = Harness::new(c);
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, ok(2, assignment(&[(T1, &[0])])));
    h.none();
    h.m.poll(h.now);
    let a = h.drain();
    let [Action::CommitBeforeRevoke { partitions }] = a.as_slice() else {
        panic!("{a:#?}");
    };
    assert_eq!(
        partitions,
        &vec![tp("t1", 1), tp("t2", 0)],
        "only the moving ones"
    );
    assert_eq!(h.m.state(), MemberState::CompletingRebalance);
    // The commit carries the member epoch of the last response.
    assert_eq!(h.m.commit_generation(), Some((2, "member-1")));
    // Heartbeats go on meanwhile, still owning everything.
    h.tick(INTERVAL);
    let during = h.one_send();
    assert_eq!(acked(hb(&during)), None);
    h.reply(during.id, ok(2, None));
    h.m.commit_done(h.now);
    let a = h.assigned();
    assert_eq!(a.revoked, vec![tp("t1", 1), tp("t2", 0)]);
    assert!(a.added.is_empty());
    assert_eq!(acked(hb(&a.ack)), Some(vec![(T1, 0)]));
}

#[test]
fn a_commit_that_never_ends_does_not_hold_the_revocation_forever() {
    let mut c = config();
    c.commit_before_revoke = true;
    c.rebalance_timeout = Duration::from_secs(5);
    let mut h = Harness::new(c);
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, ok(2, assignment(&[(T1, &[0])])));
    h.m.poll(h.now);
    assert!(matches!(
        h.drain().as_slice(),
        [Action::CommitBeforeRevoke { .. }]
    ));
    for _ in 0..4 {
        h.tick(INTERVAL);
        let beat = h.one_send();
        h.reply(beat.id, ok(2, None));
    }
    h.tick(INTERVAL);
    let a = h.drain();
    assert!(
        a.iter()
            .any(|a| matches!(a, Action::Assigned { revoked, .. } if revoked.len() == 2)),
        "{a:#?}"
    );
}

#[test]
fn fenced_member_loses_its_partitions_and_rejoins_with_the_same_id() {
    for code in [ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode::UNKNOWN_MEMBER_ID] {
        let mut h = Harness::new(config());
        h.stable();
        h.tick(INTERVAL);
        let next = h.one_send();
        h.reply(next.id, err(code));
        let a = h.drain();
        let [Action::Lost { partitions }, Action::Send(rejoin)] = a.as_slice() else {
            panic!("{code}: {a:#?}");
        };
        assert_eq!(partitions, &vec![tp("t1", 0), tp("t1", 1), tp("t2", 0)]);
        let r = hb(rejoin);
        assert_eq!(r.member_epoch, 0, "{code}");
        assert_eq!(r.member_id, "member-1", "{code}");
        assert!(r.subscribed_topic_names.is_some(), "{code}: full state");
        assert_eq!(acked(r), Some(vec![]), "{code}");
        assert_eq!(h.m.commit_generation(), None);
        // Rejoined: the same partitions come back as new ones.
        h.reply(rejoin.id, ok(7, assignment(&[(T1, &[0])])));
        let a = h.drain();
        let [Action::Assigned { added, revoked, .. }, Action::Send(_)] = a.as_slice() else {
            panic!("{code}: {a:#?}");
        };
        assert_eq!(added, &vec![tp("t1", 0)]);
        assert!(revoked.is_empty());
    }
}

#[test]
fn a_moved_coordinator_is_found_again_and_gets_the_full_state() {
    let mut h = Harness::new(config());
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, err(ErrorCode::NOT_COORDINATOR));
    let find = h.one_send();
    assert!(h.m.coordinator().is_none());
    h.answer_find(&find, found(1));
    h.none();
    h.tick(Duration::from_millis(150));
    let again = h.one_send();
    let r = hb(&again);
    assert_eq!(r.member_epoch, 1, "still in the group");
    assert!(
        r.subscribed_topic_names.is_some(),
        "full state after a failure"
    );
    assert_eq!(acked(r), Some(vec![(T1, 0), (T1, 1), (T2, 0)]));
}

#[test]
fn a_failed_connection_backs_off_then_sends_everything() {
    let mut h = Harness::new(config());
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.m.on_request_failed(
        h.now,
        next.id,
        &Error::Disconnected {
            broker: "h:9092".into(),
        },
    );
    let find = h.one_send();
    h.answer_find(&find, found(1));
    // Backing off.
    h.none();
    h.tick(Duration::from_millis(150));
    let again = h.one_send();
    assert!(hb(&again).subscribed_topic_names.is_some());
    assert!(acked(hb(&again)).is_some());
}

#[test]
fn retriable_errors_retry_and_others_reach_the_application() {
    let mut h = Harness::new(config());
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
    h.none();
    h.tick(Duration::from_millis(150));
    let next = h.one_send();
    h.reply(next.id, err(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
    let a = h.drain();
    assert!(
        matches!(a.as_slice(), [Action::Error(e)] if e.code() == Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED)),
        "{a:#?}"
    );
    assert_eq!(h.m.state(), MemberState::Stable, "the member carries on");
}

#[test]
fn fatal_errors_lose_the_partitions_and_stop_the_member() {
    let mut c = config();
    c.group_instance_id = Some("i-1".into());
    let mut h = Harness::new(c);
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.reply(next.id, err(ErrorCode::UNRELEASED_INSTANCE_ID));
    let a = h.drain();
    let [Action::Lost { .. }, Action::Fatal(e)] = a.as_slice() else {
        panic!("{a:#?}");
    };
    assert_eq!(e.code(), Some(ErrorCode::UNRELEASED_INSTANCE_ID));
    assert!(e.to_string().contains("i-1"), "{e}");
    assert_eq!(h.m.state(), MemberState::Failed);
    h.tick(INTERVAL * 10);
    h.none();
    h.m.close(h.now);
    assert!(matches!(h.drain().as_slice(), [Action::Closed]));
}

#[test]
fn unsupported_version_says_to_use_the_classic_protocol() {
    let mut h = Harness::new(config());
    let j = h.join();
    h.reply(j.id, err(ErrorCode::UNSUPPORTED_VERSION));
    let a = h.drain();
    let [Action::Fatal(e)] = a.as_slice() else {
        panic!("{a:#?}");
    };
    assert!(e.to_string().contains("group.protocol=classic"), "{e}");
}

#[test]
fn close_revokes_then_leaves_with_epoch_minus_one() {
    let mut c = config();
    c.commit_before_revoke = true;
    let mut h = Harness::new(c);
    h.stable();
    h.m.close(h.now);
    let a = h.drain();
    let [Action::CommitBeforeRevoke { partitions }] = a.as_slice() else {
        panic!("{a:#?}");
    };
    assert_eq!(partitions.len(), 3);
    assert_eq!(h.m.state(), MemberState::Closing);
    h.m.commit_done(h.now);
    let a = h.drain();
    let [Action::Revoked { partitions }, Action::Send(leave)] = a.as_slice() else {
        panic!("{a:#?}");
    };
    assert_eq!(partitions.len(), 3);
    assert_eq!(hb(leave).member_epoch, -1);
    assert_eq!(hb(leave).member_id, "member-1");
    h.reply(leave.id, ok(-1, None));
    assert!(matches!(h.drain().as_slice(), [Action::Closed]));
    assert_eq!(h.m.state(), MemberState::Closed);
}

#[test]
fn a_static_member_leaves_with_epoch_minus_two() {
    let mut c = config();
    c.group_instance_id = Some("i-1".into());
    let mut h = Harness::new(c);
    h.stable();
    h.m.close(h.now);
    let a = h.drain();
    let [Action::Revoked { .. }, Action::Send(leave)] = a.as_slice() else {
        panic!("{a:#?}");
    };
    assert_eq!(hb(leave).member_epoch, -2);
    assert_eq!(hb(leave).instance_id.as_deref(), Some("i-1"));
    // A failed leave still closes (best effort).
    h.m.on_request_failed(
        h.now,
        leave.id,
        &Error::Disconnected {
            broker: "h:9092".into(),
        },
    );
    assert!(matches!(h.drain().as_slice(), [Action::Closed]));
}

#[test]
fn close_waits_for_the_heartbeat_in_flight_then_leaves() {
    let mut h = Harness::new(config());
    h.stable();
    h.tick(INTERVAL);
    let next = h.one_send();
    h.m.close(h.now);
    let a = h.drain();
    assert!(matches!(a.as_slice(), [Action::Revoked { .. }]), "{a:#?}");
    // Its answer (a new assignment) no longer applies.
    h.reply(next.id, ok(2, assignment(&[(T1, &[0])])));
    let leave = h.one_send();
    assert_eq!(hb(&leave).member_epoch, -1);
}

#[test]
fn closing_a_member_that_never_joined_sends_nothing() {
    let mut h = Harness::new(config());
    h.m.subscribe(h.now, ["t1"]);
    h.m.close(h.now);
    assert!(matches!(h.drain().as_slice(), [Action::Closed]));
}

#[test]
fn poll_timeout_leaves_loses_the_partitions_and_the_next_poll_rejoins() {
    let mut c = config();
    c.max_poll_interval = Duration::from_secs(10);
    let mut h = Harness::new(c);
    h.m.poll(h.now);
    h.stable();
    for _ in 0..9 {
        h.tick(INTERVAL);
        let beat = h.one_send();
        h.reply(beat.id, ok(1, None));
    }
    h.tick(INTERVAL);
    let a = h.drain();
    let [Action::Lost { partitions }, Action::Send(leave)] = a.as_slice() else {
        panic!("{a:#?}");
    };
    assert_eq!(partitions.len(), 3);
    assert_eq!(hb(leave).member_epoch, -1);
    assert_eq!(h.m.commit_generation(), None);
    h.reply(leave.id, ok(-1, None));
    // Out of the group: no heartbeats until the application polls.
    h.tick(INTERVAL * 20);
    h.none();
    h.m.poll(h.now);
    let rejoin = h.one_send();
    assert_eq!(hb(&rejoin).member_epoch, 0);
    assert!(hb(&rejoin).subscribed_topic_names.is_some());
}

#[test]
fn a_subscription_change_goes_out_at_once() {
    let mut h = Harness::new(config());
    h.stable();
    h.m.subscribe(h.now, ["t1"]);
    let next = h.one_send();
    assert_eq!(
        hb(&next).subscribed_topic_names,
        Some(vec!["t1".to_string()])
    );
    assert_eq!(hb(&next).member_epoch, 1);
    // The broker takes t2 away.
    h.reply(next.id, ok(2, assignment(&[(T1, &[0, 1])])));
    h.m.poll(h.now);
    assert_eq!(h.assigned().revoked, vec![tp("t2", 0)]);
}

#[test]
fn a_regex_subscription_is_sent_for_the_broker_to_evaluate() {
    let mut h = Harness::new(config());
    h.m.subscribe_regex(h.now, "events-.*");
    h.m.poll(h.now);
    let find = h.one_send();
    h.answer_find(&find, found(1));
    let j = h.one_send();
    let r = hb(&j);
    assert_eq!(r.subscribed_topic_regex.as_deref(), Some("events-.*"));
    assert_eq!(r.subscribed_topic_names, None);
    assert!(h.m.metadata_topics().is_empty());
    // A topic the client has never heard of is assigned: its name is
    // looked up by id.
    h.reply(j.id, ok(1, assignment(&[(T2, &[0])])));
    assert!(matches!(
        h.drain().as_slice(),
        [Action::NeedMetadata { .. }]
    ));
    h.m.on_topic_names(h.now, &BTreeMap::from([(T2, "events-2".to_string())]));
    assert_eq!(h.assigned().added, vec![tp("events-2", 0)]);
    // Switching to names clears the regex.
    h.m.subscribe(h.now, ["t1"]);
    let next = h.drain();
    assert!(next.is_empty(), "the ack is in flight: {next:#?}");
}

#[test]
fn a_regex_needs_heartbeat_v1() {
    let mut c = config();
    c.heartbeat_version = 0;
    let mut h = Harness::new(c);
    h.m.subscribe_regex(h.now, "x.*");
    assert!(matches!(h.drain().as_slice(), [Action::Error(_)]));
}

#[test]
fn unsubscribe_revokes_leaves_and_a_later_subscribe_rejoins() {
    let mut h = Harness::new(config());
    h.stable();
    h.m.unsubscribe(h.now);
    let a = h.drain();
    let [Action::Revoked { partitions }, Action::Send(leave)] = a.as_slice() else {
        panic!("{a:#?}");
    };
    assert_eq!(partitions.len(), 3);
    assert_eq!(hb(leave).member_epoch, -1);
    h.reply(leave.id, ok(-1, None));
    h.none();
    assert_eq!(h.m.state(), MemberState::Unjoined);
    h.tick(INTERVAL * 5);
    h.none();
    h.m.subscribe(h.now, ["t2"]);
    h.m.poll(h.now);
    let j = h.one_send();
    assert_eq!(hb(&j).member_epoch, 0);
    assert_eq!(hb(&j).subscribed_topic_names, Some(vec!["t2".to_string()]));
}

#[test]
fn commit_errors_about_the_coordinator_rediscover_it() {
    let mut h = Harness::new(config());
    h.stable();
    h.m.on_coordinator_error(h.now, ErrorCode::STALE_MEMBER_EPOCH);
    h.none();
    assert!(h.m.coordinator().is_some());
    h.m.on_coordinator_error(h.now, ErrorCode::NOT_COORDINATOR);
    assert!(h.m.coordinator().is_none());
    let find = h.one_send();
    assert!(matches!(find.request, GroupRequest::FindCoordinator(_)));
}

#[test]
fn member_ids_are_random_uuids() {
    let a = random_member_id();
    let b = random_member_id();
    assert_ne!(a, b);
    assert_eq!(a.len(), 22, "Kafka's base64 text form: {a}");
}

/// FindCoordinator through the client's one lookup: an answer for another
/// group is not taken (it was), retriable errors are retried after a
/// growing backoff without a word, what retrying cannot fix
/// (INVALID_GROUP_ID, INVALID_REQUEST) reaches the application naming the
/// group and is looked up again after the backoff (it was only retried), a
/// denied group is fatal and named.
#[test]
fn find_coordinator_answers_that_find_no_coordinator() {
    let mut h = Harness::new(config());
    h.m.subscribe(h.now, ["t1"]);
    h.m.poll(h.now);
    let mut waits = Vec::new();
    for (key, code, node) in [
        ("other-group", ErrorCode::NONE, 7),
        ("g", ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, -1),
        ("g", ErrorCode::INVALID_GROUP_ID, -1),
        ("g", ErrorCode::INVALID_REQUEST, -1),
    ] {
        let find = h.one_send();
        h.answer_find(&find, coordinator_answer(key, code, node));
        let actions = h.drain();
        if key == "g" && code != ErrorCode::COORDINATOR_LOAD_IN_PROGRESS {
            let [
                Action::Error(Error::Kafka {
                    code: got,
                    api,
                    message,
                    ..
                }),
            ] = actions.as_slice()
            else {
                panic!("{code}: {actions:#?}")
            };
            assert_eq!(
                (*got, *api, message.as_deref()),
                (code, "FindCoordinator", Some("group 'g'"))
            );
        } else {
            assert!(actions.is_empty(), "{key} {code}: {actions:#?}");
        }
        assert!(h.m.coordinator().is_none(), "{key} {code}");
        assert_ne!(h.m.state(), MemberState::Failed, "{code} is not fatal");
        waits.push(h.wait_out());
    }
    assert!(waits[0] >= Duration::from_millis(100), "{waits:?}");
    assert!(waits[2] >= waits[0] * 2, "the backoff grows: {waits:?}");
    let find = h.one_send();
    h.deny_find(&find);
}
