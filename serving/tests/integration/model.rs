//! What a fit returns, on the real hourly series and on a generated one.

use std::time::Instant;

use billabong_serving::{ForecastTable, MAX_PERIODS, MAX_POINTS, forecast};

use crate::helpers::{RSVP_HOURS, RSVPS_PER_HOUR, from_json, inline, linear_plus_daily_sine};

/// 2017-03-05T00:00:00Z: a Sunday midnight, two weeks before the real capture.
const MIDNIGHT: i64 = 1_488_672_000;

/// `yhat_lower <= yhat <= yhat_upper` and `yhat = trend + Σ components`
/// (additive mode) at every row, all finite.
fn assert_prophet_invariants(table: &ForecastTable) {
    for row in 0..table.len() {
        let (lo, yhat, hi) = (
            table.yhat_lower()[row],
            table.yhat()[row],
            table.yhat_upper()[row],
        );
        assert!(
            lo.is_finite() && yhat.is_finite() && hi.is_finite(),
            "row {row}"
        );
        assert!(
            lo <= yhat && yhat <= hi,
            "row {row}: {lo} <= {yhat} <= {hi} fails"
        );
        let parts =
            table.trend()[row] + table.components().iter().map(|(_, c)| c[row]).sum::<f64>();
        assert!(
            (yhat - parts).abs() <= 1e-6,
            "row {row}: yhat {yhat} != trend + seasonal {parts}"
        );
    }
}

#[test]
fn real_hourly_rsvps_forecast_has_prophet_columns() {
    let series = &*RSVPS_PER_HOUR;
    let request = inline(series, 48);
    let started = Instant::now();
    let table = forecast(&request).expect("fits");
    eprintln!(
        "fit + predict of {} hourly points + 48: {:?}",
        series.ds.len(),
        started.elapsed()
    );

    assert_eq!(table.len(), RSVP_HOURS + 48);
    assert_eq!(table.history_len(), RSVP_HOURS);
    assert_eq!(&table.ds()[..RSVP_HOURS], series.ds.as_slice());
    let last = series.ds[RSVP_HOURS - 1];
    for (i, ds) in table.ds()[RSVP_HOURS..].iter().enumerate() {
        assert_eq!(*ds, last + (i as i64 + 1) * 3600, "future point {i}");
    }
    // 37.7 days of hourly data: Prophet enables daily and weekly, not yearly.
    assert_eq!(
        table.column_names(),
        [
            "ds",
            "yhat",
            "yhat_lower",
            "yhat_upper",
            "trend",
            "daily",
            "weekly"
        ]
    );
    assert_prophet_invariants(&table);

    let text = serde_json::to_string(&table).expect("serializes");
    let key_at = |name: &str| {
        text.find(&format!("\"{name}\":["))
            .expect("every column is a key")
    };
    let names = table.column_names();
    assert!(
        names.windows(2).all(|w| key_at(w[0]) < key_at(w[1])),
        "columns in order"
    );
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let columns = json.as_object().expect("an object of columns");
    assert_eq!(columns.len(), names.len());
    assert!(
        columns
            .values()
            .all(|c| c.as_array().is_some_and(|c| c.len() == table.len()))
    );
    assert_eq!(json["ds"][RSVP_HOURS], "2017-03-19T13:00:00Z");
    assert_eq!(json["yhat"][0].as_f64(), Some(table.yhat()[0]));

    let mut csv = Vec::new();
    table.write_csv(&mut csv).expect("writes to memory");
    let csv = String::from_utf8(csv).expect("ASCII");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + table.len());
    assert_eq!(lines[0], "ds,yhat,yhat_lower,yhat_upper,trend,daily,weekly");
    assert!(lines[1 + RSVP_HOURS].starts_with("2017-03-19T13:00:00Z,"));
}

