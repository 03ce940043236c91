//! Finding coordinators: the one FindCoordinator lookup of the client.
//!
//! A group, a transactional id or a share-group partition has a
//! coordinator, a broker found with FindCoordinator. The admin client, the
//! transactional producer, share groups and the consumer's group members
//! (`consumer/group/discovery.rs`) all ask through here:
//!
//! - [`Lookup`] is the sans-IO state machine: it takes the keys to find,
//!   says what to send ([`Lookup::next`]: one batched request from v4 on,
//!   one request per key on v0-3), takes the answers (per-key errors from
//!   v4 on) and the transport's failures, and retries with
//!   `retry.backoff.ms` .. `retry.backoff.max.ms` on
//!   COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
//!   COORDINATOR_LOAD_IN_PROGRESS and retriable network errors, until its
//!   deadline. A key's outcome is its coordinator or an error naming the
//!   key; one key's failure does not hold back the others. A consumer
//!   group member keeps one without a deadline for as long as it lives
//!   ([`Lookup::without_deadline`]): it takes its key's outcome
//!   ([`Lookup::take`]) and asks again ([`Lookup::ask`]) when the
//!   coordinator is lost or the lookup failed.
//! - [`find_coordinators`] / [`find_coordinator`] drive it over a
//!   [`Cluster`] (any broker answers FindCoordinator).
//! - [`coordinator_connection`] connects to what the lookup found.
//! - [`Coordinators`] caches what was found, to forget an entry when the
//!   broker says NOT_COORDINATOR.
//!
//! ```text
//! // Crate-internal; e.g. the transaction coordinator of a producer:
//! let c = find_coordinator(&cluster, CoordinatorType::Transaction, "tx-1", &retry).await?;
//! let conn = coordinator_connection(&cluster, &c).await?;
//! ```

use crate::consumer::backoff::Retries;
use crate::error::{Error, Result};
use crate::net::cluster::{BrokerInfo, Cluster};
use crate::net::conn::Connection;
use purekafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use purekafka_protocol::{ApiKey, ErrorCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What kind of coordinator (FindCoordinator's `KeyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(dead_code)] // Transaction and Share: for the transactional producer and share groups
pub enum CoordinatorType {
    /// A consumer group's (classic, consumer or share group): key = group id.
    Group,
    /// A transactional producer's: key = transactional.id.
    Transaction,
    /// A share group partition's share coordinator (v6+): key =
    /// `groupId:topicId:partition`.
    Share,
}

impl CoordinatorType {
    /// The wire value.
    pub fn key_type(self) -> i8 {
        match self {
            CoordinatorType::Group => 0,
            CoordinatorType::Transaction => 1,
            CoordinatorType::Share => 2,
        }
    }

    /// How errors name a key of this type (`group`, `transactional id`).
    pub fn noun(self) -> &'static str {
        match self {
            CoordinatorType::Group => "group",
            CoordinatorType::Transaction => "transactional id",
            CoordinatorType::Share => "share partition",
        }
    }
}

/// The retry policy of a lookup.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// `retry.backoff.ms`.
    pub backoff: Duration,
    /// `retry.backoff.max.ms`.
    pub backoff_max: Duration,
    /// Give up (each key still unknown fails with its last error) at this
    /// instant.
    pub deadline: Instant,
}

/// A FindCoordinator error for `key`, naming it.
pub fn coordinator_error(
    key_type: CoordinatorType,
    key: &str,
    code: ErrorCode,
    message: Option<&str>,
) -> Error {
    let what = format!("{} '{key}'", key_type.noun());
    Error::Kafka {
        code,
        api: "FindCoordinator",
        topic: None,
        partition: None,
        message: Some(match message.filter(|m| !m.is_empty()) {
            Some(m) => format!("{what}: {m}"),
            None => what,
        }),
    }
}

/// Whether a FindCoordinator error code is worth another try.
fn retriable(code: ErrorCode) -> bool {
    code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        || code == ErrorCode::NOT_COORDINATOR
        || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        || code.is_retriable()
}

/// What the lookup wants done next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Ask a broker: build the requests with [`Lookup::requests`] at the
    /// version it speaks, send them, and report each with
    /// [`Lookup::on_response`] or [`Lookup::on_error`].
    Ask,
    /// Nothing to ask before this instant (a backoff, or answers still
    /// owed).
    Wait(Instant),
    /// Every key has an outcome: take them with [`Lookup::finish`].
    Done,
}

