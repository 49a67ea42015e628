//! Connections over time: slow clients, pings, shutdown, and the errors that
//! stop the simulator from starting.

use std::time::Instant;

use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::*;

/// A client that stops reading at a paced speed is closed with code 1008 and
/// a reason, once it is `max_lag` behind; it reads the close frame when it
/// resumes. Small socket buffers make the kernel absorb little of its backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_as_too_slow() {
    let mut config = rsvp_config(Speed::Factor(1_000.0));
    config.repeat = true;
    config.max_lag = Duration::from_secs(1);
    config.socket_send_buffer = Some(8 * 1024);
    config.close_timeout = Duration::from_secs(20);
    let running = Running::start(config).await;

    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .set_recv_buffer_size(4 * 1024)
        .expect("a small receive buffer");
    let stream = within(socket.connect(running.addr))
        .await
        .expect("connects");
    let (mut ws, _) = within(tokio_tungstenite::client_async(running.url(), stream))
        .await
        .expect("the handshake succeeds");
    let started = Instant::now();
    // Stalled: read nothing for well past max_lag.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (records, close) = within(async {
        let mut records = 0_usize;
        loop {
            match next_seen(&mut ws).await {
                Seen::Text(_) | Seen::Binary(_) => records += 1,
                Seen::Closed(frame) => return (records, frame),
            }
        }
    })
    .await;
    let frame = close.expect("the server says why it closed");
    assert_eq!(frame.code, CloseCode::Policy, "{frame:?}");
    assert!(frame.reason.starts_with("client too slow: "), "{frame:?}");
    assert!(frame.reason.ends_with(" s behind the feed"), "{frame:?}");
    // At 1,000x the feed holds ~1,350 records a second: a client that kept up
    // for the whole run would have had far more than the stalled one got.
    let kept_up = started.elapsed().as_secs_f64() * 1_350.0;
    assert!(
        (records as f64) < kept_up / 2.0,
        "{records} records in {:?}",
        started.elapsed()
    );
    drop(ws);
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn the_server_pings_and_answers_pings() {
    let mut config = rsvp_config(Speed::Max);
    config.ping_interval = Duration::from_millis(200);
    let running = Running::start(config).await;
    let lines = rsvp_lines();
    let mut ws = connect(running.url()).await;
    read_n(&mut ws, lines.len()).await;
    within(async {
        loop {
            if let Some(Ok(Message::Ping(_))) = ws.next().await {
                return;
            }
        }
    })
    .await;
    // Three silent intervals would drop a dead client; this one keeps
    // reading, so tungstenite answers every ping, and it stays.
    let quiet = tokio::time::timeout(Duration::from_secs(1), next_seen(&mut ws)).await;
    assert!(quiet.is_err(), "expected only pings, got {quiet:?}");
    assert_quiet_and_open(&mut ws).await;
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn shutdown_closes_every_connection_as_going_away() {
    let running = Running::start(rsvp_config(Speed::Factor(1.0))).await;
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut ws = connect(running.url()).await;
        read_n(&mut ws, 1).await;
        // Clients keep reading, as a live consumer does, until the close.
        readers.push(tokio::spawn(async move {
            loop {
                if let Seen::Closed(frame) = next_seen(&mut ws).await {
                    return frame;
                }
            }
        }));
    }
    let url = running.url().to_owned();
    let started = Instant::now();
    running.shutdown().await.expect("a clean shutdown");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "reading clients acknowledge the close at once: {:?}",
        started.elapsed()
    );
    for reader in readers {
        let frame = within(reader).await.expect("the reader does not panic");
        let frame = frame.expect("a close frame");
        assert_eq!(frame.code, CloseCode::Away, "{frame:?}");
    }
    assert!(
        tokio_tungstenite::connect_async(url.as_str())
            .await
            .is_err(),
        "no longer listening"
    );
}

/// The producer's restart test kills the simulator (drops `run`) while a
/// client is connected, then binds a new one on the same address.
#[tokio::test]
async fn a_killed_simulator_can_be_restarted_on_the_same_port() {
    let lines = rsvp_lines();
    let running = Running::start(rsvp_config(Speed::Factor(1.0))).await;
    let mut ws = connect(running.url()).await;
    read_n(&mut ws, 1).await;
    running.task.abort();
    let _ = running.task.await;
    // Killed, not shut down: the connection ends without a close frame.
    let end = within(async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(_) | Message::Ping(_))) => {}
                other => return other,
            }
        }
    })
    .await;
    assert!(
        matches!(end, None | Some(Err(_))),
        "no close frame, the connection just ends: {end:?}"
    );

    let mut config = rsvp_config(Speed::Max);
    config.listen = running.addr;
    let restarted = Running::start(config).await;
    assert_eq!(restarted.addr, running.addr);
    let mut ws = connect(restarted.url()).await;
    assert!(read_n(&mut ws, lines.len()).await == lines);
    hang_up(ws).await;
    restarted.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn start_errors_name_the_problem() {
    let taken = Running::start(rsvp_config(Speed::Max)).await;
    let mut config = rsvp_config(Speed::Max);
    config.listen = taken.addr;
    let err = Simulator::bind(config)
        .await
        .expect_err("the port is taken");
    assert!(matches!(err, SimulatorError::Bind { .. }), "{err:?}");
    assert!(err.to_string().contains(&taken.addr.to_string()), "{err}");
    taken.shutdown().await.expect("a clean shutdown");

    let missing = std::env::temp_dir().join("billabong-no-such-feed.jsonl");
    let config = SimulatorConfig::new(
        Feed::Rsvps,
        FeedData::JsonLines(missing.clone()),
        localhost(),
    );
    let err = Simulator::bind(config).await.expect_err("no file");
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let config = SimulatorConfig::new(Feed::Rsvps, FeedData::Messages(Vec::new()), localhost());
    let err = Simulator::bind(config).await.expect_err("no records");
    assert!(matches!(err, SimulatorError::NoRecords { .. }), "{err:?}");

    let race_data = FeedData::RaceData {
        dir: testkit::fixtures::race_dir(),
        dataset: crate::race_data::RaceDataset::Fia,
    };
    let config = SimulatorConfig::new(Feed::Rsvps, race_data, localhost());
    let err = Simulator::bind(config)
        .await
        .expect_err("RSVPs from race data");
    assert!(
        matches!(
            err,
            SimulatorError::InvalidConfig {
                setting: "data",
                ..
            }
        ),
        "{err:?}"
    );

    let mut config = rsvp_config(Speed::Factor(0.0));
    config.scale = 2;
    let err = Simulator::bind(config).await.expect_err("speed 0");
    assert!(
        matches!(err, SimulatorError::InvalidSpeed { .. }),
        "{err:?}"
    );
}
