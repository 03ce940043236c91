//! The `consumer` protocol type's embedded formats.
//!
//! A JoinGroup request carries, per assignor, the member's [`Subscription`]
//! as opaque bytes; the leader's SyncGroup request carries each member's
//! [`Assignment`]. Both are an `int16` version followed by the
//! `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` body at that
//! version (non-flexible, no tagged fields).
//!
//! Decoding follows Kafka's consumer: a version newer than ours is read at
//! the highest version we know (newer versions only append fields, and the
//! bytes after the fields we know are ignored); a negative version or
//! truncated bytes is a [`DecodeError`], never a panic.
//!
//! A group leader decodes what every member sent, so the decode is bounded
//! by the bytes received: the message and the partitions flattened out of it
//! together stay within one [`DecodeBudget`] (eight times the bytes, at least
//! 16 KiB), else the decode fails with `MemoryLimit`. Real subscriptions use a
//! fraction of it; only hundreds of owned topics with names of one or two
//! characters, or empty ones, get there.

use super::TopicPartition;
use bytes::{BufMut, Bytes, BytesMut};
use purekafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, consumer_protocol_assignment,
    consumer_protocol_subscription,
};
use purekafka_protocol::{DecodeBudget, DecodeError, DecodeErrorKind, Message};

/// The subscription version we write (owned partitions, generation, rack).
pub const SUBSCRIPTION_VERSION: i16 = 3;
/// The assignment version we write.
pub const ASSIGNMENT_VERSION: i16 = 3;

/// What a member subscribes to, as sent in its JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific data (the cooperative-sticky assignor puts the
    /// generation here for peers that predate version 2).
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (version 1+).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which it got them, `-1` if none or unknown (version 2+).
    pub generation_id: i32,
    /// The member's `client.rack` (version 3+).
    pub rack_id: Option<String>,
}

/// What the leader assigned to a member, as returned by SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// Assigned partitions.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
}

/// Groups partitions by topic, in order of first appearance, keeping duplicates
/// out. Callers pass sorted input to get sorted output.
fn group_by_topic(partitions: &[TopicPartition]) -> Vec<(&str, Vec<i32>)> {
    let mut out: Vec<(&str, Vec<i32>)> = Vec::new();
    for tp in partitions {
        let p = tp.partition;
        match out.iter_mut().find(|(t, _)| *t == tp.topic()) {
            Some((_, ps)) => {
                if !ps.contains(&p) {
                    ps.push(p)
                }
            }
            None => out.push((tp.topic(), vec![p])),
        }
    }
    out
}

/// The embedded formats' topic-grouped partitions, one `TopicPartition` each,
/// charged to `budget` (the vector and each topic's shared name) before
/// anything is allocated.
fn flatten<T>(
    by_topic: &[T],
    budget: &mut DecodeBudget,
    parts: impl Fn(&T) -> (&str, &[i32]),
) -> Result<Vec<TopicPartition>, DecodeError> {
    let topics = || by_topic.iter().map(&parts).filter(|(_, p)| !p.is_empty());
    // An `Arc<str>` takes its two counts and the name.
    let arc_header = 2 * std::mem::size_of::<usize>();
    let (mut count, mut names) = (0usize, 0usize);
    for (topic, partitions) in topics() {
        count += partitions.len();
        names += arc_header + topic.len();
    }
    budget.charge(
        count
            .saturating_mul(std::mem::size_of::<TopicPartition>())
            .saturating_add(names),
    )?;
    let mut out = Vec::with_capacity(count);
    for (topic, partitions) in topics() {
        let topic: std::sync::Arc<str> = topic.into();
        out.extend(
            partitions
                .iter()
                .map(|&p| TopicPartition::new(topic.clone(), p)),
        );
    }
    Ok(out)
}

/// `partitions`, sorted and grouped by topic, as the format's `entry`s.
fn sorted_by_topic<T>(
    partitions: &[TopicPartition],
    entry: impl Fn(String, Vec<i32>) -> T,
) -> Vec<T> {
    let mut sorted = partitions.to_vec();
    sorted.sort();
    group_by_topic(&sorted)
        .into_iter()
        .map(|(topic, partitions)| entry(topic.to_string(), partitions))
        .collect()
}

