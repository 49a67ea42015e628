//! In-process tests of the simulator over real sockets and the real recorded
//! data, with expectations computed independently of the simulator's code
//! (lines split by testkit, clocks from `serde_json::Value`).
//!
//! Helpers here; the cases by topic in `tests/`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use schemas::Feed;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::{FeedData, Simulator, SimulatorConfig, SimulatorError, Speed};

mod catch_up;
mod lifecycle;
mod race;
mod rsvps;

/// How long any single wait in these tests may take before it fails: generous,
/// so that a loaded machine slows a test down without failing it.
const PATIENCE: Duration = Duration::from_secs(60);

/// The recorded RSVP lines, split independently of the simulator.
fn rsvp_lines() -> Vec<Vec<u8>> {
    testkit::fixtures::rsvp_lines()
}

/// The feed clock of each line, computed from scratch: running max of `mtime`.
fn rsvp_clocks(lines: &[Vec<u8>]) -> Vec<i64> {
    let mut now = i64::MIN;
    lines
        .iter()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_slice(line).expect("real lines are JSON");
            let mtime = value["mtime"].as_i64().expect("real lines have an mtime");
            now = now.max(mtime);
            now
        })
        .collect()
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn rsvp_config(speed: Speed) -> SimulatorConfig {
    let data = FeedData::JsonLines(testkit::fixtures::rsvp_file());
    let mut config = SimulatorConfig::new(Feed::Rsvps, data, localhost());
    config.speed = speed;
    config
}

/// A simulator running on the test's runtime, and the means to stop it.
struct Running {
    urls: Vec<String>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), SimulatorError>>,
}

impl Running {
    async fn start(config: SimulatorConfig) -> Running {
        let simulator = Simulator::bind(config).await.expect("the simulator binds");
        let urls = simulator.urls().to_vec();
        let addr = simulator.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(simulator.run(async {
            let _ = stopped.await;
        }));
        Running {
            urls,
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self) -> &str {
        &self.urls[0]
    }

    /// Asks for a graceful shutdown and waits for `run` to return.
    async fn shutdown(mut self) -> Result<(), SimulatorError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        within(&mut self.task)
            .await
            .expect("the run task does not panic")
    }
}

/// Awaits `future`, failing the test after [`PATIENCE`].
async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("finished within the test's patience")
}

type Client = WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Client {
    let (ws, _) = within(tokio_tungstenite::connect_async(url))
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {url}: {err}"));
    ws
}

/// What the client sees next, pings and pongs aside.
#[derive(Debug, PartialEq)]
enum Seen {
    Text(Bytes),
    Binary(Bytes),
    Closed(Option<CloseFrame>),
}

async fn next_seen<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Seen {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Seen::Text(Bytes::from(text)),
            Some(Ok(Message::Binary(bytes))) => return Seen::Binary(bytes),
            Some(Ok(Message::Close(frame))) => return Seen::Closed(frame),
            Some(Ok(_)) => {}
            Some(Err(err)) => panic!("the connection failed: {err}"),
            None => return Seen::Closed(None),
        }
    }
}

/// Reads `n` data messages, failing on a close before them.
async fn read_n<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    n: usize,
) -> Vec<Vec<u8>> {
    within(async {
        let mut messages = Vec::with_capacity(n);
        while messages.len() < n {
            match next_seen(ws).await {
                Seen::Text(bytes) | Seen::Binary(bytes) => messages.push(bytes.to_vec()),
                Seen::Closed(frame) => {
                    panic!("closed after {} messages: {frame:?}", messages.len())
                }
            }
        }
        messages
    })
    .await
}

/// Asserts that nothing but pings arrives for a while and the connection stays
/// open (a finished recording is a quiet feed, not a closed one).
async fn assert_quiet_and_open<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) {
    let quiet = tokio::time::timeout(Duration::from_millis(300), next_seen(ws)).await;
    assert!(quiet.is_err(), "expected silence, got {quiet:?}");
    within(ws.send(Message::Ping(Bytes::from_static(b"still there?"))))
        .await
        .expect("the connection is still open");
    let pong = within(async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Pong(payload))) => return payload,
                Some(Ok(Message::Ping(_))) => {}
                other => panic!("expected a pong, got {other:?}"),
            }
        }
    })
    .await;
    assert_eq!(&pong[..], b"still there?");
}

/// The HTTP status and body of a refused handshake.
async fn refused(url: &str) -> (u16, String) {
    match within(tokio_tungstenite::connect_async(url)).await {
        Ok(_) => panic!("{url} was accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (
                response.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
        Err(other) => panic!("{url}: expected an HTTP refusal, got {other}"),
    }
}

/// Closes from the client's side, as a well-behaved client does, and waits for
/// the server's reply and the end of the connection.
async fn hang_up<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) {
    within(ws.close(None)).await.expect("the close is sent");
    within(async { while let Some(Ok(_)) = ws.next().await {} }).await;
}
