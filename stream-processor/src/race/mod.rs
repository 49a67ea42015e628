//! Race metrics, per race (a race is one Kafka key, so one partition holds
//! all of it, in feed order):
//!
//! - `race_car`: per car — position, gap to the leader and to the car ahead,
//!   last / best / rolling mean of 5 lap times, pit stops, status. Positions
//!   and gaps compare race times *at equal laps*: a car's position at lap L
//!   is 1 + the cars that completed lap L in less race time, its gap to the
//!   leader is its race time at L minus the leader's at L, and its gap to the
//!   car ahead is the difference to the car just before it at lap L.
//! - `race_order`: the running order, by laps completed (desc), then race
//!   time at the last lap (asc); cars without a lap follow in grid order.
//! - `race_pass` (event): X passed Y on lap L when Y was ahead at lap L − 1
//!   (or on the grid, for lap 1) and X is ahead at lap L; found when the
//!   second of the two completes lap L.
//! - `race_pit` (event) per stop, `race_fastest` (fastest lap so far),
//!   `race_flag`, `race_finish` (event).
//! - `race_clumpiness`: how bunched the front of the field is. At each lap L,
//!   once the first N cars (N = `clump_cars`, or the whole grid if smaller)
//!   have completed it, take the N−1 gaps between consecutive cars:
//!   `clumpiness` = the share of those gaps below `clump_gap_ms` (1 s: DRS
//!   range), 0 = strung out, 1 = one train; published with the spread
//!   (first to N-th), mean gap and the gaps' standard deviation.
//! - `race_prediction`: per car after each of its laps, the blended
//!   finishing-position prediction and its weight (`prediction.rs`).

mod car;
mod prediction;

use std::collections::BTreeMap;

use schemas::RaceEvent;
use schemas::race::LapCompleted;
use serde_json::json;

use crate::config::OperatorConfig;
use crate::update::Update;
use crate::window::EventClock;
use car::Car;

#[derive(Debug, Default)]
struct Race {
    first_ts: i64,
    /// From `race_start`; 0 when the race's start was not seen.
    scheduled_laps: u32,
    /// Cars on the `race_start` grid.
    field_size: u32,
    cars: BTreeMap<String, Car>,
    /// Per lap, (race time, driver) of the cars that completed it, sorted.
    crossed: BTreeMap<u32, Vec<(i64, String)>>,
    fastest: Option<(i64, u32, String)>,
    /// Event time of the chequered flag.
    finished_at: Option<i64>,
}

/// How long a finished race's state is kept: cars still complete their last
/// lap after the leader's chequered flag.
const FINISHED_RACE_LINGER_MS: i64 = 10 * 60_000;

/// The race operator of one partition: pure, synchronous, deterministic.
pub(crate) struct RaceOperator {
    clump_cars: usize,
    clump_gap_ms: i64,
    clock: EventClock,
    races: BTreeMap<String, Race>,
}

/// What processing one event asks of the pipeline besides publishing.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RaceOutcome {
    /// Races finished long enough ago to be final: their keys can go.
    pub(crate) finished: Vec<String>,
    /// A lap repeated or a car unknown: the event changed nothing.
    pub(crate) ignored: bool,
}

impl RaceOperator {
    pub(crate) fn new(config: &OperatorConfig) -> Self {
        RaceOperator {
            clump_cars: config.clump_cars,
            clump_gap_ms: config.clump_gap_ms,
            clock: EventClock::new(0),
            races: BTreeMap::new(),
        }
    }

    pub(crate) fn clock(&self) -> &EventClock {
        &self.clock
    }

