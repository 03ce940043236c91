//! Choosing a partition for a record, as the Java client does (sans-IO).
//!
//! The rules, in order (Java's `KafkaProducer.partition`):
//!
//! 1. a partition given in the record wins;
//! 2. a user [`Partitioner`] decides, if one is configured and it returns
//!    `Some`;
//! 3. a keyed record goes to `to_positive(murmur2(key)) % partitions`
//!    ([`default_partition`], byte-identical to the Java client's
//!    `BuiltInPartitioner.partitionForKey`), unless `partitioner.ignore.keys`;
//! 4. a keyless record goes to the topic's *sticky* partition
//!    (`StickyPartitioner`, KIP-794's uniform sticky partitioner without
//!    the adaptive load statistics): a random partition with a leader, kept
//!    until `batch.size` bytes have been appended to it, then another one.
//!
//! `DefaultPartitioner` bundles the four rules; the producer calls it for
//! every record.
//!
//! ```
//! use purekafka::producer::partitioner::{Partitioner, default_partition};
//! use purekafka::{Producer, ProducerConfig};
//! use std::sync::Arc;
//!
//! // Keys starting with "vip-" go to partition 0; others take the default rules.
//! let vip_first = |_topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, _n: i32| {
//!     key.filter(|k| k.starts_with(b"vip-")).map(|_| 0)
//! };
//! assert_eq!(vip_first.partition("t", Some(b"vip-7"), None, 6), Some(0));
//! // Where the Java client puts a key among 6 partitions:
//! let java = default_partition(b"user-1", 6);
//! assert!((0..6).contains(&java));
//! # async fn demo(vip_first: Arc<dyn Partitioner>) -> purekafka::Result<()> {
//! let producer = Producer::with_partitioner(ProducerConfig::new("localhost:9092"), Some(vip_first)).await?;
//! # drop(producer);
//! # Ok(()) }
//! ```

