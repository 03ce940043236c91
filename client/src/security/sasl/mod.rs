//! SASL authentication of broker connections (KIP-43, KIP-152, KIP-368).
//!
//! Mechanisms: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` and `OAUTHBEARER`.
//! `GSSAPI` (Kerberos) is not offered: there is no pure-Rust Kerberos
//! implementation, and purekafka compiles no C; asking for it is a
//! configuration error that says so.
//!
//! What an application names here is a [`Mechanism`], a [`Secret`] and,
//! for OAUTHBEARER, a token provider ([`oauthbearer`]); the rest is the
//! client's own, in layers, each testable on its own:
//! - the mechanisms (`scram`, [`oauthbearer`], PLAIN here): sans-IO
//!   state machines that take the server's bytes and give the client's;
//! - `Exchange`: the Kafka framing around one mechanism, also sans-IO:
//!   SaslHandshake v1 (naming the mechanism), then SaslAuthenticate rounds
//!   until the mechanism is done; it reads error codes and the session
//!   lifetime a broker sets (`connections.max.reauth.ms`, KIP-368) and says
//!   when to re-authenticate (`reauth_after`);
//! - `SaslSession::run`: the async driver that runs an exchange over a
//!   connection (on connect, for every connection of a client, and again
//!   before the session expires).
//!
//! The unframed SaslHandshake v0 exchange (Kafka 0.10.0-0.10.1) is not
//! spoken: every broker since 1.0 speaks v1, and KIP-896 (Kafka 4.0) dropped
//! the older versions of the APIs around it.
//!
//! Passwords and tokens are [`Secret`]s: their `Debug` prints `[redacted]`
//! and no error or log line here includes them.
//!
//! ```
//! use purekafka::security::sasl::{Mechanism, Secret};
//! use purekafka::{ConsumerConfig, SecurityProtocol};
//!
//! // `sasl.mechanism` values, case-insensitive; GSSAPI is refused, saying why.
//! assert_eq!("scram-sha-512".parse::<Mechanism>(), Ok(Mechanism::ScramSha512));
//! assert!("GSSAPI".parse::<Mechanism>().unwrap_err().contains("Kerberos"));
//!
//! assert_eq!(format!("{:?}", Secret::new("alice-secret")), "[redacted]");
//! let cfg = ConsumerConfig::new("broker:9094")
//!     .security_protocol(SecurityProtocol::SaslPlaintext)
//!     .sasl_mechanism(Mechanism::ScramSha256)
//!     .sasl_username("alice")
//!     .sasl_password("alice-secret")
//!     .build()?;
//! assert_eq!(cfg.client.sasl_mechanism.map(Mechanism::name), Some("SCRAM-SHA-256"));
//! assert!(!format!("{cfg:?}").contains("alice-secret"));
//! # Ok::<(), purekafka::Error>(())
//! ```

mod driver;
pub(crate) mod jaas;
pub mod oauthbearer;
pub(crate) mod props;
pub(crate) mod scram;

pub use props::TokenProviderRef;

use crate::error::ConfigError;
use oauthbearer::{OAuthBearerClient, OAuthBearerToken, TokenCache, TokenProvider};
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use scram::{ScramClient, ScramHash};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use crate::config::Secret;

/// A SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): the password is sent as is; use it over TLS.
    Plain,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628, KIP-255).
    OAuthBearer,
}

impl Mechanism {
    /// The name Kafka uses.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mechanism {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(Mechanism::Plain),
            "SCRAM-SHA-256" => Ok(Mechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(Mechanism::ScramSha512),
            "OAUTHBEARER" => Ok(Mechanism::OAuthBearer),
            "GSSAPI" => Err(
                "GSSAPI (Kerberos) is not supported: there is no pure-Rust Kerberos \
                 implementation and purekafka compiles no C; use SCRAM-SHA-512, OAUTHBEARER \
                 or PLAIN over TLS"
                    .into(),
            ),
            _ => Err(
                "unknown SASL mechanism; expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
                    .into(),
            ),
        }
    }
}

