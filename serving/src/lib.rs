//! The serving layer: merges batch and real-time views and serves them over HTTP
//! (REST, SSE, the dashboard, SQL).
//!
//! Built by issue #8; until then this crate only reserves its place in the graph.
