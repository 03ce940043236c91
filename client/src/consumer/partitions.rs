//! The consumer's partition state, with one owner: [`PartitionStates`].
//!
//! Everything the application, the fetch loop and the group task know
//! about an assigned partition lives here: the position (the next offset
//! `poll` returns), the fetch in flight, what was handed to the
//! application and what is committable, pause, the pending offset reset
//! and the seek generation; plus the fetched data waiting for `poll` and
//! the errors and events `poll` must report. It is sans-IO (no tokio, no
//! clock: callers pass `now`) and answers the questions the three callers
//! ask: what to fetch or reset, and from where; what is committable; and
//! it applies an assignment or revocation, a fetched partition, a
//! ListOffsets answer, and a committed-offset lookup (unless a seek came
//! first). The consumer keeps one `Mutex<PartitionStates>`, and nothing
//! awaits while holding it.
//!
//! Offsets saturate at `i64::MAX`: once the record at `i64::MAX` was read
//! there is no offset after it, so the partition is not fetched again
//! (instead of fetching the same batch forever).

use super::backoff::{self, Jitter};
use super::fetch_session::{PartFetch, Tp};
use super::fetcher::CompletedFetch;
use super::{ConsumerEvent, Cursor, OffsetAndMetadata, OffsetSpec, Sink};
use crate::config::{ConsumerConfig, OffsetReset};
use crate::error::{Error, Result};
use bytes::Bytes;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::fetch_response::AbortedTransaction;
use purekafka_protocol::records::DecodeOptions;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A number never handed out before: seek generations are unique across
/// partitions and assignments, so a fetch or cursor from before a seek, a
/// revocation or a reassignment can never pass for a current one.
pub(crate) fn next_gen() -> u64 {
    static GEN: AtomicU64 = AtomicU64::new(1);
    GEN.fetch_add(1, Ordering::Relaxed)
}

/// One assigned partition.
#[derive(Debug)]
struct PartState {
    /// The next offset `poll` returns (`None`: being looked up or reset).
    position: Option<i64>,
    /// The record at `i64::MAX` was read: no offset is left to fetch.
    exhausted: bool,
    leader_epoch: i32,
    paused: bool,
    /// Reset the position from this (ListOffsets) before fetching.
    reset: Option<OffsetSpec>,
    reset_in_flight: bool,
    fetch_in_flight: bool,
    high_watermark: i64,
    last_stable_offset: i64,
    eof_sent: bool,
    /// Bumped by every seek, reset and pause: fetches and cursors made
    /// before it are dropped.
    seek_gen: u64,
    /// The offset last committed (or read from the group) for it.
    committed: Option<i64>,
    /// Waiting for the group's committed offset; a seek ends the wait.
    awaiting_committed: bool,
    /// The offset after the last record handed to the application (returned
    /// by `poll`, or yielded by a stream). Not committable yet: with
    /// `enable.auto.offset.store`, the next poll (or `commit()`/`close()`)
    /// releases it into `stored`.
    delivered: Option<i64>,
    /// The offset auto-commit, `commit()` and `close()` commit: released
    /// deliveries, or `store_offset`.
    stored: Option<i64>,
    /// Fetches and ListOffsets for it failed this many times in a row.
    failures: u32,
    /// After a failure: no Fetch or ListOffsets for it before then.
    retry_at: Option<Instant>,
}

impl Default for PartState {
    fn default() -> Self {
        PartState {
            position: None,
            exhausted: false,
            leader_epoch: -1,
            paused: false,
            reset: None,
            reset_in_flight: false,
            fetch_in_flight: false,
            high_watermark: -1,
            last_stable_offset: -1,
            eof_sent: false,
            seek_gen: next_gen(),
            committed: None,
            awaiting_committed: false,
            delivered: None,
            stored: None,
            failures: 0,
            retry_at: None,
        }
    }
}

impl PartState {
    /// The position comes from `spec` (ListOffsets) before the next fetch.
    fn start_reset(&mut self, spec: OffsetSpec) {
        self.set_position(None);
        self.reset = Some(spec);
        self.reset_in_flight = false;
    }

