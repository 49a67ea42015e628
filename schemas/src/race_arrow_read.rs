//! Race events back out of the wide Arrow table (replays from the lake).

use arrow::array::{Array, ListArray, RecordBatch};

use crate::arrow_util::{ArrowConversionError, Columns, item_range, opt, shape};
use crate::race::{
    Circuit, Flag, FlagChange, GridSlot, LapCompleted, PitIn, PitOut, RaceEvent, RaceFinish,
    RaceStart, ResultRow, Retirement,
};

/// Reads race events back out of a batch with [`crate::race_schema`]'s columns
/// (extra columns are ignored).
pub fn race_events_from_batch(batch: &RecordBatch) -> Result<Vec<RaceEvent>, ArrowConversionError> {
    let cols = Columns::of_batch(batch);
    let reader = WideReader {
        kind: cols.strings("type")?,
        race_id: cols.strings("race_id")?,
        ts: cols.timestamps("ts")?,
        driver_id: cols.strings("driver_id")?,
        lap: cols.u32s("lap")?,
        position: cols.u32s("position")?,
        lap_time_ms: cols.i64s("lap_time_ms")?,
        race_time_ms: cols.i64s("race_time_ms")?,
        stop: cols.u32s("stop")?,
        duration_ms: cols.i64s("duration_ms")?,
        flag: cols.strings("flag")?,
        status: cols.strings("status")?,
        season: cols.i32s("season")?,
        round: cols.i32s("round")?,
        name: cols.strings("name")?,
        date: cols.strings("date")?,
        scheduled_laps: cols.u32s("scheduled_laps")?,
        circuit: cols.nested("circuit")?.1,
        grid: cols.list("grid")?,
        results: cols.list("results")?,
    };
    (0..batch.num_rows()).map(|row| reader.event(row)).collect()
}

struct WideReader<'a> {
    kind: &'a arrow::array::StringArray,
    race_id: &'a arrow::array::StringArray,
    ts: &'a arrow::array::TimestampMillisecondArray,
    driver_id: &'a arrow::array::StringArray,
    lap: &'a arrow::array::UInt32Array,
    position: &'a arrow::array::UInt32Array,
    lap_time_ms: &'a arrow::array::Int64Array,
    race_time_ms: &'a arrow::array::Int64Array,
    stop: &'a arrow::array::UInt32Array,
    duration_ms: &'a arrow::array::Int64Array,
    flag: &'a arrow::array::StringArray,
    status: &'a arrow::array::StringArray,
    season: &'a arrow::array::Int32Array,
    round: &'a arrow::array::Int32Array,
    name: &'a arrow::array::StringArray,
    date: &'a arrow::array::StringArray,
    scheduled_laps: &'a arrow::array::UInt32Array,
    circuit: Columns<'a>,
    grid: (&'a ListArray, Columns<'a>),
    results: (&'a ListArray, Columns<'a>),
}

/// Reads a required value of a nullable wide column, naming it when absent.
fn need<A: Array, T>(
    array: &A,
    column: &str,
    row: usize,
    value: impl FnOnce() -> T,
) -> Result<T, ArrowConversionError> {
    opt(array, row, value).ok_or_else(|| shape(column, &format!("null in row {row}")))
}

