//! RSVP metrics, per partition, in event-time windows:
//!
//! - `rsvp_count`: count, yes, no and yes-ratio per country and per city
//!   (`country/city`, since city names repeat across countries), tumbling
//!   1 min and 1 h.
//! - `rsvp_rate`: all RSVPs per tumbling minute, and per second.
//! - `rsvp_guests`: yes answers, their guests and the attendees they add up
//!   to, per tumbling hour.
//! - `topics_top`: the top-k group topics by RSVP count, sliding 5 min (hop
//!   1 min) and 1 h (hop 5 min); a window is named by its end.
//! - `rsvp_trending`: the events growing fastest (`trending.rs`).
//! - `rsvp_late`: events that missed a closed window, per window spec.
//!
//! An event joins every window of a spec whose end is after the watermark
//! (`window.rs`); for the others it is late for that spec.
//!
//! RSVP response prediction (`predict.rs`) scores every RSVP with the model
//! the batch layer published and publishes `model_status` and
//! `model_accuracy/rsvp-response/v<N>`. Those two depend on which model
//! version was served when (wall-clock time), so they are kept apart — own
//! emitter, after every other update of a record — and every metric above
//! stays a function of the input prefix alone; `predict.rs` has the details.

mod predict;
mod topk;
mod trending;

pub(crate) use predict::ResponseScorer;

use std::collections::BTreeMap;

use schemas::Rsvp;
use schemas::rsvp::Response;
use serde_json::json;

use crate::config::OperatorConfig;
use crate::update::Update;
use crate::window::{EventClock, Window, hopping, tumbling};
use topk::TopK;
use trending::Trending;

#[derive(Debug, Clone, Copy)]
enum Dim {
    Country,
    City,
    All,
}

/// A tumbling window spec.
struct Tumbling {
    metric: &'static str,
    dim: Dim,
    label: &'static str,
    size_ms: i64,
}

const TUMBLING: [Tumbling; 6] = [
    Tumbling {
        metric: "rsvp_count",
        dim: Dim::Country,
        label: "1m",
        size_ms: 60_000,
    },
    Tumbling {
        metric: "rsvp_count",
        dim: Dim::Country,
        label: "1h",
        size_ms: 3_600_000,
    },
    Tumbling {
        metric: "rsvp_count",
        dim: Dim::City,
        label: "1m",
        size_ms: 60_000,
    },
    Tumbling {
        metric: "rsvp_count",
        dim: Dim::City,
        label: "1h",
        size_ms: 3_600_000,
    },
    Tumbling {
        metric: "rsvp_rate",
        dim: Dim::All,
        label: "1m",
        size_ms: 60_000,
    },
    Tumbling {
        metric: "rsvp_guests",
        dim: Dim::All,
        label: "1h",
        size_ms: 3_600_000,
    },
];

/// A sliding (hopping) window spec of the popular topics.
struct Sliding {
    label: &'static str,
    size_ms: i64,
    hop_ms: i64,
}

const SLIDING: [Sliding; 2] = [
    Sliding {
        label: "5m",
        size_ms: 300_000,
        hop_ms: 60_000,
    },
    Sliding {
        label: "1h",
        size_ms: 3_600_000,
        hop_ms: 300_000,
    },
];

/// Names of the late counters, tumbling specs first, in `rsvp_late`'s value.
fn late_names() -> impl Iterator<Item = String> {
    TUMBLING
        .iter()
        .map(|t| format!("{}/{}/{}", t.metric, dim_name(t.dim), t.label))
        .chain(SLIDING.iter().map(|s| format!("topics_top/{}", s.label)))
        .chain(std::iter::once("rsvp_trending".to_owned()))
}

/// Index of the trending metric's late counter.
const TRENDING_LATE: usize = TUMBLING.len() + SLIDING.len();

