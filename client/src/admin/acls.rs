//! ACLs: create, describe and delete (Java's `createAcls`, `describeAcls`,
//! `deleteAcls`).
//!
//! An [`AclBinding`] is a [`ResourcePattern`] (what) and an
//! [`AccessControlEntry`] (who, from where, may or may not do which
//! operation). Describing and deleting take an [`AclBindingFilter`], whose
//! unset fields and `Any` values match everything.
//!
//! The requests go to any broker (under KRaft a broker forwards them to the
//! controller). Creating or deleting needs ALTER on the cluster, describing
//! DESCRIBE on it: without it each result is CLUSTER_AUTHORIZATION_FAILED.
//!
//! ```no_run
//! use purekafka::admin::{AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, Admin, ResourcePattern};
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! let allow = AclBinding::new(
//!     ResourcePattern::topic("events"),
//!     AccessControlEntry::allow("User:alice", AclOperation::Write),
//! );
//! for (binding, outcome) in admin.create_acls([allow]).await? {
//!     outcome.map_err(|e| { eprintln!("{binding}: {e}"); e })?;
//! }
//! let all = admin.describe_acls(AclBindingFilter::any()).await?;
//! println!("{} ACLs", all.len());
//! # Ok(()) }
//! ```

use crate::admin::{Admin, check, hinted_error, no_result, resource_error, top_level};
use crate::error::{Error, Result};
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::create_acls_request::AclCreation;
use purekafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use purekafka_protocol::messages::delete_acls_response::DeleteAclsMatchingAcl;
use purekafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:expr, $java:expr;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A code this version of purekafka does not know (a newer
            /// broker's), kept as it came.
            Unknown(i8),
        }

        impl $name {
            /// The code Kafka's protocol uses.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code,)*
                    $name::Unknown(c) => c,
                }
            }

            /// The value for a wire code (`Unknown` for one not known here).
            pub fn from_code(code: i8) -> Self {
                match code {
                    $($code => $name::$variant,)*
                    c => $name::Unknown(c),
                }
            }

            /// Java's name for it (`TRANSACTIONAL_ID`, `IDEMPOTENT_WRITE`).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $java,)*
                    $name::Unknown(_) => "UNKNOWN",
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::Unknown(c) => write!(f, "UNKNOWN({c})"),
                    v => f.write_str(v.name()),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            /// Java's name, in any case, `_` or `-` alike (`Transactional-Id`).
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                let norm: String = s
                    .chars()
                    .filter(|c| *c != '_' && *c != '-')
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                $(if norm == $java.replace('_', "") { return Ok($name::$variant); })*
                Err(format!(
                    "unknown {}: {s:?} (one of {})",
                    stringify!($name),
                    [$($java),*].join(", ")
                ))
            }
        }
    };
}

wire_enum! {
    /// The kind of resource an ACL is about (Java's `ResourceType`).
    ResourceType {
        /// In a filter: every resource type.
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer (or share, or streams) group.
        Group = 3, "GROUP";
        /// The cluster (name `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user (for delegation tokens).
        User = 7, "USER";
    }
}

wire_enum! {
    /// How a resource pattern's name matches (Java's `PatternType`).
    PatternType {
        /// In a filter: any pattern type, the name compared literally.
        Any = 1, "ANY";
        /// In a filter: every ACL that applies to the name (literal,
        /// wildcard and prefixed ones).
        Match = 2, "MATCH";
        /// The name exactly, or every resource for `*`.
        Literal = 3, "LITERAL";
        /// Every resource whose name starts with the name.
        Prefixed = 4, "PREFIXED";
    }
}

