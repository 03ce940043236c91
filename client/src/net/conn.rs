//! One connection to one broker: the handle, and the task that drives the
//! socket.
//!
//! A single task owns the socket. Callers encode a request's body
//! ([`encode_frame`]) and hand it to the task through a channel; the answer
//! comes back on a oneshot. The task is a thin driver over the sans-IO
//! `Pipeline` (crate-internal, `net/pipeline.rs`), which assigns correlation ids, writes
//! frame heads, pipelines up to `max.in.flight.requests.per.connection`
//! requests, matches responses, enforces `request.timeout.ms` and
//! `connections.max.idle.ms`, and fails every pending request when the
//! socket fails (none hangs). The driver moves bytes: it writes the core's
//! output with vectored writes (a record batch goes from the request body
//! to the socket without another copy), reads into a buffer the core
//! parses, sleeps until the core's next deadline, and delivers the core's
//! completions. Dropping a response future is safe: the answer is
//! discarded when it arrives. When every handle is dropped, the task
//! finishes what is in flight, closes the socket and ends. With a SASL
//! session lifetime, the task re-authenticates on schedule (KIP-368; see
//! [`crate::net::setup`]).
//!
//! The task runs over any [`Transport`] (plain TCP, or the stream a
//! [`TlsStep`] returns); how a connection is set up, and where TLS and SASL
//! plug in, is described in [`crate::net::setup`].

use crate::error::{Error, Result};
use crate::net::pipeline::{Action, Outgoing, Pipeline, PipelineOptions};
use crate::net::setup::{
    BoxTransport, SaslStep, SetupStep, TlsStep, Transport, host_of, step_error, tcp_connect,
};
use bytes::{Bytes, BytesMut};
use purekafka_protocol::frame::EncodedRequest;
use purekafka_protocol::messages::ApiVersionsRequest;
use purekafka_protocol::version::{ApiVersionsOutcome, BrokerVersions, decode_api_versions};
use purekafka_protocol::{ApiKey, Message, Request};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
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
    /// `connections.max.idle.ms`: a connection with nothing in flight for
    /// this long closes itself (the pool connects again on next use);
    /// `None` keeps it open.
    pub max_idle: Option<Duration>,
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
            max_idle: Some(Duration::from_millis(540_000)),
            tls: None,
            sasl: None,
        }
    }
}

/// Who waits for a request: its response body, or (for a request without
/// response) an empty body once it is written.
type Reply = oneshot::Sender<Result<Bytes>>;

/// A request on its way to the socket task.
type Command = Outgoing<Reply>;

/// Messages to the socket task that bypass the request queue.
enum Control {
    /// A request of a SASL exchange: taken while re-authenticating, when
    /// other requests are held back.
    Auth(Command),
    /// The session expires: re-authenticate after this long (the versions
    /// are for the exchange's handle).
    Schedule {
        after: Duration,
        versions: Arc<BrokerVersions>,
    },
    /// A re-authentication ended: with the new session's lifetime (resume),
    /// or failed (close).
    Reauthenticated(Result<Option<Duration>>),
}

