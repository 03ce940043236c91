//! Share groups (KIP-932) against Apache Kafka 4.4: purekafka's
//! `ShareConsumer`, alone, several at once, and beside Java's
//! `KafkaShareConsumer` (scripts/java/JavaSharePeer.java).
//!
//! What is proven, on the real broker:
//! - several share consumers on one topic each get distinct records (no
//!   record is held by two at once), and every record is accepted by one;
//! - released records come back with a higher delivery count; rejected
//!   ones never come back; accepted ones are done for the group;
//! - a consumer that stops acknowledging (hangs, or is killed) has its
//!   records delivered to the others once their locks time out;
//! - at-least-once overall, with purekafka and Java members mixed.
//!
//! The group's `share.auto.offset.reset` is set to `earliest` (a GROUP
//! config, through the Java admin client) so records written before a
//! member joins are delivered.
//!
//! The acknowledgement rule every member follows (the Java peer too): a
//! value starting with `release` is released on its first delivery and
//! accepted after, one starting with `reject` is rejected, anything else
//! accepted.

use purekafka::config::{
    ConsumerConfig, ProducerConfig, ShareAcknowledgementMode, ShareAcquireMode,
};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::share::{AcknowledgeType, AcknowledgementResult, ShareConsumer, ShareRecord};
use purekafka_integration::java::{JavaShareMember, java_group_config};
use purekafka_integration::{Cluster, Feature, cluster_or_skip, require, rt, unique_topic};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The broker's record lock for these tests' groups (the harness allows
/// 1 s and up; its default is 5 s).
const LOCK_MS: u64 = 2000;

/// A topic with `partitions` partitions and a share group reading it from
/// the start with a short record lock. `None`: skip (printed).
fn setup(broker: &Cluster, name: &str, partitions: u32) -> Option<(String, String)> {
    setup_with_lock(broker, name, partitions, LOCK_MS)
}

/// [`setup`] with a record lock of `lock_ms`.
fn setup_with_lock(
    broker: &Cluster,
    name: &str,
    partitions: u32,
    lock_ms: u64,
) -> Option<(String, String)> {
    let topic = unique_topic(name);
    let group = unique_topic(&format!("{name}-group"));
    broker.create_topic(&topic, partitions).unwrap();
    match java_group_config(
        broker,
        &group,
        &[
            ("share.auto.offset.reset", "earliest"),
            ("share.record.lock.duration.ms", &lock_ms.to_string()),
        ],
    ) {
        Ok(()) => Some((topic, group)),
        Err(e) if e.is_not_installed() && !purekafka_integration::in_ci() => {
            purekafka_integration::skip_notice(&e.to_string());
            None
        }
        Err(e) => panic!("setting the share group's configs: {e}"),
    }
}

fn config(broker: &Cluster, group: &str, mode: ShareAcknowledgementMode) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(broker.bootstrap());
    cfg.group_id = Some(group.to_owned());
    cfg.share_acknowledgement_mode = mode;
    cfg.max_poll_records = 50;
    cfg.fetch_max_wait = Duration::from_millis(200);
    cfg
}

async fn produce(broker: &Cluster, topic: &str, values: &[String]) {
    let p = Producer::new(ProducerConfig::new(broker.bootstrap()))
        .await
        .unwrap();
    let mut pending = Vec::new();
    for v in values {
        pending.push(
            p.enqueue(ProducerRecord::to(topic).value(v.as_str()))
                .await
                .unwrap(),
        );
    }
    for d in pending {
        d.await.unwrap();
    }
    p.close(Duration::from_secs(10)).await.unwrap();
}

/// Writes `values` one record per batch (each send awaited), so that no
/// fetch can acquire them all at once (a fetch takes whole batches), in
/// turn to partitions `0..partitions`.
async fn produce_one_by_one(broker: &Cluster, topic: &str, values: &[String], partitions: i32) {
    let mut cfg = ProducerConfig::new(broker.bootstrap());
    cfg.linger = Duration::ZERO;
    let p = Producer::new(cfg).await.unwrap();
    for (i, v) in values.iter().enumerate() {
        let partition = i32::try_from(i).unwrap() % partitions;
        p.send(
            ProducerRecord::to(topic)
                .partition(partition)
                .value(v.as_str()),
        )
        .await
        .unwrap_or_else(|e| panic!("writing record {i} to {topic}-{partition}: {e}"));
    }
    p.close(Duration::from_secs(10)).await.unwrap();
}

/// The shared acknowledgement rule (see the module docs).
fn decide(r: &ShareRecord) -> AcknowledgeType {
    let v = r.value.as_deref().unwrap_or_default();
    if v.starts_with(b"reject") {
        AcknowledgeType::Reject
    } else if v.starts_with(b"release") && r.delivery_count <= 1 {
        AcknowledgeType::Release
    } else {
        AcknowledgeType::Accept
    }
}

/// A record as one of several implicit members saw it: partition, offset,
/// delivery count, member.
type Seen = (i32, i64, u16, usize);

