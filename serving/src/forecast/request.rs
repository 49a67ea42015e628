//! The forecast request as a client sends it, and its validated form.
//!
//! Validation is separate from fitting so that the HTTP layer can answer 400
//! (with a message naming the field) before spending CPU on a fit, and so that
//! [`forecast`](super::forecast) only ever sees data Prophet can take.

use std::collections::HashMap;

use serde::Deserialize;

use super::error::ForecastError;
use super::source::{Series, SeriesSource};
use super::timestamp::{self, MAX_SECONDS, MIN_SECONDS};

/// Fewest points a fit accepts: Prophet needs two distinct timestamps to scale time.
pub const MIN_POINTS: usize = 2;
/// Most points one request may send. Bounds the CPU a single request can take,
/// since fit and uncertainty sampling grow with length: 20,000 points (over two
/// years hourly) plus [`MAX_PERIODS`] took 5.9 s in a release build, against
/// 0.15 s for the 906 hours of the real RSVP series (2 cores, mostly idle).
pub const MAX_POINTS: usize = 20_000;
/// Most future points one request may ask for.
pub const MAX_PERIODS: u32 = 10_000;
/// Width of the uncertainty interval when the request gives none (Prophet's default).
pub const DEFAULT_INTERVAL_WIDTH: f64 = 0.8;

/// A forecast request, as deserialized from the JSON body.
///
/// Two shapes, chosen by which fields are present:
///
/// - inline data: `{"periods": 24, "ds": [...], "y": [...]}`, where each `ds`
///   element is either an RFC 3339 string (`"2017-03-19T12:00:00Z"`, any
///   offset, whole seconds) or an integer number of seconds since the Unix
///   epoch (`1489924800`); both forms may be mixed;
/// - a named series: `{"periods": 24, "series": "rsvps_per_hour"}`, resolved
///   by a [`SeriesSource`].
///
/// Optional in both: `interval_width` (default [`DEFAULT_INTERVAL_WIDTH`]) and
/// `freq_seconds`, the spacing of the future points (default: the most common
/// spacing of `ds`). Unknown fields are refused so that a misspelt option is
/// an error, not a silently ignored default.
///
/// ```
/// use billabong_serving::ForecastRequest;
///
/// let body = br#"{"periods": 2, "ds": ["2017-03-19T10:00:00Z", 1489921200], "y": [3, 5]}"#;
/// let request = ForecastRequest::from_json(body).unwrap();
/// assert_eq!(request.ds, Some(vec![1_489_917_600, 1_489_921_200]));
///
/// let err = ForecastRequest::from_json(br#"{"periods": 2, "ds": [1, 2], "y": [3, null]}"#);
/// assert_eq!(err.unwrap_err().to_string(), "`y[1]`: invalid type: null, expected f64");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastRequest {
    /// How many future points to forecast after the last `ds`: 1..=[`MAX_PERIODS`].
    pub periods: u32,
    /// Timestamps of the history, epoch seconds; strictly increasing.
    #[serde(default, deserialize_with = "timestamp::deserialize_opt_seconds")]
    pub ds: Option<Vec<i64>>,
    /// Values of the history, one per `ds`; finite.
    #[serde(default)]
    pub y: Option<Vec<f64>>,
    /// Name of a series to load instead of `ds` and `y`.
    #[serde(default)]
    pub series: Option<String>,
    /// Probability mass inside `yhat_lower..=yhat_upper`, strictly between 0 and 1.
    #[serde(default)]
    pub interval_width: Option<f64>,
    /// Seconds between future points; at least 1.
    #[serde(default)]
    pub freq_seconds: Option<i64>,
}

/// A request that passed every check and carries its data: the only input
/// [`forecast`](super::forecast) takes.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedRequest {
    ds: Vec<i64>,
    y: Vec<f64>,
    periods: u32,
    interval_width: f64,
    freq_seconds: i64,
    series: Option<String>,
}

