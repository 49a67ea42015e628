//! Filling a lake the way production does: fixture records produced into
//! fresh Kafka topics, the real sink run in-process until the lake's
//! watermarks reach them. Tests of every layer that reads the lake (sink,
//! batch, SQL, models) start from here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::{ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::Feed;
use schemas::arrow::array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use sink::layout::{HourBucket, data_file};
use sink::{
    CommitRecord, FileEntry, Lake, LakeLocation, RECORD_VERSION, SinkConfig, SinkReport, TopicSpec,
    create_commit, lake_schema,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Services;

/// Where each produced record landed: (partition, offset) → index in the input.
pub type Placement = BTreeMap<(i32, i64), usize>;

/// Produces `lines` to `topic` with the given keys; returns where each went.
pub async fn produce(topic: &str, lines: &[Vec<u8>], key: impl Fn(&[u8]) -> String) -> Placement {
    let producer: FutureProducer = Services::get()
        .kafka()
        .config()
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let mut placement = Placement::new();
    for (chunk_no, chunk) in lines.chunks(5_000).enumerate() {
        let sends = chunk.iter().enumerate().map(|(i, line)| {
            let key = key(line);
            let producer = &producer;
            async move {
                let record = FutureRecord::to(topic)
                    .payload(line.as_slice())
                    .key(key.as_str());
                let delivered = producer
                    .send(record, Duration::from_secs(30))
                    .await
                    .expect("delivered");
                (delivered.partition, delivered.offset, chunk_no * 5_000 + i)
            }
        });
        for (p, o, i) in futures_join(sends).await {
            placement.insert((p, o), i);
        }
    }
    assert_eq!(
        placement.len(),
        lines.len(),
        "every record has its own offset"
    );
    placement
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    futures::future::join_all(futures).await
}

/// The key of a real RSVP: its event id (the producer's rule).
pub fn rsvp_key(line: &[u8]) -> String {
    schemas::Rsvp::parse(line, &schemas::Limits::default())
        .expect("real RSVPs are valid")
        .event
        .event_id
}

/// The key of a race event: its race id.
pub fn race_key(line: &[u8]) -> String {
    schemas::RaceEvent::parse(line, &schemas::Limits::default())
        .expect("real race events are valid")
        .key()
        .to_owned()
}

/// A fresh lake: `s3://bucket/tests/<name>` or `file://<tmp>/<name>`.
pub fn fresh_lake(s3: bool, name: &str) -> String {
    if s3 {
        let lake = Services::get().lake();
        format!("s3://{}/{}", lake.bucket, lake.fresh_prefix(name))
    } else {
        let dir = std::env::temp_dir().join(crate::unique_name(name));
        format!("file://{}", dir.display())
    }
}

/// The S3 settings of `.services.env` as object_store options, so tests
/// need no exported environment.
pub fn s3_options() -> Vec<(String, String)> {
    let s = Services::get();
    [
        ("aws_endpoint", "AWS_ENDPOINT_URL"),
        ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
        ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("aws_region", "AWS_REGION"),
        ("aws_allow_http", "AWS_ALLOW_HTTP"),
        ("aws_copy_if_not_exists", "AWS_COPY_IF_NOT_EXISTS"),
    ]
    .into_iter()
    .map(|(key, var)| (key.to_owned(), s.var(var).to_owned()))
    .collect()
}

/// Opens a lake as readers do.
pub fn open_lake(url: &str) -> Lake {
    Lake::open_with_options(url, &s3_options()).expect("open the lake")
}

/// A sink config for tests.
pub fn config(lake: &str, topics: &[(&str, schemas::Feed)], group: &str) -> SinkConfig {
    let mut config = SinkConfig::new(Services::get().kafka().brokers, lake);
    config.topics = topics
        .iter()
        .map(|(t, f)| TopicSpec {
            topic: (*t).to_owned(),
            feed: *f,
        })
        .collect();
    config.group_id = group.to_owned();
    config.dlq_topic = format!("test.dlq-{group}");
    config.storage_options = s3_options();
    // Short, so that the tail of a test's data is not held for the 60 s default.
    config.roll.interval = Duration::from_secs(1);
    config
}

/// A sink running in this process until the handle is stopped.
pub struct RunningSink {
    stop: oneshot::Sender<()>,
    task: JoinHandle<sink::Result<SinkReport>>,
}

impl RunningSink {
    /// Starts `sink::run` on a task of this runtime.
    pub fn start(config: SinkConfig) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(sink::run(config, async move {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    /// Signals shutdown and waits for the final commits.
    pub async fn stop(self) -> SinkReport {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(120), self.task)
            .await
            .expect("the sink stops within 120 s")
            .expect("the sink task does not panic")
            .expect("the sink run succeeds")
    }
}

/// Waits until the lake's watermarks reach the last produced offsets.
pub async fn wait_for_lake(lake: &Lake, topic: &str, placement: &Placement, timeout: Duration) {
    let mut want: BTreeMap<i32, i64> = BTreeMap::new();
    for &(p, o) in placement.keys() {
        let e = want.entry(p).or_insert(o);
        *e = (*e).max(o);
    }
    let deadline = Instant::now() + timeout;
    loop {
        let have = lake.watermarks(topic).await.expect("watermarks");
        if want
            .iter()
            .all(|(p, o)| have.get(p).is_some_and(|h| h >= o))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "lake watermarks {have:?} did not reach {want:?} in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Produces `lines` of `feed` into `topic` (keyed as the producer keys
/// them), runs a sink into `lake_url` until everything is committed, stops
/// it; returns where each record went.
pub async fn fill_lake(
    lake_url: &str,
    topic: &str,
    feed: schemas::Feed,
    lines: &[Vec<u8>],
) -> Placement {
    let key = match feed {
        schemas::Feed::Rsvps => rsvp_key,
        schemas::Feed::Race => race_key,
    };
    let placement = produce(topic, lines, key).await;
    let group = crate::unique_name("fill-lake");
    let sink = RunningSink::start(config(lake_url, &[(topic, feed)], &group));
    wait_for_lake(
        &open_lake(lake_url),
        topic,
        &placement,
        Duration::from_secs(120),
    )
    .await;
    sink.stop().await;
    placement
}

/// Rows per commit record of [`commit_events`]: several commits per
/// partition, so that readers follow a real chain.
pub const ROWS_PER_COMMIT: usize = 4_000;

/// Writes one partition's events as committed lake files, offsets from 0,
/// [`ROWS_PER_COMMIT`] rows per file and commit record, the way the sink
/// lays them out — without Kafka, for tests and benches that need a lake
/// fast. `to_batch` gives the feed's Arrow columns; the sink's metadata
/// columns are added here. Panics on any failure (test support).
#[allow(clippy::too_many_arguments)] // one call site per feed; a struct would only rename them
pub async fn commit_events<E>(
    loc: &LakeLocation,
    topic: &str,
    feed: Feed,
    partition: i32,
    events: &[E],
    to_batch: impl Fn(&[E]) -> RecordBatch,
    event_ms: impl Fn(&E) -> i64,
    writer_name: &str,
) {
    let ingest_ms = 1_700_000_000_000;
    for (n, chunk) in events.chunks(ROWS_PER_COMMIT).enumerate() {
        let rows = chunk.len();
        let first = i64::try_from(n * ROWS_PER_COMMIT).expect("offset fits i64");
        let last = first + i64::try_from(rows).expect("rows fit i64") - 1;
        let mut columns: Vec<ArrayRef> = to_batch(chunk).columns().to_vec();
        columns.push(Arc::new(StringArray::from(vec![topic; rows])));
        columns.push(Arc::new(Int32Array::from(vec![partition; rows])));
        columns.push(Arc::new(Int64Array::from_iter_values(first..=last)));
        columns.push(Arc::new(
            TimestampMillisecondArray::from(vec![ingest_ms; rows]).with_timezone("UTC"),
        ));
        let batch = RecordBatch::try_new(lake_schema(feed), columns).expect("lake batch");
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("encode");
        writer.close().expect("finish the file");
        let path = data_file(
            topic,
            partition,
            HourBucket::of_ms(ingest_ms),
            first,
            last,
            writer_name,
        );
        let size = bytes.len() as u64;
        loc.store
            .put(&loc.path(&path), PutPayload::from(bytes))
            .await
            .expect("upload a data file");
        let times: Vec<i64> = chunk.iter().map(&event_ms).collect();
        let (min, max) = (times.iter().min().copied(), times.iter().max().copied());
        let record = CommitRecord {
            version: RECORD_VERSION,
            topic: topic.to_owned(),
            partition,
            first,
            last,
            rows: rows as u64,
            dlq_records: 0,
            files: vec![FileEntry {
                path,
                rows: rows as u64,
                bytes: size,
                first_offset: first,
                last_offset: last,
                min_event_time_ms: min.unwrap_or(0),
                max_event_time_ms: max.unwrap_or(0),
            }],
            event_time_watermark_ms: max,
            writer: writer_name.to_owned(),
            committed_at_ms: ingest_ms,
        };
        create_commit(loc, &record).await.expect("commit");
    }
}

/// RSVPs as committed lake files of `topic`, spread over `partitions` by a
/// hash of the event id (the producer's key), in the given order within a
/// partition.
pub async fn commit_rsvps(
    loc: &LakeLocation,
    topic: &str,
    rsvps: Vec<schemas::Rsvp>,
    partitions: usize,
    writer_name: &str,
) {
    let mut parts: Vec<Vec<schemas::Rsvp>> = vec![Vec::new(); partitions];
    for r in rsvps {
        let hash = r
            .event
            .event_id
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        parts[hash as usize % partitions].push(r);
    }
    for (p, events) in parts.iter().enumerate() {
        commit_events(
            loc,
            topic,
            Feed::Rsvps,
            i32::try_from(p).expect("few partitions"),
            events,
            |c| schemas::rsvps_to_batch(c).expect("RSVPs to Arrow"),
            |r| r.mtime,
            writer_name,
        )
        .await;
    }
}
