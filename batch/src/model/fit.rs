//! Fitting with linfa: standardisation, logistic and least-squares regression.
//!
//! Rows arrive as raw feature vectors made by the schemas crate's encoders;
//! the scaler is fitted on the training rows only and becomes part of the
//! artifact, so the hold-out is standardised with training statistics as the
//! speed layer will be.

use linfa::Dataset;
use linfa::traits::Fit;
use linfa_linear::LinearRegression;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use schemas::model::{LinearModel, sigmoid, standardize};

use crate::error::{Error, Result};

/// L2 strength of the logistic regression. linfa minimises
/// `Σ logloss + α/2 ‖w‖²` (intercept not penalised); scikit-learn's
/// `LogisticRegression` minimises `C Σ logloss + ½ ‖w‖²`, so α = 1 is
/// scikit-learn's default `C = 1/α = 1` on the same standardised matrix.
pub(crate) const LOGISTIC_ALPHA: f64 = 1.0;
/// Iteration cap and gradient tolerance of linfa's L-BFGS: tight, so that the
/// optimum (not the stopping point) is what gets compared with scikit-learn.
const MAX_ITERATIONS: u64 = 1_000;
const GRADIENT_TOLERANCE: f64 = 1e-6;
/// Largest difference allowed between linfa's own probabilities and the
/// artifact's scoring of the same rows; more means the two disagree on the
/// model, which is a bug.
const SCORING_TOLERANCE: f64 = 1e-9;

/// Per-feature mean and population standard deviation (1 where a feature is
/// constant, so it standardises to 0 instead of dividing by 0).
pub(crate) fn fit_scaler(rows: &[Vec<f64>], width: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0.0; width];
    for row in rows {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += x;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0; width];
    for row in rows {
        for ((v, x), m) in var.iter_mut().zip(row).zip(&mean) {
            *v += (x - m) * (x - m);
        }
    }
    let scale = var
        .iter()
        .map(|v| {
            let sd = (v / n).sqrt();
            if sd > 1e-12 { sd } else { 1.0 }
        })
        .collect();
    (mean, scale)
}

/// The standardised design matrix of `rows`.
pub(crate) fn design(rows: &[Vec<f64>], mean: &[f64], scale: &[f64]) -> Result<Array2<f64>> {
    let width = mean.len();
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| standardize(r, mean, scale))
        .collect();
    Array2::from_shape_vec((rows.len(), width), flat)
        .map_err(|e| Error::Model(format!("feature rows are not {width} wide: {e}")))
}

/// A scaler with no weights yet: the model skeleton that fitting fills in.
pub(crate) fn skeleton(names: Vec<String>, rows: &[Vec<f64>]) -> LinearModel {
    let (mean, scale) = fit_scaler(rows, names.len());
    LinearModel {
        weights: vec![0.0; names.len()],
        feature_names: names,
        mean,
        scale,
        intercept: 0.0,
    }
}

/// Fits an L2-regularised logistic regression of `labels` (true = positive)
/// and returns `model` with its weights set.
pub(crate) fn logistic(
    mut model: LinearModel,
    rows: &[Vec<f64>],
    labels: &[bool],
) -> Result<LinearModel> {
    let x = design(rows, &model.mean, &model.scale)?;
    let dataset = Dataset::new(x, Array1::from_vec(labels.to_vec()));
    let fitted = LogisticRegression::default()
        .alpha(LOGISTIC_ALPHA)
        .max_iterations(MAX_ITERATIONS)
        .gradient_tolerance(GRADIENT_TOLERANCE)
        .fit(&dataset)
        .map_err(|e| Error::Model(format!("logistic regression: {e}")))?;
    // linfa maps the larger label (true) to its positive class.
    model.weights = fitted.params().to_vec();
    model.intercept = fitted.intercept();
    let theirs = fitted.predict_probabilities(dataset.records());
    let worst = rows
        .iter()
        .zip(theirs.iter())
        .map(|(r, p)| (sigmoid(model.decision(r)) - p).abs())
        .fold(0.0, f64::max);
    if worst > SCORING_TOLERANCE {
        return Err(Error::Model(format!(
            "artifact scoring differs from linfa's by {worst}: this is a bug"
        )));
    }
    Ok(model)
}

/// Fits ordinary least squares of `targets` and returns `model` with its weights set.
pub(crate) fn least_squares(
    mut model: LinearModel,
    rows: &[Vec<f64>],
    targets: &[f64],
) -> Result<LinearModel> {
    let x = design(rows, &model.mean, &model.scale)?;
    let dataset = Dataset::new(x, Array1::from_vec(targets.to_vec()));
    let fitted = LinearRegression::default()
        .fit(&dataset)
        .map_err(|e| Error::Model(format!("least squares: {e}")))?;
    model.weights = fitted.params().to_vec();
    model.intercept = fitted.intercept();
    if !model.weights.iter().all(|w| w.is_finite()) || !model.intercept.is_finite() {
        return Err(Error::Model(
            "least squares gave non-finite weights".to_owned(),
        ));
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaler_is_population_statistics_and_guards_constants() {
        let rows = vec![vec![1.0, 5.0], vec![3.0, 5.0]];
        let (mean, scale) = fit_scaler(&rows, 2);
        assert_eq!(mean, vec![2.0, 5.0]);
        assert_eq!(scale, vec![1.0, 1.0]);
    }

    #[test]
    fn least_squares_recovers_a_line() {
        let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![f64::from(i)]).collect();
        let y: Vec<f64> = (0..20).map(|i| 3.0 * f64::from(i) - 2.0).collect();
        let model = least_squares(skeleton(vec!["x".into()], &rows), &rows, &y).expect("fit");
        assert!((model.decision(&[10.0]) - 28.0).abs() < 1e-9);
    }

    #[test]
    fn logistic_separates_and_agrees_with_linfa() {
        let rows: Vec<Vec<f64>> = (0..40).map(|i| vec![f64::from(i % 10)]).collect();
        let y: Vec<bool> = (0..40).map(|i| i % 10 >= 5 || i % 7 == 0).collect();
        let model = logistic(skeleton(vec!["x".into()], &rows), &rows, &y).expect("fit");
        assert!(model.weights[0] > 0.0);
        assert!(sigmoid(model.decision(&[9.0])) > sigmoid(model.decision(&[0.0])));
    }
}