impl WideReader<'_> {
    fn event(&self, row: usize) -> Result<RaceEvent, ArrowConversionError> {
        let race_id = self.race_id.value(row).to_owned();
        let ts = self.ts.value(row);
        let driver = || {
            need(self.driver_id, "driver_id", row, || {
                self.driver_id.value(row).to_owned()
            })
        };
        let lap = || need(self.lap, "lap", row, || self.lap.value(row));
        let stop = || need(self.stop, "stop", row, || self.stop.value(row));
        Ok(match self.kind.value(row) {
            "race_start" => RaceEvent::RaceStart(self.race_start(row, race_id, ts)?),
            "lap_completed" => RaceEvent::LapCompleted(LapCompleted {
                race_id,
                ts,
                driver_id: driver()?,
                lap: lap()?,
                position: need(self.position, "position", row, || self.position.value(row))?,
                lap_time_ms: need(self.lap_time_ms, "lap_time_ms", row, || {
                    self.lap_time_ms.value(row)
                })?,
                race_time_ms: need(self.race_time_ms, "race_time_ms", row, || {
                    self.race_time_ms.value(row)
                })?,
            }),
            "pit_in" => RaceEvent::PitIn(PitIn {
                race_id,
                ts,
                driver_id: driver()?,
                lap: lap()?,
                stop: stop()?,
            }),
            "pit_out" => RaceEvent::PitOut(PitOut {
                race_id,
                ts,
                driver_id: driver()?,
                lap: lap()?,
                stop: stop()?,
                duration_ms: opt(self.duration_ms, row, || self.duration_ms.value(row)),
            }),
            "flag" => RaceEvent::Flag(FlagChange {
                race_id,
                ts,
                lap: lap()?,
                flag: match need(self.flag, "flag", row, || self.flag.value(row))? {
                    "green" => Flag::Green,
                    "safety_car" => Flag::SafetyCar,
                    "red" => Flag::Red,
                    other => return Err(shape("flag", &format!("unknown flag {other:?}"))),
                },
            }),
            "retirement" => RaceEvent::Retirement(Retirement {
                race_id,
                ts,
                driver_id: driver()?,
                lap: lap()?,
                status: need(self.status, "status", row, || {
                    self.status.value(row).to_owned()
                })?,
            }),
            "race_finish" => RaceEvent::RaceFinish(RaceFinish {
                race_id,
                ts,
                results: self.results(row)?,
            }),
            other => return Err(shape("type", &format!("unknown event type {other:?}"))),
        })
    }

    fn race_start(
        &self,
        row: usize,
        race_id: String,
        ts: i64,
    ) -> Result<RaceStart, ArrowConversionError> {
        let c = &self.circuit;
        let (circuit_id, name, country) = (
            c.strings("circuit_id")?,
            c.strings("name")?,
            c.strings("country")?,
        );
        let (list, g) = &self.grid;
        let (driver_id, driver_name, driver_code) = (
            g.strings("driver_id")?,
            g.strings("driver_name")?,
            g.strings("driver_code")?,
        );
        let (car_number, constructor_id, constructor_name, grid_position) = (
            g.u32s("car_number")?,
            g.strings("constructor_id")?,
            g.strings("constructor_name")?,
            g.u32s("grid_position")?,
        );
        let grid = item_range(list, row)
            .map(|i| GridSlot {
                driver_id: driver_id.value(i).to_owned(),
                driver_name: driver_name.value(i).to_owned(),
                driver_code: opt(driver_code, i, || driver_code.value(i).to_owned()),
                car_number: opt(car_number, i, || car_number.value(i)),
                constructor_id: constructor_id.value(i).to_owned(),
                constructor_name: opt(constructor_name, i, || constructor_name.value(i).to_owned()),
                grid_position: opt(grid_position, i, || grid_position.value(i)),
            })
            .collect();
        Ok(RaceStart {
            race_id,
            ts,
            season: need(self.season, "season", row, || self.season.value(row))?,
            round: need(self.round, "round", row, || self.round.value(row))?,
            name: need(self.name, "name", row, || self.name.value(row).to_owned())?,
            date: need(self.date, "date", row, || self.date.value(row).to_owned())?,
            circuit: Circuit {
                circuit_id: circuit_id.value(row).to_owned(),
                name: opt(name, row, || name.value(row).to_owned()),
                country: opt(country, row, || country.value(row).to_owned()),
            },
            scheduled_laps: need(self.scheduled_laps, "scheduled_laps", row, || {
                self.scheduled_laps.value(row)
            })?,
            grid,
        })
    }

    fn results(&self, row: usize) -> Result<Vec<ResultRow>, ArrowConversionError> {
        let (list, r) = &self.results;
        let (driver_id, position, status) = (
            r.strings("driver_id")?,
            r.u32s("position")?,
            r.strings("status")?,
        );
        let (laps, points) = (r.u32s("laps")?, r.f64s("points")?);
        Ok(item_range(list, row)
            .map(|i| ResultRow {
                driver_id: driver_id.value(i).to_owned(),
                position: opt(position, i, || position.value(i)),
                status: status.value(i).to_owned(),
                laps: laps.value(i),
                points: opt(points, i, || points.value(i)),
            })
            .collect())
    }
}
