//! TLS for broker connections (`security.protocol` `ssl` and `sasl_ssl`),
//! on rustls.
//!
//! TLS is configured on the client's config, by the `ssl.*` properties or
//! the typed setters; the types here are the values some of them take
//! ([`EndpointIdentification`], [`TlsVersion`], a crypto provider or a whole
//! rustls config). Once per client the settings become one
//! `rustls::ClientConfig` that every connection of the client shares (so TLS
//! sessions are resumed on reconnect), the TLS step of connection setup: it
//! takes the TCP stream and returns the encrypted one, and SASL (for
//! `sasl_ssl`) then runs over it like over plain TCP.
//!
//! - Trust: `ssl.ca.location` (a PEM file, or a directory whose files are
//!   read for PEM certificates), `ssl.ca.pem` (inline PEM), both (their
//!   union), or, with neither, the platform's roots (`rustls-native-certs`:
//!   the system store, `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured).
//! - Client certificate (mTLS): `ssl.certificate.location` or
//!   `ssl.certificate.pem` (the chain, leaf first) with `ssl.key.location`
//!   or `ssl.key.pem`: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`),
//!   SEC1 (`EC PRIVATE KEY`), or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`,
//!   PBES2) with `ssl.key.password`. RSA and EC (P-256, P-384) keys.
//! - `ssl.endpoint.identification.algorithm`: `https` (the default) checks
//!   that the broker's certificate names the host the client connected to:
//!   the bootstrap host, then for each broker the host its metadata
//!   advertises. An IP address is matched against the certificate's IP
//!   names; a DNS name is also sent as SNI. Empty (or `none`) checks the
//!   chain and the validity dates only.
//! - `ssl.enabled.protocols`: `TLSv1.2,TLSv1.3` by default.
//! - Crypto: the provider set with `ssl_crypto_provider(Arc<CryptoProvider>)`, else
//!   the process-wide rustls default if the application installed one,
//!   else graviola (`rustls-graviola`: pure Rust and assembly, no C; built on
//!   x86_64 and aarch64; see the README's TLS section for why this one). A
//!   complete `rustls::ClientConfig` can be supplied instead of all of the
//!   above (`ssl_rustls_config(Arc<rustls::ClientConfig>)`).
//!
//! Secrets: the key password and inline keys are [`Secret`]s, and no error
//! built here quotes a key file's content or a password.
//!
//! ```
//! use purekafka::security::tls::{EndpointIdentification, TlsVersion};
//! use purekafka::{ConsumerConfig, SecurityProtocol};
//!
//! let cfg = ConsumerConfig::from_properties([
//!     ("bootstrap.servers", "broker:9093"),
//!     ("security.protocol", "SSL"),
//!     // Brokers reached by an address their certificates do not name.
//!     ("ssl.endpoint.identification.algorithm", ""),
//!     ("ssl.enabled.protocols", "TLSv1.3"),
//! ])?;
//! assert_eq!(cfg.client.security_protocol, SecurityProtocol::Ssl);
//! assert_eq!(cfg.client.ssl_endpoint_identification_algorithm, EndpointIdentification::None);
//! assert_eq!(cfg.client.ssl_enabled_protocols, [TlsVersion::Tls13]);
//! # Ok::<(), purekafka::Error>(())
//! ```

use crate::config::Secret;
use crate::error::{ConfigError, Error, Result};
use crate::net::setup::{BoxTransport, StepFuture, TlsStep};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    ServerName, UnixTime,
};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    SupportedProtocolVersion,
};
use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// `ssl.endpoint.identification.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointIdentification {
    /// `https`: the broker's certificate must name the host connected to.
    #[default]
    Https,
    /// Empty or `none`: the chain and dates are checked, the host is not.
    None,
}

impl EndpointIdentification {
    /// Parses the property value (case-insensitive): `https`, `none` or empty.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "https" => Ok(EndpointIdentification::Https),
            "" | "none" => Ok(EndpointIdentification::None),
            _ => Err("expected https, none, or empty (no host check)".into()),
        }
    }

    /// The property value.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointIdentification::Https => "https",
            EndpointIdentification::None => "none",
        }
    }
}