wire_enum! {
    /// An operation an ACL allows or denies (Java's `AclOperation`).
    AclOperation {
        /// In a filter: every operation.
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Read.
        Read = 3, "READ";
        /// Write.
        Write = 4, "WRITE";
        /// Create.
        Create = 5, "CREATE";
        /// Delete.
        Delete = 6, "DELETE";
        /// Alter.
        Alter = 7, "ALTER";
        /// Describe.
        Describe = 8, "DESCRIBE";
        /// Cluster action (broker-to-broker requests).
        ClusterAction = 9, "CLUSTER_ACTION";
        /// Describe configs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// Alter configs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// Idempotent write.
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// Create delegation tokens.
        CreateTokens = 13, "CREATE_TOKENS";
        /// Describe delegation tokens.
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        /// Two-phase commit (KIP-939).
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
}

wire_enum! {
    /// Whether an ACL allows or denies (Java's `AclPermissionType`).
    AclPermissionType {
        /// In a filter: both.
        Any = 1, "ANY";
        /// Denies (wins over any allow).
        Deny = 2, "DENY";
        /// Allows.
        Allow = 3, "ALLOW";
    }
}

/// The ACL operations a principal may perform on a resource, as Kafka
/// reports them (a bit per operation code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizedOperations(pub i32);

impl AuthorizedOperations {
    /// The operations, typed (a bit per [`AclOperation::code`]).
    pub fn operations(&self) -> Vec<AclOperation> {
        (0..31i8)
            .filter(|b| self.0 & (1 << b) != 0)
            .map(AclOperation::from_code)
            .collect()
    }

    /// The operations, by Java's `AclOperation` names (`READ`, `WRITE`,
    /// `DESCRIBE_CONFIGS`...).
    pub fn names(&self) -> Vec<&'static str> {
        self.operations()
            .into_iter()
            .map(AclOperation::name)
            .collect()
    }

    /// Whether the operation named as in Java (`DESCRIBE`,
    /// `describe-configs`: any case, `_` or `-`) is allowed.
    pub fn allows(&self, operation: &str) -> bool {
        operation
            .parse::<AclOperation>()
            .is_ok_and(|op| (0..31).contains(&op.code()) && self.0 & (1 << op.code()) != 0)
    }

    /// From the wire: `None` for "not asked" (i32::MIN).
    pub(crate) fn from_wire(bits: i32) -> Option<AuthorizedOperations> {
        (bits != i32::MIN).then_some(AuthorizedOperations(bits))
    }
}

/// What an ACL is about: a resource, or every resource matching a pattern
/// (Java's `ResourcePattern`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePattern {
    /// The resource type.
    pub resource_type: ResourceType,
    /// The name (`*` with [`PatternType::Literal`]: every resource of the type).
    pub name: String,
    /// How `name` matches.
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    /// A pattern of any type.
    pub fn new(
        resource_type: ResourceType,
        name: impl Into<String>,
        pattern_type: PatternType,
    ) -> Self {
        ResourcePattern {
            resource_type,
            name: name.into(),
            pattern_type,
        }
    }

    /// One topic, literally.
    pub fn topic(name: impl Into<String>) -> Self {
        Self::new(ResourceType::Topic, name, PatternType::Literal)
    }

    /// One group, literally.
    pub fn group(name: impl Into<String>) -> Self {
        Self::new(ResourceType::Group, name, PatternType::Literal)
    }

    /// One transactional id, literally.
    pub fn transactional_id(name: impl Into<String>) -> Self {
        Self::new(ResourceType::TransactionalId, name, PatternType::Literal)
    }

    /// The cluster.
    pub fn cluster() -> Self {
        Self::new(ResourceType::Cluster, "kafka-cluster", PatternType::Literal)
    }

    /// The same pattern with [`PatternType::Prefixed`].
    pub fn prefixed(mut self) -> Self {
        self.pattern_type = PatternType::Prefixed;
        self
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.resource_type, self.pattern_type, self.name
        )
    }
}

/// Who may (or may not) do what, from where (Java's `AccessControlEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessControlEntry {
    /// The principal (`User:alice`, `User:*` for everyone).
    pub principal: String,
    /// The client host (`*` for any).
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermissionType,
}

impl AccessControlEntry {
    /// `principal` may do `operation`, from any host.
    pub fn allow(principal: impl Into<String>, operation: AclOperation) -> Self {
        AccessControlEntry {
            principal: principal.into(),
            host: "*".into(),
            operation,
            permission: AclPermissionType::Allow,
        }
    }

