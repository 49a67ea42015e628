//! Two sinks (different consumer groups, so both own the partition) racing
//! on the same topic into the same lake: the create-only commit records let
//! one win each range; no offset is committed twice and none is missing.

use std::time::Duration;

use schemas::Feed;
use testkit::Services;
use testkit::fixtures::rsvp_lines;

use crate::support::{
    RunningSink, config, fresh_lake, open_lake, positions_exactly_once, produce, read_lake,
    rsvp_key, wait_for_lake,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_sinks_commit_every_offset_once() {
    let topic = Services::get().kafka().fresh_topic("sink-race", 1).await;
    let lines = rsvp_lines();
    let at = produce(&topic, &lines, rsvp_key).await;
    let lake_url = fresh_lake(true, "racing");
    let sinks: Vec<RunningSink> = (0..2)
        .map(|_| {
            let mut cfg = config(
                &lake_url,
                &[(&topic, Feed::Rsvps)],
                &testkit::unique_name("g"),
            );
            cfg.roll.records = 40;
            RunningSink::start(cfg)
        })
        .collect();
    let lake = open_lake(&lake_url);
    wait_for_lake(&lake, &topic, &at, Duration::from_secs(300)).await;
    let mut reports = Vec::new();
    for sink in sinks {
        reports.push(sink.stop().await);
    }
    eprintln!("racing sinks: {reports:?}");
    let batch = read_lake(&lake, &topic).await;
    let positions = positions_exactly_once(&batch);
    assert_eq!(positions.len(), lines.len(), "every offset committed once");
    let committed_rows: u64 = reports.iter().map(|r| r.rows).sum();
    assert_eq!(
        committed_rows,
        lines.len() as u64,
        "the winners' rows add up to the topic, losers' rows were discarded"
    );
    // The chain is checked by the reader (gaps or overlaps are an error).
    lake.partition(&topic, 0)
        .await
        .expect("a contiguous commit chain");
}
