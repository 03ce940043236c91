//! [`SessionState`]'s decisions, without sockets: when a poll opens a
//! transaction, when its records are dropped, what a commit sends, what an
//! abort rewinds, and that no transaction outlives a rebalance.

use super::*;

fn meta(generation: i32, member: &str) -> ConsumerGroupMetadata {
    ConsumerGroupMetadata {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
    }
}

/// The tests' clock: a transaction's age matters only where a test says so.
fn now() -> Instant {
    Instant::now()
}

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("in", p)
}

/// One poll of `records` (partition, offset) with no group change around it.
fn poll(s: &mut SessionState, g: &ConsumerGroupMetadata, records: &[(i32, i64)]) -> AfterPoll {
    let ticket = s.before_poll(g).unwrap();
    let tps: Vec<(TopicPartition, i64)> = records.iter().map(|&(p, o)| (tp(p), o)).collect();
    s.after_poll(ticket, g, tps.iter().map(|(t, o)| (t, *o)), now())
}

fn commit_offsets(plan: CommitPlan) -> (Vec<(TopicPartition, i64)>, ConsumerGroupMetadata) {
    match plan {
        CommitPlan::Commit { offsets, group } => (offsets, group),
        other => panic!("expected a commit, got {other:?}"),
    }
}

#[test]
fn the_first_poll_opens_a_transaction_and_later_polls_join_it() {
    let mut s = SessionState::default();
    let g = meta(3, "m1");
    assert_eq!(
        poll(&mut s, &g, &[(0, 10), (0, 11), (1, 5)]),
        AfterPoll::Deliver { begin: true }
    );
    assert_eq!(poll(&mut s, &g, &[]), AfterPoll::Deliver { begin: false });
    assert_eq!(
        poll(&mut s, &g, &[(1, 6), (2, 0)]),
        AfterPoll::Deliver { begin: false }
    );
    let (offsets, group) = commit_offsets(s.commit_plan(&g, now()).unwrap());
    assert_eq!(offsets, vec![(tp(0), 12), (tp(1), 7), (tp(2), 1)]);
    assert_eq!(group, g);
    assert_eq!(s.committed(), offsets);
    // The next poll opens the next transaction.
    assert_eq!(
        poll(&mut s, &g, &[(0, 12)]),
        AfterPoll::Deliver { begin: true }
    );
}

#[test]
fn an_empty_poll_still_opens_a_transaction() {
    let mut s = SessionState::default();
    let g = meta(1, "m");
    assert_eq!(poll(&mut s, &g, &[]), AfterPoll::Deliver { begin: true });
    let (offsets, _) = commit_offsets(s.commit_plan(&g, now()).unwrap());
    assert!(offsets.is_empty(), "nothing consumed, no offsets");
    assert!(s.committed().is_empty());
    assert_eq!(s.commit_plan(&g, now()).unwrap(), CommitPlan::Nothing);
}

#[test]
fn records_out_of_order_commit_one_past_the_highest() {
    let mut s = SessionState::default();
    let g = meta(1, "m");
    poll(&mut s, &g, &[(0, 7), (0, 4), (0, 9), (0, 5)]);
    let (offsets, _) = commit_offsets(s.commit_plan(&g, now()).unwrap());
    assert_eq!(offsets, vec![(tp(0), 10)]);
    // And an abort rewinds to the lowest.
    assert_eq!(s.abort_plan().unwrap().partitions, vec![(tp(0), Some(4))]);
}

