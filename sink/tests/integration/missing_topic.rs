//! A sink started before its topic exists waits for it instead of failing:
//! in a deployment the sink may well start before the producer creates the
//! topic.

use std::time::{Duration, Instant};

use schemas::Feed;
use testkit::fixtures::rsvp_lines;

use crate::support::{RunningSink, config, fresh_lake, open_lake, produce, read_lake, rsvp_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_created_after_start_is_landed() {
    let topic = format!("test.{}", testkit::unique_name("sink-later-topic"));
    let lake_url = fresh_lake(false, "later-topic");
    let mut cfg = config(
        &lake_url,
        &[(&topic, Feed::Rsvps)],
        &testkit::unique_name("g"),
    );
    cfg.roll.interval = Duration::from_secs(2);
    let sink = RunningSink::start(cfg);
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The broker creates the topic on first produce (auto.create.topics.enable).
    produce(&topic, &rsvp_lines()[..3], rsvp_key).await;
    let lake = open_lake(&lake_url);
    let started = Instant::now();
    loop {
        let rows: usize = lake
            .committed_files(&topic)
            .await
            .expect("committed files")
            .iter()
            .map(|f| usize::try_from(f.rows).expect("row count"))
            .sum();
        if rows == 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the topic created after the sink started was not landed ({rows} of 3 rows)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(read_lake(&lake, &topic).await.num_rows(), 3);
    let report = sink.stop().await;
    assert_eq!(report.rows, 3);
}
