//! `--scale K`: derived copies of each record for load tests, with ids that
//! cannot collide with the real ones (scheme on `SimulatorConfig::scale`).

use bytes::Bytes;
use schemas::Feed;
use serde_json::Value;

use super::load::Line;

/// Copy `j` of an RSVP adds `j × RSVP_ID_STRIDE` to its id. Real ids are below
/// 2 × 10^9 and `scale` is at most 1,000, so copies stay far inside `i64` and
/// two (id, j) pairs with ids below the stride never map to the same id.
const RSVP_ID_STRIDE: i64 = 10_000_000_000;

/// Follows every line by `scale - 1` derived copies, each in its original's
/// race (so per-race routes serve a race's copies too).
pub(crate) fn scale(feed: Feed, lines: Vec<Line>, scale: u32) -> Vec<Line> {
    if scale <= 1 {
        return lines;
    }
    let copies = usize::try_from(scale).unwrap_or(usize::MAX);
    let mut scaled = Vec::with_capacity(lines.len().saturating_mul(copies));
    for line in lines {
        let value = serde_json::from_slice::<Value>(&line.bytes).ok();
        let race = line.race;
        let original = line.bytes.clone();
        scaled.push(line);
        for j in 1..scale {
            let bytes = value
                .as_ref()
                .and_then(|value| derive(feed, value, j))
                .unwrap_or_else(|| original.clone());
            scaled.push(Line { bytes, race });
        }
    }
    scaled
}

/// [`scale`] over plain records, for benchmarks and tests that enlarge data
/// exactly as `billabong simulate --scale` does: each record is followed by
/// `scale - 1` derived copies (RSVPs: id + j × 10^10, mtime + j ms; race
/// events: race id suffixed `-x<j>`).
pub fn scale_records(feed: Feed, records: Vec<Vec<u8>>, scale: u32) -> Vec<Vec<u8>> {
    let lines = records
        .into_iter()
        .map(|r| Line {
            bytes: Bytes::from(r),
            race: 0,
        })
        .collect();
    self::scale(feed, lines, scale)
        .into_iter()
        .map(|l| l.bytes.to_vec())
        .collect()
}

/// Copy `j` of one record, or `None` when it lacks the fields to make a fresh
/// id (such a record is repeated unchanged).
fn derive(feed: Feed, value: &Value, j: u32) -> Option<Bytes> {
    let mut copy = value.clone();
    let object = copy.as_object_mut()?;
    match feed {
        Feed::Rsvps => {
            let id = object.get("rsvp_id")?.as_i64()?;
            let mtime = object.get("mtime")?.as_i64()?;
            let id = id.checked_add(RSVP_ID_STRIDE.checked_mul(i64::from(j))?)?;
            object.insert("rsvp_id".to_owned(), Value::from(id));
            object.insert("mtime".to_owned(), Value::from(mtime + i64::from(j)));
        }
        Feed::Race => {
            let id = object.get("race_id")?.as_str()?;
            let id = format!("{id}-x{j}");
            object.insert("race_id".to_owned(), Value::from(id));
        }
    }
    serde_json::to_vec(&copy).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        Line {
            bytes: Bytes::from(text.to_owned()),
            race: 4,
        }
    }

    #[test]
    fn rsvp_copies_get_fresh_ids_and_shifted_times() {
        let lines = vec![line(r#"{"rsvp_id":7,"mtime":100,"x":[1]}"#), line("junk")];
        let scaled = scale(Feed::Rsvps, lines, 3);
        let texts: Vec<&[u8]> = scaled.iter().map(|l| &l.bytes[..]).collect();
        assert_eq!(
            texts,
            [
                &br#"{"rsvp_id":7,"mtime":100,"x":[1]}"#[..],
                br#"{"mtime":101,"rsvp_id":10000000007,"x":[1]}"#,
                br#"{"mtime":102,"rsvp_id":20000000007,"x":[1]}"#,
                b"junk",
                b"junk",
                b"junk",
            ]
        );
        assert!(scaled.iter().all(|l| l.race == 4));
    }

    #[test]
    fn race_copies_get_a_suffixed_race_id() {
        let scaled = scale(
            Feed::Race,
            vec![line(r#"{"race_id":"fia-2021-01","ts":1}"#)],
            2,
        );
        assert_eq!(
            &scaled[1].bytes[..],
            br#"{"race_id":"fia-2021-01-x1","ts":1}"#
        );
    }
}
