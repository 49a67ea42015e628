//! The sink's error type. Variants carry the topic, partition and offsets they
//! concern so that the run loop (and an operator reading the log) can tell a
//! lost race from a broken lake from a Kafka outage.

use object_store::path::Path;

/// Result with the sink's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the sink, the lake reader and compaction.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lake URL is not `s3://bucket[/prefix]` or `file:///path`.
    #[error("invalid lake URL {url:?}: {reason}")]
    LakeUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A configuration value is unusable (zero roll size, unknown feed...).
    #[error("invalid sink configuration: {0}")]
    Config(String),
    /// The object store refused or failed a request.
    #[error("object store {op} {path}: {source}")]
    Store {
        /// What was attempted (`put`, `get`, `list`...).
        op: &'static str,
        /// The object or prefix.
        path: Path,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Another writer created this commit record first: the range is theirs.
    /// Not a failure of the lake: the caller discards its files and re-seeks.
    #[error(
        "commit {path} already exists: another sink committed {topic}/{partition} from offset {first}"
    )]
    CommitConflict {
        /// Topic of the lost range.
        topic: String,
        /// Partition of the lost range.
        partition: i32,
        /// First offset of the lost range (the record's name).
        first: i64,
        /// The commit record that exists.
        path: Path,
    },
    /// Another compactor wrote this compaction generation first.
    #[error("compaction {path} already exists: another compactor ran concurrently")]
    CompactionConflict {
        /// The compaction record that exists.
        path: Path,
    },
    /// The lake's records contradict each other (overlap or gap in a
    /// partition's commit chain, or an unreadable record). An operator must look.
    #[error("lake invariant broken for {topic}/{partition}: {problem}")]
    Corrupt {
        /// Topic concerned.
        topic: String,
        /// Partition concerned.
        partition: i32,
        /// What is wrong.
        problem: String,
    },
    /// A commit, checkpoint or compaction record is not valid JSON.
    #[error("cannot decode {path}: {source}")]
    Record {
        /// The record's object path.
        path: Path,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// Kafka failed (consumer, producer, metadata).
    #[error("kafka {context}: {source}")]
    Kafka {
        /// What was attempted.
        context: String,
        /// librdkafka's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// Encoding or decoding Parquet failed.
    #[error("parquet {context}: {source}")]
    Parquet {
        /// What was attempted.
        context: String,
        /// The parquet crate's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Building or combining Arrow batches failed. This is a bug: validated
    /// events always convert.
    #[error("internal error (this is a bug): arrow {context}: {message}")]
    Arrow {
        /// What was attempted.
        context: String,
        /// The error's text.
        message: String,
    },
}

impl Error {
    pub(crate) fn store(op: &'static str, path: &Path, source: object_store::Error) -> Self {
        Error::Store {
            op,
            path: path.clone(),
            source,
        }
    }

    pub(crate) fn kafka(context: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Error::Kafka {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn parquet(
        context: impl Into<String>,
        source: parquet::errors::ParquetError,
    ) -> Self {
        Error::Parquet {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn arrow(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Arrow {
            context: context.into(),
            message: err.to_string(),
        }
    }

    /// Whether retrying the same operation later may succeed (a network or
    /// server hiccup), as opposed to a lost race, a bad config or a bug.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Store { source, .. } => !matches!(
                source,
                object_store::Error::AlreadyExists { .. }
                    | object_store::Error::NotFound { .. }
                    | object_store::Error::Precondition { .. }
            ),
            Error::Kafka { .. } => true,
            _ => false,
        }
    }
}
