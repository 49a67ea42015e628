//! Billabong's data contracts: the event types of its two feeds, their
//! validation with precise errors, their Arrow schemas, and the topic names.
//!
//! Every other crate depends on this one and it depends on none of ours. It does
//! no I/O.
//!
//! - [`Rsvp`]: Meetup RSVPs in the real stream's wire format.
//! - [`RaceEvent`]: the race timing feed (format in `schemas/README.md`).
//! - [`Feed`]: either feed by name; [`Feed::parse`] validates one message.
//! - [`ValidationError`]: kind + JSON path + message, the DLQ's vocabulary.
//! - [`RsvpBatchBuilder`], [`RaceBatchBuilder`]: events to Arrow, the lake's hot path.
//! - [`model`]: trained model artifacts and their scoring (shared by training and serving).
//!
//! ```
//! use billabong_schemas::{Feed, Limits, ErrorKind};
//! let err = Feed::Rsvps.parse(br#"{"rsvp_id": 1"#, &Limits::default()).unwrap_err();
//! assert_eq!(err.kind, ErrorKind::MalformedJson);
//! ```

mod arrow_util;
pub mod batch_run;
pub mod civil;
mod decode;
mod error;
mod feed;
pub mod model;
pub mod race;
mod race_arrow;
mod race_arrow_read;
pub mod realtime;
pub mod rsvp;
mod rsvp_arrow;
pub mod topics;

pub use arrow_util::ArrowConversionError;
pub use batch_run::BatchRun;
pub use decode::Limits;
pub use error::{ErrorKind, Result, ValidationError};
pub use feed::{Feed, FeedEvent, UnknownFeed};
pub use race::RaceEvent;
pub use race_arrow::{RaceBatchBuilder, race_events_to_batch, race_schema};
pub use race_arrow_read::race_events_from_batch;
pub use rsvp::Rsvp;
pub use rsvp_arrow::{RsvpBatchBuilder, rsvp_schema, rsvps_from_batch, rsvps_to_batch};

/// Re-exported so that users of the Arrow conversions name the same arrow.
pub use arrow;
