//! Configs: describe and incrementally alter the configs of topics,
//! brokers, broker loggers, groups and client-metrics subscriptions (Java's
//! `describeConfigs` and `incrementalAlterConfigs`).
//!
//! A broker's (or broker logger's) configs are asked of that broker; the
//! rest of any broker (under KRaft it forwards changes to the controller).
//! Each resource has its own outcome.
//!
//! ```no_run
//! use purekafka::admin::{AlterConfigOp, ConfigResource, DescribeConfigsOptions};
//! use purekafka::Admin;
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! let topic = ConfigResource::topic("orders");
//! admin
//!     .incremental_alter_configs([(
//!         topic.clone(),
//!         vec![
//!             AlterConfigOp::set("retention.ms", "86400000"),
//!             AlterConfigOp::append("cleanup.policy", "compact"),
//!             AlterConfigOp::delete("max.message.bytes"),
//!         ],
//!     )])
//!     .await?
//!     .remove(&topic)
//!     .transpose()?;
//! let opts = DescribeConfigsOptions { include_synonyms: true, ..Default::default() };
//! let described = admin.describe_configs_with([topic.clone(), ConfigResource::broker(1)], opts).await?;
//! if let Some(Ok(config)) = described.get(&topic) {
//!     let retention = config.get("retention.ms");
//!     println!("{:?} from {:?}", retention.and_then(|e| e.value.as_deref()), retention.map(|e| e.source));
//! }
//! # Ok(()) }
//! ```

use super::{Admin, Target, resource_error, topic_error};
use crate::error::{Error, Result};
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use purekafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use purekafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use purekafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// What kind of resource a config belongs to (Java's
/// `ConfigResource.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigResourceType {
    /// A topic.
    Topic,
    /// A broker (by node id; an empty name: the cluster-wide default).
    Broker,
    /// A broker's log4j loggers.
    BrokerLogger,
    /// A client-metrics subscription (KIP-714).
    ClientMetrics,
    /// A consumer or share group (KIP-848, KIP-932).
    Group,
    /// A type this version of purekafka does not know.
    Unknown(i8),
}

impl ConfigResourceType {
    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::ClientMetrics => 16,
            ConfigResourceType::Group => 32,
            ConfigResourceType::Unknown(c) => c,
        }
    }

    /// From the wire code.
    pub fn from_code(code: i8) -> ConfigResourceType {
        match code {
            2 => ConfigResourceType::Topic,
            4 => ConfigResourceType::Broker,
            8 => ConfigResourceType::BrokerLogger,
            16 => ConfigResourceType::ClientMetrics,
            32 => ConfigResourceType::Group,
            c => ConfigResourceType::Unknown(c),
        }
    }
}

/// A resource with configs (Java's `ConfigResource`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// Its kind.
    pub resource_type: ConfigResourceType,
    /// Its name: the topic, the broker's node id, the group...
    pub name: String,
}

impl ConfigResource {
    /// A topic's configs.
    pub fn topic(name: impl Into<String>) -> ConfigResource {
        ConfigResource {
            resource_type: ConfigResourceType::Topic,
            name: name.into(),
        }
    }

    /// A broker's configs, by node id.
    pub fn broker(node_id: i32) -> ConfigResource {
        ConfigResource {
            resource_type: ConfigResourceType::Broker,
            name: node_id.to_string(),
        }
    }

    /// The cluster-wide default broker configs.
    pub fn broker_default() -> ConfigResource {
        ConfigResource {
            resource_type: ConfigResourceType::Broker,
            name: String::new(),
        }
    }

    /// A broker's loggers (names are logger names, values log levels).
    pub fn broker_logger(node_id: i32) -> ConfigResource {
        ConfigResource {
            resource_type: ConfigResourceType::BrokerLogger,
            name: node_id.to_string(),
        }
    }

    /// A group's configs (`consumer.session.timeout.ms`, ...).
    pub fn group(name: impl Into<String>) -> ConfigResource {
        ConfigResource {
            resource_type: ConfigResourceType::Group,
            name: name.into(),
        }
    }

    /// A client-metrics subscription's configs.
    pub fn client_metrics(name: impl Into<String>) -> ConfigResource {
        ConfigResource {
            resource_type: ConfigResourceType::ClientMetrics,
            name: name.into(),
        }
    }

    /// Where requests about it go: a broker's own configs to that broker.
    fn target(&self) -> Target {
        match self.resource_type {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => {
                match self.name.parse::<i32>() {
                    Ok(id) => Target::Broker(id),
                    Err(_) => Target::Any,
                }
            }
            _ => Target::Any,
        }
    }

