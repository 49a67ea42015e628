//! `--engine ballista`: the same ETL run on a Ballista scheduler and executor
//! fills PostgreSQL exactly as the local engine does.
//!
//! The scheduler and the executor run in this process on free ports, each
//! with its own session and object store registry holding the S3 lake's
//! store (as a stock `ballista-executor` would build it from `AWS_*`); the
//! run reaches the scheduler by its `df://` URL like any remote client.
//! Fixture records go through Kafka and the real sink into an S3 lake; two
//! runs (the second over a lake that grew in RSVPs only, so the race delta is
//! empty) go into one fresh database per engine, and every 3NF table and
//! view must be identical.

use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionConfigExt;
use ballista_core::extension::{
    ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
};
use ballista_core::optimizer::ballista_default_optimizer_rules;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_scheduler::SessionBuilder;
use batch::{BatchConfig, Engine, RunSummary};
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use schemas::Feed;
use testkit::Services;
use testkit::fixtures::{race_lines, rsvp_lines};
use testkit::lake::{fill_lake, fresh_lake, open_lake, s3_options};
use testkit::tables::{TABLES, dump};

/// The batch views (compared with their run ids: both engines number runs alike).
const VIEWS: &[&str] = &[
    "view_rsvps_country_hour",
    "view_topic_day",
    "view_race_driver_laps",
];