use crate::config::ProducerConfig;
use crate::error::Error;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The Java client's `Utils.murmur2`: 32-bit MurmurHash2 with seed
/// `0x9747b28c`, as Java computes it (wrapping `int` arithmetic, bytes
/// masked with `0xff`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java: `int h = seed ^ length` (a Java array length always fits in an int;
    // for longer slices the truncation is the only sensible extension).
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        if let [a, b, c, d] = *chunk {
            let mut k = u32::from_le_bytes([a, b, c, d]);
            k = k.wrapping_mul(M);
            k ^= k >> R;
            k = k.wrapping_mul(M);
            h = h.wrapping_mul(M);
            h ^= k;
        }
    }
    // The tail, as Java's fall-through switch on `length % 4`.
    match *chunks.remainder() {
        [a, b, c] => {
            h ^= u32::from(c) << 16;
            h ^= u32::from(b) << 8;
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        [a, b] => {
            h ^= u32::from(b) << 8;
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        [a] => {
            h ^= u32::from(a);
            h = h.wrapping_mul(M);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's `Utils.toPositive`: clears the sign bit (`n & 0x7fffffff`).
/// Not `abs`: `i32::MIN` maps to 0.
pub const fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition of a keyed record: `to_positive(murmur2(key)) % num_partitions`,
/// as the Java client (and librdkafka's `murmur2_random`) computes it.
///
/// `num_partitions` must be positive; for 0 or less this returns 0 (callers
/// check the partition count first: a topic without partitions has no
/// partition to choose).
pub fn default_partition(key: &[u8], num_partitions: i32) -> i32 {
    if num_partitions <= 0 {
        return 0;
    }
    to_positive(murmur2(key)) % num_partitions
}

/// A small, fast, seedable PRNG (xorshift64*): enough to spread sticky
/// partitions, deterministic for tests. Not for anything secret.
#[derive(Debug, Clone)]
pub(crate) struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    /// A generator from `seed` (any value, 0 included; seeds are mixed, so
    /// nearby seeds give unrelated sequences).
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed; xorshift must not start at 0.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        XorShift64 {
            state: if z == 0 { 0x2545_f491_4f6c_dd1d } else { z },
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // The high bits of xorshift64* are the good ones; the modulo bias is
        // below 2^-32 for any realistic n.
        ((self.next_u64() >> 16) % n as u64) as usize
    }
}

/// Sticky state of one topic.
#[derive(Debug, Clone, Copy, Default)]
struct Sticky {
    /// The partition keyless records go to; `None` when a new one must be picked.
    current: Option<i32>,
    /// Bytes appended to `current` since it was picked.
    produced: usize,
    /// The partition just left, avoided by the next pick.
    previous: Option<i32>,
}

/// The sticky partitioner for keyless records (Java's `BuiltInPartitioner`
/// without adaptive load statistics).
///
/// Per topic it keeps one partition, picked at random among the partitions
/// with a leader, and sends every keyless record there until `batch.size`
/// bytes have been appended to it ([`on_append`](Self::on_append)); then it
/// picks another one (a different one when more than one is available). This
/// fills one batch at a time instead of a tiny batch per partition.
#[derive(Debug, Clone)]
pub(crate) struct StickyPartitioner {
    batch_size: usize,
    rng: XorShift64,
    topics: HashMap<String, Sticky>,
}

impl StickyPartitioner {
    /// A partitioner that switches after `batch_size` bytes (`batch.size`;
    /// 0 is treated as 1, like Java), with its random picks seeded by `seed`.
    pub fn new(seed: u64, batch_size: usize) -> Self {
        StickyPartitioner {
            batch_size: batch_size.max(1),
            rng: XorShift64::new(seed),
            topics: HashMap::new(),
        }
    }

    /// The partition for the next keyless record of `topic`.
    ///
    /// `available` lists the partitions that have a leader (entries outside
    /// `0..num_partitions` are ignored); when it is empty, all
    /// `num_partitions` partitions are candidates, as in Java. The current
    /// sticky partition is kept while it is valid and available; otherwise a
    /// new one is picked. `num_partitions` must be positive (0 is returned
    /// otherwise).
    pub fn partition(&mut self, topic: &str, num_partitions: i32, available: &[i32]) -> i32 {
        if num_partitions <= 0 {
            return 0;
        }
        let usable = |p: i32| (0..num_partitions).contains(&p);
        let any_available = available.iter().any(|&p| usable(p));
        let state = match self.topics.get_mut(topic) {
            Some(s) => s,
            None => self.topics.entry(topic.to_owned()).or_default(),
        };
        if let Some(p) = state.current
            && usable(p)
            && (!any_available || available.contains(&p))
        {
            return p;
        }
        let avoid = state.current.or(state.previous);
        let p = pick(
            &mut self.rng,
            num_partitions,
            available,
            any_available,
            avoid,
        );
        *state = Sticky {
            current: Some(p),
            produced: 0,
            previous: None,
        };
        p
    }

    /// Records that `bytes` were appended to `partition` of `topic` (call it
    /// for records placed by [`partition`](Self::partition)). Once
    /// `batch.size` bytes went to the sticky partition, the next call to
    /// `partition` picks another. Appends to other partitions are ignored.
    pub fn on_append(&mut self, topic: &str, partition: i32, bytes: usize) {
        if let Some(state) = self.topics.get_mut(topic)
            && state.current == Some(partition)
        {
            state.produced = state.produced.saturating_add(bytes);
            if state.produced >= self.batch_size {
                *state = Sticky {
                    current: None,
                    produced: 0,
                    previous: Some(partition),
                };
            }
        }
    }

    /// Switches `topic` away from `partition` now, if it is the sticky one
    /// (for example when its batch was closed before `batch.size` bytes,
    /// because a record did not fit).
    #[cfg(test)]
    pub fn on_new_batch(&mut self, topic: &str, partition: i32) {
        if let Some(state) = self.topics.get_mut(topic)
            && state.current == Some(partition)
        {
            *state = Sticky {
                current: None,
                produced: 0,
                previous: Some(partition),
            };
        }
    }

    /// The current sticky partition of `topic`, if one is picked.
    pub fn current(&self, topic: &str) -> Option<i32> {
        self.topics.get(topic).and_then(|s| s.current)
    }

    /// Forgets `topic` (for example when it is no longer produced to).
    #[cfg(test)]
    pub fn remove_topic(&mut self, topic: &str) {
        self.topics.remove(topic);
    }
}

/// A random candidate: among the usable `available` partitions (or all
/// `0..n` if none is), avoiding `avoid` when there is another choice.
fn pick(
    rng: &mut XorShift64,
    n: i32,
    available: &[i32],
    any_available: bool,
    avoid: Option<i32>,
) -> i32 {
    let usable = |p: i32| (0..n).contains(&p);
    if any_available {
        let candidate = |p: &&i32| usable(**p) && Some(**p) != avoid;
        let count = available.iter().filter(candidate).count();
        if count == 0 {
            // Only the avoided partition is available: stay on it.
            return avoid.unwrap_or(0);
        }
        let k = rng.below(count);
        return available
            .iter()
            .filter(candidate)
            .nth(k)
            .copied()
            .unwrap_or(0);
    }
    let n_usize = usize::try_from(n).unwrap_or(1);
    match avoid {
        Some(a) if usable(a) && n > 1 => {
            let r = i32::try_from(rng.below(n_usize - 1)).unwrap_or(0);
            if r >= a { r + 1 } else { r }
        }
        _ => i32::try_from(rng.below(n_usize)).unwrap_or(0),
    }
}

/// A user-supplied partitioner (Java's `partitioner.class`).
///
/// Returns the partition for a record of `topic` (with `num_partitions`
/// partitions), or `None` to let the default rules decide (murmur2 of the
/// key, or the sticky partition). A partition outside `0..num_partitions`
/// fails the send with [`Error::UnknownPartition`].
///
/// Closures `Fn(&str, Option<&[u8]>, Option<&[u8]>, i32) -> Option<i32>`
/// are partitioners.
pub trait Partitioner: Send + Sync {
    /// The partition for a record, or `None` for the default.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        num_partitions: i32,
    ) -> Option<i32>;
}

impl<F> Partitioner for F
where
    F: Fn(&str, Option<&[u8]>, Option<&[u8]>, i32) -> Option<i32> + Send + Sync,
{
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        num_partitions: i32,
    ) -> Option<i32> {
        self(topic, key, value, num_partitions)
    }
}

/// A [`Partitioner`] that hashes keys with murmur2 even when
/// `partitioner.ignore.keys` is set, and leaves keyless records to the
/// sticky partitioner.
#[derive(Debug, Clone, Copy, Default)]
pub struct Murmur2Partitioner;

impl Partitioner for Murmur2Partitioner {
    fn partition(
        &self,
        _topic: &str,
        key: Option<&[u8]>,
        _value: Option<&[u8]>,
        num_partitions: i32,
    ) -> Option<i32> {
        match key {
            Some(k) if num_partitions > 0 => Some(default_partition(k, num_partitions)),
            _ => None,
        }
    }
}

/// Which partitions of a topic have a leader, as the sticky rule asks it:
/// first whether the current sticky partition still has one (every keyless
/// record), and only when it must pick another, the whole list.
pub(crate) trait Leaders {
    /// Whether `partition` has a leader.
    fn has_leader(&self, partition: i32) -> bool;
    /// The partitions that have one (empty: unknown, all are candidates).
    fn available(&self) -> Vec<i32>;
}

impl Leaders for [i32] {
    fn has_leader(&self, partition: i32) -> bool {
        self.contains(&partition)
    }
    fn available(&self) -> Vec<i32> {
        self.to_vec()
    }
}

impl<const N: usize> Leaders for [i32; N] {
    fn has_leader(&self, partition: i32) -> bool {
        self.contains(&partition)
    }
    fn available(&self) -> Vec<i32> {
        self.to_vec()
    }
}

/// Which rule chose a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionSource {
    /// The record named its partition.
    Explicit,
    /// The user's [`Partitioner`].
    User,
    /// murmur2 of the key.
    Key,
    /// The sticky partition (report appends with
    /// [`DefaultPartitioner::on_append`]).
    Sticky,
}

