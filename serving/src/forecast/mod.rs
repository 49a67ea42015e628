//! The forecast engine: `POST /forecast` without the HTTP.
//!
//! A request ([`ForecastRequest`]) is parsed from JSON, validated against a
//! [`SeriesSource`] into a [`ValidatedRequest`], then [`forecast`] fits Prophet
//! and returns a [`ForecastTable`]. The steps are separate so the HTTP layer
//! can refuse a bad request (400, the message naming the field) before it
//! spends CPU, and run the fit on a blocking thread.

mod error;
mod model;
mod request;
mod source;
mod table;
mod timestamp;

pub use error::{ErrorDomain, ForecastError};
pub use model::forecast;
pub use request::{
    DEFAULT_INTERVAL_WIDTH, ForecastRequest, MAX_PERIODS, MAX_POINTS, MIN_POINTS, ValidatedRequest,
};
pub use source::{MemorySeriesSource, Series, SeriesSource, SeriesSourceError};
pub use table::ForecastTable;
