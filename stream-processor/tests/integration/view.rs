//! The real-time view generations (`view.rs`, `schemas::realtime`): at every
//! checkpoint marker, a generation's rows equal a recomputation over exactly
//! the offsets the marker names, and a batch run starts the next generation
//! at its watermark + 1 — published while the stream is down (the restart
//! path) or while it runs (the in-process rebuild).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use producer::race_data::RaceDataset;
use schemas::realtime::{RaceDriverLaps, VIEW_PROGRESS, ViewProgress};
use schemas::{BatchRun, Limits, RaceEvent, Rsvp};
use serde_json::Value;

use crate::support;

/// (entry, laps, best, total, stops, classified, position) of one car.
type CarRow = (bool, i64, Option<i64>, i64, i64, bool, Option<i32>);

/// The three views, keyed as the rows say, recomputed from parsed records.
#[derive(Debug, Default, PartialEq)]
struct Views {
    country_hour: BTreeMap<(String, i64), (i64, i64, i64)>,
    topic_day: BTreeMap<(String, i64), (i64, i64)>,
    race: BTreeMap<(String, String), CarRow>,
}

/// Recomputes the views of `rsvps[from..=through]` or `race[from..=through]`
/// from scratch: count every message, each lap and stop once.
fn recompute(rsvps: &[Rsvp], race: &[RaceEvent], from: i64, through: i64) -> Views {
    let mut v = Views::default();
    let range = |n: usize| {
        let end = ((through + 1).max(0) as usize).min(n);
        (from.max(0) as usize).min(end)..end
    };
    for r in &rsvps[range(rsvps.len())] {
        let yes = i64::from(r.response == schemas::rsvp::Response::Yes);
        let hour = r.mtime - r.mtime.rem_euclid(3_600_000);
        let e = v
            .country_hour
            .entry((r.group.group_country.clone(), hour))
            .or_default();
        *e = (e.0 + 1, e.1 + yes, e.2 + r.guests);
        for t in &r.group.group_topics {
            let e = v
                .topic_day
                .entry((t.urlkey.clone(), r.mtime.div_euclid(86_400_000)))
                .or_default();
            *e = (e.0 + 1, e.1 + yes);
        }
    }
    type Car = (bool, BTreeMap<u32, i64>, BTreeSet<u32>, bool, Option<i32>);
    let mut cars: BTreeMap<(String, String), Car> = BTreeMap::new();
    for e in &race[range(race.len())] {
        match e {
            RaceEvent::RaceStart(s) => {
                for g in &s.grid {
                    cars.entry((s.race_id.clone(), g.driver_id.clone()))
                        .or_default()
                        .0 = true;
                }
            }
            RaceEvent::LapCompleted(l) => {
                cars.entry((l.race_id.clone(), l.driver_id.clone()))
                    .or_default()
                    .1
                    .insert(l.lap, l.lap_time_ms);
            }
            RaceEvent::PitIn(p) => {
                cars.entry((p.race_id.clone(), p.driver_id.clone()))
                    .or_default()
                    .2
                    .insert(p.stop);
            }
            RaceEvent::RaceFinish(f) => {
                for r in &f.results {
                    let c = cars
                        .entry((f.race_id.clone(), r.driver_id.clone()))
                        .or_default();
                    c.3 = true;
                    c.4 = r.position.map(|p| p as i32);
                }
            }
            _ => {}
        }
    }
    for (key, (entry, laps, stops, classified, position)) in cars {
        v.race.insert(
            key,
            (
                entry,
                laps.len() as i64,
                laps.values().min().copied(),
                laps.values().sum(),
                stops.len() as i64,
                classified,
                position,
            ),
        );
    }
    v
}

/// One input partition's published rows of one generation.
#[derive(Debug, Default)]
struct Held {
    views: Views,
    markers: Vec<ViewProgress>,
}

