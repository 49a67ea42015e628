//! Race metrics on real races (Ergast and FIA lap data), checked value by
//! value against a naive model that keeps every event and recomputes each
//! figure from scratch.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use producer::race_data::RaceDataset;
use schemas::RaceEvent;

use crate::support::{self, Published};

/// Every event of the first `n` races of each data set.
fn events(n: usize) -> Vec<RaceEvent> {
    [RaceDataset::Ergast, RaceDataset::Fia]
        .into_iter()
        .flat_map(|d| testkit::fixtures::race_recordings(d).into_iter().take(n))
        .flat_map(|r| r.events)
        .collect()
}

/// (lap → (race time, lap time)) per driver, from events 0..=upto of a race.
fn laps(
    events: &[RaceEvent],
    upto: i64,
    race: &str,
) -> BTreeMap<String, BTreeMap<u32, (i64, i64)>> {
    let mut out: BTreeMap<String, BTreeMap<u32, (i64, i64)>> = BTreeMap::new();
    for e in events.iter().take(upto as usize + 1) {
        if let RaceEvent::LapCompleted(l) = e
            && l.race_id == race
        {
            out.entry(l.driver_id.clone())
                .or_default()
                .entry(l.lap)
                .or_insert((l.race_time_ms, l.lap_time_ms));
        }
    }
    out
}

