//! Kafka client settings shared by the producer's clients, and creating the
//! topics it writes when they are missing.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::config::IngestConfig;
use super::error::{IngestError, Result};

/// How long an admin request or a metadata fetch may take. Long enough for a
/// broker that is starting; short enough that an unreachable one is reported
/// rather than waited on forever.
pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A client config naming the brokers.
pub(crate) fn client_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "billabong-producer");
    config
}

/// Creates the raw topic and the DLQ with `config.partitions` partitions and
/// the broker's default replication, unless they exist (then they are left as
/// they are, whatever their partition count).
pub(crate) async fn ensure_topics(config: &IngestConfig) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = client_config(&config.brokers)
        .create()
        .map_err(IngestError::kafka("creating the admin client"))?;
    let topics: Vec<NewTopic<'_>> = [&config.topic, &config.dlq_topic]
        .into_iter()
        .map(|topic| NewTopic::new(topic, config.partitions, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(ADMIN_TIMEOUT))
        .operation_timeout(Some(ADMIN_TIMEOUT));
    let results = admin
        .create_topics(&topics, &options)
        .await
        .map_err(IngestError::kafka("creating topics"))?;
    for result in results {
        match result {
            Ok(topic) => tracing::info!(%topic, partitions = config.partitions, "Created topic."),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(IngestError::TopicCreation {
                    topic,
                    reason: code.to_string(),
                });
            }
        }
    }
    Ok(())
}
