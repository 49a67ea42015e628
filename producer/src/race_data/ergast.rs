//! Loader of the Ergast data set (`ergast_2020-2021_*.csv`): numeric ids resolved
//! to text keys (`driverref`, `constructorref`), `milliseconds` taken over the
//! lossy `time` text, rows accepted in any order.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use schemas::race::{Circuit, GridSlot};

use super::civil::noon_utc_ms;
use super::csv_rows::{Row, for_each_row};
use super::error::Result;
use super::lookup::lookup;
use super::model::{Classified, Lap, NormalizedRace, RaceInfo, Status, Stop};

/// File name prefix of every table.
const PREFIX: &str = "ergast_2020-2021_";

/// Driver id → `[driverref, code, forename, surname]`.
type Drivers = HashMap<String, [Option<String>; 4]>;

/// Everything read from the files, per `raceid`.
#[derive(Default)]
struct PerRace {
    grid: Vec<GridSlot>,
    /// With `positionorder`, to sort by.
    results: Vec<(u32, Classified)>,
    laps: Vec<Lap>,
    stops: Vec<Stop>,
}

/// Path of one table.
fn table(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{PREFIX}{name}.csv"))
}

/// Reads every Ergast table in `dir` and returns its races, in file order.
pub(crate) fn load(dir: &Path) -> Result<Vec<NormalizedRace>> {
    let races = load_races(&table(dir, "races"))?;
    let drivers = lookup(
        &table(dir, "drivers"),
        "driverid",
        ["driverref", "code", "forename", "surname"],
    )?;
    let constructors: Constructors = lookup(
        &table(dir, "constructors"),
        "constructorid",
        ["constructorref", "constructor_name"],
    )?;
    let mut per_race: HashMap<String, PerRace> = races
        .iter()
        .map(|(id, _)| (id.clone(), PerRace::default()))
        .collect();
    load_results(
        &table(dir, "results"),
        &drivers,
        &constructors,
        &mut per_race,
    )?;
    load_laps(&table(dir, "lap_times"), &drivers, &mut per_race)?;
    load_stops(&table(dir, "pit_stops"), &drivers, &mut per_race)?;
    let races = races.into_iter().map(|(id, info)| {
        let mut race = per_race.remove(&id).unwrap_or_default();
        race.results.sort_by_key(|(order, _)| *order);
        NormalizedRace {
            info,
            grid: race.grid,
            results: race.results.into_iter().map(|(_, c)| c).collect(),
            laps: race.laps,
            stops: race.stops,
            suspended_after: Vec::new(),
            lap_file: format!("{PREFIX}lap_times.csv"),
            stop_file: format!("{PREFIX}pit_stops.csv"),
        }
    });
    Ok(races.collect())
}

/// `races.csv`; the circuit is only an id here (no circuits table was recorded).
fn load_races(path: &Path) -> Result<Vec<(String, RaceInfo)>> {
    let columns = ["raceid", "year", "round", "circuitid", "name", "date"];
    let mut races: Vec<(String, RaceInfo)> = Vec::new();
    for_each_row(path, &columns, |row| {
        let id = row.str("raceid")?.to_owned();
        let season: i32 = row.parse("year", "a year")?;
        let round: i32 = row.parse("round", "a round number")?;
        let date = row.str("date")?;
        let start_ms =
            noon_utc_ms(date).ok_or_else(|| row.bad("date", date, "a YYYY-MM-DD date"))?;
        if races
            .iter()
            .any(|(other, info)| *other == id || (info.season, info.round) == (season, round))
        {
            return Err(
                row.inconsistent(format!("race {id} ({season} round {round}) appears twice"))
            );
        }
        let info = RaceInfo {
            race_id: format!("ergast-{season}-{round:02}"),
            season,
            round,
            name: row.str("name")?.to_owned(),
            date: date.to_owned(),
            start_ms,
            circuit: Circuit {
                circuit_id: row.str("circuitid")?.to_owned(),
                name: None,
                country: None,
            },
        };
        races.push((id, info));
        Ok(())
    })?;
    Ok(races)
}

/// The race of a row, which must be in `races.csv`.
fn race_of<'m>(
    row: &Row<'_>,
    per_race: &'m mut HashMap<String, PerRace>,
) -> Result<&'m mut PerRace> {
    let id = row.str("raceid")?;
    per_race
        .get_mut(id)
        .ok_or_else(|| row.inconsistent(format!("race {id} is not in {PREFIX}races.csv")))
}

/// The `driverref` of the row's `driverid`, and the driver's fields.
fn driver<'d>(row: &Row<'_>, drivers: &'d Drivers) -> Result<(&'d str, &'d [Option<String>; 4])> {
    let id = row.str("driverid")?;
    match drivers.get(id) {
        Some(fields @ [Some(driver_ref), ..]) => Ok((driver_ref, fields)),
        _ => Err(row.inconsistent(format!("driver {id} is not in {PREFIX}drivers.csv"))),
    }
}