/// One delivery, as a member saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    partition: i32,
    offset: i64,
    delivery_count: u16,
    value: String,
    ack: &'static str,
    member: String,
}

fn ack_name(a: AcknowledgeType) -> &'static str {
    match a {
        AcknowledgeType::Accept => "accept",
        AcknowledgeType::Release => "release",
        AcknowledgeType::Reject => "reject",
    }
}

/// A purekafka member in explicit mode following the rule, until `stop`.
async fn explicit_member(
    c: ShareConsumer,
    name: String,
    log: Arc<Mutex<Vec<Delivery>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let f = failures.clone();
    c.set_acknowledgement_commit_callback(move |rs: &[AcknowledgementResult]| {
        for r in rs {
            if let Err(e) = &r.result {
                f.lock().unwrap().push(format!("{}: {e}", r.partition));
            }
        }
    });
    while !stop.load(std::sync::atomic::Ordering::Acquire) {
        let records = c.poll(Duration::from_millis(200)).await.unwrap();
        for r in &records {
            let a = decide(r);
            log.lock().unwrap().push(Delivery {
                partition: r.partition,
                offset: r.offset,
                delivery_count: r.delivery_count,
                value: String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into(),
                ack: ack_name(a),
                member: name.clone(),
            });
            c.acknowledge(r, a).unwrap();
        }
        if !records.is_empty() {
            for (tp, result) in c.commit_sync(Duration::from_secs(10)).await.unwrap() {
                assert!(result.is_ok(), "{name}: commit_sync on {tp}: {result:?}");
            }
        }
    }
    c.close(Duration::from_secs(10)).await.unwrap();
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{name}: acknowledgements failed: {failures:?}"
    );
}

/// Every record's deliveries, by (partition, offset), in delivery-count order.
fn by_record(log: &[Delivery]) -> BTreeMap<(i32, i64), Vec<Delivery>> {
    let mut m: BTreeMap<(i32, i64), Vec<Delivery>> = BTreeMap::new();
    for d in log {
        m.entry((d.partition, d.offset))
            .or_default()
            .push(d.clone());
    }
    for v in m.values_mut() {
        v.sort_by_key(|d| d.delivery_count);
    }
    m
}

/// A new member of the group gets nothing within `wait`: every record was
/// accepted or rejected for good.
async fn group_is_drained(broker: &Cluster, group: &str, topic: &str, wait: Duration) {
    let c = ShareConsumer::new(config(broker, group, ShareAcknowledgementMode::Explicit))
        .await
        .unwrap();
    c.subscribe(&[topic]).unwrap();
    let until = Instant::now() + wait;
    while Instant::now() < until {
        let got = c.poll(Duration::from_millis(300)).await.unwrap();
        assert!(
            got.is_empty(),
            "a new member got records the group had finished: {:?}",
            got.iter()
                .map(|r| (r.partition, r.offset, r.delivery_count))
                .collect::<Vec<_>>()
        );
    }
    c.close(Duration::from_secs(10)).await.unwrap();
}

#[test]
fn three_share_consumers_get_distinct_records_and_accept_them_all() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    // Two partitions for three members: the broker gives at least one
    // partition to two members at once, who then compete for its records.
    let Some((topic, group)) = setup(broker, "share-distinct", 2) else {
        return;
    };
    let total = 150usize;
    rt().block_on(async {
        let values: Vec<String> = (0..total).map(|i| format!("v{i}")).collect();
        // (partition, offset, delivery count, member)
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let assigned = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for m in 0..3 {
            let c = ShareConsumer::new(config(broker, &group, ShareAcknowledgementMode::Implicit))
                .await
                .unwrap();
            c.subscribe(&[topic.as_str()]).unwrap();
            let log = log.clone();
            let assigned = assigned.clone();
            tasks.push(tokio::spawn(async move {
                let until = Instant::now() + Duration::from_secs(40);
                let mut quiet_since = Instant::now();
                let mut counted = false;
                while Instant::now() < until {
                    let got = c.poll(Duration::from_millis(300)).await.unwrap();
                    if !counted && !c.assignment().is_empty() {
                        counted = true;
                        assigned.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    }
                    if got.is_empty() {
                        if log.lock().unwrap().len() >= total
                            && quiet_since.elapsed() > Duration::from_secs(2)
                        {
                            break;
                        }
                        continue;
                    }
                    quiet_since = Instant::now();
                    let mut l = log.lock().unwrap();
                    for r in &got {
                        l.push((r.partition, r.offset, r.delivery_count, m));
                    }
                }
                // Implicit mode: close accepts the last poll's records.
                c.close(Duration::from_secs(10)).await.unwrap();
            }));
        }
        // Every member has its partitions before the records exist.
        let start = Instant::now();
        while assigned.load(std::sync::atomic::Ordering::Acquire) < 3 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "members without partitions"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        produce_one_by_one(broker, &topic, &values, 2).await;
        for t in tasks {
            t.await.unwrap();
        }
        let log = log.lock().unwrap().clone();
        let mut seen = BTreeSet::new();
        for (p, o, dc, m) in &log {
            assert!(seen.insert((*p, *o)), "{p}-{o} delivered twice: {log:?}");
            assert_eq!(*dc, 1, "{p}-{o} (member {m}) delivered more than once");
        }
        assert_eq!(seen.len(), total, "every record delivered once");
        let members: BTreeSet<usize> = log.iter().map(|x| x.3).collect();
        assert_eq!(
            members.len(),
            3,
            "every member got records: members {members:?}"
        );
        group_is_drained(broker, &group, &topic, Duration::from_secs(3)).await;
    });
}

