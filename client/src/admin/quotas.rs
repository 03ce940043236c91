//! Client quotas: describe and alter (Java's `describeClientQuotas`,
//! `alterClientQuotas`).
//!
//! A quota applies to an entity: a user, a client id, a user and client id
//! pair, or an IP (each name may be the type's default). Its values are
//! keyed by quota name: `producer_byte_rate`, `consumer_byte_rate`,
//! `request_percentage`, `controller_mutation_rate`,
//! `connection_creation_rate`.
//!
//! ```no_run
//! use purekafka::admin::{Admin, ClientQuotaAlteration, ClientQuotaEntity, ClientQuotaFilter};
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! let alice = ClientQuotaEntity::user("alice");
//! admin
//!     .alter_client_quotas([ClientQuotaAlteration::new(alice.clone())
//!         .set("producer_byte_rate", 1_048_576.0)])
//!     .await?;
//! let quotas = admin.describe_client_quotas(ClientQuotaFilter::exact(&alice)).await?;
//! println!("{:?}", quotas.get(&alice));
//! # Ok(()) }
//! ```

use crate::admin::{Admin, no_result, resource_error, top_level};
use crate::error::Result;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use purekafka_protocol::messages::describe_client_quotas_request::ComponentData;
use purekafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// What a quota applies to (Java's `ClientQuotaEntity`): entity type
/// (`user`, `client-id`, `ip`) to name, `None` for the type's default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClientQuotaEntity(pub BTreeMap<String, Option<String>>);

impl ClientQuotaEntity {
    /// The `user` entity type.
    pub const USER: &'static str = "user";
    /// The `client-id` entity type.
    pub const CLIENT_ID: &'static str = "client-id";
    /// The `ip` entity type.
    pub const IP: &'static str = "ip";

    /// One user.
    pub fn user(name: impl Into<String>) -> Self {
        Self::default().with(Self::USER, Some(name.into()))
    }

    /// One client id.
    pub fn client_id(name: impl Into<String>) -> Self {
        Self::default().with(Self::CLIENT_ID, Some(name.into()))
    }

    /// One IP address.
    pub fn ip(address: impl Into<String>) -> Self {
        Self::default().with(Self::IP, Some(address.into()))
    }

    /// The entity with `entity_type` set to `name` (`None`: the type's
    /// default), to combine a user with a client id.
    pub fn with(mut self, entity_type: impl Into<String>, name: Option<String>) -> Self {
        self.0.insert(entity_type.into(), name);
        self
    }
}

impl fmt::Display for ClientQuotaEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (t, n) in &self.0 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            match n {
                Some(n) => write!(f, "{t}={n}")?,
                None => write!(f, "{t}=<default>")?,
            }
        }
        if first {
            f.write_str("(no entity)")?;
        }
        Ok(())
    }
}

/// How a filter component matches one entity type (Java's
/// `ClientQuotaFilterComponent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientQuotaMatch {
    /// The entity of this name.
    Exact(String),
    /// The type's default entity.
    Default,
    /// Any entity of the type, default or named.
    Any,
}

/// Which quotas to describe (Java's `ClientQuotaFilter`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientQuotaFilter {
    /// (entity type, match) pairs; an entity must match all of them.
    pub components: Vec<(String, ClientQuotaMatch)>,
    /// Only entities with no entity types beyond those of the components.
    pub strict: bool,
}

impl ClientQuotaFilter {
    /// Every quota.
    pub fn all() -> Self {
        Self::default()
    }

    /// Exactly this entity (strict: not the user-and-client-id pairs that
    /// contain it).
    pub fn exact(entity: &ClientQuotaEntity) -> Self {
        ClientQuotaFilter {
            components: entity
                .0
                .iter()
                .map(|(t, n)| {
                    (
                        t.clone(),
                        match n {
                            Some(n) => ClientQuotaMatch::Exact(n.clone()),
                            None => ClientQuotaMatch::Default,
                        },
                    )
                })
                .collect(),
            strict: true,
        }
    }

    /// Adds a component.
    pub fn component(mut self, entity_type: impl Into<String>, m: ClientQuotaMatch) -> Self {
        self.components.push((entity_type.into(), m));
        self
    }
}

/// Changes to one entity's quotas (Java's `ClientQuotaAlteration`): each
/// key set to a value, or removed (`None`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientQuotaAlteration {
    /// The entity.
    pub entity: ClientQuotaEntity,
    /// Quota name to its new value, `None` to remove it.
    pub ops: Vec<(String, Option<f64>)>,
}

impl ClientQuotaAlteration {
    /// No changes yet to `entity`.
    pub fn new(entity: ClientQuotaEntity) -> Self {
        ClientQuotaAlteration {
            entity,
            ops: Vec::new(),
        }
    }

