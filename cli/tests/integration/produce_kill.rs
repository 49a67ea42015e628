//! `billabong produce` killed with SIGKILL mid-stream, twice, and restarted
//! with the same transactional id: Kafka ends up holding every record of the
//! feed exactly once (the argument is in `producer/src/ingest/mod.rs`).

use std::time::Duration;

use producer::simulator::Speed;
use testkit::fixtures::rsvp_lines;

use crate::produce_support::{
    Producing, assert_same_multiset, fresh_topic, read_committed, rsvp_feed, summary_of,
    wait_for_offsets,
};

#[test]
fn sigkill_mid_stream_then_restart_commits_every_record_once() {
    // The recording's clock spans 1,137 s: about 11 s at 100x.
    let feed = rsvp_feed(Speed::Factor(100.0));
    let topic = fresh_topic("produce-kill");
    let args = [
        "--feed",
        "rsvps",
        "--source",
        &feed.url,
        "--idle-exit",
        "4",
        "--transactional-id",
        &format!("{topic}-txn"),
    ];
    for (round, offsets) in [400, 900].into_iter().enumerate() {
        let mut run = Producing::start(&format!("kill-{round}"), &topic, &args);
        wait_for_offsets(&topic, offsets);
        run.child.kill().expect("SIGKILL is delivered");
        let status = run.child.wait().expect("the child is reaped");
        assert_eq!(status.code(), None, "killed by a signal, not exited");
    }
    let last = Producing::start("kill-final", &topic, &args);
    let (code, stdout, stderr) = last.wait(Duration::from_secs(180));
    assert_eq!(code, Some(0), "{stderr}");
    let summary = summary_of(&stdout);
    assert!(
        summary["duplicates_dropped"].as_u64() >= Some(1),
        "{stdout}"
    );
    assert_same_multiset(&rsvp_lines(), &read_committed(&topic));
}
