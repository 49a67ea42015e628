//! The producer's Prometheus metrics. Names are constants so that dashboards
//! and tests name the same series; the `metrics` facade is a no-op until the
//! binary installs an exporter.

use metrics::{Counter, Histogram, Unit};

/// Records read from the source, overlap duplicates included.
pub const RECEIVED_TOTAL: &str = "billabong_producer_received_total";
/// Valid records committed to the raw topic.
pub const PRODUCED_TOTAL: &str = "billabong_producer_produced_total";
/// Invalid records committed to the DLQ.
pub const DLQ_TOTAL: &str = "billabong_producer_dlq_total";
/// Connections to the feed after the first.
pub const RECONNECTS_TOTAL: &str = "billabong_producer_reconnects_total";
/// Records dropped because a catch-up sent them again.
pub const DUPLICATES_DROPPED_TOTAL: &str = "billabong_producer_duplicates_dropped_total";
/// Records whose delivery failed for good (their transaction is retried).
pub const DELIVERY_ERRORS_TOTAL: &str = "billabong_producer_delivery_errors_total";
/// Seconds from handing a record to the Kafka client to the broker's ack.
pub const PRODUCE_LATENCY_SECONDS: &str = "billabong_producer_produce_latency_seconds";

/// Describes every metric once, so that the exporter prints help lines.
pub(crate) fn describe() {
    metrics::describe_counter!(
        RECEIVED_TOTAL,
        Unit::Count,
        "Records read from the source, overlap duplicates included."
    );
    metrics::describe_counter!(
        PRODUCED_TOTAL,
        Unit::Count,
        "Valid records committed to the raw topic."
    );
    metrics::describe_counter!(
        DLQ_TOTAL,
        Unit::Count,
        "Invalid records committed to the DLQ."
    );
    metrics::describe_counter!(
        RECONNECTS_TOTAL,
        Unit::Count,
        "Connections to the feed after the first."
    );
    metrics::describe_counter!(
        DUPLICATES_DROPPED_TOTAL,
        Unit::Count,
        "Records dropped as a catch-up's overlap."
    );
    metrics::describe_counter!(
        DELIVERY_ERRORS_TOTAL,
        Unit::Count,
        "Records whose delivery failed for good."
    );
    metrics::describe_histogram!(
        PRODUCE_LATENCY_SECONDS,
        Unit::Seconds,
        "From enqueue to the broker's ack."
    );
}

/// Handles on the counters, labelled by feed.
#[derive(Debug, Clone)]
pub(crate) struct IngestMetrics {
    pub(crate) received: Counter,
    pub(crate) produced: Counter,
    pub(crate) dlq: Counter,
    pub(crate) reconnects: Counter,
    pub(crate) duplicates_dropped: Counter,
    pub(crate) delivery_errors: Counter,
    pub(crate) latency: Histogram,
}

impl IngestMetrics {
    pub(crate) fn new(feed: schemas::Feed) -> Self {
        let feed = feed.as_str();
        IngestMetrics {
            received: metrics::counter!(RECEIVED_TOTAL, "feed" => feed),
            produced: metrics::counter!(PRODUCED_TOTAL, "feed" => feed),
            dlq: metrics::counter!(DLQ_TOTAL, "feed" => feed),
            reconnects: metrics::counter!(RECONNECTS_TOTAL, "feed" => feed),
            duplicates_dropped: metrics::counter!(DUPLICATES_DROPPED_TOTAL, "feed" => feed),
            delivery_errors: metrics::counter!(DELIVERY_ERRORS_TOTAL, "feed" => feed),
            latency: metrics::histogram!(PRODUCE_LATENCY_SECONDS, "feed" => feed),
        }
    }
}