    /// Folds one event in; changed values and events are appended to `out`.
    pub(crate) fn process(&mut self, event: &RaceEvent, out: &mut Vec<Update>) -> RaceOutcome {
        let ts = event.ts();
        self.clock.observe(ts);
        let race_id = event.race_id().to_owned();
        if let RaceEvent::RaceStart(start) = event {
            // A replayed race (a looping feed) starts over.
            let mut race = Race {
                first_ts: ts,
                scheduled_laps: start.scheduled_laps,
                field_size: u32::try_from(start.grid.len()).unwrap_or(u32::MAX),
                ..Race::default()
            };
            for slot in &start.grid {
                let car = Car {
                    grid: slot.grid_position,
                    ..Car::default()
                };
                race.cars.insert(slot.driver_id.clone(), car);
            }
            self.races.insert(race_id.clone(), race);
        }
        let race = self.races.entry(race_id.clone()).or_insert_with(|| Race {
            first_ts: ts,
            ..Race::default()
        });
        let range = (race.first_ts.min(ts), ts);
        let mut outcome = RaceOutcome::default();
        match event {
            RaceEvent::RaceStart(_) => out.push(order_update(&race_id, race, range)),
            RaceEvent::LapCompleted(lap) => {
                if !race.lap_completed(lap, range, self.clump_cars, self.clump_gap_ms, out) {
                    outcome.ignored = true;
                }
            }
            RaceEvent::PitIn(pit) => {
                let car = race.cars.entry(pit.driver_id.clone()).or_default();
                car.pit_stops = car.pit_stops.max(pit.stop);
                car.last_pit_lap = Some(pit.lap);
                out.push(Update::event(
                    format!("race/{race_id}/pit/{}/{}", pit.driver_id, pit.stop),
                    "race_pit",
                    range,
                    json!({"race_id": race_id, "driver": pit.driver_id, "lap": pit.lap, "stop": pit.stop}),
                ));
                out.push(car_update(&race_id, &pit.driver_id, car, range));
            }
            RaceEvent::PitOut(pit) => {
                let car = race.cars.entry(pit.driver_id.clone()).or_default();
                car.last_pit_ms = pit.duration_ms;
                out.push(car_update(&race_id, &pit.driver_id, car, range));
            }
            RaceEvent::Flag(flag) => out.push(Update::value(
                format!("race/{race_id}/flag"),
                "race_flag",
                range,
                json!({"race_id": race_id, "lap": flag.lap, "flag": flag.flag.as_str()}),
            )),
            RaceEvent::Retirement(retired) => {
                let car = race.cars.entry(retired.driver_id.clone()).or_default();
                car.status = Some(retired.status.clone());
                out.push(car_update(&race_id, &retired.driver_id, car, range));
            }
            RaceEvent::RaceFinish(finish) => {
                out.push(Update::event(
                    format!("race/{race_id}/finish"),
                    "race_finish",
                    range,
                    json!({"race_id": race_id, "classified": finish.results.len(),
                           "winner": finish.results.iter().find(|r| r.position == Some(1)).map(|r| &r.driver_id)}),
                ));
                race.finished_at = Some(ts);
            }
        }
        let clock = self.clock.now();
        let done: Vec<String> = self
            .races
            .iter()
            .filter(|(_, r)| {
                r.finished_at
                    .is_some_and(|t| t.saturating_add(FINISHED_RACE_LINGER_MS) <= clock)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &done {
            self.races.remove(id);
        }
        outcome.finished = done;
        outcome
    }
}

impl Race {
    /// Returns false when the lap was already known (a repeat).
    fn lap_completed(
        &mut self,
        e: &LapCompleted,
        range: (i64, i64),
        clump_cars: usize,
        clump_gap_ms: i64,
        out: &mut Vec<Update>,
    ) -> bool {
        let race_id = e.race_id.as_str();
        let car = self.cars.entry(e.driver_id.clone()).or_default();
        if car.race_times.contains_key(&e.lap) {
            return false;
        }
        car.race_times.insert(e.lap, e.race_time_ms);
        car.lap_times.insert(e.lap, e.lap_time_ms);
        let crossed = self.crossed.entry(e.lap).or_default();
        let idx = crossed
            .partition_point(|(t, d)| (*t, d.as_str()) < (e.race_time_ms, e.driver_id.as_str()));
        crossed.insert(idx, (e.race_time_ms, e.driver_id.clone()));
        let leader = crossed[0].0;
        car.position = Some(idx as u32 + 1);
        car.gap_to_leader_ms = Some(e.race_time_ms - leader);
        car.gap_to_ahead_ms = idx.checked_sub(1).map(|i| e.race_time_ms - crossed[i].0);
        car.ahead = idx.checked_sub(1).map(|i| crossed[i].1.clone());
        out.push(car_update(race_id, &e.driver_id, car, range));
        let field_size = self.field_size.max(self.cars.len() as u32);
        let car = &self.cars[&e.driver_id];
        if let Some(value) =
            prediction::blended(race_id, &e.driver_id, car, self.scheduled_laps, field_size)
        {
            out.push(Update::value(
                format!("race/{race_id}/prediction/{}", e.driver_id),
                "race_prediction",
                range,
                value,
            ));
        }
        if self
            .fastest
            .as_ref()
            .is_none_or(|(ms, _, _)| e.lap_time_ms < *ms)
        {
            self.fastest = Some((e.lap_time_ms, e.lap, e.driver_id.clone()));
            out.push(Update::value(
                format!("race/{race_id}/fastest"),
                "race_fastest",
                range,
                json!({"race_id": race_id, "driver": e.driver_id, "lap": e.lap, "lap_time_ms": e.lap_time_ms}),
            ));
        }
        self.passes(e, range, out);
        out.push(order_update(race_id, self, range));
        let crossed = &self.crossed[&e.lap];
        let n = clump_cars.min(self.cars.len().max(2));
        if crossed.len() == n {
            out.push(clump_update(race_id, e.lap, crossed, clump_gap_ms, range));
        }
        true
    }

    /// Pass events between `e`'s car and every car that completed the same lap.
    fn passes(&self, e: &LapCompleted, range: (i64, i64), out: &mut Vec<Update>) {
        let Some(me) = self.cars.get(&e.driver_id) else {
            return;
        };
        let Some(crossed) = self.crossed.get(&e.lap) else {
            return;
        };
        for (their_time, other) in crossed {
            if *other == e.driver_id {
                continue;
            }
            let Some(them) = self.cars.get(other) else {
                continue;
            };
            let before = match (previous(me, e.lap), previous(them, e.lap)) {
                (Some(a), Some(b)) if a != b => a < b,
                _ => continue,
            };
            if e.race_time_ms == *their_time {
                continue;
            }
            let now = e.race_time_ms < *their_time;
            if before == now {
                continue;
            }
            let (winner, loser) = if now {
                (&e.driver_id, other)
            } else {
                (other, &e.driver_id)
            };
            out.push(Update::event(
                format!("race/{}/pass/{}/{winner}/{loser}", e.race_id, e.lap),
                "race_pass",
                range,
                json!({"race_id": e.race_id, "lap": e.lap, "driver": winner, "passed": loser}),
            ));
        }
    }
}

/// A car's place before lap `lap`: race time at `lap − 1`, or grid position
/// for lap 1 (smaller is ahead either way).
fn previous(car: &Car, lap: u32) -> Option<i64> {
    if lap <= 1 {
        car.grid.map(i64::from)
    } else {
        car.race_times.get(&(lap - 1)).copied()
    }
}

fn car_update(race_id: &str, driver: &str, car: &Car, range: (i64, i64)) -> Update {
    Update::value(
        format!("race/{race_id}/car/{driver}"),
        "race_car",
        range,
        car.to_json(race_id, driver),
    )
}

fn order_update(race_id: &str, race: &Race, range: (i64, i64)) -> Update {
    let mut cars: Vec<(&String, &Car)> = race.cars.iter().collect();
    cars.sort_by_key(|(driver, car)| match car.last() {
        Some((lap, time)) => (0, std::cmp::Reverse(lap), time, driver.as_str()),
        None => (
            1,
            std::cmp::Reverse(0),
            i64::from(car.grid.unwrap_or(u32::MAX)),
            driver.as_str(),
        ),
    });
    let order: Vec<&String> = cars.iter().map(|(d, _)| *d).collect();
    Update::value(
        format!("race/{race_id}/order"),
        "race_order",
        range,
        json!({"race_id": race_id, "order": order}),
    )
}

fn clump_update(
    race_id: &str,
    lap: u32,
    crossed: &[(i64, String)],
    clump_gap_ms: i64,
    range: (i64, i64),
) -> Update {
    let gaps: Vec<i64> = crossed.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<i64>() as f64 / n;
    let var = gaps.iter().map(|g| (*g as f64 - mean).powi(2)).sum::<f64>() / n;
    let close = gaps.iter().filter(|g| **g < clump_gap_ms).count() as f64;
    Update::value(
        format!("race/{race_id}/clumpiness"),
        "race_clumpiness",
        range,
        json!({
            "race_id": race_id,
            "lap": lap,
            "cars": crossed.len(),
            "spread_ms": crossed[crossed.len() - 1].0 - crossed[0].0,
            "mean_gap_ms": mean,
            "gap_stddev_ms": var.sqrt(),
            "clumpiness": close / n,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> RaceEvent {
        serde_json::from_str(json).expect("a valid test event")
    }

    fn lap(driver: &str, lap: u32, race_time_ms: i64) -> RaceEvent {
        event(&format!(
            r#"{{"type":"lap_completed","race_id":"r","ts":{},"driver_id":"{driver}","lap":{lap},"position":1,"lap_time_ms":{},"race_time_ms":{race_time_ms}}}"#,
            race_time_ms,
            race_time_ms / i64::from(lap)
        ))
    }

    fn run(events: &[RaceEvent]) -> Vec<Update> {
        let config = OperatorConfig {
            clump_cars: 3,
            ..OperatorConfig::default()
        };
        let mut op = RaceOperator::new(&config);
        let mut out = Vec::new();
        for e in events {
            op.process(e, &mut out);
        }
        out
    }

    fn start() -> RaceEvent {
        let slot = |d: &str, p: u32| {
            format!(
                r#"{{"driver_id":"{d}","driver_name":"{d}","constructor_id":"c","grid_position":{p}}}"#
            )
        };
        event(&format!(
            r#"{{"type":"race_start","race_id":"r","ts":0,"season":2020,"round":1,"name":"n","date":"2020-07-05","circuit":{{"circuit_id":"c"}},"scheduled_laps":2,"grid":[{},{},{}]}}"#,
            slot("a", 1),
            slot("b", 2),
            slot("c", 3)
        ))
    }

    #[test]
    fn passes_are_found_at_equal_laps_against_the_grid_and_the_previous_lap() {
        let out = run(&[
            start(),
            lap("b", 1, 90_000),
            lap("a", 1, 90_500),
            lap("c", 1, 91_000),
            lap("c", 2, 180_000),
            lap("b", 2, 180_200),
            lap("a", 2, 181_500),
        ]);
        let passes: Vec<String> = out
            .iter()
            .filter(|u| u.metric == "race_pass")
            .map(|u| {
                format!(
                    "{}>{}@{}",
                    u.value["driver"], u.value["passed"], u.value["lap"]
                )
            })
            .collect();
        assert_eq!(passes, vec![r#""b">"a"@1"#, r#""c">"b"@2"#, r#""c">"a"@2"#]);
        let last_a = out
            .iter()
            .rev()
            .find(|u| u.key == "race/r/car/a")
            .expect("a's update");
        assert_eq!(last_a.value["position"], 3);
        assert_eq!(last_a.value["gap_to_leader_ms"], 1_500);
        assert_eq!(last_a.value["gap_to_ahead_ms"], 1_300);
        let clump: Vec<&Update> = out
            .iter()
            .filter(|u| u.metric == "race_clumpiness")
            .collect();
        assert_eq!(clump.len(), 2);
        assert_eq!(clump[1].value["spread_ms"], 1_500);
        assert_eq!(clump[1].value["clumpiness"], 0.5);
    }

    #[test]
    fn a_repeated_lap_changes_nothing() {
        let mut op = RaceOperator::new(&OperatorConfig::default());
        let mut out = Vec::new();
        assert!(!op.process(&lap("a", 1, 90_000), &mut out).ignored);
        assert!(op.process(&lap("a", 1, 90_000), &mut out).ignored);
    }
}
