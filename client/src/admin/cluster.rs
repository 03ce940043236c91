//! The cluster: its brokers and controller (Java's `describeCluster`), its
//! feature levels (`describeFeatures`, `updateFeatures`), the brokers' log
//! directories (`describeLogDirs`), leader elections (`electLeaders`) and
//! partition reassignments (`alterPartitionReassignments`,
//! `listPartitionReassignments`).
//!
//! ```no_run
//! use purekafka::TopicPartition;
//! use purekafka::admin::{Admin, ElectionType};
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! let cluster = admin.describe_cluster().await?;
//! println!("cluster {} has {} brokers", cluster.cluster_id, cluster.nodes.len());
//! // Move partition 0 of "events" to brokers 2, 3, 1 (2 preferred), then
//! // make the preferred replica the leader.
//! let tp = TopicPartition::new("events", 0);
//! admin.alter_partition_reassignments([(tp.clone(), Some(vec![2, 3, 1]))]).await?;
//! admin.elect_leaders(ElectionType::Preferred, Some(vec![tp])).await?;
//! # Ok(()) }
//! ```

use crate::TopicPartition;
use crate::admin::{
    Admin, AuthorizedOperations, NeedsVersion, Target, by_partition, by_topic, no_result,
    not_controller, per_partition, remaining_ms, require, resource_error, top_level, topic_error,
};
use crate::error::{Error, Result};
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use purekafka_protocol::messages::describe_log_dirs_response::DescribeLogDirsResult;
use purekafka_protocol::messages::elect_leaders_request::TopicPartitions;
use purekafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use purekafka_protocol::messages::update_features_request::FeatureUpdateKey;
use purekafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiVersionsRequest,
    ApiVersionsResponse, DescribeClusterRequest, DescribeClusterResponse, DescribeLogDirsRequest,
    ElectLeadersRequest, ElectLeadersResponse, ListPartitionReassignmentsRequest, MetadataRequest,
    UpdateFeaturesRequest, UpdateFeaturesResponse,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// A broker as [`Admin::describe_cluster`] describes it (Java's `Node`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Node id.
    pub id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack, if it has one.
    pub rack: Option<String>,
    /// Whether the controller has fenced it (asked for with
    /// `include_fenced_brokers`; always false otherwise).
    pub is_fenced: bool,
}

/// The cluster (Java's `DescribeClusterResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: String,
    /// The controller's node id as the brokers report it (under KRaft a
    /// broker that forwards to the controller quorum), if any.
    pub controller: Option<i32>,
    /// The brokers, by id.
    pub nodes: Vec<Node>,
    /// What the principal may do on the cluster (asked for with
    /// `include_authorized_operations`).
    pub authorized_operations: Option<AuthorizedOperations>,
}

/// Options of [`Admin::describe_cluster_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeClusterOptions {
    /// How long the call may take (`default.api.timeout.ms` if unset).
    pub timeout: Option<Duration>,
    /// Ask for the principal's authorized operations on the cluster.
    pub include_authorized_operations: bool,
    /// List fenced brokers too (DescribeCluster v2+).
    pub include_fenced_brokers: bool,
}

/// A feature's version range (Java's `SupportedVersionRange` and
/// `FinalizedVersionRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// The lowest level.
    pub min: i16,
    /// The highest level.
    pub max: i16,
}

/// The cluster's features (Java's `FeatureMetadata`), as one broker
/// reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureMetadata {
    /// The finalized (cluster-wide, in force) levels, by feature name
    /// (`metadata.version`, `transaction.version`, ...).
    pub finalized: BTreeMap<String, VersionRange>,
    /// The epoch of the finalized levels, if the broker sent one.
    pub finalized_epoch: Option<i64>,
    /// The levels this broker supports, by feature name.
    pub supported: BTreeMap<String, VersionRange>,
}

/// How a feature update may move the level (Java's
/// `FeatureUpdate.UpgradeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureUpgradeType {
    /// Only up.
    Upgrade,
    /// Down, where no metadata is lost.
    SafeDowngrade,
    /// Down, even where metadata is lost.
    UnsafeDowngrade,
}

impl FeatureUpgradeType {
    fn code(self) -> i8 {
        match self {
            FeatureUpgradeType::Upgrade => 1,
            FeatureUpgradeType::SafeDowngrade => 2,
            FeatureUpgradeType::UnsafeDowngrade => 3,
        }
    }
}

/// A feature level to set (Java's `FeatureUpdate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureUpdate {
    /// The new highest level (0 with a downgrade: disable the feature).
    pub max_version_level: i16,
    /// Which way it may go.
    pub upgrade_type: FeatureUpgradeType,
}

