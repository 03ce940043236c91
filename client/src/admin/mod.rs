//! The admin client: Java's `Admin`, for applications and tools.
//!
//! [`Admin`] creates, lists, describes and deletes topics, reads and alters
//! configs, inspects consumer groups (their members, committed offsets and
//! lag), resets or deletes offsets, lists partition offsets and deletes
//! records, and so on. One [`Admin`] shares its connections among its
//! calls; it is cheap to clone.
//!
//! ```no_run
//! use purekafka::admin::NewTopic;
//! use purekafka::{Admin, AdminConfig};
//!
//! # async fn demo() -> purekafka::Result<()> {
//! let admin = Admin::new(AdminConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("default.api.timeout.ms", "30000"),
//! ])?).await?;
//! let created = admin
//!     .create_topics([NewTopic::new("events", 6, 3).config("retention.ms", "86400000")])
//!     .await?;
//! for (topic, outcome) in &created {
//!     match outcome {
//!         Ok(t) => println!("{topic}: created, id {}", t.topic_id),
//!         Err(e) => eprintln!("{topic}: {e}"),
//!     }
//! }
//! for t in admin.list_topics().await? {
//!     println!("{}", t.name);
//! }
//! # Ok(()) }
//! ```
//!
//! # Calls and results
//!
//! Every call has an options struct where Kafka has options (a timeout,
//! `validate_only`, ...) and a `*_with` form taking it; the plain form uses
//! the defaults. A call about several resources (topics, groups, config
//! resources) returns one outcome per resource, a map from the resource to
//! its `Result`: one topic's failure does not hide the others' outcomes.
//! The outer `Result` fails only for the call as a whole (no broker
//! reachable within the timeout, a request the broker cannot take).
//! A per-resource error is an [`Error::Kafka`] naming the resource, the API
//! and the broker's code and message. [`AllOk::all`] turns a map of
//! outcomes into one `Result`.
//!
//! # Routing and retries
//!
//! Each request goes where Kafka wants it (`Target`): most to any broker
//! (under KRaft, a broker forwards topic and config changes to the
//! controller), group requests to the group's coordinator (found with the
//! one FindCoordinator lookup, `net::coordinator`), partition requests to
//! the partition's leader. A call retries, with `retry.backoff.ms` doubling
//! up to `retry.backoff.max.ms`, on retriable network errors, on
//! NOT_CONTROLLER (after a metadata refresh), and when a coordinator moved
//! or is loading (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE: looked up
//! again; COORDINATOR_LOAD_IN_PROGRESS), until its timeout: the call's
//! option or `default.api.timeout.ms`. One request waits at most
//! `request.timeout.ms`. Versions are negotiated per broker (ApiVersions).
//!
//! # For the families' code (crate-internal)
//!
//! A family (`topics.rs`, `acls.rs`, ...) is an `impl Admin` block that
//! builds a request, sends it and turns the response into typed
//! per-resource results. Sending: `Admin::call_until` to a target
//! (`call_any` to any broker, `call_coordinator` to a group's or
//! transactional id's coordinator, `call_with` for a request built per
//! version, whose `NeedsVersion` is the typed "broker too old" error;
//! `call_capped` / `call_with_max` below a version), with `retry_on`
//! reading the code that calls for another try (`top_level`,
//! `not_controller`); what a retry does first is `next_step`'s decision
//! (sans-IO). Rounds: `per_resource` retries the resources whose error
//! is retriable, `per_leader` (`leaders.rs`) sends one request per
//! partition leader, `each_key` one request per group or id. Shapes:
//! `by_topic` groups a request's partitions, `per_partition` /
//! `by_partition` read a response's, `check` / `check_topic` turn a code
//! into an outcome naming the resource, `no_result` is a resource the
//! broker left out.

use crate::TopicPartition;
use crate::config::AdminConfig;
use crate::consumer::backoff::Retries;
use crate::error::{Error, Result};
use crate::net::cluster::{Cluster, ClusterOptions};
use crate::net::conn::{Connection, encode_frame};
use crate::net::coordinator::{CoordinatorType, Coordinators, RetryPolicy, coordinator_connection};
use purekafka_protocol::frame::EncodedRequest;
use purekafka_protocol::{ErrorCode, Request};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

