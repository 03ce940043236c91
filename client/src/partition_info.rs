//! [`PartitionInfo`]: what a producer or a consumer tells about a topic's
//! partitions (Java's `PartitionInfo`, from `partitionsFor` and
//! `listTopics`), and the metadata lookup behind it.

use crate::TopicPartition;
use crate::error::{Error, Result};
use crate::net::{Cluster, Metadata, TopicInfo};
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::MetadataRequest;
use purekafka_protocol::messages::metadata_request::MetadataRequestTopic;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One partition of a topic as the cluster's metadata describes it (Java's
/// `PartitionInfo`), from [`Producer::partitions_for`],
/// [`Consumer::partitions_for`] and [`Consumer::list_topics`].
///
/// Brokers are named by node id; [`Admin::describe_cluster`] maps ids to
/// hosts. (The admin client's [`describe_topics`] gives the same facts per
/// topic, Java's `TopicPartitionInfo`.)
///
/// ```no_run
/// use purekafka::{Consumer, Producer};
///
/// # async fn demo(producer: Producer, consumer: Consumer) -> purekafka::Result<()> {
/// for p in producer.partitions_for("events").await? {
///     println!(
///         "{}: leader {:?}, replicas {:?}, in sync {:?}",
///         p.topic_partition(),
///         p.leader,
///         p.replicas,
///         p.isr
///     );
/// }
/// // A consumer answers an unknown topic with no partitions, as Java's does.
/// if consumer.partitions_for("no-such-topic").await?.is_empty() {
///     println!("no such topic");
/// }
/// for (topic, partitions) in consumer.list_topics().await? {
///     println!("{topic}: {} partitions", partitions.len());
/// }
/// # Ok(()) }
/// ```
///
/// [`Producer::partitions_for`]: crate::Producer::partitions_for
/// [`Consumer::partitions_for`]: crate::Consumer::partitions_for
/// [`Consumer::list_topics`]: crate::Consumer::list_topics
/// [`Admin::describe_cluster`]: crate::Admin::describe_cluster
/// [`describe_topics`]: crate::Admin::describe_topics
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The topic (shared by its partitions).
    pub topic: Arc<str>,
    /// The partition index.
    pub partition: i32,
    /// The leader's node id; `None` while there is none (an election, all
    /// replicas offline).
    pub leader: Option<i32>,
    /// The replicas' node ids, the preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas (Java's `inSyncReplicas`).
    pub isr: Vec<i32>,
    /// The replicas that are offline (brokers since Kafka 1.0 report them;
    /// empty from older ones).
    pub offline_replicas: Vec<i32>,
}

impl PartitionInfo {
    /// The topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }

    /// The partitions of a topic in a client's metadata.
    pub(crate) fn of(topic: &TopicInfo) -> Vec<PartitionInfo> {
        let name: Arc<str> = topic.name.as_str().into();
        topic
            .partitions
            .iter()
            .map(|p| PartitionInfo {
                topic: name.clone(),
                partition: p.id,
                leader: (p.leader >= 0).then_some(p.leader),
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                offline_replicas: p.offline_replicas.clone(),
            })
            .collect()
    }
}

/// How a metadata lookup retries: `backoff` doubling up to `backoff_max`
/// (`retry.backoff.ms`, `retry.backoff.max.ms`), until `deadline`.
pub(crate) struct Lookup {
    pub(crate) backoff: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) deadline: Instant,
    /// The timeout the deadline came from, for the error when nothing
    /// answered at all.
    pub(crate) timeout: Duration,
}

