//! Race events as Arrow: one wide table for the whole feed.
//!
//! Every event type shares `type`, `race_id` and `ts`; the columns of the other
//! types are null in its rows. One table (rather than one per type) keeps the
//! feed's order in one place, which replay and the speed layer need, and costs
//! nothing in Parquet where all-null runs compress to almost nothing.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder, UInt32Builder,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};

use crate::arrow_util::{
    ArrowConversionError, ListOffsets, Validity, list_array, list_of, struct_array, timestamp_ms,
};
use crate::race::{Circuit, GridSlot, RaceEvent, ResultRow};

pub(crate) fn circuit_fields() -> Fields {
    Fields::from(vec![
        Field::new("circuit_id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("country", DataType::Utf8, true),
    ])
}

pub(crate) fn grid_fields() -> Fields {
    Fields::from(vec![
        Field::new("driver_id", DataType::Utf8, false),
        Field::new("driver_name", DataType::Utf8, false),
        Field::new("driver_code", DataType::Utf8, true),
        Field::new("car_number", DataType::UInt32, true),
        Field::new("constructor_id", DataType::Utf8, false),
        Field::new("constructor_name", DataType::Utf8, true),
        Field::new("grid_position", DataType::UInt32, true),
    ])
}

pub(crate) fn result_fields() -> Fields {
    Fields::from(vec![
        Field::new("driver_id", DataType::Utf8, false),
        Field::new("position", DataType::UInt32, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("laps", DataType::UInt32, false),
        Field::new("points", DataType::Float64, true),
    ])
}

static RACE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let nullable = |name: &str, t: DataType| Field::new(name, t, true);
    Arc::new(Schema::new(vec![
        Field::new("type", DataType::Utf8, false),
        Field::new("race_id", DataType::Utf8, false),
        Field::new("ts", timestamp_ms(), false),
        nullable("driver_id", DataType::Utf8),
        nullable("lap", DataType::UInt32),
        nullable("position", DataType::UInt32),
        nullable("lap_time_ms", DataType::Int64),
        nullable("race_time_ms", DataType::Int64),
        nullable("stop", DataType::UInt32),
        nullable("duration_ms", DataType::Int64),
        nullable("flag", DataType::Utf8),
        nullable("status", DataType::Utf8),
        nullable("season", DataType::Int32),
        nullable("round", DataType::Int32),
        nullable("name", DataType::Utf8),
        nullable("date", DataType::Utf8),
        nullable("circuit", DataType::Struct(circuit_fields())),
        nullable("scheduled_laps", DataType::UInt32),
        nullable("grid", list_of(grid_fields())),
        nullable("results", list_of(result_fields())),
    ]))
});

/// The Arrow schema of the race feed (the lake's `race` table, before the
/// sink's metadata columns).
pub fn race_schema() -> SchemaRef {
    Arc::clone(&RACE_SCHEMA)
}

/// Accumulates race events column by column.
pub struct RaceBatchBuilder {
    rows: usize,
    kind: StringBuilder,
    race_id: StringBuilder,
    ts: TimestampMillisecondBuilder,
    driver_id: StringBuilder,
    lap: UInt32Builder,
    position: UInt32Builder,
    lap_time_ms: Int64Builder,
    race_time_ms: Int64Builder,
    stop: UInt32Builder,
    duration_ms: Int64Builder,
    flag: StringBuilder,
    status: StringBuilder,
    season: Int32Builder,
    round: Int32Builder,
    name: StringBuilder,
    date: StringBuilder,
    circuit: CircuitColumns,
    scheduled_laps: UInt32Builder,
    grid: GridColumns,
    results: ResultColumns,
}

#[derive(Default)]
struct CircuitColumns {
    valid: Validity,
    circuit_id: StringBuilder,
    name: StringBuilder,
    country: StringBuilder,
}

struct GridColumns {
    offsets: ListOffsets,
    valid: Validity,
    driver_id: StringBuilder,
    driver_name: StringBuilder,
    driver_code: StringBuilder,
    car_number: UInt32Builder,
    constructor_id: StringBuilder,
    constructor_name: StringBuilder,
    grid_position: UInt32Builder,
}

struct ResultColumns {
    offsets: ListOffsets,
    valid: Validity,
    driver_id: StringBuilder,
    position: UInt32Builder,
    status: StringBuilder,
    laps: UInt32Builder,
    points: Float64Builder,
}

