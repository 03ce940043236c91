//! KIP-848 consumer groups (`group.protocol=consumer`) against Kafka 4.4:
//! the broker assigns, members reconcile incrementally.
//!
//! - five members (three purekafka, two Java) share a 12-partition group
//!   while members join and leave: every record is read, nothing a member
//!   committed is read again, and partitions move without the ones that
//!   stay being revoked;
//! - a static member restarted within the session timeout gets its
//!   partitions back;
//! - a regex subscription (evaluated by the broker) picks up a topic
//!   created later;
//! - a classic group is upgraded online, member by member;
//! - a member that stops polling for `max.poll.interval.ms` leaves (its
//!   partitions lost, taken over) and rejoins at its next poll;
//! - classic-only settings with `group.protocol=consumer` are refused.

use purekafka::TopicPartition;
use purekafka::config::{ConsumerConfig, GroupProtocol, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, RebalanceListener};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka_integration::java::{JavaConsume, JavaGroupMember};
use purekafka_integration::{Cluster, cluster_or_skip, rt, unique_topic};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn config(broker: &Cluster, group: &str) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(broker.bootstrap());
    cfg.group_id = Some(group.to_string());
    cfg.group_protocol = GroupProtocol::Consumer;
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.enable_auto_commit = false;
    cfg.fetch_max_wait = Duration::from_millis(100);
    cfg.max_poll_records = 50;
    cfg
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Callback {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
    Lost(Vec<i32>),
}

/// Records the rebalance callbacks.
#[derive(Default)]
struct Log(Mutex<Vec<Callback>>);

fn parts(p: &[TopicPartition]) -> Vec<i32> {
    let mut v: Vec<i32> = p.iter().map(|tp| tp.partition).collect();
    v.sort();
    v
}

impl RebalanceListener for Log {
    fn on_partitions_assigned(&self, p: &[TopicPartition]) {
        self.0.lock().unwrap().push(Callback::Assigned(parts(p)));
    }
    fn on_partitions_revoked(&self, p: &[TopicPartition]) {
        self.0.lock().unwrap().push(Callback::Revoked(parts(p)));
    }
    fn on_partitions_lost(&self, p: &[TopicPartition]) {
        self.0.lock().unwrap().push(Callback::Lost(parts(p)));
    }
}

impl Log {
    fn events(&self) -> Vec<Callback> {
        self.0.lock().unwrap().clone()
    }
}

/// What one of our members did: records read (partition, offset, value, when)
/// and commits (partition, offset, when), on one clock.
#[derive(Default)]
struct Work {
    read: Vec<(i32, i64, String, Instant)>,
    commits: Vec<(i32, i64, Instant)>,
}

/// One of our members: polls, commits after every poll that returned
/// records, until `stop`; then closes.
struct Member {
    consumer: Arc<Consumer>,
    log: Arc<Log>,
    work: Arc<Mutex<Work>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    async fn start(cfg: ConsumerConfig, subscribe: impl FnOnce(&Consumer)) -> Member {
        let consumer = Arc::new(Consumer::new(cfg).await.unwrap());
        let log = Arc::new(Log::default());
        consumer.set_rebalance_listener(log.clone()).unwrap();
        subscribe(&consumer);
        let work = Arc::new(Mutex::new(Work::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (c, work, stop) = (consumer.clone(), work.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let records = match c.poll(Duration::from_millis(100)).await {
                        Ok(r) => r,
                        Err(e) => panic!("poll failed: {e}"),
                    };
                    if records.is_empty() {
                        continue;
                    }
                    let now = Instant::now();
                    {
                        let mut w = work.lock().unwrap();
                        for r in &records {
                            let v = String::from_utf8(r.value.clone().unwrap_or_default().to_vec())
                                .unwrap();
                            w.read.push((r.partition, r.offset, v, now));
                        }
                    }
                    match c.commit().await {
                        Ok(done) => {
                            let at = Instant::now();
                            let mut w = work.lock().unwrap();
                            for (tp, om) in done {
                                w.commits.push((tp.partition, om.offset, at));
                            }
                        }
                        // A partition may have moved meanwhile (at-least-once).
                        Err(e) => eprintln!("commit failed: {e}"),
                    }
                }
            })
        };
        Member {
            consumer,
            log,
            work,
            stop,
            task,
        }
    }

    fn owned(&self) -> BTreeSet<i32> {
        self.consumer
            .assignment()
            .into_iter()
            .map(|tp| tp.partition)
            .collect()
    }

    async fn stop(self) -> (Arc<Log>, Arc<Mutex<Work>>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        self.consumer.close().await.unwrap();
        (self.log, self.work)
    }
}

