//! Prometheus metric names (constants, so a typo cannot start a new series)
//! and their recording. Labels are low-cardinality: the input topic only.

use metrics::{counter, gauge, histogram};

pub(crate) const RECORDS: &str = "billabong_stream_records_total";
pub(crate) const UPDATES: &str = "billabong_stream_updates_total";
pub(crate) const MESSAGES: &str = "billabong_stream_messages_total";
pub(crate) const SUPPRESSED: &str = "billabong_stream_replayed_messages_total";
pub(crate) const LATE: &str = "billabong_stream_late_events_total";
pub(crate) const DLQ: &str = "billabong_stream_dlq_records_total";
pub(crate) const TRANSACTIONS: &str = "billabong_stream_transactions_total";
pub(crate) const COMMIT_LATENCY: &str = "billabong_stream_commit_latency_seconds";
/// Emit time − source event time.
pub(crate) const END_TO_END_LAG: &str = "billabong_stream_end_to_end_lag_seconds";
/// Emit time − ingest (Kafka) time.
pub(crate) const CONSUMPTION_LATENCY: &str = "billabong_stream_consumption_latency_seconds";
/// The latest of each, for a real-time view beside the histograms' averages.
pub(crate) const END_TO_END_LAG_LAST: &str = "billabong_stream_end_to_end_lag_last_seconds";
pub(crate) const CONSUMPTION_LATENCY_LAST: &str =
    "billabong_stream_consumption_latency_last_seconds";
pub(crate) const TRACKED_KEYS: &str = "billabong_stream_tracked_keys";
/// The served model's registry version; 0 while none is published.
pub(crate) const MODEL_VERSION: &str = "billabong_stream_model_version";
/// Polls of the model registry that failed (the current model stays).
pub(crate) const MODEL_LOAD_ERRORS: &str = "billabong_stream_model_load_errors_total";
/// The view generation (batch run id) being built; 0 before any batch run.
pub(crate) const VIEW_GENERATION: &str = "billabong_stream_view_generation";

/// Counts of one input record's processing, recorded in one place.
pub(crate) fn record_input(
    topic: &str,
    updates: usize,
    messages: usize,
    late: u64,
    dlq: bool,
    replayed: bool,
) {
    let topic = topic.to_owned();
    counter!(RECORDS, "topic" => topic.clone()).increment(1);
    if late > 0 {
        counter!(LATE, "topic" => topic.clone()).increment(1);
    }
    if replayed {
        counter!(SUPPRESSED, "topic" => topic).increment(messages as u64);
        return;
    }
    counter!(UPDATES, "topic" => topic.clone()).increment(updates as u64);
    counter!(MESSAGES, "topic" => topic.clone()).increment(messages as u64);
    if dlq {
        counter!(DLQ, "topic" => topic).increment(1);
    }
}

/// Latencies of one published message, ms since the epoch.
pub(crate) fn record_latency(emit_ms: i64, event_ms: Option<i64>, ingest_ms: Option<i64>) {
    if let Some(event) = event_ms {
        let lag = (emit_ms - event) as f64 / 1e3;
        histogram!(END_TO_END_LAG).record(lag);
        gauge!(END_TO_END_LAG_LAST).set(lag);
    }
    if let Some(ingest) = ingest_ms {
        let latency = (emit_ms - ingest) as f64 / 1e3;
        histogram!(CONSUMPTION_LATENCY).record(latency);
        gauge!(CONSUMPTION_LATENCY_LAST).set(latency);
    }
}

pub(crate) fn record_commit(seconds: f64, tracked_keys: usize) {
    counter!(TRANSACTIONS).increment(1);
    histogram!(COMMIT_LATENCY).record(seconds);
    gauge!(TRACKED_KEYS).set(tracked_keys as f64);
}

/// The served version of the RSVP response model (0: none).
pub(crate) fn record_model_version(version: u32) {
    gauge!(MODEL_VERSION, "model" => schemas::model::RSVP_RESPONSE_MODEL).set(f64::from(version));
}

pub(crate) fn record_model_load_error() {
    counter!(MODEL_LOAD_ERRORS, "model" => schemas::model::RSVP_RESPONSE_MODEL).increment(1);
}

/// The view generation being built (the batch run it completes).
pub(crate) fn record_view_generation(run_id: i64) {
    gauge!(VIEW_GENERATION).set(run_id as f64);
}
