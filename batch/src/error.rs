//! Errors of the batch layer.

use datafusion::error::DataFusionError;

/// What went wrong in a batch run, named so that an operator knows where to look.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the lake's commit records or files.
    #[error("lake: {0}")]
    Sink(#[from] sink::Error),
    /// The lake is not usable as configured.
    #[error("lake: {message}")]
    Lake {
        /// What is wrong.
        message: String,
    },
    /// Planning or running a DataFusion query.
    #[error("query: {0}")]
    Query(#[from] DataFusionError),
    /// A PostgreSQL statement failed; `context` says which step.
    #[error("postgres ({context}): {source}")]
    Postgres {
        /// The step (connect, migrate, copy into a table, merge, ...).
        context: String,
        /// The driver's error, with the server's message.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Another process holds the batch lock of this database.
    #[error("another batch run is in progress on this database (advisory lock {0} is held)")]
    Busy(i64),
    /// A value read from the lake or the database is not what the schema promises.
    #[error("unexpected data: {0}")]
    Data(String),
    /// Publishing the finished run to Kafka.
    #[error("publish to {topic}: {message}")]
    Publish {
        /// The topic.
        topic: String,
        /// The client's error.
        message: String,
    },
    /// The Ballista engine: the scheduler URL is malformed or unreachable.
    #[error("ballista scheduler {scheduler}: {message}")]
    Engine {
        /// The scheduler as configured (`df://host:port`).
        scheduler: String,
        /// What is wrong.
        message: String,
    },
    /// Training, saving or loading a model.
    #[error("model: {0}")]
    Model(String),
}

impl Error {
    /// A PostgreSQL error of one named step.
    pub fn pg(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let context = context.into();
        move |source| Error::Postgres { context, source }
    }
}

/// Result of the batch layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;