// The call families, one file each; their public types are re-exported
// here (`purekafka::admin::NewTopic`).
pub mod acls;
pub mod cluster;
pub mod configs;
pub mod groups;
mod leaders;
pub mod offsets;
pub mod quotas;
pub mod scram;
pub mod topics;
pub mod transactions;

pub use acls::*;
pub use cluster::*;
pub use configs::*;
pub use groups::*;
pub use offsets::*;
pub use quotas::*;
pub use scram::*;
pub use topics::*;
pub use transactions::*;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Any broker (a live connection if there is one): metadata, topic and
    /// config changes (forwarded to the controller under KRaft), ACLs,
    /// FindCoordinator, ListGroups of one broker...
    Any,
    /// The controller as metadata names it (under KRaft, a broker chosen by
    /// the cluster); NOT_CONTROLLER refreshes metadata and retries.
    Controller,
    /// One broker by node id: a partition leader, a broker's own configs
    /// or log dirs.
    Broker(i32),
    /// The coordinator of a group or transactional id, looked up (and
    /// cached); NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE forget it and
    /// look again.
    Coordinator(CoordinatorType, String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Any => f.write_str("any broker"),
            Target::Controller => f.write_str("the controller"),
            Target::Broker(id) => write!(f, "broker {id}"),
            Target::Coordinator(t, k) => write!(f, "the coordinator of {} '{k}'", t.noun()),
        }
    }
}

/// A map of per-resource outcomes, as the admin calls return them.
pub trait AllOk<K, T> {
    /// Every value, or the first error (in key order).
    fn all(self) -> Result<BTreeMap<K, T>>;
}

impl<K: Ord, T> AllOk<K, T> for BTreeMap<K, Result<T>> {
    fn all(self) -> Result<BTreeMap<K, T>> {
        self.into_iter().map(|(k, r)| r.map(|v| (k, v))).collect()
    }
}

/// `one(key)` for each key in turn (in order, once each): each key's
/// outcome, for the calls that ask about one resource per request.
pub(crate) async fn each_key<K, T, F, Fut>(
    keys: impl IntoIterator<Item = K>,
    mut one: F,
) -> BTreeMap<K, Result<T>>
where
    K: Ord + Clone,
    F: FnMut(K) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let keys: std::collections::BTreeSet<K> = keys.into_iter().collect();
    let mut out = BTreeMap::new();
    for k in keys {
        let r = one(k.clone()).await;
        out.insert(k, r);
    }
    out
}

struct Inner {
    cluster: Cluster,
    config: AdminConfig,
    coordinators: Coordinators,
}

/// The admin client (Java's `Admin`); cheap to clone. See the
/// [module docs](self).
#[derive(Clone)]
pub struct Admin {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("cluster", &self.inner.cluster)
            .finish()
    }
}

/// The remaining time until `deadline` in whole milliseconds, for a
/// request's own `timeoutMs` field (at least 1, at most `i32::MAX`).
pub(crate) fn remaining_ms(deadline: Instant) -> i32 {
    let ms = deadline
        .saturating_duration_since(Instant::now())
        .as_millis();
    i32::try_from(ms).unwrap_or(i32::MAX).max(1)
}

/// A Kafka error for one named resource (a group, a config resource...)
/// that is not a topic: `what` names it in the message.
pub(crate) fn resource_error(
    code: ErrorCode,
    api: &'static str,
    what: &str,
    message: Option<&str>,
) -> Error {
    Error::Kafka {
        code,
        api,
        topic: None,
        partition: None,
        message: Some(match message.filter(|m| !m.is_empty()) {
            Some(m) => format!("{what}: {m}"),
            None => what.to_string(),
        }),
    }
}

/// [`resource_error`] whose text adds what to do (`hint`: the grant the
/// principal needs, ...) to the broker's message.
pub(crate) fn hinted_error(
    code: ErrorCode,
    api: &'static str,
    what: &str,
    message: Option<&str>,
    hint: Option<&str>,
) -> Error {
    let message = match (message.filter(|m| !m.is_empty()), hint) {
        (Some(m), Some(h)) => Some(format!("{m} ({h})")),
        (m, h) => m.or(h).map(str::to_string),
    };
    resource_error(code, api, what, message.as_deref())
}