/// A TLS protocol version, as `ssl.enabled.protocols` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

impl TlsVersion {
    /// Parses `TLSv1.2` or `TLSv1.3` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tlsv1.2" => Ok(TlsVersion::Tls12),
            "tlsv1.3" => Ok(TlsVersion::Tls13),
            other => Err(format!(
                "{other:?} is not supported: expected TLSv1.2 and/or TLSv1.3"
            )),
        }
    }

    /// Parses a comma-separated list (`ssl.enabled.protocols`).
    pub fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let v = Self::parse(part)?;
            if !out.contains(&v) {
                out.push(v);
            }
        }
        if out.is_empty() {
            return Err("expected TLSv1.2 and/or TLSv1.3".into());
        }
        Ok(out)
    }

    /// The property value.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        }
    }
}

unstable_pub! {
    /// The TLS part of a client's configuration (the `ssl.*` properties, plus
    /// what only code can set: a crypto provider or a whole rustls config).
    #[derive(Clone)]
    pub struct TlsSettings {
        /// `ssl.ca.location`: a PEM file of CA certificates, or a directory of
        /// them.
        pub ca_location: Option<PathBuf>,
        /// `ssl.ca.pem`: CA certificates as inline PEM.
        pub ca_pem: Option<String>,
        /// `ssl.certificate.location`: the client's certificate chain (PEM).
        pub certificate_location: Option<PathBuf>,
        /// `ssl.certificate.pem`: the client's certificate chain, inline.
        pub certificate_pem: Option<String>,
        /// `ssl.key.location`: the client's private key (PEM).
        pub key_location: Option<PathBuf>,
        /// `ssl.key.pem`: the client's private key, inline.
        pub key_pem: Option<Secret>,
        /// `ssl.key.password`: decrypts an `ENCRYPTED PRIVATE KEY`.
        pub key_password: Option<Secret>,
        /// `ssl.endpoint.identification.algorithm`.
        pub endpoint_identification: EndpointIdentification,
        /// `ssl.enabled.protocols`.
        pub versions: Vec<TlsVersion>,
        /// The crypto provider; `None` takes the process default, else graviola.
        pub crypto_provider: Option<Arc<CryptoProvider>>,
        /// A complete rustls configuration, used as it is: every other field is
        /// then ignored.
        pub rustls_config: Option<Arc<ClientConfig>>,
    }
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca_location: None,
            ca_pem: None,
            certificate_location: None,
            certificate_pem: None,
            key_location: None,
            key_pem: None,
            key_password: None,
            endpoint_identification: EndpointIdentification::Https,
            versions: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            crypto_provider: None,
            rustls_config: None,
        }
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // rustls' own Debug of a ClientConfig reaches the client's signing
        // key: only say whether one is set.
        let set = |b: bool| if b { "set" } else { "unset" };
        f.debug_struct("TlsSettings")
            .field("ca_location", &self.ca_location)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "inline PEM"))
            .field("certificate_location", &self.certificate_location)
            .field(
                "certificate_pem",
                &self.certificate_pem.as_ref().map(|_| "inline PEM"),
            )
            .field("key_location", &self.key_location)
            .field("key_pem", &self.key_pem)
            .field("key_password", &self.key_password)
            .field("endpoint_identification", &self.endpoint_identification)
            .field("versions", &self.versions)
            .field("crypto_provider", &set(self.crypto_provider.is_some()))
            .field("rustls_config", &set(self.rustls_config.is_some()))
            .finish()
    }
}

/// `ssl.provider`'s value: a rustls crypto provider, set in code
/// ([`ClientConfig::ssl_crypto_provider`](crate::config::ClientConfig)).
/// Configs compare equal when they hold the same provider.
#[derive(Clone)]
pub struct CryptoProviderRef(pub Arc<CryptoProvider>);

impl fmt::Debug for CryptoProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CryptoProvider")
    }
}

impl PartialEq for CryptoProviderRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CryptoProviderRef {}

