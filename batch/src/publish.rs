//! Publishing finished runs to `billabong.batch-runs`.
//!
//! A run is published after its transaction commits, so a crash in between
//! leaves a committed, unpublished run; every run first publishes those, so
//! consumers see each run at least once, keyed by run id (a repeat is
//! recognisable and harmless: the record is the same).

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::BatchRun;
use tokio_postgres::Client;
use tracing::info;

use crate::error::{Error, Result};
use crate::runs;
use crate::views::VIEW_TABLES;

/// Publishes every committed, unpublished run; returns their ids.
pub(crate) async fn publish_pending(
    client: &Client,
    brokers: &str,
    topic: &str,
) -> Result<Vec<i64>> {
    let pending = runs::unpublished(client).await?;
    if pending.is_empty() {
        return Ok(pending);
    }
    let err = |message: String| Error::Publish {
        topic: topic.to_owned(),
        message,
    };
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "30000")
        .create()
        .map_err(|e| err(e.to_string()))?;
    for &run_id in &pending {
        let (finished_at_ms, watermarks) = runs::finished(client, run_id).await?;
        let record = BatchRun {
            run_id,
            finished_at_ms,
            watermarks,
            views: VIEW_TABLES.iter().map(|v| (*v).to_owned()).collect(),
        };
        let payload = serde_json::to_vec(&record).map_err(|e| err(e.to_string()))?;
        let key = run_id.to_string();
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(&payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| err(e.to_string()))?;
        runs::mark_published(client, run_id).await?;
        info!(run_id, topic, "published batch run");
    }
    Ok(pending)
}
