//! The `purekafka` binary end to end against Apache Kafka 4.4 (the
//! harness's shared node): every command run as a user would, its output
//! checked (JSON output where it matters).

// A test fails by panicking, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use purekafka_integration::{Cluster, cluster_or_skip, unique_topic};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }

    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// Runs the binary with `args` (after `-b bootstrap`), feeding `stdin`.
fn cli(bootstrap: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_purekafka"));
    if !bootstrap.is_empty() {
        cmd.args(["-b", bootstrap]);
    }
    // No profile from the machine running the tests.
    cmd.env(
        "PUREKAFKA_CONFIG",
        "/nonexistent/purekafka-test-config.toml",
    )
    .env_remove("PUREKAFKA_PROFILE")
    .env_remove("PUREKAFKA_BOOTSTRAP")
    .args(args)
    .stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning purekafka");
    if let Some(input) = stdin {
        let mut s = child.stdin.take().expect("stdin");
        s.write_all(input).expect("writing stdin");
    }
    let out = child.wait_with_output().expect("waiting for purekafka");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn produce_lines_then_consume_them_as_json() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-produce");
    k.create_topic(&topic, 3).unwrap();
    let input: String = (0..30)
        .map(|i| format!("key{}:value {i}\n", i % 5))
        .collect();
    let run = cli(
        b,
        &[
            "produce",
            &topic,
            "-K",
            ":",
            "-H",
            "source=cli-test",
            "-z",
            "lz4",
            "--output",
            "json",
        ],
        Some(input.as_bytes()),
    )
    .ok();
    let summary = run.json();
    assert_eq!(summary["records"], 30, "{summary}");
    assert_eq!(summary["failed"], 0);
    let parts = summary["partitions"].as_array().unwrap();
    let total: u64 = parts.iter().map(|p| p["records"].as_u64().unwrap()).sum();
    assert_eq!(total, 30);

    let run = cli(
        b,
        &[
            "consume",
            &topic,
            "-o",
            "beginning",
            "-e",
            "--output",
            "json",
        ],
        None,
    )
    .ok();
    let records = run.json_lines();
    assert_eq!(records.len(), 30, "{}", run.stdout);
    let mut values: Vec<String> = records
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_owned())
        .collect();
    values.sort_by_key(|v| v[6..].parse::<u32>().unwrap());
    assert_eq!(values[0], "value 0");
    assert_eq!(values[29], "value 29");
    for r in &records {
        let v = r["value"].as_str().unwrap();
        let i: u32 = v[6..].parse().unwrap();
        assert_eq!(r["key"], format!("key{}", i % 5));
        assert_eq!(r["topic"], topic.as_str());
        assert_eq!(r["headers"][0]["key"], "source");
        assert_eq!(r["headers"][0]["value"], "cli-test");
        assert_eq!(r["timestamp_type"], "create");
    }
    // The same key always lands on the same partition (the Java partitioner).
    for key in 0..5 {
        let ps: std::collections::HashSet<i64> = records
            .iter()
            .filter(|r| r["key"] == format!("key{key}"))
            .map(|r| r["partition"].as_i64().unwrap())
            .collect();
        assert_eq!(ps.len(), 1, "key{key} on partitions {ps:?}");
    }
}

#[test]
fn consume_format_offsets_and_count() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-format");
    k.create_topic(&topic, 1).unwrap();
    let input: String = (0..10).map(|i| format!("k{i}=v{i}\n")).collect();
    cli(b, &["produce", &topic, "-K", "="], Some(input.as_bytes())).ok();

    // kcat's format string, from an absolute offset, with a count.
    let run = cli(
        b,
        &[
            "consume",
            &topic,
            "-o",
            "4",
            "-c",
            "3",
            "-f",
            "%t|%p|%o|%k|%s|%S\\n",
        ],
        None,
    )
    .ok();
    assert_eq!(
        run.stdout,
        format!("{topic}|0|4|k4|v4|2\n{topic}|0|5|k5|v5|2\n{topic}|0|6|k6|v6|2\n")
    );
    // Relative to the end, exiting at the end; -K prints key and value.
    let run = cli(
        b,
        &["consume", &topic, "-o", "-2", "-e", "-K", " => "],
        None,
    )
    .ok();
    assert_eq!(run.stdout, "k8 => v8\nk9 => v9\n");
    // From the end: nothing, and -e exits.
    let run = cli(b, &["consume", &topic, "-o", "end", "-e"], None).ok();
    assert_eq!(run.stdout, "");
}

