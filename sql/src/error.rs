//! Errors of `billabong sql`, tagged so that a caller (the REPL, the HTTP
//! endpoint) can tell the user's mistake from a broken service.

use std::time::Duration;

use datafusion::error::DataFusionError;

/// Who has to act on an error: the person who wrote the SQL, or an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDomain {
    /// The statement is refused, wrong, or too expensive: fix the SQL.
    User,
    /// A service (the lake's store, PostgreSQL) failed or is misconfigured.
    External,
    /// An invariant of this crate broke: a bug.
    Internal,
}

/// What went wrong opening a session or running a statement.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The statement is of a class `billabong sql` never runs (it is read-only).
    #[error("refused: {class} is not allowed ({reason}); billabong sql is read-only")]
    Refused {
        /// The class, e.g. `DDL (CREATE TABLE)`, `DML (INSERT)`, `COPY`.
        class: String,
        /// Why that class is refused, or what in the statement triggered it.
        reason: String,
    },
    /// The text is not SQL that DataFusion can parse.
    #[error("syntax: {0}")]
    Parse(String),
    /// `execute` was given no statement, or more than one.
    #[error("expected exactly one statement, got {0}; use execute_script for several")]
    StatementCount(usize),
    /// The statement needed more memory than its limit allows.
    #[error(
        "stopped: the query needs more than its memory limit of {limit_bytes} bytes \
         (make it aggregate or filter earlier, or raise --memory-limit): {message}"
    )]
    MemoryLimit {
        /// The per-query limit in force.
        limit_bytes: usize,
        /// DataFusion's account of which operator ran out.
        message: String,
    },
    /// The statement ran longer than its time limit and was cancelled.
    #[error("stopped: the query ran longer than its time limit of {limit:?} and was cancelled")]
    TimeLimit {
        /// The limit in force.
        limit: Duration,
    },
    /// Planning or running the query failed for a reason of the query's own
    /// (unknown table or column, type error, division by zero, ...).
    #[error("query: {0}")]
    Query(DataFusionError),
    /// Reading the lake's commit records.
    #[error("lake: {0}")]
    Lake(#[from] batch::Error),
    /// Opening the lake.
    #[error("lake: {0}")]
    LakeOpen(#[from] sink::Error),
    /// A PostgreSQL step failed; `context` says which.
    #[error("postgres ({context}): {source}")]
    Postgres {
        /// The step: connect, discover tables, scan a table.
        context: String,
        /// The driver's error, with the server's message.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Building the session (catalog registration, runtime) failed.
    #[error("setup: {0}")]
    Setup(DataFusionError),
    /// Reading input or writing output in the REPL or a script.
    #[error("{context}: {source}")]
    Io {
        /// What was being read or written.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Formatting a result as table, CSV or JSON.
    #[error("output: {0}")]
    Format(#[from] datafusion::arrow::error::ArrowError),
    /// The line editor failed (terminal gone, history unreadable).
    #[error("terminal: {0}")]
    Terminal(#[from] rustyline::error::ReadlineError),
    /// A broken invariant of this crate.
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl Error {
    /// Who must act: the SQL's author, an operator, or a developer.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            Error::Refused { .. }
            | Error::Parse(_)
            | Error::StatementCount(_)
            | Error::MemoryLimit { .. }
            | Error::TimeLimit { .. }
            | Error::Query(_) => ErrorDomain::User,
            Error::Lake(_)
            | Error::LakeOpen(_)
            | Error::Postgres { .. }
            | Error::Setup(_)
            | Error::Io { .. }
            | Error::Format(_)
            | Error::Terminal(_) => ErrorDomain::External,
            Error::Internal(_) => ErrorDomain::Internal,
        }
    }

    /// A PostgreSQL error of one named step.
    pub(crate) fn pg(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let context = context.into();
        move |source| Error::Postgres { context, source }
    }

    /// Classifies an error of planning or execution: running out of the
    /// memory pool is a limit the user hit, not a failure of the engine.
    pub(crate) fn from_datafusion(err: DataFusionError, limit_bytes: usize) -> Self {
        match err.find_root() {
            DataFusionError::ResourcesExhausted(message) => Error::MemoryLimit {
                limit_bytes,
                message: message.clone(),
            },
            DataFusionError::SQL(parse, _) => Error::Parse(parse.to_string()),
            _ => Error::Query(err),
        }
    }
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