impl ForecastRequest {
    /// Parses a JSON body. Errors name the JSON path of the bad value.
    pub fn from_json(body: &[u8]) -> Result<Self, ForecastError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let request: Self = serde_path_to_error::deserialize(&mut de)?;
        de.end().map_err(|e| ForecastError::Json {
            path: ".".to_owned(),
            message: e.to_string(),
        })?;
        Ok(request)
    }

    /// Checks the request, loading a named series from `source`.
    ///
    /// Options are checked before the series is loaded, so a bad request costs
    /// no database query. Data of a named series gets the same checks as
    /// inline data, but failures are reported as
    /// [`ForecastError::UnusableSeries`], which is not the client's fault.
    pub async fn validate<S>(self, source: &S) -> Result<ValidatedRequest, ForecastError>
    where
        S: SeriesSource + ?Sized,
    {
        if !(1..=MAX_PERIODS).contains(&self.periods) {
            return Err(ForecastError::PeriodsOutOfRange {
                got: self.periods,
                max: MAX_PERIODS,
            });
        }
        let interval_width = self.interval_width.unwrap_or(DEFAULT_INTERVAL_WIDTH);
        if !(interval_width > 0.0 && interval_width < 1.0) {
            return Err(ForecastError::IntervalWidthOutOfRange {
                got: interval_width,
            });
        }
        if let Some(got) = self.freq_seconds.filter(|f| *f < 1) {
            return Err(ForecastError::FreqOutOfRange { got });
        }
        let options = Options {
            periods: self.periods,
            interval_width,
            freq: self.freq_seconds,
        };
        match (self.ds, self.y, self.series) {
            (Some(ds), Some(y), None) => options.check(Series { ds, y }, None),
            (None, None, Some(name)) => {
                let series = match source.load(&name).await {
                    Ok(Some(series)) => series,
                    Ok(None) => {
                        return Err(ForecastError::UnknownSeries {
                            name,
                            known: source.names(),
                        });
                    }
                    Err(source) => return Err(ForecastError::Source { name, source }),
                };
                options.check(series, Some(name.clone())).map_err(|reason| {
                    ForecastError::UnusableSeries {
                        name,
                        reason: Box::new(reason),
                    }
                })
            }
            (None, None, None) => Err(ForecastError::DataOrSeries { both: false }),
            (_, _, Some(_)) => Err(ForecastError::DataOrSeries { both: true }),
            (Some(_), None, None) => Err(ForecastError::MissingField {
                missing: "y",
                given: "ds",
            }),
            (None, Some(_), None) => Err(ForecastError::MissingField {
                missing: "ds",
                given: "y",
            }),
        }
    }
}

/// The checked options, applied to the data once it is at hand.
struct Options {
    periods: u32,
    interval_width: f64,
    freq: Option<i64>,
}

impl Options {
    fn check(
        self,
        data: Series,
        series: Option<String>,
    ) -> Result<ValidatedRequest, ForecastError> {
        let Series { ds, y } = data;
        if ds.len() != y.len() {
            return Err(ForecastError::LengthMismatch {
                ds: ds.len(),
                y: y.len(),
            });
        }
        if y.len() < MIN_POINTS {
            return Err(ForecastError::TooFewPoints {
                got: y.len(),
                min: MIN_POINTS,
            });
        }
        if y.len() > MAX_POINTS {
            return Err(ForecastError::TooManyPoints {
                got: y.len(),
                max: MAX_POINTS,
            });
        }
        if let Some((index, &value)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ForecastError::NotFinite { index, value });
        }
        if let Some((index, &ds)) = ds
            .iter()
            .enumerate()
            .find(|(_, s)| !(MIN_SECONDS..=MAX_SECONDS).contains(*s))
        {
            return Err(ForecastError::TimestampOutOfRange { index, ds });
        }
        check_increasing(&ds)?;
        let freq_seconds = match self.freq {
            Some(freq) => freq,
            None => infer_freq(&ds)?,
        };
        let last = *ds
            .last()
            .expect("at least MIN_POINTS points were checked above");
        let horizon = i64::from(self.periods)
            .checked_mul(freq_seconds)
            .and_then(|span| last.checked_add(span));
        if horizon.is_none_or(|end| end > MAX_SECONDS) {
            return Err(ForecastError::HorizonOutOfRange {
                periods: self.periods,
                freq_seconds,
            });
        }
        Ok(ValidatedRequest {
            ds,
            y,
            periods: self.periods,
            interval_width: self.interval_width,
            freq_seconds,
            series,
        })
    }
}

