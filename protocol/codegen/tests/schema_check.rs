//! Holds our message definitions (`protocol/messages/*.kmsg`) to Kafka's
//! reference schemas: every field's name, type, versions, nullable versions,
//! tag, tagged versions and default must match, and every client-facing API
//! must be defined.
//!
//! Two references, newest first:
//!
//! - Apache Kafka 4.4.0's schemas, read at test time from `common/message/*.json`
//!   inside `kafka-clients-4.4.0.jar` of the install `scripts/install-kafka.sh`
//!   makes (`$PUREKAFKA_KAFKA_HOME/lib`, else `kafka-4.4.0/lib` under
//!   `$PUREKAFKA_CACHE` or `~/.cache/purekafka`). Never copied into the
//!   repository. Missing: a `SKIP` note outside CI, a failure under `CI=true`.
//! - `../shared/kafka-messages/*.json` beside the checkout (Kafka 4.3 and 4.0
//!   files; `PUREKAFKA_SCHEMAS` names another directory).
//!
//! Each definition is checked against the newest reference that has it, over
//! that reference's versions, exactly. Versions Kafka has since removed (KIP-896)
//! may stay in our definitions for older brokers: they are checked against the
//! older reference that still has them. Fields that exist in no version being
//! checked (left behind when old versions went) are ignored on both sides.
//! When only an older reference has a definition (no jar outside CI), versions
//! above its newest, or its newest when that was still unstable, are accepted
//! unverified; the test names them on stderr.
//!
//! Client-facing: an API whose request schema lists the `broker` listener in
//! the newest reference, minus [`NOT_FOR_CLIENTS`]; the request and response
//! headers; the data schemas in [`CLIENT_DATA`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod jar;

use purekafka_codegen::dsl::{Field, Kind, Message, Type, Versions};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The Kafka release whose jar holds the newest reference schemas.
const KAFKA_VERSION: &str = "4.4.0";

/// APIs on the broker listener that a client never sends, with the reason.
/// (WriteTxnMarkers is not one: the admin client's `abort_transaction` sends
/// it to a partition leader, as Java's `Admin.abortTransaction` does.)
const NOT_FOR_CLIENTS: &[(&str, &str)] = &[
    (
        "InitializeShareGroupState",
        "sent by brokers to the share coordinator",
    ),
    (
        "ReadShareGroupState",
        "sent by brokers to the share coordinator",
    ),
    (
        "WriteShareGroupState",
        "sent by brokers to the share coordinator",
    ),
    (
        "DeleteShareGroupState",
        "sent by brokers to the share coordinator",
    ),
    (
        "ReadShareGroupStateSummary",
        "sent by brokers to the share coordinator",
    ),
    (
        "ListClientMetricsResources",
        "API key 74's name before Kafka 4.1; we define it as ListConfigResources",
    ),
];

/// Fields Kafka renamed after an older reference was taken, as
/// (message or struct path, old name, new name): an older reference's name is
/// read as the new one. Renames do not change the wire format.
const RENAMED: &[(&str, &str, &str)] = &[(
    "TxnOffsetCommitRequest",
    "GenerationId",
    "GenerationIdOrMemberEpoch",
)];

/// Data schemas a client uses (the consumer group protocol's embedded formats).
const CLIENT_DATA: &[&str] = &["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema_dir() -> PathBuf {
    match std::env::var_os("PUREKAFKA_SCHEMAS") {
        Some(d) => PathBuf::from(d),
        None => repo_root().join("../shared/kafka-messages"),
    }
}

fn in_ci() -> bool {
    matches!(
        std::env::var("CI").as_deref(),
        Ok("true") | Ok("1") | Ok("TRUE") | Ok("True")
    )
}