#[test]
fn released_records_return_with_a_higher_delivery_count_and_rejected_never() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    let Some((topic, group)) = setup(broker, "share-release", 1) else {
        return;
    };
    rt().block_on(async {
        let values: Vec<String> = (0..30)
            .map(|i| match i % 3 {
                0 => format!("release-{i}"),
                1 => format!("reject-{i}"),
                _ => format!("ok-{i}"),
            })
            .collect();
        produce(broker, &topic, &values).await;
        let c = ShareConsumer::new(config(broker, &group, ShareAcknowledgementMode::Explicit))
            .await
            .unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();
        let log: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let records = c.poll(Duration::from_millis(300)).await.unwrap();
            // Explicit mode: polling again before acknowledging is refused.
            if let Some(r) = records.first() {
                let e = c.poll(Duration::ZERO).await.unwrap_err();
                assert!(e.to_string().contains("not acknowledged"), "{e}");
                let e = c
                    .acknowledge_offset(
                        &r.topic,
                        r.partition,
                        r.offset + 1_000_000,
                        AcknowledgeType::Accept,
                    )
                    .unwrap_err();
                assert!(
                    e.to_string()
                        .contains("not a record the last poll returned"),
                    "{e}"
                );
            }
            for r in &records {
                let a = decide(r);
                log.lock().unwrap().push(Delivery {
                    partition: r.partition,
                    offset: r.offset,
                    delivery_count: r.delivery_count,
                    value: String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into(),
                    ack: ack_name(a),
                    member: "ours".into(),
                });
                c.acknowledge(r, a).unwrap();
            }
            if let Some(r) = records.first() {
                let e = c.acknowledge(r, AcknowledgeType::Accept).unwrap_err();
                assert!(e.to_string().contains("acknowledged already"), "{e}");
                let results = c.commit_sync(Duration::from_secs(10)).await.unwrap();
                assert_eq!(results.len(), 1, "{results:?}");
                for (tp, result) in results {
                    assert!(result.is_ok(), "commit_sync on {tp}: {result:?}");
                }
            }
            let done = by_record(&log.lock().unwrap())
                .values()
                .filter(|ds| ds.last().is_some_and(|d| d.ack != "release"))
                .count();
            if done == values.len() || Instant::now() > until {
                break;
            }
        }
        assert_eq!(
            c.acquisition_lock_timeout(),
            Some(Duration::from_millis(LOCK_MS))
        );
        c.close(Duration::from_secs(10)).await.unwrap();
        let log = log.lock().unwrap().clone();
        let records = by_record(&log);
        assert_eq!(
            records.len(),
            values.len(),
            "every record delivered: {log:?}"
        );
        for ((_, offset), ds) in &records {
            let v = &values[usize::try_from(*offset).unwrap()];
            let counts: Vec<u16> = ds.iter().map(|d| d.delivery_count).collect();
            if v.starts_with("release") {
                assert_eq!(
                    counts,
                    vec![1, 2],
                    "{v}: released once, then back with count 2"
                );
                assert_eq!(ds[1].ack, "accept");
            } else {
                assert_eq!(
                    counts,
                    vec![1],
                    "{v}: delivered once (rejected or accepted)"
                );
            }
        }
        group_is_drained(broker, &group, &topic, Duration::from_secs(3)).await;
    });
}