    /// An error about this resource (a topic's names the topic).
    fn error(&self, code: ErrorCode, api: &'static str, message: Option<&str>) -> Error {
        match self.resource_type {
            ConfigResourceType::Topic => topic_error(code, api, &self.name, None, message),
            _ => resource_error(code, api, &self.to_string(), message),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.resource_type {
            ConfigResourceType::Topic => "topic".to_string(),
            ConfigResourceType::Broker if self.name.is_empty() => {
                return f.write_str("the default broker config");
            }
            ConfigResourceType::Broker => "broker".to_string(),
            ConfigResourceType::BrokerLogger => "broker logger".to_string(),
            ConfigResourceType::ClientMetrics => "client metrics".to_string(),
            ConfigResourceType::Group => "group".to_string(),
            ConfigResourceType::Unknown(c) => format!("config resource type {c}"),
        };
        write!(f, "{kind} '{}'", self.name)
    }
}

/// Where a config's value comes from (Java's `ConfigEntry.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// Set on the topic.
    DynamicTopic,
    /// Set dynamically on this broker.
    DynamicBroker,
    /// Set dynamically as the cluster-wide broker default.
    DynamicDefaultBroker,
    /// The broker's server.properties.
    StaticBroker,
    /// Kafka's default.
    Default,
    /// Set dynamically on a broker logger.
    DynamicBrokerLogger,
    /// A client-metrics subscription's.
    ClientMetrics,
    /// Set on the group.
    Group,
    /// Not known (or a source this version does not know).
    Unknown(i8),
}

impl ConfigSource {
    fn from_code(code: i8) -> ConfigSource {
        match code {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::Group,
            c => ConfigSource::Unknown(c),
        }
    }
}

/// A config's type (Java's `ConfigEntry.ConfigType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigType {
    /// A boolean.
    Boolean,
    /// A string.
    String,
    /// A 32-bit integer.
    Int,
    /// A 16-bit integer.
    Short,
    /// A 64-bit integer.
    Long,
    /// A double.
    Double,
    /// A comma-separated list.
    List,
    /// A Java class name.
    Class,
    /// A password (never shown).
    Password,
    /// Not reported (DescribeConfigs before v3) or unknown.
    Unknown(i8),
}

impl ConfigType {
    fn from_code(code: i8) -> ConfigType {
        match code {
            1 => ConfigType::Boolean,
            2 => ConfigType::String,
            3 => ConfigType::Int,
            4 => ConfigType::Short,
            5 => ConfigType::Long,
            6 => ConfigType::Double,
            7 => ConfigType::List,
            8 => ConfigType::Class,
            9 => ConfigType::Password,
            c => ConfigType::Unknown(c),
        }
    }
}

/// Another place a config is set, in order of precedence (Java's
/// `ConfigEntry.ConfigSynonym`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    /// The name there (`log.retention.ms` for `retention.ms`).
    pub name: String,
    /// The value there.
    pub value: Option<String>,
    /// Which place.
    pub source: ConfigSource,
}

/// One config of a resource (Java's `ConfigEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The name.
    pub name: String,
    /// The value; `None` when sensitive or unset.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Cannot be changed dynamically.
    pub read_only: bool,
    /// Sensitive (the value is hidden).
    pub sensitive: bool,
    /// Where else it is set, when synonyms were asked for.
    pub synonyms: Vec<ConfigSynonym>,
    /// The type.
    pub config_type: ConfigType,
    /// Kafka's documentation of it, when asked for.
    pub documentation: Option<String>,
}

impl ConfigEntry {
    /// Whether the value is Kafka's default.
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::Default
    }
}

/// The configs of one resource (Java's `Config`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Every config, in the broker's order.
    pub entries: Vec<ConfigEntry>,
}

impl Config {
    /// The config named `name`.
    pub fn get(&self, name: &str) -> Option<&ConfigEntry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// Options of [`Admin::describe_configs_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeConfigsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// Report where else each config is set.
    pub include_synonyms: bool,
    /// Report each config's documentation.
    pub include_documentation: bool,
}

/// One change of [`Admin::incremental_alter_configs`] (Java's
/// `AlterConfigOp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set `name` to `value`.
    Set {
        /// The config.
        name: String,
        /// The value.
        value: String,
    },
    /// Remove the setting of `name` (back to the next synonym or default).
    Delete {
        /// The config.
        name: String,
    },
    /// Add `value` to the list config `name`.
    Append {
        /// The config.
        name: String,
        /// The element(s), comma separated.
        value: String,
    },
    /// Remove `value` from the list config `name`.
    Subtract {
        /// The config.
        name: String,
        /// The element(s), comma separated.
        value: String,
    },
}

impl AlterConfigOp {
    /// Set `name` to `value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp::Set {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Remove the setting of `name`.
    pub fn delete(name: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp::Delete { name: name.into() }
    }

