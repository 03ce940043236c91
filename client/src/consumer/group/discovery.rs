//! The group coordinator of a member, found and found again: the part of
//! coordinator discovery both member state machines (the classic
//! `membership`, KIP-848's `heartbeat`) share, sans-IO.
//!
//! The lookup itself (the request at each FindCoordinator version, reading
//! the answer, which errors are retried, the backoff) is the client's one
//! [`Lookup`]; a member keeps one for its group id, without a deadline, for
//! as long as it lives. [`Discovery`] knows the coordinator found, whether
//! a FindCoordinator is in flight, and looks the coordinator up again when
//! the member loses it ([`Discovery::lost`]) or a lookup fails for good
//! (after the backoff, which grows with every failure in a row and starts
//! again after a success).

use super::requests::Coordinator;
use crate::error::{Error, Result};
use crate::net::cluster::BrokerInfo;
use crate::net::coordinator::{CoordinatorType, Lookup, Next};
use purekafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use std::time::{Duration, Instant};

impl From<BrokerInfo> for Coordinator {
    fn from(b: BrokerInfo) -> Self {
        Coordinator {
            node_id: b.id,
            host: b.host,
            port: b.port,
        }
    }
}

/// A member's group coordinator: known, or being looked up.
#[derive(Debug)]
pub(crate) struct Discovery {
    group_id: String,
    lookup: Lookup,
    /// The keys of the FindCoordinator in flight (the group id).
    asked: Option<Vec<String>>,
    coordinator: Option<Coordinator>,
}

impl Discovery {
    /// The coordinator of `group_id`, unknown yet; failed lookups wait
    /// `backoff` .. `backoff_max` (`retry.backoff.ms`,
    /// `retry.backoff.max.ms`).
    pub fn new(group_id: &str, backoff: Duration, backoff_max: Duration) -> Self {
        Discovery {
            group_id: group_id.to_string(),
            lookup: Lookup::without_deadline(
                CoordinatorType::Group,
                [group_id],
                backoff,
                backoff_max,
            ),
            asked: None,
            coordinator: None,
        }
    }

    /// The coordinator, when known.
    pub fn coordinator(&self) -> Option<&Coordinator> {
        self.coordinator.as_ref()
    }

    /// The FindCoordinator to send at `now`, at `version`, when one is due:
    /// the coordinator is unknown, none is in flight and no backoff runs.
    /// Report its answer with [`on_response`](Self::on_response) or its
    /// failure with [`on_failed`](Self::on_failed).
    pub fn request(&mut self, now: Instant, version: i16) -> Option<FindCoordinatorRequest> {
        if self.coordinator.is_some() || self.asked.is_some() {
            return None;
        }
        if self.lookup.next(now) != Next::Ask {
            return None;
        }
        // One key: one request at any version.
        let (keys, request) = self.lookup.requests(version).pop()?;
        self.asked = Some(keys);
        Some(request)
    }

    /// When the backoff of a failed lookup ends, while the coordinator is
    /// unknown and no FindCoordinator is in flight.
    pub fn retry_at(&self) -> Option<Instant> {
        if self.coordinator.is_some() || self.asked.is_some() {
            return None;
        }
        self.lookup.not_before()
    }

    /// The answer to the FindCoordinator in flight, sent at `version`: the
    /// coordinator found, or an error that retrying did not fix (the
    /// lookup goes on after a backoff); None while a retriable error is
    /// retried after a backoff.
    pub fn on_response(
        &mut self,
        now: Instant,
        version: i16,
        response: FindCoordinatorResponse,
    ) -> Option<Result<Coordinator>> {
        let keys = self.asked.take()?;
        self.lookup.on_response(now, &keys, version, response);
        self.outcome()
    }

    /// The FindCoordinator in flight got no answer (`error`): retried after
    /// a backoff; the error when it is not a retriable one.
    pub fn on_failed(&mut self, now: Instant, error: &Error) -> Option<Error> {
        let keys = self.asked.take()?;
        self.lookup.on_error(now, &keys, error.clone());
        self.outcome().and_then(Result::err)
    }

    /// Forgets the coordinator (it moved, or its connection failed): the
    /// next [`request`](Self::request) looks it up again. The one lost.
    pub fn lost(&mut self) -> Option<Coordinator> {
        let old = self.coordinator.take()?;
        self.lookup.ask(self.group_id.as_str());
        Some(old)
    }

    fn outcome(&mut self) -> Option<Result<Coordinator>> {
        match self.lookup.take(&self.group_id) {
            Some(Ok(broker)) => {
                let c = Coordinator::from(broker);
                tracing::info!(group = %self.group_id, coordinator = %c, "discovered group coordinator");
                self.coordinator = Some(c.clone());
                Some(Ok(c))
            }
            Some(Err(e)) => {
                tracing::debug!(group = %self.group_id, error = %e, "coordinator lookup failed");
                self.lookup.ask(self.group_id.as_str());
                Some(Err(e))
            }
            None => {
                if let Some(e) = self.lookup.last_error(&self.group_id) {
                    tracing::debug!(group = %self.group_id, error = %e, "coordinator lookup failed; retrying");
                }
                None
            }
        }
    }
}
