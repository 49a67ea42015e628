//! `billabong lake`: inspecting and maintaining the Parquet lake through its
//! records (never through directory listings, which include orphans).

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use sink::{CompactOptions, Lake};

use crate::telemetry;
use crate::units::parse_duration;

/// Arguments of `billabong lake`.
#[derive(Debug, clap::Args)]
pub(crate) struct LakeArgs {
    #[command(subcommand)]
    command: LakeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LakeCommand {
    /// List committed files, rows, bytes, offset ranges and the watermark of
    /// every topic-partition.
    Ls {
        /// The lake: `s3://bucket/prefix` or `file:///path`.
        #[arg(long, env = "BILLABONG_LAKE", value_name = "URL")]
        lake: String,
        /// Print only the per-partition summaries, not every file.
        #[arg(long)]
        summary: bool,
    },
    /// Merge small committed files of each partition's hour folder into one,
    /// atomically for readers, then delete orphans and superseded files.
    Compact {
        /// The lake: `s3://bucket/prefix` or `file:///path`.
        #[arg(long, env = "BILLABONG_LAKE", value_name = "URL")]
        lake: String,
        /// Only touch files committed (or orphaned) longer ago than this:
        /// `90s`, `10m`, `1h`, `2d`. Must exceed the longest query and the
        /// longest stall of a sink between upload and commit.
        #[arg(long, value_name = "DUR", default_value = "1h", value_parser = parse_duration)]
        older_than: Duration,
        /// Keep orphans and superseded files.
        #[arg(long)]
        no_gc: bool,
    },
}

/// Runs `lake ls` or `lake compact`.
pub(crate) fn run(args: &LakeArgs) -> anyhow::Result<()> {
    telemetry::init_logs();
    let runtime = telemetry::runtime()?;
    match &args.command {
        LakeCommand::Ls { lake, summary } => runtime.block_on(ls(lake, *summary)),
        LakeCommand::Compact { lake, older_than, no_gc } => runtime.block_on(async {
            let lake = Lake::open(lake)?;
            let opts = CompactOptions {
                older_than: *older_than,
                gc: !no_gc,
                ..CompactOptions::default()
            };
            let report = sink::compact(&lake, opts).await.context("compaction failed")?;
            writeln!(
                std::io::stdout().lock(),
                "{{\"merges\":{},\"files_replaced\":{},\"orphans_deleted\":{},\"superseded_deleted\":{}}}",
                report.merges, report.files_replaced, report.orphans_deleted, report.superseded_deleted
            )?;
            Ok(())
        }),
    }
}

async fn ls(url: &str, summary: bool) -> anyhow::Result<()> {
    let lake = Lake::open(url)?;
    let mut out = std::io::stdout().lock();
    for topic in lake.topics().await.context("cannot list topics")? {
        let files = lake.committed_files(&topic).await?;
        let watermarks = lake.watermarks(&topic).await?;
        for (&partition, &watermark) in &watermarks {
            let mine: Vec<_> = files.iter().filter(|f| f.partition == partition).collect();
            if !summary {
                for f in &mine {
                    writeln!(
                        out,
                        "{}\t{}\t{}-{}\t{} rows\t{} bytes",
                        topic, partition, f.first, f.last, f.rows, f.bytes
                    )?;
                    writeln!(out, "\t{}", f.path)?;
                }
            }
            let rows: u64 = mine.iter().map(|f| f.rows).sum();
            let bytes: u64 = mine.iter().map(|f| f.bytes).sum();
            let first = mine.iter().map(|f| f.first).min();
            let last = mine.iter().map(|f| f.last).max();
            let range = first
                .zip(last)
                .map_or_else(|| "-".to_owned(), |(a, b)| format!("{a}-{b}"));
            writeln!(
                out,
                "{topic}\t{partition}\tfiles={}\trows={rows}\tbytes={bytes}\toffsets={range}\twatermark={watermark}",
                mine.len()
            )?;
        }
    }
    Ok(())
}