    /// A new position (seek, reset, committed offset): what was fetched or
    /// is being fetched for the old one no longer counts.
    fn set_position(&mut self, position: Option<i64>) {
        self.position = position;
        self.exhausted = false;
        self.reset = None;
        self.awaiting_committed = false;
        self.eof_sent = false;
        self.seek_gen = next_gen();
    }
}

/// The settings the partition state follows.
#[derive(Debug, Clone)]
struct Policy {
    /// `auto.offset.reset` (`None`: fail instead).
    reset: Option<OffsetSpec>,
    /// `enable.auto.offset.store`.
    auto_offset_store: bool,
    /// `enable.partition.eof`.
    partition_eof: bool,
    /// `max.partition.fetch.bytes`.
    max_partition_fetch_bytes: i32,
    /// How much fetched data may wait for `poll` before fetching pauses.
    max_buffer_bytes: usize,
    /// `retry.backoff.ms`, `retry.backoff.max.ms`.
    backoff: Duration,
    backoff_max: Duration,
}

/// A partition in a fetch that went out: where, and under which seek
/// generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    pub tp: Tp,
    pub offset: i64,
    pub seek_gen: u64,
}

/// A partition's position to reset, at its leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResetAsk {
    pub tp: Tp,
    pub spec: OffsetSpec,
    pub seek_gen: u64,
}

/// What the fetch loop should send now (see [`PartitionStates::plan`]).
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// ListOffsets to send, by leader.
    pub resets: HashMap<i32, Vec<ResetAsk>>,
    /// Fetches to send, by leader: what to ask of each partition, and what
    /// was sent (for [`PartitionStates::apply_fetched`]).
    pub fetches: HashMap<i32, (BTreeMap<Tp, PartFetch>, Vec<Sent>)>,
    /// A partition's leader is unknown: refresh metadata.
    pub need_metadata: bool,
    /// The earliest partition backoff that ends: plan again then.
    pub wake_at: Option<Instant>,
}

/// One partition of a fetch response.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub code: ErrorCode,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub records: Option<Bytes>,
    pub aborted: Option<Vec<AbortedTransaction>>,
}

/// What applying an answer asks of the fetch loop and of `poll`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Applied {
    /// A partition got an answer without error.
    pub progress: bool,
    /// Refresh metadata (a leader moved, a partition failed).
    pub refresh: bool,
    /// Records, an event or an error wait for `poll`: wake it.
    pub wake: bool,
}

impl Applied {
    pub(crate) fn merge(&mut self, o: Applied) {
        self.progress |= o.progress;
        self.refresh |= o.refresh;
        self.wake |= o.wake;
    }
}

/// What `poll` takes next (see [`PartitionStates::next_read`]).
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per fetched partition; boxing would allocate each time"
)]
pub(crate) enum Next {
    /// An error to return.
    Error(Error),
    /// Fetched data to read (outside the lock), then give back with
    /// [`PartitionStates::finish_read`].
    Read(Cursor),
    /// Nothing fetched waits.
    Empty,
}

/// The one offset reset: a partition without a position (new without a
/// committed offset, or out of range) starts from `auto.offset.reset`; with
/// `none`, `poll` reports it (`api` and `why` say what happened) and the
/// partition waits for a seek.
fn no_position(
    policy: &Policy,
    errors: &mut VecDeque<Error>,
    tp: &Tp,
    ps: &mut PartState,
    api: &'static str,
    why: &str,
) {
    match policy.reset {
        Some(spec) => ps.start_reset(spec),
        None => {
            ps.set_position(None);
            errors.push_back(Error::Kafka {
                code: ErrorCode::OFFSET_OUT_OF_RANGE,
                api,
                topic: Some(tp.topic.to_string()),
                partition: Some(tp.partition),
                message: Some(format!(
                    "{why} and auto.offset.reset=none: seek to set the position"
                )),
            });
        }
    }
}