impl FeatureUpdate {
    /// An upgrade to `level`.
    pub fn upgrade(level: i16) -> Self {
        FeatureUpdate {
            max_version_level: level,
            upgrade_type: FeatureUpgradeType::Upgrade,
        }
    }

    /// A safe downgrade to `level`.
    pub fn safe_downgrade(level: i16) -> Self {
        FeatureUpdate {
            max_version_level: level,
            upgrade_type: FeatureUpgradeType::SafeDowngrade,
        }
    }

    /// An unsafe downgrade to `level`.
    pub fn unsafe_downgrade(level: i16) -> Self {
        FeatureUpdate {
            max_version_level: level,
            upgrade_type: FeatureUpgradeType::UnsafeDowngrade,
        }
    }
}

/// Options of [`Admin::update_features_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateFeaturesOptions {
    /// How long the call may take (`default.api.timeout.ms` if unset).
    pub timeout: Option<Duration>,
    /// Only check that the updates would be accepted.
    pub validate_only: bool,
}

/// One replica in a log directory (Java's `ReplicaInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaInfo {
    /// Bytes on disk.
    pub size: i64,
    /// How far it lags the log end offset (a future replica: the current one).
    pub offset_lag: i64,
    /// Whether it is a future replica (being moved into this directory).
    pub is_future: bool,
}

/// One log directory of a broker (Java's `LogDirDescription`).
#[derive(Debug, Clone)]
pub struct LogDirDescription {
    /// The directory's error (KAFKA_STORAGE_ERROR for an offline one).
    pub error: Option<Error>,
    /// The replicas in it.
    pub replicas: BTreeMap<TopicPartition, ReplicaInfo>,
    /// The volume's size in bytes, if the broker reports it.
    pub total_bytes: Option<i64>,
    /// The bytes free for the broker on the volume, if reported.
    pub usable_bytes: Option<i64>,
    /// Whether the directory is cordoned (takes no new replicas; v5+).
    pub is_cordoned: bool,
}

/// Which replica an election makes leader (Java's `ElectionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// The preferred replica (the first of the assignment), if in sync.
    Preferred,
    /// Any live replica, in sync or not (may lose data).
    Unclean,
}

/// Options of the calls that only have a timeout (elections,
/// reassignments, log dirs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeoutOptions {
    /// How long the call may take (`default.api.timeout.ms` if unset); also
    /// the request's own `timeoutMs` where it has one.
    pub timeout: Option<Duration>,
}

/// A partition's ongoing reassignment (Java's `PartitionReassignment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReassignment {
    /// The replicas now (old and new).
    pub replicas: Vec<i32>,
    /// The replicas being added.
    pub adding: Vec<i32>,
    /// The replicas being removed.
    pub removing: Vec<i32>,
}

/// Partition indexes by topic, for the requests that list them.
fn grouped<'a>(tps: impl IntoIterator<Item = &'a TopicPartition>) -> BTreeMap<&'a str, Vec<i32>> {
    by_topic(tps.into_iter().map(|tp| (tp, tp.partition)))
}

fn cluster_from_response(resp: DescribeClusterResponse) -> Result<ClusterDescription> {
    let code = ErrorCode(resp.error_code);
    if code.is_err() {
        return Err(resource_error(
            code,
            "DescribeCluster",
            "the cluster",
            resp.error_message.as_deref(),
        ));
    }
    let mut nodes: Vec<Node> = resp
        .brokers
        .into_iter()
        .map(|b| Node {
            id: b.broker_id,
            host: b.host,
            port: b.port,
            rack: b.rack,
            is_fenced: b.is_fenced,
        })
        .collect();
    nodes.sort_by_key(|n| n.id);
    Ok(ClusterDescription {
        cluster_id: resp.cluster_id,
        controller: (resp.controller_id >= 0).then_some(resp.controller_id),
        nodes,
        authorized_operations: AuthorizedOperations::from_wire(resp.cluster_authorized_operations),
    })
}

fn features_from_response(resp: ApiVersionsResponse) -> Result<FeatureMetadata> {
    let code = ErrorCode(resp.error_code);
    if code.is_err() {
        return Err(resource_error(
            code,
            "ApiVersions",
            "the broker's features",
            None,
        ));
    }
    Ok(FeatureMetadata {
        finalized: resp
            .finalized_features
            .into_iter()
            .map(|f| {
                (
                    f.name,
                    VersionRange {
                        min: f.min_version_level,
                        max: f.max_version_level,
                    },
                )
            })
            .collect(),
        finalized_epoch: (resp.finalized_features_epoch >= 0)
            .then_some(resp.finalized_features_epoch),
        supported: resp
            .supported_features
            .into_iter()
            .map(|f| {
                (
                    f.name,
                    VersionRange {
                        min: f.min_version,
                        max: f.max_version,
                    },
                )
            })
            .collect(),
    })
}

