//! The consumer calls a Java-client user reaches for first: `subscription()`
//! (Java's `subscription()`), `commit_async_with` (Java's
//! `commitAsync(OffsetCommitCallback)`), and the calls with an explicit
//! timeout (`partitionsFor`, `committed`, `position` with a `Duration`).

use purekafka::config::{ConsumerConfig, GroupProtocol, OffsetReset, ProducerConfig};
use purekafka::consumer::{Committed, Consumer, OffsetAndMetadata};
use purekafka::producer::{Producer, ProducerRecord};
use purekafka::{Error, ErrorCode, TopicPartition};
use purekafka_integration::{Cluster, poll_records, rt, unique_topic};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn group_config(broker: &Cluster, group: &str, protocol: GroupProtocol) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(broker.bootstrap());
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.fetch_max_wait = Duration::from_millis(50);
    cfg.group_id = Some(group.to_string());
    cfg.group_protocol = protocol;
    cfg.enable_auto_commit = false;
    if protocol == GroupProtocol::Classic {
        cfg.heartbeat_interval = Duration::from_millis(300);
        cfg.session_timeout = Duration::from_secs(6);
    }
    cfg.client.metadata_max_age = Duration::from_secs(1);
    cfg
}

/// Polls until `c.subscription()` is `want` (or `within` passes); returns it.
async fn subscription_becomes(c: &Consumer, want: &[String], within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let now = c.subscription();
        if now == want || Instant::now() >= deadline {
            return now;
        }
        c.poll(Duration::from_millis(100)).await.unwrap();
    }
}

/// `subscription()` reports the topics given to `subscribe` (sorted, at
/// once), those a pattern matches (not a topic it does not), nothing after
/// `unsubscribe`, and nothing for a consumer that only assigns.
fn subscription_reports_topics_and_pattern_matches(broker: &Cluster, protocol: GroupProtocol) {
    let prefix = unique_topic("subscription");
    let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let other = format!("other-{prefix}");
    for t in [&a, &b, &other] {
        broker.create_topic(t, 1).unwrap();
    }
    rt().block_on(async {
        let group = unique_topic("subscription-group");
        let c = Consumer::new(group_config(broker, &group, protocol))
            .await
            .unwrap();
        assert!(c.subscription().is_empty(), "before any subscription");
        c.subscribe(&[&b, &a, &b]).unwrap();
        assert_eq!(
            c.subscription(),
            vec![a.clone(), b.clone()],
            "at once, sorted"
        );

        c.subscribe_pattern(&format!("{prefix}-.*")).unwrap();
        let matched =
            subscription_becomes(&c, &[a.clone(), b.clone()], Duration::from_secs(30)).await;
        assert_eq!(matched, vec![a.clone(), b.clone()], "the pattern's topics");

        c.unsubscribe().unwrap();
        assert!(c.subscription().is_empty(), "after unsubscribe");
        // Nothing matches the pattern again behind the application's back.
        c.poll(Duration::from_secs(3)).await.unwrap();
        assert!(c.subscription().is_empty(), "after unsubscribe and a poll");
        c.close().await.unwrap();

        let mut cfg = group_config(broker, &group, protocol);
        cfg.group_id = None;
        let assigned = Consumer::new(cfg).await.unwrap();
        assigned.assign([(a.as_str(), 0)]).unwrap();
        assert!(assigned.subscription().is_empty(), "with assign()");
        assert!(
            assigned.subscribe(&[&a]).is_err(),
            "subscribe needs group.id"
        );
        assert!(assigned.subscription().is_empty(), "a refused subscribe");
        assigned.close().await.unwrap();
    });
}

purekafka_integration::on_mock_and_kafka! {
fn subscription_classic(broker) {
    subscription_reports_topics_and_pattern_matches(broker, GroupProtocol::Classic);
}
}

#[test]
fn subscription_consumer_protocol() {
    let broker = purekafka_integration::cluster_or_skip!(Cluster::try_kafka());
    subscription_reports_topics_and_pattern_matches(broker, GroupProtocol::Consumer);
}

/// Writes `n` records to `topic` partition 0.
async fn produce(broker: &Cluster, topic: &str, n: usize) {
    let p = Producer::new(ProducerConfig::new(broker.bootstrap()))
        .await
        .unwrap();
    for i in 0..n {
        p.send(
            ProducerRecord::to(topic)
                .partition(0)
                .value(&format!("v{i}")),
        )
        .await
        .unwrap();
    }
    p.close(Duration::from_secs(5)).await.unwrap();
}

type Outcomes = Arc<Mutex<Vec<(u32, purekafka::Result<Committed>)>>>;

/// A callback that records (`n`, its outcome).
fn record(log: &Outcomes, n: u32) -> impl FnOnce(purekafka::Result<Committed>) + Send + 'static {
    let log = log.clone();
    move |r| log.lock().unwrap().push((n, r))
}

