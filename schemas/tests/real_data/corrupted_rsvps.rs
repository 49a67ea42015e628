//! Corrupted copies of real RSVPs: each gives the right error kind and path.

use billabong_schemas::{ErrorKind, Limits, Rsvp, ValidationError};
use serde_json::{Value, json};

use crate::helpers::{
    RealRsvp, assert_error, complete_rsvp, get_mut, insert_after, key_paths, line_of, parse_rsvp,
    real_rsvps, remove, rsvp_wire_value, value_of, with,
};

/// Every tenth recorded RSVP (155 records; 16 with linked services, 32 without a venue).
fn sample() -> impl Iterator<Item = (usize, &'static RealRsvp)> {
    real_rsvps().iter().enumerate().step_by(10)
}

/// Keys the real stream may leave out; everything else is required.
fn is_optional(path: &str) -> bool {
    matches!(
        path,
        "venue" | "member.photo" | "member.other_services" | "event.time" | "group.group_state"
    ) || path
        .strip_prefix("member.other_services.")
        .is_some_and(|service| !service.contains('.'))
}

/// Each of the seven DLQ kinds arises from some corruption of one real record.
#[test]
fn every_error_kind_arises_from_a_real_record() {
    let r = complete_rsvp();
    let mut no_member_id = value_of(&r.line);
    remove(&mut no_member_id, "member.member_id");
    let half = r.line[..r.line.len() / 2].to_vec();
    let cases = [
        (half, ErrorKind::MalformedJson, "$"),
        (
            line_of(&no_member_id),
            ErrorKind::MissingField,
            "$.member.member_id",
        ),
        (
            with(&r.line, "mtime", json!("1489925471668")),
            ErrorKind::WrongType,
            "$.mtime",
        ),
        (
            with(&r.line, "response", json!("maybe")),
            ErrorKind::InvalidValue,
            "$.response",
        ),
        (
            with(&r.line, "venue.lat", json!(123)),
            ErrorKind::OutOfRange,
            "$.venue.lat",
        ),
        (
            insert_after(&r.line, "{", b"\"mtime\":1,"),
            ErrorKind::DuplicateField,
            "$.mtime",
        ),
    ];
    let mut seen = Vec::new();
    for (bytes, kind, path) in cases {
        assert_error(parse_rsvp(&bytes), kind, path, kind.as_str());
        seen.push(kind);
    }
    let tiny = Limits {
        max_message_bytes: 1_000,
        ..Limits::default()
    };
    assert_error(
        Rsvp::parse(&r.line, &tiny),
        ErrorKind::Oversized,
        "$",
        "oversized",
    );
    seen.push(ErrorKind::Oversized);
    seen.sort_unstable();
    assert_eq!(seen, ErrorKind::ALL);
}

/// Removing any one required key, at any depth, is `missing_field` at its path;
/// removing an optional one still parses, to exactly the smaller record.
#[test]
fn every_required_key_is_missing_field_at_its_path() {
    let (mut required, mut optional) = (0, 0);
    for (i, r) in sample() {
        let original = rsvp_wire_value(&r.line);
        for path in key_paths(&original) {
            let mut value = original.clone();
            remove(&mut value, &path);
            let result = parse_rsvp(&line_of(&value));
            let what = format!("line {} without {path}", i + 1);
            if is_optional(&path) {
                let rsvp = result.unwrap_or_else(|e| panic!("{what}: {e}"));
                let back = serde_json::to_value(&rsvp).expect("serialises");
                assert_eq!(back, value, "{what}");
                optional += 1;
            } else {
                assert_error(result, ErrorKind::MissingField, &format!("$.{path}"), &what);
                required += 1;
            }
        }
    }
    eprintln!("rsvps: {required} required and {optional} optional keys removed");
    assert!(required > 7_000 && optional > 500, "{required} {optional}");
}

