//! `billabong sink`: the raw topics into the Parquet lake, exactly once. The
//! work is `sink::run`; this module turns flags into its config, starts logs
//! and metrics, and wires SIGINT/SIGTERM to a graceful stop (open batches are
//! committed before exit).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sink::{RollPolicy, SinkConfig, TopicSpec};

use crate::{shutdown, telemetry};

/// Arguments of `billabong sink`.
#[derive(Debug, clap::Args)]
pub(crate) struct SinkArgs {
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    #[arg(long, env = "BILLABONG_BROKERS", value_name = "LIST")]
    brokers: String,
    /// The lake: `s3://bucket/prefix` (endpoint, keys, region from AWS_*) or
    /// `file:///path`.
    #[arg(long, env = "BILLABONG_LAKE", value_name = "URL")]
    lake: String,
    /// Raw topics to land: standard names, or `TOPIC=rsvps|race` for others.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "billabong.rsvps,billabong.race"
    )]
    topics: Vec<String>,
    /// Roll a partition's batch after this many bytes of raw JSON.
    #[arg(long, value_name = "N", default_value_t = RollPolicy::default().bytes)]
    roll_bytes: u64,
    /// Roll a partition's batch after this many records.
    #[arg(long, value_name = "N", default_value_t = RollPolicy::default().records)]
    roll_records: u64,
    /// Roll a partition's batch this many seconds after its first record, even
    /// when nothing else arrives.
    #[arg(long, value_name = "N", default_value_t = RollPolicy::default().interval.as_secs())]
    roll_secs: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// Kafka consumer group (balances partitions between sinks; offsets
    /// committed there are for monitoring only: the lake is the truth).
    #[arg(long, value_name = "G", default_value = "billabong-sink")]
    group_id: String,
    /// Topic for records that fail to parse.
    #[arg(long, default_value = schemas::topics::DLQ_TOPIC)]
    dlq_topic: String,
}

impl SinkArgs {
    fn config(&self) -> anyhow::Result<SinkConfig> {
        let mut config = SinkConfig::new(&self.brokers, &self.lake);
        config.topics = self
            .topics
            .iter()
            .map(|t| t.parse::<TopicSpec>())
            .collect::<Result<_, _>>()?;
        config.roll = RollPolicy {
            bytes: self.roll_bytes,
            records: self.roll_records,
            interval: Duration::from_secs(self.roll_secs),
        };
        config.group_id.clone_from(&self.group_id);
        config.dlq_topic.clone_from(&self.dlq_topic);
        config.validate()?;
        Ok(config)
    }
}

/// Runs the sink until SIGINT/SIGTERM; prints a JSON summary line.
pub(crate) fn run(args: &SinkArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    telemetry::init_logs();
    let runtime = telemetry::runtime()?;
    let report = runtime.block_on(async {
        if let Some(addr) = args.metrics_addr {
            telemetry::serve_metrics(addr)?;
        }
        let shutdown = shutdown::on_signal("committing open batches, then stopping")?;
        sink::run(config, shutdown).await.context("sink failed")
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{{\"commits\":{},\"conflicts\":{},\"rows\":{},\"dlq\":{},\"files\":{}}}",
        report.commits, report.conflicts, report.rows, report.dlq_records, report.files
    )?;
    out.flush()?;
    Ok(())
}
