//! Where a run's DataFusion plans execute: in this process, or on a Ballista
//! cluster (distributed DataFusion) for lakes that outgrow one machine.
//!
//! The ETL and view SQL is the same for both engines; only the session differs.
//! A Ballista session plans each query here, ships the optimized logical plan
//! to the scheduler, and streams the result back, so the binary COPY into
//! PostgreSQL still runs in this process. What cannot travel is state that
//! lives only in this process's memory: the local engine caches the run's
//! deltas as in-memory tables (every target table reads them), a Ballista run
//! re-reads the committed Parquet files instead ([`Engine::caches_deltas`]).
//!
//! The scheduler and the executors open the lake themselves: each needs an
//! object store registered for the lake's URL (see [`lake_runtime`] for one
//! running in this process; a stock `ballista-executor` builds its S3 store
//! from the `AWS_*` environment).

use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use sink::Lake;
use tracing::info;

use crate::error::{Error, Result};
use crate::lake_source::session_for;

/// The Ballista scheduler port when a `df://` URL names none (Ballista's own default).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// How long to wait for the scheduler's port before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the ETL's DataFusion plans run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// DataFusion in this process (the default).
    #[default]
    Local,
    /// A Ballista cluster reached through its scheduler.
    Ballista {
        /// `df://host:port` (port 50050 when omitted).
        scheduler: String,
    },
}

impl Engine {
    /// The Ballista engine for `scheduler` (`df://host[:port]`), checked
    /// for form only (reachability is checked when a run starts).
    pub fn ballista(scheduler: impl Into<String>) -> Result<Self> {
        let scheduler = scheduler.into();
        scheduler_address(&scheduler)?;
        Ok(Engine::Ballista { scheduler })
    }

    /// A session that runs plans on this engine and reads `lake`.
    ///
    /// For Ballista the scheduler's port is tried first, so that a wrong
    /// address fails here with its name rather than in the first query.
    pub async fn session(&self, lake: &Lake) -> Result<SessionContext> {
        match self {
            Engine::Local => session_for(lake),
            Engine::Ballista { scheduler } => {
                let (host, port) = scheduler_address(scheduler)?;
                probe(scheduler, &host, port).await?;
                let state = SessionStateBuilder::new()
                    .with_config(ballista_config())
                    .with_runtime_env(lake_runtime(lake)?)
                    .with_default_features()
                    .build();
                let ctx = SessionContext::remote_with_state(scheduler, state)
                    .await
                    .map_err(|e| Error::Engine {
                        scheduler: scheduler.clone(),
                        message: e.to_string(),
                    })?;
                info!(%scheduler, "ETL plans run on Ballista");
                Ok(ctx)
            }
        }
    }

    /// Whether the run may cache its deltas in this process's memory. A
    /// cached delta is an in-memory table, which a plan shipped to Ballista
    /// cannot carry; there the plans read the lake's files again instead.
    pub fn caches_deltas(&self) -> bool {
        matches!(self, Engine::Local)
    }
}

/// The session options every plan of the batch layer needs, on either
/// engine (a Ballista session sends them with each query, so executors
/// decode the lake the same way): strings stay `Utf8`, not views, so that
/// batches map one-to-one onto PostgreSQL types; Parquet filters are pushed
/// into the scan, which skips row groups outside a run's offset range.
pub fn session_config() -> SessionConfig {
    SessionConfig::new()
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
}

/// [`session_config`] with Ballista's settings; they travel with each query
/// to the scheduler and the executors.
///
/// The static distributed planner, not the adaptive one (Ballista 55's
/// default): on an empty delta (a topic with nothing new) the adaptive
/// planner re-plans a stage forever, one new stage every ~100 ms (seen on
/// the race grid query, an unnest over a scan of no files), also with its
/// propagate-empty rule off.
fn ballista_config() -> SessionConfig {
    session_config()
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(false)
}

/// A runtime whose object store registry holds the lake's store under the
/// lake's URL: what a local session reads the lake through, and what a
/// Ballista scheduler or executor running in this process needs to read it.
pub fn lake_runtime(lake: &Lake) -> Result<Arc<RuntimeEnv>> {
    let loc = lake.location();
    let store_url = url::Url::parse(&loc.store_url).map_err(|e| Error::Lake {
        message: format!("store URL {:?}: {e}", loc.store_url),
    })?;
    let registry = DefaultObjectStoreRegistry::new();
    registry.register_store(&store_url, Arc::clone(&loc.store));
    Ok(Arc::new(
        RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::new(registry))
            .build()?,
    ))
}

/// `df://host[:port]` → (host, port).
fn scheduler_address(scheduler: &str) -> Result<(String, u16)> {
    let bad = |message: String| Error::Engine {
        scheduler: scheduler.to_owned(),
        message,
    };
    let url = url::Url::parse(scheduler)
        .map_err(|e| bad(format!("not a URL ({e}); expected df://host:port")))?;
    if url.scheme() != "df" {
        return Err(bad(format!(
            "scheme {:?}: expected df://host:port",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host: expected df://host:port".to_owned()))?;
    Ok((
        host.to_owned(),
        url.port().unwrap_or(DEFAULT_SCHEDULER_PORT),
    ))
}

/// Opens (and drops) a TCP connection to the scheduler.
async fn probe(scheduler: &str, host: &str, port: u16) -> Result<()> {
    let unreachable = |message: String| Error::Engine {
        scheduler: scheduler.to_owned(),
        message,
    };
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(format!(
            "cannot connect to {host}:{port}: {e}; is the scheduler running?"
        ))),
        Err(_) => Err(unreachable(format!(
            "no answer from {host}:{port} within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_urls_need_the_df_scheme_and_a_host() {
        assert_eq!(
            scheduler_address("df://sched.example:50051").expect("valid"),
            ("sched.example".to_owned(), 50051)
        );
        assert_eq!(
            scheduler_address("df://localhost").expect("valid"),
            ("localhost".to_owned(), DEFAULT_SCHEDULER_PORT)
        );
        for bad in ["http://localhost:50050", "localhost:50050", "df://:1"] {
            assert!(scheduler_address(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn only_the_local_engine_caches_deltas() {
        assert!(Engine::Local.caches_deltas());
        let ballista = Engine::Ballista {
            scheduler: "df://localhost:50050".to_owned(),
        };
        assert!(!ballista.caches_deltas());
    }
}