#[test]
fn consume_from_a_timestamp() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-time");
    k.create_topic(&topic, 2).unwrap();
    let lines: String = (0..6)
        .map(|i| {
            format!(
                "{{\"key\":\"k{i}\",\"value\":\"v{i}\",\"timestamp\":{},\"partition\":{}}}\n",
                1_700_000_000_000i64 + i * 60_000,
                i % 2
            )
        })
        .collect();
    cli(b, &["produce", &topic, "--json"], Some(lines.as_bytes())).ok();
    // 1_700_000_000_000 + 3 min = 2023-11-14T22:16:20Z: records 3, 4 and 5.
    let run = cli(
        b,
        &[
            "consume",
            &topic,
            "-o",
            "@2023-11-14T22:16:20Z",
            "-e",
            "-f",
            "%k %T\\n",
        ],
        None,
    )
    .ok();
    let mut got: Vec<&str> = run.stdout.lines().collect();
    got.sort();
    assert_eq!(
        got,
        ["k3 1700000180000", "k4 1700000240000", "k5 1700000300000"]
    );
    // --until stops each partition at the first record at or after the time.
    let run = cli(
        b,
        &[
            "consume",
            &topic,
            "-o",
            "beginning",
            "--until",
            "1700000120000",
            "-f",
            "%k\\n",
        ],
        None,
    )
    .ok();
    let mut got: Vec<&str> = run.stdout.lines().collect();
    got.sort();
    assert_eq!(got, ["k0", "k1"]);
}

#[test]
fn consume_in_a_group_commits_what_it_printed() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-group");
    let group = unique_topic("cli-group-g");
    k.create_topic(&topic, 2).unwrap();
    let input: String = (0..8).map(|i| format!("r{i}\n")).collect();
    cli(b, &["produce", &topic], Some(input.as_bytes())).ok();

    let first = cli(
        b,
        &[
            "consume",
            &topic,
            "-G",
            &group,
            "-o",
            "beginning",
            "-c",
            "5",
        ],
        None,
    )
    .ok();
    assert_eq!(first.stdout.lines().count(), 5, "{}", first.stdout);
    // The group goes on from what was printed: the other 3, then nothing.
    let rest = cli(b, &["consume", &topic, "-G", &group, "-e"], None).ok();
    let mut all: Vec<&str> = first.stdout.lines().chain(rest.stdout.lines()).collect();
    all.sort();
    assert_eq!(all, ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"]);
    // Explicit partitions from the committed position (no join): nothing left.
    let stored = cli(
        b,
        &[
            "consume", &topic, "-G", &group, "-p", "0", "-p", "1", "-o", "stored", "-e",
        ],
        None,
    )
    .ok();
    assert_eq!(stored.stdout, "");
}

#[test]
fn produce_json_lines_round_trip_binary_and_headers() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-json");
    k.create_topic(&topic, 1).unwrap();
    let input = concat!(
        r#"{"key":"a","value":{"n":1},"headers":{"h1":"x"}}"#,
        "\n",
        r#"{"key":null,"value":{"base64":"/wAB"},"headers":[{"key":"h2","value":null}]}"#,
        "\n",
        r#"{"key":"c","value":null}"#,
        "\n"
    );
    cli(b, &["produce", &topic, "--json"], Some(input.as_bytes())).ok();
    let first = cli(
        b,
        &[
            "consume",
            &topic,
            "-o",
            "beginning",
            "-e",
            "--output",
            "json",
        ],
        None,
    )
    .ok();
    let recs = first.json_lines();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["value"], r#"{"n":1}"#);
    assert_eq!(recs[0]["headers"][0]["value"], "x");
    assert_eq!(recs[1]["key"], Value::Null);
    assert_eq!(recs[1]["value"]["base64"], "/wAB");
    assert_eq!(recs[1]["headers"][0]["value"], Value::Null);
    assert_eq!(recs[2]["value"], Value::Null);

    // What consume printed, produced again, reads back the same.
    let copy = unique_topic("cli-json-copy");
    k.create_topic(&copy, 1).unwrap();
    cli(
        b,
        &["produce", &copy, "--json"],
        Some(first.stdout.as_bytes()),
    )
    .ok();
    let second = cli(
        b,
        &[
            "consume",
            &copy,
            "-o",
            "beginning",
            "-e",
            "--output",
            "json",
        ],
        None,
    )
    .ok();
    for (x, y) in recs.iter().zip(second.json_lines()) {
        for field in ["key", "value", "headers", "timestamp"] {
            assert_eq!(x[field], y[field], "{field}");
        }
    }
}

