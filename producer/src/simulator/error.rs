//! Why the simulator could not start. Every variant is the operator's to fix
//! (a flag, a file, a port); once serving, a failing connection is logged and
//! dropped, never an error of the whole server.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::race_data::{RaceDataError, RaceDataset};

/// A failure to configure, load or bind the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// `--speed` was neither `max` nor a finite number above zero.
    #[error("invalid speed {given:?}: expected \"max\" or a number above zero")]
    InvalidSpeed {
        /// What was given.
        given: String,
    },
    /// A setting is out of its range or does not fit the others.
    #[error("invalid {setting}: {message}")]
    InvalidConfig {
        /// The setting's name (`scale`, `data`...).
        setting: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The data file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The race data folder could not be turned into events.
    #[error("cannot load the {dataset} race data from {}", dir.display())]
    RaceData {
        /// The folder.
        dir: PathBuf,
        /// The data set asked for.
        dataset: RaceDataset,
        /// What went wrong, with file and line.
        source: RaceDataError,
    },
    /// The data holds no message at all: there would be nothing to serve.
    #[error("no records in {what}")]
    NoRecords {
        /// The data, as described in logs.
        what: String,
    },
    /// The listening socket could not be set up (address in use, not local...).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Loading ran on a blocking thread that died; this is a bug.
    #[error("internal error (this is a bug): the data loading task failed: {0}")]
    LoadTask(String),
}
