//! The message definition language (`.kmsg` files).
//!
//! One file per API holds its request and response. A definition is a header
//! line at column 0 followed by its fields, one per line, nested by two spaces:
//!
//! ```text
//! request FetchRequest key=1 versions=4-18 flexible=12+
//!   ClusterId string 12+ null=12+ tag=0 default=null
//!   Topics []FetchTopic 0+
//!     Topic string 0-12
//!     Partitions []int32 7+
//! common LeaderIdAndEpoch 12+
//!   LeaderId int32 12+ default=-1
//! ```
//!
//! Header keywords: `request`, `response`, `header`, `data`; attributes
//! `key=N`, `versions=A-B`, `flexible=N+|none`, `unstable` (the newest version
//! is not final), `deprecated=A-B`. A `common NAME VERSIONS` block declares a
//! struct shared by several fields of the definition above it.
//!
//! Field line: `Name Type Versions [null=V] [tag=N] [tagged=V] [flex=V] [default=X] [ignorable]`.
//! `ignorable` (Kafka's `"ignorable": true`) lets an encoder drop a value set
//! at a version without the field; without it that is an encoding error.
//! Types: `bool int8 int16 uint16 int32 uint32 int64 float64 string uuid bytes
//! records`, a struct name, or `[]` followed by either. A struct or array of
//! structs declared inline has its fields on the following, deeper lines.
//! Defaults are only written where they differ from the type's zero value.

use std::fmt;

/// A version range such as `3+`, `0-12` or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    /// Lowest version, inclusive.
    pub min: i16,
    /// Highest version, inclusive; `i16::MAX` for open ranges.
    pub max: i16,
}

impl Versions {
    /// The empty range (`none`).
    pub const NONE: Versions = Versions { min: 1, max: 0 };

    /// Parses `N+`, `A-B`, `N` or `none`.
    pub fn parse(s: &str) -> Result<Versions, String> {
        if s == "none" {
            return Ok(Versions::NONE);
        }
        let num = |t: &str| {
            t.parse::<i16>()
                .map_err(|_| format!("bad version number `{t}` in `{s}`"))
        };
        if let Some(min) = s.strip_suffix('+') {
            return Ok(Versions {
                min: num(min)?,
                max: i16::MAX,
            });
        }
        if let Some((a, b)) = s.split_once('-') {
            return Ok(Versions {
                min: num(a)?,
                max: num(b)?,
            });
        }
        let v = num(s)?;
        Ok(Versions { min: v, max: v })
    }

    /// Whether the range holds no version.
    pub fn is_empty(&self) -> bool {
        self.min > self.max
    }

    /// Whether `v` is in the range.
    pub fn contains(&self, v: i16) -> bool {
        v >= self.min && v <= self.max
    }

    /// The part of `self` inside `outer`.
    pub fn intersect(&self, outer: Versions) -> Versions {
        let r = Versions {
            min: self.min.max(outer.min),
            max: self.max.min(outer.max),
        };
        if r.is_empty() { Versions::NONE } else { r }
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            write!(f, "none")
        } else if self.max == i16::MAX {
            write!(f, "{}+", self.min)
        } else if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// A field type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Float64,
    String,
    Uuid,
    Bytes,
    Records,
    /// A struct, by name.
    Struct(std::string::String),
    /// An array of the inner type.
    Array(Box<Type>),
}

impl Type {
    /// Parses a type name as written in definitions.
    pub fn parse(s: &str) -> Result<Type, String> {
        if let Some(inner) = s.strip_prefix("[]") {
            let inner = Type::parse(inner)?;
            if matches!(inner, Type::Array(_)) {
                return Err(format!("nested arrays are not supported: `{s}`"));
            }
            return Ok(Type::Array(Box::new(inner)));
        }
        Ok(match s {
            "bool" => Type::Bool,
            "int8" => Type::Int8,
            "int16" => Type::Int16,
            "uint16" => Type::Uint16,
            "int32" => Type::Int32,
            "uint32" => Type::Uint32,
            "int64" => Type::Int64,
            "float64" => Type::Float64,
            "string" => Type::String,
            "uuid" => Type::Uuid,
            "bytes" => Type::Bytes,
            "records" => Type::Records,
            _ if s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && s.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                Type::Struct(s.to_string())
            }
            _ => return Err(format!("unknown type `{s}`")),
        })
    }

    /// Whether values of this type can be null on the wire (given nullable versions).
    pub fn can_be_nullable(&self) -> bool {
        matches!(
            self,
            Type::String
                | Type::Bytes
                | Type::Records
                | Type::Uuid
                | Type::Struct(_)
                | Type::Array(_)
        )
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => write!(f, "bool"),
            Type::Int8 => write!(f, "int8"),
            Type::Int16 => write!(f, "int16"),
            Type::Uint16 => write!(f, "uint16"),
            Type::Int32 => write!(f, "int32"),
            Type::Uint32 => write!(f, "uint32"),
            Type::Int64 => write!(f, "int64"),
            Type::Float64 => write!(f, "float64"),
            Type::String => write!(f, "string"),
            Type::Uuid => write!(f, "uuid"),
            Type::Bytes => write!(f, "bytes"),
            Type::Records => write!(f, "records"),
            Type::Struct(n) => write!(f, "{n}"),
            Type::Array(t) => write!(f, "[]{t}"),
        }
    }
}

