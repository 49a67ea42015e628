//! An input topic created after the speed layer started is picked up: in a
//! deployment `billabong stream` may start before a producer creates its topic.

use std::time::Duration;

use producer::race_data::RaceDataset;

use crate::support;

#[tokio::test(flavor = "multi_thread")]
async fn a_race_topic_created_after_the_start_is_consumed() {
    let kafka = support::kafka();
    let rsvps: Vec<Vec<u8>> = testkit::fixtures::rsvp_lines()
        .into_iter()
        .take(20)
        .collect();
    let race: Vec<Vec<u8>> = testkit::fixtures::race_lines(RaceDataset::Ergast)
        .into_iter()
        .take(200)
        .collect();
    let rsvp_topic = kafka.fresh_topic("rsvps-early", 1).await;
    // Not created: the broker creates it on the first produce, seconds after
    // the stream has started without it.
    let race_topic = format!("test.{}", testkit::unique_name("race-late"));
    support::produce(&kafka, &rsvp_topic, &rsvps);
    let config = support::config(&kafka, &rsvp_topic, &race_topic).await;

    let late = {
        let (kafka, race_topic) = (kafka.clone(), race_topic.clone());
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_secs(4));
            support::produce(&kafka, &race_topic, &race);
        })
    };
    let report =
        support::run_until_committed(&config, &[(&rsvp_topic, 20), (&race_topic, 200)]).await;
    late.await.expect("the late producer");
    // The new topic starts a new generation, which replays the RSVPs to
    // rebuild its state without publishing them again (ids are unique below).
    assert_eq!(
        report.records - report.replayed,
        220,
        "every record of both topics, published once"
    );

    let published = support::updates(&support::read_all(&kafka.brokers, &config.metrics_topic));
    let race_updates = published
        .iter()
        .filter(|p| {
            p.update["metric"]
                .as_str()
                .is_some_and(|m| m.starts_with("race"))
        })
        .count();
    assert!(
        race_updates > 0,
        "no race metric published from the late topic"
    );
}
