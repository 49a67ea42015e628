//! `bench/batch`: the batch layer against peers measured in the same run.
//!
//! 1. A lake: the real RSVPs and both real race data sets, enlarged with the
//!    simulator's `--scale` derivation (`producer::simulator::scale_records`),
//!    produced into fresh topics and landed by the real sink in a `file://`
//!    lake, so that DuckDB and Spark read the very same Parquet files.
//! 2. ETL: `batch::run_once` end to end (fresh database per run); the same
//!    steps without migrations and views (extract, binary COPY, merge, one
//!    transaction); the extract alone (every target's DataFusion query,
//!    collected). Peers: the same SQL texts in DuckDB (and its results loaded
//!    into PostgreSQL with psycopg COPY and the same merge statements) and in
//!    Spark local mode (`bench/batch/*.py`).
//! 3. Binary COPY (`batch::copy::copy_stream`) against batched multi-row
//!    INSERTs of the same rows into identical tables.
//! 4. The RSVP response model: linfa (`batch::model::train_rsvp`) against
//!    scikit-learn on the exported feature matrix (AUC, training time).
//!
//! Timings are the median of `--runs` runs after one warm-up run that is
//! not counted. Needs the services (`scripts/services.sh up`) and, for the
//! peers, `bench/batch/setup.sh`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use batch::etl::{self, Target};
use batch::lake_source::{Offsets, TopicSnapshot, session_for, table_after};
use batch::{BatchConfig, NoProgress};
use bench::kafka;
use bench::{Row, Table};
use clap::Parser;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMillisecondType,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use producer::race_data::RaceDataset;
use producer::simulator::scale_records;
use schemas::topics::RSVPS_TOPIC;
use schemas::{Feed, Limits, Rsvp};
use serde_json::{Value, json};
use sink::Lake;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The batch layer against DuckDB, Spark, INSERT and scikit-learn.
#[derive(Debug, Parser)]
struct Args {
    /// Copies of each real RSVP (the simulator's `--scale`).
    #[arg(long, default_value_t = 20)]
    rsvp_scale: u32,
    /// Copies of each real race event (both data sets).
    #[arg(long, default_value_t = 2)]
    race_scale: u32,
    /// Partitions of the fresh topics.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Timed runs per path (the median is reported), after one warm-up.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// What to run: `etl`, `copy`, `model` (and `extract`: billabong's
    /// extract alone, for profiling).
    #[arg(long, value_delimiter = ',', default_value = "etl,copy,model")]
    sections: Vec<String>,
    /// ETL peers to run: `duckdb`, `spark` (empty: none).
    #[arg(long, value_delimiter = ',', default_value = "duckdb,spark")]
    peers: Vec<String>,
    /// The Python with the peers' packages (`bench/batch/setup.sh`).
    #[arg(long, default_value = "/var/tmp/billabong-bench-venv/bin/python")]
    python: PathBuf,
    /// Rows per INSERT statement.
    #[arg(long, default_value_t = 1_000)]
    insert_rows: usize,
    /// COPY against INSERT loads the lake's RSVP fact rows this many times
    /// over (more rows, steadier timings).
    #[arg(long, default_value_t = 4)]
    copy_repeat: usize,
    /// Lakes, the peers' spec files and the feature CSVs go here.
    #[arg(long, default_value = "/var/tmp/billabong-bench/batch")]
    work_dir: PathBuf,
    /// Reuse a lake filled by an earlier run (with `--rsvps-topic`,
    /// `--race-topic`) instead of filling a new one.
    #[arg(long, requires_all = ["rsvps_topic", "race_topic"])]
    lake: Option<String>,
    /// The RSVP topic of `--lake`.
    #[arg(long)]
    rsvps_topic: Option<String>,
    /// The race topic of `--lake`.
    #[arg(long)]
    race_topic: Option<String>,
    /// Keep the benchmark's topics instead of deleting them (the lake keeps
    /// its files either way, so `--lake` works without them).
    #[arg(long)]
    keep_topics: bool,
}

/// The directory holding the peers' scripts.
fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("batch")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let fits = FitTimes::default();
    tracing_subscriber::registry()
        .with(fits.clone())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::EnvFilter::from_default_env()),
        )
        .init();
    std::fs::create_dir_all(&args.work_dir)?;
    let mut report = Report::default();
    report.line(format!(
        "DataFusion {}, PostgreSQL {}",
        datafusion::DATAFUSION_VERSION,
        postgres_version().await?
    ));

    let mut topics = Vec::new();
    let needs_lake = args.sections.iter().any(|s| s != "model");
    let lake = if needs_lake {
        Some(make_lake(&args, &mut topics, &mut report).await?)
    } else {
        None
    };
    let result = run_sections(&args, lake.as_ref(), &fits, &mut report).await;
    if !args.keep_topics {
        let brokers = testkit::Services::get().kafka().brokers;
        kafka::delete_topics(&brokers, &topics).await;
    }
    result?;
    let path = args.work_dir.join("results.md");
    std::fs::write(&path, &report.markdown)?;
    println!("\n(all of the above also in {})", path.display());
    Ok(())
}

