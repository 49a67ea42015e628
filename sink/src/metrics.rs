//! The sink's Prometheus metric names and the events that emit them.
//! Labels are low-cardinality: topic and partition only.

use std::time::Duration;

/// Records consumed into committed ranges (rows + DLQ).
pub const RECORDS_TOTAL: &str = "billabong_sink_records_total";
/// Parquet bytes committed.
pub const BYTES_TOTAL: &str = "billabong_sink_bytes_total";
/// Data files committed.
pub const FILES_TOTAL: &str = "billabong_sink_files_total";
/// Records sent to the DLQ.
pub const DLQ_TOTAL: &str = "billabong_sink_dlq_records_total";
/// Commits lost to a racing sink (their files discarded).
pub const COMMIT_CONFLICTS_TOTAL: &str = "billabong_sink_commit_conflicts_total";
/// Time from the start of a roll (encode + upload + commit record).
pub const COMMIT_LATENCY_SECONDS: &str = "billabong_sink_commit_latency_seconds";
/// High watermark minus the lake's next offset, per partition.
pub const LAG: &str = "billabong_sink_lag";
/// Retries of a failed roll.
pub const RETRIES_TOTAL: &str = "billabong_sink_retries_total";

/// A range committed to the lake.
pub(crate) struct SinkBatchCommitted<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) records: u64,
    pub(crate) bytes: u64,
    pub(crate) files: u64,
    pub(crate) dlq: u64,
    pub(crate) latency: Duration,
}

impl SinkBatchCommitted<'_> {
    pub(crate) fn emit(&self) {
        let labels = [
            ("topic", self.topic.to_owned()),
            ("partition", self.partition.to_string()),
        ];
        metrics::counter!(RECORDS_TOTAL, &labels).increment(self.records);
        metrics::counter!(BYTES_TOTAL, &labels).increment(self.bytes);
        metrics::counter!(FILES_TOTAL, &labels).increment(self.files);
        metrics::counter!(DLQ_TOTAL, &labels).increment(self.dlq);
        metrics::histogram!(COMMIT_LATENCY_SECONDS, &labels).record(self.latency.as_secs_f64());
        tracing::debug!(
            topic = self.topic,
            partition = self.partition,
            records = self.records,
            files = self.files,
            "Batch committed."
        );
    }
}

/// Sets the lag gauge of one partition.
pub(crate) fn set_lag(topic: &str, partition: i32, lag: i64) {
    let labels = [
        ("topic", topic.to_owned()),
        ("partition", partition.to_string()),
    ];
    metrics::gauge!(LAG, &labels).set(lag as f64);
}

/// Counts a lost commit race.
pub(crate) fn commit_conflict(topic: &str, partition: i32) {
    let labels = [
        ("topic", topic.to_owned()),
        ("partition", partition.to_string()),
    ];
    metrics::counter!(COMMIT_CONFLICTS_TOTAL, &labels).increment(1);
}

/// Counts a retried roll.
pub(crate) fn retry(topic: &str, partition: i32) {
    let labels = [
        ("topic", topic.to_owned()),
        ("partition", partition.to_string()),
    ];
    metrics::counter!(RETRIES_TOTAL, &labels).increment(1);
}