#[test]
fn metadata_and_topics() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-md");
    k.create_topic(&topic, 4).unwrap();
    let md = cli(b, &["metadata", &topic, "--output", "json"], None)
        .ok()
        .json();
    assert_eq!(md["brokers"].as_array().unwrap().len(), 1);
    let broker = &md["brokers"][0];
    assert_eq!(
        format!("{}:{}", broker["host"].as_str().unwrap(), broker["port"]),
        b
    );
    assert_eq!(md["cluster_id"], k.cluster_id());
    let t = &md["topics"][0];
    assert_eq!(t["name"], topic.as_str());
    let parts = t["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["partition"], i);
        assert_eq!(p["leader"], broker["id"]);
        assert_eq!(p["isr"], serde_json::json!([broker["id"]]));
    }
    let text = cli(b, &["metadata", &topic], None).ok().stdout;
    assert!(
        text.contains(&format!("topic \"{topic}\" with 4 partitions")),
        "{text}"
    );

    let list = cli(b, &["topics", "--output", "json"], None).ok().json();
    let mine: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == topic.as_str())
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["partitions"], 4);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "__consumer_offsets")
    );

    // A missing topic: exit 1, named.
    let missing = cli(b, &["metadata", "no-such-topic-cli"], None);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no such topic: no-such-topic-cli"),
        "{}",
        missing.stderr
    );
}

