//! Offsets by time (ListOffsets), for `consume -o @TIME`: one request per
//! partition leader.

use purekafka::Consumer;
use purekafka::net::Cluster;
use purekafka_protocol::messages::ListOffsetsRequest;
use purekafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use std::collections::{BTreeMap, HashMap};

/// ListOffsets' special timestamps.
pub const LATEST: i64 = -1;

/// For each partition, the offset of the first record at or after `ts`
/// (`-1`/`-2` ask for the end/start), in the order given. A partition with
/// no record that late answers -1 from the broker: its end is used.
pub async fn for_time(
    consumer: &Consumer,
    tps: &[(&str, i32)],
    ts: i64,
) -> purekafka::Result<Vec<i64>> {
    let cluster = consumer.cluster();
    let mut found = list(cluster, tps, ts).await?;
    let missing: Vec<(&str, i32)> = tps
        .iter()
        .filter(|(t, p)| found.get(&((*t).to_owned(), *p)).is_none_or(|o| *o < 0))
        .copied()
        .collect();
    if !missing.is_empty() && ts >= 0 {
        found.extend(list(cluster, &missing, LATEST).await?);
    }
    Ok(tps
        .iter()
        .map(|(t, p)| found.get(&((*t).to_owned(), *p)).copied().unwrap_or(0))
        .collect())
}

async fn list(
    cluster: &Cluster,
    tps: &[(&str, i32)],
    ts: i64,
) -> purekafka::Result<HashMap<(String, i32), i64>> {
    let md = cluster.refresh_metadata().await?;
    let mut by_leader: BTreeMap<i32, Vec<(&str, i32)>> = BTreeMap::new();
    for (t, p) in tps {
        let leader = md.leader(t, *p).ok_or_else(|| {
            purekafka::Error::kafka_tp(
                purekafka::ErrorCode::LEADER_NOT_AVAILABLE,
                "ListOffsets",
                t,
                *p,
            )
        })?;
        by_leader.entry(leader).or_default().push((t, *p));
    }
    let mut out = HashMap::new();
    for (leader, parts) in by_leader {
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for (t, p) in parts {
            let part = ListOffsetsPartition {
                partition_index: p,
                timestamp: ts,
                current_leader_epoch: -1,
                ..Default::default()
            };
            match topics.iter_mut().find(|x| x.name == t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(ListOffsetsTopic {
                    name: t.to_owned(),
                    partitions: vec![part],
                    ..Default::default()
                }),
            }
        }
        let req = ListOffsetsRequest {
            replica_id: -1,
            topics,
            timeout_ms: 30_000,
            ..Default::default()
        };
        let resp = cluster.broker(leader).await?.send(&req).await?;
        for t in resp.topics {
            for p in t.partitions {
                let code = purekafka::ErrorCode(p.error_code);
                if code != purekafka::ErrorCode::NONE {
                    return Err(purekafka::Error::kafka_tp(
                        code,
                        "ListOffsets",
                        &t.name,
                        p.partition_index,
                    ));
                }
                out.insert((t.name.clone(), p.partition_index), p.offset);
            }
        }
    }
    Ok(out)
}
