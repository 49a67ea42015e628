//! Loader of the FIA timing-PDF data set (`fia-pdf_2021-2023r5_*.csv`): text
//! driver keys, `m:ss.sss` lap times, `N/C` and `PIT LANE` markers, and the lap
//! chart that [`super::fia_laps`] unfolds.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use schemas::race::{Circuit, GridSlot};

use super::civil::noon_utc_ms;
use super::csv_rows::{Row, for_each_row};
use super::error::{RaceDataError, Result};
use super::fia_laps::{ChartRow, normalize, parse_gap, parse_lap_time};
use super::lookup::lookup;
use super::model::{Classified, NormalizedRace, RaceInfo, Status};

/// File name prefix of every table.
const PREFIX: &str = "fia-pdf_2021-2023r5_";

/// A race is keyed by (year, round) throughout this data set.
type Key = (i32, i32);

/// One row of `race_results`.
struct ResultLine {
    line: u64,
    driver_id: String,
    constructor_id: String,
    position: Option<u32>,
    status: String,
}

/// One row of `race_grid`.
struct GridLine {
    line: u64,
    driver_id: String,
    position: Option<u32>,
}

/// Everything read from the files, grouped by race.
struct Tables {
    dir: PathBuf,
    drivers: HashMap<String, [Option<String>; 1]>,
    constructors: HashMap<String, [Option<String>; 1]>,
    results: HashMap<Key, Vec<ResultLine>>,
    grid: HashMap<Key, Vec<GridLine>>,
    chart: HashMap<Key, Vec<ChartRow>>,
}

/// Path of one table.
fn table(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{PREFIX}{name}.csv"))
}

/// Reads every FIA table in `dir` and returns its races, in file order.
pub(crate) fn load(dir: &Path) -> Result<Vec<NormalizedRace>> {
    let circuits = lookup(
        &table(dir, "circuits"),
        "circuit_id",
        ["circuit_name", "country"],
    )?;
    let races = load_races(&table(dir, "races"), &circuits)?;
    let keys: HashSet<Key> = races.iter().map(|(key, _)| *key).collect();
    let mut tables = Tables {
        dir: dir.to_path_buf(),
        drivers: lookup(&table(dir, "drivers"), "driver_id", ["driver_name"])?,
        constructors: lookup(
            &table(dir, "constructors"),
            "constructor_id",
            ["constructor_name"],
        )?,
        results: load_results(&table(dir, "race_results"), &keys)?,
        grid: load_grid(&table(dir, "race_grid"), &keys)?,
        chart: load_chart(&table(dir, "lap_times"), &keys)?,
    };
    races
        .into_iter()
        .map(|(key, info)| build_race(&mut tables, key, info))
        .collect()
}

/// The (year, round) of a row, which must name a race of `races.csv`.
fn race_key(row: &Row<'_>, keys: &HashSet<Key>) -> Result<Key> {
    let key = (
        row.parse("year", "a year")?,
        row.parse("round", "a round number")?,
    );
    if keys.contains(&key) {
        Ok(key)
    } else {
        Err(row.inconsistent(format!("no race {} round {} in races.csv", key.0, key.1)))
    }
}

/// `races.csv`, with circuits resolved; a repeated (year, round) is an error.
fn load_races(
    path: &Path,
    circuits: &HashMap<String, [Option<String>; 2]>,
) -> Result<Vec<(Key, RaceInfo)>> {
    let columns = ["year", "round", "circuit_id", "gp_name", "race_date"];
    let mut races: Vec<(Key, RaceInfo)> = Vec::new();
    for_each_row(path, &columns, |row| {
        let (season, round): Key = (
            row.parse("year", "a year")?,
            row.parse("round", "a round number")?,
        );
        let date = row.str("race_date")?;
        let start_ms =
            noon_utc_ms(date).ok_or_else(|| row.bad("race_date", date, "a YYYY-MM-DD date"))?;
        let circuit_id = row.str("circuit_id")?;
        let Some([name, country]) = circuits.get(circuit_id) else {
            return Err(row.inconsistent(format!("circuit {circuit_id:?} is not in circuits.csv")));
        };
        if races.iter().any(|(key, _)| *key == (season, round)) {
            return Err(row.inconsistent(format!("race {season} round {round} appears twice")));
        }
        let info = RaceInfo {
            race_id: format!("fia-{season}-{round:02}"),
            season,
            round,
            name: row.str("gp_name")?.to_owned(),
            date: date.to_owned(),
            start_ms,
            circuit: Circuit {
                circuit_id: circuit_id.to_owned(),
                name: name.clone(),
                country: country.clone(),
            },
        };
        races.push(((season, round), info));
        Ok(())
    })?;
    Ok(races)
}

/// `race_results.csv`: `finish_position` is a number or `N/C`.
fn load_results(path: &Path, keys: &HashSet<Key>) -> Result<HashMap<Key, Vec<ResultLine>>> {
    let columns = [
        "year",
        "round",
        "finish_position",
        "driver_id",
        "constructor_id",
        "finish_status",
    ];
    let mut results: HashMap<Key, Vec<ResultLine>> = HashMap::new();
    for_each_row(path, &columns, |row| {
        let key = race_key(row, keys)?;
        let position = match row.str("finish_position")? {
            "N/C" => None,
            _ => Some(row.parse("finish_position", "a position or N/C")?),
        };
        results.entry(key).or_default().push(ResultLine {
            line: row.line(),
            driver_id: row.str("driver_id")?.to_owned(),
            constructor_id: row.str("constructor_id")?.to_owned(),
            position,
            status: row.str("finish_status")?.to_owned(),
        });
        Ok(())
    })?;
    Ok(results)
}

