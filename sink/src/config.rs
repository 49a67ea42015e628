//! What a sink run needs to know, separate from the running thing.

use std::str::FromStr;
use std::time::Duration;

use schemas::Feed;
use schemas::topics::{DLQ_TOPIC, RACE_TOPIC, RSVPS_TOPIC};

use crate::error::{Error, Result};

/// When an open batch becomes a file: whichever limit is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollPolicy {
    /// Raw payload bytes consumed into one batch.
    pub bytes: u64,
    /// Records consumed into one batch.
    pub records: u64,
    /// Age of a batch's first record. Checked on a timer, so an idle
    /// partition's records are committed within about this time too.
    pub interval: Duration,
}

impl Default for RollPolicy {
    /// 128 MiB of JSON (~15–30 MiB of Parquet), 500k records, 60 s: a steady
    /// feed makes one file per partition-hour per minute at most.
    fn default() -> Self {
        Self {
            bytes: 128 * 1024 * 1024,
            records: 500_000,
            interval: Duration::from_secs(60),
        }
    }
}

/// A raw topic and the feed its records belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Kafka topic name.
    pub topic: String,
    /// How its records parse.
    pub feed: Feed,
}

impl FromStr for TopicSpec {
    type Err = Error;

    /// `topic=feed`, or a standard raw topic name alone (`billabong.rsvps`,
    /// `billabong.race`), whose feed is known.
    fn from_str(s: &str) -> Result<Self> {
        let (topic, feed) = match s.split_once('=') {
            Some((topic, feed)) => (
                topic,
                feed.parse::<Feed>()
                    .map_err(|e| Error::Config(e.to_string()))?,
            ),
            None => match s {
                RSVPS_TOPIC => (s, Feed::Rsvps),
                RACE_TOPIC => (s, Feed::Race),
                _ => {
                    return Err(Error::Config(format!(
                        "topic {s:?} is not a standard raw topic: write it as {s}=rsvps or {s}=race"
                    )));
                }
            },
        };
        if topic.is_empty()
            || !topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(Error::Config(format!(
                "{topic:?} is not a valid Kafka topic name"
            )));
        }
        Ok(Self {
            topic: topic.to_owned(),
            feed,
        })
    }
}

/// Everything one `billabong sink` run needs.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// `s3://bucket/prefix` or `file:///path`.
    pub lake_url: String,
    /// Topics to land, with their feeds.
    pub topics: Vec<TopicSpec>,
    /// When batches become files.
    pub roll: RollPolicy,
    /// Consumer group (partition balancing and monitoring; never the truth
    /// about positions).
    pub group_id: String,
    /// Where unparseable records go.
    pub dlq_topic: String,
    /// S3 settings overriding the `AWS_*` environment (object_store key
    /// names, e.g. `aws_endpoint`); empty in production.
    pub storage_options: Vec<(String, String)>,
}

impl SinkConfig {
    /// A config with defaults for both raw topics.
    pub fn new(brokers: impl Into<String>, lake_url: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            lake_url: lake_url.into(),
            topics: vec![
                TopicSpec {
                    topic: RSVPS_TOPIC.to_owned(),
                    feed: Feed::Rsvps,
                },
                TopicSpec {
                    topic: RACE_TOPIC.to_owned(),
                    feed: Feed::Race,
                },
            ],
            roll: RollPolicy::default(),
            group_id: "billabong-sink".to_owned(),
            dlq_topic: DLQ_TOPIC.to_owned(),
            storage_options: Vec::new(),
        }
    }

    /// Checks the values a run cannot work with; every problem in one error.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.topics.is_empty() {
            problems.push("no topics".to_owned());
        }
        if self.roll.records == 0 || self.roll.bytes == 0 {
            problems.push("roll records and bytes must be at least 1".to_owned());
        }
        if self.roll.interval.is_zero() {
            problems.push("roll interval must be positive".to_owned());
        }
        if self.brokers.trim().is_empty() {
            problems.push("no brokers".to_owned());
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
    fn topic_specs_parse() {
        let spec: TopicSpec = "test.x-1=race".parse().expect("parses");
        assert_eq!(spec.feed, Feed::Race);
        assert_eq!(
            "billabong.rsvps".parse::<TopicSpec>().expect("std").feed,
            Feed::Rsvps
        );
        assert!("other".parse::<TopicSpec>().is_err());
        assert!("a/b=race".parse::<TopicSpec>().is_err());
    }
}
