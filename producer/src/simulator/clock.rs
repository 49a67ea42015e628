//! The feed clock: which event time a record carries, and the running maximum
//! that paces the simulator and positions a catch-up (contract in `mod.rs`).

use schemas::Feed;
use serde::Deserialize;

/// Only the RSVP's `mtime`: serde skips every other field without building it.
#[derive(Deserialize)]
struct Mtime {
    mtime: Option<i64>,
}

/// Only the race event's `ts`.
#[derive(Deserialize)]
struct Ts {
    ts: Option<i64>,
}

/// The event time of one message, ms since the Unix epoch: `mtime` for RSVPs,
/// `ts` for race events.
///
/// `None` when the message is not a JSON object, lacks the field, holds it as
/// anything but an integer, or holds it twice: such a record keeps the clock of
/// the record before it. The pass is cheap (no other field is built) and does
/// not validate the message; a record the schema rejects still has a clock if
/// the field reads.
pub fn event_time_ms(feed: Feed, message: &[u8]) -> Option<i64> {
    match feed {
        Feed::Rsvps => serde_json::from_slice::<Mtime>(message).ok()?.mtime,
        Feed::Race => serde_json::from_slice::<Ts>(message).ok()?.ts,
    }
}

/// The feed clock as a client computes it: the running maximum of the event
/// times of the records it has received, in order.
///
/// Passing [`FeedClock::now_ms`] as `since_mtime` when reconnecting resumes the
/// simulator's stream without loss (see the catch-up contract in `mod.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedClock {
    feed: Feed,
    now_ms: Option<i64>,
}

impl FeedClock {
    /// A clock that has seen no record yet.
    pub fn new(feed: Feed) -> Self {
        FeedClock { feed, now_ms: None }
    }

    /// Advances the clock past one received message and returns the clock
    /// after it (`None` until a message with an event time arrives).
    pub fn observe(&mut self, message: &[u8]) -> Option<i64> {
        if let Some(time) = event_time_ms(self.feed, message) {
            self.now_ms = Some(self.now_ms.map_or(time, |now| now.max(time)));
        }
        self.now_ms
    }

    /// The highest event time seen so far: the `since_mtime` to reconnect with.
    pub fn now_ms(&self) -> Option<i64> {
        self.now_ms
    }
}

/// The feed clock of every record of a sequence, as the server computes it.
///
/// Records before the first event time take the first event time, so they are
/// sent at once and belong to any catch-up that starts at the beginning; a
/// sequence without any event time has clock 0 throughout.
pub(crate) fn clocks(event_times: impl Iterator<Item = Option<i64>> + Clone) -> Vec<i64> {
    let first = event_times.clone().flatten().next().unwrap_or(0);
    let mut now = first;
    event_times
        .map(|time| {
            if let Some(time) = time {
                now = now.max(time);
            }
            now
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_time_field() {
        let rsvp = br#"{"rsvp_id":1,"mtime":1489925470960,"member":{"x":[1,2]}}"#;
        assert_eq!(event_time_ms(Feed::Rsvps, rsvp), Some(1_489_925_470_960));
        assert_eq!(event_time_ms(Feed::Race, rsvp), None);
        let race = br#"{"type":"flag","race_id":"fia-2021-01","ts":5,"lap":3,"flag":"red"}"#;
        assert_eq!(event_time_ms(Feed::Race, race), Some(5));
    }

    #[test]
    fn unreadable_times_are_none() {
        for message in [
            &b"not json"[..],
            br#"{"mtime":"1489925470960"}"#,
            br#"{"mtime":1.5}"#,
            br#"{"mtime":1,"mtime":2}"#,
            br#"{"mtime":1"#,
            br#"[1,2]"#,
        ] {
            assert_eq!(event_time_ms(Feed::Rsvps, message), None, "{message:?}");
        }
        // Skipped fields are not checked, invalid UTF-8 in them included: the
        // clock reads the time of any record whose time field reads.
        let not_utf8 = b"{\"mtime\":1,\"x\":\"\xff\"}";
        assert_eq!(event_time_ms(Feed::Rsvps, not_utf8), Some(1));
    }

    #[test]
    fn clock_is_the_running_max_and_leading_records_take_the_first_time() {
        let times = [None, Some(10), Some(7), None, Some(12), Some(11)];
        assert_eq!(clocks(times.into_iter()), vec![10, 10, 10, 10, 12, 12]);
        assert_eq!(clocks([None, None].into_iter()), vec![0, 0]);
    }

    #[test]
    fn client_clock_matches_the_server_clock_once_started() {
        let messages: [&[u8]; 4] = [
            br#"{"mtime":10}"#,
            br#"{"mtime":7}"#,
            b"garbage",
            br#"{"mtime":12}"#,
        ];
        let mut clock = FeedClock::new(Feed::Rsvps);
        let seen: Vec<_> = messages.iter().map(|m| clock.observe(m)).collect();
        let server = clocks(messages.iter().map(|m| event_time_ms(Feed::Rsvps, m)));
        assert_eq!(seen, server.into_iter().map(Some).collect::<Vec<_>>());
        assert_eq!(clock.now_ms(), Some(12));
    }
}
