//! The HTTP API (warp): merged views, live metrics, the event stream
//! (`sse/`), health, `POST /api/sql` and `/api/forecast`, and the dashboard
//! with its extra reads (`dashboard.rs`, `groups.rs`, `race_laps.rs`,
//! `/api/latency`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use schemas::realtime::{COUNTRY_HOUR, RACE_DRIVER_LAPS, TOPIC_DAY, ViewRow};
use serde_json::{Value, json};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::follow::Shared;
use crate::forecast_api::{self, ForecastApi};
use crate::sql_api::{self, Catalog};
use crate::view_cache::ViewCache;
use crate::{dashboard, groups, metrics, race_laps};

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) state: Shared,
    pub(crate) hub: Arc<crate::sse::Hub>,
    pub(crate) caught_up: Arc<AtomicBool>,
    pub(crate) postgres: String,
    pub(crate) render_metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    /// `/api/sql`'s session; its refresh errors make `/ready` fail.
    pub(crate) catalog: Catalog,
    pub(crate) forecast: ForecastApi,
    /// Serialized `/api/views` answers, valid while their coverage is served.
    pub(crate) views: Arc<ViewCache>,
}

/// The served views (the batch layer's view tables).
pub(crate) const VIEWS: &[&str] = &[COUNTRY_HOUR, TOPIC_DAY, RACE_DRIVER_LAPS];

/// `{"error": message}` with `status`: every refusal of the API looks so.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    warp::reply::with_status(warp::reply::json(&json!({"error": message.into()})), status)
        .into_response()
}

/// `response` with one more header (values here are ASCII by construction).
pub(crate) fn with_header(mut response: Response, name: &'static str, value: &str) -> Response {
    if let Ok(value) = warp::http::HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// Turns warp's rejections (unknown path, wrong method, body too large,
/// ...) into the API's JSON errors. A POST that matched its route but not
/// its body limit was also rejected by every GET route (wrong method), so
/// the body's rejections are looked at first.
async fn rejection(r: warp::Rejection) -> Result<Response, Infallible> {
    if let Some(refused) = r.find::<forecast_api::Refused>() {
        return Ok(refused.response());
    }
    let (status, message) = if r.is_not_found() {
        (StatusCode::NOT_FOUND, "no such endpoint".to_owned())
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body too large: /api/sql takes at most {} KiB, /api/forecast {} MiB",
                sql_api::MAX_BODY >> 10,
                forecast_api::MAX_BODY >> 20
            ),
        )
    } else if r.find::<warp::reject::LengthRequired>().is_some() {
        (
            StatusCode::LENGTH_REQUIRED,
            "a Content-Length header is required".to_owned(),
        )
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "wrong method: /api/sql and /api/forecast take POST, the rest GET".to_owned(),
        )
    } else {
        (StatusCode::BAD_REQUEST, format!("bad request: {r:?}"))
    };
    Ok(error(status, message))
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
    let key = ViewCache::key(name, q.iter());
    let coverage = {
        let state = api.state.read().unwrap_or_else(|p| p.into_inner());
        state.coverage()
    };
    if let Some(body) = coverage.and_then(|c| {
        metrics::record_merge_lag(c.lag_records);
        api.views.get(&key, &c)
    }) {
        return json_body(body);
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
    let body =
        match serde_json::to_vec(&json!({"view": name, "coverage": merged.coverage, "rows": rows}))
        {
            Ok(body) => Bytes::from(body),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    api.views.put(key, merged.coverage, body.clone());
    json_body(body)
}

fn json_body(body: Bytes) -> Response {
    // `Bytes` clones share the cached buffer: a hit copies nothing.
    with_header(
        Response::new(body.into()),
        "content-type",
        "application/json",
    )
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
    if let Some(problem) = api.catalog.problem() {
        problems.push(problem);
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
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone + Send + Sync + 'static {
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
    let latency = warp::path!("api" / "latency")
        .and(with.clone())
        .map(|api: Api| {
            let state = api.state.read().unwrap_or_else(|p| p.into_inner());
            warp::reply::json(&state.latency.to_json()).into_response()
        });
    let groups = warp::path!("api" / "groups")
        .and(with.clone())
        .then(|api: Api| groups::handle(api.postgres));
    let laps = warp::path!("api" / "races" / String / "laps")
        .and(with.clone())
        .then(|race: String, api: Api| race_laps::handle(api.postgres, race));
    let stream = warp::path!("api" / "stream")
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::optional::<String>("last-event-id"))
        .and(with.clone())
        .map(|q: HashMap<String, String>, id: Option<String>, api: Api| {
            crate::sse::respond(&api.hub, &api.state, &q, id)
        });
    let sql = warp::path!("api" / "sql")
        .and(with.clone().map(|api: Api| api.catalog))
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::header::optional::<String>("accept"))
        .and(warp::body::content_length_limit(sql_api::MAX_BODY))
        .and(warp::body::bytes())
        .and_then(sql_api::handle);
    let forecast = warp::path!("api" / "forecast")
        .and(with.map(|api: Api| api.forecast))
        .and(warp::header::optional::<String>("x-api-key"))
        .and(warp::header::optional::<String>("authorization"))
        .and_then(forecast_api::authorize)
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::body::content_length_limit(forecast_api::MAX_BODY))
        .and(warp::body::bytes())
        .and_then(forecast_api::handle);
    let gets = warp::get().and(
        health
            .or(ready)
            .unify()
            .or(metrics)
            .unify()
            .or(views)
            .unify()
            .or(live)
            .unify()
            .or(latency)
            .unify()
            .or(groups)
            .unify()
            .or(laps)
            .unify()
            .or(stream)
            .unify()
            .or(dashboard::routes())
            .unify(),
    );
    let posts = warp::post().and(sql.or(forecast).unify());
    gets.or(posts)
        .unify()
        .recover(rejection)
        .unify()
        .with(warp::log::custom(|info| {
            metrics::record_request(info.path(), info.status().as_u16(), info.elapsed());
        }))
}