/// The wrong JSON type at any key is `wrong_type` at its path. `null` is a
/// wrong type too, for optional keys as well: the stream leaves keys out, it
/// never sends `null`, so the wire has one spelling of "absent".
#[test]
fn every_key_of_the_wrong_type_is_wrong_type_at_its_path() {
    let mut checked = 0;
    for (i, r) in sample() {
        let original = value_of(&r.line);
        for path in key_paths(&original) {
            let mut current = original.clone();
            let slot = get_mut(&mut current, &path).expect("listed");
            let mut wrong = vec![Value::Bool(true), json!({})];
            match slot {
                Value::Number(n) => wrong.extend([Value::String(n.to_string()), json!([])]),
                Value::String(_) => wrong.extend([json!(7), json!([])]),
                // `{}` is an object of the right type (and empty `other_services`).
                Value::Object(_) => {
                    wrong = vec![Value::Bool(true), json!("x"), json!([]), json!(7)]
                }
                // `[]` is a list of the right type.
                _ => wrong.push(json!("x")),
            }
            for new in wrong {
                let what = format!("line {} with {path} = {new}", i + 1);
                let result = parse_rsvp(&with(&r.line, &path, new));
                assert_error(result, ErrorKind::WrongType, &format!("$.{path}"), &what);
                checked += 1;
            }
            let what = format!("line {} with {path} = null", i + 1);
            let result = parse_rsvp(&with(&r.line, &path, Value::Null));
            assert_error(result, ErrorKind::WrongType, &format!("$.{path}"), &what);
            checked += 1;
        }
    }
    eprintln!("rsvps: {checked} keys given a wrong type");
    assert!(checked > 35_000, "{checked}");
}

#[test]
fn integers_written_as_fractions_are_wrong_type() {
    let r = complete_rsvp();
    for path in [
        "rsvp_id",
        "mtime",
        "guests",
        "member.member_id",
        "event.time",
        "group.group_id",
        "venue.venue_id",
    ] {
        let result = parse_rsvp(&with(&r.line, path, json!(1_489_925_471.5)));
        assert_error(result, ErrorKind::WrongType, &format!("$.{path}"), path);
    }
}

#[test]
fn values_out_of_range_are_out_of_range_at_their_path() {
    let cases: [(&str, Value); 24] = [
        ("venue.lat", json!(123)),
        ("venue.lat", json!(-90.000_001)),
        ("venue.lon", json!(180.5)),
        ("venue.lon", json!(-1e3)),
        ("group.group_lat", json!(91)),
        ("group.group_lon", json!(-181.0)),
        ("mtime", json!(0)),
        ("mtime", json!(-1)),
        ("mtime", json!(1_000_000_000_000_i64)),
        ("mtime", json!(1_022_889_599_999_i64)),
        ("mtime", json!(4_102_444_800_001_i64)),
        ("mtime", json!(i64::MAX)),
        ("mtime", json!(i64::MIN)),
        ("event.time", json!(86_400_000)),
        ("event.time", json!(32_503_680_000_000_i64)),
        ("guests", json!(-1)),
        ("guests", json!(1001)),
        ("rsvp_id", json!(0)),
        ("rsvp_id", json!(-1_658_877_353_i64)),
        ("member.member_id", json!(-1)),
        ("group.group_id", json!(-1)),
        // Beyond i64: serde reads these as u64, then cannot narrow them.
        ("rsvp_id", json!(u64::MAX)),
        ("mtime", json!(9_223_372_036_854_775_808_u64)),
        ("member.member_id", json!(1_u64 << 63)),
    ];
    for (_, r) in sample().filter(|(_, r)| r.rsvp.venue.is_some() && r.rsvp.event.time.is_some()) {
        for (path, new) in &cases {
            let what = format!("{path} = {new}");
            let result = parse_rsvp(&with(&r.line, path, new.clone()));
            assert_error(result, ErrorKind::OutOfRange, &format!("$.{path}"), &what);
        }
    }
}

#[test]
fn values_on_the_range_bounds_are_accepted() {
    let r = complete_rsvp();
    let cases: [(&str, Value); 10] = [
        ("venue.lat", json!(90)),
        ("venue.lat", json!(-90.0)),
        ("venue.lon", json!(180)),
        ("group.group_lon", json!(-180)),
        ("mtime", json!(1_022_889_600_000_i64)),
        ("mtime", json!(4_102_444_800_000_i64)),
        ("guests", json!(0)),
        ("guests", json!(1000)),
        ("rsvp_id", json!(i64::MAX)),
        ("member.member_id", json!(0)),
    ];
    for (path, new) in cases {
        let rsvp = parse_rsvp(&with(&r.line, path, new.clone()))
            .unwrap_or_else(|e| panic!("{path} = {new}: {e}"));
        let value = serde_json::to_value(&rsvp).expect("serialises");
        let got = value.pointer(&format!("/{}", path.replace('.', "/")));
        assert_eq!(got.and_then(Value::as_f64), new.as_f64(), "{path}");
    }
}

#[test]
fn time_window_comes_from_the_limits() {
    let r = complete_rsvp();
    let after = Limits {
        min_time_ms: r.rsvp.mtime + 1,
        ..Limits::default()
    };
    assert_error(
        Rsvp::parse(&r.line, &after),
        ErrorKind::OutOfRange,
        "$.mtime",
        "min",
    );
    let event_time = r.rsvp.event.time.expect("complete");
    let before = Limits {
        max_time_ms: event_time - 1,
        ..Limits::default()
    };
    assert!(
        r.rsvp.mtime < event_time,
        "RSVPs come before their event here"
    );
    assert_error(
        Rsvp::parse(&r.line, &before),
        ErrorKind::OutOfRange,
        "$.event.time",
        "max",
    );
}

