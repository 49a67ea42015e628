//! One race's events from its normalized rows: the event rules of the module
//! doc, applied identically to both data sets.

use schemas::Limits;
use schemas::race::{EVENT_TYPES, GridSlot, LapCompleted, PitIn, PitOut, RaceEvent, RaceStart};

use super::finish::{race_finish, retirements};
use super::flags::flag_changes;
use super::load::RaceRecording;
use super::model::{Lap, NormalizedRace, RaceInfo, Stop};
use super::timeline::Timeline;

/// Longest lap or pit stop accepted, ms: `schemas::race`'s bound (a 4 h race).
const MAX_LAP_MS: i64 = 4 * 3600 * 1000;
/// Highest lap or position accepted: `schemas::race`'s bound.
const MAX_COUNT: u32 = 1_000;

/// Builds every event of `race`, sorted; rows that cannot make a valid event are
/// left out and described in `skipped`.
pub(crate) fn assemble(race: NormalizedRace) -> RaceRecording {
    let mut skipped = Vec::new();
    let info = race.info;
    let race_id = info.race_id.clone();
    let laps = lap_events(&info, race.laps, &race.lap_file, &mut skipped);
    let timeline = Timeline::new(&laps);
    let mut events = Vec::with_capacity(laps.len() + 2 * race.stops.len() + 64);
    events.extend(pit_events(
        &race_id,
        race.stops,
        &timeline,
        &race.stop_file,
        &mut skipped,
    ));
    let flags = flag_changes(
        &race_id,
        info.start_ms,
        &laps,
        &timeline,
        &race.suspended_after,
    );
    events.extend(flags.into_iter().map(RaceEvent::Flag));
    let retired = retirements(&race_id, info.start_ms, &race.results, &timeline);
    events.extend(retired.into_iter().map(RaceEvent::Retirement));
    let finish = race_finish(&race_id, info.start_ms, race.results, &timeline);
    events.push(RaceEvent::RaceFinish(finish));
    events.extend(laps.into_iter().map(RaceEvent::LapCompleted));
    events.push(RaceEvent::RaceStart(race_start(
        info,
        race.grid,
        timeline.scheduled_laps(),
    )));
    let limits = Limits::default();
    events.retain(|event| match event.validate(&limits) {
        Ok(()) => true,
        Err(err) => {
            let kind = event.type_name();
            skipped.push(format!(
                "{race_id}: {kind} at ts {} is invalid ({err}); left out",
                event.ts()
            ));
            false
        }
    });
    events.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    RaceRecording {
        race_id,
        events,
        skipped,
    }
}

/// Feed order: time, then the fixed type order of [`EVENT_TYPES`], then running
/// position, driver and lap, so that equal inputs always give equal feeds.
fn sort_key(event: &RaceEvent) -> (i64, usize, u32, &str, u32) {
    let rank = EVENT_TYPES
        .iter()
        .position(|t| *t == event.type_name())
        .unwrap_or(usize::MAX);
    let (position, driver, lap) = match event {
        RaceEvent::LapCompleted(e) => (e.position, e.driver_id.as_str(), e.lap),
        RaceEvent::PitIn(e) => (0, e.driver_id.as_str(), e.lap),
        RaceEvent::PitOut(e) => (0, e.driver_id.as_str(), e.lap),
        RaceEvent::Retirement(e) => (0, e.driver_id.as_str(), e.lap),
        RaceEvent::Flag(e) => (0, "", e.lap),
        RaceEvent::RaceStart(_) | RaceEvent::RaceFinish(_) => (0, "", 0),
    };
    (event.ts(), rank, position, driver, lap)
}

/// Lights out at the nominal start; the grid in grid order, pit-lane starters last.
fn race_start(info: RaceInfo, mut grid: Vec<GridSlot>, scheduled_laps: u32) -> RaceStart {
    grid.sort_by_key(|slot| (slot.grid_position.is_none(), slot.grid_position));
    RaceStart {
        race_id: info.race_id,
        ts: info.start_ms,
        season: info.season,
        round: info.round,
        name: info.name,
        date: info.date,
        circuit: info.circuit,
        scheduled_laps,
        grid,
    }
}

