//! The real-time generation of the batch views (`schemas::realtime`): per
//! input partition, the batch views' rows over the offsets after the batch
//! watermark, published at every transaction commit.
//!
//! Unlike the live metrics, these rows do not go through the emission
//! policy: a checkpoint publishes every row that changed since the previous
//! one and then the partition's [`ViewProgress`] marker, so that a reader
//! holds "every offset up to the marker" exactly. The commit interval bounds
//! the output: a key goes out at most once per commit.
//!
//! Where a checkpoint falls depends on when transactions commit, so
//! checkpoints are not a function of the input prefix like the live
//! updates; their *values* are (a row at offset `o` is the aggregate of the
//! generation's records up to `o`). An update id names the key and the
//! offset it is as of, so one id always carries one value, and a restart
//! that checkpoints at other offsets publishes other ids with the values
//! those offsets imply.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemas::realtime::{
    COUNTRY_HOUR, CountryHour, RACE_DRIVER_LAPS, RaceDriverLaps, TOPIC_DAY, TopicDay,
    VIEW_PROGRESS, ViewProgress, ViewRow,
};
use schemas::{RaceEvent, Rsvp};
use serde_json::{Value, json};

use crate::pipeline::OutMessage;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// A row and whether it changed since the last checkpoint.
#[derive(Debug, Clone, Default)]
struct Tracked<T> {
    value: T,
    dirty: bool,
    /// Smallest and largest event time that touched the row.
    range: Option<(i64, i64)>,
}

impl<T> Tracked<T> {
    fn touch(&mut self, event_time: i64, mark_dirty: bool, dirty_rows: &mut usize) {
        self.range = Some(match self.range {
            Some((lo, hi)) => (lo.min(event_time), hi.max(event_time)),
            None => (event_time, event_time),
        });
        if mark_dirty && !self.dirty {
            self.dirty = true;
            *dirty_rows += 1;
        }
    }
}

/// (rsvps, yes, guests).
type Counts = (i64, i64, i64);

/// One car in one race, per lap and per stop so that a re-sent lap replaces.
#[derive(Debug, Clone, Default)]
struct Car {
    entry: bool,
    laps: BTreeMap<u32, i64>,
    stops: BTreeSet<u32>,
    classified: bool,
    final_position: Option<i32>,
}

/// The rows of one input partition's generation. Maps are nested by their
/// string dimension so a lookup borrows the record's `&str` and allocates
/// only for a new key.
#[derive(Debug, Default)]
struct Rows {
    country_hour: HashMap<String, HashMap<i64, Tracked<Counts>>>,
    topic_day: HashMap<String, HashMap<i64, Tracked<Counts>>>,
    race: HashMap<String, HashMap<String, Tracked<Car>>>,
}

/// One input partition's real-time view generation.
#[derive(Debug)]
pub(crate) struct ViewPartial {
    generation: i64,
    from: i64,
    /// Last offset applied; `from - 1` before the first.
    through: i64,
    max_event_time: Option<i64>,
    rows: Rows,
    dirty_rows: usize,
    /// The next checkpoint must be published even without changed rows
    /// (a new generation announces itself on every partition).
    forced: bool,
}

/// `map[key]`, inserted as default when absent; allocates only then.
fn slot<'a, V: Default>(map: &'a mut HashMap<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

fn bucket<'a, T: Default>(
    map: &'a mut HashMap<String, HashMap<i64, Tracked<T>>>,
    name: &str,
    at: i64,
) -> &'a mut Tracked<T> {
    slot(map, name).entry(at).or_default()
}

impl ViewPartial {
    /// An empty generation `generation` starting at offset `from`; its first
    /// checkpoint is published even if nothing arrives.
    pub(crate) fn new(generation: i64, from: i64) -> Self {
        ViewPartial {
            generation,
            from,
            through: from - 1,
            max_event_time: None,
            rows: Rows::default(),
            dirty_rows: 0,
            forced: true,
        }
    }

