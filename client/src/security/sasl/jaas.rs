//! `sasl.jaas.config`, parsed as the Java client reads it:
//! `<LoginModule class> <flag> key="value" key2=value2;`
//!
//! Values may be bare words or double-quoted strings (with `\"` and `\\`
//! escapes). One login module, as Kafka clients allow. Errors never echo
//! the text (it holds a password).

use std::collections::BTreeMap;

/// One parsed JAAS entry.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// The login module class (`org.apache.kafka.common.security.plain.PlainLoginModule`).
    pub module: String,
    /// `required`, `requisite`, `sufficient` or `optional`.
    pub flag: String,
    /// The options, by name.
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for JaasEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaasEntry")
            .field("module", &self.module)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Parses `text`. The error says what is wrong without quoting values.
pub fn parse(text: &str) -> Result<JaasEntry, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let module = p.word().ok_or("expected a login module class name first")?;
    let flag = p
        .word()
        .ok_or("expected a control flag (required) after the login module")?;
    if !matches!(
        flag.as_str(),
        "required" | "requisite" | "sufficient" | "optional"
    ) {
        return Err(
            "the control flag after the login module must be required, requisite, sufficient or optional"
                .into(),
        );
    }
    let mut options = BTreeMap::new();
    loop {
        p.skip_ws();
        match p.peek() {
            None => return Err("missing ';' at the end of the login module entry".into()),
            Some(b';') => {
                p.i += 1;
                break;
            }
            Some(_) => {}
        }
        let key = p.word().ok_or("expected an option name")?;
        p.skip_ws();
        if p.peek() != Some(b'=') {
            return Err(format!("option {key} has no '=' and value"));
        }
        p.i += 1;
        p.skip_ws();
        let value = if p.peek() == Some(b'"') {
            p.quoted()
                .ok_or_else(|| format!("the quoted value of option {key} is not closed"))?
        } else {
            p.word()
                .ok_or_else(|| format!("option {key} has no value"))?
        };
        options.insert(key, value);
    }
    p.skip_ws();
    if p.peek().is_some() {
        return Err("only one login module entry is allowed (text after the first ';')".into());
    }
    Ok(JaasEntry {
        module,
        flag,
        options,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// A run of characters other than whitespace, `=`, `;` and `"`.
    fn word(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b'=' | b';' | b'"'))
        {
            self.i += 1;
        }
        let w = self.s.get(start..self.i)?;
        (!w.is_empty()).then(|| String::from_utf8_lossy(w).into_owned())
    }

    fn quoted(&mut self) -> Option<String> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    out.push(self.peek()?);
                    self.i += 1;
                }
                _ => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_style_entries_parse() {
        let e = parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="a \"q\" b\\c";"#,
        )
        .unwrap();
        assert_eq!(
            e.module,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(e.flag, "required");
        assert_eq!(e.options["username"], "alice");
        assert_eq!(e.options["password"], r#"a "q" b\c"#);
        let e = parse("  M  optional  a=b\n c = \"d e\" ;  ").unwrap();
        assert_eq!(e.options["a"], "b");
        assert_eq!(e.options["c"], "d e");
        assert_eq!(parse("M required;").unwrap().options.len(), 0);
    }

    #[test]
    fn bad_entries_fail_without_echoing_values() {
        for (text, want) in [
            ("", "login module class"),
            ("M", "control flag"),
            ("M maybe password=\"s3cr3t-x\";", "control flag"),
            ("M required password=\"s3cr3t-x\"", "missing ';'"),
            ("M required password=\"s3cr3t-x;", "not closed"),
            ("M required password;", "no '='"),
            ("M required password=;", "no value"),
            ("M required a=b; N required c=d;", "only one"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
            assert!(!e.contains("s3cr3t-x"), "{e}");
        }
        let e = parse("M required password=\"s3cr3t-x\";").unwrap();
        assert!(!format!("{e:?}").contains("s3cr3t-x"));
    }
}