/// Constructor id → `[constructorref, constructor_name]`.
type Constructors = HashMap<String, [Option<String>; 2]>;

/// The grid slot of a `results.csv` row; grid 0 is a pit-lane start.
fn grid_slot(row: &Row<'_>, drivers: &Drivers, constructors: &Constructors) -> Result<GridSlot> {
    let (driver_id, [_, code, forename, surname]) = driver(row, drivers)?;
    let constructor = row.str("constructorid")?;
    let Some([Some(constructor_id), constructor_name]) = constructors.get(constructor) else {
        let message = format!("constructor {constructor} is not in {PREFIX}constructors.csv");
        return Err(row.inconsistent(message));
    };
    let name = [forename.as_deref(), surname.as_deref()];
    let grid: u32 = row.parse("grid", "a grid position")?;
    Ok(GridSlot {
        driver_id: driver_id.to_owned(),
        driver_name: name.into_iter().flatten().collect::<Vec<_>>().join(" "),
        driver_code: code.clone(),
        car_number: row.opt_parse("number", "a car number")?,
        constructor_id: constructor_id.clone(),
        constructor_name: constructor_name.clone(),
        grid_position: (grid > 0).then_some(grid),
    })
}

/// `results.csv`: grid, classification (a null `position` means not classified,
/// and `positiontext` says why), car numbers, points.
fn load_results(
    path: &Path,
    drivers: &Drivers,
    constructors: &Constructors,
    per_race: &mut HashMap<String, PerRace>,
) -> Result<()> {
    let columns = [
        "raceid",
        "driverid",
        "constructorid",
        "number",
        "grid",
        "position",
        "positiontext",
        "positionorder",
        "points",
    ];
    for_each_row(path, &columns, |row| {
        let slot = grid_slot(row, drivers, constructors)?;
        let position: Option<u32> = row.opt_parse("position", "a position")?;
        let text = row.str("positiontext")?.to_owned();
        let classified = Classified {
            driver_id: slot.driver_id.clone(),
            position,
            status: match position {
                Some(_) => Status::ByLapsDown,
                None => Status::Text(text.clone()),
            },
            retired: position.is_none().then_some(text),
            points: row.opt_parse("points", "a number of points")?,
        };
        let order = row.parse("positionorder", "a position order")?;
        let race = race_of(row, per_race)?;
        if race.grid.iter().any(|s| s.driver_id == slot.driver_id) {
            let message = format!("{} has two results in this race", slot.driver_id);
            return Err(row.inconsistent(message));
        }
        race.grid.push(slot);
        race.results.push((order, classified));
        Ok(())
    })
}

/// A driver with laps or stops must have a result in that race.
fn check_entered(row: &Row<'_>, race: &PerRace, driver_id: &str) -> Result<()> {
    if race.grid.iter().any(|s| s.driver_id == driver_id) {
        Ok(())
    } else {
        Err(row.inconsistent(format!("{driver_id} has no result in this race")))
    }
}

/// `lap_times.csv`: `milliseconds` is the lap time; a repeated lap is an error.
fn load_laps(
    path: &Path,
    drivers: &Drivers,
    per_race: &mut HashMap<String, PerRace>,
) -> Result<()> {
    let columns = ["raceid", "driverid", "lap", "position", "milliseconds"];
    let mut seen: HashSet<(String, String, u32)> = HashSet::new();
    for_each_row(path, &columns, |row| {
        let driver_id = driver(row, drivers)?.0.to_owned();
        let lap: u32 = row.parse("lap", "a lap number")?;
        let position = row.parse("position", "a position")?;
        let lap_time_ms = row.parse("milliseconds", "a lap time in ms")?;
        let race = race_of(row, per_race)?;
        check_entered(row, race, &driver_id)?;
        if !seen.insert((row.str("raceid")?.to_owned(), driver_id.clone(), lap)) {
            return Err(row.inconsistent(format!("lap {lap} of {driver_id} appears twice")));
        }
        race.laps.push(Lap {
            driver_id,
            lap,
            position,
            lap_time_ms,
            line: row.line(),
        });
        Ok(())
    })
}

/// `pit_stops.csv`: `milliseconds` is the time in the pit lane.
fn load_stops(
    path: &Path,
    drivers: &Drivers,
    per_race: &mut HashMap<String, PerRace>,
) -> Result<()> {
    let columns = ["raceid", "driverid", "stop", "lap", "milliseconds"];
    for_each_row(path, &columns, |row| {
        let driver_id = driver(row, drivers)?.0.to_owned();
        let stop = Stop {
            driver_id,
            lap: row.parse("lap", "a lap number")?,
            stop: row.parse("stop", "a stop number")?,
            duration_ms: Some(row.parse("milliseconds", "a duration in ms")?),
            line: row.line(),
        };
        let race = race_of(row, per_race)?;
        check_entered(row, race, &stop.driver_id)?;
        race.stops.push(stop);
        Ok(())
    })
}
