//! What a batch run needs to know.

use schemas::topics::{BATCH_RUNS_TOPIC, RACE_TOPIC, RSVPS_TOPIC};

use crate::engine::Engine;

/// Settings of `billabong batch`.
#[derive(Debug, Clone)]
pub struct BatchConfig {
    /// `s3://bucket/prefix` or `file:///path`.
    pub lake: String,
    /// `postgres://user@host:port/db`.
    pub postgres: String,
    /// The raw RSVP topic as named in the lake.
    pub rsvps_topic: String,
    /// The raw race topic as named in the lake.
    pub race_topic: String,
    /// Kafka brokers to publish finished runs to; `None` publishes nothing
    /// (runs stay marked unpublished and go out with the next run that has
    /// brokers).
    pub brokers: Option<String>,
    /// Where finished runs are published.
    pub runs_topic: String,
    /// S3 settings overriding the `AWS_*` environment (object_store key names).
    pub storage_options: Vec<(String, String)>,
    /// Train the models after the run (also when the lake had nothing new).
    pub train: bool,
    /// Where the ETL's DataFusion plans run (training stays local).
    pub engine: Engine,
}

impl BatchConfig {
    /// Defaults for the standard topic names.
    pub fn new(lake: impl Into<String>, postgres: impl Into<String>) -> Self {
        Self {
            lake: lake.into(),
            postgres: postgres.into(),
            rsvps_topic: RSVPS_TOPIC.to_owned(),
            race_topic: RACE_TOPIC.to_owned(),
            brokers: None,
            runs_topic: BATCH_RUNS_TOPIC.to_owned(),
            storage_options: Vec::new(),
            train: false,
            engine: Engine::Local,
        }
    }
}