    /// `principal` may not do `operation`, from any host (a deny wins over
    /// every allow).
    pub fn deny(principal: impl Into<String>, operation: AclOperation) -> Self {
        AccessControlEntry {
            permission: AclPermissionType::Deny,
            ..Self::allow(principal, operation)
        }
    }

    /// The same entry for one host only.
    pub fn from_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }
}

impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} from {}",
            self.principal, self.permission, self.operation, self.host
        )
    }
}

/// One ACL (Java's `AclBinding`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// What it is about.
    pub pattern: ResourcePattern,
    /// Who may or may not do what.
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// A binding.
    pub fn new(pattern: ResourcePattern, entry: AccessControlEntry) -> Self {
        AclBinding { pattern, entry }
    }

    /// The filter that matches exactly this binding.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.pattern.resource_type,
            name: Some(self.pattern.name.clone()),
            pattern_type: self.pattern.pattern_type,
            principal: Some(self.entry.principal.clone()),
            host: Some(self.entry.host.clone()),
            operation: self.entry.operation,
            permission: self.entry.permission,
        }
    }

    /// Why this binding cannot be created, if it cannot: a field that is
    /// a filter's wildcard (`Any`, `Match`) or a code not known here.
    /// Java checks the same before sending (`findIndefiniteField`).
    pub fn indefinite_field(&self) -> Option<String> {
        let p = &self.pattern;
        let e = &self.entry;
        if matches!(
            p.resource_type,
            ResourceType::Any | ResourceType::Unknown(_)
        ) {
            return Some(format!("resource type {}", p.resource_type));
        }
        if matches!(
            p.pattern_type,
            PatternType::Any | PatternType::Match | PatternType::Unknown(_)
        ) {
            return Some(format!("pattern type {}", p.pattern_type));
        }
        if matches!(e.operation, AclOperation::Any | AclOperation::Unknown(_)) {
            return Some(format!("operation {}", e.operation));
        }
        if matches!(
            e.permission,
            AclPermissionType::Any | AclPermissionType::Unknown(_)
        ) {
            return Some(format!("permission type {}", e.permission));
        }
        None
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.entry, self.pattern)
    }
}

/// Which ACLs to describe or delete (Java's `AclBindingFilter`): `None` and
/// the `Any` values match everything; [`PatternType::Match`] matches every
/// ACL that applies to the named resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBindingFilter {
    /// The resource type ([`ResourceType::Any`]: all).
    pub resource_type: ResourceType,
    /// The resource name (`None`: all).
    pub name: Option<String>,
    /// The pattern type ([`PatternType::Any`]: all).
    pub pattern_type: PatternType,
    /// The principal (`None`: all).
    pub principal: Option<String>,
    /// The host (`None`: all).
    pub host: Option<String>,
    /// The operation ([`AclOperation::Any`]: all).
    pub operation: AclOperation,
    /// The permission ([`AclPermissionType::Any`]: both).
    pub permission: AclPermissionType,
}

impl AclBindingFilter {
    /// Matches every ACL.
    pub fn any() -> Self {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }

    /// Only ACLs on resources of this type, named `name` (literally, or
    /// with `pattern_type`).
    pub fn resource(
        mut self,
        resource_type: ResourceType,
        name: impl Into<String>,
        pattern_type: PatternType,
    ) -> Self {
        self.resource_type = resource_type;
        self.name = Some(name.into());
        self.pattern_type = pattern_type;
        self
    }

    /// Only ACLs of this principal.
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// Only ACLs for this host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Only ACLs for this operation.
    pub fn operation(mut self, operation: AclOperation) -> Self {
        self.operation = operation;
        self
    }

    /// Only ACLs with this permission.
    pub fn permission(mut self, permission: AclPermissionType) -> Self {
        self.permission = permission;
        self
    }
}

