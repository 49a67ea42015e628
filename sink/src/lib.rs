//! The raw lake: consumes the raw topics and writes them as Parquet files to
//! an object store (`s3://` or `file://`), exactly once.
//!
//! - [`run`] with a [`SinkConfig`]: the `billabong sink` service.
//! - [`Lake`]: the reader API — [`Lake::committed_files`] and
//!   [`Lake::watermarks`] — for the batch layer and `billabong sql`.
//! - [`compact`]: `billabong lake compact` (merge small files, collect garbage).
//!
//! Exactly once rests on two rules: a data file is part of the lake only when
//! a commit record lists it, and commit records are created create-only under
//! a name keyed by their range's first offset, each range starting right after
//! the previous one. On start, the sink resumes each partition after its last
//! commit record. The protocol is described in ARCHITECTURE.md ("Lake").
//!
//! Sits between `schemas` (event types and Arrow schemas) and `cli`.

mod commit;
mod compact;
mod config;
mod consumer_loop;
mod dlq;
mod error;
mod failpoint;
mod lake;
pub mod layout;
mod location;
pub mod metrics;
mod rebalance;
mod records;
mod roll;
mod stage;
mod writer;

pub use commit::{create_commit, next_offset};
pub use compact::{CompactOptions, CompactReport, compact};
pub use config::{RollPolicy, SinkConfig, TopicSpec};
pub use consumer_loop::{SinkReport, run};
pub use error::{Error, Result};
pub use failpoint::{FAILPOINT_ENV, Failpoints};
pub use lake::{CommittedFile, Lake, PartitionSnapshot, apply_records};
pub use location::LakeLocation;
pub use records::{Checkpoint, CommitRecord, CompactionRecord, FileEntry, Merge, RECORD_VERSION};
pub use writer::{INGEST_TIME_COLUMN, OFFSET_COLUMN, PARTITION_COLUMN, TOPIC_COLUMN, lake_schema};
