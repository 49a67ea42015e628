//! Reading back everything committed in a Kafka topic.
//!
//! [`read_committed`] is the one read-back helper of every crate's tests: it
//! returns each record of committed transactions (and each non-transactional
//! record) of a topic, per partition in offset order, and nothing of aborted or
//! still-open transactions.
//!
//! # When the read is complete
//!
//! Three offsets matter per partition:
//!
//! - the *high watermark* (HW): the end of the log, every record and
//!   transaction control marker written so far, committed or not;
//! - the *last stable offset* (LSO): the first offset whose transaction is not
//!   decided yet (equal to the HW when no transaction is open); a
//!   `read_committed` consumer never gets past it;
//! - the consumer's *position*: one past the last offset it has dealt with.
//!
//! The reader first takes the HW of each partition with a `read_uncommitted`
//! client. (librdkafka's `isolation.level` defaults to `read_committed`, and a
//! `read_committed` client asking for the watermarks gets the LSO in place of
//! the HW. A producer's `commit_transaction` returns once the coordinator has
//! decided to commit, *before* the commit markers are in the partitions, so
//! right after a run the LSO can still sit below the last transaction's
//! records: a reader that stops there misses them. That is the likely cause
//! of a DLQ read that once came back with 27 of 31 committed records;
//! `tests/read_committed.rs` shows the LSO short of the HW while a
//! transaction is undecided.)
//!
//! It then waits until the LSO (asked for with a `read_committed` client,
//! after the HW) has reached that HW on every partition: from then on, every
//! offset below the HW belongs to a decided transaction or to none, and what
//! the reader returns can no longer change. A transaction left open (a killed
//! producer that nobody fenced) makes this wait fail with the partition and
//! both offsets, rather than a short read pass.
//!
//! Finally a `read_committed` consumer reads each partition from its low
//! watermark until its position is at or past the HW. The position moves over
//! committed records as they are delivered and over aborted records and
//! control markers as librdkafka skips them, so position ≥ HW means every
//! offset below the HW has been delivered or deliberately skipped. Records
//! at or past the HW (written after the snapshot) are left out, so the result
//! is the snapshot and nothing else. An offset reset (the low watermark
//! deleted under the reader) fails the read instead of silently skipping.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// How long the whole read may take (the LSO wait and the consuming).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout of each metadata and watermark request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// One record of a committed transaction (or a non-transactional one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedRecord {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset in that partition.
    pub offset: i64,
    /// The key; `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// The value; a null value reads as empty.
    pub payload: Vec<u8>,
    /// Header name to value; a null value reads as empty, and of two headers
    /// with one name the later wins.
    pub headers: BTreeMap<String, Vec<u8>>,
}

impl CommittedRecord {
    /// The value of header `name` as UTF-8; panics, showing the record, when
    /// the record has no such header or its value is not UTF-8.
    pub fn header(&self, name: &str) -> &str {
        let value = self
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("record has no {name} header: {self:?}"));
        std::str::from_utf8(value)
            .unwrap_or_else(|_| panic!("header {name} is not UTF-8: {self:?}"))
    }
}

/// Every committed record of `topic`, sorted by partition then offset. See the
/// [module documentation](self) for when the read counts as complete. Panics
/// when the topic does not exist, a transaction on it stays open, or the read
/// does not finish within a minute. Blocking: from async code, call it in
/// `tokio::task::spawn_blocking`.
pub fn read_committed(brokers: &str, topic: &str) -> Vec<CommittedRecord> {
    let ends = stable_ends(brokers, topic);
    if ends.is_empty() {
        return Vec::new();
    }
    let consumer: BaseConsumer = client(brokers, "read_committed")
        .set("group.id", crate::unique_name("testkit-reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "error")
        .set("fetch.wait.max.ms", "50")
        .create()
        .expect("a read_committed consumer");
    let mut assignment = TopicPartitionList::new();
    for (&partition, &(low, _)) in &ends {
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(low))
            .expect("a partition offset");
    }
    consumer.assign(&assignment).expect("assign");

    let deadline = Instant::now() + READ_TIMEOUT;
    let mut records = Vec::new();
    loop {
        let positions = consumer.position().expect("positions");
        let behind: Vec<(i32, Option<i64>, i64)> = ends
            .iter()
            .filter_map(|(&partition, &(_, high))| {
                let position = positions
                    .find_partition(topic, partition)
                    .and_then(|e| e.offset().to_raw())
                    .filter(|&p| p >= 0);
                (position.is_none_or(|p| p < high)).then_some((partition, position, high))
            })
            .collect();
        if behind.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not read to its end within {READ_TIMEOUT:?}: {} records read, \
             (partition, position, high watermark) behind: {behind:?}",
            records.len()
        );
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.unwrap_or_else(|e| panic!("reading {topic} failed: {e}"));
        let in_snapshot = ends
            .get(&message.partition())
            .is_some_and(|&(low, high)| (low..high).contains(&message.offset()));
        if !in_snapshot {
            continue;
        }
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        records.push(CommittedRecord {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
        });
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    records
}

/// Per non-empty partition, (low watermark, high watermark), taken once every
/// offset below the high watermark is decided (LSO ≥ HW).
fn stable_ends(brokers: &str, topic: &str) -> BTreeMap<i32, (i64, i64)> {
    let uncommitted: BaseConsumer = client(brokers, "read_uncommitted")
        .create()
        .expect("a read_uncommitted client");
    let committed: BaseConsumer = client(brokers, "read_committed")
        .create()
        .expect("a read_committed client");
    let metadata = uncommitted
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
    let topic_metadata = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .unwrap_or_else(|| panic!("no metadata for {topic}"));
    if let Some(error) = topic_metadata.error() {
        panic!("topic {topic} cannot be read: {error:?}");
    }
    let partitions: Vec<i32> = topic_metadata.partitions().iter().map(|p| p.id()).collect();
    assert!(!partitions.is_empty(), "topic {topic} does not exist");

    let mut ends = BTreeMap::new();
    for &partition in &partitions {
        let (low, high) = uncommitted
            .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
            .unwrap_or_else(|e| panic!("watermarks of {topic}[{partition}]: {e}"));
        if high > low {
            ends.insert(partition, (low, high));
        }
    }
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut undecided: HashMap<i32, i64> = HashMap::new();
    loop {
        undecided.clear();
        for (&partition, &(_, high)) in &ends {
            let (_, stable) = committed
                .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
                .unwrap_or_else(|e| panic!("last stable offset of {topic}[{partition}]: {e}"));
            if stable < high {
                undecided.insert(partition, stable);
            }
        }
        if undecided.is_empty() {
            return ends;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} keeps transactions open: per partition, last stable offset {undecided:?} \
             below high watermarks {ends:?} after {READ_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn client(brokers: &str, isolation: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("isolation.level", isolation);
    config
}

/// Offsets written to `topic` so far, summed over its partitions (records and
/// transaction markers); 0 while the topic does not exist.
///
/// The client keeps librdkafka's default `isolation.level`
/// (`read_committed`), so each partition's end is its last stable offset:
/// records of a transaction still open are not counted yet. Kill tests use it
/// to wait until a producer has committed part of its input.
pub fn written_offsets(brokers: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("a consumer");
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
        return 0;
    };
    let Some(topic_metadata) = metadata.topics().first() else {
        return 0;
    };
    (0..i32::try_from(topic_metadata.partitions().len()).unwrap_or(i32::MAX))
        .filter_map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .ok()
        })
        .map(|(low, high)| high - low)
        .sum()
}
