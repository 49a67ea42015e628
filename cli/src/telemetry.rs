//! Process-wide plumbing shared by the long-running subcommands: logs, the
//! Prometheus endpoint and the tokio runtime. Kept here so that every service
//! command starts the same way (args → telemetry → `service::run`).

use std::net::SocketAddr;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

/// Logs go to standard error (standard output is for data and summaries),
/// filtered by `RUST_LOG`, `info` by default.
pub(crate) fn init_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests calling twice) is harmless; ignore its error.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Serves the `metrics` registry as Prometheus text at `http://ADDR/metrics`.
///
/// Must be called from inside the tokio runtime: the exporter's listener is a
/// task on it.
pub(crate) fn serve_metrics(addr: SocketAddr) -> anyhow::Result<()> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .with_context(|| format!("cannot serve metrics on {addr}"))
}

/// A multi-threaded runtime for the async subcommands; the sync ones
/// (`validate`, `race-feed`) never build one.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
}
