//! The websocket source against the in-process feed simulator: the real
//! recordings exactly once, and exactly once across a simulator crash.

use std::time::Duration;

use billabong_producer::race_data::RaceDataset;
use billabong_producer::simulator::{FeedData, Simulator, SimulatorConfig, Speed};
use bytes::Bytes;
use schemas::topics::DLQ_HEADER_ERROR_KIND;
use schemas::{ErrorKind, Feed};
use testkit::fixtures::{race_dir, race_lines, rsvp_file, rsvp_lines};
use tokio::task::JoinHandle;

use crate::file::corrupted_rsvps;
use crate::support::{assert_exactly_once, brokers, config, ingest, read_committed};

/// A simulator serving in the background; dropping the handle's task (abort)
/// ends every connection without a close frame, as a crash would.
struct Running {
    url: String,
    addr: std::net::SocketAddr,
    task: JoinHandle<()>,
}

async fn start(config: SimulatorConfig) -> Running {
    let simulator = Simulator::bind(config).await.expect("the simulator binds");
    let url = simulator.urls()[0].clone();
    let addr = simulator.local_addr();
    let task = tokio::spawn(async move {
        simulator
            .run(std::future::pending())
            .await
            .expect("the simulator runs");
    });
    Running { url, addr, task }
}

fn simulator_config(feed: Feed, data: FeedData, speed: Speed) -> SimulatorConfig {
    let mut config = SimulatorConfig::new(feed, data, "127.0.0.1:0".parse().expect("an address"));
    config.speed = speed;
    config
}

#[tokio::test]
async fn every_real_rsvp_arrives_once_over_the_websocket() {
    let feed = start(simulator_config(
        Feed::Rsvps,
        FeedData::JsonLines(rsvp_file()),
        Speed::Max,
    ))
    .await;
    let mut config = config(Feed::Rsvps, &feed.url, "ingest-ws-rsvps");
    config.idle_exit = Some(Duration::from_secs(3));
    let (topic, dlq) = (config.topic.clone(), config.dlq_topic.clone());
    let summary = ingest(config).await;
    feed.task.abort();
    assert_eq!(
        (
            summary.received,
            summary.produced,
            summary.dlq,
            summary.reconnects
        ),
        (1_541, 1_541, 0, 0)
    );
    assert_exactly_once(Feed::Rsvps, &rsvp_lines(), &read_committed(&topic).await);
    assert!(read_committed(&dlq).await.is_empty());
}

#[tokio::test]
async fn every_real_race_event_arrives_once_over_the_websocket() {
    let feed = start(simulator_config(
        Feed::Race,
        FeedData::RaceData {
            dir: race_dir(),
            dataset: RaceDataset::Ergast,
        },
        Speed::Max,
    ))
    .await;
    assert!(feed.url.ends_with("/race"), "{}", feed.url);
    let mut config = config(Feed::Race, &feed.url, "ingest-ws-race");
    config.idle_exit = Some(Duration::from_secs(3));
    let topic = config.topic.clone();
    let summary = ingest(config).await;
    feed.task.abort();
    let expected = race_lines(RaceDataset::Ergast);
    assert_eq!(summary.produced, expected.len() as u64);
    assert_exactly_once(Feed::Race, &expected, &read_committed(&topic).await);
}

#[tokio::test]
async fn invalid_messages_and_binary_frames_go_to_the_dlq() {
    let (valid, invalid) = corrupted_rsvps();
    let mut messages: Vec<Bytes> = valid.iter().cloned().map(Bytes::from).collect();
    messages.extend(invalid.iter().map(|(bad, _)| Bytes::from(bad.clone())));
    let feed = start(simulator_config(
        Feed::Rsvps,
        FeedData::Messages(messages),
        Speed::Max,
    ))
    .await;
    let mut config = config(Feed::Rsvps, &feed.url, "ingest-ws-dlq");
    config.idle_exit = Some(Duration::from_secs(3));
    let (topic, dlq) = (config.topic.clone(), config.dlq_topic.clone());
    let summary = ingest(config).await;
    feed.task.abort();
    assert_eq!(summary.dlq, invalid.len() as u64);
    assert_exactly_once(Feed::Rsvps, &valid, &read_committed(&topic).await);
    let rejected = read_committed(&dlq).await;
    for (bad, kind) in &invalid {
        let record = rejected
            .iter()
            .find(|r| &r.payload == bad)
            .unwrap_or_else(|| panic!("{kind} message is in the DLQ unchanged"));
        // The non-UTF-8 record travels as a binary frame; it is malformed
        // either way.
        assert_eq!(record.header(DLQ_HEADER_ERROR_KIND), kind.as_str());
    }
    assert!(
        invalid
            .iter()
            .any(|(_, kind)| *kind == ErrorKind::MalformedJson)
    );
}

/// Waits until `topic` holds at least `at_least` offsets.
pub(crate) async fn wait_for_offsets(topic: &str, at_least: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let topic_name = topic.to_owned();
        let now =
            tokio::task::spawn_blocking(move || testkit::written_offsets(&brokers(), &topic_name))
                .await
                .expect("no panic");
        if now >= at_least {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{topic} reached only {now} offsets"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_simulator_crash_mid_stream_loses_and_duplicates_nothing() {
    // Paced so that the crash lands mid-stream: the recording's clock spans
    // 1,137 s, about 6 s at 200x.
    let data = FeedData::JsonLines(rsvp_file());
    let first = start(simulator_config(
        Feed::Rsvps,
        data.clone(),
        Speed::Factor(200.0),
    ))
    .await;
    let mut config = config(Feed::Rsvps, &first.url, "ingest-ws-restart");
    config.idle_exit = Some(Duration::from_secs(6));
    let (topic, dlq) = (config.topic.clone(), config.dlq_topic.clone());
    let run = tokio::spawn(ingest(config));

    wait_for_offsets(&topic, 500).await;
    first.task.abort();
    let _ = first.task.await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = simulator_config(Feed::Rsvps, data, Speed::Factor(200.0));
    again.listen = first.addr;
    let second = start(again).await;

    let summary = run.await.expect("the ingest task does not panic");
    second.task.abort();
    assert!(summary.reconnects >= 1, "{summary:?}");
    assert_eq!(summary.produced, 1_541, "{summary:?}");
    assert_eq!(
        summary.received,
        summary.produced + summary.duplicates_dropped,
        "{summary:?}"
    );
    assert_exactly_once(Feed::Rsvps, &rsvp_lines(), &read_committed(&topic).await);
    assert!(read_committed(&dlq).await.is_empty());
}