#[test]
fn purekafka_and_java_share_consumers_split_a_topic_at_least_once() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    let Some((topic, group)) = setup(broker, "share-mixed", 3) else {
        return;
    };
    let java = match JavaShareMember::start(broker, &topic, &group, &[], Duration::from_secs(90)) {
        Ok(j) => j,
        Err(e) if e.is_not_installed() && !purekafka_integration::in_ci() => {
            purekafka_integration::skip_notice(&e.to_string());
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let start = Instant::now();
    while !java.polled() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the Java member never polled"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let total = 150usize;
    let values: Vec<String> = (0..total)
        .map(|i| match i % 10 {
            0 => format!("release-{i}"),
            5 => format!("reject-{i}"),
            _ => format!("ok-{i}"),
        })
        .collect();
    let log: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let java_log = rt().block_on(async {
        let mut tasks = Vec::new();
        for m in 0..2 {
            // Our two members lock at most 10 records per fetch, so a busy
            // machine's slower Java member still gets some (with whole
            // batches locked, ours took all 150 once in CI).
            let mut cfg = config(broker, &group, ShareAcknowledgementMode::Explicit);
            cfg.max_poll_records = 10;
            cfg.share_acquire_mode = purekafka::config::ShareAcquireMode::RecordLimit;
            let c = ShareConsumer::new(cfg).await.unwrap();
            c.subscribe(&[topic.as_str()]).unwrap();
            tasks.push(tokio::spawn(explicit_member(
                c,
                format!("purekafka-{m}"),
                log.clone(),
                stop.clone(),
            )));
        }
        // Give our members time to join, then write in a few bursts.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for chunk in values.chunks(25) {
            produce(broker, &topic, chunk).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let until = Instant::now() + Duration::from_secs(40);
        loop {
            let mut all = log.lock().unwrap().clone();
            all.extend(java_deliveries(&java.records()));
            let finished = by_record(&all)
                .values()
                .filter(|ds| ds.last().is_some_and(|d| d.ack != "release"))
                .count();
            if finished >= total || Instant::now() > until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        for t in tasks {
            t.await.unwrap();
        }
        java_deliveries(&java.stop().unwrap())
    });
    let mut all = log.lock().unwrap().clone();
    let ours = all.len();
    all.extend(java_log.iter().cloned());
    assert!(ours > 0, "purekafka's members got nothing");
    assert!(!java_log.is_empty(), "the Java member got nothing");
    let records = by_record(&all);
    assert_eq!(
        records.len(),
        total,
        "every record delivered to some member"
    );
    for ((p, o), ds) in &records {
        // No record held by two at once: each delivery has its own count.
        let counts: Vec<u16> = ds.iter().map(|d| d.delivery_count).collect();
        let distinct: BTreeSet<u16> = counts.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            counts.len(),
            "{p}-{o} held twice at once: {ds:?}"
        );
        let v = &ds[0].value;
        let last = ds.last().unwrap();
        if v.starts_with("release") {
            assert_eq!(counts, vec![1, 2], "{v}: {ds:?}");
            assert_eq!(last.ack, "accept");
        } else if v.starts_with("reject") {
            assert_eq!(counts, vec![1], "{v} rejected and never again: {ds:?}");
        } else {
            assert_eq!(counts, vec![1], "{v} accepted once: {ds:?}");
        }
    }
    rt().block_on(group_is_drained(
        broker,
        &group,
        &topic,
        Duration::from_secs(3),
    ));
}

fn java_deliveries(rs: &[purekafka_integration::java::ShareConsumed]) -> Vec<Delivery> {
    rs.iter()
        .map(|r| Delivery {
            partition: r.partition,
            offset: r.offset,
            delivery_count: u16::try_from(r.delivery_count).unwrap(),
            value: String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into(),
            ack: match r.ack.as_str() {
                "accept" => "accept",
                "release" => "release",
                "reject" => "reject",
                other => panic!("the Java member acknowledged with {other}"),
            },
            member: "java".into(),
        })
        .collect()
}

#[test]
fn a_hung_consumers_records_go_to_another_after_the_lock_times_out() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    let Some((topic, group)) = setup(broker, "share-lock", 1) else {
        return;
    };
    rt().block_on(async {
        let values: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
        produce(broker, &topic, &values).await;
        // A takes records and then neither acknowledges nor polls: it stays
        // a member (its heartbeats go on) with its connections open.
        // record_limit: A's fetch locks exactly the 10 records its poll returns.
        let mut cfg = config(broker, &group, ShareAcknowledgementMode::Explicit);
        cfg.max_poll_records = 10;
        cfg.share_acquire_mode = ShareAcquireMode::RecordLimit;
        let a = ShareConsumer::new(cfg).await.unwrap();
        a.subscribe(&[topic.as_str()]).unwrap();
        let held = loop {
            let got = a.poll(Duration::from_secs(1)).await.unwrap();
            if !got.is_empty() {
                break got;
            }
        };
        let held_at = Instant::now();
        let held: BTreeSet<i64> = held.iter().map(|r| r.offset).collect();
        // B takes everything else, and A's records once their locks expire.
        let b = ShareConsumer::new(config(broker, &group, ShareAcknowledgementMode::Implicit))
            .await
            .unwrap();
        b.subscribe(&[topic.as_str()]).unwrap();
        let mut got_by_b: BTreeMap<i64, (u16, Duration)> = BTreeMap::new();
        let until = Instant::now() + Duration::from_secs(30);
        while got_by_b.len() < values.len() && Instant::now() < until {
            for r in b.poll(Duration::from_millis(300)).await.unwrap() {
                got_by_b.insert(r.offset, (r.delivery_count, held_at.elapsed()));
            }
        }
        for o in &held {
            let (dc, at) = got_by_b
                .get(o)
                .unwrap_or_else(|| panic!("offset {o}, held by A, never reached B"));
            assert_eq!(*dc, 2, "offset {o}: redelivered after A's lock expired");
            assert!(
                *at >= Duration::from_millis(LOCK_MS - 300),
                "offset {o} reached B {at:?} after A took it: before the {LOCK_MS} ms lock ran out"
            );
        }
        // Nothing but A's records came back late.
        for (o, (dc, _)) in &got_by_b {
            if !held.contains(o) {
                assert_eq!(*dc, 1, "offset {o} was never A's (record_limit)");
            }
        }
        assert_eq!(
            held.len(),
            10,
            "record_limit: exactly max.poll.records locked"
        );
        assert_eq!(got_by_b.len(), values.len());
        // A acknowledging now is too late: the broker says so per partition.
        for o in &held {
            a.acknowledge_offset(&topic, 0, *o, AcknowledgeType::Accept)
                .unwrap();
        }
        let results = a.commit_sync(Duration::from_secs(10)).await.unwrap();
        let r = results.values().next().expect("one partition's result");
        let e = r
            .as_ref()
            .expect_err("acknowledging records that moved on must fail");
        assert!(e.to_string().contains("INVALID_RECORD_STATE"), "{e}");
        b.close(Duration::from_secs(10)).await.unwrap();
        a.close(Duration::from_secs(10)).await.unwrap();
        group_is_drained(broker, &group, &topic, Duration::from_secs(2)).await;
    });
}