/// Waits until `n` outcomes are recorded, polling `c` meanwhile (as a Java
/// application's poll loop would); returns every poll error seen.
async fn outcomes(c: &Consumer, log: &Outcomes, n: usize) -> Vec<Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut errors = Vec::new();
    while log.lock().unwrap().len() < n && Instant::now() < deadline {
        if let Err(e) = c.poll(Duration::from_millis(100)).await {
            errors.push(e);
        }
    }
    assert_eq!(log.lock().unwrap().len(), n, "callbacks run");
    errors
}

purekafka_integration::on_mock_and_kafka! {
/// `commit_async_with`'s callback gets what was committed, callbacks run in
/// commit order, and one that panics is contained and reported by the
/// next poll, after which the consumer goes on committing.
fn commit_async_with_reports_each_commit_in_order(broker) {
    let topic = unique_topic("commit-async-with");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce(broker, &topic, 10).await;
        let group = unique_topic("commit-async-group");
        let c = Consumer::new(group_config(broker, &group, GroupProtocol::Classic))
            .await
            .unwrap();
        c.subscribe(&[&topic]).unwrap();
        poll_records(&c, 10, Duration::from_secs(30), "the records").await;

        let log = Outcomes::default();
        c.commit_async_with(record(&log, 0)).unwrap();
        c.commit_async_with(record(&log, 1)).unwrap();
        c.commit_async_with(|_| panic!("a commit callback's own bug")).unwrap();
        c.commit_async_with(record(&log, 3)).unwrap();
        let errors = outcomes(&c, &log, 3).await;
        let got = std::mem::take(&mut *log.lock().unwrap());
        let order: Vec<u32> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(order, vec![0, 1, 3], "commit order");
        let tp = TopicPartition::new(topic.as_str(), 0);
        match &got[0].1 {
            Ok(committed) => {
                assert_eq!(committed.len(), 1, "{committed:?}");
                assert_eq!(committed[0].0, tp);
                assert_eq!(committed[0].1.offset, 10);
            }
            Err(e) => panic!("the first commit failed: {e}"),
        }
        for (n, r) in &got {
            assert!(r.is_ok(), "commit {n}: {r:?}");
        }
        let panicked = errors
            .iter()
            .chain(c.poll(Duration::from_millis(200)).await.err().as_ref())
            .any(|e| matches!(
                e,
                Error::CallbackPanicked { callback, message }
                    if callback.contains("commit_async_with")
                        && message == "a commit callback's own bug"
            ));
        assert!(panicked, "the panic was not reported by poll: {errors:?}");
        let committed = c.committed([tp.clone()]).await.unwrap();
        assert_eq!(committed.get(&tp).map(|o| o.offset), Some(10));

        // The consumer goes on: more records, another callback.
        produce(broker, &topic, 5).await;
        poll_records(&c, 5, Duration::from_secs(30), "the later records").await;
        c.commit_async_with(record(&log, 4)).unwrap();
        outcomes(&c, &log, 1).await;
        let last = std::mem::take(&mut *log.lock().unwrap());
        let offsets: Vec<i64> = last[0].1.as_ref().unwrap().iter().map(|(_, o)| o.offset).collect();
        assert_eq!(offsets, vec![15]);
        c.close().await.unwrap();
    });
}
}

/// A commit the coordinator refuses reaches the callback as the typed
/// error, not only the log (the mock refuses the first OffsetCommit it
/// gets). The first commit asked for is the first sent: two async commits
/// raced to the connection, and the second often went first.
#[test]
fn commit_async_with_hands_the_callback_the_commits_error() {
    const OFFSET_COMMIT: i16 = 8;
    const GROUP_AUTHORIZATION_FAILED: i32 = 30;
    let broker = &Cluster::mock_private(1).unwrap();
    let topic = unique_topic("commit-async-error");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        produce(broker, &topic, 3).await;
        // Pushed before anything commits: the first OffsetCommit is ours.
        broker
            .push_request_errors(OFFSET_COMMIT, &[GROUP_AUTHORIZATION_FAILED])
            .unwrap();
        let group = unique_topic("commit-async-error-group");
        let c = Consumer::new(group_config(broker, &group, GroupProtocol::Classic))
            .await
            .unwrap();
        c.subscribe(&[&topic]).unwrap();
        poll_records(&c, 3, Duration::from_secs(30), "the records").await;
        let log = Outcomes::default();
        c.commit_async_with(record(&log, 0)).unwrap();
        c.commit_async_with(record(&log, 1)).unwrap();
        outcomes(&c, &log, 2).await;
        let got = std::mem::take(&mut *log.lock().unwrap());
        assert_eq!(got[0].0, 0);
        match &got[0].1 {
            Err(e) => assert_eq!(e.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED), "{e}"),
            Ok(c) => panic!("the refused commit succeeded: {c:?}; then {:?}", got[1]),
        }
        // The next commit is the broker's to judge again: it succeeds.
        let second = got[1].1.as_ref().unwrap();
        assert_eq!(
            second.iter().map(|(_, o)| o.offset).collect::<Vec<_>>(),
            vec![3]
        );
        c.close().await.unwrap();
    });
}

