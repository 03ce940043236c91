//! Scenario tests for [`Membership`]: scripted responses, a fake clock, no
//! sockets.

use super::membership::{Action, MemberState, Membership, MembershipConfig};
use super::protocol::{Assignment, Subscription};
use super::requests::{
    Destination, GroupApiVersions, GroupRequest, GroupResponse, OutboundRequest,
};
use super::test_harness::{Harness, coordinator_answer, found};
use super::{RebalanceProtocol, TopicPartition};
use crate::Error;
use bytes::Bytes;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::find_coordinator_response::Coordinator as FoundCoordinator;
use purekafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use purekafka_protocol::messages::{
    FindCoordinatorResponse, HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use std::collections::BTreeMap;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);
/// The longest first retry backoff: `retry.backoff.ms` (100 ms) + 20% jitter.
const FIRST_RETRY: Duration = Duration::from_millis(120);

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
    list.iter().map(|(t, p)| tp(t, *p)).collect()
}

fn config() -> MembershipConfig {
    let mut c = MembershipConfig::new("g");
    c.commit_before_revoke = false;
    c
}

impl Harness<Membership> {
    fn new(config: MembershipConfig, assignors: &[&str]) -> Self {
        Harness::of(Membership::with_assignor_names(config, assignors).unwrap())
    }

    fn poll(&mut self) {
        self.m.poll(self.now);
    }

    /// subscribe + poll + FindCoordinator answered: returns the JoinGroup.
    fn start(&mut self, topics: &[&str]) -> OutboundRequest {
        self.m.subscribe(self.now, topics.iter().copied());
        self.none();
        self.poll();
        let find = self.one_send();
        self.answer_find(&find, found(1));
        let join = self.one_send();
        assert!(
            matches!(join.request, GroupRequest::JoinGroup(_)),
            "{join:?}"
        );
        join
    }

    /// From a JoinGroup request to Stable as a follower with `assignment`.
    fn follow(
        &mut self,
        join: &OutboundRequest,
        generation: i32,
        member: &str,
        protocol: &str,
        assignment: &[(&str, i32)],
    ) -> Vec<Action> {
        self.reply(
            join.id,
            joined(generation, member, "the-leader", protocol, &[]),
        );
        let sync = self.one_send();
        let GroupRequest::SyncGroup(s) = &sync.request else {
            panic!("{sync:?}")
        };
        assert!(s.assignments.is_empty(), "followers send no assignments");
        assert_eq!(
            (s.generation_id, s.member_id.as_str()),
            (generation, member)
        );
        self.reply(sync.id, synced(assignment));
        self.drain()
    }

    fn heartbeat(&mut self) -> OutboundRequest {
        let hb = self.one_send();
        assert!(matches!(hb.request, GroupRequest::Heartbeat(_)), "{hb:?}");
        hb
    }
}

fn sub(topics: &[&str]) -> Subscription {
    Subscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    }
}

