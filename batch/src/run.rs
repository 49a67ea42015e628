//! One batch run, start to finish.
//!
//! 1. Migrate, take the run lock, publish runs a crash left unpublished.
//! 2. Snapshot the lake's commit records: the new watermark W. The previous
//!    successful run's watermark is where loading starts.
//! 3. In one transaction: stage the delta (offsets in (previous, W]) with
//!    binary COPY, merge it into the 3NF tables, build the views tagged with
//!    the run id, record W and the row counts, commit.
//! 4. Publish the run to Kafka.
//!
//! A run killed anywhere before the commit leaves nothing but a `running`
//! (or `failed`) row in `batch_runs`; the rerun takes the same id and does
//! the same work, so the tables end as one clean run leaves them.

use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::prelude::{DataFrame, SessionContext};
use schemas::Feed;
use serde::Serialize;
use sink::{Failpoints, Lake};
use tokio_postgres::Client;
use tracing::{info, warn};

use crate::config::BatchConfig;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::etl::{self, TableLoad};
use crate::lake_source::{Offsets, TopicSnapshot, table_after};
use crate::migrate::migrate;
use crate::model::{self, TrainReport};
use crate::runs::{self, PreviousRun, Watermarks};
use crate::{pg, publish, views};

/// The environment variable arming the batch layer's crash points:
/// `after-begin`, `after-stage`, `after-merge`, `before-commit`,
/// `after-commit` (see `sink::Failpoints`).
pub const FAILPOINT_ENV: &str = "BILLABONG_BATCH_FAILPOINT";
static FAILPOINTS: Failpoints = Failpoints::new(FAILPOINT_ENV);

/// Reports a run's progress to whoever shows it (a terminal's progress bar,
/// or nothing).
pub trait Progress: Send + Sync {
    /// Step `done` of `total` finished; `what` names it.
    fn step(&self, what: &str, done: usize, total: usize);
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn step(&self, _what: &str, _done: usize, _total: usize) {}
}

/// Rows of one table in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TableRows {
    /// Rows staged from the lake (one per key of the delta).
    pub staged: u64,
    /// Rows inserted or changed in the target.
    pub merged: u64,
}

/// What a run did: the JSON summary `billabong batch` prints last.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// `succeeded`, or `up_to_date` when the lake had nothing new.
    pub status: &'static str,
    /// The run's id (for `up_to_date`: the last successful run's).
    pub run_id: i64,
    /// Attempts under this id, this one included.
    pub attempts: i32,
    /// The run this one continued from.
    pub previous_run_id: Option<i64>,
    /// Last offset covered, by topic then partition.
    pub watermarks: Watermarks,
    /// Lake rows read past the previous watermark.
    pub rows_read: u64,
    /// Per 3NF table.
    pub tables: BTreeMap<&'static str, TableRows>,
    /// Rows per view written under this run id.
    pub views: BTreeMap<&'static str, u64>,
    /// Runs published to Kafka by this invocation.
    pub published: Vec<i64>,
    /// What `--train` did (absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<TrainReport>,
    /// Wall time, ms.
    pub elapsed_ms: u64,
}

/// Runs once: loads what the lake committed since the last successful run.
pub async fn run_once(config: &BatchConfig, progress: &dyn Progress) -> Result<RunSummary> {
    let started = Instant::now();
    let mut client = pg::connect(&config.postgres).await?;
    migrate(&mut client).await?;
    runs::lock(&client).await?;
    let result = run_locked(&mut client, config, progress, started).await;
    if let Err(e) = runs::unlock(&client).await {
        warn!(error = %e, "could not release the run lock (it goes with the session)");
    }
    let mut summary = result?;
    if config.train {
        // After the run's commit: a failed training does not undo the load.
        let lake = Lake::open_with_options(&config.lake, &config.storage_options)?;
        summary.models =
            Some(model::train_all(&lake, &config.rsvps_topic, &config.race_topic).await?);
        summary.elapsed_ms = elapsed_ms(started);
    }
    Ok(summary)
}