#[test]
fn bench_produce_and_consume_report_their_numbers() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-bench");
    k.create_topic(&topic, 2).unwrap();
    let p = cli(
        b,
        &[
            "bench", "produce", &topic, "-n", "20000", "-s", "50", "--output", "json",
        ],
        None,
    )
    .ok()
    .json();
    assert_eq!(p["kind"], "produce");
    assert_eq!(p["records"], 20000);
    assert_eq!(p["bytes"], 20000 * 50);
    assert!(p["records_per_sec"].as_f64().unwrap() > 0.0);
    let (p50, p99, p999) = (
        p["p50_ms"].as_f64().unwrap(),
        p["p99_ms"].as_f64().unwrap(),
        p["p999_ms"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{p}");
    assert!(p["cpu_s_per_million"].as_f64().is_some(), "{p}");

    let c = cli(
        b,
        &[
            "bench", "consume", &topic, "-n", "20000", "--output", "json",
        ],
        None,
    )
    .ok()
    .json();
    assert_eq!(c["records"], 20000);
    assert_eq!(c["bytes"], 20000 * 50);
    // The text table has the columns.
    let t = cli(b, &["bench", "consume", &topic, "-n", "100"], None).ok();
    assert!(
        t.stdout.contains("records/s") && t.stdout.contains("p999 ms"),
        "{}",
        t.stdout
    );
    // More records than the topic holds: a failure that says so.
    let short = cli(
        b,
        &["bench", "consume", &topic, "-n", "30000", "--timeout", "3"],
        None,
    );
    assert_eq!(short.code, 1);
    assert!(
        short.stderr.contains("read 20000 of 30000"),
        "{}",
        short.stderr
    );
}

#[test]
fn profiles_and_x_properties() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("cli-profile");
    k.create_topic(&topic, 1).unwrap();
    let dir = std::env::temp_dir().join(unique_topic("cli-profile-dir"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "default = \"nowhere\"\n\
             [profiles.nowhere]\nbootstrap = \"127.0.0.1:1\"\n\
             [profiles.test]\nbootstrap = \"{}\"\nproperties = {{ \"linger.ms\" = 1, \"group.id\" = \"unused\" }}\n",
            k.bootstrap()
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    // The named profile supplies the bootstrap (and its consumer property
    // does not trouble the producer).
    cli(
        "",
        &["-F", f, "-P", "test", "produce", &topic],
        Some(b"hello\n"),
    )
    .ok();
    let run = cli(
        "",
        &[
            "-F",
            f,
            "-P",
            "test",
            "consume",
            &topic,
            "-o",
            "beginning",
            "-e",
        ],
        None,
    )
    .ok();
    assert_eq!(run.stdout, "hello\n");
    // The file's default profile points nowhere: the error names the address.
    let run = cli(
        "",
        &[
            "-F",
            f,
            "-X",
            "socket.connection.setup.timeout.ms=2000",
            "topics",
        ],
        None,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("127.0.0.1:1"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    // An unknown profile lists the known ones.
    let run = cli("", &["-F", f, "-P", "prod", "topics"], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nowhere, test"), "{}", run.stderr);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn config_mistakes_say_what_to_fix() {
    // No broker needed: these fail before connecting.
    let run = cli(
        "localhost:1",
        &["-X", "linger.mss=5", "produce", "t"],
        Some(b""),
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("did you mean linger.ms"),
        "{}",
        run.stderr
    );
    let run = cli("localhost:1", &["-X", "nonsense", "topics"], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("key=value"), "{}", run.stderr);
    let run = cli(
        "localhost:1",
        &["-X", "acks=most", "produce", "t"],
        Some(b""),
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("acks"), "{}", run.stderr);
    let run = cli(
        "localhost:1",
        &["--output", "json", "consume", "t", "-o", "stored"],
        None,
    );
    assert_eq!(run.code, 2);
    let err: Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert!(err["error"].as_str().unwrap().contains("-G GROUP"), "{err}");
    let run = cli("localhost:1", &["consume", "t", "-f", "%q"], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("%t %p"), "{}", run.stderr);
}

#[test]
fn completions_and_properties() {
    for shell in ["bash", "zsh", "fish"] {
        let run = cli("", &["completions", shell], None).ok();
        assert!(run.stdout.contains("purekafka"), "{shell}");
        assert!(run.stdout.contains("consume"), "{shell}");
    }
    let run = cli("", &["properties", "linger", "--output", "json"], None).ok();
    let props = run.json();
    let linger = props
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "linger.ms")
        .unwrap();
    assert_eq!(linger["scope"], "producer");
    assert!(
        linger["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "queue.buffering.max.ms")
    );
}

#[test]
fn topics_create_describe_configs_and_delete() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-admin");
    let created = cli(
        b,
        &[
            "topics",
            "create",
            &topic,
            "-p",
            "3",
            "-c",
            "retention.ms=3600000",
            "--output",
            "json",
        ],
        None,
    )
    .ok()
    .json();
    assert_eq!(created["partitions"], 3);
    assert_eq!(created["replication"], 1);
    // Creating it again fails, naming the topic and the reason.
    let again = cli(b, &["topics", "create", &topic, "-p", "3"], None);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("TOPIC_ALREADY_EXISTS") && again.stderr.contains(&topic),
        "{}",
        again.stderr
    );

    let configs = cli(
        b,
        &["configs", "describe", "--topic", &topic, "--output", "json"],
        None,
    )
    .ok()
    .json();
    let retention = configs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "retention.ms")
        .unwrap_or_else(|| panic!("{configs}"));
    assert_eq!(retention["value"], "3600000");
    cli(
        b,
        &[
            "configs",
            "alter",
            "--topic",
            &topic,
            "--set",
            "cleanup.policy=compact",
            "--delete",
            "retention.ms",
        ],
        None,
    )
    .ok();
    let configs = cli(
        b,
        &["configs", "describe", "--topic", &topic, "--output", "json"],
        None,
    )
    .ok()
    .json();
    let names: Vec<&str> = configs
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"cleanup.policy") && !names.contains(&"retention.ms"),
        "{configs}"
    );
    let bad = cli(
        b,
        &[
            "configs",
            "alter",
            "--topic",
            &topic,
            "--set",
            "cleanup.policy=sometimes",
        ],
        None,
    );
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("INVALID_CONFIG"), "{}", bad.stderr);

    let text = cli(b, &["topics", "describe", &topic], None).ok().stdout;
    assert!(text.contains("with 3 partitions"), "{text}");
    let deleted = cli(b, &["topics", "delete", &topic, "--output", "json"], None)
        .ok()
        .json();
    assert_eq!(deleted[0]["deleted"], true);
    let gone = cli(b, &["topics", "delete", &topic], None);
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("UNKNOWN_TOPIC_OR_PARTITION"),
        "{}",
        gone.stderr
    );
}

