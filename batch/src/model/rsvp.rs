//! The RSVP response model: P(yes) from what an RSVP says when it is made.
//!
//! **Labels.** The real stream re-emits an RSVP under the same `rsvp_id`
//! when it changes (33 of the 269 repeated ids in the recording flip yes →
//! no). One row per `rsvp_id`: its final version, the one with the latest
//! `mtime` (ties: the later lake position `(_partition, _offset)`), with that
//! version's response as the label and that version's fields as features.
//! Training on every version would count an RSVP several times and learn
//! from answers that were later withdrawn.
//!
//! **Hold-out.** Time-based: rows sorted by `mtime` (then lake position); the
//! latest 20 % are the hold-out, the rest train. The lookup tables
//! and the scaler come from the training rows only.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use schemas::Rsvp;
use schemas::model::{
    ClassifierMetrics, RSVP_RESPONSE_MODEL, RsvpEncoding, RsvpResponseModel, TrainingInfo,
};
use schemas::rsvp::Response;
use serde::Serialize;

use super::load::Positioned;
use super::{fit, metrics, training_info};
use crate::error::{Error, Result};
use crate::lake_source::Offsets;

/// Share of rows (the latest by `mtime`) held out for evaluation.
pub(crate) const TEST_SHARE: f64 = 0.2;
/// A country or topic gets an indicator only with at least this many
/// training rows: fewer cannot be learnt, only memorised.
const MIN_VALUE_ROWS: usize = 10;
/// At most this many topic indicators (the most frequent).
const MAX_TOPICS: usize = 40;
/// Fewer training rows than this is no model.
const MIN_TRAIN_ROWS: usize = 50;

/// One hold-out RSVP with the label and the trained model's prediction.
#[derive(Debug, Clone, Serialize)]
pub struct RsvpPrediction {
    /// The RSVP's final version.
    pub rsvp: Rsvp,
    /// Its final response was yes.
    pub label: bool,
    /// P(yes) from the artifact's own scoring.
    pub p_yes: f64,
}

/// The rows of one training run, split and encoded.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) encoding: RsvpEncoding,
    pub(crate) train: Vec<(Rsvp, bool)>,
    pub(crate) test: Vec<(Rsvp, bool)>,
    pub(crate) versions_dropped: usize,
}

/// Keeps the final version of each RSVP, sorted by `(mtime, partition, offset)`.
pub(crate) fn final_versions(rows: Vec<Positioned<Rsvp>>) -> (Vec<Positioned<Rsvp>>, usize) {
    let total = rows.len();
    let mut latest: HashMap<i64, Positioned<Rsvp>> = HashMap::new();
    let key = |r: &Positioned<Rsvp>| (r.event.mtime, r.partition, r.offset);
    for row in rows {
        match latest.get(&row.event.rsvp_id) {
            Some(kept) if key(kept) >= key(&row) => {}
            _ => {
                latest.insert(row.event.rsvp_id, row);
            }
        }
    }
    let mut kept: Vec<_> = latest.into_values().collect();
    kept.sort_by_key(key);
    let dropped = total - kept.len();
    (kept, dropped)
}

/// Final versions, time split and lookup tables; `Err(reason)` when there is
/// too little data for a model.
pub(crate) fn prepare(rows: Vec<Positioned<Rsvp>>) -> std::result::Result<Prepared, String> {
    let (kept, versions_dropped) = final_versions(rows);
    let labelled: Vec<(Rsvp, bool)> = kept
        .into_iter()
        .map(|r| {
            let yes = r.event.response == Response::Yes;
            (r.event, yes)
        })
        .collect();
    let n_test = (labelled.len() as f64 * TEST_SHARE).ceil() as usize;
    let n_train = labelled.len().saturating_sub(n_test);
    if n_train < MIN_TRAIN_ROWS {
        return Err(format!(
            "{} distinct RSVPs: fewer than {MIN_TRAIN_ROWS} to train on",
            labelled.len()
        ));
    }
    let mut train = labelled;
    let test = train.split_off(n_train);
    for (part, rows) in [("training", &train), ("hold-out", &test)] {
        if rows.iter().all(|(_, y)| *y) || rows.iter().all(|(_, y)| !*y) {
            return Err(format!("the {part} rows have only one response"));
        }
    }
    let encoding = encoding_from(&train);
    Ok(Prepared {
        encoding,
        train,
        test,
        versions_dropped,
    })
}

/// Countries and topics frequent enough in the training rows, most frequent
/// first (ties by name, so the order is reproducible).
fn encoding_from(train: &[(Rsvp, bool)]) -> RsvpEncoding {
    let mut countries: BTreeMap<&str, usize> = BTreeMap::new();
    let mut topics: BTreeMap<&str, usize> = BTreeMap::new();
    for (r, _) in train {
        *countries.entry(r.group.group_country.as_str()).or_default() += 1;
        let mut seen: Vec<&str> = r
            .group
            .group_topics
            .iter()
            .map(|t| t.urlkey.as_str())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *topics.entry(t).or_default() += 1;
        }
    }
    let frequent = |counts: BTreeMap<&str, usize>, max: usize| {
        let mut v: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|(_, n)| *n >= MIN_VALUE_ROWS)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.into_iter().take(max).map(|(k, _)| k.to_owned()).collect()
    };
    RsvpEncoding {
        countries: frequent(countries, usize::MAX),
        topics: frequent(topics, MAX_TOPICS),
    }
}

