//! The settings of one ingest run, separate from the running thing, and their
//! validation: every problem with the command line is found here, before any
//! connection is made.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use schemas::Feed;

use super::error::{IngestError, Result};

/// The largest payload the producer writes to Kafka, in bytes.
///
/// A broker accepts record batches up to its `max.message.bytes`, 1,048,588 by
/// default, key and headers included (DLQ headers are at most 5 × 1 KiB). A
/// bigger input still goes to the DLQ, cut to this size, so that it is seen
/// rather than lost (its `billabong-error-message` says so).
pub const MAX_RECORD_BYTES: usize = 1_000_000;

/// librdkafka's `message.max.bytes`: room for a [`MAX_RECORD_BYTES`] payload
/// with its key and headers, within the broker's default limit.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1_048_000;

/// Where the feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A live websocket feed, `ws://HOST[:PORT]/PATH[?QUERY]`.
    Websocket {
        /// The URL as given; reconnects replace its `since_mtime` parameter.
        url: String,
    },
    /// A JSON Lines backlog, read to its end as fast as Kafka takes it.
    File {
        /// The file.
        path: PathBuf,
    },
}

impl FromStr for SourceSpec {
    type Err = IngestError;

    fn from_str(spec: &str) -> Result<Self> {
        let bad = |reason: &str| IngestError::BadSource {
            source_spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = spec.strip_prefix("ws://") {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if authority.is_empty() {
                return Err(bad("the URL has no host"));
            }
            if spec.contains('#') {
                return Err(bad("a websocket URL has no #fragment"));
            }
            return Ok(SourceSpec::Websocket {
                url: spec.to_owned(),
            });
        }
        if spec.starts_with("wss://") {
            return Err(bad(
                "wss:// (TLS) is not supported by this build; use ws:// or a TLS-terminating proxy",
            ));
        }
        if let Some(rest) = spec.strip_prefix("file:") {
            // `file:///abs` and `file:/abs` name the same file; `file:rel` is
            // relative to the working directory.
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad("the file: source names no file"));
            }
            return Ok(SourceSpec::File {
                path: PathBuf::from(path),
            });
        }
        Err(bad("expected ws://HOST:PORT/PATH or file:PATH"))
    }
}

impl fmt::Display for SourceSpec {
    /// The form that goes into the DLQ's `billabong-source` header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Websocket { url } => f.write_str(url),
            SourceSpec::File { path } => write!(f, "file:{}", path.display()),
        }
    }
}

/// Kafka producer knobs that trade latency for throughput.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaTuning {
    /// A transaction is committed at most this long after its first record.
    /// Consumers reading `read_committed` see records only then, so this is
    /// the floor of end-to-end latency.
    pub commit_interval: Duration,
    /// A transaction is committed when it holds this many records, even
    /// before `commit_interval`: bounds the memory kept for a retry.
    pub max_transaction_records: usize,
    /// librdkafka `linger.ms`: how long a partition batch waits to fill.
    pub linger: Duration,
    /// librdkafka `batch.size` in bytes.
    pub batch_bytes: usize,
    /// librdkafka `compression.type` (`zstd`, `lz4`, `none`...).
    pub compression: String,
    /// How many times a failed transaction is retried before the run stops.
    pub transaction_attempts: u32,
}

impl Default for KafkaTuning {
    /// Measured on the 2-core dev machine with 505k race events (release
    /// build, file source): lz4 ~400k records/s, zstd ~380k, none ~310k;
    /// linger 1-20 ms, batch 256 KB-1 MB, transactions of 20k-100k records or
    /// 100-250 ms all within the noise once commits stopped costing 100 ms
    /// each (see `kafka_out.rs`, `wait_for_acks`).
    fn default() -> Self {
        KafkaTuning {
            commit_interval: Duration::from_millis(100),
            max_transaction_records: 20_000,
            linger: Duration::from_millis(5),
            batch_bytes: 1_000_000,
            compression: "lz4".to_owned(),
            transaction_attempts: 5,
        }
    }
}

/// Websocket connection knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebsocketTuning {
    /// First delay between failed connection attempts; doubles each time.
    pub backoff_initial: Duration,
    /// The delay stops doubling here.
    pub backoff_max: Duration,
    /// A ping is sent this often.
    pub ping_interval: Duration,
    /// A connection that delivered nothing (no frame, no pong) for this long
    /// is dead: it is dropped and a new one opened.
    pub dead_after: Duration,
}

impl Default for WebsocketTuning {
    fn default() -> Self {
        WebsocketTuning {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            ping_interval: Duration::from_secs(5),
            dead_after: Duration::from_secs(15),
        }
    }
}

/// Everything one ingest run needs. Build it with [`IngestConfig::new`], change
/// fields, and hand it to [`super::run`], which validates it first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// Which feed's schema the records are validated against.
    pub feed: Feed,
    /// Where the records come from.
    pub source: SourceSpec,
    /// Kafka bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Valid records go here (default: the feed's raw topic).
    pub topic: String,
    /// Invalid records go here (default `billabong.dlq`).
    pub dlq_topic: String,
    /// Partition count of topics created because they are missing.
    pub partitions: i32,
    /// Stop after this many records were received from the source.
    pub max_events: Option<u64>,
    /// Stop when no record arrived for this long.
    pub idle_exit: Option<Duration>,
    /// The producer's `transactional.id`: a restarted producer with the same
    /// id fences its predecessor and resumes where its commits ended.
    pub transactional_id: String,
    /// Kafka throughput knobs.
    pub kafka: KafkaTuning,
    /// Websocket knobs.
    pub websocket: WebsocketTuning,
}