#[test]
fn records_of_a_consumer_that_dies_are_delivered_to_the_others() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    let Some((topic, group)) = setup(broker, "share-death", 1) else {
        return;
    };
    rt().block_on(async {
        let values: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        produce(broker, &topic, &values).await;
        // purekafka: dropped without close (its tasks stop, its connections
        // close, nothing is acknowledged).
        let mut cfg = config(broker, &group, ShareAcknowledgementMode::Explicit);
        cfg.max_poll_records = 5;
        let a = ShareConsumer::new(cfg).await.unwrap();
        a.subscribe(&[topic.as_str()]).unwrap();
        let held: BTreeSet<i64> = loop {
            let got = a.poll(Duration::from_secs(1)).await.unwrap();
            if !got.is_empty() {
                break got.iter().map(|r| r.offset).collect();
            }
        };
        drop(a);
        let b = ShareConsumer::new(config(broker, &group, ShareAcknowledgementMode::Implicit))
            .await
            .unwrap();
        b.subscribe(&[topic.as_str()]).unwrap();
        let mut got: BTreeMap<i64, u16> = BTreeMap::new();
        let until = Instant::now() + Duration::from_secs(30);
        while got.len() < values.len() && Instant::now() < until {
            for r in b.poll(Duration::from_millis(300)).await.unwrap() {
                got.insert(r.offset, r.delivery_count);
            }
        }
        assert_eq!(got.len(), values.len(), "every record reached B: {got:?}");
        for o in &held {
            assert_eq!(
                got[o], 2,
                "offset {o}, held by the dead member, redelivered"
            );
        }
        b.close(Duration::from_secs(10)).await.unwrap();
    });

    // Java: a member that hangs holding records, then is killed (SIGKILL).
    let topic2 = unique_topic("share-death-java");
    broker.create_topic(&topic2, 1).unwrap();
    let values: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
    let mut java =
        JavaShareMember::start(broker, &topic2, &group, &[], Duration::from_secs(60)).unwrap();
    let start = Instant::now();
    while !java.polled() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the Java member never polled"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Told to hang, it takes the next records it gets and holds them.
    java.hang().unwrap();
    rt().block_on(produce(broker, &topic2, &values));
    while !java.hanging() {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "the Java member did not hang"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let java_got = java.kill();
    let accepted: BTreeSet<i64> = java_got
        .iter()
        .filter(|r| r.ack == "accept")
        .map(|r| r.offset)
        .collect();
    let held: BTreeSet<i64> = java_got
        .iter()
        .filter(|r| r.ack == "held")
        .map(|r| r.offset)
        .collect();
    assert!(
        !held.is_empty(),
        "the Java member held nothing when killed ({} records, none held)",
        java_got.len()
    );
    // What Java accepted (commitSync after every poll) is done; what it
    // held comes back to the next member.
    rt().block_on(async {
        let c = ShareConsumer::new(config(broker, &group, ShareAcknowledgementMode::Implicit))
            .await
            .unwrap();
        c.subscribe(&[topic2.as_str()]).unwrap();
        let mut got: BTreeMap<i64, u16> = BTreeMap::new();
        let until = Instant::now() + Duration::from_secs(30);
        let missing = |got: &BTreeMap<i64, u16>| {
            (0..values.len() as i64)
                .filter(|o| !got.contains_key(o) && !accepted.contains(o))
                .collect::<Vec<i64>>()
        };
        while !missing(&got).is_empty() && Instant::now() < until {
            for r in c.poll(Duration::from_millis(300)).await.unwrap() {
                got.insert(r.offset, r.delivery_count);
            }
        }
        assert_eq!(missing(&got), Vec::<i64>::new(), "records lost");
        for o in &held {
            assert!(
                got.get(o).is_some_and(|dc| *dc >= 2),
                "offset {o}, held by the killed Java member: {:?}",
                got.get(o)
            );
        }
        for o in &accepted {
            assert!(
                !got.contains_key(o),
                "offset {o}, accepted by Java, delivered again"
            );
        }
        c.close(Duration::from_secs(10)).await.unwrap();
    });
}

