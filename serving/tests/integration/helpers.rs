//! Series built from the real RSVP feed, a synthetic generator, and small
//! shortcuts for validating requests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use billabong_serving::{
    ForecastError, ForecastRequest, MemorySeriesSource, Series, ValidatedRequest,
};

/// `shared/data`, beside the repository (or `$BILLABONG_SHARED_DATA`), as in
/// `testkit::fixtures`; not imported from there so this pure-compute test does
/// not build Kafka and S3 clients.
fn shared_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BILLABONG_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    assert!(
        dir.is_dir(),
        "real data not found at {}: clone the repository beside shared/, or set BILLABONG_SHARED_DATA",
        dir.display()
    );
    dir
}

/// Records in the recorded feed (`shared/data/README.md`).
pub(crate) const RSVP_COUNT: usize = 1_541;
/// Hours from the first to the last RSVP hour of the feed, both included.
pub(crate) const RSVP_HOURS: usize = 906;

/// (mtime in ms, response) of every line of the recorded feed.
fn rsvp_mtimes() -> Vec<(i64, String)> {
    let path = shared_data_dir().join("meetup-rsvps/javadbayzavi-meetup_rsvp_stream-2017-03.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let rsvp: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
            let mtime = rsvp["mtime"].as_i64().expect("mtime is an integer");
            let response = rsvp["response"]
                .as_str()
                .expect("response is a string")
                .to_owned();
            (mtime, response)
        })
        .collect()
}

/// Counts per hour of `mtime` from the first to the last hour seen, hours
/// without an RSVP as 0 (a count, not a missing value). `ds` is the start of
/// each hour, epoch seconds.
fn per_hour(mtimes: impl Iterator<Item = i64>, first_hour: i64, last_hour: i64) -> Series {
    let mut counts: BTreeMap<i64, f64> = BTreeMap::new();
    for mtime in mtimes {
        *counts.entry(mtime.div_euclid(3_600_000)).or_default() += 1.0;
    }
    let hours = first_hour..=last_hour;
    Series {
        ds: hours.clone().map(|h| h * 3600).collect(),
        y: hours
            .map(|h| counts.get(&h).copied().unwrap_or(0.0))
            .collect(),
    }
}

static RSVPS: LazyLock<Vec<(i64, String)>> = LazyLock::new(rsvp_mtimes);

fn hour_span() -> (i64, i64) {
    let hours = RSVPS.iter().map(|(mtime, _)| mtime.div_euclid(3_600_000));
    let first = hours.clone().min().expect("the feed is not empty");
    (first, hours.max().expect("the feed is not empty"))
}

/// RSVPs per hour of the recorded feed: 906 hours, mostly 0. The capture is
/// ~20 dense minutes on 2017-03-19 (1,520 RSVPs in its last hour) plus older
/// RSVPs the stream replayed, so the series is a spike after a sparse tail.
pub(crate) static RSVPS_PER_HOUR: LazyLock<Series> = LazyLock::new(|| {
    let (first, last) = hour_span();
    per_hour(RSVPS.iter().map(|(mtime, _)| *mtime), first, last)
});

/// "yes" RSVPs per hour, over the same hours as [`RSVPS_PER_HOUR`].
pub(crate) static YES_RSVPS_PER_HOUR: LazyLock<Series> = LazyLock::new(|| {
    let (first, last) = hour_span();
    let yes = RSVPS
        .iter()
        .filter(|(_, response)| response == "yes")
        .map(|(mtime, _)| *mtime);
    per_hour(yes, first, last)
});

/// The two real series under the names the service would give them.
pub(crate) fn real_source() -> MemorySeriesSource {
    MemorySeriesSource::new()
        .with("rsvps_per_hour", RSVPS_PER_HOUR.clone())
        .with("yes_rsvps_per_hour", YES_RSVPS_PER_HOUR.clone())
}

/// Models a quantity growing linearly by `slope` per hour from `intercept`,
/// plus a daily cycle `amplitude · sin(2π · hour / 24)`, sampled hourly for
/// `hours` hours from `start` (epoch seconds, a midnight UTC). Noise-free, so a
/// correct fit must recover `slope` and the cycle closely.
pub(crate) fn linear_plus_daily_sine(
    start: i64,
    hours: usize,
    intercept: f64,
    slope: f64,
    amplitude: f64,
) -> Series {
    let value =
        |h: f64| intercept + slope * h + amplitude * (h * std::f64::consts::TAU / 24.0).sin();
    Series {
        ds: (0..hours as i64).map(|h| start + h * 3600).collect(),
        y: (0..hours).map(|h| value(h as f64)).collect(),
    }
}

/// Validates a request against the real source.
pub(crate) fn validate(request: ForecastRequest) -> Result<ValidatedRequest, ForecastError> {
    futures::executor::block_on(request.validate(&real_source()))
}

/// A validated inline request for `series` and `periods`.
pub(crate) fn inline(series: &Series, periods: u32) -> ValidatedRequest {
    validate(ForecastRequest {
        periods,
        ds: Some(series.ds.clone()),
        y: Some(series.y.clone()),
        ..ForecastRequest::default()
    })
    .expect("a valid series")
}

/// Parses then validates a JSON body.
pub(crate) fn from_json(body: &str) -> Result<ValidatedRequest, ForecastError> {
    validate(ForecastRequest::from_json(body.as_bytes())?)
}

#[test]
fn the_real_hourly_series_counts_every_rsvp() {
    let series = &*RSVPS_PER_HOUR;
    assert_eq!(series.ds.len(), RSVP_HOURS);
    assert_eq!(series.y.iter().sum::<f64>(), RSVP_COUNT as f64);
    assert_eq!(series.y.last().copied(), Some(1_520.0));
    assert_eq!(series.y.iter().filter(|y| **y > 0.0).count(), 19);
    assert!(series.ds.windows(2).all(|w| w[1] - w[0] == 3600));
    let yes = &*YES_RSVPS_PER_HOUR;
    assert_eq!(yes.ds, series.ds);
    assert!(yes.y.iter().zip(&series.y).all(|(yes, all)| yes <= all));
}