    /// The generation (batch run id, 0 = none).
    pub(crate) fn generation(&self) -> i64 {
        self.generation
    }

    /// First offset of the generation.
    pub(crate) fn from(&self) -> i64 {
        self.from
    }

    /// The next offset the view needs.
    pub(crate) fn next(&self) -> i64 {
        self.through + 1
    }

    /// Marks the generation as already announced (a restart resuming it).
    pub(crate) fn set_published(&mut self) {
        self.forced = false;
    }

    /// Records that `offset` was read (valid or not); offsets only grow.
    pub(crate) fn advance(&mut self, offset: i64) {
        self.through = self.through.max(offset);
    }

    fn note_time(&mut self, t: i64) {
        self.max_event_time = Some(self.max_event_time.map_or(t, |m| m.max(t)));
    }

    /// Adds one RSVP; `mark_dirty` is false for records whose checkpoint is
    /// already published (a restart's replay).
    pub(crate) fn apply_rsvp(&mut self, rsvp: &Rsvp, mark_dirty: bool) {
        self.note_time(rsvp.mtime);
        let yes = i64::from(rsvp.response == schemas::rsvp::Response::Yes);
        let group = &rsvp.group;
        let hour = rsvp.mtime.div_euclid(HOUR_MS) * HOUR_MS;
        let row = bucket(&mut self.rows.country_hour, &group.group_country, hour);
        row.value = (
            row.value.0 + 1,
            row.value.1 + yes,
            row.value.2 + rsvp.guests,
        );
        row.touch(rsvp.mtime, mark_dirty, &mut self.dirty_rows);
        let day = rsvp.mtime.div_euclid(DAY_MS);
        for topic in &group.group_topics {
            let row = bucket(&mut self.rows.topic_day, &topic.urlkey, day);
            row.value = (row.value.0 + 1, row.value.1 + yes, 0);
            row.touch(rsvp.mtime, mark_dirty, &mut self.dirty_rows);
        }
    }

    /// Adds one race event.
    pub(crate) fn apply_race(&mut self, event: &RaceEvent, mark_dirty: bool) {
        let ts = event.ts();
        self.note_time(ts);
        let race = event.race_id();
        let mut touched: Vec<&str> = Vec::new();
        let cars = slot(&mut self.rows.race, race);
        match event {
            RaceEvent::RaceStart(start) => {
                for grid in &start.grid {
                    slot(cars, &grid.driver_id).value.entry = true;
                    touched.push(&grid.driver_id);
                }
            }
            RaceEvent::LapCompleted(lap) => {
                slot(cars, &lap.driver_id)
                    .value
                    .laps
                    .insert(lap.lap, lap.lap_time_ms);
                touched.push(&lap.driver_id);
            }
            RaceEvent::PitIn(pit) => {
                slot(cars, &pit.driver_id).value.stops.insert(pit.stop);
                touched.push(&pit.driver_id);
            }
            RaceEvent::RaceFinish(finish) => {
                for result in &finish.results {
                    let c = &mut slot(cars, &result.driver_id).value;
                    c.classified = true;
                    c.final_position = result.position.and_then(|p| i32::try_from(p).ok());
                    touched.push(&result.driver_id);
                }
            }
            RaceEvent::PitOut(_) | RaceEvent::Flag(_) | RaceEvent::Retirement(_) => {}
        }
        for driver in touched {
            if let Some(row) = cars.get_mut(driver) {
                row.touch(ts, mark_dirty, &mut self.dirty_rows);
            }
        }
    }

    /// True when the next commit must publish a checkpoint.
    pub(crate) fn due(&self) -> bool {
        self.forced || self.dirty_rows > 0
    }

    /// The marker of the current state.
    fn progress(&self, topic: &str, partition: i32) -> ViewProgress {
        ViewProgress {
            generation: self.generation,
            topic: topic.to_owned(),
            partition,
            from_offset: self.from,
            through_offset: self.through,
            max_event_time_ms: self.max_event_time,
        }
    }

