//! `billabong serve`: the serving layer over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serving::{ApiKey, MetricsRender, ServeConfig};

use crate::units::{parse_duration, parse_size};
use crate::{shutdown, telemetry};

/// Arguments of `billabong serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    #[arg(long, env = "BILLABONG_BROKERS", value_name = "LIST")]
    brokers: String,
    /// The batch layer's database (`postgres://user:pass@host:port/db`).
    #[arg(long, env = "BILLABONG_POSTGRES_URL", value_name = "URL")]
    postgres: String,
    /// Address to serve HTTP on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The speed layer's output topic.
    #[arg(long, value_name = "T", default_value = schemas::topics::METRICS_TOPIC)]
    metrics_topic: String,
    /// How often to look for a new batch run in PostgreSQL (`1s`, `500ms`).
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = parse_duration)]
    batch_poll: Duration,
    /// The lake: `s3://bucket/prefix` (endpoint, keys, region from AWS_*) or
    /// `file:///path`: `lake.*` tables of `POST /api/sql`, checked by `/ready`.
    #[arg(long, env = "BILLABONG_LAKE", value_name = "URL")]
    lake: String,
    /// File holding the key `POST /api/forecast` requires (surrounding
    /// whitespace trimmed). Without it, forecasts answer 503.
    #[arg(long, value_name = "PATH")]
    api_key_file: Option<PathBuf>,
    /// Memory one `/api/sql` statement may use: `256MiB`, `1GiB`, or bytes.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    sql_memory_limit: usize,
    /// Time one `/api/sql` statement may run before it is cancelled.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    sql_time_limit: Duration,
    /// Rows one `/api/sql` answer holds at most; the rest are counted.
    #[arg(long, value_name = "N", default_value_t = serving::default_sql_limits().max_rows)]
    sql_max_rows: usize,
    /// How often `/api/sql` reopens its catalog to see new lake commits
    /// and new PostgreSQL tables.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    sql_refresh: Duration,
    /// Prophet fits running at once (default: one per core).
    #[arg(long, value_name = "N")]
    forecast_concurrency: Option<usize>,
    /// How long a forecast waits for a free fit slot before a 503 + Retry-After.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    forecast_queue_wait: Duration,
}

/// Serves until SIGINT/SIGTERM, then finishes open requests.
pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let mut config = ServeConfig::new(&args.brokers, &args.postgres);
    config.listen = args.listen;
    config.metrics_topic.clone_from(&args.metrics_topic);
    config.batch_poll = args.batch_poll;
    config.lake = Some(args.lake.clone());
    config.sql_limits.memory_bytes = args.sql_memory_limit;
    config.sql_limits.time = args.sql_time_limit;
    config.sql_limits.max_rows = args.sql_max_rows;
    config.sql_refresh = args.sql_refresh;
    config.forecast_queue_wait = args.forecast_queue_wait;
    if let Some(n) = args.forecast_concurrency {
        config.forecast_concurrency = n;
    }
    if let Some(path) = &args.api_key_file {
        config.api_key = Some(ApiKey::from_file(path)?);
    }
    config.validate()?;
    telemetry::init_logs();
    let runtime = telemetry::runtime()?;
    runtime.block_on(async {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .context("cannot install the metrics recorder")?;
        let render: MetricsRender = std::sync::Arc::new(move || handle.render());
        let shutdown = shutdown::on_signal("finishing open requests, then stopping")?;
        let server = serving::start(config, Some(render), shutdown)
            .await
            .context("serve failed to start")?;
        println!("http://{}/", server.addr);
        server.wait().await.context("serve failed")
    })
}
