//! Partition assignors: how the group leader divides partitions among members.
//!
//! - [`RangeAssignor`] (`range`): per topic, contiguous ranges of partitions to
//!   the members subscribed to it, the first members taking one extra each.
//! - [`RoundRobinAssignor`] (`roundrobin`): all partitions of all topics, in
//!   topic then partition order, dealt out in turn, skipping members not
//!   subscribed to a partition's topic.
//! - [`CooperativeStickyAssignor`] (`cooperative-sticky`): balanced, and keeps
//!   partitions with their current owners; under the cooperative protocol a
//!   partition that changes owner is first left unassigned (its owner revokes
//!   it) and handed to its new owner in the follow-up rebalance.
//!
//! Range and round-robin give exactly the Java client's assignments: members
//! are ordered static members first (by `group.instance.id`), then dynamic ones
//! (by member id), comparing strings as Java does (UTF-16 code units).
//!
//! ```
//! use purekafka::TopicPartition;
//! use purekafka::consumer::group::Subscription;
//! use purekafka::consumer::group::assignor::{Assignor, MemberSubscription, RangeAssignor};
//! use std::collections::BTreeMap;
//!
//! let member = |id: &str| MemberSubscription {
//!     member_id: id.into(),
//!     group_instance_id: None,
//!     subscription: Subscription { topics: vec!["events".into()], ..Default::default() },
//! };
//! let partitions = BTreeMap::from([("events".to_string(), 3)]);
//! let plan = RangeAssignor.assign(&partitions, &[member("a"), member("b")])?;
//! // Range: contiguous partitions, the first member taking the extra one.
//! let events = |p| TopicPartition::new("events", p);
//! assert_eq!(plan["a"], [events(0), events(1)]);
//! assert_eq!(plan["b"], [events(2)]);
//! # Ok::<(), purekafka::Error>(())
//! ```

use super::TopicPartition;
use super::protocol::Subscription;
use crate::Result;
use bytes::Bytes;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use super::sticky::CooperativeStickyAssignor;

/// A member id, as the coordinator assigned it.
pub type MemberId = String;

/// The leader's result: each member's partitions, sorted.
pub type GroupAssignment = BTreeMap<MemberId, Vec<TopicPartition>>;

/// How members give up partitions during a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Every member revokes everything before rejoining.
    Eager,
    /// Members keep their partitions through the rebalance and revoke only the
    /// ones that move, after which they rejoin so that those can be assigned.
    Cooperative,
}

/// One member as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id.
    pub member_id: MemberId,
    /// Its `group.instance.id`, for static members.
    pub group_instance_id: Option<String>,
    /// Its decoded subscription metadata.
    pub subscription: Subscription,
}

/// A partition assignment strategy.
pub trait Assignor: Send + Sync + fmt::Debug {
    /// The protocol name sent in JoinGroup (`range`, `roundrobin`, ...).
    fn name(&self) -> &'static str;

    /// The most capable rebalance protocol this assignor supports; cooperative
    /// assignors also work under the eager protocol. The member uses the
    /// cooperative protocol only when every configured assignor supports it.
    fn protocol(&self) -> RebalanceProtocol;

    /// Assignor data to put in this member's subscription (`user_data`).
    /// `generation_id` is the member's current generation (`-1` if none).
    fn user_data(&self, topics: &[String], generation_id: i32) -> Option<Bytes> {
        let _ = (topics, generation_id);
        None
    }

    /// Assigns partitions. `partitions_per_topic` holds the partition count of
    /// every subscribed topic that exists (topics missing from it are skipped).
    /// The result has an entry, possibly empty, for every member.
    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> Result<GroupAssignment>;
}

/// The built-in assignor called `name` (Java's names: `range`, `roundrobin`,
/// `cooperative-sticky`).
pub fn builtin(name: &str) -> Option<Box<dyn Assignor>> {
    match name {
        "range" => Some(Box::new(RangeAssignor)),
        "roundrobin" => Some(Box::new(RoundRobinAssignor)),
        "cooperative-sticky" => Some(Box::new(CooperativeStickyAssignor)),
        _ => None,
    }
}

/// Java's `String.compareTo`: UTF-16 code unit order.
pub(crate) fn java_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java's member order (`MemberInfo.compareTo`): static members first, by
/// instance id; then dynamic members by member id.
pub(crate) fn member_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => java_cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_cmp(&a.member_id, &b.member_id),
    }
}

