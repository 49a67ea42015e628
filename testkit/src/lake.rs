//! Filling a lake the way production does: fixture records produced into
//! fresh Kafka topics, the real sink run in-process until the lake's
//! watermarks reach them. Tests of every layer that reads the lake (sink,
//! batch, SQL, models) start from here.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use sink::{Lake, SinkConfig, SinkReport, TopicSpec};
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
