//! Read-only SQL over the whole pipeline: the engine behind `billabong sql`
//! and the serving layer's SQL endpoint.
//!
//! A [`SqlSession`] sees the lake's raw tables (`lake.rsvps`, `lake.race`:
//! every committed row, read as the batch layer reads them), and every table,
//! view and materialized view of PostgreSQL's `public` schema (the 3NF tables
//! and the batch views) under its own name. Either source may be absent.
//!
//! Users are not trusted. Three layers keep a statement read-only and cheap:
//! 1. [`guard`]: only queries, `EXPLAIN`, `SHOW TABLES/COLUMNS` and `DESCRIBE`
//!    pass; DDL, DML, COPY, CREATE EXTERNAL TABLE, SET, file and URL table
//!    references and file-reading functions are refused with their class named.
//! 2. The engine has no way to files: no URL tables, only row-generating table
//!    functions, no `file://` store unless the lake is local; DataFusion's
//!    `SQLOptions` refuse any DDL, DML or statement plan; PostgreSQL
//!    connections are `default_transaction_read_only`.
//! 3. [`Limits`]: per-query memory pool, time limit (also PostgreSQL's
//!    `statement_timeout`; every operator yields so the limit can fire), row
//!    limit, bounded concurrency.
//!
//! Main types: [`SqlConfig`] → [`SqlSession::open`] →
//! [`SqlSession::execute`] → [`QueryOutput`]; [`mod@format`] writes it;
//! [`repl`] is the command-line front end. Sits above `batch` (lake reader)
//! and `sink` (lake records), below `cli` and `serving`.

mod catalog;
mod config;
mod error;
pub mod format;
pub mod guard;
mod limits;
mod postgres;
pub mod repl;
mod session;
mod struct_nulls;
mod yield_rule;

pub use catalog::LAKE_SCHEMA;
pub use config::{LakeTable, SqlConfig};
pub use error::{Error, ErrorDomain, Result};
pub use format::OutputFormat;
pub use guard::Checked;
pub use limits::{Limits, QueryOutput, Truncation};
pub use session::SqlSession;