/// The error of a resource the broker's response left out (`what` names
/// it): UNKNOWN_SERVER_ERROR, never a silent success.
pub(crate) fn no_result(api: &'static str, what: &dyn std::fmt::Display) -> Error {
    resource_error(
        ErrorCode::UNKNOWN_SERVER_ERROR,
        api,
        &what.to_string(),
        Some("the broker sent no result for it"),
    )
}

/// A Kafka error for a topic (and partition), with the broker's message.
pub(crate) fn topic_error(
    code: ErrorCode,
    api: &'static str,
    topic: &str,
    partition: Option<i32>,
    message: Option<&str>,
) -> Error {
    Error::Kafka {
        code,
        api,
        topic: Some(topic.to_string()),
        partition,
        message: message.filter(|m| !m.is_empty()).map(str::to_string),
    }
}

/// `Ok(())` for NONE, else the error `err` makes of the code: a
/// per-resource (or top-level) code turned into that resource's outcome.
pub(crate) fn check(code: i16, err: impl FnOnce(ErrorCode) -> Error) -> Result<()> {
    let code = ErrorCode(code);
    if code.is_ok() { Ok(()) } else { Err(err(code)) }
}

/// [`check`] for a topic (and partition): the error names them, with the
/// broker's message.
pub(crate) fn check_topic(
    code: i16,
    api: &'static str,
    topic: &str,
    partition: Option<i32>,
    message: Option<&str>,
) -> Result<()> {
    check(code, |c| topic_error(c, api, topic, partition, message))
}

/// A response's `(topic, partitions)` lists by partition: `read` gives a
/// partition's index and value.
pub(crate) fn by_partition<P, T>(
    topics: impl IntoIterator<Item = (String, Vec<P>)>,
    read: impl Fn(&str, P) -> (i32, T),
) -> BTreeMap<TopicPartition, T> {
    let mut out = BTreeMap::new();
    for (topic, partitions) in topics {
        let topic: std::sync::Arc<str> = topic.into();
        for p in partitions {
            let (index, value) = read(&topic, p);
            out.insert(TopicPartition::new(topic.clone(), index), value);
        }
    }
    out
}

/// Each partition's outcome in a response's `(topic, partitions)` lists:
/// `read` gives a partition's index, error code, the broker's message and
/// its value (taken where the code is NONE).
pub(crate) fn per_partition<P, T>(
    api: &'static str,
    topics: impl IntoIterator<Item = (String, Vec<P>)>,
    read: impl Fn(P) -> (i32, i16, Option<String>, T),
) -> BTreeMap<TopicPartition, Result<T>> {
    by_partition(topics, |topic, p| {
        let (index, code, message, value) = read(p);
        let r = check_topic(code, api, topic, Some(index), message.as_deref()).map(|()| value);
        (index, r)
    })
}

/// Items grouped by topic, topics in name order and each topic's items in
/// the order given: the shape of the requests that list topics and their
/// partitions.
pub(crate) fn by_topic<'a, T>(
    items: impl IntoIterator<Item = (&'a TopicPartition, T)>,
) -> BTreeMap<&'a str, Vec<T>> {
    let mut out: BTreeMap<&str, Vec<T>> = BTreeMap::new();
    for (tp, item) in items {
        out.entry(tp.topic()).or_default().push(item);
    }
    out
}

/// What a request built for the version negotiated with a broker cannot
/// carry: the first version that does, and what, by Kafka's field name
/// (`validateOnly`) or in words. `call_with` turns it into
/// [`Error::UnsupportedByBroker`] naming the broker, API and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NeedsVersion {
    /// The first version that carries it.
    pub(crate) needs: i16,
    /// What the call asked for.
    pub(crate) what: &'static str,
}

impl NeedsVersion {
    /// The error for `broker`, whose `api` is at `version`.
    pub(crate) fn error(self, broker: &str, api: &'static str, version: i16) -> Error {
        Error::UnsupportedByBroker {
            broker: broker.to_string(),
            api,
            version,
            needs: self.needs,
            what: self.what,
        }
    }
}