#[test]
fn values_outside_the_vocabulary_are_invalid_value() {
    let r = complete_rsvp();
    for (path, new) in [
        ("response", json!("maybe")),
        ("response", json!("YES")),
        ("response", json!("")),
        ("event.event_id", json!("")),
    ] {
        let what = format!("{path} = {new}");
        let result = parse_rsvp(&with(&r.line, path, new));
        assert_error(result, ErrorKind::InvalidValue, &format!("$.{path}"), &what);
    }
}

#[test]
fn duplicate_keys_are_duplicate_field_at_their_path() {
    let r = complete_rsvp();
    let service = &r.rsvp.member.other_services.as_ref().expect("complete")[0].service;
    let cases = [
        (insert_after(&r.line, "{", b"\"rsvp_id\":1,"), "$.rsvp_id"),
        (
            insert_after(
                &r.line,
                "{",
                b"\"venue\":{\"venue_id\":1,\"venue_name\":\"x\",\"lat\":0,\"lon\":0},",
            ),
            "$.venue",
        ),
        (
            insert_after(&r.line, "\"member\":{", b"\"member_id\":1,"),
            "$.member.member_id",
        ),
        (
            insert_after(&r.line, "\"member\":{", b"\"photo\":\"x\","),
            "$.member.photo",
        ),
        (
            insert_after(&r.line, "\"event\":{", b"\"time\":1,"),
            "$.event.time",
        ),
        (
            insert_after(&r.line, "\"group_topics\":[{", b"\"urlkey\":\"x\","),
            "$.group.group_topics[0].urlkey",
        ),
        (
            insert_after(
                &r.line,
                "\"other_services\":{",
                format!("\"{service}\":{{\"identifier\":\"x\"}},").as_bytes(),
            ),
            &format!("$.member.other_services.{service}"),
        ),
        (
            insert_after(&r.line, "{\"identifier\":", b"\"x\",\"identifier\":"),
            &format!(
                "$.member.other_services.{}.identifier",
                first_service_on_the_wire(r)
            ),
        ),
    ];
    for (bytes, path) in cases {
        assert_error(parse_rsvp(&bytes), ErrorKind::DuplicateField, path, path);
    }
}

fn first_service_on_the_wire(r: &RealRsvp) -> String {
    let text = std::str::from_utf8(&r.line).expect("UTF-8");
    let services = &r.rsvp.member.other_services.as_ref().expect("complete");
    services
        .iter()
        .min_by_key(|s| text.find(&format!("\"{}\":{{", s.service)))
        .expect("at least one")
        .service
        .clone()
}

/// A message that is JSON but not an object is the wrong type as a whole.
#[test]
fn a_message_that_is_not_an_object_is_wrong_type() {
    for bytes in [&b"null"[..], b"7", b"\"rsvp\"", b"true", b"[]", b"[1]"] {
        let what = String::from_utf8_lossy(bytes).into_owned();
        assert_error(parse_rsvp(bytes), ErrorKind::WrongType, "$", &what);
    }
    // serde lets a JSON array stand for a struct, field by field: the record
    // wrapped in an array fails at its first element, which would be `rsvp_id`.
    let r = complete_rsvp();
    let as_array = [&b"["[..], &r.line, b"]"].concat();
    assert_error(
        parse_rsvp(&as_array),
        ErrorKind::WrongType,
        "$[0]",
        "a record in an array",
    );
    assert_error(
        parse_rsvp(b"{}"),
        ErrorKind::MissingField,
        "$.rsvp_id",
        "{}",
    );
}

/// Errors carry no stray position noise and display as `kind at path: message`.
#[test]
fn error_text_is_stable() {
    let r = complete_rsvp();
    let mut value = value_of(&r.line);
    remove(&mut value, "member.member_id");
    let e: ValidationError = parse_rsvp(&line_of(&value)).expect_err("missing");
    assert_eq!(
        e.to_string(),
        "missing_field at $.member.member_id: missing field `member_id`"
    );
    let e = parse_rsvp(&with(&r.line, "mtime", json!("1489925471668"))).expect_err("string");
    assert_eq!((e.kind, e.path.as_str()), (ErrorKind::WrongType, "$.mtime"));
    assert!(!e.message.contains(" at line "), "{e}");
}
