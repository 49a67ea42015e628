//! `billabong stream`: the speed layer. The work is `stream_processor::run`;
//! this module turns flags into its config, starts logs and metrics, and
//! wires SIGINT/SIGTERM to a graceful stop (the open transaction is
//! committed before exit). A SIGKILL loses nothing either: the restart
//! rebuilds the state and publishes from the committed positions.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use stream_processor::{StartPosition, StreamConfig};

use crate::units::parse_duration;
use crate::{shutdown, telemetry};

/// Arguments of `billabong stream`.
#[derive(Debug, clap::Args)]
pub(crate) struct StreamArgs {
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    #[arg(long, env = "BILLABONG_BROKERS", value_name = "LIST")]
    brokers: String,
    /// Consumer group: holds the positions committed with the output, and
    /// names the transactional id (one instance per group).
    #[arg(long, value_name = "G", default_value = "billabong-stream")]
    group: String,
    /// Where to build the state from when the group has no position yet:
    /// earliest, latest, offset:N or timestamp:RFC3339.
    #[arg(long, value_name = "POS", default_value = "earliest")]
    start: String,
    /// The RSVP topic (empty: do not consume RSVPs).
    #[arg(long, value_name = "T", default_value = schemas::topics::RSVPS_TOPIC)]
    rsvps_topic: String,
    /// The race topic (empty: do not consume race events).
    #[arg(long, value_name = "T", default_value = schemas::topics::RACE_TOPIC)]
    race_topic: String,
    /// Where metric updates go.
    #[arg(long, value_name = "T", default_value = schemas::topics::METRICS_TOPIC)]
    metrics_topic: String,
    /// Where records that fail to parse go.
    #[arg(long, value_name = "T", default_value = schemas::topics::DLQ_TOPIC)]
    dlq_topic: String,
    /// Where the batch layer publishes its runs: the newest one's watermarks
    /// start the real-time view generation that serving merges with it
    /// (empty: follow none; the views then cover every offset in Kafka).
    #[arg(long, value_name = "T", default_value = schemas::topics::BATCH_RUNS_TOPIC)]
    runs_topic: String,
    /// Updates packed into one message at most.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_keys_per_message: usize,
    /// Allowed lateness of RSVPs, in seconds of event time.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    rsvp_lateness_secs: i64,
    /// The lake holding the batch layer's model registry (`s3://bucket/prefix`,
    /// endpoint and keys from AWS_*, or `file:///path`): RSVPs are scored
    /// with the newest `rsvp-response` model and its running accuracy is
    /// published. Without it, or before a model is published, the stream
    /// reports "no model published yet".
    #[arg(long, env = "BILLABONG_LAKE", value_name = "URL")]
    lake: Option<String>,
    /// How often to look for a new model version (`30s`, `5m`).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    model_poll: Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
}

impl StreamArgs {
    fn config(&self) -> anyhow::Result<StreamConfig> {
        let mut config = StreamConfig::new(&self.brokers);
        config.group.clone_from(&self.group);
        config.start = self.start.parse::<StartPosition>()?;
        config.rsvps_topic.clone_from(&self.rsvps_topic);
        config.race_topic.clone_from(&self.race_topic);
        config.metrics_topic.clone_from(&self.metrics_topic);
        config.dlq_topic.clone_from(&self.dlq_topic);
        config.runs_topic.clone_from(&self.runs_topic);
        config.emit.max_keys_per_message = self.max_keys_per_message;
        config.operators.rsvp_lateness_ms = self.rsvp_lateness_secs.saturating_mul(1_000);
        config.model.lake.clone_from(&self.lake);
        config.model.poll_interval = self.model_poll;
        config.validate()?;
        Ok(config)
    }
}

/// Runs the speed layer until SIGINT/SIGTERM; prints a JSON summary line.
pub(crate) fn run(args: &StreamArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    telemetry::init_logs();
    let runtime = telemetry::runtime()?;
    let report = runtime.block_on(async {
        if let Some(addr) = args.metrics_addr {
            serve_metrics(addr)?;
        }
        let shutdown = shutdown::on_signal("committing the open transaction, then stopping")?;
        stream_processor::run(config, shutdown)
            .await
            .context("stream failed")
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{{\"records\":{},\"replayed\":{},\"messages\":{},\"updates\":{},\"dlq\":{},\"late\":{},\"transactions\":{},\"view_switches\":{},\"view_rebuilt\":{}}}",
        report.records,
        report.replayed,
        report.messages,
        report.updates,
        report.dlq,
        report.late,
        report.transactions,
        report.view_switches,
        report.view_rebuilt
    )?;
    out.flush()?;
    Ok(())
}

/// Latency buckets (seconds): the bench goal is p99 < 50 ms, and a replay
/// of old events lands in the top buckets.
const LATENCY_BUCKETS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 3600.0,
];

/// Like `telemetry::serve_metrics`, but `*_seconds` metrics are Prometheus
/// histograms (buckets), not summaries, so lag and latency can be
/// aggregated and their quantiles computed over any range.
fn serve_metrics(addr: SocketAddr) -> anyhow::Result<()> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)?
        .with_http_listener(addr)
        .install()
        .with_context(|| format!("cannot serve metrics on {addr}"))
}
