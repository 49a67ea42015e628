//! An idle partition's open batch is committed by the roll timer, not held
//! until the next record.

use std::time::{Duration, Instant};

use schemas::Feed;
use testkit::Services;
use testkit::fixtures::rsvp_lines;

use crate::support::{RunningSink, config, fresh_lake, open_lake, produce, read_lake, rsvp_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_records_then_nothing_are_committed_within_the_roll_time() {
    let topic = Services::get().kafka().fresh_topic("sink-idle", 1).await;
    let lake_url = fresh_lake(true, "idle");
    let mut cfg = config(
        &lake_url,
        &[(&topic, Feed::Rsvps)],
        &testkit::unique_name("g"),
    );
    cfg.roll.interval = Duration::from_secs(3);
    let sink = RunningSink::start(cfg);
    let lake = open_lake(&lake_url);
    // Let the sink join its group before the records exist, so the clock
    // below measures the roll timer, not the group join.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let at = produce(&topic, &rsvp_lines()[..3], rsvp_key).await;
    let produced = Instant::now();
    loop {
        let marks = lake.watermarks(&topic).await.expect("watermarks");
        if marks.get(&0) == Some(&2) {
            break;
        }
        assert!(
            produced.elapsed() < Duration::from_secs(3 + 7),
            "3 idle records not committed within roll-secs (3 s) + 7 s slack"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "idle batch committed {:.2} s after produce (roll-secs 3)",
        produced.elapsed().as_secs_f64()
    );
    let batch = read_lake(&lake, &topic).await;
    assert_eq!(batch.num_rows(), 3);
    assert_eq!(at.len(), 3);
    let report = sink.stop().await;
    assert_eq!(report.commits, 1, "one file, not a storm");
}
