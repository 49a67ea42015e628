//! The RSVP response model: features of an RSVP known when it is made.

use std::f64::consts::TAU;

use serde::{Deserialize, Serialize};

use super::{ClassifierMetrics, LinearModel, TrainingInfo, sigmoid};
use crate::rsvp::Rsvp;

/// Features computed from the RSVP alone, before the lookup-table features.
///
/// Times are UTC: the stream carries no time zone, and the group's country
/// (a feature of its own) stands in for it.
pub const RSVP_BASE_FEATURES: [&str; 12] = [
    // ln(1 + guests).
    "guests_log1p",
    // Hours from the RSVP (mtime) to the event start, as sign(h) * ln(1 + |h|):
    // lead times span minutes to months. 0 when the event has no time.
    "lead_hours_slog",
    // 1 when the event has no start time (0.5 % of real records).
    "lead_missing",
    // Hour of day of the RSVP, on the unit circle (23:00 is next to 00:00).
    "rsvp_hour_sin",
    "rsvp_hour_cos",
    // 1 when the event starts on a Saturday or Sunday (UTC); 0 when unknown.
    "event_weekend",
    // 1 when the RSVP names a venue.
    "has_venue",
    // 1 when the venue is Meetup's "no coordinates" placeholder (0, 0).
    "venue_placeholder",
    // 1 when the member has a photo.
    "member_photo",
    // Linked accounts (twitter, facebook, ...) of the member.
    "member_services",
    // ln(1 + the group's declared topics).
    "group_topics_log1p",
    // 1 when the event id is alphanumeric: Meetup's ids of recurring events.
    "event_recurring",
];

/// The RSVP feature encoding: the fixed features above, then one indicator
/// per listed country (`country=us`) and per listed group topic
/// (`topic=softwaredev`). The lists are lookup tables chosen from the
/// training rows only (values frequent enough to be learnable) and stored in
/// the artifact; an unlisted value gives all-zero indicators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsvpEncoding {
    /// Group countries with an indicator, in feature order.
    pub countries: Vec<String>,
    /// Group topic `urlkey`s with an indicator, in feature order.
    pub topics: Vec<String>,
}

const HOUR_MS: f64 = 3_600_000.0;
const DAY_MS: i64 = 86_400_000;

impl RsvpEncoding {
    /// The name of every feature, in order.
    pub fn feature_names(&self) -> Vec<String> {
        RSVP_BASE_FEATURES
            .iter()
            .map(|s| (*s).to_owned())
            .chain(self.countries.iter().map(|c| format!("country={c}")))
            .chain(self.topics.iter().map(|t| format!("topic={t}")))
            .collect()
    }

    /// Raw (unstandardised) feature values of one RSVP, in
    /// [`RsvpEncoding::feature_names`] order. Uses nothing but the RSVP
    /// itself and the tables, so that the speed layer computes exactly what
    /// training saw.
    pub fn encode(&self, r: &Rsvp) -> Vec<f64> {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        let lead = r.event.time.map(|t| (t - r.mtime) as f64 / HOUR_MS);
        let hour = r.mtime.rem_euclid(DAY_MS) as f64 / HOUR_MS;
        let angle = TAU * hour / 24.0;
        // 1970-01-01 was a Thursday: weekday 0 = Monday.
        let weekend = r
            .event
            .time
            .is_some_and(|t| (t.div_euclid(DAY_MS) + 3).rem_euclid(7) >= 5);
        let placeholder = r
            .venue
            .as_ref()
            .is_some_and(|v| v.lat == 0.0 && v.lon == 0.0);
        let services = r.member.other_services.as_ref().map_or(0, Vec::len);
        let recurring = !r.event.event_id.bytes().all(|b| b.is_ascii_digit());
        let mut x =
            Vec::with_capacity(RSVP_BASE_FEATURES.len() + self.countries.len() + self.topics.len());
        x.extend([
            (r.guests as f64).ln_1p(),
            lead.map_or(0.0, |h| h.signum() * h.abs().ln_1p()),
            flag(lead.is_none()),
            angle.sin(),
            angle.cos(),
            flag(weekend),
            flag(r.venue.is_some()),
            flag(placeholder),
            flag(r.member.photo.is_some()),
            services as f64,
            (r.group.group_topics.len() as f64).ln_1p(),
            flag(recurring),
        ]);
        x.extend(
            self.countries
                .iter()
                .map(|c| flag(*c == r.group.group_country)),
        );
        x.extend(
            self.topics
                .iter()
                .map(|t| flag(r.group.group_topics.iter().any(|g| g.urlkey == *t))),
        );
        x
    }
}

/// Logistic regression of `response == yes` on [`RsvpEncoding`] features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RsvpResponseModel {
    /// How an RSVP becomes features.
    pub encoding: RsvpEncoding,
    /// Standardisation and fitted weights.
    pub linear: LinearModel,
    /// Provenance and split.
    pub training: TrainingInfo,
    /// Hold-out metrics.
    pub metrics: ClassifierMetrics,
}

impl RsvpResponseModel {
    /// P(response = yes) for an RSVP as it arrives.
    pub fn predict(&self, r: &Rsvp) -> f64 {
        self.predict_raw(&self.encoding.encode(r))
    }

    /// P(response = yes) for raw features from [`RsvpEncoding::encode`].
    pub fn predict_raw(&self, raw: &[f64]) -> f64 {
        sigmoid(self.linear.decision(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    #[test]
    fn encodes_a_recorded_rsvp_by_its_names() {
        let line = &testkit::fixtures::rsvp_lines()[0];
        let mut r = Rsvp::parse(line, &Limits::default()).expect("recorded RSVPs are valid");
        let country = r.group.group_country.clone();
        let enc = RsvpEncoding {
            countries: vec!["zz".into(), country],
            topics: vec!["no-such-topic".into()],
        };
        // Sunday 2017-03-19 12:00 UTC, RSVP'd 24 h before at 12:00.
        r.event.time = Some(1_489_924_800_000);
        r.mtime = 1_489_924_800_000 - 86_400_000;
        r.guests = 2;
        let x = enc.encode(&r);
        let names = enc.feature_names();
        assert_eq!(x.len(), names.len());
        let get = |name: &str| x[names.iter().position(|n| n == name).expect(name)];
        assert!((get("guests_log1p") - 3f64.ln()).abs() < 1e-12);
        assert!((get("lead_hours_slog") - 25f64.ln()).abs() < 1e-12);
        assert_eq!(get("lead_missing"), 0.0);
        assert_eq!(get("event_weekend"), 1.0);
        assert!(
            (get("rsvp_hour_cos") + 1.0).abs() < 1e-12,
            "12:00 is opposite midnight"
        );
        assert_eq!(get("country=zz"), 0.0);
        assert_eq!(get(&names[RSVP_BASE_FEATURES.len() + 1]), 1.0);
        assert_eq!(get("topic=no-such-topic"), 0.0);
    }
}
