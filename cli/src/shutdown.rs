//! Graceful shutdown for the long-running commands (`simulate`, `produce`,
//! `sink`, `stream`): one place, so every service stops the same way.

use std::future::Future;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

/// A future that completes on the first SIGINT or SIGTERM.
///
/// The handlers are installed here, at once, not when the future is first
/// polled: a signal during start-up (loading data, joining a group, fencing a
/// transaction) must reach the graceful path, not the default "die at once".
/// Must be called inside the tokio runtime. `then` says in the log what the
/// command does next ("committing the open transaction").
pub(crate) fn on_signal(
    then: &'static str,
) -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!("{name} received: {then}.");
    })
}
