//! The connection's sans-IO core: pipelining, correlation, timeouts.
//!
//! [`Pipeline`] owns everything a connection knows about its requests and
//! does no I/O: the driver (the socket task in `net/conn.rs`) hands it
//! requests, the bytes it read, how many bytes the socket took, and the
//! time; it answers with the bytes to write ([`Pipeline::output`]), what
//! to tell whom ([`Action`]) and when to wake it next
//! ([`Pipeline::next_wakeup`]).
//!
//! - Correlation ids are assigned here, in write order, so a request's body
//!   is encoded once by its caller ([`EncodedRequest`]) and its frame head
//!   is written here; the body goes to the socket as it is: one copy of a
//!   record batch in all, into the request body (bodies below
//!   [`COALESCE_MAX`] bytes are copied next to their head instead, so small
//!   requests still leave in one write).
//! - At most `max_in_flight` requests await an answer; Kafka answers in
//!   order on a connection, so a response must carry the oldest request's
//!   correlation id, anything else is [`Error::CorrelationMismatch`] and
//!   closes the connection.
//! - A request that expects no answer (acks=0 produce) completes once its
//!   last byte is written. librdkafka's mock answers them anyway: such an
//!   answer is recognised by its id and dropped.
//! - Each request has a deadline (`now + timeout` when it is queued);
//!   Kafka cannot skip an answer, so the first deadline that passes closes
//!   the connection (as the Java client does): that request fails with
//!   [`Error::RequestTimeout`], the rest with [`Error::Disconnected`].
//!   Output that the socket does not take for a request's timeout (a broker
//!   that stops reading) closes it too.
//! - With `connections.max.idle.ms` set, a connection with nothing in
//!   flight, nothing to write and no request for that long closes itself;
//!   the pool connects again on next use.
//! - Whatever ends the connection (socket error, EOF, bad frame, timeout),
//!   every request not yet completed is completed with the error: none hangs.
//! - Re-authentication (KIP-368): [`Pipeline::pause_for_reauth`] holds back
//!   new requests; once those in flight are answered the state is
//!   [`State::Reauthenticating`], in which only requests marked `auth` are
//!   taken, until [`Pipeline::resume`].

use crate::error::Error;
use bytes::{Buf, Bytes, BytesMut};
use purekafka_protocol::ApiKey;
use purekafka_protocol::frame::{
    EncodedRequest, decode_frame, decode_response_header, peek_correlation_id,
};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Bodies up to this size are copied next to their frame head (one write
/// for many small requests); larger ones are written from their own buffer.
pub const COALESCE_MAX: usize = 4096;

/// Bytes of queued output above which no new request is taken.
pub const MAX_PENDING_WRITE: usize = 4 * 1024 * 1024;

/// How many recent unanswered (acks=0) correlation ids are remembered.
const UNANSWERED_MEMORY: usize = 1024;

/// Settings of one connection's core.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// The broker's name, for errors.
    pub broker: Arc<str>,
    /// `client.id`, written in every request header.
    pub client_id: Option<String>,
    /// `max.in.flight.requests.per.connection` (at least 1).
    pub max_in_flight: usize,
    /// Largest response frame accepted.
    pub max_response_size: usize,
    /// `connections.max.idle.ms`; `None` never closes an idle connection.
    pub max_idle: Option<Duration>,
}

/// A request handed to the core.
#[derive(Debug)]
pub struct Outgoing<T> {
    /// The encoded request.
    pub request: EncodedRequest,
    /// Its timeout, from when it is queued.
    pub timeout: Duration,
    /// Whether the broker answers it (`false`: acks=0 produce).
    pub expects_response: bool,
    /// Part of a SASL exchange: taken while re-authenticating.
    pub auth: bool,
    /// Handed back in [`Action::Complete`].
    pub token: T,
}

/// What the driver must do.
#[derive(Debug)]
pub enum Action<T> {
    /// Hand `result` to the request's owner: the response body (after its
    /// header), or an empty body once a request that expects no response is
    /// written.
    Complete(T, Result<Bytes, Error>),
    /// The core is ready for the SASL exchange (see
    /// [`Pipeline::pause_for_reauth`]).
    ReadyToReauthenticate,
    /// Close the socket: the connection is finished. Every request was
    /// completed already; `error` is for requests the driver still holds.
    Close {
        /// Why.
        error: Error,
        /// Closed for `connections.max.idle.ms`, not a failure.
        idle: bool,
    },
}

/// The core's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Taking requests.
    Open,
    /// Re-authentication asked for: no new requests; waiting for those in
    /// flight.
    Draining,
    /// Nothing in flight: only `auth` requests are taken.
    Reauthenticating,
    /// Finished.
    Closed,
}

