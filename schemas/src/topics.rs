//! Kafka topic names and DLQ header names: the contracts between services.

/// Raw RSVPs, JSON as received from the feed.
pub const RSVPS_TOPIC: &str = "billabong.rsvps";
/// Raw race feed events, JSON as received.
pub const RACE_TOPIC: &str = "billabong.race";
/// Every input that failed validation or parsing, unchanged, with headers below.
pub const DLQ_TOPIC: &str = "billabong.dlq";
/// Live metric updates of the speed layer.
pub const METRICS_TOPIC: &str = "billabong.metrics";
/// One record per finished batch run (its watermark).
pub const BATCH_RUNS_TOPIC: &str = "billabong.batch-runs";

/// DLQ header: where the input came from (a URL, `file:` path or `topic/partition@offset`).
pub const DLQ_HEADER_SOURCE: &str = "billabong-source";
/// DLQ header: the [`crate::ErrorKind`] name.
pub const DLQ_HEADER_ERROR_KIND: &str = "billabong-error-kind";
/// DLQ header: the JSON path of the failure.
pub const DLQ_HEADER_ERROR_PATH: &str = "billabong-error-path";
/// DLQ header: the human-readable message.
pub const DLQ_HEADER_ERROR_MESSAGE: &str = "billabong-error-message";
/// DLQ header: the feed the input was meant for (`rsvps` or `race`).
pub const DLQ_HEADER_FEED: &str = "billabong-feed";
/// DLQ header, when the input was a Kafka record: the topic it was consumed from.
pub const DLQ_HEADER_ORIGINAL_TOPIC: &str = "billabong-original-topic";
/// DLQ header, when the input was a Kafka record: its partition (decimal).
pub const DLQ_HEADER_ORIGINAL_PARTITION: &str = "billabong-original-partition";
/// DLQ header, when the input was a Kafka record: its offset (decimal).
pub const DLQ_HEADER_ORIGINAL_OFFSET: &str = "billabong-original-offset";

/// Header on every record the producer writes (raw topics and DLQ): the
/// producer's feed clock after that record (the running maximum of event
/// times), decimal ms since the epoch; absent while no record had an event
/// time. A restarted producer resumes its feed from it.
pub const PRODUCER_HEADER_CLOCK: &str = "billabong-clock";
/// Header on every record the producer writes: the producer's
/// `transactional.id`, so that a restarted producer finds its own records in
/// topics it shares with others.
pub const PRODUCER_HEADER_ID: &str = "billabong-producer";
