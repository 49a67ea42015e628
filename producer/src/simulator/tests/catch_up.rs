//! `?since_mtime=`: where a connection starts, and the no-loss reconnect it
//! makes possible.

use crate::simulator::FeedClock;

use super::*;

/// The first position whose clock is at or past `since`, by a linear scan.
fn first_at_or_after(clocks: &[i64], since: i64) -> usize {
    clocks
        .iter()
        .position(|&c| c >= since)
        .unwrap_or(clocks.len())
}

#[tokio::test]
async fn since_mtime_resumes_at_the_first_position_with_that_clock() {
    let lines = rsvp_lines();
    let clocks = rsvp_clocks(&lines);
    // Positions where the clock stands still, right after a backward mtime,
    // and plain ones.
    let backward = (1..lines.len())
        .find(|&i| clocks[i] == clocks[i - 1])
        .expect("the real file goes backwards");
    let running = Running::start(rsvp_config(Speed::Max)).await;
    for k in [0, 1, backward, backward + 1, 777, lines.len() - 1] {
        for since in [clocks[k], clocks[k] + 1, clocks[k] - 1] {
            let start = first_at_or_after(&clocks, since);
            let url = format!("{}?since_mtime={since}", running.url());
            let mut ws = connect(&url).await;
            let received = read_n(&mut ws, lines.len() - start).await;
            assert!(
                received == lines[start..],
                "since {since} (k = {k}) should start at {start}"
            );
            assert_quiet_and_open(&mut ws).await;
            hang_up(ws).await;
        }
    }
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn since_mtime_beyond_the_end_sends_nothing_and_stays_open() {
    let lines = rsvp_lines();
    let last = *rsvp_clocks(&lines).last().expect("lines");
    let running = Running::start(rsvp_config(Speed::Max)).await;
    let mut ws = connect(&format!("{}?since_mtime={}", running.url(), last + 1)).await;
    assert_quiet_and_open(&mut ws).await;
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn with_loop_since_mtime_beyond_the_end_starts_the_next_lap() {
    let lines = rsvp_lines();
    let last = *rsvp_clocks(&lines).last().expect("lines");
    let mut config = rsvp_config(Speed::Max);
    config.repeat = true;
    let running = Running::start(config).await;
    let mut ws = connect(&format!("{}?since_mtime={}", running.url(), last + 1)).await;
    assert!(read_n(&mut ws, lines.len()).await == lines);
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

/// A client that reconnects with its own running max and drops the overlap
/// by count ends up with every record exactly once, wherever it was cut off.
#[tokio::test]
async fn reconnecting_with_the_clients_clock_loses_and_repeats_nothing() {
    let lines = rsvp_lines();
    let running = Running::start(rsvp_config(Speed::Max)).await;
    for cut in [1, 2, 100, 500, 1_000, 1_540] {
        let mut ws = connect(running.url()).await;
        let mut got = read_n(&mut ws, cut).await;
        drop(ws);

        let mut clock = FeedClock::new(Feed::Rsvps);
        let mut at_clock = 0;
        for message in &got {
            let before = clock.now_ms();
            let after = clock.observe(message);
            at_clock = if after == before { at_clock + 1 } else { 1 };
        }
        let since = clock.now_ms().expect("real records have times");
        let mut ws = connect(&format!("{}?since_mtime={since}", running.url())).await;
        let mut resent = FeedClock::new(Feed::Rsvps);
        let mut skipped = 0;
        let rest = within(async {
            let mut rest = Vec::new();
            while got.len() + rest.len() < lines.len() {
                let Seen::Text(message) = next_seen(&mut ws).await else {
                    panic!("closed early");
                };
                let clock_now = resent.observe(&message);
                if skipped < at_clock && clock_now == Some(since) {
                    skipped += 1;
                    continue;
                }
                rest.push(message.to_vec());
            }
            rest
        })
        .await;
        assert_eq!(
            skipped, at_clock,
            "the overlap is exactly what was seen at the cut's clock"
        );
        got.extend(rest);
        assert!(
            got == lines,
            "cut after {cut}: the joined stream differs from the file"
        );
        assert_quiet_and_open(&mut ws).await;
        hang_up(ws).await;
    }
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn bad_since_mtime_and_unknown_paths_are_refused_at_the_handshake() {
    let running = Running::start(rsvp_config(Speed::Max)).await;
    for query in [
        "since_mtime=yesterday",
        "since_mtime=",
        "since_mtime=1&since_mtime=2",
    ] {
        let (status, body) = refused(&format!("{}?{query}", running.url())).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains("since_mtime"), "{query}: {body}");
    }
    let (status, body) = refused(&format!("ws://{}/2/rsvp", running.addr)).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("/2/rsvps"),
        "the refusal lists the served paths: {body}"
    );
    // The server keeps serving after refusals.
    let mut ws = connect(running.url()).await;
    assert_eq!(read_n(&mut ws, 1).await.len(), 1);
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}
