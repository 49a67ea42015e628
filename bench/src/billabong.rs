//! Running the release `billabong` binary as a subprocess, as an operator
//! would, and reading the JSON summary it prints as its last line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The `billabong` binary beside the running benchmark: the same target
/// directory and profile (`cargo build --release -p billabong-cli` builds it).
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("billabong")))
        .unwrap_or_else(|| PathBuf::from("billabong"))
}

/// What `billabong produce` printed and how long it took.
#[derive(Debug, Clone)]
pub struct ProduceRun {
    /// Wall time from spawning the process to its exit.
    pub elapsed: Duration,
    /// Its summary line, parsed.
    pub summary: serde_json::Value,
}

impl ProduceRun {
    /// A counter of the summary (`received`, `produced`, `dlq`...).
    pub fn count(&self, field: &str) -> u64 {
        self.summary
            .get(field)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }
}

/// Runs `billabong produce` with `args` after the subcommand and waits for it.
/// Its logs go to `log` (kept for a failed run's diagnosis).
pub fn produce(binary: &Path, args: &[String], log: &Path) -> Result<ProduceRun> {
    let log_file = std::fs::File::create(log)?;
    let start = Instant::now();
    let output = Command::new(binary)
        .arg("produce")
        .args(args)
        .stdin(Stdio::null())
        .stderr(log_file)
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        bail!(
            "billabong produce {args:?} failed ({}); its log is {}",
            output.status,
            log.display()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let summary = serde_json::from_str(last)
        .with_context(|| format!("the last stdout line is not a JSON summary: {last:?}"))?;
    Ok(ProduceRun { elapsed, summary })
}

/// The `billabong produce` arguments shared by every run: a fresh raw topic
/// and DLQ, and a transactional id of its own (a reused id would resume).
pub fn produce_args(
    feed: &str,
    source: &str,
    brokers: &str,
    topic: &str,
    dlq_topic: &str,
    partitions: i32,
) -> Vec<String> {
    [
        "--feed",
        feed,
        "--source",
        source,
        "--brokers",
        brokers,
        "--topic",
        topic,
        "--dlq-topic",
        dlq_topic,
        "--partitions",
        &partitions.to_string(),
        "--transactional-id",
        &testkit::unique_name("bench-produce"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}