/// A partition and the rule that chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionChoice {
    /// The partition, in `0..num_partitions`.
    pub partition: i32,
    /// The rule.
    pub source: PartitionSource,
}

/// The four rules of the module docs: explicit partition, user partitioner,
/// murmur2 of the key (unless `partitioner.ignore.keys`), sticky.
///
/// Shared by every thread that sends: only the sticky rule takes a lock
/// (the user's partitioner runs without one).
pub(crate) struct DefaultPartitioner {
    ignore_keys: bool,
    user: Option<Arc<dyn Partitioner>>,
    sticky: Mutex<StickyPartitioner>,
}

impl std::fmt::Debug for DefaultPartitioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultPartitioner")
            .field("ignore_keys", &self.ignore_keys)
            .field("user", &self.user.is_some())
            .field("sticky", &self.sticky)
            .finish()
    }
}

impl DefaultPartitioner {
    /// Rules with `partitioner.ignore.keys` = `ignore_keys`, sticky switches
    /// every `batch_size` bytes, random picks seeded by `seed`.
    pub fn new(seed: u64, batch_size: usize, ignore_keys: bool) -> Self {
        DefaultPartitioner {
            ignore_keys,
            user: None,
            sticky: Mutex::new(StickyPartitioner::new(seed, batch_size)),
        }
    }