fn not_assigned(tp: &Tp) -> Error {
    Error::NotAssigned {
        topic: tp.topic.to_string(),
        partition: tp.partition,
    }
}

/// Every assigned partition's state, the fetched data waiting for `poll`,
/// and what `poll` must report. See the module docs.
pub(crate) struct PartitionStates {
    parts: BTreeMap<Tp, PartState>,
    buffer: VecDeque<CompletedFetch>,
    buffered_bytes: usize,
    events: VecDeque<ConsumerEvent>,
    errors: VecDeque<Error>,
    /// A partly read fetch, kept between polls.
    current: Option<Cursor>,
    policy: Policy,
    jitter: Jitter,
}

impl PartitionStates {
    /// No partitions yet, following `cfg`.
    pub(crate) fn new(cfg: &ConsumerConfig, max_buffer_bytes: usize) -> Self {
        PartitionStates {
            parts: BTreeMap::new(),
            buffer: VecDeque::new(),
            buffered_bytes: 0,
            events: VecDeque::new(),
            errors: VecDeque::new(),
            current: None,
            policy: Policy {
                reset: match cfg.auto_offset_reset {
                    OffsetReset::Earliest => Some(OffsetSpec::Earliest),
                    OffsetReset::Latest => Some(OffsetSpec::Latest),
                    OffsetReset::None => None,
                },
                auto_offset_store: cfg.enable_auto_offset_store,
                partition_eof: cfg.enable_partition_eof,
                max_partition_fetch_bytes: cfg.max_partition_fetch_bytes,
                max_buffer_bytes,
                backoff: cfg.client.retry_backoff,
                backoff_max: cfg.client.retry_backoff_max,
            },
            jitter: Jitter::new(),
        }
    }

    fn part(&self, tp: &Tp) -> Result<&PartState> {
        self.parts.get(tp).ok_or_else(|| not_assigned(tp))
    }

    fn part_mut(&mut self, tp: &Tp) -> Result<&mut PartState> {
        self.parts.get_mut(tp).ok_or_else(|| not_assigned(tp))
    }

    /// Fails unless every one of `tps` is assigned (nothing is changed then).
    fn check_assigned(&self, tps: &[Tp]) -> Result<()> {
        match tps.iter().find(|tp| !self.parts.contains_key(*tp)) {
            Some(tp) => Err(not_assigned(tp)),
            None => Ok(()),
        }
    }

    // ----- assignment -----

    /// Makes `tps` the assignment: partitions already assigned keep their
    /// state; others are dropped with their fetched data; new ones start
    /// from the group's committed offset when `lookup_committed` (the
    /// caller looks it up, then calls [`apply_committed`](Self::apply_committed)),
    /// else from `auto.offset.reset`. Returns the new partitions.
    pub(crate) fn assign(&mut self, tps: &[Tp], lookup_committed: bool) -> Vec<Tp> {
        let keep: HashSet<&Tp> = tps.iter().collect();
        let gone: Vec<Tp> = self
            .parts
            .keys()
            .filter(|tp| !keep.contains(tp))
            .cloned()
            .collect();
        self.revoke(&gone);
        let mut added = Vec::new();
        for tp in tps {
            if self.parts.contains_key(tp) {
                continue;
            }
            let mut ps = PartState::default();
            if lookup_committed {
                ps.awaiting_committed = true;
            } else {
                no_position(
                    &self.policy,
                    &mut self.errors,
                    tp,
                    &mut ps,
                    "ListOffsets",
                    "a new partition has no position",
                );
            }
            self.parts.insert(tp.clone(), ps);
            added.push(tp.clone());
        }
        added
    }

    /// Drops these partitions (revoked or lost): their state, and what was
    /// fetched for them.
    pub(crate) fn revoke(&mut self, tps: &[Tp]) {
        for tp in tps {
            if self.parts.remove(tp).is_some() {
                self.drop_buffered(tp);
            }
        }
    }

    /// The partitions assigned.
    pub(crate) fn assignment(&self) -> Vec<Tp> {
        self.parts.keys().cloned().collect()
    }

