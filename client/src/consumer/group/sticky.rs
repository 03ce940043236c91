//! The `cooperative-sticky` assignor.
//!
//! Goals, in order: every partition of a subscribed topic is assigned to one
//! member subscribed to its topic; counts are balanced (within one when all
//! subscriptions are equal; otherwise no partition can move to a member with
//! two or more fewer); as many partitions as possible stay with their owners.
//!
//! Ownership comes from each member's subscription: its owned partitions and
//! the generation they were assigned in (the subscription's `generation_id`,
//! version 2+, else the 4-byte generation this assignor puts in `user_data`,
//! as the Java client does). When several members claim a partition, the
//! highest generation wins; two claims at the same highest generation void
//! both (the partition is treated as unowned).
//!
//! Cooperative protocol: a partition assigned to someone other than a member
//! still claiming it is left out of this round's assignment. Its claimant
//! sees it missing, revokes it and rejoins; the next rebalance assigns it.
//!
//! The algorithm is ours, not a port of Java's `AbstractStickyAssignor`; the
//! results satisfy the same properties but are not byte-identical to Java's.

use super::assignor::{
    Assignor, GroupAssignment, MemberSubscription, RebalanceProtocol, sorted_members,
};
use crate::Result;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// The `cooperative-sticky` assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    fn user_data(&self, _topics: &[String], generation_id: i32) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&generation_id.to_be_bytes()))
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> Result<GroupAssignment> {
        Ok(sticky_assign(partitions_per_topic, members, true))
    }
}

/// The generation a member's owned partitions belong to (`-1` if unknown).
pub(crate) fn member_generation(m: &MemberSubscription) -> i32 {
    let s = &m.subscription;
    if s.generation_id >= 0 {
        return s.generation_id;
    }
    match s.user_data.as_deref() {
        Some([a, b, c, d, ..]) => i32::from_be_bytes([*a, *b, *c, *d]),
        _ => -1,
    }
}

/// The sticky assignment; with `cooperative`, partitions changing owner are
/// held back for the follow-up rebalance.
pub(crate) fn sticky_assign(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
    cooperative: bool,
) -> GroupAssignment {
    let members = sorted_members(members);
    let m = members.len();
    let mut out: GroupAssignment = members
        .iter()
        .map(|x| (x.member_id.clone(), Vec::new()))
        .collect();
    if m == 0 {
        return out;
    }

    // Subscribed topics that exist, and an index for each of their partitions.
    let subscribed: Vec<BTreeSet<&str>> = members
        .iter()
        .map(|x| {
            x.subscription
                .topics
                .iter()
                .map(String::as_str)
                .filter(|t| partitions_per_topic.get(*t).is_some_and(|n| *n > 0))
                .collect()
        })
        .collect();
    let topics: BTreeSet<&str> = subscribed.iter().flatten().copied().collect();
    let mut base: BTreeMap<&str, (usize, i32)> = BTreeMap::new();
    let mut parts: Vec<(&str, i32)> = Vec::new();
    for t in &topics {
        let n = partitions_per_topic.get(*t).copied().unwrap_or(0);
        base.insert(t, (parts.len(), n));
        parts.extend((0..n).map(|p| (*t, p)));
    }
    let index_of = |t: &str, p: i32| -> Option<usize> {
        let (b, n) = base.get(t)?;
        (0..*n).contains(&p).then(|| b + p as usize)
    };
    let n = parts.len();
    // Members eligible for each topic, in member order.
    let eligible: BTreeMap<&str, Vec<usize>> = topics
        .iter()
        .map(|t| (*t, (0..m).filter(|i| subscribed[*i].contains(t)).collect()))
        .collect();

    // Claims and owners.
    let mut claims: Vec<Vec<(usize, i32)>> = vec![Vec::new(); n];
    for (i, x) in members.iter().enumerate() {
        let generation = member_generation(x);
        for tp in &x.subscription.owned_partitions {
            if let Some(q) = index_of(tp.topic(), tp.partition)
                && !claims[q].iter().any(|(j, _)| *j == i)
            {
                claims[q].push((i, generation));
            }
        }
    }
    let owner: Vec<Option<usize>> = claims
        .iter()
        .enumerate()
        .map(|(q, c)| {
            let top = c.iter().map(|(_, g)| *g).max()?;
            let mut best = c.iter().filter(|(_, g)| *g == top);
            let (i, _) = *best.next()?;
            (best.next().is_none() && subscribed[i].contains(parts[q].0)).then_some(i)
        })
        .collect();

    let mut assigned: Vec<Vec<usize>> = vec![Vec::new(); m];
    let equal = subscribed.iter().all(|s| *s == subscribed[0]);
    if equal {
        constrained(&owner, n, &mut assigned);
    } else {
        general(&owner, &parts, &eligible, &mut assigned);
    }

    for (i, list) in assigned.iter().enumerate() {
        let Some(entry) = out.get_mut(&members[i].member_id) else {
            continue;
        };
        for &q in list {
            // Cooperative: a partition moving away from a member that still
            // claims it is assigned only once that member has revoked it.
            if cooperative && owner[q] != Some(i) && claims[q].iter().any(|(j, _)| *j != i) {
                continue;
            }
            entry.push(crate::TopicPartition::new(parts[q].0, parts[q].1));
        }
        entry.sort();
    }
    out
}

