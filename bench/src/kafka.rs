//! Kafka helpers: fresh topics, the raw rdkafka baselines (produce as fast as
//! the pipe takes it, consume to the end counting), and clean-up.
//!
//! The raw producer uses the settings `billabong produce` uses
//! ([`KafkaTuning::default`]: idempotent, `acks=all`, the same linger, batch
//! size and compression), so that the only difference left between the two is
//! what the producer adds: validation, the overlap cursor, headers and
//! transactions.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt as _;
use producer::ingest::KafkaTuning;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;

use crate::payloads::Payload;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A client config naming the brokers.
pub fn client(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    config
}

/// A topic name no earlier run used: `bench.<prefix>-<id>`.
pub fn fresh_name(prefix: &str) -> String {
    format!("bench.{}", testkit::unique_name(prefix))
}

/// Creates `topics` with `partitions` partitions each.
pub async fn create_topics(brokers: &str, topics: &[&str], partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = client(brokers).create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    for result in admin.create_topics(&new, &options).await? {
        if let Err((topic, code)) = result {
            bail!("creating topic {topic} failed: {code}");
        }
    }
    Ok(())
}

/// Deletes the run's topics so that repeated runs do not fill the disk.
/// Failures are reported, not fatal: the numbers are already printed.
pub async fn delete_topics(brokers: &str, topics: &[String]) {
    let Ok(admin) = client(brokers).create::<AdminClient<DefaultClientContext>>() else {
        eprintln!("warning: cannot create an admin client to delete {topics:?}");
        return;
    };
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    if let Err(error) = admin.delete_topics(&names, &options).await {
        eprintln!("warning: deleting {names:?} failed: {error}");
    }
}

/// How the raw baseline producer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawMode {
    /// Idempotent, `acks=all`, no transactions: the pipe's limit.
    Idempotent,
    /// The same plus a transaction committed every `n` records, as the
    /// producer commits every 20,000 records or 100 ms: isolates what
    /// transactions cost.
    Transactional(usize),
}

/// A raw rdkafka producer with `billabong produce`'s Kafka settings.
pub struct RawProducer {
    producer: ThreadedProducer<DefaultProducerContext>,
    transactional: bool,
}

impl RawProducer {
    /// Creates the producer (and initialises transactions if `transactional`).
    pub fn new(brokers: &str, transactional: bool) -> Result<Self> {
        let tuning = KafkaTuning::default();
        let mut config = client(brokers);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", tuning.linger.as_millis().to_string())
            .set("batch.size", tuning.batch_bytes.to_string())
            .set("compression.type", &tuning.compression)
            .set("message.max.bytes", "1048000");
        if transactional {
            config.set("transactional.id", testkit::unique_name("bench-raw-txn"));
        }
        let producer: ThreadedProducer<DefaultProducerContext> = config.create()?;
        if transactional {
            producer.init_transactions(ADMIN_TIMEOUT)?;
        }
        Ok(RawProducer {
            producer,
            transactional,
        })
    }

    /// Hands one record to librdkafka (partitioned by key), waiting while its
    /// queue is full.
    pub fn send(&self, topic: &str, payload: &Payload) -> Result<()> {
        self.send_to(topic, None, payload)
    }

