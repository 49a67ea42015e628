//! `billabong produce`: a feed (websocket or JSON Lines file) into Kafka,
//! validated, exactly once. The work is `producer::ingest::run`; this module
//! turns flags into its config, starts logs and metrics, wires the signals to
//! its shutdown and prints the summary.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use producer::ingest::{self, IngestConfig, SourceSpec, default_transactional_id};
use schemas::Feed;

use crate::{shutdown, telemetry};

/// Arguments of `billabong produce`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProduceArgs {
    /// The feed whose schema every record is validated against.
    #[arg(long, value_parser = feed_parser())]
    feed: Feed,
    /// Where records come from: `ws://HOST:PORT/PATH` (a live feed; reconnects
    /// with `since_mtime`) or `file:PATH` (a JSON Lines backlog, produced as
    /// fast as Kafka takes it; the run ends at its end).
    #[arg(long, value_name = "URL")]
    source: String,
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    #[arg(long, env = "BILLABONG_BROKERS", value_name = "LIST")]
    brokers: String,
    /// Topic for valid records [default: billabong.rsvps or billabong.race].
    #[arg(long)]
    topic: Option<String>,
    /// Topic for invalid records, unchanged, with the reason in headers.
    #[arg(long, default_value = schemas::topics::DLQ_TOPIC)]
    dlq_topic: String,
    /// Partitions of a topic created because it is missing.
    #[arg(long, default_value_t = 6, value_name = "N")]
    partitions: i32,
    /// Stop after this many records were received (dropped duplicates included).
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
    /// Stop when nothing arrived for this many seconds (fractions allowed).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    idle_exit: Option<Duration>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// Kafka transactional id; a restart with the same id resumes exactly
    /// where the committed records end [default: billabong-produce-FEED-TOPIC].
    #[arg(long, value_name = "ID")]
    transactional_id: Option<String>,
}

/// Accepts exactly the names `Feed` parses, listing them in clap's errors and help.
fn feed_parser() -> impl TypedValueParser<Value = Feed> {
    PossibleValuesParser::new(Feed::ALL.map(Feed::as_str)).try_map(|name| name.parse::<Feed>())
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| format!("{text:?} is not a positive number of seconds"))
}

impl ProduceArgs {
    fn config(&self) -> anyhow::Result<IngestConfig> {
        let source: SourceSpec = self.source.parse()?;
        let mut config = IngestConfig::new(self.feed, source, self.brokers.trim());
        if let Some(topic) = &self.topic {
            config.topic.clone_from(topic);
        }
        config.dlq_topic.clone_from(&self.dlq_topic);
        config.transactional_id = self
            .transactional_id
            .clone()
            .unwrap_or_else(|| default_transactional_id(self.feed, &config.topic));
        config.partitions = self.partitions;
        config.max_events = self.max_events;
        config.idle_exit = self.idle_exit;
        config.validate()?;
        Ok(config)
    }
}

/// Runs the command. The summary is printed as the last line of standard
/// output when the run ends normally (source exhausted, a limit, a signal).
pub(crate) fn run(args: &ProduceArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    telemetry::init_logs();
    let runtime = telemetry::runtime()?;
    let summary = runtime.block_on(async {
        if let Some(addr) = args.metrics_addr {
            telemetry::serve_metrics(addr)?;
        }
        ingest::run(
            config,
            shutdown::on_signal("flushing and committing what is in flight")?,
        )
        .await
        .context("producing failed")
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", summary.to_json_line())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accept_fractions_and_reject_nonsense() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
