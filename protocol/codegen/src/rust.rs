//! Generates Rust encoders and decoders from parsed definitions.
//!
//! The output is `include!`d by `purekafka-protocol`, which provides the
//! runtime pieces it calls (`Codec`, `Nullable`, `Decoder`, `write_array`,
//! `read_array`, `TaggedReader` and the other tagged-field helpers, `Gen` for
//! tests) in its `generated_prelude` module.

use crate::dsl::{Field, Kind, Message, Type, Versions};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Converts `ThrottleTimeMs` to `throttle_time_ms` (and `ACLs` to `acls`).
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// The Rust identifier of a field.
pub fn field_ident(name: &str) -> String {
    let s = snake(name);
    if matches!(s.as_str(), "self" | "super" | "crate") {
        format!("{s}_")
    } else if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

fn base_type(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::Int8 => "i8".into(),
        Type::Int16 => "i16".into(),
        Type::Uint16 => "u16".into(),
        Type::Int32 => "i32".into(),
        Type::Uint32 => "u32".into(),
        Type::Int64 => "i64".into(),
        Type::Float64 => "f64".into(),
        Type::String => "String".into(),
        Type::Uuid => "Uuid".into(),
        Type::Bytes | Type::Records => "Bytes".into(),
        Type::Struct(n) => n.clone(),
        Type::Array(t) => format!("Vec<{}>", base_type(t)),
    }
}

fn is_option(f: &Field) -> bool {
    !f.nullable.is_empty()
}

fn rust_type(f: &Field) -> String {
    if is_option(f) {
        format!("Option<{}>", base_type(&f.ty))
    } else {
        base_type(&f.ty)
    }
}

fn int_literal(ty: &Type, v: &str) -> String {
    let t = base_type(ty);
    match (t.as_str(), v) {
        ("i32", "-2147483648") => "i32::MIN".into(),
        ("i32", "2147483647") => "i32::MAX".into(),
        ("i64", "9223372036854775807") => "i64::MAX".into(),
        ("i64", "-9223372036854775808") => "i64::MIN".into(),
        _ => format!("{v}{t}"),
    }
}

fn base_default(ty: &Type, default: Option<&str>) -> String {
    match ty {
        Type::Bool => default.unwrap_or("false").to_string(),
        Type::Int8 | Type::Int16 | Type::Uint16 | Type::Int32 | Type::Uint32 | Type::Int64 => {
            int_literal(ty, default.unwrap_or("0"))
        }
        Type::Float64 => match default {
            Some(d) if d.contains('.') => format!("{d}f64"),
            Some(d) => format!("{d}.0f64"),
            None => "0.0f64".into(),
        },
        Type::String => match default {
            Some(d) if d != "\"\"" && d != "null" => format!("String::from({d:?})"),
            _ => "String::new()".into(),
        },
        Type::Uuid => "Uuid::ZERO".into(),
        Type::Bytes | Type::Records => "Bytes::new()".into(),
        Type::Struct(n) => format!("{n}::default()"),
        Type::Array(_) => "Vec::new()".into(),
    }
}

/// The value a field takes when absent from a version or not sent.
fn default_expr(f: &Field) -> String {
    if is_option(f) {
        if f.default.as_deref() == Some("null") || f.ty == Type::Records {
            "None".into()
        } else {
            format!("Some({})", base_default(&f.ty, f.default.as_deref()))
        }
    } else {
        base_default(&f.ty, f.default.as_deref())
    }
}

/// A boolean Rust expression testing `version` against `r`.
fn in_range(r: Versions) -> String {
    if r.is_empty() {
        "false".into()
    } else if r.max == i16::MAX {
        if r.min <= 0 {
            "true".into()
        } else {
            format!("version >= {}", r.min)
        }
    } else if r.min == r.max {
        format!("version == {}", r.min)
    } else {
        format!("({}..={}).contains(&version)", r.min, r.max)
    }
}

