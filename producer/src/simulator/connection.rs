//! One client: the handshake that picks its route and start, then its own
//! paced replay, pings, and the close (client gone, too slow, or shutdown).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tracing::{debug, info};

use super::config::Speed;
use super::events::{
    SimulatorClientConnected, SimulatorClientDisconnected, SimulatorRecordsSent,
    SimulatorSlowClientDisconnected,
};
use super::recording::Recording;
use super::routes::{Refusal, Start};
use super::server::Shared;

/// Records written per turn of the loop before incoming frames, pings and
/// shutdown are looked at again.
const MAX_BATCH: usize = 256;

/// A client not heard from (not even a pong) for this many ping intervals is
/// taken for dead.
const SILENT_PINGS: u32 = 3;

type Ws = WebSocketStream<TcpStream>;

/// Serves one accepted TCP connection to its end. Never fails: whatever goes
/// wrong ends this connection only, and is logged.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
) {
    // Records are small and paced: Nagle's delay would bunch them up.
    let _ = stream.set_nodelay(true);
    let mut start = None;
    // The error type is tungstenite's `ErrorResponse`, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| match shared
        .routes
        .resolve(request.uri())
    {
        Ok(found) => {
            start = Some(found);
            Ok(response)
        }
        Err(refusal) => {
            info!(%peer, uri = %request.uri(), status = refusal.status.as_u16(), reason = %refusal.message, "Request refused.");
            Err(error_response(refusal))
        }
    };
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(shared.ws_config));
    let ws = match tokio::time::timeout(shared.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(err)) => {
            debug!(%peer, %err, "Websocket handshake failed.");
            return;
        }
        Err(_) => {
            debug!(%peer, "Websocket handshake timed out.");
            return;
        }
    };
    let Some(start) = start else {
        // The callback runs before a handshake can succeed; nothing to serve.
        return;
    };
    let _guard = SimulatorClientConnected {
        feed: shared.feed,
        peer,
        path: &start.path,
        since_ms: start.since_ms,
        position: start.position,
        records: start.recording.len(),
    }
    .emit();
    let path = start.path.clone();
    let mut session = Session::new(&shared, peer, start, stop);
    let reason = session.run(ws).await;
    SimulatorClientDisconnected {
        peer,
        path: &path,
        sent: session.sent,
        reason: &reason,
    }
    .emit();
}

/// The HTTP answer to a refused handshake: its status and reason as text.
fn error_response(refusal: Refusal) -> ErrorResponse {
    let body = format!("{}\n", refusal.message);
    let mut response = ErrorResponse::new(Some(body.clone()));
    *response.status_mut() = refusal.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from(body.len()),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// What the loop does next.
enum Step {
    Stop,
    Incoming(Option<Result<Message, WsError>>),
    Ping,
    Send,
}

/// How a write ended.
enum Written {
    Done,
    /// The deadline passed first: the client is not reading fast enough.
    Late,
    Stopped,
    Failed(WsError),
}

/// One client's replay: its position, its schedule and what it was sent.
struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    recording: Arc<Recording>,
    /// The next position to send within the current lap.
    position: usize,
    lap: u64,
    /// Feed time (ms, counted over laps) of the first record this client got:
    /// its schedule starts there.
    origin_ms: f64,
    started: Instant,
    last_heard: Instant,
    sent: u64,
    stop: watch::Receiver<bool>,
}

impl<'a> Session<'a> {
    fn new(
        shared: &'a Shared,
        peer: SocketAddr,
        start: Start,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let now = Instant::now();
        let mut session = Session {
            shared,
            peer,
            recording: start.recording,
            position: start.position,
            lap: 0,
            origin_ms: 0.0,
            started: now,
            last_heard: now,
            sent: 0,
            stop,
        };
        session.wrap();
        session.origin_ms = session.feed_time_ms().unwrap_or(0.0);
        session
    }