/// The sans-IO FindCoordinator lookup of a set of keys.
#[derive(Debug)]
pub struct Lookup {
    key_type: CoordinatorType,
    /// `retry.backoff.ms` and `retry.backoff.max.ms`.
    backoff: (Duration, Duration),
    /// None: retried for as long as the keys are wanted.
    deadline: Option<Instant>,
    /// Keys still to find, and the last retriable error of each.
    pending: BTreeMap<String, Option<Error>>,
    /// Requests sent and not answered yet.
    in_flight: usize,
    done: BTreeMap<String, Result<BrokerInfo>>,
    not_before: Option<Instant>,
    retries: Retries,
}

impl Lookup {
    /// A lookup of `keys` (duplicates are asked once).
    pub fn new(
        key_type: CoordinatorType,
        keys: impl IntoIterator<Item = impl Into<String>>,
        policy: RetryPolicy,
    ) -> Lookup {
        let mut l = Lookup::without_deadline(key_type, keys, policy.backoff, policy.backoff_max);
        l.deadline = Some(policy.deadline);
        l
    }

    /// A lookup of `keys` that never gives up: retriable errors are
    /// retried with backoff for as long as the caller keeps asking.
    pub fn without_deadline(
        key_type: CoordinatorType,
        keys: impl IntoIterator<Item = impl Into<String>>,
        backoff: Duration,
        backoff_max: Duration,
    ) -> Lookup {
        Lookup {
            key_type,
            backoff: (backoff, backoff_max),
            deadline: None,
            pending: keys.into_iter().map(|k| (k.into(), None)).collect(),
            in_flight: 0,
            done: BTreeMap::new(),
            not_before: None,
            retries: Retries::default(),
        }
    }

    /// What to do at `now`.
    pub fn next(&mut self, now: Instant) -> Next {
        if self.in_flight > 0 {
            return Next::Wait(now);
        }
        if self.pending.is_empty() {
            return Next::Done;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.give_up();
            return Next::Done;
        }
        match self.not_before {
            Some(at) if at > now => Next::Wait(self.deadline.map_or(at, |d| at.min(d))),
            _ => Next::Ask,
        }
    }

    /// Asks for `key` (again): one found or failed before is looked up
    /// anew, once the backoff of the last failure (if any) has passed.
    pub fn ask(&mut self, key: impl Into<String>) {
        let key = key.into();
        self.done.remove(&key);
        self.pending.entry(key).or_insert(None);
    }

    /// The outcome of `key`, taken out of the lookup; None while it is
    /// still looked for (or was not asked).
    pub fn take(&mut self, key: &str) -> Option<Result<BrokerInfo>> {
        self.done.remove(key)
    }

    /// The last retriable error of `key`, while it is still looked for.
    pub fn last_error(&self, key: &str) -> Option<&Error> {
        self.pending.get(key).and_then(Option::as_ref)
    }

    /// When the backoff of the last failure ends (nothing to ask before
    /// then); None when none was needed or answers are owed.
    pub fn not_before(&self) -> Option<Instant> {
        if self.in_flight > 0 || self.pending.is_empty() {
            return None;
        }
        self.not_before
    }

    /// The requests for the keys still unknown, at the FindCoordinator
    /// `version` the broker to ask speaks: one batched request from v4 on,
    /// one per key before. Each comes with the keys it asks for.
    pub fn requests(&mut self, version: i16) -> Vec<(Vec<String>, FindCoordinatorRequest)> {
        let key_type = self.key_type.key_type();
        if version < 1 && self.key_type != CoordinatorType::Group {
            // v0 knows only groups (KeyType is v1+).
            for k in self.pending.keys().cloned().collect::<Vec<_>>() {
                self.fail(
                    &k,
                    Error::Unsupported(
                        "finding a transaction or share coordinator through a broker without FindCoordinator v1",
                    ),
                );
            }
            return Vec::new();
        }
        let keys: Vec<String> = self.pending.keys().cloned().collect();
        let requests: Vec<(Vec<String>, FindCoordinatorRequest)> = if keys.is_empty() {
            Vec::new()
        } else if version >= 4 {
            vec![(
                keys.clone(),
                FindCoordinatorRequest {
                    key_type,
                    coordinator_keys: keys,
                    ..Default::default()
                },
            )]
        } else {
            keys.into_iter()
                .map(|k| {
                    (
                        vec![k.clone()],
                        FindCoordinatorRequest {
                            key: k,
                            key_type: if version >= 1 { key_type } else { 0 },
                            ..Default::default()
                        },
                    )
                })
                .collect()
        };
        self.in_flight = requests.len();
        requests
    }

