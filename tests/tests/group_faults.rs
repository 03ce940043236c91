//! A group member under fault injection on the mock cluster: the coordinator
//! moves, heartbeats and commits fail, a broker goes down and comes back.
//! Every record is processed, and none at or after a committed offset.
//! The real-failure counterpart runs on three Kafka 4.4 nodes: the group
//! coordinator's node is killed with SIGKILL and started again.

use purekafka::config::{ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::Consumer;
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::{
    Cluster as Broker, CoordinatorKind, cluster_or_skip, codes, unique_topic,
};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

const HEARTBEAT: i16 = 12;
const OFFSET_COMMIT: i16 = 8;
const N: usize = 6_000;

#[test]
fn group_member_recovers_from_coordinator_faults_without_losing_records() {
    let broker = Broker::mock_private(3).unwrap();
    let topic = unique_topic("group-faults");
    let group = unique_topic("group-faults-id");
    broker.create_topic(&topic, 6).unwrap();
    broker
        .coordinator_set(CoordinatorKind::Group, &group, 1)
        .unwrap();
    let rt = rt();
    let bootstrap = broker.bootstrap().to_string();
    rt.block_on(async {
        let producer = Producer::new(ProducerConfig::new(&bootstrap))
            .await
            .unwrap();
        let mut cfg = ConsumerConfig::new(&bootstrap);
        cfg.group_id = Some(group.clone());
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.enable_auto_commit = false;
        cfg.heartbeat_interval = Duration::from_millis(200);
        cfg.session_timeout = Duration::from_secs(6);
        cfg.fetch_max_wait = Duration::from_millis(50);
        cfg.client.request_timeout = Duration::from_secs(3);
        let c = Consumer::new(cfg).await.unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();

        let mut processed: Vec<(i32, i64)> = Vec::new();
        let mut committed: BTreeMap<i32, i64> = BTreeMap::new();
        let mut violations = Vec::new();
        let mut commit_errors = 0;
        let mut sent = 0usize;
        let start = Instant::now();
        let mut step = 0;
        while processed.iter().collect::<HashSet<_>>().len() < N {
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "stuck: {} of {N} processed",
                processed.iter().collect::<HashSet<_>>().len()
            );
            // Keep records flowing.
            while sent < N && sent < (start.elapsed().as_millis() as usize) * 3 {
                let v = format!("r{sent}");
                // Not waiting for the delivery: records keep flowing.
                drop(
                    producer
                        .enqueue(ProducerRecord::to(&topic).key(&v).value(&v))
                        .await
                        .unwrap(),
                );
                sent += 1;
            }
            // Faults, one after another.
            let t = start.elapsed();
            if step == 0 && t > Duration::from_millis(400) {
                broker
                    .push_request_errors(
                        HEARTBEAT,
                        &[codes::NOT_COORDINATOR, codes::COORDINATOR_NOT_AVAILABLE],
                    )
                    .unwrap();
                step += 1;
            } else if step == 1 && t > Duration::from_millis(800) {
                broker
                    .push_request_errors(
                        OFFSET_COMMIT,
                        &[codes::COORDINATOR_NOT_AVAILABLE, codes::REQUEST_TIMED_OUT],
                    )
                    .unwrap();
                step += 1;
            } else if step == 2 && t > Duration::from_millis(1200) {
                broker
                    .coordinator_set(CoordinatorKind::Group, &group, 2)
                    .unwrap();
                step += 1;
            } else if step == 3 && t > Duration::from_millis(1600) {
                broker
                    .push_request_errors(HEARTBEAT, &[27 /* REBALANCE_IN_PROGRESS */])
                    .unwrap();
                step += 1;
            } else if step == 4 && t > Duration::from_millis(2000) {
                broker.broker_down(2).unwrap();
                step += 1;
            } else if step == 5 && t > Duration::from_millis(2600) {
                broker.broker_up(2).unwrap();
                step += 1;
            }
            let recs = match c.poll(Duration::from_millis(100)).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("poll: {e}");
                    continue;
                }
            };
            for r in &recs {
                let c = committed.get(&r.partition).copied().unwrap_or(0);
                if r.offset < c {
                    violations.push((r.partition, r.offset, c));
                }
                processed.push((r.partition, r.offset));
            }
            if !recs.is_empty() {
                match c.commit().await {
                    Ok(done) => {
                        for (tp, o) in done {
                            let e = committed.entry(tp.partition).or_insert(0);
                            *e = (*e).max(o.offset);
                        }
                    }
                    Err(e) => {
                        commit_errors += 1;
                        eprintln!("commit: {e}");
                    }
                }
            }
        }
        assert_eq!(step, 6, "not every fault was injected");
        assert!(
            commit_errors > 0,
            "no commit error was seen: the faults did not reach the member"
        );
        assert!(
            violations.is_empty(),
            "records processed below a committed offset: {violations:?}"
        );
        c.close().await.unwrap();
    });
}

