//! The speed layer: consumes the raw topics and publishes live metric updates to
//! `billabong.metrics` (see DESIGN.md, "The lambda invariant").
//!
//! Built by issue #5; until then this crate only reserves its place in the graph.
