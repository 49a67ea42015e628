//! The two feeds of the state: the metrics topic (a blocking consumer
//! thread) and the batch runs in PostgreSQL (an async poll).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::batch_views;
use crate::error::{Error, Result};
use crate::state::State;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often input end offsets (for lag) are refreshed.
const ENDS_REFRESH: Duration = Duration::from_secs(1);
/// Messages applied under one lock.
const BATCH: usize = 500;

/// Shared between the HTTP handlers and the feeds.
pub(crate) type Shared = Arc<RwLock<State>>;

/// Reads `topic` (every partition, from the beginning, read_committed) into
/// `state` until `stop` is set. `caught_up` is set once the end offsets seen
/// at the start are reached.
pub(crate) fn follow_metrics(
    brokers: &str,
    topic: &str,
    state: &Shared,
    stop: &AtomicBool,
    caught_up: &AtomicBool,
) -> Result<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "billabong-serve")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "20")
        .create()
        .map_err(Error::kafka("creating the metrics consumer"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), ADMIN_TIMEOUT)
        .map_err(Error::kafka("fetching metrics-topic metadata"))?;
    let mut list = TopicPartitionList::new();
    let mut targets = Vec::new();
    for t in metadata.topics().iter().filter(|t| t.error().is_none()) {
        for p in t.partitions() {
            list.add_partition_offset(topic, p.id(), Offset::Beginning)
                .map_err(Error::kafka("building the assignment"))?;
            let (_, high) = consumer
                .fetch_watermarks(topic, p.id(), ADMIN_TIMEOUT)
                .map_err(Error::kafka("fetching watermarks"))?;
            targets.push((p.id(), high));
        }
    }
    consumer
        .assign(&list)
        .map_err(Error::kafka("assigning the metrics topic"))?;
    let mut ends_refreshed = Instant::now() - ENDS_REFRESH;
    let mut batch = Vec::with_capacity(BATCH);
    while !stop.load(Ordering::Relaxed) {
        batch.clear();
        let mut wait = Duration::from_millis(100);
        while batch.len() < BATCH {
            match consumer.poll(wait) {
                Some(Ok(m)) => {
                    if let Some(Ok(v)) =
                        m.payload().map(serde_json::from_slice::<serde_json::Value>)
                    {
                        batch.push(v);
                    } else {
                        tracing::warn!(
                            offset = m.offset(),
                            "Skipping a metrics record that is not JSON."
                        );
                    }
                }
                Some(Err(error)) => tracing::warn!(%error, "Metrics consumer error."),
                None => break,
            }
            wait = Duration::ZERO;
        }
        if !batch.is_empty() {
            let mut s = state.write().unwrap_or_else(|p| p.into_inner());
            for message in &batch {
                s.realtime.apply(message);
                s.latency.observe(message);
            }
            s.hand_over();
        }
        if !caught_up.load(Ordering::Relaxed) {
            let positions = consumer
                .position()
                .map_err(Error::kafka("reading positions"))?;
            let done = targets.iter().all(|&(p, high)| {
                high == 0
                    || matches!(positions.find_partition(topic, p).map(|e| e.offset()),
                                Some(Offset::Offset(o)) if o >= high)
            });
            caught_up.store(done, Ordering::Relaxed);
        }
        if ends_refreshed.elapsed() >= ENDS_REFRESH {
            ends_refreshed = Instant::now();
            refresh_ends(&consumer, state);
        }
    }
    Ok(())
}

/// Kafka's end offset of every input partition a generation names.
fn refresh_ends(consumer: &BaseConsumer, state: &Shared) {
    let inputs: Vec<(String, i32)> = {
        let s = state.read().unwrap_or_else(|p| p.into_inner());
        s.realtime
            .generations
            .values()
            .flat_map(|g| g.partitions.keys().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut ends = BTreeMap::new();
    for (topic, p) in inputs {
        match consumer.fetch_watermarks(&topic, p, Duration::from_secs(5)) {
            Ok((_, high)) => {
                ends.insert((topic, p), high);
            }
            Err(error) => tracing::debug!(%error, topic, p, "No end offset for lag."),
        }
    }
    state.write().unwrap_or_else(|p| p.into_inner()).ends = ends;
}

/// Loads every successful batch run not loaded yet (newest two), then tries
/// a hand-over; repeats every `every` until `stop`.
pub(crate) async fn follow_batch_runs(
    postgres: &str,
    state: &Shared,
    every: Duration,
    stop: &AtomicBool,
) -> Result<()> {
    let mut client = batch_views::connect(postgres).await?;
    while !stop.load(Ordering::Relaxed) {
        match load_new_runs(&client, state).await {
            Ok(()) => {}
            Err(error) => {
                tracing::warn!(%error, "Reading batch runs failed; reconnecting.");
                if let Ok(c) = batch_views::connect(postgres).await {
                    client = c;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
    Ok(())
}

async fn load_new_runs(client: &tokio_postgres::Client, state: &Shared) -> Result<()> {
    for run in batch_views::available_runs(client).await? {
        let known = {
            let s = state.read().unwrap_or_else(|p| p.into_inner());
            s.batches.contains_key(&run) || s.served.is_some_and(|g| g > run)
        };
        if known {
            continue;
        }
        let Some(snapshot) = batch_views::load(client, run).await? else {
            continue;
        };
        tracing::info!(run, rows = snapshot.rows.len(), "Batch run loaded.");
        let mut s = state.write().unwrap_or_else(|p| p.into_inner());
        s.batches.insert(run, Arc::new(snapshot));
        s.hand_over();
    }
    Ok(())
}
