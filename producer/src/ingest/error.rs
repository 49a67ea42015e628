//! What can stop an ingest run, tagged so that the caller can tell a bad
//! invocation (fix the flags) from a failure of the outside world (Kafka, the
//! source file) and from a bug.

use std::path::PathBuf;

use rdkafka::error::KafkaError;

/// Library result type.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;

/// Why an ingest run could not start or had to stop.
///
/// Websocket errors are not here: a dropped or refused connection is retried
/// with backoff for as long as the run lasts (a live feed comes back), and only
/// counted and logged.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// `--source` is neither `ws://HOST[:PORT]/PATH` nor `file:PATH`.
    #[error("bad source {source_spec:?}: {reason}")]
    BadSource {
        /// The source as given.
        source_spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `--brokers` is not a comma-separated list of `host:port`.
    #[error("bad broker list {brokers:?}: {reason}")]
    BadBrokers {
        /// The list as given.
        brokers: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another setting is out of range (a zero partition count, an empty topic).
    #[error("bad setting {setting}: {reason}")]
    BadSetting {
        /// The setting's flag name.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The `file:` source cannot be opened or read.
    #[error("cannot read {}", path.display())]
    SourceFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A Kafka operation failed for good (after librdkafka's own retries and
    /// ours).
    #[error("Kafka {operation} failed")]
    Kafka {
        /// What was being done, in words ("creating topics", "committing a transaction").
        operation: &'static str,
        /// The client's error.
        source: KafkaError,
    },
    /// The broker refused to create a topic that does not exist.
    #[error("cannot create topic {topic}: {reason}")]
    TopicCreation {
        /// The topic.
        topic: String,
        /// The broker's answer.
        reason: String,
    },
    /// Reading back the committed tail of a topic, to resume, did not finish.
    #[error("cannot read the committed tail of {topic} partition {partition}: {reason}")]
    Resume {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Why.
        reason: String,
    },
    /// A transaction kept failing; its records were not committed.
    #[error(
        "a transaction of {records} records failed {attempts} times, last with: {last_error}; \
         nothing of it was committed"
    )]
    TransactionFailed {
        /// Records in the transaction.
        records: usize,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last_error: String,
    },
    /// A broken internal invariant: this is a bug.
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl IngestError {
    /// Whether the error comes from the invocation (flags, paths) rather than
    /// from the services: a user can fix it by changing the command line.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            IngestError::BadSource { .. }
                | IngestError::BadBrokers { .. }
                | IngestError::BadSetting { .. }
                | IngestError::SourceFile { .. }
        )
    }

    pub(crate) fn kafka(operation: &'static str) -> impl FnOnce(KafkaError) -> IngestError {
        move |source| IngestError::Kafka { operation, source }
    }
}
