//! Tests of `serve` on the real services of `scripts/services.sh up`
//! (Kafka, PostgreSQL, the S3 lake). They fail, never skip, when a service
//! is absent.

mod client;
mod http_api;
mod merge;
mod sse;
