//! The real records, loaded once per test binary, and small tools to corrupt
//! copies of them at a JSON path.

use std::fmt::Debug;
use std::sync::LazyLock;

use billabong_schemas::{ErrorKind, Limits, RaceEvent, Result, Rsvp, ValidationError};
use producer::race_data::{RaceDataset, RaceRecording};
use serde_json::Value;
use testkit::fixtures::{race_lines, race_recordings, rsvp_lines};

/// Records in `meetup-rsvps/javadbayzavi-meetup_rsvp_stream-2017-03.jsonl`.
pub(crate) const RSVP_COUNT: usize = 1_541;

/// Both race data sets.
pub(crate) const DATASETS: [RaceDataset; 2] = [RaceDataset::Fia, RaceDataset::Ergast];

/// One recorded RSVP line and what it parsed to.
pub(crate) struct RealRsvp {
    pub(crate) line: Vec<u8>,
    pub(crate) rsvp: Rsvp,
}

/// One race data set: its recordings, its feed lines and the parsed events.
pub(crate) struct RealRace {
    pub(crate) recordings: Vec<RaceRecording>,
    pub(crate) lines: Vec<Vec<u8>>,
    pub(crate) events: Vec<RaceEvent>,
}

static RSVPS: LazyLock<Vec<RealRsvp>> = LazyLock::new(|| {
    rsvp_lines()
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let rsvp = parse_rsvp(&line)
                .unwrap_or_else(|e| panic!("real RSVP on line {} is rejected: {e}", i + 1));
            RealRsvp { line, rsvp }
        })
        .collect()
});

fn load_race(dataset: RaceDataset) -> RealRace {
    let lines = race_lines(dataset);
    let events = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            parse_race(line).unwrap_or_else(|e| panic!("{dataset} race event {i} is rejected: {e}"))
        })
        .collect();
    RealRace {
        recordings: race_recordings(dataset),
        lines,
        events,
    }
}

static FIA: LazyLock<RealRace> = LazyLock::new(|| load_race(RaceDataset::Fia));
static ERGAST: LazyLock<RealRace> = LazyLock::new(|| load_race(RaceDataset::Ergast));

/// Every recorded RSVP, in file order (panics if any is rejected).
pub(crate) fn real_rsvps() -> &'static [RealRsvp] {
    &RSVPS
}

/// One race data set (panics if any of its events is rejected).
pub(crate) fn real_race(dataset: RaceDataset) -> &'static RealRace {
    match dataset {
        RaceDataset::Fia => &FIA,
        RaceDataset::Ergast => &ERGAST,
    }
}

/// The first recorded RSVP that has every optional key.
pub(crate) fn complete_rsvp() -> &'static RealRsvp {
    real_rsvps()
        .iter()
        .find(|r| {
            let m = &r.rsvp.member;
            r.rsvp.venue.is_some()
                && m.photo.is_some()
                && m.other_services.as_ref().is_some_and(|s| s.len() > 1)
                && r.rsvp.event.time.is_some()
                && r.rsvp.group.group_state.is_some()
        })
        .expect("the recording has complete records")
}

pub(crate) fn parse_rsvp(bytes: &[u8]) -> Result<Rsvp> {
    Rsvp::parse(bytes, &Limits::default())
}

pub(crate) fn parse_race(bytes: &[u8]) -> Result<RaceEvent> {
    RaceEvent::parse(bytes, &Limits::default())
}

pub(crate) fn value_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("the real record is JSON")
}

pub(crate) fn line_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a Value always serialises")
}

/// RSVP fields typed `f64`. The wire writes whole-degree coordinates as JSON
/// integers (`"lat":0`, 188 times in the recording); serialising the `f64`
/// writes `0.0`. Same number, different JSON token.
const RSVP_FLOAT_FIELDS: [&str; 4] = [
    "group.group_lat",
    "group.group_lon",
    "venue.lat",
    "venue.lon",
];

/// The wire record as a JSON value, normalised to how [`Rsvp`] serialises it.
///
/// The one normalisation: an integer at one of [`RSVP_FLOAT_FIELDS`] becomes
/// the equal float. Nothing else changes: keys absent on the wire must be
/// absent after the round trip (no `null`s added), every key present must come
/// back with an equal value, and string escapes (`\/`) are compared decoded.
pub(crate) fn rsvp_wire_value(line: &[u8]) -> Value {
    let mut value = value_of(line);
    for path in RSVP_FLOAT_FIELDS {
        if let Some(n) = get_mut(&mut value, path)
            && let Some(f) = n.as_f64()
        {
            *n = Value::from(f);
        }
    }
    value
}

/// A step of a path such as `group.group_topics[3].urlkey`.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(close) = rest.find(']') {
            let index = rest[1..close].parse().expect("an index in a test path");
            out.push(Step::Index(index));
            rest = &rest[close + 1..];
        }
    }
    out
}

/// The value at `path`, if present.
pub(crate) fn get_mut<'a>(value: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    steps(path)
        .into_iter()
        .try_fold(value, |v, step| match step {
            Step::Key(k) => v.get_mut(k),
            Step::Index(i) => v.get_mut(i),
        })
}

/// Replaces the value at `path`, or adds the key if its object exists.
pub(crate) fn set(value: &mut Value, path: &str, new: Value) {
    let (parent, key) = match path.rsplit_once('.') {
        Some((parent, key)) if !key.ends_with(']') => (get_mut(value, parent), key),
        None if !path.ends_with(']') => (Some(value), path),
        _ => {
            *get_mut(value, path).unwrap_or_else(|| panic!("{path} is absent")) = new;
            return;
        }
    };
    let object = parent.and_then(Value::as_object_mut);
    object
        .unwrap_or_else(|| panic!("the object of {path} is absent"))
        .insert(key.to_owned(), new);
}

/// Removes the object key at `path`, which must exist.
pub(crate) fn remove(value: &mut Value, path: &str) {
    let (parent, key) = match path.rsplit_once('.') {
        Some((parent, key)) => (get_mut(value, parent), key),
        None => (Some(value), path),
    };
    let removed = parent
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key));
    assert!(removed.is_some(), "{path} is absent");
}

/// Every object key in `value`, as a path (`member.member_id`,
/// `group.group_topics[0].urlkey`), parents before children.
pub(crate) fn key_paths(value: &Value) -> Vec<String> {
    fn walk(value: &Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.push(path.clone());
                    walk(v, &path, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{prefix}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}

/// A copy of `line` with the value at `path` replaced.
pub(crate) fn with(line: &[u8], path: &str, new: Value) -> Vec<u8> {
    let mut value = serde_json::from_slice(line).expect("a real record");
    set(&mut value, path, new);
    line_of(&value)
}

/// Inserts `text` right after the first occurrence of `after` in `line`.
pub(crate) fn insert_after(line: &[u8], after: &str, text: &[u8]) -> Vec<u8> {
    let at = line
        .windows(after.len())
        .position(|w| w == after.as_bytes())
        .unwrap_or_else(|| panic!("{after} not in the record"))
        + after.len();
    [&line[..at], text, &line[at..]].concat()
}

/// Asserts that `result` failed with `kind` at JSON path `path`.
#[track_caller]
pub(crate) fn assert_error<T: Debug>(
    result: Result<T, ValidationError>,
    kind: ErrorKind,
    path: &str,
    what: &str,
) {
    match result {
        Ok(v) => panic!("{what}: accepted, expected {kind} at {path}: {v:?}"),
        Err(e) => assert_eq!(
            (e.kind, e.path.as_str()),
            (kind, path),
            "{what}: wrong error: {e}"
        ),
    }
}
