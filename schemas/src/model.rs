//! Model artifacts and their scoring: what the batch layer trains and the
//! speed layer serves.
//!
//! Training (batch crate, linfa) and serving (stream-processor) must encode an
//! input the same way, or a model silently scores garbage. So the encoding
//! lives here, once: [`RsvpEncoding::encode`] turns an [`Rsvp`](crate::Rsvp) into raw
//! feature values, [`race_features`] does the same for a [`RaceCarState`], and
//! [`LinearModel`] standardises them and applies the fitted weights. The batch
//! layer builds its training matrix with these very functions, and its metrics
//! are computed with [`Artifact`]'s own scoring, so what was measured is what
//! is served. Serving needs no linfa, no ndarray: a dot product and a sigmoid.
//!
//! Artifacts are JSON. Model parameters are written as strings holding
//! Rust's shortest round-trip decimal form and parsed with `str::parse`
//! (correctly rounded): serde_json's default float parser may be off by one
//! unit in the last place, and a loaded model must score bit-identically to
//! the one that was saved.
//!
//! ```
//! use billabong_schemas::model::{LinearModel, sigmoid};
//! let m = LinearModel {
//!     feature_names: vec!["x".into()],
//!     mean: vec![1.0],
//!     scale: vec![2.0],
//!     weights: vec![0.5],
//!     intercept: -0.25,
//! };
//! // (3 - 1) / 2 * 0.5 - 0.25
//! assert_eq!(m.decision(&[3.0]), 0.25);
//! assert_eq!(sigmoid(0.0), 0.5);
//! ```

use serde::{Deserialize, Serialize};

/// Version of the artifact layout; a reader refuses a newer one.
pub const ARTIFACT_FORMAT: u32 = 1;
/// Registry name of the RSVP response model.
pub const RSVP_RESPONSE_MODEL: &str = "rsvp-response";
/// Registry name of the race finishing-position model.
pub const RACE_POSITION_MODEL: &str = "race-position";

/// Folder of the model registry below the lake root.
pub const MODELS_ROOT: &str = "models";

/// Lake-relative path of one version's artifact: `models/<name>/v000001/model.json`.
/// Versions are created once and never rewritten.
pub fn model_version_path(name: &str, version: u32) -> String {
    format!("{MODELS_ROOT}/{name}/v{version:06}/model.json")
}

/// Lake-relative path of the pointer to a model's newest version: its body
/// is the version number in decimal (`3`).
pub fn model_latest_path(name: &str) -> String {
    format!("{MODELS_ROOT}/{name}/latest")
}

/// A stored model: one of the kinds below, tagged by `kind` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Artifact {
    /// P(response = yes) of an RSVP.
    RsvpResponse(RsvpResponseModel),
    /// Expected finishing position of a car, from its live race state.
    RacePosition(RacePositionModel),
}

/// Why an artifact cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not an artifact.
    #[error("model artifact is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Written by a newer trainer than this reader knows.
    #[error("model artifact format {found} is newer than this reader's {ARTIFACT_FORMAT}")]
    Format {
        /// The artifact's format.
        found: u32,
    },
    /// Lengths of names, means, scales and weights disagree.
    #[error("model artifact is inconsistent: {0}")]
    Shape(String),
}

impl Artifact {
    /// The registry name of this kind of model.
    pub fn name(&self) -> &'static str {
        match self {
            Artifact::RsvpResponse(_) => RSVP_RESPONSE_MODEL,
            Artifact::RacePosition(_) => RACE_POSITION_MODEL,
        }
    }

    /// Provenance and split of the training run.
    pub fn training(&self) -> &TrainingInfo {
        match self {
            Artifact::RsvpResponse(m) => &m.training,
            Artifact::RacePosition(m) => &m.training,
        }
    }

    /// The artifact as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("artifacts are plain data and always serialise")
    }

    /// Decodes and checks an artifact.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelError> {
        let artifact: Artifact = serde_json::from_slice(bytes)?;
        artifact.validate()?;
        Ok(artifact)
    }

    /// Checks that the parts fit together, so that scoring cannot index out
    /// of bounds or silently drop a feature.
    pub fn validate(&self) -> Result<(), ModelError> {
        let found = self.training().format;
        if found > ARTIFACT_FORMAT {
            return Err(ModelError::Format { found });
        }
        let (linear, expected) = match self {
            Artifact::RsvpResponse(m) => (&m.linear, m.encoding.feature_names()),
            Artifact::RacePosition(m) => (
                &m.linear,
                RACE_FEATURES.iter().map(|s| (*s).to_owned()).collect(),
            ),
        };
        linear.validate()?;
        if linear.feature_names != expected {
            return Err(ModelError::Shape(format!(
                "feature names {:?} differ from the encoding's {expected:?}",
                linear.feature_names
            )));
        }
        Ok(())
    }
}

