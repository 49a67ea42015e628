//! `billabong`: the one command-line entry point of the pipeline.
//!
//! Each subcommand lives in its own module, holding its clap arguments and a
//! `run` function; this file only parses the command line and turns an error
//! into a message and an exit status.
//!
//! - `validate`: checks a JSON Lines file against a feed's schema.
//! - `race-feed`: writes the race feed of the recorded lap data.
//! - `simulate`: serves recorded data as a live websocket feed.
//! - `sink`: the raw topics into the Parquet lake, exactly once.
//! - `lake`: `ls` and `compact` the lake.
//! - `produce`: a websocket feed or JSON Lines file into Kafka, exactly once.
//! - `stream`: the speed layer, raw topics to live metric updates, exactly once.
//! - `batch`: the lake into 3NF PostgreSQL and the batch views, on a schedule or once.
//! - `sql`: read-only SQL over the lake, the 3NF tables and the batch views.
//! - `serve`: the merged batch + real-time views over HTTP.

mod batch;
mod lake;
mod produce;
mod race_feed;
mod serve;
mod shutdown;
mod simulate;
mod sink;
mod sql;
mod stream;
mod telemetry;
mod units;
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
    /// Serve recorded data as a live websocket feed, paced by its own clock.
    ///
    /// RSVPs at /2/rsvps, byte for byte; race events at /race (all races) and
    /// /race/<race_id>. Prints each URL on a line of its own on standard output,
    /// then serves until SIGINT/SIGTERM. The full contract (feed clock,
    /// ?since_mtime= catch-up, slow clients) is below in --help.
    ///
    /// Exit status: 0 after SIGINT/SIGTERM; 2 on a bad flag, unreadable data, or
    /// an address that cannot be bound.
    Simulate(simulate::SimulateArgs),
    /// Land the raw topics in the Parquet lake, exactly once.
    ///
    /// Each partition is resumed from the lake's commit records; batches roll
    /// by size, record count and age; SIGINT/SIGTERM commit open batches and
    /// stop. The last line of standard output is a JSON summary:
    /// {"commits":N,"conflicts":N,"rows":N,"dlq":N,"files":N}.
    ///
    /// Exit status: 0 after a signal; 2 on a usage error or a failure.
    Sink(sink::SinkArgs),
    /// Inspect (`ls`) or compact (`compact`) the Parquet lake.
    Lake(lake::LakeArgs),
    /// Produce a feed into Kafka: validated, exactly once, invalid records to the DLQ.
    ///
    /// Reads a websocket feed (reconnecting with `since_mtime` and dropping the
    /// overlap) or a JSON Lines file, and writes valid records to the raw topic
    /// and invalid ones, unchanged, to the DLQ, in Kafka transactions. A restart
    /// with the same transactional id (even after SIGKILL) resumes exactly where
    /// the committed records end. SIGINT/SIGTERM stop reading and commit what is
    /// in flight. The last line of standard output is a JSON summary:
    /// {"received":N,"produced":N,"dlq":N,"reconnects":N,"duplicates_dropped":N}.
    ///
    /// Exit status: 0 when the run ended normally; 2 on a usage error or a
    /// failure (the message names it).
    Produce(produce::ProduceArgs),
    /// The speed layer: live metric updates from the raw topics, exactly once.
    ///
    /// Consumes read_committed, computes event-time metrics (RSVP counts,
    /// yes-ratios, rate, guests, popular topics; race order, gaps, lap times,
    /// passes, pit stops, fastest lap, clumpiness) and publishes changed values
    /// to the metrics topic in Kafka transactions that carry the consumed
    /// offsets. On start the state is rebuilt by replay from the committed
    /// start; nothing is published twice. SIGINT/SIGTERM commit and stop. The
    /// last line of standard output is a JSON summary:
    /// {"records":N,"replayed":N,"messages":N,"updates":N,"dlq":N,"late":N,"transactions":N}.
    ///
    /// Exit status: 0 after a signal; 2 on a usage error or a failure.
    Stream(stream::StreamArgs),
    /// Serve the merged batch + real-time views over HTTP.
    ///
    /// GET /api/views/<view> answers the newest batch run's view plus the
    /// speed layer's rows after its watermark, with the offsets it covers;
    /// /api/live, /health, /ready and /metrics. Prints its URL, then serves
    /// until SIGINT/SIGTERM.
    ///
    /// Exit status: 0 after a signal; 2 on a bad flag or a failure.
    Serve(serve::ServeArgs),
    /// The batch layer: the lake's committed files into 3NF PostgreSQL and
    /// the batch views, exactly once per offset.
    ///
    /// Loads the offsets past the last successful run's watermark (binary
    /// COPY into staging tables, merged in one transaction with the views and
    /// the run's record in batch_runs), then publishes the run to the
    /// batch-runs topic. Applies its own schema migrations. A killed run
    /// leaves nothing half-done; the rerun takes the same run id. Prints a
    /// JSON summary line per run (status, run_id, watermarks, rows per table
    /// and view).
    ///
    /// Exit status: 0 after a run (or, with --every, after a signal); 2 on a
    /// usage error or a failed run.
    Batch(batch::BatchArgs),
    /// Read-only SQL over the lake's raw tables, the 3NF tables and the batch views.
    ///
    /// `lake.rsvps` and `lake.race` are every committed row of the raw topics;
    /// every table and view of PostgreSQL's `public` schema appears under its
    /// own name. Only SELECT/WITH/VALUES, EXPLAIN, SHOW TABLES, SHOW COLUMNS
    /// and DESCRIBE run: DDL, DML, COPY, CREATE EXTERNAL TABLE, SET and file or
    /// URL tables are refused with their class named. Each statement runs
    /// under --memory-limit, --time-limit and --max-rows.
    ///
    /// With -c or -f (or SQL piped on standard input) the statements run in
    /// order, results go to standard output in --format, and a line
    /// "N rows in X ms" per statement to standard error. Otherwise an
    /// interactive prompt: statements end with `;`, \d lists tables,
    /// \d NAME describes one, \q quits; history in ~/.billabong_history.
    ///
    /// Exit status: 0 when every statement ran; 2 on a usage error, a refused
    /// or failed statement (the message names it), or when a source cannot
    /// be opened.
    Sql(sql::SqlArgs),
}

/// The exit status of a command that failed. Clap exits with 2 on usage errors;
/// using the same status for "could not do the job" gives scripts one test.
const FAILURE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate(args) => validate::run(args),
        Command::RaceFeed(args) => race_feed::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Sink(args) => sink::run(args),
        Command::Lake(args) => lake::run(args),
        Command::Produce(args) => produce::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Batch(args) => batch::run(args),
        Command::Sql(args) => sql::run(args),
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
