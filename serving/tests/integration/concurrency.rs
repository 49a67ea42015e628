//! Many forecasts at once each get their own answer: the engine keeps no
//! state between calls and shares nothing mutable between threads.

use billabong_serving::{ForecastTable, Series, forecast};

use crate::helpers::{RSVPS_PER_HOUR, inline};

const SERIES: usize = 50;
const PERIODS: u32 = 24;

/// Hours of the real series used: its last week (15 non-zero hours, the last
/// one the 1,520-RSVP spike). A week rather than all 906 hours keeps 100 debug-build
/// fits to well under a minute on two cores.
const HOURS: usize = 7 * 24;

/// The last week of the real hourly series scaled by `k`: a different series
/// per k, whose forecast Prophet (which divides `y` by its absolute maximum
/// before fitting) makes k times the forecast for k = 1.
fn scaled(k: usize) -> Series {
    let start = RSVPS_PER_HOUR.ds.len() - HOURS;
    Series {
        ds: RSVPS_PER_HOUR.ds[start..].to_vec(),
        y: RSVPS_PER_HOUR.y[start..]
            .iter()
            .map(|y| y * k as f64)
            .collect(),
    }
}

/// Every deterministic column is equal (the interval is Monte Carlo, unseeded).
fn assert_same_fit(together: &ForecastTable, alone: &ForecastTable, k: usize) {
    assert_eq!(together.ds(), alone.ds(), "series k={k}");
    assert_eq!(
        together.column_names(),
        alone.column_names(),
        "series k={k}"
    );
    for name in together.column_names().into_iter().skip(1) {
        if !name.starts_with("yhat_") {
            assert_eq!(
                together.column(name),
                alone.column(name),
                "series k={k}, {name}"
            );
        }
    }
}

#[test]
fn fifty_concurrent_forecasts_match_their_sequential_forecasts() {
    let requests: Vec<_> = (1..=SERIES).map(|k| inline(&scaled(k), PERIODS)).collect();
    let sequential: Vec<ForecastTable> = requests
        .iter()
        .map(|r| forecast(r).expect("fits"))
        .collect();

    let concurrent: Vec<ForecastTable> = std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|r| scope.spawn(move || forecast(r).expect("fits")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });

    let base = &sequential[0];
    for (i, (alone, together)) in sequential.iter().zip(&concurrent).enumerate() {
        let k = (i + 1) as f64;
        assert_same_fit(together, alone, i + 1);
        for (row, (yhat, lo)) in together
            .yhat()
            .iter()
            .zip(together.yhat_lower())
            .enumerate()
        {
            assert!(
                *lo <= *yhat && *yhat <= together.yhat_upper()[row],
                "k={k} row {row}"
            );
        }
        for (row, (yhat, base_yhat)) in together.yhat().iter().zip(base.yhat()).enumerate() {
            let expected = k * base_yhat;
            assert!(
                (yhat - expected).abs() <= 1e-6 * k * 1_520.0,
                "k={k} row {row}: {yhat} is not {k} × {base_yhat}"
            );
        }
    }
}
