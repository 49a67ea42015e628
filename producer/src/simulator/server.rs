//! The listening server: loads the recording once, accepts connections, and
//! closes them all on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use schemas::Feed;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{error, info, warn};

use super::config::{FeedData, SimulatorConfig, Speed};
use super::error::SimulatorError;
use super::routes::Routes;
use super::{clock, connection, events, load, scale};

/// Clients send nothing but pongs and close frames; a small limit keeps a
/// misbehaving one from making the server buffer much.
const MAX_INCOMING_MESSAGE: usize = 64 * 1024;

/// Room in the write buffer beyond one record: frame headers, pings, pongs and
/// the close frame.
const WRITE_BUFFER_SLACK: usize = 16 * 1024;

/// How many non-UTF-8 records are named in the log before only the total is.
const LOGGED_BINARY_RECORDS: usize = 10;

/// What every connection reads: the recordings and the settings, immutable
/// once bound.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) feed: Feed,
    pub(crate) routes: Routes,
    pub(crate) speed: Speed,
    pub(crate) repeat: bool,
    pub(crate) max_lag: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) ws_config: WebSocketConfig,
}

/// A bound feed simulator, ready to [`run`](Simulator::run).
///
/// Binding loads and prepares the whole recording and opens the listening
/// socket, so every user error (bad data, port in use) surfaces before a URL is
/// announced.
#[derive(Debug)]
pub struct Simulator {
    listener: TcpListener,
    local_addr: SocketAddr,
    urls: Vec<String>,
    shared: Arc<Shared>,
}

impl Simulator {
    /// Validates `config`, loads the data (off the async threads) and listens.
    pub async fn bind(config: SimulatorConfig) -> Result<Simulator, SimulatorError> {
        config.validate()?;
        events::describe();
        let SimulatorConfig {
            feed,
            data,
            listen,
            speed,
            repeat,
            scale,
            max_lag,
            segment_pause,
            ping_interval,
            close_timeout,
            handshake_timeout,
            write_buffer_size,
            socket_send_buffer,
        } = config;
        let pause_ms = i64::try_from(segment_pause.as_millis()).unwrap_or(i64::MAX);
        let routes = tokio::task::spawn_blocking(move || prepare(feed, data, scale, pause_ms))
            .await
            .map_err(|err| SimulatorError::LoadTask(err.to_string()))??;
        let largest = routes
            .main()
            .map_or(0, |recording| recording.largest_message());
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(write_buffer_size)
            .max_write_buffer_size(write_buffer_size + largest + WRITE_BUFFER_SLACK)
            .max_message_size(Some(MAX_INCOMING_MESSAGE))
            .max_frame_size(Some(MAX_INCOMING_MESSAGE));
        let listener =
            listen_on(listen, socket_send_buffer).map_err(|source| SimulatorError::Bind {
                addr: listen,
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind {
                addr: listen,
                source,
            })?;
        let urls = routes
            .paths()
            .iter()
            .map(|path| format!("ws://{local_addr}{path}"))
            .collect();
        info!(%local_addr, %feed, %speed, repeat, scale, "Feed simulator listening.");
        let shared = Shared {
            feed,
            routes,
            speed,
            repeat,
            max_lag,
            ping_interval,
            close_timeout,
            handshake_timeout,
            ws_config,
        };
        Ok(Simulator {
            listener,
            local_addr,
            urls,
            shared: Arc::new(shared),
        })
    }

    /// The websocket URL of every route, the whole feed first
    /// (`ws://127.0.0.1:PORT/2/rsvps`; `…/race`, then `…/race/<race_id>`).
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then closes every connection with
    /// code 1001 ("going away"), waiting at most the close timeout for each
    /// close to reach its client.
    ///
    /// Dropping this future instead ends every connection at once without a
    /// close frame, as a crash would.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), SimulatorError> {
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let shared = Arc::clone(&self.shared);
                        connections.spawn(connection::serve(shared, stream, peer, stopped.clone()));
                    }
                    Err(err) => {
                        // Out of file descriptors and the like: back off a
                        // little rather than spin; accept errors are transient.
                        warn!(%err, "Accepting a connection failed; retrying.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(joined) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(err) = joined {
                        error!(%err, "A connection task failed; this is a bug.");
                    }
                }
            }
        }
        info!(
            connections = connections.len(),
            "Feed simulator shutting down; closing every connection."
        );
        drop(self.listener);
        // Nobody may be listening any more; that is fine.
        let _ = stop.send(true);
        let grace = self.shared.close_timeout + Duration::from_secs(1);
        let drained = tokio::time::timeout(grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!(
                connections = connections.len(),
                "Connections still open after the close timeout; dropping them."
            );
            connections.shutdown().await;
        }
        info!("Feed simulator stopped.");
        Ok(())
    }
}

/// Loads, scales and indexes the data: everything a connection will share.
fn prepare(
    feed: Feed,
    data: FeedData,
    scale_by: u32,
    segment_pause_ms: i64,
) -> Result<Routes, SimulatorError> {
    let what = data.describe();
    let loaded = load::load(feed, data)?;
    if loaded.lines.is_empty() {
        return Err(SimulatorError::NoRecords { what });
    }
    let mut binary = 0;
    for (index, line) in loaded.lines.iter().enumerate() {
        if std::str::from_utf8(&line.bytes).is_err() {
            binary += 1;
            if binary <= LOGGED_BINARY_RECORDS {
                warn!(record = index + 1, data = %what, "Record is not UTF-8; serving it as a binary frame.");
            }
        }
    }
    info!(
        data = %what,
        records = loaded.lines.len(),
        races = loaded.races.len(),
        blank_lines = loaded.blank,
        binary_records = binary,
        "Recording loaded."
    );
    let real = loaded.lines.len();
    let lines = scale::scale(feed, loaded.lines, scale_by);
    if scale_by > 1 {
        warn!(
            scale = scale_by,
            real_records = real,
            served_records = lines.len(),
            "Stream is SCALED for load testing: each real record is followed by {} derived copies with fresh ids.",
            scale_by - 1
        );
    }
    let timed: Vec<_> = lines
        .into_iter()
        .map(|line| {
            let time = clock::event_time_ms(feed, &line.bytes);
            (line, time)
        })
        .collect();
    Ok(Routes::build(feed, &timed, &loaded.races, segment_pause_ms))
}

/// A listening socket with `SO_REUSEADDR` (a restarted simulator can take its
/// port back at once) and, if asked, the send buffer every accepted
/// connection inherits.
fn listen_on(addr: SocketAddr, send_buffer: Option<u32>) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if let Some(size) = send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}
