//! Build-time support for `purekafka-protocol`: the parser of our message
//! definition language ([`dsl`]) and the Rust code generator ([`rust`]).
//!
//! The definitions live in `protocol/messages/*.kmsg`, written by us; the
//! protocol crate's build script turns them into encoders and decoders, and the
//! schema check in this crate's tests compares them with Kafka's reference
//! schemas.

pub mod dsl;
pub mod rust;

use std::path::Path;

/// Reads and parses every `.kmsg` file in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<dsl::Message>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kmsg"))
        .collect();
    paths.sort();
    let mut all = Vec::new();
    for p in paths {
        let text =
            std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        all.extend(dsl::parse(&name, &text)?);
    }
    Ok(all)
}
