//! Incremental fetch sessions (KIP-227), sans-IO: one per broker.
//!
//! The first fetch is full (epoch 0) and asks the broker for a session; after
//! that only partitions that changed (new, or with a new fetch offset or size)
//! are sent, and partitions no longer fetched are listed as forgotten. A
//! session error falls back to a full fetch, as the Java client does. A
//! broker that does not create sessions (session id 0) gets full fetches.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A partition in a fetch: topic and index.
pub type Tp = crate::TopicPartition;

/// What is asked of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartFetch {
    /// Offset to read from.
    pub offset: i64,
    /// `max.partition.fetch.bytes`.
    pub max_bytes: i32,
    /// The leader epoch we believe in (-1 unknown).
    pub leader_epoch: i32,
}

/// One fetch request's partitions, as the session decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    /// Session id to send.
    pub session_id: i32,
    /// Session epoch to send (0: new session, -1: no session).
    pub epoch: i32,
    /// Partitions to list in the request.
    pub send: Vec<(Tp, PartFetch)>,
    /// Partitions to remove from the session.
    pub forget: Vec<Tp>,
    /// Every topic the broker's session holds once this request is applied.
    /// An incremental response can carry data for any of them, also for
    /// partitions this request does not list (with topic ids, v13+, the
    /// response names them only by id, so the request must know them all).
    pub held_topics: Vec<Arc<str>>,
}

fn topics_of(wanted: &BTreeMap<Tp, PartFetch>) -> Vec<Arc<str>> {
    let mut out: Vec<Arc<str>> = Vec::new();
    for tp in wanted.keys() {
        // BTreeMap order keeps one topic's partitions together.
        if out.last() != Some(&tp.topic) {
            out.push(tp.topic.clone());
        }
    }
    out
}

/// The client side of one broker's fetch session.
#[derive(Debug, Default)]
pub struct FetchSession {
    id: i32,
    epoch: i32,
    /// What the broker's session holds (as of the last successful fetch).
    held: BTreeMap<Tp, PartFetch>,
    /// Sent and not yet answered.
    pending: Option<BTreeMap<Tp, PartFetch>>,
    /// Sessions are not used at all (old broker, or disabled).
    disabled: bool,
}

/// Kafka's FETCH_SESSION_ID_NOT_FOUND.
pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
/// Kafka's INVALID_FETCH_SESSION_EPOCH.
pub const INVALID_FETCH_SESSION_EPOCH: i16 = 71;

impl FetchSession {
    /// A session that will start with a full fetch.
    #[cfg(test)]
    pub fn new() -> Self {
        FetchSession::default()
    }

    /// A client that never uses sessions (every fetch full, epoch -1).
    #[cfg(test)]
    pub fn disabled() -> Self {
        FetchSession {
            disabled: true,
            ..FetchSession::default()
        }
    }

