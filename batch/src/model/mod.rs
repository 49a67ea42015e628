//! Models trained on the lake (`--train`), stored in the model registry.
//!
//! - `rsvp-response`: logistic regression (linfa-logistic) of an RSVP's final
//!   response on what the RSVP says when it is made; AUC, accuracy, log-loss
//!   against the base rate on a time-based hold-out (rules in `rsvp.rs`).
//! - `race-position`: least squares (linfa-linear) of a car's finishing place
//!   on its live timing state, for the speed layer's blended prediction; MAE
//!   and RMSE against the grid and running-position baselines on the latest
//!   races (rules in `race.rs`).
//!
//! Feature encodings, artifacts and scoring live in `schemas::model`: the
//! speed layer scores with them without linfa, and training builds its rows
//! with the same functions, so the two cannot drift. Metrics are computed
//! with the artifact's own scoring.

pub(crate) mod fit;
mod load;
pub(crate) mod metrics;
mod race;
pub mod registry;
mod rsvp;

use std::time::Instant;

use schemas::model::{
    ARTIFACT_FORMAT, Artifact, ClassifierMetrics, RACE_POSITION_MODEL, RSVP_RESPONSE_MODEL,
    RacePositionModel, RegressionMetrics, RsvpResponseModel, TrainingInfo, Watermark,
};
use serde::Serialize;
use sink::Lake;

use crate::error::{Error, Result};
use crate::lake_source::Offsets;
pub use race::{RacePrediction, RaceSnapshot};
pub use registry::{SavedModel, load_latest, load_version, save};
pub use rsvp::RsvpPrediction;

/// A model fitted on the lake, not yet saved, with its hold-out predictions
/// (for checks; the artifact carries the metrics).
#[derive(Debug, Clone)]
pub struct Trained<M, P> {
    /// The artifact.
    pub model: M,
    /// Every hold-out row with the artifact's prediction.
    pub holdout: Vec<P>,
    /// Wall time of reading the lake, fitting and evaluating, seconds.
    pub seconds: f64,
}

/// What `--train` did, for the batch run's JSON summary.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// One entry per model, trained or skipped.
    pub models: Vec<ModelReport>,
}

/// One model's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ModelReport {
    /// Trained and saved.
    Trained {
        /// Where it went.
        saved: SavedModel,
        /// Rows fitted on.
        train_rows: u64,
        /// Hold-out rows evaluated on.
        test_rows: u64,
        /// Training wall time, seconds.
        seconds: f64,
        /// Hold-out metrics (also inside the artifact).
        metrics: Metrics,
    },
    /// Not enough data in the lake; nothing saved.
    Skipped {
        /// Registry name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Hold-out metrics of either kind of model.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Metrics {
    /// Of the RSVP classifier.
    Classifier(ClassifierMetrics),
    /// Of the race regression.
    Regression(RegressionMetrics),
}

/// Trains every model on the lake's committed rows of the two raw topics
/// (the batch run's `rsvps_topic` and `race_topic`) and saves each as a new
/// version. A model without enough data is skipped (reported), not an error.
pub async fn train_all(lake: &Lake, rsvps_topic: &str, race_topic: &str) -> Result<TrainReport> {
    let mut models = Vec::new();
    models.push(match train_rsvp_or_skip(lake, rsvps_topic).await? {
        Ok(t) => {
            let metrics = Metrics::Classifier(t.model.metrics.clone());
            report(lake, Artifact::RsvpResponse(t.model), t.seconds, metrics).await?
        }
        Err(reason) => skipped(RSVP_RESPONSE_MODEL, reason),
    });
    models.push(match train_race_or_skip(lake, race_topic).await? {
        Ok(t) => {
            let metrics = Metrics::Regression(t.model.metrics.clone());
            report(lake, Artifact::RacePosition(t.model), t.seconds, metrics).await?
        }
        Err(reason) => skipped(RACE_POSITION_MODEL, reason),
    });
    Ok(TrainReport { models })
}

async fn report(
    lake: &Lake,
    artifact: Artifact,
    seconds: f64,
    metrics: Metrics,
) -> Result<ModelReport> {
    let saved = save(lake, &artifact).await?;
    let info = artifact.training();
    Ok(ModelReport::Trained {
        saved,
        train_rows: info.train_rows,
        test_rows: info.test_rows,
        seconds,
        metrics,
    })
}

fn skipped(name: &str, reason: String) -> ModelReport {
    tracing::warn!(model = name, %reason, "Model not trained.");
    ModelReport::Skipped {
        name: name.to_owned(),
        reason,
    }
}

/// Fits the RSVP response model on the lake's rows of `topic` (nothing is saved).
pub async fn train_rsvp(
    lake: &Lake,
    topic: &str,
) -> Result<Trained<RsvpResponseModel, RsvpPrediction>> {
    train_rsvp_or_skip(lake, topic).await?.map_err(Error::Model)
}

async fn train_rsvp_or_skip(
    lake: &Lake,
    topic: &str,
) -> Result<std::result::Result<Trained<RsvpResponseModel, RsvpPrediction>, String>> {
    let started = Instant::now();
    let source = load::rsvps(lake, topic).await?;
    let prepared = match rsvp::prepare(source.rows) {
        Ok(p) => p,
        Err(reason) => return Ok(Err(reason)),
    };
    let (model, holdout) = rsvp::train(&prepared, &source.watermarks, topic)?;
    Ok(Ok(Trained {
        model,
        holdout,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Fits the race position model on the lake's rows of `topic` (nothing is saved).
pub async fn train_race(
    lake: &Lake,
    topic: &str,
) -> Result<Trained<RacePositionModel, RacePrediction>> {
    train_race_or_skip(lake, topic).await?.map_err(Error::Model)
}

async fn train_race_or_skip(
    lake: &Lake,
    topic: &str,
) -> Result<std::result::Result<Trained<RacePositionModel, RacePrediction>, String>> {
    let started = Instant::now();
    let source = load::race_events(lake, topic).await?;
    let (snapshots, repeats) = race::snapshots(&source);
    let (train, test) = match race::split(snapshots) {
        Ok(split) => split,
        Err(reason) => return Ok(Err(reason)),
    };
    let (model, holdout) = race::train(&train, &test, &source.watermarks, topic, repeats)?;
    Ok(Ok(Trained {
        model,
        holdout,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Writes the RSVP model's training and hold-out matrix as CSV (same rows,
/// split, encoding and standardisation as [`train_rsvp`]), for comparing the
/// fit with scikit-learn. Returns the rows written.
pub async fn export_rsvp_features(
    lake: &Lake,
    topic: &str,
    out: impl std::io::Write,
) -> Result<u64> {
    let source = load::rsvps(lake, topic).await?;
    let prepared = rsvp::prepare(source.rows).map_err(Error::Model)?;
    rsvp::write_csv(&prepared, out)
}

/// Provenance common to every model; the caller fills in learner and split.
fn training_info<'a>(
    train_rows: usize,
    test_rows: usize,
    watermarks: impl IntoIterator<Item = (&'a str, &'a Offsets)>,
) -> TrainingInfo {
    let trained_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    TrainingInfo {
        format: ARTIFACT_FORMAT,
        trained_at_ms,
        learner: String::new(),
        split: String::new(),
        train_rows: train_rows as u64,
        test_rows: test_rows as u64,
        lake_watermarks: watermarks
            .into_iter()
            .flat_map(|(topic, w)| {
                w.iter().map(move |(p, o)| Watermark {
                    topic: topic.to_owned(),
                    partition: *p,
                    last_offset: *o,
                })
            })
            .collect(),
    }
}
