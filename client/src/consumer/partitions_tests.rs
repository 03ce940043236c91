//! [`PartitionStates`] alone: assignments, seeks, resets, fetched data,
//! committed-offset lookups and what becomes committable, with a fake
//! clock and hand-built record batches (no sockets, no tasks).

use super::*;
use crate::config::{ConsumerConfig, OffsetReset};
use purekafka_protocol::records::{Compression, RecordBatchBuilder};

fn tp(p: i32) -> Tp {
    Tp::new("t", p)
}

fn config(reset: OffsetReset) -> ConsumerConfig {
    let mut c = ConsumerConfig::new("localhost:9092");
    c.auto_offset_reset = reset;
    c
}

fn states(reset: OffsetReset) -> PartitionStates {
    PartitionStates::new(&config(reset), 1 << 20)
}

/// Everything led by broker 1.
fn plan(st: &mut PartitionStates, now: Instant) -> Plan {
    st.plan(now, |_| Some(1), &HashSet::new())
}

fn fetch_offsets(p: &Plan) -> Vec<(i32, i64)> {
    let mut v: Vec<(i32, i64)> = p
        .fetches
        .values()
        .flat_map(|(w, _)| w.iter().map(|(tp, f)| (tp.partition, f.offset)))
        .collect();
    v.sort();
    v
}

fn resets(p: &Plan) -> Vec<(i32, OffsetSpec)> {
    let mut v: Vec<(i32, OffsetSpec)> = p
        .resets
        .values()
        .flatten()
        .map(|a| (a.tp.partition, a.spec))
        .collect();
    v.sort_by_key(|x| x.0);
    v
}

fn sent_of(p: &Plan, part: i32) -> Sent {
    p.fetches
        .values()
        .flat_map(|(_, s)| s.iter())
        .find(|s| s.tp.partition == part)
        .cloned()
        .unwrap()
}

/// A batch of `n` records from `base`.
fn batch(base: i64, n: usize) -> Bytes {
    let mut bb = RecordBatchBuilder::new(Compression::None);
    bb.set_base_offset(base);
    for i in 0..n {
        bb.append(
            1,
            Some(b"k".as_slice()),
            Some(format!("v{i}").as_bytes()),
            &[],
        )
        .unwrap();
    }
    bb.finish().unwrap()
}

fn ok(records: Bytes, hw: i64) -> Fetched {
    Fetched {
        code: ErrorCode::NONE,
        high_watermark: hw,
        last_stable_offset: hw,
        records: Some(records),
        aborted: None,
    }
}

fn err(code: ErrorCode) -> Fetched {
    Fetched {
        code,
        high_watermark: -1,
        last_stable_offset: -1,
        records: None,
        aborted: None,
    }
}

/// What `poll` does: reads everything fetched; returns the offsets read.
fn poll(st: &mut PartitionStates, deliver: bool) -> Vec<i64> {
    let mut out: Vec<super::super::ConsumerRecord> = Vec::new();
    loop {
        let c = match st.next_read(&mut out, DecodeOptions::default()) {
            Next::Read(c) => c,
            Next::Empty => break,
            Next::Error(e) => panic!("{e}"),
        };
        let mut c = c;
        let before = out.len();
        let r = c.read(usize::MAX, false, &mut out);
        assert!(r.is_ok());
        if !st.finish_read(c, deliver, true) {
            out.truncate(before);
        }
    }
    out.iter().map(|r| r.offset).collect()
}

/// `tp(0)` assigned at `position`, nothing in flight.
fn at(position: i64) -> PartitionStates {
    let mut st = states(OffsetReset::Earliest);
    st.assign(&[tp(0)], true);
    let mut c = HashMap::new();
    c.insert(
        tp(0),
        OffsetAndMetadata {
            offset: position,
            metadata: None,
        },
    );
    st.apply_committed(&[tp(0)], &c);
    st
}

fn to_commit(st: &PartitionStates) -> Vec<(i32, i64)> {
    st.offsets_to_commit(None)
        .into_iter()
        .map(|(tp, o)| (tp.partition, o.offset))
        .collect()
}