#[test]
fn commit_async_and_piggybacked_acknowledgements_report_to_the_callback() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    let Some((topic, group)) = setup(broker, "share-callback", 1) else {
        return;
    };
    rt().block_on(async {
        let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
        produce(broker, &topic, &values).await;
        for mode in [
            ShareAcknowledgementMode::Explicit,
            ShareAcknowledgementMode::Implicit,
        ] {
            let c = ShareConsumer::new(config(broker, &group, mode))
                .await
                .unwrap();
            let seen: Arc<Mutex<Vec<AcknowledgementResult>>> = Arc::default();
            let s = seen.clone();
            c.set_acknowledgement_commit_callback(move |rs: &[AcknowledgementResult]| {
                s.lock().unwrap().extend(rs.iter().cloned());
            });
            c.subscribe(&[topic.as_str()]).unwrap();
            let got = loop {
                let got = c.poll(Duration::from_secs(1)).await.unwrap();
                if !got.is_empty() {
                    break got;
                }
            };
            let offsets: BTreeSet<i64> = got.iter().map(|r| r.offset).collect();
            if mode == ShareAcknowledgementMode::Explicit {
                for r in &got {
                    c.acknowledge(r, AcknowledgeType::Release).unwrap();
                }
                // Returns at once; the outcome goes to the callback.
                c.commit_async().unwrap();
            } else {
                // The next poll accepts them, on its ShareFetch.
                let _ = c.poll(Duration::from_millis(500)).await.unwrap();
            }
            let until = Instant::now() + Duration::from_secs(10);
            let acked = loop {
                let acked: BTreeSet<i64> = seen
                    .lock()
                    .unwrap()
                    .iter()
                    .inspect(|r| assert!(r.result.is_ok(), "{mode:?}: {r:?}"))
                    .flat_map(|r| r.offsets.iter().flat_map(|o| o.clone()))
                    .collect();
                if offsets.is_subset(&acked) || Instant::now() > until {
                    break acked;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert!(
                offsets.is_subset(&acked),
                "{mode:?}: {offsets:?} not all in {acked:?}"
            );
            c.close(Duration::from_secs(10)).await.unwrap();
        }
        group_is_drained(broker, &group, &topic, Duration::from_secs(2)).await;
    });
}

#[test]
fn a_consumer_that_stops_polling_leaves_after_max_poll_interval_and_rejoins() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    // A 30 s lock: what moves sooner moves because the member left.
    let Some((topic, group)) = setup_with_lock(broker, "share-stale", 1, 30_000) else {
        return;
    };
    rt().block_on(async {
        let values: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        produce(broker, &topic, &values).await;
        let mut cfg = config(broker, &group, ShareAcknowledgementMode::Explicit);
        cfg.max_poll_interval = Duration::from_secs(3);
        let a = ShareConsumer::new(cfg).await.unwrap();
        a.subscribe(&[topic.as_str()]).unwrap();
        // The poll interval runs from the start of A's last poll.
        let (held, held_at): (BTreeSet<i64>, Instant) = loop {
            let polled_at = Instant::now();
            let got = a.poll(Duration::from_secs(1)).await.unwrap();
            if !got.is_empty() {
                break (got.iter().map(|r| r.offset).collect(), polled_at);
            }
        };
        assert!(!a.assignment().is_empty());
        let b = ShareConsumer::new(config(broker, &group, ShareAcknowledgementMode::Implicit))
            .await
            .unwrap();
        b.subscribe(&[topic.as_str()]).unwrap();
        let mut got: BTreeMap<i64, u16> = BTreeMap::new();
        while !held.iter().all(|o| got.contains_key(o)) {
            assert!(
                held_at.elapsed() < Duration::from_secs(20),
                "A's records never reached B (held {held:?}, B got {got:?})"
            );
            for r in b.poll(Duration::from_millis(300)).await.unwrap() {
                got.insert(r.offset, r.delivery_count);
            }
        }
        let moved_after = held_at.elapsed();
        assert!(
            moved_after >= Duration::from_millis(2900) && moved_after < Duration::from_secs(20),
            "A's records moved {moved_after:?} after it stopped polling: not its max.poll.interval.ms (3 s)"
        );
        assert!(a.assignment().is_empty(), "A left the group");
        for o in &held {
            assert_eq!(got[o], 2, "offset {o}: its second delivery");
        }
        // A polls again: it rejoins (its old records are B's now; the
        // refusal of the unacknowledged poll comes first, then it goes on).
        for o in &held {
            a.acknowledge_offset(&topic, 0, *o, AcknowledgeType::Release).unwrap();
        }
        let until = Instant::now() + Duration::from_secs(15);
        while a.assignment().is_empty() {
            assert!(Instant::now() < until, "A did not rejoin");
            a.poll(Duration::from_millis(300)).await.unwrap();
        }
        b.close(Duration::from_secs(10)).await.unwrap();
        a.close(Duration::from_secs(10)).await.unwrap();
    });
}

