//! Event time: the per-partition clock, the watermark and window assignment.
//!
//! The clock of a partition is the largest event time seen in it so far; the
//! watermark is the clock minus the allowed lateness. A window `[start, end)`
//! is *closed* once `end <= watermark`: its value is final, its state is
//! dropped, and an event that would fall into it is *late* — counted (per
//! window spec, in the `rsvp_late` update and a Prometheus counter), never
//! silently dropped. Both depend only on the partition's input prefix, which
//! keeps every output a function of input position (see the crate docs).

use serde::Serialize;

/// The event-time clock and watermark of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventClock {
    lateness_ms: i64,
    max_seen: Option<i64>,
}

impl EventClock {
    pub(crate) fn new(lateness_ms: i64) -> Self {
        EventClock {
            lateness_ms,
            max_seen: None,
        }
    }

    /// Moves the clock to `event_time` if it is later; returns the clock.
    pub(crate) fn observe(&mut self, event_time: i64) -> i64 {
        let clock = self.max_seen.map_or(event_time, |m| m.max(event_time));
        self.max_seen = Some(clock);
        clock
    }

    /// The largest event time seen (`i64::MIN` before the first event).
    pub(crate) fn now(&self) -> i64 {
        self.max_seen.unwrap_or(i64::MIN)
    }

    /// Clock − allowed lateness (`i64::MIN` before the first event).
    pub(crate) fn watermark(&self) -> i64 {
        self.max_seen
            .map_or(i64::MIN, |m| m.saturating_sub(self.lateness_ms))
    }
}

/// A half-open event-time interval `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) struct Window {
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
}

/// The tumbling window of `size_ms` that holds `t`.
pub(crate) fn tumbling(t: i64, size_ms: i64) -> Window {
    let start_ms = t.div_euclid(size_ms) * size_ms;
    Window {
        start_ms,
        end_ms: start_ms + size_ms,
    }
}

/// The hopping ("sliding") windows of `size_ms` that advance by `hop_ms` and
/// hold `t`, oldest first. `size_ms` must be a multiple of `hop_ms`.
pub(crate) fn hopping(t: i64, size_ms: i64, hop_ms: i64) -> impl Iterator<Item = Window> {
    let last_start = t.div_euclid(hop_ms) * hop_ms;
    let count = size_ms / hop_ms;
    (0..count).rev().map(move |i| {
        let start_ms = last_start - i * hop_ms;
        Window {
            start_ms,
            end_ms: start_ms + size_ms,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_handles_negative_times_and_edges() {
        assert_eq!(
            tumbling(59_999, 60_000),
            Window {
                start_ms: 0,
                end_ms: 60_000
            }
        );
        assert_eq!(tumbling(60_000, 60_000).start_ms, 60_000);
        assert_eq!(tumbling(-1, 60_000).start_ms, -60_000);
    }

    #[test]
    fn hopping_windows_all_contain_the_time() {
        let t = 1_489_000_123_456;
        let windows: Vec<_> = hopping(t, 300_000, 60_000).collect();
        assert_eq!(windows.len(), 5);
        assert!(windows.iter().all(|w| w.start_ms <= t && t < w.end_ms));
        assert!(windows.windows(2).all(|p| p[0].start_ms < p[1].start_ms));
    }

    #[test]
    fn watermark_trails_the_largest_event_time() {
        let mut clock = EventClock::new(1_000);
        assert_eq!(clock.watermark(), i64::MIN);
        clock.observe(10_000);
        clock.observe(5_000);
        assert_eq!(clock.now(), 10_000);
        assert_eq!(clock.watermark(), 9_000);
    }
}
