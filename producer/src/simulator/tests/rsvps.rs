//! The RSVP feed: byte-for-byte replay, concurrency, pacing, loop and scale.

use std::collections::HashSet;
use std::time::Instant;

use schemas::{Feed, FeedEvent, Limits};

use super::*;

#[tokio::test]
async fn every_line_arrives_byte_identical_in_order_at_max_speed() {
    let lines = rsvp_lines();
    assert_eq!(lines.len(), 1_541);
    let running = Running::start(rsvp_config(Speed::Max)).await;
    assert_eq!(running.urls, [format!("ws://{}/2/rsvps", running.addr)]);
    let mut ws = connect(running.url()).await;
    let received = read_n(&mut ws, lines.len()).await;
    assert!(received == lines, "the stream differs from the file");
    assert_quiet_and_open(&mut ws).await;
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_concurrent_clients_each_get_the_full_stream() {
    let lines = rsvp_lines();
    let running = Running::start(rsvp_config(Speed::Max)).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(running.url()).await);
    }
    let reads = clients.iter_mut().map(|ws| read_n(ws, lines.len()));
    for received in futures::future::join_all(reads).await {
        assert!(received == lines, "a client's stream differs from the file");
    }
    for ws in clients {
        hang_up(ws).await;
    }
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn non_utf8_and_invalid_lines_are_served_as_recorded() {
    let real = rsvp_lines().swap_remove(0);
    let mut not_utf8 = real.clone();
    not_utf8.insert(2, 0xff);
    let messages = [
        real.clone(),
        not_utf8.clone(),
        b"{\"rsvp_id\": tru".to_vec(),
    ];
    let data = FeedData::Messages(messages.iter().map(|m| Bytes::from(m.clone())).collect());
    let mut config = SimulatorConfig::new(Feed::Rsvps, data, localhost());
    config.speed = Speed::Max;
    let running = Running::start(config).await;
    let mut ws = connect(running.url()).await;
    let seen = within(async {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(next_seen(&mut ws).await);
        }
        seen
    })
    .await;
    assert_eq!(
        seen,
        [
            Seen::Text(Bytes::from(real)),
            Seen::Binary(Bytes::from(not_utf8)),
            Seen::Text(Bytes::from_static(b"{\"rsvp_id\": tru")),
        ]
    );
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

/// At speed 200 the first 201 records span (c_200 - c_0) / 200 s of wall time
/// (141 s of feed time in the real file: 0.7 s).
#[tokio::test]
async fn paced_speed_follows_the_feed_clock() {
    let lines = rsvp_lines();
    let clocks = rsvp_clocks(&lines);
    let speed = 200.0;
    let expected = Duration::from_secs_f64((clocks[200] - clocks[0]) as f64 / 1000.0 / speed);
    let running = Running::start(rsvp_config(Speed::Factor(speed))).await;
    let mut ws = connect(running.url()).await;
    let first = read_n(&mut ws, 1).await;
    let started = Instant::now();
    let rest = read_n(&mut ws, 200).await;
    let elapsed = started.elapsed();
    assert_eq!(first[0], lines[0]);
    assert!(rest == lines[1..=200], "paced records differ from the file");
    assert!(
        elapsed >= expected.mul_f64(0.5) && elapsed <= expected + Duration::from_secs(5),
        "200 records took {elapsed:?}, the feed clock says {expected:?}"
    );
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn loop_starts_again_with_the_same_bytes() {
    let lines = rsvp_lines();
    let mut config = rsvp_config(Speed::Max);
    config.repeat = true;
    let running = Running::start(config).await;
    let mut ws = connect(running.url()).await;
    let received = read_n(&mut ws, 2 * lines.len() + 10).await;
    assert!(received[..lines.len()] == lines[..], "first lap");
    assert!(
        received[lines.len()..2 * lines.len()] == lines[..],
        "second lap"
    );
    assert!(received[2 * lines.len()..] == lines[..10], "third lap");
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn scale_3_triples_the_stream_with_fresh_valid_ids() {
    let lines = rsvp_lines();
    let mut config = rsvp_config(Speed::Max);
    config.scale = 3;
    let running = Running::start(config).await;
    let mut ws = connect(running.url()).await;
    let received = read_n(&mut ws, 3 * lines.len()).await;
    assert_quiet_and_open(&mut ws).await;

    let limits = Limits::default();
    let mut ids_per_copy: [HashSet<i64>; 3] = Default::default();
    for (i, message) in received.iter().enumerate() {
        let (original, copy) = (&lines[i / 3], i % 3);
        let rsvp = match Feed::Rsvps.parse(message, &limits) {
            Ok(FeedEvent::Rsvp(rsvp)) => rsvp,
            other => panic!("message {i} is not a valid RSVP: {other:?}"),
        };
        let Ok(FeedEvent::Rsvp(real)) = Feed::Rsvps.parse(original, &limits) else {
            panic!("real line {} is valid", i / 3);
        };
        if copy == 0 {
            assert_eq!(message, original, "real records are served unchanged");
        }
        let j = i64::try_from(copy).expect("small");
        assert_eq!(rsvp.rsvp_id, real.rsvp_id + j * 10_000_000_000);
        assert_eq!(rsvp.mtime, real.mtime + j);
        assert_eq!(rsvp.event, real.event, "copies keep everything else");
        ids_per_copy[copy].insert(rsvp.rsvp_id);
    }
    // The real stream repeats ids; copies repeat them the same way, and no id
    // of one copy level appears in another.
    let distinct: HashSet<i64> = ids_per_copy.iter().flatten().copied().collect();
    assert_eq!(distinct.len(), 3 * ids_per_copy[0].len());
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}
