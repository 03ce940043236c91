//! The Apache Kafka Java client (kafka-clients 4.4.0, `scripts/java/JavaPeer.java`)
//! against purekafka on a real Kafka 4.4: each reads what the other wrote byte
//! for byte in every codec, purekafka's read_committed hides what a Java
//! transaction aborted, and both consumers share one classic group.

// Test code: helpers fail loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use purekafka::config::{ConsumerConfig, IsolationLevel, OffsetReset, ProducerConfig};
use purekafka::consumer::{Consumer, ConsumerRecord};
use purekafka::producer::{Header, Producer, ProducerRecord};
use purekafka_integration::java::java_produce;
use purekafka_integration::java::{JavaConsume, JavaGroupMember, JavaProduce, java_consume};
use purekafka_integration::rt;
use purekafka_integration::{
    Acked, Cluster, Codec, Consumed, Record, cluster_or_skip, unique_topic,
};
use purekafka_protocol::records::TimestampType;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const CODECS: [Codec; 5] = [
    Codec::None,
    Codec::Gzip,
    Codec::Snappy,
    Codec::Lz4,
    Codec::Zstd,
];

fn codec_name(c: Codec) -> &'static str {
    match c {
        Codec::None => "none",
        Codec::Gzip => "gzip",
        Codec::Snappy => "snappy",
        Codec::Lz4 => "lz4",
        Codec::Zstd => "zstd",
    }
}

/// Records that cover the awkward cases: null keys, null values, empty
/// values, binary keys and values (every byte value), a null-valued and an
/// empty-valued header, a non-ASCII header name, records without headers,
/// explicit partitions and timestamps.
fn awkward_records(n: usize, partitions: i32) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let binary: Vec<u8> = (0..=255u8).cycle().skip(i % 256).take(i % 300).collect();
            Record {
                key: match i % 7 {
                    0 => None,
                    1 => Some(vec![0xff, 0x00, (i % 256) as u8]),
                    _ => Some(format!("key-{i}").into_bytes()),
                },
                value: match i % 11 {
                    0 => None,
                    1 => Some(Vec::new()),
                    2 | 5 | 8 => Some(binary),
                    _ => Some(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "ab".repeat(i % 40)).into()),
                },
                headers: if i % 5 == 0 {
                    Vec::new()
                } else {
                    vec![
                        ("seq".into(), Some(i.to_string().into_bytes())),
                        ("nil".into(), None),
                        ("empty".into(), Some(Vec::new())),
                        ("grüße".into(), Some(vec![0, 1, 2, 0xfe])),
                    ]
                },
                partition: Some((i % partitions as usize) as i32),
                timestamp: Some(1_700_000_000_000 + i as i64),
            }
        })
        .collect()
}

fn headers_of(r: &ConsumerRecord) -> Vec<(String, Option<Vec<u8>>)> {
    r.headers
        .iter()
        .map(|h| {
            (
                String::from_utf8(h.key.to_vec()).unwrap(),
                h.value.map(|v| v.to_vec()),
            )
        })
        .collect()
}

/// Reads `n` records of every partition from the beginning with purekafka,
/// then polls a little longer so that any extra record shows.
async fn purekafka_read(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    n: usize,
    isolation: IsolationLevel,
) -> Vec<ConsumerRecord> {
    let mut cfg = ConsumerConfig::new(bootstrap);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(100);
    cfg.isolation_level = isolation;
    let c = Consumer::new(cfg).await.unwrap();
    let parts: Vec<(&str, i32)> = (0..partitions).map(|p| (topic, p)).collect();
    c.assign(&parts).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < n && Instant::now() < deadline {
        out.extend(c.poll(Duration::from_millis(300)).await.unwrap());
    }
    out.extend(c.poll(Duration::from_millis(500)).await.unwrap());
    c.close().await.unwrap();
    out
}