#[test]
fn a_seek_during_the_committed_offset_lookup_wins() {
    let mut st = states(OffsetReset::Earliest);
    let now = Instant::now();
    assert_eq!(st.assign(&[tp(0), tp(1)], true), vec![tp(0), tp(1)]);
    // Waiting for the lookup: nothing to fetch or reset yet.
    let p = plan(&mut st, now);
    assert!(fetch_offsets(&p).is_empty() && resets(&p).is_empty());
    assert_eq!(st.position(&tp(0)).unwrap(), None);
    st.seek(&tp(0), 42).unwrap();
    let committed: HashMap<Tp, OffsetAndMetadata> = [(tp(0), 7), (tp(1), 9)]
        .into_iter()
        .map(|(tp, offset)| {
            (
                tp,
                OffsetAndMetadata {
                    offset,
                    metadata: None,
                },
            )
        })
        .collect();
    assert!(st.apply_committed(&[tp(0), tp(1)], &committed).wake);
    assert_eq!(st.position(&tp(0)).unwrap(), Some(42), "the seek wins");
    assert_eq!(st.position(&tp(1)).unwrap(), Some(9));
    assert_eq!(fetch_offsets(&plan(&mut st, now)), vec![(0, 42), (1, 9)]);
    // A lookup answered late (a retry) changes nothing either.
    st.apply_committed(&[tp(1)], &HashMap::new());
    assert_eq!(st.position(&tp(1)).unwrap(), Some(9));
}

#[test]
fn revoking_drops_the_state_and_what_was_fetched() {
    let mut st = at(0);
    let now = Instant::now();
    let p = plan(&mut st, now);
    let sent = sent_of(&p, 0);
    st.apply_fetched(&sent, ok(batch(0, 3), 3), now);
    st.store_offset(&tp(0), 1).ok();
    st.revoke(&[tp(0)]);
    assert!(st.assignment().is_empty());
    assert!(poll(&mut st, true).is_empty(), "fetched data dropped");
    assert!(to_commit(&st).is_empty());
    let e = st.seek(&tp(0), 1).unwrap_err();
    assert!(
        matches!(&e, crate::Error::NotAssigned { topic, partition: 0 } if topic == "t"),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("t-0 is not assigned"), "{e}");
    // Assigned again: a fresh state, and the old fetch's late answer is
    // not taken for a current one.
    st.assign(&[tp(0)], false);
    st.apply_fetched(&sent, ok(batch(0, 3), 3), now);
    assert!(poll(&mut st, true).is_empty());
    assert_eq!(resets(&plan(&mut st, now)), vec![(0, OffsetSpec::Earliest)]);
}

#[test]
fn an_assignment_keeps_kept_partitions_and_drops_the_rest() {
    let mut st = at(5);
    st.assign(&[tp(0), tp(1)], false);
    assert_eq!(st.position(&tp(0)).unwrap(), Some(5), "kept");
    assert_eq!(st.assign(&[tp(1), tp(2)], false), vec![tp(2)]);
    assert_eq!(st.assignment(), vec![tp(1), tp(2)]);
}

#[test]
fn a_paused_partition_is_not_fetched_until_resumed() {
    let mut st = at(10);
    let now = Instant::now();
    st.set_paused(&[tp(0)], true).unwrap();
    assert!(fetch_offsets(&plan(&mut st, now)).is_empty());
    assert_eq!(st.paused(), vec![tp(0)]);
    st.set_paused(&[tp(0)], false).unwrap();
    let p = plan(&mut st, now);
    assert_eq!(fetch_offsets(&p), vec![(0, 10)]);
    // Paused while the fetch was out: its answer is dropped.
    st.set_paused(&[tp(0)], true).unwrap();
    st.apply_fetched(&sent_of(&p, 0), ok(batch(10, 2), 12), now);
    st.set_paused(&[tp(0)], false).unwrap();
    assert!(poll(&mut st, true).is_empty());
    assert_eq!(fetch_offsets(&plan(&mut st, now)), vec![(0, 10)]);
    // Unknown partitions are refused, and nothing changes.
    assert!(st.set_paused(&[tp(0), tp(9)], true).is_err());
    assert!(st.paused().is_empty());
}