    /// Plans the next request for the partitions in `wanted`.
    pub fn plan(&mut self, wanted: &BTreeMap<Tp, PartFetch>) -> FetchPlan {
        self.pending = Some(wanted.clone());
        if self.disabled {
            return FetchPlan {
                session_id: 0,
                epoch: -1,
                send: wanted.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                forget: Vec::new(),
                held_topics: topics_of(wanted),
            };
        }
        if self.id == 0 {
            // Full fetch, asking for a new session.
            return FetchPlan {
                session_id: 0,
                epoch: 0,
                send: wanted.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                forget: Vec::new(),
                held_topics: topics_of(wanted),
            };
        }
        let send = wanted
            .iter()
            .filter(|(k, v)| self.held.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let forget = self
            .held
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        FetchPlan {
            session_id: self.id,
            epoch: self.epoch,
            send,
            forget,
            held_topics: topics_of(wanted),
        }
    }

    /// Records the broker's answer: its top-level error code and session id.
    pub fn on_response(&mut self, error_code: i16, session_id: i32) {
        let sent = self.pending.take().unwrap_or_default();
        if self.disabled {
            return;
        }
        if error_code == FETCH_SESSION_ID_NOT_FOUND || error_code == INVALID_FETCH_SESSION_EPOCH {
            self.reset();
            return;
        }
        if error_code != 0 {
            // Some other top-level error: start over with a full fetch.
            self.reset();
            return;
        }
        if self.id == 0 {
            if session_id == 0 {
                // The broker declined a session: keep fetching in full.
                self.held.clear();
                return;
            }
            self.id = session_id;
            self.epoch = 1;
        } else {
            self.epoch = if self.epoch == i32::MAX {
                1
            } else {
                self.epoch + 1
            };
        }
        self.held = sent;
    }

    /// The request failed (network, timeout): the next fetch is full.
    pub fn on_failure(&mut self) {
        self.pending = None;
        self.reset();
    }

    fn reset(&mut self) {
        self.id = 0;
        self.epoch = 0;
        self.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> Tp {
        Tp::new("t", p)
    }

    fn pf(offset: i64) -> PartFetch {
        PartFetch {
            offset,
            max_bytes: 100,
            leader_epoch: -1,
        }
    }

    #[test]
    fn full_then_incremental_then_forget() {
        let mut s = FetchSession::new();
        let mut want = BTreeMap::from([(tp(0), pf(0)), (tp(1), pf(0))]);
        let p = s.plan(&want);
        assert_eq!((p.session_id, p.epoch, p.send.len()), (0, 0, 2));
        s.on_response(0, 42);
        // Partition 0 advanced, partition 1 did not: only 0 is sent.
        want.insert(tp(0), pf(10));
        let p = s.plan(&want);
        assert_eq!((p.session_id, p.epoch), (42, 1));
        assert_eq!(p.send, vec![(tp(0), pf(10))]);
        assert!(p.forget.is_empty());
        s.on_response(0, 42);
        want.remove(&tp(1));
        let p = s.plan(&want);
        assert_eq!(p.epoch, 2);
        assert!(p.send.is_empty());
        assert_eq!(p.forget, vec![tp(1)]);
    }

    #[test]
    fn an_incremental_fetch_that_lists_nothing_still_names_every_held_topic() {
        // Found on Kafka 4.4: a caught-up consumer's incremental fetch lists no
        // partition, the broker answers with new data by topic id only, and
        // the data was dropped (forever: the session offset never moved).
        let mut s = FetchSession::new();
        let other = Tp::new("u", 0);
        let want = BTreeMap::from([(tp(0), pf(5)), (tp(1), pf(5)), (other.clone(), pf(1))]);
        s.plan(&want);
        s.on_response(0, 9);
        let p = s.plan(&want);
        assert!(p.send.is_empty() && p.forget.is_empty());
        assert_eq!(p.held_topics, vec![Arc::<str>::from("t"), Arc::from("u")]);
    }

    #[test]
    fn session_errors_and_failures_fall_back_to_full_fetches() {
        let mut s = FetchSession::new();
        let want = BTreeMap::from([(tp(0), pf(0))]);
        s.plan(&want);
        s.on_response(0, 7);
        s.plan(&want);
        s.on_response(INVALID_FETCH_SESSION_EPOCH, 0);
        let p = s.plan(&want);
        assert_eq!((p.session_id, p.epoch, p.send.len()), (0, 0, 1));
        s.on_response(0, 8);
        s.plan(&want);
        s.on_failure();
        assert_eq!(s.plan(&want).epoch, 0);
    }

    #[test]
    fn a_broker_without_sessions_gets_full_fetches() {
        let mut s = FetchSession::new();
        let want = BTreeMap::from([(tp(0), pf(0)), (tp(1), pf(3))]);
        for _ in 0..3 {
            let p = s.plan(&want);
            assert_eq!((p.session_id, p.epoch, p.send.len()), (0, 0, 2));
            s.on_response(0, 0);
        }
        let mut d = FetchSession::disabled();
        assert_eq!(d.plan(&want).epoch, -1);
    }
}
