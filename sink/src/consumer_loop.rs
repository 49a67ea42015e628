//! The sink's run loop: consume, stage each record for parsing into its
//! partition's buffer (parsing runs off this task, see `stage`), roll a
//! buffer into files + a create-only commit record when it is due, and seek
//! from the lake whenever the lake, not this process, knows better.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use schemas::{Feed, Limits};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::commit;
use crate::config::{RollPolicy, SinkConfig};
use crate::dlq::Dlq;
use crate::error::{Error, Result};
use crate::location::LakeLocation;
use crate::rebalance::{Positions, RebalanceEvent, SinkContext};
use crate::roll::{RollOutcome, Roller};
use crate::stage::Staged;
use crate::writer::PartitionBuffer;

type Key = (Arc<str>, i32);

/// librdkafka's `fetch.queue.backoff.ms` for the sink (see `run`).
const FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// What a run did, for its caller (tests, the CLI's exit log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkReport {
    /// Commit records written.
    pub commits: u64,
    /// Commits lost to a racing sink.
    pub conflicts: u64,
    /// Rows committed.
    pub rows: u64,
    /// Records sent to the DLQ and committed as such.
    pub dlq_records: u64,
    /// Data files committed.
    pub files: u64,
}

/// One assigned partition.
struct PartState {
    /// Name (first offset) of the next commit record: the lake's next offset.
    next_commit: i64,
    /// Records below this offset are stale (fetched before a seek) and dropped.
    accept_from: i64,
    staged: Staged,
}

/// Runs the sink until `shutdown` resolves, then rolls and commits every open
/// batch and returns. Errors are returned only when continuing could lose or
/// duplicate data (the lake or Kafka failing past retries).
pub async fn run(config: SinkConfig, shutdown: impl Future<Output = ()>) -> Result<SinkReport> {
    config.validate()?;
    let loc = LakeLocation::open_with_options(&config.lake_url, &config.storage_options)?;
    let feeds: HashMap<String, Feed> = config
        .topics
        .iter()
        .map(|s| (s.topic.clone(), s.feed))
        .collect();
    let positions = Positions::default();
    let (events_tx, events) = unbounded_channel();
    let consumer: StreamConsumer<SinkContext> = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "5000")
        // The sink consumes slower than librdkafka prefetches, so its local
        // queue fills (64 MB) and fetching pauses. The default pause is 1 s,
        // which outlasts draining the queue: the sink then sat idle ~30 % of
        // a backlog run. A short pause refetches before the queue runs dry.
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS)
        .create_with_context(SinkContext {
            positions: positions.clone(),
            events: events_tx,
        })
        .map_err(|e| Error::kafka("create consumer", e))?;

    preload_positions(&consumer, &loc, &feeds, &positions).await;
    let topics: Vec<&str> = feeds.keys().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| Error::kafka("subscribe", e))?;
    tracing::info!(lake = %config.lake_url, topics = ?topics, group = %config.group_id, "Sink started.");

    let mut state = LoopState {
        roller: Roller::new(loc, Dlq::new(&config.brokers, &config.dlq_topic)?),
        feeds,
        positions,
        events,
        parts: HashMap::new(),
        roll: config.roll,
        limits: Limits::default(),
        report: SinkReport::default(),
    };
    let tick_every =
        (config.roll.interval / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            _ = tick.tick() => {
                state.drain_events(&consumer).await?;
                state.roll_due(&consumer, Instant::now()).await?;
            }
            msg = consumer.recv() => {
                let msg = match msg {
                    Ok(msg) => msg,
                    // A subscribed topic that does not exist yet (the sink may
                    // start before the producer creates it): librdkafka keeps
                    // the subscription and assigns the topic when it appears.
                    Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)) => {
                        tracing::warn!("A subscribed topic does not exist yet; waiting for it.");
                        continue;
                    }
                    Err(e) => return Err(Error::kafka("receive", e)),
                };
                state.drain_events(&consumer).await?;
                state.handle(&consumer, &msg).await?;
            }
        }
    }
    tracing::info!("Sink stopping: committing open batches.");
    state.drain_events(&consumer).await?;
    state.roll_all(&consumer).await?;
    tracing::info!(report = ?state.report, "Sink stopped.");
    Ok(state.report)
}

/// Reads the lake's position of every partition of the topics, so that the
/// rebalance callback can start them right. A topic that does not exist yet
/// is skipped: its partitions are sought when assigned.
async fn preload_positions(
    consumer: &StreamConsumer<SinkContext>,
    loc: &LakeLocation,
    feeds: &HashMap<String, Feed>,
    positions: &Positions,
) {
    let mut wanted = Vec::new();
    for topic in feeds.keys() {
        match consumer.fetch_metadata(Some(topic), Duration::from_secs(10)) {
            Ok(md) => {
                for t in md.topics() {
                    wanted.extend(t.partitions().iter().map(|p| (t.name().to_owned(), p.id())));
                }
            }
            Err(e) => {
                tracing::warn!(%topic, error = %e, "No metadata for a topic; its partitions will be sought on assignment.")
            }
        }
    }
    let reads = wanted
        .iter()
        .map(|(t, p)| async move { (t, *p, commit::next_offset(loc, t, *p).await) });
    for (topic, partition, next) in join_all(reads).await {
        match next {
            Ok(next) => positions.set(topic, partition, next),
            Err(e) => {
                tracing::warn!(%topic, partition, error = %e, "Cannot read the lake position yet; will retry on assignment.")
            }
        }
    }
}

struct LoopState {
    roller: Roller,
    feeds: HashMap<String, Feed>,
    positions: Positions,
    events: UnboundedReceiver<RebalanceEvent>,
    parts: HashMap<Key, PartState>,
    roll: RollPolicy,
    limits: Limits,
    report: SinkReport,
}

