//! `billabong serve` settings.

use std::net::SocketAddr;
use std::time::Duration;

use crate::api_key::ApiKey;
use crate::error::{Error, Result};

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// PostgreSQL URL of the batch layer's database.
    pub postgres: String,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// The speed layer's output (read read_committed from the beginning).
    pub metrics_topic: String,
    /// How often PostgreSQL is asked for a new batch run.
    pub batch_poll: Duration,
    /// The lake (`s3://bucket/prefix` or `file:///path`) behind `/api/sql`'s
    /// `lake.*` tables and `/ready`'s lake check; `None` = no lake.
    pub lake: Option<String>,
    /// object_store settings for an `s3://` lake, over the `AWS_*` environment.
    pub lake_options: Vec<(String, String)>,
    /// Limits of one `/api/sql` statement (smaller than `billabong sql`'s:
    /// many users share one process).
    pub sql_limits: sql::Limits,
    /// How often `/api/sql`'s catalog is reopened, so new lake commits and
    /// new PostgreSQL tables become visible.
    pub sql_refresh: Duration,
    /// The key `/api/forecast` requires; `None` = the endpoint answers 503.
    pub api_key: Option<ApiKey>,
    /// Prophet fits running at once; further requests wait (bounded) for a slot.
    pub forecast_concurrency: usize,
    /// How long a forecast may wait for a free fit slot before a 503.
    pub forecast_queue_wait: Duration,
    /// Bounds of `GET /api/stream` (Server-Sent Events).
    pub sse: SseConfig,
}

/// Bounds of the SSE endpoint. Memory is the ring plus a few kilobytes of
/// socket and stream state per client: nothing grows with a slow client.
#[derive(Debug, Clone)]
pub struct SseConfig {
    /// Events kept for `Last-Event-ID` resume. 100,000 events is minutes of
    /// the speed layer's output at its bounded emission rate (hundreds of
    /// updates/s on the recorded feeds), so a reconnect after a network blip
    /// or a deploy replays; older ids get a snapshot instead.
    pub replay_events: usize,
    /// Bytes of event text kept for resume, whichever bound is hit first
    /// (64 MiB: 100,000 events of ~400 B fit with room to spare).
    pub replay_bytes: usize,
    /// Broadcast messages (one per follower batch, at most 256 events each)
    /// a client may fall behind before it is cut off. It reconnects with
    /// its last id and resumes from the ring, or gets a gap snapshot. The
    /// queue is shared: a lagging client costs no memory of its own.
    pub client_queue_chunks: usize,
    /// Streams held at once; more get 503 (a client retries after `retry`).
    pub max_clients: usize,
    /// Keep-alive comment interval (proxies drop idle connections).
    pub keep_alive: Duration,
}

impl Default for SseConfig {
    fn default() -> Self {
        SseConfig {
            replay_events: 100_000,
            replay_bytes: 64 << 20,
            client_queue_chunks: 1_024,
            max_clients: 20_000,
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// `/api/sql`'s default limits: a quarter of `billabong sql`'s memory, half
/// its time, a tenth of its rows (a JSON response of 10,000 rows is already
/// megabytes), two statements at once.
pub fn default_sql_limits() -> sql::Limits {
    sql::Limits {
        memory_bytes: 256 << 20,
        time: Duration::from_secs(30),
        max_rows: 10_000,
        spill_bytes: 0,
        max_concurrent: 2,
    }
}

impl ServeConfig {
    /// Defaults for everything but the services.
    pub fn new(brokers: &str, postgres: &str) -> Self {
        ServeConfig {
            brokers: brokers.to_owned(),
            postgres: postgres.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_topic: schemas::topics::METRICS_TOPIC.to_owned(),
            batch_poll: Duration::from_secs(1),
            lake: None,
            lake_options: Vec::new(),
            sql_limits: default_sql_limits(),
            sql_refresh: Duration::from_secs(5),
            api_key: None,
            forecast_concurrency: std::thread::available_parallelism().map_or(2, usize::from),
            forecast_queue_wait: Duration::from_secs(30),
            sse: SseConfig::default(),
        }
    }

    /// Checks the settings, naming every problem.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.brokers.trim().is_empty() {
            problems.push("--brokers is empty");
        }
        if self.postgres.trim().is_empty() {
            problems.push("--postgres is empty");
        }
        if self.metrics_topic.is_empty() {
            problems.push("--metrics-topic is empty");
        }
        if self.lake.as_deref().is_some_and(|l| l.trim().is_empty()) {
            problems.push("--lake is empty");
        }
        if self.sql_limits.max_rows == 0 || self.sql_limits.max_concurrent == 0 {
            problems.push("the SQL row limit and concurrency must be at least 1");
        }
        if self.forecast_concurrency == 0 {
            problems.push("the forecast concurrency must be at least 1");
        }
        if self.sse.replay_events == 0 || self.sse.replay_bytes == 0 {
            problems.push("the SSE replay ring must hold at least one event");
        }
        if self.sse.client_queue_chunks == 0 {
            problems.push("the SSE client queue must hold at least one message");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(problems.join("; ")))
        }
    }
}
