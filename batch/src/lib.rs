//! The batch layer: DataFusion ETL from the committed lake into a 3NF PostgreSQL
//! schema, batch views and linfa models.
//!
//! A run reads a consistent snapshot of the lake's commit records
//! ([`lake_source`]), stages the rows past the previous run's watermark in
//! PostgreSQL with binary COPY ([`copy`]), merges them into the 3NF tables
//! (`batch/migrations/`), rebuilds the views tagged with the run id, and
//! records the new watermark in `batch_runs`, all in one transaction
//! ([`run`]). Then it publishes the run to `billabong.batch-runs`.

pub mod config;
pub mod copy;
pub mod engine;
pub mod error;
pub mod etl;
pub mod lake_source;
pub mod migrate;
pub mod model;
pub mod pg;
mod publish;
pub mod run;
pub mod runs;
pub mod views;

pub use config::BatchConfig;
pub use engine::Engine;
pub use error::{Error, Result};
pub use run::{NoProgress, Progress, RunSummary, run_once};
