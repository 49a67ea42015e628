//! The Kafka side: consume read_committed, run each partition's pipeline,
//! publish in transactions that carry the consumed offsets.

mod batch_runs;
mod output;
mod start;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::config::StreamConfig;
use crate::error::{Error, Result};
use crate::metrics;
use crate::pipeline::{FeedKind, InputRecord, PartitionPipeline, Steps};
use crate::registry::ModelReceiver;
use crate::view::ViewPartial;
use batch_runs::{BatchRuns, generation_start};
use output::{Rejected, TxnOutput};
use schemas::BatchRun;
use start::{PartitionStart, start_metadata};

/// What a run did, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamReport {
    /// Input records processed (replayed ones included).
    pub records: u64,
    /// Input records of the replayed prefix, whose output was already published.
    pub replayed: u64,
    /// Update messages published.
    pub messages: u64,
    /// Updates published.
    pub updates: u64,
    /// Records sent to the DLQ.
    pub dlq: u64,
    /// Records late for at least one window.
    pub late: u64,
    /// Transactions committed.
    pub transactions: u64,
    /// Times the state was rebuilt after a failed transaction.
    pub restarts: u64,
    /// View generations started for a newly published batch run while
    /// running (see `view.rs`).
    pub view_switches: u64,
    /// Records re-read to build a new view generation.
    pub view_rebuilt: u64,
}

/// How often the runs topic is polled for a new batch run.
const RUNS_CHECK: Duration = Duration::from_secs(1);

/// Generations rebuilt after a failed transaction before giving up.
const MAX_RESTARTS: u64 = 5;

/// How often a generation checks whether its input topics changed (a topic
/// created after the start, partitions added).
const TOPOLOGY_CHECK: Duration = Duration::from_secs(5);

/// How a generation ended without an error.
enum GenerationEnd {
    /// `stop` was set: the run is over.
    Stopped,
    /// An input topic appeared or grew: start a new generation, which
    /// assigns every partition and rebuilds the state by replay (the same
    /// path as a restart; the state is disposable).
    TopologyChanged,
}

/// Runs until `stop` is set; commits what is open, then returns. A model
/// arriving on `models` is served from each RSVP partition's next record.
pub(crate) fn run_blocking(
    config: &StreamConfig,
    stop: &Arc<AtomicBool>,
    models: &mut ModelReceiver,
) -> Result<StreamReport> {
    let mut report = StreamReport::default();
    loop {
        match run_generation(config, stop, models, &mut report) {
            Ok(GenerationEnd::Stopped) => return Ok(report),
            Ok(GenerationEnd::TopologyChanged) => {
                tracing::info!("Input topics changed; starting a new generation.");
            }
            Err(error @ (Error::TransactionFailed { .. } | Error::Kafka { .. }))
                if report.restarts < MAX_RESTARTS =>
            {
                report.restarts += 1;
                tracing::warn!(%error, restarts = report.restarts, "Transaction failed; rebuilding the state from the committed positions.");
                std::thread::sleep(Duration::from_millis(500 * report.restarts));
            }
            Err(error) => return Err(error),
        }
    }
}

struct Partition {
    pipeline: PartitionPipeline,
    kind: FeedKind,
    /// Where the live state was built from (`S`, for the metadata).
    state_from: i64,
    /// The next offset the live state needs.
    live_next: i64,
    publish_from: i64,
    /// Next offset to commit, once past `publish_from`.
    next: Option<i64>,
    /// The view generation whose rows are in Kafka and its first offset
    /// (for the metadata); `None` until one is.
    view_published: Option<(i64, i64)>,
}

impl Partition {
    /// The current view generation is the published one, so its rows for
    /// offsets before `publish_from` are already in Kafka (a restart
    /// resuming it). After a switch this stays false until the new
    /// generation's first checkpoint, which waits for the live state to pass
    /// `publish_from`.
    fn view_resumed(&self) -> bool {
        self.view_published.map(|(g, _)| g) == Some(self.pipeline.view().generation())
    }

    /// The offset the consumer must read from next for both halves.
    fn read_from(&self) -> i64 {
        self.live_next.min(self.pipeline.view().next())
    }

