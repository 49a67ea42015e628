//! Small pieces shared by the Arrow conversions of both feeds: assembling
//! struct and list arrays from already-built children, and typed column access
//! for the reverse direction.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBufferBuilder, ListArray, RecordBatch, StructArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type, TimeUnit};

/// Errors turning Arrow data back into events: the batch does not have the
/// shape of the feed's schema. Always a caller bug or a foreign file.
#[derive(Debug, thiserror::Error)]
pub enum ArrowConversionError {
    /// A column is missing or has another type than the feed's schema says.
    #[error("column {column:?}: {problem}")]
    Shape {
        /// Dotted column path.
        column: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Arrow refused to assemble the arrays (a bug in the conversion).
    #[error("arrow: {0} (this is a bug)")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// `Timestamp(ms, UTC)`: event times are UTC epoch milliseconds on the wire.
pub(crate) fn timestamp_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// A `List<Struct<fields>>` type whose items are never null.
pub(crate) fn list_of(fields: Fields) -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(fields),
        false,
    )))
}

/// Validity bitmap built alongside a column; `None` at finish when all valid.
pub(crate) struct Validity {
    bits: BooleanBufferBuilder,
    nulls: usize,
}

impl Default for Validity {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl Validity {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            bits: BooleanBufferBuilder::new(n),
            nulls: 0,
        }
    }

    pub(crate) fn push(&mut self, valid: bool) {
        self.bits.append(valid);
        self.nulls += usize::from(!valid);
    }

    pub(crate) fn finish(&mut self) -> Option<NullBuffer> {
        let bits = self.bits.finish();
        let nulls = std::mem::take(&mut self.nulls);
        (nulls > 0).then(|| NullBuffer::new(bits))
    }
}

/// Offsets of a list column, one entry per row plus the leading zero.
pub(crate) struct ListOffsets {
    offsets: Vec<i32>,
}

impl ListOffsets {
    pub(crate) fn with_capacity(n: usize) -> Self {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        Self { offsets }
    }

    /// Ends a row holding `len` more items. Lists are bounded by the message
    /// size limit, so the i32 offsets cannot overflow within one batch of
    /// fewer than 2^31 items; the conversion reports an error beyond that.
    pub(crate) fn push_len(&mut self, len: usize) -> Result<(), ArrowConversionError> {
        let last = *self.offsets.last().unwrap_or(&0);
        let next = i32::try_from(len)
            .ok()
            .and_then(|l| last.checked_add(l))
            .ok_or_else(|| ArrowConversionError::Shape {
                column: "list".into(),
                problem: "more than 2^31 list items in one batch".into(),
            })?;
        self.offsets.push(next);
        Ok(())
    }

    pub(crate) fn finish(&mut self) -> OffsetBuffer<i32> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        OffsetBuffer::new(offsets.into())
    }
}

