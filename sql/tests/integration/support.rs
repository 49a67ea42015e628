//! A small real lake (real fixture records through Kafka and the real sink),
//! fresh PostgreSQL databases, and sessions over them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::Int64Type;
use producer::race_data::RaceDataset;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::{Feed, Limits as FeedLimits, RaceEvent, Rsvp};
use sink::{Lake, SinkConfig, TopicSpec};
use sql::{LakeTable, Limits, QueryOutput, SqlConfig, SqlSession};
use testkit::Services;
use testkit::fixtures::{race_lines, rsvp_lines};
use tokio::sync::OnceCell;

/// Race events put in the lake: a prefix of the real feed keeps the test quick.
const RACE_EVENTS: usize = 3_000;

/// The shared lake: written once per test binary, read by every test.
#[derive(Debug)]
pub(crate) struct LakeFixture {
    pub(crate) url: String,
    pub(crate) rsvp_topic: String,
    pub(crate) race_topic: String,
    /// The RSVPs exactly as produced.
    pub(crate) rsvps: Vec<Rsvp>,
    /// The race events exactly as produced.
    pub(crate) races: Vec<RaceEvent>,
}

/// Produces the fixture records, runs the real sink until they are all
/// committed, and stops it. Done once; later callers get the same lake.
pub(crate) async fn lake() -> &'static LakeFixture {
    static LAKE: OnceCell<LakeFixture> = OnceCell::const_new();
    LAKE.get_or_init(write_lake).await
}

async fn write_lake() -> LakeFixture {
    let kafka = Services::get().kafka();
    let rsvp_topic = kafka.fresh_topic("sql-rsvps", 2).await;
    let race_topic = kafka.fresh_topic("sql-race", 1).await;
    let rsvp_bytes = rsvp_lines();
    let race_bytes: Vec<Vec<u8>> = race_lines(RaceDataset::Ergast)
        .into_iter()
        .take(RACE_EVENTS)
        .collect();
    let limits = FeedLimits::default();
    let rsvps: Vec<Rsvp> = rsvp_bytes
        .iter()
        .map(|l| Rsvp::parse(l, &limits).expect("real RSVPs are valid"))
        .collect();
    let races: Vec<RaceEvent> = race_bytes
        .iter()
        .map(|l| RaceEvent::parse(l, &limits).expect("real race events are valid"))
        .collect();
    let rsvp_keys: Vec<String> = rsvps.iter().map(|r| r.event.event_id.clone()).collect();
    let race_keys: Vec<String> = races.iter().map(|r| r.key().to_owned()).collect();
    let rsvp_last = produce(&rsvp_topic, &rsvp_bytes, &rsvp_keys).await;
    let race_last = produce(&race_topic, &race_bytes, &race_keys).await;

    let s3 = Services::get().lake();
    let url = format!("s3://{}/{}", s3.bucket, s3.fresh_prefix("sql"));
    let mut config = SinkConfig::new(Services::get().kafka().brokers, url.as_str());
    config.topics = vec![
        TopicSpec {
            topic: rsvp_topic.clone(),
            feed: Feed::Rsvps,
        },
        TopicSpec {
            topic: race_topic.clone(),
            feed: Feed::Race,
        },
    ];
    let group = testkit::unique_name("sql");
    config.group_id = group.clone();
    config.dlq_topic = format!("test.dlq-{group}");
    config.storage_options = s3_options();
    config.roll.interval = Duration::from_secs(1);
    config.roll.records = 1_000;

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sink::run(config, async move {
        let _ = stopped.await;
    }));
    let lake = Lake::open_with_options(&url, &s3_options()).expect("open the lake");
    wait_for(&lake, &rsvp_topic, &rsvp_last).await;
    wait_for(&lake, &race_topic, &race_last).await;
    let _ = stop.send(());
    let report = tokio::time::timeout(Duration::from_secs(120), task)
        .await
        .expect("the sink stops within 120 s")
        .expect("the sink task does not panic")
        .expect("the sink run succeeds");
    assert_eq!(report.dlq_records, 0, "every fixture record is valid");
    LakeFixture {
        url,
        rsvp_topic,
        race_topic,
        rsvps,
        races,
    }
}

