//! JSON decoding with precise errors and hard limits.
//!
//! The happy path is a single plain `serde_json` pass. Only when that fails is the
//! message decoded a second time through `serde_path_to_error` to find the exact
//! field path, so valid messages pay nothing for error reporting.

use serde::de::DeserializeOwned;

use crate::error::{ErrorKind, ValidationError};

/// Bounds applied to every message before and after decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Messages longer than this are rejected unread ([`ErrorKind::Oversized`]).
    /// Real RSVPs are at most 2.3 KB; Kafka's default message limit is 1 MiB.
    pub max_message_bytes: usize,
    /// Earliest accepted timestamp, ms since the Unix epoch.
    pub min_time_ms: i64,
    /// Latest accepted timestamp, ms since the Unix epoch.
    pub max_time_ms: i64,
}

/// 2002-06-01T00:00:00Z: Meetup's founding; the first F1 season with timing data
/// we carry is 2020, so this bounds both feeds from below.
const MIN_TIME_MS: i64 = 1_022_889_600_000;
/// 2100-01-01T00:00:00Z: anything later is a corrupt or hostile timestamp.
const MAX_TIME_MS: i64 = 4_102_444_800_000;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 256 * 1024,
            min_time_ms: MIN_TIME_MS,
            max_time_ms: MAX_TIME_MS,
        }
    }
}

impl Limits {
    /// Checks that a millisecond timestamp lies within the accepted window.
    pub(crate) fn check_time(&self, path: &str, ms: i64) -> Result<(), ValidationError> {
        if (self.min_time_ms..=self.max_time_ms).contains(&ms) {
            Ok(())
        } else {
            Err(ValidationError::new(
                ErrorKind::OutOfRange,
                path,
                format!(
                    "timestamp {ms} ms is outside [{}, {}]",
                    self.min_time_ms, self.max_time_ms
                ),
            ))
        }
    }
}

/// Checks that a number lies in an inclusive range.
pub(crate) fn check_range<T>(path: &str, value: T, lo: T, hi: T) -> Result<(), ValidationError>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    if value >= lo && value <= hi {
        Ok(())
    } else {
        Err(ValidationError::new(
            ErrorKind::OutOfRange,
            path,
            format!("{value} is outside [{lo}, {hi}]"),
        ))
    }
}

/// Deserialises an optional field that, when present, must hold a value:
/// `#[serde(default, deserialize_with = "present")]`. Absent is `None`; `null`
/// is rejected as the wrong type, because neither feed ever sends it (a `null`
/// is a producer bug, and accepting it would make two spellings of "absent").
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Decodes one JSON message into `T`, with the size limit applied first.
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &Limits,
) -> Result<T, ValidationError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(ValidationError::new(
            ErrorKind::Oversized,
            "",
            format!(
                "message is {} bytes, the limit is {}",
                bytes.len(),
                limits.max_message_bytes
            ),
        ));
    }
    // Checked up front for the whole message: serde_json checks UTF-8 only in
    // the strings it decodes, so invalid bytes inside an ignored (unknown) key's
    // value would otherwise pass, and the raw message goes on byte for byte.
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ValidationError::new(ErrorKind::MalformedJson, "", format!("invalid UTF-8: {e}"))
    })?;
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(_) => Err(locate_error::<T>(text)),
    }
}

/// Decodes again, tracking the path, to explain a failure found by [`decode`].
fn locate_error<T: DeserializeOwned>(text: &str) -> ValidationError {
    let mut de = serde_json::Deserializer::from_str(text);
    let err = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => match de.end() {
            Err(trailing) => return malformed(&trailing),
            Ok(()) => {
                return ValidationError::new(
                    ErrorKind::MalformedJson,
                    "",
                    "decoder disagreement: this is a bug",
                );
            }
        },
        Err(err) => err,
    };
    let inner = err.inner();
    let message = strip_position(inner);
    match inner.classify() {
        serde_json::error::Category::Data => classify_data_error(&err.path().to_string(), message),
        // Valid JSON grammar (`1e400`) that no f64 holds: a range problem of
        // the field, not a broken message.
        serde_json::error::Category::Syntax if message == "number out of range" => {
            ValidationError::new(ErrorKind::OutOfRange, &err.path().to_string(), message)
        }
        // serde_json reports a non-string where an enum belongs (`"response":
        // true`) as a syntax error, "expected value". If the message is
        // well-formed JSON, the value is merely of the wrong type.
        serde_json::error::Category::Syntax
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() =>
        {
            ValidationError::new(
                ErrorKind::WrongType,
                &err.path().to_string(),
                format!("invalid type: not a value this field can hold ({message})"),
            )
        }
        _ => malformed(inner),
    }
}