/// Fits the model on `prepared` and evaluates it on its hold-out.
pub(crate) fn train(
    prepared: &Prepared,
    watermarks: &Offsets,
    topic: &str,
) -> Result<(RsvpResponseModel, Vec<RsvpPrediction>)> {
    let started = Instant::now();
    let encode = |rows: &[(Rsvp, bool)]| -> Vec<Vec<f64>> {
        rows.iter()
            .map(|(r, _)| prepared.encoding.encode(r))
            .collect()
    };
    let x_train = encode(&prepared.train);
    let y_train: Vec<bool> = prepared.train.iter().map(|(_, y)| *y).collect();
    let skeleton = fit::skeleton(prepared.encoding.feature_names(), &x_train);
    let linear = fit::logistic(skeleton, &x_train, &y_train)?;
    let mut model = RsvpResponseModel {
        encoding: prepared.encoding.clone(),
        linear,
        training: TrainingInfo {
            learner: format!(
                "linfa-logistic 0.8.1 (L-BFGS), L2 alpha = {} on standardised features \
                 (= scikit-learn LogisticRegression C = {})",
                fit::LOGISTIC_ALPHA,
                1.0 / fit::LOGISTIC_ALPHA
            ),
            split: format!(
                "one row per rsvp_id: its final version (latest mtime, ties by later \
                 (_partition, _offset)), label = its response; {} earlier versions dropped. \
                 Time-based hold-out: the latest {:.0}% by mtime",
                prepared.versions_dropped,
                TEST_SHARE * 100.0
            ),
            ..training_info(
                prepared.train.len(),
                prepared.test.len(),
                [(topic, watermarks)],
            )
        },
        metrics: ClassifierMetrics {
            auc: 0.0,
            accuracy: 0.0,
            log_loss: 0.0,
            baseline_rate: 0.0,
            baseline_log_loss: 0.0,
            baseline_accuracy: 0.0,
            test_positive_rate: 0.0,
        },
    };
    let predictions: Vec<RsvpPrediction> = prepared
        .test
        .iter()
        .map(|(r, y)| RsvpPrediction {
            p_yes: model.predict(r),
            rsvp: r.clone(),
            label: *y,
        })
        .collect();
    model.metrics = evaluate(&predictions, &y_train)?;
    tracing::info!(
        model = RSVP_RESPONSE_MODEL,
        train = prepared.train.len(),
        test = prepared.test.len(),
        features = model.linear.feature_names.len(),
        auc = model.metrics.auc,
        seconds = started.elapsed().as_secs_f64(),
        "Trained the RSVP response model."
    );
    Ok((model, predictions))
}

fn evaluate(predictions: &[RsvpPrediction], y_train: &[bool]) -> Result<ClassifierMetrics> {
    let p: Vec<f64> = predictions.iter().map(|r| r.p_yes).collect();
    let y: Vec<bool> = predictions.iter().map(|r| r.label).collect();
    let rate = metrics::positive_rate(y_train);
    let auc = metrics::auc(&p, &y)
        .ok_or_else(|| Error::Model("the hold-out has only one response".to_owned()))?;
    Ok(ClassifierMetrics {
        auc,
        accuracy: metrics::accuracy(&p, &y),
        log_loss: metrics::log_loss(&p, &y),
        baseline_rate: rate,
        baseline_log_loss: metrics::log_loss(&vec![rate; y.len()], &y),
        baseline_accuracy: metrics::accuracy(&vec![rate; y.len()], &y),
        test_positive_rate: metrics::positive_rate(&y),
    })
}

/// Writes the training and hold-out matrix as CSV, for checking the fit
/// against another library: `rsvp_id,mtime,split,label,<features…>`, with
/// the features standardised exactly as the model sees them (training-row
/// mean and scale), `split` = `train`/`test`, `label` = 1 for yes.
///
/// scikit-learn's comparable fit on this file:
/// `LogisticRegression(C=1.0, solver="lbfgs", tol=1e-8, max_iter=10000)` (L2)
/// on the `train` rows' feature columns (C = 1/alpha, see the artifact's `learner`).
pub(crate) fn write_csv(prepared: &Prepared, out: impl std::io::Write) -> Result<u64> {
    let x_train: Vec<Vec<f64>> = prepared
        .train
        .iter()
        .map(|(r, _)| prepared.encoding.encode(r))
        .collect();
    let names = prepared.encoding.feature_names();
    let (mean, scale) = fit::fit_scaler(&x_train, names.len());
    let csv_err = |e: csv::Error| Error::Model(format!("writing the feature CSV: {e}"));
    let mut w = csv::Writer::from_writer(out);
    let header = ["rsvp_id", "mtime", "split", "label"]
        .into_iter()
        .map(str::to_owned)
        .chain(names);
    w.write_record(header).map_err(csv_err)?;
    let mut rows = 0;
    for (split, part) in [("train", &prepared.train), ("test", &prepared.test)] {
        for (r, y) in part {
            let x = schemas::model::standardize(&prepared.encoding.encode(r), &mean, &scale);
            let record = [
                r.rsvp_id.to_string(),
                r.mtime.to_string(),
                split.to_owned(),
                u8::from(*y).to_string(),
            ]
            .into_iter()
            .chain(x.iter().map(|v| format!("{v:?}")));
            w.write_record(record).map_err(csv_err)?;
            rows += 1;
        }
    }
    w.flush()
        .map_err(|e| Error::Model(format!("writing the feature CSV: {e}")))?;
    Ok(rows)
}
