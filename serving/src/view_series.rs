//! Named series for `POST /api/forecast` (`{"series": "rsvps_per_hour"}`),
//! cut from the merged `view_rsvps_country_hour`: the same exact numbers
//! `/api/views` serves, so a forecast's history is the history a user sees.
//!
//! Buckets without RSVPs are zeros between the first and the last bucket
//! with data: a count of nothing is 0, not a missing value, and Prophet
//! fits a gapless series more faithfully than one with holes.

use std::collections::BTreeMap;

use schemas::realtime::{COUNTRY_HOUR, ViewRow};

use crate::follow::Shared;
use crate::forecast::{Series, SeriesSource, SeriesSourceError};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Every name [`ViewSeries`] resolves; `<cc>` is a country code as in the view.
const NAMES: [&str; 4] = [
    "rsvps_per_hour",
    "rsvps_per_day",
    "rsvps_per_hour/<cc>",
    "rsvps_per_day/<cc>",
];

/// [`SeriesSource`] over the served merged views.
pub(crate) struct ViewSeries<'a>(pub(crate) &'a Shared);

impl SeriesSource for ViewSeries<'_> {
    fn names(&self) -> Vec<String> {
        NAMES.iter().map(|n| (*n).to_owned()).collect()
    }

    async fn load(&self, name: &str) -> Result<Option<Series>, SeriesSourceError> {
        let (bucket_ms, country) = match name.split_once('/') {
            Some(("rsvps_per_hour", cc)) if !cc.is_empty() => (HOUR_MS, Some(cc)),
            Some(("rsvps_per_day", cc)) if !cc.is_empty() => (DAY_MS, Some(cc)),
            None if name == "rsvps_per_hour" => (HOUR_MS, None),
            None if name == "rsvps_per_day" => (DAY_MS, None),
            _ => return Ok(None),
        };
        let merged = {
            let state = self.0.read().unwrap_or_else(|p| p.into_inner());
            state.merged(COUNTRY_HOUR)
        };
        let merged = merged.ok_or("no view generation has been read yet")?;
        Ok(Some(rsvp_counts(&merged.rows, bucket_ms, country)))
    }
}

/// RSVPs per `bucket_ms` (a multiple of an hour) over the country-hour rows,
/// of one country or all; `ds` in epoch seconds, zero-filled inside.
pub(crate) fn rsvp_counts(rows: &[ViewRow], bucket_ms: i64, country: Option<&str>) -> Series {
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for row in rows {
        if let ViewRow::CountryHour(r) = row
            && country.is_none_or(|c| c == r.country_code)
        {
            *counts
                .entry(r.hour_ms.div_euclid(bucket_ms) * bucket_ms)
                .or_default() += r.rsvps;
        }
    }
    let (Some(&first), Some(&last)) = (counts.keys().next(), counts.keys().next_back()) else {
        return Series::default();
    };
    let mut series = Series::default();
    let mut t = first;
    while t <= last {
        series.ds.push(t / 1000);
        series.y.push(counts.get(&t).copied().unwrap_or(0) as f64);
        t += bucket_ms;
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::realtime::{CountryHour, TopicDay};

    fn hour(country: &str, hour: i64, rsvps: i64) -> ViewRow {
        ViewRow::CountryHour(CountryHour {
            country_code: country.to_owned(),
            hour_ms: hour * HOUR_MS,
            rsvps,
            yes_count: 0,
            guests: 0,
        })
    }

    #[test]
    fn hours_are_summed_over_countries_and_gaps_are_zeros() {
        let rows = [
            hour("us", 10, 3),
            hour("gb", 10, 2),
            hour("us", 13, 1),
            ViewRow::TopicDay(TopicDay {
                urlkey: "x".into(),
                day: 0,
                rsvps: 99,
                yes_count: 0,
            }),
        ];
        let all = rsvp_counts(&rows, HOUR_MS, None);
        assert_eq!(all.ds, [36_000, 39_600, 43_200, 46_800]);
        assert_eq!(all.y, [5.0, 0.0, 0.0, 1.0]);
        let gb = rsvp_counts(&rows, HOUR_MS, Some("gb"));
        assert_eq!((gb.ds, gb.y), (vec![36_000], vec![2.0]));
        assert_eq!(rsvp_counts(&rows, HOUR_MS, Some("fr")), Series::default());
    }

    #[test]
    fn days_gather_their_hours() {
        let rows = [hour("us", 23, 4), hour("us", 24, 1), hour("us", 47, 2)];
        let days = rsvp_counts(&rows, DAY_MS, None);
        assert_eq!(days.ds, [0, 86_400]);
        assert_eq!(days.y, [4.0, 3.0]);
    }
}
