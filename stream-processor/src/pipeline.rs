//! One partition's processing, from raw bytes to packed output messages:
//! parse → operator → emission policy → packing. Pure and synchronous: the
//! output is a function of the partition's input prefix alone (apart from
//! the emit time the sender stamps, and the model metrics, which also depend
//! on the served model: see `rsvp/predict.rs`), which is what lets a restart
//! rebuild the state by replay and recognise what it already published.

use std::sync::Arc;

use schemas::{Limits, RaceEvent, Rsvp, ValidationError};
use serde_json::{Value, json};

use crate::config::{EmitConfig, OperatorConfig};
use crate::emit::Emitter;
use crate::race::RaceOperator;
use crate::registry::ServedModel;
use crate::rsvp::{ResponseScorer, RsvpOperator};
use crate::update::Update;
use crate::view::ViewPartial;

/// Which feed a partition carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeedKind {
    Rsvps,
    Race,
}

enum Operator {
    /// The metrics, and the model scoring (kept apart: its output depends on
    /// the served model).
    Rsvps(RsvpOperator, Box<ResponseScorer>),
    Race(RaceOperator),
}

/// One input record as the pipeline sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InputRecord<'a> {
    pub(crate) offset: i64,
    pub(crate) payload: &'a [u8],
    /// The Kafka timestamp (ms), the ingest time.
    pub(crate) ingest_time_ms: Option<i64>,
}

/// A message for the metrics topic, complete but for its emit time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutMessage {
    /// Kafka key: the source partition, so its outputs stay in order.
    pub(crate) key: String,
    /// The JSON object; `emit_time_ms` is added when it is sent.
    pub(crate) body: Value,
    /// For the latency histograms.
    pub(crate) source_event_time_ms: Option<i64>,
    pub(crate) ingest_time_ms: Option<i64>,
    pub(crate) updates: usize,
}

/// What one input record produced.
#[derive(Debug, Default)]
pub(crate) struct Produced {
    pub(crate) messages: Vec<OutMessage>,
    /// The record failed validation: it goes to the DLQ.
    pub(crate) rejected: Option<ValidationError>,
    /// Window specs the record was late for.
    pub(crate) late: u64,
}

/// Which parts of the state a record feeds (see `kafka/mod.rs`: after a
/// restart or a new batch run the live state and the view generation start
/// at different offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Steps {
    /// The live metrics (and their output).
    pub(crate) live: bool,
    /// The view generation.
    pub(crate) view: bool,
    /// The view rows it changes must be published (false for a replayed
    /// prefix whose checkpoint is already in Kafka).
    pub(crate) view_dirty: bool,
}

/// The state of one input partition.
pub(crate) struct PartitionPipeline {
    topic: String,
    partition: i32,
    limits: Limits,
    operator: Operator,
    emitter: Emitter,
    max_keys: usize,
    view: ViewPartial,
}

impl PartitionPipeline {
    pub(crate) fn new(
        topic: &str,
        partition: i32,
        kind: FeedKind,
        emit: EmitConfig,
        ops: &OperatorConfig,
        view: ViewPartial,
    ) -> Self {
        let operator = match kind {
            FeedKind::Rsvps => {
                Operator::Rsvps(RsvpOperator::new(ops), Box::new(ResponseScorer::new(emit)))
            }
            FeedKind::Race => Operator::Race(RaceOperator::new(ops)),
        };
        PartitionPipeline {
            topic: topic.to_owned(),
            partition,
            limits: Limits::default(),
            operator,
            emitter: Emitter::new(emit),
            max_keys: emit.max_keys_per_message.max(1),
            view,
        }
    }

    /// The view generation.
    pub(crate) fn view(&self) -> &ViewPartial {
        &self.view
    }

    /// Replaces the view generation (a new batch run).
    pub(crate) fn set_view(&mut self, view: ViewPartial) {
        self.view = view;
    }

    /// Publishes the view's changed rows and marker (see `view.rs`).
    pub(crate) fn view_checkpoint(&mut self) -> Vec<OutMessage> {
        self.view
            .checkpoint(&self.topic, self.partition, self.max_keys)
    }

