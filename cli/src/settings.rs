//! Where the client properties come from: a profile in the config file,
//! then `-b`, then every `-X key=value`, in that order (later wins).
//!
//! The config file is `-F FILE`, else `$PUREKAFKA_CONFIG`, else
//! `~/.config/purekafka/config.toml` (`$XDG_CONFIG_HOME` honoured):
//!
//! ```toml
//! default = "local"            # the profile used without -P
//!
//! [profiles.local]
//! bootstrap = "localhost:9092"
//!
//! [profiles.prod]
//! bootstrap = "kafka1:9093,kafka2:9093"
//! tls = { ca = "/etc/kafka/ca.pem", cert = "/etc/kafka/me.pem", key = "/etc/kafka/me.key" }
//! sasl = { mechanism = "SCRAM-SHA-512", username = "me", password = "..." }
//! properties = { "client.id" = "ops", "request.timeout.ms" = "10000" }
//! ```
//!
//! `tls` and `sasl` set `security.protocol` (ssl, sasl_plaintext or
//! sasl_ssl) unless `properties` names it.

use crate::fail::{CliError, CliResult};
use purekafka::config::{AdminConfig, ConsumerConfig, ProducerConfig, Scope, properties};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when `-P` is not given.
    pub default: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One named connection profile.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `bootstrap.servers`.
    pub bootstrap: Option<String>,
    /// TLS files.
    pub tls: Option<Tls>,
    /// SASL credentials.
    pub sasl: Option<Sasl>,
    /// Any other property, by its Java/librdkafka name.
    #[serde(default)]
    pub properties: BTreeMap<String, toml::Value>,
}

/// A profile's TLS settings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// `ssl.ca.location`.
    pub ca: Option<String>,
    /// `ssl.certificate.location`.
    pub cert: Option<String>,
    /// `ssl.key.location`.
    pub key: Option<String>,
    /// `ssl.key.password`.
    pub key_password: Option<String>,
    /// `ssl.endpoint.identification.algorithm` (`none` to skip the host name check).
    pub endpoint_identification: Option<String>,
}

/// A profile's SASL settings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sasl {
    /// `sasl.mechanism`: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER.
    pub mechanism: Option<String>,
    /// `sasl.username`.
    pub username: Option<String>,
    /// `sasl.password`.
    pub password: Option<String>,
}

/// The options every command shares, resolved into `(name, value)` properties.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// In order; later entries win.
    pub props: Vec<(String, String)>,
    /// Where the properties came from, for error messages.
    pub source: String,
}

/// The default config file path.
pub fn default_config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PUREKAFKA_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("purekafka").join("config.toml"))
}

/// Reads a config file; a missing default file is an empty config.
pub fn load_file(path: &Path, explicit: bool) -> CliResult<ConfigFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(ConfigFile::default());
        }
        Err(e) => {
            return Err(CliError::usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )));
        }
    };
    toml::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "the config file {} is not valid: {e}",
            path.display()
        ))
    })
}

fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        // A list property (bootstrap servers, say) as Kafka writes it.
        toml::Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(","),
        toml::Value::Table(_) => String::new(),
    }
}

impl Profile {
    /// The profile as properties, in the order they apply.
    pub fn properties(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(b) = &self.bootstrap {
            out.push(("bootstrap.servers".to_owned(), b.clone()));
        }
        let explicit_protocol = self.properties.contains_key("security.protocol");
        let protocol = match (&self.tls, &self.sasl) {
            (Some(_), Some(_)) => Some("sasl_ssl"),
            (Some(_), None) => Some("ssl"),
            (None, Some(_)) => Some("sasl_plaintext"),
            (None, None) => None,
        };
        if let (Some(p), false) = (protocol, explicit_protocol) {
            out.push(("security.protocol".to_owned(), p.to_owned()));
        }
        if let Some(t) = &self.tls {
            for (name, v) in [
                ("ssl.ca.location", &t.ca),
                ("ssl.certificate.location", &t.cert),
                ("ssl.key.location", &t.key),
                ("ssl.key.password", &t.key_password),
                (
                    "ssl.endpoint.identification.algorithm",
                    &t.endpoint_identification,
                ),
            ] {
                if let Some(v) = v {
                    out.push((name.to_owned(), v.clone()));
                }
            }
        }
        if let Some(s) = &self.sasl {
            for (name, v) in [
                ("sasl.mechanism", &s.mechanism),
                ("sasl.username", &s.username),
                ("sasl.password", &s.password),
            ] {
                if let Some(v) = v {
                    out.push((name.to_owned(), v.clone()));
                }
            }
        }
        for (k, v) in &self.properties {
            out.push((k.clone(), value_text(v)));
        }
        out
    }
}

/// Splits `-X key=value`.
pub fn parse_x(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!(
            "expected key=value with a Java/librdkafka property name (e.g. -X linger.ms=5), got {s:?}"
        )),
    }
}

