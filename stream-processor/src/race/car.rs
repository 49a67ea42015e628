//! One car's timing state within a race.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// What the timing screen knows about a car.
#[derive(Debug, Clone, Default)]
pub(crate) struct Car {
    /// Grid position; `None` for a pit-lane start or an unknown car.
    pub(crate) grid: Option<u32>,
    /// Race time (ms) at the end of each completed lap.
    pub(crate) race_times: BTreeMap<u32, i64>,
    /// Lap time (ms) of each completed lap.
    pub(crate) lap_times: BTreeMap<u32, i64>,
    pub(crate) position: Option<u32>,
    pub(crate) gap_to_leader_ms: Option<i64>,
    pub(crate) gap_to_ahead_ms: Option<i64>,
    pub(crate) ahead: Option<String>,
    pub(crate) pit_stops: u32,
    pub(crate) last_pit_lap: Option<u32>,
    pub(crate) last_pit_ms: Option<i64>,
    pub(crate) status: Option<String>,
}

/// Laps in the rolling mean.
pub(crate) const ROLLING_LAPS: usize = 5;

impl Car {
    /// The last completed lap and its race time.
    pub(crate) fn last(&self) -> Option<(u32, i64)> {
        self.race_times.last_key_value().map(|(l, t)| (*l, *t))
    }

    /// Best lap as (lap, ms); the earlier lap wins a tie.
    pub(crate) fn best(&self) -> Option<(u32, i64)> {
        self.lap_times
            .iter()
            .min_by_key(|(lap, ms)| (**ms, **lap))
            .map(|(l, t)| (*l, *t))
    }

    /// Mean of the last (up to) five lap times, ms.
    pub(crate) fn rolling_mean_ms(&self) -> Option<f64> {
        let recent: Vec<i64> = self
            .lap_times
            .values()
            .rev()
            .take(ROLLING_LAPS)
            .copied()
            .collect();
        (!recent.is_empty()).then(|| recent.iter().sum::<i64>() as f64 / recent.len() as f64)
    }

    /// The `race_car` value.
    pub(crate) fn to_json(&self, race_id: &str, driver: &str) -> Value {
        let best = self.best();
        json!({
            "race_id": race_id,
            "driver": driver,
            "lap": self.last().map(|(l, _)| l),
            "position": self.position,
            "gap_to_leader_ms": self.gap_to_leader_ms,
            "gap_to_ahead_ms": self.gap_to_ahead_ms,
            "ahead": self.ahead,
            "last_lap_ms": self.lap_times.last_key_value().map(|(_, t)| *t),
            "best_lap_ms": best.map(|(_, t)| t),
            "best_lap": best.map(|(l, _)| l),
            "mean5_lap_ms": self.rolling_mean_ms(),
            "pit_stops": self.pit_stops,
            "last_pit_lap": self.last_pit_lap,
            "last_pit_ms": self.last_pit_ms,
            "status": self.status,
        })
    }
}
