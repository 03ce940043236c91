//! Holds our message definitions (`protocol/messages/*.kmsg`) to Kafka's
//! reference schemas (`../shared/kafka-messages/*.json`, beside the checkout):
//! every field's name, type, versions, nullable versions, tag, tagged versions
//! and default must match, and every client-facing API must be defined.
//!
//! Set `PUREKAFKA_SCHEMAS` to check against another directory of schemas.

use purekafka_codegen::dsl::{Field, Kind, Message, Type, Versions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// APIs a client never sends: broker-to-broker, controller, KRaft and
/// share-coordinator internals. Everything else in the schemas is ours to speak.
const INTERNAL_APIS: &[(&str, &str)] = &[
    ("LeaderAndIsr", "controller to broker"),
    ("StopReplica", "controller to broker"),
    ("UpdateMetadata", "controller to broker"),
    ("ControlledShutdown", "broker to controller"),
    (
        "WriteTxnMarkers",
        "transaction coordinator to partition leaders",
    ),
    ("Vote", "KRaft quorum"),
    ("BeginQuorumEpoch", "KRaft quorum"),
    ("EndQuorumEpoch", "KRaft quorum"),
    ("AlterPartition", "broker to controller"),
    ("Envelope", "broker to controller forwarding"),
    ("FetchSnapshot", "KRaft quorum"),
    ("BrokerRegistration", "broker to controller"),
    ("BrokerHeartbeat", "broker to controller"),
    ("AllocateProducerIds", "broker to controller"),
    ("ControllerRegistration", "controller to controller"),
    ("AssignReplicasToDirs", "broker to controller"),
    ("UpdateRaftVoter", "KRaft quorum"),
    ("InitializeShareGroupState", "broker to share coordinator"),
    ("ReadShareGroupState", "broker to share coordinator"),
    ("WriteShareGroupState", "broker to share coordinator"),
    ("DeleteShareGroupState", "broker to share coordinator"),
    ("ReadShareGroupStateSummary", "broker to share coordinator"),
    (
        "ListClientMetricsResources",
        "API key 74's older name; we define it as ListConfigResources",
    ),
];

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

fn compare_fields(path: &str, ours: &[Field], theirs: &[Value], errs: &mut Vec<String>) {
    let names = |fs: &[Field]| fs.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    let their_names: Vec<String> = theirs
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default().to_string())
        .collect();
    if names(ours) != their_names {
        errs.push(format!(
            "{path}: fields {:?}, schema has {:?}",
            names(ours),
            their_names
        ));
        return;
    }
    for (o, t) in ours.iter().zip(theirs) {
        let p = format!("{path}.{}", o.name);
        let tty = t["type"].as_str().unwrap_or_default();
        if o.ty.to_string() != tty {
            errs.push(format!("{p}: type {}, schema has {tty}", o.ty));
        }
        let tv = versions(t.get("versions"));
        if o.versions != tv {
            errs.push(format!("{p}: versions {}, schema has {tv}", o.versions));
        }
        let tn = versions(t.get("nullableVersions"));
        if o.nullable != tn {
            errs.push(format!(
                "{p}: nullable versions {}, schema has {tn}",
                o.nullable
            ));
        }
        let ttag = t.get("tag").and_then(Value::as_u64).map(|n| n as u32);
        if o.tag != ttag {
            errs.push(format!("{p}: tag {:?}, schema has {ttag:?}", o.tag));
        }
        let ttagged = versions(t.get("taggedVersions"));
        if o.tagged != ttagged {
            errs.push(format!(
                "{p}: tagged versions {}, schema has {ttagged}",
                o.tagged
            ));
        }
        let tflex = t.get("flexibleVersions").map(|v| versions(Some(v)));
        if o.flexible != tflex {
            errs.push(format!(
                "{p}: flexible versions {:?}, schema has {tflex:?}",
                o.flexible
            ));
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
        compare_fields(&p, &o.fields, &tchildren, errs);
    }
}

fn compare_message(ours: &Message, theirs: &Value, errs: &mut Vec<String>) {
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
    let v = versions(theirs.get("validVersions"));
    if ours.versions != v {
        errs.push(format!("{n}: versions {}, schema has {v}", ours.versions));
    }
    let f = versions(theirs.get("flexibleVersions"));
    if ours.flexible != f {
        errs.push(format!(
            "{n}: flexible versions {}, schema has {f}",
            ours.flexible
        ));
    }
    let unstable = theirs
        .get("latestVersionUnstable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if ours.unstable != unstable {
        errs.push(format!(
            "{n}: unstable {}, schema has {unstable}",
            ours.unstable
        ));
    }
    let dep = theirs.get("deprecatedVersions").map(|d| versions(Some(d)));
    if ours.deprecated != dep {
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
        errs,
    );
    let tcommons = theirs
        .get("commonStructs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let tnames: Vec<&str> = tcommons
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    let onames: Vec<&str> = ours.commons.iter().map(|c| c.name.as_str()).collect();
    if onames != tnames {
        errs.push(format!(
            "{n}: common structs {onames:?}, schema has {tnames:?}"
        ));
        return;
    }
    for (o, t) in ours.commons.iter().zip(&tcommons) {
        let tv = versions(t.get("versions"));
        if o.versions != tv {
            errs.push(format!(
                "{n}.{}: versions {}, schema has {tv}",
                o.name, o.versions
            ));
        }
        let p = format!("{n}.{}", o.name);
        compare_fields(
            &p,
            &o.fields,
            t["fields"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
            errs,
        );
    }
}

fn base_name(name: &str) -> &str {
    name.strip_suffix("Request")
        .or_else(|| name.strip_suffix("Response"))
        .unwrap_or(name)
}

#[test]
fn definitions_match_kafka_schemas() {
    let dir = schema_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "cannot read Kafka's reference schemas at {} ({e}); they live in shared/kafka-messages beside the checkout, or set PUREKAFKA_SCHEMAS",
            dir.display()
        )
    });
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let v: Value = serde_json::from_str(&strip_comments(&text))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let name = v["name"].as_str().unwrap_or_default().to_string();
        schemas.insert(name, v);
    }
    assert!(
        schemas.len() > 100,
        "only {} schemas found in {}",
        schemas.len(),
        dir.display()
    );

    let ours = purekafka_codegen::load_dir(&repo_root().join("protocol/messages"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut errs = Vec::new();
    let mut defined = BTreeMap::new();
    for m in &ours {
        if defined.insert(m.name.clone(), m).is_some() {
            errs.push(format!("{} is defined twice", m.name));
        }
        match schemas.get(&m.name) {
            Some(s) => compare_message(m, s, &mut errs),
            None => errs.push(format!("{} ({}) has no reference schema", m.name, m.file)),
        }
    }
    let mut required = 0;
    for (name, s) in &schemas {
        let kind = s["type"].as_str().unwrap_or_default();
        let needed = match kind {
            "request" | "response" => !INTERNAL_APIS.iter().any(|(api, _)| *api == base_name(name)),
            "header" => true,
            "data" => CLIENT_DATA.contains(&name.as_str()),
            _ => false,
        };
        if needed {
            required += 1;
            if !defined.contains_key(name) {
                errs.push(format!(
                    "client-facing {name} is not defined in protocol/messages"
                ));
            }
        }
    }
    assert!(
        errs.is_empty(),
        "{} difference(s) from Kafka's schemas:\n{}",
        errs.len(),
        errs.join("\n")
    );
    assert_eq!(ours.len(), required, "definitions vs required schemas");
    // Requests and responses pair up by API key.
    for m in ours.iter().filter(|m| m.kind == Kind::Request) {
        let resp = format!("{}Response", base_name(&m.name));
        assert!(defined.contains_key(&resp), "{} has no {resp}", m.name);
    }
}

#[test]
fn the_check_catches_a_difference() {
    // A definition with one wrong version must be reported.
    let text = "request ApiVersionsRequest key=18 versions=0-4 flexible=3+\n  ClientSoftwareName string 3+\n  ClientSoftwareVersion string 4+\n";
    let ours = purekafka_codegen::dsl::parse("test.kmsg", text).unwrap();
    let schema_text =
        std::fs::read_to_string(schema_dir().join("ApiVersionsRequest.json")).unwrap();
    let schema: Value = serde_json::from_str(&strip_comments(&schema_text)).unwrap();
    let mut errs = Vec::new();
    compare_message(&ours[0], &schema, &mut errs);
    assert!(
        errs.iter()
            .any(|e| e.contains("ClientSoftwareVersion: versions 4+, schema has 3+")),
        "expected a version difference, got {errs:?}"
    );
}