#[test]
fn group_member_survives_its_coordinator_node_being_killed() {
    let broker: &'static Broker =
        cluster_or_skip!(Broker::kafka_private(3).map(|c| &*Box::leak(Box::new(c))));
    let topic = unique_topic("group-kill-coord");
    let group = unique_topic("group-kill-coord-id");
    broker.create_topic(&topic, 6).unwrap();
    // Creates __consumer_offsets (replication 3: only while all three live).
    let coordinator = broker.coordinator(CoordinatorKind::Group, &group).unwrap();
    let rt = rt();
    let bootstrap = broker.bootstrap().to_string();
    rt.block_on(async {
        let producer = Producer::new(ProducerConfig::new(&bootstrap))
            .await
            .unwrap();
        let mut cfg = ConsumerConfig::new(&bootstrap);
        cfg.group_id = Some(group.clone());
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.enable_auto_commit = false;
        cfg.heartbeat_interval = Duration::from_millis(500);
        cfg.session_timeout = Duration::from_secs(10);
        cfg.fetch_max_wait = Duration::from_millis(100);
        cfg.client.request_timeout = Duration::from_secs(5);
        let c = Consumer::new(cfg).await.unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();

        let mut processed: HashSet<(i32, i64)> = HashSet::new();
        let mut committed: BTreeMap<i32, i64> = BTreeMap::new();
        let mut violations = Vec::new();
        let mut commits_after_restart = 0;
        let mut commit_errors = 0;
        // Commits that waited for the new coordinator (a sync commit retries
        // coordinator errors until default.api.timeout.ms, as Java's commitSync).
        let mut slow_commits = 0;
        let mut sent = 0usize;
        let start = Instant::now();
        let (mut killed, mut restarted) = (false, false);
        let mut restart: Option<std::thread::JoinHandle<()>> = None;
        while processed.len() < N || !restarted || commits_after_restart == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(150),
                "stuck: {} of {N} processed (coordinator node {coordinator} killed: {killed}, restarted: {restarted})",
                processed.len()
            );
            while sent < N && sent < (start.elapsed().as_millis() as usize) / 2 {
                let v = format!("r{sent}");
                // Not waiting for the delivery: records keep flowing.
                drop(
                    producer
                        .enqueue(ProducerRecord::to(&topic).key(&v).value(&v))
                        .await
                        .unwrap(),
                );
                sent += 1;
            }
            let t = start.elapsed();
            if !killed && t > Duration::from_secs(3) {
                // Blocking launcher calls run off the runtime's threads.
                tokio::task::spawn_blocking(move || broker.kill_node(coordinator))
                    .await
                    .unwrap()
                    .unwrap();
                killed = true;
            } else if killed && restart.is_none() && t > Duration::from_secs(9) {
                restart = Some(std::thread::spawn(move || broker.start_node(coordinator).unwrap()));
            }
            if let Some(h) = restart.take_if(|h| h.is_finished()) {
                h.join().unwrap();
                restarted = true;
            }
            let recs = match c.poll(Duration::from_millis(200)).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("poll: {e}");
                    continue;
                }
            };
            for r in &recs {
                let c = committed.get(&r.partition).copied().unwrap_or(0);
                if r.offset < c {
                    violations.push((r.partition, r.offset, c));
                }
                processed.insert((r.partition, r.offset));
            }
            if !recs.is_empty() || (restarted && commits_after_restart == 0) {
                let t0 = Instant::now();
                let r = c.commit().await;
                if t0.elapsed() > Duration::from_secs(1) {
                    slow_commits += 1;
                }
                match r {
                    Ok(done) => {
                        if restarted {
                            commits_after_restart += 1;
                        }
                        for (tp, o) in done {
                            let e = committed.entry(tp.partition).or_insert(0);
                            *e = (*e).max(o.offset);
                        }
                    }
                    Err(e) => {
                        commit_errors += 1;
                        eprintln!("commit: {e}");
                    }
                }
            }
        }
        eprintln!("{commit_errors} commits failed, {slow_commits} waited for the coordinator");
        assert!(
            commit_errors > 0 || slow_commits > 0,
            "no commit failed or waited: the coordinator's death never reached the member"
        );
        assert!(
            violations.is_empty(),
            "records processed below a committed offset: {violations:?}"
        );
        assert_eq!(committed.values().sum::<i64>(), N as i64, "committed offsets: {committed:?}");
        c.close().await.unwrap();
        producer.close(Duration::from_secs(10)).await.unwrap();
    });
}