/// `sent[i]` landed at `acked[i]`; `got` must hold exactly those records,
/// byte for byte, with dense offsets from 0 in every partition.
fn check_purekafka_read(got: &[ConsumerRecord], sent: &[Record], acked: &[Acked], who: &str) {
    assert_eq!(
        got.len(),
        sent.len(),
        "{who}: read {} of {}",
        got.len(),
        sent.len()
    );
    let mut want: BTreeMap<(i32, i64), &Record> = BTreeMap::new();
    for (r, a) in sent.iter().zip(acked) {
        assert_eq!(
            Some(a.partition),
            r.partition,
            "{who}: acked on another partition"
        );
        assert!(
            want.insert((a.partition, a.offset), r).is_none(),
            "{who}: offset acked twice"
        );
    }
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for g in got {
        let at = next.entry(g.partition).or_insert(0);
        assert_eq!(
            g.offset, *at,
            "{who}: partition {} offsets not dense",
            g.partition
        );
        *at += 1;
        let w = want.get(&(g.partition, g.offset)).unwrap_or_else(|| {
            panic!(
                "{who}: read {}@{} that was not acked",
                g.partition, g.offset
            )
        });
        let at = format!("{who}: {}@{}", g.partition, g.offset);
        assert_eq!(g.key.as_deref(), w.key.as_deref(), "{at}: key");
        assert_eq!(g.value.as_deref(), w.value.as_deref(), "{at}: value");
        assert_eq!(headers_of(g), w.headers, "{at}: headers");
        assert_eq!(Some(g.timestamp), w.timestamp, "{at}: timestamp");
        assert_eq!(
            g.timestamp_type,
            TimestampType::CreateTime,
            "{at}: timestamp type"
        );
    }
}

#[test]
fn java_producer_records_read_byte_for_byte_by_purekafka_in_every_codec() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let rt = rt();
    for codec in CODECS {
        let topic = unique_topic(&format!("java-to-pk-{}", codec_name(codec)));
        broker.create_topic(&topic, 3).unwrap();
        let sent = awkward_records(600, 3);
        let opts = JavaProduce {
            codec: Some(codec),
            ..JavaProduce::default()
        };
        let acked = java_produce(broker, &topic, &opts, &sent).unwrap();
        for (i, a) in acked.iter().enumerate() {
            assert_eq!(a.topic, topic, "ack {i}");
        }
        let got = rt.block_on(purekafka_read(
            broker.bootstrap(),
            &topic,
            3,
            sent.len(),
            IsolationLevel::ReadUncommitted,
        ));
        check_purekafka_read(&got, &sent, &acked, &format!("Java {codec:?} -> purekafka"));
    }
}

/// Produces `sent` with purekafka (acks=all, idempotent, the given codec);
/// returns (partition, offset) of each, in send order.
async fn purekafka_produce(
    bootstrap: &str,
    topic: &str,
    codec: &str,
    sent: &[Record],
) -> Vec<(i32, i64)> {
    let producer = Producer::new(
        ProducerConfig::from_properties([
            ("bootstrap.servers", bootstrap),
            ("compression.type", codec),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
        ])
        .unwrap(),
    )
    .await
    .unwrap();
    let mut futures = Vec::with_capacity(sent.len());
    for r in sent {
        let headers: Vec<Header> = r
            .headers
            .iter()
            .map(|(k, v)| Header::new(k.clone(), v.clone().map(Into::into)))
            .collect();
        let mut pr = ProducerRecord::to(topic)
            .headers(&headers)
            .partition(r.partition.unwrap())
            .timestamp(r.timestamp.unwrap());
        if let Some(k) = &r.key {
            pr = pr.key(k);
        }
        if let Some(v) = &r.value {
            pr = pr.value(v);
        }
        futures.push(producer.enqueue(pr).await.unwrap());
    }
    producer.flush().await.unwrap();
    let mut out = Vec::with_capacity(sent.len());
    for (i, f) in futures.into_iter().enumerate() {
        let d = f
            .await
            .unwrap_or_else(|e| panic!("record {i} not delivered: {e}"));
        out.push((d.partition, d.offset));
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    out
}

#[test]
fn purekafka_producer_records_read_byte_for_byte_by_java_in_every_codec() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let rt = rt();
    for codec in CODECS {
        let topic = unique_topic(&format!("pk-to-java-{}", codec_name(codec)));
        broker.create_topic(&topic, 3).unwrap();
        let sent = awkward_records(600, 3);
        let landed = rt.block_on(purekafka_produce(
            broker.bootstrap(),
            &topic,
            codec_name(codec),
            &sent,
        ));
        let got = java_consume(
            broker,
            &topic,
            &JavaConsume::default(),
            sent.len(),
            Duration::from_secs(60),
        )
        .unwrap();
        let who = format!("purekafka {codec:?} -> Java");
        assert_eq!(got.len(), sent.len(), "{who}");
        let want: BTreeMap<(i32, i64), &Record> = landed.iter().copied().zip(&sent).collect();
        assert_eq!(want.len(), sent.len(), "{who}: an offset delivered twice");
        // The Java peer prints in (partition, offset) order.
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for c in &got {
            let p = c.record.partition.unwrap();
            let at = next.entry(p).or_insert(0);
            assert_eq!(c.offset, *at, "{who}: partition {p} offsets not dense");
            *at += 1;
            let w = want[&(p, c.offset)];
            assert_eq!(c.topic, topic);
            assert_eq!(&c.record, w, "{who}: record {p}@{}", c.offset);
            assert_eq!(c.timestamp_type, Some(0), "{who}: create time");
        }
    }
}