    /// The group's committed offsets for `tps`, looked up for a new
    /// assignment: partitions still waiting start there (without one, from
    /// `auto.offset.reset`); a partition seeked meanwhile keeps the seek.
    pub(crate) fn apply_committed(
        &mut self,
        tps: &[Tp],
        committed: &HashMap<Tp, OffsetAndMetadata>,
    ) -> Applied {
        let mut out = Applied::default();
        for tp in tps {
            let Some(ps) = self.parts.get_mut(tp).filter(|ps| ps.awaiting_committed) else {
                continue;
            };
            out.wake = true;
            match committed.get(tp) {
                Some(om) => {
                    ps.set_position(Some(om.offset));
                    ps.committed = Some(om.offset);
                }
                None => no_position(
                    &self.policy,
                    &mut self.errors,
                    tp,
                    ps,
                    "OffsetFetch",
                    "no committed offset",
                ),
            }
        }
        out
    }

    // ----- the application's calls -----

    /// `seek`: the next offset to read. Wins over a committed offset being
    /// looked up and a reset under way.
    pub(crate) fn seek(&mut self, tp: &Tp, offset: i64) -> Result<()> {
        self.part_mut(tp)?.set_position(Some(offset));
        self.drop_buffered(tp);
        Ok(())
    }

    /// `seek_to_beginning` / `seek_to_end`.
    pub(crate) fn seek_to(&mut self, tps: &[Tp], spec: OffsetSpec) -> Result<()> {
        self.check_assigned(tps)?;
        for tp in tps {
            if let Some(ps) = self.parts.get_mut(tp) {
                ps.start_reset(spec);
            }
            self.drop_buffered(tp);
        }
        Ok(())
    }

    /// `pause` / `resume`. Pausing drops what was fetched (the position is
    /// kept, so it is fetched again once resumed).
    pub(crate) fn set_paused(&mut self, tps: &[Tp], paused: bool) -> Result<()> {
        self.check_assigned(tps)?;
        for tp in tps {
            if let Some(ps) = self.parts.get_mut(tp) {
                ps.paused = paused;
                if paused {
                    ps.seek_gen = next_gen();
                }
            }
            if paused {
                self.drop_buffered(tp);
            }
        }
        Ok(())
    }

