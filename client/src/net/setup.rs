//! Connection setup, one ordered sequence, and the seam where TLS and SASL
//! plug in.
//!
//! [`Connection::connect`](crate::net::Connection::connect) runs these steps
//! in this order; each failure names the broker and the step:
//!
//! 1. **TCP connect**, within `socket.connection.setup.timeout.ms`
//!    ([`tcp_connect`]; fails as [`Error::Connect`]).
//! 2. **TLS handshake**, if [`ConnOptions::tls`](crate::net::ConnOptions::tls)
//!    is set: a [`TlsStep`] takes the TCP stream and returns the encrypted
//!    one as a [`BoxTransport`]. It shares the setup timeout with step 1.
//!    Without TLS the TCP stream itself is the transport.
//! 3. The connection's task starts over the transport (any
//!    [`Transport`]: `AsyncRead + AsyncWrite + Unpin + Send`), and
//!    **ApiVersions** is negotiated through it (each attempt bounded by
//!    `request.timeout.ms`).
//! 4. **SASL authentication**, if
//!    [`ConnOptions::sasl`](crate::net::ConnOptions::sasl) is set: a
//!    [`SaslStep`] runs its exchange (SaslHandshake, SaslAuthenticate, ...)
//!    as ordinary requests on the connection, which now knows the broker's
//!    versions, and returns the session lifetime the broker granted
//!    (KIP-368), if any.
//! 5. **Ready**: the handle is returned to the caller (the pool).
//!
//! Steps 2 and 4 fail as [`Error::Setup`] naming the broker and the
//! [`SetupStep`], with the step's own error inside (whether it is worth
//! retrying is the inner error's call: [`Error::is_retriable`]).
//!
//! Re-authentication on a live connection (KIP-368): when step 4 returns a
//! session lifetime, the socket task schedules the exchange again at 85-95%
//! of it. Then the connection core holds back new requests
//! (the crate-internal `Pipeline::pause_for_reauth`, state `Draining`),
//! lets those in flight finish, and in state `Reauthenticating` takes only
//! the exchange's requests (the task runs the same [`SaslStep`] on a handle
//! whose requests bypass the queue) until `Pipeline::resume`. A failed
//! re-authentication closes the connection with an [`Error::Setup`] naming
//! the SASL step.

use crate::error::{Error, Result};
use crate::net::conn::Connection;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A byte stream a connection runs over: plain TCP, or TLS over TCP.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T> Transport for T where T: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

/// A connection's stream, whatever it is.
pub type BoxTransport = Box<dyn Transport>;

/// What a setup step returns.
pub type StepFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Step 2 of setup: encrypts the TCP stream.
pub trait TlsStep: Send + Sync + fmt::Debug {
    /// Runs the handshake with the broker `host` (the host part of its
    /// address, for SNI and certificate checks) over `tcp`, and returns the
    /// encrypted stream.
    fn handshake<'a>(&'a self, tcp: TcpStream, host: &'a str) -> StepFuture<'a, BoxTransport>;
}

/// Step 4 of setup: authenticates a connection whose ApiVersions is done.
pub trait SaslStep: Send + Sync + fmt::Debug {
    /// Runs the SASL exchange as requests on `conn` and returns the session
    /// lifetime the broker granted (`session_lifetime_ms`, KIP-368), if any.
    fn authenticate<'a>(&'a self, conn: &'a Connection) -> StepFuture<'a, Option<Duration>>;
}

/// A step of connection setup after TCP connect, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupStep {
    /// The TLS handshake.
    Tls,
    /// ApiVersions negotiation.
    ApiVersions,
    /// SASL authentication.
    Sasl,
}

impl fmt::Display for SetupStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetupStep::Tls => "the TLS handshake",
            SetupStep::ApiVersions => "ApiVersions negotiation",
            SetupStep::Sasl => "SASL authentication",
        })
    }
}

/// Wraps a step's error so that it names the broker and the step.
pub(crate) fn step_error(broker: &str, step: SetupStep, source: Error) -> Error {
    Error::Setup {
        broker: broker.to_string(),
        step,
        source: Box::new(source),
    }
}

