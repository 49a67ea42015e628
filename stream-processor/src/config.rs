//! The speed layer's settings: what to read, where to start, how late events
//! may be, the emission policy and where the served models live.

use std::str::FromStr;
use std::time::Duration;

use schemas::civil::{days_from_civil, days_in_month};

use crate::error::{Error, Result};

/// Where a partition's state is rebuilt from when the consumer group holds
/// no position for it yet (see the crate docs: a committed position carries
/// its own start and wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    /// The first offset still in the partition.
    Earliest,
    /// The end of the partition at start-up: only new events.
    Latest,
    /// This offset (clamped to what the partition holds).
    Offset(i64),
    /// The first offset whose Kafka timestamp is at or after this time (ms
    /// since the epoch).
    Timestamp(i64),
}

impl FromStr for StartPosition {
    type Err = Error;

    /// `earliest`, `latest`, `offset:N` or `timestamp:RFC3339` (UTC, e.g.
    /// `2017-03-08T10:00:00Z`, or with a `+hh:mm` offset).
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "earliest" => return Ok(StartPosition::Earliest),
            "latest" => return Ok(StartPosition::Latest),
            _ => {}
        }
        if let Some(n) = text.strip_prefix("offset:") {
            return n
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(StartPosition::Offset)
                .ok_or_else(|| Error::Config(format!("offset:N needs N >= 0, got {n:?}")));
        }
        if let Some(ts) = text.strip_prefix("timestamp:") {
            return parse_rfc3339_ms(ts)
                .map(StartPosition::Timestamp)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "timestamp:{ts} is not RFC 3339 (2017-03-08T10:00:00Z)"
                    ))
                });
        }
        Err(Error::Config(format!(
            "start {text:?}: expected earliest, latest, offset:N or timestamp:RFC3339"
        )))
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±hh:mm)` to ms since the epoch.
fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (y, mo, day): (i64, u32, u32) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (time, offset_min) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (t, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        (
            t,
            sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?),
        )
    };
    let mut t = time.split(':');
    let (h, mi): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let sec_text = t.next()?;
    let (s, frac) = sec_text.split_once('.').unwrap_or((sec_text, ""));
    let s: i64 = s.parse().ok()?;
    let ms: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    let valid = day >= 1 && day <= days_in_month(y, mo) && h < 24 && mi < 60 && s < 61;
    valid.then(|| {
        (days_from_civil(y, mo, day) * 86_400 + h * 3_600 + mi * 60 + s - offset_min * 60) * 1_000
            + ms
    })
}

/// The emission policy (see `emit.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitConfig {
    /// Updates packed into one Kafka message at most.
    pub max_keys_per_message: usize,
    /// A key's first this-many changes are published at once.
    pub hot_threshold: u64,
    /// After that, at most one publication per this much event time (ms).
    pub hot_interval_ms: i64,
}

impl Default for EmitConfig {
    fn default() -> Self {
        EmitConfig {
            max_keys_per_message: 20,
            hot_threshold: 20,
            hot_interval_ms: 5_000,
        }
    }
}

/// Settings of the metric operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorConfig {
    /// Allowed lateness of RSVPs (ms): the watermark trails the largest
    /// event time by this much. The real feed replays records up to 37 days
    /// old; those are counted as late.
    pub rsvp_lateness_ms: i64,
    /// Entries of the popular-topics lists.
    pub top_k: usize,
    /// Cars whose gaps make the clumpiness figure.
    pub clump_cars: usize,
    /// Two cars closer than this (ms) count as bunched.
    pub clump_gap_ms: i64,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            rsvp_lateness_ms: 5 * 60_000,
            top_k: 10,
            clump_cars: 10,
            clump_gap_ms: 1_000,
        }
    }
}

/// Where the RSVP response model comes from (see `registry.rs`).
#[derive(Clone, PartialEq, Eq)]
pub struct ModelConfig {
    /// The lake holding the model registry (`s3://bucket/prefix` or
    /// `file:///path`): `models/<name>/latest` names the newest version.
    /// `None`: no model is served and RSVPs are not scored.
    pub lake: Option<String>,
    /// S3 settings overriding the `AWS_*` environment (object_store's key
    /// names: `aws_endpoint`, `aws_access_key_id`, ...). Values are
    /// redacted in `Debug`.
    pub storage_options: Vec<(String, String)>,
    /// How often the `latest` pointer is read.
    pub poll_interval: Duration,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            lake: None,
            storage_options: Vec::new(),
            poll_interval: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self
            .storage_options
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        f.debug_struct("ModelConfig")
            .field("lake", &self.lake)
            .field("storage_options (values redacted)", &keys)
            .field("poll_interval", &self.poll_interval)
            .finish()
    }
}