fn apply_row(views: &mut Views, update: &Value) {
    let v = &update["value"];
    match update["metric"].as_str() {
        Some("view_rsvps_country_hour") => {
            views.country_hour.insert(
                (
                    v["country_code"].as_str().expect("country").into(),
                    v["hour_ms"].as_i64().expect("hour"),
                ),
                (
                    v["rsvps"].as_i64().expect("n"),
                    v["yes_count"].as_i64().expect("yes"),
                    v["guests"].as_i64().expect("guests"),
                ),
            );
        }
        Some("view_topic_day") => {
            views.topic_day.insert(
                (
                    v["urlkey"].as_str().expect("urlkey").into(),
                    v["day"].as_i64().expect("day"),
                ),
                (
                    v["rsvps"].as_i64().expect("n"),
                    v["yes_count"].as_i64().expect("yes"),
                ),
            );
        }
        Some("view_race_driver_laps") => {
            let r: RaceDriverLaps = serde_json::from_value(v.clone()).expect("a race row");
            views.race.insert(
                (r.race_id, r.driver_id),
                (
                    r.entry,
                    r.laps,
                    r.best_lap_ms,
                    r.total_lap_ms,
                    r.pit_stops,
                    r.classified,
                    r.final_position,
                ),
            );
        }
        other => panic!("unexpected view metric {other:?}"),
    }
}

/// Folds the published checkpoints in order and checks every marker:
/// the rows held for (generation, partition) equal the recomputation over
/// the marker's offsets. Returns the markers per (generation, topic).
fn check_every_marker(
    messages: &[Value],
    rsvps_topic: &str,
    rsvps: &[Rsvp],
    race: &[RaceEvent],
) -> BTreeMap<(i64, String), Vec<ViewProgress>> {
    let mut held: HashMap<(i64, String), Held> = HashMap::new();
    let mut pending: HashMap<(i64, String), Vec<Value>> = HashMap::new();
    let mut checked = 0;
    for message in messages.iter().filter(|m| support::is_view_message(m)) {
        let g = message["generation"].as_i64().expect("generation");
        let topic = message["source"]["topic"]
            .as_str()
            .expect("topic")
            .to_owned();
        for update in message["updates"].as_array().expect("updates") {
            if update["metric"] != VIEW_PROGRESS {
                pending
                    .entry((g, topic.clone()))
                    .or_default()
                    .push(update.clone());
                continue;
            }
            let marker: ViewProgress =
                serde_json::from_value(update["value"].clone()).expect("marker");
            let h = held.entry((g, topic.clone())).or_default();
            for row in pending.remove(&(g, topic.clone())).unwrap_or_default() {
                apply_row(&mut h.views, &row);
            }
            let (r, e): (&[Rsvp], &[RaceEvent]) = if topic == rsvps_topic {
                (rsvps, &[])
            } else {
                (&[], race)
            };
            let want = recompute(r, e, marker.from_offset, marker.through_offset);
            assert_eq!(h.views, want, "generation {g} of {topic} at {marker:?}");
            checked += 1;
            h.markers.push(marker);
        }
    }
    assert!(pending.values().all(Vec::is_empty), "rows without a marker");
    assert!(checked > 0);
    held.into_iter().map(|(k, h)| (k, h.markers)).collect()
}

fn publish_run(kafka: &testkit::KafkaHandle, topic: &str, run: &BatchRun) {
    let json = serde_json::to_vec(run).expect("serialises");
    support::produce(kafka, topic, &[json]);
}

