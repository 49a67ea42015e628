//! Corrupted copies of real race feed events: each gives the right error kind
//! and path.

use billabong_schemas::race::EVENT_TYPES;
use billabong_schemas::{ErrorKind, Limits, RaceEvent};
use producer::race_data::RaceDataset;
use serde_json::{Value, json};

use crate::helpers::{
    DATASETS, assert_error, get_mut, insert_after, key_paths, line_of, parse_race, real_race,
    remove, value_of, with,
};

/// A real feed line and its event.
type Sample = (&'static [u8], &'static RaceEvent);

/// The first event of each type, then every 997th event, of one data set.
fn samples(dataset: RaceDataset) -> Vec<Sample> {
    let real = real_race(dataset);
    let pairs = || real.lines.iter().map(Vec::as_slice).zip(&real.events);
    let mut out: Vec<Sample> = EVENT_TYPES
        .iter()
        .filter_map(|t| pairs().find(|(_, e)| e.type_name() == *t))
        .collect();
    out.extend(pairs().step_by(997));
    out
}

/// The first real event of `type_name` in `dataset` that satisfies `pick`.
fn first(dataset: RaceDataset, type_name: &str, pick: impl Fn(&Value) -> bool) -> Sample {
    let real = real_race(dataset);
    real.lines
        .iter()
        .map(Vec::as_slice)
        .zip(&real.events)
        .find(|(line, e)| e.type_name() == type_name && pick(&value_of(line)))
        .unwrap_or_else(|| panic!("no {type_name} in {dataset}"))
}

/// Keys a feed event may leave out, with list indexes written `[]`.
fn is_optional(path: &str) -> bool {
    let generic: String = {
        let mut out = String::new();
        let mut in_index = false;
        for c in path.chars() {
            match c {
                '[' => {
                    in_index = true;
                    out.push_str("[]");
                }
                ']' => in_index = false,
                _ if in_index => {}
                _ => out.push(c),
            }
        }
        out
    };
    matches!(
        generic.as_str(),
        "duration_ms"
            | "circuit.name"
            | "circuit.country"
            | "grid[].driver_code"
            | "grid[].car_number"
            | "grid[].constructor_name"
            | "grid[].grid_position"
            | "results[].position"
            | "results[].points"
    )
}

#[test]
fn truncated_events_are_malformed_json() {
    let mut checked = 0;
    for dataset in DATASETS {
        let real = real_race(dataset);
        for (i, (line, event)) in real.lines.iter().zip(&real.events).enumerate() {
            let big = matches!(event, RaceEvent::RaceStart(_) | RaceEvent::RaceFinish(_));
            if !big && i % 50 != 0 {
                continue;
            }
            let n = line.len();
            for cut in [0, 1, 9, n / 3, n / 2, n - 2, n - 1] {
                let what = format!("{dataset} event {i} cut at {cut}/{n}");
                assert_error(
                    parse_race(&line[..cut]),
                    ErrorKind::MalformedJson,
                    "$",
                    &what,
                );
                checked += 1;
            }
        }
    }
    eprintln!("race: {checked} truncations");
    assert!(checked > 10_000, "{checked}");
}

/// Removing any required key, at any depth, is `missing_field` at its path;
/// removing an optional one parses to exactly the smaller event.
#[test]
fn every_required_key_is_missing_field_at_its_path() {
    let (mut required, mut optional) = (0, 0);
    for dataset in DATASETS {
        for (line, _) in samples(dataset) {
            let original = value_of(line);
            for path in key_paths(&original) {
                let mut value = original.clone();
                remove(&mut value, &path);
                let result = parse_race(&line_of(&value));
                let what = format!("{dataset} {original} without {path}");
                if is_optional(&path) {
                    let event = result.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(serde_json::to_value(&event).expect("serialises"), value);
                    optional += 1;
                } else {
                    assert_error(result, ErrorKind::MissingField, &format!("$.{path}"), &what);
                    required += 1;
                }
            }
        }
    }
    eprintln!("race: {required} required and {optional} optional keys removed");
    assert!(required > 1_000 && optional > 250, "{required} {optional}");
}