/// A handle to a broker connection; cheap to clone.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::Sender<Command>,
    ctl: mpsc::UnboundedSender<Control>,
    /// Requests go through `ctl` as part of a SASL exchange.
    auth: bool,
    broker: Arc<str>,
    versions: Arc<BrokerVersions>,
    closed: Arc<AtomicBool>,
    /// Why the socket task ended, once it has.
    close_error: Arc<OnceLock<Error>>,
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
            .map_err(|e| step_error(broker, SetupStep::ApiVersions, conn.cause(e)))?;
        conn.versions = Arc::new(versions);
        if let Some(sasl) = conn.opts.sasl.clone() {
            let lifetime = sasl
                .authenticate(&conn)
                .await
                .map_err(|e| step_error(broker, SetupStep::Sasl, conn.cause(e)))?;
            if let Some(lifetime) = lifetime {
                // KIP-368: the socket task re-authenticates before it ends.
                let _ = conn.ctl.send(Control::Schedule {
                    after: crate::security::sasl::reauth_after(lifetime),
                    versions: conn.versions.clone(),
                });
            }
        }
        Ok(conn)
    }

    /// Starts the socket task over `stream` (set up as far as the caller
    /// wants: TCP, or TLS over TCP); ApiVersions has not been negotiated.
    fn start(stream: impl Transport, broker: &str, opts: ConnOptions) -> Connection {
        let broker: Arc<str> = Arc::from(broker);
        let closed = Arc::new(AtomicBool::new(false));
        let close_error = Arc::new(OnceLock::new());
        let (tx, rx) = mpsc::channel(opts.max_in_flight.max(1) * 4);
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let opts = Arc::new(opts);
        let core = Pipeline::new(
            PipelineOptions {
                broker: broker.clone(),
                client_id: Some(opts.client_id.clone()),
                max_in_flight: opts.max_in_flight,
                max_response_size: opts.max_response_size,
                max_idle: opts.max_idle,
            },
            Instant::now(),
        );
        let task = ConnTask {
            core,
            rx,
            held: None,
            ctl_rx,
            auth_held: VecDeque::new(),
            reauth: Reauth {
                tx: tx.downgrade(),
                ctl: ctl.clone(),
                broker: broker.clone(),
                closed: closed.clone(),
                close_error: close_error.clone(),
                opts: opts.clone(),
                versions: None,
            },
            closed: closed.clone(),
            close_error: close_error.clone(),
        };
        tokio::spawn(task.run(Box::new(stream)));
        Connection {
            tx,
            ctl,
            auth: false,
            broker,
            versions: Arc::new(BrokerVersions::default()),
            closed,
            close_error,
            opts,
        }
    }

    /// During setup, a request that found the socket task already gone
    /// gets a bare disconnect; the task's own reason is the better answer
    /// (a TLS 1.3 broker that wants a client certificate refuses right
    /// after the handshake, before our ApiVersions is even queued).
    fn cause(&self, e: Error) -> Error {
        match e {
            Error::Disconnected { .. } => self.close_error.get().cloned().unwrap_or(e),
            e => e,
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
                .send_encoded(encode_frame(&req, version)?, self.opts.request_timeout)
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
        self.submit_request(req, version).await?.decode::<R>().await
    }

    /// Sends a request the broker will not answer (acks=0 produce); resolves
    /// once the frame has been written to the socket (as the Java client
    /// considers an acks=0 record sent).
    pub async fn send_no_response<R: Request>(&self, req: &R, version: i16) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        let cmd = Outgoing {
            request: encode_frame(req, version)?,
            timeout: self.opts.request_timeout,
            expects_response: false,
            auth: self.auth,
            token: reply,
        };
        self.enqueue(cmd).await?;
        rx.await.map_err(|_| self.disconnected())?.map(drop)
    }

    /// Sends an encoded request with a timeout (fetches add their wait time
    /// to `request.timeout.ms`); returns the response body (after the
    /// header).
    pub async fn send_encoded(&self, request: EncodedRequest, timeout: Duration) -> Result<Bytes> {
        self.submit(request, timeout).await?.response().await
    }

    /// Queues an encoded request for the socket and returns at once with a
    /// handle to its response. Requests submitted one after another from one
    /// task reach the broker in that order (the producer relies on this to
    /// keep a partition's batches in sequence).
    pub async fn submit(
        &self,
        request: EncodedRequest,
        timeout: Duration,
    ) -> Result<PendingResponse> {
        let version = request.version();
        let (reply, rx) = oneshot::channel();
        let cmd = Outgoing {
            request,
            timeout,
            expects_response: true,
            auth: self.auth,
            token: reply,
        };
        self.enqueue(cmd).await?;
        Ok(PendingResponse {
            rx,
            conn: self.clone(),
            version,
        })
    }

    /// Submits `req` at `version` (see [`Connection::submit`]).
    pub async fn submit_request<R: Request>(
        &self,
        req: &R,
        version: i16,
    ) -> Result<PendingResponse> {
        self.submit(encode_frame(req, version)?, self.opts.request_timeout)
            .await
    }

    /// Hands `cmd` to the socket task: a SASL exchange's past the queue.
    async fn enqueue(&self, cmd: Command) -> Result<()> {
        if self.auth {
            self.ctl
                .send(Control::Auth(cmd))
                .map_err(|_| self.disconnected())
        } else {
            self.tx.send(cmd).await.map_err(|_| self.disconnected())
        }
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

/// Encodes the body of `api` at `version` that `write` appends (for callers
/// holding a request of a type chosen at run time). The connection writes
/// the header when it sends it.
pub fn encode_frame_with<F>(api: ApiKey, version: i16, write: F) -> Result<EncodedRequest>
where
    F: FnOnce(&mut BytesMut) -> std::result::Result<(), purekafka_protocol::EncodeError>,
{
    EncodedRequest::with(api, version, write).map_err(|source| Error::Encode {
        api: api.name(),
        version,
        source,
    })
}

/// Encodes `req`'s body at `version` (the connection writes the header, with
/// its correlation id, when it sends it).
pub fn encode_frame<R: Request>(req: &R, version: i16) -> Result<EncodedRequest> {
    EncodedRequest::new(req, version).map_err(|source| Error::Encode {
        api: R::KEY.name(),
        version,
        source,
    })
}

/// A response on its way (see [`Connection::submit`]); dropping it is safe.
#[derive(Debug)]
pub struct PendingResponse {
    rx: oneshot::Receiver<Result<Bytes>>,
    conn: Connection,
    version: i16,
}

impl PendingResponse {
    /// The response body (after its header).
    pub async fn response(self) -> Result<Bytes> {
        self.rx.await.map_err(|_| self.conn.disconnected())?
    }

    /// The response, decoded as `R`'s response.
    pub async fn decode<R: Request>(self) -> Result<R::Response> {
        let (conn, version) = (self.conn.clone(), self.version);
        let body = self.response().await?;
        <R::Response as Message>::decode(&mut body.clone(), version)
            .map_err(|e| conn.decode_error(R::KEY, version, e))
    }
}

/// The socket task: moves bytes between the socket and the core.
struct ConnTask {
    core: Pipeline<Reply>,
    rx: mpsc::Receiver<Command>,
    /// A request the core could not take yet.
    held: Option<Command>,
    ctl_rx: mpsc::UnboundedReceiver<Control>,
    /// SASL exchange requests the core could not take yet.
    auth_held: VecDeque<Command>,
    reauth: Reauth,
    closed: Arc<AtomicBool>,
    close_error: Arc<OnceLock<Error>>,
}

/// What the socket task needs to run a re-authentication (KIP-368) on its
/// own connection. The request sender is weak: the task must not keep
/// itself alive.
struct Reauth {
    tx: mpsc::WeakSender<Command>,
    ctl: mpsc::UnboundedSender<Control>,
    broker: Arc<str>,
    closed: Arc<AtomicBool>,
    close_error: Arc<OnceLock<Error>>,
    opts: Arc<ConnOptions>,
    versions: Option<Arc<BrokerVersions>>,
}

impl Reauth {
    /// Runs the SASL exchange again, on a handle whose requests pass the
    /// held-back ones; its end comes back as [`Control::Reauthenticated`].
    /// `false` if there is nothing to run it with.
    fn start(&self) -> bool {
        let (Some(sasl), Some(versions), Some(tx)) = (
            self.opts.sasl.clone(),
            self.versions.clone(),
            self.tx.upgrade(),
        ) else {
            return false;
        };
        let conn = Connection {
            tx,
            ctl: self.ctl.clone(),
            auth: true,
            broker: self.broker.clone(),
            versions,
            closed: self.closed.clone(),
            close_error: self.close_error.clone(),
            opts: self.opts.clone(),
        };
        tokio::spawn(async move {
            let r = sasl.authenticate(&conn).await;
            let _ = conn.ctl.send(Control::Reauthenticated(r));
        });
        true
    }
}

/// Slices handed to one vectored write.
const MAX_SLICES: usize = 64;

/// Writes as much of the core's output as the socket takes now (how many
/// bytes), or, with nothing left to write, flushes the transport (`None`).
async fn write_some(
    wr: &mut WriteHalf<BoxTransport>,
    core: &Pipeline<Reply>,
) -> std::io::Result<Option<usize>> {
    if !core.has_output() {
        return wr.flush().await.map(|()| None);
    }
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let n = core.output(&mut slices);
    wr.write_vectored(slices.get(..n).unwrap_or_default())
        .await
        .map(Some)
}

impl ConnTask {
    async fn run(mut self, stream: BoxTransport) {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let mut handles_gone = false;
        let mut needs_flush = false;
        let (error, graceful) = loop {
            let mut close = None;
            while let Some(action) = self.core.poll_action() {
                match action {
                    Action::Complete(reply, result) => {
                        let _ = reply.send(result);
                    }
                    Action::ReadyToReauthenticate => {
                        if !self.reauth.start() {
                            self.core.resume();
                        }
                    }
                    Action::Close { error, idle } => close = Some((error, idle)),
                }
            }
            if let Some((error, idle)) = close {
                if idle {
                    tracing::debug!(
                        "closing the idle connection to {} (connections.max.idle.ms)",
                        self.core.broker()
                    );
                }
                break (error, idle || handles_gone);
            }
            while let Some(cmd) = self.auth_held.pop_front() {
                if let Err(cmd) = self.core.submit(cmd, Instant::now()) {
                    self.auth_held.push_front(cmd);
                    break;
                }
            }
            if let Some(cmd) = self.held.take()
                && let Err(cmd) = self.core.submit(cmd, Instant::now())
            {
                self.held = Some(cmd);
            }
            if handles_gone && self.held.is_none() && self.core.is_quiet() {
                self.core.close();
                continue;
            }
            let can_take = !handles_gone && self.held.is_none() && self.core.can_accept(false);
            let has_output = self.core.has_output();
            let wake = self.core.next_wakeup();
            tokio::select! {
                Some(ctl) = self.ctl_rx.recv() => self.control(ctl),
                cmd = self.rx.recv(), if can_take => match cmd {
                    Some(cmd) => {
                        if let Err(cmd) = self.core.submit(cmd, Instant::now()) {
                            self.held = Some(cmd);
                        }
                    }
                    None => handles_gone = true,
                },
                res = write_some(&mut wr, &self.core), if has_output || needs_flush => match res {
                    Ok(Some(0)) => self.core.fail(self.io_error(std::io::ErrorKind::WriteZero.into())),
                    Ok(Some(n)) => {
                        self.core.written(n, Instant::now());
                        needs_flush = true;
                    }
                    Ok(None) => needs_flush = false,
                    Err(e) => self.core.fail(self.io_error(e)),
                },
                res = rd.read_buf(&mut rbuf) => match res {
                    Ok(0) => self.core.fail(Error::Disconnected { broker: self.broker() }),
                    Ok(_) => self.core.received(&mut rbuf, Instant::now()),
                    Err(e) => self.core.fail(self.io_error(e)),
                },
                _ = crate::time::sleep_until_opt(wake) => {
                    // A request queued just as the connection went idle is
                    // taken, not failed.
                    while self.held.is_none() && !handles_gone && self.core.can_accept(false) {
                        match self.rx.try_recv() {
                            Ok(cmd) => {
                                if let Err(cmd) = self.core.submit(cmd, Instant::now()) {
                                    self.held = Some(cmd);
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    self.core.timer(Instant::now());
                }
            }
        };
        let _ = self.close_error.set(error.clone());
        self.closed.store(true, Ordering::Relaxed);
        // Fail whatever is still queued.
        self.rx.close();
        self.ctl_rx.close();
        let auth = std::iter::from_fn(|| match self.ctl_rx.try_recv() {
            Ok(Control::Auth(cmd)) => Some(Some(cmd)),
            Ok(_) => Some(None),
            Err(_) => None,
        })
        .flatten();
        let queued: Vec<Command> = self
            .held
            .take()
            .into_iter()
            .chain(self.auth_held.drain(..))
            .chain(auth)
            .chain(std::iter::from_fn(|| self.rx.try_recv().ok()))
            .collect();
        for cmd in queued {
            let _ = cmd.token.send(Err(error.clone()));
        }
        if graceful {
            // Nothing is in flight: say goodbye (a TLS close_notify), but
            // never wait long for a peer that does not read.
            let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
        }
    }

    fn control(&mut self, ctl: Control) {
        let now = Instant::now();
        match ctl {
            Control::Auth(cmd) => self.auth_held.push_back(cmd),
            Control::Schedule { after, versions } => {
                self.reauth.versions = Some(versions);
                self.core.schedule_reauth(now + after);
            }
            Control::Reauthenticated(Ok(lifetime)) => {
                self.core.resume();
                if let Some(l) = lifetime {
                    self.core
                        .schedule_reauth(now + crate::security::sasl::reauth_after(l));
                }
            }
            Control::Reauthenticated(Err(e)) => {
                let e = step_error(self.core.broker(), SetupStep::Sasl, e);
                tracing::warn!("re-authentication failed, closing the connection: {e}");
                self.core.fail(e);
            }
        }
    }

    fn broker(&self) -> String {
        self.core.broker().to_string()
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        Error::Io {
            broker: self.broker(),
            reason: Arc::new(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

    use super::*;
    use crate::net::test_broker::TestBroker;
    use crate::net::{Cluster, ClusterOptions};
    use purekafka_protocol::messages::{JoinGroupRequest, MetadataRequest};

    async fn eventually(what: &str, f: impl Fn() -> bool) {
        for _ in 0..200 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never: {what}");
    }

    /// A SASL step whose exchange is a Metadata request; sessions last
    /// `lifetime`; the `fail_at`-th run fails.
    #[derive(Debug)]
    struct FakeSasl {
        runs: std::sync::atomic::AtomicUsize,
        lifetime: Duration,
        fail_at: usize,
    }

    impl crate::net::SaslStep for FakeSasl {
        fn authenticate<'a>(
            &'a self,
            conn: &'a Connection,
        ) -> crate::net::StepFuture<'a, Option<Duration>> {
            Box::pin(async move {
                conn.send(&MetadataRequest::default()).await?;
                let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
                if n == self.fail_at {
                    return Err(Error::Unsupported("test SASL refusal"));
                }
                Ok(Some(self.lifetime))
            })
        }
    }

    fn sasl_opts(sasl: &Arc<FakeSasl>) -> ConnOptions {
        ConnOptions {
            sasl: Some(sasl.clone()),
            ..ConnOptions::default()
        }
    }

    #[tokio::test]
    async fn the_task_re_authenticates_before_each_session_ends() {
        let b = TestBroker::start().await;
        let sasl = Arc::new(FakeSasl {
            runs: 0.into(),
            lifetime: Duration::from_millis(300),
            fail_at: 0,
        });
        let conn = Connection::connect(&b.addr, "b", sasl_opts(&sasl))
            .await
            .unwrap();
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_millis(1200) {
            conn.send(&MetadataRequest::default()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let runs = sasl.runs.load(Ordering::SeqCst);
        // Once at setup, then every 255-285 ms.
        assert!((4..=6).contains(&runs), "{runs} exchanges");
        assert!(!conn.is_closed());
        assert_eq!(b.accepted.load(Ordering::SeqCst), 1, "one connection");
    }

    #[tokio::test]
    async fn a_failed_re_authentication_closes_the_connection() {
        let b = TestBroker::start().await;
        let sasl = Arc::new(FakeSasl {
            runs: 0.into(),
            lifetime: Duration::from_millis(100),
            fail_at: 2,
        });
        let conn = Connection::connect(&b.addr, "b", sasl_opts(&sasl))
            .await
            .unwrap();
        eventually("the connection closes", || conn.is_closed()).await;
        let e = conn.send(&MetadataRequest::default()).await.unwrap_err();
        assert!(matches!(e, Error::Disconnected { .. }), "{e:?}");
    }

    /// A stream whose first read fails: the socket task ends before any
    /// request is queued (a TLS 1.3 broker's refusal of a missing client
    /// certificate comes that way, right after the handshake).
    struct FailsAtOnce;

    impl tokio::io::AsyncRead for FailsAtOnce {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            _buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the broker refused us for a reason",
            )))
        }
    }

    impl tokio::io::AsyncWrite for FailsAtOnce {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// Setup reports why the socket task ended, not a bare "closed", when
    /// its first request finds the task already gone.
    #[tokio::test]
    async fn a_setup_request_after_the_task_ended_reports_why_it_ended() {
        let conn = Connection::start(FailsAtOnce, "b:9093", ConnOptions::default());
        eventually("the task ends", || conn.is_closed()).await;
        let e = conn.handshake().await.unwrap_err();
        assert!(matches!(e, Error::Disconnected { .. }), "{e:?}");
        let e = conn.cause(e);
        let text = e.to_string();
        assert!(
            text.contains("the broker refused us for a reason"),
            "{text}"
        );
        assert!(text.contains("b:9093"), "{text}");
    }

    #[tokio::test]
    async fn dropping_the_last_handle_closes_the_socket_and_ends_the_task() {
        let b = TestBroker::start().await;
        let conn = Connection::connect(&b.addr, "b", ConnOptions::default())
            .await
            .unwrap();
        let other = conn.clone();
        other.send(&MetadataRequest::default()).await.unwrap();
        drop(conn);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(b.closed.load(Ordering::SeqCst), 0, "one handle is left");
        drop(other);
        eventually("the broker sees the socket closed", || {
            b.closed.load(Ordering::SeqCst) == 1
        })
        .await;
    }

    #[tokio::test]
    async fn an_idle_connection_closes_and_the_pool_connects_again_on_next_use() {
        let b = TestBroker::start().await;
        let cluster = Cluster::connect(ClusterOptions {
            bootstrap: vec![b.addr.clone()],
            conn: ConnOptions {
                max_idle: Some(Duration::from_millis(300)),
                ..ConnOptions::default()
            },
            reconnect_backoff: Duration::from_millis(10),
            reconnect_backoff_max: Duration::from_millis(100),
            metadata_max_age: Duration::from_secs(300),
            allow_auto_create_topics: false,
        })
        .await
        .unwrap();
        let conn = cluster.any_broker().await.unwrap();
        // Busy: requests keep it open past the idle time.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            conn.send(&MetadataRequest::default()).await.unwrap();
        }
        assert!(!conn.is_closed());
        // Idle: it closes itself.
        eventually("the idle connection closes", || conn.is_closed()).await;
        assert_eq!(b.closed.load(Ordering::SeqCst), 1);
        // The pool connects again on next use.
        cluster.refresh_metadata().await.unwrap();
        assert_eq!(b.accepted.load(Ordering::SeqCst), 2);
        // And a connection without an idle limit stays open.
        let keep = Connection::connect(
            &b.addr,
            "b",
            ConnOptions {
                max_idle: None,
                ..ConnOptions::default()
            },
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!keep.is_closed());
    }

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
        let err = encode_frame(&req, 4).expect_err("v4 has no group.instance.id");
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
        encode_frame(&req, 5).unwrap();
    }
}