fn check_increasing(ds: &[i64]) -> Result<(), ForecastError> {
    for (i, pair) in ds.windows(2).enumerate() {
        let (previous, current) = (pair[0], pair[1]);
        let index = i + 1;
        if current == previous {
            return Err(ForecastError::DuplicateTimestamp { index, ds: current });
        }
        if current < previous {
            return Err(ForecastError::NotIncreasing {
                index,
                ds: current,
                previous,
            });
        }
    }
    Ok(())
}

/// The most common spacing of `ds` (strictly increasing, two or more points).
///
/// The mode over the whole history, not Prophet's last five points, so that a
/// single gap at the end of an hourly series does not make the future
/// two-hourly. A tie has no right answer, so it is an error asking for
/// `freq_seconds`.
pub(crate) fn infer_freq(ds: &[i64]) -> Result<i64, ForecastError> {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for pair in ds.windows(2) {
        *counts.entry(pair[1] - pair[0]).or_default() += 1;
    }
    let max = counts.values().copied().max().unwrap_or(0);
    let mut tied: Vec<i64> = counts
        .into_iter()
        .filter(|&(_, n)| n == max)
        .map(|(spacing, _)| spacing)
        .collect();
    tied.sort_unstable();
    match tied.as_slice() {
        [one] => Ok(*one),
        _ => Err(ForecastError::FrequencyNotInferred { tied }),
    }
}

impl ValidatedRequest {
    /// History timestamps, epoch seconds, strictly increasing.
    pub fn ds(&self) -> &[i64] {
        &self.ds
    }

    /// History values, finite, one per timestamp.
    pub fn y(&self) -> &[f64] {
        &self.y
    }

    /// Number of future points to forecast.
    pub fn periods(&self) -> u32 {
        self.periods
    }

    /// Width of the uncertainty interval, in (0, 1).
    pub fn interval_width(&self) -> f64 {
        self.interval_width
    }

    /// Seconds between future points: given, or the most common spacing of `ds`.
    pub fn freq_seconds(&self) -> i64 {
        self.freq_seconds
    }

    /// Name of the series the data was loaded from, if it was named.
    pub fn series(&self) -> Option<&str> {
        self.series.as_deref()
    }

    /// The future timestamps: `periods` steps of `freq_seconds` after the last `ds`.
    pub fn future_ds(&self) -> impl Iterator<Item = i64> + '_ {
        let last = *self
            .ds
            .last()
            .expect("a validated request has at least MIN_POINTS points");
        (1..=i64::from(self.periods)).map(move |i| last + i * self.freq_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_the_most_common_spacing() {
        // One missing hour does not change an hourly series.
        let ds = [0, 3600, 7200, 14_400, 18_000];
        assert_eq!(infer_freq(&ds).expect("hourly"), 3600);
        assert_eq!(infer_freq(&[5, 65]).expect("one spacing"), 60);
    }

    #[test]
    fn a_tie_asks_for_freq_seconds() {
        let err = infer_freq(&[0, 3600, 10_800]).expect_err("tie");
        assert_eq!(
            err.to_string(),
            "`freq_seconds` is needed: the spacing of `ds` has no single most common value \
             (tied: [3600, 7200] s)"
        );
    }
}