/// `race_grid.csv`: `grid_position` is a number or `PIT LANE`.
fn load_grid(path: &Path, keys: &HashSet<Key>) -> Result<HashMap<Key, Vec<GridLine>>> {
    let columns = ["year", "round", "grid_position", "driver_id"];
    let mut grid: HashMap<Key, Vec<GridLine>> = HashMap::new();
    for_each_row(path, &columns, |row| {
        let key = race_key(row, keys)?;
        let position = match row.str("grid_position")? {
            "PIT LANE" => None,
            _ => Some(row.parse("grid_position", "a grid position or PIT LANE")?),
        };
        let driver_id = row.str("driver_id")?.to_owned();
        grid.entry(key).or_default().push(GridLine {
            line: row.line(),
            driver_id,
            position,
        });
        Ok(())
    })?;
    Ok(grid)
}

/// `lap_times.csv`: the lap chart, one row per car and leader lap.
fn load_chart(path: &Path, keys: &HashSet<Key>) -> Result<HashMap<Key, Vec<ChartRow>>> {
    let columns = [
        "year",
        "round",
        "lap",
        "driver_id",
        "lap_time",
        "gap_to_leader",
    ];
    let mut chart: HashMap<Key, Vec<ChartRow>> = HashMap::new();
    for_each_row(path, &columns, |row| {
        let key = race_key(row, keys)?;
        let time = row.str("lap_time")?;
        let gap = row.str("gap_to_leader")?;
        chart.entry(key).or_default().push(ChartRow {
            line: row.line(),
            column: row.parse("lap", "a lap number")?,
            driver_id: row.str("driver_id")?.to_owned(),
            lap_time_ms: parse_lap_time(time)
                .ok_or_else(|| row.bad("lap_time", time, "a m:ss.sss lap time"))?,
            gap: parse_gap(gap)
                .ok_or_else(|| row.bad("gap_to_leader", gap, "seconds, N LAP(S) or PIT"))?,
        });
        Ok(())
    })?;
    Ok(chart)
}

/// An error about a row that was read earlier and found inconsistent later.
fn inconsistent(dir: &Path, name: &str, line: u64, message: String) -> RaceDataError {
    RaceDataError::Inconsistent {
        path: table(dir, name),
        line,
        message,
    }
}

/// Grid position per driver; every car on the grid must have a result.
fn grid_positions<'g>(
    dir: &Path,
    entered: &HashSet<&str>,
    lines: &'g [GridLine],
) -> Result<HashMap<&'g str, Option<u32>>> {
    let mut positions = HashMap::new();
    for g in lines {
        if !entered.contains(g.driver_id.as_str()) {
            let message = format!("{} is on the grid but not in the race results", g.driver_id);
            return Err(inconsistent(dir, "race_grid", g.line, message));
        }
        positions.insert(g.driver_id.as_str(), g.position);
    }
    Ok(positions)
}

/// The grid slot and classification line of one result row. FIA status text is
/// kept as is; "DNF" is what makes a car not classified as finishing.
fn entry(
    tables: &Tables,
    r: &ResultLine,
    grid_position: Option<u32>,
) -> Result<(GridSlot, Classified)> {
    let unknown = |what: &str, id: &str| {
        let message = format!("{what} {id:?} is not in {PREFIX}{what}s.csv");
        inconsistent(&tables.dir, "race_results", r.line, message)
    };
    let Some([Some(driver_name)]) = tables.drivers.get(&r.driver_id) else {
        return Err(unknown("driver", &r.driver_id));
    };
    let Some([constructor_name]) = tables.constructors.get(&r.constructor_id) else {
        return Err(unknown("constructor", &r.constructor_id));
    };
    let slot = GridSlot {
        driver_id: r.driver_id.clone(),
        driver_name: driver_name.clone(),
        driver_code: None,
        car_number: None,
        constructor_id: r.constructor_id.clone(),
        constructor_name: constructor_name.clone(),
        grid_position,
    };
    let classified = Classified {
        driver_id: r.driver_id.clone(),
        position: r.position,
        status: Status::Text(r.status.clone()),
        retired: (r.status == "DNF").then(|| r.status.clone()),
        points: None,
    };
    Ok((slot, classified))
}

/// One race from its rows: grid and classification from the results (every
/// classified car gets a grid slot), laps from the chart.
fn build_race(tables: &mut Tables, key: Key, info: RaceInfo) -> Result<NormalizedRace> {
    let results = tables.results.remove(&key).unwrap_or_default();
    let grid_lines = tables.grid.remove(&key).unwrap_or_default();
    let chart = tables.chart.remove(&key).unwrap_or_default();
    let entered: HashSet<&str> = results.iter().map(|r| r.driver_id.as_str()).collect();
    let grid_of = grid_positions(&tables.dir, &entered, &grid_lines)?;
    if let Some(row) = chart
        .iter()
        .find(|row| !entered.contains(row.driver_id.as_str()))
    {
        let message = format!("{} has laps but no race result", row.driver_id);
        return Err(inconsistent(&tables.dir, "lap_times", row.line, message));
    }
    let mut grid = Vec::with_capacity(results.len());
    let mut classified = Vec::with_capacity(results.len());
    for r in &results {
        let grid_position = grid_of.get(r.driver_id.as_str()).copied().flatten();
        let (slot, line) = entry(tables, r, grid_position)?;
        grid.push(slot);
        classified.push(line);
    }
    let chart = normalize(chart);
    Ok(NormalizedRace {
        info,
        grid,
        results: classified,
        laps: chart.laps,
        stops: chart.stops,
        suspended_after: chart.suspended_after,
        lap_file: format!("{PREFIX}lap_times.csv"),
        stop_file: format!("{PREFIX}lap_times.csv"),
    })
}