impl IngestConfig {
    /// A configuration with the defaults: the feed's raw topic, the common
    /// DLQ, 6 partitions, no limits, and the transactional id
    /// `billabong-produce-<feed>-<topic>`.
    pub fn new(feed: Feed, source: SourceSpec, brokers: impl Into<String>) -> Self {
        let topic = feed.default_topic().to_owned();
        IngestConfig {
            feed,
            source,
            brokers: brokers.into(),
            transactional_id: default_transactional_id(feed, &topic),
            topic,
            dlq_topic: schemas::topics::DLQ_TOPIC.to_owned(),
            partitions: 6,
            max_events: None,
            idle_exit: None,
            kafka: KafkaTuning::default(),
            websocket: WebsocketTuning::default(),
        }
    }

    /// Checks every setting and reports the first problem found.
    pub fn validate(&self) -> Result<()> {
        validate_brokers(&self.brokers)?;
        let setting = |setting, reason: &str| IngestError::BadSetting {
            setting,
            reason: reason.to_owned(),
        };
        for (flag, topic) in [("--topic", &self.topic), ("--dlq-topic", &self.dlq_topic)] {
            if !is_valid_topic_name(topic) {
                return Err(setting(
                    flag,
                    "a topic name is 1-249 characters of ASCII letters, digits, '.', '_' and '-'",
                ));
            }
        }
        if self.topic == self.dlq_topic {
            return Err(setting("--dlq-topic", "must differ from --topic"));
        }
        if self.partitions < 1 {
            return Err(setting("--partitions", "must be at least 1"));
        }
        if self.transactional_id.trim().is_empty() {
            return Err(setting("--transactional-id", "must not be empty"));
        }
        if self.kafka.max_transaction_records == 0 || self.kafka.transaction_attempts == 0 {
            return Err(setting(
                "kafka tuning",
                "transaction size and attempts must be positive",
            ));
        }
        if self.websocket.dead_after <= self.websocket.ping_interval {
            return Err(setting(
                "websocket tuning",
                "dead_after must exceed ping_interval",
            ));
        }
        Ok(())
    }
}

/// `billabong-produce-<feed>-<topic>`: one producer identity per feed and
/// destination, so that a restart finds its own records.
pub fn default_transactional_id(feed: Feed, topic: &str) -> String {
    format!("billabong-produce-{feed}-{topic}")
}

/// Kafka's own rule for topic names.
fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A broker list is `host:port` items separated by commas (librdkafka accepts
/// more, but a typo there only shows up as an endless connection retry).
fn validate_brokers(brokers: &str) -> Result<()> {
    let bad = |reason: String| IngestError::BadBrokers {
        brokers: brokers.to_owned(),
        reason,
    };
    if brokers.trim().is_empty() {
        return Err(bad("the list is empty".to_owned()));
    }
    for item in brokers.split(',') {
        let item = item.trim();
        let Some((host, port)) = item.rsplit_once(':') else {
            return Err(bad(format!("{item:?} is not host:port")));
        };
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(bad(format!("{item:?} has no valid host")));
        }
        match port.parse::<u16>() {
            Ok(port) if port > 0 => {}
            _ => return Err(bad(format!("{item:?} has no valid port"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(
            "ws://127.0.0.1:8080/2/rsvps".parse::<SourceSpec>().ok(),
            Some(SourceSpec::Websocket {
                url: "ws://127.0.0.1:8080/2/rsvps".to_owned()
            })
        );
        assert_eq!(
            "file:/tmp/a.jsonl".parse::<SourceSpec>().ok(),
            Some(SourceSpec::File {
                path: "/tmp/a.jsonl".into()
            })
        );
        assert_eq!(
            "file:///tmp/a.jsonl".parse::<SourceSpec>().ok(),
            Some(SourceSpec::File {
                path: "/tmp/a.jsonl".into()
            })
        );
        for bad in [
            "http://x/y",
            "ws://",
            "wss://x/y",
            "file:",
            "/tmp/a.jsonl",
            "ws://h/p#f",
        ] {
            let err = bad.parse::<SourceSpec>().expect_err(bad);
            assert!(err.is_usage(), "{err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn brokers_are_checked() {
        for good in [
            "localhost:9092",
            "a:1,b:2",
            "[::1]:9092",
            " 127.0.0.1:57509 ",
        ] {
            assert!(validate_brokers(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "localhost",
            "host:",
            ":9092",
            "host:99999",
            "a:1,,b:2",
            "host:x",
        ] {
            assert!(validate_brokers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_validate_and_name_the_feed() {
        let config = IngestConfig::new(
            Feed::Race,
            "file:x".parse().expect("a file source"),
            "localhost:9092",
        );
        assert!(config.validate().is_ok());
        assert_eq!(config.topic, "billabong.race");
        assert_eq!(
            config.transactional_id,
            "billabong-produce-race-billabong.race"
        );
        let mut same = config.clone();
        same.dlq_topic = same.topic.clone();
        assert!(same.validate().is_err());
        let mut bad = config;
        bad.topic = "a topic".to_owned();
        assert!(bad.validate().is_err());
    }
}