/// The UpdateFeatures request at `version`; `validate_only` needs v1+ (v0
/// has no ValidateOnly: Java refuses it the same way).
fn update_features_request(
    version: i16,
    updates: &BTreeMap<String, FeatureUpdate>,
    validate_only: bool,
    timeout_ms: i32,
) -> std::result::Result<UpdateFeaturesRequest, NeedsVersion> {
    if validate_only {
        require(version, 1, "validateOnly")?;
    }
    Ok(UpdateFeaturesRequest {
        timeout_ms,
        feature_updates: updates
            .iter()
            .map(|(name, u)| FeatureUpdateKey {
                feature: name.clone(),
                max_version_level: u.max_version_level,
                // v0 only knows "may downgrade"; v1+ says how (and has
                // no such field).
                allow_downgrade: version == 0 && u.upgrade_type != FeatureUpgradeType::Upgrade,
                upgrade_type: if version == 0 {
                    FeatureUpgradeType::Upgrade.code()
                } else {
                    u.upgrade_type.code()
                },
                ..Default::default()
            })
            .collect(),
        validate_only,
        ..Default::default()
    })
}

fn update_features_results(
    names: Vec<String>,
    resp: UpdateFeaturesResponse,
) -> BTreeMap<String, Result<()>> {
    let top = ErrorCode(resp.error_code);
    names
        .into_iter()
        .map(|name| {
            let what = format!("feature {name}");
            let r = if top.is_err() {
                Err(resource_error(
                    top,
                    "UpdateFeatures",
                    &what,
                    resp.error_message.as_deref(),
                ))
            } else if resp.results.is_empty() {
                // v2+: no per-feature results; the top level speaks for all.
                Ok(())
            } else {
                match resp.results.iter().find(|r| r.feature == name) {
                    Some(r) if ErrorCode(r.error_code).is_err() => Err(resource_error(
                        ErrorCode(r.error_code),
                        "UpdateFeatures",
                        &what,
                        r.error_message.as_deref(),
                    )),
                    Some(_) => Ok(()),
                    None => Err(no_result("UpdateFeatures", &what)),
                }
            };
            (name, r)
        })
        .collect()
}

fn log_dirs_from_results(
    results: Vec<DescribeLogDirsResult>,
) -> BTreeMap<String, LogDirDescription> {
    results
        .into_iter()
        .map(|d| {
            let code = ErrorCode(d.error_code);
            let topics = d.topics.into_iter().map(|t| (t.name, t.partitions));
            let replicas = by_partition(topics, |_, p| {
                let replica = ReplicaInfo {
                    size: p.partition_size,
                    offset_lag: p.offset_lag,
                    is_future: p.is_future_key,
                };
                (p.partition_index, replica)
            });
            let error = code.is_err().then(|| {
                resource_error(
                    code,
                    "DescribeLogDirs",
                    &format!("log dir {}", d.log_dir),
                    None,
                )
            });
            (
                d.log_dir,
                LogDirDescription {
                    error,
                    replicas,
                    total_bytes: (d.total_bytes >= 0).then_some(d.total_bytes),
                    usable_bytes: (d.usable_bytes >= 0).then_some(d.usable_bytes),
                    is_cordoned: d.is_cordoned,
                },
            )
        })
        .collect()
}

fn elect_request(
    election: ElectionType,
    partitions: Option<&[TopicPartition]>,
    timeout_ms: i32,
) -> ElectLeadersRequest {
    ElectLeadersRequest {
        election_type: match election {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        },
        topic_partitions: partitions.map(|tps| {
            grouped(tps)
                .into_iter()
                .map(|(topic, partitions)| TopicPartitions {
                    topic: topic.to_string(),
                    partitions,
                    ..Default::default()
                })
                .collect()
        }),
        timeout_ms,
        ..Default::default()
    }
}

