//! Arrow record batches into PostgreSQL with binary COPY.
//!
//! The target's column types come from the server (a prepared `SELECT` of the
//! columns), and each Arrow column is checked against its type once per batch,
//! so a mismatch is an error naming the column rather than a server-side
//! "incorrect binary data format". Values are written in PostgreSQL's binary
//! wire format directly: no text round trip, no per-value allocation.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    UInt32Array,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt32Type,
};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{StreamExt, pin_mut};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::error::{Error, Result};

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from the Unix epoch to PostgreSQL's epoch.
const PG_EPOCH_US: i64 = PG_EPOCH_DAYS as i64 * 86_400_000_000;

/// One value in PostgreSQL binary form.
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Null,
    Bool(bool),
    I32(i32),
    I64(i64),
    F64(f64),
    Text(&'a str),
    /// Microseconds since the Unix epoch.
    TimestampUs(i64),
    /// Days since the Unix epoch.
    Date(i32),
}

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match *self {
            Cell::Null => return Ok(IsNull::Yes),
            Cell::Bool(v) => out.put_u8(u8::from(v)),
            Cell::I32(v) => out.put_i32(v),
            Cell::I64(v) => out.put_i64(v),
            Cell::F64(v) => out.put_f64(v),
            Cell::Text(v) => out.put_slice(v.as_bytes()),
            Cell::TimestampUs(v) => out.put_i64(v - PG_EPOCH_US),
            Cell::Date(v) => out.put_i32(v - PG_EPOCH_DAYS),
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::BOOL,
            Type::INT4,
            Type::INT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::DATE,
        ]
        .contains(ty)
    }

    to_sql_checked!();
}

/// A column of a batch, checked against its PostgreSQL type.
enum Reader<'a> {
    Bool(&'a BooleanArray),
    I32(&'a Int32Array),
    U32AsI32(&'a UInt32Array),
    I32AsI64(&'a Int32Array),
    I64(&'a Int64Array),
    F64(&'a Float64Array),
    Text(&'a StringArray),
    /// Timestamp values and the factor to microseconds (or divisor, negative).
    Timestamp(&'a dyn Array, TimeUnit),
    Date(&'a dyn Array),
}

impl<'a> Reader<'a> {
    fn new(column: &'a dyn Array, ty: &Type, name: &str) -> Result<Self> {
        let mismatch = || {
            Error::Data(format!(
                "column {name}: cannot write Arrow {} as PostgreSQL {ty}",
                column.data_type()
            ))
        };
        Ok(match (column.data_type(), ty) {
            (DataType::Boolean, t) if *t == Type::BOOL => Reader::Bool(column.as_boolean()),
            (DataType::Int32, t) if *t == Type::INT4 => {
                Reader::I32(column.as_primitive::<Int32Type>())
            }
            (DataType::Int32, t) if *t == Type::INT8 => {
                Reader::I32AsI64(column.as_primitive::<Int32Type>())
            }
            (DataType::UInt32, t) if *t == Type::INT4 => {
                Reader::U32AsI32(column.as_primitive::<UInt32Type>())
            }
            (DataType::Int64, t) if *t == Type::INT8 => {
                Reader::I64(column.as_primitive::<Int64Type>())
            }
            (DataType::Float64, t) if *t == Type::FLOAT8 => {
                Reader::F64(column.as_primitive::<Float64Type>())
            }
            (DataType::Utf8, t) if *t == Type::TEXT => Reader::Text(column.as_string::<i32>()),
            (DataType::Timestamp(unit, _), t) if *t == Type::TIMESTAMPTZ => {
                Reader::Timestamp(column, *unit)
            }
            (DataType::Date32, t) if *t == Type::DATE => Reader::Date(column),
            _ => return Err(mismatch()),
        })
    }

    fn cell(&self, row: usize, name: &str) -> Result<Cell<'a>> {
        let array: &dyn Array = match self {
            Reader::Bool(a) => *a,
            Reader::I32(a) | Reader::I32AsI64(a) => *a,
            Reader::U32AsI32(a) => *a,
            Reader::I64(a) => *a,
            Reader::F64(a) => *a,
            Reader::Text(a) => *a,
            Reader::Timestamp(a, _) | Reader::Date(a) => *a,
        };
        if array.is_null(row) {
            return Ok(Cell::Null);
        }
        Ok(match self {
            Reader::Bool(a) => Cell::Bool(a.value(row)),
            Reader::I32(a) => Cell::I32(a.value(row)),
            Reader::I32AsI64(a) => Cell::I64(i64::from(a.value(row))),
            Reader::U32AsI32(a) => Cell::I32(i32::try_from(a.value(row)).map_err(|_| {
                Error::Data(format!("column {name}: {} exceeds integer", a.value(row)))
            })?),
            Reader::I64(a) => Cell::I64(a.value(row)),
            Reader::F64(a) => Cell::F64(a.value(row)),
            Reader::Text(a) => Cell::Text(a.value(row)),
            Reader::Timestamp(a, unit) => Cell::TimestampUs(timestamp_us(*a, *unit, row)),
            Reader::Date(a) => Cell::Date(a.as_primitive::<Date32Type>().value(row)),
        })
    }
}

fn timestamp_us(array: &dyn Array, unit: TimeUnit, row: usize) -> i64 {
    match unit {
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .value(row)
            .saturating_mul(1_000_000),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .value(row)
            .saturating_mul(1_000),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .value(row)
            .div_euclid(1_000),
    }
}

/// Copies every batch of `stream` into `table`, matching the batches'
/// columns to the table's by position; returns the rows written.
pub async fn copy_stream(
    client: &Transaction<'_>,
    table: &str,
    columns: &[&str],
    stream: SendableRecordBatchStream,
) -> Result<u64> {
    let column_list = columns.join(", ");
    let probe = client
        .prepare(&format!("SELECT {column_list} FROM {table} LIMIT 0"))
        .await
        .map_err(Error::pg(format!("describe {table}")))?;
    let types: Vec<Type> = probe.columns().iter().map(|c| c.type_().clone()).collect();
    let sink = client
        .copy_in(&format!(
            "COPY {table} ({column_list}) FROM STDIN (FORMAT binary)"
        ))
        .await
        .map_err(Error::pg(format!("start COPY into {table}")))?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    pin_mut!(stream);
    while let Some(batch) = stream.next().await {
        let batch: RecordBatch = batch?;
        if batch.num_columns() != columns.len() {
            return Err(Error::Data(format!(
                "{table}: query gives {} columns for {} table columns",
                batch.num_columns(),
                columns.len()
            )));
        }
        let readers = batch
            .columns()
            .iter()
            .zip(&types)
            .zip(columns)
            .map(|((c, t), name)| Reader::new(c.as_ref(), t, name))
            .collect::<Result<Vec<_>>>()?;
        let mut row_buf: Vec<Cell<'_>> = Vec::with_capacity(columns.len());
        for row in 0..batch.num_rows() {
            row_buf.clear();
            for (reader, name) in readers.iter().zip(columns) {
                row_buf.push(reader.cell(row, name)?);
            }
            writer
                .as_mut()
                .write_raw(row_buf.iter().copied())
                .await
                .map_err(Error::pg(format!("COPY into {table}")))?;
        }
    }
    writer
        .finish()
        .await
        .map_err(Error::pg(format!("finish COPY into {table}")))
}
