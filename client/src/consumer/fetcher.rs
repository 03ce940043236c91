//! The consumer's fetch loop: keeps a Fetch in flight to every leader of an
//! assigned partition while the application works through what came before,
//! resets positions (ListOffsets) when a partition has none, and hands
//! completed fetches to `poll` through a bounded buffer.

use super::fetch_session::{FetchSession, Tp};
use super::partitions::{Applied, Fetched, ResetAsk, Sent};
use super::{Inner, OffsetSpec};
use crate::error::{Error, Result};
use bytes::Bytes;
use purekafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use purekafka_protocol::messages::fetch_response::AbortedTransaction;
use purekafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use purekafka_protocol::messages::{FetchRequest, FetchResponse, ListOffsetsRequest};
use purekafka_protocol::{ApiKey, ErrorCode, Uuid};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Fetched records for one partition, not yet handed to the application.
pub(crate) struct CompletedFetch {
    pub tp: Tp,
    /// The position the fetch was made at.
    pub fetch_offset: i64,
    /// The partition's seek generation when the fetch was sent.
    pub seek_gen: u64,
    pub records: Bytes,
    pub aborted: Vec<AbortedTransaction>,
}

enum FetchResult {
    Fetch {
        broker: i32,
        sent: Vec<Sent>,
        result: Result<FetchResponse>,
        topic_names: HashMap<Uuid, Arc<str>>,
    },
    Reset {
        asked: Vec<ResetAsk>,
        result: Result<HashMap<Tp, i64>>,
    },
}

/// How long to wait before the `failures`-th retry in a row (see
/// [`super::backoff::exponential`]), so a broker that keeps failing is asked
/// at a bounded rate, never at round-trip speed.
pub(crate) fn retry_backoff(cfg: &crate::config::ClientConfig, failures: u32) -> Duration {
    super::backoff::exponential(
        cfg.retry_backoff,
        cfg.retry_backoff_max,
        failures,
        jitter_fraction(),
    )
}

/// A number in [0, 1) that differs between calls (for backoff jitter).
fn jitter_fraction() -> f64 {
    thread_local! {
        static JITTER: std::cell::RefCell<super::backoff::Jitter> =
            std::cell::RefCell::new(super::backoff::Jitter::new());
    }
    JITTER.with(|j| j.borrow_mut().next_fraction())
}

/// Metadata refreshes asked for by the fetch loop (a leader unknown, a
/// stale-metadata error): one at a time, and, while they keep being needed
/// without progress, no more often than the growing retry backoff.
#[derive(Default)]
struct Refresh {
    running: bool,
    /// Asked for since the last one started.
    wanted: bool,
    /// Refreshes started since the last progress (a fetch or reset that
    /// succeeded).
    attempts: u32,
    not_before: Option<Instant>,
}

impl Refresh {
    /// Starts a refresh if one is wanted and allowed now; returns when the
    /// loop must look again otherwise.
    fn maybe_start(
        &mut self,
        inner: &Arc<Inner>,
        done: &mpsc::UnboundedSender<()>,
        now: Instant,
    ) -> Option<Instant> {
        if !self.wanted || self.running {
            return None;
        }
        if let Some(t) = self.not_before.filter(|t| *t > now) {
            return Some(t);
        }
        self.wanted = false;
        self.running = true;
        self.attempts = self.attempts.saturating_add(1);
        self.not_before = Some(now + retry_backoff(&inner.cfg.client, self.attempts));
        let cluster = inner.cluster.clone();
        let done = done.clone();
        tokio::spawn(async move {
            if let Err(e) = cluster.refresh_metadata().await {
                tracing::debug!("consumer metadata refresh: {e}");
            }
            let _ = done.send(());
        });
        None
    }

    /// The cluster answers again: the next refresh waits only the base
    /// backoff after the last one.
    fn progress(&mut self) {
        self.attempts = 0;
    }
}

