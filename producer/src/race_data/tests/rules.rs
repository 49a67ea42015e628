//! Spot checks of individual event rules on races whose story is known.

use schemas::race::{LapCompleted, RaceEvent, RaceFinish, Retirement};

use std::collections::HashMap;

use super::{ergast, fia, read_csv, start};
use crate::race_data::RaceRecording;

fn race<'a>(races: &'a [RaceRecording], id: &str) -> &'a RaceRecording {
    races
        .iter()
        .find(|r| r.race_id == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

fn laps<'a>(race: &'a RaceRecording, driver: &'a str) -> impl Iterator<Item = &'a LapCompleted> {
    race.events.iter().filter_map(move |e| match e {
        RaceEvent::LapCompleted(l) if l.driver_id == driver => Some(l),
        _ => None,
    })
}

fn finish(race: &RaceRecording) -> &RaceFinish {
    race.events
        .iter()
        .find_map(|e| match e {
            RaceEvent::RaceFinish(f) => Some(f),
            _ => None,
        })
        .expect("a finish")
}

fn retirement<'a>(race: &'a RaceRecording, driver: &str) -> Option<&'a Retirement> {
    race.events.iter().find_map(|e| match e {
        RaceEvent::Retirement(r) if r.driver_id == driver => Some(r),
        _ => None,
    })
}

#[test]
fn fia_positions_put_lapped_cars_behind_the_lead_lap() {
    // 2021 Styrian GP, last chart column: Latifi (3 laps down) crossed the line
    // right behind the winner, but runs 17th, ahead of Mazepin (also 3 down).
    let race = race(fia(), "fia-2021-08");
    let last = |driver| laps(race, driver).last().map(|l| (l.lap, l.position));
    assert_eq!(last("max_verstappen"), Some((71, 1)));
    assert_eq!(last("nicholas_latifi"), Some((68, 17)));
    assert_eq!(last("nikita_mazepin"), Some((68, 18)));
}

#[test]
fn pit_lane_starters_are_last_on_the_grid() {
    let fia_race = race(fia(), "fia-2021-13");
    let ergast_race = race(ergast(), "ergast-2020-02");
    for (race, pit_lane) in [(fia_race, 2), (ergast_race, 1)] {
        let grid = &start(race).grid;
        let starters = grid.iter().filter(|s| s.grid_position.is_none()).count();
        assert_eq!(starters, pit_lane, "{}", race.race_id);
        assert!(
            grid[grid.len() - pit_lane..]
                .iter()
                .all(|s| s.grid_position.is_none())
        );
        assert_eq!(grid[0].grid_position, Some(1));
    }
    let slot = &start(ergast_race).grid[0];
    assert_eq!(
        (slot.driver_code.as_deref(), slot.car_number),
        (Some("HAM"), Some(44))
    );
}

#[test]
fn first_lap_retirement_is_seen_when_the_leader_completes_lap_one() {
    // 2021 British GP: Verstappen crashed on lap 1.
    for (race, driver, status) in [
        (race(fia(), "fia-2021-10"), "max_verstappen", "DNF"),
        (race(ergast(), "ergast-2021-10"), "max_verstappen", "R"),
    ] {
        let retired = retirement(race, driver).expect("retired");
        assert_eq!((retired.lap, retired.status.as_str()), (0, status));
        let leader_lap_1 = race.events.iter().filter_map(|e| match e {
            RaceEvent::LapCompleted(l) if l.lap == 1 => Some(l.ts),
            _ => None,
        });
        assert_eq!(Some(retired.ts), leader_lap_1.min());
        assert_eq!(
            finish(race).results.last().map(|r| r.driver_id.as_str()),
            Some(driver)
        );
    }
}

#[test]
fn single_lap_belgian_gp_and_finish_statuses() {
    for race in [race(fia(), "fia-2021-12"), race(ergast(), "ergast-2021-12")] {
        assert_eq!(start(race).scheduled_laps, 1);
        let finish = finish(race);
        assert!(
            finish
                .results
                .iter()
                .all(|r| r.laps == 1 && r.status == "Finish")
        );
        assert_eq!(
            finish.results[0].points,
            (race.race_id.starts_with("ergast")).then_some(12.5)
        );
    }
}

#[test]
fn ergast_derived_statuses_agree_with_status_ids() {
    // Ergast status ids: 1 = Finished, 11 = "+1 Lap", 12 = "+2 Laps", ...
    let races: HashMap<String, String> = read_csv("ergast_2020-2021_races.csv")
        .into_iter()
        .map(|r| {
            (
                r["raceid"].clone(),
                format!("ergast-{}-{:0>2}", r["year"], r["round"]),
            )
        })
        .collect();
    let refs: HashMap<String, String> = read_csv("ergast_2020-2021_drivers.csv")
        .into_iter()
        .map(|r| (r["driverid"].clone(), r["driverref"].clone()))
        .collect();
    let mut checked = 0;
    for row in read_csv("ergast_2020-2021_results.csv") {
        let expected = match row["statusid"].parse::<u32>().expect("statusid") {
            1 => "Finish".to_owned(),
            11 => "+1 LAP".to_owned(),
            n @ 12..=19 => format!("+{} LAPS", n - 10),
            _ => continue,
        };
        let finish = finish(race(ergast(), &races[&row["raceid"]]));
        let result = finish
            .results
            .iter()
            .find(|r| r.driver_id == refs[&row["driverid"]]);
        assert_eq!(
            result.map(|r| r.status.as_str()),
            Some(expected.as_str()),
            "{row:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 408 + 214 + 35 + 6 + 1);
}
