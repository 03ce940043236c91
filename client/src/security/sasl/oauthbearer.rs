//! OAUTHBEARER (RFC 7628, KIP-255): tokens, token providers, and the
//! client's side of the exchange.
//!
//! A [`TokenProvider`] (async) hands out tokens; the client keeps the
//! current one and asks the provider for a new one once 80% of its lifetime
//! has passed (Java's `sasl.login.refresh.window.factor` default), so a
//! connection or a re-authentication never presents an expired token.
//! [`UnsecuredTokenProvider`] makes unsigned JWS tokens (`alg: none`), as
//! Kafka's `OAuthBearerUnsecuredLoginCallbackHandler` does, for brokers that
//! use Kafka's unsecured validator (tests, development).
//!
//! ```
//! use purekafka::security::sasl::oauthbearer::{TokenProvider, UnsecuredTokenProvider};
//! use purekafka::{ProducerConfig, SecurityProtocol};
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//!
//! let unsecured = UnsecuredTokenProvider::new("alice");
//! let now = SystemTime::now();
//! let token = unsecured.token_at(now);
//! assert_eq!(token.principal, "alice");
//! assert_eq!(token.expires_at.duration_since(now).ok(), Some(Duration::from_secs(3600)));
//!
//! // Any TokenProvider (a real identity provider's client, usually) goes in the config.
//! let tokens: Arc<dyn TokenProvider> = Arc::new(unsecured);
//! let cfg = ProducerConfig::new("broker:9094")
//!     .security_protocol(SecurityProtocol::SaslPlaintext)
//!     .sasl_mechanism(purekafka::security::sasl::Mechanism::OAuthBearer)
//!     .sasl_token_provider(tokens)
//!     .build()?;
//! assert!(cfg.client.sasl_token_provider.is_some());
//! # Ok::<(), purekafka::Error>(())
//! ```

use super::{Secret, StepError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A bearer token and what the client needs to know about it.
#[derive(Clone)]
pub struct OAuthBearerToken {
    /// The token as sent to the broker (a JWT, usually). Secret.
    pub value: Secret,
    /// When it stops being valid.
    pub expires_at: SystemTime,
    /// The principal it names (for logs and errors; the broker decides).
    pub principal: String,
}

impl fmt::Debug for OAuthBearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBearerToken")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .field("principal", &self.principal)
            .finish()
    }
}

/// The future a [`TokenProvider`] returns.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<OAuthBearerToken, String>> + Send + 'a>>;

/// Where OAUTHBEARER tokens come from (an identity provider's token
/// endpoint, a file a sidecar refreshes, ...). Called when a connection
/// authenticates and when the cached token is due for refresh; an `Err`
/// fails that authentication with the message given.
pub trait TokenProvider: Send + Sync {
    /// A fresh token.
    fn token(&self) -> TokenFuture<'_>;
}

/// Unsigned JWS tokens (`{"alg":"none"}`), like Kafka's
/// `OAuthBearerUnsecuredLoginCallbackHandler`: for brokers that validate
/// with `OAuthBearerUnsecuredValidatorCallbackHandler`. Never for production.
#[derive(Debug, Clone)]
pub struct UnsecuredTokenProvider {
    /// The `sub` claim (Java: `unsecuredLoginStringClaim_sub`, librdkafka:
    /// `principal=` in `sasl.oauthbearer.config`).
    pub principal: String,
    /// Lifetime of each token (Java: `unsecuredLoginLifetimeSeconds`,
    /// default 3600 s).
    pub lifetime: Duration,
    /// The `scope` claim, if any (space-separated in the token).
    pub scope: Vec<String>,
}

impl UnsecuredTokenProvider {
    /// Tokens for `principal` that last an hour.
    pub fn new(principal: impl Into<String>) -> Self {
        UnsecuredTokenProvider {
            principal: principal.into(),
            lifetime: Duration::from_secs(3600),
            scope: Vec::new(),
        }
    }

    /// The token this provider makes at `now`.
    pub fn token_at(&self, now: SystemTime) -> OAuthBearerToken {
        let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let exp = iat.saturating_add(self.lifetime);
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), self.principal.clone().into());
        claims.insert("iat".into(), iat.as_secs().into());
        claims.insert("exp".into(), exp.as_secs().into());
        if !self.scope.is_empty() {
            claims.insert("scope".into(), self.scope.join(" ").into());
        }
        let header = B64URL.encode(br#"{"alg":"none"}"#);
        let payload = B64URL.encode(serde_json::Value::Object(claims).to_string());
        OAuthBearerToken {
            value: Secret::new(format!("{header}.{payload}.")),
            expires_at: UNIX_EPOCH + exp,
            principal: self.principal.clone(),
        }
    }
}