#[test]
fn a_noise_free_trend_and_daily_cycle_are_recovered() {
    // 14 days of `20 + 0.25·h + 5·sin(2πh/24)`, forecast one day ahead: the
    // slope within 0.1 %, every future point within 0.01 of the generator.
    let (slope, amplitude) = (0.25, 5.0);
    let series = linear_plus_daily_sine(MIDNIGHT, 14 * 24, 20.0, slope, amplitude);
    let table = forecast(&inline(&series, 24)).expect("fits");
    assert_prophet_invariants(&table);
    // Under two weeks of data: daily seasonality only.
    assert_eq!(
        table
            .components()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["daily"]
    );

    let n = table.history_len();
    let trend = table.trend();
    let history_slope = (trend[n - 1] - trend[0]) / (n - 1) as f64;
    let future_slope = (trend[table.len() - 1] - trend[n - 1]) / 24.0;
    eprintln!("trend slope: history {history_slope}, future {future_slope} (true {slope})");
    assert!(
        (history_slope - slope).abs() < 1e-3 * slope,
        "history slope {history_slope}"
    );
    assert!(
        (future_slope - slope).abs() < 1e-3 * slope,
        "future slope {future_slope}"
    );

    let truth = linear_plus_daily_sine(MIDNIGHT, 15 * 24, 20.0, slope, amplitude);
    let worst = table.yhat()[n..]
        .iter()
        .zip(&truth.y[n..])
        .map(|(yhat, y)| (yhat - y).abs())
        .fold(0.0, f64::max);
    eprintln!("worst future error: {worst} (amplitude {amplitude})");
    assert!(worst < 0.01, "future yhat is off by {worst}");
    let daily = &table.components()[0].1;
    let daily_range = daily.iter().fold(f64::MIN, |a, b| a.max(*b))
        - daily.iter().fold(f64::MAX, |a, b| a.min(*b));
    assert!(
        (daily_range - 2.0 * amplitude).abs() < 0.05 * amplitude,
        "daily range {daily_range}"
    );
}

#[test]
fn freq_seconds_sets_the_spacing_of_future_points() {
    // Two days of the generated cycle, forecast in quarter hours.
    let series = linear_plus_daily_sine(MIDNIGHT, 48, 20.0, 0.25, 5.0);
    let body =
        serde_json::json!({"periods": 4, "ds": series.ds, "y": series.y, "freq_seconds": 900});
    let table = forecast(&from_json(&body.to_string()).expect("valid")).expect("fits");
    let last = series.ds[47];
    assert_eq!(
        &table.ds()[48..],
        &[last + 900, last + 1800, last + 2700, last + 3600]
    );
    assert_prophet_invariants(&table);
}

#[test]
fn a_wider_interval_width_gives_wider_intervals() {
    let series = linear_plus_daily_sine(MIDNIGHT, 48, 20.0, 0.25, 5.0);
    let mean_width = |width: f64| {
        let body = serde_json::json!({"periods": 24, "ds": series.ds, "y": series.y, "interval_width": width});
        let table = forecast(&from_json(&body.to_string()).expect("valid")).expect("fits");
        assert_prophet_invariants(&table);
        let widths = table
            .yhat_upper()
            .iter()
            .zip(table.yhat_lower())
            .map(|(hi, lo)| hi - lo);
        widths.sum::<f64>() / table.len() as f64
    };
    let (narrow, wide) = (mean_width(0.5), mean_width(0.95));
    assert!(
        wide > 1.5 * narrow,
        "0.95 interval {wide} vs 0.5 interval {narrow}"
    );
}

/// Prints the cost of a forecast of the real hourly series: the first call
/// (which also compiles the Stan model to machine code) and warm calls; then
/// of the largest request accepted ([`MAX_POINTS`] hours of the generator,
/// [`MAX_PERIODS`] ahead).
/// Figures, not assertions: run it with
/// `cargo test --release -p billabong-serving --test integration -- --ignored --nocapture timing`.
#[test]
#[ignore = "a measurement, not a check; run on an idle machine"]
fn timing_of_the_real_hourly_series() {
    let request = inline(&RSVPS_PER_HOUR, 48);
    for call in ["first (compiles the model)", "warm", "warm", "warm"] {
        let started = Instant::now();
        let table = forecast(&request).expect("fits");
        eprintln!("{call}: {:?} for {} rows", started.elapsed(), table.len());
    }
    let largest = linear_plus_daily_sine(MIDNIGHT, MAX_POINTS, 20.0, 0.25, 5.0);
    let request = inline(&largest, MAX_PERIODS);
    let started = Instant::now();
    let table = forecast(&request).expect("fits");
    eprintln!(
        "largest request: {:?} for {} rows",
        started.elapsed(),
        table.len()
    );
}
