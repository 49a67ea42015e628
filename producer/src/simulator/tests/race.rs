//! The race feed from the real lap data: routes per race and for all races,
//! compared with `load_races`, and from a JSON Lines file.

use schemas::{Feed, FeedEvent, Limits};

use crate::race_data::{RaceDataset, RaceRecording, load_races};

use super::*;

fn races(dataset: RaceDataset) -> Vec<RaceRecording> {
    load_races(&testkit::fixtures::race_dir(), dataset).expect("the real race data loads")
}

fn as_lines(race: &RaceRecording) -> Vec<Vec<u8>> {
    race.events
        .iter()
        .map(|event| serde_json::to_vec(event).expect("events serialise"))
        .collect()
}

fn race_config(dataset: RaceDataset) -> SimulatorConfig {
    let data = FeedData::RaceData {
        dir: testkit::fixtures::race_dir(),
        dataset,
    };
    let mut config = SimulatorConfig::new(Feed::Race, data, localhost());
    config.speed = Speed::Max;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_routes_serve_one_race_or_all_of_them_in_order() {
    let expected = races(RaceDataset::Fia);
    let running = Running::start(race_config(RaceDataset::Fia)).await;
    let base = format!("ws://{}", running.addr);
    let mut urls = vec![format!("{base}/race")];
    urls.extend(
        expected
            .iter()
            .map(|race| format!("{base}/race/{}", race.race_id)),
    );
    assert_eq!(
        running.urls, urls,
        "/race first, then one URL per race in race order"
    );

    for race in [&expected[0], &expected[17], &expected[expected.len() - 1]] {
        let mut ws = connect(&format!("{base}/race/{}", race.race_id)).await;
        let received = read_n(&mut ws, race.events.len()).await;
        assert!(
            received == as_lines(race),
            "{} differs from load_races",
            race.race_id
        );
        assert_quiet_and_open(&mut ws).await;
        hang_up(ws).await;
    }

    let all: Vec<Vec<u8>> = expected.iter().flat_map(as_lines).collect();
    assert_eq!(all.len(), 55_801);
    let mut ws = connect(&format!("{base}/race")).await;
    let received = read_n(&mut ws, all.len()).await;
    assert!(
        received == all,
        "/race differs from every race of load_races in order"
    );
    assert_quiet_and_open(&mut ws).await;
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn race_catch_up_uses_ts() {
    let expected = races(RaceDataset::Ergast);
    let race = &expected[5];
    let lines = as_lines(race);
    let since = race.events[300].ts();
    // Race events are in ts order, so the clock is ts itself.
    let start = race
        .events
        .iter()
        .position(|e| e.ts() >= since)
        .expect("found");
    let running = Running::start(race_config(RaceDataset::Ergast)).await;
    let url = format!(
        "ws://{}/race/{}?since_mtime={since}",
        running.addr, race.race_id
    );
    let mut ws = connect(&url).await;
    let received = read_n(&mut ws, lines.len() - start).await;
    assert!(received == lines[start..], "resumed at {start}");
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}

#[tokio::test]
async fn a_race_feed_file_is_served_byte_for_byte_with_routes_per_race() {
    let expected = races(RaceDataset::Ergast);
    let lines: Vec<Vec<u8>> = expected[..3].iter().flat_map(as_lines).collect();
    let path =
        std::env::temp_dir().join(format!("billabong-sim-race-{}.jsonl", std::process::id()));
    let mut text = lines.join(&b'\n');
    text.push(b'\n');
    std::fs::write(&path, text).expect("the scratch file is writable");
    let mut config =
        SimulatorConfig::new(Feed::Race, FeedData::JsonLines(path.clone()), localhost());
    config.speed = Speed::Max;
    let running = Running::start(config).await;
    assert_eq!(running.urls.len(), 4, "{:?}", running.urls);
    let mut ws = connect(running.url()).await;
    assert!(read_n(&mut ws, lines.len()).await == lines);
    let second = &expected[1];
    let mut ws = connect(&format!("ws://{}/race/{}", running.addr, second.race_id)).await;
    assert!(read_n(&mut ws, second.events.len()).await == as_lines(second));
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
    std::fs::remove_file(&path).expect("the scratch file is removable");
}

#[tokio::test]
async fn scaled_race_copies_are_valid_events_of_suffixed_races() {
    let expected = races(RaceDataset::Ergast);
    let race = &expected[0];
    let mut config = race_config(RaceDataset::Ergast);
    config.scale = 3;
    let running = Running::start(config).await;
    let mut ws = connect(&format!("ws://{}/race/{}", running.addr, race.race_id)).await;
    let received = read_n(&mut ws, 3 * race.events.len()).await;
    let limits = Limits::default();
    for (i, message) in received.iter().enumerate() {
        let Ok(FeedEvent::Race(event)) = Feed::Race.parse(message, &limits) else {
            panic!("message {i} is not a valid race event");
        };
        let original = &race.events[i / 3];
        let id = match i % 3 {
            0 => race.race_id.clone(),
            j => format!("{}-x{j}", race.race_id),
        };
        assert_eq!(event.race_id(), id);
        assert_eq!(
            (event.ts(), event.type_name()),
            (original.ts(), original.type_name())
        );
    }
    hang_up(ws).await;
    running.shutdown().await.expect("a clean shutdown");
}
