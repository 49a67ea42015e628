//! `bench/serving`: Server-Sent Events fan-out of `serve`'s `/api/stream`.
//! One serve instance (this binary re-run as a child process, so its RSS
//! and CPU are its own) holds N clients (`--clients 1,1000,5000,10000`; the
//! first is the baseline) subscribed to one channel; updates are published
//! to the metrics topic at a steady `--rate` for `--seconds`, each carrying
//! its send time; every client takes receipt time − send time. Reported per
//! N: delivery latency p50/p99/max (Kafka produce → serve's follower →
//! broadcast → client receipt), deliveries missing, clients cut off, the
//! serve process's RSS and CPU, and ratios against the baseline.
//!
//! Clients run in this process on the same 2 cores as serve, so their own
//! parsing is inside the latency; the baseline has the same pipeline with
//! one client. Needs the services and `ulimit -n` above N + 512.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use bench::kafka;
use bench::live::pace;
use clap::Parser;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{Semaphore, watch};

/// The channel the benchmark's updates are published on.
const CHANNEL: &str = "rsvp_rate";

/// SSE fan-out: clients held, delivery latency, serve memory.
#[derive(Debug, Parser)]
struct Args {
    /// Client counts, one run each; the first is the baseline.
    #[arg(long, value_delimiter = ',', default_value = "1,1000,5000,10000")]
    clients: Vec<usize>,
    /// Updates published per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seconds each run publishes for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Connections opened at once while clients connect.
    #[arg(long, default_value_t = 200)]
    connect_parallelism: usize,
    /// Keep the benchmark's topic instead of deleting it.
    #[arg(long)]
    keep_topics: bool,
    /// Internal: run as the serve child on this metrics topic.
    #[arg(long, hide = true)]
    serve_topic: Option<String>,
    /// Internal: the serve child's PostgreSQL URL.
    #[arg(long, hide = true)]
    serve_postgres: Option<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    bench::init_logs("error,warp::server=off");
    let brokers = testkit::Services::get().kafka().brokers;
    if let (Some(topic), Some(postgres)) = (&args.serve_topic, &args.serve_postgres) {
        return serve_child(&brokers, postgres, topic).await;
    }
    let max = args.clients.iter().copied().max().unwrap_or(0);
    let limit = open_files_limit()?;
    if limit < max as u64 + 512 {
        bail!(
            "`ulimit -n` is {limit}: raise it above {} for {max} clients",
            max + 512
        );
    }
    let topic = kafka::fresh_name("serving-metrics");
    kafka::create_topics(&brokers, &[&topic], 1).await?;
    let result = run(&args, &brokers, &topic).await;
    if !args.keep_topics {
        kafka::delete_topics(&brokers, &[topic]).await;
    }
    result
}

/// The serve child: serves until its standard input closes.
async fn serve_child(brokers: &str, postgres: &str, topic: &str) -> Result<()> {
    let mut config = serving::ServeConfig::new(brokers, postgres);
    config.listen = "127.0.0.1:0".parse()?;
    config.metrics_topic = topic.to_owned();
    let server = serving::start(config, None, async {
        let mut buf = [0u8; 64];
        while tokio::io::stdin().read(&mut buf).await.is_ok_and(|n| n > 0) {}
    })
    .await?;
    println!("listening {}", server.addr);
    server.wait().await?;
    Ok(())
}

/// One run's figures.
struct Level {
    clients: usize,
    connect: Duration,
    samples: Vec<f64>,
    expected: u64,
    cut_off: usize,
    rss_idle_kib: u64,
    rss_kib: u64,
    cpu_seconds: f64,
    publish: Duration,
}

impl Level {
    fn percentile(&self, q: f64) -> f64 {
        let index = ((self.samples.len() as f64 - 1.0) * q).round() as usize;
        self.samples.get(index).copied().unwrap_or(f64::NAN)
    }
}