    /// No broker could be asked (`error`): retried after a backoff if it
    /// is retriable, else every key still unknown fails with it.
    pub fn on_unreachable(&mut self, now: Instant, error: Error) {
        let keys: Vec<String> = self.pending.keys().cloned().collect();
        self.in_flight = self.in_flight.saturating_add(1);
        self.on_error(now, &keys, error);
    }

    /// The answer to the request that asked for `keys` at `version`.
    pub fn on_response(
        &mut self,
        now: Instant,
        keys: &[String],
        version: i16,
        resp: FindCoordinatorResponse,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let answers: Vec<(String, ErrorCode, Option<String>, BrokerInfo)> = if version >= 4 {
            resp.coordinators
                .into_iter()
                .map(|c| {
                    (
                        c.key,
                        ErrorCode(c.error_code),
                        c.error_message,
                        BrokerInfo {
                            id: c.node_id,
                            host: c.host,
                            port: c.port,
                            rack: None,
                        },
                    )
                })
                .collect()
        } else {
            keys.first()
                .map(|k| {
                    (
                        k.clone(),
                        ErrorCode(resp.error_code),
                        resp.error_message,
                        BrokerInfo {
                            id: resp.node_id,
                            host: resp.host,
                            port: resp.port,
                            rack: None,
                        },
                    )
                })
                .into_iter()
                .collect()
        };
        for (key, code, message, broker) in answers {
            // Never trust the wire: an answer for a key not asked is ignored.
            if !keys.contains(&key) || !self.pending.contains_key(&key) {
                continue;
            }
            if code == ErrorCode::NONE && broker.id >= 0 && broker.port > 0 {
                self.pending.remove(&key);
                self.done.insert(key, Ok(broker));
            } else if code == ErrorCode::NONE {
                let e = coordinator_error(
                    self.key_type,
                    &key,
                    ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    Some("the broker answered without a coordinator"),
                );
                self.pending.insert(key, Some(e));
            } else if retriable(code) {
                let e = coordinator_error(self.key_type, &key, code, message.as_deref());
                self.pending.insert(key, Some(e));
            } else {
                let e = coordinator_error(self.key_type, &key, code, message.as_deref());
                self.fail(&key, e);
            }
        }
        // Keys still unknown (a retriable error, or left out by the
        // broker) are asked again after a backoff; a key that failed for
        // good lengthens it too, for a caller that asks it again.
        let failed = keys
            .iter()
            .any(|k| self.pending.contains_key(k) || matches!(self.done.get(k), Some(Err(_))));
        self.after(now, failed);
    }

    /// The request that asked for `keys` failed in transport (or did not
    /// encode): retried if the error is retriable, else every key fails.
    pub fn on_error(&mut self, now: Instant, keys: &[String], error: Error) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if error.is_retriable() {
            for k in keys {
                if let Some(slot) = self.pending.get_mut(k) {
                    *slot = Some(error.clone());
                }
            }
            self.after(now, true);
        } else {
            for k in keys {
                self.fail(k, error.clone());
            }
            self.after(now, true);
        }
    }

    fn after(&mut self, now: Instant, failed: bool) {
        if failed {
            let wait = self.retries.failed(self.backoff.0, self.backoff.1);
            self.not_before = Some(now + wait);
        } else {
            self.retries.succeeded();
        }
    }

    fn fail(&mut self, key: &str, error: Error) {
        if self.pending.remove(key).is_some() {
            self.done.insert(key.to_string(), Err(error));
        }
    }

    /// The deadline passed: every key still unknown fails with its last
    /// error (or a timeout).
    fn give_up(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for (k, last) in pending {
            let e = last.unwrap_or_else(|| {
                coordinator_error(
                    self.key_type,
                    &k,
                    ErrorCode::REQUEST_TIMED_OUT,
                    Some("no coordinator found before the call's timeout"),
                )
            });
            self.done.insert(k, Err(e));
        }
    }

    /// Every key's outcome (call once [`Next::Done`] was returned; keys
    /// still pending then fail as timed out).
    pub fn finish(mut self) -> BTreeMap<String, Result<BrokerInfo>> {
        self.give_up();
        self.done
    }
}