    /// The paused partitions.
    pub(crate) fn paused(&self) -> Vec<Tp> {
        self.parts
            .iter()
            .filter(|(_, p)| p.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The position (`None` while it is looked up or reset).
    pub(crate) fn position(&self, tp: &Tp) -> Result<Option<i64>> {
        Ok(self.part(tp)?.position)
    }

    /// The high watermark last seen (-1 before the first fetch).
    pub(crate) fn high_watermark(&self, tp: &Tp) -> Option<i64> {
        self.parts.get(tp).map(|p| p.high_watermark)
    }

    // ----- what is committable -----

    /// `store_offset`: `offset` was processed; `offset + 1` is committable.
    pub(crate) fn store_offset(&mut self, tp: &Tp, offset: i64) -> Result<()> {
        self.part_mut(tp)?.stored = Some(offset.saturating_add(1));
        Ok(())
    }

    /// With `enable.auto.offset.store`, makes everything handed to the
    /// application committable (it asked for more, or commits or closes: it
    /// is done with it).
    pub(crate) fn release_delivered(&mut self) {
        if !self.policy.auto_offset_store {
            return;
        }
        for ps in self.parts.values_mut() {
            if ps.delivered.is_some() {
                ps.stored = ps.delivered;
            }
        }
    }

    /// A stream yielded `offset` of `tp`; `released` is the record it
    /// yielded before, which the application has now finished (committable
    /// with `enable.auto.offset.store`).
    pub(crate) fn yielded(&mut self, tp: &Tp, offset: i64, released: Option<(&Tp, i64)>) {
        if let Some((prev, at)) = released.filter(|_| self.policy.auto_offset_store)
            && let Some(ps) = self.parts.get_mut(prev)
        {
            let next = at.saturating_add(1);
            // Only a delivery of this assignment of the partition.
            if ps.delivered == Some(next) {
                ps.stored = Some(next);
            }
        }
        if let Some(ps) = self.parts.get_mut(tp)
            && ps.position.is_some_and(|p| p > offset || ps.exhausted)
        {
            ps.delivered = Some(offset.saturating_add(1));
        }
    }

    /// The stored offsets not committed yet (of `only`, when given).
    pub(crate) fn offsets_to_commit(&self, only: Option<&[Tp]>) -> Vec<(Tp, OffsetAndMetadata)> {
        self.parts
            .iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .filter_map(|(tp, ps)| {
                let offset = ps.stored?;
                (Some(offset) != ps.committed).then(|| {
                    (
                        tp.clone(),
                        OffsetAndMetadata {
                            offset,
                            metadata: None,
                        },
                    )
                })
            })
            .collect()
    }

    /// The group acknowledged `offset` as committed for `tp`.
    pub(crate) fn committed(&mut self, tp: &Tp, offset: i64) {
        if let Some(ps) = self.parts.get_mut(tp) {
            ps.committed = Some(offset);
        }
    }

    // ----- the fetch loop -----

    /// What to send now: a ListOffsets for partitions to reset, a Fetch from
    /// the position for the others (one per leader, none to a leader in
    /// `busy`), except partitions paused, backing off, waiting for a
    /// committed offset, with data waiting for `poll`, or past the last
    /// offset; and nothing fetched while the buffer is full. What is
    /// planned counts as in flight until its answer is applied.
    pub(crate) fn plan(
        &mut self,
        now: Instant,
        mut leader_of: impl FnMut(&Tp) -> Option<i32>,
        busy: &HashSet<i32>,
    ) -> Plan {
        let mut plan = Plan::default();
        let buffered: HashSet<&Tp> = self
            .buffer
            .iter()
            .map(|c| &c.tp)
            .chain(self.current.as_ref().map(|c| &c.tp))
            .collect();
        let over_budget = self.buffered_bytes >= self.policy.max_buffer_bytes;
        for (tp, ps) in self.parts.iter_mut() {
            if let Some(t) = ps.retry_at.filter(|t| *t > now) {
                plan.wake_at = Some(plan.wake_at.map_or(t, |w| w.min(t)));
                continue;
            }
            let wants_reset = ps.reset.is_some() && !ps.reset_in_flight;
            let wants_fetch = ps.position.is_some()
                && ps.reset.is_none()
                && !ps.exhausted
                && !ps.paused
                && !ps.fetch_in_flight
                && !over_budget
                && !buffered.contains(tp);
            if !wants_reset && !wants_fetch {
                continue;
            }
            let Some(leader) = leader_of(tp) else {
                plan.need_metadata = true;
                continue;
            };
            if let (true, Some(spec)) = (wants_reset, ps.reset) {
                ps.reset_in_flight = true;
                plan.resets.entry(leader).or_default().push(ResetAsk {
                    tp: tp.clone(),
                    spec,
                    seek_gen: ps.seek_gen,
                });
                continue;
            }
            let (true, Some(offset)) = (wants_fetch, ps.position) else {
                continue;
            };
            if busy.contains(&leader) {
                continue;
            }
            ps.fetch_in_flight = true;
            let (wanted, sent) = plan.fetches.entry(leader).or_default();
            wanted.insert(
                tp.clone(),
                PartFetch {
                    offset,
                    max_bytes: self.policy.max_partition_fetch_bytes,
                    leader_epoch: ps.leader_epoch,
                },
            );
            sent.push(Sent {
                tp: tp.clone(),
                offset,
                seek_gen: ps.seek_gen,
            });
        }
        plan
    }

    fn backoff(&mut self, ps_failures: u32) -> Duration {
        backoff::exponential(
            self.policy.backoff,
            self.policy.backoff_max,
            ps_failures,
            self.jitter.next_fraction(),
        )
    }

    /// A Fetch or ListOffsets for `tp` failed: back off before the next.
    fn failed(&mut self, tp: &Tp, now: Instant) {
        let Some(failures) = self.parts.get_mut(tp).map(|ps| {
            ps.failures = ps.failures.saturating_add(1);
            ps.failures
        }) else {
            return;
        };
        let wait = self.backoff(failures);
        if let Some(ps) = self.parts.get_mut(tp) {
            ps.retry_at = Some(now + wait);
        }
    }

    /// A fetch got no usable answer for these partitions (the request
    /// failed: `back_off`; or the fetch session was reset: not).
    pub(crate) fn fetch_failed(&mut self, sent: &[Sent], now: Instant, back_off: bool) {
        for s in sent {
            if let Some(ps) = self.parts.get_mut(&s.tp) {
                ps.fetch_in_flight = false;
            }
            if back_off {
                self.failed(&s.tp, now);
            }
        }
    }

    /// The partitions of `sent` the response did not mention: no longer in
    /// flight (fetched again at the next plan).
    ///
    /// A partition the answer left out (an incremental fetch session omits
    /// partitions with nothing new) whose fetch offset had reached the high
    /// watermark is at its end: with `enable.partition.eof` that is reported
    /// as for an answer without records. Returns whether an event was queued.
    pub(crate) fn fetch_done(&mut self, sent: &[Sent]) -> bool {
        let mut queued = false;
        for s in sent {
            if let Some(ps) = self.parts.get_mut(&s.tp) {
                let left_out = ps.fetch_in_flight;
                ps.fetch_in_flight = false;
                if left_out
                    && self.policy.partition_eof
                    && !ps.eof_sent
                    && ps.seek_gen == s.seek_gen
                    && ps.position == Some(s.offset)
                    && ps.high_watermark >= 0
                    && s.offset >= ps.high_watermark
                {
                    ps.eof_sent = true;
                    self.events.push_back(ConsumerEvent::PartitionEof {
                        topic: s.tp.topic.clone(),
                        partition: s.tp.partition,
                        offset: s.offset,
                    });
                    queued = true;
                }
            }
        }
        queued
    }

    /// Applies one partition of a fetch response: records wait for `poll`,
    /// an out-of-range position is reset (`auto.offset.reset`), other
    /// errors back off. An answer for a partition seeked, paused or
    /// revoked since the fetch went out is dropped.
    pub(crate) fn apply_fetched(&mut self, sent: &Sent, p: Fetched, now: Instant) -> Applied {
        let mut out = Applied::default();
        let tp = &sent.tp;
        let Some(ps) = self.parts.get_mut(tp) else {
            return out;
        };
        ps.fetch_in_flight = false;
        if ps.seek_gen != sent.seek_gen || ps.position != Some(sent.offset) {
            return out; // seeked, reset or paused meanwhile: stale
        }
        match p.code {
            ErrorCode::NONE => {
                ps.failures = 0;
                ps.retry_at = None;
                out.progress = true;
                ps.high_watermark = p.high_watermark;
                ps.last_stable_offset = p.last_stable_offset;
                let records = p.records.unwrap_or_default();
                if records.is_empty() {
                    if self.policy.partition_eof && !ps.eof_sent && sent.offset >= p.high_watermark
                    {
                        ps.eof_sent = true;
                        self.events.push_back(ConsumerEvent::PartitionEof {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            offset: sent.offset,
                        });
                        out.wake = true;
                    }
                    return out;
                }
                let mut aborted = p.aborted.unwrap_or_default();
                aborted.sort_by_key(|a| a.first_offset);
                self.buffered_bytes += records.len();
                self.buffer.push_back(CompletedFetch {
                    tp: tp.clone(),
                    fetch_offset: sent.offset,
                    seek_gen: sent.seek_gen,
                    records,
                    aborted,
                });
                out.wake = true;
            }
            ErrorCode::OFFSET_OUT_OF_RANGE => {
                let why = format!("offset {} is out of range", sent.offset);
                no_position(&self.policy, &mut self.errors, tp, ps, "Fetch", &why);
                out.wake = true;
            }
            c => {
                if !(c.is_stale_metadata() || c == ErrorCode::OFFSET_NOT_AVAILABLE) {
                    tracing::warn!("fetch {}-{}: {c}", tp.topic, tp.partition);
                }
                out.refresh = true;
                self.failed(tp, now);
            }
        }
        out
    }

    /// Applies a ListOffsets answer for `asked` (`Err`: the request
    /// failed): positions of partitions not seeked since are set; failures
    /// back off.
    pub(crate) fn apply_reset(
        &mut self,
        asked: &[ResetAsk],
        result: std::result::Result<&HashMap<Tp, i64>, ()>,
        now: Instant,
    ) -> Applied {
        let mut out = Applied::default();
        for a in asked {
            let Some(ps) = self.parts.get_mut(&a.tp) else {
                continue;
            };
            if ps.seek_gen != a.seek_gen {
                continue; // seeked or reset again meanwhile
            }
            ps.reset_in_flight = false;
            match result.map(|r| r.get(&a.tp).copied()) {
                Ok(Some(o)) if o >= 0 => {
                    ps.set_position(Some(o));
                    ps.failures = 0;
                    ps.retry_at = None;
                    out.progress = true;
                    out.wake = true;
                }
                _ => {
                    out.refresh = true;
                    self.failed(&a.tp, now);
                }
            }
        }
        out
    }

    // ----- poll -----

    /// Adds a problem for `poll` to report.
    pub(crate) fn push_error(&mut self, e: Error) {
        self.errors.push_back(e);
    }

    /// Gives back an error `poll` took but could not return yet (it had
    /// records to return first).
    pub(crate) fn unread_error(&mut self, e: Error) {
        self.errors.push_front(e);
    }

    /// What `poll` reads next: an error to report, else the partly read
    /// fetch, else the next fetched partition. Pending events go to `out`.
    pub(crate) fn next_read<S: Sink>(&mut self, out: &mut S, opts: DecodeOptions) -> Next {
        if let Some(e) = self.errors.pop_front() {
            return Next::Error(e);
        }
        while let Some(ev) = self.events.pop_front() {
            out.event(ev);
        }
        if let Some(c) = self.current.take() {
            return Next::Read(c);
        }
        match self.buffer.pop_front() {
            Some(cf) => {
                self.buffered_bytes = self.buffered_bytes.saturating_sub(cf.records.len());
                Next::Read(Cursor::new(cf, opts))
            }
            None => Next::Empty,
        }
    }

    /// A cursor `poll` read from: moves the partition's position past what
    /// was read (handed to the application when `deliver`), and keeps the
    /// cursor for the next poll if it has more and `keep` (a cursor that
    /// failed to decode is dropped: the partition is fetched again from the
    /// position). Returns false, dropping the cursor, when the partition was
    /// seeked, paused or revoked while it was read: what was read then must
    /// be dropped too.
    pub(crate) fn finish_read(&mut self, mut cursor: Cursor, deliver: bool, keep: bool) -> bool {
        let Some(ps) = self.parts.get_mut(&cursor.tp) else {
            return false;
        };
        if ps.seek_gen != cursor.seek_gen || ps.position != Some(cursor.start_position) {
            return false;
        }
        let next = cursor.next_offset.max(cursor.start_position);
        ps.position = Some(next);
        ps.exhausted |= cursor.past_end;
        ps.eof_sent = false;
        if deliver {
            ps.delivered = ps.position;
        }
        cursor.start_position = next;
        if keep && !cursor.done {
            self.current = Some(cursor);
        }
        true
    }

    /// Drops what was fetched for `tp` and not read yet.
    fn drop_buffered(&mut self, tp: &Tp) {
        let before = self.buffer.len();
        self.buffer.retain(|c| &c.tp != tp);
        if self.buffer.len() != before {
            self.buffered_bytes = self.buffer.iter().map(|c| c.records.len()).sum();
        }
        if self.current.as_ref().is_some_and(|c| &c.tp == tp) {
            self.current = None;
        }
    }
}

#[cfg(test)]
#[path = "partitions_tests.rs"]
mod tests;
