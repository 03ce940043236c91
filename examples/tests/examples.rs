//! Every example program run against Apache Kafka 4.4 (the harness's shared
//! node), its output and what it wrote checked.

use purekafka::{Consumer, ConsumerConfig, ConsumerRecord};
use purekafka_integration::{Cluster, cluster_or_skip, rt, unique_topic};
use serde_json::Value;
use std::io::{BufRead, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs example `bin` with `--bootstrap` and `args`; returns its stdout,
/// failing the test on a non-zero exit.
fn run(bin: &str, bootstrap: &str, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(["--bootstrap", bootstrap])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every record of `topic` (all partitions), waiting until there are `n`.
fn read_all(bootstrap: &str, topic: &str, n: usize) -> Vec<ConsumerRecord> {
    rt().block_on(async {
        let mut cfg = ConsumerConfig::new(bootstrap);
        cfg.auto_offset_reset = purekafka::OffsetReset::Earliest;
        let c = Consumer::new(cfg).await.unwrap();
        let partitions = c.partitions_for(topic).await.unwrap();
        assert!(!partitions.is_empty(), "{topic} has no partitions");
        let tps: Vec<(&str, i32)> = partitions.iter().map(|p| (topic, p.partition)).collect();
        c.assign(&tps).unwrap();
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while out.len() < n && Instant::now() < deadline {
            out.extend(c.poll(Duration::from_millis(300)).await.unwrap());
        }
        // Anything beyond n would be a bug too: give it a moment to show.
        out.extend(c.poll(Duration::from_millis(300)).await.unwrap());
        c.close().await.unwrap();
        out
    })
}

fn json(r: &ConsumerRecord) -> Value {
    serde_json::from_slice(r.value.as_deref().unwrap()).unwrap()
}

#[test]
fn user_events_then_a_manual_commit_group_over_two_topics() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let (events, orders) = (unique_topic("ex-user-events"), unique_topic("ex-orders"));
    k.create_topic(&events, 3).unwrap();
    k.create_topic(&orders, 1).unwrap();
    let out = run(
        env!("CARGO_BIN_EXE_user_events_producer"),
        b,
        &["--topic", &events, "--events", "60"],
    );
    assert!(
        out.contains("batch of 25 events acknowledged (25/60)"),
        "{out}"
    );
    assert!(out.contains("delivered 60 events to"), "{out}");
    assert!(out.contains("(0 failed)"), "{out}");
    run(
        env!("CARGO_BIN_EXE_user_events_producer"),
        b,
        &["--topic", &orders, "--events", "15"],
    );
    let recs = read_all(b, &events, 60);
    assert_eq!(recs.len(), 60);
    for r in &recs {
        let v = json(r);
        assert_eq!(
            r.key.as_deref(),
            Some(v["user_id"].as_str().unwrap().as_bytes())
        );
    }

    let group = unique_topic("ex-manual-group");
    let topics = format!("{events},{orders}");
    let out = run(
        env!("CARGO_BIN_EXE_manual_commit_consumer"),
        b,
        &["--topics", &topics, "--group", &group, "--expect", "75"],
    );
    assert!(
        out.contains(&format!("consumed 75 records in group {group}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("\"{events}\": 60")) && out.contains(&format!("\"{orders}\": 15")),
        "{out}"
    );
    // Committed: the group's next run finds nothing new.
    let out = run(
        env!("CARGO_BIN_EXE_manual_commit_consumer"),
        b,
        &["--topics", &topics, "--group", &group, "--idle-secs", "4"],
    );
    assert!(out.contains("consumed 0 records"), "{out}");
}

#[test]
fn high_throughput_producer_and_consumer_to_the_end_of_every_partition() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("ex-ht");
    k.create_topic(&topic, 4).unwrap();
    let out = run(
        env!("CARGO_BIN_EXE_high_throughput_producer"),
        b,
        &["--topic", &topic, "--records", "40000", "--size", "100"],
    );
    assert!(out.contains("produced 40000 records of 100 B"), "{out}");
    assert!(out.contains("0 failed"), "{out}");
    let group = unique_topic("ex-ht-group");
    let out = run(
        env!("CARGO_BIN_EXE_high_throughput_consumer"),
        b,
        &["--topic", &topic, "--group", &group, "--exit-at-eof"],
    );
    assert!(
        out.contains("consumed 40000 records (4.0 MB) from 4 partitions"),
        "{out}"
    );
    assert_eq!(out.matches("reached end of").count(), 4, "{out}");
}

