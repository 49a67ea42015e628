//! `bench/serving-rest`: REST throughput and latency of `serve`, measured
//! with wrk (Debian's package; installed with apt when missing and root).
//!
//! Setup: the recorded RSVPs (all 1,541, real) go into a fresh 3-partition
//! topic, the speed layer (in this process) builds real-time generation 0
//! from them, and one `serve` (in this process) follows its metrics topic
//! until the merged view covers every offset; then the speed layer stops,
//! so the served coverage no longer moves and every run measures one state.
//!
//! Rows, each `wrk -t2 -c<C> -d<S>s --latency`:
//! - `GET /health`: the baseline, warp answering a constant; the ceiling
//!   of this server on this machine;
//! - `GET /api/views/view_rsvps_country_hour`, cached: the answer is
//!   serialized once per coverage (`serving/src/view_cache.rs`);
//! - the same view with a distinct `from` per request (a wrk Lua script),
//!   so every request misses the cache and merges the rows.
//!
//! wrk and serve share the machine's cores, as a load generator on the same
//! host always does; the ratio to `/health` is the figure that transfers.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bench::kafka;
use clap::Parser;
use schemas::realtime::COUNTRY_HOUR;
use serde_json::Value;

/// REST req/s and latency percentiles of serve under wrk.
#[derive(Debug, Parser)]
struct Args {
    /// Open connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds per row.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Keep the benchmark's topics instead of deleting them.
    #[arg(long)]
    keep_topics: bool,
}

/// One wrk run's figures.
#[derive(Debug, Clone, Copy)]
struct WrkResult {
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    bench::init_logs("error,warp::server=off");
    ensure_wrk()?;
    let services = testkit::Services::get();
    let brokers = services.kafka().brokers;
    let names: Vec<String> = ["rsvps", "race", "metrics", "dlq", "runs"]
        .iter()
        .map(|n| kafka::fresh_name(&format!("rest-{n}")))
        .collect();
    kafka::create_topics(&brokers, &[&names[0]], 3).await?;
    for topic in &names[1..] {
        kafka::create_topics(&brokers, &[topic], 1).await?;
    }
    let result = run(&args, &brokers, &names, services).await;
    if !args.keep_topics {
        kafka::delete_topics(&brokers, &names).await;
    }
    result
}

async fn run(
    args: &Args,
    brokers: &str,
    names: &[String],
    services: &testkit::Services,
) -> Result<()> {
    let lines = testkit::fixtures::rsvp_lines();
    let placement = testkit::lake::produce(&names[0], &lines, testkit::lake::rsvp_key).await;
    // The last offset produced into each partition.
    let mut last: std::collections::BTreeMap<i32, i64> = std::collections::BTreeMap::new();
    for ((p, o), _) in placement.iter() {
        let e = last.entry(*p).or_insert(*o);
        *e = (*e).max(*o);
    }

    let mut stream = stream_processor::StreamConfig::new(brokers);
    stream.group = kafka::fresh_name("rest-stream");
    stream.rsvps_topic.clone_from(&names[0]);
    stream.race_topic.clone_from(&names[1]);
    stream.metrics_topic.clone_from(&names[2]);
    stream.dlq_topic.clone_from(&names[3]);
    stream.runs_topic.clone_from(&names[4]);
    let (stop_stream, stream_stopped) = tokio::sync::oneshot::channel::<()>();
    let stream_task = tokio::spawn(stream_processor::run(stream, async move {
        let _ = stream_stopped.await;
    }));

    let db = services.postgres().fresh_database("rest").await;
    let mut config = serving::ServeConfig::new(brokers, &db);
    config.listen = "127.0.0.1:0".parse()?;
    config.metrics_topic.clone_from(&names[2]);
    let (stop_serve, serve_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = serving::start(config, None, async move {
        let _ = serve_stopped.await;
    })
    .await?;
    let base = format!("http://{}", server.addr);
    let view = format!("{base}/api/views/{COUNTRY_HOUR}");

    // Wait until the merged view covers every produced record.
    let deadline = Instant::now() + Duration::from_secs(180);
    let rows = loop {
        if Instant::now() > deadline {
            bail!(
                "the merged view never covered the {} produced records",
                lines.len()
            );
        }
        if let Some(answer) = get_json(&view)? {
            let through = &answer["coverage"]["through"][&names[0]];
            if last
                .iter()
                .all(|(p, o)| through[p.to_string()].as_i64() >= Some(*o))
            {
                break answer["rows"].as_array().map_or(0, Vec::len);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let _ = stop_stream.send(());
    stream_task.await.context("the speed layer task")??;
    println!(
        "serve on {base}: {COUNTRY_HOUR} merged from {} real RSVPs, {rows} rows; \
         wrk -t{} -c{} -d{}s",
        lines.len(),
        args.threads,
        args.connections,
        args.seconds
    );

    let script = std::env::temp_dir().join(format!("billabong-rest-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "counter = 0\nrequest = function()\n  counter = counter + 1\n  \
             return wrk.format(\"GET\", \"/api/views/{COUNTRY_HOUR}?from=\" .. counter .. \"0\" .. math.random(1, 1000000))\nend\n"
        ),
    )?;
    let health = wrk(args, &format!("{base}/health"), None)?;
    let cached = wrk(args, &view, None)?;
    let uncached = wrk(args, &view, Some(&script))?;
    let _ = std::fs::remove_file(&script);
    let _ = stop_serve.send(());
    server.wait().await?;

    println!(
        "| request | req/s | p50 ms | p99 ms | errors | req/s vs /health |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, r) in [
        ("`/health` (baseline)", health),
        ("merged view, cached", cached),
        ("merged view, every request a miss", uncached),
    ] {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} | {:.2} |",
            r.requests_per_s,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            r.requests_per_s / health.requests_per_s
        );
    }
    println!(
        "cached / miss: {:.1}× the requests per second",
        cached.requests_per_s / uncached.requests_per_s
    );
    Ok(())
}

/// A GET's JSON body, or `None` on a non-200 (not ready yet).
fn get_json(url: &str) -> Result<Option<Value>> {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}", url])
        .output()
        .context("running curl")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", ""));
    if status != "200" {
        return Ok(None);
    }
    Ok(Some(serde_json::from_str(body)?))
}

fn ensure_wrk() -> Result<()> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    eprintln!("wrk is missing: installing Debian's package with apt");
    let ok = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!("wrk is missing and apt could not install it: run `sudo apt-get install -y wrk`");
    }
    Ok(())
}

fn wrk(args: &Args, url: &str, script: Option<&std::path::Path>) -> Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        format!("-t{}", args.threads),
        format!("-c{}", args.connections),
        format!("-d{}s", args.seconds),
        "--latency".to_owned(),
    ]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut result = WrkResult {
        requests_per_s: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: 0,
    };
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Requests/sec:"), Some(v)) => result.requests_per_s = v.parse().ok()?,
            (Some("50%"), Some(v)) => result.p50_ms = duration_ms(v)?,
            (Some("99%"), Some(v)) => result.p99_ms = duration_ms(v)?,
            (Some("Non-2xx"), _) => {
                result.errors += line.rsplit(' ').next()?.parse::<u64>().ok()?;
            }
            (Some("Socket"), _) => {
                // "Socket errors: connect 0, read 0, write 0, timeout 0"
                result.errors += line
                    .split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    (result.requests_per_s > 0.0).then_some(result)
}

/// `635.00us`, `2.10ms`, `1.02s` in ms.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}