/// The wrong JSON type at any key, `null` included, is `wrong_type` at its path.
#[test]
fn every_key_of_the_wrong_type_is_wrong_type_at_its_path() {
    let mut checked = 0;
    for dataset in DATASETS {
        for (line, _) in samples(dataset) {
            let mut original = value_of(line);
            for path in key_paths(&original) {
                let slot = get_mut(&mut original, &path).expect("listed");
                let wrong = match slot {
                    Value::Number(n) => vec![Value::String(n.to_string()), json!([]), json!({})],
                    Value::String(_) => vec![json!(7), json!([]), json!({})],
                    Value::Array(_) => vec![json!("x"), json!({})],
                    _ => vec![json!("x"), json!([]), json!(7)],
                };
                for new in wrong.into_iter().chain([Value::Null, Value::Bool(false)]) {
                    let what = format!("{dataset} {path} = {new} in {}", value_of(line));
                    let result = parse_race(&with(line, &path, new));
                    assert_error(result, ErrorKind::WrongType, &format!("$.{path}"), &what);
                    checked += 1;
                }
            }
        }
    }
    eprintln!("race: {checked} keys given a wrong type");
    assert!(checked > 5_000, "{checked}");
}

#[test]
fn unknown_event_types_are_invalid_value() {
    for dataset in DATASETS {
        for (line, _) in samples(dataset) {
            for bad in [
                "lap_started",
                "",
                "LAP_COMPLETED",
                "race-start",
                "RaceStart",
            ] {
                let result = parse_race(&with(line, "type", json!(bad)));
                assert_error(result, ErrorKind::InvalidValue, "$.type", bad);
            }
        }
    }
}

/// A real event under another event's tag fails on the first field the other
/// type needs and this one lacks.
#[test]
fn a_body_under_the_wrong_tag_is_missing_field() {
    let (lap, _) = first(RaceDataset::Ergast, "lap_completed", |_| true);
    let result = parse_race(&with(lap, "type", json!("pit_in")));
    assert_error(result, ErrorKind::MissingField, "$.stop", "lap as pit_in");
    let result = parse_race(&with(lap, "type", json!("race_start")));
    assert_error(
        result,
        ErrorKind::MissingField,
        "$.season",
        "lap as race_start",
    );
    let (pit, _) = first(RaceDataset::Ergast, "pit_in", |_| true);
    let result = parse_race(&with(pit, "type", json!("flag")));
    assert_error(result, ErrorKind::MissingField, "$.flag", "pit_in as flag");
}

#[test]
fn values_out_of_range_are_out_of_range_at_their_path() {
    let has = |key: &'static str| move |v: &Value| v.get(key).is_some();
    for dataset in DATASETS {
        let lap = first(dataset, "lap_completed", |v| v["lap"] == 3).0;
        let lap_time = value_of(lap)["lap_time_ms"].as_i64().expect("a lap time");
        let start = first(dataset, "race_start", |v| v["grid"][3].is_object()).0;
        let finish = first(dataset, "race_finish", |_| true).0;
        let pit_in = first(dataset, "pit_in", |_| true).0;
        let flag = first(dataset, "flag", |_| true).0;
        let retirement = first(dataset, "retirement", |_| true).0;
        let cases: Vec<(&[u8], &str, Value)> = vec![
            (lap, "lap_time_ms", json!(-5)),
            (lap, "lap_time_ms", json!(0)),
            (lap, "lap_time_ms", json!(4 * 3600 * 1000 + 1)),
            (lap, "race_time_ms", json!(lap_time - 1)),
            (lap, "race_time_ms", json!(-1)),
            (lap, "lap", json!(0)),
            (lap, "lap", json!(-1)),
            (lap, "lap", json!(1001)),
            (lap, "lap", json!(u64::from(u32::MAX) + 1)),
            (lap, "position", json!(0)),
            (lap, "position", json!(-3)),
            (lap, "ts", json!(0)),
            (lap, "ts", json!(1_022_889_599_999_i64)),
            (lap, "ts", json!(4_102_444_800_001_i64)),
            (lap, "ts", json!(u64::MAX)),
            (start, "season", json!(1949)),
            (start, "season", json!(2101)),
            (start, "season", json!(i64::from(i32::MAX) + 1)),
            (start, "round", json!(0)),
            (start, "scheduled_laps", json!(1001)),
            (start, "grid[3].grid_position", json!(0)),
            (start, "grid[3].grid_position", json!(1001)),
            (start, "grid[3].car_number", json!(-1)),
            (finish, "results[2].position", json!(0)),
            (finish, "results[2].laps", json!(1001)),
            (finish, "results[2].laps", json!(-1)),
            (pit_in, "stop", json!(0)),
            (pit_in, "lap", json!(1001)),
            (flag, "lap", json!(-1)),
            (retirement, "lap", json!(1001)),
        ];
        for (line, path, new) in cases {
            let what = format!("{dataset} {path} = {new}");
            let result = parse_race(&with(line, path, new));
            assert_error(result, ErrorKind::OutOfRange, &format!("$.{path}"), &what);
        }
        if dataset == RaceDataset::Ergast {
            // Only Ergast measured pit stops.
            let pit_out = first(dataset, "pit_out", has("duration_ms")).0;
            for new in [json!(-1), json!(4 * 3600 * 1000 + 1)] {
                let result = parse_race(&with(pit_out, "duration_ms", new));
                assert_error(result, ErrorKind::OutOfRange, "$.duration_ms", "duration");
            }
        }
    }
}