#[test]
fn log_processor_counts_levels_alerts_errors_and_publishes_metrics() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let (raw, alerts, metrics) = (
        unique_topic("ex-raw-logs"),
        unique_topic("ex-alerts"),
        unique_topic("ex-log-metrics"),
    );
    for t in [&raw, &alerts, &metrics] {
        k.create_topic(t, 2).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_log_processor");
    let topics = [
        "--raw-logs",
        &raw,
        "--alerts",
        &alerts,
        "--metrics",
        &metrics,
    ];
    let mut generate = topics.to_vec();
    generate.extend(["--generate", "100"]);
    assert!(run(bin, b, &generate).contains("generated 100 log lines"));
    let group = unique_topic("ex-log-group");
    let mut proc_args = topics.to_vec();
    proc_args.extend(["--expect", "100", "--group", &group]);
    let out = run(bin, b, &proc_args);
    // Levels cycle INFO, INFO, WARN, ERROR, DEBUG.
    assert!(
        out.contains("processed 100 log lines (0 unreadable): {\"DEBUG\": 20, \"ERROR\": 20, \"INFO\": 40, \"WARN\": 20}; 20 alerts"),
        "{out}"
    );
    let got = read_all(b, &alerts, 20);
    assert_eq!(got.len(), 20);
    for a in &got {
        let v = json(a);
        assert_eq!(
            a.key.as_deref(),
            Some(v["service"].as_str().unwrap().as_bytes())
        );
        assert!(v["source"].as_str().unwrap().starts_with(&raw));
    }
    // The last metrics record has the final counts.
    let m = read_all(b, &metrics, 1);
    let last = m
        .iter()
        .map(json)
        .max_by_key(|v| v["processed"].as_u64())
        .unwrap();
    assert_eq!(last["processed"], 100);
    assert_eq!(last["counts"]["ERROR"], 20);
}