/// Members, first occurrence of each id, in Java's order.
pub(crate) fn sorted_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<&MemberSubscription> = members
        .iter()
        .filter(|m| seen.insert(m.member_id.as_str()))
        .collect();
    out.sort_by(|a, b| member_order(a, b));
    out
}

fn empty_assignment(members: &[&MemberSubscription]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

fn finish(mut assignment: GroupAssignment) -> GroupAssignment {
    for parts in assignment.values_mut() {
        parts.sort();
    }
    assignment
}

/// The `range` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> Result<GroupAssignment> {
        let members = sorted_members(members);
        let mut assignment = empty_assignment(&members);
        // Members stay in Java order within each topic's list.
        let mut consumers_per_topic: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for m in &members {
            let topics: BTreeSet<&str> = m.subscription.topics.iter().map(String::as_str).collect();
            for t in topics {
                consumers_per_topic
                    .entry(t)
                    .or_default()
                    .push(m.member_id.as_str());
            }
        }
        for (topic, consumers) in consumers_per_topic {
            let Some(&n) = partitions_per_topic.get(topic) else {
                continue;
            };
            if n <= 0 {
                continue;
            }
            let name: std::sync::Arc<str> = topic.into();
            let c = consumers.len() as i32;
            let per = n / c;
            let extra = n % c;
            for (i, member) in consumers.iter().enumerate() {
                let i = i as i32;
                let start = per * i + i.min(extra);
                let len = per + i32::from(i < extra);
                if let Some(parts) = assignment.get_mut(*member) {
                    parts
                        .extend((start..start + len).map(|p| TopicPartition::new(name.clone(), p)));
                }
            }
        }
        Ok(finish(assignment))
    }
}

