//! `bench/producer` (issue #4): events/s of raw rdkafka producing the real
//! payloads (the pipe's limit on this machine) against `billabong produce`
//! from a `file:` backlog and from the websocket simulator at `--speed max`,
//! with the ratios; or, with `--mode live`, produce→consume latency with a
//! paced producer and a concurrent `read_committed` consumer.
//!
//! Needs the services (`scripts/services.sh up`) and the release `billabong`
//! binary beside this one (`cargo build --release -p billabong-cli`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bench::billabong::{self, ProduceRun};
use bench::kafka::{self, RawMode};
use bench::live::{self, Latency};
use bench::payloads::{self, Payload};
use bench::{Row, Table};
use bytes::Bytes;
use clap::Parser;
use producer::simulator::{FeedData, Simulator, SimulatorConfig, Speed};
use schemas::Feed;

/// Producer throughput, or live latency.
#[derive(Debug, Parser)]
struct Args {
    /// `backlog` (throughput of each path) or `live` (paced latency).
    #[arg(long, default_value = "backlog", value_parser = ["backlog", "live"])]
    mode: String,
    /// Records per path: the real lines, cycled.
    #[arg(long, default_value_t = 200_000)]
    records: usize,
    /// Feeds to measure (backlog mode).
    #[arg(long, value_delimiter = ',', default_value = "rsvps,race")]
    feeds: Vec<Feed>,
    /// Partitions of every topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Live mode: records/s the producer is paced at.
    #[arg(long, default_value_t = 2_000.0)]
    rate: f64,
    /// Live mode: seconds of producing.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Live mode: records/s the consumer is held to (default: unthrottled).
    #[arg(long)]
    consumer_rate: Option<f64>,
    /// The `billabong` binary (default: beside this one).
    #[arg(long)]
    billabong: Option<PathBuf>,
    /// Where the JSON Lines backlog and the producer logs go.
    #[arg(long, default_value = "/var/tmp/billabong-bench")]
    work_dir: PathBuf,
    /// Keep the benchmark's topics instead of deleting them.
    #[arg(long)]
    keep_topics: bool,
}

/// Shared by every measurement of one run.
struct Ctx {
    args: Args,
    brokers: String,
    binary: PathBuf,
    topics: Vec<String>,
}

impl Ctx {
    /// A fresh topic, created now and remembered for deletion.
    async fn topic(&mut self, prefix: &str) -> Result<String> {
        let name = kafka::fresh_name(prefix);
        kafka::create_topics(&self.brokers, &[&name], self.args.partitions).await?;
        self.topics.push(name.clone());
        Ok(name)
    }

    /// Fresh raw and DLQ topics for one `billabong produce` run.
    async fn produce_topics(&mut self, feed: Feed) -> Result<(String, String)> {
        let topic = self.topic(&format!("{feed}-billabong")).await?;
        let dlq = self.topic(&format!("{feed}-dlq")).await?;
        Ok((topic, dlq))
    }

    /// Runs `billabong produce` from `source` into fresh topics.
    async fn produce(&mut self, feed: Feed, source: &str, extra: &[&str]) -> Result<ProduceRun> {
        let (topic, dlq) = self.produce_topics(feed).await?;
        self.produce_into(feed, source, &topic, &dlq, extra).await
    }

    /// Runs `billabong produce` from `source` into `topic` and `dlq`.
    async fn produce_into(
        &self,
        feed: Feed,
        source: &str,
        topic: &str,
        dlq: &str,
        extra: &[&str],
    ) -> Result<ProduceRun> {
        let mut args = billabong::produce_args(
            feed.as_str(),
            source,
            &self.brokers,
            topic,
            dlq,
            self.args.partitions,
        );
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let log = self.args.work_dir.join(format!("{topic}.log"));
        let binary = self.binary.clone();
        tokio::task::spawn_blocking(move || billabong::produce(&binary, &args, &log)).await?
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work_dir)?;
    let brokers = testkit::Services::get().kafka().brokers;
    let binary = args
        .billabong
        .clone()
        .unwrap_or_else(billabong::default_binary);
    if !binary.is_file() {
        bail!(
            "{} not found: run `cargo build --release -p billabong-cli` with the same CARGO_TARGET_DIR, or pass --billabong",
            binary.display()
        );
    }
    let mut ctx = Ctx {
        args,
        brokers,
        binary,
        topics: Vec::new(),
    };
    let result = if ctx.args.mode == "live" {
        live_mode(&mut ctx).await
    } else {
        let feeds = ctx.args.feeds.clone();
        let mut result = Ok(());
        for feed in feeds {
            result = backlog(&mut ctx, feed).await;
            if result.is_err() {
                break;
            }
        }
        result
    };
    if !ctx.args.keep_topics {
        kafka::delete_topics(&ctx.brokers, &ctx.topics).await;
    }
    result
}

