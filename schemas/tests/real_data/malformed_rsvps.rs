//! Real RSVPs that are no longer JSON, or too big: truncated, torn UTF-8,
//! trailing bytes, oversized. Each is `malformed_json` or `oversized` at `$`.

use billabong_schemas::{ErrorKind, Limits, Rsvp};

use crate::helpers::{
    RSVP_COUNT, assert_error, complete_rsvp, insert_after, parse_rsvp, real_rsvps,
};

#[test]
fn truncated_records_are_malformed_json() {
    let mut checked = 0;
    for (i, r) in real_rsvps().iter().enumerate() {
        let n = r.line.len();
        let name = r.line.windows(15).position(|w| w == b"\"member_name\":\"");
        let cuts = [0, 1, 2, n / 4, n / 2, n - 2, n - 1]
            .into_iter()
            .chain(name.map(|p| p + 16));
        for cut in cuts {
            let what = format!("line {} cut at {cut}/{n}", i + 1);
            assert_error(
                parse_rsvp(&r.line[..cut]),
                ErrorKind::MalformedJson,
                "$",
                &what,
            );
            checked += 1;
        }
    }
    assert!(checked >= 7 * RSVP_COUNT, "{checked}");
}

#[test]
fn messages_over_the_limit_are_oversized() {
    for r in real_rsvps().iter().step_by(10) {
        let n = r.line.len();
        let exact = Limits {
            max_message_bytes: n,
            ..Limits::default()
        };
        Rsvp::parse(&r.line, &exact).expect("a message of exactly the limit is fine");
        let smaller = Limits {
            max_message_bytes: n - 1,
            ..Limits::default()
        };
        let e = Rsvp::parse(&r.line, &smaller).expect_err("one byte too many");
        assert_eq!((e.kind, e.path.as_str()), (ErrorKind::Oversized, "$"));
        assert!(e.message.contains(&n.to_string()), "{e}");
    }
    // Padding a real record with whitespace keeps it valid JSON, but not small.
    let limit = Limits::default().max_message_bytes;
    let mut padded = complete_rsvp().line.clone();
    padded.resize(limit + 1, b' ');
    assert_error(parse_rsvp(&padded), ErrorKind::Oversized, "$", "padded");
    padded.truncate(limit);
    parse_rsvp(&padded).expect("padded to exactly the limit");
}

#[test]
fn invalid_utf8_is_malformed_json() {
    let r = real_rsvps()
        .iter()
        .find(|r| r.rsvp.member.member_name.contains("Quân"))
        .expect("a member with a Vietnamese name");
    let name = r.rsvp.member.member_name.as_bytes();
    let at = r
        .line
        .windows(name.len())
        .position(|w| w == name)
        .expect("in the line");
    // "â" is two bytes; keep only its first.
    let a_hat = name
        .windows(2)
        .position(|w| w == "â".as_bytes())
        .expect("â")
        + at;
    let torn = [&r.line[..=a_hat], &r.line[a_hat + 2..]].concat();
    let mut flipped = r.line.clone();
    flipped[at] = 0xFF;
    let mut latin1 = r.line.clone();
    latin1.splice(a_hat..a_hat + 2, [0xE2]);
    let in_key = insert_after(&r.line, "{", b"\"\xC0\":1,");
    let overlong = insert_after(&r.line, "\"member_name\":\"", b"\xC1\xA1");
    // A UTF-16 surrogate half encoded as if it were a character (CESU-8).
    let surrogate = insert_after(&r.line, "\"event_name\":\"", b"\xED\xA0\x80");
    for (what, bytes) in [
        ("torn multi-byte character", torn),
        ("0xFF in a name", flipped),
        ("Latin-1 byte", latin1),
        ("invalid UTF-8 in a key", in_key),
        ("overlong encoding", overlong),
        ("surrogate", surrogate),
    ] {
        assert!(std::str::from_utf8(&bytes).is_err(), "{what}");
        assert_error(parse_rsvp(&bytes), ErrorKind::MalformedJson, "$", what);
    }
}

/// Unknown keys are ignored (the stream may grow fields), but they must still be
/// JSON: raw messages go to the lake and the DLQ byte for byte.
#[test]
fn unknown_keys_are_ignored_but_must_be_valid_json() {
    let r = complete_rsvp();
    let extra = insert_after(
        &r.line,
        "{",
        b"\"comment\":\"new in 2018\",\"n\":[1,{\"a\":null}],",
    );
    assert_eq!(
        parse_rsvp(&extra).expect("unknown keys are ignored"),
        r.rsvp
    );
    let nested = insert_after(&r.line, "\"member\":{", b"\"role\":\"organizer\",");
    assert_eq!(
        parse_rsvp(&nested).expect("unknown keys are ignored"),
        r.rsvp
    );
    let bad = insert_after(&r.line, "{", b"\"comment\":\"\xFF\",");
    assert_error(
        parse_rsvp(&bad),
        ErrorKind::MalformedJson,
        "$",
        "invalid UTF-8 in an unknown key's value",
    );
    let control = insert_after(&r.line, "{", b"\"comment\":\"a\x01b\",");
    assert_error(
        parse_rsvp(&control),
        ErrorKind::MalformedJson,
        "$",
        "control character",
    );
}

#[test]
fn trailing_or_missing_data_is_malformed_json() {
    let r = complete_rsvp();
    let twice = [&r.line[..], &r.line[..]].concat();
    let two_lines = [&r.line[..], b"\n", &r.line[..]].concat();
    let trailing = [&r.line[..], b" x"].concat();
    // UTF-8, but JSON (RFC 8259 §8.1) must not begin with a byte-order mark.
    let bom = ["\u{feff}".as_bytes(), &r.line[..]].concat();
    for (what, bytes) in [
        ("two records", &twice[..]),
        ("two lines", &two_lines[..]),
        ("trailing garbage", &trailing[..]),
        ("byte-order mark", &bom[..]),
        ("empty", b""),
        ("whitespace", b" \n\t"),
    ] {
        assert_error(parse_rsvp(bytes), ErrorKind::MalformedJson, "$", what);
    }
    let spaced = [b" \t\r\n", &r.line[..], b"\r\n"].concat();
    assert_eq!(
        parse_rsvp(&spaced).expect("JSON whitespace is fine"),
        r.rsvp
    );
}