    /// A checkpoint of the view may be published: it has read everything
    /// the live state has, and the live state is past the replayed prefix
    /// (so a generation never announces a position behind the published one).
    fn view_checkpoint_due(&self) -> bool {
        self.pipeline.view().next() >= self.live_next
            && self.live_next >= self.publish_from
            && self.pipeline.view().due()
    }
}

/// One generation: fence, resolve positions, rebuild by replay, publish.
fn run_generation(
    config: &StreamConfig,
    stop: &Arc<AtomicBool>,
    models: &mut ModelReceiver,
    report: &mut StreamReport,
) -> Result<GenerationEnd> {
    let mut runs = BatchRuns::open(&config.brokers, &config.runs_topic)?;
    let newest = runs.catch_up()?;
    let (consumer, mut generation) = Generation::start(config, newest.as_ref())?;
    generation.set_model(models);
    let mut runs_checked = Instant::now();
    let mut in_txn = 0usize;
    let mut txn_started = Instant::now();
    let mut topology_checked = Instant::now();
    let mut end = GenerationEnd::Stopped;
    while !stop.load(Ordering::Relaxed) {
        if topology_checked.elapsed() >= TOPOLOGY_CHECK {
            topology_checked = Instant::now();
            let names: Vec<&str> = generation.topics.iter().map(String::as_str).collect();
            if start::partition_counts(&consumer, &names)? != generation.partition_counts {
                end = GenerationEnd::TopologyChanged;
                break;
            }
        }
        if runs_checked.elapsed() >= RUNS_CHECK {
            runs_checked = Instant::now();
            if let Some(run) = runs.poll_newer()? {
                if in_txn > 0 || generation.output.is_open() {
                    generation.commit()?;
                    report.transactions += 1;
                    in_txn = 0;
                }
                generation.switch_views(&consumer, &run)?;
                report.view_switches += 1;
            }
        }
        // A closed channel (no registry) never changes.
        if models.has_changed().unwrap_or(false) {
            generation.set_model(models);
        }
        let idle = match consumer.poll(Duration::from_millis(50)) {
            None => true,
            Some(Err(error)) => {
                // librdkafka retries broker failures itself; a fatal one
                // surfaces again at the next transaction.
                tracing::warn!(%error, "Consumer error.");
                true
            }
            Some(Ok(message)) => {
                if generation.handle(&message, report)? {
                    if in_txn == 0 {
                        txn_started = Instant::now();
                    }
                    in_txn += 1;
                }
                false
            }
        };
        let due = in_txn >= config.max_transaction_records
            || txn_started.elapsed() >= config.commit_interval;
        if (in_txn > 0 && (due || idle)) || (idle && generation.views_due()) {
            generation.commit()?;
            report.transactions += 1;
            in_txn = 0;
        }
    }
    if in_txn > 0 || generation.output.is_open() || generation.views_due() {
        generation.commit()?;
        report.transactions += 1;
    }
    tracing::info!(
        records = report.records,
        messages = report.messages,
        "Stopped; the last transaction is committed."
    );
    Ok(end)
}

/// The clients and per-partition state of one generation.
struct Generation {
    output: TxnOutput,
    group: ConsumerGroupMetadata,
    partitions: HashMap<(String, i32), Partition>,
    /// The configured input topics and their partition counts at the start.
    topics: Vec<String>,
    partition_counts: Vec<usize>,
}

