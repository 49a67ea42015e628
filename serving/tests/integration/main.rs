//! Tests of the serving layer's forecast engine and API key, on the real
//! recorded RSVP feed in `shared/data/` and on generated series whose
//! generators say what they model. No external service is needed.

mod api_key;
mod concurrency;
mod helpers;
mod model;
mod requests;