/// Versions in which a field is in the fixed (untagged) part of its struct.
fn mandatory_cond(f: &Field) -> String {
    if f.tag.is_some() {
        let t = in_range(f.tagged);
        let v = in_range(f.versions);
        if f.tagged == f.versions {
            "false".into()
        } else {
            format!("({v}) && !(flex && ({t}))")
        }
    } else {
        in_range(f.versions)
    }
}

fn flex_expr(f: &Field) -> String {
    match f.flexible {
        Some(r) if r.is_empty() => "false".into(),
        Some(r) => format!("(flex && {})", in_range(r)),
        None => "flex".into(),
    }
}

/// Statements writing a non-null value `v` (a reference) of type `ty`.
fn write_value(ty: &Type, v: &str, flex: &str) -> String {
    match ty {
        Type::Array(_) => format!("write_array({v}, buf, version, {flex})?;"),
        _ => format!("Codec::write({v}, buf, version, {flex})?;"),
    }
}

/// Expression reading a non-null value of type `ty` (a `Result`).
fn read_value(ty: &Type, flex: &str, path: &str) -> String {
    match ty {
        Type::Array(_) => format!("read_array(buf, version, {flex}, {path:?})"),
        _ => format!("<{} as Codec>::read(buf, version, {flex})", base_type(ty)),
    }
}

/// Statements writing field `f` of `self` (the untagged encoding).
fn write_field(f: &Field, path: &str) -> String {
    let id = field_ident(&f.name);
    let flex = flex_expr(f);
    if !is_option(f) {
        return write_value(&f.ty, &format!("&self.{id}"), &flex);
    }
    let nullable = in_range(f.nullable);
    let null_write = match f.ty {
        Type::Array(_) => {
            format!("write_nullable_array(self.{id}.as_deref(), buf, version, {flex})?;")
        }
        _ => format!("Nullable::write_option(self.{id}.as_ref(), buf, version, {flex})?;"),
    };
    let strict = format!(
        "match &self.{id} {{ Some(v) => {{ {} }} None => return Err(EncodeError::null_field({path:?}, version)), }}",
        write_value(&f.ty, "v", &flex)
    );
    if nullable == "true" {
        null_write
    } else {
        format!("if {nullable} {{ {null_write} }} else {{ {strict} }}")
    }
}

/// Expression reading field `f` (a `Result` of its Rust type).
fn read_field(f: &Field, path: &str) -> String {
    let flex = flex_expr(f);
    if !is_option(f) {
        return read_value(&f.ty, &flex, path);
    }
    let nullable = in_range(f.nullable);
    let null_read = match f.ty {
        Type::Array(_) => format!("read_nullable_array(buf, version, {flex})"),
        _ => format!(
            "<{} as Nullable>::read_option(buf, version, {flex})",
            base_type(&f.ty)
        ),
    };
    let strict = format!("{}.map(Some)", read_value(&f.ty, &flex, path));
    if nullable == "true" {
        null_read
    } else {
        format!("if {nullable} {{ {null_read} }} else {{ {strict} }}")
    }
}

/// Expression for the fewest bytes field `f` takes when present (its
/// null form when the version allows null: a struct's or uuid's one-byte
/// marker; a null string, bytes or array is as short as an empty one).
fn min_size_expr(f: &Field) -> String {
    let flex = flex_expr(f);
    let value = match &f.ty {
        Type::Array(_) => format!("array_min_size({flex})"),
        ty => format!("<{} as Codec>::min_size(version, {flex})", base_type(ty)),
    };
    let marker = matches!(f.ty, Type::Struct(_) | Type::Uuid);
    if !is_option(f) || !marker {
        return value;
    }
    match in_range(f.nullable).as_str() {
        "true" => "1".into(),
        nullable => format!("if {nullable} {{ 1 }} else {{ {value} }}"),
    }
}