/// What a client authenticates with, built from the `sasl.*` properties of
/// its config by [`SaslConfig::from_client`] (the one parser of those
/// properties is the config's).
#[derive(Clone, Default)]
pub(crate) struct SaslConfig {
    /// `sasl.mechanism` (librdkafka: `sasl.mechanisms`); Java's default is
    /// `GSSAPI`, which purekafka lacks, so there is no default: `None` with a
    /// SASL `security.protocol` is a configuration error.
    pub mechanism: Option<Mechanism>,
    /// `sasl.username` (or `username=` in `sasl.jaas.config`), for PLAIN
    /// and SCRAM.
    pub username: Option<String>,
    /// `sasl.password` (or `password=` in `sasl.jaas.config`). Secret.
    pub password: Option<Secret>,
    /// Where OAUTHBEARER tokens come from: a user's provider, or the
    /// unsecured one `sasl.jaas.config` (`unsecuredLoginStringClaim_sub`) or
    /// librdkafka's `sasl.oauthbearer.config` (`principal=`) configure.
    pub token_provider: Option<Arc<dyn TokenProvider>>,
    /// SASL extensions sent with OAUTHBEARER tokens (KIP-342;
    /// `unsecuredLoginExtension_<name>` in the JAAS text, `extension_<name>`
    /// in `sasl.oauthbearer.config`).
    pub oauthbearer_extensions: Vec<(String, String)>,
}

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslConfig")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password)
            .field(
                "token_provider",
                &self.token_provider.as_ref().map(|_| "[provider]"),
            )
            .field(
                "oauthbearer_extensions",
                &self
                    .oauthbearer_extensions
                    .iter()
                    .map(|(k, _)| k)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

const PLAIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";
const OAUTH_MODULE: &str = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule";

impl SaslConfig {
    pub(crate) fn set_jaas(&mut self, text: &str) -> Result<(), String> {
        let e = jaas::parse(text).map_err(|r| format!("invalid value: {r}"))?;
        let opt = |k: &str| e.options.get(k).cloned();
        match e.module.as_str() {
            PLAIN_MODULE | SCRAM_MODULE => {
                let (Some(u), Some(p)) = (opt("username"), opt("password")) else {
                    return Err(format!(
                        "{} needs username=\"...\" and password=\"...\"",
                        e.module
                    ));
                };
                self.username = Some(u);
                self.password = Some(Secret::new(p));
            }
            OAUTH_MODULE => {
                let Some(sub) = opt("unsecuredLoginStringClaim_sub") else {
                    return Err(
                        "OAuthBearerLoginModule without unsecuredLoginStringClaim_sub: \
                         set a token provider in SaslConfig for secured tokens"
                            .into(),
                    );
                };
                let mut p = oauthbearer::UnsecuredTokenProvider::new(sub);
                if let Some(s) = opt("unsecuredLoginLifetimeSeconds") {
                    p.lifetime = Duration::from_secs(s.parse().map_err(|_| {
                        "unsecuredLoginLifetimeSeconds must be a whole number of seconds"
                            .to_string()
                    })?);
                }
                if let Some(s) = opt("unsecuredLoginStringClaim_scope") {
                    p.scope = s.split_whitespace().map(str::to_string).collect();
                }
                self.oauthbearer_extensions = e
                    .options
                    .iter()
                    .filter_map(|(k, v)| {
                        k.strip_prefix("unsecuredLoginExtension_")
                            .map(|n| (n.to_string(), v.clone()))
                    })
                    .collect();
                self.token_provider = Some(Arc::new(p));
            }
            m if m.contains("Krb5LoginModule") => {
                return Err("GSSAPI (Kerberos) is not supported: there is no pure-Rust \
                            Kerberos implementation and purekafka compiles no C"
                    .into());
            }
            _ => {
                return Err(format!(
                    "unknown login module {}; expected {PLAIN_MODULE}, {SCRAM_MODULE} or {OAUTH_MODULE}",
                    e.module
                ));
            }
        }
        Ok(())
    }

    /// librdkafka's unsecured tokens: `sasl.oauthbearer.config` =
    /// `principal=<sub> [lifeSeconds=<n>] [scope=<a,b>] [extension_<k>=<v>]`,
    /// used when `enable.sasl.oauthbearer.unsecure.jwt=true`.
    pub(crate) fn unsecured_provider(
        text: &str,
    ) -> Result<(oauthbearer::UnsecuredTokenProvider, Vec<(String, String)>), String> {
        let mut principal = None;
        let mut p = oauthbearer::UnsecuredTokenProvider::new("");
        let mut ext = Vec::new();
        for kv in text.split_whitespace() {
            let Some((k, v)) = kv.split_once('=') else {
                return Err("invalid value: expected space-separated name=value pairs".into());
            };
            match k {
                "principal" => principal = Some(v.to_string()),
                "lifeSeconds" => {
                    p.lifetime = Duration::from_secs(
                        v.parse()
                            .map_err(|_| "lifeSeconds must be a whole number".to_string())?,
                    )
                }
                "scope" => p.scope = v.split(',').map(str::to_string).collect(),
                "scopeClaimName" | "principalClaimName" => {
                    return Err(format!(
                        "{k} is not supported (the claims are sub and scope)"
                    ));
                }
                _ => match k.strip_prefix("extension_") {
                    Some(n) => ext.push((n.to_string(), v.to_string())),
                    None => return Err(format!("unknown attribute {k}")),
                },
            }
        }
        let Some(principal) = principal else {
            return Err("principal=<name> is required".into());
        };
        p.principal = principal;
        Ok((p, ext))
    }

    /// Checks that the mechanism has what it needs.
    pub fn validate(&self) -> Result<Mechanism, ConfigError> {
        let Some(m) = self.mechanism else {
            return Err(ConfigError::new(
                "sasl.mechanism",
                "a SASL security.protocol needs sasl.mechanism (PLAIN, SCRAM-SHA-256, \
                 SCRAM-SHA-512 or OAUTHBEARER)",
            ));
        };
        match m {
            Mechanism::Plain | Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
                if self.username.as_deref().is_none_or(str::is_empty) || self.password.is_none() {
                    return Err(ConfigError::new(
                        "sasl.username",
                        format!(
                            "sasl.mechanism={m} needs sasl.username and sasl.password (or \
                             username=\"...\" password=\"...\" in sasl.jaas.config)"
                        ),
                    ));
                }
            }
            Mechanism::OAuthBearer => {
                if self.token_provider.is_none() {
                    return Err(ConfigError::new(
                        "sasl.jaas.config",
                        "sasl.mechanism=OAUTHBEARER needs a token provider (SaslConfig::token_provider), \
                         or unsecured tokens: sasl.jaas.config with unsecuredLoginStringClaim_sub, \
                         or enable.sasl.oauthbearer.unsecure.jwt=true with sasl.oauthbearer.config",
                    ));
                }
            }
        }
        Ok(m)
    }
}