async fn run_locked(
    client: &mut Client,
    config: &BatchConfig,
    progress: &dyn Progress,
    started: Instant,
) -> Result<RunSummary> {
    let mut published = Vec::new();
    if let Some(brokers) = &config.brokers {
        published = publish::publish_pending(client, brokers, &config.runs_topic).await?;
    }
    let previous = runs::last_succeeded(client).await?;
    let lake = Lake::open_with_options(&config.lake, &config.storage_options)?;
    let rsvps = TopicSnapshot::take(&lake, &config.rsvps_topic, Feed::Rsvps).await?;
    let race = TopicSnapshot::take(&lake, &config.race_topic, Feed::Race).await?;
    let prev_marks = previous.as_ref().map(|p| &p.watermarks);
    let after = |topic: &str| -> Offsets {
        prev_marks
            .and_then(|w| w.get(topic))
            .cloned()
            .unwrap_or_default()
    };
    let (rsvps_after, race_after) = (after(&rsvps.topic), after(&race.topic));
    check_forward(&rsvps, &rsvps_after)?;
    check_forward(&race, &race_after)?;
    let mut watermarks = Watermarks::new();
    for snap in [&rsvps, &race] {
        if !snap.watermarks.is_empty() {
            watermarks.insert(snap.topic.clone(), snap.watermarks.clone());
        }
    }
    if let Some(prev) = &previous
        && prev.watermarks == watermarks
    {
        info!(run_id = prev.run_id, "lake has nothing past the last run");
        return Ok(RunSummary {
            status: "up_to_date",
            run_id: prev.run_id,
            attempts: 0,
            previous_run_id: Some(prev.run_id),
            watermarks,
            rows_read: 0,
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
            published,
            models: None,
            elapsed_ms: elapsed_ms(started),
        });
    }
    let run_id = previous.as_ref().map_or(1, |p| p.run_id + 1);
    let attempts = runs::begin(client, run_id).await?;
    FAILPOINTS.hit("after-begin");
    info!(run_id, attempts, "batch run started");
    let delta = Delta {
        lake: &lake,
        rsvps: (&rsvps, &rsvps_after),
        race: (&race, &race_after),
    };
    let outcome = load_and_commit(
        client,
        &config.engine,
        run_id,
        previous.as_ref(),
        &delta,
        &watermarks,
        progress,
    )
    .await;
    let (rows_read, tables, view_rows) = match outcome {
        Ok(done) => done,
        Err(e) => {
            if let Err(record) = runs::fail(client, run_id, &e.to_string()).await {
                warn!(error = %record, "could not record the failure");
            }
            return Err(e);
        }
    };
    FAILPOINTS.hit("after-commit");
    if let Some(brokers) = &config.brokers {
        published.extend(publish::publish_pending(client, brokers, &config.runs_topic).await?);
    } else {
        info!(run_id, "no brokers given: the run is not published");
    }
    let summary = RunSummary {
        status: "succeeded",
        run_id,
        attempts,
        previous_run_id: previous.map(|p| p.run_id),
        watermarks,
        rows_read,
        tables,
        views: view_rows,
        published,
        models: None,
        elapsed_ms: elapsed_ms(started),
    };
    info!(
        run_id,
        rows_read,
        elapsed_ms = summary.elapsed_ms,
        "batch run succeeded"
    );
    Ok(summary)
}

/// The two topics' snapshots with the offsets already loaded, and the lake
/// they were taken from.
struct Delta<'a> {
    lake: &'a Lake,
    rsvps: (&'a TopicSnapshot, &'a Offsets),
    race: (&'a TopicSnapshot, &'a Offsets),
}

type Loaded = (
    u64,
    BTreeMap<&'static str, TableRows>,
    BTreeMap<&'static str, u64>,
);