#[derive(Debug)]
struct InFlight<T> {
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    deadline: Instant,
    timeout: Duration,
    token: T,
}

/// The sans-IO core of one connection (see the module doc).
#[derive(Debug)]
pub struct Pipeline<T> {
    opts: PipelineOptions,
    state: State,
    next_id: i32,
    in_flight: VecDeque<InFlight<T>>,
    /// Correlation ids of recent requests that expect no answer.
    unanswered: VecDeque<i32>,
    /// Output: whole chunks, then `tail`.
    chunks: VecDeque<Bytes>,
    /// Frame heads and small bodies not yet moved to `chunks`.
    tail: BytesMut,
    pending_write: usize,
    /// Bytes queued and written since the start.
    queued_total: u64,
    written_total: u64,
    /// Requests without a response, completed once `written_total` reaches
    /// the first value.
    written_waiters: VecDeque<(u64, T)>,
    /// When output has waited this long without the socket taking any, the
    /// broker has stopped reading; and the period to restart it with.
    write_stall: Option<(Instant, Duration)>,
    last_active: Instant,
    /// When to re-authenticate (KIP-368), if the session has a lifetime.
    reauth_at: Option<Instant>,
    actions: VecDeque<Action<T>>,
    closed_error: Option<Error>,
}

impl<T> Pipeline<T> {
    /// A core for a connection that is ready at `now`.
    pub fn new(mut opts: PipelineOptions, now: Instant) -> Self {
        opts.max_in_flight = opts.max_in_flight.max(1);
        Pipeline {
            opts,
            state: State::Open,
            next_id: 1,
            in_flight: VecDeque::new(),
            unanswered: VecDeque::new(),
            chunks: VecDeque::new(),
            tail: BytesMut::with_capacity(16 * 1024),
            pending_write: 0,
            queued_total: 0,
            written_total: 0,
            written_waiters: VecDeque::new(),
            write_stall: None,
            last_active: now,
            reauth_at: None,
            actions: VecDeque::new(),
            closed_error: None,
        }
    }

    /// The broker's name, as in errors.
    pub fn broker(&self) -> &str {
        &self.opts.broker
    }

    /// The state.
    #[cfg(test)]
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Whether a request (of the SASL exchange, if `auth`) would be taken now.
    pub fn can_accept(&self, auth: bool) -> bool {
        let state_ok = match self.state {
            State::Open => true,
            State::Reauthenticating => auth,
            State::Draining | State::Closed => false,
        };
        state_ok
            && self.in_flight.len() < self.opts.max_in_flight
            && self.pending_write < MAX_PENDING_WRITE
    }

    /// Requests awaiting an answer.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Nothing in flight, nothing to write, nobody waiting for a write.
    pub fn is_quiet(&self) -> bool {
        self.in_flight.is_empty() && !self.has_output() && self.written_waiters.is_empty()
    }

    /// Queues `req` at `now`, assigning its correlation id. Gives it back if
    /// it cannot be taken now ([`Pipeline::can_accept`]); on a closed
    /// connection completes it with the error.
    pub fn submit(&mut self, req: Outgoing<T>, now: Instant) -> Result<(), Outgoing<T>> {
        if self.state == State::Closed {
            let e = self.closed();
            self.actions.push_back(Action::Complete(req.token, Err(e)));
            return Ok(());
        }
        if !self.can_accept(req.auth) {
            return Err(req);
        }
        let id = self.next_id;
        let before = self.tail.len();
        if let Err(source) =
            req.request
                .write_head(&mut self.tail, id, self.opts.client_id.as_deref())
        {
            self.tail.truncate(before);
            let e = Error::Encode {
                api: req.request.api().name(),
                version: req.request.version(),
                source,
            };
            self.actions.push_back(Action::Complete(req.token, Err(e)));
            return Ok(());
        }
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let body = req.request.body();
        let frame_len = self.tail.len() - before + body.len();
        if body.len() <= COALESCE_MAX {
            self.tail.extend_from_slice(body);
        } else {
            // The head (and what came before it) leaves as one chunk, the
            // body as another: its bytes are not copied again.
            self.chunks.push_back(self.tail.split().freeze());
            self.chunks.push_back(body.clone());
        }
        self.pending_write += frame_len;
        self.queued_total += frame_len as u64;
        if self.write_stall.is_none() {
            self.write_stall = Some((now + req.timeout, req.timeout));
        }
        self.last_active = now;
        if req.expects_response {
            self.in_flight.push_back(InFlight {
                correlation_id: id,
                api: req.request.api(),
                version: req.request.version(),
                deadline: now + req.timeout,
                timeout: req.timeout,
                token: req.token,
            });
        } else {
            if self.unanswered.len() >= UNANSWERED_MEMORY {
                self.unanswered.pop_front();
            }
            self.unanswered.push_back(id);
            self.written_waiters
                .push_back((self.queued_total, req.token));
        }
        Ok(())
    }

