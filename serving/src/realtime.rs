//! The speed layer's view generations as serving holds them: the
//! `billabong.metrics` checkpoints folded per (generation, input partition),
//! each applied whole at its `view_progress` marker (see
//! `schemas::realtime`), plus the latest value of every live metric key.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemas::realtime::{
    COUNTRY_HOUR, RACE_DRIVER_LAPS, TOPIC_DAY, VIEW_PROGRESS, ViewProgress, ViewRow,
};
use serde_json::Value;

/// (input topic, input partition).
pub(crate) type InputPartition = (String, i32);

/// One input partition's rows of one generation, as of its last marker.
#[derive(Debug, Default, Clone)]
pub(crate) struct PartitionRows {
    pub(crate) rows: HashMap<String, ViewRow>,
    pub(crate) progress: Option<ViewProgress>,
}

/// One generation: per input partition, what its last marker covers.
#[derive(Debug, Default, Clone)]
pub(crate) struct Generation {
    pub(crate) partitions: BTreeMap<InputPartition, PartitionRows>,
    /// Rows read but not yet closed by a marker.
    pending: HashMap<InputPartition, Vec<(String, ViewRow)>>,
}

impl Generation {
    /// Covered offsets per input partition (`through_offset`).
    pub(crate) fn positions(&self) -> BTreeMap<InputPartition, i64> {
        self.partitions
            .iter()
            .filter_map(|(k, p)| p.progress.as_ref().map(|m| (k.clone(), m.through_offset)))
            .collect()
    }
}

/// A view row, typed by its metric name.
fn parse_row(update: &Value) -> Option<ViewRow> {
    let value = update["value"].clone();
    match update["metric"].as_str()? {
        COUNTRY_HOUR => serde_json::from_value(value).ok().map(ViewRow::CountryHour),
        TOPIC_DAY => serde_json::from_value(value).ok().map(ViewRow::TopicDay),
        RACE_DRIVER_LAPS => serde_json::from_value(value)
            .ok()
            .map(ViewRow::RaceDriverLaps),
        _ => None,
    }
}

/// A marker applied: its generation and the views whose rows it closed.
#[derive(Debug, PartialEq)]
pub(crate) struct Checkpoint {
    pub(crate) generation: i64,
    pub(crate) views: BTreeSet<&'static str>,
}

/// Every generation read so far and the live metrics.
#[derive(Debug, Default)]
pub(crate) struct Realtime {
    pub(crate) generations: BTreeMap<i64, Generation>,
    /// Latest update per live metric key (`race/<id>/order`, ...).
    pub(crate) live: HashMap<String, Value>,
}

impl Realtime {
    /// Applies one message of the metrics topic (in partition order).
    /// Returns the generation and the views whose rows a marker in the
    /// message closed (a checkpoint), if it had one.
    pub(crate) fn apply(&mut self, message: &Value) -> Option<Checkpoint> {
        let Some(updates) = message["updates"].as_array() else {
            crate::metrics::record_malformed_update();
            return None;
        };
        let Some(generation) = message["generation"].as_i64() else {
            for update in updates {
                if let Some(key) = update["key"].as_str() {
                    self.live.insert(key.to_owned(), update.clone());
                }
            }
            return None;
        };
        let (Some(topic), Some(partition)) = (
            message["source"]["topic"].as_str(),
            message["source"]["partition"]
                .as_i64()
                .and_then(|p| i32::try_from(p).ok()),
        ) else {
            crate::metrics::record_malformed_update();
            return None;
        };
        let input = (topic.to_owned(), partition);
        let g = self.generations.entry(generation).or_default();
        let mut checkpoint = None;
        for update in updates {
            if update["metric"] == VIEW_PROGRESS {
                match serde_json::from_value::<ViewProgress>(update["value"].clone()) {
                    Ok(progress) => {
                        let part = g.partitions.entry(input.clone()).or_default();
                        let closed = checkpoint.get_or_insert_with(|| Checkpoint {
                            generation,
                            views: BTreeSet::new(),
                        });
                        for (key, row) in g.pending.remove(&input).unwrap_or_default() {
                            closed.views.insert(row.view());
                            part.rows.insert(key, row);
                        }
                        part.progress = Some(progress);
                    }
                    Err(_) => crate::metrics::record_malformed_update(),
                }
                continue;
            }
            let (Some(key), Some(row)) = (update["key"].as_str(), parse_row(update)) else {
                crate::metrics::record_malformed_update();
                continue;
            };
            g.pending
                .entry(input.clone())
                .or_default()
                .push((key.to_owned(), row));
        }
        checkpoint
    }

    /// Forgets generations older than `keep` (they will never be served again).
    pub(crate) fn retire_before(&mut self, keep: i64) {
        self.generations.retain(|g, _| *g >= keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(country: &str, n: i64) -> Value {
        json!({"key": format!("view/1/view_rsvps_country_hour/{country}/0"), "metric": "view_rsvps_country_hour",
               "value": {"country_code": country, "hour_ms": 0, "rsvps": n, "yes_count": 0, "guests": 0}})
    }

    fn marker(through: i64) -> Value {
        json!({"key": "view/1/view_progress/t/0", "metric": "view_progress",
               "value": {"generation": 1, "topic": "t", "partition": 0, "from_offset": 10,
                         "through_offset": through, "max_event_time_ms": null}})
    }

    fn message(updates: Vec<Value>) -> Value {
        json!({"generation": 1, "source": {"topic": "t", "partition": 0, "offset": 0}, "updates": updates})
    }

    #[test]
    fn rows_count_only_once_their_marker_is_read() {
        let mut rt = Realtime::default();
        rt.apply(&message(vec![row("us", 3), row("de", 1)]));
        assert!(rt.generations[&1].partitions.is_empty(), "no marker yet");
        let closed = rt.apply(&message(vec![marker(20)])).expect("a checkpoint");
        assert_eq!(
            closed.views.into_iter().collect::<Vec<_>>(),
            ["view_rsvps_country_hour"]
        );
        let p = &rt.generations[&1].partitions[&("t".to_owned(), 0)];
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.progress.as_ref().map(|m| m.through_offset), Some(20));
        rt.apply(&message(vec![row("us", 5), marker(25)]));
        let p = &rt.generations[&1].partitions[&("t".to_owned(), 0)];
        assert_eq!(
            p.rows["view/1/view_rsvps_country_hour/us/0"],
            ViewRow::CountryHour(schemas::realtime::CountryHour {
                country_code: "us".into(),
                hour_ms: 0,
                rsvps: 5,
                yes_count: 0,
                guests: 0
            }),
            "a row replaces, it does not add"
        );
        rt.apply(&json!({"updates": [{"key": "rsvp_rate/x", "value": 1}], "source": {}}));
        assert_eq!(rt.live.len(), 1);
    }
}
