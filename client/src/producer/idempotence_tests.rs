//! Tests of the idempotence machine, without sockets: every rule of the
//! module docs, driven by hand.

use super::*;

const P: ProducerId = ProducerId { id: 7, epoch: 0 };

fn cfg(enabled: bool) -> IdempotenceConfig {
    IdempotenceConfig {
        enabled,
        max_in_flight: 5,
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(1000),
        transactional: false,
    }
}

fn ready() -> Idempotence {
    let mut m = Idempotence::new(cfg(true));
    assert_eq!(m.on_producer_id(Ok(P)), InitOutcome::Ready(P));
    m
}

/// Gates, assigns and sends one batch of `records` records to `broker`;
/// returns its facts (retries allowed).
fn send(m: &mut Idempotence, ps: &mut PartitionState, records: i32, broker: i32) -> BatchFacts {
    assert_ne!(m.gate(ps), Gate::Blocked, "the partition may not send");
    assert!(m.may_send_to(ps, broker));
    let fields = m.assign(ps, records);
    m.on_sent(ps, broker);
    BatchFacts {
        base_sequence: fields.map(|f| f.base_sequence),
        producer: fields.map(|f| ProducerId {
            id: f.producer_id,
            epoch: f.producer_epoch,
        }),
        may_retry: true,
    }
}

/// Sends `batch` again (a retry: same sequence, no new one assigned).
fn resend(m: &mut Idempotence, ps: &mut PartitionState, broker: i32) {
    assert_ne!(m.gate(ps), Gate::Blocked, "the retry may not go");
    assert!(m.may_send_to(ps, broker));
    m.on_sent(ps, broker);
}

fn kafka(code: ErrorCode) -> Response<'static> {
    Response::Kafka(code)
}

#[test]
fn nothing_is_sent_without_a_producer_id_then_sequences_count_records() {
    let mut m = Idempotence::new(cfg(true));
    let mut ps = PartitionState::default();
    assert!(!m.can_send());
    assert!(m.needs_producer_id());
    assert_eq!(
        m.init_request(),
        None,
        "the first InitProducerId names no id"
    );
    assert_eq!(m.assign(&mut ps, 3), None);
    m.on_producer_id(Ok(P));
    assert!(m.can_send() && !m.needs_producer_id());
    assert_eq!(m.gate(&mut ps), Gate::Restarted(P));
    let a = m.assign(&mut ps, 3).unwrap();
    let b = m.assign(&mut ps, 4).unwrap();
    assert_eq!(
        (a.producer_id, a.producer_epoch, a.base_sequence),
        (7, 0, 0)
    );
    assert_eq!(b.base_sequence, 3);
    assert!(!a.transactional);
}

#[test]
fn one_batch_in_flight_until_the_leader_acknowledged_one_under_this_epoch() {
    let mut m = ready();
    let mut ps = PartitionState::default();
    let first = send(&mut m, &mut ps, 1, 1);
    assert_eq!(m.gate(&mut ps), Gate::Blocked, "pipelined before an ack");
    let d = m.on_response(&mut ps, first, Response::Written);
    assert_eq!(d.verdict, Verdict::Delivered);
    for _ in 0..5 {
        send(&mut m, &mut ps, 1, 1);
    }
    assert_eq!(m.gate(&mut ps), Gate::Blocked, "more than max.in.flight");
    assert_eq!(ps.in_flight(), 5);
    assert_eq!(m.in_flight(), 5);
}

#[test]
fn an_ack_under_an_older_epoch_confirms_nothing() {
    let mut m = ready();
    let mut a = PartitionState::default();
    let mut b = PartitionState::default();
    let old = send(&mut m, &mut a, 1, 1);
    let lost = send(&mut m, &mut b, 1, 1);
    let d = m.on_response(&mut b, lost, kafka(ErrorCode::UNKNOWN_PRODUCER_ID));
    assert!(d.bumped_epoch);
    m.on_response(&mut a, old, Response::Written);
    assert_eq!(
        m.gate(&mut a),
        Gate::Restarted(ProducerId { id: 7, epoch: 1 })
    );
    send(&mut m, &mut a, 1, 1);
    assert_eq!(
        m.gate(&mut a),
        Gate::Blocked,
        "the new epoch waits for its own first ack"
    );
}

#[test]
fn after_a_leader_change_nothing_goes_to_the_new_leader_while_the_old_one_has_batches() {
    let mut m = Idempotence::new(cfg(false));
    let mut ps = PartitionState::default();
    let a = send(&mut m, &mut ps, 1, 1);
    assert_eq!(m.gate(&mut ps), Gate::Open);
    assert!(!m.may_send_to(&ps, 2));
    assert!(m.may_send_to(&ps, 1));
    m.on_response(&mut ps, a, Response::Written);
    assert!(m.may_send_to(&ps, 2), "nothing in flight: any leader");
}

