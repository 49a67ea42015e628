//! When each car crossed the line: the lookups that pit stops, flags,
//! retirements and the finish are timed by.

use std::collections::{BTreeMap, HashMap};

use schemas::race::LapCompleted;

/// Crossing times of one race.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    /// Per car, `(lap, ts)` in lap order.
    cars: HashMap<String, Vec<(u32, i64)>>,
    /// Per lap, the earliest crossing: the leader's.
    leader: BTreeMap<u32, i64>,
}

impl Timeline {
    /// Indexes the laps of one race.
    pub(crate) fn new(laps: &[LapCompleted]) -> Self {
        let mut timeline = Self::default();
        for lap in laps {
            let car = timeline.cars.entry(lap.driver_id.clone()).or_default();
            car.push((lap.lap, lap.ts));
            let leader = timeline.leader.entry(lap.lap).or_insert(lap.ts);
            *leader = (*leader).min(lap.ts);
        }
        for car in timeline.cars.values_mut() {
            car.sort_unstable();
        }
        timeline
    }

    /// When `driver` completed `lap`.
    pub(crate) fn lap_ts(&self, driver: &str, lap: u32) -> Option<i64> {
        let car = self.cars.get(driver)?;
        let index = car.binary_search_by_key(&lap, |(l, _)| *l).ok()?;
        Some(car[index].1)
    }

    /// The highest lap `driver` completed, 0 if none.
    pub(crate) fn laps_completed(&self, driver: &str) -> u32 {
        self.last(driver).map_or(0, |(lap, _)| lap)
    }

    /// When `driver` completed its last lap.
    pub(crate) fn last_ts(&self, driver: &str) -> Option<i64> {
        self.last(driver).map(|(_, ts)| ts)
    }

    fn last(&self, driver: &str) -> Option<(u32, i64)> {
        self.cars.get(driver)?.last().copied()
    }

    /// When the leader (the first car to get there) completed `lap`.
    pub(crate) fn leader_ts(&self, lap: u32) -> Option<i64> {
        self.leader.get(&lap).copied()
    }

    /// Leader laps in order, with their times.
    pub(crate) fn leader_laps(&self) -> impl Iterator<Item = (u32, i64)> + '_ {
        self.leader.iter().map(|(lap, ts)| (*lap, *ts))
    }

    /// The race distance as the data shows it: the most laps any car completed.
    pub(crate) fn scheduled_laps(&self) -> u32 {
        self.leader.last_key_value().map_or(0, |(lap, _)| *lap)
    }
}
