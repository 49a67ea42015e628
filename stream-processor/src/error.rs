//! The speed layer's errors. Kafka failures carry the operation that failed,
//! so that a log line says what the service was doing, not only what broke.

use rdkafka::error::KafkaError;

/// Everything that can stop `billabong stream`. Bad input records are not
/// errors: they go to the DLQ and the partition moves on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kafka call failed.
    #[error("Kafka error while {operation}: {source}")]
    Kafka {
        /// What the service was doing.
        operation: &'static str,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// A flag or setting is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The start position names something the topic cannot give.
    #[error("cannot resolve the start position of {topic}/{partition}: {reason}")]
    StartPosition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Why.
        reason: String,
    },
    /// A transaction failed after its retries; nothing of it is visible.
    #[error("transaction failed after {attempts} attempts: {last_error}")]
    TransactionFailed {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last_error: String,
    },
    /// The model registry's lake cannot be opened (a bad URL or settings).
    /// A registry that is merely empty or unreachable is not an error: the
    /// stream runs without a model and says so.
    #[error("cannot open the model registry at {url}: {reason}")]
    ModelLake {
        /// The lake URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// An invariant of this crate did not hold: this is a bug.
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl Error {
    /// A closure turning a Kafka error into [`Error::Kafka`] for `map_err`.
    pub(crate) fn kafka(operation: &'static str) -> impl FnOnce(KafkaError) -> Error {
        move |source| Error::Kafka { operation, source }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