fn run(run_id: i64, watermarks: &[(&str, i64)]) -> BatchRun {
    BatchRun {
        run_id,
        finished_at_ms: 0,
        watermarks: watermarks
            .iter()
            .map(|(t, w)| ((*t).to_owned(), BTreeMap::from([(0, *w)])))
            .collect(),
        views: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn generations_cover_exactly_the_offsets_after_the_batch_watermark() {
    let kafka = support::kafka();
    let rsvp_lines = testkit::fixtures::rsvp_lines();
    let race_lines: Vec<Vec<u8>> = testkit::fixtures::race_lines(RaceDataset::Ergast)
        .into_iter()
        .take(6_000)
        .collect();
    let limits = Limits::default();
    let rsvps: Vec<Rsvp> = rsvp_lines
        .iter()
        .map(|l| Rsvp::parse(l, &limits).expect("valid"))
        .collect();
    let race: Vec<RaceEvent> = race_lines
        .iter()
        .map(|l| RaceEvent::parse(l, &limits).expect("valid"))
        .collect();
    let rsvps_topic = kafka.fresh_topic("rsvps", 1).await;
    let race_topic = kafka.fresh_topic("race", 1).await;
    let mut config = support::config(&kafka, &rsvps_topic, &race_topic).await;
    config.runs_topic = kafka.fresh_topic("runs", 1).await;

    // Generation 0: no batch run yet, the views start at offset 0.
    support::produce(&kafka, &rsvps_topic, &rsvp_lines[..800]);
    support::produce(&kafka, &race_topic, &race_lines[..3_000]);
    support::run_until_committed(&config, &[(&rsvps_topic, 800), (&race_topic, 3_000)]).await;

    // Run 1 published while the stream is down: the restart builds
    // generation 1 from W + 1.
    publish_run(
        &kafka,
        &config.runs_topic,
        &run(1, &[(&rsvps_topic, 499), (&race_topic, 1_999)]),
    );
    support::produce(&kafka, &rsvps_topic, &rsvp_lines[800..1_200]);
    support::produce(&kafka, &race_topic, &race_lines[3_000..4_500]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(billabong_stream_processor::run(
        config.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !support::committed_reached(&config, &[(&rsvps_topic, 1_200), (&race_topic, 4_500)]) {
        assert!(
            Instant::now() < deadline && !task.is_finished(),
            "generation 1 stalled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Run 2 published while it runs: rebuilt in process. It covers none of
    // the race topic, so that generation starts at the race topic's first offset.
    publish_run(
        &kafka,
        &config.runs_topic,
        &run(2, &[(&rsvps_topic, 1_000)]),
    );
    let announced =
        |messages: &[Value]| messages.iter().filter(|m| m["generation"] == 2).count() >= 2;
    while !announced(&support::read_all(&kafka.brokers, &config.metrics_topic)) {
        assert!(
            Instant::now() < deadline && !task.is_finished(),
            "generation 2 stalled"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    support::produce(&kafka, &rsvps_topic, &rsvp_lines[1_200..]);
    support::produce(&kafka, &race_topic, &race_lines[4_500..]);
    let (n_rsvps, n_race) = (rsvp_lines.len() as i64, race_lines.len() as i64);
    while !support::committed_reached(&config, &[(&rsvps_topic, n_rsvps), (&race_topic, n_race)]) {
        assert!(
            Instant::now() < deadline && !task.is_finished(),
            "the rest stalled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(());
    let report = task.await.expect("join").expect("stream run");
    assert_eq!(report.view_switches, 1, "{report:?}");
    assert_eq!(report.view_rebuilt, (1_200 - 1_001) + 4_500, "{report:?}");

    let messages = support::read_all(&kafka.brokers, &config.metrics_topic);
    let markers = check_every_marker(&messages, &rsvps_topic, &rsvps, &race);
    let span = |g: i64, t: &str| {
        let m = &markers[&(g, t.to_owned())];
        (
            m[0].from_offset,
            m[0].through_offset,
            m.last().map(|l| l.through_offset),
        )
    };
    assert_eq!(span(0, &rsvps_topic).0, 0);
    assert_eq!(span(0, &rsvps_topic).2, Some(799));
    assert_eq!(span(1, &rsvps_topic).0, 500);
    assert_eq!(span(1, &rsvps_topic).2, Some(1_199));
    assert_eq!(span(1, &race_topic).0, 2_000);
    // Generation 1 announced itself whole at the restart's first checkpoint,
    // at least as far as generation 0 had gone.
    assert!(span(1, &rsvps_topic).1 >= 799);
    assert_eq!(span(2, &rsvps_topic).0, 1_001);
    assert_eq!(span(2, &race_topic).0, 0, "run 2 covered no race offsets");
    assert!(
        span(2, &race_topic).1 >= 4_499,
        "rebuilt up to the live position at once"
    );
    assert_eq!(span(2, &rsvps_topic).2, Some(n_rsvps - 1));
    assert_eq!(span(2, &race_topic).2, Some(n_race - 1));
}