/// A linear model over standardised features: `intercept + Σ wᵢ (xᵢ − meanᵢ) / scaleᵢ`.
///
/// Standardisation is part of the model (not of the data) so that the same
/// regularisation strength means the same thing for every feature, and the
/// exported training matrix can be fed to another library unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// One name per feature, in order.
    pub feature_names: Vec<String>,
    /// Training mean of each raw feature.
    #[serde(with = "exact::vec")]
    pub mean: Vec<f64>,
    /// Training standard deviation of each raw feature (1 where it was 0).
    #[serde(with = "exact::vec")]
    pub scale: Vec<f64>,
    /// Fitted weight of each standardised feature.
    #[serde(with = "exact::vec")]
    pub weights: Vec<f64>,
    /// Fitted intercept.
    #[serde(with = "exact::one")]
    pub intercept: f64,
}

impl LinearModel {
    /// The standardised form of raw features (the model's input space).
    pub fn standardize(&self, raw: &[f64]) -> Vec<f64> {
        standardize(raw, &self.mean, &self.scale)
    }

    /// The linear score of raw features, summed in feature order (a fixed
    /// order, so that every caller gets the same bits).
    pub fn decision(&self, raw: &[f64]) -> f64 {
        self.standardize(raw)
            .iter()
            .zip(&self.weights)
            .fold(self.intercept, |acc, (x, w)| acc + w * x)
    }

    fn validate(&self) -> Result<(), ModelError> {
        let n = self.feature_names.len();
        let lens = [self.mean.len(), self.scale.len(), self.weights.len()];
        if lens.iter().any(|l| *l != n) {
            return Err(ModelError::Shape(format!(
                "{n} feature names but {lens:?} means/scales/weights"
            )));
        }
        let finite = self.mean.iter().chain(&self.weights).all(|v| v.is_finite())
            && self.intercept.is_finite()
            && self.scale.iter().all(|s| s.is_finite() && *s > 0.0);
        if !finite {
            return Err(ModelError::Shape(
                "non-finite parameter or non-positive scale".into(),
            ));
        }
        Ok(())
    }
}

/// `(xᵢ − meanᵢ) / scaleᵢ`: the one definition of standardisation, used by
/// training (before the weights exist) and by scoring.
pub fn standardize(raw: &[f64], mean: &[f64], scale: &[f64]) -> Vec<f64> {
    raw.iter()
        .zip(mean.iter().zip(scale))
        .map(|(x, (m, s))| (x - m) / s)
        .collect()
}

/// The logistic function, computed without overflow for any `z`.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Where a model came from and how it was evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// [`ARTIFACT_FORMAT`] of the writer.
    pub format: u32,
    /// Wall-clock time of training, ms since the epoch.
    pub trained_at_ms: i64,
    /// Learner and its settings (`linfa-logistic 0.8.1, L2 alpha = 1`).
    pub learner: String,
    /// How labels were chosen and the hold-out was split, in words.
    pub split: String,
    /// Rows the model was fitted on.
    pub train_rows: u64,
    /// Hold-out rows the metrics were computed on.
    pub test_rows: u64,
    /// The last committed offset of every partition training read: the lake
    /// snapshot, so a model can be reproduced.
    pub lake_watermarks: Vec<Watermark>,
}

/// One partition's last offset in a training snapshot. (A list rather than
/// a map keyed by partition: JSON object keys are strings, and a tagged
/// enum's buffered decoding cannot turn them back into numbers.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// Kafka topic.
    pub topic: String,
    /// Kafka partition.
    pub partition: i32,
    /// Last offset read (inclusive).
    pub last_offset: i64,
}

/// Hold-out metrics of a binary classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierMetrics {
    /// Area under the ROC curve (Mann-Whitney rank statistic, ties count ½).
    pub auc: f64,
    /// Share of hold-out rows classified right at threshold 0.5.
    pub accuracy: f64,
    /// Mean negative log-likelihood (natural log) on the hold-out.
    pub log_loss: f64,
    /// Positive rate of the training rows: the constant baseline's prediction.
    pub baseline_rate: f64,
    /// Log-loss of always predicting `baseline_rate`.
    pub baseline_log_loss: f64,
    /// Accuracy of always predicting the training majority class.
    pub baseline_accuracy: f64,
    /// Positive rate of the hold-out.
    pub test_positive_rate: f64,
}

