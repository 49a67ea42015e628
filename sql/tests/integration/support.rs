//! A small real lake (real fixture records through Kafka and the real sink),
//! fresh PostgreSQL databases, and sessions over them.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::Int64Type;
use producer::race_data::RaceDataset;
use schemas::{Feed, Limits as FeedLimits, RaceEvent, Rsvp};
use sql::{LakeTable, Limits, QueryOutput, SqlConfig, SqlSession};
use testkit::Services;
use testkit::fixtures::{race_lines, rsvp_lines};
use testkit::lake::{fill_lake, fresh_lake, s3_options};
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

/// Lands the fixture records through Kafka and the real sink
/// (`testkit::lake::fill_lake`). Done once; later callers get the same lake.
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
    let url = fresh_lake(true, "sql");
    fill_lake(&url, &rsvp_topic, Feed::Rsvps, &rsvp_bytes).await;
    fill_lake(&url, &race_topic, Feed::Race, &race_bytes).await;
    LakeFixture {
        url,
        rsvp_topic,
        race_topic,
        rsvps,
        races,
    }
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
