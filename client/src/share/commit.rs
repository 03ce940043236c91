//! One partition leader's part of an acknowledgement commit (sans-IO):
//! the acknowledgements sent to it in ShareAcknowledge, retried as Java's
//! `ShareConsumeRequestManager` retries them, and the outcome per
//! partition.
//!
//! - A retriable error (top-level or a partition's, share session errors
//!   included) sends the acknowledgements it concerns again after the
//!   retry backoff (`retry.backoff.ms` doubling up to
//!   `retry.backoff.max.ms`), until the commit's deadline (`commit_sync`'s
//!   timeout, `default.api.timeout.ms` for `commit_async`); past it, what is
//!   left fails with a timeout naming the broker.
//! - NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH are not retried: the
//!   leader changed, so the records' locks went with it (they are delivered
//!   again); the metadata is refreshed. Nor are UNKNOWN_TOPIC_OR_PARTITION,
//!   UNKNOWN_TOPIC_ID (metadata refreshed too) and every non-retriable error.
//! - A request that was sent and got no answer (the connection dropped, the
//!   request timed out) is not retried either: the broker may have applied
//!   it, and applying it twice would fail as INVALID_RECORD_STATE. A
//!   request that never left (no connection) goes again.
//! - On `close` nothing is retried (the session closes with this request).
//!
//! The driver (`acknowledge_on` in `mod.rs`) asks [`AckCommit::next`] what
//! to do, does it, and reports the outcome with `on_*`.

use super::acks::{AckBatch, SharePartition};
use super::{AcknowledgementResult, ack_results, partition_error, session};
use crate::consumer::backoff::Retries;
use crate::error::Error;
use purekafka_protocol::{ErrorCode, Uuid};
use std::collections::HashMap;
use std::time::{Duration, Instant};

type Acks = Vec<(SharePartition, Vec<AckBatch>)>;

/// A response's answer per partition: error code and message.
pub(crate) type Answers = HashMap<(Uuid, i32), (ErrorCode, Option<String>)>;

/// The outcome of acknowledgements that rode on a ShareFetch the broker
/// answered (no top-level error): each partition's AcknowledgeErrorCode,
/// and a failure for a partition the answer leaves out (Java: "invalid
/// response from broker"; it was reported a success). They are not sent
/// again, as in Java: the records come back once their locks time out.
pub(crate) fn piggybacked_results(
    acks: &[(SharePartition, Vec<AckBatch>)],
    answers: &mut Answers,
    broker: &str,
) -> Vec<AcknowledgementResult> {
    ack_results(acks, |p| {
        let (code, message) = answer(answers, p);
        if code == ErrorCode::NONE {
            Ok(())
        } else {
            Err(partition_error(code, "ShareFetch", broker, p, message))
        }
    })
}

/// `p`'s answer, taken out of `answers`; UNKNOWN_SERVER_ERROR if the
/// broker left it out.
fn answer(answers: &mut Answers, p: &SharePartition) -> (ErrorCode, Option<String>) {
    answers.remove(&(p.topic_id, p.partition)).unwrap_or((
        ErrorCode::UNKNOWN_SERVER_ERROR,
        Some("the broker did not answer for this partition".into()),
    ))
}

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send these in a ShareAcknowledge (opening the share session first
    /// if it is not open).
    Send(Acks),
    /// Wait this long (a backoff), then ask again.
    Wait(Duration),
    /// Every partition has its outcome.
    Done,
}

/// The settings of one commit.
#[derive(Debug, Clone)]
pub(crate) struct CommitSettings {
    pub group_id: String,
    /// The broker as errors name it (`host:port (node N)`).
    pub broker: String,
    /// How long the commit may take, retries included.
    pub timeout: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// The request closes the share session: sent once even with nothing
    /// to acknowledge, never retried.
    pub close: bool,
}