    /// Rules from a producer config (`batch.size`, `partitioner.ignore.keys`).
    pub fn from_config(config: &ProducerConfig, seed: u64) -> Self {
        DefaultPartitioner::new(seed, config.batch_size, config.partitioner_ignore_keys)
    }

    /// Consults `user` before the key and sticky rules.
    pub fn with_user(mut self, user: Arc<dyn Partitioner>) -> Self {
        self.user = Some(user);
        self
    }

    /// Consults `user`, if any, before the key and sticky rules.
    pub fn with_user_opt(self, user: Option<Arc<dyn Partitioner>>) -> Self {
        match user {
            Some(u) => self.with_user(u),
            None => self,
        }
    }

    /// The partition for a record of `topic`.
    ///
    /// `explicit` is the record's own partition; `leaders` says which
    /// partitions have a leader (for the sticky rule: the current sticky
    /// partition is kept while it has one, with no allocation). Errors: a
    /// topic without partitions ([`Error::UnknownTopic`]); an explicit or
    /// user-chosen partition outside `0..num_partitions`
    /// ([`Error::UnknownPartition`]).
    pub fn partition<L: Leaders + ?Sized>(
        &self,
        topic: &str,
        explicit: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        num_partitions: i32,
        leaders: &L,
    ) -> Result<PartitionChoice, Error> {
        if num_partitions <= 0 {
            return Err(Error::UnknownTopic {
                topic: topic.to_owned(),
            });
        }
        let check = |partition: i32, source| {
            if (0..num_partitions).contains(&partition) {
                Ok(PartitionChoice { partition, source })
            } else {
                Err(Error::UnknownPartition {
                    topic: topic.to_owned(),
                    partition,
                    count: usize::try_from(num_partitions).unwrap_or(0),
                })
            }
        };
        if let Some(p) = explicit {
            return check(p, PartitionSource::Explicit);
        }
        if let Some(user) = &self.user
            && let Some(p) = user.partition(topic, key, value, num_partitions)
        {
            return check(p, PartitionSource::User);
        }
        if let Some(k) = key.filter(|_| !self.ignore_keys) {
            return Ok(PartitionChoice {
                partition: default_partition(k, num_partitions),
                source: PartitionSource::Key,
            });
        }
        let mut sticky = self.sticky();
        let partition = match sticky.current(topic) {
            // The common case: keep the sticky partition while it has a leader.
            Some(p) if (0..num_partitions).contains(&p) && leaders.has_leader(p) => p,
            _ => sticky.partition(topic, num_partitions, &leaders.available()),
        };
        Ok(PartitionChoice {
            partition,
            source: PartitionSource::Sticky,
        })
    }

