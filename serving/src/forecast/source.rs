//! Where a named series (`{"series": "rsvps_per_hour"}`) comes from.
//!
//! The forecast engine does not know about PostgreSQL: the HTTP layer
//! implements [`SeriesSource`] over the batch views and passes it to
//! [`ForecastRequest::validate`](super::ForecastRequest::validate). Loading is
//! async because that implementation queries a database from a request
//! handler; the list of names is not, because it is the fixed catalogue the
//! service exposes (and goes into every unknown-series message).

use std::collections::BTreeMap;
use std::future::Future;

/// A time series: `ds` in epoch seconds, `y` the value at each.
///
/// Nothing is checked on construction: a request built from a `Series` is
/// validated like any client-sent data (increasing `ds`, finite `y`, ...).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Timestamps, epoch seconds (UTC).
    pub ds: Vec<i64>,
    /// Values, one per timestamp.
    pub y: Vec<f64>,
}

/// The error a [`SeriesSource`] may return when loading fails.
pub type SeriesSourceError = Box<dyn std::error::Error + Send + Sync>;

/// Resolves series names to data.
///
/// Implementations must be cheap to share between requests (`Sync`) and hold
/// no per-request state: the service runs any number of instances, and any of
/// them may answer any request.
pub trait SeriesSource: Sync {
    /// Every name [`load`](Self::load) can resolve, for the message of an
    /// unknown name. Sorted or not; shown as given.
    fn names(&self) -> Vec<String>;

    /// The series called `name`, `Ok(None)` if there is no such series, or the
    /// error that prevented loading it (reported as retryable).
    fn load(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Series>, SeriesSourceError>> + Send;
}

/// A [`SeriesSource`] over series held in memory: for tests, demos and a
/// service started without a database.
#[derive(Debug, Clone, Default)]
pub struct MemorySeriesSource {
    series: BTreeMap<String, Series>,
}

impl MemorySeriesSource {
    /// An empty source: every name is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the series called `name`.
    pub fn with(mut self, name: impl Into<String>, series: Series) -> Self {
        self.series.insert(name.into(), series);
        self
    }
}

impl SeriesSource for MemorySeriesSource {
    fn names(&self) -> Vec<String> {
        self.series.keys().cloned().collect()
    }

    fn load(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Series>, SeriesSourceError>> + Send {
        std::future::ready(Ok(self.series.get(name).cloned()))
    }
}
