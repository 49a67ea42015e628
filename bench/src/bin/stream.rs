//! `bench/stream` (issue #5): raw rdkafka consume-and-count (read_committed,
//! the limit) against the speed layer (in-process `stream_processor::run`,
//! the code `billabong stream` runs) on the same topic and data, until the
//! speed layer's committed group offsets reach the end of every partition;
//! then event→emit latency at fixed input rates, from the published updates.
//!
//! Needs the services (`scripts/services.sh up`).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::kafka::{self, RawProducer};
use bench::live::{now_ms, pace};
use bench::payloads::{self, Payload};
use bench::{Row, Table};
use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use schemas::Feed;
use stream_processor::{StartPosition, StreamConfig, StreamReport};

/// Speed layer throughput and latency.
#[derive(Debug, Parser)]
struct Args {
    /// Records per throughput topic: the real lines, cycled (rounded down to
    /// a multiple of the partition count).
    #[arg(long, default_value_t = 200_000)]
    records: usize,
    /// Feeds to measure throughput on.
    #[arg(long, value_delimiter = ',', default_value = "rsvps,race")]
    feeds: Vec<Feed>,
    /// Partition counts of the throughput topics.
    #[arg(long, value_delimiter = ',', default_value = "1,6")]
    partitions: Vec<i32>,
    /// Input rates (events/s) of the latency runs; `0` alone: none.
    #[arg(long, value_delimiter = ',', default_value = "1000,20000")]
    rates: Vec<u32>,
    /// Feeds of the latency runs.
    #[arg(long, value_delimiter = ',', default_value = "rsvps")]
    latency_feeds: Vec<Feed>,
    /// Seconds each latency run produces for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Partitions of the latency runs' input topic.
    #[arg(long, default_value_t = 6)]
    latency_partitions: i32,
    /// Keep the benchmark's topics instead of deleting them.
    #[arg(long)]
    keep_topics: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let brokers = testkit::Services::get().kafka().brokers;
    let mut topics = Vec::new();
    let result = run_all(&args, &brokers, &mut topics).await;
    if !args.keep_topics {
        kafka::delete_topics(&brokers, &topics).await;
    }
    result
}

async fn run_all(args: &Args, brokers: &str, topics: &mut Vec<String>) -> Result<()> {
    for feed in args.feeds.clone() {
        for &partitions in &args.partitions {
            throughput(args, brokers, feed, partitions, topics).await?;
        }
    }
    let mut lines = Vec::new();
    for feed in args.latency_feeds.clone() {
        for &rate in args.rates.iter().filter(|r| **r > 0) {
            let run = latency(args, brokers, feed, rate, topics).await?;
            lines.push(run.markdown_row(feed, rate, args.latency_partitions));
        }
    }
    if !lines.is_empty() {
        println!(
            "\n### stream latency: paced input, event time = send time, {} s per rate\n",
            args.seconds
        );
        println!(
            "| feed | rate/s | partitions | produced | messages (inputs) | emit−event p50 / p99 / max ms | emit−event p99 after 1st s | emit−ingest p50 / p99 ms | visible−event p50 / p99 / max ms | report |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
}

/// A fresh topic and the speed layer's fresh output topics.
async fn fresh_topics(
    brokers: &str,
    feed: Feed,
    partitions: i32,
    topics: &mut Vec<String>,
) -> Result<(String, String, String)> {
    let input = kafka::fresh_name(&format!("stream-{feed}"));
    let metrics = kafka::fresh_name("stream-metrics");
    let dlq = kafka::fresh_name("stream-dlq");
    kafka::create_topics(brokers, &[&input], partitions).await?;
    kafka::create_topics(brokers, &[&metrics, &dlq], 1).await?;
    topics.extend([input.clone(), metrics.clone(), dlq.clone()]);
    Ok((input, metrics, dlq))
}

fn stream_config(brokers: &str, feed: Feed, input: &str, metrics: &str, dlq: &str) -> StreamConfig {
    let mut config = StreamConfig::new(brokers);
    config.group = testkit::unique_name("bench-stream");
    config.rsvps_topic = String::new();
    config.race_topic = String::new();
    match feed {
        Feed::Rsvps => config.rsvps_topic = input.to_owned(),
        Feed::Race => config.race_topic = input.to_owned(),
    }
    config.metrics_topic = metrics.to_owned();
    config.dlq_topic = dlq.to_owned();
    config
}

/// The group's committed offsets of `topic`'s partitions (None: no position).
fn committed(consumer: &BaseConsumer, topic: &str, partitions: i32) -> Vec<Option<i64>> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let Ok(found) = consumer.committed_offsets(tpl, Duration::from_secs(10)) else {
        return vec![None; partitions as usize];
    };
    (0..partitions)
        .map(
            |p| match found.find_partition(topic, p).map(|e| e.offset()) {
                Some(Offset::Offset(o)) => Some(o),
                _ => None,
            },
        )
        .collect()
}

/// A client of `group` that only reads its committed offsets.
fn group_reader(brokers: &str, group: &str) -> Result<BaseConsumer> {
    Ok(kafka::client(brokers)
        .set("group.id", group)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()?)
}

/// High watermarks of every partition of `topic`.
fn ends(brokers: &str, topic: &str, partitions: i32) -> Result<Vec<i64>> {
    let consumer: BaseConsumer = kafka::client(brokers).create()?;
    (0..partitions)
        .map(|p| {
            Ok(consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))?
                .1)
        })
        .collect()
}

