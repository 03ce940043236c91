//! The consumer calls a Java-client user reaches for first: `subscription()`
//! (Java's `subscription()`), `commit_async_with` (Java's
//! `commitAsync(OffsetCommitCallback)`), and the calls with an explicit
//! timeout (`partitionsFor`, `committed`, `position` with a `Duration`).

use purekafka::config::{ConsumerConfig, GroupProtocol, OffsetReset};
use purekafka::consumer::Consumer;
use purekafka_integration::{Cluster, rt, unique_topic};
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