/// Where `scripts/install-kafka.sh` puts `kafka-clients-4.4.0.jar`.
fn kafka_clients_jar() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = env("PUREKAFKA_KAFKA_HOME").or_else(|| {
        env("PUREKAFKA_CACHE")
            .or_else(|| env("HOME").map(|h| h.join(".cache/purekafka")))
            .map(|c| c.join(format!("kafka-{KAFKA_VERSION}")))
    })?;
    Some(home.join(format!("lib/kafka-clients-{KAFKA_VERSION}.jar")))
}

/// One set of Kafka's schemas, by message name.
struct Reference {
    label: String,
    /// Whether this is the newest reference: its versions are exact at the top.
    latest: bool,
    schemas: BTreeMap<String, Value>,
}

impl Reference {
    fn parse(
        label: String,
        latest: bool,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Reference {
        let mut schemas = BTreeMap::new();
        for (file, text) in files {
            let v: Value = serde_json::from_str(&strip_comments(&text))
                .unwrap_or_else(|e| panic!("{label}: {file}: {e}"));
            let name = v["name"].as_str().unwrap_or_default().to_string();
            schemas.insert(name, v);
        }
        assert!(
            schemas.len() > 100,
            "only {} schemas found in {label}",
            schemas.len()
        );
        Reference {
            label,
            latest,
            schemas,
        }
    }

    /// The schemas in `../shared/kafka-messages` (or `PUREKAFKA_SCHEMAS`).
    fn shared() -> Reference {
        let dir = schema_dir();
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "cannot read Kafka's reference schemas at {} ({e}); they live in shared/kafka-messages beside the checkout, or set PUREKAFKA_SCHEMAS",
                dir.display()
            )
        });
        let mut files = Vec::new();
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            files.push((p.display().to_string(), text));
        }
        Reference::parse(dir.display().to_string(), false, files)
    }

    /// Kafka 4.4.0's schemas from the installed client jar, if installed.
    /// Under CI a missing jar fails.
    fn kafka_jar() -> Option<Reference> {
        let jar = kafka_clients_jar();
        let present = jar.as_ref().filter(|j| j.is_file());
        let Some(jar) = present else {
            let where_ = jar.map_or("(HOME is unset)".into(), |j| j.display().to_string());
            let msg = format!(
                "Kafka {KAFKA_VERSION}'s schemas not found: no {where_}; run scripts/install-kafka.sh (or set PUREKAFKA_KAFKA_HOME)"
            );
            assert!(!in_ci(), "{msg}");
            // Past libtest's capture, as the integration harness prints it,
            // so scripts/test.sh counts the skip.
            let test = std::thread::current().name().unwrap_or("?").to_string();
            let line = format!("SKIP {test} (the Kafka {KAFKA_VERSION} part): {msg}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            return None;
        };
        let bytes = std::fs::read(jar).unwrap_or_else(|e| panic!("{}: {e}", jar.display()));
        let files = jar::entries(&bytes, |n| {
            n.starts_with("common/message/") && n.ends_with(".json")
        })
        .unwrap_or_else(|e| panic!("{}: {e}", jar.display()));
        let files = files.into_iter().map(|(name, data)| {
            let text = String::from_utf8(data).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, text)
        });
        Some(Reference::parse(
            format!("Kafka {KAFKA_VERSION}"),
            true,
            files,
        ))
    }
}

/// Removes `//` comments (outside strings) from Kafka's commented JSON.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut escaped = false;
        let mut cut = line.len();
        let b = line.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            if in_str {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_str = false;
                }
            } else if c == b'"' {
                in_str = true;
            } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
                cut = i;
                break;
            }
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

fn versions(v: Option<&Value>) -> Versions {
    match v.and_then(Value::as_str) {
        None => Versions::NONE,
        Some(s) => Versions::parse(s).unwrap_or_else(|e| panic!("schema version {s}: {e}")),
    }
}

