//! Tests of the transaction machine, without sockets: every transition of
//! the module docs, the error classes and the misuse errors, driven by hand.

use super::*;
use purekafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use purekafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};

const TXID: &str = "tx-1";
const NODE: i32 = 3;

fn cfg() -> TxnConfig {
    TxnConfig {
        transactional_id: TXID.into(),
        transaction_timeout: Duration::from_secs(60),
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(1000),
    }
}

fn pid_ok(id: i64, epoch: i16) -> Result<TxnResponse, Error> {
    Ok(TxnResponse::InitProducerId(InitProducerIdResponse {
        producer_id: id,
        producer_epoch: epoch,
        ..Default::default()
    }))
}

fn coordinator(version: TxnVersion) -> Result<TxnResponse, Error> {
    Ok(TxnResponse::Coordinator {
        node: NODE,
        version,
    })
}

fn send(m: &mut Transaction, now: Instant) -> (Target, TxnRequest) {
    match m.next(now) {
        Action::Send { target, request } => (target, request),
        other => panic!("expected a request, got {other:?} in {}", m.state().name()),
    }
}

/// EndTxn's answer; under v2 a success names the (new) producer id and epoch.
fn end_txn(code: ErrorCode, producer: Option<(i64, i16)>) -> Result<TxnResponse, Error> {
    let (producer_id, producer_epoch) = producer.unwrap_or((-1, -1));
    Ok(TxnResponse::EndTxn(EndTxnResponse {
        error_code: code.0,
        producer_id,
        producer_epoch,
        ..Default::default()
    }))
}

/// A group coordinator FindCoordinator found.
fn group_coordinator(node: i32) -> Result<TxnResponse, Error> {
    Ok(TxnResponse::Coordinator {
        node,
        version: TxnVersion::V1,
    })
}

/// Opens a transaction that sends a batch, then [`end`]s it.
fn end_transaction(m: &mut Transaction, now: Instant, commit: bool) -> (Ticket, EndTxnRequest) {
    m.begin().unwrap();
    m.on_produce_sent();
    end(m, now, commit)
}

/// Commits or aborts the open transaction (the flush done): its ticket and
/// the EndTxn it sends.
fn end(m: &mut Transaction, now: Instant, commit: bool) -> (Ticket, EndTxnRequest) {
    let t = if commit {
        m.start_commit()
    } else {
        m.start_abort()
    };
    let t = t.unwrap();
    m.on_flushed(t, None);
    match send(m, now) {
        (Target::TxnCoordinator(NODE), TxnRequest::EndTxn(r)) => (t, r),
        other => panic!("expected EndTxn to the coordinator, got {other:?}"),
    }
}

fn kafka(code: ErrorCode, api: &'static str) -> Error {
    Error::kafka(code, api)
}

/// A machine in init_transactions, on `version`, its InitProducerId in
/// flight: the machine, init's ticket, now.
fn initializing(version: TxnVersion) -> (Transaction, Ticket, Instant) {
    let now = Instant::now();
    let mut m = Transaction::new(cfg());
    let t = m.start_init().unwrap();
    assert_eq!(m.state().name(), "Initializing");
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::AnyBroker);
    assert_eq!(
        req,
        TxnRequest::FindCoordinator {
            kind: CoordinatorType::Transaction,
            key: TXID.into()
        }
    );
    m.on_response(now, coordinator(version));
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::TxnCoordinator(NODE));
    let TxnRequest::InitProducerId(r) = req else {
        panic!("{req:?}")
    };
    assert_eq!(r.transactional_id.as_deref(), Some(TXID));
    assert_eq!(r.transaction_timeout_ms, 60_000);
    assert_eq!((r.producer_id, r.producer_epoch), (-1, -1));
    assert!(m.result(t).is_none());
    (m, t, now)
}

/// A machine through init_transactions, on `version`, with producer 7 epoch 0.
fn ready(version: TxnVersion) -> (Transaction, Instant) {
    let (mut m, t, now) = initializing(version);
    m.on_response(now, pid_ok(7, 0));
    assert!(matches!(m.result(t), Some(Ok(()))));
    assert_eq!(m.state().name(), "Ready");
    assert_eq!(m.take_new_producer(), Some(ProducerId { id: 7, epoch: 0 }));
    assert_eq!(m.version(), version);
    assert_eq!(m.next(now), Action::Idle);
    (m, now)
}

fn state_error(r: Result<impl std::fmt::Debug, Error>) -> (&'static str, &'static str) {
    match r {
        Err(Error::TransactionState {
            operation, state, ..
        }) => (operation, state),
        other => panic!("expected a state error, got {other:?}"),
    }
}

fn fatal_code(r: Result<impl std::fmt::Debug, Error>) -> ErrorCode {
    match r {
        Err(Error::TransactionFatal {
            transactional_id,
            cause,
        }) => {
            assert_eq!(transactional_id, TXID);
            cause.code().unwrap_or(ErrorCode::UNKNOWN_SERVER_ERROR)
        }
        other => panic!("expected a fatal error, got {other:?}"),
    }
}

fn is_abortable(r: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(r, Err(Error::TransactionAbortable { transactional_id, .. }) if transactional_id == TXID)
}