/// Why one step of an exchange failed (the driver adds the broker).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum StepError {
    /// The broker refused the credentials.
    #[error("{0}")]
    Rejected(String),
    /// The broker does not offer the mechanism.
    #[error("{0}")]
    Unsupported(String),
    /// The exchange went wrong (a malformed or unexpected message).
    #[error("{0}")]
    Protocol(String),
}

/// The client side of one mechanism.
#[derive(Debug)]
pub(crate) enum MechanismClient {
    /// PLAIN: one message.
    Plain {
        /// `sasl.username`.
        username: String,
        /// `sasl.password`.
        password: Secret,
        /// Whether the credentials were sent.
        sent: bool,
    },
    /// SCRAM-SHA-256/512.
    Scram(ScramClient),
    /// OAUTHBEARER.
    OAuthBearer(OAuthBearerClient),
}

impl MechanismClient {
    /// The client for `cfg`'s mechanism (`token` for OAUTHBEARER).
    pub fn new(
        mechanism: Mechanism,
        cfg: &SaslConfig,
        token: Option<OAuthBearerToken>,
    ) -> Result<Self, StepError> {
        let user = || cfg.username.clone().unwrap_or_default();
        let pass = || cfg.password.clone().unwrap_or_else(|| Secret::new(""));
        Ok(match mechanism {
            Mechanism::Plain => MechanismClient::Plain {
                username: user(),
                password: pass(),
                sent: false,
            },
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
                let hash = if mechanism == Mechanism::ScramSha256 {
                    ScramHash::Sha256
                } else {
                    ScramHash::Sha512
                };
                MechanismClient::Scram(ScramClient::new(
                    hash,
                    &user(),
                    pass(),
                    scram::random_nonce()?,
                ))
            }
            Mechanism::OAuthBearer => {
                let Some(t) = token else {
                    return Err(StepError::Protocol("no OAUTHBEARER token".into()));
                };
                MechanismClient::OAuthBearer(OAuthBearerClient::new(
                    t,
                    cfg.oauthbearer_extensions.clone(),
                ))
            }
        })
    }
}

