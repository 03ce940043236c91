//! Consumer groups, classic protocol (JoinGroup / SyncGroup / Heartbeat).
//!
//! - [`protocol`]: the `consumer` protocol's embedded subscription and
//!   assignment formats.
//! - [`assignor`]: the [`Assignor`] trait and the `range`, `roundrobin` and
//!   `cooperative-sticky` assignors.

pub mod assignor;
pub mod protocol;
mod sticky;

/// A topic and partition: Java's `TopicPartition`, ordered by topic then
/// partition.
pub type TopicPartition = (String, i32);

pub use assignor::{
    Assignor, CooperativeStickyAssignor, GroupAssignment, MemberId, MemberSubscription, RangeAssignor,
    RebalanceProtocol, RoundRobinAssignor,
};
pub use protocol::{Assignment, Subscription};
