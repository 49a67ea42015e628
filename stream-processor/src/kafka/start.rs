//! Where each partition's state starts and where publishing resumes.
//!
//! The committed group offset of a partition is written in the same Kafka
//! transaction as the updates of the records before it, so it says exactly
//! how far the published output goes. Its metadata records the offset the
//! state was built from (`billabong-stream/v1 start=S`), so a restart rebuilds
//! the *same* state whatever `--start` says now (`latest` would otherwise
//! move). A partition without a committed offset starts at `--start`, and
//! that start is pinned by a first transaction before any output. The
//! metadata also names the view generation whose rows are published and its
//! first offset (`view=G:V`), so a restart resumes that generation when the
//! newest batch run is still `G`.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::config::StartPosition;
use crate::error::{Error, Result};

pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
const METADATA_PREFIX: &str = "billabong-stream/v2 start=";

/// One input partition's positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionStart {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// The offset the state is rebuilt from.
    pub(crate) state_from: i64,
    /// The first offset whose output is not published yet.
    pub(crate) publish_from: i64,
    /// True when the group held no position: the start must be pinned.
    pub(crate) needs_pin: bool,
    /// The published view generation and its first offset, from the metadata.
    pub(crate) view: Option<(i64, i64)>,
    /// The partition's first offset still held by Kafka.
    pub(crate) low: i64,
}

/// The group-offset metadata that records a state's start and the
/// published view generation `(G, V)`.
pub(crate) fn start_metadata(state_from: i64, view: Option<(i64, i64)>) -> String {
    match view {
        Some((g, v)) => format!("{METADATA_PREFIX}{state_from} view={g}:{v}"),
        None => format!("{METADATA_PREFIX}{state_from}"),
    }
}

fn parse_metadata(text: &str) -> Option<(i64, Option<(i64, i64)>)> {
    let rest = text.strip_prefix(METADATA_PREFIX)?;
    let (start, view) = match rest.split_once(" view=") {
        Some((start, view)) => {
            let (g, v) = view.split_once(':')?;
            (start, Some((g.parse().ok()?, v.parse().ok()?)))
        }
        None => (rest, None),
    };
    Some((start.parse().ok()?, view))
}

/// The partition count of each of `topics`, 0 for a topic that does not
/// exist (yet). A change of these counts is what makes a running generation
/// start over (see `kafka::run_blocking`).
pub(crate) fn partition_counts(consumer: &BaseConsumer, topics: &[&str]) -> Result<Vec<usize>> {
    topics
        .iter()
        .map(|topic| {
            let metadata = consumer
                .fetch_metadata(Some(topic), ADMIN_TIMEOUT)
                .map_err(Error::kafka("fetching topic metadata"))?;
            Ok(metadata
                .topics()
                .first()
                .filter(|t| t.error().is_none())
                .map_or(0, |t| t.partitions().len()))
        })
        .collect()
}

/// Resolves the positions of every partition of `topics`, whose partition
/// counts are `counts` (topics without partitions are left out).
pub(crate) fn resolve(
    consumer: &BaseConsumer,
    topics: &[&str],
    counts: &[usize],
    start: StartPosition,
) -> Result<Vec<PartitionStart>> {
    let mut all = TopicPartitionList::new();
    for (topic, &partitions) in topics.iter().zip(counts) {
        if partitions == 0 {
            tracing::warn!(
                topic,
                "Input topic does not exist yet; it is picked up when it appears."
            );
            continue;
        }
        for p in 0..i32::try_from(partitions).unwrap_or(i32::MAX) {
            all.add_partition(topic, p);
        }
    }
    if all.count() == 0 {
        return Ok(Vec::new());
    }
    let committed = consumer
        .committed_offsets(all.clone(), ADMIN_TIMEOUT)
        .map_err(Error::kafka("reading committed offsets"))?;
    let mut starts = Vec::new();
    for elem in all.elements() {
        let (topic, partition) = (elem.topic(), elem.partition());
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, ADMIN_TIMEOUT)
            .map_err(Error::kafka("fetching watermarks"))?;
        let found = committed.find_partition(topic, partition);
        let committed_at = found.as_ref().and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        });
        let pinned = found.as_ref().and_then(|e| parse_metadata(e.metadata()));
        let view = pinned.and_then(|(_, view)| view);
        let position = match (committed_at, pinned.map(|(s, _)| s)) {
            (Some(c), Some(s)) if s <= c => {
                if s < low {
                    tracing::warn!(
                        topic,
                        partition,
                        state_from = s,
                        low,
                        "Records of the state's prefix were deleted by retention; the rebuilt state misses them."
                    );
                }
                PartitionStart {
                    topic: topic.into(),
                    partition,
                    state_from: s.max(low),
                    publish_from: c,
                    needs_pin: false,
                    view,
                    low,
                }
            }
            (Some(c), _) => PartitionStart {
                topic: topic.into(),
                partition,
                state_from: c,
                publish_from: c,
                needs_pin: false,
                view,
                low,
            },
            (None, _) => {
                let s = resolve_start(consumer, topic, partition, start, low, high)?;
                PartitionStart {
                    topic: topic.into(),
                    partition,
                    state_from: s,
                    publish_from: s,
                    needs_pin: true,
                    view: None,
                    low,
                }
            }
        };
        tracing::info!(
            topic,
            partition,
            state_from = position.state_from,
            publish_from = position.publish_from,
            "Partition position resolved."
        );
        starts.push(position);
    }
    Ok(starts)
}

fn resolve_start(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    start: StartPosition,
    low: i64,
    high: i64,
) -> Result<i64> {
    Ok(match start {
        StartPosition::Earliest => low,
        StartPosition::Latest => high,
        StartPosition::Offset(n) => n.clamp(low, high),
        StartPosition::Timestamp(ts) => {
            let mut query = TopicPartitionList::new();
            query
                .add_partition_offset(topic, partition, Offset::Offset(ts))
                .map_err(Error::kafka("building a timestamp query"))?;
            let answer = consumer
                .offsets_for_times(query, ADMIN_TIMEOUT)
                .map_err(Error::kafka("looking up offsets by time"))?;
            match answer.find_partition(topic, partition).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => o,
                Some(Offset::End) | None => high,
                Some(other) => {
                    return Err(Error::StartPosition {
                        topic: topic.into(),
                        partition,
                        reason: format!("the broker answered {other:?}"),
                    });
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_metadata_round_trips() {
        assert_eq!(parse_metadata(&start_metadata(42, None)), Some((42, None)));
        assert_eq!(
            parse_metadata(&start_metadata(42, Some((3, 17)))),
            Some((42, Some((3, 17))))
        );
        assert_eq!(parse_metadata("billabong-stream/v1 start=42"), None);
        assert_eq!(parse_metadata(""), None);
        assert_eq!(parse_metadata("someone else's"), None);
    }
}