/// One broker's part of a commit.
#[derive(Debug)]
pub(crate) struct AckCommit {
    cfg: CommitSettings,
    deadline: Instant,
    /// Acknowledgements to send (again).
    waiting: Acks,
    /// Those of the attempt under way.
    in_flight: Acks,
    results: Vec<AcknowledgementResult>,
    retries: Retries,
    retry_at: Option<Instant>,
    attempts: u32,
    refresh_metadata: bool,
}

impl AckCommit {
    pub fn new(cfg: CommitSettings, acks: Acks, now: Instant) -> AckCommit {
        AckCommit {
            deadline: now.checked_add(cfg.timeout).unwrap_or(now),
            cfg,
            waiting: acks,
            in_flight: Vec::new(),
            results: Vec::new(),
            retries: Retries::default(),
            retry_at: None,
            attempts: 0,
            refresh_metadata: false,
        }
    }

    /// When the commit gives up.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// How many requests were attempted.
    #[cfg(test)]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Names the broker as its connection does, once known.
    pub fn set_broker(&mut self, name: &str) {
        if self.cfg.broker != name {
            self.cfg.broker = name.to_owned();
        }
    }

    /// Whether a partition's error says the metadata is out of date.
    pub fn needs_metadata(&self) -> bool {
        self.refresh_metadata
    }

    /// What to do now. The first attempt is always made (a close even
    /// with nothing to acknowledge); retries only before the deadline.
    pub fn next(&mut self, now: Instant) -> Step {
        if !self.in_flight.is_empty() {
            // The driver reports every attempt; one it lost counts as
            // timed out.
            self.timed_out();
        }
        let first = self.attempts == 0;
        if self.waiting.is_empty() && !(first && self.cfg.close) {
            return Step::Done;
        }
        if !first && now >= self.deadline {
            self.timed_out();
            return Step::Done;
        }
        if let Some(at) = self.retry_at
            && now < at
        {
            return Step::Wait(at.min(self.deadline).saturating_duration_since(now));
        }
        self.retry_at = None;
        self.attempts += 1;
        self.in_flight = std::mem::take(&mut self.waiting);
        Step::Send(self.in_flight.clone())
    }

    /// The deadline passed with the attempt under way (or before the next):
    /// what is left fails with a timeout naming the broker.
    pub fn timed_out(&mut self) {
        let mut left = std::mem::take(&mut self.in_flight);
        left.append(&mut self.waiting);
        let e = Error::RequestTimeout {
            broker: self.cfg.broker.clone(),
            api: "ShareAcknowledge",
            timeout: self.cfg.timeout,
        };
        self.results.extend(ack_results(&left, |_| Err(e.clone())));
    }

    /// The share session could not be opened (nothing was acknowledged):
    /// retried if `e` is retriable.
    pub fn on_open_failed(&mut self, e: Error, now: Instant) {
        self.retry_all_or_fail(e, now);
    }

    /// The ShareAcknowledge failed without an answer. `sent`: it may have
    /// reached the broker (then, as in Java, it is not retried).
    pub fn on_send_failed(&mut self, e: Error, sent: bool, now: Instant) {
        if sent {
            let acks = std::mem::take(&mut self.in_flight);
            self.results.extend(ack_results(&acks, |_| Err(e.clone())));
        } else {
            self.retry_all_or_fail(e, now);
        }
    }

