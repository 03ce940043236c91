//! Interop with what other Kafka clients write and read.
//!
//! * `fixtures_*`: blobs written by kafka-python's codec module and the C
//!   libraries behind it (see `make_fixtures.py`) decode byte-for-byte.
//! * `python_decodes_*`: what this crate writes is decoded by kafka-python's
//!   `kafka.codec.*_decode` and compared byte-for-byte. Needs the project venv
//!   (`./scripts/setup-python.sh`) or `PUREKAFKA_PYTHON`.

// Test/bench code: failing loudly is the point.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use purekafka_compression::{Compression, Error};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn read_fixture(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}); regenerate with \
             `.venv/bin/python compression/tests/make_fixtures.py`",
            path.display()
        )
    })
}

/// Fixture suffix -> codec that must decode it.
const VARIANTS: &[(&str, Compression)] = &[
    ("gzip", Compression::Gzip),
    ("gzip-l1", Compression::Gzip),
    ("snappy-xerial", Compression::Snappy),
    ("snappy-raw", Compression::Snappy),
    ("lz4", Compression::Lz4),
    ("lz4-linked", Compression::Lz4),
    ("zstd", Compression::Zstd),
    ("zstd-l19-nosize", Compression::Zstd),
    ("zstd-l22", Compression::Zstd),
    ("zstd-neg5", Compression::Zstd),
    ("zstd-stream", Compression::Zstd),
    ("zstd-multiframe", Compression::Zstd),
];

const PAYLOADS: &[&str] = &["events.json", "small.json"];

#[test]
fn fixtures_written_by_kafka_python_decode_byte_for_byte() {
    for payload in PAYLOADS {
        let plain = read_fixture(payload);
        assert!(!plain.is_empty());
        for (suffix, codec) in VARIANTS {
            let name = format!("{payload}.{suffix}");
            let blob = read_fixture(&name);
            assert_ne!(blob, plain, "{name} is not compressed");

            // Cap exactly at the payload size: allowed.
            let mut out = b"prefix".to_vec();
            codec
                .decompress(&blob, plain.len(), &mut out)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                &out[..6],
                b"prefix",
                "{name}: existing bytes of out were touched"
            );
            assert!(
                out[6..] == plain[..],
                "{name}: decoded bytes differ from {payload}"
            );

            // One byte less: TooLarge, and out untouched.
            let mut out = b"prefix".to_vec();
            match codec.decompress(&blob, plain.len() - 1, &mut out) {
                Err(Error::TooLarge { codec: c, limit }) => {
                    assert_eq!(c, *codec);
                    assert_eq!(limit, plain.len() - 1);
                }
                other => panic!("{name} with cap len-1: expected TooLarge, got {other:?}"),
            }
            assert_eq!(out, b"prefix", "{name}: out not restored after error");
        }
    }
}

#[test]
fn fixtures_snappy_raw_and_xerial_really_are_different_formats() {
    // Guards the fixture generator: if both files were xerial (or both raw),
    // the raw-snappy (librdkafka) path would go untested.
    let xerial = read_fixture("events.json.snappy-xerial");
    let raw = read_fixture("events.json.snappy-raw");
    assert!(xerial.starts_with(b"\x82SNAPPY\x00"));
    assert!(!raw.starts_with(b"\x82SNAPPY\x00"));
}

#[test]
fn fixture_bombs_from_reference_encoders_hit_the_cap() {
    for (name, codec) in [
        ("bomb-100MiB-zeros.gzip", Compression::Gzip),
        ("bomb-100MiB-zeros.zstd", Compression::Zstd),
        ("bomb-100MiB-zeros-nosize.zstd", Compression::Zstd),
    ] {
        let blob = read_fixture(name);
        let mut out = Vec::new();
        match codec.decompress(&blob, 1 << 20, &mut out) {
            Err(Error::TooLarge { codec: c, limit }) => {
                assert_eq!((c, limit), (codec, 1 << 20), "{name}");
            }
            other => panic!("{name}: expected TooLarge, got {other:?}"),
        }
        assert!(out.is_empty());
        assert!(
            out.capacity() <= 4 << 20,
            "{name}: out grew to {} bytes for a 1 MiB cap",
            out.capacity()
        );
    }
}

// ---------------------------------------------------------------------------
// Reverse direction: this crate compresses, kafka-python decodes.

const SETUP_HINT: &str = "run ./scripts/setup-python.sh (creates <workspace>/.venv with \
     kafka-python and its codec libraries), or point PUREKAFKA_PYTHON at a python that has them";

