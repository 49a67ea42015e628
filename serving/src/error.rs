//! Errors of the serving layer.

/// What can go wrong while starting or running `serve`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is wrong; the message names it.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A Kafka call failed.
    #[error("Kafka: {context}: {source}")]
    Kafka {
        /// What was being done.
        context: &'static str,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A PostgreSQL call failed.
    #[error("PostgreSQL: {context}: {source}")]
    Postgres {
        /// What was being done.
        context: String,
        /// The client's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A call did not finish in time.
    #[error("{what}: no answer within {seconds} s")]
    Timeout {
        /// What was being done.
        what: &'static str,
        /// The limit.
        seconds: u64,
    },
    /// The batch layer's PostgreSQL connector failed.
    #[error(transparent)]
    Batch(#[from] batch::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn kafka(context: &'static str) -> impl FnOnce(rdkafka::error::KafkaError) -> Self {
        move |source| Error::Kafka { context, source }
    }

    pub(crate) fn pg(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let context = context.into();
        move |source| Error::Postgres { context, source }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
