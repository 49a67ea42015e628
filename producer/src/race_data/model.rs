//! One race in a data-set-independent shape: what the loaders produce and
//! [`super::assemble`] turns into events. Keeping the two apart means the event
//! rules (times, flags, retirements) exist once for both data sets.

use schemas::race::{Circuit, GridSlot};

/// Race-level facts for `RaceStart`.
#[derive(Debug, Clone)]
pub(crate) struct RaceInfo {
    /// `"{dataset}-{year}-{round:02}"`.
    pub(crate) race_id: String,
    /// Championship year.
    pub(crate) season: i32,
    /// Round within the season.
    pub(crate) round: i32,
    /// Grand prix name.
    pub(crate) name: String,
    /// `YYYY-MM-DD`.
    pub(crate) date: String,
    /// Nominal start: the date at 12:00 UTC, ms since the epoch.
    pub(crate) start_ms: i64,
    /// The circuit.
    pub(crate) circuit: Circuit,
}

/// One completed lap of one car.
#[derive(Debug, Clone)]
pub(crate) struct Lap {
    /// Driver key.
    pub(crate) driver_id: String,
    /// The car's own lap number, from 1.
    pub(crate) lap: u32,
    /// Running position at the line.
    pub(crate) position: u32,
    /// Lap time, ms.
    pub(crate) lap_time_ms: i64,
    /// Source line in the lap file, for skip reports.
    pub(crate) line: u64,
}

/// One pit stop.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    /// Driver key.
    pub(crate) driver_id: String,
    /// The lap at whose end the car entered the pit lane.
    pub(crate) lap: u32,
    /// The car's stop count, from 1.
    pub(crate) stop: u32,
    /// Time in the pit lane where measured (Ergast only).
    pub(crate) duration_ms: Option<i64>,
    /// Source line in the pit (or lap) file, for skip reports.
    pub(crate) line: u64,
}

/// How the `RaceFinish` status of a car is found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Status {
    /// The data set's own text, used as is.
    Text(String),
    /// Derived from laps behind the distance: `Finish`, `+1 LAP`, `+N LAPS`
    /// (Ergast, whose status table is not part of the recording).
    ByLapsDown,
}

/// One line of the classification, in the data set's finishing order.
#[derive(Debug, Clone)]
pub(crate) struct Classified {
    /// Driver key.
    pub(crate) driver_id: String,
    /// Classified position; `None` when not classified.
    pub(crate) position: Option<u32>,
    /// Status for `RaceFinish`.
    pub(crate) status: Status,
    /// `Some(reason)` when the car is not classified as finishing; the reason is
    /// the `Retirement` status.
    pub(crate) retired: Option<String>,
    /// Championship points where the data set has them.
    pub(crate) points: Option<f64>,
}

/// A whole race, ready to assemble.
#[derive(Debug, Clone)]
pub(crate) struct NormalizedRace {
    /// Race-level facts.
    pub(crate) info: RaceInfo,
    /// One slot per classified car, grid positions as given (unsorted).
    pub(crate) grid: Vec<GridSlot>,
    /// The classification in finishing order.
    pub(crate) results: Vec<Classified>,
    /// Every lap row, any order.
    pub(crate) laps: Vec<Lap>,
    /// Every pit stop, any order.
    pub(crate) stops: Vec<Stop>,
    /// Leader laps after which the source shows the race was suspended (FIA
    /// charts omit the lap that contains a red-flag stoppage).
    pub(crate) suspended_after: Vec<u32>,
    /// File name of the lap rows, for skip reports.
    pub(crate) lap_file: String,
    /// File name of the stops, for skip reports.
    pub(crate) stop_file: String,
}
