//! Prometheus metric names and their recording. Labels stay low-cardinality:
//! the path's first two segments, never ids.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

const REQUESTS: &str = "billabong_serve_requests_total";
const LATENCY: &str = "billabong_serve_request_latency_seconds";
const MERGE_LAG: &str = "billabong_serve_merge_lag_records";
/// Metrics-topic messages or updates that lacked fields (skipped).
const MALFORMED: &str = "billabong_serve_malformed_updates_total";

/// `/api/views/x` → `/api/views`.
fn route(path: &str) -> String {
    path.split('/').take(3).collect::<Vec<_>>().join("/")
}

pub(crate) fn record_request(path: &str, status: u16, elapsed: Duration) {
    let route = route(path);
    counter!(REQUESTS, "route" => route.clone(), "status" => status.to_string()).increment(1);
    histogram!(LATENCY, "route" => route).record(elapsed.as_secs_f64());
}

/// Records the served answer's lag behind Kafka's end offsets.
pub(crate) fn record_merge_lag(records: i64) {
    gauge!(MERGE_LAG).set(records as f64);
}

/// Counts a metrics-topic message or update that could not be applied.
pub(crate) fn record_malformed_update() {
    counter!(MALFORMED).increment(1);
}