/// `ssl.engine.factory.class`'s value: a complete rustls client
/// configuration, set in code, used instead of every other `ssl.*`
/// property. `Debug` shows nothing of it (rustls' own `Debug` reaches the
/// client's key).
#[derive(Clone)]
pub struct RustlsConfigRef(pub Arc<ClientConfig>);

impl fmt::Debug for RustlsConfigRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rustls::ClientConfig")
    }
}

impl PartialEq for RustlsConfigRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RustlsConfigRef {}

/// Parses `ssl.endpoint.identification.algorithm`.
pub(crate) fn parse_endpoint_identification(s: &str) -> Result<EndpointIdentification, String> {
    EndpointIdentification::parse(s)
}

/// Parses `ssl.enabled.protocols`.
pub(crate) fn parse_enabled_protocols(s: &str) -> Result<Vec<TlsVersion>, String> {
    TlsVersion::parse_list(s)
}

/// `ssl.provider` cannot name a provider as a string (Java's names JCA
/// providers): empty is accepted, anything else says to set it in code.
pub(crate) fn parse_crypto_provider(s: &str) -> Result<Option<CryptoProviderRef>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Err(
        "a crypto provider cannot be named here: set a rustls CryptoProvider in code \
         (ClientConfig::ssl_crypto_provider); unset, graviola is used"
            .into(),
    )
}

/// `ssl.engine.factory.class` likewise: a rustls `ClientConfig` is set in code.
pub(crate) fn parse_rustls_config(s: &str) -> Result<Option<RustlsConfigRef>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Err(
        "a class cannot be loaded by name here: set a rustls ClientConfig in code \
         (ClientConfig::ssl_rustls_config)"
            .into(),
    )
}

/// The crypto provider used when none is set: the process-wide rustls
/// default if the application installed one, else graviola.
fn default_provider() -> Option<Arc<CryptoProvider>> {
    if let Some(p) = CryptoProvider::get_default() {
        return Some(p.clone());
    }
    builtin_provider()
}

/// graviola, where it runs: it asserts (panics) on first use on a CPU
/// without the instructions it is written for, so those are checked first.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn builtin_provider() -> Option<Arc<CryptoProvider>> {
    graviola_cpu_ok().then(|| Arc::new(rustls_graviola::default_provider()))
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn builtin_provider() -> Option<Arc<CryptoProvider>> {
    None
}

/// The CPU features graviola 0.4 requires (x86_64 from about 2013 on).
#[cfg(target_arch = "x86_64")]
fn graviola_cpu_ok() -> bool {
    std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("adx")
        && std::arch::is_x86_feature_detected!("avx")
        && std::arch::is_x86_feature_detected!("avx2")
}

/// The CPU features graviola 0.4 requires on aarch64.
#[cfg(target_arch = "aarch64")]
fn graviola_cpu_ok() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
        && std::arch::is_aarch64_feature_detected!("aes")
        && std::arch::is_aarch64_feature_detected!("pmull")
        && std::arch::is_aarch64_feature_detected!("sha2")
}

impl TlsSettings {
    /// The TLS settings of a client config: `None` unless
    /// `security.protocol` is `ssl` or `sasl_ssl`.
    pub fn from_client(c: &crate::config::ClientConfig) -> Option<TlsSettings> {
        use crate::config::SecurityProtocol;
        if !matches!(
            c.security_protocol,
            SecurityProtocol::Ssl | SecurityProtocol::SaslSsl
        ) {
            return None;
        }
        Some(TlsSettings {
            ca_location: c.ssl_ca_location.as_ref().map(PathBuf::from),
            ca_pem: c.ssl_ca_pem.clone(),
            certificate_location: c.ssl_certificate_location.as_ref().map(PathBuf::from),
            certificate_pem: c.ssl_certificate_pem.clone(),
            key_location: c.ssl_key_location.as_ref().map(PathBuf::from),
            key_pem: c.ssl_key_pem.clone(),
            key_password: c.ssl_key_password.clone(),
            endpoint_identification: c.ssl_endpoint_identification_algorithm,
            versions: c.ssl_enabled_protocols.clone(),
            crypto_provider: c.ssl_crypto_provider.as_ref().map(|p| p.0.clone()),
            rustls_config: c.ssl_rustls_config.as_ref().map(|r| r.0.clone()),
        })
    }