/// The outcome of a finished exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Authenticated {
    /// The session lifetime the broker set (KIP-368), if any: the
    /// connection must re-authenticate before it ends.
    pub session_lifetime: Option<Duration>,
}

/// What to do after a SaslAuthenticate response.
#[derive(Debug)]
pub(crate) enum Next {
    /// Send another SaslAuthenticate.
    Send(SaslAuthenticateRequest),
    /// Authenticated.
    Done(Authenticated),
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    Start,
    Handshaking,
    Authenticating,
    Done,
    Failed,
}

/// One SASL exchange on one connection, sans-IO: it makes the requests and
/// reads the responses; the caller moves them.
#[derive(Debug)]
pub(crate) struct Exchange {
    mechanism: Mechanism,
    client: MechanismClient,
    phase: Phase,
}

impl Exchange {
    /// An exchange for `mechanism`, run by `client`.
    pub fn new(mechanism: Mechanism, client: MechanismClient) -> Self {
        Exchange {
            mechanism,
            client,
            phase: Phase::Start,
        }
    }

    /// The SaslHandshake (v1) request that opens the exchange.
    pub fn handshake(&mut self) -> SaslHandshakeRequest {
        self.phase = Phase::Handshaking;
        SaslHandshakeRequest {
            mechanism: self.mechanism.name().into(),
            ..Default::default()
        }
    }

    /// Reads the handshake response; gives the first SaslAuthenticate.
    pub fn on_handshake(
        &mut self,
        resp: &SaslHandshakeResponse,
    ) -> Result<SaslAuthenticateRequest, StepError> {
        if self.phase != Phase::Handshaking {
            return Err(self.fail(StepError::Protocol(
                "SaslHandshake response out of turn".into(),
            )));
        }
        if resp.error_code != 0 {
            let code = ErrorCode(resp.error_code);
            let offered = resp.mechanisms.join(", ");
            return Err(self.fail(if code == ErrorCode::UNSUPPORTED_SASL_MECHANISM {
                StepError::Unsupported(format!(
                    "the broker does not enable {} on this listener (it offers: {offered}); \
                     set sasl.mechanism to one of those",
                    self.mechanism
                ))
            } else {
                StepError::Protocol(format!("SaslHandshake failed: {code}"))
            }));
        }
        let first = match &mut self.client {
            MechanismClient::Plain {
                username,
                password,
                sent,
            } => {
                *sent = true;
                let mut m = Vec::with_capacity(username.len() + password.expose().len() + 2);
                m.push(0);
                m.extend_from_slice(username.as_bytes());
                m.push(0);
                m.extend_from_slice(password.expose().as_bytes());
                m
            }
            MechanismClient::Scram(c) => c.first().inspect_err(|_| {
                self.phase = Phase::Failed;
            })?,
            MechanismClient::OAuthBearer(c) => c.first().inspect_err(|_| {
                self.phase = Phase::Failed;
            })?,
        };
        self.phase = Phase::Authenticating;
        Ok(auth_request(first))
    }

