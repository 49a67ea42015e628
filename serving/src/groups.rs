//! `GET /api/groups`: Meetup groups with their coordinates and RSVP counts,
//! read from the batch layer's 3NF tables, for the dashboard's map.
//!
//! The tables hold what the newest successful batch run merged (the
//! real-time layer has no per-group state), so the answer names that run.
//! Counts are distinct RSVPs (`rsvps` keeps one row per RSVP id, its latest
//! version), where the views count every message the feed delivered: the
//! map shows where RSVPs come from, the views how many messages arrived.
//! Groups at lat = lon = 0 are left out: that is Meetup's "unknown
//! location" placeholder, not a place in the Gulf of Guinea; the answer
//! says how many were left out.

use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::batch_views;
use crate::error::{Error, Result};

/// At most this many groups (the busiest); a map of more is unreadable.
const LIMIT: i64 = 5_000;

async fn read(postgres: &str) -> Result<Value> {
    let (client, run) = batch_views::newest_run_snapshot(postgres).await?;
    let rows = client
        .query(
            "SELECT g.group_id, g.group_name, g.country_code, g.city, g.lat, g.lon,
                    count(r.rsvp_id), count(r.rsvp_id) FILTER (WHERE r.response = 'yes')
             FROM groups g
             JOIN events e ON e.group_id = g.group_id
             JOIN rsvps r ON r.event_id = e.event_id
             WHERE NOT (g.lat = 0 AND g.lon = 0)
             GROUP BY g.group_id
             ORDER BY count(r.rsvp_id) DESC, g.group_id
             LIMIT $1",
            &[&LIMIT],
        )
        .await
        .map_err(Error::pg("reading groups"))?;
    let unknown: i64 = client
        .query_one("SELECT count(*) FROM groups WHERE lat = 0 AND lon = 0", &[])
        .await
        .map_err(Error::pg("counting groups without a location"))?
        .get(0);
    client
        .batch_execute("COMMIT")
        .await
        .map_err(Error::pg("ending a snapshot"))?;
    let groups: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "group_id": r.get::<_, i64>(0), "name": r.get::<_, String>(1),
                "country": r.get::<_, String>(2), "city": r.get::<_, String>(3),
                "lat": r.get::<_, f64>(4), "lon": r.get::<_, f64>(5),
                "rsvps": r.get::<_, i64>(6), "yes": r.get::<_, i64>(7),
            })
        })
        .collect();
    Ok(json!({
        "batch_run_id": run,
        "groups": groups,
        "excluded_unknown_location": unknown,
        "limit": LIMIT,
    }))
}

/// The handler: 503 with the reason when PostgreSQL cannot answer.
pub(crate) async fn handle(postgres: String) -> Response {
    match read(&postgres).await {
        Ok(body) => warp::reply::json(&body).into_response(),
        Err(error) => {
            tracing::warn!(%error, "Reading groups for the map failed.");
            warp::reply::with_status(
                warp::reply::json(&json!({"error": error.to_string()})),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .into_response()
        }
    }
}
