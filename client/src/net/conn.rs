//! One connection to one broker.
//!
//! A single task owns the socket. Callers hand it encoded request frames
//! through a channel and await the response on a oneshot; the task assigns
//! correlation ids, pipelines up to `max.in.flight.requests.per.connection`
//! requests, matches responses (Kafka answers in order on a connection), and
//! enforces `request.timeout.ms`. When the socket fails, every request in
//! flight fails with an error — none hangs. Dropping a response future is
//! safe: the answer is discarded when it arrives.
//!
//! The task runs over any [`Transport`] (plain TCP, or the stream a
//! [`TlsStep`] returns); how a connection is set up, and where TLS and SASL
//! plug in, is described in [`crate::net::setup`].

use crate::error::{Error, Result};
use crate::net::setup::{
    BoxTransport, SaslStep, SetupStep, TlsStep, Transport, host_of, step_error, tcp_connect,
};
use bytes::{BufMut, Bytes, BytesMut};
use purekafka_protocol::frame::{decode_frame, decode_response_header};
use purekafka_protocol::messages::ApiVersionsRequest;
use purekafka_protocol::version::{ApiVersionsOutcome, BrokerVersions, decode_api_versions};
use purekafka_protocol::{ApiKey, Message, Request};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Settings a connection needs (taken from the client configuration).
#[derive(Debug, Clone)]
pub struct ConnOptions {
    /// `client.id`.
    pub client_id: String,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: usize,
    /// `socket.connection.setup.timeout.ms`.
    pub connect_timeout: Duration,
    /// Largest response frame accepted (`receive.message.max.bytes`).
    pub max_response_size: usize,
    /// Setup step 2: the TLS handshake (`security.protocol` SSL or
    /// SASL_SSL); `None` for plaintext.
    pub tls: Option<Arc<dyn TlsStep>>,
    /// Setup step 4: SASL authentication (`security.protocol` SASL_*);
    /// `None` for none.
    pub sasl: Option<Arc<dyn SaslStep>>,
}

impl Default for ConnOptions {
    fn default() -> Self {
        ConnOptions {
            client_id: "purekafka".into(),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 5,
            connect_timeout: Duration::from_secs(10),
            max_response_size: 100_000_000,
            tls: None,
            sasl: None,
        }
    }
}

/// A request frame waiting to be written.
struct Command {
    /// The whole frame (size prefix included) with a zero correlation id.
    frame: Bytes,
    api: ApiKey,
    timeout: Duration,
    /// `None` for requests the broker does not answer (acks=0 produce).
    reply: Option<oneshot::Sender<Result<Bytes>>>,
    /// For unanswered requests: told (with an empty body) once the frame is
    /// in the socket.
    written: Option<oneshot::Sender<Result<Bytes>>>,
}

struct InFlight {
    correlation_id: i32,
    api: ApiKey,
    deadline: Instant,
    timeout: Duration,
    reply: oneshot::Sender<Result<Bytes>>,
}

