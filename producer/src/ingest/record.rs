//! Where one received record goes: the raw topic under its key, or the DLQ
//! with the reason. The payload is never changed (except cutting what Kafka
//! cannot store, which the reason says).

use bytes::Bytes;
use schemas::{ErrorKind, Feed, Limits};

use super::config::MAX_RECORD_BYTES;
use super::source::Frame;
use crate::simulator::event_time_ms;

/// A record on its way to Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutRecord {
    /// The bytes as received.
    pub(crate) payload: Bytes,
    /// The producer's feed clock after this record (the `billabong-clock` header).
    pub(crate) clock: Option<i64>,
    pub(crate) route: Route,
}

/// The destination of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// Valid: the raw topic, keyed so that per-key order holds.
    Raw { key: String },
    /// Invalid: the DLQ, with why.
    Dlq(Rejection),
}

/// Why a record was rejected: the DLQ headers' content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) kind: ErrorKind,
    pub(crate) path: String,
    pub(crate) message: String,
}

/// Validates one record with the feed's schema and picks its destination.
#[cfg(test)]
pub(crate) fn classify(feed: Feed, frame: &Frame, limits: &Limits) -> Route {
    classify_timed(feed, frame, limits).0
}

/// [`classify`], and the record's event time exactly as
/// [`crate::simulator::event_time_ms`] reads it (the feed clock's input), so
/// that a record is parsed once, not once more for its time.
///
/// A valid event carries its time, and the time-only pass reads the same
/// field: a valid message is well-formed UTF-8 JSON whose time field is
/// present once as an integer. The one exception is the form: serde reads a
/// struct from a JSON array too (fields by position), where the time-only
/// pass reads another position or fails, so the event's time is taken only
/// from an object. Anything else is read with the time-only pass, as before.
pub(crate) fn classify_timed(feed: Feed, frame: &Frame, limits: &Limits) -> (Route, Option<i64>) {
    let unvalidated_time = || event_time_ms(feed, &frame.bytes);
    if let Some(len) = frame.cut_from {
        return (
            Route::Dlq(Rejection {
                kind: ErrorKind::Oversized,
                path: "$".to_owned(),
                message: format!(
                    "message of {len} bytes is larger than a Kafka record can be; \
                 only its first {MAX_RECORD_BYTES} bytes are kept here"
                ),
            }),
            unvalidated_time(),
        );
    }
    match feed.parse(&frame.bytes, limits) {
        Ok(event) => {
            let time = if is_object(&frame.bytes) {
                Some(event.event_time_ms())
            } else {
                unvalidated_time()
            };
            let route = if frame.binary {
                Route::Dlq(Rejection {
                    kind: ErrorKind::MalformedJson,
                    path: "$".to_owned(),
                    message: "a binary websocket frame; feed messages are JSON text frames"
                        .to_owned(),
                })
            } else {
                Route::Raw {
                    key: event.key().to_owned(),
                }
            };
            (route, time)
        }
        Err(error) => (
            Route::Dlq(Rejection {
                kind: error.kind,
                path: bounded(error.path),
                message: bounded(error.message),
            }),
            unvalidated_time(),
        ),
    }
}

/// The JSON text is an object: its first non-whitespace byte is `{`.
fn is_object(json: &[u8]) -> bool {
    json.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|&b| b == b'{')
}

/// The longest DLQ header value, in bytes. Validation messages may quote the
/// offending value (a 256 KiB string), and headers count against Kafka's
/// record size limit together with the payload.
pub(crate) const MAX_HEADER_BYTES: usize = 1_024;

/// `text` cut to [`MAX_HEADER_BYTES`] at a character boundary, marked `…`.
fn bounded(mut text: String) -> String {
    if text.len() > MAX_HEADER_BYTES {
        let mut end = MAX_HEADER_BYTES - '…'.len_utf8();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &'static [u8]) -> Frame {
        Frame {
            bytes: Bytes::from_static(bytes),
            binary: false,
            cut_from: None,
        }
    }

    #[test]
    fn invalid_records_carry_the_validation_error() {
        let limits = Limits::default();
        let Route::Dlq(rejection) = classify(Feed::Rsvps, &text(br#"{"rsvp_id":"#), &limits) else {
            panic!("truncated JSON is invalid");
        };
        assert_eq!(rejection.kind, ErrorKind::MalformedJson);
        assert_eq!(rejection.path, "$");
    }

    #[test]
    fn the_time_of_a_classified_record_is_the_time_only_pass_time() {
        let limits = Limits::default();
        let rsvp = br#"{"rsvp_id":1,"mtime":1489925470960,"response":"yes","guests":0,"visibility":"public","member":{"member_id":1,"member_name":"m"},"event":{"event_id":"e","event_name":"n","event_url":"u"},"group":{"group_id":1,"group_name":"g","group_city":"c","group_country":"us","group_lat":1.0,"group_lon":2.0,"group_urlname":"g","group_topics":[]}}"#;
        let array = br#"[1,1489925470960,"yes",0,"public",[1,"m"],["e","n","u"],[1,"g","c","us",null,1.0,2.0,"g",[]]]"#;
        let race =
            br#" {"type":"flag","race_id":"fia-2021-01","ts":1600000000000,"lap":3,"flag":"red"}"#;
        let cases: [(Feed, &'static [u8], bool); 6] = [
            (Feed::Rsvps, rsvp, true),
            (Feed::Race, race, true),
            (Feed::Rsvps, br#"{"mtime":1489925470960}"#, false),
            (Feed::Rsvps, br#"{"mtime":5,"rsvp_id":"#, false),
            (Feed::Race, br#"{"type":"flag","ts":1}"#, false),
            (Feed::Rsvps, array, false),
        ];
        for (feed, bytes, valid) in cases {
            let (route, time) = classify_timed(feed, &text(bytes), &limits);
            assert_eq!(matches!(route, Route::Raw { .. }), valid, "{route:?}");
            assert_eq!(
                time,
                event_time_ms(feed, bytes),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let mut binary = text(race);
        binary.binary = true;
        assert_eq!(
            classify_timed(Feed::Race, &binary, &limits).1,
            Some(1_600_000_000_000)
        );
        assert!(is_object(b" \t\r\n{}") && !is_object(b"[{}]") && !is_object(b""));
    }

    #[test]
    fn long_reasons_are_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_HEADER_BYTES);
        let cut = bounded(long);
        assert!(
            cut.len() <= MAX_HEADER_BYTES && cut.ends_with('…'),
            "{}",
            cut.len()
        );
        assert_eq!(bounded("short".to_owned()), "short");
    }

    #[test]
    fn binary_and_cut_frames_are_rejected_even_when_they_parse() {
        let limits = Limits::default();
        let race =
            br#"{"type":"flag","race_id":"fia-2021-01","ts":1600000000000,"lap":3,"flag":"red"}"#;
        assert_eq!(
            classify(Feed::Race, &text(race), &limits),
            Route::Raw {
                key: "fia-2021-01".to_owned()
            }
        );
        let mut binary = text(race);
        binary.binary = true;
        assert!(matches!(
            classify(Feed::Race, &binary, &limits),
            Route::Dlq(Rejection {
                kind: ErrorKind::MalformedJson,
                ..
            })
        ));
        let mut cut = text(race);
        cut.cut_from = Some(5_000_000);
        assert!(matches!(
            classify(Feed::Race, &cut, &limits),
            Route::Dlq(Rejection {
                kind: ErrorKind::Oversized,
                ..
            })
        ));
    }
}
