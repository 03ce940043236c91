//! Topics: create, delete, list, describe, and add partitions (Java's
//! `createTopics`, `deleteTopics`, `listTopics`, `describeTopics`,
//! `createPartitions`).
//!
//! Changes go to any broker (under KRaft it forwards them to the
//! controller; NOT_CONTROLLER is retried after a metadata refresh); reads
//! are Metadata requests. Each topic has its own outcome.
//!
//! ```no_run
//! use purekafka::admin::{CreateTopicsOptions, NewPartitions, NewTopic};
//! use purekafka::{Admin, ErrorCode};
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! let topics = [
//!     NewTopic::new("orders", 12, 3).config("cleanup.policy", "compact"),
//!     // Broker defaults for partitions and replication.
//!     NewTopic::with_defaults("audit"),
//!     // Replicas placed by hand: partition 0 on brokers 1 and 2, ...
//!     NewTopic::with_assignment("pinned", [vec![1, 2], vec![2, 3]]),
//! ];
//! let opts = CreateTopicsOptions { validate_only: true, ..Default::default() };
//! for (name, outcome) in admin.create_topics_with(topics, opts).await? {
//!     match outcome {
//!         Ok(t) => println!("{name} would have {} partitions", t.num_partitions),
//!         Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
//!         Err(e) => eprintln!("{e}"),
//!     }
//! }
//! let d = admin.describe_topics(["orders"]).await?;
//! if let Some(Ok(orders)) = d.get("orders") {
//!     for p in &orders.partitions {
//!         println!("{}: leader {:?}, isr {:?}", p.partition, p.leader, p.isr);
//!     }
//! }
//! admin.create_partitions([("orders", NewPartitions::increase_to(24))]).await?;
//! admin.delete_topics(["audit"]).await?;
//! # Ok(()) }
//! ```

use super::{
    Admin, AuthorizedOperations, Target, check, check_topic, remaining_ms, require, resource_error,
};
use crate::error::{Error, Result};
use purekafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use purekafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use purekafka_protocol::messages::delete_topics_request::DeleteTopicState;
use purekafka_protocol::messages::metadata_request::MetadataRequestTopic;
use purekafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, MetadataRequest,
    MetadataResponse,
};
use purekafka_protocol::{ErrorCode, Uuid};
use std::collections::BTreeMap;
use std::time::Duration;

/// A topic to create (Java's `NewTopic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The name.
    pub name: String,
    /// Partitions; `None`: the broker's `num.partitions`.
    pub num_partitions: Option<i32>,
    /// Replicas per partition; `None`: the broker's
    /// `default.replication.factor`.
    pub replication_factor: Option<i16>,
    /// Replicas by hand, partition by partition (the broker ids of each
    /// partition's replicas, the preferred leader first); when set, the
    /// partition count and replication factor come from it.
    pub replica_assignment: Option<Vec<Vec<i32>>>,
    /// Topic configs (`retention.ms`, `cleanup.policy`, ...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// `partitions` partitions with `replication` replicas each.
    pub fn new(name: impl Into<String>, partitions: i32, replication: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: Some(partitions),
            replication_factor: Some(replication),
            replica_assignment: None,
            configs: BTreeMap::new(),
        }
    }

    /// The broker's default partition count and replication factor.
    pub fn with_defaults(name: impl Into<String>) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: None,
            replication_factor: None,
            replica_assignment: None,
            configs: BTreeMap::new(),
        }
    }

    /// Replicas by hand: element `i` lists partition `i`'s replicas.
    pub fn with_assignment(
        name: impl Into<String>,
        partitions: impl IntoIterator<Item = Vec<i32>>,
    ) -> NewTopic {
        NewTopic {
            replica_assignment: Some(partitions.into_iter().collect()),
            ..NewTopic::with_defaults(name)
        }
    }

    /// Adds a topic config.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> NewTopic {
        self.configs.insert(name.into(), value.into());
        self
    }

    fn to_wire(&self) -> CreatableTopic {
        let (num_partitions, replication_factor, assignments) = match &self.replica_assignment {
            Some(a) => (
                -1,
                -1,
                a.iter()
                    .enumerate()
                    .map(|(i, brokers)| CreatableReplicaAssignment {
                        partition_index: i32::try_from(i).unwrap_or(i32::MAX),
                        broker_ids: brokers.clone(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            None => (
                self.num_partitions.unwrap_or(-1),
                self.replication_factor.unwrap_or(-1),
                Vec::new(),
            ),
        };
        CreatableTopic {
            name: self.name.clone(),
            num_partitions,
            replication_factor,
            assignments,
            configs: self
                .configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: k.clone(),
                    value: Some(v.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// Options of [`Admin::create_topics_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateTopicsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// Check the request (names, configs, placement) without creating.
    pub validate_only: bool,
}

/// A config of a created topic, as the broker reports it (CreateTopics v5+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopicConfig {
    /// The name.
    pub name: String,
    /// The value; `None` when sensitive or unset.
    pub value: Option<String>,
    /// Read-only.
    pub read_only: bool,
    /// Sensitive (the value is hidden).
    pub sensitive: bool,
}

/// A created (or, validating only, creatable) topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCreated {
    /// The new topic's id (zero when validating only or from brokers
    /// before CreateTopics v7).
    pub topic_id: Uuid,
    /// Its partition count (-1 when the broker does not say).
    pub num_partitions: i32,
    /// Its replication factor (-1 when the broker does not say).
    pub replication_factor: i16,
    /// Its configs, defaults included (empty when the broker does not say,
    /// or does not let us describe them).
    pub configs: Vec<CreatedTopicConfig>,
}

/// Options of [`Admin::delete_topics_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteTopicsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
}

/// Options of [`Admin::list_topics_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTopicsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// Include internal topics (`__consumer_offsets`, ...).
    pub list_internal: bool,
}

/// A topic as [`Admin::list_topics`] lists it (Java's `TopicListing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    /// The name.
    pub name: String,
    /// The id.
    pub topic_id: Uuid,
    /// An internal topic.
    pub is_internal: bool,
}

/// Options of [`Admin::describe_topics_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeTopicsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// Ask which operations this client may perform on each topic.
    pub include_authorized_operations: bool,
}