/// `msg` at `version`, after the `int16` version prefix.
fn prefixed<M: Message>(msg: &M, version: i16) -> Result<Bytes, crate::Error> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i16(version);
    msg.encode(&mut buf, version)
        .map_err(|source| crate::Error::Encode {
            api: M::NAME,
            version,
            source,
        })?;
    Ok(buf.freeze())
}

fn version_prefix(buf: &mut Bytes, what: &'static str, max: i16) -> Result<i16, DecodeError> {
    if buf.len() < 2 {
        return Err(DecodeError::new(DecodeErrorKind::Truncated {
            needed: 2,
            remaining: buf.len(),
        })
        .field(what));
    }
    let version = bytes::Buf::get_i16(buf);
    if version < 0 {
        return Err(DecodeError::new(DecodeErrorKind::UnsupportedVersion {
            message: what,
            version,
            min: 0,
            max,
        })
        .field(what));
    }
    Ok(version.min(max))
}

impl Subscription {
    /// Encodes with the version prefix, at `version` (0-3; we send 3).
    pub fn encode(&self, version: i16) -> Result<Bytes, crate::Error> {
        let msg = ConsumerProtocolSubscription {
            topics: self.topics.clone(),
            user_data: self.user_data.clone(),
            owned_partitions: sorted_by_topic(&self.owned_partitions, |topic, partitions| {
                consumer_protocol_subscription::TopicPartition {
                    topic,
                    partitions,
                    ..Default::default()
                }
            }),
            generation_id: self.generation_id,
            rack_id: self.rack_id.clone(),
            ..Default::default()
        };
        prefixed(&msg, version)
    }

    /// Decodes version-prefixed bytes (a newer version is read at ours),
    /// within the budget for their length.
    pub fn decode(mut bytes: Bytes) -> Result<Self, DecodeError> {
        const NAME: &str = ConsumerProtocolSubscription::NAME;
        let mut budget = DecodeBudget::for_input(bytes.len());
        let max = ConsumerProtocolSubscription::VERSIONS.max;
        let version = version_prefix(&mut bytes, NAME, max)?;
        let msg = ConsumerProtocolSubscription::decode_with(&mut bytes, version, &mut budget)?;
        let owned_partitions = flatten(&msg.owned_partitions, &mut budget, |t| {
            (&t.topic, &t.partitions)
        })
        .map_err(|e| e.field("OwnedPartitions").field(NAME))?;
        Ok(Subscription {
            topics: msg.topics,
            user_data: msg.user_data,
            owned_partitions,
            generation_id: msg.generation_id,
            rack_id: msg.rack_id.filter(|r| !r.is_empty()),
        })
    }
}

impl Assignment {
    /// Encodes with the version prefix, at `version` (0-3; we send 3).
    pub fn encode(&self, version: i16) -> Result<Bytes, crate::Error> {
        let msg = ConsumerProtocolAssignment {
            assigned_partitions: sorted_by_topic(&self.partitions, |topic, partitions| {
                consumer_protocol_assignment::TopicPartition {
                    topic,
                    partitions,
                    ..Default::default()
                }
            }),
            user_data: self.user_data.clone(),
            ..Default::default()
        };
        prefixed(&msg, version)
    }