    /// Reports `bytes` appended for a choice; only sticky choices count
    /// towards switching.
    pub fn on_append(&self, topic: &str, choice: PartitionChoice, bytes: usize) {
        if choice.source == PartitionSource::Sticky {
            self.sticky().on_append(topic, choice.partition, bytes);
        }
    }

    /// The sticky partitioner inside, locked.
    pub fn sticky(&self) -> MutexGuard<'_, StickyPartitioner> {
        self.sticky.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Java client's `UtilsTest.testMurmur2`, each checked with
    /// kafka-python's port as well.
    const JAVA_VECTORS: &[(&[u8], i32)] = &[
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107),
    ];

    #[test]
    fn murmur2_java_vectors() {
        for &(key, want) in JAVA_VECTORS {
            assert_eq!(
                murmur2(key),
                want,
                "murmur2({:?})",
                String::from_utf8_lossy(key)
            );
        }
    }

    /// Keys with bytes >= 0x80 in the body and in every tail length (1, 2,
    /// 3): a sign-extending port gets these wrong. Values from kafka-python.
    #[test]
    fn murmur2_high_bytes_every_tail_length() {
        let cases: &[(&[u8], i32, i32)] = &[
            (b"", 275_646_681, 9),
            (b"\x80", 857_690_492, 8),
            (b"\xff", -311_467_685, 3),
            (b"\xff\xfe", 1_717_632_651, 3),
            (b"\xff\xfe\xfd", 998_637_092, 8),
            (b"\xff\xfe\xfd\xfc", 2_136_149_935, 7),
            (b"\xff\xfe\xfd\xfc\xfb", 524_068_735, 7),
            (b"key-123", 1_736_530_164, 0),
        ];
        for &(key, hash, p12) in cases {
            assert_eq!(murmur2(key), hash, "murmur2({key:02x?})");
            assert_eq!(
                default_partition(key, 12),
                p12,
                "partition of {key:02x?} over 12"
            );
        }
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(5), 5);
        assert_eq!(to_positive(-973_932_308), -973_932_308 & 0x7fff_ffff);
        assert_ne!(to_positive(-5), 5, "to_positive is not abs");
    }

    #[test]
    fn default_partition_matches_java_formula_and_never_panics() {
        for &(key, hash) in JAVA_VECTORS {
            for n in [1, 2, 3, 7, 100, i32::MAX] {
                let p = default_partition(key, n);
                assert_eq!(p, (hash & 0x7fff_ffff) % n);
                assert!((0..n).contains(&p));
            }
            assert_eq!(default_partition(key, 0), 0);
            assert_eq!(default_partition(key, -3), 0);
        }
    }

    #[test]
    fn xorshift_is_deterministic_and_bounded() {
        let mut a = XorShift64::new(42);
        let mut b = XorShift64::new(42);
        let mut c = XorShift64::new(43);
        let sa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let sb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let sc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(sa, sb);
        assert_ne!(sa, sc);
        let mut z = XorShift64::new(0);
        assert_ne!(z.next_u64(), 0);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = z.below(7);
            assert!(v < 7);
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
        assert_eq!(z.below(0), 0);
    }

    #[test]
    fn sticks_until_batch_size_bytes_then_switches() {
        let mut sp = StickyPartitioner::new(7, 1000);
        let first = sp.partition("t", 6, &[]);
        // 9 records of 100 bytes: 900 < 1000, so the same partition each time.
        for _ in 0..9 {
            assert_eq!(sp.partition("t", 6, &[]), first);
            sp.on_append("t", first, 100);
        }
        assert_eq!(sp.partition("t", 6, &[]), first);
        sp.on_append("t", first, 100); // 1000 bytes: switch
        assert_eq!(sp.current("t"), None);
        let second = sp.partition("t", 6, &[]);
        assert_ne!(second, first);
        assert_eq!(sp.partition("t", 6, &[]), second, "sticks to the new one");
    }

    #[test]
    fn switches_to_a_different_partition_every_time() {
        let mut sp = StickyPartitioner::new(1, 10);
        let mut prev = sp.partition("t", 2, &[0, 1]);
        for _ in 0..200 {
            sp.on_append("t", prev, 10);
            let next = sp.partition("t", 2, &[0, 1]);
            assert_ne!(next, prev);
            prev = next;
        }
        // Without availability information, too.
        let mut prev = sp.partition("u", 3, &[]);
        for _ in 0..200 {
            sp.on_append("u", prev, 10);
            let next = sp.partition("u", 3, &[]);
            assert_ne!(next, prev);
            assert!((0..3).contains(&next));
            prev = next;
        }
    }

    #[test]
    fn appends_elsewhere_do_not_count() {
        let mut sp = StickyPartitioner::new(3, 100);
        let p = sp.partition("t", 4, &[]);
        sp.on_append("t", (p + 1) % 4, 1000);
        sp.on_append("other", p, 1000);
        assert_eq!(sp.current("t"), Some(p));
        assert_eq!(sp.partition("t", 4, &[]), p);
    }

    #[test]
    fn only_available_partitions_are_chosen() {
        let mut sp = StickyPartitioner::new(11, 1);
        let available = [1, 4, 6, 99, -1]; // 99 and -1 are out of range: ignored
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let p = sp.partition("t", 8, &available);
            assert!([1, 4, 6].contains(&p), "chose {p}");
            seen.insert(p);
            sp.on_append("t", p, 1);
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 4, 6]);
    }

    #[test]
    fn leaves_a_partition_that_lost_its_leader() {
        let mut sp = StickyPartitioner::new(5, 1 << 20);
        let p = sp.partition("t", 4, &[0, 1, 2, 3]);
        let without: Vec<i32> = (0..4).filter(|&q| q != p).collect();
        let q = sp.partition("t", 4, &without);
        assert_ne!(q, p);
        assert!(without.contains(&q));
        assert_eq!(sp.partition("t", 4, &without), q);
        // Partition count shrinking below the sticky one also forces a pick.
        let mut sp = StickyPartitioner::new(5, 1 << 20);
        let mut p = sp.partition("t", 10, &[9]);
        assert_eq!(p, 9);
        p = sp.partition("t", 3, &[]);
        assert!((0..3).contains(&p));
    }

    #[test]
    fn single_available_partition_is_kept_after_a_switch() {
        let mut sp = StickyPartitioner::new(9, 10);
        for _ in 0..20 {
            let p = sp.partition("t", 5, &[3]);
            assert_eq!(p, 3);
            sp.on_append("t", p, 10);
        }
        let mut sp = StickyPartitioner::new(9, 10);
        for _ in 0..20 {
            let p = sp.partition("t", 1, &[]);
            assert_eq!(p, 0);
            sp.on_append("t", p, 10);
        }
        assert_eq!(sp.partition("t", 0, &[]), 0, "no partitions: 0, no panic");
    }

    #[test]
    fn distribution_over_many_switches_covers_all_partitions_evenly() {
        let n = 12;
        let switches = 12_000;
        let mut sp = StickyPartitioner::new(0xdead_beef, 100);
        let mut counts = vec![0usize; n as usize];
        for _ in 0..switches {
            let p = sp.partition("t", n, &[]);
            counts[p as usize] += 1;
            sp.on_append("t", p, 100);
        }
        let expected = switches / n as usize;
        for (p, &c) in counts.iter().enumerate() {
            assert!(
                c > expected * 8 / 10 && c < expected * 12 / 10,
                "partition {p}: {c} of {switches} ({counts:?})"
            );
        }
    }

    #[test]
    fn same_seed_same_choices_and_topics_are_independent() {
        let run = |seed| {
            let mut sp = StickyPartitioner::new(seed, 1);
            (0..50)
                .map(|i| {
                    let topic = if i % 2 == 0 { "a" } else { "b" };
                    let p = sp.partition(topic, 16, &[]);
                    sp.on_append(topic, p, 1);
                    p
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let mut sp = StickyPartitioner::new(4, 100);
        let a = sp.partition("a", 16, &[]);
        let _ = sp.partition("b", 16, &[]);
        sp.on_append("b", sp.current("b").unwrap_or(-1), 100);
        assert_eq!(sp.current("a"), Some(a), "switching b left a alone");
        assert_eq!(sp.current("b"), None);
    }

    #[test]
    fn on_new_batch_switches_only_the_sticky_partition() {
        let mut sp = StickyPartitioner::new(2, 1 << 20);
        let p = sp.partition("t", 5, &[]);
        sp.on_new_batch("t", (p + 1) % 5);
        assert_eq!(sp.current("t"), Some(p));
        sp.on_new_batch("t", p);
        assert_eq!(sp.current("t"), None);
        assert_ne!(sp.partition("t", 5, &[]), p);
        sp.remove_topic("t");
        assert_eq!(sp.current("t"), None);
    }

    #[test]
    fn batch_size_zero_switches_on_every_append() {
        let mut sp = StickyPartitioner::new(6, 0);
        let p = sp.partition("t", 3, &[]);
        sp.on_append("t", p, 0);
        assert_eq!(
            sp.current("t"),
            Some(p),
            "zero bytes do not reach batch.size 0 -> 1"
        );
        sp.on_append("t", p, 1);
        assert_eq!(sp.current("t"), None);
    }

    #[test]
    fn default_partitioner_rules_in_order() {
        let dp = DefaultPartitioner::new(1, 1000, false);
        // Explicit wins over the key.
        let c = dp
            .partition("t", Some(2), Some(b"21"), None, 12, &[])
            .unwrap();
        assert_eq!(
            c,
            PartitionChoice {
                partition: 2,
                source: PartitionSource::Explicit
            }
        );
        // Keyed: murmur2.
        let c = dp.partition("t", None, Some(b"21"), None, 12, &[]).unwrap();
        assert_eq!(
            c,
            PartitionChoice {
                partition: (-973_932_308 & 0x7fff_ffff) % 12,
                source: PartitionSource::Key
            }
        );
        // Keyless: sticky, among available.
        let c = dp.partition("t", None, None, Some(b"v"), 12, &[5]).unwrap();
        assert_eq!(
            c,
            PartitionChoice {
                partition: 5,
                source: PartitionSource::Sticky
            }
        );
        dp.on_append("t", c, 10);
        assert_eq!(dp.sticky().current("t"), Some(5));
        // Key appends never count towards the sticky switch.
        dp.on_append(
            "t",
            PartitionChoice {
                partition: 5,
                source: PartitionSource::Key,
            },
            5000,
        );
        assert_eq!(dp.sticky().current("t"), Some(5));
        dp.on_append("t", c, 990);
        assert_eq!(dp.sticky().current("t"), None);
    }

    /// Leaders that count how often the full list is asked for.
    struct Counting {
        with_leader: Vec<i32>,
        lists: std::cell::Cell<usize>,
    }

    impl Leaders for Counting {
        fn has_leader(&self, partition: i32) -> bool {
            self.with_leader.contains(&partition)
        }
        fn available(&self) -> Vec<i32> {
            self.lists.set(self.lists.get() + 1);
            self.with_leader.clone()
        }
    }

    #[test]
    fn the_sticky_rule_lists_leaders_only_when_it_must_pick() {
        let dp = DefaultPartitioner::new(1, 1 << 20, false);
        let mut leaders = Counting {
            with_leader: vec![1, 3],
            lists: std::cell::Cell::new(0),
        };
        let first = dp.partition("t", None, None, None, 4, &leaders).unwrap();
        assert!([1, 3].contains(&first.partition));
        for _ in 0..100 {
            let c = dp.partition("t", None, None, None, 4, &leaders).unwrap();
            assert_eq!(c, first);
            dp.on_append("t", c, 10);
        }
        assert_eq!(leaders.lists.get(), 1, "listed per record, not per pick");
        // The sticky partition loses its leader: another is picked.
        leaders.with_leader.retain(|&p| p != first.partition);
        let moved = dp.partition("t", None, None, None, 4, &leaders).unwrap();
        assert_ne!(moved.partition, first.partition);
        assert_eq!(leaders.lists.get(), 2);
    }

    #[test]
    fn default_partitioner_ignore_keys_uses_sticky() {
        let dp = DefaultPartitioner::new(1, 1 << 20, true);
        let a = dp.partition("t", None, Some(b"x"), None, 64, &[]).unwrap();
        let b = dp.partition("t", None, Some(b"y"), None, 64, &[]).unwrap();
        assert_eq!(a.source, PartitionSource::Sticky);
        assert_eq!(a.partition, b.partition);
        let cfg = ProducerConfig::default().partitioner_ignore_keys(true);
        let dp = DefaultPartitioner::from_config(&cfg, 1);
        assert_eq!(
            dp.partition("t", None, Some(b"x"), None, 64, &[])
                .unwrap()
                .source,
            PartitionSource::Sticky
        );
        let dp = DefaultPartitioner::from_config(&ProducerConfig::default(), 1);
        assert_eq!(
            dp.partition("t", None, Some(b"x"), None, 64, &[])
                .unwrap()
                .source,
            PartitionSource::Key
        );
    }

    #[test]
    fn default_partitioner_errors() {
        let dp = DefaultPartitioner::new(1, 1000, false);
        match dp.partition("t", Some(12), None, None, 12, &[]) {
            Err(Error::UnknownPartition {
                topic,
                partition: 12,
                count: 12,
            }) => assert_eq!(topic, "t"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            dp.partition("t", Some(-1), None, None, 12, &[]),
            Err(Error::UnknownPartition { .. })
        ));
        assert!(matches!(
            dp.partition("t", None, Some(b"k"), None, 0, &[]),
            Err(Error::UnknownTopic { .. })
        ));
    }

    #[test]
    fn user_partitioner_first_none_falls_back() {
        let user = |_: &str, key: Option<&[u8]>, _: Option<&[u8]>, n: i32| match key {
            Some(b"vip") => Some(n - 1),
            Some(b"bad") => Some(n),
            _ => None,
        };
        let dp = DefaultPartitioner::new(1, 1000, false).with_user(Arc::new(user));
        let c = dp.partition("t", None, Some(b"vip"), None, 8, &[]).unwrap();
        assert_eq!(
            c,
            PartitionChoice {
                partition: 7,
                source: PartitionSource::User
            }
        );
        let c = dp
            .partition("t", Some(3), Some(b"vip"), None, 8, &[])
            .unwrap();
        assert_eq!(
            c.source,
            PartitionSource::Explicit,
            "explicit beats the user partitioner"
        );
        let c = dp.partition("t", None, Some(b"21"), None, 8, &[]).unwrap();
        assert_eq!(
            c,
            PartitionChoice {
                partition: default_partition(b"21", 8),
                source: PartitionSource::Key
            }
        );
        assert_eq!(
            dp.partition("t", None, None, None, 8, &[]).unwrap().source,
            PartitionSource::Sticky
        );
        assert!(matches!(
            dp.partition("t", None, Some(b"bad"), None, 8, &[]),
            Err(Error::UnknownPartition {
                partition: 8,
                count: 8,
                ..
            })
        ));
    }

    #[test]
    fn murmur2_partitioner_hashes_keys_only() {
        let p = Murmur2Partitioner;
        assert_eq!(
            p.partition("t", Some(b"21"), None, 100),
            Some(default_partition(b"21", 100))
        );
        assert_eq!(p.partition("t", None, Some(b"v"), 100), None);
        assert_eq!(p.partition("t", Some(b"21"), None, 0), None);
        let dp = DefaultPartitioner::new(1, 1000, true).with_user(Arc::new(Murmur2Partitioner));
        let c = dp
            .partition("t", None, Some(b"21"), None, 100, &[])
            .unwrap();
        assert_eq!(
            c,
            PartitionChoice {
                partition: default_partition(b"21", 100),
                source: PartitionSource::User
            }
        );
    }
}