async fn load_and_commit(
    client: &mut Client,
    engine: &Engine,
    run_id: i64,
    previous: Option<&PreviousRun>,
    delta: &Delta<'_>,
    watermarks: &Watermarks,
    progress: &dyn Progress,
) -> Result<Loaded> {
    let ctx = engine.session(delta.lake).await?;
    let rows_read = register_delta(&ctx, delta, engine.caches_deltas()).await?;
    let targets: Vec<etl::Target> = etl::rsvp::TARGETS
        .iter()
        .chain(etl::race::TARGETS)
        .copied()
        .collect();
    let total = targets.len() + 2;
    let tx = client
        .transaction()
        .await
        .map_err(Error::pg("begin the run transaction"))?;
    let loads: Vec<TableLoad> = etl::load(&ctx, &tx, &targets, &|done| {
        progress.step("load", done, total);
        FAILPOINTS.hit("after-stage");
    })
    .await?;
    FAILPOINTS.hit("after-merge");
    let view_rows = views::build(&ctx, &tx, run_id, previous.map(|p| p.run_id)).await?;
    progress.step("views", total - 1, total);
    let tables: BTreeMap<&'static str, TableRows> = loads
        .iter()
        .map(|l| {
            (
                l.table,
                TableRows {
                    staged: l.staged,
                    merged: l.merged,
                },
            )
        })
        .collect();
    let rows_json = serde_json::to_value(&tables).map_err(|e| Error::Data(e.to_string()))?;
    runs::succeed(&tx, run_id, watermarks, &rows_json, rows_read).await?;
    FAILPOINTS.hit("before-commit");
    tx.commit()
        .await
        .map_err(Error::pg("commit the run transaction"))?;
    progress.step("commit", total, total);
    Ok((rows_read, tables, view_rows.into_iter().collect()))
}

/// Registers the deltas and their flattened forms; returns the rows read.
/// With `cache` they are computed once and held in memory (every target
/// reads them); without it (Ballista) they stay views over the lake's
/// files, which each query reads again.
async fn register_delta(ctx: &SessionContext, delta: &Delta<'_>, cache: bool) -> Result<u64> {
    let (rsvps, rsvps_after) = delta.rsvps;
    let (race, race_after) = delta.race;
    let raw = table_after(ctx, rsvps, rsvps_after).await?;
    ctx.register_table("rsvp_delta", raw)?;
    let flat = cached(ctx.sql(etl::rsvp::FLATTEN).await?, cache).await?;
    let rsvp_rows = flat.clone().count().await?;
    ctx.register_table(etl::rsvp::FLAT, flat.into_view())?;
    let raw = table_after(ctx, race, race_after).await?;
    let race_delta = cached(ctx.read_table(raw)?, cache).await?;
    let race_rows = race_delta.clone().count().await?;
    ctx.register_table("race_delta", race_delta.into_view())?;
    let grid = cached(ctx.sql(etl::race::GRID).await?, cache).await?;
    ctx.register_table("race_grid", grid.into_view())?;
    Ok(u64::try_from(rsvp_rows + race_rows).unwrap_or(u64::MAX))
}

/// `df` computed into memory when `cache`, else unchanged.
async fn cached(df: DataFrame, cache: bool) -> Result<DataFrame> {
    Ok(if cache { df.cache().await? } else { df })
}

/// The lake's watermark never goes back; if it does, this is not the lake
/// the database was loaded from.
fn check_forward(snap: &TopicSnapshot, after: &Offsets) -> Result<()> {
    for (partition, loaded) in after {
        let now = snap.watermarks.get(partition).copied().unwrap_or(-1);
        if now < *loaded {
            return Err(Error::Lake {
                message: format!(
                    "{} partition {partition}: the database holds offsets up to {loaded} but \
                     the lake only up to {now}; is this the lake the database was loaded from?",
                    snap.topic
                ),
            });
        }
    }
    Ok(())
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
