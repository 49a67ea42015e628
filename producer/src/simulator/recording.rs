//! A recording ready to serve: websocket messages built once, with the feed
//! clock that positions a catch-up and the schedule that paces a connection.
//! Shared by every connection of its route behind an `Arc`.

use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::load::Line;

/// One message and where it sits in feed time.
#[derive(Debug)]
pub(crate) struct Record {
    /// The frame to send; cloning it only bumps a reference count.
    pub(crate) message: Message,
    /// The feed clock `c_i` (running max of event times), ms since the epoch.
    pub(crate) clock_ms: i64,
    /// Feed time from the start of the recording to this record, ms: the sum
    /// of the clock's steps, with a segment pause in place of each step between
    /// two races.
    pub(crate) pace_ms: i64,
}

/// The records of one route, in the order they are sent.
pub(crate) struct Recording {
    records: Box<[Record]>,
    /// Feed time of one lap: the last record's pace plus a segment pause
    /// before the next lap starts.
    lap_ms: i64,
}

impl Recording {
    /// Builds the messages, clock and schedule of `lines`, each with its event
    /// time. A line that is not UTF-8 becomes a binary frame.
    pub(crate) fn new(lines: &[(&Line, Option<i64>)], segment_pause_ms: i64) -> Self {
        let clocks = super::clock::clocks(lines.iter().map(|(_, time)| *time));
        let mut records = Vec::with_capacity(lines.len());
        let mut pace_ms = 0_i64;
        for (i, ((line, _), &clock_ms)) in lines.iter().zip(&clocks).enumerate() {
            if i > 0 {
                let step = if line.race == lines[i - 1].0.race {
                    clock_ms - clocks[i - 1]
                } else {
                    segment_pause_ms
                };
                pace_ms = pace_ms.saturating_add(step);
            }
            let message = match Utf8Bytes::try_from(line.bytes.clone()) {
                Ok(text) => Message::Text(text),
                Err(_) => Message::Binary(line.bytes.clone()),
            };
            records.push(Record {
                message,
                clock_ms,
                pace_ms,
            });
        }
        Recording {
            records: records.into_boxed_slice(),
            lap_ms: pace_ms.saturating_add(segment_pause_ms),
        }
    }

    /// How many records one lap holds.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// The record at `position` of a lap.
    pub(crate) fn get(&self, position: usize) -> Option<&Record> {
        self.records.get(position)
    }

    /// Feed time of one lap, ms.
    pub(crate) fn lap_ms(&self) -> i64 {
        self.lap_ms
    }

    /// The first position whose clock is at or past `since_ms`; `len()` when
    /// none is. The clock never decreases, so a binary search finds it.
    pub(crate) fn start_position(&self, since_ms: i64) -> usize {
        self.records
            .partition_point(|record| record.clock_ms < since_ms)
    }

    /// The largest message, bytes: sizes the per-connection write buffer.
    pub(crate) fn largest_message(&self) -> usize {
        self.records
            .iter()
            .map(|record| record.message.len())
            .max()
            .unwrap_or(0)
    }
}

/// A summary: the records themselves would flood any log that prints one.
impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("records", &self.records.len())
            .field("lap_ms", &self.lap_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn lines(specs: &[(&str, u32)]) -> Vec<Line> {
        specs
            .iter()
            .map(|(text, race)| Line {
                bytes: Bytes::copy_from_slice(text.as_bytes()),
                race: *race,
            })
            .collect()
    }

    fn recording(lines: &[Line], times: &[Option<i64>]) -> Recording {
        let pairs: Vec<_> = lines.iter().zip(times.iter().copied()).collect();
        Recording::new(&pairs, 1_000)
    }

    #[test]
    fn pace_follows_the_clock_and_pauses_between_races() {
        let lines = lines(&[("a", 0), ("b", 0), ("c", 0), ("d", 1), ("e", 1)]);
        let rec = recording(
            &lines,
            &[Some(100), Some(50), Some(300), Some(9_999_999), None],
        );
        let pace: Vec<i64> = rec.records.iter().map(|r| r.pace_ms).collect();
        assert_eq!(pace, [0, 0, 200, 1_200, 1_200]);
        assert_eq!(rec.lap_ms(), 2_200);
    }

    #[test]
    fn start_position_is_the_first_clock_at_or_after_since() {
        let lines = lines(&[("a", 0), ("b", 0), ("c", 0), ("d", 0)]);
        let rec = recording(&lines, &[Some(10), Some(20), Some(15), Some(30)]);
        assert_eq!(rec.start_position(i64::MIN), 0);
        assert_eq!(rec.start_position(10), 0);
        assert_eq!(rec.start_position(11), 1);
        assert_eq!(rec.start_position(20), 1);
        assert_eq!(rec.start_position(21), 3);
        assert_eq!(rec.start_position(31), 4);
    }

    #[test]
    fn non_utf8_lines_become_binary_frames() {
        let line = Line {
            bytes: Bytes::from_static(b"{\"mtime\":1,\"x\":\"\xff\"}"),
            race: 0,
        };
        let rec = Recording::new(&[(&line, None)], 0);
        assert!(matches!(
            rec.get(0).map(|r| &r.message),
            Some(Message::Binary(_))
        ));
    }
}
