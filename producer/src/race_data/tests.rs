//! Checks against the real recorded data, with expectations computed
//! independently from the CSV files (not through the loaders).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use schemas::Limits;
use schemas::race::{Flag, RaceEvent, RaceStart};

use super::{RaceDataset, RaceRecording, load_races};

mod malformed;
mod rules;

/// `shared/data/race/` of the repository.
fn data_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/race"
    ))
}

fn fia() -> &'static [RaceRecording] {
    static RACES: OnceLock<Vec<RaceRecording>> = OnceLock::new();
    RACES.get_or_init(|| load_races(&data_dir(), RaceDataset::Fia).expect("FIA data loads"))
}

fn ergast() -> &'static [RaceRecording] {
    static RACES: OnceLock<Vec<RaceRecording>> = OnceLock::new();
    RACES.get_or_init(|| load_races(&data_dir(), RaceDataset::Ergast).expect("Ergast data loads"))
}

/// Every record of a CSV file as header name → field maps.
fn read_csv(name: &str) -> Vec<HashMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(data_dir().join(name))
        .expect("opens");
    let header = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

fn count<'a>(races: &'a [RaceRecording], kind: &str) -> impl Iterator<Item = &'a RaceEvent> {
    let kind = kind.to_owned();
    races
        .iter()
        .flat_map(|r| &r.events)
        .filter(move |e| e.type_name() == kind)
}

fn start(race: &RaceRecording) -> &RaceStart {
    match race.events.first() {
        Some(RaceEvent::RaceStart(s)) => s,
        other => panic!("{} starts with {other:?}", race.race_id),
    }
}

#[test]
fn dataset_names_round_trip() {
    for d in [RaceDataset::Fia, RaceDataset::Ergast] {
        assert_eq!(d.to_string().parse::<RaceDataset>().expect("parses"), d);
    }
    assert!("FIA1".parse::<RaceDataset>().is_err());
}

#[test]
fn race_counts_ids_and_lap_counts() {
    let (fia, ergast) = (fia(), ergast());
    assert_eq!((fia.len(), ergast.len()), (49, 39));
    assert_eq!(fia[0].race_id, "fia-2021-01");
    assert_eq!(ergast[0].race_id, "ergast-2020-01");
    assert_eq!(fia.last().map(|r| r.race_id.as_str()), Some("fia-2023-05"));
    let fia_rows = read_csv("fia-pdf_2021-2023r5_lap_times.csv").len();
    let ergast_rows = read_csv("ergast_2020-2021_lap_times.csv").len();
    assert_eq!((fia_rows, ergast_rows), (52_126, 42_088));
    assert_eq!(count(fia, "lap_completed").count(), fia_rows);
    assert_eq!(count(ergast, "lap_completed").count(), ergast_rows);
    for race in fia.iter().chain(ergast) {
        assert!(
            race.skipped.is_empty(),
            "{}: {:?}",
            race.race_id,
            race.skipped
        );
    }
}

#[test]
fn events_validate_and_are_in_time_order() {
    let limits = Limits::default();
    for race in fia().iter().chain(ergast()) {
        assert_eq!(start(race).race_id, race.race_id);
        for event in &race.events {
            assert_eq!(event.race_id(), race.race_id);
            event
                .validate(&limits)
                .unwrap_or_else(|e| panic!("{}: {e}: {event:?}", race.race_id));
        }
        for pair in race.events.windows(2) {
            assert!(
                pair[0].ts() <= pair[1].ts(),
                "{}: {:?} before {:?}",
                race.race_id,
                pair[0],
                pair[1]
            );
        }
        assert_eq!(count(std::slice::from_ref(race), "race_start").count(), 1);
        assert_eq!(count(std::slice::from_ref(race), "race_finish").count(), 1);
    }
}

/// Expected race time per (race id, driver, lap), summed straight from the CSV.
type RaceTimes = HashMap<(String, String, u32), i64>;

/// FIA: a car's laps are its rows in file order; `m:ss.sss` read via `f64`.
fn fia_race_times() -> RaceTimes {
    let mut running: HashMap<(String, String), (u32, i64)> = HashMap::new();
    let mut times = RaceTimes::new();
    for row in read_csv("fia-pdf_2021-2023r5_lap_times.csv") {
        let race = format!(
            "fia-{}-{:02}",
            row["year"],
            row["round"].parse::<u32>().expect("round")
        );
        let (min, sec) = row["lap_time"].split_once(':').expect("m:ss.sss");
        let ms = min.parse::<i64>().expect("min") * 60_000
            + (sec.parse::<f64>().expect("s") * 1000.0).round() as i64;
        let car = running
            .entry((race.clone(), row["driver_id"].clone()))
            .or_default();
        *car = (car.0 + 1, car.1 + ms);
        times.insert((race, row["driver_id"].clone(), car.0), car.1);
    }
    times
}

