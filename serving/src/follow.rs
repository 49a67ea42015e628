//! The two feeds of the state: the metrics topic (a blocking consumer
//! thread) and the batch runs in PostgreSQL (an async poll).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::batch_views;
use serde_json::json;

use crate::error::{Error, Result};
use crate::http::VIEWS;
use crate::sse::{Hub, MessageEvents};
use crate::state::State;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often input end offsets (for lag) are refreshed.
const ENDS_REFRESH: Duration = Duration::from_secs(1);
/// Messages applied under one lock.
const BATCH: usize = 500;

/// Shared between the HTTP handlers and the feeds.
pub(crate) type Shared = Arc<RwLock<State>>;

/// Reads `topic` (every partition, from the beginning, read_committed) into
/// `state` and publishes its events to SSE clients through `hub`, until
/// `stop` is set. `caught_up` is set once the end offsets seen at the start
/// are reached.
pub(crate) fn follow_metrics(
    brokers: &str,
    topic: &str,
    state: &Shared,
    hub: &Hub,
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
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), ADMIN_TIMEOUT)
                .map_err(Error::kafka("fetching watermarks"))?;
            hub.forgotten_below(p.id(), low);
            targets.push((p.id(), high));
        }
    }
    consumer
        .assign(&list)
        .map_err(Error::kafka("assigning the metrics topic"))?;
    let mut ends_refreshed = Instant::now() - ENDS_REFRESH;
    let mut batch = Vec::with_capacity(BATCH);
    let mut announced = None;
    while !stop.load(Ordering::Relaxed) {
        batch.clear();
        let mut wait = Duration::from_millis(100);
        while batch.len() < BATCH {
            match consumer.poll(wait) {
                Some(Ok(m)) => {
                    if let Some(Ok(v)) =
                        m.payload().map(serde_json::from_slice::<serde_json::Value>)
                    {
                        batch.push((m.partition(), m.offset(), v));
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
        apply_batch(state, hub, &batch, &mut announced);
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

/// Applies `batch` (partition, offset, message) to the state, hands over
/// if it can, and publishes the batch's events under the same lock: one
/// per live update, then one `views` event if the served views changed
/// since `announced` (the served generation the last one described) —
/// by a checkpoint of the served generation or a hand-over, which the
/// batch-run poll may have made since the last batch.
fn apply_batch(
    state: &Shared,
    hub: &Hub,
    batch: &[(i32, i64, serde_json::Value)],
    announced: &mut Option<i64>,
) {
    if batch.is_empty() && state.read().unwrap_or_else(|p| p.into_inner()).served == *announced {
        return;
    }
    let messages: Vec<MessageEvents> = batch
        .iter()
        .map(|(partition, offset, message)| MessageEvents {
            partition: *partition,
            offset: *offset,
            events: live_events(message),
        })
        .collect();
    let mut s = state.write().unwrap_or_else(|p| p.into_inner());
    let checkpoints: Vec<_> = batch
        .iter()
        .filter_map(|(_, _, message)| {
            s.latency.observe(message);
            s.realtime.apply(message)
        })
        .collect();
    s.hand_over();
    let views: Option<BTreeSet<&str>> = if s.served != *announced {
        Some(VIEWS.iter().copied().collect())
    } else {
        let mut served = checkpoints
            .into_iter()
            .filter(|c| Some(c.generation) == s.served)
            .peekable();
        served
            .peek()
            .is_some()
            .then(|| served.flat_map(|c| c.views).collect())
    };
    *announced = s.served;
    let views = views.map(|views| json!({"coverage": s.coverage(), "views": views}).to_string());
    hub.publish(messages, views);
}

/// The SSE events of one metrics message: each update of a live message
/// (view generations' rows are announced by `views` events instead).
fn live_events(message: &serde_json::Value) -> Vec<(String, String)> {
    if !message["generation"].is_null() {
        return Vec::new();
    }
    let Some(updates) = message["updates"].as_array() else {
        return Vec::new();
    };
    updates
        .iter()
        .filter_map(|u| Some((u["metric"].as_str()?.to_owned(), u.to_string())))
        .collect()
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
