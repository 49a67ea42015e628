//! The producer's position in the feed: the feed clock, the window of records
//! produced at the current clock value, and the dropping of a reconnect's
//! overlap. Pure logic; the contract it relies on is in the module docs
//! (`ingest/mod.rs`, "Exactly once").

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use schemas::Feed;

#[cfg(test)]
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
    counts: HashMap<Bytes, u32, WindowHashKeys>,
    len: usize,
}

impl Multiset {
    pub(crate) fn insert(&mut self, record: Bytes) {
        *self.counts.entry(record).or_insert(0) += 1;
        self.len += 1;
    }

    /// [`Multiset::insert`] of a record still in use elsewhere: the key is
    /// cloned only when it is not there yet.
    pub(crate) fn insert_ref(&mut self, record: &Bytes) {
        match self.counts.get_mut(record.as_ref()) {
            Some(count) => *count += 1,
            None => {
                self.counts.insert(record.clone(), 1);
            }
        }
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

/// The window's hash keys: random per multiset (kept by its clones), so that
/// a feed cannot aim at collisions; see [`WindowHasher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowHashKeys {
    seed: u64,
    key: u64,
}

impl Default for WindowHashKeys {
    fn default() -> Self {
        WindowHashKeys {
            seed: fastrand::u64(..),
            // Odd, so that no key can zero a product by itself.
            key: fastrand::u64(..) | 1,
        }
    }
}

impl BuildHasher for WindowHashKeys {
    type Hasher = WindowHasher;

    fn build_hasher(&self) -> WindowHasher {
        WindowHasher {
            state: self.seed,
            key: self.key,
        }
    }
}

/// A keyed multiply-fold hash (the wyhash/foldhash construction: each
/// 16-byte block is mixed with one 64×64→128-bit multiply), an order of
/// magnitude cheaper than SipHash on the window's kilobyte records. The
/// payloads hashed here are whole records, several hundred bytes, so the
/// per-byte cost is what counts.
#[derive(Debug, Clone)]
pub(crate) struct WindowHasher {
    state: u64,
    key: u64,
}

/// Multiplies into 128 bits and folds the halves together.
fn fold_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Constants of the mixing: the fractional digits of pi (as in wyhash).
const MIX: [u64; 2] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344];

impl Hasher for WindowHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut state = self.state;
        let mut blocks = bytes.chunks_exact(16);
        for block in &mut blocks {
            let (a, b) = block.split_at(8);
            let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
            let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
            state = fold_multiply(a ^ self.key ^ MIX[0], b ^ state);
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut padded = [0u8; 16];
            padded[..rest.len()].copy_from_slice(rest);
            let (a, b) = padded.split_at(8);
            let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
            let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
            state = fold_multiply(a ^ self.key ^ MIX[1], b ^ state ^ rest.len() as u64);
        }
        self.state = state;
    }

    fn write_u64(&mut self, n: u64) {
        self.state = fold_multiply(n ^ self.key ^ MIX[1], self.state ^ MIX[0]);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        fold_multiply(self.state ^ MIX[0], self.key ^ MIX[1])
    }
}

/// What to do with one received record.
#[cfg(test)]
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
    /// Read only by the tests' `observe`: the run passes each record's time
    /// in (taken from its validation), see [`FeedCursor::advance`].
    #[cfg_attr(not(test), expect(dead_code, reason = "the run passes event times in"))]
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
    #[cfg(test)]
    pub(crate) fn observe(&mut self, record: &Bytes) -> Verdict {
        if self.is_overlap(record) {
            return Verdict::Duplicate;
        }
        Verdict::New {
            clock: self.advance(record, event_time_ms(self.feed, record)),
        }
    }

    /// The first half of [`FeedCursor::observe`]: whether `record` is part of
    /// a reconnect's overlap (then it is dropped, and its copy taken out of
    /// the overlap). A record outside it ends the overlap; it must then be
    /// passed to [`FeedCursor::advance`].
    pub(crate) fn is_overlap(&mut self, record: &[u8]) -> bool {
        if let Some(overlap) = &mut self.overlap {
            if overlap.take(record) {
                return true;
            }
            // The catch-up has moved past what we had: the rest is new.
            self.overlap = None;
        }
        false
    }

    /// The second half of [`FeedCursor::observe`]: a new record, with its
    /// event time as [`event_time_ms`] reads it, advances the clock and the
    /// window. Returns the clock after it.
    pub(crate) fn advance(&mut self, record: &Bytes, time: Option<i64>) -> Option<i64> {
        debug_assert!(self.overlap.is_none(), "advance before the overlap ended");
        match (self.clock, time) {
            (Some(clock), Some(time)) if time > clock => {
                self.clock = Some(time);
                self.window.clear();
            }
            // The server gives records before the first event time that first
            // time as their clock, so they stay in the window with it.
            (None, Some(time)) => self.clock = Some(time),
            _ => {}
        }
        self.window.insert_ref(record);
        self.clock
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
