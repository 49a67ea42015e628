//! The payloads: the real recorded RSVP lines and race feed lines
//! (`testkit::fixtures`), cycled to the record count a run asks for, with the
//! keys the producer would give them, computed before any clock starts.

use std::io::Write as _;
use std::path::Path;

use producer::race_data::RaceDataset;
use schemas::{Feed, Limits};

/// One record as every path sends it.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The raw bytes (one JSON Lines line, without its newline).
    pub bytes: Vec<u8>,
    /// The producer's key (`event_id` or `race_id`); `None` for a record that
    /// fails validation, which the producer sends to the DLQ without a key.
    pub key: Option<String>,
}

/// The real lines of `feed`: every recorded RSVP, or the race feed of the
/// first race data set.
pub fn real_lines(feed: Feed) -> Vec<Vec<u8>> {
    match feed {
        Feed::Rsvps => testkit::fixtures::rsvp_lines(),
        Feed::Race => testkit::fixtures::race_lines(RaceDataset::ALL[0]),
    }
}

/// `count` records taken from `lines` in order, starting again at the first
/// line when they run out. Repeated lines are byte-identical; that is what
/// the simulator's `--loop` sends too.
pub fn cycled(feed: Feed, lines: &[Vec<u8>], count: usize) -> Vec<Payload> {
    let limits = Limits::default();
    let keyed: Vec<Payload> = lines
        .iter()
        .map(|bytes| Payload {
            key: feed
                .parse(bytes, &limits)
                .ok()
                .map(|event| event.key().to_owned()),
            bytes: bytes.clone(),
        })
        .collect();
    keyed.iter().cycle().take(count).cloned().collect()
}

/// How many of `payloads` pass validation (and go to the raw topic).
pub fn valid_count(payloads: &[Payload]) -> u64 {
    payloads.iter().filter(|p| p.key.is_some()).count() as u64
}

/// Total payload bytes.
pub fn total_bytes(payloads: &[Payload]) -> u64 {
    payloads.iter().map(|p| p.bytes.len() as u64).sum()
}

/// Writes `payloads` as JSON Lines, for `billabong produce --source file:`.
pub fn write_jsonl(path: &Path, payloads: &[Payload]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for payload in payloads {
        out.write_all(&payload.bytes)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
