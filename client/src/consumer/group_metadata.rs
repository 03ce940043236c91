//! The consumer group's identity as a transaction needs it (KIP-447).

/// A consumer's place in its group, as
/// [`Producer::send_offsets_to_transaction`](crate::producer::Producer::send_offsets_to_transaction)
/// needs it (Java's `ConsumerGroupMetadata`).
///
/// The group coordinator accepts a transaction's offsets only from the
/// current generation's member (KIP-447): a consumer that was fenced out of
/// its group (a zombie after a rebalance) cannot commit offsets through a
/// transaction, and its transaction must be aborted. Take it from the
/// consumer just before committing, not once at start: the generation changes
/// with every rebalance.
///
/// [`ConsumerGroupMetadata::new`] makes one with only the group id (generation
/// -1, no member id): the coordinator then checks no generation (the pre-KIP-447
/// behaviour, `sendOffsetsToTransaction(offsets, groupId)` in Java).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation the member joined; -1 for none.
    pub generation_id: i32,
    /// The member id the coordinator gave; empty for none.
    pub member_id: String,
    /// `group.instance.id` (static membership), if set.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata naming only the group: no generation or member checks.
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}