fn malformed(err: &serde_json::Error) -> ValidationError {
    ValidationError::new(
        ErrorKind::MalformedJson,
        "",
        format!(
            "{} (line {}, column {})",
            strip_position(err),
            err.line(),
            err.column()
        ),
    )
}

/// serde reports data errors as text; these prefixes are serde's stable wording.
fn classify_data_error(path: &str, message: String) -> ValidationError {
    // Both are raised by the object holding the field, so `path` is the
    // object's; the field itself is named only in the message.
    for (prefix, kind) in [
        ("missing field `", ErrorKind::MissingField),
        ("duplicate field `", ErrorKind::DuplicateField),
    ] {
        if let Some(field) = backticked(&message, prefix) {
            return ValidationError::new(kind, &child_path(path, field), message);
        }
    }
    let kind = if message.starts_with("invalid type") || message.starts_with("invalid length") {
        // "invalid length" is serde reading a struct from a JSON array (which
        // it allows) of the wrong length: an array where an object belongs.
        ErrorKind::WrongType
    } else if message.starts_with("invalid value: integer `") {
        // An integer that does not fit the field's type (`-1` for a `u32` lap,
        // 2^64 for an `i64` id): the same class as a lap of 0 or guests of -1.
        ErrorKind::OutOfRange
    } else {
        ErrorKind::InvalidValue
    };
    ValidationError::new(kind, path, message)
}

/// `path` of a field of the object at `path` (`""`/`"."` is the root).
fn child_path(path: &str, field: &str) -> String {
    if path.is_empty() || path == "." {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
        s: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }

    fn err(json: &str) -> ValidationError {
        decode::<Outer>(json.as_bytes(), &Limits::default()).expect_err("input is invalid")
    }

    #[test]
    fn missing_field_names_full_path() {
        let e = err(r#"{"items":[{"n":1,"s":"a"},{"n":2}]}"#);
        assert_eq!(e.kind, ErrorKind::MissingField);
        assert_eq!(e.path, "$.items[1].s");
    }

    #[test]
    fn wrong_type_and_range() {
        let e = err(r#"{"items":[{"n":"1","s":"a"}]}"#);
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::WrongType, "$.items[0].n")
        );
        let e = err(r#"{"items":[{"n":300,"s":"a"}]}"#);
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::OutOfRange, "$.items[0].n"),
            "{e}"
        );
        let e = err(r#"{"items":[{"n":-1,"s":"a"}]}"#);
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::OutOfRange, "$.items[0].n"),
            "{e}"
        );
        let e = err(r#"{"items":[{"n":1e400,"s":"a"}]}"#);
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::OutOfRange, "$.items[0].n"),
            "{e}"
        );
        let e = err(r#"{"items":[[1]]}"#);
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::WrongType, "$.items[0]"),
            "{e}"
        );
    }

    #[test]
    fn truncated_and_trailing_are_malformed() {
        assert_eq!(err(r#"{"items":[{"n":1,"#).kind, ErrorKind::MalformedJson);
        assert_eq!(err(r#"{"items":[]} x"#).kind, ErrorKind::MalformedJson);
        assert_eq!(err("").kind, ErrorKind::MalformedJson);
        assert_eq!(err("\u{0}").kind, ErrorKind::MalformedJson);
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let e = err(r#"{"items":[],"items":[]}"#);
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::DuplicateField, "$.items")
        );
        let e = err(r#"{"items":[{"n":1,"n":2,"s":"a"}]}"#);
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::DuplicateField, "$.items[0].n")
        );
    }

    #[test]
    fn invalid_utf8_anywhere_is_malformed() {
        // Inside an unknown key's value, which serde_json skips unchecked.
        let fine = "{\"x\":\"\u{fffd}\",\"items\":[]}";
        decode::<Outer>(fine.as_bytes(), &Limits::default()).expect("valid UTF-8 is fine");
        let bytes = b"{\"x\":\"\xff\",\"items\":[]}";
        let e = decode::<Outer>(bytes, &Limits::default()).expect_err("invalid UTF-8");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::MalformedJson, "$"),
            "{e}"
        );
    }

    #[test]
    fn oversized_is_rejected_before_parsing() {
        let limits = Limits {
            max_message_bytes: 8,
            ..Limits::default()
        };
        let e = decode::<Outer>(br#"{"items":[]}"#, &limits).expect_err("too big");
        assert_eq!((e.kind, e.path.as_str()), (ErrorKind::Oversized, "$"));
    }

    #[test]
    fn deep_nesting_fails_without_overflow() {
        let deep = "[".repeat(100_000);
        let e = decode::<serde_json::Value>(deep.as_bytes(), &Limits::default())
            .expect_err("recursion limit");
        assert_eq!(e.kind, ErrorKind::MalformedJson);
    }
}