/// `Ok` if `version` carries `what` (from version `needs` on).
pub(crate) fn require(
    version: i16,
    needs: i16,
    what: &'static str,
) -> std::result::Result<(), NeedsVersion> {
    if version >= needs {
        Ok(())
    } else {
        Err(NeedsVersion { needs, what })
    }
}

/// `retry_on` for a response whose top-level error code is its verdict:
/// that code, if it is an error (only retriable ones are retried).
pub(crate) fn top_level(code: i16) -> Option<ErrorCode> {
    ErrorCode(code).is_err().then_some(ErrorCode(code))
}

/// `retry_on` for a controller request: NOT_CONTROLLER only (the
/// controller moved; any other top-level error is the answer).
pub(crate) fn not_controller(code: i16) -> Option<ErrorCode> {
    (ErrorCode(code) == ErrorCode::NOT_CONTROLLER).then_some(ErrorCode::NOT_CONTROLLER)
}

/// Whether a top-level (or per-resource) code calls for another try of
/// the request.
fn is_retriable_code(code: ErrorCode) -> bool {
    code == ErrorCode::NOT_CONTROLLER
        || code == ErrorCode::NOT_COORDINATOR
        || code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        || code.is_retriable()
}

/// One attempt of a call, as far as retrying goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Attempt<'a> {
    /// A response, with the error code `retry_on` read from it (`None`:
    /// take it).
    Answered(Option<ErrorCode>),
    /// No response: the request (or the connection, or the coordinator
    /// lookup) failed.
    Failed(&'a Error),
}

/// What a call does after an attempt (the decision of `call_inner`,
/// sans-IO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Return the response, or the error, as it is.
    Done,
    /// Try again after a backoff (at most until the deadline), first
    /// doing this.
    Retry(Prepare),
}

/// What to do before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prepare {
    /// Nothing: the same broker again (a coordinator loading, a request
    /// timed out, ...).
    Nothing,
    /// Forget the cached coordinator and look it up again (it moved, or
    /// its connection failed).
    FindCoordinator,
    /// Refresh the metadata (the controller or a leader moved, or the
    /// broker went away).
    RefreshMetadata,
}

/// After `attempt` at `target`: done, or retry and how.
pub(crate) fn next_step(target: &Target, attempt: Attempt<'_>) -> Next {
    let code = match attempt {
        Attempt::Answered(Some(code)) if is_retriable_code(code) => Some(code),
        Attempt::Answered(_) => return Next::Done,
        Attempt::Failed(e) if e.is_retriable() => None,
        Attempt::Failed(_) => return Next::Done,
    };
    Next::Retry(match (target, code) {
        (Target::Coordinator(..), Some(c))
            if c == ErrorCode::NOT_COORDINATOR || c == ErrorCode::COORDINATOR_NOT_AVAILABLE =>
        {
            Prepare::FindCoordinator
        }
        // A connection failure: the coordinator may have moved.
        (Target::Coordinator(..), None) => Prepare::FindCoordinator,
        (_, Some(c)) if c == ErrorCode::NOT_CONTROLLER || c.is_stale_metadata() => {
            Prepare::RefreshMetadata
        }
        (Target::Controller | Target::Broker(_), None) => Prepare::RefreshMetadata,
        _ => Prepare::Nothing,
    })
}

impl Admin {
    /// Connects to the cluster (`bootstrap.servers`) and loads its
    /// metadata. The config is validated first.
    pub async fn new(config: AdminConfig) -> Result<Admin> {
        config.validate()?;
        let mut opts = ClusterOptions::from_config(&config.client);
        // An admin client never creates a topic by asking about it.
        opts.allow_auto_create_topics = false;
        let cluster = Cluster::connect(opts).await?;
        Ok(Admin {
            inner: Arc::new(Inner {
                cluster,
                config,
                coordinators: Coordinators::default(),
            }),
        })
    }

    /// An admin over a client's existing connections (the consumer's
    /// offset lookups use it); the config supplies the timeouts.
    pub(crate) fn over(cluster: Cluster, config: AdminConfig) -> Admin {
        Admin {
            inner: Arc::new(Inner {
                cluster,
                config,
                coordinators: Coordinators::default(),
            }),
        }
    }

    /// The config in force.
    pub fn config(&self) -> &AdminConfig {
        &self.inner.config
    }