fn joined(
    generation: i32,
    member: &str,
    leader: &str,
    protocol: &str,
    members: &[(&str, Subscription)],
) -> GroupResponse {
    GroupResponse::JoinGroup(JoinGroupResponse {
        generation_id: generation,
        protocol_type: Some("consumer".into()),
        protocol_name: Some(protocol.into()),
        leader: leader.into(),
        member_id: member.into(),
        members: members
            .iter()
            .map(|(id, s)| JoinGroupResponseMember {
                member_id: id.to_string(),
                metadata: s.encode(3).unwrap(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn join_error(code: ErrorCode, member: &str) -> GroupResponse {
    GroupResponse::JoinGroup(JoinGroupResponse {
        error_code: code.0,
        member_id: member.into(),
        ..Default::default()
    })
}

fn synced(parts: &[(&str, i32)]) -> GroupResponse {
    let a = Assignment {
        partitions: tps(parts),
        user_data: None,
    };
    GroupResponse::SyncGroup(SyncGroupResponse {
        assignment: a.encode(3).unwrap(),
        ..Default::default()
    })
}

fn sync_error(code: ErrorCode) -> GroupResponse {
    GroupResponse::SyncGroup(SyncGroupResponse {
        error_code: code.0,
        ..Default::default()
    })
}

fn hb(code: ErrorCode) -> GroupResponse {
    GroupResponse::Heartbeat(HeartbeatResponse {
        error_code: code.0,
        ..Default::default()
    })
}

/// The partitions a leader's SyncGroup gives each member.
fn sync_assignments(s: &SyncGroupRequest) -> BTreeMap<String, Vec<TopicPartition>> {
    s.assignments
        .iter()
        .map(|a| {
            let parts = Assignment::decode(a.assignment.clone()).unwrap();
            (a.member_id.clone(), parts.partitions)
        })
        .collect()
}

fn join_subscription(r: &OutboundRequest, protocol: &str) -> Subscription {
    let GroupRequest::JoinGroup(j) = &r.request else {
        panic!("{r:?}")
    };
    let p = j.protocols.iter().find(|p| p.name == protocol).unwrap();
    Subscription::decode(p.metadata.clone()).unwrap()
}

fn join_member_id(r: &OutboundRequest) -> String {
    let GroupRequest::JoinGroup(j) = &r.request else {
        panic!("{r:?}")
    };
    j.member_id.clone()
}

fn assigned(
    actions: &[Action],
) -> (
    Vec<TopicPartition>,
    Vec<TopicPartition>,
    Vec<TopicPartition>,
) {
    for a in actions {
        if let Action::Assigned {
            partitions,
            added,
            revoked,
        } = a
        {
            return (partitions.clone(), added.clone(), revoked.clone());
        }
    }
    panic!("no Assigned in {actions:#?}")
}

/// A stable follower owning `parts` of topic `t` at generation 1.
fn stable(
    config: MembershipConfig,
    assignors: &[&str],
    protocol: &str,
    parts: &[(&str, i32)],
) -> Harness<Membership> {
    let mut h = Harness::new(config, assignors);
    let join = h.start(&["t"]);
    let actions = h.follow(&join, 1, "m1", protocol, parts);
    assert_eq!(assigned(&actions).0, tps(parts));
    assert_eq!(h.m.state(), MemberState::Stable);
    h
}

#[test]
fn leader_with_two_members_assigns_with_range() {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t1", "t0"]);
    let GroupRequest::JoinGroup(j) = &join.request else {
        panic!()
    };
    assert_eq!(
        join.destination,
        Destination::Coordinator(super::Coordinator {
            node_id: 1,
            host: "broker1".into(),
            port: 9092
        })
    );
    assert_eq!(j.group_id, "g");
    assert_eq!(j.member_id, "");
    assert_eq!(j.protocol_type, "consumer");
    assert_eq!(j.session_timeout_ms, 45_000);
    assert_eq!(j.rebalance_timeout_ms, 300_000);
    assert_eq!(join.min_timeout, Some(Duration::from_secs(305)));
    let s = join_subscription(&join, "range");
    assert_eq!(s.topics, vec!["t0".to_string(), "t1".to_string()]);
    assert_eq!(s.generation_id, -1);

    let members = [("m2", sub(&["t0", "t1"])), ("m1", sub(&["t0", "t1"]))];
    h.reply(join.id, joined(1, "m1", "m1", "range", &members));
    let actions = h.drain();
    let [Action::NeedMetadata { topics }] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    assert_eq!(topics, &["t0".to_string(), "t1".to_string()]);
    assert!(h.m.is_leader());
    assert_eq!(h.m.state(), MemberState::CompletingRebalance);

    let counts: BTreeMap<String, i32> = [
        ("t0".to_string(), 3),
        ("t1".to_string(), 3),
        ("other".to_string(), 9),
    ]
    .into();
    h.m.on_metadata(h.now, &counts);
    let sync = h.one_send();
    let GroupRequest::SyncGroup(s) = &sync.request else {
        panic!("{sync:?}")
    };
    assert_eq!((s.generation_id, s.member_id.as_str()), (1, "m1"));
    assert_eq!(s.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(s.protocol_name.as_deref(), Some("range"));
    let by_member = sync_assignments(s);
    assert_eq!(
        by_member["m1"],
        tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)])
    );
    assert_eq!(by_member["m2"], tps(&[("t0", 2), ("t1", 2)]));

    h.reply(
        sync.id,
        synced(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]),
    );
    let (parts, added, revoked) = assigned(&h.drain());
    assert_eq!(parts, tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]));
    assert_eq!(added, parts);
    assert!(revoked.is_empty());
    assert_eq!(h.m.state(), MemberState::Stable);
    assert_eq!(h.m.commit_generation(), Some((1, "m1")));
    // The leader watches every topic of the group.
    assert!(h.m.metadata_topics().contains("t0"));
}

#[test]
fn follower_syncs_without_assignments_and_gets_its_partitions() {
    let mut h = Harness::new(config(), &["range", "roundrobin"]);
    let join = h.start(&["t"]);
    let GroupRequest::JoinGroup(j) = &join.request else {
        panic!()
    };
    let names: Vec<&str> = j.protocols.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["range", "roundrobin"], "preference order");
    let actions = h.follow(&join, 4, "m7", "roundrobin", &[("t", 1)]);
    assert_eq!(
        assigned(&actions),
        (tps(&[("t", 1)]), tps(&[("t", 1)]), vec![])
    );
    assert!(!h.m.is_leader());
    assert_eq!(
        h.m.generation().protocol_name.as_deref(),
        Some("roundrobin")
    );
}

#[test]
fn member_id_required_rejoins_at_once_with_the_given_id() {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    assert_eq!(join_member_id(&join), "");
    h.reply(join.id, join_error(ErrorCode::MEMBER_ID_REQUIRED, "m-123"));
    let again = h.one_send();
    assert_eq!(join_member_id(&again), "m-123");
    let GroupRequest::JoinGroup(j) = &again.request else {
        panic!()
    };
    assert_eq!(
        j.reason.as_deref(),
        Some("need to re-join with the given member-id")
    );
    h.follow(&again, 1, "m-123", "range", &[("t", 0)]);
    assert_eq!(h.m.generation().member_id, "m-123");
}

#[test]
fn heartbeats_every_interval_and_not_two_at_once() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    assert_eq!(h.m.next_timeout(), Some(h.now + 3 * SEC));
    h.tick(2 * SEC);
    h.none();
    h.tick(SEC);
    let first = h.heartbeat();
    let GroupRequest::Heartbeat(r) = &first.request else {
        panic!()
    };
    assert_eq!(
        (r.group_id.as_str(), r.generation_id, r.member_id.as_str()),
        ("g", 1, "m1")
    );
    // Unanswered: no second heartbeat.
    h.tick(3 * SEC);
    h.none();
    h.reply(first.id, hb(ErrorCode::NONE));
    let second = h.heartbeat();
    h.reply(second.id, hb(ErrorCode::NONE));
    h.tick(3 * SEC);
    h.heartbeat();
}