/// The partitions of `topics` (every topic: `None`), from one Metadata
/// request to any broker, as Java's consumer looks them up for
/// `partitionsFor` and `listTopics`: a topic the cluster does not have is
/// left out (UNKNOWN_TOPIC_OR_PARTITION is an answer, not a failure); a
/// retriable failure (a lost connection, LEADER_NOT_AVAILABLE while a topic
/// is being created) is tried again until the deadline, then returned; any
/// other topic error (INVALID_TOPIC_EXCEPTION, TOPIC_AUTHORIZATION_FAILED)
/// fails the call, naming the topic. A named topic may be auto-created by
/// the request when `allow.auto.create.topics` (and the broker) allow it.
pub(crate) async fn lookup(
    cluster: &Cluster,
    topics: Option<&[&str]>,
    retry: &Lookup,
) -> Result<BTreeMap<String, Vec<PartitionInfo>>> {
    let req = MetadataRequest {
        topics: topics.map(|names| {
            names
                .iter()
                .map(|n| MetadataRequestTopic {
                    name: Some((*n).to_string()),
                    ..Default::default()
                })
                .collect()
        }),
        allow_auto_topic_creation: topics.is_some() && cluster.options().allow_auto_create_topics,
        ..Default::default()
    };
    let mut backoff = retry.backoff;
    let mut last: Option<Error> = None;
    loop {
        if Instant::now() >= retry.deadline {
            return Err(last.unwrap_or(Error::RequestTimeout {
                broker: "any broker".into(),
                api: "Metadata",
                timeout: retry.timeout,
            }));
        }
        let attempt = async { cluster.any_broker().await?.send(&req).await };
        let failure = match tokio::time::timeout_at(retry.deadline, attempt).await {
            Err(_elapsed) => continue,
            Ok(Err(e)) if e.is_retriable() => e,
            Ok(Err(e)) => return Err(e),
            Ok(Ok(resp)) => match answer(&Metadata::from_response(resp, Instant::now()))? {
                Ok(partitions) => return Ok(partitions),
                Err(retriable) => retriable,
            },
        };
        tracing::debug!("metadata lookup: retrying after {failure}");
        last = Some(failure);
        tokio::time::sleep_until((Instant::now() + backoff).min(retry.deadline)).await;
        backoff = (backoff * 2).min(retry.backoff_max.max(retry.backoff));
    }
}

/// What a Metadata response answers: the partitions of each topic it has,
/// `Ok(Err(e))` if a topic's error calls for asking again, `Err` if one
/// fails the call.
fn answer(
    md: &Metadata,
) -> Result<std::result::Result<BTreeMap<String, Vec<PartitionInfo>>, Error>> {
    let mut out = BTreeMap::new();
    for (name, topic) in &md.topics {
        let code = topic.error;
        if code == ErrorCode::NONE {
            out.insert(name.clone(), PartitionInfo::of(topic));
            continue;
        }
        if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
            continue;
        }
        let e = Error::Kafka {
            code,
            api: "Metadata",
            topic: Some(name.clone()),
            partition: None,
            message: None,
        };
        if !code.is_retriable() {
            return Err(e);
        }
        return Ok(Err(e));
    }
    Ok(Ok(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::MetadataResponse;
    use purekafka_protocol::messages::metadata_response::{
        MetadataResponsePartition, MetadataResponseTopic,
    };

    fn topic(
        name: &str,
        code: ErrorCode,
        partitions: Vec<MetadataResponsePartition>,
    ) -> MetadataResponseTopic {
        MetadataResponseTopic {
            name: Some(name.into()),
            error_code: code.0,
            partitions,
            ..Default::default()
        }
    }

    fn answered(
        topics: Vec<MetadataResponseTopic>,
    ) -> Result<std::result::Result<BTreeMap<String, Vec<PartitionInfo>>, Error>> {
        let resp = MetadataResponse {
            topics,
            ..Default::default()
        };
        answer(&Metadata::from_response(resp, Instant::now()))
    }

    #[test]
    fn partitions_keep_their_replicas_and_share_the_topic_name() {
        let p = |index, leader| MetadataResponsePartition {
            partition_index: index,
            leader_id: leader,
            leader_epoch: 3,
            replica_nodes: vec![1, 2, 3],
            isr_nodes: vec![1, 2],
            offline_replicas: vec![3],
            ..Default::default()
        };
        // Out of order on the wire, by index in the answer.
        let got = answered(vec![topic(
            "events",
            ErrorCode::NONE,
            vec![p(1, -1), p(0, 1)],
        )])
        .unwrap()
        .unwrap();
        let events = &got["events"];
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0].topic_partition(),
            TopicPartition::new("events", 0)
        );
        assert_eq!((events[0].leader, events[1].leader), (Some(1), None));
        assert_eq!(events[1].replicas, [1, 2, 3]);
        assert_eq!(events[1].isr, [1, 2]);
        assert_eq!(events[1].offline_replicas, [3]);
        assert!(Arc::ptr_eq(&events[0].topic, &events[1].topic));
    }

    #[test]
    fn an_unknown_topic_is_left_out_and_the_others_answer() {
        let got = answered(vec![
            topic("gone", ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, vec![]),
            topic("here", ErrorCode::NONE, vec![]),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["here"]);
    }

    #[test]
    fn a_topic_being_created_asks_again_and_a_refused_one_fails_naming_it() {
        let again = answered(vec![topic("new", ErrorCode::LEADER_NOT_AVAILABLE, vec![])])
            .unwrap()
            .unwrap_err();
        assert_eq!(again.code(), Some(ErrorCode::LEADER_NOT_AVAILABLE));

        let e = answered(vec![topic(
            "secret",
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            vec![],
        )])
        .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        assert!(e.to_string().contains("secret"), "{e}");
    }
}
