//! Running an ingest and reading back what Kafka committed.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use billabong_producer::ingest::{IngestConfig, SourceSpec, Summary, run};
use schemas::{Feed, Limits};
use testkit::Services;

/// How long a whole ingest run may take in a test (debug build, loaded machine).
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// One committed record, as the tests read it back.
pub(crate) type Consumed = testkit::CommittedRecord;

/// The broker list of the running Kafka.
pub(crate) fn brokers() -> String {
    Services::get().kafka().brokers
}

/// A config with fresh, unique topic names (the producer creates them).
pub(crate) fn config(feed: Feed, source: &str, prefix: &str) -> IngestConfig {
    let source: SourceSpec = source.parse().expect("a valid source");
    let mut config = IngestConfig::new(feed, source, brokers());
    config.topic = format!("test.{}", testkit::unique_name(prefix));
    config.dlq_topic = format!("{}.dlq", config.topic);
    config.transactional_id = format!("{}-txn", config.topic);
    config
}

/// Runs one ingest to its end, with a test timeout.
pub(crate) async fn ingest(config: IngestConfig) -> Summary {
    ingest_until(config, std::future::pending()).await
}

/// Runs one ingest until it ends or `shutdown` completes.
pub(crate) async fn ingest_until(
    config: IngestConfig,
    shutdown: impl Future<Output = ()>,
) -> Summary {
    tokio::time::timeout(RUN_TIMEOUT, run(config, shutdown))
        .await
        .expect("the ingest run finishes in time")
        .unwrap_or_else(|error| panic!("the ingest run failed: {error:?}"))
}

/// Every committed record of `topic`, per partition in offset order (see
/// [`testkit::read_committed`] for when the read is complete).
pub(crate) async fn read_committed(topic: &str) -> Vec<Consumed> {
    let brokers = brokers();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || testkit::read_committed(&brokers, &topic))
        .await
        .expect("the reader does not panic")
}

/// How many times each distinct payload occurs.
pub(crate) fn counts<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> HashMap<&'a [u8], usize> {
    let mut counts = HashMap::new();
    for payload in payloads {
        *counts.entry(payload).or_insert(0) += 1;
    }
    counts
}

/// Asserts that `raw` holds exactly `expected` (as a multiset), each under
/// the key the schema gives it, and per key in the order of `expected`.
pub(crate) fn assert_exactly_once(feed: Feed, expected: &[Vec<u8>], raw: &[Consumed]) {
    let want = counts(expected.iter().map(Vec::as_slice));
    let got = counts(raw.iter().map(|r| r.payload.as_slice()));
    if want != got {
        let missing = want.iter().filter(|(p, n)| got.get(*p) != Some(n)).count();
        let extra = got.iter().filter(|(p, n)| want.get(*p) != Some(n)).count();
        panic!(
            "committed records differ from the source: {} expected, {} committed; \
             {missing} distinct payloads with the wrong count, {extra} unexpected or miscounted",
            expected.len(),
            raw.len()
        );
    }
    let limits = Limits::default();
    let mut expected_by_key: HashMap<String, Vec<&[u8]>> = HashMap::new();
    for payload in expected {
        let event = feed
            .parse(payload, &limits)
            .expect("expected records are valid");
        expected_by_key
            .entry(event.key().to_owned())
            .or_default()
            .push(payload);
    }
    let mut got_by_key: HashMap<String, Vec<&[u8]>> = HashMap::new();
    let mut partition_of_key: HashMap<String, i32> = HashMap::new();
    for record in raw {
        let key = String::from_utf8(record.key.clone().expect("raw records have a key"))
            .expect("keys are UTF-8");
        let event = feed
            .parse(&record.payload, &limits)
            .expect("raw records are valid");
        assert_eq!(key, event.key(), "the key is the schema's key");
        let partition = *partition_of_key
            .entry(key.clone())
            .or_insert(record.partition);
        assert_eq!(partition, record.partition, "one key, one partition");
        got_by_key.entry(key).or_default().push(&record.payload);
    }
    assert_eq!(got_by_key.len(), expected_by_key.len());
    for (key, payloads) in &expected_by_key {
        assert_eq!(
            got_by_key.get(key),
            Some(payloads),
            "per-key order of {key}"
        );
    }
}

/// A scratch file path unique to this test run.
pub(crate) fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(testkit::unique_name(name))
}

/// Writes records as JSON Lines and returns the `file:` source.
pub(crate) fn jsonl_source(name: &str, records: &[Vec<u8>]) -> String {
    let path = scratch(name);
    let mut bytes = Vec::new();
    for record in records {
        bytes.extend_from_slice(record);
        bytes.push(b'\n');
    }
    std::fs::write(&path, bytes).expect("the scratch file is writable");
    format!("file:{}", path.display())
}