#[test]
fn a_commit_that_runs_out_of_time_names_each_partitions_leader() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    let Some((topic, group)) = setup(broker, "share-commit-timeout", 1) else {
        return;
    };
    let (leader, _) = broker.leader(&topic, 0).unwrap();
    rt().block_on(async {
        let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
        produce(broker, &topic, &values).await;
        let c = ShareConsumer::new(config(broker, &group, ShareAcknowledgementMode::Explicit))
            .await
            .unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();
        let got = loop {
            let got = c.poll(Duration::from_secs(1)).await.unwrap();
            if !got.is_empty() {
                break got;
            }
        };
        for r in &got {
            c.acknowledge(r, AcknowledgeType::Release).unwrap();
        }
        // No time at all: the ShareAcknowledge is cut off before its
        // answer. The outcome is per partition and names the leader (it
        // was one error for the whole call, naming "the partition
        // leaders").
        let results = c.commit_sync(Duration::ZERO).await.unwrap();
        assert_eq!(results.len(), 1, "{results:?}");
        let e = results
            .values()
            .next()
            .unwrap()
            .as_ref()
            .expect_err("a commit with no time cannot have its answer");
        let text = e.to_string();
        assert!(
            text.contains("ShareAcknowledge request to")
                && text.contains(&format!("(node {leader})"))
                && text.contains("timed out"),
            "{text}"
        );
        assert!(e.is_retriable(), "{e:?}");
        c.close(Duration::from_secs(10)).await.unwrap();
    });
}

/// How long a member in
/// [`a_poll_returns_whole_record_batches_as_in_java_so_none_outlives_its_lock`]
/// sleeps after each commit: longer than the group's record lock.
const PAUSE_MS: u64 = LOCK_MS + 1000;

/// One member's deliveries in that test, in order, `(offset, delivery
/// count)`: each of the 20 records once, with delivery count 1, none back.
fn assert_delivered_once(who: &str, log: &[(i64, u16)]) {
    let offsets: Vec<i64> = log.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..20).collect::<Vec<i64>>(), "{who}: {log:?}");
    assert!(log.iter().all(|(_, dc)| *dc == 1), "{who}: {log:?}");
}

