//! The race timing feed: billabong's own format, derived from real lap data
//! (`shared/data/race/`). See `schemas/README.md` for the full contract.
//!
//! One JSON object per message, tagged by `type`. Every event carries the
//! `race_id` it belongs to and `ts`, its event time in ms since the Unix epoch.
//! Optional fields are left out when unknown, never `null` (a `null` is
//! `wrong_type`).

use serde::{Deserialize, Serialize};

use crate::decode::{Limits, check_range, decode, present};
use crate::error::{ErrorKind, Result, ValidationError};

/// One message of the race feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RaceEvent {
    /// Lights out: who starts where.
    RaceStart(RaceStart),
    /// A car crossed the line, completing a lap.
    LapCompleted(LapCompleted),
    /// A car entered the pit lane at the end of a lap.
    PitIn(PitIn),
    /// A car left the pit lane.
    PitOut(PitOut),
    /// The race's flag state changed.
    Flag(FlagChange),
    /// A car stopped taking part before the finish.
    Retirement(Retirement),
    /// The chequered flag and the classification.
    RaceFinish(RaceFinish),
}

/// Lights out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceStart {
    /// Race id, unique across data sets (`"fia-2021-01"`).
    pub race_id: String,
    /// Event time, ms since the Unix epoch.
    pub ts: i64,
    /// Championship year.
    pub season: i32,
    /// Round within the season, from 1.
    pub round: i32,
    /// Grand prix name.
    pub name: String,
    /// Race day, `YYYY-MM-DD`.
    pub date: String,
    /// The circuit.
    pub circuit: Circuit,
    /// Laps the winner will complete (the scheduled distance a live feed knows).
    pub scheduled_laps: u32,
    /// Starting grid, in grid order; pit-lane starters last.
    pub grid: Vec<GridSlot>,
}

/// A circuit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Circuit {
    /// The data set's circuit key (text or a number as text).
    pub circuit_id: String,
    /// Full name, where the data set has one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub name: Option<String>,
    /// Country, where known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub country: Option<String>,
}

/// One car on the starting grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSlot {
    /// Driver key of the data set (`"max_verstappen"`, `"hamilton"`).
    pub driver_id: String,
    /// Full name.
    pub driver_name: String,
    /// Three-letter code, where known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub driver_code: Option<String>,
    /// Car number, where known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub car_number: Option<u32>,
    /// Team key.
    pub constructor_id: String,
    /// Team name, where known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub constructor_name: Option<String>,
    /// Grid position from 1; absent for a pit-lane start.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub grid_position: Option<u32>,
}

/// A car crossed the line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LapCompleted {
    /// Race id.
    pub race_id: String,
    /// Event time: race start + `race_time_ms`.
    pub ts: i64,
    /// Driver key.
    pub driver_id: String,
    /// The lap just completed, from 1.
    pub lap: u32,
    /// Running position at the line, from 1.
    pub position: u32,
    /// Time of this lap, ms.
    pub lap_time_ms: i64,
    /// Elapsed race time of this car at the line (sum of its lap times), ms.
    pub race_time_ms: i64,
}

/// A car entered the pit lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PitIn {
    /// Race id.
    pub race_id: String,
    /// Event time.
    pub ts: i64,
    /// Driver key.
    pub driver_id: String,
    /// The lap at whose end the car pitted.
    pub lap: u32,
    /// The car's stop count, from 1.
    pub stop: u32,
}

/// A car left the pit lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PitOut {
    /// Race id.
    pub race_id: String,
    /// Event time.
    pub ts: i64,
    /// Driver key.
    pub driver_id: String,
    /// The lap at whose end the car pitted.
    pub lap: u32,
    /// The car's stop count, from 1.
    pub stop: u32,
    /// Time in the pit lane, ms, where the data set measured it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub duration_ms: Option<i64>,
}

/// A flag state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Racing resumed.
    Green,
    /// Neutralised: safety car or virtual safety car (derived from lap times).
    SafetyCar,
    /// Race suspended (derived from lap times).
    Red,
}

impl Flag {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Green => "green",
            Flag::SafetyCar => "safety_car",
            Flag::Red => "red",
        }
    }
}