impl fmt::Display for AclBindingFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let any = |v: &Option<String>| v.clone().unwrap_or_else(|| "(any)".into());
        write!(
            f,
            "{}:{}:{} for {} {} {} from {}",
            self.resource_type,
            self.pattern_type,
            any(&self.name),
            any(&self.principal),
            self.permission,
            self.operation,
            any(&self.host)
        )
    }
}

impl Default for AclBindingFilter {
    fn default() -> Self {
        Self::any()
    }
}

impl From<&AclBinding> for AclBindingFilter {
    fn from(b: &AclBinding) -> Self {
        b.to_filter()
    }
}

impl From<AclBinding> for AclBindingFilter {
    fn from(b: AclBinding) -> Self {
        b.to_filter()
    }
}

/// Options of [`Admin::create_acls_with`], [`Admin::describe_acls_with`]
/// and [`Admin::delete_acls_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclOptions {
    /// How long the call may take, retries included
    /// (`default.api.timeout.ms` if unset).
    pub timeout: Option<Duration>,
}

/// What [`Admin::delete_acls`] did for one filter: the ACLs it matched,
/// each with whether it was deleted, or why the filter failed as a whole.
pub type AclDeletions = Result<Vec<(AclBinding, Result<()>)>>;

fn broker_error(
    api: &'static str,
    code: i16,
    message: Option<String>,
    what: &dyn fmt::Display,
) -> Result<()> {
    check(code, |code| {
        let hint = match code {
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED if api == "DescribeAcls" => {
                Some("the principal needs DESCRIBE on the cluster")
            }
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED => {
                Some("the principal needs ALTER on the cluster")
            }
            ErrorCode::SECURITY_DISABLED => Some("the brokers run no authorizer"),
            _ => None,
        };
        hinted_error(code, api, &what.to_string(), message.as_deref(), hint)
    })
}

fn wire_filter(f: &AclBindingFilter) -> DeleteAclsFilter {
    DeleteAclsFilter {
        resource_type_filter: f.resource_type.code(),
        resource_name_filter: f.name.clone(),
        pattern_type_filter: f.pattern_type.code(),
        principal_filter: f.principal.clone(),
        host_filter: f.host.clone(),
        operation: f.operation.code(),
        permission_type: f.permission.code(),
        ..Default::default()
    }
}

/// The CreateAcls request for the bindings that can be created, in order,
/// and every binding's local verdict (`Some` error for those not sent).
fn create_request(bindings: &[AclBinding]) -> (CreateAclsRequest, Vec<Option<Error>>) {
    let mut creations = Vec::new();
    let mut local = Vec::with_capacity(bindings.len());
    for b in bindings {
        match b.indefinite_field() {
            Some(field) => local.push(Some(resource_error(
                ErrorCode::INVALID_REQUEST,
                "CreateAcls",
                &b.to_string(),
                Some(&format!(
                    "cannot create an ACL with {field} (a filter's value); name a definite one"
                )),
            ))),
            None => {
                local.push(None);
                creations.push(AclCreation {
                    resource_type: b.pattern.resource_type.code(),
                    resource_name: b.pattern.name.clone(),
                    resource_pattern_type: b.pattern.pattern_type.code(),
                    principal: b.entry.principal.clone(),
                    host: b.entry.host.clone(),
                    operation: b.entry.operation.code(),
                    permission_type: b.entry.permission.code(),
                    ..Default::default()
                });
            }
        }
    }
    (
        CreateAclsRequest {
            creations,
            ..Default::default()
        },
        local,
    )
}

fn create_results(
    bindings: Vec<AclBinding>,
    local: Vec<Option<Error>>,
    resp: CreateAclsResponse,
) -> BTreeMap<AclBinding, Result<()>> {
    let mut results = resp.results.into_iter();
    bindings
        .into_iter()
        .zip(local)
        .map(|(b, local)| {
            let r = match local {
                Some(e) => Err(e),
                None => match results.next() {
                    Some(r) => broker_error("CreateAcls", r.error_code, r.error_message, &b),
                    None => Err(no_result("CreateAcls", &b)),
                },
            };
            (b, r)
        })
        .collect()
}

