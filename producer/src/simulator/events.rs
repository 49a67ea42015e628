//! The simulator's log lines paired with their metrics, one named event each
//! (Vector's `internal_events` style), so a log line and its counter never
//! drift apart.

use std::net::SocketAddr;
use std::time::Duration;

use schemas::Feed;
use tracing::{info, warn};

/// Open websocket connections (gauge), label `feed`.
pub(crate) const CONNECTIONS: &str = "billabong_simulator_connections";
/// Records sent to clients (counter), label `feed`.
pub(crate) const RECORDS_SENT: &str = "billabong_simulator_records_sent_total";
/// Clients disconnected for falling behind the feed (counter), label `feed`.
pub(crate) const SLOW_CLIENT_DISCONNECTS: &str =
    "billabong_simulator_slow_client_disconnects_total";

/// Registers the metrics' descriptions with whichever recorder is installed.
pub(crate) fn describe() {
    metrics::describe_gauge!(
        CONNECTIONS,
        "Open websocket connections of the feed simulator."
    );
    metrics::describe_counter!(
        RECORDS_SENT,
        "Records the feed simulator sent to its clients."
    );
    metrics::describe_counter!(
        SLOW_CLIENT_DISCONNECTS,
        "Clients the feed simulator disconnected for falling behind the feed."
    );
}

/// A client completed its handshake. Holding the returned guard keeps it
/// counted in the connections gauge; dropping it (however the connection task
/// ends, even aborted) uncounts it.
pub(crate) struct SimulatorClientConnected<'a> {
    pub(crate) feed: Feed,
    pub(crate) peer: SocketAddr,
    pub(crate) path: &'a str,
    pub(crate) since_ms: Option<i64>,
    pub(crate) position: usize,
    pub(crate) records: usize,
}

impl SimulatorClientConnected<'_> {
    pub(crate) fn emit(self) -> ConnectionGuard {
        info!(
            %self.peer,
            path = self.path,
            since_mtime = ?self.since_ms,
            start_position = self.position,
            records = self.records,
            "Client connected."
        );
        metrics::gauge!(CONNECTIONS, "feed" => self.feed.as_str()).increment(1.0);
        ConnectionGuard { feed: self.feed }
    }
}

/// Keeps one connection counted in [`CONNECTIONS`] while alive.
pub(crate) struct ConnectionGuard {
    feed: Feed,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        metrics::gauge!(CONNECTIONS, "feed" => self.feed.as_str()).decrement(1.0);
    }
}

/// A connection ended.
pub(crate) struct SimulatorClientDisconnected<'a> {
    pub(crate) peer: SocketAddr,
    pub(crate) path: &'a str,
    pub(crate) sent: u64,
    pub(crate) reason: &'a str,
}

impl SimulatorClientDisconnected<'_> {
    pub(crate) fn emit(self) {
        info!(
            %self.peer,
            path = self.path,
            records_sent = self.sent,
            reason = self.reason,
            "Client disconnected."
        );
    }
}

/// A batch of records went out to one client.
pub(crate) struct SimulatorRecordsSent {
    pub(crate) feed: Feed,
    pub(crate) count: u64,
}

impl SimulatorRecordsSent {
    pub(crate) fn emit(self) {
        metrics::counter!(RECORDS_SENT, "feed" => self.feed.as_str()).increment(self.count);
    }
}

/// A client fell too far behind and is being disconnected.
pub(crate) struct SimulatorSlowClientDisconnected {
    pub(crate) feed: Feed,
    pub(crate) peer: SocketAddr,
    pub(crate) lag: Duration,
    pub(crate) sent: u64,
}

impl SimulatorSlowClientDisconnected {
    pub(crate) fn emit(self) {
        warn!(
            %self.peer,
            lag_s = self.lag.as_secs_f64(),
            records_sent = self.sent,
            "Client too slow; disconnecting it."
        );
        metrics::counter!(SLOW_CLIENT_DISCONNECTS, "feed" => self.feed.as_str()).increment(1);
    }
}