#[test]
fn init_finds_the_coordinator_and_gets_a_producer_id() {
    let (m, _) = ready(TxnVersion::V1);
    assert_eq!(m.producer(), Some(ProducerId { id: 7, epoch: 0 }));
    assert_eq!(m.max_produce_version(), 11, "v1 caps Produce below v12");
    let (m, _) = ready(TxnVersion::V2);
    assert_eq!(m.max_produce_version(), i16::MAX);
}

#[test]
fn init_retries_coordinator_errors_with_backoff_and_looks_the_coordinator_up_again() {
    let now = Instant::now();
    let mut m = Transaction::new(cfg());
    let t = m.start_init().unwrap();
    // The bootstrap broker is unreachable: retried after retry.backoff.ms.
    send(&mut m, now);
    m.on_response(
        now,
        Err(Error::BootstrapUnreachable {
            servers: "x:1".into(),
            last_error: "refused".into(),
        }),
    );
    assert_eq!(m.next(now), Action::Wait(now + Duration::from_millis(100)));
    let (wait, last) = m.describe_wait(t);
    assert!(wait.contains("FindCoordinator"), "{wait}");
    assert!(last.unwrap().contains("refused"));
    let now = now + Duration::from_millis(100);
    send(&mut m, now);
    m.on_response(now, coordinator(TxnVersion::V2));
    // Loading: retried at the same coordinator, the backoff doubled.
    send(&mut m, now);
    m.on_response(now, pid_err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
    assert_eq!(m.next(now), Action::Wait(now + Duration::from_millis(200)));
    let now = now + Duration::from_millis(200);
    let (target, _) = send(&mut m, now);
    assert_eq!(target, Target::TxnCoordinator(NODE));
    // CONCURRENT_TRANSACTIONS (the previous producer's transaction is being
    // ended): retried soon.
    m.on_response(now, pid_err(ErrorCode::CONCURRENT_TRANSACTIONS));
    assert_eq!(m.next(now), Action::Wait(now + Duration::from_millis(20)));
    let now = now + Duration::from_millis(20);
    send(&mut m, now);
    // The coordinator moved: look it up again.
    m.on_response(now, pid_err(ErrorCode::NOT_COORDINATOR));
    let now = now + Duration::from_secs(1);
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::AnyBroker);
    assert!(matches!(req, TxnRequest::FindCoordinator { .. }));
    m.on_response(now, coordinator(TxnVersion::V2));
    send(&mut m, now);
    m.on_response(now, pid_ok(9, 4));
    assert!(matches!(m.result(t), Some(Ok(()))));
    // A call retried after its timeout joins the same operation.
    assert_eq!(
        state_error(m.start_init()),
        ("init_transactions", "Ready"),
        "init_transactions twice"
    );
}

fn pid_err(code: ErrorCode) -> Result<TxnResponse, Error> {
    Ok(TxnResponse::InitProducerId(InitProducerIdResponse {
        error_code: code.0,
        ..Default::default()
    }))
}

#[test]
fn init_called_again_while_it_runs_joins_the_running_call() {
    let mut m = Transaction::new(cfg());
    let t = m.start_init().unwrap();
    assert_eq!(m.start_init().unwrap(), t);
}