/// One field of a message or struct.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    pub versions: Versions,
    /// Versions in which the value may be null (empty when never).
    pub nullable: Versions,
    /// Tag number for a tagged field.
    pub tag: Option<u32>,
    /// Versions in which the field is sent tagged.
    pub tagged: Versions,
    /// Field-level override of the message's flexible versions.
    pub flexible: Option<Versions>,
    /// Default value as written (`-1`, `null`, `true`, `""`), if not the zero value.
    pub default: Option<String>,
    /// Kafka's `"ignorable": true`: an encoder may drop a non-default value
    /// at a version without the field; otherwise encoding fails.
    pub ignorable: bool,
    /// Fields of an inline struct (for `Struct` or `[]Struct` types).
    pub fields: Vec<Field>,
    /// Line in the definition file, for error messages.
    pub line: usize,
}

/// What kind of definition a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
    Header,
    Data,
}

impl Kind {
    /// The keyword used in definition files.
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Response => "response",
            Kind::Header => "header",
            Kind::Data => "data",
        }
    }
}

/// A struct shared by several fields of one message.
#[derive(Clone, Debug, PartialEq)]
pub struct Common {
    pub name: String,
    pub versions: Versions,
    pub fields: Vec<Field>,
}

/// One message definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub name: String,
    pub api_key: Option<i16>,
    pub versions: Versions,
    pub flexible: Versions,
    pub unstable: bool,
    pub deprecated: Option<Versions>,
    pub fields: Vec<Field>,
    pub commons: Vec<Common>,
    /// Definition file, for error messages.
    pub file: String,
}

/// Parses every definition in `text`; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Message>, String> {
    let err = |line: usize, msg: String| format!("{file}:{line}: {msg}");
    let mut messages: Vec<Message> = Vec::new();
    // Stack of open field lists: (indent depth, fields).
    let mut lines = text.lines().enumerate().peekable();
    while let Some((idx, raw)) = lines.next() {
        let line_no = idx + 1;
        let trimmed = raw.trim_end();
        if trimmed.trim_start().is_empty() || trimmed.trim_start().starts_with('#') {
            continue;
        }
        if raw.starts_with(' ') {
            return Err(err(line_no, "field line outside a definition".into()));
        }
        let mut words = trimmed.split_whitespace();
        let keyword = words.next().unwrap_or_default();
        let fields = parse_fields(&mut lines, 1, file)?;
        if keyword == "common" {
            let name = words
                .next()
                .ok_or_else(|| err(line_no, "common needs a name".into()))?;
            let versions = Versions::parse(
                words
                    .next()
                    .ok_or_else(|| err(line_no, "common needs versions".into()))?,
            )
            .map_err(|e| err(line_no, e))?;
            let msg = messages
                .last_mut()
                .ok_or_else(|| err(line_no, "common before any message".into()))?;
            msg.commons.push(Common {
                name: name.to_string(),
                versions,
                fields,
            });
            continue;
        }
        let kind = match keyword {
            "request" => Kind::Request,
            "response" => Kind::Response,
            "header" => Kind::Header,
            "data" => Kind::Data,
            other => {
                return Err(err(
                    line_no,
                    format!("unknown definition keyword `{other}`"),
                ));
            }
        };
        let name = words
            .next()
            .ok_or_else(|| err(line_no, "definition needs a name".into()))?
            .to_string();
        let mut msg = Message {
            kind,
            name,
            api_key: None,
            versions: Versions::NONE,
            flexible: Versions::NONE,
            unstable: false,
            deprecated: None,
            fields,
            commons: Vec::new(),
            file: file.to_string(),
        };
        let mut have_versions = false;
        for w in words {
            let (k, v) = w.split_once('=').unwrap_or((w, ""));
            match k {
                "key" => {
                    msg.api_key = Some(
                        v.parse()
                            .map_err(|_| err(line_no, format!("bad api key `{v}`")))?,
                    )
                }
                "versions" => {
                    msg.versions = Versions::parse(v).map_err(|e| err(line_no, e))?;
                    have_versions = true;
                }
                "flexible" => msg.flexible = Versions::parse(v).map_err(|e| err(line_no, e))?,
                "unstable" => msg.unstable = true,
                "deprecated" => {
                    msg.deprecated = Some(Versions::parse(v).map_err(|e| err(line_no, e))?)
                }
                _ => return Err(err(line_no, format!("unknown attribute `{w}`"))),
            }
        }
        if !have_versions {
            return Err(err(line_no, "definition needs versions=".into()));
        }
        messages.push(msg);
    }
    Ok(messages)
}

