//! PostgreSQL → Arrow type mapping, and decoding of binary COPY values.
//!
//! | PostgreSQL | Arrow | how |
//! | --- | --- | --- |
//! | int2 / int4 / int8 | Int16 / Int32 / Int64 | as is |
//! | float4 / float8 | Float32 / Float64 | as is |
//! | numeric | Float64 | `::float8` in the scan: an unconstrained `numeric` has no precision or scale to give Decimal128, and the batch views hold ratios and averages where 15 significant digits are plenty |
//! | bool | Boolean | as is |
//! | text, varchar, char, name | Utf8 | as is |
//! | bytea | Binary | as is |
//! | timestamptz | Timestamp(µs, "UTC") | exact: PostgreSQL stores microseconds |
//! | timestamp | Timestamp(µs) | exact, no zone |
//! | date | Date32 | exact |
//! | json, jsonb, uuid, enums, arrays, everything else | Utf8 | `::text` in the scan: PostgreSQL's own text form |
//!
//! `infinity` / `-infinity` timestamps and dates have no Arrow value and read as NULL.

use std::error::Error as StdError;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use tokio_postgres::binary_copy::BinaryCopyOutRow;
use tokio_postgres::types::{FromSql, Type};

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

/// How one PostgreSQL column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PgColumnType {
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric`, read through `::float8`.
    Numeric,
    Bool,
    Text,
    Bytea,
    Timestamp,
    TimestampTz,
    Date,
    /// Anything else, read through `::text`.
    OtherAsText,
}

impl PgColumnType {
    /// From `pg_type.typname` (of the base type for a domain).
    pub(crate) fn from_type_name(name: &str) -> Self {
        match name {
            "int2" => Self::Int16,
            "int4" => Self::Int32,
            "int8" => Self::Int64,
            "float4" => Self::Float32,
            "float8" => Self::Float64,
            "numeric" => Self::Numeric,
            "bool" => Self::Bool,
            "text" | "varchar" | "bpchar" | "name" => Self::Text,
            "bytea" => Self::Bytea,
            "timestamp" => Self::Timestamp,
            "timestamptz" => Self::TimestampTz,
            "date" => Self::Date,
            _ => Self::OtherAsText,
        }
    }

    /// The Arrow type of the column.
    pub(crate) fn arrow_type(self) -> DataType {
        match self {
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Float32 => DataType::Float32,
            Self::Float64 | Self::Numeric => DataType::Float64,
            Self::Bool => DataType::Boolean,
            Self::Text | Self::OtherAsText => DataType::Utf8,
            Self::Bytea => DataType::Binary,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Self::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Self::Date => DataType::Date32,
        }
    }

    /// The select-list expression for a quoted column name.
    pub(crate) fn select_expr(self, quoted: &str) -> String {
        match self {
            Self::Numeric => format!("{quoted}::float8"),
            Self::Text | Self::OtherAsText => format!("{quoted}::text"),
            _ => quoted.to_owned(),
        }
    }

    /// The type on the wire after [`Self::select_expr`].
    pub(crate) fn wire_type(self) -> Type {
        match self {
            Self::Int16 => Type::INT2,
            Self::Int32 => Type::INT4,
            Self::Int64 => Type::INT8,
            Self::Float32 => Type::FLOAT4,
            Self::Float64 | Self::Numeric => Type::FLOAT8,
            Self::Bool => Type::BOOL,
            Self::Text | Self::OtherAsText => Type::TEXT,
            Self::Bytea => Type::BYTEA,
            Self::Timestamp => Type::TIMESTAMP,
            Self::TimestampTz => Type::TIMESTAMPTZ,
            Self::Date => Type::DATE,
        }
    }
}

/// A timestamp as PostgreSQL sends it: µs since 2000-01-01, `i64::MAX`/`MIN`
/// for ±infinity. Decoded raw so that no date-time crate is needed and no
/// precision is lost.
struct PgMicros(i64);

impl<'a> FromSql<'a> for PgMicros {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let bytes: [u8; 8] = raw.try_into()?;
        Ok(Self(i64::from_be_bytes(bytes)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMP || *ty == Type::TIMESTAMPTZ
    }
}

/// A date as PostgreSQL sends it: days since 2000-01-01, `i32::MAX`/`MIN` for ±infinity.
struct PgDays(i32);

impl<'a> FromSql<'a> for PgDays {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let bytes: [u8; 4] = raw.try_into()?;
        Ok(Self(i32::from_be_bytes(bytes)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

fn unix_micros(pg: i64) -> Option<i64> {
    if pg == i64::MAX || pg == i64::MIN {
        return None;
    }
    pg.checked_add(PG_EPOCH_MICROS)
}

fn unix_days(pg: i32) -> Option<i32> {
    if pg == i32::MAX || pg == i32::MIN {
        return None;
    }
    pg.checked_add(PG_EPOCH_DAYS)
}

/// Builds one Arrow column from binary COPY rows.
pub(crate) enum ColumnBuilder {
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    Bytea(BinaryBuilder),
    Timestamp(TimestampMicrosecondBuilder, Option<Arc<str>>),
    Date(Date32Builder),
}

type DecodeResult = Result<(), tokio_postgres::Error>;

impl ColumnBuilder {
    pub(crate) fn new(ty: PgColumnType) -> Self {
        match ty {
            PgColumnType::Int16 => Self::Int16(Int16Builder::new()),
            PgColumnType::Int32 => Self::Int32(Int32Builder::new()),
            PgColumnType::Int64 => Self::Int64(Int64Builder::new()),
            PgColumnType::Float32 => Self::Float32(Float32Builder::new()),
            PgColumnType::Float64 | PgColumnType::Numeric => Self::Float64(Float64Builder::new()),
            PgColumnType::Bool => Self::Bool(BooleanBuilder::new()),
            PgColumnType::Text | PgColumnType::OtherAsText => Self::Text(StringBuilder::new()),
            PgColumnType::Bytea => Self::Bytea(BinaryBuilder::new()),
            PgColumnType::Timestamp => Self::Timestamp(TimestampMicrosecondBuilder::new(), None),
            PgColumnType::TimestampTz => {
                Self::Timestamp(TimestampMicrosecondBuilder::new(), Some("UTC".into()))
            }
            PgColumnType::Date => Self::Date(Date32Builder::new()),
        }
    }

    /// Appends field `idx` of `row`.
    pub(crate) fn append(&mut self, row: &BinaryCopyOutRow, idx: usize) -> DecodeResult {
        match self {
            Self::Int16(b) => b.append_option(row.try_get::<Option<i16>>(idx)?),
            Self::Int32(b) => b.append_option(row.try_get::<Option<i32>>(idx)?),
            Self::Int64(b) => b.append_option(row.try_get::<Option<i64>>(idx)?),
            Self::Float32(b) => b.append_option(row.try_get::<Option<f32>>(idx)?),
            Self::Float64(b) => b.append_option(row.try_get::<Option<f64>>(idx)?),
            Self::Bool(b) => b.append_option(row.try_get::<Option<bool>>(idx)?),
            Self::Text(b) => b.append_option(row.try_get::<Option<&str>>(idx)?),
            Self::Bytea(b) => b.append_option(row.try_get::<Option<&[u8]>>(idx)?),
            Self::Timestamp(b, _) => {
                let v = row.try_get::<Option<PgMicros>>(idx)?;
                b.append_option(v.and_then(|m| unix_micros(m.0)));
            }
            Self::Date(b) => {
                let v = row.try_get::<Option<PgDays>>(idx)?;
                b.append_option(v.and_then(|d| unix_days(d.0)));
            }
        }
        Ok(())
    }

    /// The finished column; the builder is left empty for the next batch.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Int16(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
            Self::Bytea(b) => Arc::new(b.finish()),
            Self::Timestamp(b, tz) => Arc::new(b.finish().with_timezone_opt(tz.clone())),
            Self::Date(b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_convert() {
        assert_eq!(unix_micros(0), Some(PG_EPOCH_MICROS));
        assert_eq!(unix_micros(i64::MAX), None);
        assert_eq!(unix_days(0), Some(10_957));
        assert_eq!(unix_days(-10_957), Some(0));
        assert_eq!(unix_days(i32::MIN), None);
    }

    #[test]
    fn unknown_types_read_as_text() {
        let t = PgColumnType::from_type_name("jsonb");
        assert_eq!(t, PgColumnType::OtherAsText);
        assert_eq!(t.select_expr("\"doc\""), "\"doc\"::text");
        assert_eq!(t.arrow_type(), DataType::Utf8);
        assert_eq!(
            PgColumnType::from_type_name("numeric").select_expr("\"x\""),
            "\"x\"::float8"
        );
    }
}
