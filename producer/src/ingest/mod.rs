//! The producer: a feed (websocket or JSON Lines file) into Kafka, validated,
//! exactly once — including when the producer is killed and restarted, or the
//! feed drops the connection (issue #4).
//!
//! [`run`] takes an [`IngestConfig`] and a shutdown future and returns a
//! [`Summary`]; `billabong produce` is a thin wrapper around it.
//!
//! # Records
//!
//! Each message is validated with [`schemas::Feed::parse`] (default
//! [`schemas::Limits`]). A valid one goes to the raw topic keyed by
//! [`schemas::FeedEvent::key`] (RSVP: event id; race: race id), as the raw bytes
//! received. Anything else — invalid JSON, a schema violation, a binary
//! websocket frame — goes to the DLQ with its bytes unchanged and the headers
//! of [`schemas::topics`] (source, feed, error kind, path, message; header
//! values cut to 1 KiB, as a message may quote a 256 KiB value). Nothing is
//! dropped except the overlap duplicates below, and each of those is counted.
//! Every record carries `billabong-producer` (the transactional id) and
//! `billabong-clock` (the feed clock after it).
//!
//! # Exactly once
//!
//! **The feed clock.** A record's event time is its `mtime` (RSVPs) or `ts`
//! (race), read as the simulator reads it
//! ([`crate::simulator::event_time_ms`]). The producer's clock `C` is the
//! running maximum over every record it has produced, valid or not; a record
//! without a readable time keeps `C`. A feed serves `?since_mtime=M` from the
//! first position whose running maximum reaches `M`. So a connection opened
//! with `since_mtime=C` sends everything after our last record, preceded by an
//! overlap: the records produced since `C` took its current value — the
//! *window*. (The simulator gives records before the first event time that
//! first time, so they stay in the window until the clock moves on.)
//!
//! **Dropping the overlap.** The window is a multiset of records by content:
//! the real recording holds byte-identical lines and repeated `rsvp_id`s that
//! are distinct records, so neither a set nor an id would do. After each
//! connect, a record with a copy left in (a copy of) the window is dropped
//! and that copy removed; the first record not in it ends the overlap. The
//! window itself persists until the clock advances, so a connection lost in
//! the middle of an overlap is handled the same way again. (Clearing the
//! window when an overlap ends, as first sketched, would be a bug: a second
//! reconnect before the clock moves replays the records of the first one too,
//! and they would be produced twice. `overlap.rs` tests every cut point.)
//!
//! **Kafka.** One transactional producer (`transactional.id`, idempotent,
//! `acks=all`) writes raw and DLQ records in the same transactions, committed
//! every ~100 ms or 20,000 records. Each partition's records are in produce
//! order and commits are atomic across partitions, so what a `read_committed`
//! consumer sees is always a *prefix* of the producer's output.
//!
//! **Restart (SIGKILL included).** `init_transactions` with the same id fences
//! the dead instance and aborts its open transaction (a commit it had already
//! sent completes). Then the tail of every partition of the raw topic and the
//! DLQ is read back `read_committed`, keeping this producer's records (by
//! `billabong-producer`). The clock header is non-decreasing along the output,
//! so the last committed record overall — the one with the highest
//! `billabong-clock` among the partitions' last records — holds the clock
//! `C` of the committed prefix, and the committed records with clock `C`
//! (per partition a suffix, read backwards in chunks) are exactly the window
//! the dead instance had at the end of that prefix. The restart then connects
//! with `since_mtime=C` (a `file:` source skips to the same position itself)
//! and drops the overlap as after any reconnect. Records the dead instance
//! had received but not committed are simply received again. Nothing is lost
//! and nothing is written twice.
//!
//! **Failures.** A delivery that fails for good (after librdkafka's retries)
//! makes the transaction's commit fail: it is aborted and its records, kept in
//! memory until committed, are written again in a new transaction, up to a
//! few attempts; then the run stops with an error (exit non-zero) and every
//! earlier transaction stays committed. Failed deliveries are counted.
//!
//! # What is not covered (the remaining window)
//!
//! - A feed that does not replay deterministically: the argument needs the
//!   catch-up at `C` to send the window's records again before anything new.
//!   A live feed that forgets, reorders across the clock or renders records
//!   differently on replay yields duplicates (window records it no longer
//!   sends are harmless) or losses (records it never sends again).
//! - The window lives in memory; a feed whose clock stalls for long (many
//!   records, no later event time) makes it, and the restart's read, large.
//! - `--loop` on the simulator repeats event times, so a catch-up lands in
//!   the first lap; only runs within one lap are exact.
//! - A run's topics are part of its identity: restarting with the same
//!   transactional id but another `--topic`/`--dlq-topic` resumes from what
//!   those topics hold. Two live instances with one id cannot both run: the
//!   newer fences the older, which stops with an error.
//! - Retention that deleted the committed window (a producer restarted after
//!   its last records expired) cannot be resumed exactly.
//! - A record larger than [`MAX_RECORD_BYTES`] cannot be stored by Kafka: it
//!   goes to the DLQ cut to that size, and its message says so.
//! - Another producer's open transaction in a shared DLQ can delay the restart
//!   (its records hide ours until it ends); the read gives up after 90 s. A
//!   partition holding none of our records is read back to its start.
//!
//! Records are recognised as ours by `billabong-producer` (the transactional
//! id) rather than by feed, so topics shared with other producers, even of
//! the same feed, do not confuse the restart.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), billabong_producer::ingest::IngestError> {
//! use billabong_producer::ingest::{IngestConfig, run};
//! use schemas::Feed;
//!
//! let source = "file:shared/data/meetup-rsvps/rsvps.jsonl".parse()?;
//! let config = IngestConfig::new(Feed::Rsvps, source, "127.0.0.1:9092");
//! let summary = run(config, std::future::pending()).await?;
//! println!("{}", summary.to_json_line());
//! # Ok(())
//! # }
//! ```

mod backoff;
mod config;
mod delivery;
mod error;
mod kafka_admin;
mod kafka_out;
mod metrics;
mod overlap;
mod record;
mod resume;
mod run;
mod source;
mod summary;

pub use config::{
    IngestConfig, KafkaTuning, MAX_RECORD_BYTES, SourceSpec, WebsocketTuning,
    default_transactional_id,
};
pub use error::{IngestError, Result};
pub use metrics::{
    DELIVERY_ERRORS_TOTAL, DLQ_TOTAL, DUPLICATES_DROPPED_TOTAL, PRODUCE_LATENCY_SECONDS,
    PRODUCED_TOTAL, RECEIVED_TOTAL, RECONNECTS_TOTAL,
};
pub use run::run;
pub use summary::Summary;