#[test]
fn rebalance_in_progress_eager_revokes_everything_then_rejoins_on_poll() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0), ("t", 1)]);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    h.none(); // the rejoin waits for the application's poll
    assert_eq!(h.m.state(), MemberState::Stable);
    h.poll();
    let actions = h.drain();
    let [Action::Revoked { partitions }, Action::Send(join)] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    assert_eq!(partitions, &tps(&[("t", 0), ("t", 1)]));
    let s = join_subscription(join, "range");
    assert!(
        s.owned_partitions.is_empty(),
        "eager owns nothing when rejoining"
    );
    assert_eq!(join_member_id(join), "m1");
    let GroupRequest::JoinGroup(j) = &join.request else {
        panic!()
    };
    assert_eq!(j.reason.as_deref(), Some("group is already rebalancing"));
    let join = join.clone();
    let actions = h.follow(&join, 2, "m1", "range", &[("t", 1)]);
    assert_eq!(
        assigned(&actions),
        (tps(&[("t", 1)]), tps(&[("t", 1)]), vec![])
    );
}

#[test]
fn rebalance_in_progress_cooperative_revokes_only_what_moved() {
    let mut h = stable(
        config(),
        &["cooperative-sticky"],
        "cooperative-sticky",
        &[("t", 0), ("t", 1), ("t", 2)],
    );
    assert_eq!(h.m.rebalance_protocol(), RebalanceProtocol::Cooperative);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    h.poll();
    // Nothing revoked before joining: the subscription did not change.
    let join = h.one_send();
    let s = join_subscription(&join, "cooperative-sticky");
    assert_eq!(s.owned_partitions, tps(&[("t", 0), ("t", 1), ("t", 2)]));
    assert_eq!(s.generation_id, 1);
    assert_eq!(s.user_data.as_deref(), Some(&1i32.to_be_bytes()[..]));

    // The leader moved t-1 and t-2 away: revoke them, keep t-0, rejoin at once.
    let actions = h.follow(&join, 2, "m1", "cooperative-sticky", &[("t", 0)]);
    let (parts, added, revoked) = assigned(&actions);
    assert_eq!(parts, tps(&[("t", 0)]));
    assert!(added.is_empty());
    assert_eq!(revoked, tps(&[("t", 1), ("t", 2)]));
    let Some(Action::Send(rejoin)) = actions.last() else {
        panic!("{actions:#?}")
    };
    let s = join_subscription(rejoin, "cooperative-sticky");
    assert_eq!(s.owned_partitions, tps(&[("t", 0)]));
    assert_eq!(s.generation_id, 2);
    assert_eq!(
        h.m.assignment().iter().cloned().collect::<Vec<_>>(),
        tps(&[("t", 0)])
    );
}

#[test]
fn cooperative_leader_holds_back_moving_partitions() {
    // Two members own everything; a third joins. The sticky leader keeps
    // owners' partitions and assigns nothing that is still owned elsewhere.
    let mut h = Harness::new(config(), &["cooperative-sticky"]);
    let join = h.start(&["t"]);
    let owned = |parts: &[(&str, i32)]| Subscription {
        topics: vec!["t".into()],
        owned_partitions: tps(parts),
        generation_id: 3,
        ..Default::default()
    };
    let members = [
        ("a", owned(&[("t", 0), ("t", 1), ("t", 2)])),
        ("b", owned(&[("t", 3), ("t", 4), ("t", 5)])),
        ("c", sub(&["t"])),
    ];
    h.reply(join.id, joined(4, "a", "a", "cooperative-sticky", &members));
    h.drain();
    h.m.on_metadata(h.now, &[("t".to_string(), 6)].into());
    let sync = h.one_send();
    let GroupRequest::SyncGroup(s) = &sync.request else {
        panic!()
    };
    let by = sync_assignments(s);
    assert_eq!(by["a"].len(), 2);
    assert_eq!(by["b"].len(), 2);
    assert!(
        by["c"].is_empty(),
        "c must wait for the revocations: {by:?}"
    );
    assert!(by["a"].iter().all(|p| p.partition < 3) && by["b"].iter().all(|p| p.partition >= 3));
}

#[test]
fn illegal_generation_on_heartbeat_loses_partitions_and_rejoins_keeping_member_id() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::ILLEGAL_GENERATION));
    let actions = h.drain();
    let [Action::Lost { partitions }] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    assert_eq!(partitions, &tps(&[("t", 0)]));
    assert_eq!(h.m.state(), MemberState::Unjoined);
    assert_eq!(h.m.commit_generation(), None);
    assert!(h.m.assignment().is_empty());
    h.tick(10 * SEC);
    h.none(); // no heartbeats, no join before poll
    h.poll();
    let join = h.one_send(); // no Revoked: nothing left to revoke
    assert_eq!(join_member_id(&join), "m1");
    assert_eq!(join_subscription(&join, "range").generation_id, -1);
}