/// The `roundrobin` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> Result<GroupAssignment> {
        let members = sorted_members(members);
        let mut assignment = empty_assignment(&members);
        if members.is_empty() {
            return Ok(assignment);
        }
        let subscribed: Vec<BTreeSet<&str>> = members
            .iter()
            .map(|m| m.subscription.topics.iter().map(String::as_str).collect())
            .collect();
        let all_topics: BTreeSet<&str> = subscribed.iter().flatten().copied().collect();
        let mut next = 0usize; // the circular iterator's position
        for topic in all_topics {
            let Some(&n) = partitions_per_topic.get(topic) else {
                continue;
            };
            let name: std::sync::Arc<str> = topic.into();
            for p in 0..n.max(0) {
                // Skip members not subscribed to the topic; some member is.
                let Some(offset) = (0..members.len())
                    .find(|k| subscribed[(next + k) % members.len()].contains(topic))
                else {
                    break;
                };
                let chosen = (next + offset) % members.len();
                if let Some(parts) = assignment.get_mut(&members[chosen].member_id) {
                    parts.push(TopicPartition::new(name.clone(), p));
                }
                next = (chosen + 1) % members.len();
            }
        }
        Ok(finish(assignment))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.to_string(),
            group_instance_id: None,
            subscription: Subscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                ..Default::default()
            },
        }
    }

    fn static_member(id: &str, instance: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            group_instance_id: Some(instance.to_string()),
            ..member(id, topics)
        }
    }

    fn counts(c: &[(&str, i32)]) -> BTreeMap<String, i32> {
        c.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
        let mut v: Vec<TopicPartition> = list.iter().map(TopicPartition::from).collect();
        v.sort();
        v
    }

    fn expect(pairs: &[(&str, &[(&str, i32)])]) -> GroupAssignment {
        pairs.iter().map(|(m, l)| (m.to_string(), tps(l))).collect()
    }

    /// A case from the Java client's RangeAssignor / RoundRobinAssignor
    /// javadoc and tests: partitions per topic, the members (id, topics),
    /// and what each gets from each of `assignors`.
    struct Case {
        what: &'static str,
        assignors: &'static [&'static dyn Assignor],
        topics: &'static [(&'static str, i32)],
        members: &'static [(&'static str, &'static [&'static str])],
        want: &'static [(&'static str, &'static [(&'static str, i32)])],
    }

    const CASES: &[Case] = &[
        Case {
            what: "two consumers, two topics of three partitions",
            assignors: &[&RangeAssignor],
            topics: &[("t0", 3), ("t1", 3)],
            members: &[("C1", &["t0", "t1"]), ("C0", &["t0", "t1"])],
            want: &[
                ("C0", &[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]),
                ("C1", &[("t0", 2), ("t1", 2)]),
            ],
        },
        Case {
            what: "two consumers, two topics of three partitions",
            assignors: &[&RoundRobinAssignor],
            topics: &[("t0", 3), ("t1", 3)],
            members: &[("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])],
            want: &[
                ("C0", &[("t0", 0), ("t0", 2), ("t1", 1)]),
                ("C1", &[("t0", 1), ("t1", 0), ("t1", 2)]),
            ],
        },
        Case {
            what: "mixed subscriptions",
            assignors: &[&RangeAssignor, &RoundRobinAssignor],
            topics: &[("topic1", 3), ("topic2", 2)],
            members: &[
                ("consumer1", &["topic1"]),
                ("consumer2", &["topic1", "topic2"]),
                ("consumer3", &["topic1"]),
            ],
            want: &[
                ("consumer1", &[("topic1", 0)]),
                ("consumer2", &[("topic1", 1), ("topic2", 0), ("topic2", 1)]),
                ("consumer3", &[("topic1", 2)]),
            ],
        },
        Case {
            what: "unknown topics skipped, every member has an entry",
            assignors: &[&RangeAssignor],
            topics: &[("t", 1)],
            members: &[("a", &["t"]), ("b", &["t", "missing"]), ("c", &[])],
            want: &[("a", &[("t", 0)]), ("b", &[]), ("c", &[])],
        },
        Case {
            what: "unequal subscriptions skip members",
            assignors: &[&RoundRobinAssignor],
            topics: &[("t0", 1), ("t1", 2), ("t2", 3)],
            members: &[
                ("C2", &["t0", "t1", "t2"]),
                ("C0", &["t0"]),
                ("C1", &["t0", "t1"]),
            ],
            want: &[
                ("C0", &[("t0", 0)]),
                ("C1", &[("t1", 0)]),
                ("C2", &[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]),
            ],
        },
    ];

    #[test]
    fn range_and_roundrobin_assign_as_java_does() {
        for case in CASES {
            let members: Vec<MemberSubscription> =
                case.members.iter().map(|(id, ts)| member(id, ts)).collect();
            for assignor in case.assignors {
                let got = assignor.assign(&counts(case.topics), &members).unwrap();
                assert_eq!(got, expect(case.want), "{}: {}", assignor.name(), case.what);
            }
        }
    }

    #[test]
    fn range_static_members_ordered_by_instance_id_before_dynamic() {
        // RangeAssignorTest.testStaticMemberRangeAssignmentPersistent: three
        // static members (random member ids) and one dynamic member; topics
        // of 5 and 4 partitions.
        let ms = [
            static_member("zzz-random", "instance0", &["t1", "t2"]),
            static_member("aaa-random", "instance1", &["t1", "t2"]),
            static_member("mmm-random", "instance2", &["t1", "t2"]),
            member("consumer4", &["t1", "t2"]),
        ];
        let got = RangeAssignor
            .assign(&counts(&[("t1", 5), ("t2", 4)]), &ms)
            .unwrap();
        assert_eq!(
            got,
            expect(&[
                ("zzz-random", &[("t1", 0), ("t1", 1), ("t2", 0)]),
                ("aaa-random", &[("t1", 2), ("t2", 1)]),
                ("mmm-random", &[("t1", 3), ("t2", 2)]),
                ("consumer4", &[("t1", 4), ("t2", 3)]),
            ])
        );
        // Swapping member ids does not move anything: the instance ids decide.
        let swapped = [
            static_member("aaa-new", "instance0", &["t1", "t2"]),
            static_member("zzz-new", "instance1", &["t1", "t2"]),
            static_member("mmm-random", "instance2", &["t1", "t2"]),
            member("consumer4", &["t1", "t2"]),
        ];
        let again = RangeAssignor
            .assign(&counts(&[("t1", 5), ("t2", 4)]), &swapped)
            .unwrap();
        assert_eq!(again["aaa-new"], got["zzz-random"]);
        assert_eq!(again["zzz-new"], got["aaa-random"]);
    }

    #[test]
    fn java_string_order_is_utf16() {
        // U+FF21 (one UTF-16 unit 0xFF21) sorts after U+1F600 (surrogates
        // 0xD83D..) in Java, before it in UTF-8 byte order.
        assert_eq!(java_cmp("\u{1F600}", "\u{FF21}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF21}"), Ordering::Greater);
        let got = RangeAssignor
            .assign(
                &counts(&[("t", 2)]),
                &[member("\u{FF21}", &["t"]), member("\u{1F600}", &["t"])],
            )
            .unwrap();
        assert_eq!(got["\u{1F600}"], tps(&[("t", 0)]));
    }

    #[test]
    fn roundrobin_static_members_keep_assignment_across_new_member_ids() {
        // The javadoc's example: instance ids I0..I2 keep their partitions
        // whatever member ids the coordinator hands out.
        let ms = [
            static_member("C5", "I0", &["t0", "t1"]),
            static_member("C3", "I1", &["t0", "t1"]),
            static_member("C4", "I2", &["t0", "t1"]),
        ];
        let got = RoundRobinAssignor
            .assign(&counts(&[("t0", 3), ("t1", 3)]), &ms)
            .unwrap();
        assert_eq!(
            got,
            expect(&[
                ("C5", &[("t0", 0), ("t1", 0)]),
                ("C3", &[("t0", 1), ("t1", 1)]),
                ("C4", &[("t0", 2), ("t1", 2)])
            ])
        );
    }

    fn arb_group() -> impl Strategy<Value = (BTreeMap<String, i32>, Vec<MemberSubscription>)> {
        let topics = proptest::collection::btree_map("[a-e]", 0i32..12, 1..5);
        topics
            .prop_flat_map(|counts| {
                let names: Vec<String> = counts.keys().cloned().collect();
                let n = names.len();
                let members = proptest::collection::btree_map(
                    "[a-z]{1,4}",
                    (
                        proptest::collection::vec(any::<bool>(), n),
                        proptest::option::of("[A-Z]{1,3}"),
                    ),
                    1..8,
                );
                (Just(counts), Just(names), members)
            })
            .prop_map(|(counts, names, members)| {
                let mut seen_instances = BTreeSet::new();
                let ms = members
                    .into_iter()
                    .map(|(id, (mask, instance))| MemberSubscription {
                        member_id: id,
                        group_instance_id: instance.filter(|i| seen_instances.insert(i.clone())),
                        subscription: Subscription {
                            topics: names
                                .iter()
                                .zip(&mask)
                                .filter(|(_, m)| **m)
                                .map(|(t, _)| t.clone())
                                .collect(),
                            ..Default::default()
                        },
                    })
                    .collect();
                (counts, ms)
            })
    }

    /// Every partition of every subscribed topic goes to exactly one member
    /// that subscribes to its topic.
    pub(crate) fn check_complete(
        counts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
        got: &GroupAssignment,
    ) {
        let mut seen = BTreeSet::new();
        assert_eq!(got.len(), members.len());
        for m in members {
            for tp in &got[&m.member_id] {
                assert!(
                    m.subscription.topics.iter().any(|t| **t == *tp.topic),
                    "{} got unsubscribed {}",
                    m.member_id,
                    tp.topic
                );
                assert!(seen.insert(tp.clone()), "{tp} assigned twice");
            }
        }
        let subscribed: BTreeSet<&String> = members
            .iter()
            .flat_map(|m| &m.subscription.topics)
            .collect();
        let expected: usize = counts
            .iter()
            .filter(|(t, _)| subscribed.contains(t))
            .map(|(_, n)| *n as usize)
            .sum();
        assert_eq!(seen.len(), expected);
    }

    proptest! {
        #[test]
        fn range_and_roundrobin_assign_everything_once((counts, members) in arb_group()) {
            check_complete(&counts, &members, &RangeAssignor.assign(&counts, &members).unwrap());
            check_complete(&counts, &members, &RoundRobinAssignor.assign(&counts, &members).unwrap());
        }

        #[test]
        fn roundrobin_balances_equal_subscriptions((counts, members) in arb_group()) {
            let all: Vec<String> = counts.keys().cloned().collect();
            let members: Vec<MemberSubscription> = members.into_iter().map(|mut m| {
                m.subscription.topics = all.clone();
                m
            }).collect();
            let got = RoundRobinAssignor.assign(&counts, &members).unwrap();
            check_complete(&counts, &members, &got);
            let sizes: Vec<usize> = got.values().map(Vec::len).collect();
            prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
        }

        #[test]
        fn range_is_independent_of_input_order((counts, members) in arb_group()) {
            let mut reversed = members.clone();
            reversed.reverse();
            prop_assert_eq!(RangeAssignor.assign(&counts, &members).unwrap(), RangeAssignor.assign(&counts, &reversed).unwrap());
            prop_assert_eq!(RoundRobinAssignor.assign(&counts, &members).unwrap(), RoundRobinAssignor.assign(&counts, &reversed).unwrap());
        }
    }
}
