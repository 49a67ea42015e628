//! The feed simulator: a websocket server that replays recorded real data
//! exactly as a live feed would send it (issue #4).
//!
//! The Meetup RSVP stream (`stream.meetup.com/2/rsvps`) no longer exists and
//! race timing feeds are private, so the producer is developed and tested
//! against this server. It must therefore behave like a real feed, warts
//! included: records are sent as recorded (out of order, duplicated, invalid),
//! never cleaned up.
//!
//! # Routes
//!
//! - RSVPs: `/2/rsvps`, the recorded lines byte for byte, one websocket text
//!   frame per line. A line that is not UTF-8 cannot be a text frame; it goes
//!   out as a binary frame (and is logged at load).
//! - Race: `/race` serves every race in sequence; `/race/<race_id>` one race.
//!   From the race data folder the events are made by
//!   [`crate::race_data::load_races`] and serialised with `serde_json`; from a
//!   JSON Lines file (as written by `billabong race-feed`) the lines are served
//!   byte for byte and a race is the lines carrying its `race_id` (a line
//!   without a readable `race_id` belongs to the race of the line before it).
//!
//! An unknown path is refused at the handshake with HTTP 404, a bad query with
//! HTTP 400; both with a one-line text body saying why.
//!
//! # The feed clock (shared contract with the producer)
//!
//! The *event time* of a record is its `mtime` (RSVPs) or `ts` (race events),
//! read by [`event_time_ms`]; a record without a readable one has none. The
//! *feed clock* `c_i` of record `i` is the running maximum of event times up to
//! and including `i`; a record without an event time keeps the clock of the
//! record before it (records before the first event time take the first event
//! time). Recorded RSVPs go backwards 234 times, some by 37 days, so the raw
//! `mtime` cannot pace or position anything; the running maximum is
//! non-decreasing and spans 1,137 s for the real file. [`FeedClock`] computes
//! it incrementally, the same way, for a client.
//!
//! **Pacing.** Record `i + 1` is sent `(c_{i+1} - c_i) / speed` after record
//! `i`. Between two races of `/race` (days apart in event time) and between two
//! laps of `--loop`, the pause is [`SimulatorConfig::segment_pause`] of feed
//! time instead (10 s by default, also divided by the speed); within a race the
//! real gaps are kept, red-flag stoppages included, as a live feed would be
//! silent then. [`Speed::Max`] sends as fast as the client reads, without
//! timers. Each connection keeps its own pace from the moment it opens.
//!
//! **Catch-up.** `?since_mtime=<ms>` (on every route, both feeds) starts the
//! connection at the *first* position `i` with `c_i >= since_mtime` (the clock
//! is non-decreasing, so this is a binary search); beyond the end of the
//! recording nothing is sent and the connection stays open (with `--loop`, the
//! next lap starts instead). A client that passes the highest event time it has
//! seen (its own running maximum, as [`FeedClock`] keeps it) therefore loses
//! nothing: everything after its last record is sent again, preceded by an
//! overlap of the records it already had at that same clock value, which the
//! client must drop. Against this simulator the overlap is exact by count: the
//! first `n` records at clock `c` are the `n` it already received at `c`.
//!
//! # Repetition and load
//!
//! - `repeat` (`--loop`) starts again from the beginning at the end, with the
//!   same bytes: laps repeat ids (and event times), so a consumer sees
//!   duplicates by design. Catch-up positions refer to the first lap.
//! - `scale` K (load tests only) follows each record by K - 1 derived copies
//!   (see [`SimulatorConfig::scale`] for the id scheme); the feed clock, pacing
//!   and catch-up are computed over the scaled stream, so the contract above
//!   holds for it too.
//!
//! # Slow clients
//!
//! Every connection has a bounded write buffer. At a paced speed a client that
//! falls more than [`SimulatorConfig::max_lag`] behind its schedule is closed
//! with code 1008 and the reason `client too slow: N s behind the feed`. At
//! [`Speed::Max`] the client's reading sets the pace (each send is awaited), so
//! there is no schedule to fall behind. The server pings every
//! [`SimulatorConfig::ping_interval`] and drops a client it has not heard from
//! (not even a pong) for three intervals.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), billabong_producer::simulator::SimulatorError> {
//! use billabong_producer::simulator::{FeedData, Simulator, SimulatorConfig, Speed};
//! use schemas::Feed;
//!
//! let data = FeedData::JsonLines("shared/data/meetup-rsvps/rsvps.jsonl".into());
//! let mut config = SimulatorConfig::new(Feed::Rsvps, data, "127.0.0.1:0".parse().expect("an address"));
//! config.speed = Speed::Max;
//! let simulator = Simulator::bind(config).await?;
//! println!("{}", simulator.urls()[0]); // ws://127.0.0.1:PORT/2/rsvps
//! simulator.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```

mod clock;
mod config;
mod connection;
mod error;
mod events;
mod load;
mod recording;
mod routes;
mod scale;
mod server;

#[cfg(test)]
mod tests;

pub use clock::{FeedClock, event_time_ms};
pub use config::{FeedData, SimulatorConfig, Speed};
pub use error::SimulatorError;
pub use scale::scale_records;
pub use server::Simulator;
