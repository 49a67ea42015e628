//! Validation errors: what was wrong (a [`ErrorKind`]), where (a JSON path) and why.
//!
//! Every input that fails validation ends up in the dead-letter topic with these
//! three parts as headers, so the kinds are a stable, documented vocabulary.

use std::fmt;

/// The class of a validation failure. Its [`ErrorKind::as_str`] form is part of
/// the DLQ contract (the `billabong-error-kind` header) and must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Not JSON at all, truncated JSON, invalid UTF-8 or trailing bytes.
    MalformedJson,
    /// A required field is absent.
    MissingField,
    /// A field holds the wrong JSON type (a string where a number belongs...).
    WrongType,
    /// A field of the right type holds a value outside its vocabulary
    /// (an unknown `response`, an unknown race event `type`).
    InvalidValue,
    /// A number outside its allowed range (coordinates, times, counts).
    OutOfRange,
    /// The same key appears twice in one object.
    DuplicateField,
    /// The message is larger than [`crate::Limits::max_message_bytes`].
    Oversized,
}

impl ErrorKind {
    /// Every kind, in a fixed order (for reports and tests).
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::MalformedJson,
        ErrorKind::MissingField,
        ErrorKind::WrongType,
        ErrorKind::InvalidValue,
        ErrorKind::OutOfRange,
        ErrorKind::DuplicateField,
        ErrorKind::Oversized,
    ];

    /// The stable snake_case name used in DLQ headers and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::InvalidValue => "invalid_value",
            ErrorKind::OutOfRange => "out_of_range",
            ErrorKind::DuplicateField => "duplicate_field",
            ErrorKind::Oversized => "oversized",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A precise account of why one message is invalid.
///
/// `path` is a JSONPath-like location (`$.group.group_topics[3].urlkey`);
/// `$` alone means the message as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {path}: {message}")]
pub struct ValidationError {
    /// What class of failure this is.
    pub kind: ErrorKind,
    /// Where in the message it was found.
    pub path: String,
    /// A human-readable explanation, without position noise.
    pub message: String,
}

impl ValidationError {
    /// Builds an error; `path` is given without the leading `$`.
    pub(crate) fn new(kind: ErrorKind, path: &str, message: impl Into<String>) -> Self {
        let path = if path.is_empty() || path == "." {
            "$".to_owned()
        } else if path.starts_with('[') {
            format!("${path}")
        } else {
            format!("$.{path}")
        };
        Self {
            kind,
            path,
            message: message.into(),
        }
    }
}

/// Library result type.
pub type Result<T, E = ValidationError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_rooted_at_dollar() {
        assert_eq!(
            ValidationError::new(ErrorKind::Oversized, "", "x").path,
            "$"
        );
        assert_eq!(
            ValidationError::new(ErrorKind::OutOfRange, "venue.lat", "x").path,
            "$.venue.lat"
        );
        assert_eq!(
            ValidationError::new(ErrorKind::WrongType, "[2].a", "x").path,
            "$[2].a"
        );
    }

    #[test]
    fn kind_names_are_unique() {
        let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
