//! One ingest run: source → cursor (overlap drop, clock) → validation →
//! transactional writer, with the stop conditions and the summary.
//!
//! Two tasks joined by a bounded channel: the reader (this task) receives,
//! deduplicates and validates; the writer enqueues into Kafka and commits.
//! Validation keeps running while a commit waits for acks, and the channel's
//! bound pushes back on the source when Kafka is slower than the feed.

use std::future::Future;
use std::sync::{Arc, Mutex};

use schemas::Limits;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::IngestConfig;
use super::error::{IngestError, Result};
use super::kafka_admin::ensure_topics;
use super::kafka_out::{Committed, TxnWriter};
use super::metrics::{self, IngestMetrics};
use super::overlap::FeedCursor;
use super::record::{OutRecord, classify_timed};
use super::resume::recover;
use super::source::{Frame, Source, SourceEvent};
use super::summary::Summary;

/// Records between the reader and the writer: enough to cover a commit's
/// pause at full speed without stalling the reader for long.
const CHANNEL_CAPACITY: usize = 8_192;

/// Runs one ingest until the source ends (a file), a limit is reached
/// (`max_events`, `idle_exit`) or `shutdown` completes; then commits what is
/// in flight and returns what was done.
///
/// On error, records committed before the failure stay committed, and a rerun
/// with the same `transactional_id` resumes after them.
pub async fn run(config: IngestConfig, shutdown: impl Future<Output = ()>) -> Result<Summary> {
    config.validate()?;
    metrics::describe();
    let metrics = IngestMetrics::new(config.feed);
    let mut source = Source::open(&config).await?;
    ensure_topics(&config).await?;
    let writer = TxnWriter::connect(&config, metrics.clone()).await?;
    let cursor = recover(&config).await?;
    tracing::info!(
        feed = %config.feed,
        source = %config.source,
        clock = ?cursor.clock(),
        window = cursor.window_len(),
        "Producing; resuming after the committed records."
    );

    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let committed = Arc::new(Mutex::new(Committed::default()));
    let mut writer = AbortOnDrop(tokio::spawn(writer.run(receiver, Arc::clone(&committed))));
    let mut reader = Reader {
        config: &config,
        cursor,
        metrics,
        summary: Summary::default(),
    };
    let read = reader.read(&mut source, sender, shutdown).await;
    let written = (&mut writer.0)
        .await
        .map_err(|error| IngestError::Internal(format!("the Kafka writer panicked: {error}")))?;

    let mut summary = reader.summary;
    let committed = committed.lock().map(|c| *c).unwrap_or_default();
    summary.produced = committed.raw;
    summary.dlq = committed.dlq;
    tracing::info!(?summary, "Producer stopped.");
    // The writer's error explains a reader that stopped because the channel closed.
    written.and(read).map(|()| summary)
}

/// Dropping [`run`] (a caller's timeout, a cancelled task) must stop the
/// writer too, not leave it committing on its own: abort it on drop. An
/// aborted writer leaves its open transaction to be aborted by the next
/// instance's `init_transactions`, exactly as a crash would.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Reader<'a> {
    config: &'a IngestConfig,
    cursor: FeedCursor,
    metrics: IngestMetrics,
    summary: Summary,
}

impl Reader<'_> {
    async fn read(
        &mut self,
        source: &mut Source,
        sender: mpsc::Sender<OutRecord>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let limits = Limits::default();
        let idle_exit = self.config.idle_exit;
        let mut last_arrival = Instant::now();
        // One timer, moved only when it fires early: resetting it per record
        // would cost a timer update each.
        let idle = tokio::time::sleep(idle_exit.unwrap_or(std::time::Duration::from_secs(86_400)));
        tokio::pin!(idle, shutdown);
        loop {
            if let Some(max) = self.config.max_events
                && self.summary.received >= max
            {
                tracing::info!(max, "Received --max-events records; stopping.");
                return Ok(());
            }
            let event = tokio::select! {
                biased;
                () = &mut shutdown => {
                    tracing::info!("Shutdown requested; committing what is in flight.");
                    return Ok(());
                }
                () = &mut idle, if idle_exit.is_some() => {
                    let idle_exit = idle_exit.unwrap_or_default();
                    if last_arrival.elapsed() >= idle_exit {
                        tracing::info!(?idle_exit, "Nothing arrived for --idle-exit; stopping.");
                        return Ok(());
                    }
                    idle.as_mut().reset(last_arrival + idle_exit);
                    continue;
                }
                event = source.next(self.cursor.clock()) => event?,
            };
            let frame = match event {
                None => return Ok(()),
                Some(SourceEvent::Connected) => {
                    self.on_connect(source.reconnects());
                    continue;
                }
                Some(SourceEvent::Record(frame)) => frame,
            };
            last_arrival = Instant::now();
            let Some(record) = self.accept(frame, &limits) else {
                continue;
            };
            // A writer stalled on Kafka must not make the run deaf to a
            // shutdown. A record given up here was not produced, and the clock
            // committed does not cover it, so the next run receives it again.
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    tracing::info!("Shutdown requested; committing what is in flight.");
                    return Ok(());
                }
                sent = sender.send(record) => if sent.is_err() {
                    // The writer stopped; its error is the run's.
                    return Ok(());
                },
            }
        }
    }

    /// A (re)connection: the overlap phase starts.
    fn on_connect(&mut self, reconnects: u64) {
        self.cursor.on_connect();
        self.metrics
            .reconnects
            .increment(reconnects - self.summary.reconnects);
        self.summary.reconnects = reconnects;
    }

    /// Counts one received record and, unless it is overlap, validates it
    /// and stamps it with the clock.
    fn accept(&mut self, frame: Frame, limits: &Limits) -> Option<OutRecord> {
        self.summary.received += 1;
        self.metrics.received.increment(1);
        if self.cursor.is_overlap(&frame.bytes) {
            self.summary.duplicates_dropped += 1;
            self.metrics.duplicates_dropped.increment(1);
            return None;
        }
        // One parse: validation yields the event time the clock needs.
        let (route, time) = classify_timed(self.config.feed, &frame, limits);
        let clock = self.cursor.advance(&frame.bytes, time);
        Some(OutRecord {
            route,
            payload: frame.bytes,
            clock,
        })
    }
}
