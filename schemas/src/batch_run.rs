//! The record a finished batch run publishes to `billabong.batch-runs`.
//!
//! It is the hand-over contract of the lambda architecture: the run's tables
//! and views cover, per raw topic partition, exactly the offsets up to
//! `watermarks[topic][partition]`; the speed layer builds its next real-time
//! generation from the offset after, and serving pairs the two.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A successful batch run. The Kafka key is the run id, so a re-published
/// run (after a crash between commit and publish) is recognisably the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRun {
    /// Increasing run number (previous successful run + 1).
    pub run_id: i64,
    /// When the run's transaction committed, ms since the Unix epoch.
    pub finished_at_ms: i64,
    /// Last offset covered, by topic then partition (inclusive).
    pub watermarks: BTreeMap<String, BTreeMap<i32, i64>>,
    /// The view tables holding rows tagged with `run_id`.
    pub views: Vec<String>,
}
