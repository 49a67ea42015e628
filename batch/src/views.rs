//! Batch views, each row tagged with the run that computed it.
//!
//! The RSVP views count lake messages and are additive, so a run computes
//! only its delta's aggregates in DataFusion and adds them to the previous
//! run's rows in PostgreSQL: exact for every offset up to the new watermark
//! without rereading the lake. The race view is recomputed from the 3NF
//! tables (small, and a re-sent lap must replace, not add). Rows of runs
//! older than the previous one are deleted in the same transaction: a reader
//! in one snapshot sees either the old run's rows or the new run's.

use datafusion::prelude::SessionContext;
use tokio_postgres::Transaction;

use crate::copy::copy_stream;
use crate::error::{Error, Result};

/// An additive view: delta aggregates from DataFusion, summed with the
/// previous run's rows.
struct AdditiveView {
    table: &'static str,
    keys: &'static [&'static str],
    sums: &'static [&'static str],
    /// Staging DDL (`stage_<table>` with the key and sum columns).
    staging: &'static str,
    /// DataFusion SQL over `rsvp_flat` giving keys then sums.
    delta: &'static str,
}

const ADDITIVE: &[AdditiveView] = &[
    AdditiveView {
        table: "view_rsvps_country_hour",
        keys: &["country_code", "hour"],
        sums: &["rsvps", "yes_count", "guests"],
        staging: "CREATE TEMP TABLE stage_view_rsvps_country_hour (
            country_code text NOT NULL, hour timestamptz NOT NULL, rsvps bigint NOT NULL,
            yes_count bigint NOT NULL, guests bigint NOT NULL) ON COMMIT DROP",
        delta: "SELECT country_code, date_trunc('hour', mtime) AS hour, count(*) AS rsvps,
                       sum(CASE WHEN response = 'yes' THEN 1 ELSE 0 END) AS yes_count,
                       sum(CAST(guests AS BIGINT)) AS guests
                FROM rsvp_flat GROUP BY country_code, date_trunc('hour', mtime)",
    },
    AdditiveView {
        table: "view_topic_day",
        keys: &["urlkey", "day"],
        sums: &["rsvps", "yes_count"],
        staging: "CREATE TEMP TABLE stage_view_topic_day (
            urlkey text NOT NULL, day date NOT NULL, rsvps bigint NOT NULL,
            yes_count bigint NOT NULL) ON COMMIT DROP",
        delta: "SELECT t['urlkey'] AS urlkey, CAST(mtime AS DATE) AS day, count(*) AS rsvps,
                       sum(CASE WHEN response = 'yes' THEN 1 ELSE 0 END) AS yes_count
                FROM (SELECT unnest(group_topics) AS t, mtime, response FROM rsvp_flat)
                GROUP BY t['urlkey'], CAST(mtime AS DATE)",
    },
];

/// The race view, recomputed from the 3NF tables.
const RACE_DRIVER_LAPS: &str = "
INSERT INTO view_race_driver_laps
    (run_id, race_id, driver_id, laps, best_lap_ms, total_lap_ms, mean_lap_ms,
     pit_stops, final_position)
SELECT $1, e.race_id, e.driver_id,
       count(l.lap), min(l.lap_time_ms), coalesce(sum(l.lap_time_ms), 0)::bigint,
       sum(l.lap_time_ms)::double precision / nullif(count(l.lap), 0),
       (SELECT count(*) FROM pit_stops p
         WHERE p.race_id = e.race_id AND p.driver_id = e.driver_id),
       r.position
FROM entries e
LEFT JOIN laps l ON l.race_id = e.race_id AND l.driver_id = e.driver_id
LEFT JOIN results r ON r.race_id = e.race_id AND r.driver_id = e.driver_id
GROUP BY e.race_id, e.driver_id, r.position";

/// Every view table, for retention and for readers.
pub const VIEW_TABLES: &[&str] = &[
    "view_rsvps_country_hour",
    "view_topic_day",
    "view_race_driver_laps",
];

/// Writes run `run`'s rows of every view; `previous` is the last successful
/// run (whose rows the additive views build on). Returns rows per view.
pub(crate) async fn build(
    ctx: &SessionContext,
    tx: &Transaction<'_>,
    run: i64,
    previous: Option<i64>,
) -> Result<Vec<(&'static str, u64)>> {
    let mut rows = Vec::new();
    for view in ADDITIVE {
        tx.batch_execute(view.staging)
            .await
            .map_err(Error::pg(format!("create stage_{}", view.table)))?;
        let columns: Vec<&str> = view.keys.iter().chain(view.sums).copied().collect();
        let stream = ctx.sql(view.delta).await?.execute_stream().await?;
        copy_stream(tx, &format!("stage_{}", view.table), &columns, stream).await?;
        let keys = view.keys.join(", ");
        let sums = view
            .sums
            .iter()
            .map(|s| format!("sum({s})::bigint"))
            .collect::<Vec<_>>()
            .join(", ");
        let cols = columns.join(", ");
        let sql = format!(
            "INSERT INTO {t} (run_id, {cols})
             SELECT $1, {keys}, {sums} FROM (
                 SELECT {cols} FROM {t} WHERE run_id = $2
                 UNION ALL
                 SELECT {cols} FROM stage_{t}) u
             GROUP BY {keys}",
            t = view.table
        );
        let n = tx
            .execute(&sql, &[&run, &previous.unwrap_or(-1)])
            .await
            .map_err(Error::pg(format!("build {}", view.table)))?;
        rows.push((view.table, n));
    }
    let n = tx
        .execute(RACE_DRIVER_LAPS, &[&run])
        .await
        .map_err(Error::pg("build view_race_driver_laps"))?;
    rows.push(("view_race_driver_laps", n));
    if let Some(previous) = previous {
        for table in VIEW_TABLES {
            tx.execute(
                &format!("DELETE FROM {table} WHERE run_id < $1"),
                &[&previous],
            )
            .await
            .map_err(Error::pg(format!("retire old rows of {table}")))?;
        }
    }
    Ok(rows)
}