    /// Processes the next record of the partition (offsets must increase)
    /// for the parts `steps` names; output comes from the live part only.
    pub(crate) fn process(&mut self, record: InputRecord<'_>, steps: Steps) -> Produced {
        let mut produced = Produced::default();
        if steps.view {
            self.view.advance(record.offset);
        }
        let mut updates = Vec::new();
        let mut published = Vec::new();
        let event_time;
        match &mut self.operator {
            Operator::Rsvps(op, scorer) => match Rsvp::parse(record.payload, &self.limits) {
                Ok(rsvp) => {
                    if steps.view {
                        self.view.apply_rsvp(&rsvp, steps.view_dirty);
                    }
                    if !steps.live {
                        return produced;
                    }
                    event_time = rsvp.mtime;
                    produced.late = op.process(&rsvp, &mut updates);
                    let (clock, watermark) = (op.clock().now(), op.clock().watermark());
                    for update in updates {
                        self.emitter.offer(update, clock, &mut published);
                    }
                    self.emitter.advance(clock, watermark, &mut published);
                    // Last, so that the other updates' seqs do not depend on the model.
                    scorer.process(&rsvp, record.offset, clock, &mut published);
                }
                Err(error) => {
                    if steps.live {
                        produced.rejected = Some(error);
                    }
                    return produced;
                }
            },
            Operator::Race(op) => match RaceEvent::parse(record.payload, &self.limits) {
                Ok(event) => {
                    if steps.view {
                        self.view.apply_race(&event, steps.view_dirty);
                    }
                    if !steps.live {
                        return produced;
                    }
                    event_time = event.ts();
                    let outcome = op.process(&event, &mut updates);
                    let (clock, watermark) = (op.clock().now(), op.clock().watermark());
                    for update in updates {
                        self.emitter.offer(update, clock, &mut published);
                    }
                    self.emitter.advance(clock, watermark, &mut published);
                    for race_id in outcome.finished {
                        self.emitter.finish_prefix(
                            &format!("race/{race_id}/"),
                            clock,
                            &mut published,
                        );
                    }
                }
                Err(error) => {
                    if steps.live {
                        produced.rejected = Some(error);
                    }
                    return produced;
                }
            },
        }
        produced.messages = self.pack(record, event_time, &published);
        produced
    }

    /// Keys the emitters track (memory gauge).
    pub(crate) fn tracked_keys(&self) -> usize {
        let scorer = match &self.operator {
            Operator::Rsvps(_, scorer) => scorer.tracked_keys(),
            Operator::Race(_) => 0,
        };
        self.emitter.tracked_keys() + scorer
    }

    /// Serves `model` from this partition's next RSVP on (race partitions
    /// ignore it).
    pub(crate) fn set_model(&mut self, model: Option<Arc<ServedModel>>) {
        if let Operator::Rsvps(_, scorer) = &mut self.operator {
            scorer.set_model(model);
        }
    }