async fn run(args: &Args, brokers: &str, topic: &str) -> Result<()> {
    let postgres = testkit::Services::get()
        .postgres()
        .fresh_database("bench-sse")
        .await;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["--serve-topic", topic, "--serve-postgres", &postgres])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting the serve child")?;
    let pid = child.id().context("the child's pid")?;
    let mut lines = BufReader::new(child.stdout.take().context("child stdout")?).lines();
    let line = lines.next_line().await?.context("the child exited")?;
    let addr: std::net::SocketAddr = line
        .strip_prefix("listening ")
        .context("no address from the child")?
        .parse()?;
    let producer: BaseProducer = kafka::client(brokers)
        .set("linger.ms", "0")
        .set("enable.idempotence", "true")
        .create()?;
    let mut sent = 0u64;
    // Warm up: one update through the whole path.
    publish(&producer, topic, &mut sent, 1, 1.0)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut levels = Vec::new();
    for &clients in &args.clients {
        let level = run_level(args, addr, pid, &producer, topic, &mut sent, clients).await?;
        print_level(&level);
        levels.push(level);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    drop(child.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    print_table(args, &levels);
    Ok(())
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Publishes `count` updates at `rate`/s, each a speed-layer-shaped message
/// with one live update whose value carries its send time.
fn publish(
    producer: &BaseProducer,
    topic: &str,
    sent: &mut u64,
    count: u64,
    rate: f64,
) -> Result<()> {
    let start = Instant::now();
    for i in 0..count {
        pace(start, i, rate);
        let n = *sent;
        *sent += 1;
        let body = format!(
            r#"{{"id":"bench:0:{n}:0","source":{{"topic":"bench","partition":0,"offset":{n}}},"updates":[{{"id":"bench:0:{n}:0","key":"rsvp_rate/bench","metric":"{CHANNEL}","value":{{"n":{n},"sent_us":{}}}}}]}}"#,
            now_us()
        );
        loop {
            match producer.send(BaseRecord::<(), _>::to(topic).payload(&body)) {
                Ok(()) => break,
                Err((e, _)) => {
                    if !matches!(
                        e.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ) {
                        bail!("produce failed: {e}");
                    }
                    producer.poll(Duration::from_millis(1));
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30))?;
    Ok(())
}

/// The send time in an update's data, without parsing the whole JSON.
fn sent_us(data: &str) -> Option<u64> {
    let rest = &data[data.find("\"sent_us\":")? + 10..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[allow(clippy::too_many_arguments)]
async fn run_level(
    args: &Args,
    addr: std::net::SocketAddr,
    pid: u32,
    producer: &BaseProducer,
    topic: &str,
    sent: &mut u64,
    clients: usize,
) -> Result<Level> {
    let rss_idle_kib = rss_kib(pid)?;
    let permits = Arc::new(Semaphore::new(args.connect_parallelism));
    let ready = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (permits, ready, received, mut stopped) = (
            permits.clone(),
            ready.clone(),
            received.clone(),
            stopped.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = permits.acquire_owned().await.ok()?;
            let path = format!("/api/stream?channels={CHANNEL}");
            let mut stream = testkit::sse::connect(addr, &path, None).await.ok()?.ok()?;
            while stream.next().await.ok()??.event.as_deref() != Some("snapshot") {}
            drop(permit);
            ready.fetch_add(1, Ordering::Relaxed);
            let mut samples = Vec::new();
            let mut cut_off = false;
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    frame = stream.next() => match frame {
                        Ok(Some(event)) if event.event.as_deref() == Some(CHANNEL) => {
                            if let Some(t) = sent_us(&event.data) {
                                samples.push(now_us().saturating_sub(t) as f64 / 1_000.0);
                                received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => {
                            cut_off = true;
                            break;
                        }
                    },
                }
            }
            Some((samples, cut_off))
        }));
    }
    while ready.load(Ordering::Relaxed) < clients {
        if started.elapsed() > Duration::from_secs(180) {
            bail!(
                "only {} of {clients} clients connected",
                ready.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_before = cpu_seconds(pid)?;
    let count = (args.rate * args.seconds as f64).round() as u64;
    let publish_start = Instant::now();
    tokio::task::block_in_place(|| publish(producer, topic, sent, count, args.rate))?;
    let publish = publish_start.elapsed();
    let expected = count * clients as u64;
    let deadline = Instant::now() + Duration::from_secs(15);
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu_seconds = cpu_seconds(pid)? - cpu_before;
    let rss_kib = rss_kib(pid)?;
    let _ = stop.send(true);
    let mut samples = Vec::with_capacity(expected as usize);
    let mut cut_off = 0;
    for task in tasks {
        match task.await? {
            Some((s, c)) => {
                samples.extend(s);
                cut_off += usize::from(c);
            }
            None => cut_off += 1,
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(Level {
        clients,
        connect,
        samples,
        expected,
        cut_off,
        rss_idle_kib,
        rss_kib,
        cpu_seconds,
        publish,
    })
}

fn print_level(l: &Level) {
    eprintln!(
        "{} clients: connected in {:.1} s, {} of {} deliveries, p50 {:.1} ms, p99 {:.1} ms, RSS {} MiB",
        l.clients,
        l.connect.as_secs_f64(),
        l.samples.len(),
        l.expected,
        l.percentile(0.5),
        l.percentile(0.99),
        l.rss_kib / 1024
    );
}

fn print_table(args: &Args, levels: &[Level]) {
    let Some(base) = levels.first() else {
        return;
    };
    println!(
        "\n### SSE fan-out: one serve instance, `{CHANNEL}` updates at {}/s for {} s per run\n",
        args.rate, args.seconds
    );
    println!(
        "| clients | connect s | delivered / expected | cut off | p50 ms | p99 ms | max ms | p99 vs {} client(s) | serve RSS MiB | RSS per client KiB | serve CPU % |",
        base.clients
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for l in levels {
        let per_client = (l.rss_kib.saturating_sub(base.rss_idle_kib)) as f64 / l.clients as f64;
        println!(
            "| {} | {:.1} | {} / {} | {} | {:.1} | {:.1} | {:.1} | {:.2} | {:.0} | {:.1} | {:.0} |",
            l.clients,
            l.connect.as_secs_f64(),
            l.samples.len(),
            l.expected,
            l.cut_off,
            l.percentile(0.5),
            l.percentile(0.99),
            l.percentile(1.0),
            l.percentile(0.99) / base.percentile(0.99),
            l.rss_kib as f64 / 1024.0,
            per_client,
            100.0 * l.cpu_seconds / l.publish.as_secs_f64().max(1e-9),
        );
    }
}

/// `VmRSS` of `pid`, KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")
}

/// User + system CPU seconds of `pid` (clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("stat")?
        .1
        .split_whitespace()
        .collect();
    // After the command: state is field 3, utime 14, stime 15.
    let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok());
    Ok((ticks(14).context("utime")? + ticks(15).context("stime")?) as f64 / 100.0)
}

/// The soft limit on open files.
fn open_files_limit() -> Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .context("no open-files limit")
}
