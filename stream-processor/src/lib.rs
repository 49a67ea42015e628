//! The speed layer: consumes the raw topics (`billabong.rsvps`,
//! `billabong.race`) and publishes live metric updates to `billabong.metrics`,
//! exactly once (see DESIGN.md, "The lambda invariant").
//!
//! # Shape
//!
//! ```text
//! Kafka (read_committed) ─► PartitionPipeline (one per input partition, pure)
//!     parse ─► operator (rsvp/ or race/) ─► Emitter (emit.rs) ─► pack ─► TxnOutput
//!       └────► ViewPartial (view.rs) ─► checkpoint at commit ─┘  (updates + DLQ + offsets, one transaction)
//! ```
//!
//! Everything between the consumer and the producer is synchronous,
//! deterministic and does no I/O: `window.rs` (event-time clock, watermark,
//! tumbling/hopping windows), `rsvp/` and `race/` (the metrics, each module's
//! docs define them), `emit.rs` (the emission policy), `pipeline.rs`
//! (packing and ids). `kafka/` is the only I/O on the data path;
//! `registry.rs` reads the served model from the lake on a background task
//! and hands it to the loop through a `watch` channel.
//!
//! # State is a function of the input prefix
//!
//! State is kept **per input partition**, and every output of a partition is
//! a function of that partition's records up to the current one — never of
//! wall-clock time, batch boundaries or the interleaving with other
//! partitions. Event time drives everything: the watermark is the partition's
//! largest event time minus the allowed lateness, and the emission policy's
//! "at most once per interval" is measured on the same clock. So replaying a
//! partition from the same start offset reproduces the same updates with the
//! same ids. Consequences:
//!
//! - RSVP aggregates are **per partition partials** (RSVPs are keyed by
//!   event, so a country spreads over partitions): counts, yes counts and
//!   guests add up across partitions (the ratio is recomputed from the sums);
//!   a top-k list is exact per partition and exact overall only for a
//!   one-partition topic. Races are keyed by race, so race metrics are exact.
//! - The key of an output message is `<topic>:<partition>` of its input, so
//!   each input partition's updates stay in order in one output partition.
//!
//! # Update format
//!
//! One Kafka message packs up to 20 updates (`EmitConfig`) of one input
//! record:
//!
//! ```json
//! {"id": "billabong.rsvps:0:123:0",
//!  "source": {"topic": "billabong.rsvps", "partition": 0, "offset": 123},
//!  "source_event_time_ms": 1489000000000, "ingest_time_ms": 1700000000000, "emit_time_ms": 1700000000005,
//!  "updates": [{"id": "billabong.rsvps:0:123:0", "key": "rsvp_count/country/1m/1488999960000/us",
//!               "metric": "rsvp_count", "window": {"start_ms": 1488999960000, "end_ms": 1489000020000},
//!               "event_time_range": [1488999961000, 1489000000000], "value": {"count": 3, "yes": 2, "...": 0}}]}
//! ```
//!
//! An update's `id` is `<topic>:<partition>:<offset>:<seq>`, `seq` counting
//! the updates one input record caused; a consumer sees a duplicate as a
//! repeated id and a gap as a missing one. Only `emit_time_ms` differs
//! between a run and its replay — and the two model metrics below, when the
//! served model differs.
//!
//! # The served model: the one exception to determinism
//!
//! With `ModelConfig::lake` set, every RSVP is scored with the newest RSVP
//! response model of the batch layer's registry (`registry.rs` polls
//! `models/rsvp-response/latest`, default every 30 s) and two metrics are
//! published: `model_status` (which version scores the partition; version 0
//! = "no model published yet", also without a registry) and
//! `model_accuracy/rsvp-response/v<N>` (running accuracy, log-loss and
//! counts of version N, reset when the version changes). A version is
//! published at a wall-clock moment, so which records it scores is not a
//! function of the input. Rather than pretend otherwise, the dependence is
//! confined and made explicit:
//!
//! - Every **other** update is bit-identical with any model, with none, and
//!   across switches: the model metrics have their own emitter and come after
//!   every other update of a record, so they never shift another update's
//!   `seq`, value or message.
//! - A switch happens between two records of a partition; each model value
//!   names its `model_version` and the offsets it covers (`since_offset`,
//!   `last_offset`), so it can be checked by rescoring that range with that
//!   artifact. With one model throughout, a replay reproduces them exactly.
//! - A restart rebuilds the model metrics like any state, with the model
//!   served at the restart (the model loaded before the first record is read).
//!
//! Per-RSVP predictions are not published (`rsvp/predict.rs` says why).
//!
//! # Exactly once: consume → process → produce
//!
//! 1. **Fence.** The producer's `transactional.id` is
//!    `billabong-stream.<group>`; `init_transactions` aborts whatever a dead
//!    predecessor left open. (One instance per group: partitions are assigned
//!    manually, not balanced; see "Deferred".)
//! 2. **Positions.** For each input partition the group's committed offset
//!    `C` (read after the fencing, so no transaction of ours is pending) says
//!    how far the published output goes, because it was committed *in the same
//!    transaction* as that output (`send_offsets_to_transaction`). Its
//!    metadata records `S`, the offset the state was built from. Without a
//!    committed offset, `S = C =` `--start` (earliest, latest, offset:N,
//!    timestamp:RFC3339), and `S` is pinned by an offsets-only transaction at
//!    once, so a crash before the first output cannot move `latest`.
//! 3. **Rebuild.** The state is disposable: each partition is re-read from `S`
//!    and processed normally, but the output of offsets `< C` is dropped (it
//!    is already in Kafka, with the same ids). From `C` on, output is sent.
//! 4. **Commit.** Every `commit_interval` (200 ms), every
//!    `max_transaction_records` records, or when input pauses, the open
//!    transaction gets each advanced partition's next offset (with `S` in its
//!    metadata) and is committed, after waiting for the acks (librdkafka's
//!    commit flush polls in 100 ms steps).
//!
//! A crash (SIGKILL) at any instant either leaves the last transaction
//! aborted (neither its updates nor its offsets visible) or committed (both):
//! the restart resumes at `C` with a state rebuilt from `S`, and since the
//! output is a function of the input prefix it publishes exactly what the
//! lost run would have. A failed transaction is handled the same way, in
//! process: the generation is dropped and rebuilt from the committed
//! positions. Readers must consume `billabong.metrics` read_committed.
//!
//! Rebuild cost grows with `C − S` (the live state is rebuilt whole).
//!
//! # The real-time view generations (the lambda hand-over)
//!
//! Beside the live metrics, each partition keeps the batch views' rows over
//! the offsets after the newest batch run's watermark (`view.rs`,
//! `schemas::realtime`): generation `G` = the run id, starting at
//! `W[p] + 1` (0 and the first offset before any run). `kafka/batch_runs.rs`
//! follows `billabong.batch-runs`. When a new run is published the open
//! transaction is committed, every partition gets an empty generation and
//! the consumer is moved back to `W[p] + 1`; records already in the live
//! state feed only the view, then the generation's first checkpoint
//! publishes all its rows. Checkpoints come at commits: the changed rows,
//! then a `view_progress` marker naming the offsets covered, in the same
//! transaction as the offsets. The offsets' metadata also names the
//! published generation (`view=G:V`), so a restart resumes it, or starts
//! the newer one a run published meanwhile asks for. Serving pairs run `G`'s
//! batch views with generation `G`.
//!
//! # Emission policy
//!
//! `emit.rs`: only changed values; a key's first 20 changes at once, after
//! that at most one publication per 5 s of *event time*, always with the
//! latest value; a window's pending value is published when the watermark
//! closes it. Because the interval runs on event time, a hot key's last
//! value waits for the partition's next input (a quiet partition holds it);
//! a wall-clock flush would make the output depend on timing and break the
//! replay argument above. Output stays bounded: per key at most one update
//! per interval once hot, and 20 updates per message.
//!
//! # Late events
//!
//! An event joins every window whose end is after the watermark; for a
//! window the watermark has closed it is *late*: counted per window spec in
//! the `rsvp_late` update and in `billabong_stream_late_events_total`. The
//! real RSVP feed replays records up to 37 days old: they are counted there,
//! while the ones within the allowed lateness (5 min by default) still update
//! their windows.
//!
//! # Deferred
//!
//! Blended race prediction (the `race-position` model is published; the
//! blend is not written yet), turbo replay from the lake,
//! consumer-group rebalancing between instances (each
//! partition's state is independent, so a rebalance is "rebuild the assigned
//! partitions", with per-partition transactional ids or KIP-447 fencing).
//!
//! ```
//! use billabong_stream_processor::{StartPosition, StreamConfig};
//! let mut config = StreamConfig::new("127.0.0.1:9092");
//! config.start = "timestamp:2017-03-08T10:00:00Z".parse::<StartPosition>()?;
//! config.validate()?;
//! # Ok::<(), billabong_stream_processor::Error>(())
//! ```

mod config;
mod emit;
mod error;
mod kafka;
mod metrics;
mod pipeline;
mod race;
mod registry;
mod rsvp;
mod update;
mod view;
mod window;

pub use config::{EmitConfig, ModelConfig, OperatorConfig, StartPosition, StreamConfig};
pub use error::{Error, Result};
pub use kafka::StreamReport;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs the speed layer until `shutdown` completes, then commits the open
/// transaction and returns what it did.
pub async fn run(
    config: StreamConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<StreamReport> {
    config.validate()?;
    let feed = registry::start(&config.model).await?;
    let mut models = feed.receiver;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let watcher = tokio::spawn(async move {
        shutdown.await;
        flag.store(true, Ordering::Relaxed);
    });
    let result =
        tokio::task::spawn_blocking(move || kafka::run_blocking(&config, &stop, &mut models))
            .await
            .map_err(|e| Error::Internal(format!("the stream loop panicked: {e}")));
    watcher.abort();
    if let Some(task) = feed.task {
        task.abort();
    }
    result?
}
