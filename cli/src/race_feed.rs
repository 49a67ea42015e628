//! `billabong race-feed`: the race feed of the recorded real lap data, written
//! out as JSON Lines.
//!
//! These are the events the feed simulator replays, so a file written here lets
//! any stage (and `billabong validate --feed race`) see the real feed without a
//! simulator, Kafka or network.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use producer::race_data::{RaceDataset, RaceRecording, load_races};

/// Arguments of `billabong race-feed`.
#[derive(Debug, clap::Args)]
pub(crate) struct RaceFeedArgs {
    /// The folder holding the recorded race CSV files (`shared/data/race`).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Which recorded data set to turn into a feed.
    #[arg(long, value_parser = dataset_parser(), default_value = "fia")]
    dataset: RaceDataset,
    /// Where to write the feed; standard output when absent or `-`.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Lists the accepted names in clap's errors and help, then defers to `RaceDataset`.
fn dataset_parser() -> impl TypedValueParser<Value = RaceDataset> {
    PossibleValuesParser::new(RaceDataset::ALL.map(RaceDataset::as_str))
        .try_map(|name| name.parse::<RaceDataset>())
}

/// Runs the command: loads every race of the data set, writes its events in
/// feed order and reports the counts on standard error.
///
/// The whole data set is loaded before the output is created, so a broken
/// fixture leaves no half-written file behind.
pub(crate) fn run(args: &RaceFeedArgs) -> anyhow::Result<()> {
    let races = load_races(&args.data, args.dataset).with_context(|| {
        format!(
            "cannot load the {} race data from {}",
            args.dataset,
            args.data.display()
        )
    })?;
    let (events, destination) = match args.output.as_deref() {
        Some(path) if path != Path::new("-") => {
            let destination = path.display().to_string();
            let file =
                File::create(path).with_context(|| format!("cannot create {destination}"))?;
            let events = write_feed(BufWriter::new(file), &races)
                .with_context(|| format!("cannot write {destination}"))?;
            (events, destination)
        }
        _ => {
            let events = write_feed(BufWriter::new(io::stdout().lock()), &races)
                .context("cannot write the feed to standard output")?;
            (events, "standard output".to_owned())
        }
    };
    report(&races, events, args.dataset, &destination);
    Ok(())
}

/// Writes every event of `races`, one JSON object per line, and returns how many.
fn write_feed(mut out: impl Write, races: &[RaceRecording]) -> io::Result<u64> {
    let mut events = 0;
    for event in races.iter().flat_map(|race| &race.events) {
        serde_json::to_writer(&mut out, event)?;
        out.write_all(b"\n")?;
        events += 1;
    }
    // `BufWriter` would drop a failed final write silently; flushing here
    // turns it into an error.
    out.flush()?;
    Ok(events)
}

/// Tells on standard error what was written and every source row left out, so
/// that nothing is dropped silently.
fn report(races: &[RaceRecording], events: u64, dataset: RaceDataset, destination: &str) {
    let skipped: usize = races.iter().map(|race| race.skipped.len()).sum();
    let mut err = io::stderr().lock();
    // Write errors are ignored: the feed is written, and a closed standard
    // error must not turn that into a failure.
    let _ = writeln!(
        err,
        "race-feed: wrote {events} events of {} {dataset} races to {destination}; \
         {skipped} source rows skipped",
        races.len()
    );
    for race in races {
        for row in &race.skipped {
            let _ = writeln!(err, "race-feed: skipped in {}: {row}", race.race_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dataset_name_parses_back() {
        for dataset in RaceDataset::ALL {
            assert_eq!(dataset.as_str().parse::<RaceDataset>().ok(), Some(dataset));
        }
    }
}
