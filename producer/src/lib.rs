//! Getting events into Kafka: the feed simulator that replays recorded real data
//! over a websocket, and the producer that validates a feed and writes it to the
//! raw topics (issue #4).
//!
//! [`race_data`] turns the recorded lap data in `shared/data/race/` into the race
//! feed defined in the `schemas` crate; the simulator serves it and
//! `billabong race-feed` writes it out as JSON Lines.

pub mod ingest;
pub mod race_data;
pub mod simulator;