    pub(crate) fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// The deadline of a call started now: its own `timeout`, else
    /// `default.api.timeout.ms`.
    pub(crate) fn deadline(&self, timeout: Option<Duration>) -> Instant {
        Instant::now() + timeout.unwrap_or(self.inner.config.default_api_timeout)
    }

    /// The retry policy of a call ending at `deadline`.
    pub(crate) fn retry_policy(&self, deadline: Instant) -> RetryPolicy {
        RetryPolicy {
            backoff: self.inner.config.client.retry_backoff,
            backoff_max: self.inner.config.client.retry_backoff_max,
            deadline: deadline.into_std(),
        }
    }

    /// A connection to `target`.
    pub(crate) async fn connection(
        &self,
        target: &Target,
        deadline: Instant,
    ) -> Result<Connection> {
        let cluster = &self.inner.cluster;
        match target {
            Target::Any => cluster.any_broker().await,
            Target::Controller => {
                let id = cluster.metadata().controller;
                if id >= 0 {
                    cluster.broker(id).await
                } else {
                    cluster.any_broker().await
                }
            }
            Target::Broker(id) => {
                if !cluster.metadata().brokers.contains_key(id) {
                    cluster.refresh_metadata().await?;
                }
                cluster.broker(*id).await
            }
            Target::Coordinator(kind, key) => {
                let c = self
                    .inner
                    .coordinators
                    .find(cluster, *kind, key, self.retry_policy(deadline))
                    .await?;
                match coordinator_connection(cluster, &c).await {
                    Ok(conn) => Ok(conn),
                    Err(e) => {
                        self.inner.coordinators.forget(*kind, key);
                        Err(e)
                    }
                }
            }
        }
    }

    /// Does what [`next_step`] asked before a retry of `target`.
    async fn prepare_retry(&self, target: &Target, prepare: Prepare) {
        match (prepare, target) {
            (Prepare::FindCoordinator, Target::Coordinator(kind, key)) => {
                self.inner.coordinators.forget(*kind, key);
            }
            (Prepare::RefreshMetadata, _) => {
                if let Err(e) = self.inner.cluster.refresh_metadata().await {
                    tracing::debug!("admin: metadata refresh before a retry failed: {e}");
                }
            }
            _ => {}
        }
    }

    /// Sends `req` to `target` and returns the response, retrying
    /// retriable failures until `deadline` (see [`deadline`](Self::deadline));
    /// `retry_on` reads a response and returns the top-level error code
    /// that calls for another try (NOT_CONTROLLER, NOT_COORDINATOR, ...;
    /// only retriable ones are retried, see [`next_step`]), or `None` to
    /// take it. A response still failing at the deadline is returned as it
    /// is, for the caller to report its errors.
    pub(crate) async fn call_until<R: Request>(
        &self,
        target: Target,
        req: &R,
        deadline: Instant,
        retry_on: impl Fn(&R::Response) -> Option<ErrorCode>,
    ) -> Result<R::Response> {
        self.call_inner::<R>(
            &target,
            deadline,
            i16::MAX,
            &|v, _| encode_frame(req, v),
            &retry_on,
        )
        .await
        .map(|(resp, _)| resp)
    }

    /// [`call_until`](Self::call_until) to any broker, within `timeout`
    /// (`None`: `default.api.timeout.ms`): for the requests any broker
    /// takes (under KRaft it forwards changes to the controller).
    pub(crate) async fn call_any<R: Request>(
        &self,
        req: &R,
        timeout: Option<Duration>,
        retry_on: impl Fn(&R::Response) -> Option<ErrorCode>,
    ) -> Result<R::Response> {
        let deadline = self.deadline(timeout);
        self.call_until(Target::Any, req, deadline, retry_on).await
    }

    /// [`call_until`](Self::call_until) at no version above `max_version`:
    /// for requests whose newer versions name topics by id only
    /// (OffsetFetch, OffsetCommit v10), where the call works with names.
    pub(crate) async fn call_capped<R: Request>(
        &self,
        target: Target,
        req: &R,
        deadline: Instant,
        max_version: i16,
        retry_on: impl Fn(&R::Response) -> Option<ErrorCode>,
    ) -> Result<(R::Response, i16)> {
        self.call_inner::<R>(
            &target,
            deadline,
            max_version,
            &|v, _| encode_frame(req, v),
            &retry_on,
        )
        .await
    }

