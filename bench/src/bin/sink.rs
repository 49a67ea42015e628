//! `bench/sink` (issue #6): consume-only events/s (the limit) against
//! `billabong sink` (in-process `sink::run`, the code the CLI runs) to the
//! local filesystem and to the S3 server, until the lake's watermark reaches
//! the end of the topic; and Parquet bytes against raw JSON bytes.
//!
//! Needs the services (`scripts/services.sh up`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::kafka::{self, ConsumeStats};
use bench::payloads::{self, Payload};
use bench::{Row, Table};
use clap::Parser;
use schemas::Feed;
use sink::{Lake, RollPolicy, SinkConfig, TopicSpec};

/// Sink throughput and Parquet size.
#[derive(Debug, Parser)]
struct Args {
    /// Records per topic: the real lines, cycled (rounded down to a multiple
    /// of the partition count).
    #[arg(long, default_value_t = 200_000)]
    records: usize,
    /// Feeds to measure.
    #[arg(long, value_delimiter = ',', default_value = "rsvps,race")]
    feeds: Vec<Feed>,
    /// Partitions of every topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Lakes to write: `file`, `s3`.
    #[arg(long, value_delimiter = ',', default_value = "file,s3")]
    lakes: Vec<String>,
    /// Where `file://` lakes go.
    #[arg(long, default_value = "/var/tmp/billabong-bench")]
    work_dir: std::path::PathBuf,
    /// Keep the benchmark's topics instead of deleting them.
    #[arg(long)]
    keep_topics: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // The sink's own logs (partition assignments, commits, with timestamps)
    // explain where a slow run spends its time: `RUST_LOG=sink=debug`.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    std::fs::create_dir_all(&args.work_dir)?;
    let brokers = testkit::Services::get().kafka().brokers;
    let mut topics = Vec::new();
    let mut result = Ok(());
    for feed in args.feeds.clone() {
        result = bench_feed(&args, &brokers, feed, &mut topics).await;
        if result.is_err() {
            break;
        }
    }
    if !args.keep_topics {
        kafka::delete_topics(&brokers, &topics).await;
    }
    result
}

/// One feed: fill a topic, measure consume-only, then the sink per lake.
async fn bench_feed(
    args: &Args,
    brokers: &str,
    feed: Feed,
    topics: &mut Vec<String>,
) -> Result<()> {
    let lines = payloads::real_lines(feed);
    let count = args.records / args.partitions as usize * args.partitions as usize;
    let all = payloads::cycled(feed, &lines, count);
    let topic = filled_topic(brokers, feed, &all, args.partitions, topics).await?;
    let n = all.len() as u64;
    let json_bytes = payloads::total_bytes(&all);
    let mut table = Table::new(format!(
        "sink, {feed}: {n} records ({:.0} MB JSON), {} partitions",
        json_bytes as f64 / 1e6,
        args.partitions
    ));

    let stats = consume_only(brokers, &topic, n).await?;
    table.push(consume_row(
        "consume only: BaseConsumer poll, count",
        &stats.0,
    ));
    table.push(consume_row(
        "consume only: StreamConsumer recv, count",
        &stats.1,
    ));

    let per_partition = n / args.partitions as u64;
    for lake in &args.lakes {
        let url = lake_url(args, lake, feed)?;
        let dlq = kafka::fresh_name("sink-dlq");
        kafka::create_topics(brokers, &[&dlq], 1).await?;
        topics.push(dlq.clone());
        let layout = (args.partitions, per_partition);
        let run = sink_to_end(brokers, &url, &topic, &dlq, feed, layout).await?;
        table.push(
            Row::new(format!("billabong sink → {lake}"), n, run.elapsed).with_note(format!(
                "{} files, {:.1} MB Parquet = {:.3}× JSON",
                run.files,
                run.parquet_bytes as f64 / 1e6,
                run.parquet_bytes as f64 / json_bytes as f64
            )),
        );
    }
    table.print();

    // Cycled lines repeat byte for byte, which flatters Parquet's
    // dictionaries: the size goal is judged on the real lines, each once.
    let real = payloads::cycled(feed, &lines, lines.len());
    let real_topic = filled_topic(brokers, feed, &real, 1, topics).await?;
    let dlq = kafka::fresh_name("sink-dlq");
    kafka::create_topics(brokers, &[&dlq], 1).await?;
    topics.push(dlq.clone());
    let url = lake_url(args, "file", feed)?;
    let run = sink_to_end(
        brokers,
        &url,
        &real_topic,
        &dlq,
        feed,
        (1, real.len() as u64),
    )
    .await?;
    let real_json = payloads::total_bytes(&real);
    println!(
        "{feed}, the {} real lines once, 1 partition, one roll: {:.2} MB JSON → {:.2} MB Parquet = {:.3}× JSON ({} files)\n",
        real.len(),
        real_json as f64 / 1e6,
        run.parquet_bytes as f64 / 1e6,
        run.parquet_bytes as f64 / real_json as f64,
        run.files
    );
    Ok(())
}

