//! Consumer groups: the classic protocol (JoinGroup / SyncGroup / Heartbeat,
//! `membership`) and KIP-848's consumer protocol (ConsumerGroupHeartbeat,
//! `heartbeat`: `group.protocol=consumer`), one driven at a time through
//! `member::GroupMember`.
//!
//! Public here: the [`Assignor`] trait (a custom assignor is a user extension
//! point, as in Java), the built-in assignors and [`TopicPartition`]. The
//! membership state machine and its requests are internal; the notes below
//! say how the consumer drives them.
//!
//! ```
//! use purekafka::consumer::group::{
//!     Assignor, GroupAssignment, MemberSubscription, RebalanceProtocol, Subscription,
//! };
//! use purekafka::TopicPartition;
//! use std::collections::BTreeMap;
//!
//! /// Every partition to the member whose id sorts first.
//! #[derive(Debug)]
//! struct AllToFirst;
//!
//! impl Assignor for AllToFirst {
//!     fn name(&self) -> &'static str {
//!         "all-to-first"
//!     }
//!     fn protocol(&self) -> RebalanceProtocol {
//!         RebalanceProtocol::Eager
//!     }
//!     fn assign(
//!         &self,
//!         partitions_per_topic: &BTreeMap<String, i32>,
//!         members: &[MemberSubscription],
//!     ) -> purekafka::Result<GroupAssignment> {
//!         let mut out: GroupAssignment =
//!             members.iter().map(|m| (m.member_id.clone(), Vec::new())).collect();
//!         if let Some(first) = out.keys().next().cloned() {
//!             let all = partitions_per_topic
//!                 .iter()
//!                 .flat_map(|(t, n)| (0..*n).map(move |p| TopicPartition::new(t.as_str(), p)))
//!                 .collect();
//!             out.insert(first, all);
//!         }
//!         Ok(out)
//!     }
//! }
//!
//! let member = |id: &str| MemberSubscription {
//!     member_id: id.into(),
//!     group_instance_id: None,
//!     subscription: Subscription { topics: vec!["t".into()], ..Subscription::default() },
//! };
//! let plan = AllToFirst.assign(&BTreeMap::from([("t".into(), 2)]), &[member("b"), member("a")])?;
//! assert_eq!(plan["a"], [TopicPartition::new("t", 0), TopicPartition::new("t", 1)]);
//! assert!(plan["b"].is_empty());
//! # Ok::<(), purekafka::Error>(())
//! ```
//!
//! - `protocol`: the `consumer` protocol's embedded subscription and
//!   assignment formats.
//! - [`assignor`]: the [`Assignor`] trait and the `range`, `roundrobin` and
//!   `cooperative-sticky` assignors.
//! - `membership`: the sans-IO membership state machine (`Membership`):
//!   inputs with a caller-supplied `now`, `Action`s out.
//! - `requests`: the requests it asks the driver to send, and where.
//! - `discovery`: finding the group coordinator (and finding it again),
//!   for both protocols' members, over the client's one FindCoordinator
//!   lookup (`net::coordinator`).
//!
//! # Driving a `Membership`
//!
//! The consumer's group task owns the state machine and loops:
//!
//! 1. After every input (application call, response, failure, metadata,
//!    timer), drain `Membership::next_action` and act, in order:
//!    - `Action::Send`: encode `request` at `version`, send it to
//!      `destination` (any broker, or the coordinator's `host:port`, ideally
//!      on a connection of its own), with a timeout of at least
//!      `min_timeout`. Report the decoded response with
//!      `Membership::on_response` (see `GroupResponse::decode`), or any
//!      failure (connection, timeout, undecodable bytes) with
//!      `Membership::on_request_failed`, quoting `id`. Never retry: the
//!      state machine does.
//!    - `Action::NeedMetadata`: get partition counts for the topics (cache
//!      or a Metadata request) and call `Membership::on_metadata`.
//!    - `Action::CommitBeforeRevoke`: commit the consumed offsets of the
//!      partitions (OffsetCommit to `Membership::coordinator`, with
//!      `Membership::commit_generation`), then `Membership::commit_done`.
//!    - `Action::Revoked`, `Action::Lost`, `Action::Assigned`: stop or
//!      start fetching, and run the application's rebalance callbacks
//!      (`Assigned`: revoked first, then added).
//!    - `Action::Error`: surface to the application; `Action::Fatal`:
//!      surface and stop; `Action::Closed`: close is done.
//! 2. Call `Membership::poll` whenever the application polls.
//! 3. Sleep until `Membership::next_timeout` (or the next input), then call
//!    `Membership::handle_timeout`.
//! 4. Keep fresh metadata for `Membership::metadata_topics` and pass
//!    changes to `Membership::on_metadata`; feed group-level errors of
//!    OffsetCommit / OffsetFetch to `Membership::on_coordinator_error`.

pub mod assignor;
pub(crate) mod discovery;
pub(crate) mod heartbeat;
pub(crate) mod member;
pub(crate) mod membership;
pub(crate) mod protocol;
pub(crate) mod requests;
mod sticky;

#[cfg(test)]
mod heartbeat_tests;
#[cfg(test)]
mod membership_tests;
#[cfg(test)]
mod test_harness;

pub use crate::TopicPartition;

pub use assignor::{
    Assignor, CooperativeStickyAssignor, GroupAssignment, MemberId, MemberSubscription,
    RangeAssignor, RebalanceProtocol, RoundRobinAssignor,
};
pub(crate) use heartbeat::{ConsumerMember, ConsumerMemberConfig};
pub(crate) use member::GroupMember;
pub(crate) use membership::{Action, MemberState, Membership, MembershipConfig};
/// A member's subscription as an [`Assignor`] sees it (Java's
/// `ConsumerPartitionAssignor.Subscription`).
pub use protocol::Subscription;
pub(crate) use requests::{
    Coordinator, Destination, GroupApiVersions, GroupResponse, OutboundRequest, RequestId,
};