    /// Builds the connector every connection of a client shares: reads the
    /// certificate and key files, decrypts the key, checks that the key
    /// matches the certificate. Errors name the property at fault.
    pub fn connector(&self) -> Result<TlsConnector, ConfigError> {
        if let Some(cfg) = &self.rustls_config {
            return Ok(TlsConnector {
                config: cfg.clone(),
                trust: "the CAs of the rustls ClientConfig the application supplied".into(),
                host_check: true,
            });
        }
        let provider = match &self.crypto_provider {
            Some(p) => p.clone(),
            None => default_provider().ok_or_else(|| {
                ConfigError::new(
                    "security.protocol",
                    "TLS needs a rustls crypto provider, and the built-in one (graviola) \
                     runs only on x86_64 with AES-NI, AVX2, BMI and ADX, and on aarch64 with \
                     the crypto extensions: set one with TlsSettings::crypto_provider or \
                     install a process default",
                )
            })?,
        };
        let versions: Vec<&'static SupportedProtocolVersion> =
            self.versions.iter().map(|v| v.rustls()).collect();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| {
                ConfigError::new(
                    "ssl.enabled.protocols",
                    format!("the crypto provider cannot do these versions: {e}"),
                )
            })?;

        let (roots, trust) = self.roots()?;
        let roots = Arc::new(roots);
        let builder = match self.endpoint_identification {
            EndpointIdentification::Https => {
                let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| ConfigError::new(trust_property(self), e.to_string()))?;
                builder.with_webpki_verifier(verifier)
            }
            EndpointIdentification::None => {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier {
                        roots,
                        algorithms: provider.signature_verification_algorithms,
                    }))
            }
        };

        let config = match self.client_identity()? {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                // rustls' text says what is wrong with the key (unsupported
                // type, not matching the certificate), never its content.
                ConfigError::new(
                    key_property(self),
                    format!("the private key cannot be used with this certificate: {e}"),
                )
            })?,
        };
        Ok(TlsConnector {
            config: Arc::new(config),
            trust: trust.into(),
            host_check: self.endpoint_identification == EndpointIdentification::Https,
        })
    }

    /// The trust anchors, and a description of where they came from.
    fn roots(&self) -> Result<(RootCertStore, String), ConfigError> {
        let mut roots = RootCertStore::empty();
        let mut sources = Vec::new();
        if let Some(path) = &self.ca_location {
            let n = add_ca_location(&mut roots, path)?;
            sources.push(format!(
                "ssl.ca.location={} ({n} certificates)",
                path.display()
            ));
        }
        if let Some(pem) = &self.ca_pem {
            let n = add_pem_certs(&mut roots, pem.as_bytes())
                .map_err(|r| ConfigError::new("ssl.ca.pem", r))?;
            if n == 0 {
                return Err(ConfigError::new(
                    "ssl.ca.pem",
                    "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                ));
            }
            sources.push(format!("ssl.ca.pem ({n} certificates)"));
        }
        if sources.is_empty() {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(ConfigError::new(
                    "ssl.ca.location",
                    format!(
                        "no CA set and no platform root certificate found{why}: \
                         set ssl.ca.location or ssl.ca.pem"
                    ),
                ));
            }
            sources.push(format!("the platform's roots ({added} certificates)"));
        }
        Ok((roots, sources.join(" and ")))
    }

    /// The client's certificate chain and key, if configured.
    fn client_identity(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, ConfigError> {
        let chain_pem = match (&self.certificate_location, &self.certificate_pem) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "ssl.certificate.pem",
                    "set ssl.certificate.location or ssl.certificate.pem, not both",
                ));
            }
            (Some(path), None) => Some((
                "ssl.certificate.location",
                read_file("ssl.certificate.location", path)?,
            )),
            (None, Some(pem)) => Some(("ssl.certificate.pem", pem.as_bytes().to_vec())),
            (None, None) => None,
        };
        let key_pem = match (&self.key_location, &self.key_pem) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "ssl.key.pem",
                    "set ssl.key.location or ssl.key.pem, not both",
                ));
            }
            (Some(path), None) => Some(("ssl.key.location", read_file("ssl.key.location", path)?)),
            (None, Some(pem)) => Some(("ssl.key.pem", pem.expose().as_bytes().to_vec())),
            (None, None) => None,
        };
        match (chain_pem, key_pem) {
            (None, None) => Ok(None),
            (Some((prop, _)), None) => Err(ConfigError::new(
                prop,
                "a client certificate needs its private key: set ssl.key.location or ssl.key.pem",
            )),
            (None, Some((prop, _))) => Err(ConfigError::new(
                prop,
                "a private key needs its certificate: set ssl.certificate.location or \
                 ssl.certificate.pem",
            )),
            (Some((cert_prop, chain)), Some((key_prop, key))) => {
                let mut certs = Vec::new();
                for c in CertificateDer::pem_slice_iter(&chain) {
                    certs.push(
                        c.map_err(|e| ConfigError::new(cert_prop, format!("not valid PEM: {e}")))?,
                    );
                }
                if certs.is_empty() {
                    return Err(ConfigError::new(
                        cert_prop,
                        "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    ));
                }
                let key = parse_private_key(&key, self.key_password.as_ref())
                    .map_err(|r| ConfigError::new(key_prop, r))?;
                Ok(Some((certs, key)))
            }
        }
    }
}