#[test]
fn a_revocation_between_polls_aborts_and_rewinds_instead_of_delivering() {
    let mut s = SessionState::default();
    let g = meta(4, "m");
    poll(&mut s, &g, &[(0, 100), (1, 50), (1, 51)]);
    // The group takes partition 1 away, and gives it back in generation 5.
    s.on_rebalance(&[tp(1)]);
    s.on_rebalance(&[]);
    let g5 = meta(5, "m");
    let ticket = s.before_poll(&g5).unwrap();
    let got = s.after_poll(ticket, &g5, [(&tp(0), 103)], now());
    let AfterPoll::Drop { abort, rewind } = got else {
        panic!("records of a new generation must not join the old transaction: {got:?}")
    };
    assert!(abort, "the open transaction is aborted");
    // Both go back to the committed offset, else to the first offset read.
    assert_eq!(
        rewind.partitions,
        vec![(tp(0), Some(100)), (tp(1), Some(50))]
    );
    // Until the abort and the rewind are done, nothing else goes.
    assert_eq!(
        s.recovery(),
        Some(Recovery {
            abort: true,
            rewind: rewind.clone()
        })
    );
    assert!(s.before_poll(&g5).is_err(), "no poll before the rewind");
    assert!(
        s.commit_plan(&g5, now()).is_err(),
        "no commit before the rewind"
    );
    s.aborted();
    assert_eq!(s.recovery().map(|r| r.abort), Some(false), "rewind left");
    s.rewound();
    // Nothing is open now; the next clean poll begins afresh.
    assert_eq!(s.commit_plan(&g5, now()).unwrap(), CommitPlan::Nothing);
    assert_eq!(
        poll(&mut s, &g5, &[(0, 100)]),
        AfterPoll::Deliver { begin: true }
    );
    let (_, group) = commit_offsets(s.commit_plan(&g5, now()).unwrap());
    assert_eq!(
        group.generation_id, 5,
        "committed in the generation it read in"
    );
}

#[test]
fn a_rebalance_during_a_poll_drops_its_records_even_without_a_transaction() {
    let mut s = SessionState::default();
    let g = meta(-1, "");
    let ticket = s.before_poll(&g).unwrap();
    // The first join completes inside the poll, which already returns records.
    s.on_rebalance(&[]);
    let g1 = meta(1, "m");
    let got = s.after_poll(
        ticket,
        &g1,
        [(&tp(2), 40), (&tp(2), 41), (&tp(3), 9)],
        now(),
    );
    assert_eq!(
        got,
        AfterPoll::Drop {
            abort: false,
            rewind: Rewind {
                partitions: vec![(tp(2), Some(40)), (tp(3), Some(9))]
            }
        }
    );
    assert_eq!(
        s.recovery().map(|r| r.abort),
        Some(false),
        "nothing to abort"
    );
}

#[test]
fn records_dropped_with_an_open_transaction_rewind_to_the_earliest_of_both() {
    let mut s = SessionState::default();
    let g = meta(1, "m");
    poll(&mut s, &g, &[(0, 20), (1, 7)]);
    let ticket = s.before_poll(&g).unwrap();
    s.on_rebalance(&[tp(1)]);
    let got = s.after_poll(ticket, &g, [(&tp(0), 21), (&tp(2), 3)], now());
    let AfterPoll::Drop { abort, rewind } = got else {
        panic!("{got:?}")
    };
    assert!(abort);
    assert_eq!(
        rewind.partitions,
        vec![(tp(0), Some(20)), (tp(1), Some(7)), (tp(2), Some(3))]
    );
}

#[test]
fn a_new_generation_without_a_callback_is_a_rebalance_too() {
    // A KIP-848 member's epoch can move without its assignment changing;
    // a classic member can be fenced and rejoin: no callback, new generation.
    let mut s = SessionState::default();
    poll(&mut s, &meta(7, "m"), &[(0, 1)]);
    assert_eq!(
        s.commit_plan(&meta(8, "m"), now()).unwrap(),
        CommitPlan::Abort(Rewind {
            partitions: vec![(tp(0), Some(1))]
        })
    );
    s.aborted();
    s.rewound();
    assert_eq!(
        s.commit_plan(&meta(8, "m"), now()).unwrap(),
        CommitPlan::Nothing
    );

    // A new member id (fenced, rejoined as another member) likewise.
    poll(&mut s, &meta(8, "m"), &[(0, 1)]);
    assert!(matches!(
        s.commit_plan(&meta(8, "m-2"), now()).unwrap(),
        CommitPlan::Abort(_)
    ));
    s.aborted();
    s.rewound();

    // And a poll that notices it drops its records.
    let g = meta(9, "m");
    poll(&mut s, &g, &[(0, 1)]);
    let ticket = s.before_poll(&g).unwrap();
    assert!(matches!(
        s.after_poll(ticket, &meta(10, "m"), [(&tp(0), 2)], now()),
        AfterPoll::Drop { abort: true, .. }
    ));
}