#[test]
fn a_denied_transactional_id_is_fatal_and_every_later_call_fails_with_it() {
    let (mut m, t, now) = initializing(TxnVersion::V2);
    m.on_response(
        now,
        pid_err(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
    );
    assert_eq!(m.state().name(), "FatalError");
    let r = m.result(t).unwrap();
    assert_eq!(
        fatal_code(r.clone()),
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    );
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains(TXID) && msg.contains("TRANSACTIONAL_ID_AUTHORIZATION_FAILED"),
        "{msg}"
    );
    for code in [
        fatal_code(m.begin()),
        fatal_code(m.check_send("t", 0)),
        fatal_code(m.start_commit()),
        fatal_code(m.start_abort()),
        fatal_code(m.start_init()),
        fatal_code(m.start_send_offsets(ConsumerGroupMetadata::new("g"), Vec::new())),
    ] {
        assert_eq!(code, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    assert_eq!(m.next(now), Action::Idle, "a fatal producer sends nothing");
}

#[test]
fn misuse_is_a_typed_error_naming_the_state() {
    let mut m = Transaction::new(cfg());
    assert_eq!(
        state_error(m.begin()),
        ("begin_transaction", "Uninitialized")
    );
    assert_eq!(state_error(m.check_send("t", 0)), ("send", "Uninitialized"));
    assert_eq!(
        state_error(m.start_commit()),
        ("commit_transaction", "Uninitialized")
    );
    assert_eq!(
        state_error(m.start_abort()),
        ("abort_transaction", "Uninitialized")
    );
    m.start_init().unwrap();
    assert_eq!(
        state_error(m.begin()),
        ("begin_transaction", "Initializing")
    );

    let (mut m, _) = ready(TxnVersion::V2);
    assert_eq!(state_error(m.check_send("t", 0)), ("send", "Ready"));
    assert_eq!(
        state_error(m.start_commit()),
        ("commit_transaction", "Ready")
    );
    assert_eq!(state_error(m.start_abort()), ("abort_transaction", "Ready"));
    assert_eq!(
        state_error(m.start_send_offsets(ConsumerGroupMetadata::new("g"), Vec::new())),
        ("send_offsets_to_transaction", "Ready")
    );
    m.begin().unwrap();
    let e = m.begin().unwrap_err();
    assert!(e.to_string().contains("InTransaction"), "{e}");
    assert_eq!(
        state_error(Err::<(), _>(e)),
        ("begin_transaction", "InTransaction")
    );

    // A commit running: no abort, no send, no second transaction.
    m.check_send("t", 0).unwrap();
    m.on_produce_sent();
    let commit = m.start_commit().unwrap();
    assert!(commit.needs_flush);
    assert_eq!(
        m.start_commit().unwrap(),
        commit,
        "commit again joins the running one"
    );
    assert_eq!(
        state_error(m.start_abort()),
        ("abort_transaction", "Committing")
    );
    assert_eq!(state_error(m.check_send("t", 0)), ("send", "Committing"));
    assert_eq!(state_error(m.begin()), ("begin_transaction", "Committing"));

    // An abort running: no commit.
    let (mut m, _) = ready(TxnVersion::V2);
    m.begin().unwrap();
    let abort = m.start_abort().unwrap();
    assert_eq!(m.start_abort().unwrap(), abort);
    assert_eq!(
        state_error(m.start_commit()),
        ("commit_transaction", "Aborting")
    );
    assert_eq!(state_error(m.check_send("t", 0)), ("send", "Aborting"));
}

#[test]
fn v1_adds_each_new_partition_before_its_batches_and_commits_with_end_txn() {
    let (mut m, now) = ready(TxnVersion::V1);
    m.begin().unwrap();
    assert_eq!(m.state().name(), "InTransaction");
    m.check_send("t", 0).unwrap();
    m.check_send("t", 0).unwrap();
    m.check_send("u", 2).unwrap();
    assert!(m.has_pending_partitions());
    assert!(
        !m.partition_sendable("t", 0),
        "sent before AddPartitionsToTxn"
    );
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::TxnCoordinator(NODE));
    let TxnRequest::AddPartitions(r) = req else {
        panic!("{req:?}")
    };
    assert_eq!(r.v3_and_below_transactional_id, TXID);
    assert_eq!(
        (r.v3_and_below_producer_id, r.v3_and_below_producer_epoch),
        (7, 0)
    );
    let topics: Vec<(String, Vec<i32>)> = r
        .v3_and_below_topics
        .iter()
        .map(|t| (t.name.clone(), t.partitions.clone()))
        .collect();
    assert_eq!(topics, [("t".into(), vec![0]), ("u".into(), vec![2])]);
    assert_eq!(m.next(now), Action::Idle, "one request at a time");
    // A partition that comes while the add is in flight is added next.
    m.check_send("t", 1).unwrap();
    m.on_response(now, add_partitions(&[("t", 0, 0), ("u", 2, 0)]));
    assert!(m.partition_sendable("t", 0) && m.partition_sendable("u", 2));
    assert!(!m.partition_sendable("t", 1));
    let (_, req) = send(&mut m, now);
    assert!(matches!(req, TxnRequest::AddPartitions(_)));
    m.on_response(now, add_partitions(&[("t", 1, 0)]));
    // An added partition is not added again.
    m.check_send("t", 0).unwrap();
    assert!(!m.has_pending_partitions());

    let t = m.start_commit().unwrap();
    assert_eq!(m.next(now), Action::Idle, "EndTxn waits for the flush");
    m.on_flushed(t, None);
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::TxnCoordinator(NODE));
    assert_eq!(
        req,
        TxnRequest::EndTxn(EndTxnRequest {
            transactional_id: TXID.into(),
            producer_id: 7,
            producer_epoch: 0,
            committed: true,
            ..Default::default()
        })
    );
    m.on_response(now, end_txn(ErrorCode::NONE, None));
    assert!(matches!(m.result(t), Some(Ok(()))));
    assert_eq!(m.state().name(), "Ready");
    assert_eq!(m.take_new_producer(), None, "v1 keeps the epoch");
    // The next transaction adds its partitions again.
    m.begin().unwrap();
    m.check_send("t", 0).unwrap();
    assert!(!m.partition_sendable("t", 0));
}

fn add_partitions(results: &[(&str, i32, i16)]) -> Result<TxnResponse, Error> {
    let mut topics: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for (t, p, code) in results {
        let r = AddPartitionsToTxnPartitionResult {
            partition_index: *p,
            partition_error_code: *code,
            ..Default::default()
        };
        match topics.iter_mut().find(|x| x.name == *t) {
            Some(x) => x.results_by_partition.push(r),
            None => topics.push(AddPartitionsToTxnTopicResult {
                name: (*t).into(),
                results_by_partition: vec![r],
                ..Default::default()
            }),
        }
    }
    Ok(TxnResponse::AddPartitions(AddPartitionsToTxnResponse {
        results_by_topic_v3_and_below: topics,
        ..Default::default()
    }))
}

