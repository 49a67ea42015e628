//! `billabong simulate`: the feed simulator, a websocket server replaying the
//! recorded real data as a live feed would (`producer::simulator`).
//!
//! Thin by design: flags → `SimulatorConfig` → telemetry → bind → print the
//! URLs → run until SIGINT/SIGTERM.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use producer::race_data::RaceDataset;
use producer::simulator::{FeedData, Simulator, SimulatorConfig, Speed};
use schemas::Feed;

use crate::{shutdown, telemetry};

/// The contract a client can rely on, shown by `billabong simulate --help`.
const CONTRACT: &str = "\
Routes:
  rsvps  ws://ADDR/2/rsvps          the recorded lines, byte for byte, one text frame
                                    each (a line that is not UTF-8: a binary frame)
  race   ws://ADDR/race             every race in sequence
         ws://ADDR/race/<race_id>   one race
  Any route takes ?since_mtime=<ms>. An unknown path gets HTTP 404, a bad
  since_mtime HTTP 400, each with the reason as text.

Feed clock (shared with `billabong produce`):
  A record's event time is `mtime` (rsvps) or `ts` (race); a record without a
  readable one keeps the clock of the record before it. The feed clock c_i is
  the running maximum of event times up to record i (recorded RSVPs go
  backwards 234 times; the clock never does). Record i+1 is sent
  (c_{i+1} - c_i) / speed after record i; between two races of /race and
  between two --loop laps the pause is 10 s of feed time instead (races are
  days apart). --speed max sends as fast as the client reads.

Catch-up:
  ?since_mtime=T starts at the first record whose clock is >= T. A client
  that passes the highest event time it has seen loses nothing; it gets again
  the records it already had at clock T, which it must drop (against this
  simulator: the first n records at clock T are the n it had). Beyond the end
  nothing is sent and the connection stays open (with --loop: the next lap).

Slow clients:
  At a paced speed a client more than --max-lag behind its schedule is closed
  with code 1008 \"client too slow: N s behind the feed\". Writes are buffered per
  connection up to a fixed bound, never without limit. Clients are pinged every
  20 s and dropped after 60 s without a frame (pongs count).

Output and exit status:
  Each URL is printed on a line of its own on standard output once the server
  listens (--listen with port 0 prints the real port); logs go to standard
  error. SIGINT/SIGTERM close every connection with code 1001 and exit 0.
  Exit 2 on a bad flag, unreadable data, or an address that cannot be bound.";

/// Arguments of `billabong simulate`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = CONTRACT)]
pub(crate) struct SimulateArgs {
    /// Which feed the data holds.
    #[arg(long, value_parser = feed_parser())]
    feed: Feed,
    /// The recorded data: a JSON Lines file (either feed; for race, as written
    /// by `billabong race-feed`), or the race data folder (shared/data/race).
    #[arg(long, value_name = "PATH")]
    data: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Feed time per wall time: a number above zero (1 = real time, 1000 =
    /// a thousand times faster), or `max` (as fast as each client reads).
    #[arg(
        long,
        value_name = "N|max",
        default_value = "1",
        allow_negative_numbers = true
    )]
    speed: Speed,
    /// At the end start again from the beginning, with the same bytes (ids
    /// repeat from lap to lap).
    #[arg(long = "loop")]
    repeat: bool,
    /// Load tests only: follow each record by K-1 derived copies with fresh
    /// ids (RSVP: rsvp_id + j*10^10, mtime + j ms; race: race_id + "-xj").
    #[arg(long, value_name = "K", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    scale: u32,
    /// Which data set of the race data folder (only with a folder).
    #[arg(long, value_parser = dataset_parser())]
    dataset: Option<RaceDataset>,
    /// Seconds a client may fall behind its schedule at a paced speed before
    /// it is disconnected.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    max_lag: Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
}

/// Lists the accepted names in clap's errors and help, then defers to `Feed`.
fn feed_parser() -> impl TypedValueParser<Value = Feed> {
    PossibleValuesParser::new(Feed::ALL.map(Feed::as_str)).try_map(|name| name.parse::<Feed>())
}

/// Lists the accepted names in clap's errors and help, then defers to `RaceDataset`.
fn dataset_parser() -> impl TypedValueParser<Value = RaceDataset> {
    PossibleValuesParser::new(RaceDataset::ALL.map(RaceDataset::as_str))
        .try_map(|name| name.parse::<RaceDataset>())
}

/// A duration in seconds above zero (`10`, `0.5`).
fn parse_secs(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("expected a number of seconds above zero, got {text:?}"))
}

/// Runs the simulator until SIGINT or SIGTERM.
pub(crate) fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let config = config(args)?;
    telemetry::init_logs();
    let runtime = telemetry::runtime()?;
    runtime.block_on(async {
        // Installed before the URLs are announced, so a script that signals
        // right after reading them gets a clean shutdown, not a killed process.
        let shutdown = shutdown::on_signal("closing every connection")?;
        if let Some(addr) = args.metrics_addr {
            telemetry::serve_metrics(addr)?;
        }
        let simulator = Simulator::bind(config)
            .await
            .context("cannot start the feed simulator")?;
        announce(simulator.urls()).context("cannot write the URLs to standard output")?;
        simulator.run(shutdown).await?;
        Ok(())
    })
}

/// The library configuration of the flags; a folder is race data, a file
/// JSON Lines.
fn config(args: &SimulateArgs) -> anyhow::Result<SimulatorConfig> {
    let data = if args.data.is_dir() {
        if args.feed != Feed::Race {
            bail!(
                "--data {} is a folder: the {} feed is served from a JSON Lines file",
                args.data.display(),
                args.feed
            );
        }
        FeedData::RaceData {
            dir: args.data.clone(),
            dataset: args.dataset.unwrap_or(RaceDataset::Fia),
        }
    } else {
        if args.dataset.is_some() {
            bail!(
                "--dataset applies to the race data folder, and --data {} is not a folder",
                args.data.display()
            );
        }
        FeedData::JsonLines(args.data.clone())
    };
    let mut config = SimulatorConfig::new(args.feed, data, args.listen);
    config.speed = args.speed;
    config.repeat = args.repeat;
    config.scale = args.scale;
    config.max_lag = args.max_lag;
    Ok(config)
}

/// Prints each URL on its own line and flushes, so a script reading standard
/// output sees them at once.
fn announce(urls: &[String]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for url in urls {
        writeln!(out, "{url}")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_must_be_above_zero() {
        assert_eq!(parse_secs("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "ten", "inf", "NaN"] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
    }
}
