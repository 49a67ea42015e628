//! The emission policy (after the NSQ video play-count pipeline): publish only
//! values that changed; a key's first `hot_threshold` changes go out at once
//! ("cold"), after that ("hot") at most once per `hot_interval_ms` of the
//! partition's event-time clock. A held-back value is published when its
//! interval has passed and a later input arrives, or when the key becomes
//! final (its window closes, its race finishes), so the last value of every
//! key is always published.
//!
//! The interval is measured on the event-time clock, not the wall clock, so
//! what is published — and when, in input positions — depends only on the
//! input: a replay reproduces it exactly, which the exactly-once scheme needs.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::config::EmitConfig;
use crate::update::Update;

#[derive(Debug, Default)]
struct KeyState {
    /// The last published value.
    published: Option<Value>,
    /// Changes offered so far.
    changes: u64,
    /// Clock at the last publication.
    last_emit: Option<i64>,
    /// A held-back change and the clock at which it is due.
    pending: Option<(i64, Update)>,
}

/// Decides which updates are published, per partition.
#[derive(Debug)]
pub(crate) struct Emitter {
    config: EmitConfig,
    keys: BTreeMap<String, KeyState>,
    /// Held-back keys by due clock.
    due: BTreeSet<(i64, String)>,
    /// Keys by the watermark at which they are final.
    finals: BTreeSet<(i64, String)>,
}

impl Emitter {
    pub(crate) fn new(config: EmitConfig) -> Self {
        Emitter {
            config,
            keys: BTreeMap::new(),
            due: BTreeSet::new(),
            finals: BTreeSet::new(),
        }
    }

    /// Offers a change computed at event-time clock `clock`; what is to be
    /// published now is appended to `out`.
    pub(crate) fn offer(&mut self, update: Update, clock: i64, out: &mut Vec<Update>) {
        if update.is_event {
            out.push(update);
            return;
        }
        let state = self.keys.entry(update.key.clone()).or_default();
        if let Some((due, _)) = state.pending.take() {
            self.due.remove(&(due, update.key.clone()));
        }
        if state.published.as_ref() == Some(&update.value) {
            return;
        }
        if let Some(final_at) = update.final_at
            && state.changes == 0
        {
            self.finals.insert((final_at, update.key.clone()));
        }
        state.changes += 1;
        let interval = self.config.hot_interval_ms;
        let due_at = state
            .last_emit
            .map_or(i64::MIN, |t| t.saturating_add(interval));
        if state.changes <= self.config.hot_threshold || clock >= due_at {
            state.published = Some(update.value.clone());
            state.last_emit = Some(clock);
            out.push(update);
        } else {
            self.due.insert((due_at, update.key.clone()));
            state.pending = Some((due_at, update));
        }
    }

    /// Publishes held-back values that are due at `clock` and final values
    /// of keys the `watermark` has passed, then forgets those keys.
    pub(crate) fn advance(&mut self, clock: i64, watermark: i64, out: &mut Vec<Update>) {
        while let Some((due, key)) = self.due.first().cloned() {
            if due > clock {
                break;
            }
            self.due.pop_first();
            self.publish_pending(&key, clock, out);
        }
        while let Some((final_at, key)) = self.finals.first().cloned() {
            if final_at > watermark {
                break;
            }
            self.finals.pop_first();
            self.finish(&key, clock, out);
        }
    }

    /// Publishes pending values of every key starting with `prefix` and
    /// forgets them (a finished race).
    pub(crate) fn finish_prefix(&mut self, prefix: &str, clock: i64, out: &mut Vec<Update>) {
        let keys: Vec<String> = self
            .keys
            .range(prefix.to_owned()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        for key in keys {
            self.finish(&key, clock, out);
        }
    }

    /// Keys with state (for tests and the memory gauge).
    pub(crate) fn tracked_keys(&self) -> usize {
        self.keys.len()
    }

    /// Publishes the pending value of `key`, if any, and forgets the key.
    pub(crate) fn finish(&mut self, key: &str, clock: i64, out: &mut Vec<Update>) {
        if let Some(state) = self.keys.get(key)
            && let Some((due, _)) = &state.pending
        {
            let due = *due;
            self.due.remove(&(due, key.to_owned()));
            self.publish_pending(key, clock, out);
        }
        // A stale `finals` entry of a forgotten key finds no state: harmless.
        self.keys.remove(key);
    }

    fn publish_pending(&mut self, key: &str, clock: i64, out: &mut Vec<Update>) {
        if let Some(state) = self.keys.get_mut(key)
            && let Some((_, update)) = state.pending.take()
        {
            state.published = Some(update.value.clone());
            state.last_emit = Some(clock);
            out.push(update);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config() -> EmitConfig {
        EmitConfig {
            max_keys_per_message: 20,
            hot_threshold: 2,
            hot_interval_ms: 1_000,
        }
    }

    fn update(key: &str, value: i64) -> Update {
        Update::value(key.into(), "test", (0, 0), json!(value))
    }

    fn values(out: &[Update]) -> Vec<Value> {
        out.iter().map(|u| u.value.clone()).collect()
    }

    #[test]
    fn unchanged_values_are_not_published() {
        let mut emitter = Emitter::new(config());
        let mut out = Vec::new();
        emitter.offer(update("k", 1), 0, &mut out);
        emitter.offer(update("k", 1), 1, &mut out);
        assert_eq!(values(&out), vec![json!(1)]);
    }

    #[test]
    fn hot_keys_wait_for_their_interval_and_publish_the_latest() {
        let mut emitter = Emitter::new(config());
        let mut out = Vec::new();
        for (clock, value) in [(0, 1), (10, 2), (20, 3), (30, 4)] {
            emitter.offer(update("k", value), clock, &mut out);
            emitter.advance(clock, i64::MIN, &mut out);
        }
        assert_eq!(values(&out), vec![json!(1), json!(2)]);
        emitter.advance(1_009, i64::MIN, &mut out);
        assert_eq!(values(&out), vec![json!(1), json!(2)]);
        emitter.advance(1_010, i64::MIN, &mut out);
        assert_eq!(values(&out), vec![json!(1), json!(2), json!(4)]);
    }

    #[test]
    fn final_keys_flush_their_pending_value_and_are_forgotten() {
        let mut emitter = Emitter::new(config());
        let mut out = Vec::new();
        for (clock, value) in [(0, 1), (1, 2), (2, 3)] {
            let mut u = update("w", value);
            u.final_at = Some(100);
            emitter.offer(u, clock, &mut out);
        }
        assert_eq!(out.len(), 2);
        emitter.advance(5, 99, &mut out);
        assert_eq!(out.len(), 2);
        emitter.advance(5, 100, &mut out);
        assert_eq!(values(&out), vec![json!(1), json!(2), json!(3)]);
        assert_eq!(emitter.tracked_keys(), 0);
    }

    #[test]
    fn events_are_always_published() {
        let mut emitter = Emitter::new(config());
        let mut out = Vec::new();
        for _ in 0..5 {
            emitter.offer(
                Update::event("e".into(), "test", (0, 0), json!(1)),
                0,
                &mut out,
            );
        }
        assert_eq!(out.len(), 5);
    }
}