/// The race's flag state changed, as of the leader completing `lap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagChange {
    /// Race id.
    pub race_id: String,
    /// Event time.
    pub ts: i64,
    /// Leader's lap at which the state was observed.
    pub lap: u32,
    /// The new state.
    pub flag: Flag,
}

/// A car stopped racing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retirement {
    /// Race id.
    pub race_id: String,
    /// Event time.
    pub ts: i64,
    /// Driver key.
    pub driver_id: String,
    /// Laps the car completed.
    pub lap: u32,
    /// Reason as the data set gives it (`"DNF"`, `"R"`, `"D"`...).
    pub status: String,
}

/// The chequered flag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RaceFinish {
    /// Race id.
    pub race_id: String,
    /// Event time: when the winner crossed the line.
    pub ts: i64,
    /// Classification, in finishing order; unclassified cars last.
    pub results: Vec<ResultRow>,
}

/// One line of the classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Driver key.
    pub driver_id: String,
    /// Classified position; absent when not classified.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub position: Option<u32>,
    /// Status text of the data set (`"Finish"`, `"+1 LAP"`, `"DNF"`, `"R"`...).
    pub status: String,
    /// Laps completed.
    pub laps: u32,
    /// Championship points, where known.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub points: Option<f64>,
}

/// Every value of the `type` tag.
pub const EVENT_TYPES: [&str; 7] = [
    "race_start",
    "lap_completed",
    "pit_in",
    "pit_out",
    "flag",
    "retirement",
    "race_finish",
];

/// The first decoding pass: only the tag.
#[derive(Deserialize)]
struct TypeTag {
    #[serde(rename = "type")]
    kind: String,
}

/// A lap longer than this is a data error even under a red flag (4 h race limit).
const MAX_LAP_MS: i64 = 4 * 3600 * 1000;
/// Generous upper bound for laps, positions, stops and grid slots.
const MAX_COUNT: u32 = 1_000;