#[test]
fn a_poll_returns_whole_record_batches_as_in_java_so_none_outlives_its_lock() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    let values: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    // One batch of 20: a batch_optimized fetch acquires it whole, though
    // max.poll.records is 5.
    let write = |topic: String| {
        let values = values.clone();
        async move {
            let mut cfg = ProducerConfig::new(broker.bootstrap());
            cfg.linger = Duration::from_millis(200);
            let p = Producer::new(cfg).await.unwrap();
            let mut pending = Vec::new();
            for v in &values {
                pending.push(
                    p.enqueue(ProducerRecord::to(&topic).partition(0).value(v.as_str()))
                        .await
                        .unwrap(),
                );
            }
            for d in pending {
                d.await.unwrap();
            }
            p.close(Duration::from_secs(10)).await.unwrap();
        }
    };

    // purekafka: the poll hands out the whole batch, not 5 of it (the
    // other 15 waited in the buffer, their locks running, and the member
    // that slept past the lock between polls returned them stale: their
    // acknowledgements failed with INVALID_RECORD_STATE and the records
    // came back).
    let Some((topic, group)) = setup(broker, "share-whole-batch", 1) else {
        return;
    };
    rt().block_on(async {
        write(topic.clone()).await;
        let mut cfg = config(broker, &group, ShareAcknowledgementMode::Explicit);
        cfg.max_poll_records = 5;
        let c = ShareConsumer::new(cfg).await.unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();
        let mut log: Vec<(i64, u16)> = Vec::new();
        let mut polls: Vec<usize> = Vec::new();
        let until = Instant::now() + Duration::from_secs(30);
        let quiet_until = loop {
            assert!(Instant::now() < until, "ours: {log:?}");
            let got = c.poll(Duration::from_millis(500)).await.unwrap();
            if got.is_empty() {
                continue;
            }
            polls.push(got.len());
            for r in &got {
                log.push((r.offset, r.delivery_count));
                c.acknowledge(r, AcknowledgeType::Accept).unwrap();
            }
            for (tp, result) in c.commit_sync(Duration::from_secs(10)).await.unwrap() {
                assert!(result.is_ok(), "{tp}: {result:?} (polls {polls:?})");
            }
            tokio::time::sleep(Duration::from_millis(PAUSE_MS)).await;
            if log.len() >= values.len() {
                break Instant::now() + Duration::from_millis(PAUSE_MS);
            }
        };
        // Nothing comes back: every acknowledgement was in time.
        while Instant::now() < quiet_until {
            let got = c.poll(Duration::from_millis(300)).await.unwrap();
            for r in &got {
                log.push((r.offset, r.delivery_count));
            }
        }
        c.close(Duration::from_secs(10)).await.unwrap();
        assert_eq!(polls, vec![20], "one poll, the whole batch: {log:?}");
        assert_delivered_once("purekafka", &log);
    });

    // Java's KafkaShareConsumer, the same way (the reference: its
    // ShareCompletedFetch.fetchRecords reads on to the end of the batch
    // past max.poll.records).
    let Some((topic, group)) = setup(broker, "share-whole-batch-java", 1) else {
        return;
    };
    rt().block_on(write(topic.clone()));
    let pause = PAUSE_MS.to_string();
    let java = match JavaShareMember::start(
        broker,
        &topic,
        &group,
        &[("max.poll.records", "5"), ("peer.pause.ms", &pause)],
        Duration::from_secs(90),
    ) {
        Ok(j) => j,
        Err(e) if e.is_not_installed() && !purekafka_integration::in_ci() => {
            purekafka_integration::skip_notice(&e.to_string());
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let until = Instant::now() + Duration::from_secs(60);
    while java.records().len() < values.len() {
        assert!(
            Instant::now() < until,
            "java: {:?}",
            java_deliveries(&java.records())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Had it returned 5 per poll, sleeping past the lock after each, the
    // last 15 would come back (their acknowledgements too late).
    std::thread::sleep(Duration::from_millis(3 * PAUSE_MS));
    let log: Vec<(i64, u16)> = java_deliveries(&java.stop().unwrap())
        .iter()
        .map(|d| (d.offset, d.delivery_count))
        .collect();
    assert_delivered_once("java", &log);
}

#[test]
fn piggybacked_acknowledgements_that_fail_are_reported_once_and_not_resent() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    require!(broker, Feature::ShareGroups);
    let Some((topic, group)) = setup(broker, "share-piggyback-fail", 1) else {
        return;
    };
    rt().block_on(async {
        let values: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
        produce(broker, &topic, &values).await;
        let mut cfg = config(broker, &group, ShareAcknowledgementMode::Explicit);
        cfg.max_poll_records = 5;
        cfg.share_acquire_mode = ShareAcquireMode::RecordLimit;
        let c = ShareConsumer::new(cfg).await.unwrap();
        let seen: Arc<Mutex<Vec<AcknowledgementResult>>> = Arc::default();
        let s = seen.clone();
        c.set_acknowledgement_commit_callback(move |rs: &[AcknowledgementResult]| {
            s.lock().unwrap().extend(rs.iter().cloned());
        });
        c.subscribe(&[topic.as_str()]).unwrap();
        let first = loop {
            let got = c.poll(Duration::from_secs(1)).await.unwrap();
            if !got.is_empty() {
                break got;
            }
        };
        let held: BTreeSet<i64> = first.iter().map(|r| r.offset).collect();
        // Past the lock: the acknowledgements that ride on the next
        // ShareFetch come too late for the broker.
        tokio::time::sleep(Duration::from_millis(LOCK_MS + 1000)).await;
        for r in &first {
            c.acknowledge(r, AcknowledgeType::Accept).unwrap();
        }
        let mut again: BTreeMap<i64, u16> = BTreeMap::new();
        let until = Instant::now() + Duration::from_secs(20);
        while !held.iter().all(|o| again.contains_key(o)) {
            assert!(Instant::now() < until, "held {held:?}, back {again:?}");
            for r in c.poll(Duration::from_millis(300)).await.unwrap() {
                again.insert(r.offset, r.delivery_count);
                c.acknowledge(&r, AcknowledgeType::Accept).unwrap();
            }
        }
        for o in &held {
            assert_eq!(again[o], 2, "offset {o} came back, its lock having run out");
        }
        for (tp, r) in c.commit_sync(Duration::from_secs(10)).await.unwrap() {
            assert!(r.is_ok(), "{tp}: {r:?}");
        }
        // The late acknowledgements were reported failed, once: as in
        // Java, they are not sent again (a ShareAcknowledge resending them
        // would report them a second time).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = seen.lock().unwrap().clone();
        let failed: Vec<&AcknowledgementResult> =
            seen.iter().filter(|r| r.result.is_err()).collect();
        assert_eq!(failed.len(), 1, "{seen:?}");
        let offsets: BTreeSet<i64> = failed[0].offsets.iter().flat_map(|o| o.clone()).collect();
        assert_eq!(offsets, held, "{seen:?}");
        let text = failed[0].result.as_ref().unwrap_err().to_string();
        assert!(
            text.contains("INVALID_RECORD_STATE")
                && text.contains("ShareFetch")
                && text.contains("(node "),
            "{text}"
        );
        c.close(Duration::from_secs(10)).await.unwrap();
    });
}
