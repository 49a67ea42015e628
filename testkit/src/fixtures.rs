//! The real recorded data in `shared/data/` (provenance in its README).

use std::path::PathBuf;

use producer::race_data::{RaceDataset, RaceRecording, load_races};

/// `shared/data`, beside the repository (or `$BILLABONG_SHARED_DATA`).
pub fn shared_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BILLABONG_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    assert!(
        dir.is_dir(),
        "real data not found at {}: clone the repository beside shared/, or set BILLABONG_SHARED_DATA",
        dir.display()
    );
    dir
}

/// The recorded Meetup RSVP stream file.
pub fn rsvp_file() -> PathBuf {
    shared_data_dir().join("meetup-rsvps/javadbayzavi-meetup_rsvp_stream-2017-03.jsonl")
}

/// Every line of the recorded RSVP stream, byte for byte (1,541 records).
pub fn rsvp_lines() -> Vec<Vec<u8>> {
    let path = rsvp_file();
    let text =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The race directory of `shared/data`.
pub fn race_dir() -> PathBuf {
    shared_data_dir().join("race")
}

/// The race feed derived from one real data set.
pub fn race_recordings(dataset: RaceDataset) -> Vec<RaceRecording> {
    load_races(&race_dir(), dataset)
        .unwrap_or_else(|e| panic!("cannot load the {dataset} race data: {e}"))
}

/// Every race feed message of one data set as JSON Lines bytes, in feed order.
pub fn race_lines(dataset: RaceDataset) -> Vec<Vec<u8>> {
    race_recordings(dataset)
        .iter()
        .flat_map(|r| r.events.iter())
        .map(|e| serde_json::to_vec(e).expect("race events always serialise"))
        .collect()
}