fn txn_records(tag: &str, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            key: Some(format!("{tag}-{i}").into_bytes()),
            value: Some(format!("{tag} value {i}").into_bytes()),
            headers: vec![("txn".into(), Some(tag.as_bytes().to_vec()))],
            partition: Some((i % 2) as i32),
            timestamp: None,
        })
        .collect()
}

#[test]
fn purekafka_read_committed_skips_what_a_java_transaction_aborted() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("java-txn");
    broker.create_topic(&topic, 2).unwrap();
    let txid = unique_topic("java-txn-id");
    let (first, aborted, last) = (
        txn_records("first", 40),
        txn_records("aborted", 30),
        txn_records("last", 20),
    );
    for (recs, abort) in [(&first, false), (&aborted, true), (&last, false)] {
        let opts = JavaProduce {
            codec: Some(Codec::Lz4),
            transactional_id: Some(txid.clone()),
            abort,
            ..JavaProduce::default()
        };
        java_produce(broker, &topic, &opts, recs).unwrap();
    }
    let committed: Vec<&Record> = first.iter().chain(&last).collect();
    let key = |k: Option<&[u8]>| String::from_utf8(k.unwrap().to_vec()).unwrap();
    let rt = rt();

    // read_committed: the committed records, in order per partition, nothing aborted.
    let got = rt.block_on(purekafka_read(
        broker.bootstrap(),
        &topic,
        2,
        committed.len(),
        IsolationLevel::ReadCommitted,
    ));
    for p in 0..2 {
        let have: Vec<String> = got
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| key(r.key.as_deref()))
            .collect();
        let want: Vec<String> = committed
            .iter()
            .filter(|r| r.partition == Some(p))
            .map(|r| key(r.key.as_deref()))
            .collect();
        assert_eq!(have, want, "read_committed, partition {p}");
    }
    // The Java consumer agrees on every offset.
    let java = java_consume(
        broker,
        &topic,
        &JavaConsume {
            isolation_level: Some("read_committed".into()),
            ..JavaConsume::default()
        },
        committed.len(),
        Duration::from_secs(60),
    )
    .unwrap();
    let ours: BTreeSet<(i32, i64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
    let theirs: BTreeSet<(i32, i64)> = java
        .iter()
        .map(|c| (c.record.partition.unwrap(), c.offset))
        .collect();
    assert_eq!(
        ours, theirs,
        "purekafka and Java read_committed see the same offsets"
    );

    // read_uncommitted: the aborted records are in the log, markers are not records.
    let all = first.len() + aborted.len() + last.len();
    let got = rt.block_on(purekafka_read(
        broker.bootstrap(),
        &topic,
        2,
        all,
        IsolationLevel::ReadUncommitted,
    ));
    assert_eq!(got.len(), all, "read_uncommitted sees every data record");
    assert_eq!(
        got.iter()
            .filter(|r| key(r.key.as_deref()).starts_with("aborted"))
            .count(),
        aborted.len()
    );
}

#[test]
fn purekafka_and_java_consumers_share_one_classic_group() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    share_a_group(broker, "classic");
}

/// Kafka 4 lets classic members (purekafka) join a KIP-848 group (the Java
/// member's): the broker assigns, the classic member gets its share through
/// JoinGroup/SyncGroup.
#[test]
fn purekafka_classic_member_shares_a_group_with_a_kip848_java_member() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    share_a_group(broker, "consumer");
}