async fn run_sections(
    args: &Args,
    lake: Option<&LakeData>,
    fits: &FitTimes,
    report: &mut Report,
) -> Result<()> {
    for section in &args.sections {
        match (section.as_str(), lake) {
            ("etl", Some(lake)) => bench_etl(args, lake, report).await?,
            ("extract", Some(lake)) => {
                // billabong's extract alone (e.g. under `perf record`).
                let (times, _) =
                    timed(args.runs, || async { Ok(()) }, |()| extract_once(lake)).await?;
                let mut table = Table::new("billabong extract only");
                table.push(
                    Row::new("billabong (DataFusion)", lake.rows(), median(times.clone()))
                        .with_note(format!("runs {} s", secs_list(&times))),
                );
                report.table(&table);
            }
            ("copy", Some(lake)) => bench_copy(args, lake, report).await?,
            ("model", _) => bench_model(args, fits, report).await?,
            (other, _) => bail!("unknown section {other:?}: use etl, copy, model, extract"),
        }
    }
    Ok(())
}

/// Printed as it goes and kept for `results.md`.
#[derive(Default)]
struct Report {
    markdown: String,
}

impl Report {
    fn line(&mut self, text: impl AsRef<str>) {
        println!("{}", text.as_ref());
        self.markdown.push_str(text.as_ref());
        self.markdown.push('\n');
    }

    fn table(&mut self, table: &Table) {
        self.line(table.to_markdown());
    }
}

// ---------------------------------------------------------------------------
// The lake

/// The lake every section reads, with its snapshots taken once.
struct LakeData {
    url: String,
    lake: Lake,
    rsvps: TopicSnapshot,
    race: TopicSnapshot,
}

impl LakeData {
    fn rows(&self) -> u64 {
        self.rsvps.rows_after(&Offsets::new()) + self.race.rows_after(&Offsets::new())
    }

    fn config(&self, postgres: &str) -> BatchConfig {
        let mut config = BatchConfig::new(&self.url, postgres);
        config.rsvps_topic = self.rsvps.topic.clone();
        config.race_topic = self.race.topic.clone();
        config
    }
}

/// Fills a fresh `file://` lake through Kafka and the real sink (or opens
/// `--lake`), and says what is in it.
async fn make_lake(args: &Args, topics: &mut Vec<String>, report: &mut Report) -> Result<LakeData> {
    let (url, rsvps_topic, race_topic) = match &args.lake {
        Some(url) => (
            url.clone(),
            args.rsvps_topic.clone().context("--rsvps-topic")?,
            args.race_topic.clone().context("--race-topic")?,
        ),
        None => fill(args, topics, report).await?,
    };
    let lake = Lake::open_with_options(&url, &[])?;
    let started = Instant::now();
    let rsvps = TopicSnapshot::take(&lake, &rsvps_topic, Feed::Rsvps).await?;
    let race = TopicSnapshot::take(&lake, &race_topic, Feed::Race).await?;
    let snapshot_time = started.elapsed();
    for snap in [&rsvps, &race] {
        report.line(format!(
            "lake {}: {} rows in {} committed Parquet files, {:.1} MB",
            snap.topic,
            snap.rows_after(&Offsets::new()),
            snap.files.len(),
            snap.files.iter().map(|f| f.bytes).sum::<u64>() as f64 / 1e6
        ));
    }
    report.line(format!(
        "lake URL {url}; reading both topics' commit records (the snapshot) took {:.3} s",
        snapshot_time.as_secs_f64()
    ));
    Ok(LakeData {
        url,
        lake,
        rsvps,
        race,
    })
}

