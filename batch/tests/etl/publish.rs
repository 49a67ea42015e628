//! A successful run goes to the batch-runs topic, once, with its watermarks.

use schemas::{BatchRun, Feed};
use testkit::Services;
use testkit::fixtures::rsvp_lines;

use crate::support::{config, connect, land, new_lake};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_published_with_its_watermarks_and_marked() {
    let kafka = Services::get().kafka();
    let lake = new_lake("batch-publish");
    let rsvps = land(&lake, Feed::Rsvps, rsvp_lines(), 2).await;
    let runs_topic = kafka.fresh_topic("batch-runs", 1).await;
    let mut config = config(&lake, &rsvps.topic, "no-race-topic").await;
    config.brokers = Some(kafka.brokers.clone());
    config.runs_topic.clone_from(&runs_topic);

    let summary = batch::run_once(&config, &batch::NoProgress)
        .await
        .expect("the run succeeds");
    assert_eq!(summary.published, [1]);
    let again = batch::run_once(&config, &batch::NoProgress)
        .await
        .expect("the second run");
    assert!(
        again.published.is_empty(),
        "a published run is not sent twice"
    );

    let (brokers, topic) = (kafka.brokers.clone(), runs_topic.clone());
    let records = tokio::task::spawn_blocking(move || testkit::read_committed(&brokers, &topic))
        .await
        .expect("read the topic");
    assert_eq!(records.len(), 1, "one record per run");
    assert_eq!(records[0].key.as_deref(), Some(&b"1"[..]));
    let run: BatchRun = serde_json::from_slice(&records[0].payload).expect("a BatchRun");
    assert_eq!(run.run_id, 1);
    assert_eq!(run.watermarks, summary.watermarks);
    let last: i64 = rsvps.placement.keys().map(|(_, o)| *o).max().expect("rows");
    assert!(
        run.watermarks[&rsvps.topic].values().any(|w| *w == last),
        "the watermark reaches the last landed offset"
    );
    assert!(run.views.contains(&"view_rsvps_country_hour".to_owned()));

    let client = connect(&config).await;
    let published: bool = client
        .query_one(
            "SELECT published_at IS NOT NULL FROM batch_runs WHERE run_id = 1",
            &[],
        )
        .await
        .expect("run 1")
        .get(0);
    assert!(published, "batch_runs notes the publication");
}