#[test]
fn unknown_member_id_on_heartbeat_resets_the_member_id() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::UNKNOWN_MEMBER_ID));
    assert!(matches!(h.drain().as_slice(), [Action::Lost { .. }]));
    h.poll();
    assert_eq!(join_member_id(&h.one_send()), "");
}

#[test]
fn stale_heartbeat_errors_are_ignored() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let old_beat = h.heartbeat();
    // Meanwhile the member rejoins (subscription change) into generation 2.
    h.m.subscribe(h.now, ["t", "u"]);
    h.poll();
    let actions = h.drain();
    let Some(Action::Send(join)) = actions.last() else {
        panic!("{actions:#?}")
    };
    let join = join.clone();
    h.follow(&join, 2, "m1", "range", &[("t", 0), ("u", 0)]);
    // The old generation's heartbeat answer arrives late.
    h.reply(old_beat.id, hb(ErrorCode::ILLEGAL_GENERATION));
    h.none();
    assert_eq!(h.m.state(), MemberState::Stable);
    assert_eq!(h.m.generation().generation_id, 2);
}

#[test]
fn not_coordinator_on_heartbeat_rediscovers_and_keeps_the_generation() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::NOT_COORDINATOR));
    let find = h.one_send();
    assert!(matches!(find.request, GroupRequest::FindCoordinator(_)));
    assert_eq!(h.m.coordinator(), None);
    h.reply(find.id, found(2));
    h.none(); // heartbeat retry waits for the backoff
    h.tick(FIRST_RETRY);
    let beat = h.heartbeat();
    assert_eq!(
        beat.destination,
        Destination::Coordinator(super::Coordinator {
            node_id: 2,
            host: "broker2".into(),
            port: 9092
        })
    );
    let GroupRequest::Heartbeat(r) = &beat.request else {
        panic!()
    };
    assert_eq!(r.generation_id, 1, "same generation: no rejoin");
    assert_eq!(h.m.state(), MemberState::Stable);
}

#[test]
fn not_coordinator_on_join_rediscovers_then_joins_after_backoff() {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    h.reply(join.id, join_error(ErrorCode::NOT_COORDINATOR, ""));
    let find = h.one_send();
    assert!(matches!(find.request, GroupRequest::FindCoordinator(_)));
    h.reply(find.id, found(3));
    h.none();
    h.tick(FIRST_RETRY);
    let join = h.one_send();
    assert!(matches!(join.request, GroupRequest::JoinGroup(_)));
    assert_eq!(
        join.destination,
        Destination::Coordinator(super::Coordinator {
            node_id: 3,
            host: "broker3".into(),
            port: 9092
        })
    );
}

#[test]
fn connection_failure_on_sync_rediscovers_and_rejoins() {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    h.reply(join.id, joined(1, "m1", "x", "range", &[]));
    let sync = h.one_send();
    h.m.on_request_failed(
        h.now,
        sync.id,
        &Error::Disconnected {
            broker: "broker1:9092".into(),
        },
    );
    let find = h.one_send();
    h.reply(find.id, found(1));
    h.tick(FIRST_RETRY);
    let join = h.one_send();
    assert_eq!(join_member_id(&join), "m1");
    assert_eq!(h.m.state(), MemberState::PreparingRebalance);
}

#[test]
fn session_timeout_without_heartbeat_answers_rediscovers_the_coordinator() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    h.heartbeat(); // never answered
    h.tick(41 * SEC);
    h.none();
    h.tick(SEC); // 45 s after the last successful contact
    let find = h.one_send();
    assert!(matches!(find.request, GroupRequest::FindCoordinator(_)));
    h.reply(find.id, found(1));
    h.tick(FIRST_RETRY);
    h.heartbeat();
}

#[test]
fn max_poll_interval_exceeded_leaves_the_group_and_next_poll_rejoins() {
    let mut c = config();
    c.max_poll_interval = 10 * SEC;
    let mut h = stable(c, &["range"], "range", &[("t", 0)]);
    for _ in 0..3 {
        h.tick(3 * SEC);
        let beat = h.heartbeat();
        h.reply(beat.id, hb(ErrorCode::NONE));
    }
    h.tick(SEC); // 10 s since the last poll
    let actions = h.drain();
    let [Action::Send(leave), Action::Lost { partitions }] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    let GroupRequest::LeaveGroup(l) = &leave.request else {
        panic!("{leave:?}")
    };
    assert_eq!(l.members.len(), 1);
    assert_eq!(l.members[0].member_id, "m1");
    assert_eq!(
        l.members[0].reason.as_deref(),
        Some("consumer poll timeout has expired.")
    );
    assert_eq!(partitions, &tps(&[("t", 0)]));
    assert_eq!(h.m.state(), MemberState::Unjoined);
    h.tick(30 * SEC);
    h.none(); // out of the group: no heartbeats
    h.poll();
    let join = h.one_send();
    assert_eq!(join_member_id(&join), "", "a new member id after leaving");
}

