//! The producer's position in the feed: the feed clock, the window of records
//! produced at the current clock value, and the dropping of a reconnect's
//! overlap. Pure logic; the contract it relies on is in the module docs
//! (`ingest/mod.rs`, "Exactly once").

use std::collections::HashMap;

use bytes::Bytes;
use schemas::Feed;

use crate::simulator::event_time_ms;

/// A multiset of records, by content.
///
/// Identity must be the bytes themselves: the real RSVP recording holds
/// byte-identical lines that are distinct records (each must be produced as
/// often as it was sent) and repeated `rsvp_id`s with different contents, so
/// neither an id nor a set would do. Keys share the buffers of the records in
/// flight, so the window costs little beyond the map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Multiset {
    counts: HashMap<Bytes, u32>,
    len: usize,
}

impl Multiset {
    pub(crate) fn insert(&mut self, record: Bytes) {
        *self.counts.entry(record).or_insert(0) += 1;
        self.len += 1;
    }

    /// Removes one copy of `record`; false when there is none.
    pub(crate) fn take(&mut self, record: &[u8]) -> bool {
        match self.counts.get_mut(record) {
            Some(count) => {
                *count -= 1;
                if *count == 0 {
                    self.counts.remove(record);
                }
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.counts.clear();
        self.len = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What to do with one received record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Part of a reconnect's overlap: already produced, drop it.
    Duplicate,
    /// New: produce it, stamped with the feed clock after it.
    New {
        /// The clock after this record (`None` while no record had a time).
        clock: Option<i64>,
    },
}

/// The feed clock, the window and the overlap still expected.
#[derive(Debug, Clone)]
pub(crate) struct FeedCursor {
    feed: Feed,
    /// Running maximum of the event times of every record produced.
    clock: Option<i64>,
    /// Every record produced since the clock last took its current value:
    /// exactly what a catch-up at `since_mtime = clock` sends again.
    window: Multiset,
    /// What the current connection has yet to send again; `None` once a record
    /// outside it arrived.
    overlap: Option<Multiset>,
}

impl FeedCursor {
    /// A cursor that has produced nothing.
    pub(crate) fn new(feed: Feed) -> Self {
        FeedCursor::resumed(feed, None, Multiset::default())
    }

    /// A cursor restored from what Kafka holds (see `resume.rs`).
    pub(crate) fn resumed(feed: Feed, clock: Option<i64>, window: Multiset) -> Self {
        FeedCursor {
            feed,
            clock,
            window,
            overlap: None,
        }
    }

    /// The feed clock: the `since_mtime` of the next connection.
    pub(crate) fn clock(&self) -> Option<i64> {
        self.clock
    }

    /// Records in the window (for logs and tests).
    pub(crate) fn window_len(&self) -> usize {
        self.window.len()
    }

    /// A new connection (or a file read from its catch-up position) starts:
    /// it will first send the window again.
    pub(crate) fn on_connect(&mut self) {
        self.overlap = (!self.window.is_empty()).then(|| self.window.clone());
    }

    /// Decides about one received record and, when it is new, advances the
    /// clock and the window past it.
    pub(crate) fn observe(&mut self, record: &Bytes) -> Verdict {
        if let Some(overlap) = &mut self.overlap {
            if overlap.take(record) {
                return Verdict::Duplicate;
            }
            // The catch-up has moved past what we had: the rest is new.
            self.overlap = None;
        }
        match (self.clock, event_time_ms(self.feed, record)) {
            (Some(clock), Some(time)) if time > clock => {
                self.clock = Some(time);
                self.window.clear();
            }
            // The server gives records before the first event time that first
            // time as their clock, so they stay in the window with it.
            (None, Some(time)) => self.clock = Some(time),
            _ => {}
        }
        self.window.insert(record.clone());
        Verdict::New { clock: self.clock }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsvp(id: u32, mtime: i64) -> Bytes {
        Bytes::from(format!(r#"{{"rsvp_id":{id},"mtime":{mtime}}}"#))
    }

    /// Catch-up as the simulator serves it: from the first position whose
    /// running-max clock is at least `since`.
    fn catch_up(feed: &[Bytes], since: Option<i64>) -> Vec<Bytes> {
        let Some(since) = since else {
            return feed.to_vec();
        };
        let mut clock = None::<i64>;
        let start = feed
            .iter()
            .position(|r| {
                if let Some(t) = event_time_ms(Feed::Rsvps, r) {
                    clock = Some(clock.map_or(t, |c| c.max(t)));
                }
                clock.is_some_and(|c| c >= since)
            })
            .unwrap_or(feed.len());
        feed[start..].to_vec()
    }

    /// Produces `feed` with a reconnect after each index in `cuts`, and
    /// returns what was produced.
    fn produce_with_reconnects(feed: &[Bytes], cuts: &[usize]) -> (Vec<Bytes>, u64) {
        let mut cursor = FeedCursor::new(Feed::Rsvps);
        let mut produced = Vec::new();
        let mut dropped = 0;
        let mut stream = feed.to_vec();
        cursor.on_connect();
        let mut taken = 0;
        loop {
            let cut = cuts.iter().copied().find(|&c| c > taken);
            let mut reconnect = false;
            for record in stream.clone() {
                taken += 1;
                match cursor.observe(&record) {
                    Verdict::Duplicate => dropped += 1,
                    Verdict::New { .. } => produced.push(record),
                }
                if Some(taken) == cut {
                    reconnect = true;
                    break;
                }
            }
            if !reconnect {
                return (produced, dropped);
            }
            stream = catch_up(feed, cursor.clock());
            cursor.on_connect();
        }
    }

    fn real_like_feed() -> Vec<Bytes> {
        // Out of order, repeated times, byte-identical duplicates, a record
        // without a time: the real recording's warts.
        vec![
            rsvp(1, 100),
            rsvp(2, 100),
            rsvp(2, 100),
            rsvp(3, 90),
            Bytes::from_static(b"not json"),
            rsvp(4, 120),
            rsvp(5, 120),
            rsvp(5, 120),
            rsvp(6, 110),
            rsvp(7, 130),
            rsvp(8, 130),
        ]
    }

    #[test]
    fn every_cut_produces_the_feed_exactly_once() {
        let feed = real_like_feed();
        for a in 1..=feed.len() {
            for b in a..=feed.len() + 3 {
                let (produced, _) = produce_with_reconnects(&feed, &[a, b]);
                assert_eq!(produced, feed, "reconnects after {a} and {b} records taken");
            }
        }
    }

    #[test]
    fn a_reconnect_during_the_overlap_replays_the_whole_window_again() {
        let feed = real_like_feed();
        // Cut at 2 (clock 100, window {1,2}); the catch-up's first record is
        // then cut again (record 1 dropped, then reconnect).
        let (produced, dropped) = produce_with_reconnects(&feed, &[2, 3]);
        assert_eq!(produced, feed);
        assert_eq!(dropped, 3);
    }

    #[test]
    fn the_window_restarts_when_the_clock_advances() {
        let mut cursor = FeedCursor::new(Feed::Rsvps);
        assert_eq!(
            cursor.observe(&rsvp(1, 100)),
            Verdict::New { clock: Some(100) }
        );
        assert_eq!(
            cursor.observe(&rsvp(2, 90)),
            Verdict::New { clock: Some(100) }
        );
        assert_eq!(cursor.window_len(), 2);
        assert_eq!(
            cursor.observe(&rsvp(3, 101)),
            Verdict::New { clock: Some(101) }
        );
        assert_eq!(cursor.window_len(), 1);
    }

    #[test]
    fn leading_records_without_a_time_stay_in_the_first_window() {
        let mut cursor = FeedCursor::new(Feed::Rsvps);
        let garbage = Bytes::from_static(b"{");
        assert_eq!(cursor.observe(&garbage), Verdict::New { clock: None });
        assert_eq!(
            cursor.observe(&rsvp(1, 100)),
            Verdict::New { clock: Some(100) }
        );
        assert_eq!(cursor.window_len(), 2);
        cursor.on_connect();
        assert_eq!(cursor.observe(&garbage), Verdict::Duplicate);
    }

    #[test]
    fn a_record_outside_the_window_ends_the_overlap() {
        let mut cursor = FeedCursor::new(Feed::Rsvps);
        let a = rsvp(1, 100);
        cursor.observe(&a);
        cursor.on_connect();
        assert_eq!(
            cursor.observe(&rsvp(2, 100)),
            Verdict::New { clock: Some(100) }
        );
        // The overlap is over: a later copy of `a` is a new record.
        assert_eq!(cursor.observe(&a), Verdict::New { clock: Some(100) });
    }
}
