//! `billabong`: the one command-line entry point of the pipeline.
//!
//! Each subcommand lives in its own module, holding its clap arguments and a
//! `run` function; this file only parses the command line and turns an error
//! into a message and an exit status.
//!
//! - `validate`: checks a JSON Lines file against a feed's schema.
//! - `race-feed`: writes the race feed of the recorded lap data.

mod race_feed;
mod validate;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Billabong: a Kafka streaming-analytics pipeline for Meetup RSVPs and race timing.
#[derive(Debug, Parser)]
#[command(name = "billabong", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a JSON Lines file against a feed's schema and report what is wrong.
    ///
    /// Each non-blank line is one record, validated exactly as the producer does
    /// before Kafka. Blank lines (empty, or only spaces and tabs) are not records:
    /// they are skipped and counted. The report gives, per error kind, the count
    /// and the first offending record (line, JSON path, message, its first 120
    /// characters). Its last line is a JSON summary: {"valid":N,"invalid":M}.
    ///
    /// Exit status: 0 when the file was read to the end, invalid records or not;
    /// 2 on a usage error or when the file cannot be read.
    Validate(validate::ValidateArgs),
    /// Write the race feed of the recorded lap data as JSON Lines.
    ///
    /// Every race of the data set, in feed order, one event per line: the events
    /// the feed simulator replays. Counts of races, events and skipped source rows
    /// go to standard error.
    ///
    /// Exit status: 0 on success; 2 on a usage error or when the data cannot be
    /// read or the output cannot be written.
    RaceFeed(race_feed::RaceFeedArgs),
}

/// The exit status of a command that failed. Clap exits with 2 on usage errors;
/// using the same status for "could not do the job" gives scripts one test.
const FAILURE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate(args) => validate::run(args),
        Command::RaceFeed(args) => race_feed::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`billabong race-feed | head`): it has all it
        // wanted, which is not an error worth a message.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(io::stderr(), "billabong: error: {err:#}");
            ExitCode::from(FAILURE)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io_err| io_err.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_found_anywhere_in_the_chain() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::NotFound)).context("open x");
        assert!(!is_broken_pipe(&err));
        let pipe = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("w");
        assert!(is_broken_pipe(&pipe));
    }
}
