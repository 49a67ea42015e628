//! `billabong batch`: the lake into 3NF PostgreSQL and the batch views, once
//! or on a schedule. The work is `batch::run_once`; this module turns flags
//! into its config, shows progress, and prints each run's JSON summary.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use batch::{BatchConfig, Progress, RunSummary};
use indicatif::{ProgressBar, ProgressStyle};
use tracing::{info, warn};

use crate::units::parse_duration;
use crate::{shutdown, telemetry};

/// Where the ETL plans run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Engine {
    /// DataFusion in this process.
    Local,
    /// A Ballista scheduler (`--scheduler`).
    Ballista,
}

/// Arguments of `billabong batch`.
#[derive(Debug, clap::Args)]
pub(crate) struct BatchArgs {
    /// The lake: `s3://bucket/prefix` (endpoint, keys, region from AWS_*) or
    /// `file:///path`.
    #[arg(long, env = "BILLABONG_LAKE", value_name = "URL")]
    lake: String,
    /// PostgreSQL: `postgres://user[:password]@host:port/database`.
    #[arg(long, env = "BILLABONG_POSTGRES_URL", value_name = "URL")]
    postgres: String,
    /// Kafka brokers to publish finished runs to (unpublished runs go out
    /// with the next run that has brokers).
    #[arg(long, env = "BILLABONG_BROKERS", value_name = "LIST")]
    brokers: Option<String>,
    /// Run again every DUR (`30s`, `10m`, `1h`); a tick that falls while a
    /// run is going is skipped. Without it: one run, then exit.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    every: Option<Duration>,
    /// Also train the models after a successful run.
    #[arg(long)]
    train: bool,
    /// Where the ETL's DataFusion plans run.
    #[arg(long, value_enum, default_value = "local")]
    engine: Engine,
    /// The Ballista scheduler, `df://host:port` (with `--engine ballista`).
    /// Its executors read the lake themselves: give them the same `AWS_*`
    /// settings as this command.
    #[arg(long, value_name = "URL")]
    scheduler: Option<String>,
    /// The raw RSVP topic as the lake names it.
    #[arg(long, default_value = schemas::topics::RSVPS_TOPIC)]
    rsvps_topic: String,
    /// The raw race topic as the lake names it.
    #[arg(long, default_value = schemas::topics::RACE_TOPIC)]
    race_topic: String,
    /// Where finished runs are published.
    #[arg(long, default_value = schemas::topics::BATCH_RUNS_TOPIC)]
    runs_topic: String,
}

impl BatchArgs {
    fn config(&self) -> anyhow::Result<BatchConfig> {
        let engine = match (self.engine, &self.scheduler) {
            (Engine::Local, None) => batch::Engine::Local,
            (Engine::Local, Some(_)) => anyhow::bail!("--scheduler needs --engine ballista"),
            (Engine::Ballista, None) => anyhow::bail!(
                "--engine ballista needs --scheduler df://host:port (the Ballista scheduler)"
            ),
            (Engine::Ballista, Some(url)) => batch::Engine::ballista(url).context("--scheduler")?,
        };
        if self.every.is_some_and(|d| d.is_zero()) {
            anyhow::bail!("--every must be longer than 0s");
        }
        let mut config = BatchConfig::new(&self.lake, &self.postgres);
        config.brokers.clone_from(&self.brokers);
        config.rsvps_topic.clone_from(&self.rsvps_topic);
        config.race_topic.clone_from(&self.race_topic);
        config.runs_topic.clone_from(&self.runs_topic);
        config.train = self.train;
        config.engine = engine;
        Ok(config)
    }
}

/// A progress bar on a terminal; nothing otherwise (logs say the same).
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::new(1);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}") {
            bar.set_style(style);
        }
        Self(Some(bar))
    }
}

impl Progress for Bar {
    fn step(&self, what: &str, done: usize, total: usize) {
        if let Some(bar) = &self.0 {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(what.to_owned());
            if done == total {
                bar.finish_and_clear();
            }
        }
    }
}

/// Runs once, or every `--every` until SIGINT/SIGTERM; prints one JSON
/// summary line per run.
pub(crate) fn run(args: &BatchArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    telemetry::init_logs();
    let runtime = telemetry::runtime()?;
    runtime.block_on(async {
        let Some(every) = args.every else {
            let summary = batch::run_once(&config, &Bar::new())
                .await
                .context("batch run failed")?;
            return print(&summary);
        };
        let mut stop = std::pin::pin!(shutdown::on_signal(
            "finishing the current run, then stopping"
        )?);
        let mut ticks = tokio::time::interval(every);
        // A tick that fell during a long run is dropped, not run back to back.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                () = &mut stop => return Ok(()),
                _ = ticks.tick() => {}
            }
            match batch::run_once(&config, &Bar::new()).await {
                Ok(summary) => print(&summary)?,
                // A scheduled job keeps going: the next tick retries the same run.
                Err(e) => warn!(error = %e, "batch run failed; retrying at the next tick"),
            }
            info!(next_in_secs = every.as_secs(), "waiting for the next tick");
        }
    })
}

fn print(summary: &RunSummary) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, summary)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
