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

use super::TopicPartition;
use bytes::{BufMut, Bytes, BytesMut};
use purekafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, consumer_protocol_assignment,
    consumer_protocol_subscription,
};
use purekafka_protocol::{DecodeError, DecodeErrorKind, Message};

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

/// The embedded formats' topic-grouped partitions, one `TopicPartition` each.
fn flatten<T>(by_topic: Vec<T>, split: impl Fn(T) -> (String, Vec<i32>)) -> Vec<TopicPartition> {
    by_topic
        .into_iter()
        .flat_map(|t| {
            let (topic, partitions) = split(t);
            let topic: std::sync::Arc<str> = topic.into();
            partitions
                .into_iter()
                .map(move |p| TopicPartition::new(topic.clone(), p))
        })
        .collect()
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

    /// Decodes version-prefixed bytes (a newer version is read at ours).
    pub fn decode(mut bytes: Bytes) -> Result<Self, DecodeError> {
        let max = ConsumerProtocolSubscription::VERSIONS.max;
        let version = version_prefix(&mut bytes, ConsumerProtocolSubscription::NAME, max)?;
        let msg = ConsumerProtocolSubscription::decode(&mut bytes, version)?;
        let owned_partitions = flatten(msg.owned_partitions, |t| (t.topic, t.partitions));
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

    /// Decodes version-prefixed bytes (a newer version is read at ours).
    ///
    /// Empty bytes are an empty assignment: that is what the coordinator
    /// returns to a member the leader assigned nothing.
    pub fn decode(mut bytes: Bytes) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        let max = ConsumerProtocolAssignment::VERSIONS.max;
        let version = version_prefix(&mut bytes, ConsumerProtocolAssignment::NAME, max)?;
        let msg = ConsumerProtocolAssignment::decode(&mut bytes, version)?;
        let partitions = flatten(msg.assigned_partitions, |t| (t.topic, t.partitions));
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