/// One feed in backlog mode: every path produces the same payloads.
async fn backlog(ctx: &mut Ctx, feed: Feed) -> Result<()> {
    let payloads = payloads::cycled(feed, &payloads::real_lines(feed), ctx.args.records);
    let n = payloads.len() as u64;
    let valid = payloads::valid_count(&payloads);
    let mb = payloads::total_bytes(&payloads) as f64 / 1e6;
    eprintln!("{feed}: {n} records ({valid} valid), {mb:.1} MB");
    let mut table = Table::new(format!(
        "producer, {feed}: {n} records ({mb:.0} MB, {valid} valid), {} partitions",
        ctx.args.partitions
    ));
    let payloads = std::sync::Arc::new(payloads);

    // Warm-up, not reported: the first producer of a run pays for broker
    // connections, metadata and page cache that later ones do not.
    let warm = ctx.topic(&format!("{feed}-warmup")).await?;
    let (brokers, all) = (ctx.brokers.clone(), std::sync::Arc::clone(&payloads));
    tokio::task::spawn_blocking(move || {
        let head = &all[..all.len().min(20_000)];
        kafka::produce_raw(&brokers, &warm, head, RawMode::Idempotent)
    })
    .await??;

    for (name, mode) in [
        ("raw rdkafka, idempotent acks=all", RawMode::Idempotent),
        (
            "raw rdkafka + transaction per 20k",
            RawMode::Transactional(20_000),
        ),
    ] {
        let topic = ctx.topic(&format!("{feed}-raw")).await?;
        let (brokers, all) = (ctx.brokers.clone(), std::sync::Arc::clone(&payloads));
        let elapsed =
            tokio::task::spawn_blocking(move || kafka::produce_raw(&brokers, &topic, &all, mode))
                .await??;
        eprintln!("  {name}: {elapsed:?}");
        table.push(Row::new(name, n, elapsed));
    }

    // The fixed cost of one run (process start, topic metadata,
    // init_transactions, reading back the empty tail, the last commit):
    // one record, the fastest of three.
    let one = ctx.args.work_dir.join(format!("{feed}-one.jsonl"));
    payloads::write_jsonl(&one, &payloads[..1])?;
    let mut fixed = Duration::MAX;
    for _ in 0..3 {
        let source = format!("file:{}", one.display());
        fixed = fixed.min(ctx.produce(feed, &source, &[]).await?.elapsed);
    }
    eprintln!("  fixed cost of a billabong produce run: {fixed:?}");

    let file = ctx.args.work_dir.join(format!("{feed}-{n}.jsonl"));
    payloads::write_jsonl(&file, &payloads)?;
    let run = ctx
        .produce(feed, &format!("file:{}", file.display()), &[])
        .await?;
    check(&run, n, valid)?;
    eprintln!("  billabong produce file: {:?}", run.elapsed);
    table.push(billabong_row(
        "billabong produce --source file:",
        n,
        &run,
        fixed,
    ));

    let run = websocket(ctx, feed, &payloads).await?;
    check(&run, n, valid)?;
    eprintln!("  billabong produce ws: {:?}", run.elapsed);
    table.push(billabong_row(
        "simulator (in-process, speed max) + billabong produce --source ws://",
        n,
        &run,
        fixed,
    ));
    table.print();
    Ok(())
}

/// A `billabong produce` row; its note gives the rate without the fixed cost.
fn billabong_row(name: &str, n: u64, run: &ProduceRun, fixed: Duration) -> Row {
    let steady = run.elapsed.saturating_sub(fixed).as_secs_f64();
    let without = if steady > 0.0 {
        format!("{:.0}/s", n as f64 / steady)
    } else {
        "n/a".to_owned()
    };
    Row::new(name, n, run.elapsed).with_note(format!(
        "{without} without the {:.2} s fixed cost; summary {}",
        fixed.as_secs_f64(),
        run.summary
    ))
}

/// Nothing lost, nothing invented: the benchmark measures a correct run only.
fn check(run: &ProduceRun, n: u64, valid: u64) -> Result<()> {
    let (produced, dlq) = (run.count("produced"), run.count("dlq"));
    if run.count("received") != n || produced != valid || dlq != n - valid {
        bail!(
            "billabong produce summary {} does not match {n} records ({valid} valid)",
            run.summary
        );
    }
    Ok(())
}

/// The websocket path at `--speed max`.
async fn websocket(ctx: &mut Ctx, feed: Feed, payloads: &[Payload]) -> Result<ProduceRun> {
    let messages = payloads
        .iter()
        .map(|p| Bytes::from(p.bytes.clone()))
        .collect();
    let (topic, dlq) = ctx.produce_topics(feed).await?;
    serve_and_produce(ctx, feed, messages, Speed::Max, (&topic, &dlq)).await
}

