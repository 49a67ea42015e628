//! The FIA lap chart to laps: the scraped "History Chart" is organised by the
//! *leader's* laps, not by each car's, which shapes every rule here.
//!
//! - Column `lap` is the leader's lap. A car one lap down appears in column N
//!   with its own lap N-1, so a car's own lap number is the count of its rows.
//! - Rows of a column are in the order cars crossed the line, lapped cars
//!   interleaved with the lead-lap cars; running position sorts by laps down
//!   first (the `gap_to_leader` text), then by crossing order.
//! - The chart has no column for a lap that contains a red-flag stoppage; a
//!   column number missing from the race is read as a suspension.

use std::collections::{BTreeSet, HashMap};

use super::model::{Lap, Stop};

/// `gap_to_leader` of one chart row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gap {
    /// On the lead lap (a gap in seconds).
    LeadLap,
    /// `"1 LAP"`, `"2 LAPS"`...
    LapsDown(u32),
    /// `"PIT"`: the car entered the pit lane at the end of this lap.
    Pit,
}

/// One row of the FIA lap chart.
#[derive(Debug, Clone)]
pub(crate) struct ChartRow {
    /// Line in the lap file.
    pub(crate) line: u64,
    /// Chart column: the leader's lap.
    pub(crate) column: u32,
    /// Driver key.
    pub(crate) driver_id: String,
    /// Lap time, ms.
    pub(crate) lap_time_ms: i64,
    /// The gap text, classified.
    pub(crate) gap: Gap,
}

/// The laps, stops and suspensions of one race's chart.
#[derive(Debug, Default)]
pub(crate) struct ChartLaps {
    /// One lap per chart row.
    pub(crate) laps: Vec<Lap>,
    /// One stop per `PIT` row.
    pub(crate) stops: Vec<Stop>,
    /// Leader laps (own-lap count of the leader) after which a column is missing.
    pub(crate) suspended_after: Vec<u32>,
}

/// Parses `m:ss.sss` (also `ss.sss`, 1 to 3 decimals) into ms, exactly.
pub(crate) fn parse_lap_time(text: &str) -> Option<i64> {
    let (minutes, seconds) = match text.split_once(':') {
        Some((m, s)) => (parse_digits(m)?, s),
        None => (0, text),
    };
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole = parse_digits(whole)?;
    if (whole >= 60 && text.contains(':')) || fraction.len() > 3 {
        return None;
    }
    let millis = if fraction.is_empty() {
        0
    } else {
        parse_digits(fraction)? * 10_i64.pow(3 - fraction.len() as u32)
    };
    Some((minutes * 60 + whole) * 1000 + millis)
}

/// A non-empty run of ASCII digits, at most 9 of them (no sign, no overflow).
fn parse_digits(text: &str) -> Option<i64> {
    let ok = !text.is_empty() && text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse().ok())?
}

/// Classifies a `gap_to_leader` field: seconds, `N LAP(S)` or `PIT`.
pub(crate) fn parse_gap(text: &str) -> Option<Gap> {
    if text == "PIT" {
        return Some(Gap::Pit);
    }
    if let Some(count) = text
        .strip_suffix(" LAPS")
        .or_else(|| text.strip_suffix(" LAP"))
    {
        let n = parse_digits(count)?;
        return u32::try_from(n).ok().map(Gap::LapsDown);
    }
    let seconds: f64 = text.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then_some(Gap::LeadLap)
}

/// Per-car state while walking the chart in column order.
#[derive(Default)]
struct Car {
    laps: u32,
    laps_down: u32,
    stops: u32,
}

/// Turns one race's chart rows (any order) into laps with own lap numbers and
/// running positions, `PIT` rows into stops, and missing columns into suspensions.
pub(crate) fn normalize(mut rows: Vec<ChartRow>) -> ChartLaps {
    // Stable: keeps the crossing order within a column.
    rows.sort_by_key(|row| row.column);
    let mut cars: HashMap<String, Car> = HashMap::new();
    let mut out = ChartLaps::default();
    let mut start = 0;
    while start < rows.len() {
        let column = rows[start].column;
        let end = start + rows[start..].partition_point(|row| row.column == column);
        let mut ranked: Vec<(u32, usize, Lap)> = Vec::with_capacity(end - start);
        for (index, row) in rows[start..end].iter().enumerate() {
            let car = cars.entry(row.driver_id.clone()).or_default();
            car.laps += 1;
            match row.gap {
                Gap::LeadLap => car.laps_down = 0,
                Gap::LapsDown(n) => car.laps_down = n,
                Gap::Pit => {
                    car.stops += 1;
                    out.stops.push(Stop {
                        driver_id: row.driver_id.clone(),
                        lap: car.laps,
                        stop: car.stops,
                        duration_ms: None,
                        line: row.line,
                    });
                }
            }
            let lap = Lap {
                driver_id: row.driver_id.clone(),
                lap: car.laps,
                position: 0,
                lap_time_ms: row.lap_time_ms,
                line: row.line,
            };
            ranked.push((car.laps_down, index, lap));
        }
        ranked.sort_by_key(|(down, index, _)| (*down, *index));
        for (position, (_, _, mut lap)) in (1..).zip(ranked) {
            lap.position = position;
            out.laps.push(lap);
        }
        start = end;
    }
    out.suspended_after = suspensions(rows.iter().map(|row| row.column).collect());
    out
}

/// For each column number missing below the last column, the number of columns
/// before it: the leader's own lap count when the race was suspended.
fn suspensions(columns: BTreeSet<u32>) -> Vec<u32> {
    let Some(&last) = columns.last() else {
        return Vec::new();
    };
    let mut after = Vec::new();
    let mut present = 0;
    for column in 1..=last {
        if columns.contains(&column) {
            present += 1;
        } else if after.last() != Some(&present) {
            after.push(present);
        }
    }
    after
}
