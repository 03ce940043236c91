//! Consumer groups on the librdkafka mock cluster: partitions split among
//! members, members joining and leaving mid-stream, commits after
//! processing, and no committed record processed twice.

use purekafka::TopicPartition;
use purekafka::config::{AssignmentStrategy, ConsumerConfig, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, RebalanceListener};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::rt;
use purekafka_integration::{BrokerKind, Cluster as Broker, unique_topic};
#[allow(unused_imports)]
use std::collections::HashMap;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Ev {
    Processed {
        member: usize,
        partition: i32,
        offset: i64,
    },
    Committed {
        member: usize,
        partition: i32,
        next: i64,
    },
}

#[derive(Default)]
struct Listener {
    assigned: Mutex<Vec<TopicPartition>>,
    revoked: AtomicUsize,
    /// Revoked since the last `on_partitions_assigned` (which comes at the
    /// end of every rebalance, empty or not).
    revoked_this_round: Mutex<Vec<TopicPartition>>,
    /// Partitions revoked in a rebalance and handed back to this member at
    /// its end: eager rebalancing does that to every partition a member
    /// keeps; cooperative never revokes a partition that stays.
    revoked_and_kept: AtomicUsize,
}

impl RebalanceListener for Listener {
    fn on_partitions_assigned(&self, partitions: &[TopicPartition]) {
        let revoked = std::mem::take(&mut *self.revoked_this_round.lock().unwrap());
        let kept = partitions.iter().filter(|p| revoked.contains(p)).count();
        self.revoked_and_kept.fetch_add(kept, Ordering::Relaxed);
        self.assigned.lock().unwrap().extend_from_slice(partitions);
    }
    fn on_partitions_revoked(&self, partitions: &[TopicPartition]) {
        let mut a = self.assigned.lock().unwrap();
        a.retain(|p| !partitions.contains(p));
        self.revoked.fetch_add(partitions.len(), Ordering::Relaxed);
        self.revoked_this_round
            .lock()
            .unwrap()
            .extend_from_slice(partitions);
    }
    fn on_partitions_lost(&self, partitions: &[TopicPartition]) {
        self.assigned
            .lock()
            .unwrap()
            .retain(|p| !partitions.contains(p));
    }
}

fn consumer_config(broker: &Broker, group: &str, strategy: AssignmentStrategy) -> ConsumerConfig {
    let bootstrap = broker.bootstrap();
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.partition_assignment_strategy = vec![strategy];
    cfg.group_id = Some(group.to_string());
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.enable_auto_commit = false;
    cfg.fetch_max_wait = Duration::from_millis(50);
    cfg.heartbeat_interval = Duration::from_millis(300);
    // The mock waits up to the session timeout for members to rejoin a
    // rebalance; keep it short so that rounds lost to its SyncGroup race
    // (a follower syncing after the leader gets INVALID_REQUEST and rejoins)
    // cost little.
    // Kafka has no such race; there a 3 s session is only a risk on a busy
    // 2-core machine (a member was once fenced with UNKNOWN_MEMBER_ID while
    // the whole suite ran in parallel), so it gets 10 s.
    cfg.session_timeout = if broker.kind() == BrokerKind::Kafka {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(3)
    };
    cfg.max_poll_records = 200;
    cfg
}

/// Runs a member until `stop`: poll, log what was processed, commit.
async fn member(id: usize, c: Consumer, log: Arc<Mutex<Vec<Ev>>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let recs = match c.poll(Duration::from_millis(100)).await {
            Ok(r) => r,
            // The member that leaves mid-stream is closed: its task ends
            // (it used to spin here, printing, and starve the others).
            Err(purekafka::Error::Closed(_)) => break,
            Err(e) => {
                eprintln!("member {id}: poll: {e}");
                continue;
            }
        };
        if recs.is_empty() {
            continue;
        }
        {
            let mut l = log.lock().unwrap();
            for r in &recs {
                l.push(Ev::Processed {
                    member: id,
                    partition: r.partition,
                    offset: r.offset,
                });
            }
        }
        // Commit what poll has returned; log what the broker stored.
        match c.commit().await {
            Ok(committed) => {
                let mut l = log.lock().unwrap();
                for (tp, o) in committed {
                    l.push(Ev::Committed {
                        member: id,
                        partition: tp.partition,
                        next: o.offset,
                    });
                }
            }
            Err(e) => eprintln!("member {id}: commit failed (rebalance): {e}"),
        }
    }
}

purekafka_integration::on_mock_and_kafka! {
fn members_join_and_leave_and_nothing_committed_is_processed_again(broker: 3) {
    run(broker, AssignmentStrategy::Range);
}

/// The same with incremental (cooperative) rebalancing.
fn cooperative_sticky_members_join_and_leave(broker: 3) {
    run(broker, AssignmentStrategy::CooperativeSticky);
}
}

