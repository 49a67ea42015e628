//! The JSON records that make the lake transactional. They are the contract
//! between the sink, compaction and every reader (batch layer, `billabong
//! sql`, `lake ls`); unknown fields are ignored so that a newer writer does not
//! break an older reader.

use serde::{Deserialize, Serialize};

/// Version written into every record; readers accept any version ≤ this.
pub const RECORD_VERSION: u32 = 1;

/// One data file as a record lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Lake-relative path (`raw/...parquet`).
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Smallest `_offset` in the file.
    pub first_offset: i64,
    /// Largest `_offset` in the file.
    pub last_offset: i64,
    /// Smallest event time in the file (ms since the epoch).
    pub min_event_time_ms: i64,
    /// Largest event time in the file (ms since the epoch).
    pub max_event_time_ms: i64,
}

/// A commit record: the offsets `[first, last]` of one partition are in the
/// lake, in exactly these files (plus `dlq_records` sent to the DLQ).
///
/// Stored at `_commits/<topic>/<partition>/<first>.json`, written create-only
/// after every listed file has been uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    /// [`RECORD_VERSION`] of the writer.
    pub version: u32,
    /// Kafka topic.
    pub topic: String,
    /// Kafka partition.
    pub partition: i32,
    /// First offset the range accounts for: the previous record's `last` + 1
    /// (0 for a partition's first record), so a partition's records tile its
    /// offsets without gap or overlap.
    pub first: i64,
    /// Last offset the range accounts for (inclusive).
    pub last: i64,
    /// Rows written to the listed files.
    pub rows: u64,
    /// Records of the range that failed to parse and went to the DLQ.
    pub dlq_records: u64,
    /// The data files, one per ingest hour of the range (usually one).
    pub files: Vec<FileEntry>,
    /// Largest event time committed so far in this range (ms), if any rows.
    pub event_time_watermark_ms: Option<i64>,
    /// The writer instance (for forensics after a race).
    pub writer: String,
    /// Wall-clock time of the commit (ms since the epoch).
    pub committed_at_ms: i64,
}

/// One merge of a compaction: `inputs` are replaced by `output`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    /// Lake-relative paths of the replaced files (all of one hour folder).
    pub inputs: Vec<String>,
    /// The merged file.
    pub output: FileEntry,
}

/// A compaction generation of one partition, stored create-only at
/// `_compactions/<topic>/<partition>/<generation>.json`. Generations are
/// numbered 1, 2, ... without gaps; a compactor writes `n + 1` only after
/// reading `1..=n`, so concurrent compactors collide instead of both
/// replacing the same file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRecord {
    /// [`RECORD_VERSION`] of the writer.
    pub version: u32,
    /// Kafka topic.
    pub topic: String,
    /// Kafka partition.
    pub partition: i32,
    /// This generation's number.
    pub generation: u64,
    /// The merges, each within one hour folder.
    pub merges: Vec<Merge>,
    /// Wall-clock time of the compaction (ms since the epoch).
    pub committed_at_ms: i64,
}

/// The checkpoint hint: the newest commit record its writer knew of.
/// Startup lists only commit records after it (see `commit::next_offset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `first` of that record (its name).
    pub first: i64,
    /// `last` of that record.
    pub last: i64,
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