#[test]
fn static_member_poll_timeout_and_close_send_no_leave_group() {
    let mut c = config();
    c.group_instance_id = Some("instance-1".into());
    c.max_poll_interval = 10 * SEC;
    let mut h = Harness::new(c.clone(), &["range"]);
    let join = h.start(&["t"]);
    let GroupRequest::JoinGroup(j) = &join.request else {
        panic!()
    };
    assert_eq!(j.group_instance_id.as_deref(), Some("instance-1"));
    h.follow(&join, 1, "m1", "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    let GroupRequest::Heartbeat(r) = &beat.request else {
        panic!()
    };
    assert_eq!(r.group_instance_id.as_deref(), Some("instance-1"));
    h.reply(beat.id, hb(ErrorCode::NONE));
    h.tick(7 * SEC);
    let actions = h.drain();
    assert!(
        matches!(actions.as_slice(), [Action::Lost { .. }]),
        "no LeaveGroup: {actions:#?}"
    );

    // Close of a stable static member: revoke, no LeaveGroup, closed.
    let mut h = stable(c, &["range"], "range", &[("t", 0), ("t", 1)]);
    h.m.close(h.now);
    let actions = h.drain();
    let [Action::Revoked { partitions }, Action::Closed] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    assert_eq!(partitions, &tps(&[("t", 0), ("t", 1)]));
    assert_eq!(h.m.state(), MemberState::Closed);
    h.tick(60 * SEC);
    h.none();
}

#[test]
fn dynamic_member_close_commits_revokes_and_leaves() {
    let mut c = config();
    c.commit_before_revoke = true;
    let mut h = stable(c, &["range"], "range", &[("t", 0)]);
    h.m.close(h.now);
    let actions = h.drain();
    let [Action::CommitBeforeRevoke { partitions }] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    assert_eq!(partitions, &tps(&[("t", 0)]));
    assert_eq!(h.m.state(), MemberState::Closing);
    assert_eq!(
        h.m.commit_generation(),
        Some((1, "m1")),
        "the commit uses the live generation"
    );
    h.m.commit_done(h.now);
    let actions = h.drain();
    let [Action::Revoked { .. }, Action::Send(leave)] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    let leave = leave.clone();
    h.reply(
        leave.id,
        GroupResponse::LeaveGroup(LeaveGroupResponse::default()),
    );
    assert!(matches!(h.drain().as_slice(), [Action::Closed]));
}

#[test]
fn leave_group_versions_before_3_carry_the_member_id() {
    let mut c = config();
    c.versions = GroupApiVersions {
        find_coordinator: 2,
        join_group: 4,
        sync_group: 2,
        heartbeat: 2,
        leave_group: 2,
    };
    let mut h = Harness::new(c, &["range"]);
    h.m.subscribe(h.now, ["t"]);
    h.poll();
    let find = h.one_send();
    let GroupRequest::FindCoordinator(f) = &find.request else {
        panic!()
    };
    assert_eq!((f.key.as_str(), f.coordinator_keys.len()), ("g", 0));
    // v0-3 responses carry the coordinator at the top level.
    h.reply(
        find.id,
        GroupResponse::FindCoordinator(FindCoordinatorResponse {
            node_id: 5,
            host: "old".into(),
            port: 9093,
            ..Default::default()
        }),
    );
    let join = h.one_send();
    assert_eq!(join.version, 4);
    let GroupRequest::JoinGroup(j) = &join.request else {
        panic!()
    };
    assert_eq!(j.reason, None);
    h.follow(&join, 1, "m1", "range", &[]);
    h.m.close(h.now);
    let actions = h.drain();
    let [Action::Send(leave)] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    let GroupRequest::LeaveGroup(l) = &leave.request else {
        panic!()
    };
    assert_eq!(
        (l.member_id.as_str(), l.members.len(), leave.version),
        ("m1", 0, 2)
    );
}

#[test]
fn static_membership_needs_join_group_v5() {
    let mut c = config();
    c.group_instance_id = Some("i".into());
    c.versions.join_group = 4;
    let mut h = Harness::new(c, &["range"]);
    h.m.subscribe(h.now, ["t"]);
    h.poll();
    let find = h.one_send();
    h.reply(find.id, found(1));
    let actions = h.drain();
    assert!(
        matches!(actions.as_slice(), [Action::Fatal(Error::Unsupported(_))]),
        "{actions:#?}"
    );
    assert_eq!(h.m.state(), MemberState::Failed);
}

#[test]
fn commit_before_revoke_holds_the_join_until_committed_or_timed_out() {
    let mut c = config();
    c.commit_before_revoke = true;
    c.rebalance_timeout = 20 * SEC;
    let mut h = stable(c, &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    h.poll();
    let actions = h.drain();
    assert!(
        matches!(actions.as_slice(), [Action::CommitBeforeRevoke { .. }]),
        "{actions:#?}"
    );
    // Heartbeats continue while committing; no JoinGroup yet.
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::NONE));
    h.tick(17 * SEC); // the rebalance timeout passes without commit_done
    let actions = h.drain();
    let revoked = actions
        .iter()
        .position(|a| matches!(a, Action::Revoked { .. }));
    let join = actions.iter().position(
        |a| matches!(a, Action::Send(r) if matches!(r.request, GroupRequest::JoinGroup(_))),
    );
    assert!(
        revoked.is_some() && join.is_some() && revoked < join,
        "{actions:#?}"
    );
}