/// Expression generating a random value of the base type (tests only).
fn gen_value(ty: &Type, flex: &str) -> String {
    match ty {
        Type::Struct(n) => format!("<{n} as Arbitrary>::arbitrary(g, version, {flex}, depth + 1)"),
        Type::Array(t) => format!("g.vec(depth, |g| {})", gen_value(t, flex)),
        Type::Records | Type::Bytes => "g.bytes()".into(),
        Type::String => "g.string()".into(),
        Type::Uuid => "g.uuid()".into(),
        Type::Bool => "g.bool()".into(),
        Type::Float64 => "g.f64()".into(),
        _ => format!("g.int::<{}>()", base_type(ty)),
    }
}

struct StructDef<'a> {
    name: String,
    fields: &'a [Field],
    /// Path prefix for error messages.
    path: String,
}

fn collect_structs<'a>(fields: &'a [Field], path: &str, out: &mut Vec<StructDef<'a>>) {
    for f in fields {
        if !f.fields.is_empty() {
            let name = match &f.ty {
                Type::Struct(n) => n.clone(),
                Type::Array(t) => match &**t {
                    Type::Struct(n) => n.clone(),
                    _ => continue,
                },
                _ => continue,
            };
            let p = format!("{path}.{}", f.name);
            out.push(StructDef {
                name,
                fields: &f.fields,
                path: p.clone(),
            });
            collect_structs(&f.fields, &p, out);
        }
    }
}

