//! Where records come from: a live websocket feed or a JSON Lines backlog.
//!
//! Both deliver raw messages in feed order and tell when a catch-up starts
//! ([`SourceEvent::Connected`]), after which the source first sends again the
//! records produced at the current feed clock; the cursor (`overlap.rs`) drops
//! them. Both honour the same catch-up contract: start at the first record
//! whose running-max event time reaches `since`.

mod file;
mod lines;
mod websocket;

use bytes::Bytes;
use schemas::Feed;

use super::config::{IngestConfig, SourceSpec};
use super::error::Result;

pub(crate) use file::FileSource;
pub(crate) use websocket::WebsocketSource;

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The bytes exactly as received (cut to `MAX_RECORD_BYTES` if longer).
    pub(crate) bytes: Bytes,
    /// It came as a binary websocket frame; a feed sends JSON as text.
    pub(crate) binary: bool,
    /// The full length, when the message was longer than the bytes kept.
    pub(crate) cut_from: Option<u64>,
}

/// What a source delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceEvent {
    /// A connection (or the file's catch-up position) starts: the overlap
    /// phase begins.
    Connected,
    /// One record.
    Record(Frame),
}

/// Either source. An enum rather than a trait object: there are two, and
/// their `next` is async. One lives per run, so the size difference of the
/// variants does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    Websocket(WebsocketSource),
    File(FileSource),
}

impl Source {
    /// Opens the source: the file is opened now, so that a missing file is a
    /// usage error before Kafka is touched; a websocket connects on first use.
    pub(crate) async fn open(config: &IngestConfig) -> Result<Source> {
        Ok(match &config.source {
            SourceSpec::Websocket { url } => {
                Source::Websocket(WebsocketSource::new(url.clone(), config.websocket.clone()))
            }
            SourceSpec::File { path } => Source::File(FileSource::open(path, config.feed).await?),
        })
    }

    /// The next event; `None` when the source is exhausted (a file at its
    /// end; a websocket never is). `since` is the cursor's clock, the catch-up
    /// position of a (re)connection.
    ///
    /// Cancel safe: dropping the future loses no record.
    pub(crate) async fn next(&mut self, since: Option<i64>) -> Result<Option<SourceEvent>> {
        match self {
            Source::Websocket(ws) => Ok(Some(ws.next(since).await)),
            Source::File(file) => file.next(since).await,
        }
    }

    /// Connections made after the first.
    pub(crate) fn reconnects(&self) -> u64 {
        match self {
            Source::Websocket(ws) => ws.reconnects(),
            Source::File(_) => 0,
        }
    }
}

/// The running maximum of event times, as the catch-up contract defines it.
pub(crate) fn advance_clock(feed: Feed, clock: Option<i64>, record: &[u8]) -> Option<i64> {
    match (clock, crate::simulator::event_time_ms(feed, record)) {
        (Some(clock), Some(time)) => Some(clock.max(time)),
        (clock, time) => clock.or(time),
    }
}
