//! Producing fixtures into fresh topics, running sinks in-process, and reading
//! the lake back through DataFusion SQL over the committed files only.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sink::{Lake, LakeLocation, SinkConfig, SinkReport, TopicSpec};
use testkit::Services;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where each produced record landed: (partition, offset) → index in the input.
pub(crate) type Placement = BTreeMap<(i32, i64), usize>;

/// Produces `lines` to `topic` with the given keys; returns where each went.
pub(crate) async fn produce(
    topic: &str,
    lines: &[Vec<u8>],
    key: impl Fn(&[u8]) -> String,
) -> Placement {
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
    ::futures::future::join_all(futures).await
}

/// The key of a real RSVP: its event id (the producer's rule).
pub(crate) fn rsvp_key(line: &[u8]) -> String {
    schemas::Rsvp::parse(line, &schemas::Limits::default())
        .expect("real RSVPs are valid")
        .event
        .event_id
}

/// The key of a race event: its race id.
pub(crate) fn race_key(line: &[u8]) -> String {
    schemas::RaceEvent::parse(line, &schemas::Limits::default())
        .expect("real race events are valid")
        .key()
        .to_owned()
}

/// A fresh lake: `s3://bucket/tests/<name>` or `file://<tmp>/<name>`.
pub(crate) fn fresh_lake(s3: bool, name: &str) -> String {
    if s3 {
        let lake = Services::get().lake();
        format!("s3://{}/{}", lake.bucket, lake.fresh_prefix(name))
    } else {
        let dir =
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(testkit::unique_name(name));
        format!("file://{}", dir.display())
    }
}

/// The S3 settings of `.services.env` as object_store options, so tests
/// need no exported environment.
pub(crate) fn s3_options() -> Vec<(String, String)> {
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
pub(crate) fn open_lake(url: &str) -> Lake {
    Lake::open_with_options(url, &s3_options()).expect("open the lake")
}

/// A sink config for tests.
pub(crate) fn config(lake: &str, topics: &[(&str, schemas::Feed)], group: &str) -> SinkConfig {
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
pub(crate) struct RunningSink {
    stop: oneshot::Sender<()>,
    task: JoinHandle<sink::Result<SinkReport>>,
}

impl RunningSink {
    pub(crate) fn start(config: SinkConfig) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(sink::run(config, async move {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    /// Signals shutdown and waits for the final commits.
    pub(crate) async fn stop(self) -> SinkReport {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(120), self.task)
            .await
            .expect("the sink stops within 120 s")
            .expect("the sink task does not panic")
            .expect("the sink run succeeds")
    }
}

/// Waits until the lake's watermarks reach the last produced offsets.
pub(crate) async fn wait_for_lake(
    lake: &Lake,
    topic: &str,
    placement: &Placement,
    timeout: Duration,
) {
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

/// Every row of the committed files of `topic`, by (partition, offset), read
/// through DataFusion SQL with the store registered as a reader would.
pub(crate) async fn read_lake(lake: &Lake, topic: &str) -> RecordBatch {
    let files = lake.committed_files(topic).await.expect("committed files");
    assert!(!files.is_empty(), "no committed files for {topic}");
    let config = SessionConfig::new().set_bool(
        "datafusion.execution.parquet.schema_force_view_types",
        false,
    );
    let ctx = SessionContext::new_with_config(config);
    let loc: &LakeLocation = lake.location();
    let store_url = url::Url::parse(&loc.store_url).expect("store URL");
    if store_url.scheme() == "s3" {
        ctx.register_object_store(&store_url, Arc::clone(&loc.store));
    }
    let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
    let df = ctx
        .read_parquet(urls, ParquetReadOptions::default())
        .await
        .expect("read the committed files");
    ctx.register_table("lake", df.into_view())
        .expect("register");
    let batches = ctx
        .sql("SELECT * FROM lake ORDER BY _partition, _offset")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let schema = batches.first().expect("rows").schema();
    concat_batches(&schema, &batches).expect("concat")
}

/// The (partition, offset) of every row, in row order.
pub(crate) fn positions(batch: &RecordBatch) -> Vec<(i32, i64)> {
    let p = batch
        .column_by_name("_partition")
        .expect("_partition")
        .as_primitive::<Int32Type>();
    let o = batch
        .column_by_name("_offset")
        .expect("_offset")
        .as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .map(|i| (p.value(i), o.value(i)))
        .collect()
}

/// The (partition, offset) of every row, asserting none appears twice.
pub(crate) fn positions_exactly_once(batch: &RecordBatch) -> Vec<(i32, i64)> {
    let positions = positions(batch);
    let distinct: HashSet<_> = positions.iter().collect();
    assert_eq!(
        distinct.len(),
        positions.len(),
        "an offset is in the lake more than once"
    );
    positions
}
