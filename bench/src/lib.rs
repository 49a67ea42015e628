//! Shared helpers for the benchmark binaries in `src/bin/` (`producer`,
//! `sink`, `stream`, `batch`, `serving`, `serving-rest`): the payloads (real recorded data,
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

/// Logs to stderr, filtered by `RUST_LOG` or else `default` (e.g.
/// `"error,warp::server=off"`: wrk and the fan-out clients drop connections
/// mid-request when a run ends, which warp logs as errors).
pub fn init_logs(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .init();
}