fn parse_fields<'a, I>(
    lines: &mut std::iter::Peekable<I>,
    depth: usize,
    file: &str,
) -> Result<Vec<Field>, String>
where
    I: Iterator<Item = (usize, &'a str)>,
{
    let mut out = Vec::new();
    loop {
        // Skip blank and comment lines.
        while let Some((_, l)) = lines.peek() {
            if l.trim().is_empty() || l.trim_start().starts_with('#') {
                lines.next();
            } else {
                break;
            }
        }
        let Some(&(idx, raw)) = lines.peek() else {
            break;
        };
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        if indent < depth * 2 {
            break;
        }
        let line_no = idx + 1;
        if indent != depth * 2 {
            return Err(format!(
                "{file}:{line_no}: expected indentation of {} spaces, found {indent}",
                depth * 2
            ));
        }
        lines.next();
        let mut field =
            parse_field(raw.trim(), line_no).map_err(|e| format!("{file}:{line_no}: {e}"))?;
        field.fields = parse_fields(lines, depth + 1, file)?;
        out.push(field);
    }
    Ok(out)
}

fn parse_field(line: &str, line_no: usize) -> Result<Field, String> {
    let mut words = line.split_whitespace();
    let name = words.next().ok_or("empty field")?.to_string();
    let ty = Type::parse(words.next().ok_or("field needs a type")?)?;
    let versions = Versions::parse(words.next().ok_or("field needs versions")?)?;
    let mut f = Field {
        name,
        ty,
        versions,
        nullable: Versions::NONE,
        tag: None,
        tagged: Versions::NONE,
        flexible: None,
        default: None,
        ignorable: false,
        fields: Vec::new(),
        line: line_no,
    };
    let mut tagged_given = false;
    for w in words {
        if w == "ignorable" {
            f.ignorable = true;
            continue;
        }
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, found `{w}`"))?;
        match k {
            "null" => f.nullable = Versions::parse(v)?,
            "tag" => f.tag = Some(v.parse().map_err(|_| format!("bad tag `{v}`"))?),
            "tagged" => {
                f.tagged = Versions::parse(v)?;
                tagged_given = true;
            }
            "flex" => f.flexible = Some(Versions::parse(v)?),
            "default" => f.default = Some(v.to_string()),
            _ => return Err(format!("unknown field attribute `{k}`")),
        }
    }
    if f.tag.is_some() && !tagged_given {
        f.tagged = f.versions;
    }
    if f.tag.is_none() && tagged_given {
        return Err("tagged= without tag=".into());
    }
    if !f.nullable.is_empty() && !f.ty.can_be_nullable() {
        return Err(format!("type {} cannot be nullable", f.ty));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_fields_and_attributes() {
        let text = "request FooRequest key=99 versions=1-3 flexible=2+ unstable\n  A int32 0+ default=-1\n  B []Bar 1+ null=2+\n    C string 0+ tag=0 ignorable\n\ncommon Baz 0+\n  D uuid 0+\n";
        let m = parse("foo.kmsg", text).unwrap();
        assert_eq!(m.len(), 1);
        let m = &m[0];
        assert_eq!(m.api_key, Some(99));
        assert!(m.unstable);
        assert_eq!(m.versions, Versions { min: 1, max: 3 });
        assert_eq!(
            m.fields[1].ty,
            Type::Array(Box::new(Type::Struct("Bar".into())))
        );
        assert_eq!(
            m.fields[1].nullable,
            Versions {
                min: 2,
                max: i16::MAX
            }
        );
        assert_eq!(m.fields[1].fields[0].tag, Some(0));
        assert!(m.fields[1].fields[0].ignorable);
        assert!(!m.fields[0].ignorable);
        assert_eq!(
            m.fields[1].fields[0].tagged,
            Versions {
                min: 0,
                max: i16::MAX
            }
        );
        assert_eq!(m.commons[0].fields[0].ty, Type::Uuid);
    }

    #[test]
    fn rejects_malformed_definitions() {
        for (text, want) in [
            ("request X versions=0+\n   A int32 0+\n", "indentation"),
            ("request X versions=0+\n  A int33 0+\n", "unknown type"),
            (
                "request X versions=0+\n  A int32 0+ null=0+\n",
                "cannot be nullable",
            ),
            ("request X\n", "needs versions"),
            ("  A int32 0+\n", "outside a definition"),
            ("request X versions=0+\n  A int32 x+\n", "bad version"),
        ] {
            let e = parse("t.kmsg", text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
