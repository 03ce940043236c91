//! The SASL properties of [`ClientConfig`]: the value parsers its
//! declaration uses (`sasl.mechanism`, `sasl.jaas.config`,
//! `sasl.oauthbearer.config`), and the [`SaslConfig`] a client's
//! connections authenticate with. Parsers never put a secret value in
//! their reasons.

use super::oauthbearer::TokenProvider;
use super::{Mechanism, SaslConfig, SaslSession, Secret};
use crate::config::{ClientConfig, SecurityProtocol};
use crate::error::ConfigError;
use std::fmt;
use std::sync::Arc;

/// A user's OAUTHBEARER token provider, as a config field
/// ([`ClientConfig::sasl_token_provider`]). Two are equal when they are
/// the same provider.
#[derive(Clone)]
pub struct TokenProviderRef(pub Arc<dyn TokenProvider>);

impl fmt::Debug for TokenProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenProvider")
    }
}

impl PartialEq for TokenProviderRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl Eq for TokenProviderRef {}

/// `sasl.mechanism`.
pub(crate) fn parse_mechanism(s: &str) -> Result<Option<Mechanism>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some)
}

/// `sasl.jaas.config`: parsed now so that a bad one fails at `set`; kept
/// as text (a secret) and applied when the client connects.
pub(crate) fn parse_jaas_config(s: &str) -> Result<Option<Secret>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    SaslConfig::default().set_jaas(s)?;
    Ok(Some(Secret::new(s)))
}

/// `sasl.oauthbearer.config` (librdkafka's unsecured-token settings).
pub(crate) fn parse_oauthbearer_config(s: &str) -> Result<Option<Secret>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    SaslConfig::unsecured_provider(s)?;
    Ok(Some(Secret::new(s)))
}

/// `sasl.login.callback.handler.class`: Java names a class; in Rust the
/// provider is an object, set with [`ClientConfig::sasl_token_provider`].
pub(crate) fn parse_token_provider(s: &str) -> Result<Option<TokenProviderRef>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Err(
        "a class cannot be loaded by name here: set the OAUTHBEARER token provider in code \
         (ClientConfig::sasl_token_provider)"
            .into(),
    )
}

impl SaslConfig {
    /// The SASL settings of `c`, or `None` when its `security.protocol`
    /// does not authenticate with SASL. Errors name the property at fault.
    pub fn from_client(c: &ClientConfig) -> Result<Option<SaslConfig>, ConfigError> {
        if !matches!(
            c.security_protocol,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        ) {
            return Ok(None);
        }
        let mut s = SaslConfig {
            mechanism: c.sasl_mechanism,
            ..SaslConfig::default()
        };
        // The JAAS text first, so that sasl.username / sasl.password (the
        // librdkafka way) win where both are given.
        if let Some(j) = &c.sasl_jaas_config {
            s.set_jaas(j.expose())
                .map_err(|r| ConfigError::new("sasl.jaas.config", r))?;
        }
        if c.enable_sasl_oauthbearer_unsecure_jwt {
            let Some(text) = &c.sasl_oauthbearer_config else {
                return Err(ConfigError::new(
                    "sasl.oauthbearer.config",
                    "enable.sasl.oauthbearer.unsecure.jwt=true needs sasl.oauthbearer.config \
                     (principal=<name>)",
                ));
            };
            let (p, ext) = SaslConfig::unsecured_provider(text.expose())
                .map_err(|r| ConfigError::new("sasl.oauthbearer.config", r))?;
            s.token_provider = Some(Arc::new(p));
            s.oauthbearer_extensions = ext;
        }
        if let Some(u) = &c.sasl_username {
            s.username = Some(u.clone());
        }
        if let Some(p) = &c.sasl_password {
            s.password = Some(p.clone());
        }
        if let Some(p) = &c.sasl_token_provider {
            s.token_provider = Some(p.0.clone());
        }
        s.validate()?;
        Ok(Some(s))
    }
}

impl SaslSession {
    /// The session all connections of a client with config `c` share, or
    /// `None` without SASL.
    pub fn from_client(c: &ClientConfig) -> Result<Option<Arc<SaslSession>>, ConfigError> {
        SaslConfig::from_client(c)?
            .map(|s| SaslSession::new(s).map(Arc::new))
            .transpose()
    }
}