/// All members subscribe to the same topics: exact quotas. `n % m` members
/// get one more than the rest; members already owning more than the minimum
/// take those extra slots first, so that as few partitions as possible move.
fn constrained(owner: &[Option<usize>], n: usize, assigned: &mut [Vec<usize>]) {
    let m = assigned.len();
    let min = n / m;
    let mut extras = n % m;
    let mut kept: Vec<Vec<usize>> = vec![Vec::new(); m];
    for (q, o) in owner.iter().enumerate() {
        if let Some(i) = o {
            kept[*i].push(q);
        }
    }
    let mut order: Vec<usize> = (0..m).filter(|i| kept[*i].len() > min).collect();
    order.sort_by(|a, b| kept[*b].len().cmp(&kept[*a].len()).then(a.cmp(b)));
    let mut target = vec![min; m];
    for i in order {
        if extras == 0 {
            break;
        }
        target[i] += 1;
        extras -= 1;
    }
    let mut taken = vec![false; n];
    for i in 0..m {
        kept[i].truncate(target[i]);
        for &q in &kept[i] {
            taken[q] = true;
        }
        assigned[i] = std::mem::take(&mut kept[i]);
    }
    let mut pool = (0..n).filter(|q| !taken[*q]);
    // Fill everyone to the minimum, one partition per member per pass (so a
    // topic's partitions spread across members), then hand out the remaining
    // extra slots in member order.
    loop {
        let mut gave = false;
        for list in assigned.iter_mut() {
            if list.len() < min {
                let Some(q) = pool.next() else { return };
                list.push(q);
                gave = true;
            }
        }
        if !gave {
            break;
        }
    }
    for (i, list) in assigned.iter_mut().enumerate() {
        if extras == 0 {
            break;
        }
        if target[i] == min && list.len() == min {
            let Some(q) = pool.next() else { return };
            list.push(q);
            extras -= 1;
        }
    }
}

