//! The consumer's retry backoff, in one place: Java's
//! `ExponentialBackoff(retry.backoff.ms, 2, retry.backoff.max.ms, 0.2)`.
//! Fetch and ListOffsets retries, metadata refreshes, offset lookups and
//! the group membership's FindCoordinator / JoinGroup / SyncGroup /
//! Heartbeat retries all wait this long. Sans-IO: no clock, and the jitter
//! comes from a seeded generator, not from the system.

use std::time::Duration;

/// How long to wait before the `attempt`-th retry in a row (1 for the
/// first): `base` doubled per earlier failure, ±20% jitter (`jitter` in
/// [0, 1) picks where in that range), never below `base` nor above `max`.
pub(crate) fn exponential(base: Duration, max: Duration, attempt: u32, jitter: f64) -> Duration {
    let max = max.max(base);
    let doublings = attempt.saturating_sub(1).min(30);
    let term = base.saturating_mul(1u32 << doublings).min(max);
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Duration::try_from_secs_f64(term.as_secs_f64() * factor)
        .unwrap_or(max)
        .clamp(base, max)
}

/// A small generator of jitter fractions (splitmix64): seeded once from
/// std's per-process random hasher keys, then deterministic.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    /// A generator seeded differently in each process and for each call.
    pub(crate) fn new() -> Jitter {
        use std::collections::hash_map::RandomState;
        use std::hash::BuildHasher;
        Jitter(RandomState::new().hash_one(0x5eed_u64))
    }

    /// A number in [0, 1).
    pub(crate) fn next_fraction(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Failures in a row of one kind of request, and the backoff before its
/// next retry; a success resets it.
#[derive(Debug, Clone)]
pub(crate) struct Retries {
    failures: u32,
    jitter: Jitter,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            failures: 0,
            jitter: Jitter::new(),
        }
    }
}

impl Retries {
    /// One more failure: how long to wait before retrying.
    pub(crate) fn failed(&mut self, base: Duration, max: Duration) -> Duration {
        self.failures = self.failures.saturating_add(1);
        exponential(base, max, self.failures, self.jitter.next_fraction())
    }

    /// A success: the next failure waits `base` again.
    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_from_base_to_max_with_bounded_jitter() {
        let (base, max) = (100 * MS, 1000 * MS);
        for j in [0.0, 0.5, 0.999] {
            let d: Vec<Duration> = (1..=6).map(|a| exponential(base, max, a, j)).collect();
            for (i, w) in d.iter().enumerate() {
                let term = (base * (1 << i)).min(max);
                assert!(*w >= base && *w <= max, "attempt {}: {w:?}", i + 1);
                assert!(
                    *w >= term.mul_f64(0.8).max(base) && *w <= term.mul_f64(1.2).min(max),
                    "attempt {}, jitter {j}: {w:?} outside {term:?} ±20%",
                    i + 1
                );
            }
            assert_eq!(d[5], max.min(max.mul_f64(0.8 + 0.4 * j)).max(base));
        }
        // No overflow for absurd attempt counts or durations.
        assert_eq!(exponential(base, max, u32::MAX, 0.5), max);
        assert_eq!(
            exponential(Duration::MAX, Duration::MAX, 40, 0.0),
            Duration::MAX
        );
        // max below base: base wins, as Java's config check insists.
        assert_eq!(exponential(base, MS, 3, 0.5), base);
    }

    #[test]
    fn jitter_spreads_and_retries_reset() {
        let mut j = Jitter::new();
        let xs: Vec<f64> = (0..1000).map(|_| j.next_fraction()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().any(|x| *x < 0.2) && xs.iter().any(|x| *x > 0.8));
        let mut r = Retries::default();
        let (base, max) = (100 * MS, 1000 * MS);
        let first = r.failed(base, max);
        assert!(first <= base.mul_f64(1.2));
        for _ in 0..10 {
            r.failed(base, max);
        }
        assert!(r.failed(base, max) >= max.mul_f64(0.8));
        r.succeeded();
        assert_eq!(r.failures, 0);
        assert!(r.failed(base, max) <= base.mul_f64(1.2));
    }
}
