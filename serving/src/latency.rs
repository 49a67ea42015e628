//! The speed layer's consumption latency as serving sees it, for the
//! dashboard's pipeline panel (`GET /api/latency`).
//!
//! Every `billabong.metrics` message carries `ingest_time_ms` (when its
//! input record was appended to Kafka) and `emit_time_ms` (when the speed
//! layer published it); their difference is the consumption latency, the
//! same quantity as the stream's `billabong_stream_consumption_latency_seconds`.
//! Messages are bucketed by the second they were emitted in; the newest
//! [`KEEP_SECONDS`] seconds of buckets are kept. "Real time" is the newest
//! message's latency, "average" the mean over the last [`AVERAGE_SECONDS`]
//! seconds of emit time before the newest message: both are functions of
//! what was read, not of the wall clock, like the rest of the state.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Seconds of history kept (and served).
const KEEP_SECONDS: i64 = 900;
/// The window of the average.
const AVERAGE_SECONDS: i64 = 60;

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    messages: u64,
    sum_ms: i64,
    max_ms: i64,
}

/// Latency per emit second.
#[derive(Debug, Default)]
pub(crate) struct Latency {
    buckets: BTreeMap<i64, Bucket>,
    /// (emit time, latency) of the newest message.
    last: Option<(i64, i64)>,
}

impl Latency {
    /// Folds one metrics message in (messages without both times are skipped).
    pub(crate) fn observe(&mut self, message: &Value) {
        let (Some(ingest), Some(emit)) = (
            message["ingest_time_ms"].as_i64(),
            message["emit_time_ms"].as_i64(),
        ) else {
            return;
        };
        let latency = (emit - ingest).max(0);
        let second = emit.div_euclid(1000);
        let b = self.buckets.entry(second).or_default();
        b.messages += 1;
        b.sum_ms += latency;
        b.max_ms = b.max_ms.max(latency);
        if self.last.is_none_or(|(t, _)| emit >= t) {
            self.last = Some((emit, latency));
        }
        let newest = self.buckets.last_key_value().map_or(second, |(s, _)| *s);
        while self
            .buckets
            .first_key_value()
            .is_some_and(|(s, _)| *s <= newest - KEEP_SECONDS)
        {
            self.buckets.pop_first();
        }
    }

    /// The `/api/latency` answer.
    pub(crate) fn to_json(&self) -> Value {
        let newest = self.buckets.last_key_value().map(|(s, _)| *s);
        let (mut n, mut sum) = (0_u64, 0_i64);
        if let Some(newest) = newest {
            for b in self
                .buckets
                .range(newest - AVERAGE_SECONDS + 1..)
                .map(|(_, b)| b)
            {
                n += b.messages;
                sum += b.sum_ms;
            }
        }
        let series: Vec<Value> = self
            .buckets
            .iter()
            .map(|(s, b)| {
                json!({"t": s * 1000, "messages": b.messages,
                       "mean_ms": b.sum_ms as f64 / b.messages as f64, "max_ms": b.max_ms})
            })
            .collect();
        json!({
            "definition": "emit_time_ms - ingest_time_ms of each billabong.metrics message",
            "last_ms": self.last.map(|(_, l)| l),
            "last_emit_time_ms": self.last.map(|(t, _)| t),
            "average_window_s": AVERAGE_SECONDS,
            "average_ms": (n > 0).then(|| sum as f64 / n as f64),
            "average_messages": n,
            "series": series,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_and_average_follow_emit_time() {
        let mut l = Latency::default();
        for (ingest, emit) in [(0, 10), (1000, 1030), (100_000, 100_050)] {
            l.observe(&json!({"ingest_time_ms": ingest, "emit_time_ms": emit}));
        }
        l.observe(&json!({"emit_time_ms": 5}));
        let v = l.to_json();
        assert_eq!(v["last_ms"], 50);
        assert_eq!(v["average_messages"], 1, "only the last 60 s of emit time");
        assert_eq!(v["series"].as_array().map(Vec::len), Some(3));
        for i in 0..2_000 {
            l.observe(&json!({"ingest_time_ms": i * 1000, "emit_time_ms": i * 1000 + 20}));
        }
        assert_eq!(
            l.to_json()["series"].as_array().map(Vec::len),
            Some(KEEP_SECONDS as usize)
        );
    }
}
