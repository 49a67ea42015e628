//! Every recorded RSVP parses, and neither JSON nor Arrow loses any of it.

use std::sync::Arc;

use crate::helpers::{RSVP_COUNT, parse_rsvp, real_rsvps, rsvp_wire_value};
use billabong_schemas::arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use billabong_schemas::arrow::datatypes::{DataType, Field, Schema};
use billabong_schemas::{
    Feed, FeedEvent, Limits, Rsvp, RsvpBatchBuilder, rsvp_schema, rsvps_from_batch, rsvps_to_batch,
};

fn rsvps() -> Vec<Rsvp> {
    real_rsvps().iter().map(|r| r.rsvp.clone()).collect()
}

#[test]
fn all_1541_recorded_rsvps_parse() {
    let real = real_rsvps();
    assert_eq!(real.len(), RSVP_COUNT);
    for (i, r) in real.iter().enumerate() {
        let event = Feed::Rsvps
            .parse(&r.line, &Limits::default())
            .unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        assert_eq!(event, FeedEvent::Rsvp(Box::new(r.rsvp.clone())));
        assert_eq!(event.key(), r.rsvp.event.event_id);
        assert_eq!(event.event_time_ms(), r.rsvp.mtime);
        r.rsvp
            .validate(&Limits::default())
            .expect("parse validated it");
    }
}

/// The counts of `shared/data/README.md`, seen through the parsed structs:
/// every optional key the wire omits is `None`, every one it sends is `Some`.
#[test]
fn optional_fields_match_the_recording() {
    let all = rsvps();
    let count = |f: fn(&Rsvp) -> bool| all.iter().filter(|r| f(r)).count();
    assert_eq!(count(|r| r.venue.is_none()), 309);
    assert_eq!(count(|r| r.member.photo.is_none()), 81);
    assert_eq!(count(|r| r.member.other_services.is_some()), 146);
    assert_eq!(count(|r| r.event.time.is_none()), 8);
    assert_eq!(count(|r| r.group.group_state.is_none()), 861);
    assert_eq!(
        count(|r| !r.event.event_id.bytes().all(|b| b.is_ascii_digit())),
        416
    );
    assert_eq!(
        count(|r| r
            .venue
            .as_ref()
            .is_some_and(|v| v.lat == 0.0 && v.lon == 0.0)),
        76
    );
    let services: usize = all
        .iter()
        .filter_map(|r| r.member.other_services.as_ref())
        .map(Vec::len)
        .sum();
    assert_eq!(services, 188);
    let topics: usize = all.iter().map(|r| r.group.group_topics.len()).sum();
    assert_eq!(topics, 17_497);
}

#[test]
fn json_round_trip_is_lossless() {
    for r in real_rsvps() {
        let json = serde_json::to_vec(&r.rsvp).expect("an Rsvp serialises");
        let again = parse_rsvp(&json).expect("our own JSON is valid");
        assert_eq!(again, r.rsvp);
        let twice = serde_json::to_vec(&again).expect("an Rsvp serialises");
        assert_eq!(twice, json, "serialising is deterministic");
    }
}

/// The struct holds every key of the wire record with its value: serialising
/// it gives the wire record back (see [`rsvp_wire_value`] for the one
/// normalisation, integer coordinates written as floats).
#[test]
fn no_wire_field_is_dropped() {
    for (i, r) in real_rsvps().iter().enumerate() {
        let from_struct = serde_json::to_value(&r.rsvp).expect("an Rsvp serialises");
        assert_eq!(from_struct, rsvp_wire_value(&r.line), "line {}", i + 1);
    }
}

/// JSON → struct → Arrow → struct → JSON gives the wire record back.
#[test]
fn arrow_round_trip_keeps_the_wire_record() {
    let all = rsvps();
    let batch = rsvps_to_batch(&all).expect("real RSVPs convert");
    assert_eq!(batch.num_rows(), RSVP_COUNT);
    assert_eq!(batch.schema(), rsvp_schema());
    let back = rsvps_from_batch(&batch).expect("our own batch reads back");
    assert_eq!(back, all);
    for (i, (r, real)) in back.iter().zip(real_rsvps()).enumerate() {
        let value = serde_json::to_value(r).expect("an Rsvp serialises");
        assert_eq!(value, rsvp_wire_value(&real.line), "line {}", i + 1);
    }
}

