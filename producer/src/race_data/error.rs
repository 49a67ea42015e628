//! Why loading race data failed: always with the file, and the line where one exists,
//! so a bad fixture can be fixed without a debugger.

use std::path::PathBuf;

/// A failure to turn the recorded race data into events.
///
/// Lines are 1-based physical lines of the CSV file (the header is line 1), as the
/// `csv` crate reports them for the start of a record.
#[derive(Debug, thiserror::Error)]
pub enum RaceDataError {
    /// The dataset name was neither `fia` nor `ergast`.
    #[error("unknown race dataset {name:?}, expected \"fia\" or \"ergast\"")]
    UnknownDataset {
        /// What was given.
        name: String,
    },
    /// A file could not be opened or read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV reader rejected the bytes (bad quoting, invalid UTF-8...).
    #[error("{}:{line}: malformed CSV", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line of the record, 0 when the reader could not tell.
        line: u64,
        /// The underlying error.
        source: csv::Error,
    },
    /// The header lacks a column the loader needs.
    #[error("{}:1: missing column {column:?} in the header", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column's name.
        column: &'static str,
    },
    /// A row ends before a column the loader needs (a truncated row).
    #[error("{}:{line}: row has no field for column {column:?}", path.display())]
    MissingField {
        /// The file.
        path: PathBuf,
        /// Line of the row.
        line: u64,
        /// The column's name.
        column: &'static str,
    },
    /// A field could not be read as what its column holds.
    #[error("{}:{line}: column {column:?}: {value:?} is not {expected}", path.display())]
    BadField {
        /// The file.
        path: PathBuf,
        /// Line of the row.
        line: u64,
        /// The column's name.
        column: &'static str,
        /// The field as found.
        value: String,
        /// What the column should hold.
        expected: &'static str,
    },
    /// A row contradicts the rest of the data set (unknown race or driver, a
    /// duplicated lap...).
    #[error("{}:{line}: {message}", path.display())]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// Line of the row.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// Result alias of this module.
pub(crate) type Result<T> = std::result::Result<T, RaceDataError>;
