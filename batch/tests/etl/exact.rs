//! One run over the real fixture data equals the recomputation.

use schemas::Feed;
use schemas::race::RaceEvent;
use testkit::fixtures::{race_lines, rsvp_lines};

use crate::support::{assert_same, config, connect, land, new_lake};
use crate::{actual, expected};

/// Every table and view of one run over all 1,541 recorded RSVPs (with the
/// real data's re-emitted RSVPs) and the Ergast race feed, compared key by
/// key with the recomputation; then a second run finds nothing new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_equals_recomputation_from_the_fixture_files() {
    let lake = new_lake("batch-exact");
    let rsvps = land(&lake, Feed::Rsvps, rsvp_lines(), 3).await;
    let race = land(
        &lake,
        Feed::Race,
        race_lines(producer::race_data::RaceDataset::Ergast),
        2,
    )
    .await;
    let config = config(&lake, &rsvps.topic, &race.topic).await;
    let summary = batch::run_once(&config, &batch::NoProgress)
        .await
        .expect("the run succeeds");
    assert_eq!(summary.status, "succeeded");
    assert_eq!(summary.run_id, 1);
    assert_eq!(
        summary.rows_read,
        (rsvps.lines.len() + race.lines.len()) as u64,
        "every landed record read once"
    );
    let client = connect(&config).await;

    let all_rsvps = expected::rsvps(&rsvps);
    let want = expected::rsvp_tables(&all_rsvps);
    let have = actual::rsvp_tables(&client, 1).await;
    assert!(
        want.rsvps.len() < all_rsvps.len(),
        "the fixture repeats RSVPs: {} ids in {} records",
        want.rsvps.len(),
        all_rsvps.len()
    );
    assert_same("rsvps", &have.rsvps, &want.rsvps);
    assert_eq!(have.countries, want.countries);
    assert_eq!(have.cities, want.cities);
    assert_same("groups", &have.groups, &want.groups);
    assert_same("topics", &have.topics, &want.topics);
    assert_eq!(have.group_topics, want.group_topics);
    assert_same("members", &have.members, &want.members);
    assert_same("venues", &have.venues, &want.venues);
    assert_same("events", &have.events, &want.events);
    assert_same("country_hour", &have.country_hour, &want.country_hour);
    assert_same("topic_day", &have.topic_day, &want.topic_day);
    let messages: i64 = have.country_hour.values().map(|v| v.0).sum();
    assert_eq!(
        messages,
        all_rsvps.len() as i64,
        "views count every message"
    );

    let all_race = expected::race_events(&race);
    let want = expected::race_tables(&all_race);
    let have = actual::race_tables(&client, 1).await;
    let laps = all_race
        .iter()
        .filter(|(_, e)| matches!(e, RaceEvent::LapCompleted(_)))
        .count();
    assert_eq!(have.laps.len(), laps, "one row per lap event");
    assert_same("races", &have.races, &want.races);
    assert_same("drivers", &have.drivers, &want.drivers);
    assert_same("entries", &have.entries, &want.entries);
    assert_same("laps", &have.laps, &want.laps);
    assert_same("pit_stops", &have.pit_stops, &want.pit_stops);
    assert_same("results", &have.results, &want.results);
    assert_same("driver_laps", &have.driver_laps, &want.driver_laps);

    let again = batch::run_once(&config, &batch::NoProgress)
        .await
        .expect("the second run succeeds");
    assert_eq!(again.status, "up_to_date");
    assert_eq!(again.run_id, 1);
}
