//! The `batch_runs` bookkeeping: which run is next, what the last successful
//! one covered, and the lock that keeps two runs off one database.

use std::collections::BTreeMap;

use tokio_postgres::{Client, Transaction};

use crate::error::{Error, Result};
use crate::lake_source::Offsets;

/// The session advisory lock a run holds ("billrun_" in ASCII).
pub const RUN_LOCK: i64 = 0x6269_6c6c_7275_6e5f;

/// Watermarks by topic.
pub type Watermarks = BTreeMap<String, Offsets>;

/// The last successful run.
#[derive(Debug, Clone, Default)]
pub struct PreviousRun {
    /// Its id.
    pub run_id: i64,
    /// What it covered.
    pub watermarks: Watermarks,
}

/// Takes the run lock for this session, or says who is busy.
pub(crate) async fn lock(client: &Client) -> Result<()> {
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&RUN_LOCK])
        .await
        .map_err(Error::pg("take the run lock"))?
        .get(0);
    if got {
        Ok(())
    } else {
        Err(Error::Busy(RUN_LOCK))
    }
}

/// Releases the run lock.
pub(crate) async fn unlock(client: &Client) -> Result<()> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&RUN_LOCK])
        .await
        .map_err(Error::pg("release the run lock"))?;
    Ok(())
}

/// The newest successful run and its watermarks, if any.
pub async fn last_succeeded(client: &Client) -> Result<Option<PreviousRun>> {
    let Some(row) = client
        .query_opt(
            "SELECT run_id FROM batch_runs WHERE status = 'succeeded' \
             ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(Error::pg("read the last run"))?
    else {
        return Ok(None);
    };
    let run_id: i64 = row.get(0);
    Ok(Some(PreviousRun {
        run_id,
        watermarks: watermarks_of(client, run_id).await?,
    }))
}

/// What run `run_id` covered.
pub(crate) async fn watermarks_of(client: &Client, run_id: i64) -> Result<Watermarks> {
    let mut watermarks = Watermarks::new();
    for r in client
        .query(
            "SELECT topic, partition, last_offset FROM batch_run_watermarks WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(Error::pg("read a run's watermarks"))?
    {
        watermarks
            .entry(r.get::<_, String>(0))
            .or_default()
            .insert(r.get(1), r.get(2));
    }
    Ok(watermarks)
}

/// Marks run `run_id` as running (a retried id counts one more attempt);
/// committed at once so that an operator sees a run in progress or killed.
pub(crate) async fn begin(client: &Client, run_id: i64) -> Result<i32> {
    let attempts: i32 = client
        .query_one(
            "INSERT INTO batch_runs (run_id, status, started_at) VALUES ($1, 'running', now())
             ON CONFLICT (run_id) DO UPDATE SET status = 'running', started_at = now(),
                 attempts = batch_runs.attempts + 1, finished_at = NULL, error = NULL
             RETURNING attempts",
            &[&run_id],
        )
        .await
        .map_err(Error::pg("record the run start"))?
        .get(0);
    Ok(attempts)
}

/// Records a failure (best effort: the database may be what failed).
pub(crate) async fn fail(client: &Client, run_id: i64, error: &str) -> Result<()> {
    client
        .execute(
            "UPDATE batch_runs SET status = 'failed', finished_at = now(), error = $2
             WHERE run_id = $1 AND status = 'running'",
            &[&run_id, &error],
        )
        .await
        .map_err(Error::pg("record the run failure"))?;
    Ok(())
}

/// Marks the run succeeded with what it covered, inside its transaction;
/// returns the commit-side finish time (ms).
pub(crate) async fn succeed(
    tx: &Transaction<'_>,
    run_id: i64,
    watermarks: &Watermarks,
    rows_loaded: &serde_json::Value,
    rows_read: u64,
) -> Result<i64> {
    for (topic, offsets) in watermarks {
        for (partition, last) in offsets {
            tx.execute(
                "INSERT INTO batch_run_watermarks (run_id, topic, partition, last_offset)
                 VALUES ($1, $2, $3, $4)",
                &[&run_id, topic, partition, last],
            )
            .await
            .map_err(Error::pg("record watermarks"))?;
        }
    }
    let rows_read = i64::try_from(rows_read).unwrap_or(i64::MAX);
    let finished: f64 = tx
        .query_one(
            "UPDATE batch_runs SET status = 'succeeded', finished_at = clock_timestamp(),
                 rows_loaded = $2::text::jsonb, rows_read = $3, error = NULL
             WHERE run_id = $1
             RETURNING extract(epoch FROM finished_at)::double precision * 1000",
            &[&run_id, &rows_loaded.to_string(), &rows_read],
        )
        .await
        .map_err(Error::pg("record the run success"))?
        .get(0);
    // Whole milliseconds of a timestamp within a few thousand years: exact.
    #[allow(clippy::cast_possible_truncation)]
    Ok(finished.round() as i64)
}

/// Successful runs not yet published, oldest first.
pub(crate) async fn unpublished(client: &Client) -> Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT run_id FROM batch_runs WHERE status = 'succeeded' AND published_at IS NULL
             ORDER BY run_id",
            &[],
        )
        .await
        .map_err(Error::pg("find unpublished runs"))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The finish time (ms) and watermarks of a successful run.
pub(crate) async fn finished(client: &Client, run_id: i64) -> Result<(i64, Watermarks)> {
    let ms: f64 = client
        .query_one(
            "SELECT extract(epoch FROM finished_at)::double precision * 1000
             FROM batch_runs WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(Error::pg("read a run"))?
        .get(0);
    #[allow(clippy::cast_possible_truncation)]
    Ok((ms.round() as i64, watermarks_of(client, run_id).await?))
}

/// Notes that a run went out to Kafka.
pub(crate) async fn mark_published(client: &Client, run_id: i64) -> Result<()> {
    client
        .execute(
            "UPDATE batch_runs SET published_at = now() WHERE run_id = $1",
            &[&run_id],
        )
        .await
        .map_err(Error::pg("mark the run published"))?;
    Ok(())
}
