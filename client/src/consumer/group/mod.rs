//! Consumer groups, classic protocol (JoinGroup / SyncGroup / Heartbeat).
//!
//! - [`protocol`]: the `consumer` protocol's embedded subscription and
//!   assignment formats.
//! - [`assignor`]: the [`Assignor`] trait and the `range`, `roundrobin` and
//!   `cooperative-sticky` assignors.
//! - [`membership`]: the sans-IO membership state machine ([`Membership`]):
//!   inputs with a caller-supplied `now`, [`Action`]s out.
//! - [`requests`]: the requests it asks the driver to send, and where.

pub mod assignor;
pub mod membership;
pub mod protocol;
pub mod requests;
mod sticky;

#[cfg(test)]
mod membership_tests;

/// A topic and partition: Java's `TopicPartition`, ordered by topic then
/// partition.
pub type TopicPartition = (String, i32);

pub use assignor::{
    Assignor, CooperativeStickyAssignor, GroupAssignment, MemberId, MemberSubscription, RangeAssignor,
    RebalanceProtocol, RoundRobinAssignor,
};
pub use membership::{Action, Generation, MemberState, Membership, MembershipConfig};
pub use protocol::{Assignment, Subscription};
pub use requests::{
    Coordinator, Destination, GroupApiVersions, GroupRequest, GroupResponse, OutboundRequest, RequestId,
};
