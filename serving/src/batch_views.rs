//! The batch half: a successful run's view rows and watermarks, read from
//! PostgreSQL once per run and kept in memory (the batch layer deletes a
//! run's rows two runs later; serving keeps what it loaded for as long as it
//! serves that run, so a hand-over never depends on timing in the database).

use std::collections::BTreeMap;

use schemas::realtime::{CountryHour, RaceDriverLaps, TopicDay, ViewRow};
use tokio_postgres::Client;

use crate::error::{Error, Result};

/// One batch run's views, keyed like the real-time rows' dimensions.
#[derive(Debug, Clone, Default)]
pub(crate) struct BatchSnapshot {
    /// 0 for "no batch run yet" (empty views).
    pub(crate) run_id: i64,
    /// Last covered offset per (topic, partition).
    pub(crate) watermarks: BTreeMap<(String, i32), i64>,
    pub(crate) rows: Vec<ViewRow>,
}

/// Connects to PostgreSQL (the batch layer's connector: the connection
/// runs on its own task, errors name the URL without its password).
pub(crate) async fn connect(url: &str) -> Result<Client> {
    Ok(batch::pg::connect(url).await?)
}

/// Connects for one HTTP request's read, giving up after 3 s (a request
/// must not hang on a database that does not answer).
pub(crate) async fn connect_for_request(url: &str) -> Result<Client> {
    tokio::time::timeout(std::time::Duration::from_secs(3), connect(url))
        .await
        .unwrap_or(Err(Error::Timeout {
            what: "connecting to PostgreSQL",
            seconds: 3,
        }))
}

/// For one HTTP request's read of the 3NF tables: a connection inside a
/// read-only `REPEATABLE READ` transaction (every query sees one snapshot)
/// and the newest successful batch run in it, if any.
pub(crate) async fn newest_run_snapshot(url: &str) -> Result<(Client, Option<i64>)> {
    let client = connect_for_request(url).await?;
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(Error::pg("beginning a snapshot"))?;
    let run: Option<i64> = client
        .query_one(
            "SELECT max(run_id) FROM batch_runs WHERE status = 'succeeded'",
            &[],
        )
        .await
        .map_err(Error::pg("reading the newest batch run"))?
        .get(0);
    Ok((client, run))
}

/// Successful runs whose view rows are still in the database, newest first.
pub(crate) async fn available_runs(client: &Client) -> Result<Vec<i64>> {
    let rows = client
        .query(
            "SELECT r.run_id FROM batch_runs r
             WHERE r.status = 'succeeded'
               AND EXISTS (SELECT 1 FROM batch_run_watermarks w WHERE w.run_id = r.run_id)
             ORDER BY r.run_id DESC LIMIT 2",
            &[],
        )
        .await
        .map_err(Error::pg("listing batch runs"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Loads run `run_id`'s watermarks and view rows in one snapshot; `None`
/// when the run's rows were retired meanwhile.
pub(crate) async fn load(client: &Client, run_id: i64) -> Result<Option<BatchSnapshot>> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(Error::pg("beginning a snapshot"))?;
    let loaded = load_rows(client, run_id).await;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(Error::pg("ending a snapshot"))?;
    let snapshot = loaded?;
    Ok((!snapshot.watermarks.is_empty()).then_some(snapshot))
}

async fn load_rows(client: &Client, run_id: i64) -> Result<BatchSnapshot> {
    let mut snapshot = BatchSnapshot {
        run_id,
        ..BatchSnapshot::default()
    };
    for r in client
        .query(
            "SELECT topic, partition, last_offset FROM batch_run_watermarks WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(Error::pg("reading watermarks"))?
    {
        snapshot.watermarks.insert((r.get(0), r.get(1)), r.get(2));
    }
    for r in client
        .query(
            "SELECT country_code, (extract(epoch FROM hour) * 1000)::bigint, rsvps, yes_count, guests
             FROM view_rsvps_country_hour WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(Error::pg("reading view_rsvps_country_hour"))?
    {
        snapshot.rows.push(ViewRow::CountryHour(CountryHour {
            country_code: r.get(0),
            hour_ms: r.get(1),
            rsvps: r.get(2),
            yes_count: r.get(3),
            guests: r.get(4),
        }));
    }
    for r in client
        .query(
            "SELECT urlkey, (day - DATE '1970-01-01')::bigint, rsvps, yes_count
             FROM view_topic_day WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(Error::pg("reading view_topic_day"))?
    {
        snapshot.rows.push(ViewRow::TopicDay(TopicDay {
            urlkey: r.get(0),
            day: r.get(1),
            rsvps: r.get(2),
            yes_count: r.get(3),
        }));
    }
    for r in client
        .query(
            "SELECT race_id, driver_id, laps, best_lap_ms, total_lap_ms, pit_stops, final_position
             FROM view_race_driver_laps WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(Error::pg("reading view_race_driver_laps"))?
    {
        let final_position: Option<i32> = r.get(6);
        snapshot.rows.push(ViewRow::RaceDriverLaps(RaceDriverLaps {
            race_id: r.get(0),
            driver_id: r.get(1),
            entry: true,
            laps: r.get(2),
            best_lap_ms: r.get(3),
            total_lap_ms: r.get(4),
            pit_stops: r.get(5),
            classified: final_position.is_some(),
            final_position,
        }));
    }
    Ok(snapshot)
}