/// One partition of a described topic (Java's `TopicPartitionInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    /// The index.
    pub partition: i32,
    /// The leader's node id; `None` while there is none.
    pub leader: Option<i32>,
    /// The leader epoch (-1 if unknown).
    pub leader_epoch: i32,
    /// The replicas' node ids, the preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas offline.
    pub offline_replicas: Vec<i32>,
}

/// A described topic (Java's `TopicDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// The name.
    pub name: String,
    /// The id.
    pub topic_id: Uuid,
    /// An internal topic.
    pub is_internal: bool,
    /// Partitions, by index.
    pub partitions: Vec<PartitionDescription>,
    /// What this client may do with it (when asked for).
    pub authorized_operations: Option<AuthorizedOperations>,
}

/// A new partition count for a topic (Java's `NewPartitions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    /// The total partition count wanted (more than today's).
    pub total_count: i32,
    /// The new partitions' replicas, by hand (one list of broker ids per
    /// new partition); `None`: the broker places them.
    pub assignments: Option<Vec<Vec<i32>>>,
}

impl NewPartitions {
    /// Grow to `total` partitions, placed by the broker.
    pub fn increase_to(total: i32) -> NewPartitions {
        NewPartitions {
            total_count: total,
            assignments: None,
        }
    }

    /// Grow to `total` partitions, each new one on the given brokers.
    pub fn increase_to_with(total: i32, assignments: Vec<Vec<i32>>) -> NewPartitions {
        NewPartitions {
            total_count: total,
            assignments: Some(assignments),
        }
    }
}

/// Options of [`Admin::create_partitions_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreatePartitionsOptions {
    /// The call's timeout; `None`: `default.api.timeout.ms`.
    pub timeout: Option<Duration>,
    /// Check without adding partitions.
    pub validate_only: bool,
}

/// Per-topic codes worth another round of a topic change: the controller
/// moved, or a quota throttled us. (A timed-out creation is not retried:
/// the broker may have created the topic.)
fn retry_change(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(ErrorCode::NOT_CONTROLLER | ErrorCode::THROTTLING_QUOTA_EXCEEDED)
    )
}

