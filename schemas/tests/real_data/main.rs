//! Integration tests of `billabong-schemas` against the real recorded data in
//! `shared/data/` (1,541 Meetup RSVPs; the FIA and Ergast race feeds).
//!
//! One test binary (STYLE.md §8), one module per purpose:
//! - [`real_rsvps`]: every recorded RSVP parses, and JSON → struct → JSON/Arrow
//!   keeps every value of the wire record.
//! - [`real_race`]: the same for every event of both race data sets.
//! - [`corrupted_rsvps`], [`corrupted_race`]: corrupted copies of real records
//!   (a key removed, a value of the wrong type or out of range, a key twice...)
//!   give the right error kind and JSON path.
//! - [`malformed_rsvps`]: real RSVPs truncated, with broken UTF-8, trailing
//!   bytes or over the size limit.
//! - [`fuzz`]: thousands of deterministic byte mutations of real records; no
//!   panic, and whatever is accepted survives the round trips.

mod corrupted_race;
mod corrupted_rsvps;
mod fuzz;
mod helpers;
mod malformed_rsvps;
mod real_race;
mod real_rsvps;