#[test]
fn a_retry_blocks_the_partition_until_its_batches_are_back_then_goes_alone() {
    let mut m = ready();
    let mut ps = PartitionState::default();
    let first = send(&mut m, &mut ps, 1, 1);
    m.on_response(&mut ps, first, Response::Written);
    let b0 = send(&mut m, &mut ps, 1, 1);
    let b1 = send(&mut m, &mut ps, 1, 1);
    let d = m.on_response(&mut ps, b0, kafka(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    assert_eq!(d.verdict, Verdict::Retry);
    assert!(d.refresh_metadata && !d.bumped_epoch && !d.possibly_written);
    assert_eq!(
        m.gate(&mut ps),
        Gate::Blocked,
        "sent beside a batch in flight"
    );
    // b1 was written by a broker that checks no sequences: that is no
    // acknowledgement of our sequence, since b0 failed before it. The retry
    // goes alone, and pipelining resumes only after it succeeds.
    m.on_response(&mut ps, b1, Response::Written);
    resend(&mut m, &mut ps, 1);
    assert_eq!(
        m.gate(&mut ps),
        Gate::Blocked,
        "one at a time after a failure"
    );
    m.on_response(&mut ps, b0, Response::Written);
    send(&mut m, &mut ps, 1, 1);
    assert_eq!(m.gate(&mut ps), Gate::Open, "confirmed again: pipelining");
}

#[test]
fn out_of_order_behind_an_earlier_failed_batch_is_its_consequence_not_a_lost_sequence() {
    let mut m = ready();
    let mut ps = PartitionState::default();
    let first = send(&mut m, &mut ps, 1, 1);
    m.on_response(&mut ps, first, Response::Written);
    let b0 = send(&mut m, &mut ps, 2, 1);
    let b1 = send(&mut m, &mut ps, 2, 1);
    m.on_response(&mut ps, b0, kafka(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let d = m.on_response(&mut ps, b1, kafka(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!((d.verdict, d.bumped_epoch), (Verdict::Retry, false));
    assert_eq!(m.producer(), Some(P));
    // With nothing earlier outstanding, the same error means the broker
    // lost our sequence: bump (the accumulator renumbers and resends).
    resend(&mut m, &mut ps, 1);
    let d = m.on_response(&mut ps, b0, kafka(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!((d.verdict, d.bumped_epoch), (Verdict::Retry, true));
    assert_eq!(m.producer(), Some(ProducerId { id: 7, epoch: 1 }));
}

#[test]
fn unknown_producer_id_and_invalid_epoch_bump_the_epoch_and_retry() {
    for code in [
        ErrorCode::UNKNOWN_PRODUCER_ID,
        ErrorCode::INVALID_PRODUCER_EPOCH,
    ] {
        let mut m = ready();
        let mut ps = PartitionState::default();
        let b = send(&mut m, &mut ps, 1, 1);
        let d = m.on_response(&mut ps, b, kafka(code));
        assert_eq!(
            (d.verdict, d.bumped_epoch),
            (Verdict::Retry, true),
            "{code:?}"
        );
        assert_eq!(m.epoch_bumps(), 1);
        // Bumped here: no InitProducerId round trip (KIP-360).
        assert!(!m.needs_producer_id() && m.can_send());
        assert_eq!(
            m.gate(&mut ps),
            Gate::Restarted(ProducerId { id: 7, epoch: 1 })
        );
        assert_eq!(m.assign(&mut ps, 1).unwrap().base_sequence, 0);
    }
}

#[test]
fn an_epoch_bump_restarts_each_partition_once_its_old_batches_are_back() {
    let mut m = ready();
    let (mut p0, mut p1, mut p2) = Default::default();
    let a = send(&mut m, &mut p0, 1, 1);
    let _hangs = send(&mut m, &mut p1, 1, 2);
    m.gate(&mut p2);
    m.on_response(&mut p0, a, kafka(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    let bumped = ProducerId { id: 7, epoch: 1 };
    assert_eq!(m.gate(&mut p0), Gate::Restarted(bumped));
    assert_eq!(
        m.gate(&mut p2),
        Gate::Restarted(bumped),
        "an idle partition is not stalled"
    );
    assert_eq!(
        m.gate(&mut p1),
        Gate::Blocked,
        "switched with a batch in flight"
    );
    assert_eq!(m.assign(&mut p2, 1).unwrap().producer_epoch, 1);
}

#[test]
fn a_sequenced_batch_that_fails_for_good_bumps_the_epoch_once() {
    let mut m = ready();
    let mut ps = PartitionState::default();
    let b = send(&mut m, &mut ps, 1, 1);
    let d = m.on_response(&mut ps, b, kafka(ErrorCode::MESSAGE_TOO_LARGE));
    assert_eq!((d.verdict, d.bumped_epoch), (Verdict::Fail, true));
    // Out of retries while the sequence was lost: one bump, not two.
    let mut ps = PartitionState::default();
    let b = BatchFacts {
        may_retry: false,
        ..send(&mut m, &mut ps, 1, 1)
    };
    let before = m.epoch_bumps();
    let d = m.on_response(&mut ps, b, kafka(ErrorCode::UNKNOWN_PRODUCER_ID));
    assert_eq!((d.verdict, d.bumped_epoch), (Verdict::Fail, true));
    assert_eq!(m.epoch_bumps(), before + 1);
}

#[test]
fn a_duplicate_sequence_is_a_delivery() {
    let mut m = ready();
    let mut ps = PartitionState::default();
    let b = send(&mut m, &mut ps, 1, 1);
    let d = m.on_response(&mut ps, b, kafka(ErrorCode::DUPLICATE_SEQUENCE_NUMBER));
    assert_eq!(d.verdict, Verdict::Delivered);
    assert_eq!(m.epoch_bumps(), 0);
}

#[test]
fn what_may_be_in_the_log() {
    let mut m = ready();
    let mut ps = PartitionState::default();
    for code in [
        ErrorCode::REQUEST_TIMED_OUT,
        ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ] {
        let b = send(&mut m, &mut ps, 1, 1);
        let d = m.on_response(&mut ps, b, kafka(code));
        assert!(d.possibly_written, "{code:?}");
        assert_eq!(d.verdict, Verdict::Retry);
    }
    let timeout = Error::RequestTimeout {
        broker: "b1".into(),
        api: "Produce",
        timeout: Duration::from_secs(30),
    };
    let refused = Error::Connect {
        broker: "b1".into(),
        reason: "connection refused".into(),
    };
    let b = send(&mut m, &mut ps, 1, 1);
    assert!(
        m.on_response(&mut ps, b, Response::Failed(&timeout))
            .possibly_written
    );
    let b = send(&mut m, &mut ps, 1, 1);
    let d = m.on_response(&mut ps, b, Response::Failed(&refused));
    assert!(!d.possibly_written, "a refused connection sent nothing");
    assert!(d.refresh_metadata);
}

#[test]
fn an_undecodable_answer_is_retried_only_with_idempotence() {
    let garbled = Error::Decode {
        broker: "b1".into(),
        api: "Produce",
        version: 12,
        source: purekafka_protocol::DecodeError::new(
            purekafka_protocol::DecodeErrorKind::NegativeLength(-7),
        ),
    };
    for (enabled, verdict) in [(true, Verdict::Retry), (false, Verdict::Fail)] {
        let mut m = Idempotence::new(cfg(enabled));
        m.on_producer_id(Ok(P));
        let mut ps = PartitionState::default();
        let b = send(&mut m, &mut ps, 1, 1);
        let d = m.on_response(&mut ps, b, Response::Failed(&garbled));
        assert_eq!(d.verdict, verdict, "idempotence {enabled}");
        assert!(d.possibly_written);
    }
}

#[test]
fn without_idempotence_nothing_is_sequenced_and_the_limit_is_the_configured_one() {
    let mut m = Idempotence::new(cfg(false));
    let mut ps = PartitionState::default();
    assert!(m.can_send() && !m.needs_producer_id());
    for _ in 0..5 {
        let b = send(&mut m, &mut ps, 1, 1);
        assert_eq!(b.base_sequence, None);
    }
    assert_eq!(m.gate(&mut ps), Gate::Blocked);
    // A failure neither sequences nor serialises the partition.
    let b = BatchFacts {
        base_sequence: None,
        producer: None,
        may_retry: true,
    };
    let d = m.on_response(&mut ps, b, kafka(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert_eq!((d.verdict, d.bumped_epoch), (Verdict::Fail, false));
    assert_eq!(m.gate(&mut ps), Gate::Open);
}

#[test]
fn at_the_last_epoch_a_new_producer_id_is_asked_for_once_nothing_is_in_flight() {
    let last = ProducerId {
        id: 7,
        epoch: i16::MAX,
    };
    let mut m = Idempotence::new(cfg(true));
    m.on_producer_id(Ok(last));
    let (mut p0, mut p1) = Default::default();
    let a = send(&mut m, &mut p0, 1, 1);
    let b = send(&mut m, &mut p1, 1, 1);
    let d = m.on_response(&mut p0, a, kafka(ErrorCode::UNKNOWN_PRODUCER_ID));
    assert!(d.bumped_epoch);
    assert_eq!(m.state(), ProducerIdState::NeedsNewId(last));
    assert!(!m.can_send(), "sent with an exhausted epoch");
    assert!(!m.needs_producer_id(), "asked while a batch is in flight");
    m.on_response(&mut p1, b, Response::Written);
    assert!(m.needs_producer_id());
    assert_eq!(
        m.init_request(),
        Some(last),
        "KIP-360: name the old id and epoch"
    );
    let new = ProducerId { id: 8, epoch: 0 };
    m.on_producer_id(Ok(new));
    assert_eq!(m.gate(&mut p0), Gate::Restarted(new));
}

#[test]
fn init_producer_id_failures_back_off_and_a_refusal_fails_what_waits() {
    let mut m = Idempotence::new(cfg(true));
    let busy = Error::kafka(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, "InitProducerId");
    assert!(busy.is_retriable());
    let waits: Vec<_> = (0..6)
        .map(|_| match m.on_producer_id(Err(&busy)) {
            InitOutcome::RetryAfter(d) => d.as_millis(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
    let denied = Error::kafka(ErrorCode::CLUSTER_AUTHORIZATION_FAILED, "InitProducerId");
    assert_eq!(
        m.on_producer_id(Err(&denied)),
        InitOutcome::FailQueued {
            retry_after: Duration::from_millis(1000)
        }
    );
    assert!(m.needs_producer_id(), "the next records try again");
    m.on_producer_id(Ok(P));
    // A success starts the backoff again from retry.backoff.ms (for the
    // next time a new id is needed).
    assert_eq!(
        m.on_producer_id(Err(&busy)),
        InitOutcome::RetryAfter(Duration::from_millis(100))
    );
}

#[test]
fn expired_sequenced_batches_leave_a_gap_that_bumps_the_epoch() {
    let mut m = ready();
    let mut ps = PartitionState::default();
    let b = send(&mut m, &mut ps, 1, 1);
    m.on_response(&mut ps, b, kafka(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    m.forget(&mut ps, b.base_sequence, false);
    m.sequence_gap();
    assert_eq!(m.producer(), Some(ProducerId { id: 7, epoch: 1 }));
    assert_eq!(
        m.gate(&mut ps),
        Gate::Restarted(ProducerId { id: 7, epoch: 1 })
    );
    // A batch abandoned in flight (close) no longer counts.
    send(&mut m, &mut ps, 1, 1);
    m.forget(&mut ps, Some(0), true);
    assert_eq!((ps.in_flight(), m.in_flight()), (0, 0));
}

#[test]
fn sequence_arithmetic_wraps() {
    assert_eq!(wrap_seq(i32::MAX - 1, 3), 1);
    assert_eq!(wrap_seq(5, 2), 7);
    assert!(seq_before(i32::MAX - 1, 1));
    assert!(seq_before(1, 2));
    assert!(!seq_before(2, 1));
    assert!(!seq_before(3, 3));
}

#[test]
fn a_transactional_producer_never_bumps_locally_and_fails_a_batch_whose_sequence_was_lost() {
    let mut m = Idempotence::new(IdempotenceConfig {
        transactional: true,
        ..cfg(true)
    });
    assert!(
        !m.needs_producer_id(),
        "the transaction machine gets the producer id"
    );
    assert!(!m.can_send(), "nothing is sent before init_transactions");
    m.on_producer_id(Ok(P));
    let mut ps = PartitionState::default();
    assert_eq!(m.gate(&mut ps), Gate::Restarted(P));
    let f = m.assign(&mut ps, 3).unwrap();
    assert!(f.transactional, "transactional batches carry the bit");
    m.on_sent(&mut ps, 1);
    let d = m.on_response(
        &mut ps,
        BatchFacts {
            base_sequence: Some(0),
            producer: Some(P),
            may_retry: true,
        },
        Response::Kafka(ErrorCode::INVALID_PRODUCER_EPOCH),
    );
    assert_eq!(d.verdict, Verdict::Fail);
    assert_eq!(
        m.producer(),
        Some(P),
        "no local epoch bump in a transaction"
    );
    assert!(!m.needs_producer_id());
}
