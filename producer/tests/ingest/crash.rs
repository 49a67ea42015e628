//! A producer that dies mid-stream (its run dropped: reader and writer stop at
//! once, the open transaction is left for the next instance to abort) and is
//! started again with the same transactional id: Kafka ends up holding every
//! record exactly once. The real SIGKILL of the binary is tested in the cli
//! crate; this covers the same path in-process, repeatedly.

use std::time::Duration;

use billabong_producer::race_data::RaceDataset;
use billabong_producer::simulator::{FeedData, Simulator, SimulatorConfig, Speed};
use schemas::Feed;
use testkit::fixtures::{race_lines, rsvp_file, rsvp_lines};

use crate::support::{assert_exactly_once, config, ingest, jsonl_source, read_committed};
use crate::websocket::wait_for_offsets;

#[tokio::test]
async fn a_file_producer_killed_twice_resumes_exactly_once() {
    // Both data sets (101k events), so that the kills land mid-file.
    let mut expected = race_lines(RaceDataset::Fia);
    expected.extend(race_lines(RaceDataset::Ergast));
    let source = jsonl_source("ergast-crash.jsonl", &expected);
    let config = config(Feed::Race, &source, "ingest-crash-file");
    let topic = config.topic.clone();
    for offsets in [10_000, 40_000] {
        let run = tokio::spawn(ingest(config.clone()));
        wait_for_offsets(&topic, offsets).await;
        run.abort();
        assert!(
            run.await.is_err_and(|e| e.is_cancelled()),
            "the run was still going"
        );
    }
    let summary = ingest(config).await;
    assert!(summary.produced < expected.len() as u64, "{summary:?}");
    assert_exactly_once(Feed::Race, &expected, &read_committed(&topic).await);
}

#[tokio::test]
async fn a_websocket_producer_killed_mid_stream_resumes_exactly_once() {
    let mut feed_config = SimulatorConfig::new(
        Feed::Rsvps,
        FeedData::JsonLines(rsvp_file()),
        "127.0.0.1:0".parse().expect("an address"),
    );
    feed_config.speed = Speed::Factor(150.0);
    let simulator = Simulator::bind(feed_config)
        .await
        .expect("the simulator binds");
    let url = simulator.urls()[0].clone();
    let feed = tokio::spawn(simulator.run(std::future::pending()));

    let mut config = config(Feed::Rsvps, &url, "ingest-crash-ws");
    config.idle_exit = Some(Duration::from_secs(4));
    let topic = config.topic.clone();
    let run = tokio::spawn(ingest(config.clone()));
    wait_for_offsets(&topic, 600).await;
    run.abort();
    let _ = run.await;

    let summary = ingest(config).await;
    feed.abort();
    assert!(summary.duplicates_dropped >= 1, "{summary:?}");
    assert_exactly_once(Feed::Rsvps, &rsvp_lines(), &read_committed(&topic).await);
}
