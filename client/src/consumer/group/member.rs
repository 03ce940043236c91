//! [`GroupMember`]: the group task's one member state machine, either
//! protocol (`group.protocol`): the classic [`Membership`] or KIP-848's
//! [`ConsumerMember`]. Both are sans-IO and emit the same [`Action`]s; this
//! only routes the driver's inputs to the one in use.

use super::heartbeat::ConsumerMember;
use super::membership::{Action, MemberState, Membership};
use super::requests::{Coordinator, GroupApiVersions, GroupResponse, RequestId};
use crate::{Error, TopicPartition};
use purekafka_protocol::{ErrorCode, Uuid};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// A group member of either protocol.
#[derive(Debug)]
pub(crate) enum GroupMember {
    /// `group.protocol=classic`: JoinGroup / SyncGroup / Heartbeat.
    Classic(Membership),
    /// `group.protocol=consumer`: ConsumerGroupHeartbeat.
    Consumer(ConsumerMember),
}

macro_rules! both {
    ($self:ident, $m:ident => $e:expr) => {
        match $self {
            GroupMember::Classic($m) => $e,
            GroupMember::Consumer($m) => $e,
        }
    };
}

impl GroupMember {
    /// The KIP-848 member, if that is the protocol.
    pub fn consumer(&self) -> Option<&ConsumerMember> {
        match self {
            GroupMember::Consumer(m) => Some(m),
            GroupMember::Classic(_) => None,
        }
    }

    /// Partitions to be revoked at the next poll (consumer protocol).
    pub fn pending_revocation(&self) -> Vec<TopicPartition> {
        match self {
            GroupMember::Consumer(m) => m.pending_revocation(),
            GroupMember::Classic(_) => Vec::new(),
        }
    }

    pub fn next_action(&mut self) -> Option<Action> {
        both!(self, m => m.next_action())
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        both!(self, m => m.next_timeout())
    }

    pub fn state(&self) -> MemberState {
        both!(self, m => m.state())
    }

    /// The generation id (classic) or member epoch (consumer protocol).
    pub fn generation_id(&self) -> i32 {
        match self {
            GroupMember::Classic(m) => m.generation().generation_id,
            GroupMember::Consumer(m) => m.epoch(),
        }
    }

    /// What a commit carries: generation id or member epoch, and member id.
    pub fn commit_generation(&self) -> Option<(i32, &str)> {
        both!(self, m => m.commit_generation())
    }

    pub fn group_id(&self) -> &str {
        both!(self, m => m.group_id())
    }

    pub fn group_instance_id(&self) -> Option<&str> {
        both!(self, m => m.group_instance_id())
    }

    pub fn coordinator(&self) -> Option<&Coordinator> {
        both!(self, m => m.coordinator())
    }

    pub fn subscription(&self) -> &BTreeSet<String> {
        both!(self, m => m.subscription())
    }

    pub fn metadata_topics(&self) -> BTreeSet<String> {
        both!(self, m => m.metadata_topics())
    }

    /// Switches API versions; `heartbeat` is ConsumerGroupHeartbeat's.
    pub fn set_api_versions(&mut self, versions: GroupApiVersions, heartbeat: i16) {
        match self {
            GroupMember::Classic(m) => m.set_api_versions(versions),
            GroupMember::Consumer(m) => m.set_api_versions(versions.find_coordinator, heartbeat),
        }
    }

    pub fn subscribe<I, S>(&mut self, now: Instant, topics: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        both!(self, m => m.subscribe(now, topics))
    }

    pub fn unsubscribe(&mut self, now: Instant) {
        both!(self, m => m.unsubscribe(now))
    }

    pub fn poll(&mut self, now: Instant) {
        both!(self, m => m.poll(now))
    }

    pub fn close(&mut self, now: Instant) {
        both!(self, m => m.close(now))
    }

    pub fn commit_done(&mut self, now: Instant) {
        both!(self, m => m.commit_done(now))
    }

    /// Partition counts (classic: the leader assigns with them; the
    /// consumer protocol's broker assigns, so it has no use for them).
    pub fn on_metadata(&mut self, now: Instant, partition_counts: &BTreeMap<String, i32>) {
        match self {
            GroupMember::Classic(m) => m.on_metadata(now, partition_counts),
            GroupMember::Consumer(m) => m.handle_timeout(now),
        }
    }

    /// Topic names by id, for the consumer protocol's assignments.
    pub fn on_topic_names(&mut self, now: Instant, names: &BTreeMap<Uuid, String>) {
        if let GroupMember::Consumer(m) = self {
            m.on_topic_names(now, names);
        }
    }

    pub fn on_response(&mut self, now: Instant, id: RequestId, response: GroupResponse) {
        both!(self, m => m.on_response(now, id, response))
    }

    pub fn on_request_failed(&mut self, now: Instant, id: RequestId, error: &Error) {
        both!(self, m => m.on_request_failed(now, id, error))
    }

    pub fn on_coordinator_error(
        &mut self,
        now: Instant,
        api: &'static str,
        code: ErrorCode,
        sent_generation_id: i32,
    ) {
        match self {
            GroupMember::Classic(m) => m.on_coordinator_error(now, api, code, sent_generation_id),
            GroupMember::Consumer(m) => m.on_coordinator_error(now, code),
        }
    }

    pub fn ensure_coordinator(&mut self, now: Instant) {
        both!(self, m => m.ensure_coordinator(now))
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        both!(self, m => m.handle_timeout(now))
    }
}
