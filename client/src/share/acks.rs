//! Acknowledgements of a share consumer (sans-IO): what the application
//! said about each delivered record, batched per partition into the
//! `AcknowledgementBatches` of ShareFetch and ShareAcknowledge.
//!
//! - [`AcknowledgeType`]: accept, release or reject one record.
//! - [`PartitionAcks`]: one partition's acknowledgements not yet sent, as
//!   disjoint offset ranges of one type each (adjacent ranges of one type
//!   merge), so a run of accepted records is one batch on the wire however
//!   long it is, and a gap range (offsets the broker said were acquired but
//!   that carry no record: control batches, compacted records) costs one
//!   entry, never one per offset.
//! - [`InFlight`]: the records the last `poll` handed out that still wait
//!   for an acknowledgement (explicit mode), or that the next `poll`
//!   accepts (implicit mode).

use purekafka_protocol::Uuid;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// What the application says about a delivered record (Java's
/// `AcknowledgeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcknowledgeType {
    /// Processed: the record is done with for the group.
    Accept,
    /// Not processed: the broker delivers it again (to this consumer or
    /// another), with a higher delivery count.
    Release,
    /// Unprocessable: the broker never delivers it again.
    Reject,
}

impl AcknowledgeType {
    /// The wire value (KIP-932: 1 accept, 2 release, 3 reject).
    pub(crate) const fn wire(self) -> i8 {
        match self {
            AcknowledgeType::Accept => ACCEPT,
            AcknowledgeType::Release => RELEASE,
            AcknowledgeType::Reject => REJECT,
        }
    }
}

/// The wire value of a gap: an acquired offset with no record.
pub(crate) const GAP: i8 = 0;
const ACCEPT: i8 = 1;
const RELEASE: i8 = 2;
const REJECT: i8 = 3;

/// One `AcknowledgementBatch`: offsets `first..=last`, all of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AckBatch {
    pub first: i64,
    pub last: i64,
    pub kind: i8,
}

/// One partition's acknowledgements not yet sent: disjoint ranges, keyed
/// by first offset, value (last offset, type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PartitionAcks {
    ranges: BTreeMap<i64, (i64, i8)>,
}

impl PartitionAcks {
    /// Whether nothing waits to be sent.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Acknowledges `first..=last` as `kind`. An offset already in a range
    /// takes the new type (the latest word wins, as in Java); ranges of one
    /// type that touch merge.
    pub fn add(&mut self, first: i64, last: i64, kind: i8) {
        if first > last {
            return;
        }
        self.remove(first, last);
        let (mut first, mut last) = (first, last);
        // Merge with the range ending at first - 1.
        if let Some((&f, &(l, k))) = self.ranges.range(..first).next_back()
            && k == kind
            && l.checked_add(1) == Some(first)
        {
            self.ranges.remove(&f);
            first = f;
        }
        // Merge with the range starting at last + 1.
        if let Some(next) = last.checked_add(1)
            && let Some(&(l, k)) = self.ranges.get(&next)
            && k == kind
        {
            self.ranges.remove(&next);
            last = l;
        }
        self.ranges.insert(first, (last, kind));
    }

    /// Takes `first..=last` out of every range (splitting ranges that
    /// straddle it).
    fn remove(&mut self, first: i64, last: i64) {
        // A range starting before `first` that reaches into it.
        if let Some((&f, &(l, k))) = self.ranges.range(..first).next_back()
            && l >= first
        {
            self.ranges.insert(f, (first - 1, k));
            if l > last {
                self.ranges.insert(last + 1, (l, k));
            }
        }
        let inside: Vec<i64> = self.ranges.range(first..=last).map(|(f, _)| *f).collect();
        for f in inside {
            if let Some((l, k)) = self.ranges.remove(&f)
                && l > last
            {
                self.ranges.insert(last + 1, (l, k));
            }
        }
    }

    /// The batches to send, in offset order; leaves nothing behind.
    pub fn take(&mut self) -> Vec<AckBatch> {
        std::mem::take(&mut self.ranges)
            .into_iter()
            .map(|(first, (last, kind))| AckBatch { first, last, kind })
            .collect()
    }

    /// Puts back batches that were taken but not sent; what was added in
    /// the meantime wins.
    pub fn restore(&mut self, batches: &[AckBatch]) {
        for b in batches {
            let mut rest = PartitionAcks::default();
            rest.add(b.first, b.last, b.kind);
            for (f, (l, _)) in &self.ranges {
                rest.remove(*f, *l);
            }
            for (f, (l, k)) in rest.ranges {
                self.add(f, l, k);
            }
        }
    }

    /// How many record offsets (gaps excluded) the batches hold.
    #[cfg(test)]
    pub fn records(&self) -> u64 {
        self.ranges
            .iter()
            .filter(|(_, (_, k))| *k != GAP)
            .map(|(f, (l, _))| l.abs_diff(*f) + 1)
            .sum()
    }
}

