//! `billabong serve` settings.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// PostgreSQL URL of the batch layer's database.
    pub postgres: String,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// The speed layer's output (read read_committed from the beginning).
    pub metrics_topic: String,
    /// How often PostgreSQL is asked for a new batch run.
    pub batch_poll: Duration,
}

impl ServeConfig {
    /// Defaults for everything but the services.
    pub fn new(brokers: &str, postgres: &str) -> Self {
        ServeConfig {
            brokers: brokers.to_owned(),
            postgres: postgres.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_topic: schemas::topics::METRICS_TOPIC.to_owned(),
            batch_poll: Duration::from_secs(1),
        }
    }

    /// Checks the settings, naming every problem.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.brokers.trim().is_empty() {
            problems.push("--brokers is empty");
        }
        if self.postgres.trim().is_empty() {
            problems.push("--postgres is empty");
        }
        if self.metrics_topic.is_empty() {
            problems.push("--metrics-topic is empty");
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(problems.join("; ")))
        }
    }
}