fn dim_name(dim: Dim) -> &'static str {
    match dim {
        Dim::Country => "country",
        Dim::City => "city",
        Dim::All => "all",
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct CountAgg {
    count: u64,
    yes: u64,
    guests: u64,
    min_et: i64,
    max_et: i64,
}

struct TopWindow {
    topics: TopK,
    min_et: i64,
    max_et: i64,
}

/// The RSVP operator of one partition: pure, synchronous, deterministic.
pub(crate) struct RsvpOperator {
    top_k: usize,
    clock: EventClock,
    counts: BTreeMap<(usize, i64, String), CountAgg>,
    tops: BTreeMap<(usize, i64), TopWindow>,
    trending: Trending,
    late: Vec<u64>,
    /// The watermark at the last state clean-up.
    cleaned_at: i64,
}

impl RsvpOperator {
    pub(crate) fn new(config: &OperatorConfig) -> Self {
        RsvpOperator {
            top_k: config.top_k,
            clock: EventClock::new(config.rsvp_lateness_ms),
            counts: BTreeMap::new(),
            tops: BTreeMap::new(),
            trending: Trending::default(),
            late: vec![0; TRENDING_LATE + 1],
            cleaned_at: i64::MIN,
        }
    }

    /// The event-time clock and watermark after the last event.
    pub(crate) fn clock(&self) -> &EventClock {
        &self.clock
    }

    /// Folds one RSVP in; the changed values are appended to `out`. Returns
    /// how many window specs the event was late for.
    pub(crate) fn process(&mut self, rsvp: &Rsvp, out: &mut Vec<Update>) -> u64 {
        let t = rsvp.mtime;
        self.clock.observe(t);
        let watermark = self.clock.watermark();
        let mut late_specs = 0;
        for (i, spec) in TUMBLING.iter().enumerate() {
            let window = tumbling(t, spec.size_ms);
            if window.end_ms <= watermark {
                self.late[i] += 1;
                late_specs += 1;
                continue;
            }
            let dim = dim_value(spec.dim, rsvp);
            let agg = self
                .counts
                .entry((i, window.start_ms, dim.clone()))
                .or_insert(CountAgg {
                    min_et: t,
                    max_et: t,
                    ..CountAgg::default()
                });
            agg.count += 1;
            if rsvp.response == Response::Yes {
                agg.yes += 1;
                agg.guests += u64::try_from(rsvp.guests).unwrap_or(0);
            }
            agg.min_et = agg.min_et.min(t);
            agg.max_et = agg.max_et.max(t);
            out.push(count_update(spec, window, &dim, rsvp, agg));
        }
        for (j, spec) in SLIDING.iter().enumerate() {
            let mut was_late = false;
            for window in hopping(t, spec.size_ms, spec.hop_ms) {
                if window.end_ms <= watermark {
                    was_late = true;
                    continue;
                }
                let top = self.tops.entry((j, window.end_ms)).or_insert(TopWindow {
                    topics: TopK::default(),
                    min_et: t,
                    max_et: t,
                });
                let mut changed = false;
                for topic in &rsvp.group.group_topics {
                    changed |= top.topics.increment(&topic.urlkey, self.top_k);
                }
                top.min_et = top.min_et.min(t);
                top.max_et = top.max_et.max(t);
                if !changed {
                    // The emitter would drop an unchanged list anyway.
                    continue;
                }
                let list: Vec<_> = top
                    .topics
                    .top()
                    .iter()
                    .map(|(n, c)| json!({"topic": n, "count": c}))
                    .collect();
                out.push(Update::windowed(
                    format!("topics_top/{}/{}", spec.label, window.end_ms),
                    "topics_top",
                    window,
                    (top.min_et, top.max_et),
                    json!({"window": spec.label, "top": list}),
                ));
            }
            if was_late {
                self.late[TUMBLING.len() + j] += 1;
                late_specs += 1;
            }
        }
        if !self.trending.add(rsvp, watermark) {
            self.late[TRENDING_LATE] += 1;
            late_specs += 1;
        }
        out.extend(self.trending.evaluate(watermark, self.top_k));
        if late_specs > 0 {
            let by_spec: serde_json::Map<_, _> = late_names()
                .zip(self.late.iter())
                .map(|(n, c)| (n, json!(c)))
                .collect();
            out.push(Update::value(
                "rsvp_late".to_owned(),
                "rsvp_late",
                (t, t),
                json!({"late": by_spec}),
            ));
        }
        self.clean(watermark);
        late_specs
    }

    /// Drops closed windows, at most once per minute of watermark progress.
    fn clean(&mut self, watermark: i64) {
        if watermark < self.cleaned_at.saturating_add(60_000) {
            return;
        }
        self.cleaned_at = watermark;
        self.counts
            .retain(|(i, start, _), _| start + TUMBLING[*i].size_ms > watermark);
        self.tops.retain(|(_, end), _| *end > watermark);
    }
}

fn dim_value(dim: Dim, rsvp: &Rsvp) -> String {
    match dim {
        Dim::Country => rsvp.group.group_country.clone(),
        Dim::City => format!("{}/{}", rsvp.group.group_country, rsvp.group.group_city),
        Dim::All => "all".to_owned(),
    }
}

fn count_update(spec: &Tumbling, window: Window, dim: &str, rsvp: &Rsvp, agg: &CountAgg) -> Update {
    let key = format!(
        "{}/{}/{}/{}/{}",
        spec.metric,
        dim_name(spec.dim),
        spec.label,
        window.start_ms,
        dim
    );
    let value = match spec.dim {
        Dim::Country | Dim::City => {
            let mut v = json!({
                "dimension": dim_name(spec.dim),
                "window": spec.label,
                "country": rsvp.group.group_country,
                "count": agg.count,
                "yes": agg.yes,
                "no": agg.count - agg.yes,
                "yes_ratio": agg.yes as f64 / agg.count as f64,
            });
            if let Dim::City = spec.dim {
                v["city"] = json!(rsvp.group.group_city);
            }
            v
        }
        Dim::All if spec.metric == "rsvp_rate" => json!({
            "window": spec.label,
            "count": agg.count,
            "per_second": agg.count as f64 / (spec.size_ms as f64 / 1_000.0),
        }),
        Dim::All => json!({
            "window": spec.label,
            "yes": agg.yes,
            "guests": agg.guests,
            "attendees": agg.yes + agg.guests,
        }),
    };
    Update::windowed(key, spec.metric, window, (agg.min_et, agg.max_et), value)
}