#[test]
fn sync_rebalance_in_progress_rejoins_at_once() {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    h.reply(join.id, joined(1, "m1", "x", "range", &[]));
    let sync = h.one_send();
    h.reply(sync.id, sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
    let join = h.one_send();
    assert_eq!(join_member_id(&join), "m1");
}

#[test]
fn fenced_instance_is_fatal_and_loses_partitions() {
    let mut c = config();
    c.group_instance_id = Some("i".into());
    let mut h = stable(c, &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::FENCED_INSTANCE_ID));
    let actions = h.drain();
    let [Action::Lost { .. }, Action::Fatal(e)] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    assert_eq!(e.code(), Some(ErrorCode::FENCED_INSTANCE_ID));
    h.poll();
    h.tick(10 * SEC);
    h.none();
    h.m.close(h.now);
    assert!(matches!(h.drain().as_slice(), [Action::Closed]));
}

#[test]
fn leader_rejoins_when_partition_counts_change() {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    h.reply(
        join.id,
        joined(
            1,
            "m1",
            "m1",
            "range",
            &[("m1", sub(&["t"])), ("m2", sub(&["t", "u"]))],
        ),
    );
    h.drain();
    assert!(
        h.m.metadata_topics().contains("u"),
        "the leader watches its followers' topics"
    );
    let counts: BTreeMap<String, i32> = [("t".to_string(), 2), ("u".to_string(), 1)].into();
    h.m.on_metadata(h.now, &counts);
    let sync = h.one_send();
    h.reply(sync.id, synced(&[("t", 0)]));
    h.drain();
    h.m.on_metadata(h.now, &counts);
    h.poll();
    h.none(); // same counts: nothing to do
    let grown: BTreeMap<String, i32> = [("t".to_string(), 2), ("u".to_string(), 4)].into();
    h.m.on_metadata(h.now, &grown);
    h.none();
    h.poll();
    let actions = h.drain();
    assert!(
        matches!(actions.as_slice(), [Action::Revoked { .. }, Action::Send(r)] if matches!(r.request, GroupRequest::JoinGroup(_))),
        "{actions:#?}"
    );
}

#[test]
fn malformed_member_metadata_is_reported_and_that_member_gets_nothing() {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    let mut r = joined(1, "m1", "m1", "range", &[("m1", sub(&["t"]))]);
    if let GroupResponse::JoinGroup(j) = &mut r {
        j.members.push(JoinGroupResponseMember {
            member_id: "bad".into(),
            metadata: Bytes::from_static(&[0, 1, 0, 0, 0, 9]),
            ..Default::default()
        });
    }
    h.reply(join.id, r);
    let actions = h.drain();
    assert!(
        matches!(
            actions.as_slice(),
            [
                Action::Error(Error::Decode { .. }),
                Action::NeedMetadata { .. }
            ]
        ),
        "{actions:#?}"
    );
    h.m.on_metadata(h.now, &[("t".to_string(), 2)].into());
    let sync = h.one_send();
    let GroupRequest::SyncGroup(s) = &sync.request else {
        panic!()
    };
    let bad = s.assignments.iter().find(|a| a.member_id == "bad").unwrap();
    assert!(
        Assignment::decode(bad.assignment.clone())
            .unwrap()
            .partitions
            .is_empty()
    );
}

#[test]
fn assignment_outside_the_subscription_triggers_a_rejoin() {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    let actions = h.follow(&join, 1, "m1", "range", &[("other", 0)]);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Assigned { .. })),
        "{actions:#?}"
    );
    assert!(
        matches!(actions.last(), Some(Action::Send(r)) if matches!(r.request, GroupRequest::JoinGroup(_))),
        "{actions:#?}"
    );
}

#[test]
fn unsubscribe_revokes_and_leaves() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.m.unsubscribe(h.now);
    let actions = h.drain();
    let [Action::Revoked { .. }, Action::Send(leave)] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    assert!(matches!(leave.request, GroupRequest::LeaveGroup(_)));
    assert_eq!(h.m.state(), MemberState::Unjoined);
    h.tick(10 * SEC);
    h.poll();
    h.none();
}

#[test]
fn commit_errors_feed_back_into_the_membership() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.m.on_coordinator_error(h.now, "OffsetCommit", ErrorCode::REBALANCE_IN_PROGRESS, 1);
    h.none();
    h.poll();
    assert!(matches!(
        h.drain().as_slice(),
        [Action::Revoked { .. }, Action::Send(_)]
    ));
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.m.on_coordinator_error(h.now, "OffsetCommit", ErrorCode::ILLEGAL_GENERATION, 0);
    h.none(); // about another generation
    h.m.on_coordinator_error(h.now, "OffsetCommit", ErrorCode::UNKNOWN_MEMBER_ID, 1);
    assert!(matches!(h.drain().as_slice(), [Action::Lost { .. }]));
    h.m.on_coordinator_error(h.now, "OffsetCommit", ErrorCode::NOT_COORDINATOR, -1);
    assert!(h.m.coordinator().is_none());
}

#[test]
fn rejects_bad_configuration() {
    assert!(Membership::with_assignor_names(config(), &["nope"]).is_err());
    assert!(Membership::with_assignor_names(config(), &[]).is_err());
    assert!(Membership::with_assignor_names(config(), &["range", "range"]).is_err());
    assert!(Membership::with_assignor_names(MembershipConfig::new(""), &["range"]).is_err());
    let mut c = config();
    c.heartbeat_interval = c.session_timeout;
    assert!(Membership::with_assignor_names(c, &["range"]).is_err());
    // Mixed assignors fall back to the eager protocol, as Java.
    let m = Membership::with_assignor_names(config(), &["cooperative-sticky", "range"]).unwrap();
    assert_eq!(m.rebalance_protocol(), RebalanceProtocol::Eager);
}

