//! Runs an [`Exchange`] over a connection: setup step 4 of
//! [`crate::net::setup`] ([`SaslStep`]), and the same exchange again when a
//! session lifetime is about to end (KIP-368).

use super::{Exchange, Next, SaslSession, StepError};
use crate::error::{Error, Result};
use crate::net::{Connection, SaslStep, StepFuture};
use purekafka_protocol::ApiKey;
use std::time::Duration;

/// SaslHandshake v1: the framed exchange (v0 is the unframed one).
const HANDSHAKE_VERSION: i16 = 1;
/// At most this many SaslAuthenticate rounds (SCRAM needs 2, an OAUTHBEARER
/// refusal 2): a broker that keeps asking is broken.
const MAX_ROUNDS: usize = 8;

impl SaslSession {
    /// Runs one exchange on `conn` and returns the session lifetime.
    pub async fn run(&self, conn: &Connection) -> Result<Option<Duration>> {
        let mechanism = self.mechanism().name();
        let fail = |e: StepError| {
            let hint = match &e {
                StepError::Rejected(_) => match self.mechanism() {
                    super::Mechanism::OAuthBearer => "; check the token provider",
                    _ => "; check sasl.username and sasl.password (or sasl.jaas.config)",
                },
                StepError::Unsupported(_) | StepError::Protocol(_) => "",
            };
            Error::Authentication {
                mechanism,
                reason: format!("{e}{hint}"),
            }
        };
        let mut x: Exchange = self.exchange().await.map_err(fail)?;
        let hv = conn.version_for(ApiKey::SaslHandshake)?;
        if hv < HANDSHAKE_VERSION {
            return Err(Error::Authentication {
                mechanism,
                reason: "the broker speaks only SaslHandshake v0 (Kafka before 1.0), \
                         whose unframed exchange purekafka does not implement"
                    .into(),
            });
        }
        let resp = conn
            .send_versioned(&x.handshake(), HANDSHAKE_VERSION)
            .await?;
        let mut req = x.on_handshake(&resp).map_err(fail)?;
        let av = conn.version_for(ApiKey::SaslAuthenticate)?;
        for _ in 0..MAX_ROUNDS {
            let resp = conn.send_versioned(&req, av).await?;
            match x.on_authenticate(&resp).map_err(fail)? {
                Next::Send(r) => req = r,
                Next::Done(a) => {
                    tracing::debug!(
                        broker = conn.broker(),
                        mechanism,
                        session_lifetime = ?a.session_lifetime,
                        "SASL authenticated"
                    );
                    return Ok(a.session_lifetime);
                }
            }
        }
        Err(Error::Authentication {
            mechanism,
            reason: format!("the broker did not finish the exchange in {MAX_ROUNDS} rounds"),
        })
    }
}

impl SaslStep for SaslSession {
    fn authenticate<'a>(&'a self, conn: &'a Connection) -> StepFuture<'a, Option<Duration>> {
        Box::pin(self.run(conn))
    }
}