fn gen_struct(out: &mut String, s: &StructDef<'_>, msg: &Message) {
    let name = &s.name;
    let _ = writeln!(
        out,
        "/// `{}` (in {} versions {}).",
        s.path, msg.name, msg.versions
    );
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\npub struct {name} {{"
    );
    for f in s.fields {
        let mut doc = format!("versions {}", f.versions);
        if !f.nullable.is_empty() {
            let _ = write!(doc, ", nullable {}", f.nullable);
        }
        if let Some(t) = f.tag {
            let _ = write!(doc, ", tag {t} in {}", f.tagged);
        }
        if let Some(d) = &f.default {
            let _ = write!(doc, ", default {d}");
        }
        let _ = writeln!(
            out,
            "    /// `{}` ({doc}).\n    pub {}: {},",
            f.name,
            field_ident(&f.name),
            rust_type(f)
        );
    }
    let _ = writeln!(
        out,
        "    /// Tagged fields this version of purekafka does not know, kept to be written back.\n    pub unknown_tagged_fields: UnknownTaggedFields,\n}}\n"
    );
    // Default
    let _ = writeln!(
        out,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        Self {{"
    );
    for f in s.fields {
        let _ = writeln!(
            out,
            "            {}: {},",
            field_ident(&f.name),
            default_expr(f)
        );
    }
    let _ = writeln!(
        out,
        "            unknown_tagged_fields: UnknownTaggedFields::new(),\n        }}\n    }}\n}}\n"
    );

    let mut tagged: Vec<&Field> = s.fields.iter().filter(|f| f.tag.is_some()).collect();
    tagged.sort_by_key(|f| f.tag);

    // Codec
    let _ = writeln!(out, "impl Codec for {name} {{");
    let _ = writeln!(
        out,
        "    #[allow(unused_variables)]\n    fn write(&self, buf: &mut BytesMut, version: i16, flex: bool) -> Result<(), EncodeError> {{"
    );
    // A value the version cannot carry fails, as Java's generated code
    // does, unless Kafka marks the field ignorable.
    for f in s.fields.iter().filter(|f| !f.ignorable) {
        let present = in_range(f.versions);
        if present == "true" {
            continue;
        }
        let _ = writeln!(
            out,
            "        if !({present}) {{ let absent: {} = {}; if self.{} != absent {{ return Err(EncodeError::unsupported_field({:?}, {:?}, version)); }} }}",
            rust_type(f),
            default_expr(f),
            field_ident(&f.name),
            msg.name,
            format!("{}.{}", s.path, f.name)
        );
    }
    for f in s.fields {
        let cond = mandatory_cond(f);
        if cond == "false" {
            continue;
        }
        let path = format!("{}.{}", s.path, f.name);
        let body = write_field(f, &path);
        if cond == "true" {
            let _ = writeln!(out, "        {body}");
        } else {
            let _ = writeln!(out, "        if {cond} {{ {body} }}");
        }
    }
    let _ = writeln!(out, "        if flex {{");
    if tagged.is_empty() {
        let _ = writeln!(
            out,
            "            write_unknown_tagged(buf, &self.unknown_tagged_fields, 0)?;"
        );
    } else {
        for f in &tagged {
            let id = field_ident(&f.name);
            let _ = writeln!(
                out,
                "            let send_{id} = ({}) && self.{id} != {};",
                in_range(f.tagged),
                default_expr(f)
            );
        }
        // Raw copies of known tags (kept when a peer sent a default value
        // explicitly) give way to the typed value when that is sent.
        let sup: Vec<String> = tagged
            .iter()
            .map(|f| {
                format!(
                    "if send_{} {{ {} }} else {{ u32::MAX }}",
                    field_ident(&f.name),
                    f.tag.unwrap_or_default()
                )
            })
            .collect();
        let _ = writeln!(out, "            let suppressed = [{}];", sup.join(", "));
        let _ = writeln!(
            out,
            "            let mut count = unknown_count(&self.unknown_tagged_fields, &suppressed);"
        );
        for f in &tagged {
            let _ = writeln!(
                out,
                "            count += usize::from(send_{});",
                field_ident(&f.name)
            );
        }
        let _ = writeln!(
            out,
            "            put_uvarint(buf, u32::try_from(count).map_err(|_| EncodeError::too_many(\"tagged fields\"))?);"
        );
        let _ = writeln!(out, "            let mut next_unknown = 0;");
        for f in &tagged {
            let id = field_ident(&f.name);
            let tag = f.tag.unwrap_or_default();
            let path = format!("{}.{}", s.path, f.name);
            let _ = writeln!(
                out,
                "            if send_{id} {{\n                next_unknown = write_unknown_below(buf, &self.unknown_tagged_fields, next_unknown, {tag}, &suppressed);\n                put_tagged(buf, {tag}, |buf| {{ {} Ok(()) }})?;\n            }}",
                write_field(f, &path)
            );
        }
        let _ = writeln!(
            out,
            "            write_unknown_below(buf, &self.unknown_tagged_fields, next_unknown, u32::MAX, &suppressed);"
        );
    }
    let _ = writeln!(out, "        }}\n        Ok(())\n    }}\n");

    // The fewest bytes the struct takes at a version: what an array of it
    // is checked against before anything is reserved.
    let _ = writeln!(
        out,
        "    #[allow(unused_variables)]\n    fn min_size(version: i16, flex: bool) -> usize {{\n        let mut n = 0usize;"
    );
    for f in s.fields {
        let cond = mandatory_cond(f);
        if cond == "false" {
            continue;
        }
        let min = min_size_expr(f);
        if cond == "true" {
            let _ = writeln!(out, "        n += {min};");
        } else {
            let _ = writeln!(out, "        if {cond} {{ n += {min}; }}");
        }
    }
    let _ = writeln!(out, "        if flex {{ n += 1; }}\n        n\n    }}\n");

    let _ = writeln!(
        out,
        "    #[allow(unused_variables)]\n    fn read(buf: &mut Decoder, version: i16, flex: bool) -> Result<Self, DecodeError> {{"
    );
    for f in s.fields {
        let id = field_ident(&f.name);
        let cond = mandatory_cond(f);
        let path = format!("{}.{}", s.path, f.name);
        let read = format!(
            "{}.map_err(|e| e.field({:?}))?",
            read_field(f, &path),
            f.name
        );
        let m = if f.tag.is_some() { "mut " } else { "" };
        if cond == "false" {
            let _ = writeln!(
                out,
                "        let {m}{id}: {} = {};",
                rust_type(f),
                default_expr(f)
            );
        } else if cond == "true" {
            let _ = writeln!(out, "        let {m}{id}: {} = {read};", rust_type(f));
        } else {
            let _ = writeln!(
                out,
                "        let {m}{id}: {} = if {cond} {{ {read} }} else {{ {} }};",
                rust_type(f),
                default_expr(f)
            );
        }
    }
    // Tagged fields this code does not consume stay raw bytes of the input.
    let _ = writeln!(
        out,
        "        let mut unknown_tagged_fields = UnknownTaggedFields::new();"
    );
    let _ = writeln!(
        out,
        "        if flex {{\n          let count = read_tag_count(buf)?;\n          if count > 0 {{\n            let mut tags = TaggedReader::new(buf, count);\n            while let Some((tag, data)) = tags.next(buf)? {{"
    );
    if tagged.is_empty() {
        let _ = writeln!(out, "                tags.keep(buf)?;");
    } else {
        let _ = writeln!(out, "                match tag {{");
        for f in &tagged {
            let id = field_ident(&f.name);
            let path = format!("{}.{}", s.path, f.name);
            let _ = writeln!(
                out,
                "                    {} if {} => {{ {id} = buf.within(data, |buf| {}).map_err(|e| e.field({:?}))?; if {id} == {} {{ tags.keep(buf)?; }} }}",
                f.tag.unwrap_or_default(),
                in_range(f.tagged),
                read_field(f, &path),
                f.name,
                default_expr(f)
            );
        }
        let _ = writeln!(
            out,
            "                    _ => tags.keep(buf)?,\n                }}"
        );
    }
    let _ = writeln!(
        out,
        "            }}\n            unknown_tagged_fields = tags.finish(buf)?;\n          }}\n        }}"
    );
    let _ = write!(out, "        Ok(Self {{ ");
    for f in s.fields {
        let _ = write!(out, "{}, ", field_ident(&f.name));
    }
    let _ = writeln!(out, "unknown_tagged_fields }})\n    }}\n}}\n");

    // Arbitrary values for round-trip tests.
    let _ = writeln!(
        out,
        "impl Nullable for {name} {{}}\n\n#[cfg(test)]\nimpl Arbitrary for {name} {{\n    #[allow(unused_variables)]\n    fn arbitrary(g: &mut Gen, version: i16, flex: bool, depth: u32) -> Self {{\n        Self {{"
    );
    for f in s.fields {
        let id = field_ident(&f.name);
        let present = {
            let m = mandatory_cond(f);
            if f.tag.is_some() {
                format!("({m}) || (flex && ({}))", in_range(f.tagged))
            } else {
                m
            }
        };
        let flex = flex_expr(f);
        let val = gen_value(&f.ty, &flex);
        let val = if is_option(f) {
            format!(
                "if {} && g.bool() {{ None }} else {{ Some({val}) }}",
                in_range(f.nullable)
            )
        } else {
            val
        };
        let _ = writeln!(
            out,
            "            {id}: if {present} {{ {val} }} else {{ {} }},",
            default_expr(f)
        );
    }
    let _ = writeln!(
        out,
        "            unknown_tagged_fields: if flex {{ g.unknown_tagged() }} else {{ UnknownTaggedFields::new() }},\n        }}\n    }}\n}}\n"
    );
}

/// The bounds `VersionRange::new` takes for `r`: `(1, 0)` when it is empty.
fn range_bounds(r: Versions) -> (i16, i16) {
    if r.is_empty() { (1, 0) } else { (r.min, r.max) }
}

/// The module name of a message.
pub fn module_name(msg: &Message) -> String {
    snake(&msg.name)
}

fn gen_message(out: &mut String, msg: &Message) {
    let module = module_name(msg);
    let _ = writeln!(
        out,
        "/// `{}`: {} {}, versions {}, flexible {} (defined in `protocol/messages/{}`).",
        msg.name,
        msg.kind.keyword(),
        msg.api_key
            .map(|k| format!("API key {k}"))
            .unwrap_or_default(),
        msg.versions,
        msg.flexible,
        msg.file
    );
    let _ = writeln!(
        out,
        "pub mod {module} {{\n#![allow(clippy::all)]\nuse crate::generated_prelude::*;\n"
    );
    let mut structs = vec![StructDef {
        name: msg.name.clone(),
        fields: &msg.fields,
        path: msg.name.clone(),
    }];
    collect_structs(&msg.fields, &msg.name, &mut structs);
    for c in &msg.commons {
        let p = format!("{}.{}", msg.name, c.name);
        structs.push(StructDef {
            name: c.name.clone(),
            fields: &c.fields,
            path: p.clone(),
        });
        collect_structs(&c.fields, &p, &mut structs);
    }
    for s in &structs {
        gen_struct(out, s, msg);
    }
    // Every struct's min_size checked against encodings of random values
    // (an overestimate would reject valid arrays).
    emit_block(
        out,
        "/// Every struct of this message with its min_size check (tests only).\n#[cfg(test)]\npub(crate) fn min_size_checks() -> Vec<(&'static str, fn(&mut Gen, i16, bool) -> Result<(), String>)> {\n    vec![",
        structs
            .iter()
            .map(|s| format!("        ({:?}, check_min_size::<{}>),", s.path, s.name)),
        "    ]\n}\n",
    );
    let (fmin, fmax) = range_bounds(msg.flexible);
    let _ = writeln!(
        out,
        "impl Message for {name} {{\n    const NAME: &'static str = {name:?};\n    const VERSIONS: VersionRange = VersionRange::new({}, {});\n    const FLEXIBLE: VersionRange = VersionRange::new({fmin}, {fmax});\n}}\n",
        msg.versions.min,
        msg.versions.max,
        name = msg.name
    );
    if let Some(key) = msg.api_key {
        let api = api_variant(msg);
        match msg.kind {
            Kind::Request => {
                let resp = format!("{}Response", api);
                let _ = writeln!(
                    out,
                    "impl Request for {name} {{\n    const KEY: ApiKey = ApiKey::{api};\n    type Response = super::{}::{resp};\n}}\n",
                    snake(&resp),
                    name = msg.name
                );
            }
            Kind::Response => {
                let _ = writeln!(
                    out,
                    "impl Response for {name} {{\n    const KEY: ApiKey = ApiKey::{api};\n}}\n",
                    name = msg.name
                );
            }
            _ => {}
        }
        let _ = key;
    }
    let _ = writeln!(out, "}}\npub use {module}::{};\n", msg.name);
}

fn api_variant(msg: &Message) -> String {
    msg.name
        .trim_end_matches("Request")
        .trim_end_matches("Response")
        .to_string()
}

/// Generates the whole module for `messages`.
pub fn generate(messages: &[Message]) -> String {
    let mut out = String::from(
        "// @generated by purekafka-codegen from protocol/messages/*.kmsg. Do not edit.\n\nuse crate::generated_prelude::*;\n\n",
    );
    for m in messages {
        gen_message(&mut out, m);
    }
    // API keys.
    let mut apis: BTreeMap<i16, (&Message, Option<&Message>)> = BTreeMap::new();
    for m in messages.iter().filter(|m| m.kind == Kind::Request) {
        if let Some(k) = m.api_key {
            apis.insert(k, (m, None));
        }
    }
    for m in messages.iter().filter(|m| m.kind == Kind::Response) {
        if let Some(e) = m.api_key.and_then(|k| apis.get_mut(&k)) {
            e.1 = Some(m);
        }
    }
    let apis: Vec<(i16, &Message, Option<&Message>)> = apis
        .into_iter()
        .map(|(k, (req, resp))| (k, req, resp))
        .collect();

    emit_block(
        &mut out,
        "/// Every API purekafka speaks, by its Kafka API key.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[non_exhaustive]\npub enum ApiKey {",
        apis.iter()
            .map(|(k, m, _)| format!("    /// API key {k}.\n    {} = {k},", api_variant(m))),
        "}\n\nimpl ApiKey {",
    );
    emit_block(
        &mut out,
        "    /// Every API key, in key order.\n    pub const ALL: &'static [ApiKey] = &[",
        apis.iter()
            .map(|(_, m, _)| format!("        ApiKey::{},", api_variant(m))),
        "    ];\n",
    );
    // (doc, signature, match on, arm per API, last arm)
    let methods: [(&str, &str, &str, ApiArm<'_>, Option<&str>); 5] = [
        (
            "The API for a key number, if purekafka knows it.",
            "pub const fn from_i16(key: i16) -> Option<ApiKey>",
            "key",
            &|k, m| format!("{k} => Some(ApiKey::{}),", api_variant(m)),
            Some("_ => None,"),
        ),
        (
            "The API's name as Kafka spells it (`Produce`, `Fetch`, ...).",
            "pub const fn name(self) -> &'static str",
            "self",
            &|_, m| format!("ApiKey::{v} => {v:?},", v = api_variant(m)),
            None,
        ),
        (
            "Versions of this API purekafka can encode and decode.",
            "pub const fn versions(self) -> VersionRange",
            "self",
            &|_, m| {
                format!(
                    "ApiKey::{} => VersionRange::new({}, {}),",
                    api_variant(m),
                    m.versions.min,
                    m.versions.max
                )
            },
            None,
        ),
        (
            "Versions that use the flexible encoding (compact types, tagged fields).",
            "pub const fn flexible_versions(self) -> VersionRange",
            "self",
            &|_, m| {
                let (a, b) = range_bounds(m.flexible);
                format!("ApiKey::{} => VersionRange::new({a}, {b}),", api_variant(m))
            },
            None,
        ),
        (
            "Whether the newest version is still unstable (not offered to brokers by default).",
            "pub const fn latest_version_unstable(self) -> bool",
            "self",
            &|_, m| format!("ApiKey::{} => {},", api_variant(m), m.unstable),
            None,
        ),
    ];
    for (i, (doc, sig, scrutinee, arm, fallback)) in methods.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        emit_match_fn(
            &mut out,
            doc,
            sig,
            scrutinee,
            apis.iter()
                .map(|(k, m, _)| arm(*k, m))
                .chain(fallback.map(str::to_owned)),
        );
    }
    let _ = writeln!(out, "}}\n");

    // Any request / any response.
    for kind in ["Request", "Response"] {
        let members: Vec<&Message> = apis
            .iter()
            .filter_map(|(_, req, resp)| if kind == "Request" { Some(*req) } else { *resp })
            .collect();
        emit_block(
            &mut out,
            &format!(
                "/// A {kind} of any API, for code that handles frames generically.\n#[derive(Debug, Clone, PartialEq)]\n#[non_exhaustive]\npub enum Any{kind} {{"
            ),
            members
                .iter()
                .map(|m| format!("    /// `{}`.\n    {}({}),", m.name, api_variant(m), m.name)),
            &format!("}}\n\nimpl Any{kind} {{"),
        );
        emit_match_fn(
            &mut out,
            "Decodes the body of `api` at `version`.",
            "pub fn decode(api: ApiKey, version: i16, buf: &mut Bytes) -> Result<Self, DecodeError>",
            "api",
            members
                .iter()
                .map(|m| {
                    format!(
                        "ApiKey::{v} => Ok(Any{kind}::{v}(<{} as Message>::decode(buf, version)?)),",
                        m.name,
                        v = api_variant(m)
                    )
                })
                .chain([
                    "#[allow(unreachable_patterns)]".to_owned(),
                    "_ => Err(DecodeError::new(DecodeErrorKind::UnknownApi(api as i16))),".to_owned(),
                ]),
        );
        out.push('\n');
        emit_match_fn(
            &mut out,
            "Decodes the body of `api` at `version`, charging what it allocates to `budget`.",
            "pub fn decode_with(api: ApiKey, version: i16, buf: &mut Bytes, budget: &mut DecodeBudget) -> Result<Self, DecodeError>",
            "api",
            members
                .iter()
                .map(|m| {
                    format!(
                        "ApiKey::{v} => Ok(Any{kind}::{v}(<{} as Message>::decode_with(buf, version, budget)?)),",
                        m.name,
                        v = api_variant(m)
                    )
                })
                .chain([
                    "#[allow(unreachable_patterns)]".to_owned(),
                    "_ => Err(DecodeError::new(DecodeErrorKind::UnknownApi(api as i16))),".to_owned(),
                ]),
        );
        out.push('\n');
        emit_match_fn(
            &mut out,
            "Encodes the body at `version`.",
            "pub fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError>",
            "self",
            members.iter().map(|m| {
                format!(
                    "Any{kind}::{}(m) => m.encode(buf, version),",
                    api_variant(m)
                )
            }),
        );
        out.push('\n');
        emit_match_fn(
            &mut out,
            "The API this message belongs to.",
            "pub fn api_key(&self) -> ApiKey",
            "self",
            members
                .iter()
                .map(|m| format!("Any{kind}::{v}(_) => ApiKey::{v},", v = api_variant(m))),
        );
        let _ = writeln!(out, "}}\n");
    }

    // Tables for the property tests: (doc, signature, entry per message).
    let tables: [(&str, &str, TableEntry); 3] = [
        (
            "Every generated message with a function that round-trips a random value at a version.",
            "roundtrip_table() -> Vec<(&'static str, VersionRange, fn(&mut Gen, i16) -> Result<(), String>)>",
            |n| format!("<{n} as Message>::VERSIONS, roundtrip_one::<{n}>"),
        ),
        (
            "Every generated message's decoder, for the arbitrary-bytes property test.",
            "decoder_table() -> Vec<(&'static str, VersionRange, fn(&mut Bytes, i16) -> bool)>",
            |n| {
                format!("<{n} as Message>::VERSIONS, |b, v| <{n} as Message>::decode(b, v).is_ok()")
            },
        ),
        (
            "Every generated message's structs, with their min_size checks, by message versions.",
            "min_size_table() -> Vec<(&'static str, VersionRange, VersionRange, fn() -> Vec<(&'static str, fn(&mut Gen, i16, bool) -> Result<(), String>)>)>",
            |n| {
                format!(
                    "<{n} as Message>::VERSIONS, <{n} as Message>::FLEXIBLE, {}::min_size_checks",
                    snake(n)
                )
            },
        ),
    ];
    for (doc, sig, entry) in tables {
        emit_block(
            &mut out,
            &format!("/// {doc}\n#[cfg(test)]\npub(crate) fn {sig} {{\n    vec!["),
            messages
                .iter()
                .map(|m| format!("        ({:?}, {}),", m.name, entry(&m.name))),
            "    ]\n}\n",
        );
    }
    out
}

/// The entry of a generated test table after the message's name, from its type name.
type TableEntry = fn(&str) -> String;

/// One arm of a generated `ApiKey` method, from the API's key and request.
type ApiArm<'a> = &'a dyn Fn(i16, &Message) -> String;

/// Writes `open`, each of `lines`, then `close`, each on its own line: every
/// generated list (enum variants, arrays, tables, match arms) has this shape.
fn emit_block(out: &mut String, open: &str, lines: impl IntoIterator<Item = String>, close: &str) {
    let _ = writeln!(out, "{open}");
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "{close}");
}

/// Writes a method of a generated impl whose body is one `match` over
/// `scrutinee`, with `arms` (one per line) and a one-line doc comment.
fn emit_match_fn(
    out: &mut String,
    doc: &str,
    sig: &str,
    scrutinee: &str,
    arms: impl IntoIterator<Item = String>,
) {
    emit_block(
        out,
        &format!("    /// {doc}\n    {sig} {{\n        match {scrutinee} {{"),
        arms.into_iter().map(|arm| format!("            {arm}")),
        "        }\n    }",
    );
}