#[test]
fn add_partitions_errors_retry_abort_or_fence() {
    // CONCURRENT_TRANSACTIONS: asked again soon.
    let (mut m, now) = ready(TxnVersion::V1);
    m.begin().unwrap();
    m.check_send("t", 0).unwrap();
    send(&mut m, now);
    m.on_response(
        now,
        add_partitions(&[("t", 0, ErrorCode::CONCURRENT_TRANSACTIONS.0)]),
    );
    assert_eq!(m.next(now), Action::Wait(now + Duration::from_millis(20)));
    let (_, req) = send(&mut m, now + Duration::from_millis(20));
    assert!(matches!(req, TxnRequest::AddPartitions(_)));
    // A connection failure: the coordinator is looked up again, the partition kept.
    m.on_response(now, Err(Error::Disconnected { broker: "b".into() }));
    let (_, req) = send(&mut m, now + Duration::from_secs(1));
    assert!(matches!(req, TxnRequest::FindCoordinator { .. }));
    m.on_response(now, coordinator(TxnVersion::V1));
    let (_, req) = send(&mut m, now + Duration::from_secs(1));
    assert!(matches!(req, TxnRequest::AddPartitions(_)));

    // A denied topic: abortable, naming it; the other partition of the
    // request (OPERATION_NOT_ATTEMPTED) is not the cause.
    let (mut m, now) = ready(TxnVersion::V1);
    m.begin().unwrap();
    m.check_send("ok", 0).unwrap();
    m.check_send("secret", 1).unwrap();
    send(&mut m, now);
    m.on_response(
        now,
        add_partitions(&[
            ("ok", 0, ErrorCode::OPERATION_NOT_ATTEMPTED.0),
            ("secret", 1, ErrorCode::TOPIC_AUTHORIZATION_FAILED.0),
        ]),
    );
    assert_eq!(m.state().name(), "AbortableError");
    let fail = m.take_fail_queued().unwrap();
    assert!(matches!(&fail, Error::TransactionAbortable { .. }));
    let r = m.start_commit();
    assert!(is_abortable(&r), "{r:?}");
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("secret-1") && msg.contains("TOPIC_AUTHORIZATION_FAILED"),
        "{msg}"
    );
    assert!(msg.contains("abort_transaction"), "says what to do: {msg}");
    assert!(is_abortable(&m.check_send("ok", 0)));
    assert!(is_abortable(&m.begin()));

    // Fenced: fatal.
    let (mut m, now) = ready(TxnVersion::V1);
    m.begin().unwrap();
    m.check_send("t", 0).unwrap();
    send(&mut m, now);
    m.on_response(
        now,
        add_partitions(&[("t", 0, ErrorCode::PRODUCER_FENCED.0)]),
    );
    assert_eq!(fatal_code(m.start_commit()), ErrorCode::PRODUCER_FENCED);
    assert!(m.take_fail_queued().is_some(), "queued batches fail");
}

#[test]
fn v2_sends_at_once_and_takes_a_new_epoch_from_every_end_txn() {
    let (mut m, now) = ready(TxnVersion::V2);
    m.begin().unwrap();
    m.check_send("t", 0).unwrap();
    assert!(
        m.partition_sendable("t", 0),
        "v2 adds partitions implicitly"
    );
    assert!(!m.has_pending_partitions());
    m.on_produce_sent();
    let t = m.start_commit().unwrap();
    m.on_flushed(t, None);
    let (_, req) = send(&mut m, now);
    assert!(matches!(&req, TxnRequest::EndTxn(r) if r.committed && r.producer_epoch == 0));
    m.on_response(now, end_txn(ErrorCode::NONE, Some((7, 1))));
    assert!(matches!(m.result(t), Some(Ok(()))));
    assert_eq!(m.take_new_producer(), Some(ProducerId { id: 7, epoch: 1 }));
    // The next transaction ends under the new epoch.
    let (t, r) = end_transaction(&mut m, now, false);
    assert_eq!((r.committed, r.producer_epoch), (false, 1));
    // At the last epoch the coordinator hands out a new id.
    m.on_response(now, end_txn(ErrorCode::NONE, Some((8, 0))));
    assert!(matches!(m.result(t), Some(Ok(()))));
    assert_eq!(m.take_new_producer(), Some(ProducerId { id: 8, epoch: 0 }));
}

#[test]
fn a_transaction_that_reached_no_broker_ends_without_end_txn() {
    for version in [TxnVersion::V1, TxnVersion::V2] {
        let (mut m, now) = ready(version);
        m.begin().unwrap();
        let t = m.start_commit().unwrap();
        m.on_flushed(t, None);
        assert!(matches!(m.result(t), Some(Ok(()))));
        assert_eq!(m.state().name(), "Ready");
        m.begin().unwrap();
        let t = m.start_abort().unwrap();
        m.on_flushed(t, None);
        assert!(matches!(m.result(t), Some(Ok(()))));
        assert_eq!(m.next(now), Action::Idle);
    }
}

