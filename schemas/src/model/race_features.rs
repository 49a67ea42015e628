//! The race position model: a car's expected finishing position from what
//! the timing screen shows live.

use serde::{Deserialize, Serialize};

use super::{LinearModel, RegressionMetrics, TrainingInfo};

/// What the speed layer knows about one car right after it completed a lap.
///
/// Every field is live state of `stream-processor`'s race operator (its `Car`
/// and the race's `race_start`), defined as there: positions and gaps compare
/// race times at equal laps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaceCarState {
    /// Grid position from `race_start`; `None` for a pit-lane start.
    pub grid_position: Option<u32>,
    /// Cars on the `race_start` grid.
    pub field_size: u32,
    /// Running position at the car's last completed lap (1 + the cars that
    /// completed that lap in less race time).
    pub position: u32,
    /// Laps the car has completed.
    pub lap: u32,
    /// `race_start.scheduled_laps`.
    pub scheduled_laps: u32,
    /// Race time behind the leader at the car's last completed lap, ms.
    pub gap_to_leader_ms: Option<i64>,
    /// Pit stops so far.
    pub pit_stops: u32,
}

/// Names of [`race_features`]' values, in order.
pub const RACE_FEATURES: [&str; 8] = [
    // Grid position; a pit-lane start counts as the back of the grid.
    "grid",
    // Running position.
    "position",
    // lap / scheduled_laps, capped at 1: how far the race has gone.
    "progress",
    // position * progress and grid * progress: the live evidence's weight
    // grows as the race goes on (the blended prediction), and a linear model
    // can only learn that through these interactions. (Adding progress²
    // terms was tried: hold-out MAE 2.226 instead of 2.228, not worth it.)
    "position_x_progress",
    "grid_x_progress",
    // Gap to the leader in seconds, capped at 300 (red flags, laps down).
    "gap_to_leader_s",
    // Pit stops so far.
    "pit_stops",
    // Cars on the grid: positions are relative to it.
    "field_size",
];

/// Gaps beyond this (s) carry no more information about the order.
const MAX_GAP_S: f64 = 300.0;

/// Raw feature values of one car's state, in [`RACE_FEATURES`] order.
pub fn race_features(s: &RaceCarState) -> [f64; RACE_FEATURES.len()] {
    let field = f64::from(s.field_size);
    let grid = s.grid_position.map_or(field, f64::from);
    let position = f64::from(s.position);
    let progress = if s.scheduled_laps == 0 {
        0.0
    } else {
        (f64::from(s.lap) / f64::from(s.scheduled_laps)).min(1.0)
    };
    let gap = s
        .gap_to_leader_ms
        .map_or(0.0, |g| (g as f64 / 1000.0).clamp(0.0, MAX_GAP_S));
    [
        grid,
        position,
        progress,
        position * progress,
        grid * progress,
        gap,
        f64::from(s.pit_stops),
        field,
    ]
}

/// Linear regression of the finishing position (classification order,
/// unclassified cars after the classified ones) on [`race_features`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RacePositionModel {
    /// Standardisation and fitted weights.
    pub linear: LinearModel,
    /// Provenance and split.
    pub training: TrainingInfo,
    /// Hold-out errors next to the grid and current-position baselines.
    pub metrics: RegressionMetrics,
}

impl RacePositionModel {
    /// Expected finishing position, clamped to `[1, field_size]` (a position
    /// outside the field is never right).
    pub fn predict(&self, s: &RaceCarState) -> f64 {
        let raw = self.linear.decision(&race_features(s));
        raw.clamp(1.0, f64::from(s.field_size.max(1)))
    }
}