impl Generation {
    /// Fences the predecessor, resolves and pins the positions, assigns the
    /// partitions at their state's start; returns the assigned consumer.
    /// `run` is the newest published batch run: it names the view generation.
    fn start(config: &StreamConfig, run: Option<&BatchRun>) -> Result<(BaseConsumer, Self)> {
        let transactional_id = format!("billabong-stream.{}", config.group);
        let mut output = TxnOutput::connect(
            &config.brokers,
            &transactional_id,
            &config.metrics_topic,
            &config.dlq_topic,
        )?;
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", &config.group)
            .set("isolation.level", "read_committed")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "20")
            .create()
            .map_err(Error::kafka("creating the consumer"))?;
        let group = consumer
            .group_metadata()
            .ok_or_else(|| Error::Internal("the consumer has no group metadata".into()))?;
        let mut topics: Vec<(&str, FeedKind)> = Vec::new();
        if !config.rsvps_topic.is_empty() {
            topics.push((&config.rsvps_topic, FeedKind::Rsvps));
        }
        if !config.race_topic.is_empty() {
            topics.push((&config.race_topic, FeedKind::Race));
        }
        let names: Vec<&str> = topics.iter().map(|(t, _)| *t).collect();
        let partition_counts = start::partition_counts(&consumer, &names)?;
        let starts = start::resolve(&consumer, &names, &partition_counts, config.start)?;
        pin_starts(&mut output, &group, &starts)?;
        let mut partitions = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for s in &starts {
            let kind = topics
                .iter()
                .find(|(t, _)| *t == s.topic)
                .map_or(FeedKind::Rsvps, |(_, k)| *k);
            let generation = run.map_or(0, |r| r.run_id);
            let (view, view_resumed) = match s.view {
                Some((g, v)) if g == generation => {
                    let mut view = ViewPartial::new(g, v.max(s.low));
                    view.set_published();
                    (view, true)
                }
                _ => {
                    let from = generation_start(run, &s.topic, s.partition, s.low);
                    (ViewPartial::new(generation, from), false)
                }
            };
            tracing::info!(
                topic = s.topic,
                partition = s.partition,
                generation,
                view_from = view.from(),
                resumed = view_resumed,
                "View generation resolved."
            );
            let pipeline = PartitionPipeline::new(
                &s.topic,
                s.partition,
                kind,
                config.emit,
                &config.operators,
                view,
            );
            let partition = Partition {
                pipeline,
                kind,
                state_from: s.state_from,
                live_next: s.state_from,
                publish_from: s.publish_from,
                next: None,
                view_published: s.view.filter(|_| view_resumed),
            };
            assignment
                .add_partition_offset(&s.topic, s.partition, Offset::Offset(partition.read_from()))
                .map_err(Error::kafka("building the assignment"))?;
            partitions.insert((s.topic.clone(), s.partition), partition);
        }
        consumer
            .assign(&assignment)
            .map_err(Error::kafka("assigning partitions"))?;
        Ok((
            consumer,
            Generation {
                output,
                group,
                partitions,
                topics: names.iter().map(|t| (*t).to_owned()).collect(),
                partition_counts,
            },
        ))
    }

    /// Hands the newest model to every partition (RSVP partitions serve it
    /// from their next record).
    fn set_model(&mut self, models: &mut ModelReceiver) {
        let model = models.borrow_and_update().clone();
        for part in self.partitions.values_mut() {
            part.pipeline.set_model(model.clone());
        }
    }

    /// Processes one record; returns true when its output belongs to the
    /// open transaction (false for the replayed prefix).
    fn handle(&mut self, message: &BorrowedMessage<'_>, report: &mut StreamReport) -> Result<bool> {
        let topic = message.topic();
        let Some(part) = self
            .partitions
            .get_mut(&(topic.to_owned(), message.partition()))
        else {
            return Ok(false);
        };
        let offset = message.offset();
        let steps = Steps {
            live: offset >= part.live_next,
            view: offset >= part.pipeline.view().next(),
            view_dirty: !(part.view_resumed() && offset < part.publish_from),
        };
        if !steps.live && !steps.view {
            // Fetched before a re-assignment moved the position back.
            return Ok(false);
        }
        let record = InputRecord {
            offset,
            payload: message.payload().unwrap_or_default(),
            ingest_time_ms: message.timestamp().to_millis(),
        };
        let produced = part.pipeline.process(record, steps);
        if !steps.live {
            report.view_rebuilt += 1;
            return Ok(false);
        }
        part.live_next = offset + 1;
        let replayed = offset < part.publish_from;
        let updates: usize = produced.messages.iter().map(|m| m.updates).sum();
        let rejected = produced.rejected.is_some();
        metrics::record_input(
            topic,
            updates,
            produced.messages.len(),
            produced.late,
            rejected,
            replayed,
        );
        report.records += 1;
        report.late += u64::from(produced.late > 0);
        if replayed {
            report.replayed += 1;
            return Ok(false);
        }
        report.messages += produced.messages.len() as u64;
        report.updates += updates as u64;
        for out in produced.messages {
            self.output.send(out)?;
        }
        if let Some(error) = &produced.rejected {
            report.dlq += 1;
            let feed = match part.kind {
                FeedKind::Rsvps => "rsvps",
                FeedKind::Race => "race",
            };
            self.output.send_dlq(&Rejected {
                topic,
                partition: message.partition(),
                offset,
                feed,
                key: message.key(),
                payload: record.payload,
                error,
            })?;
        }
        part.next = Some(offset + 1);
        Ok(true)
    }

    /// True when a view checkpoint waits for a commit (a new generation
    /// that has caught up).
    fn views_due(&self) -> bool {
        self.partitions.values().any(Partition::view_checkpoint_due)
    }

    /// Starts view generation `run` on every partition: each is re-read
    /// from `W[p] + 1` (view only) up to where the live state is, then
    /// checkpointed whole. Call with no transaction open.
    fn switch_views(&mut self, consumer: &BaseConsumer, run: &BatchRun) -> Result<()> {
        if self
            .partitions
            .values()
            .any(|p| p.pipeline.view().generation() >= run.run_id)
        {
            return Ok(());
        }
        let mut assignment = TopicPartitionList::new();
        for ((topic, p), part) in &mut self.partitions {
            let (low, _) = consumer
                .fetch_watermarks(topic, *p, start::ADMIN_TIMEOUT)
                .map_err(Error::kafka("fetching watermarks"))?;
            let from = generation_start(Some(run), topic, *p, low);
            part.pipeline.set_view(ViewPartial::new(run.run_id, from));
            assignment
                .add_partition_offset(topic, *p, Offset::Offset(part.read_from()))
                .map_err(Error::kafka("building the assignment"))?;
        }
        consumer.assign(&assignment).map_err(Error::kafka(
            "re-assigning partitions for a view generation",
        ))?;
        metrics::record_view_generation(run.run_id);
        tracing::info!(
            run_id = run.run_id,
            "Batch run published; building its view generation."
        );
        Ok(())
    }

    /// Commits the open transaction with every advanced partition's
    /// position, after the view checkpoints of the caught-up partitions.
    fn commit(&mut self) -> Result<()> {
        let started = Instant::now();
        let mut offsets = TopicPartitionList::new();
        for ((topic, p), part) in &mut self.partitions {
            let mut changed = false;
            if part.view_checkpoint_due() {
                for message in part.pipeline.view_checkpoint() {
                    self.output.send(message)?;
                }
                let view = part.pipeline.view();
                let published = Some((view.generation(), view.from()));
                changed = part.view_published != published;
                part.view_published = published;
            }
            if part.next.is_some() || changed {
                let mut elem = offsets.add_partition(topic, *p);
                elem.set_offset(Offset::Offset(part.next.unwrap_or(part.publish_from)))
                    .map_err(Error::kafka("building the offsets to commit"))?;
                elem.set_metadata(start_metadata(part.state_from, part.view_published));
            }
        }
        self.output.commit(&offsets, &self.group)?;
        let keys: usize = self
            .partitions
            .values()
            .map(|p| p.pipeline.tracked_keys())
            .sum();
        let seconds = started.elapsed().as_secs_f64();
        metrics::record_commit(seconds, keys);
        tracing::debug!(
            partitions = offsets.count(),
            commit_ms = seconds * 1e3,
            tracked_keys = keys,
            "Transaction committed."
        );
        Ok(())
    }
}

/// Commits the start of every partition the group had no position for, so
/// that a restart rebuilds from the same offset (see `start.rs`).
fn pin_starts(
    output: &mut TxnOutput,
    group: &ConsumerGroupMetadata,
    starts: &[PartitionStart],
) -> Result<()> {
    let mut offsets = TopicPartitionList::new();
    for s in starts.iter().filter(|s| s.needs_pin) {
        let mut elem = offsets.add_partition(&s.topic, s.partition);
        elem.set_offset(Offset::Offset(s.state_from))
            .map_err(Error::kafka("building the offsets to pin"))?;
        elem.set_metadata(start_metadata(s.state_from, None));
    }
    if offsets.count() > 0 {
        output.commit(&offsets, group)?;
        tracing::info!(partitions = offsets.count(), "Start positions pinned.");
    }
    Ok(())
}