#[test]
fn a_rebalance_after_the_last_poll_aborts_the_commit() {
    let mut s = SessionState::default();
    let g = meta(2, "m");
    poll(&mut s, &g, &[(0, 5)]);
    s.on_rebalance(&[tp(0)]);
    // The generation is unchanged yet (the join is under way): the callback
    // alone is enough.
    assert_eq!(
        s.commit_plan(&g, now()).unwrap(),
        CommitPlan::Abort(Rewind {
            partitions: vec![(tp(0), Some(5))]
        })
    );
}

#[test]
fn a_rebalance_settled_by_a_commit_does_not_reach_the_next_rewind() {
    let mut s = SessionState::default();
    let g = meta(2, "m");
    // Partition 1 is lost while no transaction is open, then a poll is clean.
    s.on_rebalance(&[tp(1)]);
    s.on_rebalance(&[]);
    let g3 = meta(3, "m");
    poll(&mut s, &g3, &[(1, 8)]);
    commit_offsets(s.commit_plan(&g3, now()).unwrap());
    s.committed();
    poll(&mut s, &g3, &[(1, 9)]);
    assert_eq!(
        s.abort_plan().unwrap().partitions,
        vec![(tp(1), Some(9))],
        "partition 1 has been owned throughout this transaction"
    );
    let _ = g;
}

#[test]
fn a_commit_that_timed_out_is_resumed_not_replanned() {
    let mut s = SessionState::default();
    let g = meta(1, "m");
    poll(&mut s, &g, &[(0, 0)]);
    commit_offsets(s.commit_plan(&g, now()).unwrap());
    s.commit_pending();
    // Polling is refused until the commit ends; the commit cannot be aborted.
    let e = s.before_poll(&g).unwrap_err();
    assert!(
        matches!(e, Error::TransactionState { .. }),
        "poll during a pending commit: {e}"
    );
    assert!(s.abort_plan().is_none());
    // Even after a rebalance: the offsets went out with the old generation
    // and were accepted; only the commit's end is awaited.
    s.on_rebalance(&[tp(0)]);
    assert_eq!(
        s.commit_plan(&meta(2, "m"), now()).unwrap(),
        CommitPlan::Resume
    );
    assert_eq!(s.committed(), vec![(tp(0), 1)]);
    assert!(s.before_poll(&g).is_ok());
}

#[test]
fn abort_without_a_transaction_is_nothing() {
    let mut s = SessionState::default();
    assert!(s.abort_plan().is_none());
    assert!(s.recovery().is_none());
    assert_eq!(
        s.commit_plan(&meta(1, "m"), now()).unwrap(),
        CommitPlan::Nothing
    );
}

#[test]
fn a_requested_abort_rewinds_what_the_transaction_read() {
    let mut s = SessionState::default();
    let g = meta(1, "m");
    poll(&mut s, &g, &[(0, 3), (0, 4), (5, 0)]);
    let rewind = s.abort_plan().unwrap();
    assert_eq!(rewind.partitions, vec![(tp(0), Some(3)), (tp(5), Some(0))]);
    assert_eq!(
        s.recovery(),
        Some(Recovery {
            abort: true,
            rewind
        })
    );
    // An abort that failed (timed out) stays to do.
    assert!(s.before_poll(&g).is_err());
    s.aborted();
    s.rewound();
    assert_eq!(
        poll(&mut s, &g, &[(0, 3)]),
        AfterPoll::Deliver { begin: true }
    );
}

#[test]
fn opening_the_transaction_failed_leaves_none_and_rewinds_its_records() {
    let mut s = SessionState::default();
    let g = meta(1, "m");
    assert_eq!(
        poll(&mut s, &g, &[(0, 3)]),
        AfterPoll::Deliver { begin: true }
    );
    assert_eq!(s.begin_failed().partitions, vec![(tp(0), Some(3))]);
    assert_eq!(s.recovery().map(|r| r.abort), Some(false), "nothing began");
    s.rewound();
    assert_eq!(s.commit_plan(&g, now()).unwrap(), CommitPlan::Nothing);
}

