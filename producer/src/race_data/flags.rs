//! Flag states guessed from lap times. Neither data set records flags, so these
//! are heuristics: a suspended race shows as laps of many minutes (or, in the FIA
//! chart, as a missing lap), a safety car as a whole field lapping slowly.

use std::collections::BTreeMap;

use schemas::race::{Flag, FlagChange, LapCompleted};

use super::timeline::Timeline;

/// A leader lap whose median lap time exceeds this means the race was stopped.
const RED_MEDIAN_MS: i64 = 5 * 60 * 1000;
/// Safety car when a lap's median is at least `NUM / DEN` (1.25) times the
/// race's median lap time; integer arithmetic keeps the threshold exact.
const SC_NUM: i64 = 5;
const SC_DEN: i64 = 4;

/// The median, averaging the middle pair (integer ms); `None` when empty.
fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2
    } else {
        values[mid]
    })
}

/// The flag changes of one race, timed at the leader's crossing of each lap L:
/// red if the median lap time of the cars on lap L exceeds 5 minutes or the source
/// marks a suspension after L, safety car if it is ≥ 1.25 × the race median,
/// else green. The race starts green; only changes are emitted.
pub(crate) fn flag_changes(
    race_id: &str,
    start_ms: i64,
    laps: &[LapCompleted],
    timeline: &Timeline,
    suspended_after: &[u32],
) -> Vec<FlagChange> {
    let mut by_lap: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    for lap in laps {
        by_lap.entry(lap.lap).or_default().push(lap.lap_time_ms);
    }
    let mut all: Vec<i64> = laps.iter().map(|l| l.lap_time_ms).collect();
    let Some(race_median) = median(&mut all) else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    let mut current = Flag::Green;
    let mut set = |flag: Flag, lap: u32, ts: i64, changes: &mut Vec<FlagChange>| {
        if flag != current {
            current = flag;
            changes.push(FlagChange {
                race_id: race_id.to_owned(),
                ts,
                lap,
                flag,
            });
        }
    };
    // A suspension before anyone completed a lap: red from the start.
    if suspended_after.contains(&0) {
        set(Flag::Red, 0, start_ms, &mut changes);
    }
    for (lap, ts) in timeline.leader_laps() {
        let lap_median = by_lap
            .get_mut(&lap)
            .and_then(|times| median(times))
            .unwrap_or(0);
        let flag = if lap_median > RED_MEDIAN_MS || suspended_after.contains(&lap) {
            Flag::Red
        } else if lap_median * SC_DEN >= race_median * SC_NUM {
            Flag::SafetyCar
        } else {
            Flag::Green
        };
        set(flag, lap, ts, &mut changes);
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3, 1, 2]), Some(2));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
    }
}