    /// Decodes version-prefixed bytes (a newer version is read at ours),
    /// within the budget for their length.
    ///
    /// Empty bytes are an empty assignment: that is what the coordinator
    /// returns to a member the leader assigned nothing.
    pub fn decode(mut bytes: Bytes) -> Result<Self, DecodeError> {
        const NAME: &str = ConsumerProtocolAssignment::NAME;
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        let mut budget = DecodeBudget::for_input(bytes.len());
        let max = ConsumerProtocolAssignment::VERSIONS.max;
        let version = version_prefix(&mut bytes, NAME, max)?;
        let msg = ConsumerProtocolAssignment::decode_with(&mut bytes, version, &mut budget)?;
        let partitions = flatten(&msg.assigned_partitions, &mut budget, |t| {
            (&t.topic, &t.partitions)
        })
        .map_err(|e| e.field("AssignedPartitions").field(NAME))?;
        Ok(Assignment {
            partitions,
            user_data: msg.user_data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn subscription_v3_bytes_are_kafkas() {
        // Hand-built per the schema: version, topics, user_data, owned, generation, rack.
        let s = Subscription {
            topics: vec!["a".into()],
            user_data: None,
            owned_partitions: vec![tp("a", 1), tp("a", 0)],
            generation_id: 7,
            rack_id: Some("r".into()),
        };
        let b = s.encode(3).unwrap();
        let expected: &[u8] = &[
            0, 3, // version
            0, 0, 0, 1, 0, 1, b'a', // topics ["a"]
            0xff, 0xff, 0xff, 0xff, // user_data null
            0, 0, 0, 1, 0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
            1, // owned a:[0,1] (sorted)
            0, 0, 0, 7, // generation
            0, 1, b'r', // rack
        ];
        assert_eq!(&b[..], expected);
        let back = Subscription::decode(b).unwrap();
        assert_eq!(back.owned_partitions, vec![tp("a", 0), tp("a", 1)]);
        assert_eq!(back.generation_id, 7);
        assert_eq!(back.rack_id.as_deref(), Some("r"));
    }

    #[test]
    fn subscription_v0_has_no_owned_or_generation() {
        let s = Subscription {
            topics: vec!["t".into()],
            user_data: Some(Bytes::from_static(&[0, 0, 0, 4])),
            owned_partitions: vec![tp("t", 0)],
            generation_id: 4,
            rack_id: None,
        };
        let b = s.encode(0).unwrap();
        assert_eq!(&b[..2], &[0, 0]);
        let back = Subscription::decode(b).unwrap();
        assert_eq!(back.topics, vec!["t".to_string()]);
        assert!(back.owned_partitions.is_empty());
        assert_eq!(back.generation_id, -1);
        assert_eq!(back.user_data.as_deref(), Some(&[0u8, 0, 0, 4][..]));
    }

    #[test]
    fn newer_versions_are_read_at_ours_and_trailing_fields_ignored() {
        let s = Subscription {
            topics: vec!["x".into()],
            generation_id: 3,
            ..Default::default()
        };
        let b = s.encode(3).unwrap();
        let mut future = BytesMut::new();
        future.put_i16(9);
        future.extend_from_slice(&b[2..]);
        future.extend_from_slice(b"fields from the future");
        let back = Subscription::decode(future.freeze()).unwrap();
        assert_eq!(back.topics, vec!["x".to_string()]);
        assert_eq!(back.generation_id, 3);

        let a = Assignment {
            partitions: vec![tp("x", 2)],
            user_data: None,
        };
        let b = a.encode(1).unwrap();
        let mut future = BytesMut::new();
        future.put_i16(i16::MAX);
        future.extend_from_slice(&b[2..]);
        future.put_u8(0xAB);
        assert_eq!(Assignment::decode(future.freeze()).unwrap(), a);
    }

    #[test]
    fn malformed_bytes_are_errors() {
        assert!(Subscription::decode(Bytes::new()).is_err());
        assert!(Subscription::decode(Bytes::from_static(&[0])).is_err());
        assert!(
            Subscription::decode(Bytes::from_static(&[
                0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff
            ]))
            .is_err()
        );
        assert!(Subscription::decode(Bytes::from_static(&[0, 1, 0, 0, 0, 5])).is_err());
        assert!(Assignment::decode(Bytes::from_static(&[0])).is_err());
        assert!(Assignment::decode(Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff])).is_err());
        assert!(
            Assignment::decode(Bytes::from_static(&[
                0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff
            ]))
            .is_err()
        );
        assert_eq!(
            Assignment::decode(Bytes::new()).unwrap(),
            Assignment::default()
        );
    }

    /// `n` topics named `name`, subscribed and each owning partition 0.
    fn dense_subscription(n: usize, name: &str) -> Bytes {
        let owned: Vec<TopicPartition> = (0..n).map(|_| tp(name, 0)).collect();
        let msg = ConsumerProtocolSubscription {
            topics: vec![name.to_string(); n],
            owned_partitions: owned
                .iter()
                .map(|t| consumer_protocol_subscription::TopicPartition {
                    topic: t.topic().to_string(),
                    partitions: vec![t.partition],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        buf.put_i16(1);
        msg.encode(&mut buf, 1).unwrap();
        buf.freeze()
    }

    #[test]
    fn a_subscription_that_would_flatten_past_8x_its_bytes_is_refused() {
        // 2,000 one-character topics, each owning a partition: 14 bytes a
        // topic on the wire, 86 in the message (within its budget), 41 more
        // flattened (a TopicPartition and a shared name): over 8x in all.
        let bytes = dense_subscription(2000, "x");
        let mut body = bytes.slice(2..);
        assert!(ConsumerProtocolSubscription::decode(&mut body, 1).is_ok());
        let err = Subscription::decode(bytes.clone()).unwrap_err();
        assert!(
            matches!(err.kind(), DecodeErrorKind::MemoryLimit { input, .. } if *input == bytes.len()),
            "{err}"
        );
        assert_eq!(err.path(), "ConsumerProtocolSubscription.OwnedPartitions");
        // Real topic names are several times that size: the same shape decodes.
        let s = Subscription::decode(dense_subscription(2000, "orders.v1")).unwrap();
        assert_eq!(s.owned_partitions.len(), 2000);
        assert_eq!(s.topics.len(), 2000);
    }

    #[test]
    fn an_assignment_that_would_flatten_past_8x_its_bytes_is_refused() {
        let msg = |name: &str| ConsumerProtocolAssignment {
            assigned_partitions: (0..2000)
                .map(|_| consumer_protocol_assignment::TopicPartition {
                    topic: name.into(),
                    partitions: vec![3],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let encode = |m: ConsumerProtocolAssignment| {
            let mut buf = BytesMut::new();
            buf.put_i16(0);
            m.encode(&mut buf, 0).unwrap();
            buf.freeze()
        };
        let err = Assignment::decode(encode(msg("x"))).unwrap_err();
        assert!(
            matches!(err.kind(), DecodeErrorKind::MemoryLimit { .. }),
            "{err}"
        );
        assert_eq!(err.path(), "ConsumerProtocolAssignment.AssignedPartitions");
        let a = Assignment::decode(encode(msg("payments"))).unwrap();
        assert_eq!(a.partitions.len(), 2000);
        assert!(a.partitions.iter().all(|p| p.partition == 3));
    }

    #[test]
    fn topics_without_partitions_flatten_to_nothing() {
        let msg = ConsumerProtocolAssignment {
            assigned_partitions: vec![
                consumer_protocol_assignment::TopicPartition {
                    topic: "empty".into(),
                    ..Default::default()
                },
                consumer_protocol_assignment::TopicPartition {
                    topic: "t".into(),
                    partitions: vec![1, 0],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        buf.put_i16(3);
        msg.encode(&mut buf, 3).unwrap();
        let a = Assignment::decode(buf.freeze()).unwrap();
        assert_eq!(a.partitions, vec![tp("t", 1), tp("t", 0)]);
    }

    fn arb_tps() -> impl Strategy<Value = Vec<TopicPartition>> {
        proptest::collection::btree_set(("[a-c]{1,3}", 0i32..20), 0..12)
            .prop_map(|s| s.into_iter().map(TopicPartition::from).collect())
    }

    proptest! {
        #[test]
        fn subscription_roundtrips(topics in proptest::collection::vec("[a-z.]{0,8}", 0..5),
                                   owned in arb_tps(), generation in -1i32..1000,
                                   user in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
                                   rack in proptest::option::of("[a-z]{1,4}"), version in 0i16..=3) {
            let s = Subscription {
                topics, user_data: user.map(Bytes::from), owned_partitions: owned,
                generation_id: generation, rack_id: rack,
            };
            let back = Subscription::decode(s.encode(version).unwrap()).unwrap();
            prop_assert_eq!(&back.topics, &s.topics);
            prop_assert_eq!(&back.user_data, &s.user_data);
            if version >= 1 { prop_assert_eq!(&back.owned_partitions, &s.owned_partitions); }
            if version >= 2 { prop_assert_eq!(back.generation_id, s.generation_id); }
            if version >= 3 { prop_assert_eq!(&back.rack_id, &s.rack_id); }
        }

        #[test]
        fn assignment_roundtrips(parts in arb_tps(), version in 0i16..=3) {
            let a = Assignment { partitions: parts, user_data: None };
            prop_assert_eq!(Assignment::decode(a.encode(version).unwrap()).unwrap(), a);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Subscription::decode(Bytes::from(bytes.clone()));
            let _ = Assignment::decode(Bytes::from(bytes));
        }
    }
}