#[test]
fn a_failed_send_makes_the_transaction_abortable_then_abort_bumps_the_epoch_under_v1() {
    let (mut m, now) = ready(TxnVersion::V1);
    m.begin().unwrap();
    m.check_send("t", 0).unwrap();
    send(&mut m, now);
    m.on_response(now, add_partitions(&[("t", 0, 0)]));
    let cause = Error::kafka_tp(ErrorCode::MESSAGE_TOO_LARGE, "Produce", "t", 0);
    m.on_send_failed(&cause, true);
    assert_eq!(m.state().name(), "AbortableError");
    assert!(
        m.take_fail_queued().is_some(),
        "the other queued batches fail"
    );
    // A second failure does not replace the first cause.
    m.on_send_failed(&kafka(ErrorCode::NOT_ENOUGH_REPLICAS, "Produce"), true);
    let r = m.start_commit();
    let Err(Error::TransactionAbortable { cause: c, .. }) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(c.code(), Some(ErrorCode::MESSAGE_TOO_LARGE));
    assert!(is_abortable(&m.check_send("t", 0)));

    let t = m.start_abort().unwrap();
    assert_eq!(m.state().name(), "Aborting");
    assert!(m.take_fail_queued().is_some(), "abort fails what is queued");
    m.on_flushed(t, None);
    let (_, req) = send(&mut m, now);
    assert!(matches!(&req, TxnRequest::EndTxn(r) if !r.committed));
    m.on_response(now, end_txn(ErrorCode::NONE, None));
    // KIP-360: the failed batch left a sequence gap; a new epoch closes it.
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::TxnCoordinator(NODE));
    let TxnRequest::InitProducerId(r) = req else {
        panic!("{req:?}")
    };
    assert_eq!((r.producer_id, r.producer_epoch), (7, 0));
    assert!(m.result(t).is_none());
    m.on_response(now, pid_ok(7, 1));
    assert!(matches!(m.result(t), Some(Ok(()))));
    assert_eq!(m.take_new_producer(), Some(ProducerId { id: 7, epoch: 1 }));
    // And the producer goes on.
    m.begin().unwrap();
    m.check_send("t", 0).unwrap();
}

#[test]
fn a_failure_found_by_the_commit_flush_fails_the_commit_as_abortable() {
    let (mut m, now) = ready(TxnVersion::V2);
    m.begin().unwrap();
    m.on_produce_sent();
    let t = m.start_commit().unwrap();
    m.on_flushed(
        t,
        Some(Error::DeliveryTimeout {
            topic: "t".into(),
            partition: 0,
            timeout: Duration::from_secs(1),
            last_error: None,
        }),
    );
    assert!(is_abortable(&m.result(t).unwrap()));
    assert_eq!(m.state().name(), "AbortableError");
    assert_eq!(m.next(now), Action::Idle, "no EndTxn(commit)");
    let t = m.start_abort().unwrap();
    m.on_flushed(t, None);
    let (_, req) = send(&mut m, now);
    assert!(matches!(&req, TxnRequest::EndTxn(r) if !r.committed));
}

#[test]
fn a_fenced_or_denied_send_is_fatal() {
    for code in [
        ErrorCode::PRODUCER_FENCED,
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
        ErrorCode::UNSUPPORTED_VERSION,
        ErrorCode::INVALID_PRODUCER_ID_MAPPING,
    ] {
        let (mut m, now) = ready(TxnVersion::V2);
        m.begin().unwrap();
        m.on_produce_sent();
        let t = m.start_commit().unwrap();
        m.on_send_failed(&Error::kafka_tp(code, "Produce", "t", 0), true);
        assert_eq!(m.state().name(), "FatalError", "{code}");
        assert_eq!(fatal_code(m.result(t).unwrap()), code);
        assert_eq!(fatal_code(m.start_abort()), code);
        assert_eq!(fatal_code(m.begin()), code);
        assert_eq!(m.next(now), Action::Idle);
    }
}

/// How the transaction goes on after the coordinator aborted it for
/// `transaction.timeout.ms` (and bumped the epoch from 0 to 1), as Java's
/// producer handles each answer (checked on Kafka 4.4).
#[test]
fn after_the_coordinators_timeout_abort_the_producer_goes_on_as_javas_does() {
    use ErrorCode as C;
    use TxnVersion::{V1, V2};
    // (version, a batch sent after the timeout failed with
    // INVALID_PRODUCER_EPOCH, the application commits (else aborts),
    // EndTxn's answer: NONE, and the producer goes on under the epoch it
    // returned; an error, and the producer failed for good with it).
    let cases = [
        // v2: an abort is taken as the retry of the coordinator's abort.
        (V2, false, false, C::NONE),
        (V2, true, false, C::NONE),
        // v2: the commit of an aborted transaction.
        (V2, false, true, C::INVALID_TXN_STATE),
        // v1: the bumped epoch fences every EndTxn.
        (V1, false, true, C::PRODUCER_FENCED),
        (V1, false, false, C::PRODUCER_FENCED),
        (V1, true, false, C::PRODUCER_FENCED),
    ];
    for (version, late_send, commit, answer) in cases {
        let name = format!("{version:?}, late send {late_send}, commit {commit}");
        let (mut m, now) = ready(version);
        m.begin().unwrap();
        m.check_send("t", 0).unwrap();
        if version == V1 {
            send(&mut m, now);
            m.on_response(now, add_partitions(&[("t", 0, 0)]));
        }
        m.on_produce_sent();
        if late_send {
            m.on_send_failed(
                &Error::kafka_tp(C::INVALID_PRODUCER_EPOCH, "Produce", "t", 0),
                true,
            );
            assert_eq!(m.state().name(), "AbortableError", "{name}");
            // The commit fails with it (Java's InvalidProducerEpochException),
            // saying why the epoch may have moved.
            let r = m.start_commit();
            let Err(Error::TransactionAbortable { cause, .. }) = &r else {
                panic!("{name}: {r:?}")
            };
            assert_eq!(cause.code(), Some(C::INVALID_PRODUCER_EPOCH), "{name}");
            let msg = r.unwrap_err().to_string();
            assert!(
                msg.contains("transaction.timeout.ms (60000 ms)") && msg.contains("t-0"),
                "{name}: {msg}"
            );
        }
        let (t, r) = end(&mut m, now, commit);
        assert_eq!((r.committed, r.producer_epoch), (commit, 0), "{name}");
        let bumped = (answer == C::NONE).then_some((7, 1));
        m.on_response(now, end_txn(answer, bumped));
        let got = m.result(t).unwrap();
        if answer != C::NONE {
            assert_eq!(fatal_code(got.clone()), answer, "{name}");
            let msg = got.unwrap_err().to_string();
            assert!(msg.contains("transaction.timeout.ms"), "{name}: {msg}");
            assert_eq!(fatal_code(m.begin()), answer, "{name}");
            continue;
        }
        assert!(got.is_ok(), "{name}: {got:?}");
        assert_eq!(
            m.take_new_producer(),
            Some(ProducerId { id: 7, epoch: 1 }),
            "{name}: the coordinator's epoch"
        );
        assert_eq!(m.next(now), Action::Idle, "{name}: no InitProducerId");
        let (_, r) = end_transaction(&mut m, now, true);
        assert_eq!((r.committed, r.producer_epoch), (true, 1), "{name}");
    }
}

