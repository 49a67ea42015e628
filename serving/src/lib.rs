//! The serving layer: merges batch and real-time views and serves them over HTTP
//! (REST, SSE, the dashboard, SQL).
//!
//! So far it holds the parts that do not need HTTP:
//!
//! - the forecast engine ([`forecast`], [`ForecastRequest`], [`ForecastTable`]):
//!   Prophet fitted per request, stateless, so any number of instances can
//!   serve any number of users;
//! - [`ApiKey`]: the shared secret that guards the service, compared in
//!   constant time.
//!
//! It depends on `schemas` only; the `cli` crate runs it. The HTTP server
//! (issue #8) will implement [`SeriesSource`] over the PostgreSQL views.

mod api_key;
mod forecast;

pub use api_key::{ApiKey, ApiKeyError};
pub use forecast::{
    DEFAULT_INTERVAL_WIDTH, ErrorDomain, ForecastError, ForecastRequest, ForecastTable,
    MAX_PERIODS, MAX_POINTS, MIN_POINTS, MemorySeriesSource, Series, SeriesSource,
    SeriesSourceError, ValidatedRequest, forecast,
};