fn describe_request(f: &AclBindingFilter) -> DescribeAclsRequest {
    let w = wire_filter(f);
    DescribeAclsRequest {
        resource_type_filter: w.resource_type_filter,
        resource_name_filter: w.resource_name_filter,
        pattern_type_filter: w.pattern_type_filter,
        principal_filter: w.principal_filter,
        host_filter: w.host_filter,
        operation: w.operation,
        permission_type: w.permission_type,
        ..Default::default()
    }
}

fn describe_result(f: &AclBindingFilter, resp: DescribeAclsResponse) -> Result<Vec<AclBinding>> {
    broker_error(
        "DescribeAcls",
        resp.error_code,
        resp.error_message,
        &format_args!("ACL filter {f}"),
    )?;
    let mut out = Vec::new();
    for r in resp.resources {
        let pattern = ResourcePattern {
            resource_type: ResourceType::from_code(r.resource_type),
            name: r.resource_name,
            pattern_type: PatternType::from_code(r.pattern_type),
        };
        for a in r.acls {
            out.push(AclBinding {
                pattern: pattern.clone(),
                entry: AccessControlEntry {
                    principal: a.principal,
                    host: a.host,
                    operation: AclOperation::from_code(a.operation),
                    permission: AclPermissionType::from_code(a.permission_type),
                },
            });
        }
    }
    Ok(out)
}

fn binding_of(m: DeleteAclsMatchingAcl) -> (AclBinding, i16, Option<String>) {
    let b = AclBinding {
        pattern: ResourcePattern {
            resource_type: ResourceType::from_code(m.resource_type),
            name: m.resource_name,
            pattern_type: PatternType::from_code(m.pattern_type),
        },
        entry: AccessControlEntry {
            principal: m.principal,
            host: m.host,
            operation: AclOperation::from_code(m.operation),
            permission: AclPermissionType::from_code(m.permission_type),
        },
    };
    (b, m.error_code, m.error_message)
}

fn delete_results(
    filters: Vec<AclBindingFilter>,
    resp: DeleteAclsResponse,
) -> BTreeMap<AclBindingFilter, AclDeletions> {
    let mut results = resp.filter_results.into_iter();
    filters
        .into_iter()
        .map(|filter| {
            let what = format!("ACL filter {filter}");
            let result = match results.next() {
                None => Err(no_result("DeleteAcls", &what)),
                Some(r) => {
                    broker_error("DeleteAcls", r.error_code, r.error_message, &what).map(|()| {
                        r.matching_acls
                            .into_iter()
                            .map(|m| {
                                let (b, code, message) = binding_of(m);
                                let r = broker_error("DeleteAcls", code, message, &b);
                                (b, r)
                            })
                            .collect()
                    })
                }
            };
            (filter, result)
        })
        .collect()
}

impl Admin {
    /// Creates ACLs (Java's `createAcls`), with the default options.
    pub async fn create_acls(
        &self,
        bindings: impl IntoIterator<Item = AclBinding>,
    ) -> Result<BTreeMap<AclBinding, Result<()>>> {
        self.create_acls_with(bindings, AclOptions::default()).await
    }

    /// Creates ACLs: each binding's outcome. One that is not definite (an
    /// `Any` field) fails locally, INVALID_REQUEST, without being sent;
    /// creating an ACL that exists succeeds. Without ALTER on the cluster
    /// each is CLUSTER_AUTHORIZATION_FAILED.
    pub async fn create_acls_with(
        &self,
        bindings: impl IntoIterator<Item = AclBinding>,
        opts: AclOptions,
    ) -> Result<BTreeMap<AclBinding, Result<()>>> {
        let mut bindings: Vec<AclBinding> = bindings.into_iter().collect();
        bindings.sort();
        bindings.dedup();
        let (req, local) = create_request(&bindings);
        let resp = if req.creations.is_empty() {
            CreateAclsResponse::default()
        } else {
            self.call_any(&req, opts.timeout, |_| None).await?
        };
        Ok(create_results(bindings, local, resp))
    }