/// Hold-out errors of a regression, next to simple baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Mean absolute error of the model.
    pub mae: f64,
    /// Root mean squared error of the model.
    pub rmse: f64,
    /// MAE of predicting the grid position.
    pub grid_baseline_mae: f64,
    /// RMSE of predicting the grid position.
    pub grid_baseline_rmse: f64,
    /// MAE of predicting the current running position (the stronger baseline late in a race).
    pub position_baseline_mae: f64,
    /// RMSE of predicting the current running position.
    pub position_baseline_rmse: f64,
    /// The same errors by race progress (quarters of the scheduled distance).
    pub by_progress: Vec<ProgressMetrics>,
}

/// Errors over the snapshots of one stretch of the race.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressMetrics {
    /// Lower bound of lap / scheduled laps (inclusive).
    pub from: f64,
    /// Upper bound (exclusive; the last bucket includes 1).
    pub to: f64,
    /// Snapshots in the bucket.
    pub rows: u64,
    /// Model MAE.
    pub mae: f64,
    /// Grid-position baseline MAE.
    pub grid_baseline_mae: f64,
    /// Current-position baseline MAE.
    pub position_baseline_mae: f64,
}

mod race_features;
mod rsvp_encoding;

pub use race_features::{RACE_FEATURES, RaceCarState, RacePositionModel, race_features};
pub use rsvp_encoding::{RSVP_BASE_FEATURES, RsvpEncoding, RsvpResponseModel};

/// Serde of `f64` through its shortest round-trip decimal string.
mod exact {
    use serde::{Deserialize, Deserializer, Serializer};

    fn parse<E: serde::de::Error>(s: &str) -> Result<f64, E> {
        s.parse::<f64>()
            .map_err(|e| E::custom(format!("{s:?} is not a number: {e}")))
    }

    pub(super) mod one {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&format!("{v:?}"))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            parse(&String::deserialize(d)?)
        }
    }

    pub(super) mod vec {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| format!("{x:?}")))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|s| parse::<D::Error>(s))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(weights: Vec<f64>) -> LinearModel {
        let n = weights.len();
        LinearModel {
            feature_names: RACE_FEATURES
                .iter()
                .take(n)
                .map(|s| (*s).to_owned())
                .collect(),
            mean: vec![0.1 + 0.2; n],
            scale: vec![f64::MIN_POSITIVE; n],
            weights,
            intercept: -1.0 / 3.0,
        }
    }

    #[test]
    fn parameters_round_trip_bit_for_bit() {
        // Values whose shortest decimal form needs all 17 digits, a subnormal
        // and extremes: serde_json's default float parser may miss these by
        // an ulp; the string form may not.
        let weights = vec![
            0.1 + 0.2,
            std::f64::consts::PI * 1e-300,
            5e-324,
            f64::MAX,
            -2.000_000_000_000_000_4,
            1.0 / 7.0,
            123_456_789.123_456_78,
            -0.0,
        ];
        let m = linear(weights);
        let json = serde_json::to_string(&m).expect("serialises");
        let back: LinearModel = serde_json::from_str(&json).expect("parses");
        for (a, b) in m.weights.iter().zip(&back.weights) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a:?} came back as {b:?}");
        }
        assert_eq!(m.intercept.to_bits(), back.intercept.to_bits());
        assert_eq!(m.mean[0].to_bits(), back.mean[0].to_bits());
    }

    #[test]
    fn inconsistent_artifacts_are_refused() {
        let mut m = linear(vec![0.5; RACE_FEATURES.len()]);
        m.scale = vec![1.0; RACE_FEATURES.len()];
        let metrics = RegressionMetrics {
            mae: 1.0,
            rmse: 1.0,
            grid_baseline_mae: 1.0,
            grid_baseline_rmse: 1.0,
            position_baseline_mae: 1.0,
            position_baseline_rmse: 1.0,
            by_progress: Vec::new(),
        };
        let training = TrainingInfo {
            format: ARTIFACT_FORMAT,
            trained_at_ms: 0,
            learner: String::new(),
            split: String::new(),
            train_rows: 1,
            test_rows: 1,
            lake_watermarks: vec![Watermark {
                topic: "t".into(),
                partition: 0,
                last_offset: 9,
            }],
        };
        let good = Artifact::RacePosition(RacePositionModel {
            linear: m.clone(),
            training: training.clone(),
            metrics: metrics.clone(),
        });
        assert_eq!(Artifact::from_json(&good.to_json()).expect("valid"), good);
        m.weights.pop();
        let bad = Artifact::RacePosition(RacePositionModel {
            linear: m,
            training,
            metrics,
        });
        assert!(matches!(
            Artifact::from_json(&bad.to_json()),
            Err(ModelError::Shape(_))
        ));
    }

    #[test]
    fn sigmoid_is_stable_at_the_extremes() {
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
    }
}