/// A handle to a broker connection; cheap to clone.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::Sender<Command>,
    broker: Arc<str>,
    versions: Arc<BrokerVersions>,
    closed: Arc<AtomicBool>,
    opts: Arc<ConnOptions>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.broker)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    /// Sets up a connection to `addr` (`host:port`), in the order
    /// [`crate::net::setup`] describes: TCP connect, TLS handshake (if
    /// configured), ApiVersions, SASL authentication (if configured).
    /// `broker` names it in errors.
    pub async fn connect(addr: &str, broker: &str, opts: ConnOptions) -> Result<Connection> {
        let setup_deadline = tokio::time::Instant::now() + opts.connect_timeout;
        let tcp = tcp_connect(addr, broker, opts.connect_timeout).await?;
        let stream: BoxTransport = match opts.tls.clone() {
            None => Box::new(tcp),
            Some(tls) => {
                let host = host_of(addr);
                match tokio::time::timeout_at(setup_deadline, tls.handshake(tcp, host)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return Err(step_error(broker, SetupStep::Tls, e)),
                    Err(_) => {
                        return Err(step_error(
                            broker,
                            SetupStep::Tls,
                            Error::RequestTimeout {
                                broker: broker.to_string(),
                                api: "TLS handshake (socket.connection.setup.timeout.ms)",
                                timeout: opts.connect_timeout,
                            },
                        ));
                    }
                }
            }
        };
        let mut conn = Connection::start(stream, broker, opts);
        let versions = conn
            .handshake()
            .await
            .map_err(|e| step_error(broker, SetupStep::ApiVersions, e))?;
        conn.versions = Arc::new(versions);
        if let Some(sasl) = conn.opts.sasl.clone() {
            sasl.authenticate(&conn)
                .await
                .map_err(|e| step_error(broker, SetupStep::Sasl, e))?;
        }
        Ok(conn)
    }

    /// Starts the socket task over `stream` (set up as far as the caller
    /// wants: TCP, or TLS over TCP); ApiVersions has not been negotiated.
    fn start(stream: impl Transport, broker: &str, opts: ConnOptions) -> Connection {
        let broker: Arc<str> = Arc::from(broker);
        let closed = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel(opts.max_in_flight.max(1) * 4);
        let task = ConnTask {
            stream: Box::new(stream),
            rx,
            broker: broker.clone(),
            closed: closed.clone(),
            max_in_flight: opts.max_in_flight.max(1),
            max_response_size: opts.max_response_size,
        };
        tokio::spawn(task.run());
        Connection {
            tx,
            broker,
            versions: Arc::new(BrokerVersions::default()),
            closed,
            opts: Arc::new(opts),
        }
    }

    /// ApiVersions, falling back to older versions as the broker asks.
    async fn handshake(&self) -> Result<BrokerVersions> {
        let mut version = ApiKey::ApiVersions.usable_versions().max;
        let req = ApiVersionsRequest {
            client_software_name: "purekafka".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        for _ in 0..3 {
            let body = self
                .send_frame(
                    encode_frame(&req, version, &self.opts.client_id)?,
                    ApiKey::ApiVersions,
                    version,
                )
                .await?;
            match decode_api_versions(body, version)
                .map_err(|e| self.decode_error(ApiKey::ApiVersions, version, e))?
            {
                ApiVersionsOutcome::Supported(resp) => {
                    if resp.error_code != 0 {
                        return Err(Error::kafka(
                            purekafka_protocol::ErrorCode(resp.error_code),
                            "ApiVersions",
                        ));
                    }
                    return Ok(BrokerVersions::from_response(&resp));
                }
                ApiVersionsOutcome::Retry { retry_version } => version = retry_version,
            }
        }
        Err(Error::Connect {
            broker: self.broker.to_string(),
            reason: "ApiVersions negotiation did not converge".into(),
        })
    }

    /// The broker's name as used in errors.
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// The versions the broker announced.
    pub fn versions(&self) -> &BrokerVersions {
        &self.versions
    }

    /// Whether the socket task has ended (the connection is unusable).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed) || self.tx.is_closed()
    }

    /// The version of `api` to speak with this broker.
    pub fn version_for(&self, api: ApiKey) -> Result<i16> {
        self.versions
            .negotiate(api)
            .map_err(|source| Error::UnsupportedVersion {
                broker: self.broker.to_string(),
                source,
            })
    }

    /// Sends `req` at the negotiated version and decodes the response.
    pub async fn send<R: Request>(&self, req: &R) -> Result<R::Response> {
        let version = self.version_for(R::KEY)?;
        self.send_versioned(req, version).await
    }

    /// Sends `req` at `version` and decodes the response.
    pub async fn send_versioned<R: Request>(&self, req: &R, version: i16) -> Result<R::Response> {
        let frame = encode_frame(req, version, &self.opts.client_id)?;
        let body = self.send_frame(frame, R::KEY, version).await?;
        <R::Response as Message>::decode(&mut body.clone(), version)
            .map_err(|e| self.decode_error(R::KEY, version, e))
    }

    /// Sends a request the broker will not answer (acks=0 produce); resolves
    /// once the frame has been written to the socket (as the Java client
    /// considers an acks=0 record sent).
    pub async fn send_no_response<R: Request>(&self, req: &R, version: i16) -> Result<()> {
        let frame = encode_frame(req, version, &self.opts.client_id)?;
        let (tx, rx) = oneshot::channel();
        let cmd = Command {
            frame,
            api: R::KEY,
            timeout: self.opts.request_timeout,
            reply: None,
            written: Some(tx),
        };
        self.tx.send(cmd).await.map_err(|_| self.disconnected())?;
        rx.await.map_err(|_| self.disconnected())?.map(drop)
    }

    /// Sends an encoded frame; returns the response body (after the header).
    pub async fn send_frame(&self, frame: Bytes, api: ApiKey, version: i16) -> Result<Bytes> {
        self.send_frame_timeout(frame, api, version, self.opts.request_timeout)
            .await
    }

    /// As [`Connection::send_frame`], with a per-request timeout (fetches add
    /// their wait time to it).
    pub async fn send_frame_timeout(
        &self,
        frame: Bytes,
        api: ApiKey,
        version: i16,
        timeout: Duration,
    ) -> Result<Bytes> {
        self.submit(frame, api, version, timeout)
            .await?
            .response()
            .await
    }

    /// Queues a request frame for the socket and returns at once with a
    /// handle to its response. Requests submitted one after another from one
    /// task reach the broker in that order (the producer relies on this to
    /// keep a partition's batches in sequence).
    pub async fn submit(
        &self,
        frame: Bytes,
        api: ApiKey,
        version: i16,
        timeout: Duration,
    ) -> Result<PendingResponse> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command {
            frame,
            api,
            timeout,
            reply: Some(reply),
            written: None,
        };
        self.tx.send(cmd).await.map_err(|_| self.disconnected())?;
        Ok(PendingResponse {
            rx,
            conn: self.clone(),
            api,
            version,
        })
    }

    /// Submits `req` at `version` (see [`Connection::submit`]).
    pub async fn submit_request<R: Request>(
        &self,
        req: &R,
        version: i16,
    ) -> Result<PendingResponse> {
        let frame = encode_frame(req, version, &self.opts.client_id)?;
        self.submit(frame, R::KEY, version, self.opts.request_timeout)
            .await
    }

    /// Options this connection was made with.
    pub fn options(&self) -> &ConnOptions {
        &self.opts
    }

    fn disconnected(&self) -> Error {
        Error::Disconnected {
            broker: self.broker.to_string(),
        }
    }

    fn decode_error(
        &self,
        api: ApiKey,
        version: i16,
        source: purekafka_protocol::DecodeError,
    ) -> Error {
        Error::Decode {
            broker: self.broker.to_string(),
            api: api.name(),
            version,
            source,
        }
    }
}