/// `commit()`/`commit_offsets()` and `committed()` retry what a retry can
/// fix for `default.api.timeout.ms` (Java's `commitSync()` and
/// `committed(Set)`; they gave up at `request.timeout.ms`), the `_timeout`
/// forms for as long as they are told; then the last error. Here the
/// coordinator keeps answering COORDINATOR_LOAD_IN_PROGRESS.
#[test]
fn commits_and_committed_retry_for_default_api_timeout_or_the_given_timeout() {
    const OFFSET_COMMIT: i16 = 8;
    const OFFSET_FETCH: i16 = 9;
    const LOAD_IN_PROGRESS: i32 = 14;
    let broker = &Cluster::mock_private(1).unwrap();
    let topic = unique_topic("commit-timeout");
    broker.create_topic(&topic, 1).unwrap();
    let group = unique_topic("commit-timeout-group");
    let within = |took: Duration, from: u64, to: u64, what: &str| {
        assert!(
            took >= Duration::from_millis(from) && took < Duration::from_millis(to),
            "{what} took {took:?}"
        );
    };
    rt().block_on(async {
        let config = || {
            let mut cfg = ConsumerConfig::new(broker.bootstrap());
            cfg.group_id = Some(group.clone());
            cfg.enable_auto_commit = false;
            cfg.client.request_timeout = Duration::from_secs(1);
            cfg.default_api_timeout = Duration::from_secs(3);
            cfg
        };
        let c = Consumer::new(config()).await.unwrap();
        let tp = (topic.as_str(), 0);
        let at = |offset| {
            [(
                tp,
                OffsetAndMetadata {
                    offset,
                    metadata: None,
                },
            )]
        };
        broker
            .push_request_errors(OFFSET_COMMIT, &[LOAD_IN_PROGRESS; 1000])
            .unwrap();
        let t0 = Instant::now();
        let e = c
            .commit_offsets_timeout(at(5), Duration::from_millis(1500))
            .await
            .unwrap_err();
        within(t0.elapsed(), 1400, 2900, "commit_offsets_timeout(1.5 s)");
        assert_eq!(
            e.code(),
            Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            "{e}"
        );
        let t0 = Instant::now();
        let e = c.commit_offsets(at(6)).await.unwrap_err();
        within(
            t0.elapsed(),
            2900,
            5000,
            "commit_offsets() with default.api.timeout.ms 3 s",
        );
        assert_eq!(
            e.code(),
            Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            "{e}"
        );
        // The errors cleared, the next commit lands.
        broker.clear_request_errors(OFFSET_COMMIT).unwrap();
        c.commit_offsets(at(7)).await.unwrap();

        broker
            .push_request_errors(OFFSET_FETCH, &[LOAD_IN_PROGRESS; 1000])
            .unwrap();
        let t0 = Instant::now();
        let e = c
            .committed_timeout([tp], Duration::from_millis(1500))
            .await
            .unwrap_err();
        within(t0.elapsed(), 1400, 2900, "committed_timeout(1.5 s)");
        assert_eq!(
            e.code(),
            Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            "{e}"
        );
        let t0 = Instant::now();
        let e = c.committed([tp]).await.unwrap_err();
        within(
            t0.elapsed(),
            2900,
            5000,
            "committed() with default.api.timeout.ms 3 s",
        );
        assert_eq!(
            e.code(),
            Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            "{e}"
        );
        broker.clear_request_errors(OFFSET_FETCH).unwrap();
        let got = c.committed([tp]).await.unwrap();
        assert_eq!(got[&TopicPartition::from(tp)].offset, 7);
        c.close().await.unwrap();
    });
}

