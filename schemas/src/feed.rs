//! The two feeds as one type, so that tools (`validate`, the producer, the sink)
//! handle either without caring which.

use std::fmt;
use std::str::FromStr;

use crate::decode::Limits;
use crate::error::Result;
use crate::race::RaceEvent;
use crate::rsvp::Rsvp;
use crate::topics::{RACE_TOPIC, RSVPS_TOPIC};

/// Which feed a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feed {
    /// Meetup RSVPs.
    Rsvps,
    /// Race timing.
    Race,
}

/// One validated message of either feed.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// An RSVP.
    Rsvp(Box<Rsvp>),
    /// A race feed event.
    Race(Box<RaceEvent>),
}

impl Feed {
    /// Both feeds.
    pub const ALL: [Feed; 2] = [Feed::Rsvps, Feed::Race];

    /// The feed's name on the command line and in DLQ headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Feed::Rsvps => "rsvps",
            Feed::Race => "race",
        }
    }

    /// The raw topic the feed is produced to by default.
    pub fn default_topic(self) -> &'static str {
        match self {
            Feed::Rsvps => RSVPS_TOPIC,
            Feed::Race => RACE_TOPIC,
        }
    }

    /// Decodes and validates one message of this feed.
    pub fn parse(self, bytes: &[u8], limits: &Limits) -> Result<FeedEvent> {
        Ok(match self {
            Feed::Rsvps => FeedEvent::Rsvp(Box::new(Rsvp::parse(bytes, limits)?)),
            Feed::Race => FeedEvent::Race(Box::new(RaceEvent::parse(bytes, limits)?)),
        })
    }
}

impl FeedEvent {
    /// The Kafka key of the event (see [`Rsvp::key`] and [`RaceEvent::key`]).
    pub fn key(&self) -> &str {
        match self {
            FeedEvent::Rsvp(r) => r.key(),
            FeedEvent::Race(e) => e.key(),
        }
    }

    /// Event time, ms since the Unix epoch (`mtime` for RSVPs).
    pub fn event_time_ms(&self) -> i64 {
        match self {
            FeedEvent::Rsvp(r) => r.mtime,
            FeedEvent::Race(e) => e.ts(),
        }
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A feed name that is neither `rsvps` nor `race`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown feed {0:?}: expected \"rsvps\" or \"race\"")]
pub struct UnknownFeed(pub String);

impl FromStr for Feed {
    type Err = UnknownFeed;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rsvps" => Ok(Feed::Rsvps),
            "race" => Ok(Feed::Race),
            other => Err(UnknownFeed(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for feed in Feed::ALL {
            assert_eq!(feed.as_str().parse::<Feed>(), Ok(feed));
        }
        assert!("rsvp".parse::<Feed>().is_err());
    }
}