/// Absent optional keys are Arrow nulls, nothing else is.
#[test]
fn arrow_nulls_are_exactly_the_absent_keys() {
    let batch = rsvps_to_batch(&rsvps()).expect("real RSVPs convert");
    let column = |name: &str| Arc::clone(batch.column_by_name(name).expect("in the schema"));
    let child = |parent: &str, name: &str| {
        Arc::clone(
            column(parent)
                .as_struct()
                .column_by_name(name)
                .expect("in the schema"),
        )
    };
    assert_eq!(column("venue").null_count(), 309);
    assert_eq!(child("member", "photo").null_count(), 81);
    assert_eq!(
        child("member", "other_services").null_count(),
        RSVP_COUNT - 146
    );
    assert_eq!(child("event", "time").null_count(), 8);
    assert_eq!(child("group", "group_state").null_count(), 861);
    for name in ["rsvp_id", "mtime", "response", "guests", "visibility"] {
        assert_eq!(column(name).null_count(), 0, "{name}");
    }
    let topics = child("group", "group_topics");
    assert_eq!(topics.null_count(), 0);
    assert_eq!(topics.as_list::<i32>().values().len(), 17_497);
}

/// Batches of any size, from one builder reused across `finish` calls.
#[test]
fn arrow_round_trip_in_batches_of_any_size() {
    let all = rsvps();
    let mut builder = RsvpBatchBuilder::with_capacity(16);
    for size in [1, 2, 7, 64, 1000, RSVP_COUNT, 2 * RSVP_COUNT] {
        let mut back = Vec::with_capacity(all.len());
        for chunk in all.chunks(size) {
            for r in chunk {
                builder.push(r).expect("real RSVPs convert");
            }
            assert_eq!(builder.len(), chunk.len());
            let batch = builder.finish().expect("real RSVPs convert");
            assert!(builder.is_empty(), "finish leaves the builder empty");
            assert_eq!(batch.num_rows(), chunk.len());
            assert_eq!(rsvps_to_batch(chunk).expect("converts"), batch);
            back.extend(rsvps_from_batch(&batch).expect("reads back"));
        }
        assert_eq!(back, all, "batches of {size}");
    }
}

#[test]
fn empty_batch_round_trips() {
    let batch = rsvps_to_batch(&[]).expect("nothing converts");
    assert_eq!(batch.num_rows(), 0);
    assert_eq!(batch.schema(), rsvp_schema());
    assert_eq!(
        rsvps_from_batch(&batch).expect("reads back"),
        Vec::<Rsvp>::new()
    );
    let mut builder = RsvpBatchBuilder::with_capacity(0);
    assert!(builder.is_empty());
    assert_eq!(builder.finish().expect("nothing converts"), batch);
}

/// A sink may hand on a zero-copy slice of a batch: offsets into the shared
/// list and struct children must still line up.
#[test]
fn sliced_batches_read_back() {
    let all = rsvps();
    let batch = rsvps_to_batch(&all).expect("real RSVPs convert");
    for (offset, len) in [
        (0, 1),
        (1, 7),
        (300, 1000),
        (1540, 1),
        (777, 0),
        (0, RSVP_COUNT),
    ] {
        let back = rsvps_from_batch(&batch.slice(offset, len)).expect("a slice reads back");
        assert_eq!(back, all[offset..offset + len], "slice {offset}+{len}");
    }
}

/// The lake adds `_topic`, `_offset`... columns; reading ignores them.
#[test]
fn extra_columns_are_ignored() {
    let all = rsvps();
    let batch = rsvps_to_batch(&all).expect("real RSVPs convert");
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| (**f).clone())
        .collect();
    fields.insert(0, Field::new("_offset", DataType::Int64, false));
    let mut columns = batch.columns().to_vec();
    columns.insert(
        0,
        Arc::new(Int64Array::from_iter_values(0..RSVP_COUNT as i64)),
    );
    let wider = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("valid");
    assert_eq!(rsvps_from_batch(&wider).expect("reads back"), all);
}

/// Re-emitted RSVPs (same id) stay distinct rows: nothing deduplicates early.
#[test]
fn duplicate_ids_are_all_kept() {
    let all = rsvps();
    let mut ids: Vec<i64> = all.iter().map(|r| r.rsvp_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(all.len() - ids.len(), 281, "extra rows of re-emitted RSVPs");
    let back = rsvps_from_batch(&rsvps_to_batch(&all).expect("converts")).expect("reads back");
    assert_eq!(back.len(), RSVP_COUNT);
}

/// Unicode and stray whitespace in names come through byte for byte.
#[test]
fn names_keep_their_exact_text() {
    let all = rsvps();
    let back = rsvps_from_batch(&rsvps_to_batch(&all).expect("converts")).expect("reads back");
    let count = |f: &dyn Fn(&Rsvp) -> bool| back.iter().filter(|r| f(r)).count();
    assert_eq!(count(&|r| !r.member.member_name.is_ascii()), 46);
    assert_eq!(count(&|r| !r.group.group_name.is_ascii()), 73);
    assert_eq!(
        count(&|r| r.member.member_name.trim() != r.member.member_name),
        35
    );
    assert!(
        back.iter()
            .any(|r| r.group.group_name == "London Pokémon Go Community 🌟")
    );
}
