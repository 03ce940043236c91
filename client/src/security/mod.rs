//! Securing broker connections: SASL authentication ([`sasl`]) and TLS
//! ([`tls`]). Both are configured on the client's config, by the Java or
//! librdkafka property names or with the typed setters; what a user names
//! here is a mechanism, a secret, or an OAUTHBEARER token provider.
//!
//! ```
//! use purekafka::security::sasl::oauthbearer::{OAuthBearerToken, TokenFuture, TokenProvider};
//! use purekafka::security::sasl::{Mechanism, Secret};
//! use purekafka::{ProducerConfig, SecurityProtocol};
//! use std::sync::Arc;
//! use std::time::{Duration, SystemTime};
//!
//! // SCRAM over TLS, by property names; the password never shows in Debug.
//! let scram = ProducerConfig::from_properties([
//!     ("bootstrap.servers", "broker:9093"),
//!     ("security.protocol", "SASL_SSL"),
//!     ("sasl.mechanism", "SCRAM-SHA-512"),
//!     ("sasl.username", "alice"),
//!     ("sasl.password", "alice-secret"),
//! ])?;
//! assert!(!format!("{scram:?}").contains("alice-secret"));
//!
//! /// OAUTHBEARER tokens from an identity provider (here: made up).
//! struct MyTokens;
//!
//! impl TokenProvider for MyTokens {
//!     fn token(&self) -> TokenFuture<'_> {
//!         Box::pin(async {
//!             Ok(OAuthBearerToken {
//!                 value: Secret::new("eyJhbGciOi..."),
//!                 expires_at: SystemTime::now() + Duration::from_secs(3600),
//!                 principal: "alice".into(),
//!             })
//!         })
//!     }
//! }
//!
//! let tokens: Arc<dyn TokenProvider> = Arc::new(MyTokens);
//! let oauth = ProducerConfig::new("broker:9093")
//!     .security_protocol(SecurityProtocol::SaslSsl)
//!     .sasl_mechanism(Mechanism::OAuthBearer)
//!     .sasl_token_provider(tokens)
//!     .build()?;
//! assert_eq!(oauth.client.sasl_mechanism, Some(Mechanism::OAuthBearer));
//! # Ok::<(), purekafka::Error>(())
//! ```

pub mod sasl;
pub mod tls;