    /// The ACLs matching `filter` (Java's `describeAcls`), with the default
    /// options.
    pub async fn describe_acls(&self, filter: AclBindingFilter) -> Result<Vec<AclBinding>> {
        self.describe_acls_with(filter, AclOptions::default()).await
    }

    /// The ACLs matching `filter`. Without DESCRIBE on the cluster:
    /// CLUSTER_AUTHORIZATION_FAILED.
    pub async fn describe_acls_with(
        &self,
        filter: AclBindingFilter,
        opts: AclOptions,
    ) -> Result<Vec<AclBinding>> {
        let resp = self
            .call_any(&describe_request(&filter), opts.timeout, |r| {
                top_level(r.error_code)
            })
            .await?;
        describe_result(&filter, resp)
    }

    /// Deletes every ACL matching each filter (Java's `deleteAcls`), with
    /// the default options.
    pub async fn delete_acls(
        &self,
        filters: impl IntoIterator<Item = AclBindingFilter>,
    ) -> Result<BTreeMap<AclBindingFilter, AclDeletions>> {
        self.delete_acls_with(filters, AclOptions::default()).await
    }

    /// Deletes every ACL matching each filter: per filter, the ACLs it
    /// matched and whether each went (a filter matching nothing deletes
    /// nothing and succeeds).
    pub async fn delete_acls_with(
        &self,
        filters: impl IntoIterator<Item = AclBindingFilter>,
        opts: AclOptions,
    ) -> Result<BTreeMap<AclBindingFilter, AclDeletions>> {
        let mut filters: Vec<AclBindingFilter> = filters.into_iter().collect();
        filters.sort();
        filters.dedup();
        if filters.is_empty() {
            return Ok(BTreeMap::new());
        }
        let req = DeleteAclsRequest {
            filters: filters.iter().map(wire_filter).collect(),
            ..Default::default()
        };
        let resp = self.call_any(&req, opts.timeout, |_| None).await?;
        Ok(delete_results(filters, resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::create_acls_response::AclCreationResult;
    use purekafka_protocol::messages::delete_acls_response::{
        DeleteAclsFilterResult, DeleteAclsMatchingAcl,
    };
    use purekafka_protocol::messages::describe_acls_response::{
        AclDescription, DescribeAclsResource,
    };

    fn alice_writes(topic: &str) -> AclBinding {
        AclBinding::new(
            ResourcePattern::topic(topic),
            AccessControlEntry::allow("User:alice", AclOperation::Write),
        )
    }

    #[test]
    fn codes_names_and_unknowns_round_trip() {
        for c in -2..20 {
            assert_eq!(AclOperation::from_code(c).code(), c);
            assert_eq!(ResourceType::from_code(c).code(), c);
        }
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(ResourceType::TransactionalId.code(), 5);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclPermissionType::Allow.code(), 3);
        assert_eq!(
            "idempotent-write".parse::<AclOperation>(),
            Ok(AclOperation::IdempotentWrite)
        );
        assert_eq!(
            "TransactionalId".parse::<ResourceType>(),
            Ok(ResourceType::TransactionalId)
        );
        assert!("reed".parse::<AclOperation>().is_err());
        assert_eq!(AclOperation::from_code(99).to_string(), "UNKNOWN(99)");
    }

    #[test]
    fn authorized_operations_are_typed() {
        let ops = AuthorizedOperations((1 << 3) | (1 << 8) | (1 << 12));
        assert_eq!(
            ops.operations(),
            vec![
                AclOperation::Read,
                AclOperation::Describe,
                AclOperation::IdempotentWrite
            ]
        );
    }

    #[test]
    fn authorized_operations_bits() {
        let ops = AuthorizedOperations((1 << 3) | (1 << 8) | (1 << 10));
        assert_eq!(ops.names(), ["READ", "DESCRIBE", "DESCRIBE_CONFIGS"]);
        assert!(ops.allows("describe"));
        assert!(!ops.allows("WRITE"));
        assert_eq!(AuthorizedOperations::from_wire(i32::MIN), None);
    }

    #[test]
    fn an_indefinite_binding_fails_locally_and_is_not_sent() {
        let good = alice_writes("t");
        let mut bad = alice_writes("t");
        bad.entry.operation = AclOperation::Any;
        let (req, local) = create_request(&[bad.clone(), good.clone()]);
        assert_eq!(req.creations.len(), 1);
        assert_eq!(req.creations[0].resource_name, "t");
        assert_eq!(req.creations[0].operation, 4);
        assert_eq!(req.creations[0].resource_pattern_type, 3);
        assert_eq!(req.creations[0].host, "*");
        // The broker answers for the one sent; results line up with the input.
        let resp = CreateAclsResponse {
            results: vec![AclCreationResult::default()],
            ..Default::default()
        };
        let out = create_results(vec![bad.clone(), good.clone()], local, resp);
        let e = out[&bad].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_REQUEST));
        assert!(e.to_string().contains("operation ANY"), "{e}");
        assert!(out[&good].is_ok());
    }