#[test]
fn the_reset_policy_is_applied_once_per_missing_position() {
    let mut st = states(OffsetReset::Latest);
    let now = Instant::now();
    st.assign(&[tp(0)], false);
    let p = plan(&mut st, now);
    assert_eq!(resets(&p), vec![(0, OffsetSpec::Latest)]);
    // In flight: not asked again.
    assert!(resets(&plan(&mut st, now)).is_empty());
    let asked: Vec<ResetAsk> = p.resets.values().flatten().cloned().collect();
    let answer: HashMap<Tp, i64> = [(tp(0), 100)].into_iter().collect();
    assert!(st.apply_reset(&asked, Ok(&answer), now).progress);
    assert_eq!(st.position(&tp(0)).unwrap(), Some(100));
    let p = plan(&mut st, now);
    assert!(resets(&p).is_empty());
    assert_eq!(fetch_offsets(&p), vec![(0, 100)]);
    // Out of range: one reset, from the policy.
    st.apply_fetched(&sent_of(&p, 0), err(ErrorCode::OFFSET_OUT_OF_RANGE), now);
    assert_eq!(st.position(&tp(0)).unwrap(), None);
    let p = plan(&mut st, now);
    assert_eq!(resets(&p), vec![(0, OffsetSpec::Latest)]);
    assert!(fetch_offsets(&p).is_empty());
    // A seek meanwhile wins over the reset's answer.
    st.seek(&tp(0), 3).unwrap();
    let asked: Vec<ResetAsk> = p.resets.values().flatten().cloned().collect();
    st.apply_reset(&asked, Ok(&answer), now);
    assert_eq!(st.position(&tp(0)).unwrap(), Some(3));
}

#[test]
fn without_a_reset_policy_poll_reports_the_missing_position_once() {
    let mut st = states(OffsetReset::None);
    let now = Instant::now();
    st.assign(&[tp(0)], false);
    let mut out: Vec<super::super::ConsumerRecord> = Vec::new();
    let Next::Error(e) = st.next_read(&mut out, DecodeOptions::default()) else {
        panic!("no error");
    };
    assert_eq!(e.code(), Some(ErrorCode::OFFSET_OUT_OF_RANGE));
    assert!(e.to_string().contains("auto.offset.reset=none"), "{e}");
    assert!(matches!(
        st.next_read(&mut out, DecodeOptions::default()),
        Next::Empty
    ));
    // Nothing to fetch or reset: the partition waits for a seek.
    let p = plan(&mut st, now);
    assert!(fetch_offsets(&p).is_empty() && resets(&p).is_empty());
    st.seek(&tp(0), 0).unwrap();
    assert_eq!(fetch_offsets(&plan(&mut st, now)), vec![(0, 0)]);
}

#[test]
fn fetch_errors_back_off_exponentially_and_recover() {
    let mut st = at(0);
    let mut now = Instant::now();
    let mut waits = Vec::new();
    for _ in 0..4 {
        let p = plan(&mut st, now);
        assert_eq!(fetch_offsets(&p), vec![(0, 0)]);
        let a = st.apply_fetched(&sent_of(&p, 0), err(ErrorCode::NOT_LEADER_OR_FOLLOWER), now);
        assert!(a.refresh && !a.progress);
        let p = plan(&mut st, now);
        assert!(fetch_offsets(&p).is_empty(), "backing off");
        let wake = p.wake_at.unwrap();
        waits.push(wake - now);
        now = wake;
    }
    for (i, w) in waits.iter().enumerate() {
        let term = Duration::from_millis(100 << i).min(Duration::from_secs(1));
        assert!(
            *w >= term.mul_f64(0.8).max(Duration::from_millis(100)) && *w <= term.mul_f64(1.2),
            "{waits:?}"
        );
    }
    let p = plan(&mut st, now);
    assert!(
        st.apply_fetched(&sent_of(&p, 0), ok(Bytes::new(), 0), now)
            .progress
    );
    let p = plan(&mut st, now);
    assert_eq!(fetch_offsets(&p), vec![(0, 0)], "no backoff after success");
}

