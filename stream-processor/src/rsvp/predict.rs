//! RSVP response prediction: each RSVP is scored with the served model
//! (`RsvpResponseModel::predict`, P(yes)) and the running accuracy of the
//! model version in use is kept per partition.
//!
//! # Metrics
//!
//! - `model_status/rsvp-response`: which model scores this partition —
//!   `{"model_version": 0, "status": "no model published yet"}` or
//!   `{"model_version": N, "status": "serving", ...}`. Published at the
//!   partition's first RSVP and at every version change, nothing in between.
//! - `model_accuracy/rsvp-response/v<N>`: the running accuracy of version N
//!   over the RSVPs it scored in this partition, from `since_offset` to
//!   `last_offset`: `scored`, `correct` (predicted yes = p ≥ 0.5, actual yes
//!   = response `yes`), `accuracy = correct / scored`, `log_loss_sum` and
//!   `log_loss` (its mean; p clipped to [1e-15, 1 − 1e-15] as in training),
//!   `predicted_yes`, `actual_yes`. The sums add up across partitions. A new
//!   version starts a new key at zero; the old key's last value is published
//!   first. Every RSVP message is scored, re-sent RSVPs included (as the
//!   counts count them).
//!
//! Per-RSVP predictions are **not** published: one update per input record
//! (an event update, never held back) would more than double the output for
//! a number any reader can recompute from the RSVP and the artifact.
//!
//! # Determinism
//!
//! Which model scores a record depends on when the registry published it —
//! wall-clock time, not the input. So these two metrics are the exception to
//! "the output is a function of the input prefix", confined so that nothing
//! else moves:
//!
//! - They have their own emitter, and their updates come after every other
//!   update of the same record, so the other metrics' values, ids
//!   (`<topic>:<partition>:<offset>:<seq>`) and message boundaries are the
//!   same with any model, with none, and across switches.
//! - A switch takes effect between two records of a partition, and every
//!   value names the version and the offsets it covers, so a value can be
//!   checked by scoring that offset range with that artifact.
//! - With the same model throughout, a replay reproduces these metrics
//!   exactly too. A restart rebuilds them with the model served at the
//!   restart (the replayed prefix is scored by it, as for any state), so
//!   after a restart `since_offset` may be earlier than where the version
//!   was first served, and a version that arrived while the stream was down
//!   is announced inside the replayed (unpublished) prefix: its
//!   `model_status` may never be published, while every `model_accuracy`
//!   value still names it.

use std::sync::Arc;

use schemas::Rsvp;
use schemas::model::RSVP_RESPONSE_MODEL;
use schemas::rsvp::Response;
use serde_json::json;

use crate::config::EmitConfig;
use crate::emit::Emitter;
use crate::registry::ServedModel;
use crate::update::Update;

/// Probabilities are clipped to `[EPS, 1 − EPS]` before taking logs (as the
/// batch layer's metrics and scikit-learn do).
const EPS: f64 = 1e-15;

/// The `model_status` value without a model.
const NO_MODEL: &str = "no model published yet";

/// Running counts of one version in one partition.
#[derive(Debug, Clone)]
struct Accuracy {
    key: String,
    version: u32,
    since_offset: i64,
    last_offset: i64,
    scored: u64,
    correct: u64,
    predicted_yes: u64,
    actual_yes: u64,
    log_loss_sum: f64,
    min_et: i64,
    max_et: i64,
}

impl Accuracy {
    fn new(version: u32, offset: i64, t: i64) -> Self {
        Accuracy {
            key: format!("model_accuracy/{RSVP_RESPONSE_MODEL}/v{version}"),
            version,
            since_offset: offset,
            last_offset: offset,
            scored: 0,
            correct: 0,
            predicted_yes: 0,
            actual_yes: 0,
            log_loss_sum: 0.0,
            min_et: t,
            max_et: t,
        }
    }