impl RaceBatchBuilder {
    /// A builder sized for about `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        let n = capacity;
        Self {
            rows: 0,
            kind: StringBuilder::with_capacity(n, n * 13),
            race_id: StringBuilder::with_capacity(n, n * 14),
            ts: TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC"),
            driver_id: StringBuilder::with_capacity(n, n * 12),
            lap: UInt32Builder::with_capacity(n),
            position: UInt32Builder::with_capacity(n),
            lap_time_ms: Int64Builder::with_capacity(n),
            race_time_ms: Int64Builder::with_capacity(n),
            stop: UInt32Builder::with_capacity(n),
            duration_ms: Int64Builder::with_capacity(n),
            flag: StringBuilder::new(),
            status: StringBuilder::new(),
            season: Int32Builder::with_capacity(n),
            round: Int32Builder::with_capacity(n),
            name: StringBuilder::new(),
            date: StringBuilder::new(),
            circuit: CircuitColumns::default(),
            scheduled_laps: UInt32Builder::with_capacity(n),
            grid: GridColumns {
                offsets: ListOffsets::with_capacity(n),
                valid: Validity::with_capacity(n),
                driver_id: StringBuilder::new(),
                driver_name: StringBuilder::new(),
                driver_code: StringBuilder::new(),
                car_number: UInt32Builder::new(),
                constructor_id: StringBuilder::new(),
                constructor_name: StringBuilder::new(),
                grid_position: UInt32Builder::new(),
            },
            results: ResultColumns {
                offsets: ListOffsets::with_capacity(n),
                valid: Validity::with_capacity(n),
                driver_id: StringBuilder::new(),
                position: UInt32Builder::new(),
                status: StringBuilder::new(),
                laps: UInt32Builder::new(),
                points: Float64Builder::new(),
            },
        }
    }

    /// Events appended since the last finish.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing was appended since the last finish.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one event.
    pub fn push(&mut self, event: &RaceEvent) -> Result<(), ArrowConversionError> {
        self.kind.append_value(event.type_name());
        self.race_id.append_value(event.race_id());
        self.ts.append_value(event.ts());
        let mut row = WideRow::default();
        match event {
            RaceEvent::RaceStart(e) => {
                row.season = Some(e.season);
                row.round = Some(e.round);
                row.name = Some(&e.name);
                row.date = Some(&e.date);
                row.circuit = Some(&e.circuit);
                row.scheduled_laps = Some(e.scheduled_laps);
                row.grid = Some(&e.grid);
            }
            RaceEvent::LapCompleted(e) => {
                row.driver_id = Some(&e.driver_id);
                row.lap = Some(e.lap);
                row.position = Some(e.position);
                row.lap_time_ms = Some(e.lap_time_ms);
                row.race_time_ms = Some(e.race_time_ms);
            }
            RaceEvent::PitIn(e) => {
                row.driver_id = Some(&e.driver_id);
                row.lap = Some(e.lap);
                row.stop = Some(e.stop);
            }
            RaceEvent::PitOut(e) => {
                row.driver_id = Some(&e.driver_id);
                row.lap = Some(e.lap);
                row.stop = Some(e.stop);
                row.duration_ms = e.duration_ms;
            }
            RaceEvent::Flag(e) => {
                row.lap = Some(e.lap);
                row.flag = Some(e.flag.as_str());
            }
            RaceEvent::Retirement(e) => {
                row.driver_id = Some(&e.driver_id);
                row.lap = Some(e.lap);
                row.status = Some(&e.status);
            }
            RaceEvent::RaceFinish(e) => row.results = Some(&e.results),
        }
        self.push_row(&row)?;
        self.rows += 1;
        Ok(())
    }

    fn push_row(&mut self, row: &WideRow<'_>) -> Result<(), ArrowConversionError> {
        self.driver_id.append_option(row.driver_id);
        self.lap.append_option(row.lap);
        self.position.append_option(row.position);
        self.lap_time_ms.append_option(row.lap_time_ms);
        self.race_time_ms.append_option(row.race_time_ms);
        self.stop.append_option(row.stop);
        self.duration_ms.append_option(row.duration_ms);
        self.flag.append_option(row.flag);
        self.status.append_option(row.status);
        self.season.append_option(row.season);
        self.round.append_option(row.round);
        self.name.append_option(row.name);
        self.date.append_option(row.date);
        self.scheduled_laps.append_option(row.scheduled_laps);
        let c = &mut self.circuit;
        c.valid.push(row.circuit.is_some());
        c.circuit_id
            .append_value(row.circuit.map_or("", |c| c.circuit_id.as_str()));
        c.name
            .append_option(row.circuit.and_then(|c| c.name.as_deref()));
        c.country
            .append_option(row.circuit.and_then(|c| c.country.as_deref()));
        self.grid.push(row.grid)?;
        self.results.push(row.results)
    }

    /// Finishes the batch of everything appended so far.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowConversionError> {
        let c = &mut self.circuit;
        let circuit = struct_array(
            &circuit_fields(),
            vec![
                Arc::new(c.circuit_id.finish()),
                Arc::new(c.name.finish()),
                Arc::new(c.country.finish()),
            ],
            c.valid.finish(),
        )?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.kind.finish()),
            Arc::new(self.race_id.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.driver_id.finish()),
            Arc::new(self.lap.finish()),
            Arc::new(self.position.finish()),
            Arc::new(self.lap_time_ms.finish()),
            Arc::new(self.race_time_ms.finish()),
            Arc::new(self.stop.finish()),
            Arc::new(self.duration_ms.finish()),
            Arc::new(self.flag.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.season.finish()),
            Arc::new(self.round.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.date.finish()),
            circuit,
            Arc::new(self.scheduled_laps.finish()),
            self.grid.finish()?,
            self.results.finish()?,
        ];
        self.rows = 0;
        Ok(RecordBatch::try_new(race_schema(), columns)?)
    }
}