/// The property that names where trust comes from, for errors.
fn trust_property(s: &TlsSettings) -> &'static str {
    if s.ca_location.is_none() && s.ca_pem.is_some() {
        "ssl.ca.pem"
    } else {
        "ssl.ca.location"
    }
}

fn key_property(s: &TlsSettings) -> &'static str {
    if s.key_pem.is_some() {
        "ssl.key.pem"
    } else {
        "ssl.key.location"
    }
}

fn read_file(property: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(property, format!("cannot read {}: {e}", path.display())))
}

/// Adds every certificate in a PEM text; the count added.
fn add_pem_certs(roots: &mut RootCertStore, pem: &[u8]) -> Result<usize, String> {
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("not valid PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("a certificate cannot be used as a trust anchor: {e}"))?;
        n += 1;
    }
    Ok(n)
}

/// `ssl.ca.location`: a PEM file, or a directory whose regular files are
/// read for PEM certificates (files with none are skipped).
fn add_ca_location(roots: &mut RootCertStore, path: &Path) -> Result<usize, ConfigError> {
    const PROP: &str = "ssl.ca.location";
    let meta = std::fs::metadata(path)
        .map_err(|e| ConfigError::new(PROP, format!("cannot read {}: {e}", path.display())))?;
    let n = if meta.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| ConfigError::new(PROP, format!("cannot list {}: {e}", path.display())))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut n = 0;
        for file in files {
            let pem = read_file(PROP, &file)?;
            n += add_pem_certs(roots, &pem)
                .map_err(|r| ConfigError::new(PROP, format!("{}: {r}", file.display())))?;
        }
        n
    } else {
        let pem = read_file(PROP, path)?;
        add_pem_certs(roots, &pem)
            .map_err(|r| ConfigError::new(PROP, format!("{}: {r}", path.display())))?
    };
    if n == 0 {
        return Err(ConfigError::new(
            PROP,
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        ));
    }
    Ok(n)
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The first private key in a PEM text. The reason for a failure never
/// quotes the text: it is a secret.
fn parse_private_key(
    pem: &[u8],
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>, String> {
    if let Some(der) = encrypted_section(pem)? {
        let Some(password) = password else {
            return Err(
                "the key is encrypted (ENCRYPTED PRIVATE KEY): set ssl.key.password".into(),
            );
        };
        let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
            .map_err(|_| "the ENCRYPTED PRIVATE KEY is not valid PKCS#8".to_owned())?;
        let doc = info.decrypt(password.expose().as_bytes()).map_err(|_| {
            "cannot decrypt the key: wrong ssl.key.password, or an encryption scheme other \
             than PBES2 (PBKDF2 or scrypt with AES-CBC)"
                .to_owned()
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            doc.as_bytes().to_vec(),
        )));
    }
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        // pki-types' PEM errors can quote a line of the input: not shown.
        let (kind, der) = section.map_err(|_| "not valid PEM".to_owned())?;
        match kind {
            SectionKind::PrivateKey => {
                return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)));
            }
            SectionKind::RsaPrivateKey => {
                return Ok(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)));
            }
            SectionKind::EcPrivateKey => {
                return Ok(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)));
            }
            _ => {}
        }
    }
    Err(
        "holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY or \
         ENCRYPTED PRIVATE KEY)"
            .into(),
    )
}