    /// Add `value` to the list config `name`.
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp::Append {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Remove `value` from the list config `name`.
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp::Subtract {
            name: name.into(),
            value: value.into(),
        }
    }

    fn to_wire(&self) -> AlterableConfig {
        let (name, op, value) = match self {
            AlterConfigOp::Set { name, value } => (name, 0, Some(value.clone())),
            AlterConfigOp::Delete { name } => (name, 1, None),
            AlterConfigOp::Append { name, value } => (name, 2, Some(value.clone())),
            AlterConfigOp::Subtract { name, value } => (name, 3, Some(value.clone())),
        };
        AlterableConfig {
            name: name.clone(),
            config_operation: op,
            value,
            ..Default::default()
        }
    }
}

/// Options of [`Admin::incremental_alter_configs_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlterConfigsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// Check the changes without making them.
    pub validate_only: bool,
}

/// Groups `keys` by where their requests go.
fn by_target(keys: Vec<ConfigResource>) -> BTreeMap<String, (Target, Vec<ConfigResource>)> {
    let mut out: BTreeMap<String, (Target, Vec<ConfigResource>)> = BTreeMap::new();
    for k in keys {
        let t = k.target();
        out.entry(t.to_string())
            .or_insert_with(|| (t, Vec::new()))
            .1
            .push(k);
    }
    out
}

fn describe_result(r: DescribeConfigsResult) -> (ConfigResource, Result<Config>) {
    let resource = ConfigResource {
        resource_type: ConfigResourceType::from_code(r.resource_type),
        name: r.resource_name,
    };
    let code = ErrorCode(r.error_code);
    if code != ErrorCode::NONE {
        let e = resource.error(code, "DescribeConfigs", r.error_message.as_deref());
        return (resource, Err(e));
    }
    let entries = r
        .configs
        .into_iter()
        .map(|c| ConfigEntry {
            name: c.name,
            value: c.value,
            // v0 had IsDefault instead of a source.
            source: if c.config_source >= 0 {
                ConfigSource::from_code(c.config_source)
            } else if c.is_default {
                ConfigSource::Default
            } else {
                ConfigSource::Unknown(-1)
            },
            read_only: c.read_only,
            sensitive: c.is_sensitive,
            synonyms: c
                .synonyms
                .into_iter()
                .map(|s| ConfigSynonym {
                    name: s.name,
                    value: s.value,
                    source: ConfigSource::from_code(s.source),
                })
                .collect(),
            config_type: ConfigType::from_code(c.config_type),
            documentation: c.documentation,
        })
        .collect();
    (resource, Ok(Config { entries }))
}