    /// Sets quota `key` to `value`.
    pub fn set(mut self, key: impl Into<String>, value: f64) -> Self {
        self.ops.push((key.into(), Some(value)));
        self
    }

    /// Removes quota `key`.
    pub fn remove(mut self, key: impl Into<String>) -> Self {
        self.ops.push((key.into(), None));
        self
    }
}

/// Options of [`Admin::describe_client_quotas_with`] and
/// [`Admin::alter_client_quotas_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientQuotaOptions {
    /// How long the call may take (`default.api.timeout.ms` if unset).
    pub timeout: Option<Duration>,
    /// Alter only: check the changes without making them.
    pub validate_only: bool,
}

/// The quotas of each entity, by quota name.
pub type ClientQuotas = BTreeMap<ClientQuotaEntity, BTreeMap<String, f64>>;

fn entity_of<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a Option<String>)>,
) -> ClientQuotaEntity {
    ClientQuotaEntity(
        pairs
            .into_iter()
            .map(|(t, n)| (t.clone(), n.clone()))
            .collect(),
    )
}

fn describe_request(filter: &ClientQuotaFilter) -> DescribeClientQuotasRequest {
    DescribeClientQuotasRequest {
        components: filter
            .components
            .iter()
            .map(|(t, m)| {
                let (match_type, name) = match m {
                    ClientQuotaMatch::Exact(n) => (0, Some(n.clone())),
                    ClientQuotaMatch::Default => (1, None),
                    ClientQuotaMatch::Any => (2, None),
                };
                ComponentData {
                    entity_type: t.clone(),
                    match_type,
                    r#match: name,
                    ..Default::default()
                }
            })
            .collect(),
        strict: filter.strict,
        ..Default::default()
    }
}

fn describe_result(resp: DescribeClientQuotasResponse) -> Result<ClientQuotas> {
    let code = ErrorCode(resp.error_code);
    if code.is_err() {
        return Err(resource_error(
            code,
            "DescribeClientQuotas",
            "the quota filter",
            resp.error_message.as_deref(),
        ));
    }
    Ok(resp
        .entries
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            (
                entity_of(e.entity.iter().map(|d| (&d.entity_type, &d.entity_name))),
                e.values.into_iter().map(|v| (v.key, v.value)).collect(),
            )
        })
        .collect())
}