impl TokenProvider for UnsecuredTokenProvider {
    fn token(&self) -> TokenFuture<'_> {
        let t = self.token_at(SystemTime::now());
        Box::pin(async move { Ok(t) })
    }
}

/// The fraction of a token's lifetime after which it is refreshed.
pub(crate) const REFRESH_WINDOW_FACTOR: f64 = 0.8;

/// The current token of one client, refreshed before it expires. Shared by
/// every connection of the client.
pub(crate) struct TokenCache {
    provider: Arc<dyn TokenProvider>,
    current: tokio::sync::Mutex<Option<(OAuthBearerToken, SystemTime)>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache over `provider`.
    pub fn new(provider: Arc<dyn TokenProvider>) -> Self {
        TokenCache {
            provider,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached token, or a new one when none is cached or the cached
    /// one is past its refresh point.
    pub async fn token(&self) -> Result<OAuthBearerToken, String> {
        let mut cur = self.current.lock().await;
        let now = SystemTime::now();
        if let Some((t, refresh_at)) = cur.as_ref()
            && now < *refresh_at
            && now < t.expires_at
        {
            return Ok(t.clone());
        }
        let t = self.provider.token().await?;
        if t.expires_at <= now {
            return Err(format!(
                "the token provider returned a token for {} that has already expired",
                t.principal
            ));
        }
        let refresh_at = refresh_point(now, t.expires_at);
        *cur = Some((t.clone(), refresh_at));
        Ok(t)
    }
}

/// When a token fetched at `now` and expiring at `expires_at` is refreshed.
pub(crate) fn refresh_point(now: SystemTime, expires_at: SystemTime) -> SystemTime {
    let life = expires_at.duration_since(now).unwrap_or_default();
    now + life.mul_f64(REFRESH_WINDOW_FACTOR)
}

enum State {
    Initial,
    SentToken,
    /// The server sent an error challenge; we answered with the kvsep and
    /// expect the failure.
    Failing(String),
    Done,
}

/// The client's side of one OAUTHBEARER exchange.
pub(crate) struct OAuthBearerClient {
    token: OAuthBearerToken,
    extensions: Vec<(String, String)>,
    state: State,
}

impl fmt::Debug for OAuthBearerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBearerClient")
            .field("principal", &self.token.principal)
            .finish_non_exhaustive()
    }
}

const KVSEP: char = '\u{1}';

impl OAuthBearerClient {
    /// An exchange presenting `token` with SASL extensions (KIP-342).
    pub fn new(token: OAuthBearerToken, extensions: Vec<(String, String)>) -> Self {
        OAuthBearerClient {
            token,
            extensions,
            state: State::Initial,
        }
    }

    /// The initial client response: `n,,^Aauth=Bearer <token>^A[k=v^A]*^A`.
    pub fn first(&mut self) -> Result<Vec<u8>, StepError> {
        if !matches!(self.state, State::Initial) {
            return Err(StepError::Protocol("the token was already sent".into()));
        }
        let mut msg = format!("n,,{KVSEP}auth=Bearer {}", self.token.value.expose());
        for (k, v) in &self.extensions {
            msg.push(KVSEP);
            msg.push_str(k);
            msg.push('=');
            msg.push_str(v);
        }
        msg.push(KVSEP);
        msg.push(KVSEP);
        self.state = State::SentToken;
        Ok(msg.into_bytes())
    }

    /// The server's answer to the token. Empty means accepted; anything else
    /// is an error challenge (RFC 7628 3.2.2), answered with a lone kvsep,
    /// after which the broker fails the exchange: the returned message is
    /// then what to send, and [`OAuthBearerClient::failure_detail`] says why.
    pub fn on_server(&mut self, msg: &[u8]) -> Result<Option<Vec<u8>>, StepError> {
        match &self.state {
            State::SentToken if msg.is_empty() => {
                self.state = State::Done;
                Ok(None)
            }
            State::SentToken => {
                let detail = String::from_utf8_lossy(msg).into_owned();
                self.state = State::Failing(detail);
                Ok(Some(vec![KVSEP as u8]))
            }
            State::Failing(d) => Err(StepError::Rejected(format!(
                "the broker rejected the token: {d}"
            ))),
            State::Initial | State::Done => Err(StepError::Protocol(
                "unexpected OAUTHBEARER server message".into(),
            )),
        }
    }