/// Test logs, Ballista's included (it logs through `log`), as `RUST_LOG` says.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Starts a scheduler and one executor in this process; returns the
/// scheduler's `df://` URL. Panics, naming the step, if either cannot start.
async fn start_cluster(lake_url: &str) -> String {
    let lake = open_lake(lake_url);
    let runtime = batch::engine::lake_runtime(&lake).expect("a runtime over the lake's store");

    // The scheduler plans each job in a session made from the client's
    // settings (they arrive with the query) over the lake's store.
    let scheduler_runtime = Arc::clone(&runtime);
    let session_builder: SessionBuilder = Arc::new(move |config: SessionConfig| {
        Ok(ballista_state(config, Arc::clone(&scheduler_runtime)))
    });
    let config_producer: ConfigProducer = Arc::new(SessionConfig::new_with_ballista);
    let addr = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        session_builder,
        Arc::clone(&config_producer),
        BallistaCodec::default(),
    )
    .await
    .expect("the Ballista scheduler did not start");
    let grpc = format!("http://localhost:{}", addr.port());
    // The server task may not accept yet: retry for up to 10 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let client = loop {
        match SchedulerGrpcClient::connect(grpc.clone()).await {
            Ok(client) => break client,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                panic!("the Ballista scheduler at {grpc} does not answer: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };

    let executor_runtime = Arc::clone(&runtime);
    let runtime_producer: RuntimeProducer =
        Arc::new(move |_: &SessionConfig| Ok(Arc::clone(&executor_runtime)));
    let registry = (&ballista_state(SessionConfig::new_with_ballista(), runtime)).into();
    ballista_executor::new_standalone_executor_from_builder(
        client,
        2,
        config_producer,
        runtime_producer,
        BallistaCodec::default(),
        registry,
    )
    .await
    .expect("the Ballista executor did not start");
    format!("df://localhost:{}", addr.port())
}

/// A session state as Ballista's own `default_session_builder` makes it,
/// but reading through `runtime`'s object stores.
fn ballista_state(
    config: SessionConfig,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> SessionState {
    SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_optimizer_rules(ballista_default_optimizer_rules())
        .with_scalar_functions(ballista_scalar_functions())
        .with_aggregate_functions(ballista_aggregate_functions())
        .with_window_functions(ballista_window_functions())
        .build()
}

async fn config(lake: &str, rsvps: &str, race: &str, engine: Engine) -> BatchConfig {
    let db = Services::get().postgres().fresh_database("ballista").await;
    let mut config = BatchConfig::new(lake, db);
    config.rsvps_topic = rsvps.to_owned();
    config.race_topic = race.to_owned();
    config.storage_options = s3_options();
    config.engine = engine;
    config
}

async fn run(config: &BatchConfig, what: &str) -> RunSummary {
    batch::run_once(config, &batch::NoProgress)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Run summaries without what legitimately differs (time, engine).
fn comparable(s: &RunSummary) -> String {
    let mut v = serde_json::to_value(s).expect("summary as JSON");
    v.as_object_mut().expect("an object").remove("elapsed_ms");
    v.to_string()
}

async fn assert_same_databases(local: &BatchConfig, ballista: &BatchConfig, after: &str) {
    let a = batch::pg::connect(&local.postgres).await.expect("connect");
    let b = batch::pg::connect(&ballista.postgres)
        .await
        .expect("connect");
    for table in TABLES.iter().chain(VIEWS) {
        let (want, have) = (dump(&a, table, &[]).await, dump(&b, table, &[]).await);
        assert!(!want.is_empty(), "{after}: {table} is empty");
        assert_eq!(
            have.len(),
            want.len(),
            "{after}: {table} has {} rows on Ballista, {} locally",
            have.len(),
            want.len()
        );
        let differ: Vec<_> = have.iter().zip(&want).filter(|(h, w)| h != w).collect();
        assert!(
            differ.is_empty(),
            "{after}: {table}: {} rows differ between Ballista and local, e.g. {:?}",
            differ.len(),
            differ.first()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ballista_runs_fill_the_database_as_local_runs_do() {
    logs();
    let lake = fresh_lake(true, "batch-ballista");
    let kafka = Services::get().kafka();
    let rsvps = kafka.fresh_topic("batch-ballista-rsvps", 2).await;
    let race = kafka.fresh_topic("batch-ballista-race", 2).await;
    let rsvp_all = rsvp_lines();
    let (r1, r2) = rsvp_all.split_at(rsvp_all.len() / 2);
    let races = race_lines(producer::race_data::RaceDataset::Ergast);
    fill_lake(&lake, &rsvps, Feed::Rsvps, r1).await;
    fill_lake(&lake, &race, Feed::Race, &races[..15_000]).await;

    let scheduler = start_cluster(&lake).await;
    let local = config(&lake, &rsvps, &race, Engine::Local).await;
    let engine = Engine::ballista(scheduler.as_str()).expect("a df:// URL");
    let ballista = config(&lake, &rsvps, &race, engine).await;

    let want = run(&local, "local run 1").await;
    let have = run(&ballista, "Ballista run 1").await;
    assert_eq!(have.status, "succeeded");
    assert_eq!(comparable(&have), comparable(&want), "run 1 summaries");
    assert_same_databases(&local, &ballista, "run 1").await;

    // The lake grows in RSVPs only: the second run reads a range of
    // offsets after the first's watermark and an empty race delta.
    fill_lake(&lake, &rsvps, Feed::Rsvps, r2).await;
    let want = run(&local, "local run 2").await;
    let have = run(&ballista, "Ballista run 2").await;
    assert_eq!(have.run_id, 2);
    assert_eq!(have.rows_read, r2.len() as u64);
    assert_eq!(comparable(&have), comparable(&want), "run 2 summaries");
    assert_same_databases(&local, &ballista, "run 2").await;
}

#[tokio::test]
async fn an_unreachable_scheduler_fails_the_run_with_its_address() {
    logs();
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let scheduler = format!("df://127.0.0.1:{port}");
    // One record in the lake, so that the run has something to load and
    // reaches the engine.
    let lake = fresh_lake(true, "batch-ballista-down");
    let rsvps = Services::get()
        .kafka()
        .fresh_topic("batch-ballista-down", 1)
        .await;
    fill_lake(&lake, &rsvps, Feed::Rsvps, &rsvp_lines()[..10]).await;
    let engine = Engine::ballista(scheduler.as_str()).expect("a df:// URL");
    let config = config(&lake, &rsvps, "batch-ballista-no-race", engine).await;
    let err = batch::run_once(&config, &batch::NoProgress)
        .await
        .expect_err("a run against no scheduler");
    let message = err.to_string();
    assert!(
        matches!(err, batch::Error::Engine { .. }) && message.contains(&scheduler),
        "unexpected error: {message}"
    );
}
