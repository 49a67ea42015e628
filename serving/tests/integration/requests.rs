//! Every way a request is refused gives a message naming the field at fault.

use billabong_serving::{ErrorDomain, ForecastRequest, MAX_POINTS, Series};
use serde_json::json;

use crate::helpers::{RSVPS_PER_HOUR, from_json, inline, validate};

/// The first `n` real hourly points as a JSON request body with `extra` fields.
fn body(n: usize, extra: serde_json::Value) -> String {
    let series = &*RSVPS_PER_HOUR;
    let mut body = json!({"periods": 24, "ds": &series.ds[..n], "y": &series.y[..n]});
    for (k, v) in extra.as_object().expect("an object").clone() {
        body[k] = v;
    }
    body.to_string()
}

fn refused(body: &str) -> String {
    let err = from_json(body).expect_err("the request is refused");
    assert_eq!(err.domain(), ErrorDomain::User, "{err}");
    assert!(!err.is_retryable());
    err.to_string()
}

#[test]
fn a_valid_inline_request_keeps_its_data_and_infers_hourly() {
    let request = from_json(&body(12, json!({}))).expect("valid");
    assert_eq!(request.ds(), &RSVPS_PER_HOUR.ds[..12]);
    assert_eq!(request.y(), &RSVPS_PER_HOUR.y[..12]);
    assert_eq!(request.freq_seconds(), 3600);
    assert_eq!(request.interval_width(), 0.8);
    assert_eq!(request.series(), None);
    let last = RSVPS_PER_HOUR.ds[11];
    assert_eq!(
        request.future_ds().collect::<Vec<_>>(),
        (1..=24).map(|i| last + i * 3600).collect::<Vec<_>>()
    );
}

#[test]
fn rfc3339_and_epoch_seconds_may_be_mixed() {
    let request = from_json(
        r#"{"periods": 1, "ds": ["2017-03-19T11:00:00Z", 1489924800, "2017-03-19T14:00:00+01:00", 1489932000.0],
            "y": [3, 1520, 0, 0], "interval_width": 0.95, "freq_seconds": 1800}"#,
    )
    .expect("valid");
    assert_eq!(
        request.ds(),
        &[1_489_921_200, 1_489_924_800, 1_489_928_400, 1_489_932_000]
    );
    assert_eq!(request.interval_width(), 0.95);
    assert_eq!(request.future_ds().collect::<Vec<_>>(), vec![1_489_933_800]);
}

