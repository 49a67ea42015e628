//! What one `serve` process holds and how it answers: the loaded batch runs,
//! the real-time generations, and which (run, generation) pair is served.
//!
//! # The hand-over rule
//!
//! Run `G`'s batch views pair with generation `G` (the speed layer's rows
//! over offsets `> W_G`). A newer pair replaces the served one only when it
//! is complete and not behind: the batch run is loaded, and generation `G`
//! has a marker for every input partition the served generation has, each
//! covering at least as far. The switch is one assignment under the lock,
//! so a request sees the old pair or the new one, never a mix: no double
//! count, no hole, and covered offsets never move backwards.
//!
//! Everything here is a function of what was read from Kafka and
//! PostgreSQL, so two instances that have read the same answer the same.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use schemas::realtime::ViewRow;
use serde::Serialize;

use crate::batch_views::BatchSnapshot;
use crate::latency::Latency;
use crate::realtime::{InputPartition, Realtime};

/// The state behind the lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) batches: BTreeMap<i64, Arc<BatchSnapshot>>,
    pub(crate) realtime: Realtime,
    /// The served generation (= batch run id); `None` until one is ready.
    pub(crate) served: Option<i64>,
    /// Kafka's end offset per input partition, for lag (refreshed by the follower).
    pub(crate) ends: BTreeMap<InputPartition, i64>,
    /// The speed layer's consumption latency, for the dashboard.
    pub(crate) latency: Latency,
}

impl State {
    /// Switches to the newest complete pair that is not behind the served
    /// one (see the module docs). Returns true when it switched.
    pub(crate) fn hand_over(&mut self) -> bool {
        let current = self.served;
        let floor = current
            .and_then(|g| self.realtime.generations.get(&g))
            .map(|g| g.positions())
            .unwrap_or_default();
        let candidate = self
            .realtime
            .generations
            .iter()
            .rev()
            .filter(|(g, _)| current.is_none_or(|c| **g > c))
            .filter(|(g, _)| **g == 0 || self.batches.contains_key(g))
            .find(|(_, generation)| {
                let have = generation.positions();
                !have.is_empty()
                    && floor
                        .iter()
                        .all(|(p, through)| have.get(p).is_some_and(|t| t >= through))
            })
            .map(|(g, _)| *g);
        let Some(next) = candidate else {
            return false;
        };
        self.served = Some(next);
        self.realtime.retire_before(next);
        self.batches.retain(|run, _| *run >= next);
        tracing::info!(
            generation = next,
            "Serving a new batch run and its real-time generation."
        );
        true
    }
}

/// Where a merged answer stands.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Coverage {
    /// The batch run (0: none yet).
    pub(crate) batch_run_id: i64,
    /// Offsets the batch rows cover, `topic → partition → last offset`.
    pub(crate) batch_watermarks: BTreeMap<String, BTreeMap<i32, i64>>,
    /// The real-time generation (= the batch run id).
    pub(crate) generation: i64,
    /// Offsets the answer covers in total, `topic → partition → last offset`.
    pub(crate) through: BTreeMap<String, BTreeMap<i32, i64>>,
    /// Records in Kafka not yet covered, summed over partitions.
    pub(crate) lag_records: i64,
    /// Largest event time covered by the real-time rows (ms).
    pub(crate) realtime_event_time_ms: Option<i64>,
}

/// A merged view: coverage and rows keyed by their dimensions.
#[derive(Debug, Clone)]
pub(crate) struct Merged {
    pub(crate) coverage: Coverage,
    pub(crate) rows: Vec<ViewRow>,
}

fn row_key(row: &ViewRow) -> (String, String, i64) {
    match row {
        ViewRow::CountryHour(r) => (r.country_code.clone(), String::new(), r.hour_ms),
        ViewRow::TopicDay(r) => (r.urlkey.clone(), String::new(), r.day),
        ViewRow::RaceDriverLaps(r) => (r.race_id.clone(), r.driver_id.clone(), 0),
    }
}

fn nest(flat: &BTreeMap<InputPartition, i64>) -> BTreeMap<String, BTreeMap<i32, i64>> {
    let mut out: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
    for ((topic, p), o) in flat {
        out.entry(topic.clone()).or_default().insert(*p, *o);
    }
    out
}