fn elect_results(
    asked: Option<&[TopicPartition]>,
    resp: ElectLeadersResponse,
) -> BTreeMap<TopicPartition, Result<()>> {
    let top = ErrorCode(resp.error_code);
    let topics = resp
        .replica_election_results
        .into_iter()
        .map(|t| (t.topic, t.partition_result));
    // A top-level error is every partition's.
    let mut out = per_partition("ElectLeaders", topics, |p| {
        let code = if top.is_err() { top.0 } else { p.error_code };
        (p.partition_id, code, p.error_message, ())
    });
    if let Some(asked) = asked {
        for tp in asked {
            out.entry(tp.clone()).or_insert_with(|| {
                Err(topic_error(
                    if top.is_err() {
                        top
                    } else {
                        ErrorCode::UNKNOWN_SERVER_ERROR
                    },
                    "ElectLeaders",
                    tp.topic(),
                    Some(tp.partition),
                    Some("the broker sent no result for it"),
                ))
            });
        }
    }
    out
}

fn reassign_request(
    changes: &BTreeMap<TopicPartition, Option<Vec<i32>>>,
    timeout_ms: i32,
) -> AlterPartitionReassignmentsRequest {
    let partitions = changes.iter().map(|(tp, replicas)| {
        let p = ReassignablePartition {
            partition_index: tp.partition,
            replicas: replicas.clone(),
            ..Default::default()
        };
        (tp, p)
    });
    AlterPartitionReassignmentsRequest {
        timeout_ms,
        topics: by_topic(partitions)
            .into_iter()
            .map(|(name, partitions)| ReassignableTopic {
                name: name.to_string(),
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn reassign_results(
    asked: impl IntoIterator<Item = TopicPartition>,
    resp: AlterPartitionReassignmentsResponse,
) -> BTreeMap<TopicPartition, Result<()>> {
    let top = ErrorCode(resp.error_code);
    let mut got: BTreeMap<TopicPartition, (ErrorCode, Option<String>)> = BTreeMap::new();
    for t in resp.responses {
        for p in t.partitions {
            got.insert(
                TopicPartition::new(t.name.as_str(), p.partition_index),
                (ErrorCode(p.error_code), p.error_message),
            );
        }
    }
    asked
        .into_iter()
        .map(|tp| {
            let (code, message) = if top.is_err() {
                (top, resp.error_message.clone())
            } else {
                got.remove(&tp).unwrap_or((
                    ErrorCode::UNKNOWN_SERVER_ERROR,
                    Some("the broker sent no result for it".into()),
                ))
            };
            let r = if code.is_err() {
                Err(topic_error(
                    code,
                    "AlterPartitionReassignments",
                    tp.topic(),
                    Some(tp.partition),
                    message.as_deref(),
                ))
            } else {
                Ok(())
            };
            (tp, r)
        })
        .collect()
}

impl Admin {
    /// The cluster's id, brokers and controller (Java's `describeCluster`),
    /// with the default options.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        self.describe_cluster_with(DescribeClusterOptions::default())
            .await
    }

    /// The cluster's id, brokers and controller. A broker without
    /// DescribeCluster (before Kafka 2.8) is asked with Metadata.
    pub async fn describe_cluster_with(
        &self,
        opts: DescribeClusterOptions,
    ) -> Result<ClusterDescription> {
        let deadline = self.deadline(opts.timeout);
        let req = DescribeClusterRequest {
            include_cluster_authorized_operations: opts.include_authorized_operations,
            include_fenced_brokers: opts.include_fenced_brokers,
            ..Default::default()
        };
        match self
            .call_until(Target::Any, &req, deadline, |r| top_level(r.error_code))
            .await
        {
            Ok(resp) => cluster_from_response(resp),
            Err(Error::UnsupportedVersion { .. }) => {
                let req = MetadataRequest {
                    topics: Some(Vec::new()),
                    include_cluster_authorized_operations: opts.include_authorized_operations,
                    ..Default::default()
                };
                let md = self
                    .call_until(Target::Any, &req, deadline, |_| None)
                    .await?;
                let mut nodes: Vec<Node> = md
                    .brokers
                    .into_iter()
                    .map(|b| Node {
                        id: b.node_id,
                        host: b.host,
                        port: b.port,
                        rack: b.rack,
                        is_fenced: false,
                    })
                    .collect();
                nodes.sort_by_key(|n| n.id);
                Ok(ClusterDescription {
                    cluster_id: md.cluster_id.unwrap_or_default(),
                    controller: (md.controller_id >= 0).then_some(md.controller_id),
                    nodes,
                    authorized_operations: AuthorizedOperations::from_wire(
                        md.cluster_authorized_operations,
                    ),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The cluster's finalized feature levels and what a broker supports
    /// (Java's `describeFeatures`; ApiVersions v3+ carries them).
    pub async fn describe_features(&self) -> Result<FeatureMetadata> {
        self.describe_features_with(TimeoutOptions::default()).await
    }

    /// [`describe_features`](Self::describe_features) with a timeout.
    pub async fn describe_features_with(&self, opts: TimeoutOptions) -> Result<FeatureMetadata> {
        let req = ApiVersionsRequest {
            client_software_name: "purekafka".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        let resp = self.call_any(&req, opts.timeout, |_| None).await?;
        features_from_response(resp)
    }

    /// Sets feature levels (Java's `updateFeatures`), with the default
    /// options.
    pub async fn update_features(
        &self,
        updates: impl IntoIterator<Item = (impl Into<String>, FeatureUpdate)>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        self.update_features_with(updates, UpdateFeaturesOptions::default())
            .await
    }

    /// Sets feature levels: each feature's outcome (a level the brokers
    /// do not support, or a downgrade sent as an upgrade, is
    /// INVALID_UPDATE_VERSION naming the feature). The controller decides;
    /// under KRaft any broker forwards it.
    pub async fn update_features_with(
        &self,
        updates: impl IntoIterator<Item = (impl Into<String>, FeatureUpdate)>,
        opts: UpdateFeaturesOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let updates: BTreeMap<String, FeatureUpdate> =
            updates.into_iter().map(|(k, v)| (k.into(), v)).collect();
        if updates.is_empty() {
            return Ok(BTreeMap::new());
        }
        let deadline = self.deadline(opts.timeout);
        let (resp, _) = self
            .call_with(
                Target::Controller,
                deadline,
                |version| {
                    update_features_request(
                        version,
                        &updates,
                        opts.validate_only,
                        remaining_ms(deadline),
                    )
                },
                |r: &UpdateFeaturesResponse| not_controller(r.error_code),
            )
            .await?;
        Ok(update_features_results(updates.into_keys().collect(), resp))
    }

    /// The log directories of each broker (Java's `describeLogDirs`), with
    /// every replica in them: per broker, its directories by path, or why
    /// the broker could not answer.
    pub async fn describe_log_dirs(
        &self,
        brokers: impl IntoIterator<Item = i32>,
    ) -> Result<BTreeMap<i32, Result<BTreeMap<String, LogDirDescription>>>> {
        self.describe_log_dirs_with(brokers, TimeoutOptions::default())
            .await
    }

    /// [`describe_log_dirs`](Self::describe_log_dirs) with a timeout.
    pub async fn describe_log_dirs_with(
        &self,
        brokers: impl IntoIterator<Item = i32>,
        opts: TimeoutOptions,
    ) -> Result<BTreeMap<i32, Result<BTreeMap<String, LogDirDescription>>>> {
        let deadline = self.deadline(opts.timeout);
        let mut out = BTreeMap::new();
        let mut ids: Vec<i32> = brokers.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let req = DescribeLogDirsRequest {
            topics: None,
            ..Default::default()
        };
        // One broker at a time: a cluster has few, and each answers fast.
        for id in ids {
            let r = self
                .call_until(Target::Broker(id), &req, deadline, |_| None)
                .await
                .and_then(|resp| {
                    let code = ErrorCode(resp.error_code);
                    if code.is_err() {
                        return Err(resource_error(
                            code,
                            "DescribeLogDirs",
                            &format!("broker {id}"),
                            None,
                        ));
                    }
                    Ok(log_dirs_from_results(resp.results))
                });
            out.insert(id, r);
        }
        Ok(out)
    }

    /// Elects leaders (Java's `electLeaders`), with the default options.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<Vec<TopicPartition>>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        self.elect_leaders_with(election, partitions, TimeoutOptions::default())
            .await
    }

    /// Elects leaders for `partitions` (`None`: every partition whose
    /// leader is not the preferred replica, or, unclean, that has none):
    /// each partition's outcome. A partition already led by its preferred
    /// replica is ELECTION_NOT_NEEDED, as in Java.
    pub async fn elect_leaders_with(
        &self,
        election: ElectionType,
        partitions: Option<Vec<TopicPartition>>,
        opts: TimeoutOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let deadline = self.deadline(opts.timeout);
        let (resp, _) = self
            .call_with(
                Target::Controller,
                deadline,
                |_| {
                    Ok(elect_request(
                        election,
                        partitions.as_deref(),
                        remaining_ms(deadline),
                    ))
                },
                |r: &ElectLeadersResponse| not_controller(r.error_code),
            )
            .await?;
        Ok(elect_results(partitions.as_deref(), resp))
    }

    /// Starts (`Some(replicas)`) or cancels (`None`) partition
    /// reassignments (Java's `alterPartitionReassignments`), with the
    /// default options.
    pub async fn alter_partition_reassignments(
        &self,
        changes: impl IntoIterator<Item = (TopicPartition, Option<Vec<i32>>)>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        self.alter_partition_reassignments_with(changes, TimeoutOptions::default())
            .await
    }

    /// Starts or cancels reassignments: each partition's outcome (the move
    /// itself goes on in the background: follow it with
    /// [`list_partition_reassignments`](Self::list_partition_reassignments)).
    /// Cancelling one that is not going on is NO_REASSIGNMENT_IN_PROGRESS.
    pub async fn alter_partition_reassignments_with(
        &self,
        changes: impl IntoIterator<Item = (TopicPartition, Option<Vec<i32>>)>,
        opts: TimeoutOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let changes: BTreeMap<TopicPartition, Option<Vec<i32>>> = changes.into_iter().collect();
        if changes.is_empty() {
            return Ok(BTreeMap::new());
        }
        let deadline = self.deadline(opts.timeout);
        let (resp, _) = self
            .call_with(
                Target::Controller,
                deadline,
                |_| Ok(reassign_request(&changes, remaining_ms(deadline))),
                |r: &AlterPartitionReassignmentsResponse| not_controller(r.error_code),
            )
            .await?;
        Ok(reassign_results(changes.into_keys(), resp))
    }

    /// The reassignments going on (Java's `listPartitionReassignments`),
    /// among `partitions` (`None`: all).
    pub async fn list_partition_reassignments(
        &self,
        partitions: Option<Vec<TopicPartition>>,
    ) -> Result<BTreeMap<TopicPartition, PartitionReassignment>> {
        self.list_partition_reassignments_with(partitions, TimeoutOptions::default())
            .await
    }

    /// [`list_partition_reassignments`](Self::list_partition_reassignments)
    /// with a timeout.
    pub async fn list_partition_reassignments_with(
        &self,
        partitions: Option<Vec<TopicPartition>>,
        opts: TimeoutOptions,
    ) -> Result<BTreeMap<TopicPartition, PartitionReassignment>> {
        let deadline = self.deadline(opts.timeout);
        let (resp, _) = self
            .call_with(
                Target::Controller,
                deadline,
                |_| {
                    Ok(ListPartitionReassignmentsRequest {
                        timeout_ms: remaining_ms(deadline),
                        topics: partitions.as_ref().map(|tps| {
                            grouped(tps)
                                .into_iter()
                                .map(
                                    |(name, partition_indexes)| ListPartitionReassignmentsTopics {
                                        name: name.to_string(),
                                        partition_indexes,
                                        ..Default::default()
                                    },
                                )
                                .collect()
                        }),
                        ..Default::default()
                    })
                },
                |r| not_controller(r.error_code),
            )
            .await?;
        let code = ErrorCode(resp.error_code);
        if code.is_err() {
            return Err(resource_error(
                code,
                "ListPartitionReassignments",
                "the reassignments",
                resp.error_message.as_deref(),
            ));
        }
        let topics = resp.topics.into_iter().map(|t| (t.name, t.partitions));
        Ok(by_partition(topics, |_, p| {
            let going = PartitionReassignment {
                replicas: p.replicas,
                adding: p.adding_replicas,
                removing: p.removing_replicas,
            };
            (p.partition_index, going)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use purekafka_protocol::messages::alter_partition_reassignments_response::{
        ReassignablePartitionResponse, ReassignableTopicResponse,
    };
    use purekafka_protocol::messages::api_versions_response::{
        FinalizedFeatureKey, SupportedFeatureKey,
    };
    use purekafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use purekafka_protocol::messages::describe_log_dirs_response::{
        DescribeLogDirsPartition, DescribeLogDirsTopic,
    };
    use purekafka_protocol::messages::elect_leaders_response::{
        PartitionResult, ReplicaElectionResult,
    };
    use purekafka_protocol::messages::update_features_response::UpdatableFeatureResult;

    #[test]
    fn cluster_description_sorts_nodes_and_reads_the_controller() {
        let resp = DescribeClusterResponse {
            cluster_id: "abc".into(),
            controller_id: 2,
            brokers: vec![
                DescribeClusterBroker {
                    broker_id: 3,
                    host: "h3".into(),
                    port: 9,
                    ..Default::default()
                },
                DescribeClusterBroker {
                    broker_id: 1,
                    host: "h1".into(),
                    port: 9,
                    rack: Some("r".into()),
                    ..Default::default()
                },
            ],
            cluster_authorized_operations: i32::MIN,
            ..Default::default()
        };
        let d = cluster_from_response(resp).unwrap();
        assert_eq!(d.cluster_id, "abc");
        assert_eq!(d.controller, Some(2));
        assert_eq!(d.nodes.iter().map(|n| n.id).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(d.nodes[0].rack.as_deref(), Some("r"));
        assert_eq!(d.authorized_operations, None);
        let none = DescribeClusterResponse {
            controller_id: -1,
            ..Default::default()
        };
        assert_eq!(cluster_from_response(none).unwrap().controller, None);
        let denied = DescribeClusterResponse {
            error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
        assert!(cluster_from_response(denied).is_err());
    }

    #[test]
    fn features_are_read_from_api_versions() {
        let resp = ApiVersionsResponse {
            finalized_features_epoch: 7,
            finalized_features: vec![FinalizedFeatureKey {
                name: "transaction.version".into(),
                min_version_level: 2,
                max_version_level: 2,
                ..Default::default()
            }],
            supported_features: vec![SupportedFeatureKey {
                name: "transaction.version".into(),
                min_version: 0,
                max_version: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        let f = features_from_response(resp).unwrap();
        assert_eq!(f.finalized_epoch, Some(7));
        assert_eq!(
            f.finalized["transaction.version"],
            VersionRange { min: 2, max: 2 }
        );
        assert_eq!(
            f.supported["transaction.version"],
            VersionRange { min: 0, max: 2 }
        );
    }

    #[test]
    fn feature_updates_carry_the_upgrade_type_and_results_split_by_version() {
        let updates: BTreeMap<String, FeatureUpdate> = [
            ("a".to_string(), FeatureUpdate::upgrade(2)),
            ("b".to_string(), FeatureUpdate::unsafe_downgrade(0)),
        ]
        .into();
        let req = update_features_request(1, &updates, true, 500).unwrap();
        assert!(req.validate_only);
        assert_eq!(req.timeout_ms, 500);
        assert_eq!(req.feature_updates[0].upgrade_type, 1);
        assert_eq!(req.feature_updates[1].upgrade_type, 3);
        // v0's AllowDowngrade, set only there (v1+ cannot encode it).
        assert!(!req.feature_updates[1].allow_downgrade);
        let v0 = update_features_request(0, &updates, false, 500).unwrap();
        assert!(!v0.feature_updates[0].allow_downgrade);
        assert!(v0.feature_updates[1].allow_downgrade);
        // v0-1: per-feature results.
        let resp = UpdateFeaturesResponse {
            results: vec![
                UpdatableFeatureResult {
                    feature: "a".into(),
                    ..Default::default()
                },
                UpdatableFeatureResult {
                    feature: "b".into(),
                    error_code: ErrorCode::INVALID_UPDATE_VERSION.0,
                    error_message: Some("no".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = update_features_results(vec!["a".into(), "b".into()], resp);
        assert!(out["a"].is_ok());
        let e = out["b"].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::INVALID_UPDATE_VERSION));
        assert!(e.to_string().contains("feature b"), "{e}");
        // v2: the top-level error is every feature's.
        let resp = UpdateFeaturesResponse {
            error_code: ErrorCode::INVALID_UPDATE_VERSION.0,
            ..Default::default()
        };
        let out = update_features_results(vec!["a".into()], resp);
        assert!(out["a"].is_err());
        let out = update_features_results(vec!["a".into()], UpdateFeaturesResponse::default());
        assert!(out["a"].is_ok());
    }

    #[test]
    fn requests_encode_at_every_version() {
        use purekafka_protocol::Message;
        // All topics: a null array (0 in a flexible version).
        let req = DescribeLogDirsRequest {
            topics: None,
            ..Default::default()
        };
        let mut buf = bytes::BytesMut::new();
        req.encode(&mut buf, 4).unwrap();
        assert_eq!(&buf[..], &[0, 0]);
        let updates: BTreeMap<String, FeatureUpdate> =
            [("a".to_string(), FeatureUpdate::safe_downgrade(1))].into();
        for v in UpdateFeaturesRequest::VERSIONS.min..=UpdateFeaturesRequest::VERSIONS.max {
            for validate_only in [false, true] {
                match update_features_request(v, &updates, validate_only, 1) {
                    Ok(req) => drop(crate::net::conn::encode_frame(&req, v).unwrap()),
                    Err(n) => assert!(v == 0 && validate_only, "v{v}: {n:?}"),
                }
            }
        }
    }

    #[test]
    fn validate_only_on_update_features_v0_is_refused_naming_the_field() {
        let updates: BTreeMap<String, FeatureUpdate> =
            [("metadata.version".to_string(), FeatureUpdate::upgrade(7))].into();
        // v0 has no ValidateOnly: sending it would drop the flag (or fail to
        // encode); the call fails before anything is sent, as Java's does.
        let needs = update_features_request(0, &updates, true, 1).unwrap_err();
        assert_eq!(
            needs,
            NeedsVersion {
                needs: 1,
                what: "validateOnly"
            }
        );
        let e = needs.error("localhost:9092 (id 1)", "UpdateFeatures", 0);
        assert!(
            matches!(
                &e,
                Error::UnsupportedByBroker {
                    api: "UpdateFeatures",
                    version: 0,
                    needs: 1,
                    what: "validateOnly",
                    ..
                }
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("validateOnly is not supported by the broker"),
            "{text}"
        );
        assert!(text.contains("UpdateFeatures v0"), "{text}");
        assert!(text.contains("localhost:9092"), "{text}");
        assert!(!e.is_retriable());
        // v1+ carries it.
        assert!(
            update_features_request(1, &updates, true, 1)
                .unwrap()
                .validate_only
        );
    }

    #[test]
    fn log_dirs_index_replicas_by_partition() {
        let dirs = log_dirs_from_results(vec![
            DescribeLogDirsResult {
                log_dir: "/d1".into(),
                topics: vec![DescribeLogDirsTopic {
                    name: "t".into(),
                    partitions: vec![DescribeLogDirsPartition {
                        partition_index: 1,
                        partition_size: 100,
                        offset_lag: 0,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                total_bytes: 1000,
                usable_bytes: -1,
                ..Default::default()
            },
            DescribeLogDirsResult {
                log_dir: "/d2".into(),
                error_code: ErrorCode::KAFKA_STORAGE_ERROR.0,
                ..Default::default()
            },
        ]);
        let d1 = &dirs["/d1"];
        assert!(d1.error.is_none());
        assert_eq!(d1.replicas[&TopicPartition::new("t", 1)].size, 100);
        assert_eq!(d1.total_bytes, Some(1000));
        assert_eq!(d1.usable_bytes, None);
        assert_eq!(
            dirs["/d2"].error.as_ref().and_then(Error::code),
            Some(ErrorCode::KAFKA_STORAGE_ERROR)
        );
    }

    #[test]
    fn elections_report_each_partition_and_the_missing_ones() {
        let asked = vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)];
        let req = elect_request(ElectionType::Unclean, Some(&asked), 100);
        assert_eq!(req.election_type, 1);
        let tps = req.topic_partitions.unwrap();
        assert_eq!(tps[0].partitions, [0, 1]);
        assert!(
            elect_request(ElectionType::Preferred, None, 1)
                .topic_partitions
                .is_none()
        );
        let resp = ElectLeadersResponse {
            replica_election_results: vec![ReplicaElectionResult {
                topic: "t".into(),
                partition_result: vec![PartitionResult {
                    partition_id: 0,
                    error_code: ErrorCode::ELECTION_NOT_NEEDED.0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = elect_results(Some(&asked), resp);
        let e = out[&TopicPartition::new("t", 0)].as_ref().unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::ELECTION_NOT_NEEDED));
        assert!(e.to_string().contains('t'), "{e}");
        assert_eq!(
            out[&TopicPartition::new("t", 1)]
                .as_ref()
                .unwrap_err()
                .code(),
            Some(ErrorCode::UNKNOWN_SERVER_ERROR)
        );
    }

    #[test]
    fn reassignments_group_by_topic_and_cancel_with_null_replicas() {
        let changes: BTreeMap<TopicPartition, Option<Vec<i32>>> = [
            (TopicPartition::new("t", 0), Some(vec![2, 1])),
            (TopicPartition::new("t", 1), None),
        ]
        .into();
        let req = reassign_request(&changes, 10);
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].partitions[0].replicas, Some(vec![2, 1]));
        assert_eq!(req.topics[0].partitions[1].replicas, None);
        let resp = AlterPartitionReassignmentsResponse {
            responses: vec![ReassignableTopicResponse {
                name: "t".into(),
                partitions: vec![
                    ReassignablePartitionResponse {
                        partition_index: 0,
                        ..Default::default()
                    },
                    ReassignablePartitionResponse {
                        partition_index: 1,
                        error_code: ErrorCode::NO_REASSIGNMENT_IN_PROGRESS.0,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = reassign_results(changes.into_keys(), resp);
        assert!(out[&TopicPartition::new("t", 0)].is_ok());
        assert_eq!(
            out[&TopicPartition::new("t", 1)]
                .as_ref()
                .unwrap_err()
                .code(),
            Some(ErrorCode::NO_REASSIGNMENT_IN_PROGRESS)
        );
    }
}