/// A purekafka consumer (classic protocol) and a Java consumer (`java_protocol`)
/// in one group on 6 partitions: they split the partitions, read every record
/// once between them, commit, and purekafka resumes Java's partitions from
/// Java's commits when Java leaves.
fn share_a_group(broker: &Cluster, java_protocol: &str) {
    let topic = unique_topic(&format!("java-group-{java_protocol}"));
    let group = unique_topic(&format!("java-group-{java_protocol}-g"));
    broker.create_topic(&topic, 6).unwrap();
    let mut java_opts = JavaConsume::in_group(group.clone());
    java_opts.group_protocol = Some(java_protocol.into());
    java_opts.commit = true;
    if java_protocol == "classic" {
        // (The consumer protocol's heartbeat interval is the broker's.)
        java_opts.extra = vec![("heartbeat.interval.ms".into(), "500".into())];
    }
    let mut java =
        JavaGroupMember::start(broker, &topic, &java_opts, Duration::from_secs(120)).unwrap();
    let n = 600;
    let value = |v: Option<&[u8]>| String::from_utf8(v.unwrap().to_vec()).unwrap();
    rt().block_on(async {
        let mut cfg = ConsumerConfig::new(broker.bootstrap());
        cfg.group_id = Some(group.clone());
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.heartbeat_interval = Duration::from_millis(300);
        cfg.session_timeout = Duration::from_secs(10);
        cfg.fetch_max_wait = Duration::from_millis(100);
        let c = Consumer::new(cfg).await.unwrap();
        c.subscribe(&[topic.as_str()]).unwrap();
        let mut ours: Vec<ConsumerRecord> = Vec::new();
        let mine = |c: &Consumer| -> BTreeSet<i32> {
            c.assignment().into_iter().map(|tp| tp.partition).collect()
        };

        // Both members in, the six partitions split between them.
        let deadline = Instant::now() + Duration::from_secs(60);
        let our_parts = loop {
            ours.extend(c.poll(Duration::from_millis(200)).await.unwrap());
            let ours_now = mine(&c);
            let theirs: BTreeSet<i32> = java.assignment().unwrap_or_default().into_iter().collect();
            if !ours_now.is_empty()
                && !theirs.is_empty()
                && ours_now.is_disjoint(&theirs)
                && ours_now.len() + theirs.len() == 6
            {
                break ours_now;
            }
            assert!(java.is_running(), "the Java member exited early");
            assert!(
                Instant::now() < deadline,
                "no split of the group within 60s: purekafka {ours_now:?}, Java {theirs:?}"
            );
        };
        assert!(ours.is_empty(), "records before any were produced");

        let producer = Producer::new(
            ProducerConfig::from_properties([("bootstrap.servers", broker.bootstrap())]).unwrap(),
        )
        .await
        .unwrap();
        let mut sent = Vec::with_capacity(n);
        for i in 0..n {
            let v = format!("record-{i}");
            let r = ProducerRecord::to(&topic)
                .partition((i % 6) as i32)
                .value(&v);
            sent.push(producer.enqueue(r).await.unwrap());
        }
        producer.flush().await.unwrap();
        for (i, d) in sent.into_iter().enumerate() {
            d.await
                .unwrap_or_else(|e| panic!("record {i} not delivered: {e}"));
        }
        producer.close(Duration::from_secs(10)).await.unwrap();

        let deadline = Instant::now() + Duration::from_secs(60);
        while ours.len() + java.record_count() < n && Instant::now() < deadline {
            ours.extend(c.poll(Duration::from_millis(200)).await.unwrap());
        }
        assert_eq!(
            ours.len() + java.record_count(),
            n,
            "records read while both were members: purekafka {} (owning {:?}), Java {} (owning {:?})",
            ours.len(),
            mine(&c),
            java.record_count(),
            java.assignment()
        );
        c.commit().await.unwrap();
        // The Java member commits and leaves; purekafka takes its partitions
        // over from the offsets Java committed: nothing is read twice.
        let rebalances = java.rebalances();
        let theirs: Vec<Consumed> = tokio::task::block_in_place(|| java.stop()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while mine(&c).len() < 6 {
            ours.extend(c.poll(Duration::from_millis(200)).await.unwrap());
            assert!(
                Instant::now() < deadline,
                "purekafka did not take over every partition: {:?}",
                mine(&c)
            );
        }
        let took_over = ours.len();
        for _ in 0..5 {
            ours.extend(c.poll(Duration::from_millis(200)).await.unwrap());
        }
        let parts: Vec<(&str, i32)> = (0..6).map(|p| (topic.as_str(), p)).collect();
        let committed = c.committed(&parts).await.unwrap();
        c.close().await.unwrap();

        let mut seen: BTreeSet<String> = ours.iter().map(|r| value(r.value.as_deref())).collect();
        seen.extend(theirs.iter().map(|c| value(c.record.value.as_deref())));
        let want: BTreeSet<String> = (0..n).map(|i| format!("record-{i}")).collect();
        assert_eq!(seen, want, "purekafka and Java together read every record");
        assert_eq!(ours.len() + theirs.len(), n, "no record read twice");
        assert!(
            !ours.is_empty() && !theirs.is_empty(),
            "both members read records: purekafka {}, Java {}",
            ours.len(),
            theirs.len()
        );
        assert_eq!(
            took_over,
            ours.len(),
            "purekafka re-read records after taking over"
        );
        for r in &ours {
            assert!(
                our_parts.contains(&r.partition),
                "purekafka read partition {} it did not own",
                r.partition
            );
        }
        for c in &theirs {
            let p = c.record.partition.unwrap();
            assert!(
                !our_parts.contains(&p),
                "Java read partition {p} that purekafka owned ({rebalances} assignments)"
            );
        }
        // Both committed where they stopped: 100 records into each partition.
        let offsets: BTreeMap<i32, i64> =
            committed.iter().map(|(tp, o)| (tp.partition, o.offset)).collect();
        let want: BTreeMap<i32, i64> = (0..6).map(|p| (p, (n / 6) as i64)).collect();
        assert_eq!(offsets, want, "committed offsets of the group");
    });
}

#[test]
fn purekafka_assigned_consumer_starts_at_the_offset_a_java_group_committed() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let topic = unique_topic("java-commit-assign");
    let group = unique_topic("java-commit-assign-g");
    broker.create_topic(&topic, 1).unwrap();
    let sent: Vec<Record> = (0..50)
        .map(|i| Record::new(format!("k{i}"), format!("v{i}")))
        .collect();
    java_produce(broker, &topic, &JavaProduce::default(), &sent).unwrap();
    // The Java member reads and commits exactly 30 (10 per poll).
    let mut opts = JavaConsume::in_group(group.clone());
    opts.commit = true;
    opts.extra = vec![("max.poll.records".into(), "10".into())];
    let java = java_consume(broker, &topic, &opts, 30, Duration::from_secs(60)).unwrap();
    assert_eq!(java.len(), 30);
    rt().block_on(async {
        let mut cfg = ConsumerConfig::new(broker.bootstrap());
        cfg.group_id = Some(group.clone());
        cfg.auto_offset_reset = OffsetReset::Earliest;
        let c = Consumer::new(cfg).await.unwrap();
        let committed = c.committed(&[(topic.as_str(), 0)]).await.unwrap();
        assert_eq!(
            committed.values().map(|o| o.offset).collect::<Vec<_>>(),
            vec![30]
        );
        c.assign([(topic.as_str(), 0)]).unwrap();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < 20 && Instant::now() < deadline {
            got.extend(c.poll(Duration::from_millis(300)).await.unwrap());
        }
        assert_eq!(
            got.first().map(|r| r.offset),
            Some(30),
            "starts at the committed offset"
        );
        assert_eq!(got.len(), 20);
        c.close().await.unwrap();
    });
}