/// The wide row of one event: `None` where the event type has no such field.
#[derive(Default)]
struct WideRow<'a> {
    driver_id: Option<&'a str>,
    lap: Option<u32>,
    position: Option<u32>,
    lap_time_ms: Option<i64>,
    race_time_ms: Option<i64>,
    stop: Option<u32>,
    duration_ms: Option<i64>,
    flag: Option<&'a str>,
    status: Option<&'a str>,
    season: Option<i32>,
    round: Option<i32>,
    name: Option<&'a str>,
    date: Option<&'a str>,
    circuit: Option<&'a Circuit>,
    scheduled_laps: Option<u32>,
    grid: Option<&'a [GridSlot]>,
    results: Option<&'a [ResultRow]>,
}

impl GridColumns {
    fn push(&mut self, grid: Option<&[GridSlot]>) -> Result<(), ArrowConversionError> {
        let slots = grid.unwrap_or_default();
        for s in slots {
            self.driver_id.append_value(&s.driver_id);
            self.driver_name.append_value(&s.driver_name);
            self.driver_code.append_option(s.driver_code.as_deref());
            self.car_number.append_option(s.car_number);
            self.constructor_id.append_value(&s.constructor_id);
            self.constructor_name
                .append_option(s.constructor_name.as_deref());
            self.grid_position.append_option(s.grid_position);
        }
        self.valid.push(grid.is_some());
        self.offsets.push_len(slots.len())
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowConversionError> {
        list_array(
            &list_of(grid_fields()),
            self.offsets.finish(),
            vec![
                Arc::new(self.driver_id.finish()),
                Arc::new(self.driver_name.finish()),
                Arc::new(self.driver_code.finish()),
                Arc::new(self.car_number.finish()),
                Arc::new(self.constructor_id.finish()),
                Arc::new(self.constructor_name.finish()),
                Arc::new(self.grid_position.finish()),
            ],
            self.valid.finish(),
        )
    }
}

impl ResultColumns {
    fn push(&mut self, results: Option<&[ResultRow]>) -> Result<(), ArrowConversionError> {
        let rows = results.unwrap_or_default();
        for r in rows {
            self.driver_id.append_value(&r.driver_id);
            self.position.append_option(r.position);
            self.status.append_value(&r.status);
            self.laps.append_value(r.laps);
            self.points.append_option(r.points);
        }
        self.valid.push(results.is_some());
        self.offsets.push_len(rows.len())
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowConversionError> {
        list_array(
            &list_of(result_fields()),
            self.offsets.finish(),
            vec![
                Arc::new(self.driver_id.finish()),
                Arc::new(self.position.finish()),
                Arc::new(self.status.finish()),
                Arc::new(self.laps.finish()),
                Arc::new(self.points.finish()),
            ],
            self.valid.finish(),
        )
    }
}

/// Converts a slice of race events into one batch.
pub fn race_events_to_batch(events: &[RaceEvent]) -> Result<RecordBatch, ArrowConversionError> {
    let mut builder = RaceBatchBuilder::with_capacity(events.len());
    for e in events {
        builder.push(e)?;
    }
    builder.finish()
}
