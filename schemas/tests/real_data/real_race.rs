//! Every event of both real race data sets parses, and neither JSON nor Arrow
//! loses any of it.

use std::collections::BTreeMap;

use billabong_schemas::race::EVENT_TYPES;
use billabong_schemas::{
    Feed, FeedEvent, Limits, RaceBatchBuilder, RaceEvent, race_events_from_batch,
    race_events_to_batch, race_schema,
};
use producer::race_data::RaceDataset;

use crate::helpers::{DATASETS, parse_race, real_race, value_of};

/// Events per type of one data set.
fn type_counts(events: &[RaceEvent]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        *counts.entry(e.type_name()).or_insert(0) += 1;
    }
    counts
}

/// Lap rows and pit stops of the source CSVs (`shared/data/README.md`): one
/// `lap_completed` per lap row, one `pit_in` and one `pit_out` per stop (FIA:
/// the "PIT" rows of `gap_to_leader`; Ergast: `pit_stops.csv`), none dropped.
fn source_rows(dataset: RaceDataset) -> (usize, usize) {
    match dataset {
        RaceDataset::Fia => (52_126, 1_648),
        RaceDataset::Ergast => (42_088, 1_392),
    }
}

#[test]
fn every_real_race_event_parses_and_matches_its_recording() {
    for dataset in DATASETS {
        let real = real_race(dataset);
        let recorded: Vec<&RaceEvent> = real.recordings.iter().flat_map(|r| &r.events).collect();
        assert_eq!(
            real.events.iter().collect::<Vec<_>>(),
            recorded,
            "{dataset}"
        );
        for r in &real.recordings {
            assert!(
                r.skipped.is_empty(),
                "{dataset} {}: {:?}",
                r.race_id,
                r.skipped
            );
            assert!(r.events.iter().all(|e| e.race_id() == r.race_id));
        }
        for (line, event) in real.lines.iter().zip(&real.events) {
            let feed = Feed::Race.parse(line, &Limits::default()).expect("valid");
            assert_eq!(feed, FeedEvent::Race(Box::new(event.clone())));
            assert_eq!(feed.key(), event.race_id());
            assert_eq!(feed.event_time_ms(), event.ts());
        }
        let counts = type_counts(&real.events);
        eprintln!(
            "{dataset}: {} races, {} events {counts:?}",
            real.recordings.len(),
            real.events.len()
        );
        let (laps, stops) = source_rows(dataset);
        assert_eq!(counts.get("lap_completed"), Some(&laps), "{dataset}");
        assert_eq!(counts.get("pit_in"), Some(&stops), "{dataset}");
        assert_eq!(counts.get("pit_out"), Some(&stops), "{dataset}");
        assert_eq!(counts.get("race_start"), Some(&real.recordings.len()));
        assert_eq!(counts.get("race_finish"), Some(&real.recordings.len()));
    }
}

#[test]
fn both_data_sets_together_use_every_event_type() {
    let mut seen: Vec<&str> = DATASETS
        .iter()
        .flat_map(|d| type_counts(&real_race(*d).events).into_keys())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    let mut all = EVENT_TYPES.to_vec();
    all.sort_unstable();
    assert_eq!(seen, all);
}

#[test]
fn json_round_trip_is_lossless() {
    for dataset in DATASETS {
        let real = real_race(dataset);
        for (line, event) in real.lines.iter().zip(&real.events) {
            let json = serde_json::to_vec(event).expect("an event serialises");
            assert_eq!(&json, line, "{dataset}: the feed line is the event's JSON");
            let again = parse_race(&json).expect("our own JSON is valid");
            assert_eq!(&again, event, "{dataset}");
        }
    }
}

/// The struct keeps every key of the feed line: serialising it gives the line's
/// JSON value back, with no normalisation at all (the feed writes floats as
/// floats and leaves absent options out, as the struct does).
#[test]
fn no_wire_field_is_dropped() {
    for dataset in DATASETS {
        let real = real_race(dataset);
        for (line, event) in real.lines.iter().zip(&real.events) {
            let value = serde_json::to_value(event).expect("an event serialises");
            assert_eq!(value, value_of(line), "{dataset}");
        }
    }
}

#[test]
fn arrow_round_trip_keeps_every_event() {
    for dataset in DATASETS {
        let events = &real_race(dataset).events;
        let batch = race_events_to_batch(events).expect("real events convert");
        assert_eq!(batch.num_rows(), events.len());
        assert_eq!(batch.schema(), race_schema());
        let back = race_events_from_batch(&batch).expect("our own batch reads back");
        assert_eq!(&back, events, "{dataset}");
        for (event, line) in back.iter().zip(&real_race(dataset).lines) {
            let value = serde_json::to_value(event).expect("an event serialises");
            assert_eq!(value, value_of(line), "{dataset}");
        }
    }
}

#[test]
fn arrow_round_trip_in_batches_of_any_size() {
    for dataset in DATASETS {
        let events = &real_race(dataset).events;
        let mut builder = RaceBatchBuilder::with_capacity(8);
        for size in [1, 7, 1000, 4096, events.len()] {
            let mut back = Vec::with_capacity(events.len());
            for chunk in events.chunks(size) {
                for e in chunk {
                    builder.push(e).expect("real events convert");
                }
                assert_eq!(builder.len(), chunk.len());
                let batch = builder.finish().expect("real events convert");
                assert!(builder.is_empty());
                assert_eq!(batch.num_rows(), chunk.len());
                back.extend(race_events_from_batch(&batch).expect("reads back"));
            }
            assert_eq!(&back, events, "{dataset} in batches of {size}");
        }
    }
}

/// One batch per race, as a per-race replay would write them.
#[test]
fn arrow_round_trip_per_race() {
    for dataset in DATASETS {
        for race in &real_race(dataset).recordings {
            let batch = race_events_to_batch(&race.events).expect("converts");
            assert_eq!(
                race_events_from_batch(&batch).expect("reads back"),
                race.events,
                "{}",
                race.race_id
            );
        }
    }
}

#[test]
fn sliced_batches_read_back() {
    for dataset in DATASETS {
        let events = &real_race(dataset).events;
        let batch = race_events_to_batch(events).expect("converts");
        let n = events.len();
        for (offset, len) in [(0, 1), (1, 7), (123, 1000), (n - 1, 1), (n / 2, 0), (0, n)] {
            let back = race_events_from_batch(&batch.slice(offset, len)).expect("reads back");
            assert_eq!(
                back,
                events[offset..offset + len],
                "{dataset} {offset}+{len}"
            );
        }
        // Each race_start and race_finish alone: the list columns' offsets of a
        // one-row slice start far into the shared child arrays.
        for (i, e) in events.iter().enumerate() {
            if matches!(e, RaceEvent::RaceStart(_) | RaceEvent::RaceFinish(_)) {
                let back = race_events_from_batch(&batch.slice(i, 1)).expect("reads back");
                assert_eq!(back, std::slice::from_ref(e), "{dataset} row {i}");
            }
        }
    }
}

#[test]
fn empty_batch_round_trips() {
    let batch = race_events_to_batch(&[]).expect("nothing converts");
    assert_eq!(batch.num_rows(), 0);
    assert_eq!(batch.schema(), race_schema());
    assert!(
        race_events_from_batch(&batch)
            .expect("reads back")
            .is_empty()
    );
    assert_eq!(
        RaceBatchBuilder::with_capacity(0)
            .finish()
            .expect("nothing converts"),
        batch
    );
}