/// Step 1: connects to `addr` within `timeout`, with Nagle off.
pub async fn tcp_connect(addr: &str, broker: &str, timeout: Duration) -> Result<TcpStream> {
    let connect_err = |reason: String| Error::Connect {
        broker: broker.to_string(),
        reason,
    };
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(connect_err(format!(
                "no TCP connection within socket.connection.setup.timeout.ms ({timeout:?})"
            )));
        }
        Ok(Err(e)) => return Err(connect_err(e.to_string())),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The host part of `host:port` (`[v6]:port` gives `v6`).
pub fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

    use super::*;
    use crate::net::ConnOptions;
    use crate::net::test_broker::TestBroker;
    use purekafka_protocol::ApiKey;
    use purekafka_protocol::messages::MetadataRequest;
    use std::sync::{Arc, Mutex};

    /// Records the steps run, in order; fails the one named in `fail`.
    #[derive(Debug, Default)]
    struct Steps {
        log: Mutex<Vec<String>>,
        fail: Option<SetupStep>,
    }

    impl TlsStep for Steps {
        fn handshake<'a>(&'a self, tcp: TcpStream, host: &'a str) -> StepFuture<'a, BoxTransport> {
            Box::pin(async move {
                self.log.lock().unwrap().push(format!("tls {host}"));
                if self.fail == Some(SetupStep::Tls) {
                    return Err(Error::Unsupported("test TLS"));
                }
                Ok(Box::new(tcp) as BoxTransport)
            })
        }
    }

    impl SaslStep for Steps {
        fn authenticate<'a>(&'a self, conn: &'a Connection) -> StepFuture<'a, Option<Duration>> {
            Box::pin(async move {
                // ApiVersions is done, and requests flow on the connection.
                let v = conn.version_for(ApiKey::Metadata)?;
                conn.send(&MetadataRequest::default()).await?;
                self.log.lock().unwrap().push(format!("sasl metadata v{v}"));
                if self.fail == Some(SetupStep::Sasl) {
                    return Err(Error::Unsupported("test SASL"));
                }
                Ok(Some(Duration::from_secs(60)))
            })
        }
    }

    fn opts(steps: &Arc<Steps>) -> ConnOptions {
        ConnOptions {
            tls: Some(steps.clone()),
            sasl: Some(steps.clone()),
            ..ConnOptions::default()
        }
    }

    #[tokio::test]
    async fn setup_runs_tcp_tls_apiversions_sasl_in_order() {
        let b = TestBroker::start().await;
        let steps = Arc::new(Steps::default());
        let conn = Connection::connect(&b.addr, "b1", opts(&steps))
            .await
            .unwrap();
        let v = ApiKey::Metadata.usable_versions().max;
        assert_eq!(
            *steps.log.lock().unwrap(),
            vec!["tls 127.0.0.1".to_string(), format!("sasl metadata v{v}")]
        );
        conn.send(&MetadataRequest::default()).await.unwrap();
    }

    #[tokio::test]
    async fn a_failed_step_names_the_broker_and_the_step() {
        let b = TestBroker::start().await;
        for step in [SetupStep::Tls, SetupStep::Sasl] {
            let steps = Arc::new(Steps {
                fail: Some(step),
                ..Steps::default()
            });
            let e = Connection::connect(&b.addr, "node-7", opts(&steps))
                .await
                .unwrap_err();
            match &e {
                Error::Setup {
                    broker, step: s, ..
                } => assert!(broker == "node-7" && *s == step, "{e:?}"),
                other => panic!("{other:?}"),
            }
            let text = e.to_string();
            assert!(
                text.contains("node-7") && text.contains(&step.to_string()),
                "{text}"
            );
            assert!(!e.is_retriable(), "the inner error decides: {e:?}");
        }
        // The first step, TCP connect, fails as Connect.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = Connection::connect(&format!("127.0.0.1:{port}"), "gone", ConnOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Connect { ref broker, .. } if broker == "gone"),
            "{e:?}"
        );
    }

    #[test]
    fn host_of_strips_the_port_and_brackets() {
        assert_eq!(host_of("broker-1.example.com:9093"), "broker-1.example.com");
        assert_eq!(host_of("[::1]:9092"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn a_step_error_names_the_broker_and_the_step() {
        let e = step_error(
            "b:9092 (node 1)",
            SetupStep::Sasl,
            Error::Disconnected {
                broker: "b:9092 (node 1)".into(),
            },
        );
        let s = e.to_string();
        assert!(s.contains("b:9092 (node 1)") && s.contains("SASL"), "{s}");
        assert!(e.is_retriable(), "a dropped connection is worth retrying");
    }
}