#[test]
fn a_named_series_is_loaded_and_checked_like_inline_data() {
    let named = from_json(r#"{"periods": 24, "series": "rsvps_per_hour"}"#).expect("known");
    let inline = inline(&RSVPS_PER_HOUR, 24);
    assert_eq!(named.series(), Some("rsvps_per_hour"));
    assert_eq!(
        (named.ds(), named.y(), named.freq_seconds()),
        (inline.ds(), inline.y(), 3600)
    );
}

#[test]
fn length_mismatch_names_y_and_ds() {
    let series = &*RSVPS_PER_HOUR;
    let body = json!({"periods": 24, "ds": &series.ds[..12], "y": &series.y[..10]}).to_string();
    assert_eq!(refused(&body), "`y` has 10 values but `ds` has 12");
}

#[test]
fn periods_out_of_range() {
    assert_eq!(
        refused(&body(12, json!({"periods": 0}))),
        "`periods` must be between 1 and 10000, got 0"
    );
    assert_eq!(
        refused(&body(12, json!({"periods": 10_001}))),
        "`periods` must be between 1 and 10000, got 10001"
    );
    assert_eq!(
        refused(&body(12, json!({"periods": -1}))),
        "`periods`: invalid value: integer `-1`, expected u32"
    );
    assert_eq!(
        refused(&body(12, json!({"periods": "ten"}))),
        "`periods`: invalid type: string \"ten\", expected u32"
    );
}

#[test]
fn ds_not_increasing_or_duplicated() {
    let mut ds = RSVPS_PER_HOUR.ds[..12].to_vec();
    ds.swap(4, 5);
    let body = json!({"periods": 1, "ds": ds, "y": &RSVPS_PER_HOUR.y[..12]}).to_string();
    assert_eq!(
        refused(&body),
        format!(
            "`ds` is not increasing at index 5: {} s comes after {} s",
            ds[5], ds[4]
        )
    );
    let mut ds = RSVPS_PER_HOUR.ds[..12].to_vec();
    ds[7] = ds[6];
    let body = json!({"periods": 1, "ds": ds, "y": &RSVPS_PER_HOUR.y[..12]}).to_string();
    assert_eq!(
        refused(&body),
        format!(
            "`ds` has a duplicate at index 7: {} s is the same as the point before",
            ds[6]
        )
    );
}

#[test]
fn unknown_series_lists_the_known_ones() {
    assert_eq!(
        refused(r#"{"periods": 24, "series": "x"}"#),
        "`series` \"x\" is unknown; known: rsvps_per_hour, yes_rsvps_per_hour"
    );
}

#[test]
fn missing_and_unknown_fields() {
    assert_eq!(
        refused(r#"{"series": "rsvps_per_hour"}"#),
        "missing field `periods`"
    );
    assert_eq!(
        refused(r#"{"periods": 24, "series": "rsvps_per_hour", "period": 3}"#),
        "unknown field `period`, expected one of `periods`, `ds`, `y`, `series`, \
         `interval_width`, `freq_seconds`"
    );
    assert_eq!(
        refused(r#"{"periods": 24}"#),
        "give either `ds` and `y`, or `series`"
    );
    let both = body(12, json!({"series": "rsvps_per_hour"}));
    assert_eq!(
        refused(&both),
        "give either `ds` and `y`, or `series`, not both"
    );
    let ds_only = json!({"periods": 1, "ds": &RSVPS_PER_HOUR.ds[..3]}).to_string();
    assert_eq!(refused(&ds_only), "`y` is required when `ds` is given");
    let y_only = json!({"periods": 1, "y": &RSVPS_PER_HOUR.y[..3]}).to_string();
    assert_eq!(refused(&y_only), "`ds` is required when `y` is given");
    assert_eq!(
        refused(r#"{"periods": 24, "series": null, "ds": null, "y": null}"#),
        "give either `ds` and `y`, or `series`"
    );
}

#[test]
fn malformed_values_name_their_path() {
    assert_eq!(
        refused(r#"{"periods": 1, "ds": [1489921200, "2017-03-19 12:00"], "y": [1, 2]}"#),
        "`ds[1]`: \"2017-03-19 12:00\" is not an RFC 3339 timestamp: expected ':' at character 17"
    );
    assert_eq!(
        refused(r#"{"periods": 1, "ds": [1489921200, 1489924800.5], "y": [1, 2]}"#),
        "`ds[1]`: 1489924800.5 is not whole epoch seconds within years 0000..=9999"
    );
    assert_eq!(
        refused(r#"{"periods": 1, "ds": [1489921200, 1489924800], "y": [1, null]}"#),
        "`y[1]`: invalid type: null, expected f64"
    );
    assert_eq!(
        refused(r#"{"periods": 1, "ds": [1489921200, true], "y": [1, 2]}"#),
        "`ds[1]`: invalid type: boolean `true`, expected an RFC 3339 timestamp string or integer epoch seconds"
    );
    assert_eq!(
        refused(r#"{"periods": 1, "series": "rsvps_per_hour"} trailing"#),
        "trailing characters at line 1 column 44"
    );
}

#[test]
fn options_out_of_range() {
    assert_eq!(
        refused(&body(12, json!({"interval_width": 1.0}))),
        "`interval_width` must be greater than 0 and less than 1, got 1"
    );
    assert_eq!(
        refused(&body(12, json!({"interval_width": 0}))),
        "`interval_width` must be greater than 0 and less than 1, got 0"
    );
    assert_eq!(
        refused(&body(12, json!({"freq_seconds": 0}))),
        "`freq_seconds` must be at least 1, got 0"
    );
    assert_eq!(
        refused(&body(
            12,
            json!({"periods": 10_000, "freq_seconds": 9_000_000_000_i64})
        )),
        "`periods` × `freq_seconds` (10000 × 9000000000 s) after the last `ds` goes past the year 9999"
    );
}

#[test]
fn too_few_or_too_many_points() {
    assert_eq!(
        refused(&body(1, json!({}))),
        "`y` has 1 value(s); at least 2 are needed to fit a forecast"
    );
    assert_eq!(
        refused(&body(0, json!({}))),
        "`y` has 0 value(s); at least 2 are needed to fit a forecast"
    );
    let n = MAX_POINTS + 1;
    let too_many =
        json!({"periods": 1, "ds": (0..n as i64).collect::<Vec<_>>(), "y": vec![0.0; n]});
    assert_eq!(
        refused(&too_many.to_string()),
        "`y` has 20001 values; at most 20000 are accepted"
    );
}

#[test]
fn irregular_spacing_without_freq_seconds() {
    let body = r#"{"periods": 1, "ds": [1489921200, 1489924800, 1489932000], "y": [1, 2, 3]}"#;
    assert_eq!(
        refused(body),
        "`freq_seconds` is needed: the spacing of `ds` has no single most common value \
         (tied: [3600, 7200] s)"
    );
}

#[test]
fn nan_and_infinity_are_refused() {
    // JSON cannot carry them, but a caller building the request can.
    for (value, shown) in [
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        let mut y = RSVPS_PER_HOUR.y[..12].to_vec();
        y[3] = value;
        let request = ForecastRequest {
            periods: 1,
            ds: Some(RSVPS_PER_HOUR.ds[..12].to_vec()),
            y: Some(y),
            ..ForecastRequest::default()
        };
        let err = validate(request).expect_err("refused");
        assert_eq!(
            err.to_string(),
            format!("`y[3]` is {shown}; every value must be a finite number")
        );
    }
}

#[test]
fn bad_data_in_a_named_series_is_not_the_clients_fault() {
    let mut y = RSVPS_PER_HOUR.y.clone();
    y[10] = f64::NAN;
    let source = billabong_serving::MemorySeriesSource::new()
        .with(
            "broken",
            Series {
                ds: RSVPS_PER_HOUR.ds.clone(),
                y,
            },
        )
        .with("empty", Series::default());
    let request = |name: &str| ForecastRequest {
        periods: 1,
        series: Some(name.to_owned()),
        ..ForecastRequest::default()
    };
    let err =
        futures::executor::block_on(request("broken").validate(&source)).expect_err("refused");
    assert_eq!(err.domain(), ErrorDomain::External);
    assert_eq!(
        err.to_string(),
        "`series` \"broken\" cannot be forecast: `y[10]` is NaN; every value must be a finite number"
    );
    let err = futures::executor::block_on(request("empty").validate(&source)).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "`series` \"empty\" cannot be forecast: `y` has 0 value(s); at least 2 are needed to fit a forecast"
    );
}

#[test]
fn validation_can_run_in_a_spawned_task() {
    // Warp handlers and `tokio::spawn` need `Send` futures.
    fn assert_send<T: Send>(_: T) {}
    let request = ForecastRequest {
        periods: 1,
        ..ForecastRequest::default()
    };
    let source = crate::helpers::real_source();
    assert_send(request.validate(&source));
}