fn run(broker: &Broker, strategy: AssignmentStrategy) {
    let topic = unique_topic("group");
    let group = unique_topic("group-id");
    const N: usize = 12_000;
    broker.create_topic(&topic, 12).unwrap();
    let bootstrap = broker.bootstrap().to_string();
    rt().block_on(async {
        let log: Arc<Mutex<Vec<Ev>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut consumers = Vec::new();
        let mut listeners = Vec::new();
        for _ in 0..3 {
            let c = Consumer::new(consumer_config(broker, &group, strategy)).await.unwrap();
            let l = Arc::new(Listener::default());
            c.set_rebalance_listener(l.clone()).unwrap();
            c.subscribe(&[topic.as_str()]).unwrap();
            consumers.push(c);
            listeners.push(l);
        }
        let mut tasks = Vec::new();
        for (i, c) in consumers.iter().enumerate() {
            tasks.push(tokio::spawn(member(i, c.clone(), log.clone(), stop.clone())));
        }
        // A stream of records while members come and go.
        let producer = Producer::new(ProducerConfig::new(&bootstrap)).await.unwrap();
        let mut split_checked = false;
        let mut fourth = None;
        for i in 0..N {
            let k = format!("k{i}");
            let v = format!("v{i}");
            // Not waiting for the delivery: the stream goes on.
            drop(producer.enqueue(ProducerRecord::to(&topic).key(&k).value(&v)).await.unwrap());
            if i % 500 == 499 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if i == 4_000 {
                // The three members split the twelve partitions.
                let deadline = Instant::now() + Duration::from_secs(40);
                loop {
                    let sets: Vec<Vec<TopicPartition>> = listeners.iter().map(|l| l.assigned.lock().unwrap().clone()).collect();
                    let total: usize = sets.iter().map(Vec::len).sum();
                    let distinct: HashSet<&TopicPartition> = sets.iter().flatten().collect();
                    if total == 12 && distinct.len() == 12 && sets.iter().all(|s| !s.is_empty()) {
                        split_checked = true;
                        break;
                    }
                    assert!(Instant::now() < deadline, "partitions not split among 3 members: {sets:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let c = Consumer::new(consumer_config(broker, &group, strategy)).await.unwrap();
                let l = Arc::new(Listener::default());
                c.set_rebalance_listener(l.clone()).unwrap();
                c.subscribe(&[topic.as_str()]).unwrap();
                tasks.push(tokio::spawn(member(3, c.clone(), log.clone(), stop.clone())));
                fourth = Some((c, l));
            }
            if i == 8_000 {
                // A member leaves mid-stream.
                consumers[0].close().await.unwrap();
            }
        }
        producer.flush().await.unwrap();
        assert!(split_checked);
        // Wait until every record was processed by someone.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let seen: HashSet<(i32, i64)> = log
                .lock()
                .unwrap()
                .iter()
                .filter_map(|e| match e {
                    Ev::Processed { partition, offset, .. } => Some((*partition, *offset)),
                    _ => None,
                })
                .collect();
            if seen.len() >= N {
                break;
            }
            assert!(Instant::now() < deadline, "only {} of {N} records processed", seen.len());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        let (c4, l4) = fourth.unwrap();
        let all = || listeners.iter().chain(std::iter::once(&l4));
        let revoked: usize = all().map(|l| l.revoked.load(Ordering::Relaxed)).sum();
        let kept: usize = all().map(|l| l.revoked_and_kept.load(Ordering::Relaxed)).sum();
        eprintln!("{:?} {strategy:?}: {revoked} partitions revoked, {kept} of them handed back to the member at once", broker.kind());
        if strategy == AssignmentStrategy::CooperativeSticky {
            // Incremental rebalancing revokes only partitions that move to
            // another member. (How many move depends on how the first
            // members' joins fall into generations: counting them is no
            // test.)
            assert_eq!(kept, 0, "cooperative rebalances revoked partitions that stayed ({revoked} revoked)");
        } else {
            // Eager revokes everything each round: when the fourth member
            // joins, the others keep most of theirs, revoked and given back.
            assert!(kept > 0, "eager rebalances revoked only partitions that moved ({revoked} revoked)");
        }
        assert!(!l4.assigned.lock().unwrap().is_empty(), "the fourth member never got partitions");
        let log = log.lock().unwrap().clone();
        // No record is processed at or after a committed position of its partition.
        let mut committed: BTreeMap<i32, i64> = BTreeMap::new();
        let mut members_seen = HashSet::new();
        let history = |p: i32, upto: usize| -> String {
            let mut h: Vec<String> = Vec::new();
            let mut last: Option<(usize, bool)> = None;
            for e in &log[..=upto] {
                let (m, part, commit, o) = match e {
                    Ev::Processed { member, partition, offset } => (*member, *partition, false, *offset),
                    Ev::Committed { member, partition, next } => (*member, *partition, true, *next),
                };
                if part != p {
                    continue;
                }
                if last != Some((m, commit)) || commit {
                    h.push(format!("m{m} {} {o}", if commit { "committed" } else { "from" }));
                }
                last = Some((m, commit));
            }
            h.join(", ")
        };
        for (idx, e) in log.iter().enumerate() {
            match e {
                Ev::Committed { partition, next, .. } => {
                    let c = committed.entry(*partition).or_insert(0);
                    *c = (*c).max(*next);
                }
                Ev::Processed { member, partition, offset } => {
                    members_seen.insert(*member);
                    let c = committed.get(partition).copied().unwrap_or(0);
                    assert!(
                        *offset >= c,
                        "member {member} processed {partition}@{offset} after offset {c} was committed; history: {}",
                        history(*partition, idx)
                    );
                }
            }
        }
        assert_eq!(members_seen.len(), 4, "every member processed records");
        for c in consumers.iter().skip(1) {
            c.close().await.unwrap();
        }
        c4.close().await.unwrap();
    });
}