    /// Runs the connection to its end and says why it ended.
    async fn run(&mut self, mut ws: Ws) -> String {
        let mut pings = tokio::time::interval_at(
            Instant::now() + self.shared.ping_interval,
            self.shared.ping_interval,
        );
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let due = self.next_due();
            let wake = async move {
                if let Some(Some(at)) = due {
                    tokio::time::sleep_until(at).await;
                }
            };
            let step = tokio::select! {
                biased;
                _ = self.stop.wait_for(|stopped| *stopped) => Step::Stop,
                incoming = ws.next() => Step::Incoming(incoming),
                _ = pings.tick() => Step::Ping,
                () = wake, if due.is_some() => Step::Send,
            };
            let ended = match step {
                Step::Stop => {
                    self.close(
                        &mut ws,
                        CloseCode::Away,
                        "simulator shutting down".to_owned(),
                    )
                    .await;
                    Some("simulator shutting down".to_owned())
                }
                Step::Incoming(incoming) => self.incoming(&mut ws, incoming).await,
                Step::Ping => self.ping(&mut ws).await,
                Step::Send => self.send_due(&mut ws).await,
            };
            if let Some(reason) = ended {
                return reason;
            }
        }
    }

    /// At the end of a lap with `repeat`, moves to the start of the next.
    fn wrap(&mut self) {
        if self.shared.repeat && self.position >= self.recording.len() && self.recording.len() > 0 {
            self.position = 0;
            self.lap += 1;
        }
    }

    /// Feed time (ms over laps) of the next record, `None` when there is none.
    fn feed_time_ms(&self) -> Option<f64> {
        let record = self.recording.get(self.position)?;
        // f64 is exact for integers below 2^53 ms (285,000 years).
        Some(self.lap as f64 * self.recording.lap_ms() as f64 + record.pace_ms as f64)
    }

    /// When the next record is due: `None` when there is nothing left to send,
    /// `Some(None)` when unpaced (`--speed max`).
    fn next_due(&self) -> Option<Option<Instant>> {
        let feed_ms = self.feed_time_ms()?;
        match self.shared.speed {
            Speed::Max => Some(None),
            Speed::Factor(factor) => {
                let wall_s = ((feed_ms - self.origin_ms) / 1000.0 / factor).max(0.0);
                let offset = Duration::try_from_secs_f64(wall_s).unwrap_or(Duration::MAX);
                Some(Some(
                    self.started.checked_add(offset).unwrap_or_else(far_future),
                ))
            }
        }
    }

    /// Sends every record that is due (a batch at most), or closes a client
    /// that has fallen more than `max_lag` behind.
    async fn send_due(&mut self, ws: &mut Ws) -> Option<String> {
        let now = Instant::now();
        let first_due = self.next_due().flatten();
        if let Some(due) = first_due {
            let lag = now.saturating_duration_since(due);
            if lag > self.shared.max_lag {
                return Some(self.too_slow(ws, lag).await);
            }
        }
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while batch.len() < MAX_BATCH {
            match self.next_due() {
                Some(Some(due)) if due > now => break,
                None => break,
                Some(_) => {}
            }
            let Some(record) = self.recording.get(self.position) else {
                break;
            };
            batch.push(record.message.clone());
            self.position += 1;
            self.wrap();
        }
        let count = batch.len() as u64;
        let deadline = first_due.map(|due| due + self.shared.max_lag);
        let written = self.write(ws, batch, deadline).await;
        match written {
            Written::Done => {
                if count > 0 {
                    self.sent += count;
                    SimulatorRecordsSent {
                        feed: self.shared.feed,
                        count,
                    }
                    .emit();
                }
                None
            }
            Written::Late => {
                let lag = first_due.map_or(self.shared.max_lag, |due| due.elapsed());
                Some(self.too_slow(ws, lag).await)
            }
            Written::Stopped => {
                self.close(ws, CloseCode::Away, "simulator shutting down".to_owned())
                    .await;
                Some("simulator shutting down".to_owned())
            }
            Written::Failed(err) => Some(format!("write failed: {err}")),
        }
    }

    /// Writes `messages` and flushes them, giving up at `deadline` or on
    /// shutdown. Every message is awaited: the client's reading sets the pace.
    async fn write(
        &mut self,
        ws: &mut Ws,
        messages: Vec<Message>,
        deadline: Option<Instant>,
    ) -> Written {
        let send = async {
            for message in messages {
                ws.feed(message).await?;
            }
            ws.flush().await
        };
        let bounded = async {
            match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, send).await.ok(),
                None => Some(send.await),
            }
        };
        tokio::select! {
            biased;
            _ = self.stop.wait_for(|stopped| *stopped) => Written::Stopped,
            result = bounded => match result {
                None => Written::Late,
                Some(Ok(())) => Written::Done,
                Some(Err(err)) => Written::Failed(err),
            },
        }
    }

    /// Handles one frame from the client (or its end).
    async fn incoming(
        &mut self,
        ws: &mut Ws,
        incoming: Option<Result<Message, WsError>>,
    ) -> Option<String> {
        match incoming {
            None => Some("connection closed".to_owned()),
            Some(Err(err)) => Some(format!("read failed: {err}")),
            Some(Ok(Message::Close(frame))) => {
                // Tungstenite has queued the reply; send it before dropping.
                let _ = tokio::time::timeout(self.shared.close_timeout, ws.flush()).await;
                Some(match frame {
                    Some(frame) => format!("client closed: {frame}"),
                    None => "client closed".to_owned(),
                })
            }
            Some(Ok(_)) => {
                // Pongs, and pings whose pong tungstenite sends on the next read.
                self.last_heard = Instant::now();
                None
            }
        }
    }

    /// Pings the client, or drops it when it has been silent too long.
    async fn ping(&mut self, ws: &mut Ws) -> Option<String> {
        let silent = self.last_heard.elapsed();
        if silent > self.shared.ping_interval * SILENT_PINGS {
            let reason = format!("no pong for {:.1} s", silent.as_secs_f64());
            self.close(ws, CloseCode::Policy, reason.clone()).await;
            return Some(reason);
        }
        let deadline = match self.shared.speed {
            Speed::Max => None,
            Speed::Factor(_) => Some(Instant::now() + self.shared.max_lag),
        };
        match self
            .write(ws, vec![Message::Ping(Bytes::new())], deadline)
            .await
        {
            Written::Done => None,
            Written::Late => Some(self.too_slow(ws, self.shared.max_lag).await),
            Written::Stopped => {
                self.close(ws, CloseCode::Away, "simulator shutting down".to_owned())
                    .await;
                Some("simulator shutting down".to_owned())
            }
            Written::Failed(err) => Some(format!("ping failed: {err}")),
        }
    }

    /// Disconnects a client that fell behind, telling it why.
    async fn too_slow(&mut self, ws: &mut Ws, lag: Duration) -> String {
        SimulatorSlowClientDisconnected {
            feed: self.shared.feed,
            peer: self.peer,
            lag,
            sent: self.sent,
        }
        .emit();
        let reason = format!(
            "client too slow: {:.0} s behind the feed",
            lag.as_secs_f64().ceil()
        );
        self.close(ws, CloseCode::Policy, reason.clone()).await;
        reason
    }

    /// Sends a close frame and waits for the client's reply, at most the close
    /// timeout: a client that is not reading never gets it, and is dropped.
    async fn close(&mut self, ws: &mut Ws, code: CloseCode, reason: String) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let closing = async {
            ws.close(Some(frame)).await?;
            // Reading drives the close handshake; the stream ends with it.
            while let Some(message) = ws.next().await {
                message?;
            }
            Ok::<(), WsError>(())
        };
        match tokio::time::timeout(self.shared.close_timeout, closing).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => debug!(peer = %self.peer, %err, "Close failed."),
            Err(_) => {
                debug!(peer = %self.peer, "Close not acknowledged in time; dropping the connection.")
            }
        }
    }
}

/// An instant far enough ahead to mean "never" (a century).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}