    /// The changed rows (sorted by key) and then the marker, packed into
    /// messages of at most `max_keys` updates; clears the changes.
    pub(crate) fn checkpoint(
        &mut self,
        topic: &str,
        partition: i32,
        max_keys: usize,
    ) -> Vec<OutMessage> {
        let g = self.generation;
        let mut changed: Vec<(String, &'static str, (i64, i64), ViewRow)> = Vec::new();
        for (country, hours) in &mut self.rows.country_hour {
            for (&hour, row) in hours.iter_mut().filter(|(_, r)| r.dirty) {
                row.dirty = false;
                let (rsvps, yes_count, guests) = row.value;
                changed.push((
                    format!("view/{g}/{COUNTRY_HOUR}/{country}/{hour}"),
                    COUNTRY_HOUR,
                    row.range.unwrap_or_default(),
                    ViewRow::CountryHour(CountryHour {
                        country_code: country.clone(),
                        hour_ms: hour,
                        rsvps,
                        yes_count,
                        guests,
                    }),
                ));
            }
        }
        for (urlkey, days) in &mut self.rows.topic_day {
            for (&day, row) in days.iter_mut().filter(|(_, r)| r.dirty) {
                row.dirty = false;
                changed.push((
                    format!("view/{g}/{TOPIC_DAY}/{urlkey}/{day}"),
                    TOPIC_DAY,
                    row.range.unwrap_or_default(),
                    ViewRow::TopicDay(TopicDay {
                        urlkey: urlkey.clone(),
                        day,
                        rsvps: row.value.0,
                        yes_count: row.value.1,
                    }),
                ));
            }
        }
        for (race, cars) in &mut self.rows.race {
            for (driver, row) in cars.iter_mut().filter(|(_, r)| r.dirty) {
                row.dirty = false;
                let car = &row.value;
                changed.push((
                    format!("view/{g}/{RACE_DRIVER_LAPS}/{race}/{driver}"),
                    RACE_DRIVER_LAPS,
                    row.range.unwrap_or_default(),
                    ViewRow::RaceDriverLaps(RaceDriverLaps {
                        race_id: race.clone(),
                        driver_id: driver.clone(),
                        entry: car.entry,
                        laps: car.laps.len() as i64,
                        best_lap_ms: car.laps.values().min().copied(),
                        total_lap_ms: car.laps.values().sum(),
                        pit_stops: car.stops.len() as i64,
                        classified: car.classified,
                        final_position: car.final_position,
                    }),
                ));
            }
        }
        self.dirty_rows = 0;
        self.forced = false;
        changed.sort_by(|a, b| a.0.cmp(&b.0));
        let progress = self.progress(topic, partition);
        let source = format!("{topic}:{partition}:{}", self.through);
        let mut updates: Vec<Value> = changed
            .into_iter()
            .map(|(key, metric, range, row)| {
                json!({
                    "id": format!("{source}:{key}"),
                    "key": key,
                    "metric": metric,
                    "generation": g,
                    "event_time_range": [range.0, range.1],
                    "value": row,
                })
            })
            .collect();
        let marker_key = format!("view/{g}/{VIEW_PROGRESS}/{topic}/{partition}");
        updates.push(json!({
            "id": format!("{source}:{marker_key}"),
            "key": marker_key,
            "metric": VIEW_PROGRESS,
            "generation": g,
            "value": progress,
        }));
        let max_keys = max_keys.max(1);
        let chunks = updates.len().div_ceil(max_keys);
        let mut messages = Vec::with_capacity(chunks);
        let mut rest = updates.into_iter();
        for _ in 0..chunks {
            let chunk: Vec<Value> = rest.by_ref().take(max_keys).collect();
            let updates = chunk.len();
            let id = chunk
                .first()
                .and_then(|u| u["id"].as_str())
                .unwrap_or_default()
                .to_owned();
            messages.push(OutMessage {
                key: format!("{topic}:{partition}"),
                body: json!({
                    "id": id,
                    "source": {"topic": topic, "partition": partition, "offset": self.through},
                    "generation": g,
                    "source_event_time_ms": self.max_event_time,
                    "ingest_time_ms": null,
                    "updates": chunk,
                }),
                // Not a per-record latency: kept out of the histograms.
                source_event_time_ms: None,
                ingest_time_ms: None,
                updates,
            });
        }
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::Limits;

    fn rsvp(mtime: i64, country: &str, response: &str, guests: i64) -> Rsvp {
        let line = format!(
            r#"{{"visibility":"public","response":"{response}","guests":{guests},"member":{{"member_id":1,"member_name":"m"}},"rsvp_id":1,"mtime":{mtime},"event":{{"event_name":"e","event_id":"1","time":{mtime},"event_url":"u"}},"group":{{"group_topics":[{{"urlkey":"rust","topic_name":"Rust"}},{{"urlkey":"go","topic_name":"Go"}}],"group_city":"c","group_country":"{country}","group_id":1,"group_name":"g","group_lon":0,"group_lat":0,"group_urlname":"g"}}}}"#
        );
        Rsvp::parse(line.as_bytes(), &Limits::default()).expect("a valid RSVP")
    }

    fn values(messages: &[OutMessage]) -> Vec<Value> {
        messages
            .iter()
            .flat_map(|m| m.body["updates"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_checkpoint_publishes_changed_rows_then_the_marker() {
        let t = 1_489_000_000_000 - 1_489_000_000_000 % HOUR_MS;
        let mut view = ViewPartial::new(3, 100);
        view.apply_rsvp(&rsvp(t + 5, "us", "yes", 2), true);
        view.advance(100);
        view.apply_rsvp(&rsvp(t + 9, "us", "no", 0), true);
        view.advance(101);
        let first = values(&view.checkpoint("rsvps", 0, 2));
        // us/hour, go/day, rust/day, then the marker.
        assert_eq!(first.len(), 4);
        assert_eq!(first[0]["value"]["rsvps"], 2);
        assert_eq!(first[0]["value"]["yes_count"], 1);
        assert_eq!(first[0]["value"]["guests"], 2);
        assert_eq!(
            first[0]["id"],
            format!("rsvps:0:101:view/3/{COUNTRY_HOUR}/us/{t}")
        );
        let marker = &first[3]["value"];
        assert_eq!(
            (
                marker["from_offset"].as_i64(),
                marker["through_offset"].as_i64()
            ),
            (Some(100), Some(101))
        );
        assert!(!view.due(), "nothing changed since");
        view.apply_rsvp(&rsvp(t + HOUR_MS, "de", "yes", 0), true);
        view.advance(102);
        let second = values(&view.checkpoint("rsvps", 0, 20));
        let keys: Vec<&str> = second.iter().filter_map(|u| u["key"].as_str()).collect();
        assert_eq!(keys.len(), 4, "de/hour, go/day, rust/day, marker: {keys:?}");
        assert!(
            keys.iter().all(|k| !k.contains("/us/")),
            "us did not change"
        );
    }

    #[test]
    fn a_replayed_prefix_is_not_republished() {
        let mut view = ViewPartial::new(1, 0);
        view.set_published();
        view.apply_rsvp(&rsvp(1_489_000_000_000, "us", "yes", 0), false);
        view.advance(0);
        assert!(!view.due());
        view.apply_rsvp(&rsvp(1_489_000_001_000, "us", "yes", 0), true);
        view.advance(1);
        let out = values(&view.checkpoint("rsvps", 0, 20));
        assert_eq!(
            out[0]["value"]["rsvps"], 2,
            "the value covers the whole prefix"
        );
    }

    #[test]
    fn an_empty_new_generation_still_announces_itself() {
        let mut view = ViewPartial::new(7, 50);
        assert!(view.due());
        let out = values(&view.checkpoint("race", 2, 20));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["value"]["through_offset"], 49);
        assert_eq!(out[0]["value"]["generation"], 7);
    }
}
