//! The real-time half of the batch views: what the speed layer publishes on
//! `billabong.metrics` so that serving can answer
//!
//! ```text
//! merged(view) = batch view of run G (offsets ≤ W[p])  ⊕  real-time generation G (offsets > W[p])
//! ```
//!
//! A **generation** is named by the batch run it completes (`G` = run id,
//! 0 = no batch run yet, so the generation starts at each partition's first
//! offset). Per input partition the speed layer keeps one partial row per
//! view key over the offsets `from_offset..=through_offset`, and at every
//! transaction commit publishes the rows that changed followed by a
//! [`ViewProgress`] marker, in the same transaction and the same output
//! partition. A reader applies a partition's rows when it reads the marker,
//! so what it holds is always "every offset up to `through_offset`".
//!
//! Rows are cumulative (not deltas): a repeated row replaces, so a reader may
//! see one twice without harm. Partials of different input partitions add
//! up ([`ViewRow::merge`]); the batch row of a key combines with them the
//! same way.

use serde::{Deserialize, Serialize};

/// Metric name of a country/hour row (key `view/<G>/view_rsvps_country_hour/<country>/<hour_ms>`).
pub const COUNTRY_HOUR: &str = "view_rsvps_country_hour";
/// Metric name of a topic/day row.
pub const TOPIC_DAY: &str = "view_topic_day";
/// Metric name of a race/driver row.
pub const RACE_DRIVER_LAPS: &str = "view_race_driver_laps";
/// Metric name of the marker closing a partition's checkpoint.
pub const VIEW_PROGRESS: &str = "view_progress";

/// RSVP messages of one group country in one UTC hour (every message counts,
/// re-emits included, like the batch view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountryHour {
    /// `group.group_country`.
    pub country_code: String,
    /// Start of the hour, ms since the epoch.
    pub hour_ms: i64,
    /// Messages.
    pub rsvps: i64,
    /// Messages answering yes.
    pub yes_count: i64,
    /// Sum of `guests`.
    pub guests: i64,
}

/// RSVP messages of groups carrying one topic on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicDay {
    /// Topic `urlkey`.
    pub urlkey: String,
    /// Days since the epoch.
    pub day: i64,
    /// Messages.
    pub rsvps: i64,
    /// Messages answering yes.
    pub yes_count: i64,
}

/// One car's laps and stops in one race.
///
/// Laps are counted per lap number and stops per `pit_in` (the feed sends a
/// stop's `pit_in` before its `pit_out`, so a stop belongs to the side of the
/// watermark its `pit_in` is on). Sums across the watermark are exact as long
/// as no lap or stop of a car is sent on both sides, which the feed never
/// does (each lap and stop is sent once, in race order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceDriverLaps {
    /// Race id.
    pub race_id: String,
    /// Driver key.
    pub driver_id: String,
    /// The car is on this side's starting grid (the batch view has a row
    /// per entry; a row without an entry on either side is not shown).
    pub entry: bool,
    /// Laps completed.
    pub laps: i64,
    /// Fastest lap, ms.
    pub best_lap_ms: Option<i64>,
    /// Sum of lap times, ms.
    pub total_lap_ms: i64,
    /// Pit stops.
    pub pit_stops: i64,
    /// The race's classification was seen on this side.
    pub classified: bool,
    /// Classified position (absent when not classified or not finished).
    pub final_position: Option<i32>,
}

impl RaceDriverLaps {
    /// `total / laps`, as the batch view computes it.
    pub fn mean_lap_ms(&self) -> Option<f64> {
        (self.laps > 0).then(|| self.total_lap_ms as f64 / self.laps as f64)
    }
}

/// Closes one partition's checkpoint: the rows published before it (same
/// generation, same input partition) cover exactly `from_offset..=through_offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewProgress {
    /// The batch run this generation completes (0 = none).
    pub generation: i64,
    /// Input topic.
    pub topic: String,
    /// Input partition.
    pub partition: i32,
    /// First offset of the generation (the batch watermark + 1).
    pub from_offset: i64,
    /// Last offset covered; `from_offset - 1` when none is yet.
    pub through_offset: i64,
    /// Largest event time covered so far (ms), for lag.
    pub max_event_time_ms: Option<i64>,
}

/// One row of any view, as serving keys and merges them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ViewRow {
    /// See [`CountryHour`].
    CountryHour(CountryHour),
    /// See [`TopicDay`].
    TopicDay(TopicDay),
    /// See [`RaceDriverLaps`].
    RaceDriverLaps(RaceDriverLaps),
}

impl ViewRow {
    /// Adds `other`'s counts (same view, same key) to `self`: the combination
    /// of two disjoint offset ranges.
    pub fn merge(&mut self, other: &ViewRow) {
        match (self, other) {
            (ViewRow::CountryHour(a), ViewRow::CountryHour(b)) => {
                a.rsvps += b.rsvps;
                a.yes_count += b.yes_count;
                a.guests += b.guests;
            }
            (ViewRow::TopicDay(a), ViewRow::TopicDay(b)) => {
                a.rsvps += b.rsvps;
                a.yes_count += b.yes_count;
            }
            (ViewRow::RaceDriverLaps(a), ViewRow::RaceDriverLaps(b)) => {
                a.entry |= b.entry;
                a.laps += b.laps;
                a.best_lap_ms = match (a.best_lap_ms, b.best_lap_ms) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
                a.total_lap_ms += b.total_lap_ms;
                a.pit_stops += b.pit_stops;
                // The later side's classification wins (`other` is later
                // when merging batch ⊕ real-time).
                if b.classified {
                    a.classified = true;
                    a.final_position = b.final_position;
                }
            }
            _ => {}
        }
    }

    /// The view's name (the metric name).
    pub fn view(&self) -> &'static str {
        match self {
            ViewRow::CountryHour(_) => COUNTRY_HOUR,
            ViewRow::TopicDay(_) => TOPIC_DAY,
            ViewRow::RaceDriverLaps(_) => RACE_DRIVER_LAPS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn laps(laps: i64, best: Option<i64>, total: i64, pos: Option<i32>) -> ViewRow {
        ViewRow::RaceDriverLaps(RaceDriverLaps {
            race_id: "r".into(),
            driver_id: "d".into(),
            entry: best.is_none(),
            laps,
            best_lap_ms: best,
            total_lap_ms: total,
            pit_stops: 1,
            classified: pos.is_some(),
            final_position: pos,
        })
    }

    #[test]
    fn race_rows_combine_like_one_aggregate() {
        let mut a = laps(0, None, 0, None);
        a.merge(&laps(3, Some(90_000), 280_000, None));
        a.merge(&laps(2, Some(89_000), 180_000, Some(4)));
        let ViewRow::RaceDriverLaps(a) = a else {
            unreachable!("built as race rows")
        };
        assert!(a.entry && a.classified);
        assert_eq!(
            (a.laps, a.best_lap_ms, a.total_lap_ms, a.pit_stops),
            (5, Some(89_000), 460_000, 3)
        );
        assert_eq!(a.final_position, Some(4));
        assert_eq!(a.mean_lap_ms(), Some(92_000.0));
    }

    #[test]
    fn rows_round_trip_untagged() {
        let row = ViewRow::TopicDay(TopicDay {
            urlkey: "rust".into(),
            day: 17_233,
            rsvps: 3,
            yes_count: 2,
        });
        let json = serde_json::to_string(&row).expect("serialises");
        assert_eq!(
            serde_json::from_str::<TopicDay>(&json).ok(),
            Some(match row {
                ViewRow::TopicDay(t) => t,
                _ => unreachable!("built as a topic row"),
            })
        );
    }
}