    /// The same into a chosen partition.
    pub fn send_to(&self, topic: &str, partition: Option<i32>, payload: &Payload) -> Result<()> {
        loop {
            let mut record = BaseRecord::<str, [u8]>::to(topic).payload(&payload.bytes);
            if let Some(key) = &payload.key {
                record = record.key(key.as_str());
            }
            if let Some(partition) = partition {
                record = record.partition(partition);
            }
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }

    /// Sends `chunk` inside one transaction (or plainly when not transactional).
    pub fn send_all(&self, topic: &str, chunk: &[Payload]) -> Result<()> {
        if self.transactional {
            self.producer.begin_transaction()?;
        }
        for payload in chunk {
            self.send(topic, payload)?;
        }
        if self.transactional {
            self.producer.commit_transaction(ADMIN_TIMEOUT)?;
        }
        Ok(())
    }

    /// Connects and fetches `topic`'s metadata, so that the first record
    /// sent does not wait for either.
    pub fn warm_up(&self, topic: &str) -> Result<()> {
        self.producer
            .client()
            .fetch_metadata(Some(topic), ADMIN_TIMEOUT)?;
        Ok(())
    }

    /// Waits for every ack.
    pub fn flush(&self) -> Result<()> {
        Ok(self.producer.flush(Duration::from_secs(120))?)
    }
}

/// Produces every payload to `topic` as fast as librdkafka takes them and
/// waits for every ack; returns the wall time from creating the producer to
/// the last ack (what a `billabong produce` run also pays, minus its process
/// start).
pub fn produce_raw(
    brokers: &str,
    topic: &str,
    payloads: &[Payload],
    mode: RawMode,
) -> Result<Duration> {
    let start = Instant::now();
    let (producer, chunk) = match mode {
        RawMode::Idempotent => (RawProducer::new(brokers, false)?, payloads.len().max(1)),
        RawMode::Transactional(n) => (RawProducer::new(brokers, true)?, n.max(1)),
    };
    for part in payloads.chunks(chunk) {
        producer.send_all(topic, part)?;
    }
    producer.flush()?;
    Ok(start.elapsed())
}

/// Fills `topic` for a consumer benchmark: record `i` into partition
/// `i % partitions`, so that every partition holds a known count and a sink
/// rolling on that count commits each partition exactly when it reaches its
/// end (no roll timer in the measurement).
pub fn fill(brokers: &str, topic: &str, payloads: &[Payload], partitions: i32) -> Result<()> {
    let producer = RawProducer::new(brokers, false)?;
    for (i, payload) in payloads.iter().enumerate() {
        let partition = (i % partitions.max(1) as usize) as i32;
        producer.send_to(topic, Some(partition), payload)?;
    }
    producer.flush()
}

/// What reading a topic to its end found.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsumeStats {
    /// Records read.
    pub records: u64,
    /// Sum of their payload sizes.
    pub payload_bytes: u64,
    /// From creating the consumer to the last record.
    pub elapsed: Duration,
    /// From creating the consumer to the first record: the group join.
    pub first_record: Duration,
}

fn consumer_config(brokers: &str) -> ClientConfig {
    let mut config = client(brokers);
    config
        .set("group.id", testkit::unique_name("bench-consume"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed");
    config
}

/// Reads `topic` from the start with a fresh group until `expected` records
/// arrived, polling a `BaseConsumer`: the consume-side limit of the pipe.
pub fn consume_count(brokers: &str, topic: &str, expected: u64) -> Result<ConsumeStats> {
    let start = Instant::now();
    let consumer: BaseConsumer = consumer_config(brokers).create()?;
    consumer.subscribe(&[topic])?;
    let mut stats = ConsumeStats::default();
    while stats.records < expected {
        if start.elapsed() > Duration::from_secs(600) {
            bail!("only {} of {expected} records after 10 min", stats.records);
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.context("consuming")?;
        if stats.records == 0 {
            stats.first_record = start.elapsed();
        }
        stats.records += 1;
        stats.payload_bytes += message.payload_len() as u64;
    }
    stats.elapsed = start.elapsed();
    Ok(stats)
}

/// The same through a `StreamConsumer` (`recv().await` per record), the API
/// `billabong sink` is built on: shows what the async wrapper costs.
pub async fn consume_count_stream(
    brokers: &str,
    topic: &str,
    expected: u64,
) -> Result<ConsumeStats> {
    let start = Instant::now();
    let consumer: StreamConsumer = consumer_config(brokers).create()?;
    consumer.subscribe(&[topic])?;
    let mut stats = ConsumeStats::default();
    let mut stream = consumer.stream();
    while stats.records < expected {
        let next = tokio::time::timeout(Duration::from_secs(60), stream.next()).await;
        let Ok(Some(message)) = next else {
            bail!("only {} of {expected} records, then silence", stats.records);
        };
        let message = message.context("consuming")?;
        if stats.records == 0 {
            stats.first_record = start.elapsed();
        }
        stats.records += 1;
        stats.payload_bytes += message.payload_len() as u64;
    }
    stats.elapsed = start.elapsed();
    Ok(stats)
}
