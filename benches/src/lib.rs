//! Shared pieces of the benchmark binaries.

use purekafka_integration::Cluster;

/// This process's user+system CPU time in seconds (Linux: /proc/self/stat).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based) of the whole line: 11
    // and 12 after the state field that follows the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Starts the broker named by `target` (`mock`, `tansu`) or uses it as a
/// bootstrap list; returns the harness handle (if any) and the bootstrap.
pub fn start_broker(target: &str) -> (Option<Cluster>, String) {
    match target {
        "mock" => {
            let c = Cluster::mock_private(1).expect("mock cluster (run ./scripts/setup-python.sh)");
            let b = c.bootstrap().to_string();
            (Some(c), b)
        }
        "tansu" => {
            let c = Cluster::tansu_private().expect("tansu (run ./scripts/install-tansu.sh)");
            let b = c.bootstrap().to_string();
            (Some(c), b)
        }
        other => (None, other.to_string()),
    }
}

/// Extra client properties for the bench binaries, from
/// `PUREKAFKA_BENCH_PROPERTIES` (`name=value` pairs separated by `;`), e.g.
/// `security.protocol=ssl;ssl.ca.location=/path/ca.crt` for the SSL rows of
/// `benches/kafka_bench.py`.
pub fn extra_properties() -> Vec<(String, String)> {
    std::env::var("PUREKAFKA_BENCH_PROPERTIES")
        .unwrap_or_default()
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}