    /// Whether there are bytes to write.
    pub fn has_output(&self) -> bool {
        self.pending_write > 0
    }

    /// Fills `dst` with the output, in order; returns how many slices.
    pub fn output<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let chunks = self.chunks.iter().map(|c| &c[..]);
        let tail = std::iter::once(&self.tail[..]);
        for (slot, bytes) in dst
            .iter_mut()
            .zip(chunks.chain(tail).filter(|b| !b.is_empty()))
        {
            *slot = IoSlice::new(bytes);
            n += 1;
        }
        n
    }

    /// The socket took `n` bytes of the output at `now`.
    pub fn written(&mut self, mut n: usize, now: Instant) {
        let taken = n.min(self.pending_write);
        self.pending_write -= taken;
        self.written_total += taken as u64;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(c) if c.len() <= n => {
                    n -= c.len();
                    self.chunks.pop_front();
                }
                Some(c) => {
                    c.advance(n);
                    n = 0;
                }
                None => {
                    let k = n.min(self.tail.len());
                    self.tail.advance(k);
                    n = 0;
                }
            }
        }
        if taken > 0 {
            self.last_active = now;
        }
        while let Some((end, _)) = self.written_waiters.front() {
            if *end > self.written_total {
                break;
            }
            if let Some((_, token)) = self.written_waiters.pop_front() {
                self.actions
                    .push_back(Action::Complete(token, Ok(Bytes::new())));
            }
        }
        self.write_stall = if self.has_output() {
            // Progress: the broker reads; give it a new period.
            self.write_stall.map(|(_, t)| (now + t, t))
        } else {
            None
        };
        self.check_drained();
    }

    /// Splits complete response frames off `buf` (bytes read from the
    /// socket at `now`) and matches them with the requests in flight.
    pub fn received(&mut self, buf: &mut BytesMut, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        self.last_active = now;
        loop {
            let frame = match decode_frame(buf, self.opts.max_response_size) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) if crate::security::tls::looks_like_tls_record(buf) => {
                    return self.fail(crate::security::tls::plaintext_to_tls_error());
                }
                Err(source) => {
                    let (api, version) = self
                        .in_flight
                        .front()
                        .map_or(("unknown", -1), |f| (f.api.name(), f.version));
                    let e = Error::Decode {
                        broker: self.opts.broker.to_string(),
                        api,
                        version,
                        source,
                    };
                    return self.fail(e);
                }
            };
            if !self.response(frame) {
                return;
            }
        }
        self.check_drained();
    }

    /// One response frame; `false` once the connection failed.
    fn response(&mut self, mut frame: Bytes) -> bool {
        let front = self.in_flight.front().map(|f| f.correlation_id);
        let corr = match peek_correlation_id(&frame) {
            Ok(c) => c,
            Err(source) => {
                let (api, version) = self
                    .in_flight
                    .front()
                    .map_or(("unknown", -1), |f| (f.api.name(), f.version));
                self.fail(Error::Decode {
                    broker: self.opts.broker.to_string(),
                    api,
                    version,
                    source,
                });
                return false;
            }
        };
        if front != Some(corr)
            && let Some(pos) = self.unanswered.iter().position(|id| *id == corr)
        {
            // An answer to a request that expects none (the mock sends them).
            self.unanswered.remove(pos);
            return true;
        }
        let Some(f) = self.in_flight.pop_front() else {
            self.fail(Error::CorrelationMismatch {
                broker: self.opts.broker.to_string(),
                api: None,
                expected: None,
                received: corr,
            });
            return false;
        };
        if f.correlation_id != corr {
            let e = Error::CorrelationMismatch {
                broker: self.opts.broker.to_string(),
                api: Some(f.api.name()),
                expected: Some(f.correlation_id),
                received: corr,
            };
            self.actions
                .push_back(Action::Complete(f.token, Err(e.clone())));
            self.fail(e);
            return false;
        }
        let result = decode_response_header(&mut frame, f.api, f.version)
            .map(|_| frame)
            .map_err(|source| Error::Decode {
                broker: self.opts.broker.to_string(),
                api: f.api.name(),
                version: f.version,
                source,
            });
        self.actions.push_back(Action::Complete(f.token, result));
        true
    }

    /// The socket failed (or reached its end): completes every request with
    /// `e` and closes.
    pub fn fail(&mut self, e: Error) {
        if self.state == State::Closed {
            return;
        }
        for f in self.in_flight.drain(..) {
            self.actions
                .push_back(Action::Complete(f.token, Err(e.clone())));
        }
        self.close_rest(e, false);
    }

    /// Everything not in flight: waiters for writes, output; then closed.
    fn close_rest(&mut self, e: Error, idle: bool) {
        for (_, token) in self.written_waiters.drain(..) {
            self.actions
                .push_back(Action::Complete(token, Err(e.clone())));
        }
        self.chunks.clear();
        self.tail.clear();
        self.pending_write = 0;
        self.write_stall = None;
        self.state = State::Closed;
        self.closed_error = Some(e.clone());
        self.actions.push_back(Action::Close { error: e, idle });
    }

    /// Closes the connection because every handle is gone (or the owner
    /// asked): completes whatever is left with a disconnect.
    pub fn close(&mut self) {
        let e = self.disconnected();
        self.fail(e);
    }

    fn disconnected(&self) -> Error {
        Error::Disconnected {
            broker: self.opts.broker.to_string(),
        }
    }

    fn closed(&self) -> Error {
        self.closed_error
            .clone()
            .unwrap_or_else(|| self.disconnected())
    }

    /// When [`Pipeline::timer`] must run next, if ever.
    pub fn next_wakeup(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let idle = self
            .opts
            .max_idle
            .filter(|_| self.state == State::Open && self.is_quiet())
            .map(|d| self.last_active + d);
        let reauth = self.reauth_at.filter(|_| self.state == State::Open);
        self.in_flight
            .iter()
            .map(|f| f.deadline)
            .chain(self.write_stall.map(|(at, _)| at))
            .chain(idle)
            .chain(reauth)
            .min()
    }

    /// Time passed: fails what timed out, closes an idle connection, starts
    /// a scheduled re-authentication.
    pub fn timer(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if let Some((at, timeout)) = self.write_stall
            && at <= now
        {
            return self.fail(Error::RequestTimeout {
                broker: self.opts.broker.to_string(),
                api: "socket write (the broker stopped reading)",
                timeout,
            });
        }
        if self.in_flight.iter().any(|f| f.deadline <= now) {
            // Kafka answers in order, so a request that timed out blocks
            // the ones behind it: close the connection, as Java does.
            let mut first = None;
            for f in self.in_flight.drain(..) {
                let e = if f.deadline <= now {
                    let e = Error::RequestTimeout {
                        broker: self.opts.broker.to_string(),
                        api: f.api.name(),
                        timeout: f.timeout,
                    };
                    first.get_or_insert(e.clone());
                    e
                } else {
                    Error::Disconnected {
                        broker: self.opts.broker.to_string(),
                    }
                };
                self.actions.push_back(Action::Complete(f.token, Err(e)));
            }
            let e = first.unwrap_or_else(|| self.disconnected());
            return self.close_rest(e, false);
        }
        if self.state == State::Open && self.reauth_at.is_some_and(|at| at <= now) {
            self.reauth_at = None;
            return self.pause_for_reauth();
        }
        if let Some(idle) = self.opts.max_idle
            && self.state == State::Open
            && self.is_quiet()
            && self.last_active + idle <= now
        {
            let e = self.disconnected();
            self.close_rest(e, true);
        }
    }

    /// The next thing for the driver to do, if any.
    pub fn poll_action(&mut self) -> Option<Action<T>> {
        self.actions.pop_front()
    }

    /// KIP-368: stop taking new requests; once those in flight are answered
    /// (and the output is written), the state becomes
    /// [`State::Reauthenticating`] and [`Action::ReadyToReauthenticate`] is
    /// emitted. Then only `auth` requests are taken, until
    /// [`Pipeline::resume`].
    pub fn pause_for_reauth(&mut self) {
        if self.state == State::Open {
            self.state = State::Draining;
            self.check_drained();
        }
    }

    /// Re-authenticate at `at` (the session lifetime the broker granted,
    /// less a margin): [`Pipeline::timer`] then pauses as
    /// [`Pipeline::pause_for_reauth`] does.
    pub fn schedule_reauth(&mut self, at: Instant) {
        self.reauth_at = Some(at);
    }

    /// Ends re-authentication: requests flow again.
    pub fn resume(&mut self) {
        if matches!(self.state, State::Draining | State::Reauthenticating) {
            self.state = State::Open;
        }
    }

    fn check_drained(&mut self) {
        if self.state == State::Draining && self.is_quiet() {
            self.state = State::Reauthenticating;
            self.actions.push_back(Action::ReadyToReauthenticate);
        }
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