/// Finds the coordinators of `keys` through any broker of `cluster`.
pub async fn find_coordinators(
    cluster: &Cluster,
    key_type: CoordinatorType,
    keys: impl IntoIterator<Item = impl Into<String>>,
    policy: RetryPolicy,
) -> BTreeMap<String, Result<BrokerInfo>> {
    let mut lookup = Lookup::new(key_type, keys, policy);
    loop {
        match lookup.next(Instant::now()) {
            Next::Done => return lookup.finish(),
            Next::Wait(at) => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                continue;
            }
            Next::Ask => {}
        }
        let asked = cluster.any_broker().await.and_then(|c| {
            let v = c.version_for(ApiKey::FindCoordinator)?;
            Ok((c, v))
        });
        let (conn, version) = match asked {
            Ok(cv) => cv,
            Err(e) => {
                lookup.on_unreachable(Instant::now(), e);
                continue;
            }
        };
        // Submitted together (pipelined on the connection), then awaited.
        let mut pending = Vec::new();
        for (keys, req) in lookup.requests(version) {
            pending.push((keys, conn.submit_request(&req, version).await));
        }
        for (keys, submitted) in pending {
            let r = match submitted {
                Ok(p) => p.decode::<FindCoordinatorRequest>().await,
                Err(e) => Err(e),
            };
            match r {
                Ok(resp) => lookup.on_response(Instant::now(), &keys, version, resp),
                Err(e) => lookup.on_error(Instant::now(), &keys, e),
            }
        }
    }
}

/// Finds the coordinator of one key.
pub async fn find_coordinator(
    cluster: &Cluster,
    key_type: CoordinatorType,
    key: &str,
    policy: RetryPolicy,
) -> Result<BrokerInfo> {
    find_coordinators(cluster, key_type, [key], policy)
        .await
        .remove(key)
        .unwrap_or_else(|| {
            Err(coordinator_error(
                key_type,
                key,
                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                None,
            ))
        })
}

/// A connection to a coordinator found by a lookup: the pool's connection
/// to that node (metadata is refreshed once if the node is new to it).
pub async fn coordinator_connection(cluster: &Cluster, c: &BrokerInfo) -> Result<Connection> {
    if !cluster.metadata().brokers.contains_key(&c.id) {
        cluster.refresh_metadata().await?;
    }
    cluster.broker(c.id).await
}

/// Coordinators found so far, by kind and key; an entry is forgotten when
/// a request to it answers NOT_COORDINATOR (or its connection fails).
#[derive(Debug, Default)]
pub struct Coordinators {
    known: Mutex<HashMap<(CoordinatorType, String), BrokerInfo>>,
}

impl Coordinators {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(CoordinatorType, String), BrokerInfo>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached coordinator of `key`, if any.
    pub fn get(&self, key_type: CoordinatorType, key: &str) -> Option<BrokerInfo> {
        self.lock().get(&(key_type, key.to_string())).cloned()
    }

    /// The coordinator of `key`: cached, or looked up (and cached).
    pub async fn find(
        &self,
        cluster: &Cluster,
        key_type: CoordinatorType,
        key: &str,
        policy: RetryPolicy,
    ) -> Result<BrokerInfo> {
        if let Some(c) = self.get(key_type, key) {
            return Ok(c);
        }
        let c = find_coordinator(cluster, key_type, key, policy).await?;
        self.lock().insert((key_type, key.to_string()), c.clone());
        Ok(c)
    }