/// Ergast: rows sorted by (race, driver, lap) first, since the file is not.
fn ergast_race_times() -> RaceTimes {
    let race_ids: HashMap<String, String> = read_csv("ergast_2020-2021_races.csv")
        .into_iter()
        .map(|r| {
            (
                r["raceid"].clone(),
                format!(
                    "ergast-{}-{:02}",
                    r["year"],
                    r["round"].parse::<u32>().expect("round")
                ),
            )
        })
        .collect();
    let refs: HashMap<String, String> = read_csv("ergast_2020-2021_drivers.csv")
        .into_iter()
        .map(|r| (r["driverid"].clone(), r["driverref"].clone()))
        .collect();
    let mut rows: Vec<(String, String, u32, i64)> = read_csv("ergast_2020-2021_lap_times.csv")
        .into_iter()
        .map(|r| {
            let lap = r["lap"].parse().expect("lap");
            (
                race_ids[&r["raceid"]].clone(),
                refs[&r["driverid"]].clone(),
                lap,
                r["milliseconds"].parse().expect("ms"),
            )
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    let mut times = RaceTimes::new();
    let mut sum = 0;
    for (i, (race, driver, lap, ms)) in rows.iter().enumerate() {
        let same_car = i > 0 && (&rows[i - 1].0, &rows[i - 1].1) == (race, driver);
        sum = if same_car { sum + ms } else { *ms };
        times.insert((race.clone(), driver.clone(), *lap), sum);
    }
    times
}

#[test]
fn race_times_are_sums_of_lap_times() {
    for (races, expected) in [(fia(), fia_race_times()), (ergast(), ergast_race_times())] {
        let mut checked = 0;
        for event in count(races, "lap_completed") {
            let RaceEvent::LapCompleted(lap) = event else {
                unreachable!()
            };
            let key = (lap.race_id.clone(), lap.driver_id.clone(), lap.lap);
            assert_eq!(Some(&lap.race_time_ms), expected.get(&key), "{key:?}");
            checked += 1;
        }
        assert_eq!(checked, expected.len());
    }
}

#[test]
fn british_gp_2021_has_a_red_flag_in_both_data_sets() {
    for races in [fia(), ergast()] {
        let race = races
            .iter()
            .find(|r| start(r).season == 2021 && start(r).name.contains("British"))
            .expect("2021 British GP");
        let red = race
            .events
            .iter()
            .any(|e| matches!(e, RaceEvent::Flag(f) if f.flag == Flag::Red));
        assert!(red, "{} has no red flag", race.race_id);
    }
}

#[test]
fn pit_stops_match_the_source_rows() {
    let ergast_rows = read_csv("ergast_2020-2021_pit_stops.csv").len();
    assert_eq!(ergast_rows, 1_392);
    assert_eq!(count(ergast(), "pit_in").count(), ergast_rows);
    assert_eq!(count(ergast(), "pit_out").count(), ergast_rows);
    let pit_rows = read_csv("fia-pdf_2021-2023r5_lap_times.csv")
        .iter()
        .filter(|r| r["gap_to_leader"] == "PIT")
        .count();
    assert_eq!(pit_rows, 1_648);
    assert_eq!(count(fia(), "pit_in").count(), pit_rows);
}

/// The winner's surname (last word of the name), and the race date.
fn winner(race: &RaceRecording) -> (String, String) {
    let Some(RaceEvent::RaceFinish(finish)) =
        race.events.iter().find(|e| e.type_name() == "race_finish")
    else {
        panic!("{} has no finish", race.race_id);
    };
    let first = finish
        .results
        .iter()
        .find(|r| r.position == Some(1))
        .expect("a winner");
    let start = start(race);
    let slot = start
        .grid
        .iter()
        .find(|s| s.driver_id == first.driver_id)
        .expect("winner on the grid");
    let surname = slot
        .driver_name
        .split_whitespace()
        .last()
        .unwrap_or_default();
    (surname.to_owned(), start.date.clone())
}

#[test]
fn winners_agree_across_data_sets_in_2021() {
    let ergast: HashMap<i32, &RaceRecording> = ergast()
        .iter()
        .filter(|r| start(r).season == 2021)
        .map(|r| (start(r).round, r))
        .collect();
    let mut compared = 0;
    for race in fia().iter().filter(|r| start(r).season == 2021) {
        let Some(other) = ergast.get(&start(race).round) else {
            continue;
        };
        assert_eq!(
            winner(race),
            winner(other),
            "{} vs {}",
            race.race_id,
            other.race_id
        );
        compared += 1;
    }
    assert_eq!(compared, 22);
}