    #[test]
    fn a_missing_result_is_an_error_not_a_success() {
        let (req, local) = create_request(&[alice_writes("a"), alice_writes("b")]);
        assert_eq!(req.creations.len(), 2);
        let resp = CreateAclsResponse {
            results: vec![AclCreationResult {
                error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = create_results(vec![alice_writes("a"), alice_writes("b")], local, resp);
        let e0 = out[&alice_writes("a")].as_ref().unwrap_err();
        assert_eq!(e0.code(), Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED));
        assert!(e0.to_string().contains("ALTER on the cluster"), "{e0}");
        assert!(e0.to_string().contains("User:alice"), "{e0}");
        assert_eq!(
            out[&alice_writes("b")].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_SERVER_ERROR)
        );
    }

    #[test]
    fn describe_flattens_resources_and_reports_the_top_level_error() {
        let f = AclBindingFilter::any().principal("User:alice");
        let req = describe_request(&f);
        assert_eq!(req.resource_type_filter, 1);
        assert_eq!(req.principal_filter.as_deref(), Some("User:alice"));
        assert_eq!(req.resource_name_filter, None);
        let resp = DescribeAclsResponse {
            resources: vec![DescribeAclsResource {
                resource_type: 2,
                resource_name: "t".into(),
                pattern_type: 4,
                acls: vec![
                    AclDescription {
                        principal: "User:alice".into(),
                        host: "*".into(),
                        operation: 3,
                        permission_type: 3,
                        ..Default::default()
                    },
                    AclDescription {
                        principal: "User:alice".into(),
                        host: "10.0.0.1".into(),
                        operation: 4,
                        permission_type: 2,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let got = describe_result(&f, resp).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].pattern, ResourcePattern::topic("t").prefixed());
        assert_eq!(
            got[1].entry,
            AccessControlEntry::deny("User:alice", AclOperation::Write).from_host("10.0.0.1")
        );
        let denied = DescribeAclsResponse {
            error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
        let e = describe_result(&f, denied).unwrap_err();
        assert!(e.to_string().contains("DESCRIBE on the cluster"), "{e}");
    }

    #[test]
    fn delete_reports_per_filter_and_per_acl() {
        let f1 = alice_writes("t").to_filter();
        let f2 = AclBindingFilter::any();
        let resp = DeleteAclsResponse {
            filter_results: vec![
                DeleteAclsFilterResult {
                    matching_acls: vec![DeleteAclsMatchingAcl {
                        resource_type: 2,
                        resource_name: "t".into(),
                        pattern_type: 3,
                        principal: "User:alice".into(),
                        host: "*".into(),
                        operation: 4,
                        permission_type: 3,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                DeleteAclsFilterResult {
                    error_code: ErrorCode::SECURITY_DISABLED.0,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = delete_results(vec![f1.clone(), f2.clone()], resp);
        let deleted = out[&f1].as_ref().unwrap();
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0].0, alice_writes("t"));
        assert!(deleted[0].1.is_ok());
        let e = out[&f2].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::SECURITY_DISABLED));
        assert!(e.to_string().contains("no authorizer"), "{e}");
    }
}
