//! `GET /api/stream?channels=c1,c2`: live updates as Server-Sent Events,
//! resumable on any instance with `Last-Event-ID`.
//!
//! ```text
//! follower thread ── per batch, under the state's write lock ──► Hub::publish
//!                                                                  ├─► replay ring (bounded: events, bytes)
//!                                                                  └─► broadcast (bounded, shared by all clients)
//! GET /api/stream ── under the state's read lock ──► Hub::subscribe ─► snapshot | replay, then live
//! ```
//!
//! - A channel is a live metric family (`channels::KNOWN`) or `views`. Each
//!   event is `id`, `event: <channel>`, `data: <the update as /api/live
//!   returns it>`; `views` events carry `{"coverage", "views": [changed]}`
//!   whenever the served views change (a checkpoint of the served
//!   generation or a hand-over).
//! - Ids are cuts through the metrics topic (`position.rs`): a function of
//!   Kafka positions, so any instance resumes any client. Nothing per user
//!   is kept between requests.
//! - A fresh connection starts with a `snapshot` (`reason: initial`); an id
//!   older than the ring, or not understood, gets one with `reason: gap`
//!   and a `message`. The snapshot pairs with its id because both are read
//!   under the state lock the follower publishes under.
//! - Slow clients: every client reads the same broadcast buffer; one more
//!   than `client_queue_chunks` messages behind is cut off and resumes on
//!   reconnect. A client that stops reading entirely stops being polled:
//!   it costs its socket buffers, nothing more.
//! - `views` events are the one part that is a function of timing: which
//!   batch a hand-over lands in depends on when PostgreSQL was polled, so a
//!   resume on another instance may repeat or merge a `views` event. They
//!   only say "refetch", so that is harmless; metric events are exact.

mod channels;
mod hub;
mod position;
mod stream;

pub(crate) use hub::{Hub, MessageEvents};
pub(crate) use stream::respond;