    fn add(&mut self, p: f64, yes: bool, offset: i64, t: i64) {
        let predicted = p >= 0.5;
        self.scored += 1;
        self.correct += u64::from(predicted == yes);
        self.predicted_yes += u64::from(predicted);
        self.actual_yes += u64::from(yes);
        let p = p.clamp(EPS, 1.0 - EPS);
        self.log_loss_sum -= if yes { p.ln() } else { (1.0 - p).ln() };
        self.last_offset = offset;
        self.min_et = self.min_et.min(t);
        self.max_et = self.max_et.max(t);
    }

    fn update(&self) -> Update {
        let n = self.scored as f64;
        Update::value(
            self.key.clone(),
            "model_accuracy",
            (self.min_et, self.max_et),
            json!({
                "model": RSVP_RESPONSE_MODEL,
                "model_version": self.version,
                "since_offset": self.since_offset,
                "last_offset": self.last_offset,
                "scored": self.scored,
                "correct": self.correct,
                "accuracy": self.correct as f64 / n,
                "log_loss_sum": self.log_loss_sum,
                "log_loss": self.log_loss_sum / n,
                "predicted_yes": self.predicted_yes,
                "actual_yes": self.actual_yes,
            }),
        )
    }
}

/// Scores one partition's RSVPs. Synchronous and pure given the sequence of
/// records and of `set_model` calls between them.
pub(crate) struct ResponseScorer {
    /// A model handed over by the loop, applied at the next record.
    next: Option<Option<Arc<ServedModel>>>,
    current: Option<Arc<ServedModel>>,
    /// The status of `current` was offered.
    announced: bool,
    accuracy: Option<Accuracy>,
    /// Separate from the other metrics' emitter, so that they are unaffected.
    emitter: Emitter,
}

impl ResponseScorer {
    pub(crate) fn new(emit: EmitConfig) -> Self {
        ResponseScorer {
            next: None,
            current: None,
            announced: false,
            accuracy: None,
            emitter: Emitter::new(emit),
        }
    }

    /// Serves `model` from the next record on.
    pub(crate) fn set_model(&mut self, model: Option<Arc<ServedModel>>) {
        self.next = Some(model);
    }

    /// Keys the emitter tracks.
    pub(crate) fn tracked_keys(&self) -> usize {
        self.emitter.tracked_keys()
    }

    /// Scores one RSVP at `offset`; `clock` is the partition's event-time
    /// clock after it. What is to be published is appended to `out`.
    pub(crate) fn process(&mut self, rsvp: &Rsvp, offset: i64, clock: i64, out: &mut Vec<Update>) {
        let t = rsvp.mtime;
        if let Some(next) = self.next.take()
            && version(next.as_deref()) != version(self.current.as_deref())
        {
            if let Some(done) = self.accuracy.take() {
                self.emitter.finish(&done.key, clock, out);
            }
            self.current = next;
            self.announced = false;
        }
        if !self.announced {
            self.announced = true;
            let update = status_update(self.current.as_deref(), t);
            self.emitter.offer(update, clock, out);
        }
        if let Some(served) = &self.current {
            let p = served.model.predict(rsvp);
            let acc = self
                .accuracy
                .get_or_insert_with(|| Accuracy::new(served.version, offset, t));
            acc.add(p, rsvp.response == Response::Yes, offset, t);
            self.emitter.offer(acc.update(), clock, out);
        }
        self.emitter.advance(clock, i64::MIN, out);
    }
}

fn version(model: Option<&ServedModel>) -> u32 {
    model.map_or(0, |m| m.version)
}

fn status_update(model: Option<&ServedModel>, t: i64) -> Update {
    let value = match model {
        None => json!({
            "model": RSVP_RESPONSE_MODEL,
            "model_version": 0,
            "status": NO_MODEL,
        }),
        Some(served) => json!({
            "model": RSVP_RESPONSE_MODEL,
            "model_version": served.version,
            "status": "serving",
            "trained_at_ms": served.model.training.trained_at_ms,
            "train_rows": served.model.training.train_rows,
            "holdout_accuracy": served.model.metrics.accuracy,
        }),
    };
    Update::value(
        format!("model_status/{RSVP_RESPONSE_MODEL}"),
        "model_status",
        (t, t),
        value,
    )
}