/// A partition as the share consumer names it: topic name and index, and
/// the topic id the wire uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SharePartition {
    pub topic: Arc<str>,
    pub partition: i32,
    pub topic_id: Uuid,
}

/// Every partition's acknowledgements not yet sent.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    parts: BTreeMap<SharePartition, PartitionAcks>,
}

impl Pending {
    pub fn add(&mut self, p: &SharePartition, first: i64, last: i64, kind: i8) {
        match self.parts.get_mut(p) {
            Some(a) => a.add(first, last, kind),
            None => {
                let mut a = PartitionAcks::default();
                a.add(first, last, kind);
                self.parts.insert(p.clone(), a);
            }
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.parts.values().all(PartitionAcks::is_empty)
    }

    /// Takes the acknowledgements of the partitions `select` picks.
    pub fn take_where(
        &mut self,
        mut select: impl FnMut(&SharePartition) -> bool,
    ) -> Vec<(SharePartition, Vec<AckBatch>)> {
        let keys: Vec<SharePartition> = self
            .parts
            .iter()
            .filter(|(p, a)| !a.is_empty() && select(p))
            .map(|(p, _)| p.clone())
            .collect();
        keys.into_iter()
            .filter_map(|p| {
                let batches = self.parts.remove(&p)?.take();
                Some((p, batches))
            })
            .collect()
    }

    /// Puts back what [`take_where`](Self::take_where) took and could not
    /// send.
    pub fn restore(&mut self, taken: Vec<(SharePartition, Vec<AckBatch>)>) {
        for (p, batches) in taken {
            self.parts.entry(p).or_default().restore(&batches);
        }
    }
}

/// Why an acknowledgement of the application's was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AckRefusal {
    /// The record is not one the last poll delivered.
    NotDelivered,
    /// It was acknowledged already.
    AlreadyAcknowledged,
}

/// One partition's records of the last poll.
#[derive(Debug)]
struct Delivered {
    topic_id: Uuid,
    /// Offsets waiting for an acknowledgement.
    waiting: BTreeSet<i64>,
    /// Offsets acknowledged already.
    done: BTreeSet<i64>,
}

/// The records the last poll handed out: per partition, the offsets still
/// waiting for an acknowledgement.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    parts: HashMap<(Arc<str>, i32), Delivered>,
}

impl InFlight {
    /// The poll delivered this record.
    pub fn delivered(&mut self, p: &SharePartition, offset: i64) {
        self.parts
            .entry((p.topic.clone(), p.partition))
            .or_insert_with(|| Delivered {
                topic_id: p.topic_id,
                waiting: BTreeSet::new(),
                done: BTreeSet::new(),
            })
            .waiting
            .insert(offset);
    }

    /// How many delivered records wait for an acknowledgement.
    pub fn unacknowledged(&self) -> usize {
        self.parts.values().map(|d| d.waiting.len()).sum()
    }

    /// The application acknowledges one delivered record.
    pub fn acknowledge(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        kind: AcknowledgeType,
        pending: &mut Pending,
    ) -> Result<(), AckRefusal> {
        let Some(((t, _), d)) = self
            .parts
            .iter_mut()
            .find(|((t, p), _)| &**t == topic && *p == partition)
        else {
            return Err(AckRefusal::NotDelivered);
        };
        if !d.waiting.remove(&offset) {
            return Err(if d.done.contains(&offset) {
                AckRefusal::AlreadyAcknowledged
            } else {
                AckRefusal::NotDelivered
            });
        }
        d.done.insert(offset);
        let p = SharePartition {
            topic: t.clone(),
            partition,
            topic_id: d.topic_id,
        };
        pending.add(&p, offset, offset, kind.wire());
        Ok(())
    }

    /// Acknowledges every record still waiting as `kind` (implicit mode's
    /// accept) and forgets the poll.
    pub fn acknowledge_all(&mut self, kind: AcknowledgeType, pending: &mut Pending) {
        for ((topic, partition), d) in self.parts.drain() {
            let p = SharePartition {
                topic,
                partition,
                topic_id: d.topic_id,
            };
            let mut run: Option<(i64, i64)> = None;
            for o in d.waiting {
                run = match run {
                    Some((f, l)) if l.checked_add(1) == Some(o) => Some((f, o)),
                    Some((f, l)) => {
                        pending.add(&p, f, l, kind.wire());
                        Some((o, o))
                    }
                    None => Some((o, o)),
                };
            }
            if let Some((f, l)) = run {
                pending.add(&p, f, l, kind.wire());
            }
        }
    }

