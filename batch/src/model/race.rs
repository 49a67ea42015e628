//! The race position model: expected finishing position of a car from its
//! live state, for the speed layer's blended prediction.
//!
//! **Rows.** The lake's race feed is replayed race by race, keeping per car
//! the state the speed layer keeps (`stream-processor/src/race/`): each
//! `lap_completed` yields one [`RaceCarState`] snapshot — position and gap
//! to the leader compared at equal laps, pit stops, grid slot. Only races with
//! both `race_start` and `race_finish` in the lake count; a race the feed
//! replays (a looping simulator) counts once, its first complete run.
//!
//! **Label.** The car's place in the `race_finish` classification (1-based,
//! classified cars in order, unclassified after them as listed): what a
//! results table would show. A car missing from the classification is
//! dropped.
//!
//! **Hold-out.** The latest races by start time (a fifth of them, at
//! least one): no snapshot of a held-out race is trained on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use schemas::RaceEvent;
use schemas::model::{
    ProgressMetrics, RACE_FEATURES, RACE_POSITION_MODEL, RaceCarState, RacePositionModel,
    RegressionMetrics, TrainingInfo, race_features,
};
use serde::Serialize;

use super::load::TopicRows;
use super::{fit, metrics, training_info};
use crate::error::{Error, Result};
use crate::lake_source::Offsets;

/// Share of races (the latest) held out.
const TEST_SHARE: f64 = 0.2;
/// Fewer complete races than this is no model.
const MIN_RACES: usize = 3;

/// One snapshot of a car with its final position.
#[derive(Debug, Clone, Serialize)]
pub struct RaceSnapshot {
    /// The race.
    pub race_id: String,
    /// When the race started (ms): the time axis of the split.
    pub race_start_ms: i64,
    /// The car's driver.
    pub driver_id: String,
    /// What the speed layer knew.
    pub state: RaceCarState,
    /// Final classification place (1-based).
    pub finish: u32,
}

/// A hold-out snapshot and the model's prediction.
#[derive(Debug, Clone, Serialize)]
pub struct RacePrediction {
    /// The snapshot.
    pub snapshot: RaceSnapshot,
    /// The artifact's prediction.
    pub predicted: f64,
}

/// The state of one race being replayed.
#[derive(Debug, Default)]
struct Replay {
    start_ms: i64,
    field_size: u32,
    scheduled_laps: u32,
    grid: HashMap<String, Option<u32>>,
    pit_stops: HashMap<String, u32>,
    /// Per lap, race times of the cars that completed it, sorted.
    crossed: BTreeMap<u32, Vec<i64>>,
    /// Laps already seen per car (a repeated lap changes nothing).
    laps: HashMap<String, BTreeSet<u32>>,
    snapshots: Vec<(String, RaceCarState)>,
}

impl Replay {
    fn lap(&mut self, e: &schemas::race::LapCompleted) {
        if !self
            .laps
            .entry(e.driver_id.clone())
            .or_default()
            .insert(e.lap)
        {
            return;
        }
        let crossed = self.crossed.entry(e.lap).or_default();
        let idx = crossed.partition_point(|t| *t < e.race_time_ms);
        crossed.insert(idx, e.race_time_ms);
        let state = RaceCarState {
            grid_position: self.grid.get(&e.driver_id).copied().flatten(),
            field_size: self.field_size,
            position: idx as u32 + 1,
            lap: e.lap,
            scheduled_laps: self.scheduled_laps,
            gap_to_leader_ms: Some(e.race_time_ms - crossed[0]),
            pit_stops: self.pit_stops.get(&e.driver_id).copied().unwrap_or(0),
        };
        self.snapshots.push((e.driver_id.clone(), state));
    }
}

/// Replays the feed into labelled snapshots, race by race.
pub(crate) fn snapshots(events: &TopicRows<RaceEvent>) -> (Vec<RaceSnapshot>, usize) {
    let mut live: HashMap<String, Replay> = HashMap::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    let mut repeats = 0;
    for row in &events.rows {
        let id = row.event.race_id();
        match &row.event {
            RaceEvent::RaceStart(s) => {
                if done.contains(id) {
                    repeats += 1;
                    live.remove(id);
                    continue;
                }
                let replay = Replay {
                    start_ms: s.ts,
                    field_size: s.grid.len() as u32,
                    scheduled_laps: s.scheduled_laps,
                    grid: s
                        .grid
                        .iter()
                        .map(|g| (g.driver_id.clone(), g.grid_position))
                        .collect(),
                    ..Replay::default()
                };
                live.insert(id.to_owned(), replay);
            }
            RaceEvent::LapCompleted(e) => {
                if let Some(r) = live.get_mut(id) {
                    r.lap(e);
                }
            }
            RaceEvent::PitIn(p) => {
                if let Some(r) = live.get_mut(id) {
                    let stops = r.pit_stops.entry(p.driver_id.clone()).or_default();
                    *stops = (*stops).max(p.stop);
                }
            }
            RaceEvent::RaceFinish(f) => {
                let Some(replay) = live.remove(id) else {
                    continue;
                };
                let finish: HashMap<&str, u32> = f
                    .results
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.driver_id.as_str(), i as u32 + 1))
                    .collect();
                for (driver_id, state) in replay.snapshots {
                    if let Some(place) = finish.get(driver_id.as_str()) {
                        out.push(RaceSnapshot {
                            race_id: id.to_owned(),
                            race_start_ms: replay.start_ms,
                            driver_id,
                            state,
                            finish: *place,
                        });
                    }
                }
                done.insert(id.to_owned());
            }
            RaceEvent::PitOut(_) | RaceEvent::Flag(_) | RaceEvent::Retirement(_) => {}
        }
    }
    (out, repeats)
}

