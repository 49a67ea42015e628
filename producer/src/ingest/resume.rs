//! Restoring the cursor (feed clock and window) from what Kafka holds, after
//! `init_transactions` has fenced any previous instance: the reasoning is in
//! the module docs (`ingest/mod.rs`, "Exactly once").
//!
//! Per partition of the raw topic and the DLQ, the records of this producer
//! (by the `billabong-producer` header) are read backwards in chunks of
//! offsets, `read_committed`, from the end, until one with a lower clock than
//! the partition's last: what was read is the partition's suffix at its last
//! clock. The highest last clock is the feed clock; the suffixes at that clock
//! are the window.

use std::time::Duration;

use bytes::Bytes;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Offset, TopicPartitionList};
use schemas::topics::{PRODUCER_HEADER_CLOCK, PRODUCER_HEADER_ID};
use tokio::time::Instant;

use super::config::IngestConfig;
use super::error::{IngestError, Result};
use super::kafka_admin::{ADMIN_TIMEOUT, client_config};
use super::overlap::{FeedCursor, Multiset};

/// Offsets read per step backwards.
const CHUNK: i64 = 2_000;

/// How long reading one chunk may take. Records after an open transaction of
/// another producer stay invisible until it ends (at most its
/// `transaction.timeout.ms`, 60 s by default).
const CHUNK_TIMEOUT: Duration = Duration::from_secs(90);

/// One record of ours: its clock header and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TailRecord {
    pub(crate) clock: Option<i64>,
    pub(crate) payload: Bytes,
}

/// The end of one partition, as far as this producer is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PartitionTail {
    /// The clock of our last record in the partition; `None` if it has none
    /// of ours.
    pub(crate) last_clock: Option<Option<i64>>,
    /// Our records at that last clock (and, before them, any without a
    /// clock), in offset order.
    pub(crate) suffix: Vec<TailRecord>,
    /// A record of ours with a lower (known) clock precedes the suffix.
    pub(crate) saw_lower: bool,
}

/// Reads the committed tails of the raw topic and the DLQ and builds the
/// cursor they imply.
pub(crate) async fn recover(config: &IngestConfig) -> Result<FeedCursor> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let tails = read_tails(&config)?;
        Ok(cursor_from_tails(config.feed, &tails))
    })
    .await
    .map_err(|error| {
        IngestError::Internal(format!("reading the committed tail panicked: {error}"))
    })?
}

fn read_tails(config: &IngestConfig) -> Result<Vec<PartitionTail>> {
    // librdkafka refuses `assign` without a group id; the group is never
    // joined and nothing is committed to it.
    let committed: BaseConsumer = client_config(&config.brokers)
        .set("group.id", format!("{}-resume", config.transactional_id))
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // The reads are short and bounded: do not let the broker hold an
        // empty fetch for the default 500 ms.
        .set("fetch.wait.max.ms", "10")
        .create()
        .map_err(IngestError::kafka("creating the resume consumer"))?;
    // Watermarks from a `read_uncommitted` client are the high watermark, not
    // the last stable offset, so nothing committed of ours is missed behind
    // another producer's open transaction.
    let uncommitted: BaseConsumer = client_config(&config.brokers)
        .set("isolation.level", "read_uncommitted")
        .create()
        .map_err(IngestError::kafka("creating the resume consumer"))?;
    let mut tails = Vec::new();
    for topic in [&config.topic, &config.dlq_topic] {
        let metadata = uncommitted
            .fetch_metadata(Some(topic), ADMIN_TIMEOUT)
            .map_err(IngestError::kafka("fetching topic metadata"))?;
        let partitions = metadata
            .topics()
            .first()
            .map_or(0, |t| t.partitions().len() as i32);
        for partition in 0..partitions {
            let (low, high) = uncommitted
                .fetch_watermarks(topic, partition, ADMIN_TIMEOUT)
                .map_err(IngestError::kafka("fetching watermarks"))?;
            let reader = ChunkReader {
                consumer: &committed,
                topic,
                partition,
                producer_id: &config.transactional_id,
            };
            tails.push(reader.tail(low, high)?);
        }
    }
    Ok(tails)
}

struct ChunkReader<'a> {
    consumer: &'a BaseConsumer,
    topic: &'a str,
    partition: i32,
    producer_id: &'a str,
}