/// `position()` waits up to `default.api.timeout.ms` (as Java's, not
/// `request.timeout.ms`) for a position being looked up, and
/// `position_timeout` as long as it is told: here the reset's ListOffsets
/// keeps failing.
#[test]
fn position_waits_default_api_timeout_or_the_given_timeout() {
    const LIST_OFFSETS: i16 = 2;
    const NOT_LEADER: i32 = 6;
    let broker = &Cluster::mock_private(1).unwrap();
    let topic = unique_topic("position-timeout");
    broker.create_topic(&topic, 1).unwrap();
    broker
        .push_request_errors(LIST_OFFSETS, &[NOT_LEADER; 1000])
        .unwrap();
    rt().block_on(async {
        let mut cfg = ConsumerConfig::new(broker.bootstrap());
        cfg.client.request_timeout = Duration::from_secs(1);
        cfg.default_api_timeout = Duration::from_secs(4);
        let c = Consumer::new(cfg).await.unwrap();
        c.assign([(topic.as_str(), 0)]).unwrap();
        let tp = (topic.as_str(), 0);

        let t0 = Instant::now();
        let e = c
            .position_timeout(tp, Duration::from_millis(500))
            .await
            .unwrap_err();
        let took = t0.elapsed();
        assert!(
            matches!(e, Error::PositionTimeout { timeout, .. } if timeout == Duration::from_millis(500)),
            "{e}"
        );
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_millis(900),
            "position_timeout(500 ms) took {took:?}"
        );

        let t0 = Instant::now();
        let e = c.position(tp).await.unwrap_err();
        let took = t0.elapsed();
        assert!(
            matches!(e, Error::PositionTimeout { timeout, .. } if timeout == Duration::from_secs(4)),
            "{e}"
        );
        assert!(
            took >= Duration::from_millis(3900) && took < Duration::from_secs(6),
            "position() took {took:?}, not default.api.timeout.ms (4 s)"
        );
        let unassigned = c.position_timeout((topic.as_str(), 7), Duration::from_secs(5));
        let t0 = Instant::now();
        assert!(unassigned.await.is_err(), "a partition not assigned");
        assert!(t0.elapsed() < Duration::from_millis(100), "fails at once");
        c.close().await.unwrap();
    });
}

/// `committed_timeout` retries a coordinator that keeps loading for as long
/// as it is told (not `request.timeout.ms`, 30 s here), then returns why.
#[test]
fn committed_timeout_gives_up_after_its_timeout() {
    const OFFSET_FETCH: i16 = 9;
    const COORDINATOR_LOAD_IN_PROGRESS: i32 = 14;
    let broker = &Cluster::mock_private(1).unwrap();
    let topic = unique_topic("committed-timeout");
    broker.create_topic(&topic, 1).unwrap();
    rt().block_on(async {
        let group = unique_topic("committed-timeout-group");
        let c = Consumer::new(group_config(broker, &group, GroupProtocol::Classic))
            .await
            .unwrap();
        broker
            .push_request_errors(OFFSET_FETCH, &[COORDINATOR_LOAD_IN_PROGRESS; 1000])
            .unwrap();
        let t0 = Instant::now();
        let e = c
            .committed_timeout([(topic.as_str(), 0)], Duration::from_millis(1500))
            .await
            .unwrap_err();
        let took = t0.elapsed();
        assert_eq!(
            e.code(),
            Some(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            "{e}"
        );
        assert!(
            took >= Duration::from_millis(1400) && took < Duration::from_secs(5),
            "committed_timeout(1.5 s) took {took:?}"
        );
        broker.clear_request_errors(OFFSET_FETCH).unwrap();
        let got = c
            .committed_timeout([(topic.as_str(), 0)], Duration::from_secs(10))
            .await
            .unwrap();
        assert!(got.is_empty(), "nothing committed: {got:?}");
        c.close().await.unwrap();
    });
}

/// `partitions_for_timeout` retries a topic the broker cannot describe yet
/// (LEADER_NOT_AVAILABLE) for as long as it is told (not
/// `default.api.timeout.ms`, 60 s), then returns the error naming it.
#[test]
fn partitions_for_timeout_gives_up_after_its_timeout() {
    const LEADER_NOT_AVAILABLE: i32 = 5;
    let broker = &Cluster::mock_private(1).unwrap();
    let topic = unique_topic("partitions-for-timeout");
    broker.create_topic(&topic, 2).unwrap();
    broker
        .topic_set_error(&topic, LEADER_NOT_AVAILABLE)
        .unwrap();
    rt().block_on(async {
        let c = Consumer::new(ConsumerConfig::new(broker.bootstrap()))
            .await
            .unwrap();
        let t0 = Instant::now();
        let e = c
            .partitions_for_timeout(&topic, Duration::from_millis(1500))
            .await
            .unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.code(), Some(ErrorCode::LEADER_NOT_AVAILABLE), "{e}");
        assert!(
            took >= Duration::from_millis(1400) && took < Duration::from_secs(5),
            "partitions_for_timeout(1.5 s) took {took:?}"
        );
        broker.topic_set_error(&topic, 0).unwrap();
        let parts = c
            .partitions_for_timeout(&topic, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(parts.len(), 2);
        let all = c
            .list_topics_timeout(Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(all.get(&topic).map(Vec::len), Some(2));
        c.close().await.unwrap();
    });
}