    /// The broker answered: its top-level error, and each partition's
    /// error code and message.
    pub fn on_response(
        &mut self,
        code: ErrorCode,
        message: Option<String>,
        partitions: &mut Answers,
        now: Instant,
    ) {
        if code != ErrorCode::NONE {
            let e = Error::Kafka {
                code,
                api: "ShareAcknowledge",
                topic: None,
                partition: None,
                message: Some(match message {
                    Some(m) => format!(
                        "group {} on broker {}: {m}",
                        self.cfg.group_id, self.cfg.broker
                    ),
                    None => format!("group {} on broker {}", self.cfg.group_id, self.cfg.broker),
                }),
            };
            self.retry_all_or_fail(e, now);
            return;
        }
        for (p, batches) in std::mem::take(&mut self.in_flight) {
            let (code, message) = answer(partitions, &p);
            let leader_moved = code == ErrorCode::NOT_LEADER_OR_FOLLOWER
                || code == ErrorCode::FENCED_LEADER_EPOCH
                || code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                || code == ErrorCode::UNKNOWN_TOPIC_ID;
            if leader_moved {
                self.refresh_metadata = true;
            }
            if code != ErrorCode::NONE && !leader_moved && retriable(code) && !self.cfg.close {
                self.waiting.push((p, batches));
                continue;
            }
            let one = [(p, batches)];
            let result = if code == ErrorCode::NONE {
                Ok(())
            } else {
                Err(partition_error(
                    code,
                    "ShareAcknowledge",
                    &self.cfg.broker,
                    &one[0].0,
                    message,
                ))
            };
            self.results.extend(ack_results(&one, |_| result.clone()));
        }
        self.schedule(now);
    }

    /// Every partition's outcome.
    pub fn into_results(self) -> Vec<AcknowledgementResult> {
        self.results
    }

    fn retry_all_or_fail(&mut self, e: Error, now: Instant) {
        let acks = std::mem::take(&mut self.in_flight);
        let again = !self.cfg.close && (e.is_retriable() || e.code().is_some_and(retriable));
        if again {
            self.waiting.extend(acks);
            self.schedule(now);
        } else {
            self.results.extend(ack_results(&acks, |_| Err(e.clone())));
        }
    }

    /// A backoff before the next attempt if something waits, else none.
    fn schedule(&mut self, now: Instant) {
        if self.waiting.is_empty() {
            self.retries.succeeded();
            self.retry_at = None;
        } else {
            let wait = self
                .retries
                .failed(self.cfg.retry_backoff, self.cfg.retry_backoff_max);
            self.retry_at = Some(now.checked_add(wait).unwrap_or(self.deadline));
        }
    }
}