impl Settings {
    /// Resolves the profile, `-b` and `-X`.
    pub fn resolve(
        file: Option<&Path>,
        profile: Option<&str>,
        bootstrap: Option<&str>,
        x: &[(String, String)],
    ) -> CliResult<Settings> {
        let (path, explicit) = match file {
            Some(p) => (Some(p.to_path_buf()), true),
            None => (default_config_path(), false),
        };
        let cfg = match &path {
            Some(p) => load_file(p, explicit)?,
            None => ConfigFile::default(),
        };
        let mut props = Vec::new();
        let mut source = String::new();
        let chosen = profile.map(str::to_owned).or(cfg.default.clone());
        if let Some(name) = chosen {
            let Some(p) = cfg.profiles.get(&name) else {
                let known: Vec<&str> = cfg.profiles.keys().map(String::as_str).collect();
                let where_ = path
                    .as_ref()
                    .map_or("(no config file)".to_owned(), |p| p.display().to_string());
                return Err(CliError::usage(format!(
                    "no profile {name:?} in {where_}; profiles there: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            props.extend(p.properties());
            source = format!(
                "profile {name:?} of {}",
                path.as_ref()
                    .map_or(String::new(), |p| p.display().to_string())
            );
        }
        if let Some(b) = bootstrap {
            props.push(("bootstrap.servers".to_owned(), b.to_owned()));
        }
        props.extend(x.iter().cloned());
        if !props.iter().any(|(k, _)| k == "bootstrap.servers") {
            props.push(("bootstrap.servers".to_owned(), "localhost:9092".to_owned()));
        }
        if !props.iter().any(|(k, _)| k == "client.id") {
            props.push(("client.id".to_owned(), "purekafka-cli".to_owned()));
        }
        Ok(Settings { props, source })
    }

    /// The bootstrap list in force.
    pub fn bootstrap(&self) -> &str {
        self.props
            .iter()
            .rev()
            .find(|(k, _)| k == "bootstrap.servers")
            .map_or("localhost:9092", |(_, v)| v.as_str())
    }

    /// Sets a property unless the user set it already.
    pub fn default_prop(&mut self, name: &str, value: &str) {
        if !self.has(name) {
            self.props.push((name.to_owned(), value.to_owned()));
        }
    }

    /// Whether the user set this property (by any of its names).
    pub fn has(&self, name: &str) -> bool {
        let info = properties().find(|p| p.matches(name));
        self.props.iter().any(|(k, _)| match info {
            Some(i) => i.matches(k),
            None => k == name,
        })
    }

    /// Sets a property, replacing what the user set (the command's own flags).
    pub fn set(&mut self, name: &str, value: &str) {
        self.props.push((name.to_owned(), value.to_owned()));
    }

    fn applies(scope: Scope, name: &str) -> bool {
        match properties().find(|p| p.matches(name)) {
            Some(p) => p.scope == Scope::Client || p.scope == scope,
            // Unknown: let the config reject it with its suggestions.
            None => true,
        }
    }

    /// A validated producer config (consumer-only properties of a profile
    /// or `-X` are skipped: one profile serves every command).
    pub fn producer(&self) -> CliResult<ProducerConfig> {
        let mut c = ProducerConfig::default();
        for (k, v) in &self.props {
            if Self::applies(Scope::Producer, k) {
                c.set(k, v).map_err(|e| self.config_error(e))?;
            }
        }
        c.validate().map_err(|e| self.config_error(e))?;
        Ok(c)
    }

    /// A validated consumer config (producer-only properties skipped).
    pub fn consumer(&self) -> CliResult<ConsumerConfig> {
        let mut c = ConsumerConfig::default();
        for (k, v) in &self.props {
            if Self::applies(Scope::Consumer, k) {
                c.set(k, v).map_err(|e| self.config_error(e))?;
            }
        }
        c.validate().map_err(|e| self.config_error(e))?;
        Ok(c)
    }

    /// A validated admin config (producer- and consumer-only properties skipped).
    pub fn admin(&self) -> CliResult<AdminConfig> {
        let mut c = AdminConfig::default();
        for (k, v) in &self.props {
            if Self::applies(Scope::Admin, k) {
                c.set(k, v).map_err(|e| self.config_error(e))?;
            }
        }
        c.validate().map_err(|e| self.config_error(e))?;
        Ok(c)
    }

    fn config_error(&self, e: purekafka::error::ConfigError) -> CliError {
        let from = if self.source.is_empty() {
            "-X/-b".to_owned()
        } else {
            format!("-X/-b or {}", self.source)
        };
        CliError::usage(format!(
            "configuration: {e} (from {from}; `purekafka properties` lists every name)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_tls_and_sasl_pick_the_protocol() {
        let p: ConfigFile = toml::from_str(
            r#"
            default = "a"
            [profiles.a]
            bootstrap = "h:1"
            tls = { ca = "/ca.pem" }
            sasl = { mechanism = "PLAIN", username = "u", password = "p" }
            properties = { "linger.ms" = 7, "client.id" = "x" }
            "#,
        )
        .unwrap();
        let props = p.profiles["a"].properties();
        assert!(props.contains(&("security.protocol".into(), "sasl_ssl".into())));
        assert!(props.contains(&("ssl.ca.location".into(), "/ca.pem".into())));
        assert!(props.contains(&("linger.ms".into(), "7".into())));
        assert_eq!(props[0], ("bootstrap.servers".into(), "h:1".into()));
    }

    #[test]
    fn x_flags_win_and_other_scopes_are_skipped() {
        let s = Settings {
            props: vec![
                ("bootstrap.servers".into(), "a:1".into()),
                ("linger.ms".into(), "9".into()),
                ("group.id".into(), "g".into()),
                ("bootstrap.servers".into(), "b:2".into()),
            ],
            source: String::new(),
        };
        assert_eq!(s.bootstrap(), "b:2");
        let p = s.producer().unwrap();
        assert_eq!(p.linger.as_millis(), 9);
        assert_eq!(p.client.bootstrap_servers, vec!["b:2".to_owned()]);
        let c = s.consumer().unwrap();
        assert_eq!(c.group_id.as_deref(), Some("g"));
    }

    #[test]
    fn unknown_property_names_the_close_one() {
        let s = Settings {
            props: vec![("linger.mss".into(), "9".into())],
            source: String::new(),
        };
        let e = s.producer().unwrap_err().to_string();
        assert!(e.contains("did you mean linger.ms"), "{e}");
        assert!(parse_x("nokey").is_err());
        assert_eq!(parse_x("a=b=c").unwrap(), ("a".into(), "b=c".into()));
    }
}