/// Builds a struct array from finished children.
pub(crate) fn struct_array(
    fields: &Fields,
    children: Vec<ArrayRef>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, ArrowConversionError> {
    Ok(Arc::new(StructArray::try_new(
        fields.clone(),
        children,
        nulls,
    )?))
}

/// Builds a list-of-struct array from offsets and the struct's children.
pub(crate) fn list_array(
    list_type: &DataType,
    offsets: OffsetBuffer<i32>,
    children: Vec<ArrayRef>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, ArrowConversionError> {
    let DataType::List(item) = list_type else {
        return Err(shape("list", "not a list type (this is a bug)"));
    };
    let DataType::Struct(fields) = item.data_type() else {
        return Err(shape("list", "list items are not structs (this is a bug)"));
    };
    let values = struct_array(fields, children, None)?;
    Ok(Arc::new(ListArray::try_new(
        FieldRef::clone(item),
        offsets,
        values,
        nulls,
    )?))
}

pub(crate) fn shape(column: &str, problem: &str) -> ArrowConversionError {
    ArrowConversionError::Shape {
        column: column.to_owned(),
        problem: problem.to_owned(),
    }
}

/// Typed access to the columns of a batch or struct by name.
pub(crate) struct Columns<'a> {
    prefix: String,
    names: Vec<&'a str>,
    arrays: Vec<&'a ArrayRef>,
}

impl<'a> Columns<'a> {
    pub(crate) fn of_batch(batch: &'a RecordBatch) -> Self {
        Self {
            prefix: String::new(),
            names: batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect(),
            arrays: batch.columns().iter().collect(),
        }
    }

    fn of_struct(prefix: String, array: &'a StructArray) -> Self {
        Self {
            prefix,
            names: array.fields().iter().map(|f| f.name().as_str()).collect(),
            arrays: array.columns().iter().collect(),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn get(&self, name: &str) -> Result<&'a ArrayRef, ArrowConversionError> {
        self.names
            .iter()
            .position(|n| *n == name)
            .map(|i| self.arrays[i])
            .ok_or_else(|| shape(&self.path(name), "missing"))
    }

    pub(crate) fn strings(
        &self,
        name: &str,
    ) -> Result<&'a arrow::array::StringArray, ArrowConversionError> {
        self.get(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| shape(&self.path(name), "not Utf8"))
    }

    pub(crate) fn i64s(
        &self,
        name: &str,
    ) -> Result<&'a arrow::array::Int64Array, ArrowConversionError> {
        self.get(name)?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| shape(&self.path(name), "not Int64"))
    }

    pub(crate) fn i32s(
        &self,
        name: &str,
    ) -> Result<&'a arrow::array::Int32Array, ArrowConversionError> {
        self.get(name)?
            .as_primitive_opt::<arrow::datatypes::Int32Type>()
            .ok_or_else(|| shape(&self.path(name), "not Int32"))
    }

    pub(crate) fn u32s(
        &self,
        name: &str,
    ) -> Result<&'a arrow::array::UInt32Array, ArrowConversionError> {
        self.get(name)?
            .as_primitive_opt::<arrow::datatypes::UInt32Type>()
            .ok_or_else(|| shape(&self.path(name), "not UInt32"))
    }

    pub(crate) fn f64s(
        &self,
        name: &str,
    ) -> Result<&'a arrow::array::Float64Array, ArrowConversionError> {
        self.get(name)?
            .as_primitive_opt::<arrow::datatypes::Float64Type>()
            .ok_or_else(|| shape(&self.path(name), "not Float64"))
    }

    pub(crate) fn timestamps(
        &self,
        name: &str,
    ) -> Result<&'a arrow::array::TimestampMillisecondArray, ArrowConversionError> {
        self.get(name)?
            .as_primitive_opt::<arrow::datatypes::TimestampMillisecondType>()
            .ok_or_else(|| shape(&self.path(name), "not Timestamp(ms)"))
    }

    /// The struct column `name` and its children.
    pub(crate) fn nested(
        &self,
        name: &str,
    ) -> Result<(&'a StructArray, Columns<'a>), ArrowConversionError> {
        let array = self
            .get(name)?
            .as_struct_opt()
            .ok_or_else(|| shape(&self.path(name), "not a struct"))?;
        Ok((
            array,
            Columns::of_struct(format!("{}.", self.path(name)), array),
        ))
    }

    /// The list-of-struct column `name`, its items' children, and the list.
    pub(crate) fn list(
        &self,
        name: &str,
    ) -> Result<(&'a ListArray, Columns<'a>), ArrowConversionError> {
        let list = self
            .get(name)?
            .as_list_opt::<i32>()
            .ok_or_else(|| shape(&self.path(name), "not a list"))?;
        let items = list
            .values()
            .as_struct_opt()
            .ok_or_else(|| shape(&self.path(name), "list items are not structs"))?;
        Ok((
            list,
            Columns::of_struct(format!("{}[].", self.path(name)), items),
        ))
    }
}

/// The item range of row `row` in a list array's values.
pub(crate) fn item_range(list: &ListArray, row: usize) -> std::ops::Range<usize> {
    let offsets = list.value_offsets();
    offsets[row] as usize..offsets[row + 1] as usize
}

/// `Some(value)` unless the slot is null.
pub(crate) fn opt<A: Array, T>(array: &A, row: usize, value: impl FnOnce() -> T) -> Option<T> {
    array.is_valid(row).then(value)
}