/// Encodes a request frame whose body `write` appends (for callers holding
/// a request of a type chosen at run time), with a zero correlation id.
pub fn encode_frame_with<F>(api: ApiKey, version: i16, client_id: &str, write: F) -> Result<Bytes>
where
    F: FnOnce(&mut BytesMut) -> std::result::Result<(), purekafka_protocol::EncodeError>,
{
    let header = purekafka_protocol::messages::RequestHeader {
        request_api_key: api as i16,
        request_api_version: version,
        correlation_id: 0,
        client_id: Some(client_id.to_string()),
        unknown_tagged_fields: Vec::new(),
    };
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let enc = |source| Error::Encode {
        api: api.name(),
        version,
        source,
    };
    header
        .encode(&mut buf, api.request_header_version(version))
        .map_err(enc)?;
    write(&mut buf).map_err(enc)?;
    let size = i32::try_from(buf.len() - 4).map_err(|_| Error::Encode {
        api: api.name(),
        version,
        source: purekafka_protocol::EncodeError::TooLong {
            what: "frame",
            len: buf.len(),
        },
    })?;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

/// A response on its way (see [`Connection::submit`]); dropping it is safe.
#[derive(Debug)]
pub struct PendingResponse {
    rx: oneshot::Receiver<Result<Bytes>>,
    conn: Connection,
    api: ApiKey,
    version: i16,
}

impl PendingResponse {
    /// The response body (after its header).
    pub async fn response(self) -> Result<Bytes> {
        let mut frame = self.rx.await.map_err(|_| self.conn.disconnected())??;
        decode_response_header(&mut frame, self.api, self.version)
            .map_err(|e| self.conn.decode_error(self.api, self.version, e))?;
        Ok(frame)
    }

    /// The response, decoded as `R`'s response.
    pub async fn decode<R: Request>(self) -> Result<R::Response> {
        let (conn, version) = (self.conn.clone(), self.version);
        let body = self.response().await?;
        <R::Response as Message>::decode(&mut body.clone(), version)
            .map_err(|e| conn.decode_error(R::KEY, version, e))
    }
}

/// Encodes `req` as a whole frame with a zero correlation id (the socket task
/// fills it in).
pub fn encode_frame<R: Request>(req: &R, version: i16, client_id: &str) -> Result<Bytes> {
    let mut buf = BytesMut::with_capacity(256);
    purekafka_protocol::frame::encode_request(&mut buf, 0, Some(client_id), version, req).map_err(
        |source| Error::Encode {
            api: R::KEY.name(),
            version,
            source,
        },
    )?;
    Ok(buf.freeze())
}

struct ConnTask {
    stream: BoxTransport,
    rx: mpsc::Receiver<Command>,
    broker: Arc<str>,
    closed: Arc<AtomicBool>,
    max_in_flight: usize,
    max_response_size: usize,
}

/// Bytes of queued output above which no new request is taken.
const MAX_PENDING_WRITE: usize = 4 * 1024 * 1024;

impl ConnTask {
    async fn run(mut self) {
        let err = self.serve().await;
        self.closed.store(true, Ordering::Relaxed);
        // Fail whatever is still queued.
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            for r in cmd.reply.into_iter().chain(cmd.written) {
                let _ = r.send(Err(err.clone()));
            }
        }
    }

    /// Runs until the connection fails or every handle is dropped; fails the
    /// requests in flight and returns the error for queued ones.
    async fn serve(&mut self) -> Error {
        let (mut rd, mut wr) = tokio::io::split(&mut self.stream);
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let mut wbuf = BytesMut::with_capacity(64 * 1024);
        let mut next_id: i32 = 1;
        let broker = self.broker.clone();
        // Unanswered requests waiting for their bytes to reach the socket.
        let mut written: Vec<oneshot::Sender<Result<Bytes>>> = Vec::new();
        // Correlation ids of recent requests sent without expecting an answer
        // (acks=0). Kafka sends none, but librdkafka's mock answers them
        // anyway: such a response is dropped instead of failing the connection.
        let mut unanswered: VecDeque<i32> = VecDeque::new();
        let fail_all = |in_flight: &mut VecDeque<InFlight>, e: &Error| {
            for f in in_flight.drain(..) {
                let _ = f.reply.send(Err(e.clone()));
            }
        };
        let mut handles_gone = false;
        // While output waits, the time by which the socket must take some of
        // it: a broker that stops reading must not wedge the connection
        // (acks=0 requests have no response deadline of their own).
        let mut write_stall: Option<(Instant, Duration)> = None;
        loop {
            let deadline = in_flight
                .iter()
                .map(|f| f.deadline)
                .chain(write_stall.map(|(at, _)| at))
                .min();
            let can_take = !handles_gone
                && in_flight.len() < self.max_in_flight
                && wbuf.len() < MAX_PENDING_WRITE;
            if handles_gone && in_flight.is_empty() && wbuf.is_empty() {
                let _ = wr.shutdown().await;
                return Error::Disconnected {
                    broker: broker.to_string(),
                };
            }
            tokio::select! {
                cmd = self.rx.recv(), if can_take => {
                    let Some(cmd) = cmd else {
                        handles_gone = true;
                        continue;
                    };
                    let id = next_id;
                    next_id = next_id.wrapping_add(1).max(1);
                    if write_stall.is_none() {
                        write_stall = Some((Instant::now() + cmd.timeout, cmd.timeout));
                    }
                    let start = wbuf.len();
                    wbuf.put_slice(&cmd.frame);
                    // Frame layout: size(4) api(2) version(2) correlation(4).
                    if let Some(slot) = wbuf.get_mut(start + 8..start + 12) {
                        slot.copy_from_slice(&id.to_be_bytes());
                    }
                    if let Some(w) = cmd.written {
                        written.push(w);
                    }
                    if cmd.reply.is_none() {
                        if unanswered.len() >= 1024 {
                            unanswered.pop_front();
                        }
                        unanswered.push_back(id);
                    }
                    if let Some(reply) = cmd.reply {
                        in_flight.push_back(InFlight {
                            correlation_id: id,
                            api: cmd.api,
                            deadline: Instant::now() + cmd.timeout,
                            timeout: cmd.timeout,
                            reply,
                        });
                    }
                }
                res = wr.write_buf(&mut wbuf), if !wbuf.is_empty() => {
                    if let Err(e) = res {
                        let e = Error::Io { broker: broker.to_string(), reason: Arc::new(e) };
                        fail_all(&mut in_flight, &e);
                        for w in written.drain(..) {
                            let _ = w.send(Err(e.clone()));
                        }
                        return e;
                    }
                    if wbuf.is_empty() {
                        write_stall = None;
                        for w in written.drain(..) {
                            let _ = w.send(Ok(Bytes::new()));
                        }
                    } else if let Some((_, t)) = write_stall {
                        // Progress: the broker reads; give it a new period.
                        write_stall = Some((Instant::now() + t, t));
                    }
                }
                res = rd.read_buf(&mut rbuf) => {
                    match res {
                        Ok(0) => {
                            let e = Error::Disconnected { broker: broker.to_string() };
                            fail_all(&mut in_flight, &e);
                            return e;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let e = Error::Io { broker: broker.to_string(), reason: Arc::new(e) };
                            fail_all(&mut in_flight, &e);
                            return e;
                        }
                    }
                    loop {
                        let frame = match decode_frame(&mut rbuf, self.max_response_size) {
                            Ok(Some(f)) => f,
                            Ok(None) => break,
                            Err(e) => {
                                let api = in_flight.front().map(|f| f.api.name()).unwrap_or("unknown");
                                let e = Error::Decode { broker: broker.to_string(), api, version: -1, source: e };
                                fail_all(&mut in_flight, &e);
                                return e;
                            }
                        };
                        let corr = frame.get(0..4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                        if in_flight.front().map(|f| f.correlation_id) != corr
                            && let Some(pos) = unanswered.iter().position(|id| Some(*id) == corr)
                        {
                            unanswered.remove(pos);
                            continue;
                        }
                        match in_flight.pop_front() {
                            Some(f) if Some(f.correlation_id) == corr => {
                                let _ = f.reply.send(Ok(frame));
                            }
                            other => {
                                let e = Error::Connect {
                                    broker: broker.to_string(),
                                    reason: format!(
                                        "response correlation id {corr:?} does not match the request in flight ({:?})",
                                        other.as_ref().map(|f| f.correlation_id)
                                    ),
                                };
                                if let Some(f) = other {
                                    let _ = f.reply.send(Err(e.clone()));
                                }
                                fail_all(&mut in_flight, &e);
                                return e;
                            }
                        }
                    }
                }
                _ = crate::time::sleep_until_opt(deadline) => {
                    // Kafka answers in order, so a request that timed out
                    // blocks the ones behind it: close the connection, as the
                    // Java client does.
                    let now = Instant::now();
                    if let Some((at, t)) = write_stall
                        && at <= now
                    {
                        let e = Error::RequestTimeout {
                            broker: broker.to_string(),
                            api: "socket write (the broker stopped reading)",
                            timeout: t,
                        };
                        fail_all(&mut in_flight, &e);
                        for w in written.drain(..) {
                            let _ = w.send(Err(e.clone()));
                        }
                        return e;
                    }
                    let mut timed_out = None;
                    for f in in_flight.drain(..) {
                        let e = if f.deadline <= now {
                            let e = Error::RequestTimeout { broker: broker.to_string(), api: f.api.name(), timeout: f.timeout };
                            timed_out.get_or_insert(e.clone());
                            e
                        } else {
                            Error::Disconnected { broker: broker.to_string() }
                        };
                        let _ = f.reply.send(Err(e));
                    }
                    return timed_out.unwrap_or(Error::Disconnected { broker: broker.to_string() });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

    use super::*;
    use purekafka_protocol::messages::JoinGroupRequest;

    /// Issue #10 item 12: a field the negotiated version cannot carry is an
    /// encoding error naming the API, the version and the field, not a
    /// silently different request.
    #[test]
    fn encode_frame_fails_naming_api_version_and_field_the_version_cannot_carry() {
        let req = JoinGroupRequest {
            group_id: "g".into(),
            group_instance_id: Some("x".into()),
            protocol_type: "consumer".into(),
            ..Default::default()
        };
        let err = encode_frame(&req, 4, "c").expect_err("v4 has no group.instance.id");
        match &err {
            Error::Encode {
                api: "JoinGroup",
                version: 4,
                source: purekafka_protocol::EncodeError::UnsupportedField { field, .. },
            } => assert_eq!(*field, "JoinGroupRequest.GroupInstanceId"),
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("JoinGroup v4") && text.contains("GroupInstanceId"),
            "{text}"
        );
        encode_frame(&req, 5, "c").unwrap();
    }
}