#[test]
fn a_response_of_the_wrong_api_counts_as_a_failed_request() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, sync_error(ErrorCode::NONE));
    let find = h.one_send();
    assert!(
        matches!(find.request, GroupRequest::FindCoordinator(_)),
        "{find:?}"
    );
    assert_eq!(h.m.state(), MemberState::Stable);
}

#[test]
fn timers_are_only_what_is_pending() {
    let mut h = Harness::new(config(), &["range"]);
    assert_eq!(h.m.next_timeout(), None, "idle before subscribing");
    let join = h.start(&["t"]);
    assert_eq!(h.m.next_timeout(), None, "waiting for JoinGroup: no timer");
    h.follow(&join, 1, "m1", "range", &[]);
    assert_eq!(h.m.next_timeout(), Some(h.now + 3 * SEC));
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    // In flight: the next deadline is the session's (45 s after joining).
    assert_eq!(h.m.next_timeout(), Some(h.now + 42 * SEC));
    h.reply(beat.id, hb(ErrorCode::NOT_COORDINATOR));
    let find = h.one_send();
    h.m.on_request_failed(h.now, find.id, &Error::Disconnected { broker: "b".into() });
    // Lookup backoff, then it retries.
    let retry = h.m.next_timeout().unwrap() - h.now;
    assert!(
        (Duration::from_millis(100)..=FIRST_RETRY).contains(&retry),
        "{retry:?}"
    );
    h.tick(FIRST_RETRY);
    assert!(matches!(
        h.one_send().request,
        GroupRequest::FindCoordinator(_)
    ));
}

#[test]
fn ensure_coordinator_finds_the_coordinator_without_joining() {
    // A consumer that assigns partitions itself commits to the group's
    // coordinator but never joins the group.
    let mut h = Harness::new(config(), &["range"]);
    h.m.ensure_coordinator(h.now);
    let find = h.one_send();
    assert_eq!(find.destination, Destination::AnyBroker);
    assert!(matches!(find.request, GroupRequest::FindCoordinator(_)));
    h.reply(find.id, found(1));
    h.none();
    assert!(h.m.coordinator().is_some());
    assert_eq!(h.m.state(), MemberState::Unjoined);
    assert_eq!(h.m.commit_generation(), None);
    // Polls do not join either, and no heartbeats go out.
    h.poll();
    h.tick(10 * SEC);
    h.none();
}

#[test]
fn no_commit_generation_while_the_join_is_in_flight() {
    // Offset commits must not go out with generation -1 while JoinGroup is
    // pending: the driver fails them on the client side.
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    assert_eq!(h.m.state(), MemberState::PreparingRebalance);
    assert_eq!(h.m.commit_generation(), None);
    let actions = h.follow(&join, 1, "m1", "range", &[("t", 0)]);
    assert!(!actions.is_empty());
    assert_eq!(h.m.commit_generation(), Some((1, "m1")));
}

/// Checks a run of retry delays: each within ±20% of 100 ms doubled per
/// earlier failure, never outside [retry.backoff.ms, retry.backoff.max.ms].
fn assert_exponential(delays: &[Duration]) {
    let (base, max) = (Duration::from_millis(100), SEC);
    for (i, d) in delays.iter().enumerate() {
        let term = (base * (1 << i)).min(max);
        let (lo, hi) = (term.mul_f64(0.8).max(base), term.mul_f64(1.2).min(max));
        assert!(
            (lo..=hi).contains(d),
            "retry {}: {d:?} not in {lo:?}..={hi:?} ({delays:?})",
            i + 1
        );
    }
}

/// Issue #10: FindCoordinator was retried every `retry.backoff.ms`
/// forever. Like Java, the wait doubles per failure in a row (±20% jitter)
/// up to `retry.backoff.max.ms`, and a success starts it again.
#[test]
fn find_coordinator_retries_back_off_exponentially_and_reset_on_success() {
    let mut h = Harness::new(config(), &["range"]);
    h.m.subscribe(h.now, ["t"]);
    h.poll();
    let mut delays = Vec::new();
    for _ in 0..7 {
        let find = h.one_send();
        assert!(matches!(find.request, GroupRequest::FindCoordinator(_)));
        h.reply(
            find.id,
            GroupResponse::FindCoordinator(FindCoordinatorResponse {
                coordinators: vec![FoundCoordinator {
                    key: "g".into(),
                    node_id: -1,
                    error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
                    ..Default::default()
                }],
                ..Default::default()
            }),
        );
        // Nothing goes out before the backoff ends.
        delays.push(h.wait_out());
    }
    assert_exponential(&delays);
    assert!(
        delays[6] >= SEC.mul_f64(0.8),
        "capped at the max: {delays:?}"
    );
    // Found: the next lookup failure waits the base backoff again.
    let find = h.one_send();
    h.reply(find.id, found(1));
    let join = h.one_send();
    h.m.on_request_failed(h.now, join.id, &Error::Disconnected { broker: "b".into() });
    let find = h.one_send();
    h.m.on_request_failed(h.now, find.id, &Error::Disconnected { broker: "b".into() });
    assert_exponential(&[h.wait()]);
}

