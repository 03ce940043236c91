//! A share session with one broker (KIP-932), sans-IO.
//!
//! The broker keeps, per (group, member), the set of partitions the member
//! fetches from it and the epoch of the next request. A request at epoch 0
//! opens (or replaces) the session and lists every partition; each later
//! ShareFetch or ShareAcknowledge carries the next epoch (1, 2, ...,
//! wrapping from `i32::MAX` to 1) and only the changes: partitions added
//! (and those with acknowledgements) in `Topics`, partitions dropped in
//! `ForgottenTopicsData`. Epoch -1 closes the session (ShareAcknowledge on
//! close). A request at epoch 0 may not carry acknowledgements.
//!
//! One request per session is in flight at a time (the driver holds the
//! session while it waits); [`ShareSession::succeeded`] moves to the next
//! epoch and makes the planned partition set the session's,
//! [`ShareSession::failed`] (a lost connection, a timeout,
//! INVALID_SHARE_SESSION_EPOCH, SHARE_SESSION_NOT_FOUND) starts over at
//! epoch 0, as Java's `ShareSessionHandler` does.

use super::acks::{AckBatch, SharePartition};
use purekafka_protocol::Uuid;
use purekafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic,
};
use purekafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic, ForgottenTopic,
};
use purekafka_protocol::messages::{ShareAcknowledgeRequest, ShareFetchRequest};
use purekafka_protocol::{ErrorCode, messages::share_acknowledge_request};
use std::collections::{BTreeMap, BTreeSet};

/// SHARE_SESSION_LIMIT_REACHED (Kafka 4.1+; the protocol crate's table
/// stops at 128): the broker holds as many sessions as it may; a new one
/// is tried after the retry backoff.
pub(crate) const SHARE_SESSION_LIMIT_REACHED: ErrorCode = ErrorCode(133);

/// The epoch that opens a session.
pub(crate) const OPEN: i32 = 0;
/// The epoch that closes one.
pub(crate) const CLOSE: i32 = -1;

/// The epoch after `epoch` (1 after `i32::MAX`: 0 and -1 are reserved).
pub(crate) fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 || epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// Whether a top-level error means the broker has no usable session for
/// us, so the next request opens a new one.
pub(crate) fn resets_session(code: ErrorCode) -> bool {
    code == ErrorCode::INVALID_SHARE_SESSION_EPOCH
        || code == ErrorCode::SHARE_SESSION_NOT_FOUND
        || code == ErrorCode::UNKNOWN_MEMBER_ID
        || code == SHARE_SESSION_LIMIT_REACHED
}

/// The limits of a ShareFetch (from the consumer config).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchLimits {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub max_records: i32,
    pub batch_size: i32,
    /// ShareAcquireMode (v2+): 0 batch-optimized, 1 record-limit.
    pub acquire_mode: i8,
}

/// The session with one broker.
#[derive(Debug, Clone)]
pub(crate) struct ShareSession {
    /// The epoch the next request carries.
    epoch: i32,
    /// The partitions the broker's session holds (as of the last success).
    partitions: BTreeSet<(Uuid, i32)>,
    /// What the request in flight would make the session hold.
    planned: Option<BTreeSet<(Uuid, i32)>>,
}

impl Default for ShareSession {
    fn default() -> Self {
        ShareSession {
            epoch: OPEN,
            partitions: BTreeSet::new(),
            planned: None,
        }
    }
}

