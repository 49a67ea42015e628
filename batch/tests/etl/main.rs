//! The batch layer against real services: fixture records through Kafka and
//! the real sink into an S3 lake, `batch::run_once` into a fresh PostgreSQL
//! database, and every table and view compared with a recomputation from the
//! fixture files that shares no code with the ETL.

mod actual;
mod exact;
mod expected;
mod incremental;
mod publish;
mod support;
