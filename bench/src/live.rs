//! "Live vs backlog" (after the NSQ video play-count pipeline): a producer
//! paced at a chosen rate and a `read_committed` consumer running at the same
//! time, measuring produce→consume latency per record at a chosen
//! producer/consumer rate ratio.
//!
//! Latency is the consumer's wall clock at receipt minus the record's Kafka
//! `CreateTime`, which librdkafka stamps when the producing process hands the
//! record over. Both processes share this machine's clock. For `billabong
//! produce` this covers batching, the broker and, above all, the wait for the
//! transaction commit (`read_committed` shows a record only then); it does
//! not cover the websocket hop before it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message as _, Timestamp};
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::client;

/// Latency percentiles of one live run, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// Records measured.
    pub records: u64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Worst.
    pub max: f64,
    /// Records per second the consumer achieved, first to last record.
    pub consumed_rate: f64,
}

impl Latency {
    fn from_samples(mut samples: Vec<f64>, span: Duration) -> Self {
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples.get(index).copied().unwrap_or(f64::NAN)
        };
        Latency {
            records: samples.len() as u64,
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
            consumed_rate: samples.len() as f64 / span.as_secs_f64().max(1e-9),
        }
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Sleeps until `start + n / rate`: pacing without drift.
pub fn pace(start: Instant, n: u64, rate: f64) {
    let due = start + Duration::from_secs_f64(n as f64 / rate);
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

/// Reads `topic` (every partition, from the start, no group join so nothing
/// waits for an assignment) until `expected` records arrived, at most
/// `consumer_rate` records/s when given, and returns the latencies.
/// Blocking: run it on a thread of its own.
pub fn measure(
    brokers: &str,
    topic: &str,
    partitions: i32,
    expected: u64,
    consumer_rate: Option<f64>,
    timeout: Duration,
) -> Result<Latency> {
    let consumer: BaseConsumer = client(brokers)
        .set("group.id", testkit::unique_name("bench-live"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let start = Instant::now();
    let mut first: Option<Instant> = None;
    let mut samples = Vec::with_capacity(expected as usize);
    while (samples.len() as u64) < expected && start.elapsed() < timeout {
        let Some(message) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let message = message.context("consuming")?;
        let received = now_ms();
        let first = *first.get_or_insert_with(Instant::now);
        if let Timestamp::CreateTime(created) = message.timestamp() {
            samples.push((received - created) as f64);
        }
        if let Some(rate) = consumer_rate {
            pace(first, samples.len() as u64, rate);
        }
    }
    let span = first.map_or(Duration::ZERO, |f| f.elapsed());
    if (samples.len() as u64) < expected {
        eprintln!(
            "warning: live consumer saw {} of {expected} records within {timeout:?}",
            samples.len()
        );
    }
    Ok(Latency::from_samples(samples, span))
}

/// The payloads with their `"mtime":` replaced by `base + i` ms, so that the
/// simulator, paced by mtime gaps divided by its speed, sends exactly
/// `speed × 1000` records/s. The rest of each line stays byte for byte.
pub fn evenly_timed(lines: &[Vec<u8>], count: usize, base: i64) -> Vec<Vec<u8>> {
    const FIELD: &[u8] = b"\"mtime\":";
    lines
        .iter()
        .cycle()
        .take(count)
        .enumerate()
        .map(|(i, line)| {
            let Some(at) = line.windows(FIELD.len()).position(|w| w == FIELD) else {
                return line.clone();
            };
            let digits = at + FIELD.len();
            let end = line[digits..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(line.len(), |n| digits + n);
            let mut out = line[..digits].to_vec();
            out.extend_from_slice((base + i as i64).to_string().as_bytes());
            out.extend_from_slice(&line[end..]);
            out
        })
        .collect()
}