/// `PUREKAFKA_PYTHON` if set, else `<workspace root>/.venv/bin/python`;
/// it must import kafka.codec with snappy, lz4 and zstd available.
fn python() -> PathBuf {
    let python = match std::env::var_os("PUREKAFKA_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
    };
    let probe = Command::new(&python)
        .args([
            "-c",
            "import kafka.codec as c; \
             assert c.has_gzip() and c.has_snappy() and c.has_lz4() and c.has_zstd()",
        ])
        .output();
    match probe {
        Ok(o) if o.status.success() => python,
        Ok(o) => panic!(
            "{} cannot use kafka.codec with all codecs ({}); {SETUP_HINT}",
            python.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run {} ({e}); {SETUP_HINT}", python.display()),
    }
}

const PY_DECODE: &str = r#"
import os, sys
import kafka.codec as c
decode = {"gzip": c.gzip_decode, "snappy": c.snappy_decode, "lz4": c.lz4_decode, "zstd": c.zstd_decode}
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    codec = name.split(".")[-1]
    if codec not in decode:
        continue
    with open(os.path.join(d, name), "rb") as f:
        blob = f.read()
    with open(os.path.join(d, name + ".decoded"), "wb") as f:
        f.write(decode[codec](blob))
    print(name)
"#;

#[test]
fn python_decodes_what_we_compress() {
    let python = python();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("compression-interop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");

    let events = read_fixture("events.json");
    let small = read_fixture("small.json");
    let mut payloads: Vec<(&str, Vec<u8>)> = vec![
        ("events", events.clone()),
        ("small", small),
        ("empty", Vec::new()),
        // Exactly two xerial blocks / one lz4 block boundary.
        ("64k", events[..64 * 1024].to_vec()),
    ];
    payloads.push(("incompressible", pseudo_random(100_000)));

    let mut expected = Vec::new();
    for (label, plain) in &payloads {
        for (codec, levels) in [
            (Compression::Gzip, vec![None, Some(1), Some(9)]),
            (Compression::Snappy, vec![None]),
            (Compression::Lz4, vec![None, Some(1), Some(17)]),
            (Compression::Zstd, vec![None, Some(-5), Some(19)]),
        ] {
            for level in levels {
                let lvl = level.map_or("default".to_owned(), |l| l.to_string());
                let name = format!("{label}.l{lvl}.{codec}");
                let mut blob = Vec::new();
                codec.compress(plain, level, &mut blob).expect("compress");
                std::fs::write(dir.join(&name), &blob).expect("write blob");
                expected.push((name, plain.clone()));
            }
        }
    }

    let run = Command::new(&python)
        .arg("-c")
        .arg(PY_DECODE)
        .arg(&dir)
        .output()
        .expect("run python");
    assert!(
        run.status.success(),
        "kafka.codec failed to decode our output:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for (name, plain) in &expected {
        let decoded = std::fs::read(dir.join(format!("{name}.decoded")))
            .unwrap_or_else(|e| panic!("python wrote no output for {name}: {e}"));
        assert!(
            decoded == *plain,
            "{name}: kafka-python decoded {} bytes, expected {} (content differs)",
            decoded.len(),
            plain.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn python_snappy_raw_blocks_decode() {
    // librdkafka writes raw snappy blocks; python-snappy's `compress` does the
    // same. Build a few on the fly (besides the stored fixture) at sizes that
    // straddle snappy's 64 KiB internal fragment size.
    let python = python();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("compression-rawsnappy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let events = read_fixture("events.json");
    let sizes = [1usize, 100, 65_535, 65_536, 65_537, events.len()];
    for n in sizes {
        std::fs::write(dir.join(format!("{n}.plain")), &events[..n]).expect("write");
    }
    let script = r#"
import os, sys, snappy
d = sys.argv[1]
for name in os.listdir(d):
    if name.endswith(".plain"):
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        with open(os.path.join(d, name[:-6] + ".raw"), "wb") as f:
            f.write(snappy.compress(data))
"#;
    let run = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&dir)
        .output()
        .expect("run python");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for n in sizes {
        let raw = std::fs::read(dir.join(format!("{n}.raw"))).expect("python output");
        assert!(!raw.starts_with(b"\x82SNAPPY"));
        let mut out = Vec::new();
        Compression::Snappy
            .decompress(&raw, n, &mut out)
            .unwrap_or_else(|e| panic!("raw snappy of {n} bytes: {e}"));
        assert!(out == events[..n], "raw snappy of {n} bytes decoded wrong");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn pseudo_random(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