async fn fill(
    args: &Args,
    topics: &mut Vec<String>,
    report: &mut Report,
) -> Result<(String, String, String)> {
    let brokers = testkit::Services::get().kafka().brokers;
    let real_rsvps = testkit::fixtures::rsvp_lines();
    let mut real_race = testkit::fixtures::race_lines(RaceDataset::Fia);
    real_race.extend(testkit::fixtures::race_lines(RaceDataset::Ergast));
    let (n_rsvps, n_race) = (real_rsvps.len(), real_race.len());
    let rsvps = scale_records(Feed::Rsvps, real_rsvps, args.rsvp_scale);
    let race = scale_records(Feed::Race, real_race, args.race_scale);
    report.line(format!(
        "data (scaled with the simulator's --scale derivation): RSVPs {n_rsvps} real × {} = {} \
         records; race events (FIA + Ergast) {n_race} real × {} = {} records",
        args.rsvp_scale,
        rsvps.len(),
        args.race_scale,
        race.len()
    ));
    let dir = args.work_dir.join(testkit::unique_name("lake"));
    let url = format!("file://{}", dir.display());
    let rsvps_topic = kafka::fresh_name("bench-batch-rsvps");
    let race_topic = kafka::fresh_name("bench-batch-race");
    kafka::create_topics(&brokers, &[&rsvps_topic, &race_topic], args.partitions).await?;
    topics.extend([rsvps_topic.clone(), race_topic.clone()]);
    let started = Instant::now();
    testkit::lake::fill_lake(&url, &rsvps_topic, Feed::Rsvps, &rsvps).await;
    testkit::lake::fill_lake(&url, &race_topic, Feed::Race, &race).await;
    report.line(format!(
        "produced to {} partitions and landed by the sink in {:.1} s (not timed against anything)",
        args.partitions,
        started.elapsed().as_secs_f64()
    ));
    Ok((url, rsvps_topic, race_topic))
}

// ---------------------------------------------------------------------------
// ETL

fn targets() -> Vec<Target> {
    etl::rsvp::TARGETS
        .iter()
        .chain(etl::race::TARGETS)
        .copied()
        .collect()
}

/// Registers `rsvp_delta`, `rsvp_flat`, `race_delta`, `race_grid` as
/// `batch/src/run.rs` does for a first run (everything committed).
async fn register(ctx: &SessionContext, lake: &LakeData) -> Result<()> {
    let none = Offsets::new();
    let raw = table_after(ctx, &lake.rsvps, &none).await?;
    ctx.register_table("rsvp_delta", raw)?;
    let flat = ctx.sql(etl::rsvp::FLATTEN).await?.cache().await?;
    ctx.register_table(etl::rsvp::FLAT, flat.into_view())?;
    let raw = table_after(ctx, &lake.race, &none).await?;
    let race_delta = ctx.read_table(raw)?.cache().await?;
    ctx.register_table("race_delta", race_delta.into_view())?;
    let grid = ctx.sql(etl::race::GRID).await?.cache().await?;
    ctx.register_table("race_grid", grid.into_view())?;
    Ok(())
}

/// Every target's query, collected: rows per table.
async fn extract_once(lake: &LakeData) -> Result<BTreeMap<String, u64>> {
    let ctx = session_for(&lake.lake)?;
    register(&ctx, lake).await?;
    let mut rows = BTreeMap::new();
    for target in targets() {
        let batches = ctx.sql(target.extract).await?.collect().await?;
        let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
        rows.insert(target.table.to_owned(), n as u64);
    }
    Ok(rows)
}

/// `batch::etl::load` without views and migrations: every target staged by
/// binary COPY and merged, one transaction, on a migrated empty database.
async fn load_once(lake: &LakeData, postgres: &str) -> Result<BTreeMap<String, u64>> {
    let mut client = connect(postgres).await?;
    let ctx = session_for(&lake.lake)?;
    register(&ctx, lake).await?;
    let tx = client.transaction().await?;
    let targets = targets();
    let mut staged = BTreeMap::new();
    for target in &targets {
        tx.batch_execute(&target.staging_ddl()).await?;
        let stream = ctx.sql(target.extract).await?.execute_stream().await?;
        let stage = format!("stage_{}", target.table);
        let n = batch::copy::copy_stream(&tx, &stage, target.columns, stream).await?;
        staged.insert(target.table.to_owned(), n);
    }
    for target in &targets {
        tx.batch_execute(&target.merge_sql()).await?;
    }
    tx.commit().await?;
    Ok(staged)
}

async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn postgres_version() -> Result<String> {
    let client = connect(&testkit::Services::get().postgres().url).await?;
    let row = client.query_one("SHOW server_version", &[]).await?;
    Ok(row.get(0))
}

