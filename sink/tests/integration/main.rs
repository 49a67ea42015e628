//! Integration tests of the sink against the real services: Kafka, the S3
//! server (versitygw) and the local filesystem. One test binary, a module per
//! concern, helpers in `support`.

mod compaction;
mod exactly_once;
mod idle_flush;
mod missing_topic;
mod racing;
mod support;