/// Produces `lines` with `keys`; returns the last offset per partition.
async fn produce(topic: &str, lines: &[Vec<u8>], keys: &[String]) -> BTreeMap<i32, i64> {
    let producer: FutureProducer = Services::get()
        .kafka()
        .config()
        .set("enable.idempotence", "true")
        .set("linger.ms", "20")
        .create()
        .expect("a Kafka producer");
    let sends = lines.iter().zip(keys).map(|(line, key)| {
        let producer = &producer;
        async move {
            let record = FutureRecord::to(topic).payload(line.as_slice()).key(key);
            producer
                .send(record, Duration::from_secs(30))
                .await
                .expect("the record is delivered")
        }
    });
    let mut last = BTreeMap::new();
    for delivered in futures::future::join_all(sends).await {
        let e = last.entry(delivered.partition).or_insert(delivered.offset);
        *e = (*e).max(delivered.offset);
    }
    last
}

async fn wait_for(lake: &Lake, topic: &str, want: &BTreeMap<i32, i64>) {
    let deadline = Instant::now() + Duration::from_secs(300);
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
            "lake watermarks {have:?} did not reach {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The S3 settings of `.services.env` as object_store options.
pub(crate) fn s3_options() -> Vec<(String, String)> {
    let s = Services::get();
    [
        ("aws_endpoint", "AWS_ENDPOINT_URL"),
        ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
        ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("aws_region", "AWS_REGION"),
        ("aws_allow_http", "AWS_ALLOW_HTTP"),
    ]
    .into_iter()
    .map(|(key, var)| (key.to_owned(), s.var(var).to_owned()))
    .collect()
}

/// A fresh database with `setup` run in it; returns its URL.
pub(crate) async fn database(setup: &str) -> String {
    let url = Services::get().postgres().fresh_database("sql").await;
    let client = pg_client(&url).await;
    client
        .batch_execute(setup)
        .await
        .unwrap_or_else(|e| panic!("test setup failed: {e}"));
    url
}

/// A plain client, for setup and for checking what the database holds.
pub(crate) async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// A session config over the shared lake (its test topics as `lake.rsvps`
/// and `lake.race`) and, if given, a database.
pub(crate) fn config(lake: Option<&LakeFixture>, postgres: Option<&str>) -> SqlConfig {
    SqlConfig {
        lake: lake.map(|l| l.url.clone()),
        lake_options: s3_options(),
        lake_tables: lake
            .map(|l| {
                vec![
                    LakeTable {
                        name: "rsvps".into(),
                        topic: l.rsvp_topic.clone(),
                        feed: Feed::Rsvps,
                    },
                    LakeTable {
                        name: "race".into(),
                        topic: l.race_topic.clone(),
                        feed: Feed::Race,
                    },
                ]
            })
            .unwrap_or_default(),
        postgres: postgres.map(str::to_owned),
        limits: Limits::default(),
    }
}

/// Opens a session or fails the test with the reason.
pub(crate) async fn open(config: SqlConfig) -> SqlSession {
    SqlSession::open(config)
        .await
        .unwrap_or_else(|e| panic!("the session does not open: {e}"))
}

/// Runs `sql`, which must succeed, and returns its rows as one batch.
pub(crate) async fn query(session: &SqlSession, sql: &str) -> RecordBatch {
    let out = session
        .execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql:?} failed: {e}"));
    one_batch(&out)
}

/// The rows of an output as one batch.
pub(crate) fn one_batch(out: &QueryOutput) -> RecordBatch {
    concat_batches(&out.schema, &out.batches).expect("batches share the schema")
}

/// Column `idx` as i64 values (no NULLs).
pub(crate) fn i64s(batch: &RecordBatch, idx: usize) -> Vec<i64> {
    let col = batch.column(idx);
    assert_eq!(col.null_count(), 0, "column {idx} has NULLs");
    col.as_primitive::<Int64Type>().values().to_vec()
}

/// Column `idx` as strings (NULL → None), whatever the string type.
pub(crate) fn strings(batch: &RecordBatch, idx: usize) -> Vec<Option<String>> {
    let col = datafusion::arrow::compute::cast(
        batch.column(idx),
        &datafusion::arrow::datatypes::DataType::Utf8,
    )
    .expect("castable to text");
    let col = col.as_string::<i32>();
    (0..col.len())
        .map(|i| (!col.is_null(i)).then(|| col.value(i).to_owned()))
        .collect()
}