/// Splits snapshots by race start: the latest races are the hold-out.
pub(crate) fn split(
    snapshots: Vec<RaceSnapshot>,
) -> std::result::Result<(Vec<RaceSnapshot>, Vec<RaceSnapshot>), String> {
    let races: BTreeSet<(i64, String)> = snapshots
        .iter()
        .map(|s| (s.race_start_ms, s.race_id.clone()))
        .collect();
    if races.len() < MIN_RACES {
        return Err(format!(
            "{} complete races: fewer than {MIN_RACES}",
            races.len()
        ));
    }
    let n_test = ((races.len() as f64 * TEST_SHARE).ceil() as usize).max(1);
    let test_races: BTreeSet<&String> = races.iter().rev().take(n_test).map(|(_, id)| id).collect();
    let (test, train): (Vec<_>, Vec<_>) = snapshots
        .iter()
        .cloned()
        .partition(|s| test_races.contains(&s.race_id));
    Ok((train, test))
}

/// Fits the model and evaluates it on the held-out races.
pub(crate) fn train(
    train: &[RaceSnapshot],
    test: &[RaceSnapshot],
    watermarks: &Offsets,
    topic: &str,
    repeats: usize,
) -> Result<(RacePositionModel, Vec<RacePrediction>)> {
    let started = Instant::now();
    let rows: Vec<Vec<f64>> = train
        .iter()
        .map(|s| race_features(&s.state).to_vec())
        .collect();
    let y: Vec<f64> = train.iter().map(|s| f64::from(s.finish)).collect();
    let names = RACE_FEATURES.iter().map(|s| (*s).to_owned()).collect();
    let linear = fit::least_squares(fit::skeleton(names, &rows), &rows, &y)?;
    let test_races: BTreeSet<&str> = test.iter().map(|s| s.race_id.as_str()).collect();
    let mut model = RacePositionModel {
        linear,
        training: TrainingInfo {
            learner: "linfa-linear 0.8.1 ordinary least squares on standardised features"
                .to_owned(),
            split: format!(
                "one row per lap_completed of a race with race_start and race_finish in the \
                 lake ({repeats} replayed runs ignored); label = place in the race_finish \
                 classification. Time-based hold-out: the latest {} races by start time",
                test_races.len()
            ),
            ..training_info(train.len(), test.len(), [(topic, watermarks)])
        },
        metrics: RegressionMetrics {
            mae: 0.0,
            rmse: 0.0,
            grid_baseline_mae: 0.0,
            grid_baseline_rmse: 0.0,
            position_baseline_mae: 0.0,
            position_baseline_rmse: 0.0,
            by_progress: Vec::new(),
        },
    };
    let predictions: Vec<RacePrediction> = test
        .iter()
        .map(|s| RacePrediction {
            predicted: model.predict(&s.state),
            snapshot: s.clone(),
        })
        .collect();
    if predictions.is_empty() {
        return Err(Error::Model("no hold-out snapshots".to_owned()));
    }
    model.metrics = evaluate(&predictions);
    tracing::info!(
        model = RACE_POSITION_MODEL,
        train = train.len(),
        test = test.len(),
        mae = model.metrics.mae,
        grid_baseline_mae = model.metrics.grid_baseline_mae,
        seconds = started.elapsed().as_secs_f64(),
        "Trained the race position model."
    );
    Ok((model, predictions))
}

fn evaluate(predictions: &[RacePrediction]) -> RegressionMetrics {
    let columns = |rows: &[&RacePrediction]| {
        let model: Vec<f64> = rows.iter().map(|p| p.predicted).collect();
        let grid: Vec<f64> = rows
            .iter()
            .map(|p| race_features(&p.snapshot.state)[0])
            .collect();
        let position: Vec<f64> = rows
            .iter()
            .map(|p| f64::from(p.snapshot.state.position))
            .collect();
        let actual: Vec<f64> = rows.iter().map(|p| f64::from(p.snapshot.finish)).collect();
        (model, grid, position, actual)
    };
    let all: Vec<&RacePrediction> = predictions.iter().collect();
    let (model, grid, position, actual) = columns(&all);
    let by_progress = (0..4)
        .map(|q| {
            let (from, to) = (f64::from(q) / 4.0, f64::from(q + 1) / 4.0);
            let rows: Vec<&RacePrediction> = predictions
                .iter()
                .filter(|p| {
                    let progress = race_features(&p.snapshot.state)[2];
                    progress >= from && (progress < to || (q == 3 && progress <= to))
                })
                .collect();
            let (m, g, pos, a) = columns(&rows);
            ProgressMetrics {
                from,
                to,
                rows: rows.len() as u64,
                mae: metrics::mae(&m, &a),
                grid_baseline_mae: metrics::mae(&g, &a),
                position_baseline_mae: metrics::mae(&pos, &a),
            }
        })
        .collect();
    RegressionMetrics {
        mae: metrics::mae(&model, &actual),
        rmse: metrics::rmse(&model, &actual),
        grid_baseline_mae: metrics::mae(&grid, &actual),
        grid_baseline_rmse: metrics::rmse(&grid, &actual),
        position_baseline_mae: metrics::mae(&position, &actual),
        position_baseline_rmse: metrics::rmse(&position, &actual),
        by_progress,
    }
}