    /// Forgets the poll (every record was acknowledged).
    pub fn clear(&mut self) {
        self.parts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batches(a: &mut PartitionAcks) -> Vec<(i64, i64, i8)> {
        a.take()
            .into_iter()
            .map(|b| (b.first, b.last, b.kind))
            .collect()
    }

    #[test]
    fn adjacent_ranges_of_one_type_merge_others_stay_apart() {
        let mut a = PartitionAcks::default();
        for o in [3, 1, 2, 5] {
            a.add(o, o, ACCEPT);
        }
        a.add(4, 4, RELEASE);
        a.add(6, 9, ACCEPT);
        a.add(10, 20, GAP);
        assert_eq!(a.records(), 9);
        assert_eq!(
            batches(&mut a),
            vec![
                (1, 3, ACCEPT),
                (4, 4, RELEASE),
                (5, 9, ACCEPT),
                (10, 20, GAP)
            ]
        );
        assert!(a.is_empty());
    }

    #[test]
    fn the_latest_acknowledgement_of_an_offset_wins_splitting_a_range() {
        let mut a = PartitionAcks::default();
        a.add(0, 9, ACCEPT);
        a.add(4, 5, REJECT);
        assert_eq!(
            batches(&mut a),
            vec![(0, 3, ACCEPT), (4, 5, REJECT), (6, 9, ACCEPT)]
        );
        // Re-accepting joins it back into one batch.
        a.add(0, 9, ACCEPT);
        a.add(4, 5, REJECT);
        a.add(4, 5, ACCEPT);
        assert_eq!(batches(&mut a), vec![(0, 9, ACCEPT)]);
    }

    #[test]
    fn extreme_offsets_do_not_overflow() {
        let mut a = PartitionAcks::default();
        a.add(i64::MAX - 1, i64::MAX, ACCEPT);
        a.add(0, i64::MAX - 2, GAP);
        a.add(5, 1, ACCEPT); // empty: ignored
        assert_eq!(
            batches(&mut a),
            vec![(0, i64::MAX - 2, GAP), (i64::MAX - 1, i64::MAX, ACCEPT)]
        );
    }

    #[test]
    fn restore_keeps_what_was_added_after_the_take() {
        let mut a = PartitionAcks::default();
        a.add(0, 4, ACCEPT);
        let taken = a.take();
        a.add(2, 2, REJECT);
        a.restore(&taken);
        assert_eq!(
            batches(&mut a),
            vec![(0, 1, ACCEPT), (2, 2, REJECT), (3, 4, ACCEPT)]
        );
    }

    fn part(t: &str, p: i32) -> SharePartition {
        SharePartition {
            topic: Arc::from(t),
            partition: p,
            topic_id: Uuid([7; 16]),
        }
    }

    #[test]
    fn explicit_acknowledgements_need_a_delivered_unacknowledged_record() {
        let (mut f, mut pending) = (InFlight::default(), Pending::default());
        let p = part("t", 0);
        for o in [10, 11, 12] {
            f.delivered(&p, o);
        }
        assert_eq!(f.unacknowledged(), 3);
        assert_eq!(
            f.acknowledge("t", 0, 13, AcknowledgeType::Accept, &mut pending),
            Err(AckRefusal::NotDelivered)
        );
        assert_eq!(
            f.acknowledge("u", 0, 10, AcknowledgeType::Accept, &mut pending),
            Err(AckRefusal::NotDelivered)
        );
        f.acknowledge("t", 0, 11, AcknowledgeType::Release, &mut pending)
            .unwrap();
        assert_eq!(
            f.acknowledge("t", 0, 11, AcknowledgeType::Accept, &mut pending),
            Err(AckRefusal::AlreadyAcknowledged)
        );
        assert_eq!(f.unacknowledged(), 2);
        // The rest, accepted in one go (implicit mode's next poll).
        f.acknowledge_all(AcknowledgeType::Accept, &mut pending);
        assert_eq!(f.unacknowledged(), 0);
        let taken = pending.take_where(|_| true);
        assert_eq!(taken.len(), 1);
        let b: Vec<(i64, i64, i8)> = taken[0]
            .1
            .iter()
            .map(|b| (b.first, b.last, b.kind))
            .collect();
        assert_eq!(
            b,
            vec![(10, 10, ACCEPT), (11, 11, RELEASE), (12, 12, ACCEPT)]
        );
        assert!(pending.is_empty());
    }

    #[test]
    fn take_where_selects_partitions_and_restore_puts_them_back() {
        let mut pending = Pending::default();
        pending.add(&part("t", 0), 0, 3, ACCEPT);
        pending.add(&part("t", 1), 5, 5, REJECT);
        let t1 = pending.take_where(|p| p.partition == 1);
        assert_eq!(t1.len(), 1);
        assert_eq!(t1[0].0.partition, 1);
        pending.restore(t1);
        assert_eq!(pending.take_where(|_| true).len(), 2);
        assert!(pending.is_empty());
    }
}
