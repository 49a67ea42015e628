//! What a session reads and under which limits.

use schemas::Feed;
use schemas::topics::{RACE_TOPIC, RSVPS_TOPIC};

use crate::limits::Limits;

/// One raw topic of the lake, visible as `lake.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeTable {
    /// Table name inside the `lake` schema (`rsvps` → `lake.rsvps`).
    pub name: String,
    /// The Kafka topic whose committed files the table reads.
    pub topic: String,
    /// The feed, which fixes the files' schema.
    pub feed: Feed,
}

impl LakeTable {
    /// `lake.rsvps` over `billabong.rsvps` and `lake.race` over `billabong.race`.
    pub fn defaults() -> Vec<LakeTable> {
        vec![
            LakeTable {
                name: "rsvps".to_owned(),
                topic: RSVPS_TOPIC.to_owned(),
                feed: Feed::Rsvps,
            },
            LakeTable {
                name: "race".to_owned(),
                topic: RACE_TOPIC.to_owned(),
                feed: Feed::Race,
            },
        ]
    }
}

/// The sources of a session, both optional, and its limits.
#[derive(Debug, Clone)]
pub struct SqlConfig {
    /// The lake: `s3://bucket/prefix` or `file:///path`; `None` = no `lake` schema.
    pub lake: Option<String>,
    /// object_store settings for an `s3://` lake (`aws_endpoint`, ...), over
    /// the `AWS_*` environment.
    pub lake_options: Vec<(String, String)>,
    /// Which topics become which `lake.*` tables.
    pub lake_tables: Vec<LakeTable>,
    /// PostgreSQL URL; `None` = no 3NF tables or batch views.
    pub postgres: Option<String>,
    /// Per-query limits.
    pub limits: Limits,
}

impl Default for SqlConfig {
    fn default() -> Self {
        Self {
            lake: None,
            lake_options: Vec::new(),
            lake_tables: LakeTable::defaults(),
            postgres: None,
            limits: Limits::default(),
        }
    }
}
