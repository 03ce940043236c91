//! Routing to partition leaders (crate-internal): a call's partitions
//! grouped by their leaders in the cluster metadata, and the rounds of a
//! request sent to each leader (ListOffsets, DeleteRecords,
//! DescribeProducers, WriteTxnMarkers).

use super::{Admin, topic_error};
use crate::TopicPartition;
use crate::error::{Error, Result};
use purekafka_protocol::ErrorCode;
use std::collections::BTreeMap;
use tokio::time::Instant;

/// Partition errors worth another round, after a metadata refresh: the
/// leader moved or is being elected, or the request failed without a
/// code (a lost connection). A partition that does not exist is not
/// waited for.
pub(crate) fn leader_moved(e: &Error) -> bool {
    match e.code() {
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => false,
        Some(c) => {
            c.is_stale_metadata()
                || c == ErrorCode::REPLICA_NOT_AVAILABLE
                || c == ErrorCode::BROKER_NOT_AVAILABLE
        }
        None => true,
    }
}

/// Partitions grouped by leader, and those without one with their error.
pub(crate) type ByLeader = (
    BTreeMap<i32, Vec<TopicPartition>>,
    BTreeMap<TopicPartition, Error>,
);

/// `partitions` grouped by their leaders in `md`; a partition without a
/// known leader gets its error (`api` names the call).
fn group_by_leader(
    md: &crate::net::cluster::Metadata,
    api: &'static str,
    partitions: Vec<TopicPartition>,
) -> ByLeader {
    let mut leaders: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for tp in partitions {
        let code = match md.topics.get(tp.topic()) {
            None => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            Some(t) if t.error.is_err() => t.error,
            Some(t) => match t.partitions.iter().find(|p| p.id == tp.partition) {
                None => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                Some(p) if p.leader >= 0 => {
                    leaders.entry(p.leader).or_default().push(tp);
                    continue;
                }
                Some(_) => ErrorCode::LEADER_NOT_AVAILABLE,
            },
        };
        let e = topic_error(code, api, tp.topic(), Some(tp.partition), None);
        failed.insert(tp, e);
    }
    (leaders, failed)
}

impl Admin {
    /// The leaders of `partitions`, by node, from the cluster metadata
    /// (fetched for topics it did not follow yet, and again if `refresh`);
    /// a partition without a known leader gets its error.
    pub(crate) async fn partition_leaders(
        &self,
        api: &'static str,
        partitions: Vec<TopicPartition>,
        refresh: bool,
    ) -> Result<ByLeader> {
        let cluster = self.cluster();
        let added = cluster.add_topics(partitions.iter().map(TopicPartition::topic));
        let md = if added || refresh {
            cluster.refresh_metadata().await?
        } else {
            cluster.metadata()
        };
        Ok(group_by_leader(&md, api, partitions))
    }

    /// A call at partition leaders: `ask(leader, partitions)` for each
    /// leader of `partitions` (or for `broker` alone, when given), each
    /// partition's outcome. A partition without a leader has its error; a
    /// leader whose request failed fails its partitions with that error.
    /// Partitions whose leader moved go again (after a metadata refresh
    /// and a backoff) until `deadline`, as `per_resource` retries.
    pub(crate) async fn per_leader<T, F, Fut>(
        &self,
        api: &'static str,
        partitions: impl IntoIterator<Item = TopicPartition>,
        deadline: Instant,
        broker: Option<i32>,
        ask: F,
    ) -> Result<BTreeMap<TopicPartition, Result<T>>>
    where
        F: Fn(i32, Vec<TopicPartition>) -> Fut,
        Fut: std::future::Future<Output = Result<BTreeMap<TopicPartition, Result<T>>>>,
    {
        let ask = &ask;
        let mut again = false;
        let retry = |e: &Error| broker.is_none() && leader_moved(e);
        self.per_resource(api, partitions, deadline, retry, |tps| {
            let refresh = std::mem::replace(&mut again, true);
            async move {
                let (leaders, failed) = match broker {
                    Some(id) => (BTreeMap::from([(id, tps)]), BTreeMap::new()),
                    None => self.partition_leaders(api, tps, refresh).await?,
                };
                let mut out: BTreeMap<TopicPartition, Result<T>> =
                    failed.into_iter().map(|(tp, e)| (tp, Err(e))).collect();
                for (leader, tps) in leaders {
                    match ask(leader, tps.clone()).await {
                        Ok(r) => out.extend(r),
                        Err(e) => out.extend(tps.into_iter().map(|tp| (tp, Err(e.clone())))),
                    }
                }
                Ok(out)
            }
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::net::cluster::Metadata;
    use purekafka_protocol::messages::MetadataResponse;
    use purekafka_protocol::messages::metadata_response::{
        MetadataResponsePartition, MetadataResponseTopic,
    };

    #[test]
    fn partitions_go_to_their_leaders_or_get_why_not() {
        let partition = |id, leader| MetadataResponsePartition {
            partition_index: id,
            leader_id: leader,
            ..Default::default()
        };
        let resp = MetadataResponse {
            topics: vec![
                MetadataResponseTopic {
                    name: Some("t".into()),
                    partitions: vec![partition(0, 2), partition(1, -1), partition(2, 2)],
                    ..Default::default()
                },
                MetadataResponseTopic {
                    name: Some("denied".into()),
                    error_code: ErrorCode::TOPIC_AUTHORIZATION_FAILED.0,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let md = Metadata::from_response(resp, Instant::now());
        let tp = |t: &str, p| TopicPartition::new(t, p);
        let asked = vec![
            tp("t", 0),
            tp("t", 1),
            tp("t", 2),
            tp("t", 9),
            tp("denied", 0),
            tp("x", 0),
        ];
        let (leaders, failed) = group_by_leader(&md, "ListOffsets", asked);
        assert_eq!(leaders[&2], [tp("t", 0), tp("t", 2)]);
        assert_eq!(leaders.len(), 1);
        let code = |t: &str, p| failed[&tp(t, p)].code();
        assert_eq!(code("t", 1), Some(ErrorCode::LEADER_NOT_AVAILABLE));
        assert_eq!(code("t", 9), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
        assert_eq!(
            code("denied", 0),
            Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
        );
        assert_eq!(code("x", 0), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
        let e = &failed[&tp("t", 1)];
        assert!(e.to_string().contains("ListOffsets"), "{e}");
        // A moving leader is waited for; a missing partition is not.
        assert!(leader_moved(&failed[&tp("t", 1)]));
        assert!(!leader_moved(&failed[&tp("x", 0)]));
        assert!(!leader_moved(&failed[&tp("denied", 0)]));
    }
}
