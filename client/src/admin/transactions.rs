//! Producers and transactions: who writes to a partition
//! (`describeProducers`), which transactions exist (`listTransactions`,
//! `describeTransactions`), and the operator's remedies: aborting a
//! hanging transaction (`abortTransaction`) and fencing producers
//! (`fenceProducers`).
//!
//! A hanging transaction is one a partition still holds open although its
//! coordinator has forgotten it: the partition's last stable offset stays
//! put and `read_committed` consumers stop there. Find it with
//! [`Admin::describe_producers`] (a producer with a
//! `current_transaction_start_offset` that [`Admin::describe_transactions`]
//! does not know as ongoing), then end it:
//!
//! ```no_run
//! use purekafka::TopicPartition;
//! use purekafka::admin::{AbortTransactionSpec, Admin};
//!
//! # async fn demo(admin: Admin) -> purekafka::Result<()> {
//! let tp = TopicPartition::new("events", 0);
//! let producers = admin.describe_producers([tp.clone()]).await?;
//! for p in producers[&tp].as_ref().map_err(Clone::clone)? {
//!     if p.current_transaction_start_offset.is_some() {
//!         admin.abort_transaction(AbortTransactionSpec::for_producer(tp.clone(), p)).await?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Routing, as Kafka requires: DescribeProducers and WriteTxnMarkers to the
//! partition's leader, DescribeTransactions and InitProducerId (fencing) to
//! each transactional id's coordinator, ListTransactions to every broker
//! (each coordinates some transactional ids), merged.

use crate::TopicPartition;
use crate::admin::{
    Admin, Target, by_topic, check, each_key, no_result, per_partition, require, resource_error,
    top_level, topic_error,
};
use crate::error::Result;
use crate::net::coordinator::CoordinatorType;
use purekafka_protocol::ErrorCode;
use purekafka_protocol::messages::describe_producers_request::TopicRequest;
use purekafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use purekafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, InitProducerIdRequest, ListTransactionsRequest,
    ListTransactionsResponse, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

/// One producer's state at a partition (Java's `ProducerState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i32,
    /// The last sequence number written (-1 if none).
    pub last_sequence: i32,
    /// The timestamp of its last write (-1 if unknown).
    pub last_timestamp: i64,
    /// The coordinator epoch of its last transaction marker, if any.
    pub coordinator_epoch: Option<i32>,
    /// Where its open transaction begins in this partition, if one is open.
    pub current_transaction_start_offset: Option<i64>,
}

/// Options of [`Admin::describe_producers_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeProducersOptions {
    /// How long the call may take (`default.api.timeout.ms` if unset).
    pub timeout: Option<Duration>,
    /// Ask this broker (a follower, say) instead of each partition's leader.
    pub broker_id: Option<i32>,
}

/// A transaction's state (Java's `TransactionState`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TransactionState {
    /// No transaction open.
    Empty,
    /// Open.
    Ongoing,
    /// Committing: markers being written.
    PrepareCommit,
    /// Aborting: markers being written.
    PrepareAbort,
    /// Committed.
    CompleteCommit,
    /// Aborted.
    CompleteAbort,
    /// Expired, about to be removed.
    Dead,
    /// Being fenced (a new producer took the transactional id over).
    PrepareEpochFence,
    /// A state this version of purekafka does not know, by its name.
    Unknown(String),
}

impl TransactionState {
    /// Kafka's name for it (`Ongoing`, `PrepareCommit`).
    pub fn name(&self) -> &str {
        match self {
            TransactionState::Empty => "Empty",
            TransactionState::Ongoing => "Ongoing",
            TransactionState::PrepareCommit => "PrepareCommit",
            TransactionState::PrepareAbort => "PrepareAbort",
            TransactionState::CompleteCommit => "CompleteCommit",
            TransactionState::CompleteAbort => "CompleteAbort",
            TransactionState::Dead => "Dead",
            TransactionState::PrepareEpochFence => "PrepareEpochFence",
            TransactionState::Unknown(s) => s,
        }
    }