/// Why a lap row cannot become a valid `LapCompleted`, if it cannot.
fn lap_problem(lap: &Lap) -> Option<String> {
    if !(1..=MAX_COUNT).contains(&lap.lap) {
        Some(format!("lap number {} is outside 1..={MAX_COUNT}", lap.lap))
    } else if !(1..=MAX_COUNT).contains(&lap.position) {
        Some(format!(
            "position {} is outside 1..={MAX_COUNT}",
            lap.position
        ))
    } else if !(1..=MAX_LAP_MS).contains(&lap.lap_time_ms) {
        Some(format!(
            "lap time {} ms is outside 1..={MAX_LAP_MS}",
            lap.lap_time_ms
        ))
    } else {
        None
    }
}

/// `LapCompleted` per usable row; race time is the running sum of the car's lap
/// times in lap order, whatever order the rows came in.
fn lap_events(
    info: &RaceInfo,
    mut laps: Vec<Lap>,
    file: &str,
    skipped: &mut Vec<String>,
) -> Vec<LapCompleted> {
    laps.sort_by(|a, b| (a.driver_id.as_str(), a.lap).cmp(&(b.driver_id.as_str(), b.lap)));
    let mut out: Vec<LapCompleted> = Vec::with_capacity(laps.len());
    let mut race_time_ms = 0;
    for lap in laps {
        if let Some(problem) = lap_problem(&lap) {
            skipped.push(format!("{file}:{}: {problem}; lap left out", lap.line));
            continue;
        }
        match out.last() {
            Some(prev) if prev.driver_id == lap.driver_id && prev.lap == lap.lap => {
                let reason = format!(
                    "lap {} of {} repeats an earlier row",
                    lap.lap, lap.driver_id
                );
                skipped.push(format!("{file}:{}: {reason}; lap left out", lap.line));
                continue;
            }
            Some(prev) if prev.driver_id == lap.driver_id => {}
            _ => race_time_ms = 0,
        }
        race_time_ms += lap.lap_time_ms;
        out.push(LapCompleted {
            race_id: info.race_id.clone(),
            ts: info.start_ms + race_time_ms,
            driver_id: lap.driver_id,
            lap: lap.lap,
            position: lap.position,
            lap_time_ms: lap.lap_time_ms,
            race_time_ms,
        });
    }
    out
}

/// `PitIn` at the car's crossing at the end of the stop's lap, `PitOut` after the
/// measured duration (at the same moment when there is no measurement).
fn pit_events(
    race_id: &str,
    stops: Vec<Stop>,
    timeline: &Timeline,
    file: &str,
    skipped: &mut Vec<String>,
) -> Vec<RaceEvent> {
    let mut events = Vec::with_capacity(2 * stops.len());
    for stop in stops {
        let what = format!(
            "stop {} of {} on lap {}",
            stop.stop, stop.driver_id, stop.lap
        );
        let Some(ts) = timeline.lap_ts(&stop.driver_id, stop.lap) else {
            skipped.push(format!(
                "{file}:{}: {what}: no such lap in the lap data; left out",
                stop.line
            ));
            continue;
        };
        if stop
            .duration_ms
            .is_some_and(|d| !(0..=MAX_LAP_MS).contains(&d))
        {
            skipped.push(format!(
                "{file}:{}: {what}: duration outside 0..={MAX_LAP_MS} ms; left out",
                stop.line
            ));
            continue;
        }
        events.push(RaceEvent::PitIn(PitIn {
            race_id: race_id.to_owned(),
            ts,
            driver_id: stop.driver_id.clone(),
            lap: stop.lap,
            stop: stop.stop,
        }));
        events.push(RaceEvent::PitOut(PitOut {
            race_id: race_id.to_owned(),
            ts: ts + stop.duration_ms.unwrap_or(0),
            driver_id: stop.driver_id,
            lap: stop.lap,
            stop: stop.stop,
            duration_ms: stop.duration_ms,
        }));
    }
    events
}
