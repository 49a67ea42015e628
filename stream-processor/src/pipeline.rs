//! One partition's processing, from raw bytes to packed output messages:
//! parse → operator → emission policy → packing. Pure and synchronous: the
//! output is a function of the partition's input prefix alone (apart from
//! the emit time the sender stamps), which is what lets a restart rebuild
//! the state by replay and recognise what it already published.

use schemas::{Limits, RaceEvent, Rsvp, ValidationError};
use serde_json::{Value, json};

use crate::config::{EmitConfig, OperatorConfig};
use crate::emit::Emitter;
use crate::race::RaceOperator;
use crate::rsvp::RsvpOperator;
use crate::update::Update;

/// Which feed a partition carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeedKind {
    Rsvps,
    Race,
}

enum Operator {
    Rsvps(RsvpOperator),
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

/// The state of one input partition.
pub(crate) struct PartitionPipeline {
    topic: String,
    partition: i32,
    limits: Limits,
    operator: Operator,
    emitter: Emitter,
    max_keys: usize,
}

impl PartitionPipeline {
    pub(crate) fn new(
        topic: &str,
        partition: i32,
        kind: FeedKind,
        emit: EmitConfig,
        ops: &OperatorConfig,
    ) -> Self {
        let operator = match kind {
            FeedKind::Rsvps => Operator::Rsvps(RsvpOperator::new(ops)),
            FeedKind::Race => Operator::Race(RaceOperator::new(ops)),
        };
        PartitionPipeline {
            topic: topic.to_owned(),
            partition,
            limits: Limits::default(),
            operator,
            emitter: Emitter::new(emit),
            max_keys: emit.max_keys_per_message.max(1),
        }
    }

    /// Processes the next record of the partition (offsets must increase).
    pub(crate) fn process(&mut self, record: InputRecord<'_>) -> Produced {
        let mut produced = Produced::default();
        let mut updates = Vec::new();
        let mut published = Vec::new();
        let event_time;
        match &mut self.operator {
            Operator::Rsvps(op) => match Rsvp::parse(record.payload, &self.limits) {
                Ok(rsvp) => {
                    event_time = rsvp.mtime;
                    produced.late = op.process(&rsvp, &mut updates);
                    let (clock, watermark) = (op.clock().now(), op.clock().watermark());
                    for update in updates {
                        self.emitter.offer(update, clock, &mut published);
                    }
                    self.emitter.advance(clock, watermark, &mut published);
                }
                Err(error) => {
                    produced.rejected = Some(error);
                    return produced;
                }
            },
            Operator::Race(op) => match RaceEvent::parse(record.payload, &self.limits) {
                Ok(event) => {
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
                    produced.rejected = Some(error);
                    return produced;
                }
            },
        }
        produced.messages = self.pack(record, event_time, &published);
        produced
    }

    /// Keys the emitter tracks (memory gauge).
    pub(crate) fn tracked_keys(&self) -> usize {
        self.emitter.tracked_keys()
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

    fn rsvp(mtime: i64, country: &str) -> Vec<u8> {
        let line = format!(
            r#"{{"venue":{{"venue_name":"v","lon":0,"lat":0,"venue_id":1}},"visibility":"public","response":"yes","guests":1,"member":{{"member_id":1,"member_name":"m"}},"rsvp_id":1,"mtime":{mtime},"event":{{"event_name":"e","event_id":"1","time":{mtime},"event_url":"u"}},"group":{{"group_topics":[{{"urlkey":"rust","topic_name":"Rust"}}],"group_city":"c","group_country":"{country}","group_id":1,"group_name":"g","group_lon":0,"group_lat":0,"group_urlname":"g"}}}}"#
        );
        line.into_bytes()
    }

    fn run(records: &[Vec<u8>]) -> Vec<Value> {
        let mut p = PartitionPipeline::new(
            "t",
            0,
            FeedKind::Rsvps,
            EmitConfig::default(),
            &OperatorConfig::default(),
        );
        let mut out = Vec::new();
        for (i, payload) in records.iter().enumerate() {
            let produced = p.process(InputRecord {
                offset: i as i64,
                payload,
                ingest_time_ms: Some(5),
            });
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
        );
        let produced = p.process(InputRecord {
            offset: 0,
            payload: b"{not json",
            ingest_time_ms: None,
        });
        assert!(produced.rejected.is_some());
        assert!(produced.messages.is_empty());
    }
}
