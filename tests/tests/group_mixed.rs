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
    let rt = rt();
    let ours = rt.block_on(async {
        let mut cfg = ConsumerConfig::new(broker.bootstrap());
        cfg.group_id = Some(group.clone());
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.heartbeat_interval = Duration::from_millis(300);
        cfg.session_timeout = Duration::from_secs(6);
        let c = Consumer::new(cfg).await.unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();
        // Poll (keeping the member alive) past the peer's end; the shares
        // are compared as they stood shortly before the peer leaves.
        let start = Instant::now();
        let mut assignment = Vec::new();
        while start.elapsed() < Duration::from_secs(12) {
            let _ = c.poll(Duration::from_millis(200)).await;
            if start.elapsed() < Duration::from_millis(9_300) {
                assignment = c
                    .assignment()
                    .into_iter()
                    .map(|tp| tp.partition)
                    .collect::<Vec<i32>>();
            }
        }
        let a = assignment;
        c.close().await.unwrap();
        a
    });
    let mut theirs = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("{\"final\": [") {
            let list = rest.split(']').next().unwrap_or("");
            theirs = Some(
                list.split(',')
                    .filter_map(|x| x.trim().parse::<i32>().ok())
                    .collect::<Vec<i32>>(),
            );
        }
    }
    let _ = peer.wait();
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