#[test]
fn end_txn_errors_retry_or_fence() {
    let (mut m, now) = ready(TxnVersion::V2);
    let (t, _) = end_transaction(&mut m, now, true);
    m.on_response(now, end_txn(ErrorCode::COORDINATOR_NOT_AVAILABLE, None));
    let later = now + Duration::from_secs(1);
    let (_, req) = send(&mut m, later);
    assert!(matches!(req, TxnRequest::FindCoordinator { .. }));
    m.on_response(later, coordinator(TxnVersion::V2));
    let (_, req) = send(&mut m, later);
    assert!(matches!(req, TxnRequest::EndTxn(_)));
    m.on_response(later, end_txn(ErrorCode::PRODUCER_FENCED, None));
    let r = m.result(t).unwrap();
    let msg = r.clone().unwrap_err().to_string();
    assert!(msg.contains("EndTxn") && msg.contains(TXID), "{msg}");
    assert_eq!(fatal_code(r), ErrorCode::PRODUCER_FENCED);

    // A commit's verdict: TRANSACTION_ABORTABLE leaves the transaction to
    // abort.
    let (mut m, now) = ready(TxnVersion::V2);
    let (t, _) = end_transaction(&mut m, now, true);
    m.on_response(now, end_txn(ErrorCode::TRANSACTION_ABORTABLE, None));
    let r = m.result(t).unwrap();
    assert!(is_abortable(&r), "{r:?}");
    let (_, r) = end(&mut m, now, false);
    assert!(!r.committed, "the abort follows");
}

/// A coordinator that no longer knows the producer id (the transactional
/// id expired: INVALID_PRODUCER_ID_MAPPING; UNKNOWN_PRODUCER_ID) refuses
/// EndTxn. As Java's EndTxnHandler (`abortableErrorIfPossible`), a commit
/// becomes abortable; the abort then gets a new epoch or id by
/// InitProducerId with the current one (KIP-360), and the producer goes on.
/// Only if that bump fails is the producer done.
#[test]
fn an_end_txn_for_a_producer_id_the_coordinator_lost_is_recovered_by_a_bump() {
    use ErrorCode as C;
    for version in [TxnVersion::V1, TxnVersion::V2] {
        for code in [C::INVALID_PRODUCER_ID_MAPPING, C::UNKNOWN_PRODUCER_ID] {
            for commit_first in [true, false] {
                let name = format!("{version:?}, {code}, commit first {commit_first}");
                let (mut m, now) = ready(version);
                if commit_first {
                    let (t, r) = end_transaction(&mut m, now, true);
                    assert!(r.committed, "{name}");
                    m.on_response(now, end_txn(code, None));
                    let r = m.result(t).unwrap();
                    assert!(is_abortable(&r), "{name}: {r:?}");
                    assert_eq!(m.state().name(), "AbortableError", "{name}");
                } else {
                    m.begin().unwrap();
                    m.on_produce_sent();
                }
                let (t, r) = end(&mut m, now, false);
                assert!(!r.committed, "{name}");
                m.on_response(now, end_txn(code, None));
                assert!(m.result(t).is_none(), "{name}: the abort goes on");
                let (target, req) = send(&mut m, now);
                assert_eq!(target, Target::TxnCoordinator(NODE), "{name}");
                let TxnRequest::InitProducerId(r) = req else {
                    panic!("{name}: {req:?}")
                };
                assert_eq!(
                    (r.producer_id, r.producer_epoch),
                    (7, 0),
                    "{name}: KIP-360 bump"
                );
                m.on_response(now, pid_ok(9, 0));
                assert!(
                    matches!(m.result(t), Some(Ok(()))),
                    "{name}: {:?}",
                    m.result(t)
                );
                assert_eq!(m.state().name(), "Ready", "{name}");
                assert_eq!(
                    m.take_new_producer(),
                    Some(ProducerId { id: 9, epoch: 0 }),
                    "{name}"
                );
                // The next transaction runs under the new id.
                let (_, r) = end_transaction(&mut m, now, true);
                assert_eq!((r.producer_id, r.producer_epoch), (9, 0), "{name}");
            }
        }
        // The bump refused as well: the producer is done, with that error.
        let (mut m, now) = ready(version);
        m.begin().unwrap();
        m.on_produce_sent();
        let (t, _) = end(&mut m, now, false);
        m.on_response(now, end_txn(C::INVALID_PRODUCER_ID_MAPPING, None));
        send(&mut m, now);
        m.on_response(
            now,
            Ok(TxnResponse::InitProducerId(InitProducerIdResponse {
                error_code: C::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0,
                ..Default::default()
            })),
        );
        assert_eq!(
            fatal_code(m.result(t).unwrap()),
            C::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        );
        assert_eq!(
            fatal_code(m.begin()),
            C::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        );
    }
}