/// Serves `messages` from an in-process simulator and runs `billabong
/// produce` against it into `(topic, dlq)` until it received them all.
async fn serve_and_produce(
    ctx: &Ctx,
    feed: Feed,
    messages: Vec<Bytes>,
    speed: Speed,
    (topic, dlq): (&str, &str),
) -> Result<ProduceRun> {
    let n = messages.len();
    let listen: SocketAddr = "127.0.0.1:0".parse().context("a literal address")?;
    let mut config = SimulatorConfig::new(feed, FeedData::Messages(messages), listen);
    config.speed = speed;
    let simulator = Simulator::bind(config).await?;
    let url = simulator
        .urls()
        .first()
        .cloned()
        .context("the simulator serves no route")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(simulator.run(async move {
        let _ = stopped.await;
    }));
    let run = ctx
        .produce_into(feed, &url, topic, dlq, &["--max-events", &n.to_string()])
        .await;
    let _ = stop.send(());
    server.await??;
    run
}

/// Time given to a live consumer to connect and start fetching before the
/// producer starts.
const CONSUMER_READY: Duration = Duration::from_secs(2);

/// Live mode: the raw pipe, then the billabong path, each paced at `--rate`
/// with a concurrent consumer; prints latency percentiles.
async fn live_mode(ctx: &mut Ctx) -> Result<()> {
    let rate = ctx.args.rate;
    let n = (rate * ctx.args.seconds).round() as usize;
    let consumer_rate = ctx.args.consumer_rate;
    let lines = payloads::real_lines(Feed::Rsvps);
    let timed = live::evenly_timed(&lines, n, live::now_ms());
    let as_payloads: Vec<Payload> = payloads::cycled(Feed::Rsvps, &timed, n);
    let valid = payloads::valid_count(&as_payloads);
    let timeout = Duration::from_secs_f64(ctx.args.seconds * 10.0 + 60.0);
    let mut results: Vec<(String, Latency)> = Vec::new();

    let topic = ctx.topic("live-raw").await?;
    let consumer = spawn_consumer(ctx, &topic, n as u64, timeout);
    // The consumer's connection and first fetch must not count as latency.
    tokio::time::sleep(CONSUMER_READY).await;
    let (brokers, raw_topic) = (ctx.brokers.clone(), topic.clone());
    tokio::task::spawn_blocking(move || live_raw(&brokers, &raw_topic, &as_payloads, rate))
        .await??;
    results.push(("raw rdkafka, paced".to_owned(), consumer.await??));

    let messages: Vec<Bytes> = timed.into_iter().map(Bytes::from).collect();
    let (topic, dlq) = ctx.produce_topics(Feed::Rsvps).await?;
    let consumer = spawn_consumer(ctx, &topic, valid, timeout);
    tokio::time::sleep(CONSUMER_READY).await;
    // The simulator paces by mtime gaps (1 ms apart) divided by its speed.
    let speed = Speed::Factor(rate / 1000.0);
    let run = serve_and_produce(ctx, Feed::Rsvps, messages, speed, (&topic, &dlq)).await?;
    results.push((
        format!(
            "simulator (paced) + billabong produce ws://; {}",
            run.summary
        ),
        consumer.await??,
    ));

    println!(
        "\n### live: producer {rate:.0}/s for {} s, consumer {}, {} partitions\n",
        ctx.args.seconds,
        consumer_rate.map_or("unthrottled".to_owned(), |r| format!(
            "{r:.0}/s (producer/consumer ratio {:.2})",
            rate / r
        )),
        ctx.args.partitions
    );
    println!("| path | records | consumed/s | p50 ms | p99 ms | max ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, l) in results {
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            l.records, l.consumed_rate, l.p50, l.p99, l.max
        );
    }
    Ok(())
}

fn spawn_consumer(
    ctx: &Ctx,
    topic: &str,
    expected: u64,
    timeout: Duration,
) -> tokio::task::JoinHandle<Result<Latency>> {
    let (brokers, topic) = (ctx.brokers.clone(), topic.to_owned());
    let (partitions, rate) = (ctx.args.partitions, ctx.args.consumer_rate);
    tokio::task::spawn_blocking(move || {
        live::measure(&brokers, &topic, partitions, expected, rate, timeout)
    })
}

/// The raw baseline producer, paced: one record every `1 / rate` s.
fn live_raw(brokers: &str, topic: &str, payloads: &[Payload], rate: f64) -> Result<()> {
    let producer = kafka::RawProducer::new(brokers, false)?;
    // Connected and knowing the topic before the first timed record, as the
    // billabong producer is after its start-up.
    producer.warm_up(topic)?;
    let start = std::time::Instant::now();
    for (i, payload) in payloads.iter().enumerate() {
        live::pace(start, i as u64, rate);
        producer.send(topic, payload)?;
    }
    producer.flush()
}