/// Subscriptions differ: keep owned partitions, give unowned ones to the
/// least-loaded eligible member (most constrained partitions first), then
/// move partitions from a member to an eligible one with two or more fewer
/// until no such move exists (each move lowers the sum of squared counts, so
/// this ends). Partitions that were not owned move before owned ones.
fn general(
    owner: &[Option<usize>],
    parts: &[(&str, i32)],
    eligible: &BTreeMap<&str, Vec<usize>>,
    assigned: &mut [Vec<usize>],
) {
    let m = assigned.len();
    let mut count = vec![0usize; m];
    let mut unowned = Vec::new();
    for (q, o) in owner.iter().enumerate() {
        match o {
            Some(i) => {
                assigned[*i].push(q);
                count[*i] += 1;
            }
            None => unowned.push(q),
        }
    }
    let candidates = |q: usize| eligible.get(parts[q].0).map(Vec::as_slice).unwrap_or(&[]);
    unowned.sort_by_key(|q| (candidates(*q).len(), *q));
    for q in unowned {
        let Some(&i) = candidates(q).iter().min_by_key(|i| (count[**i], **i)) else {
            continue;
        };
        assigned[i].push(q);
        count[i] += 1;
    }
    loop {
        let mut donors: Vec<usize> = (0..m).collect();
        donors.sort_by_key(|d| (std::cmp::Reverse(count[*d]), *d));
        let mut moved = false;
        'donors: for d in donors {
            // Prefer moving partitions the donor did not own before.
            let mut movable: Vec<usize> = assigned[d].clone();
            movable.sort_by_key(|q| (owner[*q] == Some(d), *q));
            for q in movable {
                let Some(&r) = candidates(q)
                    .iter()
                    .filter(|r| **r != d)
                    .min_by_key(|r| (count[**r], **r))
                else {
                    continue;
                };
                if count[r] + 2 <= count[d] {
                    assigned[d].retain(|x| *x != q);
                    assigned[r].push(q);
                    count[d] -= 1;
                    count[r] += 1;
                    moved = true;
                    break 'donors;
                }
            }
        }
        if !moved {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::TopicPartition;
    use super::super::protocol::Subscription;
    use super::*;
    use proptest::prelude::*;

    fn member(
        id: &str,
        topics: &[&str],
        owned: &[(&str, i32)],
        generation: i32,
    ) -> MemberSubscription {
        MemberSubscription {
            member_id: id.to_string(),
            group_instance_id: None,
            subscription: Subscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                owned_partitions: owned
                    .iter()
                    .map(|&(t, p)| TopicPartition::new(t, p))
                    .collect(),
                generation_id: generation,
                ..Default::default()
            },
        }
    }

    fn counts(c: &[(&str, i32)]) -> BTreeMap<String, i32> {
        c.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
        list.iter()
            .map(|&(t, p)| TopicPartition::new(t, p))
            .collect()
    }

    #[test]
    fn fresh_group_is_balanced_and_spread() {
        let got = sticky_assign(
            &counts(&[("t0", 2), ("t1", 2)]),
            &[
                member("a", &["t0", "t1"], &[], -1),
                member("b", &["t0", "t1"], &[], -1),
            ],
            true,
        );
        assert_eq!(got["a"], tps(&[("t0", 0), ("t1", 0)]));
        assert_eq!(got["b"], tps(&[("t0", 1), ("t1", 1)]));
    }

    #[test]
    fn joining_member_takes_only_what_must_move_and_only_after_revocation() {
        // a owns all 3, b and c join.
        let c = counts(&[("t", 3)]);
        let round1 = [
            member("a", &["t"], &[("t", 0), ("t", 1), ("t", 2)], 5),
            member("b", &["t"], &[], -1),
            member("c", &["t"], &[], -1),
        ];
        let eager = sticky_assign(&c, &round1, false);
        assert_eq!(eager["a"], tps(&[("t", 0)]));
        assert_eq!(eager["b"], tps(&[("t", 1)]));
        assert_eq!(eager["c"], tps(&[("t", 2)]));
        // Cooperative: the two moving partitions are held back this round.
        let coop = sticky_assign(&c, &round1, true);
        assert_eq!(coop["a"], tps(&[("t", 0)]));
        assert!(coop["b"].is_empty() && coop["c"].is_empty());
        // a revokes and rejoins; now they are free.
        let round2 = [
            member("a", &["t"], &[("t", 0)], 6),
            member("b", &["t"], &[], 6),
            member("c", &["t"], &[], 6),
        ];
        let coop = sticky_assign(&c, &round2, true);
        assert_eq!(coop["a"], tps(&[("t", 0)]));
        assert_eq!(coop["b"], tps(&[("t", 1)]));
        assert_eq!(coop["c"], tps(&[("t", 2)]));
    }

    #[test]
    fn higher_generation_wins_a_claim_and_same_generation_claims_are_void() {
        let c = counts(&[("t", 2)]);
        // b's claim on t-0 is stale (generation 3 < 4): a keeps it.
        let got = sticky_assign(
            &c,
            &[
                member("a", &["t"], &[("t", 0)], 4),
                member("b", &["t"], &[("t", 0), ("t", 1)], 3),
            ],
            true,
        );
        assert_eq!(got["a"], tps(&[("t", 0)]));
        assert_eq!(got["b"], tps(&[("t", 1)]));
        // Same generation: nobody may take t-0 this round.
        let got = sticky_assign(
            &c,
            &[
                member("a", &["t"], &[("t", 0)], 4),
                member("b", &["t"], &[("t", 0)], 4),
            ],
            true,
        );
        let all: Vec<&TopicPartition> = got.values().flatten().collect();
        assert!(!all.contains(&&TopicPartition::new("t", 0)), "{got:?}");
    }

    #[test]
    fn generation_from_user_data_for_old_subscriptions() {
        let mut m = member("a", &["t"], &[("t", 0)], -1);
        m.subscription.user_data = CooperativeStickyAssignor.user_data(&[], 9);
        assert_eq!(member_generation(&m), 9);
        m.subscription.generation_id = 11;
        assert_eq!(member_generation(&m), 11);
        m.subscription.generation_id = -1;
        m.subscription.user_data = Some(Bytes::from_static(&[1]));
        assert_eq!(member_generation(&m), -1);
    }

    #[test]
    fn unequal_subscriptions_balance_where_possible() {
        // a: t0 only; b: t0 and t1. t1's 4 partitions must go to b, so t0's
        // 2 partitions go to a.
        let got = sticky_assign(
            &counts(&[("t0", 2), ("t1", 4)]),
            &[
                member("a", &["t0"], &[], -1),
                member("b", &["t0", "t1"], &[("t0", 0), ("t0", 1)], 2),
            ],
            false,
        );
        assert_eq!(got["a"], tps(&[("t0", 0), ("t0", 1)]));
        assert_eq!(got["b"], tps(&[("t1", 0), ("t1", 1), ("t1", 2), ("t1", 3)]));
    }

    /// Runs rebalances to a fixed point as members would: each round every
    /// member reports what it owns at the current generation, and keeps (or
    /// revokes) according to the result. Checks the cooperative safety rule
    /// each round: nothing is assigned to one member while another owns it.
    fn converge(
        c: &BTreeMap<String, i32>,
        mut ms: Vec<MemberSubscription>,
        mut generation: i32,
    ) -> GroupAssignment {
        for _ in 0..4 {
            let got = sticky_assign(c, &ms, true);
            let owned: BTreeMap<TopicPartition, String> = ms
                .iter()
                .flat_map(|m| {
                    m.subscription
                        .owned_partitions
                        .iter()
                        .map(move |tp| (tp.clone(), m.member_id.clone()))
                })
                .collect();
            for (member, list) in &got {
                for tp in list {
                    if let Some(o) = owned.get(tp) {
                        assert_eq!(o, member, "{tp:?} handed to {member} while {o} owns it");
                    }
                }
            }
            generation += 1;
            let stable = ms.iter().all(|m| {
                let mut a = m.subscription.owned_partitions.clone();
                a.sort();
                a == got[&m.member_id]
            });
            for m in &mut ms {
                m.subscription.owned_partitions = got[&m.member_id].clone();
                m.subscription.generation_id = generation;
            }
            if stable {
                return got;
            }
        }
        panic!("no fixed point after 4 rebalances");
    }

    fn arb_case() -> impl Strategy<Value = (BTreeMap<String, i32>, usize, usize)> {
        (
            proptest::collection::btree_map("[a-d]", 0i32..10, 1..4),
            1usize..7,
            0usize..4,
        )
    }

    proptest! {
        #[test]
        fn equal_subscriptions_balanced_complete_and_sticky((c, n_members, joiners) in arb_case()) {
            let topics: Vec<&str> = c.keys().map(String::as_str).collect();
            let initial: Vec<MemberSubscription> =
                (0..n_members).map(|i| member(&format!("m{i:02}"), &topics, &[], -1)).collect();
            let first = converge(&c, initial.clone(), 0);
            let total: usize = c.values().map(|n| *n as usize).sum();
            let check = |got: &GroupAssignment| {
                let sizes: Vec<usize> = got.values().map(Vec::len).collect();
                let all: BTreeSet<&TopicPartition> = got.values().flatten().collect();
                assert_eq!(all.len(), total);
                assert_eq!(sizes.iter().sum::<usize>(), total);
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "{sizes:?}");
            };
            check(&first);

            // New members join: owners keep everything they can.
            let mut next: Vec<MemberSubscription> = initial.iter().map(|m| {
                let mut m = m.clone();
                m.subscription.owned_partitions = first[&m.member_id].clone();
                m.subscription.generation_id = 10;
                m
            }).collect();
            for j in 0..joiners {
                next.push(member(&format!("new{j}"), &topics, &[], -1));
            }
            let eager = sticky_assign(&c, &next, false);
            check(&eager);
            let m_total = n_members + joiners;
            let (min, extra) = (total / m_total, total % m_total);
            // The most an old member can keep is its quota: min, or min+1 for
            // at most `extra` of them.
            let mut keep_caps: Vec<usize> = first.values().map(Vec::len).collect();
            keep_caps.sort_unstable_by(|a, b| b.cmp(a));
            let best_kept: usize = keep_caps.iter().enumerate()
                .map(|(k, have)| (*have).min(if k < extra { min + 1 } else { min })).sum();
            let kept: usize = first.iter()
                .map(|(mid, before)| before.iter().filter(|tp| eager[mid].contains(tp)).count()).sum();
            prop_assert_eq!(kept, best_kept);
            check(&converge(&c, next, 10));
        }

        #[test]
        fn unequal_subscriptions_complete_and_locally_balanced(
            c in proptest::collection::btree_map("[a-d]", 0i32..8, 1..4),
            masks in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 4), 1..6),
        ) {
            let topics: Vec<&str> = c.keys().map(String::as_str).collect();
            let ms: Vec<MemberSubscription> = masks.iter().enumerate().map(|(i, mask)| {
                let ts: Vec<&str> = topics.iter().zip(mask).filter(|(_, b)| **b).map(|(t, _)| *t).collect();
                member(&format!("m{i}"), &ts, &[], -1)
            }).collect();
            let got = converge(&c, ms.clone(), 0);
            super::super::assignor::tests::check_complete(&c, &ms, &got);
            // No partition could move to an eligible member with 2+ fewer.
            for (from, list) in &got {
                for tp in list {
                    for m in &ms {
                        if m.subscription.topics.iter().any(|t| **t == *tp.topic) {
                            prop_assert!(got[&m.member_id].len() + 2 > got[from].len());
                        }
                    }
                }
            }
        }
    }
}
