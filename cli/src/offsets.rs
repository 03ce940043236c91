//! Offsets by time, for `consume -o @TIME`: the admin client's ListOffsets.

use crate::settings::Settings;
use purekafka::TopicPartition;
use purekafka::admin::{Admin, OffsetSpec};

/// For each partition, the offset of the first record at or after `ts`, in
/// the order given; a partition with no record that late gets its end.
pub async fn for_time(
    settings: &Settings,
    tps: &[(&str, i32)],
    ts: i64,
) -> Result<Vec<i64>, crate::fail::CliError> {
    let k = |e| crate::fail::kafka(e, settings.bootstrap());
    let admin = Admin::new(settings.admin()?).await.map_err(k)?;
    let parts: Vec<TopicPartition> = tps.iter().map(|tp| TopicPartition::from(*tp)).collect();
    let lookup =
        |spec: OffsetSpec| admin.list_offsets(parts.iter().map(move |tp| (tp.clone(), spec)));
    let by_time = lookup(OffsetSpec::Timestamp(ts)).await.map_err(k)?;
    let ends = lookup(OffsetSpec::Latest).await.map_err(k)?;
    let mut out = Vec::with_capacity(parts.len());
    for tp in &parts {
        let at = match by_time.get(tp) {
            Some(Ok(o)) => o.offset,
            Some(Err(e)) => return Err(crate::fail::CliError::runtime(format!("{tp}: {e}"))),
            None => -1,
        };
        let offset = if at >= 0 {
            at
        } else {
            match ends.get(tp) {
                Some(Ok(o)) => o.offset,
                Some(Err(e)) => return Err(crate::fail::CliError::runtime(format!("{tp}: {e}"))),
                None => 0,
            }
        };
        out.push(offset);
    }
    Ok(out)
}