#[test]
fn groups_list_describe_lag_and_reset_offsets() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-groups");
    let group = unique_topic("cli-groups-g");
    k.create_topic(&topic, 1).unwrap();
    let input: String = (0..8).map(|i| format!("r{i}\n")).collect();
    cli(b, &["produce", &topic], Some(input.as_bytes())).ok();
    cli(
        b,
        &[
            "consume",
            &topic,
            "-G",
            &group,
            "-o",
            "beginning",
            "-c",
            "5",
        ],
        None,
    )
    .ok();
    let lag = |expect: i64| {
        let l = cli(b, &["groups", "lag", &group, "--output", "json"], None)
            .ok()
            .json();
        assert_eq!(l[0]["topic"], topic.as_str(), "{l}");
        assert_eq!(l[0]["end"], 8, "{l}");
        assert_eq!(l[0]["lag"], expect, "{l}");
    };
    lag(3);
    let list = cli(b, &["groups", "list", "--output", "json"], None)
        .ok()
        .json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|g| g["group"] == group.as_str()),
        "{list}"
    );
    let d = cli(b, &["groups", "describe", &group, "--output", "json"], None)
        .ok()
        .json();
    assert_eq!(d["state"], "Empty", "{d}");
    assert_eq!(d["lag"][0]["committed"], 5);

    // A dry run by default: the plan is printed, nothing moves.
    let plan = cli(
        b,
        &[
            "groups",
            "reset-offsets",
            &group,
            "--to-earliest",
            "--output",
            "json",
        ],
        None,
    )
    .ok()
    .json();
    assert_eq!(plan["executed"], false);
    assert_eq!(plan["partitions"][0]["current"], 5);
    assert_eq!(plan["partitions"][0]["new"], 0);
    lag(3);
    cli(
        b,
        &[
            "groups",
            "reset-offsets",
            &group,
            "--to-earliest",
            "--execute",
        ],
        None,
    )
    .ok();
    lag(8);
    cli(
        b,
        &[
            "groups",
            "reset-offsets",
            &group,
            "--shift-by",
            "2",
            "--execute",
        ],
        None,
    )
    .ok();
    lag(6);
    // Clamped to the log: -100 from 2 is the start; a time after every record is the end.
    cli(
        b,
        &[
            "groups",
            "reset-offsets",
            &group,
            "--shift-by",
            "-100",
            "--execute",
        ],
        None,
    )
    .ok();
    lag(8);
    cli(
        b,
        &[
            "groups",
            "reset-offsets",
            &group,
            "-t",
            &topic,
            "--to-datetime",
            "2100-01-01",
            "--execute",
        ],
        None,
    )
    .ok();
    lag(0);
    let text = cli(
        b,
        &["groups", "reset-offsets", &group, "--to-offset", "4"],
        None,
    )
    .ok()
    .stdout;
    assert!(text.contains("dry run: nothing changed"), "{text}");
    // The group reads from where the reset put it.
    cli(
        b,
        &[
            "groups",
            "reset-offsets",
            &group,
            "--to-offset",
            "6",
            "--execute",
        ],
        None,
    )
    .ok();
    let rest = cli(b, &["consume", &topic, "-G", &group, "-e"], None).ok();
    assert_eq!(rest.stdout, "r6\nr7\n");
    // No target: a usage error.
    assert_eq!(cli(b, &["groups", "reset-offsets", &group], None).code, 2);
}

#[test]
fn produce_in_a_transaction_is_read_committed() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-txn");
    k.create_topic(&topic, 2).unwrap();
    let id = unique_topic("cli-txn-id");
    let summary = cli(
        b,
        &[
            "produce",
            &topic,
            "--transactional-id",
            &id,
            "--output",
            "json",
        ],
        Some(b"t1\nt2\nt3\n"),
    )
    .ok()
    .json();
    assert_eq!(summary["transaction"], "committed", "{summary}");
    assert_eq!(summary["records"], 3);
    let run = cli(
        b,
        &[
            "-X",
            "isolation.level=read_committed",
            "consume",
            &topic,
            "-o",
            "beginning",
            "-e",
        ],
        None,
    )
    .ok();
    let mut got: Vec<&str> = run.stdout.lines().collect();
    got.sort();
    assert_eq!(got, ["t1", "t2", "t3"]);
}

