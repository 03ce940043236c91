//! How `consume` prints a record: a kcat-style format string (`-f`),
//! compiled once, or JSON with the record's metadata (`--output json`).

use base64::Engine as _;
use purekafka::{ConsumerRecord, TimestampType};
use std::io::Write;

/// One piece of a compiled format string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    KeyLen,
    Value,
    ValueLen,
    Timestamp,
    TimestampType,
    Headers,
    HeaderCount,
}

/// A compiled `-f` format.
///
/// `%t` topic, `%p` partition, `%o` offset, `%k` key, `%K` key length
/// (-1 for null), `%s` value, `%S` value length (-1 for null), `%T`
/// timestamp (ms), `%y` timestamp type (create/log_append), `%h` headers
/// as `k=v,k2=v2`, `%H` the number of headers, `%%` a percent sign;
/// `\n`, `\t`, `\r`, `\\`, `\0` escapes.
#[derive(Debug, Clone)]
pub struct Format {
    pieces: Vec<Piece>,
}

impl Format {
    /// Compiles a format string.
    pub fn parse(s: &str) -> Result<Format, String> {
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let p = match chars.next() {
                        Some('t') => Piece::Topic,
                        Some('p') => Piece::Partition,
                        Some('o') => Piece::Offset,
                        Some('k') => Piece::Key,
                        Some('K') => Piece::KeyLen,
                        Some('s') => Piece::Value,
                        Some('S') => Piece::ValueLen,
                        Some('T') => Piece::Timestamp,
                        Some('y') => Piece::TimestampType,
                        Some('h') => Piece::Headers,
                        Some('H') => Piece::HeaderCount,
                        Some('%') => {
                            lit.push(b'%');
                            continue;
                        }
                        Some(other) => {
                            return Err(format!(
                                "unknown format token %{other} in {s:?}: use %t %p %o %k %K %s %S %T %y %h %H or %%"
                            ));
                        }
                        None => return Err(format!("format {s:?} ends with a lone %")),
                    };
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(p);
                }
                '\\' => match chars.next() {
                    Some('n') => lit.push(b'\n'),
                    Some('t') => lit.push(b'\t'),
                    Some('r') => lit.push(b'\r'),
                    Some('0') => lit.push(0),
                    Some('\\') => lit.push(b'\\'),
                    Some(other) => {
                        lit.push(b'\\');
                        let mut buf = [0u8; 4];
                        lit.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                    }
                    None => lit.push(b'\\'),
                },
                other => {
                    let mut buf = [0u8; 4];
                    lit.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Format { pieces })
    }

    /// Writes one record.
    pub fn write(&self, out: &mut impl Write, r: &ConsumerRecord) -> std::io::Result<()> {
        for p in &self.pieces {
            match p {
                Piece::Lit(b) => out.write_all(b)?,
                Piece::Topic => out.write_all(r.topic.as_bytes())?,
                Piece::Partition => write!(out, "{}", r.partition)?,
                Piece::Offset => write!(out, "{}", r.offset)?,
                Piece::Key => out.write_all(r.key.as_deref().unwrap_or_default())?,
                Piece::KeyLen => write!(out, "{}", r.key.as_ref().map_or(-1, |k| k.len() as i64))?,
                Piece::Value => out.write_all(r.value.as_deref().unwrap_or_default())?,
                Piece::ValueLen => {
                    write!(out, "{}", r.value.as_ref().map_or(-1, |v| v.len() as i64))?
                }
                Piece::Timestamp => write!(out, "{}", r.timestamp)?,
                Piece::TimestampType => {
                    out.write_all(timestamp_type(r.timestamp_type).as_bytes())?
                }
                Piece::Headers => {
                    for (i, h) in r.headers.iter().enumerate() {
                        if i > 0 {
                            out.write_all(b",")?;
                        }
                        out.write_all(&h.key)?;
                        out.write_all(b"=")?;
                        out.write_all(h.value.as_deref().unwrap_or_default())?;
                    }
                }
                Piece::HeaderCount => write!(out, "{}", r.headers.len())?,
            }
        }
        Ok(())
    }
}

/// `create` or `log_append`.
pub fn timestamp_type(t: TimestampType) -> &'static str {
    match t {
        TimestampType::CreateTime => "create",
        TimestampType::LogAppendTime => "log_append",
    }
}

/// Bytes as JSON: a string when UTF-8, else `{"base64": "..."}`; null for null.
pub fn bytes_json(b: Option<&[u8]>) -> serde_json::Value {
    match b {
        None => serde_json::Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => serde_json::Value::String(s.to_owned()),
            Err(_) => serde_json::json!({
                "base64": base64::engine::general_purpose::STANDARD.encode(b)
            }),
        },
    }
}

/// A record with its metadata, as one JSON object (the shape `produce
/// --json` reads back).
pub fn record_json(r: &ConsumerRecord) -> serde_json::Value {
    let headers: Vec<serde_json::Value> = r
        .headers
        .iter()
        .map(|h| serde_json::json!({ "key": bytes_json(Some(&h.key)), "value": bytes_json(h.value.as_deref()) }))
        .collect();
    serde_json::json!({
        "topic": &*r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "timestamp_type": timestamp_type(r.timestamp_type),
        "key": bytes_json(r.key.as_deref()),
        "value": bytes_json(r.value.as_deref()),
        "headers": headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use purekafka::Headers;
    use std::sync::Arc;

    fn record() -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 2,
            offset: 41,
            timestamp: 1_700_000_000_000,
            timestamp_type: TimestampType::CreateTime,
            key: Some("k1".into()),
            value: Some("hello".into()),
            headers: Headers::new(),
        }
    }

    #[test]
    fn kcat_tokens_and_escapes() {
        let f = Format::parse("%t/%p@%o %k=%s (%K,%S) %T %y [%h] %H 100%%\\n").unwrap();
        let mut out = Vec::new();
        f.write(&mut out, &record()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "t/2@41 k1=hello (2,5) 1700000000000 create [] 0 100%\n"
        );
        let mut r = record();
        r.key = None;
        let mut out = Vec::new();
        Format::parse("%K|%k|")
            .unwrap()
            .write(&mut out, &r)
            .unwrap();
        assert_eq!(out, b"-1||");
    }

    #[test]
    fn bad_formats_say_what_is_accepted() {
        assert!(Format::parse("%q").unwrap_err().contains("%t %p"));
        assert!(Format::parse("abc%").is_err());
    }

    #[test]
    fn json_keeps_binary_as_base64() {
        let mut r = record();
        r.value = Some(vec![0xff, 0x00].into());
        let j = record_json(&r);
        assert_eq!(j["key"], "k1");
        assert_eq!(j["value"]["base64"], "/wA=");
        assert_eq!(j["offset"], 41);
    }
}
