//! murmur2 and the default partition of >1000 keys against kafka-python's
//! port of the Java client's `Utils.murmur2` (tests/data/murmur2_vectors.json,
//! written by tests/data/make_murmur2_vectors.py).

use purekafka::producer::partitioner::{default_partition, murmur2, to_positive};

/// Bytes from lowercase hex; `None` if it is not hex.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[test]
fn murmur2_matches_kafka_python_reference() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/murmur2_vectors.json"
    ))
    .expect("read murmur2_vectors.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("parse murmur2_vectors.json");
    let counts: Vec<i32> = doc["partition_counts"]
        .as_array()
        .expect("partition_counts")
        .iter()
        .map(|n| n.as_i64().expect("count") as i32)
        .collect();
    assert_eq!(counts, [1, 3, 12, 100]);
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 1000, "only {} vectors", vectors.len());

    let (mut high_bytes, mut lengths) = (0, std::collections::BTreeSet::new());
    let mut failures = Vec::new();
    for v in vectors {
        let key = unhex(v["key"].as_str().expect("key")).expect("hex key");
        let want = v["murmur2"].as_i64().expect("murmur2") as i32;
        let got = murmur2(&key);
        if got != want {
            failures.push(format!("murmur2({}) = {got}, want {want}", v["key"]));
        }
        let parts = v["partitions"].as_array().expect("partitions");
        for (n, p) in counts.iter().zip(parts) {
            let want = p.as_i64().expect("partition") as i32;
            let got = default_partition(&key, *n);
            if got != want {
                failures.push(format!("partition({}, {n}) = {got}, want {want}", v["key"]));
            }
            assert_eq!(to_positive(murmur2(&key)) % n, want);
        }
        high_bytes += usize::from(key.iter().any(|&b| b >= 0x80));
        lengths.insert(key.len());
    }
    assert!(
        failures.is_empty(),
        "{} mismatches, first: {:#?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    // The data set covers what it claims to.
    assert!(
        high_bytes >= 500,
        "only {high_bytes} keys with bytes >= 0x80"
    );
    assert!(
        (0..=64).all(|n| lengths.contains(&n)),
        "missing key lengths in 0..=64: {lengths:?}"
    );
}