/// One feed and partition count: fill, raw consume-and-count, the speed layer.
async fn throughput(
    args: &Args,
    brokers: &str,
    feed: Feed,
    partitions: i32,
    topics: &mut Vec<String>,
) -> Result<()> {
    let lines = payloads::real_lines(feed);
    let count = args.records / partitions as usize * partitions as usize;
    let all = payloads::cycled(feed, &lines, count);
    let n = all.len() as u64;
    let (input, metrics, dlq) = fresh_topics(brokers, feed, partitions, topics).await?;
    let (b, t) = (brokers.to_owned(), input.clone());
    tokio::task::spawn_blocking(move || kafka::fill(&b, &t, &all, partitions)).await??;
    let want = ends(brokers, &input, partitions)?;

    let mut table = Table::new(format!(
        "stream, {feed}: {n} records, {partitions} partition(s)"
    ));
    let (b, t) = (brokers.to_owned(), input.clone());
    let raw = tokio::task::spawn_blocking(move || kafka::consume_count(&b, &t, n)).await??;
    table.push(
        Row::new(
            "raw rdkafka: BaseConsumer read_committed, count",
            raw.records,
            raw.elapsed,
        )
        .with_note(format!(
            "first record after {:.2} s (group join)",
            raw.first_record.as_secs_f64()
        )),
    );

    let config = stream_config(brokers, feed, &input, &metrics, &dlq);
    let reader = group_reader(brokers, &config.group)?;
    let start = Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut running = tokio::spawn(stream_processor::run(config, async move {
        let _ = stopped.await;
    }));
    let elapsed = loop {
        if running.is_finished() {
            bail!("the stream stopped early: {:?}", (&mut running).await?);
        }
        let done = committed(&reader, &input, partitions)
            .iter()
            .zip(&want)
            .all(|(c, end)| c.is_some_and(|c| c >= *end));
        if done {
            break start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(900) {
            bail!("the stream did not commit the end within 15 min");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = stop.send(());
    let report = running.await?.context("the stream failed")?;
    table.push(
        Row::new(
            "billabong stream (in-process), to committed end",
            n,
            elapsed,
        )
        .with_note(report_note(&report)),
    );
    table.print();
    Ok(())
}

fn report_note(report: &StreamReport) -> String {
    format!(
        "{} records, {} messages, {} updates, {} late, {} dlq, {} txns",
        report.records,
        report.messages,
        report.updates,
        report.late,
        report.dlq,
        report.transactions
    )
}

/// A line split around its event-time digits, to stamp a new time cheaply.
struct Template {
    head: Vec<u8>,
    tail: Vec<u8>,
    key: Option<String>,
}

impl Template {
    fn new(payload: &Payload, field: &[u8]) -> Option<Self> {
        let line = &payload.bytes;
        let at = line.windows(field.len()).position(|w| w == field)? + field.len();
        let end = line[at..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(line.len(), |n| at + n);
        Some(Template {
            head: line[..at].to_vec(),
            tail: line[end..].to_vec(),
            key: payload.key.clone(),
        })
    }

    fn stamped(&self, time_ms: i64) -> Payload {
        let mut bytes = Vec::with_capacity(self.head.len() + self.tail.len() + 13);
        bytes.extend_from_slice(&self.head);
        bytes.extend_from_slice(time_ms.to_string().as_bytes());
        bytes.extend_from_slice(&self.tail);
        Payload {
            bytes,
            key: self.key.clone(),
        }
    }
}

/// Latency samples of one run, in ms.
#[derive(Default)]
struct LatencyRun {
    produced: u64,
    messages: u64,
    inputs: u64,
    emit_event: Vec<f64>,
    /// `emit_event` without the first second of input (warm-up).
    steady: Vec<f64>,
    emit_ingest: Vec<f64>,
    visible_event: Vec<f64>,
    report: Option<StreamReport>,
}

fn percentile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples.get(index).copied().unwrap_or(f64::NAN)
}

impl LatencyRun {
    fn markdown_row(mut self, feed: Feed, rate: u32, partitions: i32) -> String {
        let ee = &mut self.emit_event;
        let (ee50, ee99, eemax) = (
            percentile(ee, 0.5),
            percentile(ee, 0.99),
            percentile(ee, 1.0),
        );
        let st = &mut self.steady;
        let st99 = percentile(st, 0.99);
        let ei = &mut self.emit_ingest;
        let (ei50, ei99) = (percentile(ei, 0.5), percentile(ei, 0.99));
        let ve = &mut self.visible_event;
        let (ve50, ve99, vemax) = (
            percentile(ve, 0.5),
            percentile(ve, 0.99),
            percentile(ve, 1.0),
        );
        format!(
            "| {feed} | {rate} | {partitions} | {} | {} ({}) | {ee50:.0} / {ee99:.0} / {eemax:.0} | {st99:.0} | {ei50:.0} / {ei99:.0} | {ve50:.0} / {ve99:.0} / {vemax:.0} | {} |",
            self.produced,
            self.messages,
            self.inputs,
            self.report.as_ref().map(report_note).unwrap_or_default()
        )
    }
}

/// The speed layer running on an empty topic from `latest`; a producer paced
/// at `rate` with each record's event time set to its send time; a
/// read_committed reader of the metrics topic.
async fn latency(
    args: &Args,
    brokers: &str,
    feed: Feed,
    rate: u32,
    topics: &mut Vec<String>,
) -> Result<LatencyRun> {
    let partitions = args.latency_partitions;
    let (input, metrics, dlq) = fresh_topics(brokers, feed, partitions, topics).await?;
    let field: &[u8] = match feed {
        Feed::Rsvps => b"\"mtime\":",
        Feed::Race => b"\"ts\":",
    };
    let lines = payloads::real_lines(feed);
    let templates: Vec<Template> = payloads::cycled(feed, &lines, lines.len())
        .iter()
        .filter(|p| p.key.is_some())
        .filter_map(|p| Template::new(p, field))
        .collect();
    if templates.is_empty() {
        bail!("no {feed} line has a time field to rewrite");
    }

    let mut config = stream_config(brokers, feed, &input, &metrics, &dlq);
    config.start = StartPosition::Latest;
    let reader = group_reader(brokers, &config.group)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut running = tokio::spawn(stream_processor::run(config, async move {
        let _ = stopped.await;
    }));
    // Ready once the start positions are pinned (the speed layer has fenced,
    // resolved `latest` and assigned its partitions).
    let ready = Instant::now();
    while committed(&reader, &input, partitions)
        .iter()
        .any(Option::is_none)
    {
        if running.is_finished() {
            bail!("the stream stopped early: {:?}", (&mut running).await?);
        }
        if ready.elapsed() > Duration::from_secs(60) {
            bail!("the stream did not pin its start positions within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let done = Arc::new(AtomicBool::new(false));
    let (b, m, flag) = (brokers.to_owned(), metrics.clone(), Arc::clone(&done));
    let collector = tokio::task::spawn_blocking(move || collect(&b, &m, &flag));

    let total = u64::from(rate) * args.seconds;
    let (b, t) = (brokers.to_owned(), input.clone());
    let produced = tokio::task::spawn_blocking(move || -> Result<u64> {
        let producer = RawProducer::new(&b, false)?;
        producer.warm_up(&t)?;
        let start = Instant::now();
        for (i, template) in templates.iter().cycle().take(total as usize).enumerate() {
            pace(start, i as u64, f64::from(rate));
            producer.send(&t, &template.stamped(now_ms()))?;
        }
        producer.flush()?;
        Ok(total)
    })
    .await??;

    let want = ends(brokers, &input, partitions)?;
    let wait = Instant::now();
    loop {
        let reached = committed(&reader, &input, partitions)
            .iter()
            .zip(&want)
            .all(|(c, end)| c.is_some_and(|c| c >= *end));
        if reached {
            break;
        }
        if running.is_finished() {
            bail!("the stream stopped early: {:?}", (&mut running).await?);
        }
        if wait.elapsed() > Duration::from_secs(300) {
            bail!("the stream did not catch up within 5 min of the producer's end");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caught_up = wait.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.store(true, Ordering::Relaxed);
    let mut run = collector.await??;
    let _ = stop.send(());
    run.report = Some(running.await?.context("the stream failed")?);
    run.produced = produced;
    eprintln!(
        "{feed} at {rate}/s: committed end {:.2} s after the producer's last ack",
        caught_up.as_secs_f64()
    );
    Ok(run)
}

/// Reads the metrics topic read_committed until `done`, taking each
/// message's latencies; "visible" is this reader's receipt time.
fn collect(brokers: &str, topic: &str, done: &AtomicBool) -> Result<LatencyRun> {
    let consumer: BaseConsumer = kafka::client(brokers)
        .set("group.id", testkit::unique_name("bench-stream-reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&assignment)?;
    let mut run = LatencyRun::default();
    let mut inputs = HashSet::new();
    let mut first_event: Option<i64> = None;
    while !done.load(Ordering::Relaxed) {
        let Some(message) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let message = message.context("consuming the metrics topic")?;
        let received = now_ms();
        let body: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap_or_default())?;
        let field = |name: &str| body.get(name).and_then(serde_json::Value::as_i64);
        let (Some(event), Some(emit)) = (field("source_event_time_ms"), field("emit_time_ms"))
        else {
            continue;
        };
        run.messages += 1;
        run.emit_event.push((emit - event) as f64);
        if event >= *first_event.get_or_insert(event) + 1_000 {
            run.steady.push((emit - event) as f64);
        }
        run.visible_event.push((received - event) as f64);
        if let Some(ingest) = field("ingest_time_ms") {
            run.emit_ingest.push((emit - ingest) as f64);
        }
        let source = &body["source"];
        inputs.insert((
            source["partition"].as_i64().unwrap_or(-1),
            source["offset"].as_i64().unwrap_or(-1),
        ));
    }
    run.inputs = inputs.len() as u64;
    Ok(run)
}