#[test]
fn values_outside_the_vocabulary_are_invalid_value() {
    for dataset in DATASETS {
        let flag = first(dataset, "flag", |_| true).0;
        for bad in ["yellow", "GREEN", "safety-car", ""] {
            let result = parse_race(&with(flag, "flag", json!(bad)));
            assert_error(result, ErrorKind::InvalidValue, "$.flag", bad);
        }
        let lap = first(dataset, "lap_completed", |_| true).0;
        let result = parse_race(&with(lap, "race_id", json!("")));
        assert_error(
            result,
            ErrorKind::InvalidValue,
            "$.race_id",
            "empty race id",
        );
    }
}

#[test]
fn duplicate_keys_are_duplicate_field_at_their_path() {
    for dataset in DATASETS {
        let lap = first(dataset, "lap_completed", |_| true).0;
        let start = first(dataset, "race_start", |_| true).0;
        let finish = first(dataset, "race_finish", |_| true).0;
        let cases = [
            (insert_after(lap, "{", b"\"lap\":1,"), "$.lap"),
            (
                insert_after(lap, "{", b"\"type\":\"lap_completed\","),
                "$.type",
            ),
            (insert_after(lap, "{", b"\"type\":\"pit_in\","), "$.type"),
            (insert_after(lap, "{", b"\"ts\":1,"), "$.ts"),
            (
                insert_after(start, "\"grid\":[{", b"\"driver_id\":\"x\","),
                "$.grid[0].driver_id",
            ),
            (
                insert_after(start, "\"circuit\":{", b"\"circuit_id\":\"x\","),
                "$.circuit.circuit_id",
            ),
            (
                insert_after(finish, "\"results\":[{", b"\"laps\":1,"),
                "$.results[0].laps",
            ),
        ];
        for (bytes, path) in cases {
            assert_error(parse_race(&bytes), ErrorKind::DuplicateField, path, path);
        }
    }
}

#[test]
fn invalid_utf8_and_oversized_messages() {
    for dataset in DATASETS {
        let (start, _) = first(dataset, "race_start", |_| true);
        let accented = "é".as_bytes();
        let at = start
            .windows(2)
            .position(|w| w == accented)
            .expect("a driver name with an é (Pérez)");
        let mut torn = start.to_vec();
        torn.remove(at + 1);
        assert_error(parse_race(&torn), ErrorKind::MalformedJson, "$", "torn é");
        let mut latin1 = start.to_vec();
        latin1.splice(at..at + 2, [0xE9]);
        assert_error(
            parse_race(&latin1),
            ErrorKind::MalformedJson,
            "$",
            "Latin-1 é",
        );
        let unknown = insert_after(start, "{", b"\"note\":\"\xFF\",");
        assert_error(
            parse_race(&unknown),
            ErrorKind::MalformedJson,
            "$",
            "in an unknown key",
        );

        let n = start.len();
        let limits = |max_message_bytes| Limits {
            max_message_bytes,
            ..Limits::default()
        };
        RaceEvent::parse(start, &limits(n)).expect("exactly the limit");
        let e = RaceEvent::parse(start, &limits(n - 1)).expect_err("one byte over");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::Oversized, "$"),
            "{e}"
        );
    }
}

/// The `type` tag is read first: a message without a usable tag fails there.
#[test]
fn the_type_tag_is_checked_first() {
    let (lap, _) = first(RaceDataset::Fia, "lap_completed", |_| true);
    let mut value = value_of(lap);
    remove(&mut value, "type");
    assert_error(
        parse_race(&line_of(&value)),
        ErrorKind::MissingField,
        "$.type",
        "no type",
    );
    for (bytes, kind, path) in [
        (&b"{}"[..], ErrorKind::MissingField, "$.type"),
        (b"[]", ErrorKind::WrongType, "$"),
        (b"null", ErrorKind::WrongType, "$"),
        (b"\"lap_completed\"", ErrorKind::WrongType, "$"),
        (b"{\"type\":\"flag\"}", ErrorKind::MissingField, "$.race_id"),
    ] {
        let what = String::from_utf8_lossy(bytes).into_owned();
        assert_error(parse_race(bytes), kind, path, &what);
    }
}