#[test]
fn a_closed_session_refuses_everything() {
    let mut s = SessionState::default();
    let g = meta(1, "m");
    poll(&mut s, &g, &[(0, 3)]);
    assert!(s.close().is_some(), "the open transaction is reported");
    assert!(matches!(s.before_poll(&g), Err(Error::Closed(_))));
    assert!(matches!(s.commit_plan(&g, now()), Err(Error::Closed(_))));
}

#[test]
fn records_read_from_a_partition_given_back_are_read_again() {
    // The poll during which the partition was revoked and assigned again
    // returned its records from the new starting point: a rewind that left
    // them out (no committed offset) would lose them.
    let mut s = SessionState::default();
    let g = meta(1, "m");
    let ticket = s.before_poll(&g).unwrap();
    s.on_rebalance(&[tp(0)]);
    s.on_rebalance(&[]);
    let got = s.after_poll(ticket, &meta(2, "m"), [(&tp(0), 0), (&tp(0), 1)], now());
    let AfterPoll::Drop { rewind, .. } = got else {
        panic!("{got:?}")
    };
    assert_eq!(rewind.partitions, vec![(tp(0), Some(0))]);
}

#[test]
fn partitions_given_up_without_reads_are_looked_up_again_but_not_guessed() {
    let mut s = SessionState::default();
    let g = meta(1, "m");
    poll(&mut s, &g, &[(0, 4)]);
    s.on_rebalance(&[tp(0), tp(1)]);
    let CommitPlan::Abort(rewind) = s.commit_plan(&g, now()).unwrap() else {
        panic!()
    };
    assert_eq!(rewind.partitions, vec![(tp(0), Some(4)), (tp(1), None)]);
}

#[test]
fn a_transaction_open_for_transaction_timeout_ms_is_aborted_and_rewound_not_committed() {
    let timeout = Duration::from_secs(3);
    let g = meta(1, "m");
    let t0 = Instant::now();
    // Polls at t0 (which opens the transaction) and t0 + 2 s.
    let opened = |first_poll: Instant| {
        let mut s = SessionState::new(timeout);
        for (offset, at) in [(10, first_poll), (11, first_poll + Duration::from_secs(2))] {
            let ticket = s.before_poll(&g).unwrap();
            let got = s.after_poll(ticket, &g, [(&tp(0), offset)], at);
            assert!(matches!(got, AfterPoll::Deliver { .. }), "{got:?}");
        }
        s
    };
    // Just inside the timeout, counted from the first poll: committed.
    let mut s = opened(t0);
    let (offsets, _) = commit_offsets(s.commit_plan(&g, t0 + Duration::from_millis(2999)).unwrap());
    assert_eq!(offsets, vec![(tp(0), 12)]);
    // At the timeout: aborted, the records read again from the first.
    let mut s = opened(t0);
    let at = t0 + Duration::from_millis(3500);
    let plan = s.commit_plan(&g, at).unwrap();
    let CommitPlan::Expired {
        rewind,
        open_for,
        timeout: t,
    } = plan
    else {
        panic!("expected the transaction to expire, got {plan:?}")
    };
    assert_eq!((open_for, t), (Duration::from_millis(3500), timeout));
    assert_eq!(rewind.partitions, vec![(tp(0), Some(10))]);
    assert_eq!(
        s.recovery(),
        Some(Recovery {
            abort: true,
            rewind
        })
    );
    assert!(
        s.commit_plan(&g, at).is_err(),
        "no commit before the rewind"
    );
    s.aborted();
    s.rewound();
    // The next transaction's clock starts at its own first poll.
    let ticket = s.before_poll(&g).unwrap();
    s.after_poll(ticket, &g, [(&tp(0), 10)], at);
    let (offsets, _) = commit_offsets(s.commit_plan(&g, at + Duration::from_secs(2)).unwrap());
    assert_eq!(offsets, vec![(tp(0), 11)]);
    // Its message says what to do.
    let reason = AbortReason::TransactionTimeout { open_for, timeout };
    let msg = reason.to_string();
    assert!(
        msg.contains("transaction.timeout.ms (3s)") && msg.contains("commit more often"),
        "{msg}"
    );
}
