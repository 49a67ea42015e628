//! Reading the recorded messages: JSON Lines split without copying, or the race
//! data folder turned into events.

use std::path::Path;

use bytes::Bytes;
use schemas::Feed;
use serde::Deserialize;

use super::config::FeedData;
use super::error::SimulatorError;
use crate::race_data::{RaceDataset, load_races};

/// One recorded message and the race it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// The message exactly as it will be sent.
    pub(crate) bytes: Bytes,
    /// Index into [`Loaded::races`]; 0 for RSVPs (one segment, no race routes).
    pub(crate) race: u32,
}

/// Everything read from the data, in recorded order.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) lines: Vec<Line>,
    /// Race ids in order of first appearance; empty for RSVPs.
    pub(crate) races: Vec<String>,
    /// Blank lines skipped (not messages).
    pub(crate) blank: usize,
}

/// Reads the data. Blocking: call it off the async runtime.
pub(crate) fn load(feed: Feed, data: FeedData) -> Result<Loaded, SimulatorError> {
    let loaded = match data {
        FeedData::JsonLines(path) => {
            let text = std::fs::read(&path).map_err(|source| SimulatorError::Read {
                path: path.clone(),
                source,
            })?;
            let (messages, blank) = split_lines(Bytes::from(text));
            with_races(feed, messages, blank)
        }
        FeedData::Messages(messages) => with_races(feed, messages, 0),
        FeedData::RaceData { dir, dataset } => race_folder(&dir, dataset)?,
    };
    Ok(loaded)
}

/// Splits JSON Lines into messages that share the file's buffer. A line end is
/// `\n` or `\r\n`; blank lines (only spaces and tabs) are counted, not kept.
fn split_lines(text: Bytes) -> (Vec<Bytes>, usize) {
    let mut messages = Vec::new();
    let mut blank = 0;
    let mut start = 0;
    while start < text.len() {
        let end = text[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |at| start + at);
        let mut line_end = end;
        if line_end > start && text[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let line = &text[start..line_end];
        if line.iter().all(|&b| b == b' ' || b == b'\t') {
            // A final line end leaves no empty "line" after it to count.
            if end < text.len() || !line.is_empty() {
                blank += 1;
            }
        } else {
            messages.push(text.slice(start..line_end));
        }
        start = end + 1;
    }
    (messages, blank)
}

/// Only the `race_id` of a race event; anything else is ignored.
#[derive(Deserialize)]
struct RaceId {
    race_id: Option<String>,
}

/// Assigns each message its race: the `race_id` it carries, or the race of the
/// message before it (the first race for leading messages without one).
fn with_races(feed: Feed, messages: Vec<Bytes>, blank: usize) -> Loaded {
    if feed == Feed::Rsvps {
        let lines = messages
            .into_iter()
            .map(|bytes| Line { bytes, race: 0 })
            .collect();
        return Loaded {
            lines,
            races: Vec::new(),
            blank,
        };
    }
    let ids: Vec<Option<String>> = messages
        .iter()
        .map(|bytes| {
            serde_json::from_slice::<RaceId>(bytes)
                .ok()
                .and_then(|r| r.race_id)
        })
        .collect();
    let mut races: Vec<String> = Vec::new();
    let mut current = 0;
    let mut lines = Vec::with_capacity(messages.len());
    for (bytes, id) in messages.into_iter().zip(&ids) {
        if let Some(id) = id {
            current = match races.iter().position(|known| known == id) {
                Some(at) => at,
                None => {
                    races.push(id.clone());
                    races.len() - 1
                }
            };
        }
        lines.push(Line {
            bytes,
            race: u32::try_from(current).unwrap_or(u32::MAX),
        });
    }
    Loaded {
        lines,
        races,
        blank,
    }
}

/// Loads a race data set and serialises its events, races in (year, round)
/// order: the same bytes `billabong race-feed` writes.
fn race_folder(dir: &Path, dataset: RaceDataset) -> Result<Loaded, SimulatorError> {
    let recordings = load_races(dir, dataset).map_err(|source| SimulatorError::RaceData {
        dir: dir.to_path_buf(),
        dataset,
        source,
    })?;
    let mut lines = Vec::new();
    let mut races = Vec::with_capacity(recordings.len());
    for (index, recording) in recordings.iter().enumerate() {
        for event in &recording.events {
            let json = serde_json::to_vec(event).map_err(|err| {
                SimulatorError::LoadTask(format!("a race event does not serialise: {err}"))
            })?;
            lines.push(Line {
                bytes: Bytes::from(json),
                race: u32::try_from(index).unwrap_or(u32::MAX),
            });
        }
        races.push(recording.race_id.clone());
    }
    Ok(Loaded {
        lines,
        races,
        blank: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> (Vec<String>, usize) {
        let (messages, blank) = split_lines(Bytes::from(text.to_owned()));
        let messages = messages
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        (messages, blank)
    }

    #[test]
    fn lines_are_split_without_their_ends_and_blanks_are_counted() {
        assert_eq!(split("a\nb\n"), (vec!["a".into(), "b".into()], 0));
        assert_eq!(split("a\r\nb"), (vec!["a".into(), "b".into()], 0));
        assert_eq!(split("\n \t\na\n\n"), (vec!["a".into()], 3));
        assert_eq!(split(" x \n"), (vec![" x ".into()], 0));
        assert_eq!(split(""), (vec![], 0));
    }

    #[test]
    fn race_lines_follow_their_race_id_or_the_line_before() {
        let messages = [
            "junk",
            r#"{"race_id":"a","ts":1}"#,
            "junk",
            r#"{"race_id":"b","ts":2}"#,
            r#"{"race_id":"a","ts":3}"#,
        ]
        .map(|m| Bytes::from(m.to_owned()))
        .to_vec();
        let loaded = with_races(Feed::Race, messages, 0);
        assert_eq!(loaded.races, ["a", "b"]);
        let races: Vec<u32> = loaded.lines.iter().map(|l| l.race).collect();
        assert_eq!(races, [0, 0, 0, 1, 0]);
    }
}
