//! `GET /api/races/<race_id>/laps`: every lap the batch layer has of one
//! race (position and race time per driver per lap), the history of the
//! dashboard's position and gap charts.
//!
//! The speed layer publishes a car's *current* lap, position and gaps
//! (`race/<race>/car/<driver>`), not its past laps, so a page opened in the
//! middle of a race gets the laps before the newest batch run's watermark
//! from here and the later ones from the live updates it receives. Laps
//! between the watermark and the page's first live update are not shown
//! until the next batch run covers them; the answer names its run so the
//! page can say so.

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::batch_views;
use crate::error::{Error, Result};

async fn read(postgres: &str, race_id: &str) -> Result<Value> {
    let (client, run) = batch_views::newest_run_snapshot(postgres).await?;
    let race = client
        .query_opt(
            "SELECT race_name, season, round, scheduled_laps FROM races WHERE race_id = $1",
            &[&race_id],
        )
        .await
        .map_err(Error::pg("reading the race"))?;
    let drivers = client
        .query(
            "SELECT e.driver_id, d.driver_code, d.driver_name, e.grid_position
             FROM entries e JOIN drivers d USING (driver_id)
             WHERE e.race_id = $1 ORDER BY e.grid_position NULLS LAST, e.driver_id",
            &[&race_id],
        )
        .await
        .map_err(Error::pg("reading the entries"))?;
    let laps = client
        .query(
            "SELECT driver_id, lap, position, race_time_ms FROM laps
             WHERE race_id = $1 ORDER BY lap, position",
            &[&race_id],
        )
        .await
        .map_err(Error::pg("reading the laps"))?;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(Error::pg("ending a snapshot"))?;
    Ok(json!({
        "race_id": race_id,
        "batch_run_id": run,
        "race": race.map(|r| json!({
            "name": r.get::<_, String>(0), "season": r.get::<_, i32>(1),
            "round": r.get::<_, i32>(2), "scheduled_laps": r.get::<_, i32>(3),
        })),
        "drivers": drivers.iter().map(|r| json!({
            "driver_id": r.get::<_, String>(0), "code": r.get::<_, Option<String>>(1),
            "name": r.get::<_, String>(2), "grid": r.get::<_, Option<i32>>(3),
        })).collect::<Vec<_>>(),
        "laps": laps.iter().map(|r| json!({
            "driver_id": r.get::<_, String>(0), "lap": r.get::<_, i32>(1),
            "position": r.get::<_, i32>(2), "race_time_ms": r.get::<_, i64>(3),
        })).collect::<Vec<_>>(),
    }))
}

/// The handler: 503 with the reason when PostgreSQL cannot answer; an
/// unknown race is an empty answer (it may not be in a batch run yet).
pub(crate) async fn handle(postgres: String, race_id: String) -> Response {
    match read(&postgres, &race_id).await {
        Ok(body) => warp::reply::json(&body).into_response(),
        Err(error) => {
            tracing::warn!(%error, race_id, "Reading race laps failed.");
            warp::reply::with_status(
                warp::reply::json(&json!({"error": error.to_string()})),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .into_response()
        }
    }
}