    /// Forgets the coordinator of `key` (it moved, or is unreachable).
    pub fn forget(&self, key_type: CoordinatorType, key: &str) {
        self.lock().remove(&(key_type, key.to_string()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::find_coordinator_response::Coordinator;

    fn policy(now: Instant) -> RetryPolicy {
        RetryPolicy {
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            deadline: now + Duration::from_secs(10),
        }
    }

    fn coord(key: &str, code: ErrorCode, node: i32) -> Coordinator {
        Coordinator {
            key: key.into(),
            node_id: node,
            host: format!("h{node}"),
            port: 9092,
            error_code: code.0,
            error_message: None,
            ..Default::default()
        }
    }

    /// Asks, expecting requests.
    fn ask(
        l: &mut Lookup,
        now: Instant,
        version: i16,
    ) -> Vec<(Vec<String>, FindCoordinatorRequest)> {
        assert_eq!(l.next(now), Next::Ask);
        l.requests(version)
    }

    fn wait(l: &mut Lookup, now: Instant) -> Instant {
        match l.next(now) {
            Next::Wait(at) => at,
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    #[test]
    fn batched_from_v4_with_per_key_errors_and_retries() {
        let now = Instant::now();
        let mut l = Lookup::new(CoordinatorType::Group, ["a", "b", "c", "a"], policy(now));
        let reqs = ask(&mut l, now, 4);
        assert_eq!(reqs.len(), 1, "one batched request");
        let (keys, req) = &reqs[0];
        assert_eq!(req.coordinator_keys, ["a", "b", "c"]);
        assert_eq!(req.key_type, 0);
        assert!(req.key.is_empty());
        // Answers are owed: nothing more to ask.
        assert_eq!(l.next(now), Next::Wait(now));
        l.on_response(
            now,
            keys,
            4,
            FindCoordinatorResponse {
                coordinators: vec![
                    coord("a", ErrorCode::NONE, 1),
                    coord("b", ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, -1),
                    coord("c", ErrorCode::GROUP_AUTHORIZATION_FAILED, -1),
                    // Not asked for: ignored.
                    coord("zzz", ErrorCode::NONE, 7),
                ],
                ..Default::default()
            },
        );
        // b waits out a backoff, then is asked alone.
        let at = wait(&mut l, now);
        assert!(at > now && at <= now + Duration::from_millis(120));
        let reqs = ask(&mut l, at, 4);
        assert_eq!(reqs[0].1.coordinator_keys, ["b"]);
        l.on_response(
            at,
            &reqs[0].0,
            4,
            FindCoordinatorResponse {
                coordinators: vec![coord("b", ErrorCode::NONE, 2)],
                ..Default::default()
            },
        );
        assert_eq!(l.next(at), Next::Done);
        let out = l.finish();
        assert_eq!(out.len(), 3);
        assert_eq!(out["a"].as_ref().unwrap().id, 1);
        assert_eq!(out["b"].as_ref().unwrap().id, 2);
        let e = out["c"].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED));
        assert!(e.to_string().contains("group 'c'"), "{e}");
    }

    #[test]
    fn one_request_per_key_before_v4() {
        let now = Instant::now();
        let mut l = Lookup::new(CoordinatorType::Transaction, ["t1", "t2"], policy(now));
        let reqs = ask(&mut l, now, 3);
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].1.key, "t1");
        assert_eq!(reqs[0].1.key_type, 1);
        assert!(reqs[0].1.coordinator_keys.is_empty());
        l.on_response(
            now,
            &reqs[0].0,
            3,
            FindCoordinatorResponse {
                node_id: 3,
                host: "h3".into(),
                port: 9093,
                ..Default::default()
            },
        );
        l.on_response(
            now,
            &reqs[1].0,
            3,
            FindCoordinatorResponse {
                error_code: ErrorCode::NOT_COORDINATOR.0,
                node_id: -1,
                ..Default::default()
            },
        );
        let at = wait(&mut l, now);
        let reqs = ask(&mut l, at, 3);
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].1.key, "t2");
        l.on_response(
            at,
            &reqs[0].0,
            3,
            FindCoordinatorResponse {
                node_id: 4,
                host: "h4".into(),
                port: 9094,
                ..Default::default()
            },
        );
        assert_eq!(l.next(at), Next::Done);
        let out = l.finish();
        assert_eq!(out["t1"].as_ref().unwrap().addr(), "h3:9093");
        assert_eq!(out["t2"].as_ref().unwrap().addr(), "h4:9094");
    }

    #[test]
    fn v0_finds_groups_only() {
        let now = Instant::now();
        let mut l = Lookup::new(CoordinatorType::Transaction, ["t"], policy(now));
        assert!(ask(&mut l, now, 0).is_empty());
        assert_eq!(l.next(now), Next::Done);
        assert!(matches!(l.finish()["t"], Err(Error::Unsupported(_))));
        let mut l = Lookup::new(CoordinatorType::Group, ["g"], policy(now));
        let reqs = ask(&mut l, now, 0);
        assert_eq!((reqs[0].1.key.as_str(), reqs[0].1.key_type), ("g", 0));
    }

    #[test]
    fn deadline_fails_pending_keys_with_their_last_error() {
        let now = Instant::now();
        let mut p = policy(now);
        p.deadline = now + Duration::from_millis(150);
        let mut l = Lookup::new(CoordinatorType::Group, ["g"], p);
        let mut t = now;
        let mut asked = 0;
        loop {
            match l.next(t) {
                Next::Ask => {
                    asked += 1;
                    let reqs = l.requests(4);
                    l.on_response(
                        t,
                        &reqs[0].0,
                        4,
                        FindCoordinatorResponse {
                            coordinators: vec![coord(
                                "g",
                                ErrorCode::COORDINATOR_NOT_AVAILABLE,
                                -1,
                            )],
                            ..Default::default()
                        },
                    )
                }
                Next::Wait(at) => t = at.max(t + Duration::from_millis(1)),
                Next::Done => break,
            }
        }
        assert!(asked >= 2, "retried before the deadline ({asked})");
        assert!(t >= now + Duration::from_millis(150));
        let e = l.finish().remove("g").unwrap().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::COORDINATOR_NOT_AVAILABLE));
        assert!(e.to_string().contains("group 'g'"), "{e}");
    }

    #[test]
    fn transport_errors_retry_if_retriable_else_fail() {
        let now = Instant::now();
        let mut l = Lookup::new(CoordinatorType::Group, ["g"], policy(now));
        let reqs = ask(&mut l, now, 4);
        l.on_error(now, &reqs[0].0, Error::Disconnected { broker: "b".into() });
        let at = wait(&mut l, now);
        l.on_unreachable(
            at,
            Error::Connect {
                broker: "b".into(),
                reason: "refused".into(),
            },
        );
        let at = wait(&mut l, at);
        let reqs = ask(&mut l, at, 4);
        l.on_error(at, &reqs[0].0, Error::Unsupported("x"));
        assert_eq!(l.next(at), Next::Done);
        assert!(matches!(
            l.finish().remove("g"),
            Some(Err(Error::Unsupported("x")))
        ));
    }

    #[test]
    fn an_answer_without_a_coordinator_is_retried() {
        let now = Instant::now();
        let mut l = Lookup::new(CoordinatorType::Group, ["g"], policy(now));
        let reqs = ask(&mut l, now, 4);
        // NONE but node -1.
        l.on_response(
            now,
            &reqs[0].0,
            4,
            FindCoordinatorResponse {
                coordinators: vec![coord("g", ErrorCode::NONE, -1)],
                ..Default::default()
            },
        );
        assert!(matches!(l.next(now), Next::Wait(_)));
        // A response that leaves the key out.
        let mut l = Lookup::new(CoordinatorType::Group, ["g"], policy(now));
        let reqs = ask(&mut l, now, 4);
        l.on_response(now, &reqs[0].0, 4, FindCoordinatorResponse::default());
        assert!(matches!(l.next(now), Next::Wait(_)));
    }

    #[test]
    fn a_lookup_without_deadline_is_asked_again_after_failures_and_losses() {
        let base = Duration::from_millis(100);
        let now = Instant::now();
        let mut l = Lookup::without_deadline(CoordinatorType::Group, ["g"], base, base * 10);
        let answer = |l: &mut Lookup, at: Instant, code: ErrorCode, node: i32| {
            let reqs = ask(l, at, 4);
            assert_eq!(reqs.len(), 1);
            l.on_response(
                at,
                &reqs[0].0,
                4,
                FindCoordinatorResponse {
                    coordinators: vec![coord("g", code, node)],
                    ..Default::default()
                },
            );
        };
        // Retriable: no outcome, the last error is kept, a backoff runs.
        answer(&mut l, now, ErrorCode::COORDINATOR_NOT_AVAILABLE, -1);
        assert!(l.take("g").is_none());
        assert_eq!(
            l.last_error("g").and_then(Error::code),
            Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
        );
        let first = wait(&mut l, now);
        assert_eq!(l.not_before(), Some(first));
        // Failed for good: the outcome is taken and the key asked again,
        // after a longer backoff (failures in a row, of any kind).
        answer(&mut l, first, ErrorCode::INVALID_REQUEST, -1);
        let e = l.take("g").unwrap().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_REQUEST));
        assert!(l.take("g").is_none(), "taken once");
        assert_eq!(l.next(first), Next::Done);
        l.ask("g");
        let second = wait(&mut l, first);
        assert!(second - first >= base.mul_f64(1.6), "{:?}", second - first);
        // Found: taken; asked again (the coordinator was lost), at once.
        answer(&mut l, second, ErrorCode::NONE, 3);
        assert_eq!(l.take("g").unwrap().unwrap().id, 3);
        assert_eq!(l.next(second), Next::Done);
        l.ask("g");
        assert_eq!(l.next(second), Next::Ask);
        // And its next failure waits the base backoff again; no deadline
        // ever ends it.
        answer(&mut l, second, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, -1);
        let third = wait(&mut l, second);
        assert!(third - second <= base.mul_f64(1.2), "{:?}", third - second);
        let later = second + Duration::from_secs(1_000_000);
        assert_eq!(l.next(later), Next::Ask);
    }
}