/// JoinGroup retried on COORDINATOR_LOAD_IN_PROGRESS: growing waits, and no
/// error for the application (the member gets over it by itself).
#[test]
fn join_retries_back_off_exponentially_and_are_not_surfaced() {
    let mut h = Harness::new(config(), &["range"]);
    let mut join = h.start(&["t"]);
    let mut delays = Vec::new();
    for _ in 0..5 {
        h.reply(
            join.id,
            join_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, ""),
        );
        h.none();
        let d = h.wait();
        h.tick(d);
        join = h.one_send();
        assert!(matches!(join.request, GroupRequest::JoinGroup(_)));
        delays.push(d);
    }
    assert_exponential(&delays);
    // A completed join resets the backoff: a later failed round waits ~100 ms.
    h.follow(&join, 1, "m1", "range", &[("t", 0)]);
    h.m.on_coordinator_error(h.now, "OffsetCommit", ErrorCode::REBALANCE_IN_PROGRESS, 1);
    h.poll();
    let join = h
        .drain()
        .into_iter()
        .find_map(|a| match a {
            Action::Send(r) => Some(r),
            _ => None,
        })
        .unwrap();
    h.reply(
        join.id,
        join_error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, ""),
    );
    assert_exponential(&[h.wait()]);
}

/// Heartbeats that fail with a retriable error back off exponentially and
/// are not surfaced; a successful one resets the backoff.
#[test]
fn heartbeat_retries_back_off_exponentially_and_are_not_surfaced() {
    let mut h = stable(config(), &["range"], "range", &[("t", 0)]);
    h.tick(3 * SEC);
    let mut delays = Vec::new();
    for _ in 0..4 {
        let beat = h.heartbeat();
        h.reply(beat.id, hb(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
        h.none();
        let d = h.wait();
        delays.push(d);
        h.tick(d);
    }
    assert_exponential(&delays);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::NONE));
    assert_eq!(h.wait(), 3 * SEC, "back to the heartbeat interval");
    h.tick(3 * SEC);
    let beat = h.heartbeat();
    h.reply(beat.id, hb(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
    assert_exponential(&[h.wait()]);
    assert_eq!(h.m.state(), MemberState::Stable);
}

/// A follower of generation 1 (member m1) whose SyncGroup was answered
/// `code`.
fn sync_answered(code: ErrorCode) -> Harness<Membership> {
    let mut h = Harness::new(config(), &["range"]);
    let join = h.start(&["t"]);
    h.reply(join.id, joined(1, "m1", "x", "range", &[]));
    let sync = h.one_send();
    h.reply(sync.id, sync_error(code));
    h
}

/// Issue #10: the librdkafka mock answers a follower whose SyncGroup comes
/// after the leader's with INVALID_REQUEST. The member rejoins (after a
/// backoff); `poll` must not report it, as Java's would not.
#[test]
fn a_sync_group_race_rejoins_without_an_error_for_the_application() {
    let mut h = sync_answered(ErrorCode::INVALID_REQUEST);
    h.none();
    assert_eq!(h.m.state(), MemberState::PreparingRebalance);
    assert_exponential(&[h.wait()]);
    h.tick(h.wait());
    let join = h.one_send();
    assert_eq!(join_member_id(&join), "m1");
    let actions = h.follow(&join, 2, "m1", "range", &[("t", 0)]);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Error(_))),
        "{actions:#?}"
    );
    assert_eq!(h.m.state(), MemberState::Stable);
}

/// An error the member cannot get over by retrying still reaches the
/// application (Java throws it from `poll`), and the member carries on.
#[test]
fn an_unexpected_non_retriable_sync_error_is_still_surfaced() {
    let mut h = sync_answered(ErrorCode::UNSUPPORTED_COMPRESSION_TYPE);
    let actions = h.drain();
    assert!(
        matches!(actions.as_slice(), [Action::Error(Error::Kafka { code, api: "SyncGroup", .. })] if *code == ErrorCode::UNSUPPORTED_COMPRESSION_TYPE),
        "{actions:#?}"
    );
    assert_eq!(h.m.state(), MemberState::PreparingRebalance);
}

/// A FindCoordinator answer through the client's one lookup
/// (`net::coordinator`): one for another group is not taken (it was);
/// what retrying cannot fix reaches the application and the lookup goes
/// on after a longer backoff; a denied group is fatal, named once.
#[test]
fn find_coordinator_answers_that_find_no_coordinator() {
    let mut h = Harness::new(config(), &["range"]);
    h.m.subscribe(h.now, ["t"]);
    h.poll();
    let find = h.one_send();
    h.answer_find(&find, coordinator_answer("other-group", ErrorCode::NONE, 7));
    h.none();
    assert_eq!(h.m.coordinator(), None);
    let first = h.wait_out();

    let find = h.one_send();
    h.answer_find(
        &find,
        coordinator_answer("g", ErrorCode::INVALID_REQUEST, -1),
    );
    let actions = h.drain();
    let [Action::Error(Error::Kafka { code, message, .. })] = actions.as_slice() else {
        panic!("{actions:#?}")
    };
    assert_eq!(
        (*code, message.as_deref()),
        (ErrorCode::INVALID_REQUEST, Some("group 'g'"))
    );
    let second = h.wait_out();
    assert_exponential(&[first, second]);

    let find = h.one_send();
    h.deny_find(&find);
}
