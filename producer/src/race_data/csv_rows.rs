//! The one place that reads CSV: it copes with the files' quirks (CRLF, quoted
//! fields, `\N` nulls, ragged rows, no final newline) and turns every problem into
//! a [`RaceDataError`] that names the file and line.

use std::fs;
use std::path::Path;
use std::str::FromStr;

use csv::StringRecord;

use super::error::{RaceDataError, Result};

/// Ergast's NULL marker.
const NULL: &str = "\\N";

/// One data row, with enough context to explain a bad field.
pub(crate) struct Row<'a> {
    path: &'a Path,
    line: u64,
    record: &'a StringRecord,
    /// The requested columns and their index in the record.
    columns: &'a [(&'static str, usize)],
}

impl Row<'_> {
    /// The row's line in the file (header = 1).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The field of `column`, as written (quotes removed).
    pub(crate) fn str(&self, column: &'static str) -> Result<&str> {
        let index = self
            .columns
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, index)| *index);
        index
            .and_then(|i| self.record.get(i))
            .ok_or_else(|| RaceDataError::MissingField {
                path: self.path.to_path_buf(),
                line: self.line,
                column,
            })
    }

    /// The field, or `None` for `\N` and empty fields.
    pub(crate) fn opt(&self, column: &'static str) -> Result<Option<&str>> {
        let value = self.str(column)?;
        Ok((!value.is_empty() && value != NULL).then_some(value))
    }

    /// The field parsed as `T`; `expected` describes `T` for the error message.
    pub(crate) fn parse<T: FromStr>(
        &self,
        column: &'static str,
        expected: &'static str,
    ) -> Result<T> {
        let value = self.str(column)?;
        value.parse().map_err(|_| self.bad(column, value, expected))
    }

    /// Like [`Row::parse`], but `\N` and empty fields give `None`.
    pub(crate) fn opt_parse<T: FromStr>(
        &self,
        column: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>> {
        match self.opt(column)? {
            None => Ok(None),
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|_| self.bad(column, value, expected)),
        }
    }

    /// An error for a field that does not hold what `column` should.
    pub(crate) fn bad(
        &self,
        column: &'static str,
        value: &str,
        expected: &'static str,
    ) -> RaceDataError {
        RaceDataError::BadField {
            path: self.path.to_path_buf(),
            line: self.line,
            column,
            value: value.to_owned(),
            expected,
        }
    }

    /// An error for a row that contradicts the rest of the data set.
    pub(crate) fn inconsistent(&self, message: String) -> RaceDataError {
        RaceDataError::Inconsistent {
            path: self.path.to_path_buf(),
            line: self.line,
            message,
        }
    }
}

/// Physical line numbers from byte offsets. The `csv` crate's own line count is
/// one short after CRLF line ends (rust-csv#395) and after blank lines
/// (rust-csv#208), and Ergast files use CRLF; byte offsets are right except that
/// they may point at the line end before the record, so that is skipped.
struct Lines<'b> {
    bytes: &'b [u8],
    /// Bytes before `offset` hold `line - 1` newlines.
    offset: usize,
    line: u64,
}

impl<'b> Lines<'b> {
    fn new(bytes: &'b [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first byte at or after `byte` that is not a line end.
    fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else { return 0 };
        let mut target = usize::try_from(position.byte())
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while matches!(self.bytes.get(target), Some(b'\r' | b'\n')) {
            target += 1;
        }
        if target < self.offset {
            (self.offset, self.line) = (0, 1);
        }
        let newlines = self.bytes[self.offset..target]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.line += newlines as u64;
        self.offset = target;
        self.line
    }
}

/// Calls `visit` for each data row of `path`, which must have all of `columns`.
///
/// Rows may have fewer fields than the header (`flexible`): the FIA files declare a
/// trailing `void` column that their data rows omit. A row that lacks a column the
/// caller reads fails in [`Row::str`] instead, with its line. The files are a few
/// MB at most, so they are read whole, which also gives exact line numbers.
pub(crate) fn for_each_row(
    path: &Path,
    columns: &[&'static str],
    mut visit: impl FnMut(&Row<'_>) -> Result<()>,
) -> Result<()> {
    let bytes = fs::read(path).map_err(|source| RaceDataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = Lines::new(&bytes);
    let csv_error = |lines: &mut Lines<'_>, source: csv::Error| RaceDataError::Csv {
        path: path.to_path_buf(),
        line: lines.line_of(source.position()),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header = match reader.headers() {
        Ok(header) => header.clone(),
        Err(source) => return Err(csv_error(&mut lines, source)),
    };
    let mut indexed = Vec::with_capacity(columns.len());
    for &column in columns {
        let index = header.iter().position(|name| name.trim() == column);
        let index = index.ok_or_else(|| RaceDataError::MissingColumn {
            path: path.to_path_buf(),
            column,
        })?;
        indexed.push((column, index));
    }
    let mut record = StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(source) => return Err(csv_error(&mut lines, source)),
        }
        let row = Row {
            path,
            line: lines.line_of(record.position()),
            record: &record,
            columns: &indexed,
        };
        visit(&row)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line of the record that starts at (or just after the line end at) `byte`.
    fn line(lines: &mut Lines<'_>, byte: u64) -> u64 {
        let mut position = csv::Position::new();
        position.set_byte(byte);
        lines.line_of(Some(&position))
    }

    #[test]
    fn lines_skip_crlf_and_blank_lines() {
        let bytes = b"h\r\na\r\n\r\nb\nc";
        let mut lines = Lines::new(bytes);
        assert_eq!(line(&mut lines, 2), 2); // at the LF of "h\r\n"
        assert_eq!(line(&mut lines, 6), 4); // a blank line is skipped
        assert_eq!(line(&mut lines, 10), 5);
        assert_eq!(line(&mut lines, 0), 1); // backwards: recounts
        assert_eq!(lines.line_of(None), 0);
    }
}