#[test]
fn a_caught_up_partition_left_out_of_the_answer_is_at_its_end() {
    // An incremental fetch session leaves out partitions with nothing new:
    // with enable.partition.eof, one whose fetch offset reached the high
    // watermark is reported at its end once, as an empty answer would be.
    let mut cfg = config(OffsetReset::Earliest);
    cfg.enable_partition_eof = true;
    let mut st = PartitionStates::new(&cfg, 1 << 20);
    st.assign(&[tp(0)], false);
    st.seek(&tp(0), 0).unwrap();
    let now = Instant::now();
    let p = plan(&mut st, now);
    let s = sent_of(&p, 0);
    st.apply_fetched(&s, ok(batch(0, 3), 3), now);
    assert!(!st.fetch_done(&[s]));
    assert_eq!(poll(&mut st, true), vec![0, 1, 2]);
    let s = sent_of(&plan(&mut st, now), 0);
    assert_eq!(s.offset, 3);
    assert!(st.fetch_done(std::slice::from_ref(&s)), "no end event");
    assert!(matches!(
        st.events.pop_front(),
        Some(ConsumerEvent::PartitionEof { offset: 3, .. })
    ));
    // Once only, and not for a partition behind its high watermark.
    let s = sent_of(&plan(&mut st, now), 0);
    assert!(!st.fetch_done(&[s]));
    let mut st = PartitionStates::new(&cfg, 1 << 20);
    st.assign(&[tp(0)], false);
    st.seek(&tp(0), 0).unwrap();
    let s = sent_of(&plan(&mut st, now), 0);
    st.apply_fetched(&s, ok(batch(0, 3), 10), now);
    st.fetch_done(&[s]);
    poll(&mut st, true);
    let s = sent_of(&plan(&mut st, now), 0);
    assert!(!st.fetch_done(&[s]));
    assert!(st.events.is_empty());
}

#[test]
fn records_become_committable_only_once_released() {
    let mut st = at(0);
    let now = Instant::now();
    let p = plan(&mut st, now);
    st.apply_fetched(&sent_of(&p, 0), ok(batch(0, 5), 5), now);
    assert_eq!(poll(&mut st, true), vec![0, 1, 2, 3, 4]);
    assert_eq!(st.position(&tp(0)).unwrap(), Some(5));
    assert!(to_commit(&st).is_empty(), "handed out, not released");
    // The next poll (or commit/close) releases them.
    st.release_delivered();
    assert_eq!(to_commit(&st), vec![(0, 5)]);
    st.committed(&tp(0), 5);
    assert!(to_commit(&st).is_empty(), "already committed");
    // Read for a stream (not delivered): nothing until yielded.
    st.seek(&tp(0), 0).unwrap();
    let p = plan(&mut st, now);
    st.apply_fetched(&sent_of(&p, 0), ok(batch(0, 5), 5), now);
    assert_eq!(poll(&mut st, false).len(), 5);
    st.release_delivered();
    assert!(to_commit(&st).is_empty(), "nothing new delivered");
    st.yielded(&tp(0), 0, None);
    st.yielded(&tp(0), 1, Some((&tp(0), 0)));
    assert_eq!(to_commit(&st), vec![(0, 1)], "record 0 finished");
}