/// A fresh topic holding `payloads`, spread evenly over `partitions`.
async fn filled_topic(
    brokers: &str,
    feed: Feed,
    payloads: &[Payload],
    partitions: i32,
    topics: &mut Vec<String>,
) -> Result<String> {
    let topic = kafka::fresh_name(&format!("sink-{feed}"));
    kafka::create_topics(brokers, &[&topic], partitions).await?;
    topics.push(topic.clone());
    let (b, t, all) = (brokers.to_owned(), topic.clone(), payloads.to_vec());
    tokio::task::spawn_blocking(move || kafka::fill(&b, &t, &all, partitions)).await??;
    Ok(topic)
}

fn consume_row(name: &str, stats: &ConsumeStats) -> Row {
    Row::new(name, stats.records, stats.elapsed).with_note(format!(
        "first record after {:.2} s (group join)",
        stats.first_record.as_secs_f64()
    ))
}

/// Both consume-only baselines, one after the other.
async fn consume_only(brokers: &str, topic: &str, n: u64) -> Result<(ConsumeStats, ConsumeStats)> {
    let (b, t) = (brokers.to_owned(), topic.to_owned());
    let base = tokio::task::spawn_blocking(move || kafka::consume_count(&b, &t, n)).await??;
    let stream = kafka::consume_count_stream(brokers, topic, n).await?;
    Ok((base, stream))
}

/// A fresh lake root of kind `file` or `s3`.
fn lake_url(args: &Args, kind: &str, feed: Feed) -> Result<String> {
    let name = testkit::unique_name(&format!("lake-{feed}"));
    match kind {
        "file" => Ok(format!("file://{}", args.work_dir.join(name).display())),
        "s3" => {
            let bucket = testkit::Services::get().lake().bucket;
            Ok(format!("s3://{bucket}/bench/{name}"))
        }
        other => bail!("unknown lake kind {other:?}: use file or s3"),
    }
}

/// What one sink run did.
struct SinkRun {
    elapsed: Duration,
    files: usize,
    parquet_bytes: u64,
}

/// Runs the sink from an empty lake until every partition's watermark is the
/// topic's last offset, timing start to that moment; then stops it.
/// `layout` is (partitions, records in each).
async fn sink_to_end(
    brokers: &str,
    url: &str,
    topic: &str,
    dlq: &str,
    feed: Feed,
    (partitions, per_partition): (i32, u64),
) -> Result<SinkRun> {
    let options = if url.starts_with("s3://") {
        testkit::lake::s3_options()
    } else {
        Vec::new()
    };
    let mut config = SinkConfig::new(brokers, url);
    config.topics = vec![TopicSpec {
        topic: topic.to_owned(),
        feed,
    }];
    // Each partition rolls exactly once, on its last record: the run ends
    // on a count, never on the roll timer.
    config.roll = RollPolicy {
        records: per_partition,
        bytes: u64::MAX,
        interval: Duration::from_secs(3600),
    };
    config.group_id = testkit::unique_name("bench-sink");
    config.dlq_topic = dlq.to_owned();
    config.storage_options = options.clone();
    let lake = Lake::open_with_options(url, &options)?;
    let want: BTreeMap<i32, i64> = (0..partitions)
        .map(|p| (p, per_partition as i64 - 1))
        .collect();

    let start = Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut running = tokio::spawn(sink::run(config, async move {
        let _ = stopped.await;
    }));
    let elapsed = loop {
        if running.is_finished() {
            bail!("the sink stopped early: {:?}", (&mut running).await?);
        }
        if lake.watermarks(topic).await? == want {
            break start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(900) {
            bail!("the lake did not reach the end within 15 min");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = stop.send(());
    let report = running.await?.context("the sink failed")?;
    let files = lake.committed_files(topic).await?;
    if report.dlq_records != 0 {
        eprintln!(
            "note: the sink sent {} records to the DLQ",
            report.dlq_records
        );
    }
    Ok(SinkRun {
        elapsed,
        files: files.len(),
        parquet_bytes: files.iter().map(|f| f.bytes).sum(),
    })
}