    /// [`call_until`](Self::call_until) with a request built for the
    /// version negotiated with the broker it goes to (`build(version)`;
    /// a [`NeedsVersion`] fails the call with
    /// [`Error::UnsupportedByBroker`]); returns the response and that
    /// version.
    pub(crate) async fn call_with<R: Request>(
        &self,
        target: Target,
        deadline: Instant,
        build: impl Fn(i16) -> std::result::Result<R, NeedsVersion>,
        retry_on: impl Fn(&R::Response) -> Option<ErrorCode>,
    ) -> Result<(R::Response, i16)> {
        self.call_with_max(target, deadline, i16::MAX, build, retry_on)
            .await
    }

    /// [`call_with`](Self::call_with) at no version above `max_version`
    /// (see [`call_capped`](Self::call_capped)).
    pub(crate) async fn call_with_max<R: Request>(
        &self,
        target: Target,
        deadline: Instant,
        max_version: i16,
        build: impl Fn(i16) -> std::result::Result<R, NeedsVersion>,
        retry_on: impl Fn(&R::Response) -> Option<ErrorCode>,
    ) -> Result<(R::Response, i16)> {
        let encode = |v: i16, broker: &str| {
            let req = build(v).map_err(|n| n.error(broker, R::KEY.name(), v))?;
            encode_frame(&req, v)
        };
        self.call_inner::<R>(&target, deadline, max_version, &encode, &retry_on)
            .await
    }

    /// The retry loop of every call: `encode(version, broker)` the request
    /// for the version negotiated with the broker (at most `max_version`),
    /// send it, and do what [`next_step`] says.
    async fn call_inner<R: Request>(
        &self,
        target: &Target,
        deadline: Instant,
        max_version: i16,
        encode: &dyn Fn(i16, &str) -> Result<EncodedRequest>,
        retry_on: &dyn Fn(&R::Response) -> Option<ErrorCode>,
    ) -> Result<(R::Response, i16)> {
        let api = R::KEY.name();
        let request_timeout = self.inner.config.client.request_timeout;
        let mut retries = Retries::default();
        // The last failure: a response whose error called for a retry, or
        // a retriable error. At the deadline it is the call's answer.
        let mut last: Option<Result<(R::Response, i16)>> = None;
        loop {
            if Instant::now() >= deadline {
                return last.unwrap_or(Err(Error::RequestTimeout {
                    broker: target.to_string(),
                    api,
                    timeout: self.inner.config.default_api_timeout,
                }));
            }
            let attempt = async {
                let conn = self.connection(target, deadline).await?;
                let version = conn.version_for(R::KEY)?.min(max_version);
                let encoded = encode(version, conn.broker())?;
                let remaining = deadline.saturating_duration_since(Instant::now());
                let resp = conn
                    .submit(encoded, request_timeout.min(remaining))
                    .await?
                    .decode::<R>()
                    .await?;
                Ok::<_, Error>((resp, version))
            };
            let Ok(outcome) = tokio::time::timeout_at(deadline, attempt).await else {
                continue;
            };
            let next = match &outcome {
                Ok((resp, _)) => next_step(target, Attempt::Answered(retry_on(resp))),
                Err(e) => next_step(target, Attempt::Failed(e)),
            };
            let Next::Retry(prepare) = next else {
                return outcome;
            };
            match &outcome {
                Ok(_) => tracing::debug!(%target, api, ?prepare, "admin: retrying"),
                Err(e) => tracing::debug!(%target, api, ?prepare, "admin: retrying after {e}"),
            }
            last = Some(outcome);
            self.prepare_retry(target, prepare).await;
            let wait = retries.failed(
                self.inner.config.client.retry_backoff,
                self.inner.config.client.retry_backoff_max,
            );
            tokio::time::sleep_until((Instant::now() + wait).min(deadline)).await;
        }
    }