async fn produce(broker: &Cluster, topic: &str, from: usize, n: usize, partitions: i32) {
    let producer = Producer::new(
        ProducerConfig::from_properties([("bootstrap.servers", broker.bootstrap())]).unwrap(),
    )
    .await
    .unwrap();
    let mut sent = Vec::with_capacity(n);
    for i in from..from + n {
        let v = format!("record-{i}");
        let r = ProducerRecord::to(topic)
            .partition((i % partitions as usize) as i32)
            .value(&v);
        sent.push(producer.enqueue(r).await.unwrap());
    }
    for d in sent {
        d.await.unwrap();
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
}

/// Waits until `done` holds, polling every 100 ms, for `secs` seconds.
async fn wait_for(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "not within {secs}s: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Replays a member's callbacks: nothing assigned twice, only owned
/// partitions revoked, and no revocation of everything while the member
/// stays (`closing_at`: the index of the close's own revocation, if any).
fn check_incremental(name: &str, events: &[Callback]) -> usize {
    let mut owned: BTreeSet<i32> = BTreeSet::new();
    let mut partial_moves = 0;
    for (i, e) in events.iter().enumerate() {
        match e {
            Callback::Assigned(p) => {
                for x in p {
                    assert!(
                        owned.insert(*x),
                        "{name}: {x} assigned while owned ({events:?})"
                    );
                }
            }
            Callback::Revoked(p) => {
                for x in p {
                    assert!(
                        owned.remove(x),
                        "{name}: {x} revoked but not owned ({events:?})"
                    );
                }
                let last = i + 1 == events.len();
                if !last {
                    assert!(
                        !owned.is_empty(),
                        "{name}: everything revoked in a rebalance ({events:?})"
                    );
                    partial_moves += 1;
                }
            }
            Callback::Lost(p) => panic!("{name}: partitions lost {p:?} ({events:?})"),
        }
    }
    partial_moves
}

#[test]
fn classic_only_settings_are_refused_with_group_protocol_consumer() {
    for (name, value) in [
        ("session.timeout.ms", "10000"),
        ("heartbeat.interval.ms", "500"),
        ("partition.assignment.strategy", "cooperative-sticky"),
    ] {
        let e = ConsumerConfig::from_properties([
            ("bootstrap.servers", "localhost:9092"),
            ("group.id", "g"),
            ("group.protocol", "consumer"),
            (name, value),
        ])
        .unwrap_err();
        assert_eq!(e.property, name);
        let text = e.to_string();
        assert!(
            text.contains(name) && text.contains("group.protocol=consumer"),
            "{text}"
        );
    }
    let e = ConsumerConfig::from_properties([
        ("bootstrap.servers", "localhost:9092"),
        ("group.remote.assignor", "uniform"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("group.protocol=consumer"), "{e}");
}

#[test]
fn five_members_of_both_clients_share_a_group_while_members_come_and_go() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("kip848-five");
    let group = unique_topic("kip848-five-g");
    broker.create_topic(&topic, 12).unwrap();
    let n1 = 1200;
    let n2 = 1200;
    let mut java_opts = JavaConsume::in_group(group.clone());
    java_opts.group_protocol = Some("consumer".into());
    java_opts.commit = true;
    java_opts.extra = vec![("max.poll.records".into(), "50".into())];
    rt().block_on(async {
        produce(broker, &topic, 0, n1, 12).await;
        let sub = |c: &Consumer| c.subscribe(&[topic.as_str()]).unwrap();
        let a = Member::start(config(broker, &group), sub).await;
        wait_for(30, "the first member owns all 12", || a.owned().len() == 12).await;
        let j1 = JavaGroupMember::start(broker, &topic, &java_opts, Duration::from_secs(120))
            .unwrap();
        let b = Member::start(config(broker, &group), sub).await;
        let j2 = JavaGroupMember::start(broker, &topic, &java_opts, Duration::from_secs(120))
            .unwrap();
        let c = Member::start(config(broker, &group), sub).await;
        let java_owned = |j: &JavaGroupMember| j.assignment().unwrap_or_default().len();
        wait_for(45, "five members split the 12 partitions", || {
            let mut all: Vec<i32> = Vec::new();
            for m in [&a, &b, &c] {
                all.extend(m.owned());
            }
            all.extend(j1.assignment().unwrap_or_default());
            all.extend(j2.assignment().unwrap_or_default());
            let distinct: BTreeSet<i32> = all.iter().copied().collect();
            [&a, &b, &c].iter().all(|m| !m.owned().is_empty())
                && java_owned(&j1) > 0
                && java_owned(&j2) > 0
                && all.len() == 12
                && distinct.len() == 12
        })
        .await;
        produce(broker, &topic, n1, n2, 12).await;
        // Members leave: one of ours, one Java; the rest take over.
        let (b_log, b_work) = b.stop().await;
        let j1_read = tokio::task::block_in_place(|| j1.stop()).unwrap();
        wait_for(45, "three members own the 12 partitions", || {
            let mut all: Vec<i32> = a.owned().into_iter().chain(c.owned()).collect();
            all.extend(j2.assignment().unwrap_or_default());
            all.len() == 12 && all.iter().copied().collect::<BTreeSet<_>>().len() == 12
        })
        .await;
        let read = |w: &Arc<Mutex<Work>>| w.lock().unwrap().read.len();
        wait_for(45, "every record read", || {
            read(&a.work) + read(&b_work) + read(&c.work) + j1_read.len() + j2.record_count()
                >= n1 + n2
        })
        .await;
        // Let the last commits land, then stop everyone.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (a_log, a_work) = a.stop().await;
        let (c_log, c_work) = c.stop().await;
        let j2_read = tokio::task::block_in_place(|| j2.stop()).unwrap();

        // The union covers every record.
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let ours = [("a", &a_work), ("b", &b_work), ("c", &c_work)];
        for (_, w) in &ours {
            for (_, _, v, _) in &w.lock().unwrap().read {
                *seen.entry(v.clone()).or_default() += 1;
            }
        }
        for r in j1_read.iter().chain(&j2_read) {
            let v = String::from_utf8(r.record.value.clone().unwrap()).unwrap();
            *seen.entry(v).or_default() += 1;
        }
        let want: BTreeSet<String> = (0..n1 + n2).map(|i| format!("record-{i}")).collect();
        let got: BTreeSet<String> = seen.keys().cloned().collect();
        assert_eq!(got, want, "the members together read every record");
        // Nothing committed is read again: once one of our members
        // committed past a record, no member of ours read it afterwards.
        for (x, wx) in &ours {
            for (p, committed, at) in &wx.lock().unwrap().commits {
                for (y, wy) in &ours {
                    if x == y {
                        continue;
                    }
                    for (q, offset, v, when) in &wy.lock().unwrap().read {
                        assert!(
                            !(q == p && offset < committed && when > at),
                            "{y} read {v} ({p}@{offset}) after {x} committed {committed}"
                        );
                    }
                }
            }
        }
        let twice: Vec<&String> = seen.iter().filter(|(_, n)| **n > 1).map(|(v, _)| v).collect();
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        for v in &twice {
            let mut who = Vec::new();
            for (x, w) in &ours {
                for (p, _, r, _) in &w.lock().unwrap().read {
                    if r == *v {
                        who.push(format!("{x}:{p}"));
                    }
                }
            }
            for (x, rs) in [("j1", &j1_read), ("j2", &j2_read)] {
                for r in rs.iter() {
                    if r.record.value.as_deref() == Some(v.as_bytes()) {
                        who.push(format!("{x}:{}", r.record.partition.unwrap_or(-1)));
                    }
                }
            }
            *by.entry(who.join(",")).or_default() += 1;
        }
        // Every member commits what it read before its next poll, and a
        // partition moves only at a poll (Java's and ours): none is read twice.
        assert!(
            twice.is_empty(),
            "records read twice: {} (by member:partition: {by:?})",
            twice.len()
        );
        // Incremental: partitions moved without the staying ones revoked.
        let moves = check_incremental("a", &a_log.events())
            + check_incremental("b", &b_log.events())
            + check_incremental("c", &c_log.events());
        let a_events = a_log.events();
        assert!(
            moves >= 2 && a_events.iter().any(|e| matches!(e, Callback::Revoked(_))),
            "members joined, so the first gave some partitions up while keeping others: {a_events:?}"
        );
    });
}

#[test]
fn a_static_member_restarted_in_time_gets_its_partitions_back() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("kip848-static");
    let group = unique_topic("kip848-static-g");
    broker.create_topic(&topic, 6).unwrap();
    rt().block_on(async {
        let sub = |c: &Consumer| c.subscribe(&[topic.as_str()]).unwrap();
        let static_cfg = |id: &str| {
            let mut c = config(broker, &group);
            c.group_instance_id = Some(id.to_string());
            c
        };
        let s1 = Member::start(static_cfg("s1"), sub).await;
        let s2 = Member::start(static_cfg("s2"), sub).await;
        wait_for(30, "two static members split 6 partitions", || {
            let (x, y) = (s1.owned(), s2.owned());
            x.len() + y.len() == 6 && x.is_disjoint(&y) && !x.is_empty() && !y.is_empty()
        })
        .await;
        // Stable for a moment.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = s1.owned();
        let s2_before = s2.log.events().len();
        let (s1_log, _) = s1.stop().await;
        assert!(
            matches!(s1_log.events().last(), Some(Callback::Revoked(p)) if p.iter().copied().collect::<BTreeSet<_>>() == before),
            "close revokes: {:?}",
            s1_log.events()
        );
        // Within the broker's session timeout (10 s in the harness).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let again = Member::start(static_cfg("s1"), sub).await;
        wait_for(20, "the restarted member owns its partitions again", || {
            again.owned() == before
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(again.owned(), before);
        assert_eq!(
            s2.log.events().len(),
            s2_before,
            "the other member was not rebalanced: {:?}",
            s2.log.events()
        );
        again.stop().await;
        s2.stop().await;
    });
}

#[test]
fn a_regex_subscription_picks_up_a_topic_created_later() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let prefix = unique_topic("kip848-re");
    let first = format!("{prefix}-a");
    let later = format!("{prefix}-b");
    let group = unique_topic("kip848-re-g");
    broker.create_topic(&first, 2).unwrap();
    rt().block_on(async {
        produce(broker, &first, 0, 10, 2).await;
        let pattern = format!("{}-.*", prefix.replace('.', "\\."));
        let m = Member::start(config(broker, &group), |c| {
            c.subscribe_pattern(&pattern).unwrap()
        })
        .await;
        let topics = |m: &Member| -> BTreeSet<String> {
            m.consumer
                .assignment()
                .into_iter()
                .map(|tp| tp.topic.to_string())
                .collect()
        };
        wait_for(30, "the first topic assigned", || {
            topics(&m).contains(&first)
        })
        .await;
        broker.create_topic(&later, 3).unwrap();
        produce(broker, &later, 10, 9, 3).await;
        wait_for(45, "the topic created later assigned", || {
            topics(&m).contains(&later) && m.consumer.assignment().len() == 5
        })
        .await;
        wait_for(30, "its records read", || {
            m.work.lock().unwrap().read.len() == 19
        })
        .await;
        m.stop().await;
    });
}

#[test]
fn a_classic_group_is_upgraded_online_without_losing_a_record() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("kip848-upgrade");
    let group = unique_topic("kip848-upgrade-g");
    broker.create_topic(&topic, 6).unwrap();
    rt().block_on(async {
        let sub = |c: &Consumer| c.subscribe(&[topic.as_str()]).unwrap();
        let classic = || {
            let mut c = config(broker, &group);
            c.group_protocol = GroupProtocol::Classic;
            c.heartbeat_interval = Duration::from_millis(500);
            c.session_timeout = Duration::from_secs(6);
            c
        };
        let mut members = vec![
            Member::start(classic(), sub).await,
            Member::start(classic(), sub).await,
        ];
        let owned_all = |ms: &[Member]| {
            let all: Vec<i32> = ms.iter().flat_map(|m| m.owned()).collect();
            all.len() == 6
                && all.iter().copied().collect::<BTreeSet<_>>().len() == 6
                && ms.iter().all(|m| !m.owned().is_empty())
        };
        wait_for(30, "the classic group split", || owned_all(&members)).await;
        let mut works = Vec::new();
        let mut next = 0;
        // Restart the members one by one with the consumer protocol,
        // producing all along.
        for _ in 0..2 {
            produce(broker, &topic, next, 300, 6).await;
            next += 300;
            let old = members.remove(0);
            let (_, w) = old.stop().await;
            works.push(w);
            members.push(Member::start(config(broker, &group), sub).await);
            produce(broker, &topic, next, 300, 6).await;
            next += 300;
            wait_for(45, "the mixed group split", || owned_all(&members)).await;
        }
        produce(broker, &topic, next, 300, 6).await;
        next += 300;
        let read = |ws: &[Arc<Mutex<Work>>], ms: &[Member]| -> BTreeSet<String> {
            ws.iter()
                .chain(ms.iter().map(|m| &m.work))
                .flat_map(|w| {
                    w.lock()
                        .unwrap()
                        .read
                        .iter()
                        .map(|(_, _, v, _)| v.clone())
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        wait_for(45, "every record read", || {
            read(&works, &members).len() == next
        })
        .await;
        let want: BTreeSet<String> = (0..next).map(|i| format!("record-{i}")).collect();
        assert_eq!(read(&works, &members), want);
        for m in members {
            let (log, w) = m.stop().await;
            assert!(
                !log.events().iter().any(|e| matches!(e, Callback::Lost(_))),
                "{:?}",
                log.events()
            );
            works.push(w);
        }
    });
}

#[test]
fn a_member_that_stops_polling_leaves_and_rejoins_at_its_next_poll() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("kip848-poll");
    let group = unique_topic("kip848-poll-g");
    broker.create_topic(&topic, 4).unwrap();
    rt().block_on(async {
        let sub = |c: &Consumer| c.subscribe(&[topic.as_str()]).unwrap();
        let stays = Member::start(config(broker, &group), sub).await;
        let mut cfg = config(broker, &group);
        cfg.max_poll_interval = Duration::from_secs(3);
        let slow = Consumer::new(cfg).await.unwrap();
        let log = Arc::new(Log::default());
        slow.set_rebalance_listener(log.clone()).unwrap();
        slow.subscribe(&[topic.as_str()]).unwrap();
        let owned = |c: &Consumer| c.assignment().len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(owned(&slow) > 0 && owned(&slow) + stays.owned().len() == 4) {
            slow.poll(Duration::from_millis(100)).await.unwrap();
            assert!(Instant::now() < deadline, "no split within 30s");
        }
        // No poll for longer than max.poll.interval.ms: the member leaves,
        // its partitions are lost and go to the other member.
        wait_for(20, "the other member owns all 4", || {
            stays.owned().len() == 4
        })
        .await;
        assert_eq!(owned(&slow), 0);
        assert!(
            matches!(log.events().last(), Some(Callback::Lost(p)) if !p.is_empty()),
            "{:?}",
            log.events()
        );
        // The next poll rejoins.
        let deadline = Instant::now() + Duration::from_secs(30);
        while owned(&slow) == 0 {
            slow.poll(Duration::from_millis(100)).await.unwrap();
            assert!(Instant::now() < deadline, "no rejoin within 30s");
        }
        slow.close().await.unwrap();
        stays.stop().await;
    });
}
