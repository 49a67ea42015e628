//! The HTTP API (warp): merged views, live metrics, the event stream
//! (`sse/`), health.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use schemas::realtime::{COUNTRY_HOUR, RACE_DRIVER_LAPS, TOPIC_DAY, ViewRow};
use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::follow::Shared;
use crate::metrics;

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) state: Shared,
    pub(crate) hub: Arc<crate::sse::Hub>,
    pub(crate) caught_up: Arc<AtomicBool>,
    pub(crate) postgres: String,
    pub(crate) render_metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
}

/// The served views (the batch layer's view tables).
pub(crate) const VIEWS: &[&str] = &[COUNTRY_HOUR, TOPIC_DAY, RACE_DRIVER_LAPS];

/// A JSON `{"error": ...}` answer with `status`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    warp::reply::with_status(warp::reply::json(&json!({"error": message.into()})), status)
        .into_response()
}

/// Filters of `/api/views/<name>`: `from`/`to` bound the time dimension
/// (ms since the epoch, inclusive `from`, exclusive `to`); the others match
/// a dimension exactly.
fn matches(row: &ViewRow, q: &HashMap<String, String>) -> Result<bool, String> {
    let bound = |name: &str| -> Result<Option<i64>, String> {
        q.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| format!("`{name}` must be ms since the epoch, got {v:?}"))
            })
            .transpose()
    };
    let (from, to) = (bound("from")?, bound("to")?);
    let time = match row {
        ViewRow::CountryHour(r) => Some(r.hour_ms),
        ViewRow::TopicDay(r) => Some(r.day * 86_400_000),
        ViewRow::RaceDriverLaps(_) => None,
    };
    if let Some(t) = time
        && (from.is_some_and(|f| t < f) || to.is_some_and(|e| t >= e))
    {
        return Ok(false);
    }
    let eq = |name: &str, value: &str| q.get(name).is_none_or(|want| want == value);
    Ok(match row {
        ViewRow::CountryHour(r) => eq("country", &r.country_code),
        ViewRow::TopicDay(r) => eq("urlkey", &r.urlkey),
        ViewRow::RaceDriverLaps(r) => eq("race_id", &r.race_id) && eq("driver_id", &r.driver_id),
    })
}

/// The allowed query parameters of each view.
fn allowed(view: &str) -> &'static [&'static str] {
    match view {
        COUNTRY_HOUR => &["from", "to", "country"],
        TOPIC_DAY => &["from", "to", "urlkey"],
        _ => &["race_id", "driver_id"],
    }
}

fn row_json(row: &ViewRow) -> Value {
    match row {
        ViewRow::RaceDriverLaps(r) => json!({
            "race_id": r.race_id, "driver_id": r.driver_id, "laps": r.laps,
            "best_lap_ms": r.best_lap_ms, "total_lap_ms": r.total_lap_ms,
            "mean_lap_ms": r.mean_lap_ms(), "pit_stops": r.pit_stops,
            "final_position": r.final_position,
        }),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

fn view(api: &Api, name: &str, q: &HashMap<String, String>) -> Response {
    if !VIEWS.contains(&name) {
        return error(
            StatusCode::NOT_FOUND,
            format!("no view {name:?}; views: {}", VIEWS.join(", ")),
        );
    }
    if let Some(bad) = q.keys().find(|k| !allowed(name).contains(&k.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown parameter `{bad}` for {name}; allowed: {}",
                allowed(name).join(", ")
            ),
        );
    }
    let merged = {
        let state = api.state.read().unwrap_or_else(|p| p.into_inner());
        state.merged(name)
    };
    let Some(merged) = merged else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no view generation has been read yet (is `billabong stream` running?)",
        );
    };
    let mut rows = Vec::new();
    for row in &merged.rows {
        match matches(row, q) {
            Ok(true) => rows.push(row_json(row)),
            Ok(false) => {}
            Err(message) => return error(StatusCode::BAD_REQUEST, message),
        }
    }
    metrics::record_merge_lag(merged.coverage.lag_records);
    warp::reply::json(&json!({"view": name, "coverage": merged.coverage, "rows": rows}))
        .into_response()
}

fn live(api: &Api, q: &HashMap<String, String>) -> Response {
    let prefix = q.get("prefix").map_or("", String::as_str);
    let state = api.state.read().unwrap_or_else(|p| p.into_inner());
    let mut updates: Vec<&Value> = state
        .realtime
        .live
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .collect();
    updates.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
    warp::reply::json(&json!({"prefix": prefix, "updates": updates})).into_response()
}

async fn ready(api: Api) -> Result<Response, Infallible> {
    let mut problems = Vec::new();
    match tokio::time::timeout(
        std::time::Duration::from_secs(3),
        tokio_postgres::connect(&api.postgres, tokio_postgres::NoTls),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => problems.push(format!("PostgreSQL: {e}")),
        Err(_) => problems.push("PostgreSQL: no answer within 3 s".to_owned()),
    }
    if !api.caught_up.load(Ordering::Relaxed) {
        problems.push("still reading the metrics topic".to_owned());
    }
    if api
        .state
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .served
        .is_none()
    {
        problems.push("no view generation to serve yet".to_owned());
    }
    Ok(if problems.is_empty() {
        warp::reply::json(&json!({"ready": true})).into_response()
    } else {
        warp::reply::with_status(
            warp::reply::json(&json!({"ready": false, "problems": problems})),
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .into_response()
    })
}

/// Every route.
pub(crate) fn routes(
    api: Api,
) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let with = {
        let api = api.clone();
        warp::any().map(move || api.clone())
    };
    let health =
        warp::path!("health").map(|| warp::reply::json(&json!({"ok": true})).into_response());
    let ready = warp::path!("ready").and(with.clone()).and_then(ready);
    let metrics = warp::path!("metrics").and(with.clone()).map(|api: Api| {
        let text = api.render_metrics.as_ref().map(|r| r()).unwrap_or_default();
        warp::reply::with_header(text, "content-type", "text/plain; version=0.0.4").into_response()
    });
    let views = warp::path!("api" / "views" / String)
        .and(warp::query::<HashMap<String, String>>())
        .and(with.clone())
        .map(|name: String, q: HashMap<String, String>, api: Api| view(&api, &name, &q));
    let live = warp::path!("api" / "live")
        .and(warp::query::<HashMap<String, String>>())
        .and(with.clone())
        .map(|q: HashMap<String, String>, api: Api| live(&api, &q));
    let stream = warp::path!("api" / "stream")
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::optional::<String>("last-event-id"))
        .and(with)
        .map(|q: HashMap<String, String>, id: Option<String>, api: Api| {
            crate::sse::respond(&api.hub, &api.state, &q, id)
        });
    warp::get()
        .and(
            health
                .or(ready)
                .unify()
                .or(metrics)
                .unify()
                .or(views)
                .unify()
                .or(live)
                .unify()
                .or(stream)
                .unify(),
        )
        .with(warp::log::custom(|info| {
            metrics::record_request(info.path(), info.status().as_u16(), info.elapsed());
        }))
}