/// Whether an acknowledgement that failed with `code` may go again (Java's
/// `RetriableException`s, the share session errors among them).
fn retriable(code: ErrorCode) -> bool {
    code.is_retriable() || code == session::SHARE_SESSION_LIMIT_REACHED
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::acks::GAP;
    use std::sync::Arc;

    const MS: Duration = Duration::from_millis(1);

    fn part(p: i32) -> SharePartition {
        SharePartition {
            topic: Arc::from("t"),
            partition: p,
            topic_id: Uuid([3; 16]),
        }
    }

    fn acks(ps: &[i32]) -> Acks {
        ps.iter()
            .map(|p| {
                (
                    part(*p),
                    vec![AckBatch {
                        first: 0,
                        last: 4,
                        kind: 1,
                    }],
                )
            })
            .collect()
    }

    fn settings(close: bool) -> CommitSettings {
        CommitSettings {
            group_id: "g".into(),
            broker: "node 1".into(),
            timeout: 1000 * MS,
            retry_backoff: 100 * MS,
            retry_backoff_max: 400 * MS,
            close,
        }
    }

    fn answers(ps: &[(i32, ErrorCode)]) -> Answers {
        ps.iter()
            .map(|(p, c)| ((Uuid([3; 16]), *p), (*c, None)))
            .collect()
    }

    fn sent(step: Step) -> Vec<i32> {
        match step {
            Step::Send(a) => a.iter().map(|(p, _)| p.partition).collect(),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn outcome(c: AckCommit) -> Vec<(i32, String)> {
        let mut v: Vec<(i32, String)> = c
            .into_results()
            .into_iter()
            .map(|r| {
                (
                    r.partition.partition,
                    match r.result {
                        Ok(()) => "ok".to_owned(),
                        Err(e) => e.to_string(),
                    },
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn retriable_errors_go_again_with_growing_backoff_until_the_deadline() {
        let t0 = Instant::now();
        let mut c = AckCommit::new(settings(false), acks(&[0, 1]), t0);
        assert_eq!(sent(c.next(t0)), vec![0, 1]);
        // 0 done, 1 retriable.
        c.on_response(
            ErrorCode::NONE,
            None,
            &mut answers(&[(0, ErrorCode::NONE), (1, ErrorCode::REQUEST_TIMED_OUT)]),
            t0,
        );
        let Step::Wait(w1) = c.next(t0) else {
            panic!("a backoff first")
        };
        assert!(w1 >= 80 * MS && w1 <= 120 * MS, "{w1:?}");
        let mut now = t0 + w1;
        // Only the failed partition goes again, however many times: more
        // than three attempts, each after a longer wait.
        let mut waits = vec![w1];
        loop {
            match c.next(now) {
                Step::Send(a) => {
                    assert_eq!(a.len(), 1);
                    assert_eq!(a[0].0.partition, 1);
                    c.on_response(
                        ErrorCode::SHARE_SESSION_NOT_FOUND,
                        None,
                        &mut HashMap::new(),
                        now,
                    );
                }
                Step::Wait(w) => {
                    waits.push(w);
                    now += w;
                }
                Step::Done => break,
            }
        }
        assert!(c.attempts() > 3, "{} attempts", c.attempts());
        assert!(waits[1] > waits[0], "{waits:?}");
        assert!(waits.iter().all(|w| *w <= 480 * MS), "{waits:?}");
        assert!(
            now >= t0 + 1000 * MS && now <= t0 + 1500 * MS,
            "gave up at the deadline"
        );
        let o = outcome(c);
        assert_eq!(o[0], (0, "ok".into()));
        assert_eq!(o[1].0, 1);
        assert!(
            o[1].1
                .contains("ShareAcknowledge request to node 1 timed out after 1s"),
            "{o:?}"
        );
    }

    #[test]
    fn a_retry_that_succeeds_ends_the_commit() {
        let t0 = Instant::now();
        let mut c = AckCommit::new(settings(false), acks(&[0]), t0);
        sent(c.next(t0));
        c.on_send_failed(
            Error::Connect {
                broker: "node 1".into(),
                reason: "refused".into(),
            },
            false,
            t0,
        );
        let Step::Wait(w) = c.next(t0) else {
            panic!("backoff")
        };
        assert_eq!(sent(c.next(t0 + w)), vec![0]);
        c.set_broker("localhost:9092 (node 1)");
        c.on_response(
            ErrorCode::NONE,
            None,
            &mut answers(&[(0, ErrorCode::NONE)]),
            t0 + w,
        );
        assert!(matches!(c.next(t0 + w), Step::Done));
        assert_eq!(outcome(c), vec![(0, "ok".into())]);
    }

    #[test]
    fn leader_changes_and_fatal_errors_fail_at_once_naming_the_broker() {
        let t0 = Instant::now();
        let mut c = AckCommit::new(settings(false), acks(&[0, 1, 2, 3]), t0);
        sent(c.next(t0));
        c.set_broker("localhost:9092 (node 1)");
        c.on_response(
            ErrorCode::NONE,
            None,
            &mut answers(&[
                (0, ErrorCode::NOT_LEADER_OR_FOLLOWER),
                (1, ErrorCode::INVALID_RECORD_STATE),
                (2, ErrorCode::FENCED_LEADER_EPOCH),
            ]),
            t0,
        );
        assert!(matches!(c.next(t0), Step::Done));
        assert!(c.needs_metadata());
        let o = outcome(c);
        assert_eq!(o.len(), 4);
        for (p, e) in &o {
            assert!(e.contains("localhost:9092 (node 1)"), "{p}: {e}");
        }
        assert!(o[0].1.contains("NOT_LEADER_OR_FOLLOWER"));
        assert!(o[1].1.contains("INVALID_RECORD_STATE"));
        assert!(o[3].1.contains("did not answer"), "{o:?}");
        // A fatal top-level error fails every partition of the request.
        let mut c = AckCommit::new(settings(false), acks(&[0, 1]), t0);
        sent(c.next(t0));
        c.on_response(
            ErrorCode::GROUP_AUTHORIZATION_FAILED,
            Some("denied".into()),
            &mut HashMap::new(),
            t0,
        );
        assert!(matches!(c.next(t0), Step::Done));
        let o = outcome(c);
        assert_eq!(o.len(), 2);
        assert!(
            o.iter()
                .all(|(_, e)| e.contains("GROUP_AUTHORIZATION_FAILED") && e.contains("node 1")),
            "{o:?}"
        );
    }

    #[test]
    fn a_request_lost_after_it_was_sent_is_not_resent() {
        let t0 = Instant::now();
        let mut c = AckCommit::new(settings(false), acks(&[0]), t0);
        sent(c.next(t0));
        c.on_send_failed(
            Error::Disconnected {
                broker: "localhost:9092 (node 1)".into(),
            },
            true,
            t0,
        );
        assert!(matches!(c.next(t0), Step::Done));
        assert_eq!(c.attempts(), 1);
        let o = outcome(c);
        assert!(o[0].1.contains("node 1"), "{o:?}");
    }

    #[test]
    fn piggybacked_acknowledgements_report_each_partitions_answer_and_a_missing_one_fails() {
        let a = acks(&[0, 1, 2]);
        let mut got = answers(&[(0, ErrorCode::NONE), (1, ErrorCode::INVALID_RECORD_STATE)]);
        let o: Vec<(i32, String)> = piggybacked_results(&a, &mut got, "localhost:9092 (node 1)")
            .into_iter()
            .map(|r| {
                (
                    r.partition.partition,
                    r.result.map_or_else(|e| e.to_string(), |()| "ok".into()),
                )
            })
            .collect();
        assert_eq!(o.len(), 3);
        assert_eq!(o[0], (0, "ok".into()));
        assert!(
            o[1].1.contains("INVALID_RECORD_STATE") && o[1].1.contains("(node 1)"),
            "{o:?}"
        );
        // Left out of the answer: failed (it was reported a success).
        assert!(o[2].1.contains("did not answer"), "{o:?}");
    }

    #[test]
    fn a_close_is_sent_once_even_empty_and_never_retried() {
        let t0 = Instant::now();
        let mut c = AckCommit::new(settings(true), Vec::new(), t0);
        assert!(sent(c.next(t0)).is_empty());
        c.on_response(ErrorCode::NONE, None, &mut HashMap::new(), t0);
        assert!(matches!(c.next(t0), Step::Done));
        let mut c = AckCommit::new(settings(true), acks(&[0]), t0);
        sent(c.next(t0));
        c.on_response(
            ErrorCode::NONE,
            None,
            &mut answers(&[(0, ErrorCode::REQUEST_TIMED_OUT)]),
            t0,
        );
        assert!(matches!(c.next(t0), Step::Done));
        assert_eq!(c.attempts(), 1);
        assert!(outcome(c)[0].1.contains("REQUEST_TIMED_OUT"));
    }

    #[test]
    fn an_attempt_past_the_deadline_times_out_and_gaps_are_not_reported() {
        let t0 = Instant::now();
        let mut a = acks(&[0]);
        a.push((
            part(1),
            vec![AckBatch {
                first: 5,
                last: 9,
                kind: GAP,
            }],
        ));
        let mut c = AckCommit::new(settings(false), a, t0);
        assert_eq!(sent(c.next(t0)), vec![0, 1]);
        c.set_broker("localhost:9092 (node 1)");
        c.timed_out();
        assert!(matches!(c.next(t0 + 2000 * MS), Step::Done));
        let o = outcome(c);
        assert_eq!(o.len(), 1, "only gaps for partition 1: nothing to report");
        assert!(
            o[0].1
                .contains("ShareAcknowledge request to localhost:9092 (node 1) timed out"),
            "{o:?}"
        );
    }
}