/// A fresh database with the batch migrations applied.
async fn migrated_database(prefix: &str) -> Result<String> {
    let url = testkit::Services::get()
        .postgres()
        .fresh_database(prefix)
        .await;
    let mut client = connect(&url).await?;
    batch::migrate::migrate(&mut client).await?;
    Ok(url)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn secs_list(times: &[Duration]) -> String {
    times
        .iter()
        .map(|t| format!("{:.2}", t.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One warm-up call, then `runs` timed calls (each given its own `prepare`d
/// input, prepared outside the timing); returns the timings and the last
/// output.
async fn timed<P, T, PF, PFut, F, Fut>(
    runs: usize,
    prepare: PF,
    work: F,
) -> Result<(Vec<Duration>, T)>
where
    PF: Fn() -> PFut,
    PFut: std::future::Future<Output = Result<P>>,
    F: Fn(P) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let input = prepare().await?;
    let mut last = work(input).await?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let input = prepare().await?;
        let started = Instant::now();
        last = work(input).await?;
        times.push(started.elapsed());
    }
    Ok((times, last))
}

async fn bench_etl(args: &Args, lake: &LakeData, report: &mut Report) -> Result<()> {
    let rows = lake.rows();
    let runs = args.runs;

    // billabong: the three scopes.
    let (extract_times, extract_rows) =
        timed(runs, || async { Ok(()) }, |()| extract_once(lake)).await?;
    let (load_times, load_rows) = timed(
        runs,
        || migrated_database("bench_batch_load"),
        |url| async move { load_once(lake, &url).await },
    )
    .await?;
    let (run_times, summary) = timed(
        runs,
        || async {
            Ok(testkit::Services::get()
                .postgres()
                .fresh_database("bench_batch_run")
                .await)
        },
        |url| async move { Ok(batch::run_once(&lake.config(&url), &NoProgress).await?) },
    )
    .await?;
    let migrate_times = timed(
        runs,
        || async {
            Ok(testkit::Services::get()
                .postgres()
                .fresh_database("bench_batch_migrate")
                .await)
        },
        |url| async move {
            let mut client = connect(&url).await?;
            batch::migrate::migrate(&mut client).await?;
            Ok(())
        },
    )
    .await?
    .0;
    let run_rows: BTreeMap<String, u64> = summary
        .tables
        .iter()
        .map(|(t, r)| ((*t).to_owned(), r.staged))
        .collect();
    if run_rows != extract_rows || load_rows != extract_rows {
        report.line(format!(
            "WARNING: row counts differ: extract {extract_rows:?}, load {load_rows:?}, run {run_rows:?}"
        ));
    }

    // Peers.
    let mut peers: BTreeMap<String, Value> = BTreeMap::new();
    for peer in &args.peers {
        let result = run_peer(args, lake, peer).await;
        match result {
            Ok(v) => {
                peers.insert(peer.clone(), v);
            }
            Err(e) => {
                report.line(format!("peer {peer}: could not run: {e:#}"));
            }
        }
    }

    // Extract-only table: DuckDB (when it ran) is the baseline.
    let mut extract = Table::new(format!(
        "ETL extract only: every target query over the lake, results collected ({rows} lake rows)"
    ));
    let duck = peers.get("duckdb");
    if let Some(d) = duck {
        extract.push(peer_row(
            "DuckDB: same SQL, results fetched to Arrow",
            rows,
            d,
            "extract",
        )?);
    }
    extract.push(
        Row::new(
            "billabong (DataFusion): register deltas + every target query, collect",
            rows,
            median(extract_times.clone()),
        )
        .with_note(format!("runs {} s", secs_list(&extract_times))),
    );
    if let Some(s) = peers.get("spark") {
        extract.push(peer_row(
            "Spark local[*]: same SQL (rewrites below), collected",
            rows,
            s,
            "extract",
        )?);
    }
    report.table(&extract);

    let mut e2e = Table::new(format!(
        "ETL into PostgreSQL: fresh database per run ({rows} lake rows)"
    ));
    if let Some(d) = duck
        && d.get("load").is_some_and(|v| !v.is_null())
    {
        e2e.push(peer_row(
            "DuckDB extract + psycopg COPY into staging + the same merge SQL, one transaction",
            rows,
            d,
            "load",
        )?);
    }
    e2e.push(
        Row::new(
            "billabong: extract + binary COPY into staging + merge, one transaction",
            rows,
            median(load_times.clone()),
        )
        .with_note(format!(
            "runs {} s; no migrations, no views",
            secs_list(&load_times)
        )),
    );
    e2e.push(
        Row::new(
            "billabong batch (batch::run_once): migrate, lock, snapshot, load, views, commit",
            rows,
            median(run_times.clone()),
        )
        .with_note(format!(
            "runs {} s; migrations alone on an empty database: median {:.2} s",
            secs_list(&run_times),
            median(migrate_times).as_secs_f64()
        )),
    );
    report.table(&e2e);

    report.line("\nRows per target (billabong extract; peers checked against it):\n");
    let mut counts = String::from("| table | billabong |");
    for peer in peers.keys() {
        counts.push_str(&format!(" {peer} |"));
    }
    counts.push_str("\n| --- | ---: |");
    for _ in peers.keys() {
        counts.push_str(" ---: |");
    }
    for (table, n) in &extract_rows {
        counts.push_str(&format!("\n| {table} | {n} |"));
        for v in peers.values() {
            let theirs = v["rows"][table].as_u64();
            let mark = if theirs == Some(*n) { "" } else { " ≠" };
            counts.push_str(&format!(
                " {}{mark} |",
                theirs.map_or("-".to_owned(), |t| t.to_string())
            ));
        }
    }
    report.line(counts);
    for (peer, v) in &peers {
        report.line(format!(
            "\n{peer}: {}",
            v["version"].as_str().unwrap_or("?")
        ));
        if let Some(rewrites) = v["rewrites"].as_array() {
            if rewrites.is_empty() {
                report.line("- SQL rewrites: none (the texts ran as written)");
            }
            for r in rewrites {
                report.line(format!("- SQL rewrite: {}", r.as_str().unwrap_or("?")));
            }
        }
        if let Some(note) = v["note"].as_str() {
            report.line(format!("- {note}"));
        }
    }
    Ok(())
}

fn peer_row(name: &str, rows: u64, peer: &Value, key: &str) -> Result<Row> {
    let part = &peer[key];
    let times: Vec<Duration> = part["runs_s"]
        .as_array()
        .ok_or_else(|| anyhow!("peer result has no {key}.runs_s: {peer}"))?
        .iter()
        .filter_map(Value::as_f64)
        .map(Duration::from_secs_f64)
        .collect();
    let mut note = format!("runs {} s", secs_list(&times));
    if let Some(extra) = part["note"].as_str() {
        note.push_str("; ");
        note.push_str(extra);
    }
    Ok(Row::new(name, rows, median(times)).with_note(note))
}

/// Writes the spec (SQL texts, Parquet files, databases) and runs one peer
/// script; its JSON result is the last line of its output.
async fn run_peer(args: &Args, lake: &LakeData, peer: &str) -> Result<Value> {
    let script = match peer {
        "duckdb" => "duckdb_etl.py",
        "spark" => "spark_etl.py",
        other => bail!("unknown peer {other:?}: use duckdb, spark"),
    };
    let files = |snap: &TopicSnapshot| -> Vec<String> {
        snap.files
            .iter()
            .map(|f| f.url.trim_start_matches("file://").to_owned())
            .collect()
    };
    let mut databases = Vec::new();
    if peer == "duckdb" {
        for _ in 0..=args.runs {
            databases.push(migrated_database("bench_batch_duckdb").await?);
        }
    }
    let spec = json!({
        "runs": args.runs,
        "rsvp_files": files(&lake.rsvps),
        "race_files": files(&lake.race),
        "flatten": etl::rsvp::FLATTEN,
        "flat": etl::rsvp::FLAT,
        "grid": etl::race::GRID,
        "targets": targets().iter().map(|t| json!({
            "table": t.table,
            "columns": t.columns,
            "extract": t.extract,
            "staging_ddl": t.staging_ddl(),
            "merge_sql": t.merge_sql(),
        })).collect::<Vec<_>>(),
        "postgres": databases,
    });
    let spec_path = args.work_dir.join(format!("{peer}-spec.json"));
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec)?)?;
    let output = run_python(args, &scripts_dir().join(script), &[spec_path.as_path()])?;
    let last = output
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow!("{script} printed no JSON result"))?;
    Ok(serde_json::from_str(last)?)
}

