//! One metric update, as the operators produce it and the emitter filters it.

use serde_json::Value;

use crate::window::Window;

/// A new value of one metric key (or one event, such as a pass).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Update {
    /// The metric key, unique per value stream: `rsvp_count/country/1m/<start>/us`.
    pub(crate) key: String,
    /// The metric family (`rsvp_count`, `race_car`, ...).
    pub(crate) metric: &'static str,
    /// The window the value covers, for windowed metrics.
    pub(crate) window: Option<Window>,
    /// Smallest and largest event time of the inputs the value reflects.
    pub(crate) event_range: (i64, i64),
    /// The value itself (dimensions included, so a consumer needs no key parsing).
    pub(crate) value: Value,
    /// When the watermark reaches this time the key is final: a pending value
    /// is published and the key's state is forgotten.
    pub(crate) final_at: Option<i64>,
    /// An event (not a value): never compared with a previous one, never held back.
    pub(crate) is_event: bool,
}

impl Update {
    /// A value update.
    pub(crate) fn value(
        key: String,
        metric: &'static str,
        event_range: (i64, i64),
        value: Value,
    ) -> Self {
        Update {
            key,
            metric,
            window: None,
            event_range,
            value,
            final_at: None,
            is_event: false,
        }
    }

    /// A value update of a window, final when the watermark passes its end.
    pub(crate) fn windowed(
        key: String,
        metric: &'static str,
        window: Window,
        event_range: (i64, i64),
        value: Value,
    ) -> Self {
        Update {
            window: Some(window),
            final_at: Some(window.end_ms),
            ..Update::value(key, metric, event_range, value)
        }
    }

    /// An event update.
    pub(crate) fn event(
        key: String,
        metric: &'static str,
        event_range: (i64, i64),
        value: Value,
    ) -> Self {
        Update {
            is_event: true,
            ..Update::value(key, metric, event_range, value)
        }
    }
}