impl ChunkReader<'_> {
    fn tail(&self, low: i64, high: i64) -> Result<PartitionTail> {
        let mut tail = PartitionTail::default();
        let mut backwards = Vec::new();
        let mut end = high;
        'chunks: while end > low {
            let start = (end - CHUNK).max(low);
            for record in self.read(start, end)?.into_iter().rev() {
                let last = *tail.last_clock.get_or_insert(record.clock);
                if record.clock != last && record.clock.is_some() {
                    tail.saw_lower = true;
                    break 'chunks;
                }
                backwards.push(record);
            }
            end = start;
        }
        backwards.reverse();
        tail.suffix = backwards;
        Ok(tail)
    }

    /// Our committed records with offsets in `start..end`, in offset order.
    fn read(&self, start: i64, end: i64) -> Result<Vec<TailRecord>> {
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(self.topic, self.partition, Offset::Offset(start))
            .map_err(IngestError::kafka("assigning a partition"))?;
        self.consumer
            .assign(&assignment)
            .map_err(IngestError::kafka("assigning a partition"))?;
        let deadline = Instant::now() + CHUNK_TIMEOUT;
        let mut records = Vec::new();
        let mut next = start;
        while next < end {
            if Instant::now() > deadline {
                return Err(self.error(format!(
                    "offsets {start}..{end} not read within {CHUNK_TIMEOUT:?} (stuck at {next}; \
                     an open transaction of another producer?)"
                )));
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    next = next.max(message.offset() + 1);
                    if message.offset() < end
                        && let Some(record) = self.ours(&message)?
                    {
                        records.push(record);
                    }
                }
                Some(Err(error)) => {
                    return Err(IngestError::Kafka {
                        operation: "reading the committed tail",
                        source: error,
                    });
                }
                None => {}
            }
            // Commit markers and aborted records are not delivered, but move
            // the position past them.
            next = next.max(self.position()?);
        }
        Ok(records)
    }

    fn position(&self) -> Result<i64> {
        let positions = self
            .consumer
            .position()
            .map_err(IngestError::kafka("reading the consumer position"))?;
        Ok(positions
            .find_partition(self.topic, self.partition)
            .and_then(|elem| elem.offset().to_raw())
            .unwrap_or(-1))
    }

    /// The record as one of ours, or `None` when another producer wrote it.
    fn ours(&self, message: &impl Message) -> Result<Option<TailRecord>> {
        let Some(headers) = message.headers() else {
            return Ok(None);
        };
        let mut ours = false;
        let mut clock = None;
        for header in headers.iter() {
            if header.key == PRODUCER_HEADER_ID {
                ours = header.value == Some(self.producer_id.as_bytes());
            } else if header.key == PRODUCER_HEADER_CLOCK {
                clock = header.value;
            }
        }
        if !ours {
            return Ok(None);
        }
        let clock = match clock {
            None => None,
            Some(value) => Some(
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse::<i64>().ok())
                    .ok_or_else(|| {
                        self.error(format!(
                            "record at offset {} has a {PRODUCER_HEADER_CLOCK} header that is not a number",
                            message.offset()
                        ))
                    })?,
            ),
        };
        let payload = Bytes::copy_from_slice(message.payload().unwrap_or_default());
        Ok(Some(TailRecord { clock, payload }))
    }

    fn error(&self, reason: String) -> IngestError {
        IngestError::Resume {
            topic: self.topic.to_owned(),
            partition: self.partition,
            reason,
        }
    }
}

/// The cursor implied by the partitions' tails.
///
/// The clock is the highest last clock. The window holds every suffix record
/// at that clock, and also the records without a clock when no record of a
/// lower clock exists anywhere: then the clock is the feed's first event time,
/// and the feed (see `FeedCursor::observe`) counts the records before it in
/// its window.
pub(crate) fn cursor_from_tails(feed: schemas::Feed, tails: &[PartitionTail]) -> FeedCursor {
    let Some(clock) = tails.iter().filter_map(|t| t.last_clock).max() else {
        return FeedCursor::new(feed);
    };
    let lower_exists = tails.iter().any(|t| {
        t.saw_lower
            || t.last_clock
                .is_some_and(|last| last.is_some() && last < clock)
    });
    let mut window = Multiset::default();
    for record in tails.iter().flat_map(|t| &t.suffix) {
        if record.clock == clock || (record.clock.is_none() && !lower_exists) {
            window.insert(record.payload.clone());
        }
    }
    FeedCursor::resumed(feed, clock, window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::overlap::Verdict;

    fn record(clock: Option<i64>, payload: &'static str) -> TailRecord {
        TailRecord {
            clock,
            payload: Bytes::from_static(payload.as_bytes()),
        }
    }

    fn tail(records: Vec<TailRecord>, saw_lower: bool) -> PartitionTail {
        PartitionTail {
            last_clock: records.last().map(|r| r.clock),
            suffix: records,
            saw_lower,
        }
    }

    #[test]
    fn clock_is_the_highest_last_clock_and_window_its_suffixes() {
        let tails = [
            tail(vec![record(Some(5), "a"), record(Some(5), "b")], true),
            tail(vec![record(Some(3), "c")], true),
            tail(vec![record(Some(5), "d")], false),
            PartitionTail::default(),
        ];
        let mut cursor = cursor_from_tails(schemas::Feed::Rsvps, &tails);
        assert_eq!(cursor.clock(), Some(5));
        assert_eq!(cursor.window_len(), 3);
        cursor.on_connect();
        for payload in ["d", "a", "b"] {
            assert_eq!(
                cursor.observe(&Bytes::from_static(payload.as_bytes())),
                Verdict::Duplicate
            );
        }
    }

    #[test]
    fn records_without_a_clock_join_the_window_only_at_the_first_clock() {
        let first = [tail(vec![record(None, "x"), record(Some(5), "a")], false)];
        assert_eq!(
            cursor_from_tails(schemas::Feed::Rsvps, &first).window_len(),
            2
        );
        let later = [
            tail(vec![record(None, "x")], false),
            tail(vec![record(Some(5), "a")], true),
        ];
        assert_eq!(
            cursor_from_tails(schemas::Feed::Rsvps, &later).window_len(),
            1
        );
        let none = [tail(vec![record(None, "x"), record(None, "y")], false)];
        let cursor = cursor_from_tails(schemas::Feed::Rsvps, &none);
        assert_eq!((cursor.clock(), cursor.window_len()), (None, 2));
    }

    #[test]
    fn nothing_of_ours_is_a_fresh_start() {
        let cursor = cursor_from_tails(schemas::Feed::Race, &[PartitionTail::default()]);
        assert_eq!((cursor.clock(), cursor.window_len()), (None, 0));
    }
}