fn grid(events: &[RaceEvent], race: &str) -> HashMap<String, u32> {
    events
        .iter()
        .find_map(|e| match e {
            RaceEvent::RaceStart(s) if s.race_id == race => Some(
                s.grid
                    .iter()
                    .filter_map(|g| Some((g.driver_id.clone(), g.grid_position?)))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

fn check_car(events: &[RaceEvent], p: &Published) {
    let v = &p.update["value"];
    let (race, driver) = (
        v["race_id"].as_str().expect("race"),
        v["driver"].as_str().expect("driver"),
    );
    let all = laps(events, p.offset, race);
    let Some(mine) = all.get(driver) else {
        assert!(v["lap"].is_null(), "{v}");
        return;
    };
    let (&lap, &(time, lap_ms)) = mine.last_key_value().expect("a lap");
    let same_lap: Vec<(i64, &str)> = all
        .iter()
        .filter_map(|(d, l)| l.get(&lap).map(|(t, _)| (*t, d.as_str())))
        .collect();
    let ahead: Vec<&(i64, &str)> = same_lap.iter().filter(|x| **x < (time, driver)).collect();
    let leader = same_lap.iter().map(|x| x.0).min().expect("me at least");
    assert_eq!(v["lap"].as_u64(), Some(u64::from(lap)), "{v}");
    assert_eq!(v["position"].as_u64(), Some(ahead.len() as u64 + 1), "{v}");
    assert_eq!(v["gap_to_leader_ms"].as_i64(), Some(time - leader), "{v}");
    assert_eq!(
        v["gap_to_ahead_ms"].as_i64(),
        ahead.iter().map(|x| time - x.0).min(),
        "{v}"
    );
    assert_eq!(v["last_lap_ms"].as_i64(), Some(lap_ms));
    let best = mine.values().map(|x| x.1).min();
    assert_eq!(v["best_lap_ms"].as_i64(), best, "{v}");
    let last5: Vec<i64> = mine.values().rev().take(5).map(|x| x.1).collect();
    let mean = last5.iter().sum::<i64>() as f64 / last5.len() as f64;
    assert!(
        (v["mean5_lap_ms"].as_f64().expect("mean") - mean).abs() < 1e-9,
        "{v}"
    );
    let stops = events
        .iter()
        .take(p.offset as usize + 1)
        .filter_map(|e| match e {
            RaceEvent::PitIn(x) if x.race_id == race && x.driver_id == driver => Some(x.stop),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    assert_eq!(v["pit_stops"].as_u64(), Some(u64::from(stops)), "{v}");
}

/// The blended prediction from scratch: live = the naive running position,
/// historical = the grid slot (the back of the field for a pit-lane start),
/// w = 1 − laps / scheduled laps.
fn check_prediction(events: &[RaceEvent], p: &Published) {
    let v = &p.update["value"];
    let (race, driver) = (
        v["race_id"].as_str().expect("race"),
        v["driver"].as_str().expect("driver"),
    );
    let start = events
        .iter()
        .find_map(|e| match e {
            RaceEvent::RaceStart(s) if s.race_id == race => Some(s),
            _ => None,
        })
        .expect("the race's start");
    let all = laps(events, p.offset, race);
    let (&lap, &(time, _)) = all[driver].last_key_value().expect("a lap");
    let live = 1 + all
        .iter()
        .filter(|(d, l)| {
            l.get(&lap)
                .is_some_and(|(t, _)| (*t, d.as_str()) < (time, driver))
        })
        .count();
    let mut drivers: BTreeSet<&str> = start.grid.iter().map(|g| g.driver_id.as_str()).collect();
    for e in events.iter().take(p.offset as usize + 1) {
        match e {
            RaceEvent::LapCompleted(l) if l.race_id == race => drivers.insert(&l.driver_id),
            RaceEvent::PitIn(x) if x.race_id == race => drivers.insert(&x.driver_id),
            RaceEvent::PitOut(x) if x.race_id == race => drivers.insert(&x.driver_id),
            RaceEvent::Retirement(x) if x.race_id == race => drivers.insert(&x.driver_id),
            _ => false,
        };
    }
    let field = start.grid.len().max(drivers.len()) as f64;
    let historical = grid(events, race)
        .get(driver)
        .map_or(field, |g| f64::from(*g));
    let w = (1.0 - f64::from(lap) / f64::from(start.scheduled_laps)).clamp(0.0, 1.0);
    assert_eq!(v["live_position"].as_f64(), Some(live as f64), "{v}");
    assert_eq!(v["historical"].as_f64(), Some(historical), "{v}");
    assert!((v["weight"].as_f64().expect("w") - w).abs() < 1e-12, "{v}");
    let want = w * historical + (1.0 - w) * live as f64;
    assert!(
        (v["predicted_position"].as_f64().expect("prediction") - want).abs() < 1e-9,
        "{v}: want {want}"
    );
}

fn check_fastest(events: &[RaceEvent], p: &Published) {
    let v = &p.update["value"];
    let race = v["race_id"].as_str().expect("race");
    let mut best: Option<(i64, u32, String)> = None;
    for e in events.iter().take(p.offset as usize + 1) {
        if let RaceEvent::LapCompleted(l) = e
            && l.race_id == race
            && best.as_ref().is_none_or(|b| l.lap_time_ms < b.0)
        {
            best = Some((l.lap_time_ms, l.lap, l.driver_id.clone()));
        }
    }
    let (ms, lap, driver) = best.expect("a lap");
    assert_eq!(
        (
            v["lap_time_ms"].as_i64(),
            v["lap"].as_u64(),
            v["driver"].as_str()
        ),
        (Some(ms), Some(u64::from(lap)), Some(driver.as_str()))
    );
}

fn check_clumpiness(events: &[RaceEvent], p: &Published) {
    let v = &p.update["value"];
    let race = v["race_id"].as_str().expect("race");
    let lap = v["lap"].as_u64().expect("lap") as u32;
    let mut times: Vec<i64> = laps(events, p.offset, race)
        .values()
        .filter_map(|l| l.get(&lap).map(|x| x.0))
        .collect();
    times.sort_unstable();
    let n = v["cars"].as_u64().expect("cars") as usize;
    assert_eq!(times.len(), n, "published when the {n}th car crossed: {v}");
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let close = gaps.iter().filter(|g| **g < 1_000).count() as f64 / gaps.len() as f64;
    assert_eq!(v["spread_ms"].as_i64(), Some(times[n - 1] - times[0]));
    assert!(
        (v["clumpiness"].as_f64().expect("clumpiness") - close).abs() < 1e-12,
        "{v}"
    );
}

/// Every (race, lap, passer, passed): order at lap L − 1 (grid for lap 1)
/// reversed at lap L, over all events.
fn naive_passes(events: &[RaceEvent]) -> BTreeSet<(String, u64, String, String)> {
    let races: BTreeSet<&str> = events.iter().map(RaceEvent::race_id).collect();
    let mut out = BTreeSet::new();
    for race in races {
        let all = laps(events, events.len() as i64 - 1, race);
        let grid = grid(events, race);
        for (a, la) in &all {
            for (b, lb) in &all {
                for (&lap, &(ta, _)) in la {
                    let Some(&(tb, _)) = lb.get(&lap) else {
                        continue;
                    };
                    let before = if lap == 1 {
                        grid.get(a)
                            .zip(grid.get(b))
                            .map(|(x, y)| (i64::from(*x), i64::from(*y)))
                    } else {
                        la.get(&(lap - 1))
                            .zip(lb.get(&(lap - 1)))
                            .map(|(x, y)| (x.0, y.0))
                    };
                    if let Some((pa, pb)) = before
                        && pa > pb
                        && ta < tb
                    {
                        out.insert((race.to_owned(), u64::from(lap), a.clone(), b.clone()));
                    }
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_published_race_value_matches_a_naive_recomputation_of_real_races() {
    let kafka = support::kafka();
    let events = events(2);
    let lines: Vec<Vec<u8>> = events
        .iter()
        .map(|e| serde_json::to_vec(e).expect("json"))
        .collect();
    let topic = kafka.fresh_topic("race", 1).await;
    support::produce(&kafka, &topic, &lines);
    let config = support::config(&kafka, "", &topic).await;
    let started = std::time::Instant::now();
    let report = support::run_until_committed(&config, &[(&topic, lines.len() as i64)]).await;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "race: {report:?} in {seconds:.2} s ({:.0} events/s)",
        lines.len() as f64 / seconds
    );

    let published = support::updates(&support::read_all(&kafka.brokers, &config.metrics_topic));
    support::assert_only_changes(&published);
    let mut metrics: BTreeMap<String, usize> = BTreeMap::new();
    let mut passes = BTreeSet::new();
    for p in &published {
        let metric = p.update["metric"].as_str().unwrap_or_default().to_owned();
        match metric.as_str() {
            "race_car" => check_car(&events, p),
            "race_fastest" => check_fastest(&events, p),
            "race_clumpiness" => check_clumpiness(&events, p),
            "race_prediction" => check_prediction(&events, p),
            "race_pass" => {
                let v = &p.update["value"];
                let pass = (
                    v["race_id"].as_str().unwrap_or_default().to_owned(),
                    v["lap"].as_u64().unwrap_or(0),
                    v["driver"].as_str().unwrap_or_default().to_owned(),
                    v["passed"].as_str().unwrap_or_default().to_owned(),
                );
                assert!(passes.insert(pass), "pass published twice: {v}");
            }
            _ => {}
        }
        *metrics.entry(metric).or_default() += 1;
    }
    eprintln!("checked {} updates: {metrics:?}", published.len());
    assert_eq!(passes, naive_passes(&events), "passes");
    for metric in [
        "race_car",
        "race_order",
        "race_pass",
        "race_pit",
        "race_fastest",
        "race_clumpiness",
        "race_prediction",
        "race_flag",
        "race_finish",
    ] {
        assert!(
            metrics.get(metric).copied().unwrap_or(0) > 0,
            "no {metric} published"
        );
    }
}
