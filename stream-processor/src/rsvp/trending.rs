//! Trending events: the largest growth of RSVPs in the last 10 minutes over
//! the previous hour's pace.
//!
//! Evaluated whenever the watermark crosses a minute boundary `M` (so it
//! depends on input position only): for each event, `recent` = its RSVPs in
//! `[M − 10 min, M)`, `previous` = in `[M − 70 min, M − 10 min)`, and
//! `growth = recent − previous / 6` (the excess over what the previous
//! hour's rate predicts for 10 minutes). The top k by growth (ties by event
//! id), among events with a recent RSVP, are published as one value. An RSVP
//! whose minute has closed (its end ≤ watermark) is late for this metric.

use std::collections::BTreeMap;

use schemas::Rsvp;
use serde_json::json;

use crate::update::Update;
use crate::window::Window;

const MINUTE_MS: i64 = 60_000;
const RECENT_MS: i64 = 10 * MINUTE_MS;
const BASELINE_MS: i64 = 60 * MINUTE_MS;

/// Per-event minute counts of one partition.
#[derive(Debug, Default)]
pub(crate) struct Trending {
    /// Event id → (event name, RSVPs per minute start).
    events: BTreeMap<String, (String, BTreeMap<i64, u64>)>,
    /// The last minute boundary evaluated.
    evaluated: Option<i64>,
}

impl Trending {
    /// Counts the RSVP; false when its minute has closed (late).
    pub(crate) fn add(&mut self, rsvp: &Rsvp, watermark: i64) -> bool {
        let minute = rsvp.mtime.div_euclid(MINUTE_MS) * MINUTE_MS;
        if minute + MINUTE_MS <= watermark {
            return false;
        }
        let entry = self
            .events
            .entry(rsvp.event.event_id.clone())
            .or_insert_with(|| (rsvp.event.event_name.clone(), BTreeMap::new()));
        *entry.1.entry(minute).or_default() += 1;
        true
    }

    /// The ranking at the latest minute boundary the watermark has crossed,
    /// if it was not evaluated yet.
    pub(crate) fn evaluate(&mut self, watermark: i64, k: usize) -> Option<Update> {
        if watermark == i64::MIN {
            return None;
        }
        let m = watermark.div_euclid(MINUTE_MS) * MINUTE_MS;
        if self.evaluated.is_some_and(|e| m <= e) {
            return None;
        }
        self.evaluated = Some(m);
        let from = m - RECENT_MS - BASELINE_MS;
        self.events.retain(|_, (_, minutes)| {
            minutes.retain(|minute, _| *minute >= from);
            !minutes.is_empty()
        });
        let mut ranked: Vec<(i64, &String, &String, u64, u64)> = Vec::new();
        for (id, (name, minutes)) in &self.events {
            let recent: u64 = minutes.range(m - RECENT_MS..m).map(|(_, c)| c).sum();
            let previous: u64 = minutes.range(from..m - RECENT_MS).map(|(_, c)| c).sum();
            if recent > 0 {
                // Six times the growth, to rank in integers.
                let growth6 = 6 * recent as i64 - previous as i64;
                ranked.push((growth6, id, name, recent, previous));
            }
        }
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        ranked.truncate(k);
        let top: Vec<_> = ranked
            .iter()
            .map(|(g6, id, name, recent, previous)| {
                json!({"event_id": id, "event_name": name, "recent_10m": recent,
                       "previous_hour": previous, "growth": *g6 as f64 / 6.0})
            })
            .collect();
        let window = Window {
            start_ms: from,
            end_ms: m,
        };
        let mut update = Update::value(
            "rsvp_trending".to_owned(),
            "rsvp_trending",
            (from, m),
            json!({"as_of_ms": m, "top": top}),
        );
        update.window = Some(window);
        Some(update)
    }
}