    /// Sends `req`, about one group or transactional id (`key`), to its
    /// coordinator, retrying while it moves or loads (the code `retry_on`
    /// reads, see [`call_until`](Self::call_until)); returns the response
    /// and the node id of the coordinator that answered.
    pub(crate) async fn call_coordinator<R: Request>(
        &self,
        kind: CoordinatorType,
        key: &str,
        req: &R,
        deadline: Instant,
        retry_on: impl Fn(&R::Response) -> Option<ErrorCode>,
    ) -> Result<(R::Response, i32)> {
        let target = Target::Coordinator(kind, key.to_string());
        let resp = self.call_until(target, req, deadline, retry_on).await?;
        let id = self.inner.coordinators.get(kind, key).map_or(-1, |b| b.id);
        Ok((resp, id))
    }

    /// Per-resource retries: `round(keys)` sends one request for `keys` and
    /// returns each key's outcome; keys whose error `retry` accepts (and is
    /// retriable) go again, after a backoff, until `deadline`. A later
    /// round failing as a whole fails only the keys it carried. A key the
    /// broker did not answer fails naming it.
    pub(crate) async fn per_resource<K, T, F, Fut>(
        &self,
        api: &'static str,
        keys: impl IntoIterator<Item = K>,
        deadline: Instant,
        retry: impl Fn(&Error) -> bool,
        mut round: F,
    ) -> Result<BTreeMap<K, Result<T>>>
    where
        K: Ord + Clone + std::fmt::Display,
        F: FnMut(Vec<K>) -> Fut,
        Fut: std::future::Future<Output = Result<BTreeMap<K, Result<T>>>>,
    {
        let mut pending: Vec<K> = keys.into_iter().collect();
        pending.sort();
        pending.dedup();
        let mut done = BTreeMap::new();
        let mut retries = Retries::default();
        let mut first = true;
        while !pending.is_empty() {
            let mut results = match round(pending.clone()).await {
                Ok(r) => r,
                Err(e) if first => return Err(e),
                Err(e) => pending
                    .iter()
                    .map(|k| (k.clone(), Err(e.clone())))
                    .collect(),
            };
            first = false;
            let last_round = Instant::now() >= deadline;
            let mut again = Vec::new();
            for k in pending {
                match results.remove(&k) {
                    Some(Err(e)) if !last_round && e.is_retriable() && retry(&e) => {
                        tracing::debug!(api, resource = %k, "admin: retrying after {e}");
                        done.insert(k.clone(), Err(e));
                        again.push(k);
                    }
                    Some(r) => {
                        done.insert(k, r);
                    }
                    None => {
                        let e = no_result(api, &k);
                        done.insert(k, Err(e));
                    }
                }
            }
            pending = again;
            if !pending.is_empty() {
                let wait = retries.failed(
                    self.inner.config.client.retry_backoff,
                    self.inner.config.client.retry_backoff_max,
                );
                tokio::time::sleep_until((Instant::now() + wait).min(deadline)).await;
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn admin_config_takes_admin_and_client_properties() {
        let c = AdminConfig::from_properties([
            ("bootstrap.servers", "localhost:9092"),
            ("default.api.timeout.ms", "15000"),
            ("request.timeout.ms", "5000"),
            ("retry.backoff.ms", "50"),
            ("retry.backoff.max.ms", "800"),
        ])
        .unwrap();
        assert_eq!(c.default_api_timeout, Duration::from_secs(15));
        assert_eq!(c.client.request_timeout, Duration::from_secs(5));
        assert_eq!(c.client.retry_backoff, Duration::from_millis(50));
        assert_eq!(c.client.retry_backoff_max, Duration::from_millis(800));
        assert_eq!(
            AdminConfig::default().default_api_timeout,
            Duration::from_secs(60)
        );
        let e = AdminConfig::from_properties([
            ("bootstrap.servers", "localhost:9092"),
            ("linger.ms", "5"),
        ])
        .unwrap_err();
        assert_eq!(e.property, "linger.ms");
        assert!(e.reason.contains("producer property"), "{e}");
        let mut client = crate::config::ClientConfig::default();
        // Not a plain client property: it belongs to the typed configs
        // that have it (the consumer's too, since its offset lookups).
        let e = client.set("default.api.timeout.ms", "1").unwrap_err();
        assert!(
            e.reason.contains("AdminConfig") || e.reason.contains("ConsumerConfig"),
            "{e}"
        );
    }

    fn group(g: &str) -> Target {
        Target::Coordinator(CoordinatorType::Group, g.into())
    }

    #[test]
    fn coordinator_errors_look_the_coordinator_up_again_or_wait() {
        let answered = |c: ErrorCode| Attempt::Answered(Some(c));
        // Moved: forget it and look again.
        for c in [
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ] {
            assert_eq!(
                next_step(&group("g"), answered(c)),
                Next::Retry(Prepare::FindCoordinator),
                "{c}"
            );
        }
        // Loading: the same coordinator again, after a backoff.
        assert_eq!(
            next_step(
                &group("g"),
                answered(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
            ),
            Next::Retry(Prepare::Nothing)
        );
        // Its connection failed: it may have moved.
        let gone = Error::Disconnected {
            broker: "localhost:9092 (id 1)".into(),
        };
        assert!(gone.is_retriable());
        assert_eq!(
            next_step(&group("g"), Attempt::Failed(&gone)),
            Next::Retry(Prepare::FindCoordinator)
        );
        // An answer (denied, not found) is the answer.
        for c in [
            ErrorCode::GROUP_AUTHORIZATION_FAILED,
            ErrorCode::GROUP_ID_NOT_FOUND,
            ErrorCode::NON_EMPTY_GROUP,
        ] {
            assert_eq!(next_step(&group("g"), answered(c)), Next::Done, "{c}");
        }
        assert_eq!(next_step(&group("g"), Attempt::Answered(None)), Next::Done);
    }

    #[test]
    fn not_controller_refreshes_metadata_and_a_bad_request_is_not_retried() {
        let answered = |c: ErrorCode| Attempt::Answered(Some(c));
        for t in [Target::Any, Target::Controller, Target::Broker(2)] {
            assert_eq!(
                next_step(&t, answered(ErrorCode::NOT_CONTROLLER)),
                Next::Retry(Prepare::RefreshMetadata),
                "{t}"
            );
            assert_eq!(
                next_step(&t, answered(ErrorCode::NOT_LEADER_OR_FOLLOWER)),
                Next::Retry(Prepare::RefreshMetadata),
                "{t}"
            );
            assert_eq!(
                next_step(&t, answered(ErrorCode::INVALID_REQUEST)),
                Next::Done,
                "{t}"
            );
        }
        // A request that timed out: the same broker again (metadata is
        // refreshed for a named broker, which may have gone).
        let late = Error::RequestTimeout {
            broker: "b".into(),
            api: "CreateTopics",
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            next_step(&Target::Any, Attempt::Failed(&late)),
            Next::Retry(Prepare::Nothing)
        );
        assert_eq!(
            next_step(&Target::Controller, Attempt::Failed(&late)),
            Next::Retry(Prepare::RefreshMetadata)
        );
        // A broker too old for what the call asks: never retried.
        let old = NeedsVersion {
            needs: 1,
            what: "validateOnly",
        }
        .error("b", "UpdateFeatures", 0);
        assert_eq!(
            next_step(&Target::Controller, Attempt::Failed(&old)),
            Next::Done
        );
        assert_eq!(require(1, 1, "x"), Ok(()));
        assert_eq!(
            require(0, 1, "x"),
            Err(NeedsVersion {
                needs: 1,
                what: "x"
            })
        );
    }

    #[test]
    fn retry_on_helpers_read_the_top_level_code() {
        assert_eq!(top_level(0), None);
        assert_eq!(
            top_level(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0),
            Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
        assert_eq!(
            not_controller(ErrorCode::NOT_CONTROLLER.0),
            Some(ErrorCode::NOT_CONTROLLER)
        );
        // Another top-level error of a controller request is its answer.
        assert_eq!(not_controller(ErrorCode::REQUEST_TIMED_OUT.0), None);
    }

    #[test]
    fn all_ok_is_the_first_error_or_every_value() {
        let mut m: BTreeMap<String, Result<i32>> = BTreeMap::new();
        m.insert("a".into(), Ok(1));
        m.insert("b".into(), Ok(2));
        assert_eq!(m.clone().all().unwrap().len(), 2);
        m.insert(
            "c".into(),
            Err(Error::kafka(ErrorCode::INVALID_CONFIG, "X")),
        );
        assert_eq!(m.all().unwrap_err().code(), Some(ErrorCode::INVALID_CONFIG));
    }
}