impl RaceEvent {
    /// Decodes and validates one message of the race feed.
    ///
    /// Decoding reads the `type` tag first and then the variant's own struct, so
    /// that error paths point into the variant (`$.grid[3].driver_id`), which
    /// serde's buffered internally-tagged decoding cannot do.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self> {
        let tag: TypeTag = decode(bytes, limits)?;
        let event = match tag.kind.as_str() {
            "race_start" => RaceEvent::RaceStart(decode(bytes, limits)?),
            "lap_completed" => RaceEvent::LapCompleted(decode(bytes, limits)?),
            "pit_in" => RaceEvent::PitIn(decode(bytes, limits)?),
            "pit_out" => RaceEvent::PitOut(decode(bytes, limits)?),
            "flag" => RaceEvent::Flag(decode(bytes, limits)?),
            "retirement" => RaceEvent::Retirement(decode(bytes, limits)?),
            "race_finish" => RaceEvent::RaceFinish(decode(bytes, limits)?),
            other => {
                return Err(ValidationError::new(
                    ErrorKind::InvalidValue,
                    "type",
                    format!("unknown race event type {other:?}, expected one of {EVENT_TYPES:?}"),
                ));
            }
        };
        event.validate(limits)?;
        Ok(event)
    }

    /// The race this event belongs to.
    pub fn race_id(&self) -> &str {
        match self {
            RaceEvent::RaceStart(e) => &e.race_id,
            RaceEvent::LapCompleted(e) => &e.race_id,
            RaceEvent::PitIn(e) => &e.race_id,
            RaceEvent::PitOut(e) => &e.race_id,
            RaceEvent::Flag(e) => &e.race_id,
            RaceEvent::Retirement(e) => &e.race_id,
            RaceEvent::RaceFinish(e) => &e.race_id,
        }
    }

    /// Event time, ms since the Unix epoch.
    pub fn ts(&self) -> i64 {
        match self {
            RaceEvent::RaceStart(e) => e.ts,
            RaceEvent::LapCompleted(e) => e.ts,
            RaceEvent::PitIn(e) => e.ts,
            RaceEvent::PitOut(e) => e.ts,
            RaceEvent::Flag(e) => e.ts,
            RaceEvent::Retirement(e) => e.ts,
            RaceEvent::RaceFinish(e) => e.ts,
        }
    }

    /// The wire value of `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            RaceEvent::RaceStart(_) => "race_start",
            RaceEvent::LapCompleted(_) => "lap_completed",
            RaceEvent::PitIn(_) => "pit_in",
            RaceEvent::PitOut(_) => "pit_out",
            RaceEvent::Flag(_) => "flag",
            RaceEvent::Retirement(_) => "retirement",
            RaceEvent::RaceFinish(_) => "race_finish",
        }
    }

    /// The Kafka key: the race id. A whole race shares one partition so that the
    /// speed layer sees every car of a race in feed order (running order and gaps
    /// need a total order across cars; see ARCHITECTURE.md).
    pub fn key(&self) -> &str {
        self.race_id()
    }

    /// Checks value ranges that the JSON types alone cannot express.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        if self.race_id().is_empty() {
            return Err(ValidationError::new(
                ErrorKind::InvalidValue,
                "race_id",
                "race id is empty",
            ));
        }
        limits.check_time("ts", self.ts())?;
        match self {
            RaceEvent::RaceStart(e) => {
                check_range("round", e.round, 1, 100)?;
                check_range("season", e.season, 1950, 2100)?;
                check_range("scheduled_laps", e.scheduled_laps, 0, MAX_COUNT)?;
                for (i, slot) in e.grid.iter().enumerate() {
                    if let Some(p) = slot.grid_position {
                        check_range(&format!("grid[{i}].grid_position"), p, 1, MAX_COUNT)?;
                    }
                }
            }
            RaceEvent::LapCompleted(e) => {
                check_range("lap", e.lap, 1, MAX_COUNT)?;
                check_range("position", e.position, 1, MAX_COUNT)?;
                check_range("lap_time_ms", e.lap_time_ms, 1, MAX_LAP_MS)?;
                check_range("race_time_ms", e.race_time_ms, e.lap_time_ms, i64::MAX)?;
            }
            RaceEvent::PitIn(e) => {
                check_range("lap", e.lap, 0, MAX_COUNT)?;
                check_range("stop", e.stop, 1, MAX_COUNT)?;
            }
            RaceEvent::PitOut(e) => {
                check_range("lap", e.lap, 0, MAX_COUNT)?;
                check_range("stop", e.stop, 1, MAX_COUNT)?;
                if let Some(d) = e.duration_ms {
                    check_range("duration_ms", d, 0, MAX_LAP_MS)?;
                }
            }
            RaceEvent::Flag(e) => check_range("lap", e.lap, 0, MAX_COUNT)?,
            RaceEvent::Retirement(e) => check_range("lap", e.lap, 0, MAX_COUNT)?,
            RaceEvent::RaceFinish(e) => {
                for (i, row) in e.results.iter().enumerate() {
                    if let Some(p) = row.position {
                        check_range(&format!("results[{i}].position"), p, 1, MAX_COUNT)?;
                    }
                    check_range(&format!("results[{i}].laps"), row.laps, 0, MAX_COUNT)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAP: &str = r#"{"type":"lap_completed","race_id":"fia-2021-01","ts":1616936400000,"driver_id":"max_verstappen","lap":1,"position":1,"lap_time_ms":118245,"race_time_ms":118245}"#;

    fn parse(s: &str) -> Result<RaceEvent> {
        RaceEvent::parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn lap_round_trip() {
        let e = parse(LAP).expect("valid");
        assert_eq!(e.type_name(), "lap_completed");
        assert_eq!(e.key(), "fia-2021-01");
        let json = serde_json::to_string(&e).expect("serialises");
        assert_eq!(parse(&json).expect("valid"), e);
    }

    #[test]
    fn errors_are_precise() {
        let e = parse(&LAP.replace("\"lap\":1,", "\"lap\":0,")).expect_err("lap 0");
        assert_eq!((e.kind, e.path.as_str()), (ErrorKind::OutOfRange, "$.lap"));
        let e = parse(&LAP.replace("lap_completed", "lap_started")).expect_err("type");
        assert_eq!(e.kind, ErrorKind::InvalidValue);
        let e = parse(&LAP.replace("\"type\":\"lap_completed\",", "")).expect_err("no type");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::MissingField, "$.type")
        );
        let e = parse(&LAP.replace("118245,\"race", "-5,\"race")).expect_err("negative lap time");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::OutOfRange, "$.lap_time_ms")
        );
        let e = parse(&LAP.replace("\"position\":1", "\"position\":\"P1\"")).expect_err("type");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::WrongType, "$.position")
        );
    }
}