    /// The broker's error challenge, once it sent one.
    pub fn failure_detail(&self) -> Option<&str> {
        match &self.state {
            State::Failing(d) => Some(d),
            _ => None,
        }
    }

    /// Whether the broker accepted the token.
    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_claims(token: &str) -> serde_json::Value {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{token}");
        assert_eq!(parts[2], "", "an unsecured JWS has an empty signature");
        let h: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(h["alg"], "none");
        serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap()
    }

    #[test]
    fn unsecured_tokens_carry_sub_iat_exp_and_scope() {
        let mut p = UnsecuredTokenProvider::new("alice");
        p.lifetime = Duration::from_secs(60);
        p.scope = vec!["a".into(), "b".into()];
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = p.token_at(now);
        let c = decode_claims(t.value.expose());
        assert_eq!(c["sub"], "alice");
        assert_eq!(c["iat"], 1_700_000_000u64);
        assert_eq!(c["exp"], 1_700_000_060u64);
        assert_eq!(c["scope"], "a b");
        assert_eq!(t.expires_at, now + Duration::from_secs(60));
        assert!(!format!("{t:?}").contains(t.value.expose()));
    }

    #[test]
    fn client_message_follows_rfc7628() {
        let t = OAuthBearerToken {
            value: Secret::new("tok"),
            expires_at: SystemTime::now(),
            principal: "p".into(),
        };
        let mut c = OAuthBearerClient::new(t.clone(), vec![]);
        assert_eq!(c.first().unwrap(), b"n,,\x01auth=Bearer tok\x01\x01");
        assert_eq!(c.on_server(b"").unwrap(), None);
        assert!(c.is_done());
        let mut c = OAuthBearerClient::new(t, vec![("traceId".into(), "7".into())]);
        assert_eq!(
            c.first().unwrap(),
            b"n,,\x01auth=Bearer tok\x01traceId=7\x01\x01"
        );
    }

    #[test]
    fn an_error_challenge_is_answered_then_reported() {
        let t = UnsecuredTokenProvider::new("x").token_at(SystemTime::now());
        let mut c = OAuthBearerClient::new(t, vec![]);
        c.first().unwrap();
        let ch = br#"{"status":"invalid_token"}"#;
        assert_eq!(c.on_server(ch).unwrap(), Some(vec![1u8]));
        assert_eq!(c.failure_detail(), Some(r#"{"status":"invalid_token"}"#));
        assert!(!c.is_done());
        assert!(c.on_server(b"").is_err());
    }

    struct Counting(std::sync::atomic::AtomicU32, Duration);
    impl TokenProvider for Counting {
        fn token(&self) -> TokenFuture<'_> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut p = UnsecuredTokenProvider::new(format!("u{n}"));
            p.lifetime = self.1;
            let t = p.token_at(SystemTime::now());
            Box::pin(async move { Ok(t) })
        }
    }

    #[tokio::test]
    async fn the_cache_refreshes_before_expiry() {
        // A one-hour token is reused.
        let cache = TokenCache::new(Arc::new(Counting(0.into(), Duration::from_secs(3600))));
        assert_eq!(cache.token().await.unwrap().principal, "u0");
        assert_eq!(cache.token().await.unwrap().principal, "u0");
        // A token whose refresh point has passed is replaced: 2 s lifetime,
        // refresh at 1.6 s.
        let cache = TokenCache::new(Arc::new(Counting(0.into(), Duration::from_secs(2))));
        assert_eq!(cache.token().await.unwrap().principal, "u0");
        tokio::time::sleep(Duration::from_millis(1700)).await;
        assert_eq!(cache.token().await.unwrap().principal, "u1");
    }

    #[test]
    fn refresh_point_is_at_80_percent() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let at = refresh_point(now, now + Duration::from_secs(100));
        assert_eq!(at, now + Duration::from_secs(80));
    }

    #[tokio::test]
    async fn an_expired_token_from_the_provider_is_refused() {
        struct Expired;
        impl TokenProvider for Expired {
            fn token(&self) -> TokenFuture<'_> {
                let mut t = UnsecuredTokenProvider::new("old").token_at(SystemTime::now());
                t.expires_at = UNIX_EPOCH;
                Box::pin(async move { Ok(t) })
            }
        }
        let e = TokenCache::new(Arc::new(Expired))
            .token()
            .await
            .unwrap_err();
        assert!(e.contains("already expired"), "{e}");
    }
}