pub(crate) async fn run(inner: Arc<Inner>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<FetchResult>();
    let mut sessions: HashMap<i32, FetchSession> = HashMap::new();
    let mut in_flight: std::collections::HashSet<i32> = std::collections::HashSet::new();
    let mut refresh = Refresh::default();
    let (refresh_tx, mut refresh_rx) = mpsc::unbounded_channel::<()>();
    loop {
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let md = inner.cluster.metadata();
        let now = Instant::now();
        // What to reset and fetch, by leader: the partition state decides.
        let plan = inner.lock().plan(
            now.into_std(),
            |tp| md.leader(&tp.topic, tp.partition),
            &in_flight,
        );
        if plan.need_metadata {
            refresh.wanted = true;
        }
        // The earliest partition backoff that ends, to look again then.
        let mut wake_at = plan.wake_at.map(Instant::from_std);
        if let Some(t) = refresh.maybe_start(&inner, &refresh_tx, now) {
            wake_at = Some(wake_at.map_or(t, |w| w.min(t)));
        }
        for (leader, asked) in plan.resets {
            let inner = inner.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let result = list_offsets(&inner, leader, &asked).await;
                let _ = tx.send(FetchResult::Reset { asked, result });
            });
        }
        for (leader, (wanted, sent)) in plan.fetches {
            in_flight.insert(leader);
            let session = sessions.entry(leader).or_default();
            let plan = session.plan(&wanted);
            let inner = inner.clone();
            let tx = tx.clone();
            let md = md.clone();
            tokio::spawn(async move {
                let (result, topic_names) = fetch(&inner, leader, plan, &md).await;
                let _ = tx.send(FetchResult::Fetch {
                    broker: leader,
                    sent,
                    result,
                    topic_names,
                });
            });
        }

        tokio::select! {
            Some(r) = rx.recv() => {
                let outcome = match r {
                    FetchResult::Fetch { broker, sent, result, topic_names } => {
                        in_flight.remove(&broker);
                        let session = sessions.entry(broker).or_default();
                        match &result {
                            Ok(resp) => session.on_response(resp.error_code, resp.session_id),
                            Err(_) => session.on_failure(),
                        }
                        handle_fetch(&inner, sent, result, &topic_names)
                    }
                    FetchResult::Reset { asked, result } => handle_reset(&inner, &asked, result),
                };
                if outcome.progress {
                    refresh.progress();
                }
                if outcome.refresh {
                    refresh.wanted = true;
                }
            }
            Some(()) = refresh_rx.recv() => { refresh.running = false; }
            _ = inner.wake_fetcher.notified() => {}
            _ = crate::time::sleep_until_opt(wake_at) => {}
        }
    }
}

async fn fetch(
    inner: &Inner,
    leader: i32,
    plan: super::fetch_session::FetchPlan,
    md: &crate::net::Metadata,
) -> (Result<FetchResponse>, HashMap<Uuid, Arc<str>>) {
    let mut names = HashMap::new();
    let conn = match inner.cluster.broker(leader).await {
        Ok(c) => c,
        Err(e) => return (Err(e), names),
    };
    let mut version = match conn.version_for(ApiKey::Fetch) {
        Ok(v) => v,
        Err(e) => return (Err(e), names),
    };
    let id_of = |t: &str| md.topics.get(t).map_or(Uuid::ZERO, |t| t.id);
    if version >= 13
        && plan
            .send
            .iter()
            .map(|(tp, _)| &tp.topic)
            .chain(plan.forget.iter().map(|tp| &tp.topic))
            .any(|t| id_of(t).is_zero())
    {
        version = 12;
    }
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, pf) in &plan.send {
        let part = FetchPartition {
            partition: tp.partition,
            current_leader_epoch: pf.leader_epoch,
            fetch_offset: pf.offset,
            partition_max_bytes: pf.max_bytes,
            ..Default::default()
        };
        match topics.last_mut().filter(|t| t.topic == *tp.topic) {
            Some(t) => t.partitions.push(part),
            None => {
                let id = id_of(&tp.topic);
                names.insert(id, tp.topic.clone());
                topics.push(FetchTopic {
                    topic: tp.topic.to_string(),
                    topic_id: id,
                    partitions: vec![part],
                    ..Default::default()
                });
            }
        }
    }
    let mut forgotten: Vec<ForgottenTopic> = Vec::new();
    for tp in &plan.forget {
        match forgotten.last_mut().filter(|t| t.topic == *tp.topic) {
            Some(t) => t.partitions.push(tp.partition),
            None => forgotten.push(ForgottenTopic {
                topic: tp.topic.to_string(),
                topic_id: id_of(&tp.topic),
                partitions: vec![tp.partition],
                ..Default::default()
            }),
        }
    }
    // Partitions the session holds but this request does not list can answer
    // too (by topic id only, from v13): know every held topic's id.
    for t in &plan.held_topics {
        names.insert(id_of(t), t.clone());
    }
    let cfg = &inner.cfg;
    let max_wait = cfg.fetch_max_wait;
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX),
        min_bytes: cfg.fetch_min_bytes,
        max_bytes: cfg.fetch_max_bytes,
        isolation_level: cfg.isolation_level.as_i8(),
        session_id: plan.session_id,
        session_epoch: plan.epoch,
        topics,
        forgotten_topics_data: forgotten,
        rack_id: cfg.client.client_rack.clone().unwrap_or_default(),
        ..Default::default()
    };
    let frame = match crate::net::conn::encode_frame(&req, version) {
        Ok(f) => f,
        Err(e) => return (Err(e), names),
    };
    let timeout = cfg.client.request_timeout + max_wait;
    let result = match conn.submit(frame, timeout).await {
        Ok(p) => p.decode::<FetchRequest>().await,
        Err(e) => Err(e),
    };
    (result, names)
}

