//! The websocket source: one client connection at a time, reconnecting for as
//! long as the run lasts.
//!
//! A connection is opened with `since_mtime` = the cursor's clock, so the feed
//! resends what may have been missed (and an overlap that the cursor drops).
//! Refusals and drops are retried with [`Backoff`]; a connection that sends
//! nothing, not even a pong, for `dead_after` is treated as dead (a half-open
//! TCP connection otherwise hangs forever).

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Frame, SourceEvent};
use crate::ingest::backoff::Backoff;
use crate::ingest::config::{MAX_RECORD_BYTES, WebsocketTuning};

/// How long one connection attempt (TCP + handshake) may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The websocket client.
#[derive(Debug)]
pub(crate) struct WebsocketSource {
    url: String,
    tuning: WebsocketTuning,
    backoff: Backoff,
    connection: Option<Connection>,
    connections: u64,
}

#[derive(Debug)]
struct Connection {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    last_heard: Instant,
    ping: Interval,
    delivered: bool,
}

/// What one wait on an open connection produced.
enum Outcome {
    Frame(Frame),
    Nothing,
    Lost(String),
}

impl WebsocketSource {
    pub(crate) fn new(url: String, tuning: WebsocketTuning) -> Self {
        WebsocketSource {
            url,
            backoff: Backoff::new(tuning.backoff_initial, tuning.backoff_max),
            tuning,
            connection: None,
            connections: 0,
        }
    }

    pub(crate) fn reconnects(&self) -> u64 {
        self.connections.saturating_sub(1)
    }

    /// The next event: a record, or `Connected` after (re)connecting.
    pub(crate) async fn next(&mut self, since: Option<i64>) -> SourceEvent {
        loop {
            let Some(connection) = &mut self.connection else {
                self.connection = Some(self.connect(since).await);
                self.connections += 1;
                return SourceEvent::Connected;
            };
            match connection.wait(&self.tuning).await {
                Outcome::Frame(frame) => {
                    if !connection.delivered {
                        connection.delivered = true;
                        self.backoff.reset();
                    }
                    return SourceEvent::Record(frame);
                }
                Outcome::Nothing => {}
                Outcome::Lost(why) => {
                    tracing::warn!(url = %self.url, %why, "Lost the feed connection; reconnecting.");
                    self.connection = None;
                }
            }
        }
    }

    /// Connects, retrying with backoff until it works.
    async fn connect(&mut self, since: Option<i64>) -> Connection {
        let url = catch_up_url(&self.url, since);
        let mut failures = 0u32;
        loop {
            let attempt =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(&url)).await;
            let error = match attempt {
                Ok(Ok((stream, _response))) => {
                    tracing::info!(%url, after_failures = failures, "Connected to the feed.");
                    let start = Instant::now() + self.tuning.ping_interval;
                    let mut ping = tokio::time::interval_at(start, self.tuning.ping_interval);
                    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    return Connection {
                        stream,
                        last_heard: Instant::now(),
                        ping,
                        delivered: false,
                    };
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no answer within {CONNECT_TIMEOUT:?}"),
            };
            failures += 1;
            let delay = self.backoff.next_delay();
            tracing::warn!(%url, failures, %error, ?delay, "Cannot connect to the feed; retrying.");
            tokio::time::sleep(delay).await;
        }
    }
}

impl Connection {
    async fn wait(&mut self, tuning: &WebsocketTuning) -> Outcome {
        tokio::select! {
            message = self.stream.next() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => return Outcome::Lost(error.to_string()),
                    None => return Outcome::Lost("the stream ended".to_owned()),
                };
                self.last_heard = Instant::now();
                match message {
                    Message::Text(text) => Outcome::Frame(frame(Bytes::from(text), false)),
                    Message::Binary(bytes) => Outcome::Frame(frame(bytes, true)),
                    Message::Close(close) => Outcome::Lost(match close {
                        Some(close) => format!("closed by the feed ({}: {})", close.code, close.reason),
                        None => "closed by the feed".to_owned(),
                    }),
                    // Pings are answered by tungstenite on the next read or write.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Outcome::Nothing,
                }
            }
            _ = self.ping.tick() => {
                let silent = self.last_heard.elapsed();
                if silent >= tuning.dead_after {
                    return Outcome::Lost(format!("nothing heard for {silent:?}"));
                }
                match self.stream.send(Message::Ping(Bytes::new())).await {
                    Ok(()) => Outcome::Nothing,
                    Err(error) => Outcome::Lost(format!("ping failed: {error}")),
                }
            }
        }
    }
}

/// A message as a record, cut to what Kafka can store.
fn frame(mut bytes: Bytes, binary: bool) -> Frame {
    let cut_from = (bytes.len() > MAX_RECORD_BYTES).then(|| bytes.len() as u64);
    bytes.truncate(MAX_RECORD_BYTES);
    Frame {
        bytes,
        binary,
        cut_from,
    }
}

/// The URL of a catch-up at `since`: the source URL with its `since_mtime`
/// parameter replaced. Without a clock the URL is used as given.
pub(crate) fn catch_up_url(url: &str, since: Option<i64>) -> String {
    let Some(since) = since else {
        return url.to_owned();
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|param| !param.is_empty())
        .filter(|param| param.split('=').next() != Some("since_mtime"))
        .collect();
    let since = format!("since_mtime={since}");
    params.push(&since);
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_up_replaces_since_mtime_and_keeps_the_rest() {
        assert_eq!(catch_up_url("ws://h:1/2/rsvps", None), "ws://h:1/2/rsvps");
        assert_eq!(
            catch_up_url("ws://h:1/2/rsvps", Some(42)),
            "ws://h:1/2/rsvps?since_mtime=42"
        );
        assert_eq!(
            catch_up_url("ws://h:1/r?a=1&since_mtime=7&b", Some(42)),
            "ws://h:1/r?a=1&b&since_mtime=42"
        );
        assert_eq!(
            catch_up_url("ws://h:1/r?", Some(-1)),
            "ws://h:1/r?since_mtime=-1"
        );
    }

    #[test]
    fn oversized_frames_are_cut_and_say_so() {
        let big = Bytes::from(vec![b'x'; MAX_RECORD_BYTES + 5]);
        let cut = frame(big, false);
        assert_eq!(cut.bytes.len(), MAX_RECORD_BYTES);
        assert_eq!(cut.cut_from, Some(MAX_RECORD_BYTES as u64 + 5));
        assert_eq!(frame(Bytes::from_static(b"{}"), true).cut_from, None);
    }
}
