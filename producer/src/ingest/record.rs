//! Where one received record goes: the raw topic under its key, or the DLQ
//! with the reason. The payload is never changed (except cutting what Kafka
//! cannot store, which the reason says).

use bytes::Bytes;
use schemas::{ErrorKind, Feed, Limits};

use super::config::MAX_RECORD_BYTES;
use super::source::Frame;

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
pub(crate) fn classify(feed: Feed, frame: &Frame, limits: &Limits) -> Route {
    if let Some(len) = frame.cut_from {
        return Route::Dlq(Rejection {
            kind: ErrorKind::Oversized,
            path: "$".to_owned(),
            message: format!(
                "message of {len} bytes is larger than a Kafka record can be; \
                 only its first {MAX_RECORD_BYTES} bytes are kept here"
            ),
        });
    }
    match feed.parse(&frame.bytes, limits) {
        Ok(_) if frame.binary => Route::Dlq(Rejection {
            kind: ErrorKind::MalformedJson,
            path: "$".to_owned(),
            message: "a binary websocket frame; feed messages are JSON text frames".to_owned(),
        }),
        Ok(event) => Route::Raw {
            key: event.key().to_owned(),
        },
        Err(error) => Route::Dlq(Rejection {
            kind: error.kind,
            path: bounded(error.path),
            message: bounded(error.message),
        }),
    }
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