/// A default as a canonical string, or None for the type's zero value.
fn canonical_default(ty: &Type, d: Option<&str>) -> Option<String> {
    let d = d?;
    let lower = d.to_ascii_lowercase();
    let c = if let Some(hex) = lower.strip_prefix("0x") {
        i64::from_str_radix(hex, 16)
            .map(|n| n.to_string())
            .unwrap_or(lower)
    } else if d.is_empty() || d == "\"\"" {
        String::new()
    } else {
        lower
    };
    let zero = match ty {
        Type::Bool => c == "false",
        Type::String => c.is_empty(),
        Type::Float64 => c.parse::<f64>().is_ok_and(|f| f == 0.0),
        Type::Int8 | Type::Int16 | Type::Uint16 | Type::Int32 | Type::Uint32 | Type::Int64 => {
            c == "0"
        }
        _ => c.is_empty(),
    };
    if zero { None } else { Some(c) }
}

fn json_default(v: &Value) -> Option<String> {
    match v.get("default") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// Records an error at `path` when `ours` and `theirs` (of `what`) differ within `range`.
fn same_versions(
    path: &str,
    what: &str,
    ours: Versions,
    theirs: Versions,
    range: Versions,
    errs: &mut Vec<String>,
) {
    if within(ours, range) != within(theirs, range) {
        errs.push(format!("{path}: {what} {ours}, schema has {theirs}"));
    }
}

/// The versions of `v` inside `range`.
fn within(v: Versions, range: Versions) -> Versions {
    v.intersect(range)
}

/// Compares two field lists over the message versions in `range`; fields
/// that exist in none of them are left out on both sides. Differences name
/// the versions as written.
fn compare_fields(
    path: &str,
    ours: &[Field],
    theirs: &[Value],
    range: Versions,
    older: bool,
    errs: &mut Vec<String>,
) {
    let ours: Vec<&Field> = ours
        .iter()
        .filter(|f| !within(f.versions, range).is_empty())
        .collect();
    let theirs: Vec<&Value> = theirs
        .iter()
        .filter(|t| !within(versions(t.get("versions")), range).is_empty())
        .collect();
    let our_names: Vec<&str> = ours.iter().map(|f| f.name.as_str()).collect();
    let their_names: Vec<&str> = theirs
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap_or_default();
            RENAMED
                .iter()
                .find(|(p, old, _)| older && *p == path && *old == name)
                .map_or(name, |(_, _, new)| new)
        })
        .collect();
    if our_names != their_names {
        errs.push(format!(
            "{path}: fields {our_names:?}, schema has {their_names:?}"
        ));
        return;
    }
    for (o, t) in ours.into_iter().zip(theirs) {
        let p = format!("{path}.{}", o.name);
        let tty = t["type"].as_str().unwrap_or_default();
        if o.ty.to_string() != tty {
            errs.push(format!("{p}: type {}, schema has {tty}", o.ty));
        }
        let tv = versions(t.get("versions"));
        same_versions(&p, "versions", o.versions, tv, range, errs);
        let live = within(tv, range);
        let tn = versions(t.get("nullableVersions"));
        same_versions(&p, "nullable versions", o.nullable, tn, live, errs);
        let ttagged = versions(t.get("taggedVersions"));
        same_versions(&p, "tagged versions", o.tagged, ttagged, live, errs);
        let ttag = t.get("tag").and_then(Value::as_u64).map(|n| n as u32);
        if o.tag != ttag && !(within(o.tagged, live).is_empty() && within(ttagged, live).is_empty())
        {
            errs.push(format!("{p}: tag {:?}, schema has {ttag:?}", o.tag));
        }
        let tflex = t.get("flexibleVersions").map(|v| versions(Some(v)));
        if o.flexible.map(|f| within(f, live)) != tflex.map(|f| within(f, live)) {
            errs.push(format!(
                "{p}: flexible versions {:?}, schema has {tflex:?}",
                o.flexible
            ));
        }
        let tign = t.get("ignorable").and_then(Value::as_bool).unwrap_or(false);
        if o.ignorable != tign {
            errs.push(format!("{p}: ignorable {}, schema has {tign}", o.ignorable));
        }
        let od = canonical_default(&o.ty, o.default.as_deref());
        let td = canonical_default(&o.ty, json_default(t).as_deref());
        if od != td {
            errs.push(format!("{p}: default {od:?}, schema has {td:?}"));
        }
        let tchildren = t
            .get("fields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        compare_fields(&p, &o.fields, &tchildren, live, older, errs);
    }
}