#[test]
fn acls_create_list_delete() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-acl");
    let user = format!("User:{}", unique_topic("cli-acl-user"));
    let created = cli(
        b,
        &[
            "acls",
            "create",
            "--topic",
            &topic,
            "--allow",
            &user,
            "--operation",
            "read",
            "--output",
            "json",
        ],
        None,
    )
    .ok()
    .json();
    assert_eq!(created[0]["operation"], "READ");
    // Kafka applies ACL changes asynchronously (through its metadata log):
    // a describe right after the create may not see it yet.
    let eventually = |args: &[&str], done: &dyn Fn(&Value) -> bool| -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let v = cli(b, args, None).ok().json();
            if done(&v) || std::time::Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    let is_mine = |a: &&Value| a["principal"] == user.as_str();
    let listed = eventually(
        &["acls", "list", "--topic", &topic, "--output", "json"],
        &|v| v.as_array().unwrap().iter().any(|a| is_mine(&a)),
    );
    let mine: Vec<&Value> = listed.as_array().unwrap().iter().filter(is_mine).collect();
    assert_eq!(mine.len(), 1, "{listed}");
    assert_eq!(mine[0]["permission"], "ALLOW");
    assert_eq!(mine[0]["name"], topic.as_str());
    let deleted = cli(
        b,
        &[
            "acls",
            "delete",
            "--topic",
            &topic,
            "--allow",
            &user,
            "--operation",
            "read",
            "--output",
            "json",
        ],
        None,
    )
    .ok()
    .json();
    assert_eq!(deleted.as_array().unwrap().len(), 1, "{deleted}");
    let after = eventually(
        &["acls", "list", "--principal", &user, "--output", "json"],
        &|v| v.as_array().unwrap().is_empty(),
    );
    assert_eq!(after, serde_json::json!([]));
    let bad = cli(
        b,
        &[
            "acls",
            "create",
            "--topic",
            &topic,
            "--allow",
            &user,
            "--operation",
            "reed",
        ],
        None,
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("READ"), "{}", bad.stderr);
}

#[test]
fn groups_describe_a_share_group() {
    use purekafka::ConsumerConfig;
    use purekafka::share::ShareConsumer;
    use std::time::{Duration, Instant};
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("cli-share");
    let group = unique_topic("cli-share-g");
    k.create_topic(&topic, 2).unwrap();
    let rt = purekafka_integration::rt();
    let mut cfg = ConsumerConfig::new(b);
    cfg.group_id = Some(group.clone());
    cfg.fetch_max_wait = Duration::from_millis(200);
    let c = rt.block_on(ShareConsumer::new(cfg)).unwrap();
    c.subscribe(&[topic.as_str()]).unwrap();
    // Poll until the broker has assigned the topic's partitions to the member.
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.assignment().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no assignment: {:?}",
            c.assignment()
        );
        rt.block_on(c.poll(Duration::from_millis(300))).unwrap();
    }
    let list = cli(b, &["groups", "list", "--output", "json"], None)
        .ok()
        .json();
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group.as_str())
        .cloned();
    assert_eq!(
        listed.as_ref().map(|g| &g["type"]),
        Some(&Value::from("share")),
        "{list}"
    );
    let d = cli(b, &["groups", "describe", &group, "--output", "json"], None)
        .ok()
        .json();
    assert_eq!(d["type"], "share", "{d}");
    assert_eq!(d["state"], "Stable", "{d}");
    let members = d["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{d}");
    assert_eq!(members[0]["subscribed_topics"][0], topic.as_str(), "{d}");
    let mut parts: Vec<&str> = members[0]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    parts.sort_unstable();
    assert_eq!(parts, [format!("{topic}-0"), format!("{topic}-1")], "{d}");
    let text = cli(b, &["groups", "describe", &group], None).ok();
    assert!(text.stdout.contains("(share)"), "{}", text.stdout);
    rt.block_on(c.close(Duration::from_secs(10))).unwrap();
}
