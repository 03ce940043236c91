//! A mixed group: a purekafka consumer and a kafka-python consumer share one
//! group (same `consumer` protocol and range assignor), each getting a share.
//!
//! Runs on Kafka 4.4 (it ran on tansu before Kafka joined the harness): librdkafka's mock completes a SyncGroup round as soon as the
//! leader's assignments arrive and answers a follower that syncs later with
//! INVALID_REQUEST, which kafka-python (a slow follower next to a fast leader)
//! raises as fatal.

use purekafka::config::{ConsumerConfig, OffsetReset};
use purekafka::consumer::Consumer;
use purekafka_integration::rt;
use purekafka_integration::{
    BrokerKind, Cluster as Broker, cluster_or_skip, python, script, unique_topic,
};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn purekafka_and_kafka_python_share_a_group() {
    let broker = cluster_or_skip!(Broker::try_kafka());
    let topic = unique_topic("mixed");
    let group = unique_topic("mixed-group");
    broker.create_topic(&topic, 6).unwrap();
    let mut cmd = Command::new(python());
    cmd.arg(script("group_peer.py"))
        .args([
            "--bootstrap",
            broker.bootstrap(),
            "--topic",
            &topic,
            "--group",
            &group,
            "--seconds",
            "10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if broker.kind() == BrokerKind::Mock {
        cmd.args(["--api-version", "2.3.0"]);
    }
    let mut peer = cmd.spawn().expect("start kafka-python group member");
    let stdout = peer.stdout.take().unwrap();
    // The peer's lines as they come: its final assignment is printed at the
    // end of its own clock, which starts after its (slow, on a loaded
    // machine: seconds) Python start-up.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let final_of = |line: &str| -> Option<Vec<i32>> {
        let rest = line.strip_prefix("{\"final\": [")?;
        let list = rest.split(']').next().unwrap_or("");
        Some(
            list.split(',')
                .filter_map(|x| x.trim().parse::<i32>().ok())
                .collect(),
        )
    };
    let rt = rt();
    let (ours, theirs) = rt.block_on(async {
        let mut cfg = ConsumerConfig::new(broker.bootstrap());
        cfg.group_id = Some(group.clone());
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.heartbeat_interval = Duration::from_millis(300);
        cfg.session_timeout = Duration::from_secs(6);
        let c = Consumer::new(cfg).await.unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();
        // Poll (keeping the member alive) until the peer prints its final
        // assignment, and only then leave: leaving earlier rebalances the
        // group under the peer, whose last look then finds nothing (eager
        // protocol, mid-rebalance) or everything. (A fixed 12 s window
        // raced the peer's start-up: CI failed ~1 in 5 with "kafka-python
        // got no partitions".) The shares are compared as they stood then.
        let deadline = Instant::now() + Duration::from_secs(60);
        let theirs = loop {
            let _ = c.poll(Duration::from_millis(200)).await;
            if let Some(t) = lines.try_iter().find_map(|l| final_of(&l)) {
                break t;
            }
            assert!(
                Instant::now() < deadline,
                "kafka-python member printed no final assignment within 60 s"
            );
        };
        let a = c
            .assignment()
            .into_iter()
            .map(|tp| tp.partition)
            .collect::<Vec<i32>>();
        c.close().await.unwrap();
        (a, Some(theirs))
    });
    let _ = peer.wait();
    let _ = reader.join();
    let theirs = theirs.expect("kafka-python member printed no final assignment");
    let mut ours = ours;
    ours.sort();
    assert!(
        !ours.is_empty(),
        "purekafka got no partitions (kafka-python has {theirs:?})"
    );
    assert!(
        !theirs.is_empty(),
        "kafka-python got no partitions (purekafka has {ours:?})"
    );
    let mut all: Vec<i32> = ours.iter().chain(&theirs).copied().collect();
    all.sort();
    assert_eq!(
        all,
        (0..6).collect::<Vec<_>>(),
        "shares overlap or miss partitions: purekafka {ours:?}, kafka-python {theirs:?}"
    );
}
