//! What to serve, where, and how fast: the simulator's configuration, kept
//! apart from the running server (`Simulator::bind` turns it into one).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use schemas::Feed;

use super::error::SimulatorError;
use crate::race_data::RaceDataset;

/// The largest `scale`: the derived copies are built once, in memory, at start
/// (1,000 × the RSVP file is about 2 GB).
pub(crate) const MAX_SCALE: u32 = 1_000;

/// How fast feed time runs compared with wall time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as each client reads: no timers, every send awaited.
    Max,
    /// Feed time runs this many times faster than wall time (1 = real time);
    /// a finite number above zero.
    Factor(f64),
}

impl Speed {
    /// Checks that a factor is a finite number above zero.
    pub(crate) fn validate(self) -> Result<Self, SimulatorError> {
        match self {
            Speed::Factor(factor) if !(factor.is_finite() && factor > 0.0) => {
                Err(SimulatorError::InvalidSpeed {
                    given: factor.to_string(),
                })
            }
            speed => Ok(speed),
        }
    }
}

impl Default for Speed {
    fn default() -> Self {
        Speed::Factor(1.0)
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::Max => f.write_str("max"),
            Speed::Factor(factor) => write!(f, "{factor}"),
        }
    }
}

impl FromStr for Speed {
    type Err = SimulatorError;

    /// `max`, or a number above zero (`1`, `0.5`, `1000`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        let factor: f64 = s.trim().parse().map_err(|_| SimulatorError::InvalidSpeed {
            given: s.to_owned(),
        })?;
        Speed::Factor(factor)
            .validate()
            .map_err(|_| SimulatorError::InvalidSpeed {
                given: s.to_owned(),
            })
    }
}

/// Where the recorded messages come from.
#[derive(Debug, Clone)]
pub enum FeedData {
    /// A JSON Lines file; each line is one message, served byte for byte.
    /// Line ends (`\n` or `\r\n`) are not part of a message; blank lines (empty,
    /// or only spaces and tabs) are not messages, as in `billabong validate`.
    JsonLines(PathBuf),
    /// The recorded race data folder (`shared/data/race`), turned into race
    /// feed events by [`crate::race_data::load_races`] (race feed only).
    RaceData {
        /// The folder holding the CSV files.
        dir: PathBuf,
        /// Which of its data sets.
        dataset: RaceDataset,
    },
    /// Messages held in memory, served like the lines of a file: for tests
    /// that need records no file holds (corrupted copies of real ones).
    Messages(Vec<Bytes>),
}

impl FeedData {
    /// Where the data comes from, for logs and errors.
    pub(crate) fn describe(&self) -> String {
        match self {
            FeedData::JsonLines(path) => path.display().to_string(),
            FeedData::RaceData { dir, dataset } => format!("{} ({dataset})", dir.display()),
            FeedData::Messages(messages) => format!("{} messages in memory", messages.len()),
        }
    }
}

/// Everything `Simulator::bind` needs. Start from [`SimulatorConfig::new`],
/// which sets the defaults documented on each field, and change what differs.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Which feed the data holds: decides the routes and the event-time field.
    pub feed: Feed,
    /// The recorded messages.
    pub data: FeedData,
    /// Where to listen; port 0 picks a free port (see `Simulator::local_addr`).
    pub listen: SocketAddr,
    /// Pacing; default 1 (real time).
    pub speed: Speed,
    /// Start again from the beginning at the end (`--loop`); laps repeat the
    /// same bytes, ids included. Default off: at the end the connection stays
    /// open and silent, like a live feed with nothing to say.
    pub repeat: bool,
    /// Each record is followed by `scale - 1` derived copies (load tests only;
    /// default 1 = only the real records; at most 1,000). Copy `j` (1-based):
    /// an RSVP gets `rsvp_id + j × 10^10` (real ids are below 10^10, so no copy
    /// collides with a real id or another copy) and `mtime + j` ms; a race event
    /// gets `race_id` + `-x{j}`. Copies are re-serialised (their key order is
    /// not the original's); a record that is not a JSON object with those
    /// fields is copied unchanged.
    pub scale: u32,
    /// How far behind its schedule a client may fall at a paced speed before it
    /// is disconnected (close code 1008); default 10 s.
    pub max_lag: Duration,
    /// Feed time between two races of `/race` and between two laps of
    /// `repeat`, in place of the real gap (days between races); default 10 s.
    pub segment_pause: Duration,
    /// How often the server pings each client; default 20 s. A client not
    /// heard from for three intervals is dropped.
    pub ping_interval: Duration,
    /// How long a close (slow client, shutdown) may take to reach the client
    /// before the connection is dropped without it; default 10 s.
    pub close_timeout: Duration,
    /// How long a new connection may take to complete its websocket handshake;
    /// default 10 s.
    pub handshake_timeout: Duration,
    /// Bytes buffered per connection before they are written to the socket;
    /// default 64 KiB. The buffer never holds more than this plus one record,
    /// so memory per client is bounded whatever the client does.
    pub write_buffer_size: usize,
    /// `SO_SNDBUF` of every connection, in bytes; default `None` (the kernel's
    /// autotuning, up to megabytes). A small value makes a stalled client
    /// visible sooner, since the kernel then absorbs less of its backlog.
    pub socket_send_buffer: Option<u32>,
}

impl SimulatorConfig {
    /// A configuration with the defaults: real-time speed, no loop, scale 1.
    pub fn new(feed: Feed, data: FeedData, listen: SocketAddr) -> Self {
        SimulatorConfig {
            feed,
            data,
            listen,
            speed: Speed::default(),
            repeat: false,
            scale: 1,
            max_lag: Duration::from_secs(10),
            segment_pause: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            close_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            write_buffer_size: 64 * 1024,
            socket_send_buffer: None,
        }
    }

    /// Checks every setting that does not need the data; all problems are
    /// user errors, reported before anything is read or bound.
    pub(crate) fn validate(&self) -> Result<(), SimulatorError> {
        self.speed.validate()?;
        if !(1..=MAX_SCALE).contains(&self.scale) {
            return Err(SimulatorError::InvalidConfig {
                setting: "scale",
                message: format!("must be between 1 and {MAX_SCALE}, got {}", self.scale),
            });
        }
        for (setting, value) in [
            ("max_lag", self.max_lag),
            ("ping_interval", self.ping_interval),
        ] {
            if value.is_zero() {
                return Err(SimulatorError::InvalidConfig {
                    setting,
                    message: "must be above zero".to_owned(),
                });
            }
        }
        if self.feed == Feed::Rsvps && matches!(self.data, FeedData::RaceData { .. }) {
            return Err(SimulatorError::InvalidConfig {
                setting: "data",
                message: "the race data folder holds the race feed, not RSVPs".to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_parses_max_and_positive_numbers_only() {
        assert_eq!("max".parse::<Speed>().ok(), Some(Speed::Max));
        assert_eq!("1000".parse::<Speed>().ok(), Some(Speed::Factor(1000.0)));
        assert_eq!("0.5".parse::<Speed>().ok(), Some(Speed::Factor(0.5)));
        for bad in ["0", "-1", "fast", "", "NaN", "inf", "1e999", "MAX"] {
            let err = bad.parse::<Speed>().expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn scale_zero_is_refused() {
        let mut config = SimulatorConfig::new(
            Feed::Rsvps,
            FeedData::Messages(Vec::new()),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        );
        config.scale = 0;
        let err = config.validate().expect_err("scale 0");
        assert!(err.to_string().contains("scale"), "{err}");
        config.scale = 3;
        config.speed = Speed::Factor(-2.0);
        assert!(config.validate().is_err());
    }
}
