//! Prometheus metric names and their recording. Labels stay low-cardinality:
//! the path's first two segments, never ids.

use std::time::Duration;

use metrics::{counter, gauge, histogram};

const REQUESTS: &str = "billabong_serve_requests_total";
const LATENCY: &str = "billabong_serve_request_latency_seconds";
const MERGE_LAG: &str = "billabong_serve_merge_lag_records";
/// Metrics-topic messages or updates that lacked fields (skipped).
const MALFORMED: &str = "billabong_serve_malformed_updates_total";
/// Open `GET /api/stream` connections.
const SSE_CLIENTS: &str = "billabong_serve_sse_clients";
/// Events published to SSE clients.
const SSE_EVENTS: &str = "billabong_serve_sse_events_total";
/// Events held for `Last-Event-ID` resume.
const SSE_REPLAY: &str = "billabong_serve_sse_replay_events";
/// SSE connections by how they started (`initial`, `replay`, `gap`).
const SSE_CONNECTIONS: &str = "billabong_serve_sse_connections_total";
/// SSE clients cut off for falling behind the broadcast.
const SSE_SLOW: &str = "billabong_serve_sse_slow_clients_total";

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

/// Sets the number of open SSE streams.
pub(crate) fn record_sse_clients(clients: usize) {
    gauge!(SSE_CLIENTS).set(clients as f64);
}

/// Counts one published batch of SSE events and the ring's size after it.
pub(crate) fn record_sse_published(events: usize, held: usize) {
    counter!(SSE_EVENTS).increment(events as u64);
    gauge!(SSE_REPLAY).set(held as f64);
}

/// Counts an SSE connection by how it started.
pub(crate) fn record_sse_connection(start: &'static str) {
    counter!(SSE_CONNECTIONS, "start" => start).increment(1);
}

/// Counts an SSE client cut off for being too slow.
pub(crate) fn record_sse_slow_client() {
    counter!(SSE_SLOW).increment(1);
}
