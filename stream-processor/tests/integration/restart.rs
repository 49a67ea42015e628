//! A restart rebuilds the state by replay and publishes nothing twice: a run
//! stopped half-way and resumed (with more input in between) publishes the
//! same values as one uninterrupted run.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support;

/// The live output with emit times removed, as a set of canonical JSON
/// strings. View checkpoints fall on commits, which differ between runs
/// (`view.rs` tests them).
pub(crate) fn canonical(messages: &[Value]) -> BTreeSet<String> {
    messages
        .iter()
        .filter(|m| !support::is_view_message(m))
        .map(|m| {
            let mut m = m.clone();
            if let Some(object) = m.as_object_mut() {
                object.remove("emit_time_ms");
            }
            m.to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_and_resume_publishes_what_one_run_publishes() {
    let kafka = support::kafka();
    let lines = testkit::fixtures::rsvp_lines();
    let (first, second) = lines.split_at(700);
    let topic = kafka.fresh_topic("rsvps", 1).await;
    support::produce(&kafka, &topic, first);
    let resumed = support::config(&kafka, &topic, "").await;
    let one = support::run_until_committed(&resumed, &[(&topic, first.len() as i64)]).await;
    support::produce(&kafka, &topic, second);
    let two = support::run_until_committed(&resumed, &[(&topic, lines.len() as i64)]).await;
    assert_eq!(
        two.replayed,
        first.len() as u64,
        "the second run replays the first's input silently"
    );

    let mut whole = support::config(&kafka, &topic, "").await;
    whole.metrics_topic = kafka.fresh_topic("metrics-whole", 1).await;
    support::run_until_committed(&whole, &[(&topic, lines.len() as i64)]).await;

    let resumed_out = support::read_all(&kafka.brokers, &resumed.metrics_topic);
    let whole_out = support::read_all(&kafka.brokers, &whole.metrics_topic);
    let (resumed_live, whole_live) = (canonical(&resumed_out), canonical(&whole_out));
    let live = |all: &[Value]| all.iter().filter(|m| !support::is_view_message(m)).count();
    assert_eq!(
        live(&resumed_out),
        resumed_live.len(),
        "no duplicates ({one:?}, {two:?})"
    );
    assert_eq!(resumed_live, whole_live, "no gaps, same values");
}