    /// The state of a name Kafka sent.
    pub fn from_name(name: &str) -> Self {
        match name {
            "Empty" => TransactionState::Empty,
            "Ongoing" => TransactionState::Ongoing,
            "PrepareCommit" => TransactionState::PrepareCommit,
            "PrepareAbort" => TransactionState::PrepareAbort,
            "CompleteCommit" => TransactionState::CompleteCommit,
            "CompleteAbort" => TransactionState::CompleteAbort,
            "Dead" => TransactionState::Dead,
            "PrepareEpochFence" => TransactionState::PrepareEpochFence,
            other => TransactionState::Unknown(other.to_string()),
        }
    }
}

impl fmt::Display for TransactionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A transactional id as a broker lists it (Java's `TransactionListing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its state.
    pub state: TransactionState,
}

/// Options of [`Admin::list_transactions_with`] (Java's
/// `ListTransactionsOptions`): the filters are ANDed, empty ones match all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTransactionsOptions {
    /// How long the call may take (`default.api.timeout.ms` if unset).
    pub timeout: Option<Duration>,
    /// Only transactions in these states.
    pub states: Vec<TransactionState>,
    /// Only these producer ids.
    pub producer_ids: Vec<i64>,
    /// Only transactions open longer than this (ListTransactions v1+).
    pub open_longer_than: Option<Duration>,
    /// Only transactional ids matching this regular expression (v2+).
    pub transactional_id_pattern: Option<String>,
}

/// A transaction as its coordinator describes it (Java's
/// `TransactionDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// The coordinator's node id.
    pub coordinator_id: i32,
    /// The state.
    pub state: TransactionState,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// The transaction timeout.
    pub transaction_timeout: Duration,
    /// When the open transaction began (ms since the epoch), if one is open.
    pub transaction_start_time_ms: Option<i64>,
    /// The partitions in the open transaction.
    pub partitions: BTreeSet<TopicPartition>,
}

/// What [`Admin::abort_transaction`] aborts (Java's
/// `AbortTransactionSpec`): one producer's open transaction at one
/// partition, as [`Admin::describe_producers`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortTransactionSpec {
    /// The partition.
    pub partition: TopicPartition,
    /// The producer id.
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The coordinator epoch to write the marker with (-1 if none known).
    pub coordinator_epoch: i32,
}

impl AbortTransactionSpec {
    /// The spec for `producer`'s transaction at `partition`.
    pub fn for_producer(partition: TopicPartition, producer: &ProducerState) -> Self {
        AbortTransactionSpec {
            partition,
            producer_id: producer.producer_id,
            producer_epoch: i16::try_from(producer.producer_epoch).unwrap_or(i16::MAX),
            coordinator_epoch: producer.coordinator_epoch.unwrap_or(-1),
        }
    }
}

/// A producer id and epoch, as fencing leaves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdAndEpoch {
    /// Producer id.
    pub producer_id: i64,
    /// The new epoch (the fenced producer's was lower).
    pub epoch: i16,
}

/// Options of the calls that have only a timeout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionOptions {
    /// How long the call may take (`default.api.timeout.ms` if unset).
    pub timeout: Option<Duration>,
}

fn producers_from_response(
    resp: DescribeProducersResponse,
) -> BTreeMap<TopicPartition, Result<Vec<ProducerState>>> {
    let topics = resp.topics.into_iter().map(|t| (t.name, t.partitions));
    per_partition("DescribeProducers", topics, |p| {
        let producers = p
            .active_producers
            .into_iter()
            .map(|s| ProducerState {
                producer_id: s.producer_id,
                producer_epoch: s.producer_epoch,
                last_sequence: s.last_sequence,
                last_timestamp: s.last_timestamp,
                coordinator_epoch: (s.coordinator_epoch >= 0).then_some(s.coordinator_epoch),
                current_transaction_start_offset: (s.current_txn_start_offset >= 0)
                    .then_some(s.current_txn_start_offset),
            })
            .collect();
        (p.partition_index, p.error_code, p.error_message, producers)
    })
}

