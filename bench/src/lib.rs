//! Shared helpers for the benchmark binaries in `src/bin/` (`producer`,
//! `sink`, `stream`, `batch`, `serving`): the payloads (real recorded data,
//! cycled to a chosen count), Kafka topics and a raw rdkafka baseline, running the release
//! `billabong` binary, and the results table.
//!
//! Benchmarks are not tests: nothing here asserts on time, and the crate's
//! targets have `test = false`, so `cargo test` never runs them. Each
//! benchmark measures its baseline in the same run as the thing it judges,
//! because on a shared 2-core machine numbers from different runs are not
//! comparable.

pub mod billabong;
pub mod kafka;
pub mod live;
pub mod payloads;
pub mod table;

pub use table::{Row, Table};