/// Compares everything about a message but its version range and unstable
/// flag (see [`check_message`]) over the versions in `range`.
/// `older`: `theirs` is from an older reference ([`RENAMED`] applies).
fn compare_message(
    ours: &Message,
    theirs: &Value,
    range: Versions,
    older: bool,
    errs: &mut Vec<String>,
) {
    let n = &ours.name;
    let kind = theirs["type"].as_str().unwrap_or_default();
    if ours.kind.keyword() != kind {
        errs.push(format!(
            "{n}: kind {}, schema has {kind}",
            ours.kind.keyword()
        ));
    }
    let key = theirs
        .get("apiKey")
        .and_then(Value::as_i64)
        .map(|k| k as i16);
    if ours.api_key != key {
        errs.push(format!(
            "{n}: api key {:?}, schema has {key:?}",
            ours.api_key
        ));
    }
    let f = versions(theirs.get("flexibleVersions"));
    same_versions(n, "flexible versions", ours.flexible, f, range, errs);
    let dep = theirs.get("deprecatedVersions").map(|d| versions(Some(d)));
    let dep_in = |d: Option<Versions>| within(d.unwrap_or(Versions::NONE), range);
    if dep_in(ours.deprecated) != dep_in(dep) {
        errs.push(format!(
            "{n}: deprecated {:?}, schema has {dep:?}",
            ours.deprecated
        ));
    }
    compare_fields(
        n,
        &ours.fields,
        theirs["fields"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
        range,
        older,
        errs,
    );
    let tcommons: Vec<Value> = theirs
        .get("commonStructs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !within(versions(c.get("versions")), range).is_empty())
        .collect();
    let ocommons: Vec<_> = ours
        .commons
        .iter()
        .filter(|c| !within(c.versions, range).is_empty())
        .collect();
    let tnames: Vec<&str> = tcommons
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    let onames: Vec<&str> = ocommons.iter().map(|c| c.name.as_str()).collect();
    if onames != tnames {
        errs.push(format!(
            "{n}: common structs {onames:?}, schema has {tnames:?}"
        ));
        return;
    }
    for (o, t) in ocommons.into_iter().zip(&tcommons) {
        let tv = versions(t.get("versions"));
        let p = format!("{n}.{}", o.name);
        same_versions(&p, "versions", o.versions, tv, range, errs);
        compare_fields(
            &p,
            &o.fields,
            t["fields"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            within(tv, range),
            older,
            errs,
        );
    }
}

/// Whether the newest version of `name` is unstable in `r` (responses take
/// the flag of their request).
fn unstable(r: &Reference, name: &str) -> bool {
    let req = format!("{}Request", base_name(name));
    let s = r.schemas.get(&req).or_else(|| r.schemas.get(name));
    s.and_then(|s| s.get("latestVersionUnstable"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Checks one definition against the references that have it (newest first),
/// as the module documentation describes. Versions accepted without a
/// reference that confirms them go to `unverified`.
fn check_message(
    m: &Message,
    refs: &[&Reference],
    errs: &mut Vec<String>,
    unverified: &mut Vec<String>,
) {
    let n = &m.name;
    let chain: Vec<(&Reference, &Value)> = refs
        .iter()
        .filter_map(|r| r.schemas.get(n).map(|s| (*r, s)))
        .collect();
    let Some(&(primary, s)) = chain.first() else {
        if refs.iter().any(|r| r.latest) {
            errs.push(format!("{n} ({}) has no reference schema", m.file));
        } else {
            unverified.push(format!("{n} (all of it)"));
        }
        return;
    };
    let t_unstable = unstable(primary, n);
    let tag = |e: String| format!("[{}] {e}", primary.label);
    let mut found = Vec::new();
    let tv = versions(s.get("validVersions"));
    if primary.latest {
        if m.versions.max != tv.max || m.versions.min > tv.min {
            found.push(format!("{n}: versions {}, schema has {tv}", m.versions));
        }
        if m.unstable != t_unstable && m.kind == Kind::Request {
            found.push(format!(
                "{n}: unstable {}, schema has {t_unstable}",
                m.unstable
            ));
        }
        compare_message(m, s, tv, false, &mut found);
        errs.extend(found.into_iter().map(tag));
        if m.versions.min < tv.min {
            // Versions Kafka removed since: an older reference must have them.
            let old = Versions {
                min: m.versions.min,
                max: tv.min - 1,
            };
            match chain.get(1) {
                Some(&(older, os)) if versions(os.get("validVersions")).min <= old.min => {
                    let mut found = Vec::new();
                    compare_message(m, os, old, true, &mut found);
                    errs.extend(found.into_iter().map(|e| format!("[{}] {e}", older.label)));
                }
                _ => errs.push(tag(format!(
                    "{n}: versions {}, schema has {tv}, and no older reference has v{old}",
                    m.versions
                ))),
            }
        }
        return;
    }
    // Only an older reference: its stable versions must match exactly; ours
    // may go further.
    let stable = if t_unstable && tv.max > tv.min {
        Versions {
            min: tv.min,
            max: tv.max - 1,
        }
    } else if t_unstable {
        Versions::NONE
    } else {
        tv
    };
    if !stable.is_empty() && (m.versions.min != stable.min || m.versions.max < stable.max) {
        found.push(format!("{n}: versions {}, schema has {tv}", m.versions));
    }
    if m.versions.max == tv.max && !t_unstable && m.unstable {
        found.push(format!("{n}: unstable true, schema has false"));
    }
    let beyond = Versions {
        min: stable.max.saturating_add(1).max(m.versions.min),
        max: m.versions.max,
    };
    if !beyond.is_empty() {
        unverified.push(format!("{n} v{beyond}"));
    }
    compare_message(m, s, stable, true, &mut found);
    errs.extend(found.into_iter().map(tag));
}

/// Every difference between our definitions and the references (newest
/// first), and the versions no reference confirmed.
fn check_all(ours: &[Message], refs: &[&Reference]) -> (Vec<String>, Vec<String>) {
    let mut errs = Vec::new();
    let mut unverified = Vec::new();
    let mut defined = BTreeMap::new();
    for m in ours {
        if defined.insert(m.name.clone(), m).is_some() {
            errs.push(format!("{} is defined twice", m.name));
        }
        check_message(m, refs, &mut errs, &mut unverified);
    }
    // What a client needs, by the newest reference's listeners.
    let newest = refs[0];
    let mut required = BTreeSet::new();
    for (name, s) in &newest.schemas {
        let listens = |l: &str| {
            s.get("listeners")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(l)))
        };
        match s["type"].as_str().unwrap_or_default() {
            "request" => {
                let base = base_name(name);
                if listens("broker") && !NOT_FOR_CLIENTS.iter().any(|(api, _)| *api == base) {
                    required.insert(name.clone());
                    required.insert(format!("{base}Response"));
                }
            }
            "header" => {
                required.insert(name.clone());
            }
            "data" if CLIENT_DATA.contains(&name.as_str()) => {
                required.insert(name.clone());
            }
            _ => {}
        }
    }
    for name in &required {
        if !defined.contains_key(name) {
            errs.push(format!(
                "client-facing {name} is not defined in protocol/messages"
            ));
        }
    }
    for name in defined.keys() {
        if !required.contains(name) && (newest.latest || newest.schemas.contains_key(name)) {
            errs.push(format!(
                "{name} is defined but is not client-facing in [{}]",
                newest.label
            ));
        }
    }
    for (api, _) in NOT_FOR_CLIENTS {
        let known = refs
            .iter()
            .any(|r| r.schemas.contains_key(&format!("{api}Request")));
        if !known {
            errs.push(format!(
                "NOT_FOR_CLIENTS names {api}, which no reference has"
            ));
        }
    }
    // Requests and responses pair up.
    for m in ours.iter().filter(|m| m.kind == Kind::Request) {
        let resp = format!("{}Response", base_name(&m.name));
        if !defined.contains_key(&resp) {
            errs.push(format!("{} has no {resp}", m.name));
        }
    }
    (errs, unverified)
}

fn base_name(name: &str) -> &str {
    name.strip_suffix("Request")
        .or_else(|| name.strip_suffix("Response"))
        .unwrap_or(name)
}

#[test]
fn definitions_match_kafka_schemas() {
    let shared = Reference::shared();
    let kafka = Reference::kafka_jar();
    let mut refs: Vec<&Reference> = kafka.iter().collect();
    refs.push(&shared);
    let ours = purekafka_codegen::load_dir(&repo_root().join("protocol/messages"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (errs, unverified) = check_all(&ours, &refs);
    assert!(
        errs.is_empty(),
        "{} difference(s) from Kafka's schemas:\n{}",
        errs.len(),
        errs.join("\n")
    );
    if !unverified.is_empty() {
        eprintln!(
            "not verified by any reference present (install Kafka {KAFKA_VERSION} to check them): {}",
            unverified.join(", ")
        );
    }
}

#[test]
fn kafka_jar_schemas_are_read() {
    let Some(kafka) = Reference::kafka_jar() else {
        return;
    };
    // The jar has every schema Kafka 4.4.0 ships (203 files).
    assert!(kafka.schemas.len() >= 200, "{}", kafka.schemas.len());
    let av = &kafka.schemas["ApiVersionsRequest"];
    assert_eq!(av["apiKey"], 18);
    assert_eq!(versions(av.get("validVersions")).min, 0);
}

#[test]
fn the_check_catches_a_difference() {
    // A definition with one wrong version must be reported.
    let text = "request ApiVersionsRequest key=18 versions=0-4 flexible=3+\n  ClientSoftwareName string 3+\n  ClientSoftwareVersion string 4+\n";
    let ours = purekafka_codegen::dsl::parse("test.kmsg", text).unwrap();
    let shared = Reference::shared();
    let schema = &shared.schemas["ApiVersionsRequest"];
    let mut errs = Vec::new();
    let range = versions(schema.get("validVersions"));
    compare_message(&ours[0], schema, range, false, &mut errs);
    assert!(
        errs.iter()
            .any(|e| e.contains("ClientSoftwareVersion: versions 4+, schema has 3+")),
        "expected a version difference, got {errs:?}"
    );
}

/// A reference of two hand-written schemas for the layering tests.
fn synthetic(label: &str, latest: bool, req: &str) -> Reference {
    let resp = r#"{"apiKey": 99, "type": "response", "name": "FooResponse",
        "validVersions": "0-3", "flexibleVersions": "none", "fields": []}"#;
    let mut r = Reference {
        label: label.into(),
        latest,
        schemas: BTreeMap::new(),
    };
    for text in [req, resp] {
        let v: Value = serde_json::from_str(text).unwrap();
        r.schemas.insert(v["name"].as_str().unwrap().into(), v);
    }
    r
}

#[test]
fn removed_versions_are_checked_against_the_older_reference() {
    // Kafka dropped v0 (and its field A) in the newer reference; we keep v0.
    let newer = synthetic(
        "new",
        true,
        r#"{"apiKey": 99, "type": "request", "name": "FooRequest", "listeners": ["broker"],
            "validVersions": "1-3", "flexibleVersions": "none",
            "fields": [{"name": "B", "type": "int32", "versions": "0+"}]}"#,
    );
    let older = synthetic(
        "old",
        false,
        r#"{"apiKey": 99, "type": "request", "name": "FooRequest", "listeners": ["broker"],
            "validVersions": "0-2", "flexibleVersions": "none",
            "fields": [{"name": "A", "type": "int8", "versions": "0"},
                       {"name": "B", "type": "int32", "versions": "0+"}]}"#,
    );
    let refs = [&newer, &older];
    let check = |text: &str| {
        let text = format!("{text}response FooResponse key=99 versions=0-3 flexible=none\n");
        let ours = purekafka_codegen::dsl::parse("t.kmsg", &text).unwrap();
        let mut errs = Vec::new();
        for m in &ours {
            check_message(m, &refs, &mut errs, &mut Vec::new());
        }
        errs
    };
    let good = "request FooRequest key=99 versions=0-3 flexible=none\n  A int8 0\n  B int32 0+\n";
    assert_eq!(check(good), Vec::<String>::new());
    // Without v0 is as right: A is then dead on both sides.
    let v1 = "request FooRequest key=99 versions=1-3 flexible=none\n  B int32 0+\n";
    assert_eq!(check(v1), Vec::<String>::new());
    // v0 without A is wrong, and so is missing the newest version.
    let no_a = "request FooRequest key=99 versions=0-3 flexible=none\n  B int32 0+\n";
    assert!(
        check(no_a)
            .iter()
            .any(|e| e.starts_with("[old] FooRequest: fields"))
    );
    let old_top =
        "request FooRequest key=99 versions=0-2 flexible=none\n  A int8 0\n  B int32 0+\n";
    assert!(
        check(old_top)
            .iter()
            .any(|e| e.contains("[new] FooRequest: versions 0-2, schema has 1-3"))
    );
}

#[test]
fn jar_reader_reads_stored_and_deflated_entries() {
    use std::io::Write;
    // A zip laid out by hand: one stored entry, one deflated, then the directory.
    let files: [(&str, &[u8], u16); 2] = [
        ("common/message/A.json", b"{\"a\": 1}", 0),
        ("other/B.txt", b"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 8),
    ];
    let mut zip = Vec::new();
    let mut central = Vec::new();
    for (name, data, method) in files {
        let packed = if method == 8 {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        } else {
            data.to_vec()
        };
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let offset = zip.len() as u32;
        let common = |out: &mut Vec<u8>| {
            out.extend(method.to_le_bytes());
            out.extend([0u8; 4]); // time, date
            out.extend(crc.sum().to_le_bytes());
            out.extend((packed.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(0u16.to_le_bytes()); // extra
        };
        zip.extend(0x0403_4b50u32.to_le_bytes());
        zip.extend([20, 0, 0, 0]); // version needed, flags
        common(&mut zip);
        zip.extend(name.as_bytes());
        zip.extend(&packed);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend([20, 0, 20, 0, 0, 0]); // made by, needed, flags
        common(&mut central);
        central.extend([0u8; 6]); // comment len, disk, internal attrs
        central.extend([0u8; 4]); // external attrs
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let cd_offset = zip.len() as u32;
    zip.extend(&central);
    zip.extend(0x0605_4b50u32.to_le_bytes());
    zip.extend([0u8; 4]);
    zip.extend(2u16.to_le_bytes());
    zip.extend(2u16.to_le_bytes());
    zip.extend((central.len() as u32).to_le_bytes());
    zip.extend(cd_offset.to_le_bytes());
    zip.extend(0u16.to_le_bytes());

    let all = jar::entries(&zip, |_| true).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], (files[0].0.to_string(), files[0].1.to_vec()));
    assert_eq!(all[1], (files[1].0.to_string(), files[1].1.to_vec()));
    let some = jar::entries(&zip, |n| n.starts_with("common/")).unwrap();
    assert_eq!(some.len(), 1);
    // A flipped byte in the deflated data is caught (bad inflate or bad CRC).
    let at = zip.len() - central.len() - 22 - 3;
    zip[at] ^= 0x55;
    assert!(jar::entries(&zip, |_| true).is_err());
    assert!(jar::entries(b"not a zip", |_| true).is_err());
}