impl State {
    /// The merged rows of `view` (a `schemas::realtime` metric name) for the
    /// served pair; `None` before any pair is ready.
    pub(crate) fn merged(&self, view: &str) -> Option<Merged> {
        let coverage = self.coverage()?;
        let g = coverage.generation;
        let empty = BatchSnapshot::default();
        let batch = self.batches.get(&g).map_or(&empty, |b| b.as_ref());
        let generation = self.realtime.generations.get(&g)?;
        let mut rows: HashMap<(String, String, i64), ViewRow> = HashMap::new();
        for row in batch.rows.iter().filter(|r| r.view() == view) {
            rows.insert(row_key(row), row.clone());
        }
        for part in generation.partitions.values() {
            for row in part.rows.values().filter(|r| r.view() == view) {
                rows.entry(row_key(row))
                    .and_modify(|have| have.merge(row))
                    .or_insert_with(|| row.clone());
            }
        }
        let mut rows: Vec<(_, ViewRow)> = rows
            .into_iter()
            .filter(|(_, r)| !matches!(r, ViewRow::RaceDriverLaps(l) if !l.entry))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Merged {
            coverage,
            rows: rows.into_iter().map(|(_, r)| r).collect(),
        })
    }

    /// Where the served pair stands (every view shares it); `None` before
    /// any pair is ready. Cheap: no rows are merged.
    pub(crate) fn coverage(&self) -> Option<Coverage> {
        let g = self.served?;
        let empty = BatchSnapshot::default();
        let batch = self.batches.get(&g).map_or(&empty, |b| b.as_ref());
        let generation = self.realtime.generations.get(&g)?;
        let event_time = generation
            .partitions
            .values()
            .filter_map(|part| part.progress.as_ref().and_then(|p| p.max_event_time_ms))
            .max();
        let mut through = batch.watermarks.clone();
        for (p, o) in generation.positions() {
            let e = through.entry(p).or_insert(o);
            *e = (*e).max(o);
        }
        let lag_records = self
            .ends
            .iter()
            .map(|(p, end)| (end - 1 - through.get(p).copied().unwrap_or(-1)).max(0))
            .sum();
        Some(Coverage {
            batch_run_id: batch.run_id,
            batch_watermarks: nest(&batch.watermarks),
            generation: g,
            through: nest(&through),
            lag_records,
            realtime_event_time_ms: event_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checkpoint(state: &mut State, g: i64, n: i64, through: i64) {
        state.realtime.apply(&json!({
            "generation": g, "source": {"topic": "t", "partition": 0, "offset": through},
            "updates": [
                {"key": format!("view/{g}/view_topic_day/rust/1"), "metric": "view_topic_day",
                 "value": {"urlkey": "rust", "day": 1, "rsvps": n, "yes_count": 0}},
                {"key": "m", "metric": "view_progress",
                 "value": {"generation": g, "topic": "t", "partition": 0, "from_offset": 0,
                           "through_offset": through, "max_event_time_ms": 5}}]}));
    }

    fn batch(run_id: i64, n: i64, w: i64) -> Arc<BatchSnapshot> {
        Arc::new(BatchSnapshot {
            run_id,
            watermarks: BTreeMap::from([(("t".to_owned(), 0), w)]),
            rows: vec![ViewRow::TopicDay(schemas::realtime::TopicDay {
                urlkey: "rust".into(),
                day: 1,
                rsvps: n,
                yes_count: 0,
            })],
        })
    }

    fn rsvps(state: &State) -> i64 {
        match &state.merged("view_topic_day").expect("served").rows[0] {
            ViewRow::TopicDay(t) => t.rsvps,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_new_pair_is_served_only_once_it_has_caught_up() {
        let mut state = State::default();
        checkpoint(&mut state, 0, 10, 9);
        assert!(state.hand_over());
        assert_eq!(rsvps(&state), 10);
        // Run 1 covers offsets 0..=5; its generation is not there yet.
        state.batches.insert(1, batch(1, 6, 5));
        assert!(!state.hand_over());
        checkpoint(&mut state, 1, 3, 8); // behind generation 0's offset 9
        assert!(!state.hand_over());
        assert_eq!(rsvps(&state), 10);
        checkpoint(&mut state, 0, 11, 10);
        checkpoint(&mut state, 1, 5, 10);
        assert!(state.hand_over());
        assert_eq!(
            rsvps(&state),
            11,
            "6 from the batch + 5 after its watermark"
        );
        let coverage = state.merged("view_topic_day").expect("served").coverage;
        assert_eq!((coverage.batch_run_id, coverage.generation), (1, 1));
        assert_eq!(coverage.through["t"][&0], 10);
        assert!(!state.realtime.generations.contains_key(&0), "retired");
    }
}
