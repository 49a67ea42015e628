//! The public entry point: which data set, and the recordings it yields.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use schemas::race::RaceEvent;

use super::assemble::assemble;
use super::error::RaceDataError;
use super::{ergast, fia};

/// One of the two recorded data sets in `shared/data/race/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RaceDataset {
    /// `fia-pdf_2021-2023r5_*.csv`, scraped from FIA timing PDFs.
    Fia,
    /// `ergast_2020-2021_*.csv`, from the Ergast database.
    Ergast,
}

impl RaceDataset {
    /// Every data set, in the order `--help` lists them.
    pub const ALL: [RaceDataset; 2] = [RaceDataset::Fia, RaceDataset::Ergast];

    /// The name used in race ids and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RaceDataset::Fia => "fia",
            RaceDataset::Ergast => "ergast",
        }
    }
}

impl fmt::Display for RaceDataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RaceDataset {
    type Err = RaceDataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fia" => Ok(RaceDataset::Fia),
            "ergast" => Ok(RaceDataset::Ergast),
            _ => Err(RaceDataError::UnknownDataset { name: s.to_owned() }),
        }
    }
}

/// The feed of one race.
#[derive(Debug, Clone, PartialEq)]
pub struct RaceRecording {
    /// `"{dataset}-{year}-{round:02}"`.
    pub race_id: String,
    /// Every event of the race, in feed order.
    pub events: Vec<RaceEvent>,
    /// Source rows that could not become valid events, each with its file:line
    /// and the reason; empty for the recorded data.
    pub skipped: Vec<String>,
}

/// Reads one data set from `dir` and returns its races ordered by (year, round).
///
/// Fails on the first malformed or inconsistent row, naming its file and line:
/// the recorded data is a fixture, so a bad row is a broken fixture, not noise.
pub fn load_races(dir: &Path, dataset: RaceDataset) -> Result<Vec<RaceRecording>, RaceDataError> {
    let mut races = match dataset {
        RaceDataset::Fia => fia::load(dir)?,
        RaceDataset::Ergast => ergast::load(dir)?,
    };
    races.sort_by_key(|race| (race.info.season, race.info.round));
    Ok(races.into_iter().map(assemble).collect())
}