fn group() -> ConsumerGroupMetadata {
    ConsumerGroupMetadata {
        group_id: "g".into(),
        generation_id: 5,
        member_id: "m-1".into(),
        group_instance_id: Some("i-1".into()),
    }
}

fn offsets() -> Vec<(Arc<str>, i32, OffsetAndMetadata)> {
    vec![
        (
            Arc::from("in"),
            0,
            OffsetAndMetadata {
                offset: 42,
                metadata: None,
            },
        ),
        (
            Arc::from("in"),
            1,
            OffsetAndMetadata {
                offset: 7,
                metadata: Some("m".into()),
            },
        ),
    ]
}

fn offset_commit(code: ErrorCode) -> Result<TxnResponse, Error> {
    Ok(TxnResponse::TxnOffsetCommit(TxnOffsetCommitResponse {
        topics: vec![TxnOffsetCommitResponseTopic {
            name: "in".into(),
            partitions: vec![
                TxnOffsetCommitResponsePartition {
                    partition_index: 0,
                    error_code: code.0,
                    ..Default::default()
                },
                TxnOffsetCommitResponsePartition {
                    partition_index: 1,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    }))
}

#[test]
fn v1_send_offsets_adds_the_group_then_commits_to_the_group_coordinator() {
    let (mut m, now) = ready(TxnVersion::V1);
    m.begin().unwrap();
    let t = m.start_send_offsets(group(), offsets()).unwrap();
    assert_eq!(
        state_error(m.start_commit()),
        (
            "commit_transaction",
            "InTransaction with send_offsets_to_transaction running"
        )
    );
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::TxnCoordinator(NODE));
    assert_eq!(
        req,
        TxnRequest::AddOffsets(AddOffsetsToTxnRequest {
            transactional_id: TXID.into(),
            producer_id: 7,
            producer_epoch: 0,
            group_id: "g".into(),
            ..Default::default()
        })
    );
    m.on_response(
        now,
        Ok(TxnResponse::AddOffsets(AddOffsetsToTxnResponse::default())),
    );
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::AnyBroker);
    assert_eq!(
        req,
        TxnRequest::FindCoordinator {
            kind: CoordinatorType::Group,
            key: "g".into()
        }
    );
    m.on_response(now, group_coordinator(9));
    let (target, req) = send(&mut m, now);
    assert_eq!(target, Target::GroupCoordinator(9));
    let TxnRequest::TxnOffsetCommit(r) = req else {
        panic!("{req:?}")
    };
    assert_eq!(
        (r.transactional_id.as_str(), r.group_id.as_str()),
        (TXID, "g")
    );
    assert_eq!((r.producer_id, r.producer_epoch), (7, 0));
    assert_eq!(r.generation_id_or_member_epoch, 5);
    assert_eq!(r.member_id, "m-1");
    assert_eq!(r.group_instance_id.as_deref(), Some("i-1"));
    let parts: Vec<(i32, i64, Option<String>)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| {
            (
                p.partition_index,
                p.committed_offset,
                p.committed_metadata.clone(),
            )
        })
        .collect();
    assert_eq!(parts, [(0, 42, None), (1, 7, Some("m".into()))]);
    // The coordinator is loading: asked again.
    m.on_response(now, offset_commit(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
    let (target, _) = send(&mut m, now + Duration::from_secs(1));
    assert_eq!(target, Target::GroupCoordinator(9));
    m.on_response(now, offset_commit(ErrorCode::NONE));
    assert!(matches!(m.result(t), Some(Ok(()))));
    // The commit ends the transaction, which now holds the offsets.
    let c = m.start_commit().unwrap();
    m.on_flushed(c, None);
    let (_, req) = send(&mut m, now);
    assert!(matches!(req, TxnRequest::EndTxn(r) if r.committed));
}

#[test]
fn v2_send_offsets_goes_straight_to_the_group_coordinator() {
    let (mut m, now) = ready(TxnVersion::V2);
    m.begin().unwrap();
    let t = m.start_send_offsets(group(), offsets()).unwrap();
    let (_, req) = send(&mut m, now);
    assert!(matches!(
        req,
        TxnRequest::FindCoordinator {
            kind: CoordinatorType::Group,
            ..
        }
    ));
    m.on_response(now, group_coordinator(9));
    assert_eq!(
        m.version(),
        TxnVersion::V2,
        "the group lookup changes no protocol"
    );
    let (_, req) = send(&mut m, now);
    assert!(matches!(req, TxnRequest::TxnOffsetCommit(_)));
    // The group coordinator moved: found again, and the offsets sent again.
    m.on_response(now, offset_commit(ErrorCode::NOT_COORDINATOR));
    let later = now + Duration::from_secs(1);
    let (target, req) = send(&mut m, later);
    assert_eq!(target, Target::AnyBroker);
    assert!(matches!(
        req,
        TxnRequest::FindCoordinator {
            kind: CoordinatorType::Group,
            ..
        }
    ));
    m.on_response(later, group_coordinator(10));
    let (target, _) = send(&mut m, later);
    assert_eq!(target, Target::GroupCoordinator(10));
    m.on_response(later, offset_commit(ErrorCode::NONE));
    assert!(matches!(m.result(t), Some(Ok(()))));
    // The transaction was started by the offsets alone: EndTxn is due.
    let c = m.start_commit().unwrap();
    m.on_flushed(c, None);
    assert!(matches!(send(&mut m, later).1, TxnRequest::EndTxn(_)));
}

/// A v2 send_offsets_to_transaction whose TxnOffsetCommit (at group
/// coordinator 9) is answered with `code` for partition 0: the machine and
/// the call's result.
fn offsets_answered(code: ErrorCode) -> (Transaction, Result<(), Error>) {
    let (mut m, now) = ready(TxnVersion::V2);
    m.begin().unwrap();
    let t = m.start_send_offsets(group(), offsets()).unwrap();
    send(&mut m, now);
    m.on_response(now, group_coordinator(9));
    send(&mut m, now);
    m.on_response(now, offset_commit(code));
    let r = m.result(t).unwrap();
    (m, r)
}

#[test]
fn a_fenced_consumer_or_a_denied_group_makes_the_transaction_abortable() {
    for code in [
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ] {
        let (mut m, r) = offsets_answered(code);
        let Err(Error::TransactionAbortable { cause, .. }) = &r else {
            panic!("{code}: {r:?}")
        };
        assert_eq!(cause.code(), Some(code));
        assert!(cause.to_string().contains("group 'g'"), "{cause}");
        assert_eq!(m.state().name(), "AbortableError");
        m.start_abort().unwrap();
    }
    // A denied group in AddOffsetsToTxn (v1) too.
    let (mut m, now) = ready(TxnVersion::V1);
    m.begin().unwrap();
    let t = m.start_send_offsets(group(), offsets()).unwrap();
    send(&mut m, now);
    m.on_response(
        now,
        Ok(TxnResponse::AddOffsets(AddOffsetsToTxnResponse {
            error_code: ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            ..Default::default()
        })),
    );
    assert!(is_abortable(&m.result(t).unwrap()));
}

#[test]
fn abort_gives_up_a_running_send_offsets_and_ignores_its_late_answer() {
    let (mut m, now) = ready(TxnVersion::V2);
    m.begin().unwrap();
    let offs = m.start_send_offsets(group(), offsets()).unwrap();
    send(&mut m, now); // FindCoordinator for the group, in flight
    let abort = m.start_abort().unwrap();
    assert_eq!(
        state_error(m.result(offs).unwrap()),
        ("send_offsets_to_transaction", "Aborting")
    );
    // The late answer changes nothing.
    m.on_response(now, group_coordinator(9));
    m.on_flushed(abort, None);
    assert!(
        matches!(m.result(abort), Some(Ok(()))),
        "nothing had started"
    );
}

#[test]
fn a_timed_out_call_says_what_it_waits_for() {
    let (mut m, now) = ready(TxnVersion::V2);
    m.begin().unwrap();
    m.on_produce_sent();
    let t = m.start_commit().unwrap();
    assert!(m.describe_wait(t).0.contains("delivered"));
    m.on_flushed(t, None);
    send(&mut m, now);
    m.on_response(
        now,
        Err(Error::RequestTimeout {
            broker: "b".into(),
            api: "EndTxn",
            timeout: Duration::from_secs(30),
        }),
    );
    let (what, last) = m.describe_wait(t);
    assert!(what.contains("EndTxn"), "{what}");
    assert!(last.unwrap().contains("EndTxn"));
    // Retried (after looking the coordinator up again), not failed.
    assert!(m.result(t).is_none());
    assert_eq!(m.state().name(), "Committing");
}

#[test]
fn version_caps_follow_the_protocol() {
    let (m, _) = ready(TxnVersion::V1);
    let end = TxnRequest::EndTxn(EndTxnRequest::default());
    let toc = TxnRequest::TxnOffsetCommit(TxnOffsetCommitRequest::default());
    assert_eq!(m.max_version(&end), 4);
    assert_eq!(m.max_version(&toc), 4);
    assert_eq!(
        m.max_version(&TxnRequest::AddPartitions(Default::default())),
        3,
        "v4+ is the brokers' batched form"
    );
    let (m, _) = ready(TxnVersion::V2);
    assert_eq!(m.max_version(&end), i16::MAX);
    assert_eq!(m.max_version(&toc), 5);
    assert_eq!(
        m.max_version(&TxnRequest::InitProducerId(Default::default())),
        5,
        "v6 is two-phase commit"
    );
}

#[test]
fn offsets_sent_under_a_stale_epoch_are_fatal_as_in_java() {
    // After the coordinator's timeout abort (v2), the group coordinator
    // refuses the old epoch; Java's producer fails for good there too.
    let (_, r) = offsets_answered(ErrorCode::INVALID_PRODUCER_EPOCH);
    assert_eq!(fatal_code(r.clone()), ErrorCode::INVALID_PRODUCER_EPOCH);
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("group 'g'") && msg.contains("transaction.timeout.ms (60000 ms)"),
        "{msg}"
    );
}