    /// Packs `updates` into messages of at most `max_keys` updates. Update
    /// ids are `<topic>:<partition>:<offset>:<seq>`, a message's id is its
    /// first update's.
    fn pack(
        &self,
        record: InputRecord<'_>,
        event_time: i64,
        updates: &[Update],
    ) -> Vec<OutMessage> {
        let source = format!("{}:{}:{}", self.topic, self.partition, record.offset);
        updates
            .chunks(self.max_keys)
            .enumerate()
            .map(|(chunk_no, chunk)| {
                let first_seq = chunk_no * self.max_keys;
                let items: Vec<Value> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, u)| {
                        json!({
                            "id": format!("{source}:{}", first_seq + i),
                            "key": u.key,
                            "metric": u.metric,
                            "window": u.window,
                            "event_time_range": [u.event_range.0, u.event_range.1],
                            "value": u.value,
                        })
                    })
                    .collect();
                OutMessage {
                    key: format!("{}:{}", self.topic, self.partition),
                    body: json!({
                        "id": format!("{source}:{first_seq}"),
                        "source": {"topic": self.topic, "partition": self.partition, "offset": record.offset},
                        "source_event_time_ms": event_time,
                        "ingest_time_ms": record.ingest_time_ms,
                        "updates": items,
                    }),
                    source_event_time_ms: Some(event_time),
                    ingest_time_ms: record.ingest_time_ms,
                    updates: chunk.len(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Steps = Steps {
        live: true,
        view: true,
        view_dirty: true,
    };

    fn rsvp(mtime: i64, country: &str) -> Vec<u8> {
        rsvp_answer(mtime, country, "yes")
    }

    fn rsvp_answer(mtime: i64, country: &str, response: &str) -> Vec<u8> {
        let line = format!(
            r#"{{"venue":{{"venue_name":"v","lon":0,"lat":0,"venue_id":1}},"visibility":"public","response":"{response}","guests":1,"member":{{"member_id":1,"member_name":"m"}},"rsvp_id":1,"mtime":{mtime},"event":{{"event_name":"e","event_id":"1","time":{mtime},"event_url":"u"}},"group":{{"group_topics":[{{"urlkey":"rust","topic_name":"Rust"}}],"group_city":"c","group_country":"{country}","group_id":1,"group_name":"g","group_lon":0,"group_lat":0,"group_urlname":"g"}}}}"#
        );
        line.into_bytes()
    }

    fn run(records: &[Vec<u8>]) -> Vec<Value> {
        run_with_models(records, &[])
    }

    /// Runs `records`, handing `models[j].1` to the pipeline before record
    /// `models[j].0`.
    fn run_with_models(
        records: &[Vec<u8>],
        models: &[(usize, Option<Arc<ServedModel>>)],
    ) -> Vec<Value> {
        let mut p = PartitionPipeline::new(
            "t",
            0,
            FeedKind::Rsvps,
            EmitConfig::default(),
            &OperatorConfig::default(),
            ViewPartial::new(0, 0),
        );
        let mut out = Vec::new();
        for (i, payload) in records.iter().enumerate() {
            for (_, model) in models.iter().filter(|(at, _)| *at == i) {
                p.set_model(model.clone());
            }
            let produced = p.process(
                InputRecord {
                    offset: i as i64,
                    payload,
                    ingest_time_ms: Some(5),
                },
                ALL,
            );
            assert!(produced.rejected.is_none(), "{:?}", produced.rejected);
            out.extend(produced.messages.into_iter().map(|m| m.body));
        }
        out
    }

    #[test]
    fn replay_reproduces_the_same_messages() {
        let t = 1_489_000_000_000;
        let records: Vec<_> = (0..50)
            .map(|i| {
                rsvp(
                    t + i * 7_000 - (i % 5) * 40_000,
                    ["us", "de"][i as usize % 2],
                )
            })
            .collect();
        let first = run(&records);
        assert!(!first.is_empty());
        assert_eq!(first, run(&records));
    }

    /// A model over the test records' features: P(yes) depends on the
    /// country and the hour, so predictions are right and wrong.
    fn model(version: u32, intercept: f64) -> Arc<ServedModel> {
        use schemas::model::{
            ARTIFACT_FORMAT, ClassifierMetrics, LinearModel, RsvpEncoding, RsvpResponseModel,
            TrainingInfo,
        };
        let encoding = RsvpEncoding {
            countries: vec!["us".into()],
            topics: vec!["rust".into()],
        };
        let names = encoding.feature_names();
        let n = names.len();
        let mut weights = vec![0.0; n];
        weights[3] = 1.5; // rsvp_hour_sin
        weights[n - 2] = 2.0; // country=us
        let model = RsvpResponseModel {
            encoding,
            linear: LinearModel {
                feature_names: names,
                mean: vec![0.0; n],
                scale: vec![1.0; n],
                weights,
                intercept,
            },
            training: TrainingInfo {
                format: ARTIFACT_FORMAT,
                trained_at_ms: 0,
                learner: "hand-made".into(),
                split: "none".into(),
                train_rows: 1,
                test_rows: 1,
                lake_watermarks: Vec::new(),
            },
            metrics: ClassifierMetrics {
                auc: 0.5,
                accuracy: 0.5,
                log_loss: 0.7,
                baseline_rate: 0.5,
                baseline_log_loss: 0.7,
                baseline_accuracy: 0.5,
                test_positive_rate: 0.5,
            },
        };
        Arc::new(ServedModel { version, model })
    }

    fn is_model_metric(update: &Value) -> bool {
        update["metric"] == "model_status" || update["metric"] == "model_accuracy"
    }

    /// Every update, with its id, in output order.
    fn flat(messages: &[Value]) -> Vec<Value> {
        messages
            .iter()
            .flat_map(|m| m["updates"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    fn answered_records() -> Vec<Vec<u8>> {
        let t = 1_489_000_000_000;
        (0..200)
            .map(|i| {
                rsvp_answer(
                    t + i * 97_000 - (i % 5) * 40_000,
                    ["us", "de", "fr"][i as usize % 3],
                    ["yes", "no"][usize::from(i % 7 < 3)],
                )
            })
            .collect()
    }

    #[test]
    fn the_served_model_changes_no_other_metric() {
        let records = answered_records();
        let none = run(&records);
        let v1 = run_with_models(&records, &[(0, Some(model(1, 0.3)))]);
        let switched = run_with_models(
            &records,
            &[
                (0, Some(model(1, 0.3))),
                (80, Some(model(1, 0.3))),
                (120, Some(model(2, -1.0))),
            ],
        );
        let late = run_with_models(&records, &[(150, Some(model(3, 0.0)))]);
        let others = |messages: &[Value]| -> Vec<Value> {
            flat(messages)
                .into_iter()
                .filter(|u| !is_model_metric(u))
                .collect()
        };
        let reference = others(&none);
        assert!(reference.len() > 500);
        for output in [&v1, &switched, &late] {
            assert_eq!(others(output), reference, "ids, values and order agree");
        }
        // Model updates come after every other update of their record.
        for message in v1.iter().chain(&switched) {
            let kinds: Vec<bool> = message["updates"]
                .as_array()
                .expect("updates")
                .iter()
                .map(is_model_metric)
                .collect();
            assert!(kinds.windows(2).all(|w| w[0] <= w[1]), "{message}");
        }
        assert_eq!(v1, run_with_models(&records, &[(0, Some(model(1, 0.3)))]));
    }

    #[test]
    fn accuracy_is_per_version_and_the_old_version_is_flushed() {
        let records = answered_records();
        let switched = run_with_models(
            &records,
            &[
                (0, None),
                (60, Some(model(1, 0.3))),
                (120, Some(model(2, -1.0))),
            ],
        );
        let updates = flat(&switched);
        let status: Vec<&Value> = updates
            .iter()
            .filter(|u| u["metric"] == "model_status")
            .map(|u| &u["value"])
            .collect();
        let versions: Vec<i64> = status
            .iter()
            .map(|v| v["model_version"].as_i64().unwrap_or(-1))
            .collect();
        assert_eq!(versions, vec![0, 1, 2], "announced once per version");
        assert_eq!(status[0]["status"], "no model published yet");
        assert_eq!(status[1]["status"], "serving");
        let last = |v: i64| {
            updates
                .iter()
                .rfind(|u| u["metric"] == "model_accuracy" && u["value"]["model_version"] == v)
                .map(|u| u["value"].clone())
                .expect("published")
        };
        let (one, two) = (last(1), last(2));
        assert_eq!(
            (one["since_offset"].as_i64(), one["last_offset"].as_i64()),
            (Some(60), Some(119)),
            "v1's last value is published when v2 takes over"
        );
        assert_eq!(one["scored"].as_u64(), Some(60));
        assert_eq!(two["since_offset"].as_i64(), Some(120));
        // Recompute v1 over its range.
        let m = model(1, 0.3);
        let (mut correct, mut loss) = (0u64, 0.0f64);
        for payload in &records[60..120] {
            let r = Rsvp::parse(payload, &Limits::default()).expect("valid");
            let p = m.model.predict(&r);
            let yes = r.response == schemas::rsvp::Response::Yes;
            correct += u64::from((p >= 0.5) == yes);
            loss -= if yes { p.ln() } else { (1.0 - p).ln() };
        }
        assert_eq!(one["correct"].as_u64(), Some(correct));
        assert!(correct > 0 && correct < 60, "a mixed model: {correct}");
        assert!((one["log_loss_sum"].as_f64().expect("sum") - loss).abs() < 1e-9);
        assert!(
            (one["accuracy"].as_f64().expect("accuracy") - correct as f64 / 60.0).abs() < 1e-15
        );
    }

    #[test]
    fn a_late_record_is_counted_not_dropped() {
        let t = 1_489_000_000_000;
        let out = run(&[rsvp(t, "us"), rsvp(t + 3_600_000, "us"), rsvp(t, "us")]);
        let late = out
            .iter()
            .flat_map(|m| m["updates"].as_array().cloned().unwrap_or_default())
            .filter(|u| u["metric"] == "rsvp_late")
            .count();
        assert_eq!(late, 1);
    }

    #[test]
    fn invalid_records_are_rejected_with_their_reason() {
        let mut p = PartitionPipeline::new(
            "t",
            0,
            FeedKind::Race,
            EmitConfig::default(),
            &OperatorConfig::default(),
            ViewPartial::new(0, 0),
        );
        let produced = p.process(
            InputRecord {
                offset: 0,
                payload: b"{not json",
                ingest_time_ms: None,
            },
            ALL,
        );
        assert!(produced.rejected.is_some());
        assert!(produced.messages.is_empty());
    }
}
