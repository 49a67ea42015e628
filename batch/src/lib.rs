//! The batch layer: DataFusion ETL from the committed lake into a 3NF PostgreSQL
//! schema, batch views and linfa models.
//!
//! A run reads a [`lake_source::LakeSnapshot`]-consistent set of committed
//! files, loads the rows past the previous run's watermark into staging tables
//! with binary COPY, merges them into the 3NF tables and rebuilds the views in
//! one transaction, and records the new watermark in `batch_runs`.

pub mod error;
pub mod lake_source;
pub mod model;

pub use error::{Error, Result};