/// A user moving from the Java client keeps their key -> partition mapping:
/// a keyed record without an explicit partition lands where the Java
/// producer's default partitioner puts the same key (murmur2), for text and
/// binary keys of every length, on a partition count that is not a power of
/// two. Java's own acknowledgements are the reference, not our formula.
#[test]
fn keyed_records_land_on_the_partition_the_java_producer_picks() {
    let broker = cluster_or_skip!(Cluster::try_kafka());
    let rt = rt();
    let java_topic = unique_topic("keys-java");
    let pk_topic = unique_topic("keys-pk");
    broker.create_topic(&java_topic, 7).unwrap();
    broker.create_topic(&pk_topic, 7).unwrap();
    let keys: Vec<Vec<u8>> = (0..300)
        .map(|i| match i % 3 {
            0 => format!("user-{i}").into_bytes(),
            1 => (0..(i % 19) as u8)
                .map(|b| b.wrapping_mul(37) ^ 0xa5)
                .collect(),
            _ => "é".repeat(i % 7 + 1).into_bytes(),
        })
        .collect();
    let sent: Vec<Record> = keys
        .iter()
        .map(|k| Record {
            partition: None,
            ..Record::new(k.clone(), b"v".to_vec())
        })
        .collect();
    let java = java_produce(broker, &java_topic, &JavaProduce::default(), &sent).unwrap();
    assert_eq!(java.len(), keys.len(), "Java acknowledged every record");
    let ours: Vec<i32> = rt.block_on(async {
        let producer = Producer::new(
            ProducerConfig::from_properties([("bootstrap.servers", broker.bootstrap())]).unwrap(),
        )
        .await
        .unwrap();
        let mut futures = Vec::new();
        for k in &keys {
            let r = ProducerRecord::to(&pk_topic).key(k).value(b"v");
            futures.push(producer.enqueue(r).await.unwrap());
        }
        let mut out = Vec::new();
        for f in futures {
            out.push(f.await.unwrap().partition);
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
        out
    });
    let used: BTreeSet<i32> = ours.iter().copied().collect();
    assert!(used.len() > 1, "keys spread over partitions: {used:?}");
    for (i, (j, p)) in java.iter().zip(&ours).enumerate() {
        assert_eq!(
            j.partition, *p,
            "key {:02x?}: Java chose {}, purekafka {p}",
            keys[i], j.partition
        );
    }
}
