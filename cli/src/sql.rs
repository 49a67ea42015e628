//! `billabong sql`: read-only SQL over the lake's raw tables, the 3NF tables
//! and the batch views. The engine is the `sql` crate; this module turns
//! flags into its config and picks the front end: `-c`/`-f` (or piped
//! standard input) run a script, a terminal gets the REPL.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use schemas::Feed;
use sql::{LakeTable, Limits, OutputFormat, SqlConfig, SqlSession};

use crate::telemetry;
use crate::units::{parse_duration, parse_size};

/// Arguments of `billabong sql`.
#[derive(Debug, clap::Args)]
pub(crate) struct SqlArgs {
    /// The lake: `s3://bucket/prefix` (endpoint, keys, region from AWS_*) or
    /// `file:///path`. Its raw topics appear as `lake.rsvps` and `lake.race`.
    #[arg(long, env = "BILLABONG_LAKE", value_name = "URL")]
    lake: Option<String>,
    /// PostgreSQL URL. Every table and view of its `public` schema appears
    /// under its own name (`rsvps` is the 3NF table, `lake.rsvps` the raw lake).
    #[arg(long, env = "BILLABONG_POSTGRES_URL", value_name = "URL")]
    postgres: Option<String>,
    /// Run these statements (separated by `;`) and exit.
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        conflicts_with = "file"
    )]
    command: Option<String>,
    /// Run the statements of this file (separated by `;`) and exit.
    #[arg(short = 'f', long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Output format: `table`, `csv`, or `json` (one object per line).
    #[arg(long, value_name = "FMT", default_value = "table")]
    format: OutputFormat,
    /// Memory one query may use for joins, sorts and aggregations:
    /// `512MiB`, `2GiB`, or bytes.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    memory_limit: usize,
    /// Time one statement may run before it is cancelled: `500ms`, `30s`, `5m`.
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    time_limit: Duration,
    /// Rows shown at most; the rest are counted and reported as cut.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_rows)]
    max_rows: usize,
    /// Topic behind `lake.rsvps`.
    #[arg(long, value_name = "TOPIC", default_value = schemas::topics::RSVPS_TOPIC)]
    rsvps_topic: String,
    /// Topic behind `lake.race`.
    #[arg(long, value_name = "TOPIC", default_value = schemas::topics::RACE_TOPIC)]
    race_topic: String,
}

impl SqlArgs {
    fn config(&self) -> SqlConfig {
        SqlConfig {
            lake: self.lake.clone(),
            lake_options: Vec::new(),
            lake_tables: vec![
                LakeTable {
                    name: "rsvps".to_owned(),
                    topic: self.rsvps_topic.clone(),
                    feed: Feed::Rsvps,
                },
                LakeTable {
                    name: "race".to_owned(),
                    topic: self.race_topic.clone(),
                    feed: Feed::Race,
                },
            ],
            postgres: self.postgres.clone(),
            limits: Limits {
                memory_bytes: self.memory_limit,
                time: self.time_limit,
                max_rows: self.max_rows,
                ..Limits::default()
            },
        }
    }
}

/// Opens the session, then runs the script or the REPL.
pub(crate) fn run(args: &SqlArgs) -> anyhow::Result<()> {
    telemetry::init_logs();
    if args.lake.is_none() && args.postgres.is_none() {
        tracing::warn!(
            "Neither --lake nor --postgres given: only VALUES and generate_series to query."
        );
    }
    let runtime = telemetry::runtime()?;
    let session = runtime
        .block_on(SqlSession::open(args.config()))
        .context("cannot open the SQL session")?;
    let script = match (&args.command, &args.file) {
        (Some(sql), _) => Some(sql.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        (None, None) if !std::io::stdin().is_terminal() => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read standard input")?;
            Some(text)
        }
        (None, None) => None,
    };
    match script {
        Some(sql) => {
            let mut out = std::io::stdout().lock();
            let mut log = std::io::stderr().lock();
            runtime.block_on(sql::repl::run_script(
                &session,
                &sql,
                args.format,
                &mut out,
                &mut log,
            ))?;
        }
        None => sql::repl::run_interactive(&session, args.format, runtime.handle())?,
    }
    Ok(())
}