/// Everything `billabong stream` needs.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Consumer group: holds the committed positions (written inside the
    /// output transactions) and names the transactional id.
    pub group: String,
    /// Start position for partitions the group has no position for.
    pub start: StartPosition,
    /// The RSVP topic (empty: not consumed).
    pub rsvps_topic: String,
    /// The race topic (empty: not consumed).
    pub race_topic: String,
    /// Where updates go.
    pub metrics_topic: String,
    /// Where unparseable records go.
    pub dlq_topic: String,
    /// Where the batch layer publishes its runs: the newest names the view
    /// generation (empty: none is followed; the views then cover every
    /// offset still in Kafka).
    pub runs_topic: String,
    /// Commit a transaction at least this often while input flows.
    pub commit_interval: Duration,
    /// ... or after this many input records.
    pub max_transaction_records: usize,
    /// The emission policy.
    pub emit: EmitConfig,
    /// The operators' settings.
    pub operators: OperatorConfig,
    /// The served model (RSVP response prediction).
    pub model: ModelConfig,
}

impl StreamConfig {
    /// Defaults for everything but the brokers.
    pub fn new(brokers: &str) -> Self {
        StreamConfig {
            brokers: brokers.to_owned(),
            group: "billabong-stream".to_owned(),
            start: StartPosition::Earliest,
            rsvps_topic: schemas::topics::RSVPS_TOPIC.to_owned(),
            race_topic: schemas::topics::RACE_TOPIC.to_owned(),
            metrics_topic: schemas::topics::METRICS_TOPIC.to_owned(),
            dlq_topic: schemas::topics::DLQ_TOPIC.to_owned(),
            runs_topic: schemas::topics::BATCH_RUNS_TOPIC.to_owned(),
            commit_interval: Duration::from_millis(200),
            max_transaction_records: 5_000,
            emit: EmitConfig::default(),
            operators: OperatorConfig::default(),
            model: ModelConfig::default(),
        }
    }

    /// Checks the settings, naming every problem.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.rsvps_topic.is_empty() && self.race_topic.is_empty() {
            problems.push("no input topic".to_owned());
        }
        if self.emit.max_keys_per_message == 0 {
            problems.push("max keys per message must be at least 1".to_owned());
        }
        if self.emit.hot_interval_ms < 0 || self.operators.rsvp_lateness_ms < 0 {
            problems.push("intervals and lateness must not be negative".to_owned());
        }
        if self.operators.top_k == 0 || self.operators.clump_cars < 2 {
            problems.push("top-k must be ≥ 1 and clump cars ≥ 2".to_owned());
        }
        if self.model.poll_interval.is_zero() {
            problems.push("the model poll interval must be positive".to_owned());
        }
        if self.model.lake.as_deref().is_some_and(str::is_empty) {
            problems.push("the model lake URL is empty".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions_parse() {
        assert_eq!(
            "earliest".parse::<StartPosition>().ok(),
            Some(StartPosition::Earliest)
        );
        assert_eq!(
            "offset:12".parse::<StartPosition>().ok(),
            Some(StartPosition::Offset(12))
        );
        assert_eq!(
            "timestamp:2017-03-08T10:00:00Z"
                .parse::<StartPosition>()
                .ok(),
            Some(StartPosition::Timestamp(1_488_967_200_000))
        );
        assert_eq!(
            "timestamp:2017-03-08T11:00:00.5+01:00"
                .parse::<StartPosition>()
                .ok(),
            Some(StartPosition::Timestamp(1_488_967_200_500))
        );
        assert!("offset:-1".parse::<StartPosition>().is_err());
        assert!("timestamp:yesterday".parse::<StartPosition>().is_err());
        assert!("soon".parse::<StartPosition>().is_err());
    }

    #[test]
    fn storage_option_values_are_redacted() {
        let mut config = StreamConfig::new("b:9092");
        config.model.storage_options = vec![("aws_secret_access_key".into(), "hunter2".into())];
        let text = format!("{config:?}");
        assert!(text.contains("aws_secret_access_key"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
