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
            let _ = writeln!(io::stderr(), "billabong: error: {}", render(&err));
            ExitCode::from(FAILURE)
        }
    }
}

/// The error and its causes on one line, `: `-separated.
///
/// Some library errors print their source in their own message and also return
/// it from `source()` (`producer`'s `RaceDataError::Io` does), which anyhow's
/// `{:#}` would print twice; a cause that the line already ends with is left out.
fn render(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
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
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// An error that, like `RaceDataError::Io`, prints its source and returns it.
    #[derive(Debug)]
    struct Echoing(io::Error);

    impl std::fmt::Display for Echoing {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a.csv: {}", self.0)
        }
    }

    impl std::error::Error for Echoing {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn render_prints_each_cause_once() {
        let io_err = || io::Error::new(io::ErrorKind::NotFound, "gone");
        let err = anyhow::Error::new(Echoing(io_err())).context("cannot load");
        assert_eq!(render(&err), "cannot load: a.csv: gone");
        let err = anyhow::Error::new(io_err()).context("cannot open x");
        assert_eq!(render(&err), "cannot open x: gone");
        assert!(!is_broken_pipe(&err));
        let pipe = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("w");
        assert!(is_broken_pipe(&pipe));
    }
}