impl Admin {
    /// Creates topics (Java's `createTopics`), with the default options.
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
    ) -> Result<BTreeMap<String, Result<TopicCreated>>> {
        self.create_topics_with(topics, CreateTopicsOptions::default())
            .await
    }

    /// Creates topics: each topic's outcome, by name. An existing topic is
    /// TOPIC_ALREADY_EXISTS naming it (the others are still created); an
    /// invalid config INVALID_CONFIG with the broker's message naming the
    /// key.
    pub async fn create_topics_with(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
        opts: CreateTopicsOptions,
    ) -> Result<BTreeMap<String, Result<TopicCreated>>> {
        let deadline = self.deadline(opts.timeout);
        let topics: BTreeMap<String, NewTopic> =
            topics.into_iter().map(|t| (t.name.clone(), t)).collect();
        let names: Vec<String> = topics.keys().cloned().collect();
        self.per_resource("CreateTopics", names, deadline, retry_change, |names| {
            let req = CreateTopicsRequest {
                topics: names
                    .iter()
                    .filter_map(|n| topics.get(n))
                    .map(NewTopic::to_wire)
                    .collect(),
                timeout_ms: remaining_ms(deadline),
                validate_only: opts.validate_only,
                ..Default::default()
            };
            async move {
                let resp = self
                    .call_until(Target::Any, &req, deadline, |_| None)
                    .await?;
                Ok(resp
                    .topics
                    .into_iter()
                    .map(|t| {
                        let api = "CreateTopics";
                        let outcome = check_topic(
                            t.error_code,
                            api,
                            &t.name,
                            None,
                            t.error_message.as_deref(),
                        )
                        .map(|()| TopicCreated {
                            topic_id: t.topic_id,
                            num_partitions: t.num_partitions,
                            replication_factor: t.replication_factor,
                            configs: t
                                .configs
                                .unwrap_or_default()
                                .into_iter()
                                .map(|c| CreatedTopicConfig {
                                    name: c.name,
                                    value: c.value,
                                    read_only: c.read_only,
                                    sensitive: c.is_sensitive,
                                })
                                .collect(),
                        });
                        (t.name, outcome)
                    })
                    .collect())
            }
        })
        .await
    }

    /// Deletes topics by name (Java's `deleteTopics`), with the default
    /// options.
    pub async fn delete_topics<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        self.delete_topics_with(names, DeleteTopicsOptions::default())
            .await
    }

    /// Deletes topics by name: each one's outcome. A missing topic is
    /// UNKNOWN_TOPIC_OR_PARTITION naming it.
    pub async fn delete_topics_with<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
        opts: DeleteTopicsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let deadline = self.deadline(opts.timeout);
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        self.per_resource("DeleteTopics", names, deadline, retry_change, |names| {
            let build = move |version: i16| {
                Ok(if version >= 6 {
                    DeleteTopicsRequest {
                        topics: names
                            .iter()
                            .map(|n| DeleteTopicState {
                                name: Some(n.clone()),
                                ..Default::default()
                            })
                            .collect(),
                        timeout_ms: remaining_ms(deadline),
                        ..Default::default()
                    }
                } else {
                    DeleteTopicsRequest {
                        topic_names: names.clone(),
                        timeout_ms: remaining_ms(deadline),
                        ..Default::default()
                    }
                })
            };
            async move {
                let (resp, _) = self
                    .call_with(Target::Any, deadline, build, |_| None)
                    .await?;
                Ok(resp
                    .responses
                    .into_iter()
                    .filter_map(|r| {
                        let name = r.name?;
                        let message = r.error_message.as_deref();
                        let outcome =
                            check_topic(r.error_code, "DeleteTopics", &name, None, message);
                        Some((name, outcome))
                    })
                    .collect())
            }
        })
        .await
    }

    /// Deletes topics by id (DeleteTopics v6+, Kafka 2.8+): each one's
    /// outcome, by id.
    pub async fn delete_topics_by_id(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
        opts: DeleteTopicsOptions,
    ) -> Result<BTreeMap<Uuid, Result<()>>> {
        let deadline = self.deadline(opts.timeout);
        let ids: Vec<Uuid> = ids.into_iter().collect();
        self.per_resource("DeleteTopics", ids, deadline, retry_change, |ids| {
            let build = move |version: i16| {
                require(version, 6, "deleting topics by id")?;
                Ok(DeleteTopicsRequest {
                    topics: ids
                        .iter()
                        .map(|id| DeleteTopicState {
                            name: None,
                            topic_id: *id,
                            ..Default::default()
                        })
                        .collect(),
                    timeout_ms: remaining_ms(deadline),
                    ..Default::default()
                })
            };
            async move {
                let (resp, _) = self
                    .call_with(Target::Any, deadline, build, |_| None)
                    .await?;
                Ok(resp
                    .responses
                    .into_iter()
                    .map(|r| {
                        let outcome = check(r.error_code, |code| {
                            let what = match &r.name {
                                Some(n) => format!("topic {n} (id {})", r.topic_id),
                                None => format!("topic id {}", r.topic_id),
                            };
                            let message = r.error_message.as_deref();
                            resource_error(code, "DeleteTopics", &what, message)
                        });
                        (r.topic_id, outcome)
                    })
                    .collect())
            }
        })
        .await
    }

    /// The topics of the cluster, internal ones left out (Java's
    /// `listTopics`).
    pub async fn list_topics(&self) -> Result<Vec<TopicListing>> {
        self.list_topics_with(ListTopicsOptions::default()).await
    }

    /// The topics of the cluster, by name.
    pub async fn list_topics_with(&self, opts: ListTopicsOptions) -> Result<Vec<TopicListing>> {
        let req = MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let resp = self.call_any(&req, opts.timeout, |_| None).await?;
        let mut out: Vec<TopicListing> = resp
            .topics
            .into_iter()
            .filter(|t| opts.list_internal || !t.is_internal)
            .filter_map(|t| {
                Some(TopicListing {
                    name: t.name?,
                    topic_id: t.topic_id,
                    is_internal: t.is_internal,
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Describes topics by name (Java's `describeTopics`), with the
    /// default options.
    pub async fn describe_topics<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<TopicDescription>>> {
        self.describe_topics_with(names, DescribeTopicsOptions::default())
            .await
    }

    /// Describes topics by name: each one's partitions (leader, replicas,
    /// ISR), id, and, if asked, the operations this client may perform. A
    /// missing topic is UNKNOWN_TOPIC_OR_PARTITION naming it; a topic
    /// whose leaders are still being elected is asked again.
    pub async fn describe_topics_with<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
        opts: DescribeTopicsOptions,
    ) -> Result<BTreeMap<String, Result<TopicDescription>>> {
        let deadline = self.deadline(opts.timeout);
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let retry = |e: &Error| e.code() != Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        self.per_resource("Metadata", names, deadline, retry, |names| {
            let req = MetadataRequest {
                topics: Some(
                    names
                        .iter()
                        .map(|n| MetadataRequestTopic {
                            name: Some(n.clone()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                allow_auto_topic_creation: false,
                include_topic_authorized_operations: opts.include_authorized_operations,
                ..Default::default()
            };
            async move {
                let resp = self
                    .call_until(Target::Any, &req, deadline, |_| None)
                    .await?;
                Ok(describe_results(resp))
            }
        })
        .await
    }

    /// Describes topics by id (Java's `describeTopics(TopicCollection.ofTopicIds)`,
    /// Metadata v10+): each id's description, or its error
    /// (UNKNOWN_TOPIC_ID naming the id).
    pub async fn describe_topics_by_id(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
        opts: DescribeTopicsOptions,
    ) -> Result<BTreeMap<Uuid, Result<TopicDescription>>> {
        let deadline = self.deadline(opts.timeout);
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let retry = |e: &Error| {
            !matches!(
                e.code(),
                Some(ErrorCode::UNKNOWN_TOPIC_ID | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
            )
        };
        self.per_resource("Metadata", ids, deadline, retry, |ids| {
            let build = move |version: i16| {
                require(version, 10, "describing topics by id")?;
                Ok(MetadataRequest {
                    topics: Some(
                        ids.iter()
                            .map(|id| MetadataRequestTopic {
                                topic_id: *id,
                                name: None,
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    allow_auto_topic_creation: false,
                    include_topic_authorized_operations: opts.include_authorized_operations,
                    ..Default::default()
                })
            };
            async move {
                let (resp, _) = self
                    .call_with(Target::Any, deadline, build, |_| None)
                    .await?;
                Ok(resp
                    .topics
                    .into_iter()
                    .map(|t| {
                        let id = t.topic_id;
                        let what = || format!("topic id {id}");
                        if let Err(e) = check(t.error_code, |c| {
                            resource_error(c, "Metadata", &what(), None)
                        }) {
                            return (id, Err(e));
                        }
                        let one = MetadataResponse {
                            topics: vec![t],
                            ..Default::default()
                        };
                        let d = describe_results(one)
                            .into_values()
                            .next()
                            .unwrap_or_else(|| {
                                Err(resource_error(
                                    ErrorCode::UNKNOWN_SERVER_ERROR,
                                    "Metadata",
                                    &what(),
                                    Some("the broker sent no name for it"),
                                ))
                            });
                        (id, d)
                    })
                    .collect())
            }
        })
        .await
    }

    /// Adds partitions to topics (Java's `createPartitions`), with the
    /// default options.
    pub async fn create_partitions<S: Into<String>>(
        &self,
        topics: impl IntoIterator<Item = (S, NewPartitions)>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        self.create_partitions_with(topics, CreatePartitionsOptions::default())
            .await
    }

    /// Adds partitions to topics: each topic's outcome. A count not above
    /// today's is INVALID_PARTITIONS naming the topic.
    pub async fn create_partitions_with<S: Into<String>>(
        &self,
        topics: impl IntoIterator<Item = (S, NewPartitions)>,
        opts: CreatePartitionsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let deadline = self.deadline(opts.timeout);
        let topics: BTreeMap<String, NewPartitions> =
            topics.into_iter().map(|(n, p)| (n.into(), p)).collect();
        let names: Vec<String> = topics.keys().cloned().collect();
        self.per_resource("CreatePartitions", names, deadline, retry_change, |names| {
            let req = CreatePartitionsRequest {
                topics: names
                    .iter()
                    .filter_map(|n| topics.get(n).map(|p| (n, p)))
                    .map(|(n, p)| CreatePartitionsTopic {
                        name: n.clone(),
                        count: p.total_count,
                        assignments: p.assignments.as_ref().map(|a| {
                            a.iter()
                                .map(|b| CreatePartitionsAssignment {
                                    broker_ids: b.clone(),
                                    ..Default::default()
                                })
                                .collect()
                        }),
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: remaining_ms(deadline),
                validate_only: opts.validate_only,
                ..Default::default()
            };
            async move {
                let resp = self
                    .call_until(Target::Any, &req, deadline, |_| None)
                    .await?;
                Ok(resp
                    .results
                    .into_iter()
                    .map(|r| {
                        let message = r.error_message.as_deref();
                        let outcome =
                            check_topic(r.error_code, "CreatePartitions", &r.name, None, message);
                        (r.name, outcome)
                    })
                    .collect())
            }
        })
        .await
    }
}

/// Each topic of a Metadata response, described (or its error).
fn describe_results(resp: MetadataResponse) -> BTreeMap<String, Result<TopicDescription>> {
    resp.topics
        .into_iter()
        .filter_map(|t| {
            let name = t.name?;
            if let Err(e) = check_topic(t.error_code, "Metadata", &name, None, None) {
                return Some((name, Err(e)));
            }
            let mut partitions: Vec<PartitionDescription> = t
                .partitions
                .into_iter()
                .map(|p| PartitionDescription {
                    partition: p.partition_index,
                    leader: (p.leader_id >= 0).then_some(p.leader_id),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes,
                    isr: p.isr_nodes,
                    offline_replicas: p.offline_replicas,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            let d = TopicDescription {
                name: name.clone(),
                topic_id: t.topic_id,
                is_internal: t.is_internal,
                partitions,
                authorized_operations: AuthorizedOperations::from_wire(
                    t.topic_authorized_operations,
                ),
            };
            Some((name, Ok(d)))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::metadata_response::{
        MetadataResponsePartition, MetadataResponseTopic,
    };

    #[test]
    fn new_topic_wire_form() {
        let t = NewTopic::new("a", 3, 2).config("retention.ms", "1000");
        let w = t.to_wire();
        assert_eq!((w.num_partitions, w.replication_factor), (3, 2));
        assert_eq!(w.configs[0].name, "retention.ms");
        assert_eq!(w.configs[0].value.as_deref(), Some("1000"));
        let w = NewTopic::with_defaults("b").to_wire();
        assert_eq!((w.num_partitions, w.replication_factor), (-1, -1));
        let w = NewTopic::with_assignment("c", [vec![1, 2], vec![2, 3]]).to_wire();
        assert_eq!((w.num_partitions, w.replication_factor), (-1, -1));
        assert_eq!(w.assignments.len(), 2);
        assert_eq!(w.assignments[1].partition_index, 1);
        assert_eq!(w.assignments[1].broker_ids, [2, 3]);
    }

    #[test]
    fn describe_keeps_each_topics_outcome() {
        let resp = MetadataResponse {
            topics: vec![
                MetadataResponseTopic {
                    name: Some("ok".into()),
                    partitions: vec![
                        MetadataResponsePartition {
                            partition_index: 1,
                            leader_id: -1,
                            replica_nodes: vec![1, 2],
                            ..Default::default()
                        },
                        MetadataResponsePartition {
                            partition_index: 0,
                            leader_id: 2,
                            replica_nodes: vec![2, 1],
                            isr_nodes: vec![2],
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
                MetadataResponseTopic {
                    name: Some("missing".into()),
                    error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                    ..Default::default()
                },
                // A topic without a name (by-id answers) is not ours.
                MetadataResponseTopic {
                    name: None,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = describe_results(resp);
        assert_eq!(out.len(), 2);
        let ok = out["ok"].as_ref().unwrap();
        assert_eq!(ok.partitions[0].partition, 0);
        assert_eq!(ok.partitions[0].leader, Some(2));
        assert_eq!(ok.partitions[1].leader, None);
        let e = out["missing"].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