fn describe_producers_request(tps: &[TopicPartition]) -> DescribeProducersRequest {
    DescribeProducersRequest {
        topics: by_topic(tps.iter().map(|tp| (tp, tp.partition)))
            .into_iter()
            .map(|(name, partition_indexes)| TopicRequest {
                name: name.to_string(),
                partition_indexes,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn listings_from_response(
    broker: i32,
    resp: ListTransactionsResponse,
) -> Result<Vec<TransactionListing>> {
    let code = ErrorCode(resp.error_code);
    if code.is_err() {
        return Err(resource_error(
            code,
            "ListTransactions",
            &format!("broker {broker}"),
            None,
        ));
    }
    Ok(resp
        .transaction_states
        .into_iter()
        .map(|t| TransactionListing {
            transactional_id: t.transactional_id,
            producer_id: t.producer_id,
            state: TransactionState::from_name(&t.transaction_state),
        })
        .collect())
}

fn description_from_response(
    id: &str,
    coordinator_id: i32,
    resp: DescribeTransactionsResponse,
) -> Result<TransactionDescription> {
    let Some(t) = resp
        .transaction_states
        .into_iter()
        .find(|t| t.transactional_id == id)
    else {
        return Err(no_result(
            "DescribeTransactions",
            &format_args!("transactional id '{id}'"),
        ));
    };
    let code = ErrorCode(t.error_code);
    if code.is_err() {
        return Err(resource_error(
            code,
            "DescribeTransactions",
            &format!("transactional id '{id}'"),
            None,
        ));
    }
    Ok(TransactionDescription {
        coordinator_id,
        state: TransactionState::from_name(&t.transaction_state),
        producer_id: t.producer_id,
        producer_epoch: t.producer_epoch,
        transaction_timeout: Duration::from_millis(
            u64::try_from(t.transaction_timeout_ms).unwrap_or(0),
        ),
        transaction_start_time_ms: (t.transaction_start_time_ms >= 0)
            .then_some(t.transaction_start_time_ms),
        partitions: t
            .topics
            .into_iter()
            .flat_map(|d| {
                let topic: std::sync::Arc<str> = d.topic.into();
                d.partitions
                    .into_iter()
                    .map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect(),
    })
}

fn abort_request(spec: &AbortTransactionSpec) -> WriteTxnMarkersRequest {
    WriteTxnMarkersRequest {
        markers: vec![WritableTxnMarker {
            producer_id: spec.producer_id,
            producer_epoch: spec.producer_epoch,
            transaction_result: false,
            topics: vec![WritableTxnMarkerTopic {
                name: spec.partition.topic().to_string(),
                partition_indexes: vec![spec.partition.partition],
                ..Default::default()
            }],
            coordinator_epoch: spec.coordinator_epoch,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The outcome of the one marker asked for; a response about anything
/// else is an error, as in Java.
fn abort_result(spec: &AbortTransactionSpec, resp: WriteTxnMarkersResponse) -> Result<()> {
    let tp = &spec.partition;
    let unexpected = |what: String| {
        Err(topic_error(
            ErrorCode::UNKNOWN_SERVER_ERROR,
            "WriteTxnMarkers",
            tp.topic(),
            Some(tp.partition),
            Some(&what),
        ))
    };
    let [marker] = resp.markers.as_slice() else {
        return unexpected(format!(
            "{} markers in the response, not 1",
            resp.markers.len()
        ));
    };
    if marker.producer_id != spec.producer_id {
        return unexpected(format!(
            "the response is for producer {}, not {}",
            marker.producer_id, spec.producer_id
        ));
    }
    let Some(p) = marker
        .topics
        .iter()
        .filter(|t| t.name == tp.topic())
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == tp.partition)
    else {
        return unexpected("the response does not name the partition".into());
    };
    let code = ErrorCode(p.error_code);
    if code.is_err() {
        let hint = match code {
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED => {
                Some("the principal needs CLUSTER_ACTION on the cluster")
            }
            ErrorCode::INVALID_PRODUCER_EPOCH => {
                Some("the producer has a newer epoch there: describe the producers again")
            }
            ErrorCode::TRANSACTION_COORDINATOR_FENCED => Some(
                "the coordinator epoch is older than the partition's: describe the producers again",
            ),
            _ => None,
        };
        return Err(topic_error(
            code,
            "WriteTxnMarkers",
            tp.topic(),
            Some(tp.partition),
            hint,
        ));
    }
    Ok(())
}

impl Admin {
    /// The producers writing to each partition (Java's
    /// `describeProducers`), with the default options.
    pub async fn describe_producers(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
    ) -> Result<BTreeMap<TopicPartition, Result<Vec<ProducerState>>>> {
        self.describe_producers_with(partitions, DescribeProducersOptions::default())
            .await
    }

    /// The producers writing to each partition, asked of its leader (or of
    /// `broker_id`): each partition's outcome. A leader that moved is
    /// found again.
    pub async fn describe_producers_with(
        &self,
        partitions: impl IntoIterator<Item = impl Into<TopicPartition>>,
        opts: DescribeProducersOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<Vec<ProducerState>>>> {
        let tps: Vec<TopicPartition> = partitions.into_iter().map(Into::into).collect();
        let deadline = self.deadline(opts.timeout);
        let ask = |leader: i32, tps: Vec<TopicPartition>| async move {
            let req = describe_producers_request(&tps);
            let resp = self
                .call_until(Target::Broker(leader), &req, deadline, |_| None)
                .await?;
            Ok(producers_from_response(resp))
        };
        self.per_leader("DescribeProducers", tps, deadline, opts.broker_id, ask)
            .await
    }

    /// Every transactional id the brokers coordinate (Java's
    /// `listTransactions`), with the default options.
    pub async fn list_transactions(
        &self,
    ) -> Result<BTreeMap<i32, Result<Vec<TransactionListing>>>> {
        self.list_transactions_with(ListTransactionsOptions::default())
            .await
    }

    /// The transactional ids matching the filters, asked of every broker
    /// (each coordinates some): per broker (its node id), its listing or
    /// why it could not answer. [`AllOk::all`](crate::admin::AllOk::all)
    /// and a flatten give the merged list.
    pub async fn list_transactions_with(
        &self,
        opts: ListTransactionsOptions,
    ) -> Result<BTreeMap<i32, Result<Vec<TransactionListing>>>> {
        let deadline = self.deadline(opts.timeout);
        let md = self.cluster().refresh_metadata().await?;
        let mut ids: Vec<i32> = md.brokers.keys().copied().collect();
        ids.sort_unstable();
        let duration_ms = match opts.open_longer_than {
            Some(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            None => -1,
        };
        let mut out = BTreeMap::new();
        for id in ids {
            let build = |version: i16| {
                if duration_ms >= 0 {
                    require(version, 1, "DurationFilter (open_longer_than)")?;
                }
                if opts.transactional_id_pattern.is_some() {
                    require(version, 2, "TransactionalIdPattern")?;
                }
                Ok(ListTransactionsRequest {
                    state_filters: opts.states.iter().map(|s| s.name().to_string()).collect(),
                    producer_id_filters: opts.producer_ids.clone(),
                    duration_filter: duration_ms,
                    transactional_id_pattern: opts.transactional_id_pattern.clone(),
                    ..Default::default()
                })
            };
            let r = self
                .call_with(
                    Target::Broker(id),
                    deadline,
                    build,
                    |r: &ListTransactionsResponse| top_level(r.error_code),
                )
                .await
                .and_then(|(resp, _)| listings_from_response(id, resp));
            out.insert(id, r);
        }
        Ok(out)
    }

    /// The transactions of these transactional ids, as their coordinators
    /// describe them (Java's `describeTransactions`), with the default
    /// options.
    pub async fn describe_transactions<S: Into<String>>(
        &self,
        transactional_ids: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<TransactionDescription>>> {
        self.describe_transactions_with(transactional_ids, TransactionOptions::default())
            .await
    }

    /// Each transactional id's transaction: an unknown one is
    /// TRANSACTIONAL_ID_NOT_FOUND naming it.
    pub async fn describe_transactions_with<S: Into<String>>(
        &self,
        transactional_ids: impl IntoIterator<Item = S>,
        opts: TransactionOptions,
    ) -> Result<BTreeMap<String, Result<TransactionDescription>>> {
        let deadline = self.deadline(opts.timeout);
        let ids = transactional_ids.into_iter().map(Into::into);
        let describe = |id: String| async move {
            let req = DescribeTransactionsRequest {
                transactional_ids: vec![id.clone()],
                ..Default::default()
            };
            // One id per request: its error (the coordinator moved or is
            // loading) is the request's, retried by call_coordinator.
            let retry_on = |r: &DescribeTransactionsResponse| {
                r.transaction_states
                    .iter()
                    .map(|t| ErrorCode(t.error_code))
                    .find(|c| c.is_err())
            };
            let (resp, coordinator) = self
                .call_coordinator(CoordinatorType::Transaction, &id, &req, deadline, retry_on)
                .await?;
            description_from_response(&id, coordinator, resp)
        };
        Ok(each_key(ids, describe).await)
    }

    /// Aborts one producer's open transaction at one partition (Java's
    /// `abortTransaction`), with the default options.
    pub async fn abort_transaction(&self, spec: AbortTransactionSpec) -> Result<()> {
        self.abort_transaction_with(spec, TransactionOptions::default())
            .await
    }

    /// Aborts a hanging transaction: writes an ABORT marker for it at the
    /// partition's leader, as the coordinator would have (WriteTxnMarkers;
    /// the principal needs CLUSTER_ACTION on the cluster). Use it for a
    /// transaction its coordinator no longer tracks; a live one is ended
    /// by its producer or by [`fence_producers`](Self::fence_producers).
    pub async fn abort_transaction_with(
        &self,
        spec: AbortTransactionSpec,
        opts: TransactionOptions,
    ) -> Result<()> {
        let deadline = self.deadline(opts.timeout);
        let tp = spec.partition.clone();
        let spec = &spec;
        let ask = |leader: i32, tps: Vec<TopicPartition>| async move {
            let resp = self
                .call_until(
                    Target::Broker(leader),
                    &abort_request(spec),
                    deadline,
                    |_| None,
                )
                .await?;
            abort_result(spec, resp)?;
            Ok(tps.into_iter().map(|tp| (tp, Ok(()))).collect())
        };
        let mut results = self
            .per_leader("WriteTxnMarkers", [tp.clone()], deadline, None, ask)
            .await?;
        results.remove(&tp).unwrap_or_else(|| {
            Err(topic_error(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                "WriteTxnMarkers",
                tp.topic(),
                Some(tp.partition),
                Some("no outcome"),
            ))
        })
    }

    /// Fences the producers of these transactional ids (Java's
    /// `fenceProducers`), with the default options.
    pub async fn fence_producers<S: Into<String>>(
        &self,
        transactional_ids: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<ProducerIdAndEpoch>>> {
        self.fence_producers_with(transactional_ids, TransactionOptions::default())
            .await
    }

    /// Fences each transactional id's producer: its coordinator bumps the
    /// epoch (InitProducerId, as a new producer would) and aborts any open
    /// transaction, so the old producer's next transactional call fails
    /// with PRODUCER_FENCED. Per id, the new producer id and epoch.
    pub async fn fence_producers_with<S: Into<String>>(
        &self,
        transactional_ids: impl IntoIterator<Item = S>,
        opts: TransactionOptions,
    ) -> Result<BTreeMap<String, Result<ProducerIdAndEpoch>>> {
        let deadline = self.deadline(opts.timeout);
        // The coordinator logs the new epoch within this timeout (Java uses
        // the option's timeout, else request.timeout.ms).
        let txn_timeout = opts.timeout.unwrap_or(self.config().client.request_timeout);
        let txn_timeout_ms = i32::try_from(txn_timeout.as_millis())
            .unwrap_or(i32::MAX)
            .max(1);
        let ids = transactional_ids.into_iter().map(Into::into);
        let fence = |id: String| async move {
            let req = InitProducerIdRequest {
                transactional_id: Some(id.clone()),
                transaction_timeout_ms: txn_timeout_ms,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            };
            let (resp, _) = self
                .call_coordinator(CoordinatorType::Transaction, &id, &req, deadline, |r| {
                    top_level(r.error_code)
                })
                .await?;
            check(resp.error_code, |code| {
                let hint = match code {
                    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => {
                        Some("the principal needs WRITE on the transactional id")
                    }
                    ErrorCode::CLUSTER_AUTHORIZATION_FAILED => {
                        Some("the principal needs IDEMPOTENT_WRITE on the cluster")
                    }
                    _ => None,
                };
                resource_error(
                    code,
                    "InitProducerId",
                    &format!("transactional id '{id}'"),
                    hint,
                )
            })?;
            Ok(ProducerIdAndEpoch {
                producer_id: resp.producer_id,
                epoch: resp.producer_epoch,
            })
        };
        Ok(each_key(ids, fence).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::leaders::leader_moved;
    use purekafka_protocol::messages::describe_producers_response::{
        PartitionResponse, ProducerState as WireState, TopicResponse,
    };
    use purekafka_protocol::messages::describe_transactions_response::{
        TopicData, TransactionState as WireTxn,
    };
    use purekafka_protocol::messages::write_txn_markers_response::{
        WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    };

    #[test]
    fn producer_states_map_the_unknowns_to_none() {
        let resp = DescribeProducersResponse {
            topics: vec![TopicResponse {
                name: "t".into(),
                partitions: vec![
                    PartitionResponse {
                        partition_index: 0,
                        active_producers: vec![WireState {
                            producer_id: 7,
                            producer_epoch: 2,
                            last_sequence: 9,
                            last_timestamp: 100,
                            coordinator_epoch: -1,
                            current_txn_start_offset: 42,
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    PartitionResponse {
                        partition_index: 1,
                        error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let out = producers_from_response(resp);
        let p = &out[&TopicPartition::new("t", 0)].as_ref().unwrap()[0];
        assert_eq!(p.producer_id, 7);
        assert_eq!(p.coordinator_epoch, None);
        assert_eq!(p.current_transaction_start_offset, Some(42));
        let e = out[&TopicPartition::new("t", 1)].as_ref().unwrap_err();
        assert!(leader_moved(e));
        let spec = AbortTransactionSpec::for_producer(TopicPartition::new("t", 0), p);
        assert_eq!((spec.producer_epoch, spec.coordinator_epoch), (2, -1));
        let req = abort_request(&spec);
        assert!(!req.markers[0].transaction_result);
        assert_eq!(req.markers[0].topics[0].partition_indexes, [0]);
    }

    #[test]
    fn describe_producers_groups_partitions_by_topic() {
        let req = describe_producers_request(&[
            TopicPartition::new("a", 1),
            TopicPartition::new("b", 0),
            TopicPartition::new("a", 0),
        ]);
        assert_eq!(req.topics.len(), 2);
        assert_eq!(req.topics[0].partition_indexes, [1, 0]);
    }

    fn marker_response(
        pid: i64,
        topic: &str,
        partition: i32,
        code: ErrorCode,
    ) -> WriteTxnMarkersResponse {
        WriteTxnMarkersResponse {
            markers: vec![WritableTxnMarkerResult {
                producer_id: pid,
                topics: vec![WritableTxnMarkerTopicResult {
                    name: topic.into(),
                    partitions: vec![WritableTxnMarkerPartitionResult {
                        partition_index: partition,
                        error_code: code.0,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn an_abort_result_must_be_about_what_was_asked() {
        let spec = AbortTransactionSpec {
            partition: TopicPartition::new("t", 3),
            producer_id: 5,
            producer_epoch: 1,
            coordinator_epoch: 0,
        };
        assert!(abort_result(&spec, marker_response(5, "t", 3, ErrorCode::NONE)).is_ok());
        let e = abort_result(&spec, marker_response(6, "t", 3, ErrorCode::NONE)).unwrap_err();
        assert!(e.to_string().contains("producer 6"), "{e}");
        assert!(abort_result(&spec, marker_response(5, "t", 2, ErrorCode::NONE)).is_err());
        assert!(abort_result(&spec, WriteTxnMarkersResponse::default()).is_err());
        let e = abort_result(
            &spec,
            marker_response(5, "t", 3, ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        )
        .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED));
        assert!(e.to_string().contains("CLUSTER_ACTION"), "{e}");
        assert!(e.to_string().contains('t'), "{e}");
    }

    #[test]
    fn a_transaction_description() {
        let resp = DescribeTransactionsResponse {
            transaction_states: vec![WireTxn {
                transactional_id: "tx".into(),
                transaction_state: "Ongoing".into(),
                transaction_timeout_ms: 60_000,
                transaction_start_time_ms: 1234,
                producer_id: 9,
                producer_epoch: 3,
                topics: vec![TopicData {
                    topic: "t".into(),
                    partitions: vec![0, 2],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let d = description_from_response("tx", 1, resp).unwrap();
        assert_eq!(d.state, TransactionState::Ongoing);
        assert_eq!(d.transaction_timeout, Duration::from_secs(60));
        assert_eq!(d.transaction_start_time_ms, Some(1234));
        assert!(d.partitions.contains(&TopicPartition::new("t", 2)));
        let missing =
            description_from_response("other", 1, DescribeTransactionsResponse::default());
        assert!(missing.is_err());
        assert_eq!(
            TransactionState::from_name("Weird"),
            TransactionState::Unknown("Weird".into())
        );
        assert_eq!(
            TransactionState::PrepareEpochFence.to_string(),
            "PrepareEpochFence"
        );
    }
}