impl LoopState {
    /// Applies every pending assignment change. Called before handling a
    /// record, since the callback that announced its partition ran inside the
    /// same poll that returned it.
    async fn drain_events(&mut self, consumer: &StreamConsumer<SinkContext>) -> Result<()> {
        while let Ok(event) = self.events.try_recv() {
            match event {
                RebalanceEvent::Assigned(list) => {
                    for (topic, partition, known) in list {
                        let Some(&feed) = self.feeds.get(&topic) else {
                            continue;
                        };
                        let key: Key = (Arc::from(topic.as_str()), partition);
                        let next = match known {
                            Some(next) => next,
                            None => self.seek_from_lake(consumer, &topic, partition).await?,
                        };
                        tracing::info!(%topic, partition, next, "Partition assigned.");
                        self.parts.insert(
                            key.clone(),
                            PartState {
                                next_commit: next,
                                accept_from: next,
                                staged: Staged::new(
                                    PartitionBuffer::new(key.0, partition, feed),
                                    feed,
                                ),
                            },
                        );
                    }
                }
                RebalanceEvent::Revoked(list) => {
                    for (topic, partition) in list {
                        if let Some(part) =
                            self.parts.remove(&(Arc::from(topic.as_str()), partition))
                            && !part.staged.is_empty()
                        {
                            tracing::info!(%topic, partition, records = part.staged.records, "Partition revoked: its open batch is dropped, the next owner re-reads it.");
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads the partition's position from the lake and seeks the consumer
    /// there. Seeking right after an assignment can fail until the fetcher
    /// has started; retried for up to ~10 s.
    async fn seek_from_lake(
        &mut self,
        consumer: &StreamConsumer<SinkContext>,
        topic: &str,
        partition: i32,
    ) -> Result<i64> {
        let next = commit::next_offset(&self.roller.loc, topic, partition).await?;
        self.positions.set(topic, partition, next);
        let mut attempt = 0;
        loop {
            match consumer.seek(
                topic,
                partition,
                Offset::Offset(next),
                Duration::from_secs(5),
            ) {
                Ok(()) => return Ok(next),
                Err(e) if attempt < 50 => {
                    attempt += 1;
                    tracing::debug!(%topic, partition, error = %e, "Seek not possible yet; retrying.");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    return Err(Error::kafka(
                        format!("seek {topic}/{partition} to {next}"),
                        e,
                    ));
                }
            }
        }
    }

    async fn handle(
        &mut self,
        consumer: &StreamConsumer<SinkContext>,
        msg: &BorrowedMessage<'_>,
    ) -> Result<()> {
        let key: Key = (Arc::from(msg.topic()), msg.partition());
        let Some(part) = self.parts.get_mut(&key) else {
            tracing::trace!(
                topic = msg.topic(),
                partition = msg.partition(),
                "Record of an unassigned partition dropped."
            );
            return Ok(());
        };
        let offset = msg.offset();
        if offset < part.accept_from {
            tracing::trace!(
                topic = msg.topic(),
                partition = msg.partition(),
                offset,
                "Stale record (before the lake position) dropped."
            );
            return Ok(());
        }
        part.accept_from = offset + 1;
        part.staged
            .push(msg.detach(), self.limits, &mut self.roller.dlq)
            .await?;
        if part.staged.due(&self.roll, Instant::now()) {
            self.roll_one(consumer, &key).await?;
        }
        Ok(())
    }

    async fn roll_due(
        &mut self,
        consumer: &StreamConsumer<SinkContext>,
        now: Instant,
    ) -> Result<()> {
        let due: Vec<Key> = self
            .parts
            .iter()
            .filter(|(_, p)| p.staged.due(&self.roll, now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.roll_one(consumer, &key).await?;
        }
        Ok(())
    }

    async fn roll_all(&mut self, consumer: &StreamConsumer<SinkContext>) -> Result<()> {
        let open: Vec<Key> = self
            .parts
            .iter()
            .filter(|(_, p)| !p.staged.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for key in open {
            self.roll_one(consumer, &key).await?;
        }
        Ok(())
    }

    /// Rolls one partition's batch into the lake, then advances (committed) or
    /// re-seeks (lost the race).
    async fn roll_one(&mut self, consumer: &StreamConsumer<SinkContext>, key: &Key) -> Result<()> {
        let Some(part) = self.parts.get_mut(key) else {
            return Ok(());
        };
        let (topic, partition) = (key.0.clone(), key.1);
        let buffer = part
            .staged
            .settle(self.limits, &mut self.roller.dlq)
            .await?;
        match self
            .roller
            .roll(&topic, partition, part.next_commit, buffer)
            .await?
        {
            RollOutcome::Empty => Ok(()),
            RollOutcome::Committed(record) => {
                part.next_commit = record.last + 1;
                self.positions.set(&topic, partition, record.last + 1);
                self.report.commits += 1;
                self.report.rows += record.rows;
                self.report.dlq_records += record.dlq_records;
                self.report.files += record.files.len() as u64;
                // Advisory only: for lag monitoring and tools that read group offsets.
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition_offset(&topic, partition, Offset::Offset(record.last + 1))
                    .map_err(|e| Error::kafka("build offset list", e))?;
                if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
                    tracing::debug!(%topic, partition, error = %e, "Kafka offset commit failed (advisory only).");
                }
                Ok(())
            }
            RollOutcome::Conflict => {
                self.report.conflicts += 1;
                let next = self.seek_from_lake(consumer, &topic, partition).await?;
                if let Some(part) = self.parts.get_mut(key) {
                    part.next_commit = next;
                    part.accept_from = next;
                }
                tracing::warn!(%topic, partition, next, "Lost a commit race: batch discarded, resuming from the lake.");
                Ok(())
            }
        }
    }
}