impl Admin {
    /// Describes the configs of `resources` (Java's `describeConfigs`),
    /// with the default options.
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
    ) -> Result<BTreeMap<ConfigResource, Result<Config>>> {
        self.describe_configs_with(resources, DescribeConfigsOptions::default())
            .await
    }

    /// Describes the configs of `resources`: each one's configs (with
    /// their sources, and synonyms and documentation if asked), or its
    /// error (UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED, ...)
    /// naming it.
    pub async fn describe_configs_with(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
        opts: DescribeConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<Config>>> {
        let deadline = self.deadline(opts.timeout);
        let retry = |e: &Error| e.code() != Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        self.per_resource("DescribeConfigs", resources, deadline, retry, |keys| {
            let opts = opts.clone();
            async move {
                let mut out = BTreeMap::new();
                for (_, (target, keys)) in by_target(keys) {
                    let req = DescribeConfigsRequest {
                        resources: keys
                            .iter()
                            .map(|k| DescribeConfigsResource {
                                resource_type: k.resource_type.code(),
                                resource_name: k.name.clone(),
                                configuration_keys: None,
                                ..Default::default()
                            })
                            .collect(),
                        include_synonyms: opts.include_synonyms,
                        include_documentation: opts.include_documentation,
                        ..Default::default()
                    };
                    match self.call_until(target, &req, deadline, |_| None).await {
                        Ok(resp) => out.extend(resp.results.into_iter().map(describe_result)),
                        Err(e) => out.extend(keys.into_iter().map(|k| (k, Err(e.clone())))),
                    }
                }
                Ok(out)
            }
        })
        .await
    }

    /// Changes configs (Java's `incrementalAlterConfigs`), with the default
    /// options.
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        self.incremental_alter_configs_with(changes, AlterConfigsOptions::default())
            .await
    }

    /// Changes configs: set, delete, append to or subtract from each
    /// resource's configs; each resource's outcome. An invalid value or an
    /// unknown name is INVALID_CONFIG with the broker's message naming the
    /// config; nothing of that resource changes.
    pub async fn incremental_alter_configs_with(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
        opts: AlterConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        let deadline = self.deadline(opts.timeout);
        let changes: BTreeMap<ConfigResource, Vec<AlterConfigOp>> = changes.into_iter().collect();
        let keys: Vec<ConfigResource> = changes.keys().cloned().collect();
        let retry = |e: &Error| {
            matches!(
                e.code(),
                Some(ErrorCode::NOT_CONTROLLER | ErrorCode::THROTTLING_QUOTA_EXCEEDED)
            )
        };
        let changes = &changes;
        let validate_only = opts.validate_only;
        self.per_resource(
            "IncrementalAlterConfigs",
            keys,
            deadline,
            retry,
            |keys| async move {
                let mut out = BTreeMap::new();
                for (_, (target, keys)) in by_target(keys) {
                    let req = IncrementalAlterConfigsRequest {
                        resources: keys
                            .iter()
                            .map(|k| AlterConfigsResource {
                                resource_type: k.resource_type.code(),
                                resource_name: k.name.clone(),
                                configs: changes
                                    .get(k)
                                    .map(|ops| ops.iter().map(AlterConfigOp::to_wire).collect())
                                    .unwrap_or_default(),
                                ..Default::default()
                            })
                            .collect(),
                        validate_only,
                        ..Default::default()
                    };
                    match self.call_until(target, &req, deadline, |_| None).await {
                        Ok(resp) => out.extend(resp.responses.into_iter().map(|r| {
                            let resource = ConfigResource {
                                resource_type: ConfigResourceType::from_code(r.resource_type),
                                name: r.resource_name,
                            };
                            let code = ErrorCode(r.error_code);
                            let outcome = if code == ErrorCode::NONE {
                                Ok(())
                            } else {
                                Err(resource.error(
                                    code,
                                    "IncrementalAlterConfigs",
                                    r.error_message.as_deref(),
                                ))
                            };
                            (resource, outcome)
                        })),
                        Err(e) => out.extend(keys.into_iter().map(|k| (k, Err(e.clone())))),
                    }
                }
                Ok(out)
            },
        )
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::describe_configs_response::{
        DescribeConfigsResourceResult, DescribeConfigsSynonym,
    };

    #[test]
    fn resources_route_and_name_themselves() {
        assert_eq!(ConfigResource::broker(3).target(), Target::Broker(3));
        assert_eq!(ConfigResource::broker_logger(2).target(), Target::Broker(2));
        assert_eq!(ConfigResource::broker_default().target(), Target::Any);
        assert_eq!(ConfigResource::topic("t").target(), Target::Any);
        assert_eq!(ConfigResource::group("g").to_string(), "group 'g'");
        assert_eq!(
            ConfigResource::broker_default().to_string(),
            "the default broker config"
        );
        for t in [2, 4, 8, 16, 32, 99] {
            assert_eq!(ConfigResourceType::from_code(t).code(), t);
        }
        let groups = by_target(vec![
            ConfigResource::topic("a"),
            ConfigResource::broker(1),
            ConfigResource::topic("b"),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups["any broker"].1.len(), 2);
    }

    #[test]
    fn ops_wire_form() {
        let w = AlterConfigOp::set("a", "1").to_wire();
        assert_eq!((w.config_operation, w.value.as_deref()), (0, Some("1")));
        let w = AlterConfigOp::delete("a").to_wire();
        assert_eq!((w.config_operation, w.value), (1, None));
        assert_eq!(
            AlterConfigOp::append("a", "x").to_wire().config_operation,
            2
        );
        assert_eq!(
            AlterConfigOp::subtract("a", "x").to_wire().config_operation,
            3
        );
    }

    #[test]
    fn described_entries_and_errors() {
        let (r, c) = describe_result(DescribeConfigsResult {
            resource_type: 2,
            resource_name: "t".into(),
            configs: vec![DescribeConfigsResourceResult {
                name: "retention.ms".into(),
                value: Some("5".into()),
                config_source: 1,
                synonyms: vec![DescribeConfigsSynonym {
                    name: "log.retention.ms".into(),
                    value: None,
                    source: 4,
                    ..Default::default()
                }],
                config_type: 5,
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(r, ConfigResource::topic("t"));
        let c = c.unwrap();
        let e = c.get("retention.ms").unwrap();
        assert_eq!(e.source, ConfigSource::DynamicTopic);
        assert_eq!(e.config_type, ConfigType::Long);
        assert_eq!(e.synonyms[0].source, ConfigSource::StaticBroker);
        let (_, err) = describe_result(DescribeConfigsResult {
            error_code: ErrorCode::TOPIC_AUTHORIZATION_FAILED.0,
            resource_type: 2,
            resource_name: "secret".into(),
            ..Default::default()
        });
        let err = err.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        assert!(err.to_string().contains("secret"), "{err}");
    }
}