    /// Reads a SaslAuthenticate response.
    pub fn on_authenticate(&mut self, resp: &SaslAuthenticateResponse) -> Result<Next, StepError> {
        if self.phase != Phase::Authenticating {
            return Err(self.fail(StepError::Protocol(
                "SaslAuthenticate response out of turn".into(),
            )));
        }
        if resp.error_code != 0 {
            let code = ErrorCode(resp.error_code);
            let mut reason = resp
                .error_message
                .clone()
                .unwrap_or_else(|| code.to_string());
            if let MechanismClient::OAuthBearer(c) = &self.client
                && let Some(d) = c.failure_detail()
            {
                reason = format!("{reason} (token rejected: {d})");
            }
            return Err(self.fail(if code == ErrorCode::SASL_AUTHENTICATION_FAILED {
                StepError::Rejected(reason)
            } else {
                StepError::Protocol(format!("{code}: {reason}"))
            }));
        }
        let bytes = &resp.auth_bytes;
        let reply = match &mut self.client {
            MechanismClient::Plain { .. } => None,
            MechanismClient::Scram(c) => {
                let r = if c.is_done() {
                    Err(StepError::Protocol("SCRAM message after the last".into()))
                } else if c.awaits_server_first() {
                    c.on_server_first(bytes).map(Some)
                } else {
                    c.on_server_final(bytes).map(|()| None)
                };
                r.inspect_err(|_| {
                    self.phase = Phase::Failed;
                })?
            }
            MechanismClient::OAuthBearer(c) => c.on_server(bytes).inspect_err(|_| {
                self.phase = Phase::Failed;
            })?,
        };
        match reply {
            Some(b) => Ok(Next::Send(auth_request(b))),
            None => {
                self.phase = Phase::Done;
                let ms = resp.session_lifetime_ms;
                Ok(Next::Done(Authenticated {
                    session_lifetime: (ms > 0).then(|| Duration::from_millis(ms as u64)),
                }))
            }
        }
    }

    fn fail(&mut self, e: StepError) -> StepError {
        self.phase = Phase::Failed;
        e
    }
}

fn auth_request(bytes: Vec<u8>) -> SaslAuthenticateRequest {
    SaslAuthenticateRequest {
        auth_bytes: bytes.into(),
        ..Default::default()
    }
}

/// When to re-authenticate a session of `lifetime`: at a random point
/// between 85% and 95% of it, as the Java client does, so the connections
/// of many clients do not all re-authenticate at once.
pub(crate) fn reauth_after(lifetime: Duration) -> Duration {
    let mut b = [0u8; 2];
    let r = if getrandom::fill(&mut b).is_ok() {
        f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
    } else {
        0.5
    };
    lifetime.mul_f64(0.85 + 0.10 * r)
}

unstable_pub! {
    /// One client's SASL settings and state, shared by all its connections.
    #[derive(Debug)]
    pub struct SaslSession {
        mechanism: Mechanism,
        config: SaslConfig,
        tokens: Option<TokenCache>,
    }
}

impl SaslSession {
    /// Validates `config`.
    pub(crate) fn new(config: SaslConfig) -> Result<Self, ConfigError> {
        let mechanism = config.validate()?;
        let tokens = config.token_provider.clone().map(TokenCache::new);
        Ok(SaslSession {
            mechanism,
            config,
            tokens,
        })
    }

    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// A fresh exchange (fetching an OAUTHBEARER token if needed).
    pub(crate) async fn exchange(&self) -> Result<Exchange, StepError> {
        let token = match (&self.tokens, self.mechanism) {
            (Some(c), Mechanism::OAuthBearer) => Some(
                c.token()
                    .await
                    .map_err(|e| StepError::Rejected(format!("the token provider failed: {e}")))?,
            ),
            _ => None,
        };
        let client = MechanismClient::new(self.mechanism, &self.config, token)?;
        Ok(Exchange::new(self.mechanism, client))
    }
}

#[cfg(test)]
mod tests;