/// Applies a fetch response to the partition state. A failed request, or
/// a partition's error, backs that partition off (see [`retry_backoff`]).
fn handle_fetch(
    inner: &Inner,
    sent: Vec<Sent>,
    result: Result<FetchResponse>,
    names: &HashMap<Uuid, Arc<str>>,
) -> Applied {
    let now = std::time::Instant::now();
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("fetch failed: {e}");
            inner.lock().fetch_failed(&sent, now, true);
            return Applied {
                refresh: true,
                ..Applied::default()
            };
        }
    };
    let top = ErrorCode(resp.error_code);
    if top != ErrorCode::NONE {
        // A session error resets the session (the next fetch is a full
        // one, which cannot get it again): no backoff for it.
        let session_error = matches!(
            top,
            ErrorCode::FETCH_SESSION_ID_NOT_FOUND | ErrorCode::INVALID_FETCH_SESSION_EPOCH
        );
        if !session_error {
            tracing::debug!("fetch failed: {top}");
        }
        inner.lock().fetch_failed(&sent, now, !session_error);
        return Applied {
            refresh: !session_error,
            ..Applied::default()
        };
    }
    let by_tp: HashMap<&Tp, &Sent> = sent.iter().map(|s| (&s.tp, s)).collect();
    let mut out = Applied::default();
    let mut st = inner.lock();
    for t in resp.responses {
        let topic: Arc<str> = if t.topic.is_empty() {
            match names.get(&t.topic_id) {
                Some(n) => n.clone(),
                None => continue,
            }
        } else {
            Arc::from(t.topic.as_str())
        };
        for p in t.partitions {
            let tp = Tp::new(topic.clone(), p.partition_index);
            let Some(s) = by_tp.get(&tp) else {
                continue;
            };
            let fetched = Fetched {
                code: ErrorCode(p.error_code),
                high_watermark: p.high_watermark,
                last_stable_offset: p.last_stable_offset,
                records: p.records,
                aborted: p.aborted_transactions,
            };
            out.merge(st.apply_fetched(s, fetched, now));
        }
    }
    // Partitions the answer left out are fetched again at the next round
    // (or, caught up, reported at their end).
    out.wake |= st.fetch_done(&sent);
    drop(st);
    if out.wake {
        inner.data.notify_waiters();
    }
    out
}

async fn list_offsets(inner: &Inner, leader: i32, items: &[ResetAsk]) -> Result<HashMap<Tp, i64>> {
    let conn = inner.cluster.broker(leader).await?;
    let mut topics: Vec<ListOffsetsTopic> = Vec::new();
    for ResetAsk { tp, spec, .. } in items {
        let ts = match spec {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(t) => *t,
        };
        let part = ListOffsetsPartition {
            partition_index: tp.partition,
            timestamp: ts,
            current_leader_epoch: -1,
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.name == *tp.topic) {
            Some(t) => t.partitions.push(part),
            None => topics.push(ListOffsetsTopic {
                name: tp.topic.to_string(),
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    let req = ListOffsetsRequest {
        replica_id: -1,
        isolation_level: inner.cfg.isolation_level.as_i8(),
        topics,
        timeout_ms: i32::try_from(inner.cfg.client.request_timeout.as_millis()).unwrap_or(i32::MAX),
        ..Default::default()
    };
    let resp = conn.send(&req).await?;
    let mut out = HashMap::new();
    for t in resp.topics {
        let topic: Arc<str> = Arc::from(t.name.as_str());
        for p in t.partitions {
            let code = ErrorCode(p.error_code);
            if code != ErrorCode::NONE {
                return Err(Error::Kafka {
                    code,
                    api: "ListOffsets",
                    topic: Some(t.name.clone()),
                    partition: Some(p.partition_index),
                    message: None,
                });
            }
            out.insert(Tp::new(topic.clone(), p.partition_index), p.offset);
        }
    }
    Ok(out)
}

/// Applies reset results to the partition state. A failure backs the
/// partitions off (see [`retry_backoff`]).
fn handle_reset(inner: &Inner, asked: &[ResetAsk], result: Result<HashMap<Tp, i64>>) -> Applied {
    let now = std::time::Instant::now();
    let answer = match &result {
        Ok(offsets) => Ok(offsets),
        Err(e) => {
            tracing::debug!("ListOffsets failed: {e}");
            Err(())
        }
    };
    let out = inner.lock().apply_reset(asked, answer, now);
    inner.data.notify_waiters();
    out
}
