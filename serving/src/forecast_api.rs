//! `POST /api/forecast`: Prophet over HTTP, behind the API key.
//!
//! Order of the checks, cheapest first, so that nobody without the key and
//! no malformed body costs a fit: key (401, before the body is even read,
//! [`authorize`]) → body (400, naming the field)
//! → named series (from the merged views, [`ViewSeries`]) → a fit slot →
//! the fit on a blocking thread. Fits take 0.1–0.5 s of one core (release;
//! seconds in debug), so at most `forecast_concurrency` run at once and a
//! request waits at most `forecast_queue_wait` for a slot before a 503 with
//! `Retry-After`: the queue is bounded in time, the runtime's threads never
//! block on a fit, and other routes stay fast under a forecast storm.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::api_key::ApiKey;
use crate::follow::Shared;
use crate::forecast::{ErrorDomain, ForecastError, ForecastRequest, forecast};
use crate::http::{error, with_header};
use crate::view_series::ViewSeries;

/// The largest body accepted: 20,000 points with RFC 3339 `ds` fit in 1 MiB.
pub(crate) const MAX_BODY: u64 = 2 << 20;

/// What the forecast handler needs.
#[derive(Clone)]
pub(crate) struct ForecastApi {
    pub(crate) key: Option<ApiKey>,
    pub(crate) slots: Arc<Semaphore>,
    /// How long a request may wait for a slot.
    pub(crate) queue_wait: Duration,
    pub(crate) state: Shared,
}

/// The key as presented: `X-Api-Key: K` or `Authorization: Bearer K`.
fn presented_key<'a>(
    x_api_key: Option<&'a str>,
    authorization: Option<&'a str>,
) -> Option<&'a str> {
    x_api_key.or_else(|| {
        authorization.and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
        })
    })
}

fn unauthorized(message: &str) -> Response {
    with_header(
        error(StatusCode::UNAUTHORIZED, message),
        "www-authenticate",
        "Bearer",
    )
}

fn status_of(e: &ForecastError) -> StatusCode {
    match e.domain() {
        ErrorDomain::User => StatusCode::BAD_REQUEST,
        ErrorDomain::External => StatusCode::SERVICE_UNAVAILABLE,
        ErrorDomain::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Why a request was refused before its body was read.
#[derive(Debug)]
pub(crate) enum Refused {
    /// The instance has no key (`--api-key-file` not given).
    Disabled,
    /// No key presented.
    Missing,
    /// A key other than the instance's.
    Wrong,
}

impl warp::reject::Reject for Refused {}

impl Refused {
    /// The answer: 503 when disabled, else 401 with `WWW-Authenticate`.
    pub(crate) fn response(&self) -> Response {
        match self {
            Refused::Disabled => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "forecasts are disabled on this instance: start serve with --api-key-file",
            ),
            Refused::Missing => unauthorized(
                "missing API key: send it as `X-Api-Key: <key>` or `Authorization: Bearer <key>`",
            ),
            Refused::Wrong => unauthorized("wrong API key"),
        }
    }
}

/// The key check, a filter step placed before the body is read: a client
/// without the key cannot make the server buffer a body (up to
/// [`MAX_BODY`]), let alone parse it.
pub(crate) async fn authorize(
    api: ForecastApi,
    x_api_key: Option<String>,
    authorization: Option<String>,
) -> Result<ForecastApi, warp::Rejection> {
    let Some(key) = &api.key else {
        return Err(warp::reject::custom(Refused::Disabled));
    };
    match presented_key(x_api_key.as_deref(), authorization.as_deref()) {
        None => Err(warp::reject::custom(Refused::Missing)),
        Some(k) if !key.verify(k.as_bytes()) => Err(warp::reject::custom(Refused::Wrong)),
        Some(_) => Ok(api),
    }
}

/// Handles one authorized request; never fails (every outcome is a response).
pub(crate) async fn handle(
    api: ForecastApi,
    query: HashMap<String, String>,
    body: Bytes,
) -> Result<Response, std::convert::Infallible> {
    let csv = match query.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                format!("unknown `format` {other:?}: use json or csv"),
            ));
        }
    };
    let request = match ForecastRequest::from_json(&body) {
        Ok(r) => r,
        Err(e) => return Ok(error(status_of(&e), e.to_string())),
    };
    let validated = match request.validate(&ViewSeries(&api.state)).await {
        Ok(v) => v,
        Err(e) => return Ok(error(status_of(&e), e.to_string())),
    };
    let Ok(Ok(_slot)) =
        tokio::time::timeout(api.queue_wait, api.slots.clone().acquire_owned()).await
    else {
        return Ok(with_header(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "every forecast slot stayed busy for {} s; retry later",
                    api.queue_wait.as_secs()
                ),
            ),
            "retry-after",
            "5",
        ));
    };
    // A panic inside the model (it is third-party numerics) becomes a 500
    // for this request only.
    let fitted = tokio::task::spawn_blocking(move || forecast(&validated)).await;
    let table = match fitted {
        Ok(Ok(table)) => table,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Forecast failed.");
            return Ok(error(status_of(&e), e.to_string()));
        }
        Err(join) => {
            tracing::error!(error = %join, "The forecast model panicked.");
            return Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the forecast model failed on this series (a bug; the series is not at fault)",
            ));
        }
    };
    Ok(if csv {
        let mut out = Vec::with_capacity(table.len() * 96);
        match table.write_csv(&mut out) {
            Ok(()) => with_header(
                out.into_response(),
                "content-type",
                "text/csv; charset=utf-8",
            ),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    } else {
        warp::reply::json(&table).into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_comes_from_either_header() {
        assert_eq!(presented_key(Some("k"), None), Some("k"));
        assert_eq!(presented_key(None, Some("Bearer k")), Some("k"));
        assert_eq!(presented_key(Some("a"), Some("Bearer b")), Some("a"));
        assert_eq!(presented_key(None, Some("Basic k")), None);
        assert_eq!(presented_key(None, None), None);
    }
}
