//! `billabong serve`: the serving layer over HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serving::{MetricsRender, ServeConfig};

use crate::lake::parse_duration;
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
}

/// Serves until SIGINT/SIGTERM, then finishes open requests.
pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let mut config = ServeConfig::new(&args.brokers, &args.postgres);
    config.listen = args.listen;
    config.metrics_topic.clone_from(&args.metrics_topic);
    config.batch_poll = args.batch_poll;
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
