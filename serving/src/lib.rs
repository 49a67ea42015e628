//! The serving layer: the lambda merge of batch and real-time views over
//! HTTP (warp).
//!
//! ```text
//! PostgreSQL (batch_runs, view_* of the newest runs) ─► follow::follow_batch_runs ─┐
//! billabong.metrics (read_committed, from the start)  ─► follow::follow_metrics ───┤
//!                                                                                  ▼
//!                                   state::State (batch snapshots, generations, served pair)
//!                                                                                  │
//!                                        http.rs: /api/views/<name>, /api/live, /health, /ready, /metrics
//!                                                 dashboard.rs: / (Plotly page, assets compiled in)
//!                                                 /api/groups, /api/races/<id>/laps (PostgreSQL), /api/latency
//!                                        sse/:    /api/stream (Server-Sent Events, Last-Event-ID resume)
//! ```
//!
//! `GET /api/views/<name>` answers `batch view of run G ⊕ real-time
//! generation G` (`schemas::realtime`), with a `coverage` object naming the
//! run, its watermarks, the generation and the offsets covered in total:
//! the rows equal the view computed from scratch over exactly those offsets.
//! The hand-over rule is in `state.rs`. Nothing per user is held: an
//! instance's answers are a function of what it read, so any number of
//! instances agree once they have read the same.
//!
//! Beside the merge:
//! - `POST /api/sql` ([`sql_api`](crate)): the `sql` crate's read-only
//!   session over the lake and PostgreSQL, reopened every `sql_refresh`;
//! - `POST /api/forecast`: Prophet ([`forecast`], augurs) behind an
//!   [`ApiKey`], on inline data or a named series cut from the merged views.

mod api_key;
mod batch_views;
mod config;
mod dashboard;
mod error;
mod follow;
mod forecast;
mod forecast_api;
mod groups;
mod http;
mod latency;
mod metrics;
mod race_laps;
mod realtime;
mod sql_api;
mod sse;
mod state;
mod view_cache;
mod view_series;

pub use api_key::{ApiKey, ApiKeyError};
pub use config::{ServeConfig, SseConfig, default_sql_limits};
pub use error::{Error, Result};
pub use forecast::{
    DEFAULT_INTERVAL_WIDTH, ErrorDomain, ForecastError, ForecastRequest, ForecastTable,
    MAX_PERIODS, MAX_POINTS, MIN_POINTS, MemorySeriesSource, Series, SeriesSource,
    SeriesSourceError, ValidatedRequest, forecast,
};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::follow::Shared;
use crate::state::State;

/// Renders the process's Prometheus metrics (the binary owns the recorder).
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// A running server.
pub struct Server {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Server {
    /// Waits until the server has shut down.
    pub async fn wait(self) -> Result<()> {
        self.task
            .await
            .unwrap_or_else(|e| Err(Error::Config(format!("the server task failed: {e}"))))
    }
}

/// Binds, starts following Kafka and PostgreSQL, and serves until
/// `shutdown` completes (then finishes open requests and stops).
pub async fn start(
    config: ServeConfig,
    render_metrics: Option<MetricsRender>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Server> {
    config.validate()?;
    let state: Shared = Arc::new(RwLock::new(State::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let caught_up = Arc::new(AtomicBool::new(false));
    let hub = Arc::new(sse::Hub::new(config.sse.clone()));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: config.listen,
        source,
    })?;
    let follower = {
        let (state, stop, caught_up) = (state.clone(), stop.clone(), caught_up.clone());
        let (brokers, topic) = (config.brokers.clone(), config.metrics_topic.clone());
        let hub = hub.clone();
        std::thread::Builder::new()
            .name("serve-metrics".into())
            .spawn(move || {
                follow::follow_metrics(&brokers, &topic, &state, &hub, &stop, &caught_up)
            })
            .map_err(|e| Error::Config(format!("cannot start the follower thread: {e}")))?
    };
    let batches = {
        let (state, stop) = (state.clone(), stop.clone());
        let (postgres, every) = (config.postgres.clone(), config.batch_poll);
        tokio::spawn(
            async move { follow::follow_batch_runs(&postgres, &state, every, &stop).await },
        )
    };
    let catalog = sql_api::Catalog::default();
    let refresher = tokio::spawn(sql_api::refresh(
        catalog.clone(),
        sql::SqlConfig {
            lake: config.lake.clone(),
            lake_options: config.lake_options.clone(),
            postgres: Some(config.postgres.clone()),
            limits: config.sql_limits.clone(),
            ..sql::SqlConfig::default()
        },
        config.sql_refresh,
    ));
    let forecast = forecast_api::ForecastApi {
        key: config.api_key.clone(),
        slots: Arc::new(tokio::sync::Semaphore::new(config.forecast_concurrency)),
        queue_wait: config.forecast_queue_wait,
        state: state.clone(),
    };
    // Open event streams would hold graceful shutdown forever: end them first.
    let shutdown = {
        let hub = hub.clone();
        async move {
            shutdown.await;
            hub.close();
        }
    };
    let api = http::Api {
        state,
        hub,
        caught_up,
        postgres: config.postgres.clone(),
        render_metrics,
        catalog,
        forecast,
        views: Arc::default(),
    };
    dashboard::warm_up();
    tracing::info!(%addr, "Serving.");
    let task = tokio::spawn(async move {
        warp::serve(http::routes(api))
            .incoming(listener)
            .graceful(shutdown)
            .run()
            .await;
        stop.store(true, Ordering::Relaxed);
        batches.abort();
        refresher.abort();
        tokio::task::spawn_blocking(move || follower.join())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(Ok(()))
    });
    Ok(Server { addr, task })
}