impl ShareSession {
    /// The epoch the next request carries.
    #[cfg(test)]
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Whether the next request opens the session (and so may not carry
    /// acknowledgements).
    pub fn is_new(&self) -> bool {
        self.epoch == OPEN
    }

    /// Whether the broker holds a session for us.
    pub fn is_open(&self) -> bool {
        self.epoch > OPEN
    }

    /// A ShareFetch for the partitions in `wanted`, carrying `acks` (empty
    /// when [`is_new`](Self::is_new); every partition with acknowledgements
    /// must be in `wanted`, or it would join the session).
    pub fn fetch(
        &mut self,
        group_id: &str,
        member_id: &str,
        wanted: &BTreeSet<SharePartition>,
        acks: &[(SharePartition, Vec<AckBatch>)],
        limits: FetchLimits,
    ) -> ShareFetchRequest {
        let want: BTreeSet<(Uuid, i32)> =
            wanted.iter().map(|p| (p.topic_id, p.partition)).collect();
        let mut listed = Listed::new();
        for (id, p) in want.difference(if self.is_new() {
            &EMPTY
        } else {
            &self.partitions
        }) {
            listed.entry(*id).or_default().entry(*p).or_default();
        }
        if !self.is_new() {
            add_acks(&mut listed, acks);
        }
        let mut forgotten: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
        if !self.is_new() {
            for (id, p) in self.partitions.difference(&want) {
                forgotten.entry(*id).or_default().push(*p);
            }
        }
        self.planned = Some(want);
        ShareFetchRequest {
            group_id: Some(group_id.to_owned()),
            member_id: Some(member_id.to_owned()),
            share_session_epoch: self.epoch,
            max_wait_ms: limits.max_wait_ms,
            min_bytes: limits.min_bytes,
            max_bytes: limits.max_bytes,
            max_records: limits.max_records,
            batch_size: limits.batch_size,
            share_acquire_mode: limits.acquire_mode,
            topics: wire_topics(
                listed,
                |partition_index, batches| FetchPartition {
                    partition_index,
                    acknowledgement_batches: batches.iter().map(fetch_batch).collect(),
                    ..FetchPartition::default()
                },
                |topic_id, partitions| FetchTopic {
                    topic_id,
                    partitions,
                    ..FetchTopic::default()
                },
            ),
            forgotten_topics_data: forgotten
                .into_iter()
                .map(|(topic_id, partitions)| ForgottenTopic {
                    topic_id,
                    partitions,
                    ..ForgottenTopic::default()
                })
                .collect(),
            ..ShareFetchRequest::default()
        }
    }

    /// A ShareAcknowledge carrying `acks`, at the next epoch, or at -1
    /// (closing the session) when `close`. `None` when the session is not
    /// open and this is no close: acknowledgements need an open session.
    pub fn acknowledge(
        &mut self,
        group_id: &str,
        member_id: &str,
        acks: &[(SharePartition, Vec<AckBatch>)],
        close: bool,
    ) -> Option<ShareAcknowledgeRequest> {
        if !self.is_open() {
            return None;
        }
        let mut listed = Listed::new();
        add_acks(&mut listed, acks);
        self.planned = Some(if close {
            BTreeSet::new()
        } else {
            self.partitions.clone()
        });
        Some(ShareAcknowledgeRequest {
            group_id: Some(group_id.to_owned()),
            member_id: Some(member_id.to_owned()),
            share_session_epoch: if close { CLOSE } else { self.epoch },
            topics: wire_topics(
                listed,
                |partition_index, batches| AcknowledgePartition {
                    partition_index,
                    acknowledgement_batches: batches.iter().map(ack_batch).collect(),
                    ..AcknowledgePartition::default()
                },
                |topic_id, partitions| AcknowledgeTopic {
                    topic_id,
                    partitions,
                    ..AcknowledgeTopic::default()
                },
            ),
            ..ShareAcknowledgeRequest::default()
        })
    }

    /// The request in flight was answered without a top-level error.
    pub fn succeeded(&mut self) {
        if let Some(p) = self.planned.take() {
            self.partitions = p;
        }
        self.epoch = next_epoch(self.epoch);
    }

    /// The request in flight failed, or was answered with an error that
    /// ends the session: the next request opens a new one.
    pub fn failed(&mut self) {
        *self = ShareSession::default();
    }

    /// The session was closed (a ShareAcknowledge at epoch -1 answered).
    pub fn closed(&mut self) {
        *self = ShareSession::default();
    }
}

static EMPTY: BTreeSet<(Uuid, i32)> = BTreeSet::new();

/// The partitions a request lists, by topic id, each with the
/// acknowledgements it carries (ShareFetch and ShareAcknowledge alike).
type Listed = BTreeMap<Uuid, BTreeMap<i32, Vec<AckBatch>>>;

/// Lists every partition of `acks` with its batches.
fn add_acks(listed: &mut Listed, acks: &[(SharePartition, Vec<AckBatch>)]) {
    for (p, batches) in acks {
        listed
            .entry(p.topic_id)
            .or_default()
            .entry(p.partition)
            .or_default()
            .extend_from_slice(batches);
    }
}

/// `listed` as a request's topics: `partition` makes one partition entry,
/// `topic` one topic entry (the two requests' types differ, not their shape).
fn wire_topics<T, P>(
    listed: Listed,
    partition: impl Fn(i32, &[AckBatch]) -> P,
    topic: impl Fn(Uuid, Vec<P>) -> T,
) -> Vec<T> {
    listed
        .into_iter()
        .map(|(id, parts)| {
            topic(
                id,
                parts
                    .into_iter()
                    .map(|(index, batches)| partition(index, &batches))
                    .collect(),
            )
        })
        .collect()
}

fn fetch_batch(b: &AckBatch) -> AcknowledgementBatch {
    AcknowledgementBatch {
        first_offset: b.first,
        last_offset: b.last,
        acknowledge_types: vec![b.kind],
        ..AcknowledgementBatch::default()
    }
}

fn ack_batch(b: &AckBatch) -> share_acknowledge_request::AcknowledgementBatch {
    share_acknowledge_request::AcknowledgementBatch {
        first_offset: b.first,
        last_offset: b.last,
        acknowledge_types: vec![b.kind],
        ..share_acknowledge_request::AcknowledgementBatch::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const LIMITS: FetchLimits = FetchLimits {
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 1 << 20,
        max_records: 500,
        batch_size: 500,
        acquire_mode: 1,
    };
    const T: Uuid = Uuid([1; 16]);
    const U: Uuid = Uuid([2; 16]);

    fn p(id: Uuid, partition: i32) -> SharePartition {
        SharePartition {
            topic: Arc::from(if id == T { "t" } else { "u" }),
            partition,
            topic_id: id,
        }
    }

    fn set(ps: &[SharePartition]) -> BTreeSet<SharePartition> {
        ps.iter().cloned().collect()
    }

    fn listed(r: &ShareFetchRequest) -> Vec<(Uuid, i32, usize)> {
        r.topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        t.topic_id,
                        p.partition_index,
                        p.acknowledgement_batches.len(),
                    )
                })
            })
            .collect()
    }

    fn forgotten(r: &ShareFetchRequest) -> Vec<(Uuid, i32)> {
        r.forgotten_topics_data
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic_id, *p)))
            .collect()
    }

    const ACK: AckBatch = AckBatch {
        first: 0,
        last: 9,
        kind: 1,
    };

    #[test]
    fn opens_at_zero_with_every_partition_then_sends_only_changes() {
        let mut s = ShareSession::default();
        let wanted = set(&[p(T, 0), p(T, 1)]);
        // Acknowledgements are never sent on the opening request.
        let r = s.fetch("g", "m", &wanted, &[(p(T, 0), vec![ACK])], LIMITS);
        assert_eq!(r.share_session_epoch, 0);
        assert_eq!(listed(&r), vec![(T, 0, 0), (T, 1, 0)]);
        assert!(forgotten(&r).is_empty());
        assert_eq!(r.group_id.as_deref(), Some("g"));
        assert_eq!(r.member_id.as_deref(), Some("m"));
        assert_eq!(
            (r.max_records, r.batch_size, r.max_wait_ms),
            (500, 500, 500)
        );
        assert_eq!(r.share_acquire_mode, 1);
        s.succeeded();
        assert_eq!(s.epoch(), 1);

        // Same partitions, acknowledgements for one: only that one listed.
        let r = s.fetch("g", "m", &wanted, &[(p(T, 1), vec![ACK])], LIMITS);
        assert_eq!(r.share_session_epoch, 1);
        assert_eq!(listed(&r), vec![(T, 1, 1)]);
        let b = &r.topics[0].partitions[0].acknowledgement_batches[0];
        assert_eq!(
            (b.first_offset, b.last_offset, &b.acknowledge_types[..]),
            (0, 9, &[1i8][..])
        );
        s.succeeded();

        // T-0 moved away, U-3 arrived.
        let r = s.fetch("g", "m", &set(&[p(T, 1), p(U, 3)]), &[], LIMITS);
        assert_eq!(r.share_session_epoch, 2);
        assert_eq!(listed(&r), vec![(U, 3, 0)]);
        assert_eq!(forgotten(&r), vec![(T, 0)]);
        s.succeeded();
        let r = s.fetch("g", "m", &set(&[p(T, 1), p(U, 3)]), &[], LIMITS);
        assert!(listed(&r).is_empty() && forgotten(&r).is_empty());
    }

    #[test]
    fn a_failure_starts_over_with_a_full_request_at_epoch_zero() {
        let mut s = ShareSession::default();
        let wanted = set(&[p(T, 0)]);
        s.fetch("g", "m", &wanted, &[], LIMITS);
        s.succeeded();
        s.fetch("g", "m", &set(&[p(T, 0), p(T, 1)]), &[], LIMITS);
        // INVALID_SHARE_SESSION_EPOCH, say: the added partition was never
        // taken in, so the new session lists both.
        s.failed();
        assert!(s.is_new() && !s.is_open());
        let r = s.fetch("g", "m", &set(&[p(T, 0), p(T, 1)]), &[], LIMITS);
        assert_eq!(r.share_session_epoch, 0);
        assert_eq!(listed(&r), vec![(T, 0, 0), (T, 1, 0)]);
        assert!(resets_session(ErrorCode::INVALID_SHARE_SESSION_EPOCH));
        assert!(resets_session(ErrorCode::SHARE_SESSION_NOT_FOUND));
        assert!(!resets_session(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    }

    #[test]
    fn epochs_wrap_past_i32_max_to_one() {
        assert_eq!(next_epoch(0), 1);
        assert_eq!(next_epoch(41), 42);
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(CLOSE), 1);
    }

    #[test]
    fn acknowledge_needs_an_open_session_and_close_uses_minus_one() {
        let mut s = ShareSession::default();
        assert!(
            s.acknowledge("g", "m", &[(p(T, 0), vec![ACK])], false)
                .is_none()
        );
        s.fetch("g", "m", &set(&[p(T, 0)]), &[], LIMITS);
        s.succeeded();
        let r = s
            .acknowledge(
                "g",
                "m",
                &[(p(T, 0), vec![ACK]), (p(U, 2), vec![ACK])],
                false,
            )
            .unwrap();
        assert_eq!(r.share_session_epoch, 1);
        assert_eq!(r.topics.len(), 2);
        s.succeeded();
        // An acknowledgement keeps the session's partitions: nothing listed
        // again on the next fetch.
        let f = s.fetch("g", "m", &set(&[p(T, 0)]), &[], LIMITS);
        assert_eq!(f.share_session_epoch, 2);
        assert!(listed(&f).is_empty());
        s.succeeded();
        let r = s.acknowledge("g", "m", &[], true).unwrap();
        assert_eq!(r.share_session_epoch, CLOSE);
        s.closed();
        assert!(s.is_new());
    }
}
