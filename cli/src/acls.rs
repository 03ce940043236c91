//! `purekafka acls list|create|delete`.

use crate::fail::{self, CliError, CliResult};
use crate::settings::Settings;
use crate::{Output, print_json};
use purekafka::admin::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, Admin, ResourcePattern,
};
use serde_json::json;

/// `acls`' subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AclsCmd {
    /// The ACLs matching a filter (every ACL without one).
    List {
        #[command(flatten)]
        resource: Resource,
        /// Only this principal's (User:alice).
        #[arg(long)]
        principal: Option<String>,
    },
    /// Adds an ACL: --allow or --deny PRINCIPAL, --operation, a resource.
    Create {
        #[command(flatten)]
        resource: Resource,
        #[command(flatten)]
        entry: Entry,
    },
    /// Deletes the ACLs matching a resource, principal and operation.
    Delete {
        #[command(flatten)]
        resource: Resource,
        #[command(flatten)]
        entry: Entry,
    },
}

/// Which resource.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("resource").multiple(false)))]
pub struct Resource {
    /// A topic.
    #[arg(long, group = "resource")]
    topic: Option<String>,
    /// A consumer group.
    #[arg(long, group = "resource")]
    group: Option<String>,
    /// A transactional id.
    #[arg(long, group = "resource")]
    transactional_id: Option<String>,
    /// The cluster.
    #[arg(long, group = "resource")]
    cluster: bool,
    /// The name is a prefix.
    #[arg(long)]
    prefixed: bool,
}

/// Who may (or may not) do what.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("who").required(true).multiple(false).args(["allow", "deny"])))]
pub struct Entry {
    /// Allow this principal (User:alice).
    #[arg(long, value_name = "PRINCIPAL")]
    allow: Option<String>,
    /// Deny this principal.
    #[arg(long, value_name = "PRINCIPAL")]
    deny: Option<String>,
    /// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, ALL, ...
    #[arg(long, value_parser = parse_operation)]
    operation: AclOperation,
    /// The host (default: any).
    #[arg(long, default_value = "*")]
    host: String,
}

fn parse_operation(s: &str) -> Result<AclOperation, String> {
    s.parse()
}

impl Resource {
    fn pattern(&self) -> CliResult<Option<ResourcePattern>> {
        let p = if let Some(t) = &self.topic {
            ResourcePattern::topic(t.clone())
        } else if let Some(g) = &self.group {
            ResourcePattern::group(g.clone())
        } else if let Some(t) = &self.transactional_id {
            ResourcePattern::transactional_id(t.clone())
        } else if self.cluster {
            ResourcePattern::cluster()
        } else {
            return Ok(None);
        };
        Ok(Some(if self.prefixed { p.prefixed() } else { p }))
    }

    fn required(&self) -> CliResult<ResourcePattern> {
        self.pattern()?.ok_or_else(|| {
            CliError::usage("name the resource: --topic, --group, --transactional-id or --cluster")
        })
    }
}

impl Entry {
    fn entry(&self) -> AccessControlEntry {
        let e = match (&self.allow, &self.deny) {
            (Some(p), _) => AccessControlEntry::allow(p.clone(), self.operation),
            (None, Some(p)) => AccessControlEntry::deny(p.clone(), self.operation),
            (None, None) => AccessControlEntry::allow(String::new(), self.operation),
        };
        e.from_host(self.host.clone())
    }
}

fn binding_json(b: &AclBinding) -> serde_json::Value {
    json!({
        "resource_type": b.pattern.resource_type.name(),
        "name": b.pattern.name,
        "pattern_type": b.pattern.pattern_type.name(),
        "principal": b.entry.principal,
        "host": b.entry.host,
        "operation": b.entry.operation.name(),
        "permission": b.entry.permission.name(),
    })
}

/// Runs an `acls` command.
pub async fn run(settings: Settings, cmd: AclsCmd, output: Output) -> CliResult<()> {
    let bootstrap = settings.bootstrap().to_owned();
    let k = |e| fail::kafka(e, &bootstrap);
    let admin = Admin::new(settings.admin()?).await.map_err(k)?;
    let print = |bindings: &[AclBinding], verb: &str| match output {
        Output::Json => print_json(&json!(
            bindings.iter().map(binding_json).collect::<Vec<_>>()
        )),
        Output::Text => {
            for b in bindings {
                println!("{verb}{b}");
            }
        }
    };
    match cmd {
        AclsCmd::List {
            resource,
            principal,
        } => {
            let mut filter = AclBindingFilter::any();
            if let Some(p) = resource.pattern()? {
                filter = filter.resource(p.resource_type, p.name, p.pattern_type);
            }
            if let Some(p) = principal {
                filter = filter.principal(p);
            }
            let acls = admin.describe_acls(filter).await.map_err(k)?;
            print(&acls, "");
            Ok(())
        }
        AclsCmd::Create { resource, entry } => {
            let binding = AclBinding::new(resource.required()?, entry.entry());
            for (_, r) in admin.create_acls([binding.clone()]).await.map_err(k)? {
                r.map_err(k)?;
            }
            print(&[binding], "created ");
            Ok(())
        }
        AclsCmd::Delete { resource, entry } => {
            let p = resource.required()?;
            let e = entry.entry();
            let mut filter = AclBindingFilter::any()
                .resource(p.resource_type, p.name, p.pattern_type)
                .principal(e.principal)
                .operation(e.operation)
                .permission(e.permission);
            if e.host != "*" {
                filter = filter.host(e.host);
            }
            let mut deleted = Vec::new();
            for (_, r) in admin.delete_acls([filter]).await.map_err(k)? {
                for (b, outcome) in r.map_err(k)? {
                    outcome.map_err(k)?;
                    deleted.push(b);
                }
            }
            print(&deleted, "deleted ");
            Ok(())
        }
    }
}