#[test]
fn with_manual_offset_store_only_stored_offsets_are_committable() {
    let mut cfg = config(OffsetReset::Earliest);
    cfg.enable_auto_offset_store = false;
    let mut st = PartitionStates::new(&cfg, 1 << 20);
    st.assign(&[tp(0)], false);
    st.seek(&tp(0), 0).unwrap();
    let now = Instant::now();
    let p = plan(&mut st, now);
    st.apply_fetched(&sent_of(&p, 0), ok(batch(0, 5), 5), now);
    poll(&mut st, true);
    st.release_delivered();
    st.yielded(&tp(0), 3, Some((&tp(0), 2)));
    assert!(to_commit(&st).is_empty());
    st.store_offset(&tp(0), 2).unwrap();
    assert_eq!(to_commit(&st), vec![(0, 3)]);
    st.store_offset(&tp(0), i64::MAX).unwrap();
    assert_eq!(to_commit(&st), vec![(0, i64::MAX)], "saturates");
    assert!(st.store_offset(&tp(5), 1).is_err());
}

#[test]
fn a_yield_from_another_assignment_of_the_partition_is_ignored() {
    // Offset 150 was read before the partition was revoked and assigned
    // again at 120: it is not this assignment's delivery.
    let mut st = at(120);
    st.yielded(&tp(0), 150, None);
    st.yielded(&tp(0), 151, Some((&tp(0), 150)));
    st.release_delivered();
    assert!(to_commit(&st).is_empty(), "{:?}", to_commit(&st));
}

/// Issue #10: a partition whose position reached i64::MAX fetched the same
/// batch again and again (the position cannot move past it). Now the
/// record at i64::MAX is read once, the position saturates there, and the
/// partition is not fetched any more: no overflow, no busy loop.
#[test]
fn the_position_saturates_at_the_largest_offset_and_fetching_stops() {
    let base = i64::MAX - 1;
    let mut st = at(base);
    let now = Instant::now();
    let p = plan(&mut st, now);
    assert_eq!(fetch_offsets(&p), vec![(0, base)]);
    st.apply_fetched(&sent_of(&p, 0), ok(batch(base, 2), i64::MAX), now);
    assert_eq!(poll(&mut st, true), vec![base, i64::MAX]);
    assert_eq!(st.position(&tp(0)).unwrap(), Some(i64::MAX));
    let p = plan(&mut st, now);
    assert!(
        fetch_offsets(&p).is_empty() && p.wake_at.is_none(),
        "nothing after i64::MAX to fetch: {:?}",
        fetch_offsets(&p)
    );
    st.release_delivered();
    assert_eq!(to_commit(&st), vec![(0, i64::MAX)]);

    // Seeked to i64::MAX: the record there is still read, once.
    st.seek(&tp(0), i64::MAX).unwrap();
    let p = plan(&mut st, now);
    assert_eq!(fetch_offsets(&p), vec![(0, i64::MAX)]);
    st.apply_fetched(&sent_of(&p, 0), ok(batch(base, 2), i64::MAX), now);
    assert_eq!(poll(&mut st, true), vec![i64::MAX]);
    assert!(fetch_offsets(&plan(&mut st, now)).is_empty());
    // A seek back makes it fetchable again.
    st.seek(&tp(0), base).unwrap();
    assert_eq!(fetch_offsets(&plan(&mut st, now)), vec![(0, base)]);
}

#[test]
fn one_fetch_per_partition_and_none_to_a_busy_leader() {
    let mut st = states(OffsetReset::Earliest);
    st.assign(&[tp(0), tp(1)], false);
    st.seek(&tp(0), 0).unwrap();
    st.seek(&tp(1), 0).unwrap();
    let now = Instant::now();
    let busy: HashSet<i32> = [2].into_iter().collect();
    let p = st.plan(now, |tp| Some(if tp.partition == 0 { 1 } else { 2 }), &busy);
    assert_eq!(fetch_offsets(&p), vec![(0, 0)]);
    assert!(
        fetch_offsets(&plan(&mut st, now)) == vec![(1, 0)],
        "0 in flight"
    );
    // Leader unknown: metadata is asked for.
    st.assign(&[tp(0), tp(1), tp(2)], false);
    let p = st.plan(now, |_| None, &HashSet::new());
    assert!(p.need_metadata && fetch_offsets(&p).is_empty());
}