/// Runs a script with the venv's Python; its stderr passes through.
fn run_python(args: &Args, script: &Path, script_args: &[&Path]) -> Result<String> {
    eprintln!("running {} {}", args.python.display(), script.display());
    let out = Command::new(&args.python)
        .arg(script)
        .args(script_args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| {
            format!(
                "running {} (bench/batch/setup.sh first)",
                args.python.display()
            )
        })?;
    if !out.status.success() {
        bail!("{} failed: {}", script.display(), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

// ---------------------------------------------------------------------------
// COPY against INSERT

/// The RSVP fact columns of every lake message, as the `rsvps` table holds them.
const FACT_SQL: &str = "SELECT rsvp_id, mtime, response, guests, visibility, member_id, event_id, \
                        _partition, _offset FROM rsvp_flat";
const FACT_COLUMNS: &[&str] = &[
    "rsvp_id",
    "mtime",
    "response",
    "guests",
    "visibility",
    "member_id",
    "event_id",
    "src_partition",
    "src_offset",
];

async fn bench_copy(args: &Args, lake: &LakeData, report: &mut Report) -> Result<()> {
    let ctx = session_for(&lake.lake)?;
    register(&ctx, lake).await?;
    let batches = ctx.sql(FACT_SQL).await?.collect().await?;
    let schema = batches
        .first()
        .map(RecordBatch::schema)
        .ok_or_else(|| anyhow!("no RSVP rows in the lake"))?;
    let repeated: Vec<RecordBatch> = (0..args.copy_repeat.max(1))
        .flat_map(|_| batches.iter().cloned())
        .collect();
    let facts = concat_batches(&schema, &repeated)?;
    let n = facts.num_rows() as u64;
    let url = migrated_database("bench_batch_copy").await?;
    let mut client = connect(&url).await?;
    // Identical tables shaped like `rsvps` (LIKE copies types and NOT NULL,
    // no keys), so neither path pays for constraints.
    client
        .batch_execute(
            "CREATE TABLE facts_copy (LIKE rsvps); CREATE TABLE facts_insert (LIKE rsvps);",
        )
        .await?;

    let mut copy_times = Vec::new();
    let mut insert_times = Vec::new();
    let mut single_times = Vec::new();
    for run in 0..=args.runs {
        client
            .batch_execute("TRUNCATE facts_copy; TRUNCATE facts_insert")
            .await?;
        let started = Instant::now();
        copy_facts(&mut client, &facts).await?;
        let copy = started.elapsed();
        let started = Instant::now();
        insert_facts(&mut client, &facts, args.insert_rows).await?;
        let insert = started.elapsed();
        client.batch_execute("TRUNCATE facts_insert").await?;
        let started = Instant::now();
        insert_facts(&mut client, &facts, 1).await?;
        let single = started.elapsed();
        if run > 0 {
            copy_times.push(copy);
            insert_times.push(insert);
            single_times.push(single);
        }
    }
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM facts_copy), (SELECT count(*) FROM facts_insert),
                    (SELECT count(*) FROM (SELECT * FROM facts_copy EXCEPT ALL
                                           SELECT * FROM facts_insert) d)",
            &[],
        )
        .await?;
    let (copied, inserted, differ): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    // The floor of any client path: the server inserting the same rows from
    // a table (no protocol, no parsing of values).
    client
        .batch_execute("CREATE TABLE facts_floor (LIKE rsvps)")
        .await?;
    let mut floor_times = Vec::new();
    for run in 0..=args.runs {
        client.batch_execute("TRUNCATE facts_floor").await?;
        let started = Instant::now();
        client
            .batch_execute("BEGIN; INSERT INTO facts_floor SELECT * FROM facts_copy; COMMIT")
            .await?;
        if run > 0 {
            floor_times.push(started.elapsed());
        }
    }
    let mut table = Table::new(format!(
        "PostgreSQL load: {n} RSVP fact rows (every lake message × {}, 9 columns like `rsvps`), one transaction each",
        args.copy_repeat.max(1)
    ));
    table.push(
        Row::new(
            format!(
                "batched INSERT, {} rows per statement (prepared, parameterised)",
                args.insert_rows
            ),
            n,
            median(insert_times.clone()),
        )
        .with_note(format!("runs {} s", secs_list(&insert_times))),
    );
    table.push(
        Row::new(
            "binary COPY (batch::copy::copy_stream)",
            n,
            median(copy_times.clone()),
        )
        .with_note(format!(
            "runs {} s; tables equal: {copied} = {inserted} rows, {differ} differing",
            secs_list(&copy_times)
        )),
    );
    table.push(
        Row::new(
            "reference: INSERT, 1 row per statement (prepared), one transaction",
            n,
            median(single_times.clone()),
        )
        .with_note(format!("runs {} s", secs_list(&single_times))),
    );
    table.push(
        Row::new(
            "floor: server-side INSERT … SELECT of the same rows from a table, one transaction",
            n,
            median(floor_times.clone()),
        )
        .with_note(format!(
            "runs {} s; no client, no protocol: what any load path pays at least",
            secs_list(&floor_times)
        )),
    );
    report.table(&table);
    Ok(())
}

async fn copy_facts(client: &mut Client, facts: &RecordBatch) -> Result<u64> {
    let tx = client.transaction().await?;
    let batches: Vec<datafusion::error::Result<RecordBatch>> = vec![Ok(facts.clone())];
    let stream = Box::pin(RecordBatchStreamAdapter::new(
        facts.schema(),
        futures::stream::iter(batches),
    ));
    let n = batch::copy::copy_stream(&tx, "facts_copy", FACT_COLUMNS, stream).await?;
    tx.commit().await?;
    Ok(n)
}

/// One Arrow column as owned Rust values a driver binds.
enum Column {
    I32(Vec<Option<i32>>),
    I64(Vec<Option<i64>>),
    F64(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Time(Vec<Option<SystemTime>>),
}

impl Column {
    fn from_arrow(array: &dyn Array) -> Result<Self> {
        let rows = 0..array.len();
        let valid = |i: usize| array.is_valid(i);
        Ok(match array.data_type() {
            DataType::Int32 => {
                let a = array.as_primitive::<Int32Type>();
                Column::I32(rows.map(|i| valid(i).then(|| a.value(i))).collect())
            }
            DataType::Int64 => {
                let a = array.as_primitive::<Int64Type>();
                Column::I64(rows.map(|i| valid(i).then(|| a.value(i))).collect())
            }
            DataType::Float64 => {
                let a = array.as_primitive::<Float64Type>();
                Column::F64(rows.map(|i| valid(i).then(|| a.value(i))).collect())
            }
            DataType::Utf8 => {
                let a = array.as_string::<i32>();
                Column::Text(
                    rows.map(|i| valid(i).then(|| a.value(i).to_owned()))
                        .collect(),
                )
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let a = array.as_primitive::<TimestampMillisecondType>();
                Column::Time(
                    rows.map(|i| {
                        valid(i).then(|| {
                            let ms = a.value(i);
                            let d = Duration::from_millis(ms.unsigned_abs());
                            if ms >= 0 {
                                SystemTime::UNIX_EPOCH + d
                            } else {
                                SystemTime::UNIX_EPOCH - d
                            }
                        })
                    })
                    .collect(),
                )
            }
            other => bail!("INSERT path: Arrow {other} is not handled"),
        })
    }

    fn param(&self, row: usize) -> &(dyn ToSql + Sync) {
        match self {
            Column::I32(v) => &v[row],
            Column::I64(v) => &v[row],
            Column::F64(v) => &v[row],
            Column::Text(v) => &v[row],
            Column::Time(v) => &v[row],
        }
    }
}

/// Multi-row parameterised INSERTs of `rows_per_statement` rows, one
/// transaction: what a client without COPY does at best.
async fn insert_facts(
    client: &mut Client,
    facts: &RecordBatch,
    rows_per_statement: usize,
) -> Result<u64> {
    let columns = facts
        .columns()
        .iter()
        .map(|c| Column::from_arrow(c.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let width = columns.len();
    let statement_for = |rows: usize| {
        let values = (0..rows)
            .map(|r| {
                let params = (1..=width)
                    .map(|c| format!("${}", r * width + c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({params})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO facts_insert ({}) VALUES {values}",
            FACT_COLUMNS.join(", ")
        )
    };
    let tx = client.transaction().await?;
    let full = tx.prepare(&statement_for(rows_per_statement)).await?;
    let total = facts.num_rows();
    let mut written = 0;
    let mut start = 0;
    while start < total {
        let end = (start + rows_per_statement).min(total);
        let params: Vec<&(dyn ToSql + Sync)> = (start..end)
            .flat_map(|r| columns.iter().map(move |c| c.param(r)))
            .collect();
        written += if end - start == rows_per_statement {
            tx.execute(&full, &params).await?
        } else {
            let tail = tx.prepare(&statement_for(end - start)).await?;
            tx.execute(&tail, &params).await?
        };
        start = end;
    }
    tx.commit().await?;
    Ok(written)
}

// ---------------------------------------------------------------------------
// linfa against scikit-learn

/// Records the `seconds` of the RSVP model's "Trained" event: linfa's fit
/// and hold-out evaluation without reading the lake.
#[derive(Clone, Default)]
struct FitTimes(Arc<Mutex<Vec<f64>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for FitTimes {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Seconds(Option<f64>, bool);
        impl tracing::field::Visit for Seconds {
            fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
                if field.name() == "seconds" {
                    self.0 = Some(value);
                }
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "model" && value == schemas::model::RSVP_RESPONSE_MODEL {
                    self.1 = true;
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut seen = Seconds(None, false);
        event.record(&mut seen);
        if let (Some(s), true) = (seen.0, seen.1)
            && let Ok(mut times) = self.0.lock()
        {
            times.push(s);
        }
    }
}

impl FitTimes {
    fn take(&self) -> Vec<f64> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

async fn bench_model(args: &Args, fits: &FitTimes, report: &mut Report) -> Result<()> {
    let real = testkit::fixtures::rsvp_lines();
    let mut table = String::from(
        "\n### RSVP response model: linfa-logistic vs scikit-learn LogisticRegression on the same matrix\n\n\
         | data | rows train / test | features | linfa AUC | sklearn AUC | ΔAUC | linfa fit+score s | sklearn fit+score s | linfa / sklearn time | sklearn fit alone s | linfa incl. lake read s | note |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    let scales = if args.rsvp_scale > 1 {
        vec![1, args.rsvp_scale]
    } else {
        vec![1]
    };
    let mut sklearn_version = String::new();
    for scale in scales {
        let lines = scale_records(Feed::Rsvps, real.clone(), scale);
        let dir = args.work_dir.join(testkit::unique_name("model-lake"));
        let lake = Lake::open_with_options(&format!("file://{}", dir.display()), &[])?;
        write_rsvp_lake(&lake, &lines).await?;

        fits.take();
        let mut linfa = Vec::new();
        let mut totals = Vec::new();
        let mut trained = None;
        for _ in 0..=args.runs {
            let t = batch::model::train_rsvp(&lake, RSVPS_TOPIC).await?;
            totals.push(Duration::from_secs_f64(t.seconds));
            trained = Some(t);
        }
        linfa.extend(fits.take());
        let trained = trained.ok_or_else(|| anyhow!("no training run"))?;
        let fit_times: Vec<Duration> = linfa
            .iter()
            .skip(1)
            .map(|s| Duration::from_secs_f64(*s))
            .collect();
        let total_times: Vec<Duration> = totals.into_iter().skip(1).collect();

        let csv_path = args.work_dir.join(format!("rsvp-features-x{scale}.csv"));
        let mut csv = Vec::new();
        batch::model::export_rsvp_features(&lake, RSVPS_TOPIC, &mut csv).await?;
        std::fs::write(&csv_path, csv)?;
        let runs = args.runs.to_string();
        let out = run_python(
            args,
            &scripts_dir().join("sklearn_rsvp.py"),
            &[csv_path.as_path(), Path::new(&runs)],
        )?;
        let sk: Value = serde_json::from_str(
            out.lines()
                .rev()
                .find(|l| l.starts_with('{'))
                .ok_or_else(|| anyhow!("sklearn_rsvp.py printed no JSON"))?,
        )?;
        sklearn_version = sk["version"].as_str().unwrap_or("?").to_owned();
        let sk_auc = sk["auc"].as_f64().unwrap_or(f64::NAN);
        let sk_fit = sk["fit_s"].as_f64().unwrap_or(f64::NAN);
        let sk_total = sk["total_s"].as_f64().unwrap_or(f64::NAN);
        let m = &trained.model.metrics;
        let linfa_fit = median(fit_times.clone()).as_secs_f64();
        let label = if scale == 1 {
            format!("{} real RSVPs", real.len())
        } else {
            format!(
                "{} RSVPs (real × {scale}, scaled: duplicated features)",
                lines.len()
            )
        };
        table.push_str(&format!(
            "| {label} | {} / {} | {} | {:.6} | {sk_auc:.6} | {:+.6} | {linfa_fit:.3} | {sk_total:.3} | {:.2} | {sk_fit:.3} | {:.3} | linfa runs {} s; sklearn fit+score runs {} s; accuracy linfa {:.4} sklearn {:.4}; {} |\n",
            trained.model.training.train_rows,
            trained.model.training.test_rows,
            trained.model.linear.feature_names.len(),
            m.auc,
            m.auc - sk_auc,
            linfa_fit / sk_total,
            median(total_times).as_secs_f64(),
            secs_list(&fit_times),
            sk["total_runs_s"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).map(|s| format!("{s:.3}")).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
            m.accuracy,
            sk["accuracy"].as_f64().unwrap_or(f64::NAN),
            sk["note"].as_str().unwrap_or(""),
        ));
    }
    report.line(table);
    report.line(format!(
        "Medians of {} runs after a warm-up. linfa fit+score = the model's own timing \
         (`rsvp::train`: encode rows, fit, score the hold-out, metrics; no lake read); sklearn \
         fit+score = `LogisticRegression.fit` + `predict_proba` + `roc_auc_score` on the \
         exported matrix; {sklearn_version}",
        args.runs
    ));
    Ok(())
}

/// Writes RSVPs as committed lake files of topic `billabong.rsvps` (the
/// topic the model reads), three partitions keyed by event id, the way the
/// batch model test does.
async fn write_rsvp_lake(lake: &Lake, lines: &[Vec<u8>]) -> Result<()> {
    let rsvps = lines
        .iter()
        .map(|line| Rsvp::parse(line, &Limits::default()))
        .collect::<Result<Vec<_>, _>>()?;
    testkit::lake::commit_rsvps(lake.location(), RSVPS_TOPIC, rsvps, 3, "bench").await;
    Ok(())
}