#[test]
fn event_microservice_routes_retries_and_dead_letters() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let prefix = unique_topic("ex-svc");
    for base in [
        "user-events",
        "order-events",
        "payment-events",
        "user-events-processed",
        "order-events-processed",
        "payment-events-processed",
        "dead-letter",
    ] {
        k.create_topic(&format!("{prefix}-{base}"), 1).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_event_microservice");
    run(bin, b, &["--prefix", &prefix, "--generate", "30"]);
    let group = unique_topic("ex-svc-group");
    let out = run(
        bin,
        b,
        &["--prefix", &prefix, "--expect", "30", "--group", &group],
    );
    // Events 4, 14, 24 fail twice then pass (2 retries each); 7, 17, 27 fail
    // four times (3 retries each) and go to the dead-letter topic.
    assert!(out.contains("handled 30 events"), "{out}");
    assert!(out.contains("15 retries; 3 to"), "{out}");
    let dead = read_all(b, &format!("{prefix}-dead-letter"), 3);
    let mut ids: Vec<u64> = dead
        .iter()
        .map(|r| json(r)["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [7, 17, 27]);
    for r in &dead {
        assert_eq!(
            r.headers.get(b"attempts").unwrap().value.as_deref(),
            Some(&b"4"[..])
        );
        assert!(r.headers.get(b"error").is_some());
    }
    // Every other event lands in its kind's processed topic, once.
    let mut total = 0;
    for kind in ["user", "order", "payment"] {
        let got = read_all(b, &format!("{prefix}-{kind}-events-processed"), 9);
        for r in &got {
            let v = json(r);
            assert_eq!(v["type"], kind);
            assert!(v["status"].is_string());
            if v["fail"] == "twice" {
                assert_eq!(v["attempts"], 3);
            }
        }
        total += got.len();
    }
    assert_eq!(total, 27);
}

#[test]
fn performance_monitor_prints_and_serves_prometheus_metrics() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let topic = unique_topic("ex-perf");
    k.create_topic(&topic, 2).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_perf_monitor"))
        .args([
            "--bootstrap",
            b,
            "--topic",
            &topic,
            "--seconds",
            "5",
            "--rate",
            "500",
            "--port",
            "0",
            "--interval-ms",
            "1000",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("serving Prometheus metrics on http://")
        .and_then(|s| s.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    std::thread::sleep(Duration::from_secs(3));
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(&mut sock, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    sock.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200 OK"), "{resp}");
    let value = |name: &str| -> f64 {
        resp.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in\n{resp}"))
            .parse()
            .unwrap()
    };
    assert!(
        value("purekafka_producer_records_sent_total") > 100.0,
        "{resp}"
    );
    assert!(value("purekafka_consumer_records_total") > 0.0, "{resp}");
    assert!(value("purekafka_consumer_lag") >= 0.0);
    assert!(resp.contains("# TYPE purekafka_producer_records_sent_total counter"));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    assert!(rest.matches("metrics: produced").count() >= 3, "{rest}");
    let done = rest.lines().find(|l| l.starts_with("done:")).unwrap();
    let n: Vec<u64> = done
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert_eq!(n[0], n[1], "produced == consumed: {done}");
    assert!(n[0] >= 2000, "{done}");
}

#[test]
fn students_etl_grades_every_student() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let (input, output) = (
        unique_topic("ex-students"),
        unique_topic("ex-students-processed"),
    );
    k.create_topic(&input, 1).unwrap();
    k.create_topic(&output, 1).unwrap();
    let bin = env!("CARGO_BIN_EXE_students_etl");
    run(
        bin,
        b,
        &["--input", &input, "--output", &output, "--generate", "20"],
    );
    let out = run(
        bin,
        b,
        &["--input", &input, "--output", &output, "--expect", "20"],
    );
    assert!(
        out.contains(&format!("transformed 20 students into {output}")),
        "{out}"
    );
    let got = read_all(b, &output, 20);
    assert_eq!(got.len(), 20);
    for r in &got {
        let v = json(r);
        let id = v["id"].as_u64().unwrap() as f64;
        let avg = ((45.0 + (id * 3.0) % 55.0) + (50.0 + (id * 7.0) % 50.0)) / 2.0;
        assert!((v["average"].as_f64().unwrap() - avg).abs() < 0.06, "{v}");
        assert_eq!(v["passed"], avg >= 60.0, "{v}");
        assert_eq!(r.key.as_deref(), Some(v["id"].to_string().as_bytes()));
    }
}

#[test]
fn sensor_alert_flags_every_hot_reading() {
    let k = cluster_or_skip!(Cluster::try_kafka());
    let b = k.bootstrap();
    let (input, alerts) = (
        unique_topic("ex-sensor-data"),
        unique_topic("ex-hot-alerts"),
    );
    k.create_topic(&input, 2).unwrap();
    k.create_topic(&alerts, 1).unwrap();
    let bin = env!("CARGO_BIN_EXE_sensor_alert");
    run(
        bin,
        b,
        &["--input", &input, "--alerts", &alerts, "--generate", "60"],
    );
    let out = run(
        bin,
        b,
        &[
            "--input",
            &input,
            "--alerts",
            &alerts,
            "--expect",
            "60",
            "--threshold",
            "30",
        ],
    );
    // Readings cycle 20.0..34.5 in 0.5 steps: 9 of every 30 are above 30.0.
    assert!(out.contains("checked 60 readings: 18 above 30.0"), "{out}");
    assert_eq!(out.matches("ALERT sensor-").count(), 18, "{out}");
    let got = read_all(b, &alerts, 18);
    assert_eq!(got.len(), 18);
    assert!(
        got.iter()
            .all(|r| json(r)["temperature"].as_f64().unwrap() > 30.0)
    );
}