/// The DER bytes of the text's `ENCRYPTED PRIVATE KEY` section, if any
/// (decoded by RustCrypto's constant-time PEM decoder).
fn encrypted_section(pem: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let Ok(text) = std::str::from_utf8(pem) else {
        return Ok(None);
    };
    let Some(start) = text.find(ENCRYPTED_BEGIN) else {
        return Ok(None);
    };
    let section = text.get(start..).and_then(|rest| {
        rest.find(ENCRYPTED_END)
            .and_then(|end| rest.get(..end + ENCRYPTED_END.len()))
    });
    let Some(section) = section else {
        return Err("the ENCRYPTED PRIVATE KEY section has no END line".into());
    };
    let (_, der) = pkcs8::der::pem::decode_vec(section.as_bytes())
        .map_err(|_| "the ENCRYPTED PRIVATE KEY section is not valid PEM".to_owned())?;
    Ok(Some(der))
}

/// Checks the chain and validity dates, not the host name
/// (`ssl.endpoint.identification.algorithm=` empty).
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

unstable_pub! {
    /// The TLS step of connection setup: one rustls configuration shared by
    /// every connection of a client.
    #[derive(Clone)]
    pub struct TlsConnector {
        config: Arc<ClientConfig>,
        /// Where the trusted CAs came from, for errors.
        trust: Arc<str>,
        /// Whether the host name is checked, for errors.
        host_check: bool,
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("trust", &self.trust)
            .field("host_check", &self.host_check)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// The rustls configuration the connections use.
    #[cfg(test)]
    pub fn rustls_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Runs the handshake with `host` over `tcp`.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = ServerName::try_from(host.to_owned()).map_err(|_| Error::Tls {
            reason: format!(
                "{host:?} is neither a DNS name nor an IP address, so no certificate can match it"
            ),
        })?;
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| {
                let reason = self.explain(host, &e);
                if Self::retriable(&e) {
                    Error::Io {
                        broker: host.to_owned(),
                        reason: Arc::new(std::io::Error::new(e.kind(), reason)),
                    }
                } else {
                    Error::Tls { reason }
                }
            })
    }

    /// A handshake failure in words a user can act on.
    fn explain(&self, host: &str, e: &std::io::Error) -> String {
        let tls = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            Some(rustls::Error::InvalidCertificate(c)) => self.explain_certificate(host, c),
            Some(rustls::Error::AlertReceived(alert)) => format!(
                "the broker ended the handshake with alert {alert:?}: it may require a client \
                 certificate (ssl.certificate.location + ssl.key.location), not trust ours, or \
                 accept none of our TLS versions (ssl.enabled.protocols)"
            ),
            Some(rustls::Error::InvalidMessage(_))
            | Some(rustls::Error::InappropriateMessage { .. }) => {
                format!(
                    "the broker's answer is not TLS ({e}): is this a TLS listener? \
                     (security.protocol=ssl or sasl_ssl needs one; for a plaintext listener \
                     use plaintext or sasl_plaintext)"
                )
            }
            Some(other) => format!("TLS handshake failed: {other}"),
            None if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
            ) =>
            {
                format!(
                    "the broker closed the connection during the TLS handshake ({e}): is this a \
                     TLS listener? (security.protocol=ssl or sasl_ssl needs one; for a \
                     plaintext listener use plaintext or sasl_plaintext)"
                )
            }
            None => format!("TLS handshake failed: {e}"),
        }
    }

    /// Whether a handshake failure is worth another try: only a connection
    /// that broke without a TLS verdict (a reset, say). A certificate or
    /// protocol failure, or a peer that closes on our hello (a plaintext
    /// listener), will fail the same way again.
    fn retriable(e: &std::io::Error) -> bool {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_none()
            && e.kind() != std::io::ErrorKind::UnexpectedEof
    }

    fn explain_certificate(&self, host: &str, c: &CertificateError) -> String {
        match c {
            CertificateError::UnknownIssuer => format!(
                "the broker's certificate is not signed by a trusted CA (trusting {}): set \
                 ssl.ca.location or ssl.ca.pem to the CA that signed the broker's certificate",
                self.trust
            ),
            CertificateError::NotValidForName => format!(
                "the broker's certificate is not valid for {host:?} \
                 (ssl.endpoint.identification.algorithm=https): connect with a name the \
                 certificate carries, or set ssl.endpoint.identification.algorithm= (empty) to \
                 skip the host check"
            ),
            CertificateError::NotValidForNameContext { presented, .. } => format!(
                "the broker's certificate is not valid for {host:?}: it names {} \
                 (ssl.endpoint.identification.algorithm=https): connect with a name the \
                 certificate carries (the advertised listener host), or set \
                 ssl.endpoint.identification.algorithm= (empty) to skip the host check",
                if presented.is_empty() {
                    "no host".to_owned()
                } else {
                    presented
                        .iter()
                        .map(|p| presented_name(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            CertificateError::Expired => "the broker's certificate has expired".into(),
            CertificateError::ExpiredContext { time, not_after } => format!(
                "the broker's certificate has expired: valid until {} (unix time), now is {}",
                not_after.as_secs(),
                time.as_secs()
            ),
            CertificateError::NotValidYet => "the broker's certificate is not valid yet".into(),
            CertificateError::NotValidYetContext { time, not_before } => format!(
                "the broker's certificate is not valid yet: valid from {} (unix time), now is {}",
                not_before.as_secs(),
                time.as_secs()
            ),
            other => format!("the broker's certificate was rejected: {other}"),
        }
    }
}

/// A name as rustls presents it (`DnsName("localhost")`,
/// `IpAddress(127.0.0.1)`), without the wrapping.
fn presented_name(p: &str) -> &str {
    for prefix in ["DnsName(", "IpAddress(", "URI("] {
        if let Some(inner) = p.strip_prefix(prefix).and_then(|r| r.strip_suffix(')')) {
            return inner.trim_matches('"');
        }
    }
    p
}

impl TlsStep for TlsConnector {
    fn handshake<'a>(&'a self, tcp: TcpStream, host: &'a str) -> StepFuture<'a, BoxTransport> {
        Box::pin(async move {
            let stream = self.connect(tcp, host).await?;
            let refusable = stream.get_ref().1.protocol_version()
                == Some(rustls::ProtocolVersion::TLSv1_3)
                && !self.config.client_auth_cert_resolver.has_certs();
            Ok(Box::new(TlsTransport {
                inner: stream,
                closed_means_no_cert: refusable,
            }) as BoxTransport)
        })
    }
}

/// The TLS step of a client's connections, if its `security.protocol`
/// wants TLS. [`ClientConfig::validate`](crate::config::ClientConfig::validate)
/// has built the connector once already; should it fail now (a key file
/// removed since), every handshake fails with that configuration error
/// rather than the client falling back to plaintext.
pub(crate) fn tls_step(c: &crate::config::ClientConfig) -> Option<Arc<dyn TlsStep>> {
    let settings = TlsSettings::from_client(c)?;
    Some(match settings.connector() {
        Ok(connector) => Arc::new(connector),
        Err(e) => Arc::new(BrokenTls(e)),
    })
}

/// The TLS step of a client whose TLS settings do not build.
#[derive(Debug)]
struct BrokenTls(ConfigError);

impl TlsStep for BrokenTls {
    fn handshake<'a>(&'a self, _tcp: TcpStream, _host: &'a str) -> StepFuture<'a, BoxTransport> {
        Box::pin(async move { Err(Error::Config(self.0.clone())) })
    }
}

/// Whether bytes a plaintext connection received begin like a TLS record
/// (an alert or a handshake message, TLS 1.0 to 1.3): the broker's port
/// speaks TLS. As a Kafka frame these would announce over 350 MB, more
/// than any broker sends, so nothing real is mistaken for them.
pub(crate) fn looks_like_tls_record(received: &[u8]) -> bool {
    matches!(received, [0x15 | 0x16, 0x03, 0x00..=0x04, ..])
}

/// The error for a plaintext connection the broker answered in TLS.
pub(crate) fn plaintext_to_tls_error() -> Error {
    Error::Tls {
        reason: "the broker answered in TLS, not with a Kafka response: this is a TLS \
                 listener, so set security.protocol=ssl (or sasl_ssl) and the ssl.* trust \
                 settings"
            .into(),
    }
}

/// A TLS verdict that ended a connection after the handshake: the reason
/// says what it means. Not worth retrying ([`is_tls_verdict`]).
#[derive(Debug)]
struct TlsVerdict(String);

impl fmt::Display for TlsVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsVerdict {}

/// Whether an I/O error of a connection is TLS's verdict (an alert from the
/// broker, a protocol failure) rather than a network failure: the same
/// settings will fail the same way again, so it is not retriable.
pub(crate) fn is_tls_verdict(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<TlsVerdict>() || inner.is::<rustls::Error>())
}

/// What an error from the TLS session after the handshake means. A TLS 1.3
/// broker judges the client's certificate only after the client finished
/// its handshake, so a missing or untrusted client certificate shows up
/// here, on the first read, as an alert.
fn explain_late(e: std::io::Error) -> std::io::Error {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return e;
    };
    let reason = match tls {
        rustls::Error::AlertReceived(alert) => format!(
            "the broker ended the TLS session with alert {alert:?}: it requires a client \
             certificate it trusts (ssl.certificate.location + ssl.key.location), or does not \
             accept this one"
        ),
        other => format!("TLS failure: {other}"),
    };
    std::io::Error::new(e.kind(), TlsVerdict(reason))
}

/// The stream a TLS connection runs over: rustls' stream, with errors after
/// the handshake explained ([`explain_late`]).
struct TlsTransport {
    inner: tokio_rustls::client::TlsStream<TcpStream>,
    /// TLS 1.3 without a client certificate, and nothing read yet: a broker
    /// that requires one refuses only after the handshake, with an alert and
    /// a close, and the alert can be lost (our first request meets the
    /// closed socket, its reset discards what we had not read). A close
    /// before the first byte is then that refusal.
    closed_means_no_cert: bool,
}

fn refused_without_cert() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        TlsVerdict(
            "the broker closed the TLS session before answering anything: it most likely \
             requires a client certificate (ssl.certificate.location + ssl.key.location)"
                .into(),
        ),
    )
}

impl AsyncRead for TlsTransport {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner)
            .poll_read(cx, buf)
            .map_err(explain_late);
        if self.closed_means_no_cert {
            match &r {
                Poll::Ready(Ok(())) if buf.filled().len() == before => {
                    return Poll::Ready(Err(refused_without_cert()));
                }
                Poll::Ready(Ok(())) => self.closed_means_no_cert = false,
                Poll::Ready(Err(e))
                    if !is_tls_verdict(e)
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionReset
                                | std::io::ErrorKind::ConnectionAborted
                                | std::io::ErrorKind::UnexpectedEof
                        ) =>
                {
                    return Poll::Ready(Err(refused_without_cert()));
                }
                _ => {}
            }
        }
        r
    }
}

impl AsyncWrite for TlsTransport {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner)
            .poll_write(cx, buf)
            .map_err(explain_late)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner)
            .poll_write_vectored(cx, bufs)
            .map_err(explain_late)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(explain_late)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner)
            .poll_shutdown(cx)
            .map_err(explain_late)
    }
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