fn alter_request(
    alterations: &[ClientQuotaAlteration],
    validate_only: bool,
) -> AlterClientQuotasRequest {
    AlterClientQuotasRequest {
        entries: alterations
            .iter()
            .map(|a| EntryData {
                entity: a
                    .entity
                    .0
                    .iter()
                    .map(|(t, n)| EntityData {
                        entity_type: t.clone(),
                        entity_name: n.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ops: a
                    .ops
                    .iter()
                    .map(|(k, v)| OpData {
                        key: k.clone(),
                        value: v.unwrap_or(0.0),
                        remove: v.is_none(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        validate_only,
        ..Default::default()
    }
}

fn alter_results(
    asked: Vec<ClientQuotaEntity>,
    resp: AlterClientQuotasResponse,
) -> BTreeMap<ClientQuotaEntity, Result<()>> {
    let mut got: BTreeMap<ClientQuotaEntity, (ErrorCode, Option<String>)> = resp
        .entries
        .into_iter()
        .map(|e| {
            (
                entity_of(e.entity.iter().map(|d| (&d.entity_type, &d.entity_name))),
                (ErrorCode(e.error_code), e.error_message),
            )
        })
        .collect();
    asked
        .into_iter()
        .map(|entity| {
            let what = format!("quota entity {entity}");
            let r = match got.remove(&entity) {
                Some((code, _)) if code.is_ok() => Ok(()),
                Some((code, message)) => Err(resource_error(
                    code,
                    "AlterClientQuotas",
                    &what,
                    message.as_deref(),
                )),
                None => Err(no_result("AlterClientQuotas", &what)),
            };
            (entity, r)
        })
        .collect()
}

impl Admin {
    /// The quotas matching `filter` (Java's `describeClientQuotas`), with
    /// the default options.
    pub async fn describe_client_quotas(&self, filter: ClientQuotaFilter) -> Result<ClientQuotas> {
        self.describe_client_quotas_with(filter, ClientQuotaOptions::default())
            .await
    }

    /// The quotas matching `filter`, by entity.
    pub async fn describe_client_quotas_with(
        &self,
        filter: ClientQuotaFilter,
        opts: ClientQuotaOptions,
    ) -> Result<ClientQuotas> {
        let resp = self
            .call_any(&describe_request(&filter), opts.timeout, |r| {
                top_level(r.error_code)
            })
            .await?;
        describe_result(resp)
    }

    /// Sets and removes quotas (Java's `alterClientQuotas`), with the
    /// default options.
    pub async fn alter_client_quotas(
        &self,
        alterations: impl IntoIterator<Item = ClientQuotaAlteration>,
    ) -> Result<BTreeMap<ClientQuotaEntity, Result<()>>> {
        self.alter_client_quotas_with(alterations, ClientQuotaOptions::default())
            .await
    }

    /// Sets and removes quotas: each entity's outcome (an unknown quota
    /// name or entity type is INVALID_REQUEST naming the entity; the
    /// principal needs ALTER_CONFIGS on the cluster).
    pub async fn alter_client_quotas_with(
        &self,
        alterations: impl IntoIterator<Item = ClientQuotaAlteration>,
        opts: ClientQuotaOptions,
    ) -> Result<BTreeMap<ClientQuotaEntity, Result<()>>> {
        let alterations: Vec<ClientQuotaAlteration> = alterations.into_iter().collect();
        if alterations.is_empty() {
            return Ok(BTreeMap::new());
        }
        let req = alter_request(&alterations, opts.validate_only);
        let resp = self.call_any(&req, opts.timeout, |_| None).await?;
        Ok(alter_results(
            alterations.into_iter().map(|a| a.entity).collect(),
            resp,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::alter_client_quotas_response as alter_resp;
    use purekafka_protocol::messages::describe_client_quotas_response as desc_resp;

    #[test]
    fn filters_carry_match_types() {
        let pair = ClientQuotaEntity::user("alice").with(ClientQuotaEntity::CLIENT_ID, None);
        let req = describe_request(&ClientQuotaFilter::exact(&pair));
        assert!(req.strict);
        // BTreeMap order: client-id, then user.
        assert_eq!(req.components[0].entity_type, "client-id");
        assert_eq!(req.components[0].match_type, 1);
        assert_eq!(req.components[0].r#match, None);
        assert_eq!(req.components[1].match_type, 0);
        assert_eq!(req.components[1].r#match.as_deref(), Some("alice"));
        let any =
            describe_request(&ClientQuotaFilter::all().component("ip", ClientQuotaMatch::Any));
        assert_eq!(any.components[0].match_type, 2);
        assert!(!any.strict);
    }

    #[test]
    fn alterations_set_and_remove() {
        let a = ClientQuotaAlteration::new(ClientQuotaEntity::client_id("app"))
            .set("producer_byte_rate", 1024.0)
            .remove("consumer_byte_rate");
        let req = alter_request(&[a], true);
        assert!(req.validate_only);
        let ops = &req.entries[0].ops;
        assert_eq!((ops[0].value, ops[0].remove), (1024.0, false));
        assert!(ops[1].remove);
        assert_eq!(req.entries[0].entity[0].entity_name.as_deref(), Some("app"));
    }

    #[test]
    fn results_are_per_entity() {
        let ok = ClientQuotaEntity::user("a");
        let bad = ClientQuotaEntity::user("b");
        let missing = ClientQuotaEntity::ip("10.0.0.1");
        let resp = AlterClientQuotasResponse {
            entries: vec![
                alter_resp::EntryData {
                    entity: vec![alter_resp::EntityData {
                        entity_type: "user".into(),
                        entity_name: Some("a".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                alter_resp::EntryData {
                    error_code: ErrorCode::INVALID_REQUEST.0,
                    error_message: Some("unknown key".into()),
                    entity: vec![alter_resp::EntityData {
                        entity_type: "user".into(),
                        entity_name: Some("b".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = alter_results(vec![ok.clone(), bad.clone(), missing.clone()], resp);
        assert!(out[&ok].is_ok());
        let e = out[&bad].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_REQUEST));
        assert!(e.to_string().contains("user=b"), "{e}");
        assert!(e.to_string().contains("unknown key"), "{e}");
        assert_eq!(
            out[&missing].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_SERVER_ERROR)
        );
    }

    #[test]
    fn described_quotas_by_entity() {
        let resp = DescribeClientQuotasResponse {
            entries: Some(vec![desc_resp::EntryData {
                entity: vec![desc_resp::EntityData {
                    entity_type: "user".into(),
                    entity_name: None,
                    ..Default::default()
                }],
                values: vec![desc_resp::ValueData {
                    key: "consumer_byte_rate".into(),
                    value: 2048.0,
                    ..Default::default()
                }],
                ..Default::default()
            }]),
            ..Default::default()
        };
        let q = describe_result(resp).unwrap();
        let default_user = ClientQuotaEntity::default().with("user", None);
        assert_eq!(q[&default_user]["consumer_byte_rate"], 2048.0);
        assert_eq!(default_user.to_string(), "user=<default>");
        let denied = DescribeClientQuotasResponse {
            error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
            entries: None,
            ..Default::default()
        };
        assert!(describe_result(denied).is_err());
    }
}
