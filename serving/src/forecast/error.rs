//! Why a forecast was refused or failed.
//!
//! Every message a client can cause names the request field at fault (in
//! backticks, with an index where one helps), because the HTTP layer returns
//! the message as the body of a 400 and the client must be able to fix the
//! request from it alone. [`ForecastError::domain`] tells that layer which
//! status to use without matching on variants.

/// Who can fix a [`ForecastError`], and so which HTTP status it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDomain {
    /// The request is wrong; retrying it unchanged fails the same way (HTTP 400).
    User,
    /// Something outside this process failed (the database behind a
    /// [`SeriesSource`](super::SeriesSource)); a retry may succeed (HTTP 503).
    External,
    /// A bug or a model failure this crate did not foresee (HTTP 500).
    Internal,
}

/// A forecast request that was refused, or a fit that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForecastError {
    /// The body is not valid JSON for a request: a wrong type, a missing or
    /// unknown field, a bad timestamp. `path` is where (`ds[3]`, `periods`).
    #[error("{}", json_message(path, message))]
    Json {
        /// JSON path of the offending value; `.` for the whole body.
        path: String,
        /// What serde_json found there.
        message: String,
    },
    /// Neither data (`ds` + `y`) nor a `series` name was given, or both were.
    #[error("give either `ds` and `y`, or `series`{}", if *.both { ", not both" } else { "" })]
    DataOrSeries {
        /// Whether both were given (otherwise neither was).
        both: bool,
    },
    /// One of `ds` / `y` was given without the other.
    #[error("`{missing}` is required when `{given}` is given")]
    MissingField {
        /// The field that is absent.
        missing: &'static str,
        /// The field that was given.
        given: &'static str,
    },
    /// `ds` and `y` differ in length.
    #[error("`y` has {y} values but `ds` has {ds}")]
    LengthMismatch {
        /// Length of `ds`.
        ds: usize,
        /// Length of `y`.
        y: usize,
    },
    /// Fewer points than a fit needs.
    #[error("`y` has {got} value(s); at least {min} are needed to fit a forecast")]
    TooFewPoints {
        /// Points given.
        got: usize,
        /// Points required ([`MIN_POINTS`](super::request::MIN_POINTS)).
        min: usize,
    },
    /// More points than one request may make the server fit.
    #[error("`y` has {got} values; at most {max} are accepted")]
    TooManyPoints {
        /// Points given.
        got: usize,
        /// The limit ([`MAX_POINTS`](super::request::MAX_POINTS)).
        max: usize,
    },
    /// `periods` outside 1..=[`MAX_PERIODS`](super::request::MAX_PERIODS).
    #[error("`periods` must be between 1 and {max}, got {got}")]
    PeriodsOutOfRange {
        /// The value given.
        got: u32,
        /// The upper limit.
        max: u32,
    },
    /// `interval_width` not strictly between 0 and 1.
    #[error("`interval_width` must be greater than 0 and less than 1, got {got}")]
    IntervalWidthOutOfRange {
        /// The value given.
        got: f64,
    },
    /// `freq_seconds` not positive.
    #[error("`freq_seconds` must be at least 1, got {got}")]
    FreqOutOfRange {
        /// The value given.
        got: i64,
    },
    /// A `y` value is NaN or infinite.
    #[error("`y[{index}]` is {value}; every value must be a finite number")]
    NotFinite {
        /// Position in `y`.
        index: usize,
        /// The value (NaN, inf or -inf).
        value: f64,
    },
    /// A timestamp of a named series is outside years 0000..=9999 (inline
    /// `ds` is range-checked while parsing, as a [`Json`](Self::Json) error).
    #[error("`ds[{index}]` is {ds} s, outside years 0000..=9999")]
    TimestampOutOfRange {
        /// Position in `ds`.
        index: usize,
        /// The value, epoch seconds.
        ds: i64,
    },
    /// Two points share a timestamp.
    #[error("`ds` has a duplicate at index {index}: {ds} s is the same as the point before")]
    DuplicateTimestamp {
        /// Position in `ds` of the second occurrence.
        index: usize,
        /// The repeated timestamp, epoch seconds.
        ds: i64,
    },
    /// Timestamps go backwards.
    #[error("`ds` is not increasing at index {index}: {ds} s comes after {previous} s")]
    NotIncreasing {
        /// Position in `ds` of the first smaller value.
        index: usize,
        /// That value, epoch seconds.
        ds: i64,
        /// The value before it, epoch seconds.
        previous: i64,
    },
    /// `freq_seconds` was not given and `ds` has no single most common spacing.
    #[error(
        "`freq_seconds` is needed: the spacing of `ds` has no single most common value \
         (tied: {tied:?} s)"
    )]
    FrequencyNotInferred {
        /// The spacings that occur equally often, seconds.
        tied: Vec<i64>,
    },
    /// The future points would pass 9999-12-31T23:59:59Z.
    #[error(
        "`periods` × `freq_seconds` ({periods} × {freq_seconds} s) after the last `ds` \
         goes past the year 9999"
    )]
    HorizonOutOfRange {
        /// Periods asked for.
        periods: u32,
        /// Spacing of the future points, seconds.
        freq_seconds: i64,
    },
    /// The named series does not exist.
    #[error("`series` {name:?} is unknown; known: {}", known.join(", "))]
    UnknownSeries {
        /// The name asked for.
        name: String,
        /// Every name the source knows.
        known: Vec<String>,
    },
    /// The series source (database) failed to load a known series.
    #[error("loading `series` {name:?} failed: {source}")]
    Source {
        /// The series name.
        name: String,
        /// What went wrong, from the source.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A named series loaded, but its data cannot be forecast (too short yet,
    /// or unusable values). Not the client's fault, so not a 400.
    #[error("`series` {name:?} cannot be forecast: {reason}")]
    UnusableSeries {
        /// The series name.
        name: String,
        /// The validation error its data produced.
        reason: Box<ForecastError>,
    },
    /// Prophet failed to fit or predict a validated request.
    #[error("the Prophet model failed on a validated request: {0}")]
    Model(#[from] augurs::prophet::Error),
    /// An invariant of this crate was broken: this is a bug.
    #[error("internal error, this is a bug: {0}")]
    Internal(String),
}

fn json_message(path: &str, message: &str) -> String {
    if path == "." {
        message.to_owned()
    } else {
        format!("`{path}`: {message}")
    }
}

impl ForecastError {
    /// Who can fix this error; see [`ErrorDomain`] for the HTTP status.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            Self::Source { .. } | Self::UnusableSeries { .. } => ErrorDomain::External,
            Self::Model(_) | Self::Internal(_) => ErrorDomain::Internal,
            _ => ErrorDomain::User,
        }
    }

    /// Whether the same request may succeed later: only a failed source load.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Source { .. })
    }
}

impl From<serde_path_to_error::Error<serde_json::Error>> for ForecastError {
    fn from(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let mut path = e.path().to_string();
        let inner = e.into_inner();
        if inner.to_string().starts_with("unknown field") {
            // The message names the field already; its path would repeat it.
            path = ".".to_owned();
        }
        // serde_json appends " at line L column C"; the path already says where.
        let message = inner.to_string();
        let message = match message.rfind(" at line ") {
            Some(at) if inner.line() > 0 => message[..at].to_owned(),
            _ => message,
        };
        Self::Json { path, message }
    }
}
