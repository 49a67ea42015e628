//! Records that fail to parse go to the DLQ topic unchanged, with headers
//! saying why and where they came from. The commit of the range that covers
//! a DLQ'd offset waits for the DLQ write to be acknowledged, so a bad record
//! is never lost (after a crash it may be sent twice: the DLQ is at least once).

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use schemas::topics::{
    DLQ_HEADER_ERROR_KIND, DLQ_HEADER_ERROR_MESSAGE, DLQ_HEADER_ERROR_PATH, DLQ_HEADER_FEED,
    DLQ_HEADER_SOURCE,
};
use schemas::topics::{
    DLQ_HEADER_ORIGINAL_OFFSET, DLQ_HEADER_ORIGINAL_PARTITION, DLQ_HEADER_ORIGINAL_TOPIC,
};
use schemas::{Feed, ValidationError};

use crate::error::{Error, Result};

/// The DLQ producer and the deliveries not yet acknowledged.
pub(crate) struct Dlq {
    producer: FutureProducer,
    topic: String,
    pending: Vec<DeliveryFuture>,
}

impl Dlq {
    pub(crate) fn new(brokers: &str, topic: &str) -> Result<Self> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()
            .map_err(|e| Error::kafka("create DLQ producer", e))?;
        Ok(Self {
            producer,
            topic: topic.to_owned(),
            pending: Vec::new(),
        })
    }

    /// Queues one rejected record; its original headers are kept.
    pub(crate) fn send<M: Message>(
        &mut self,
        msg: &M,
        feed: Feed,
        err: &ValidationError,
    ) -> Result<()> {
        let partition = msg.partition().to_string();
        let offset = msg.offset().to_string();
        let source = format!("{}/{}@{}", msg.topic(), partition, offset);
        let kind = err.kind.to_string();
        let mut headers = OwnedHeaders::new();
        if let Some(original) = msg.headers() {
            for h in original.iter() {
                headers = headers.insert(Header {
                    key: h.key,
                    value: h.value,
                });
            }
        }
        for (key, value) in [
            (DLQ_HEADER_SOURCE, source.as_str()),
            (DLQ_HEADER_FEED, feed.as_str()),
            (DLQ_HEADER_ERROR_KIND, kind.as_str()),
            (DLQ_HEADER_ERROR_PATH, err.path.as_str()),
            (DLQ_HEADER_ERROR_MESSAGE, err.message.as_str()),
            (DLQ_HEADER_ORIGINAL_TOPIC, msg.topic()),
            (DLQ_HEADER_ORIGINAL_PARTITION, partition.as_str()),
            (DLQ_HEADER_ORIGINAL_OFFSET, offset.as_str()),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let payload = msg.payload().unwrap_or_default();
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic)
            .payload(payload)
            .headers(headers);
        if let Some(key) = msg.key() {
            record = record.key(key);
        }
        let future = self
            .producer
            .send_result(record)
            .map_err(|(e, _)| Error::kafka("queue DLQ record", e))?;
        self.pending.push(future);
        Ok(())
    }

    /// Waits until every queued DLQ record is acknowledged by Kafka.
    pub(crate) async fn flush(&mut self) -> Result<()> {
        for future in self.pending.drain(..) {
            match tokio::time::timeout(Duration::from_secs(60), future).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err((e, _)))) => return Err(Error::kafka("deliver DLQ record", e)),
                Ok(Err(_)) => {
                    return Err(Error::kafka(
                        "deliver DLQ record",
                        rdkafka::error::KafkaError::Canceled,
                    ));
                }
                Err(_) => {
                    return Err(Error::kafka(
                        "deliver DLQ record (timed out after 60 s)",
                        rdkafka::error::KafkaError::Canceled,
                    ));
                }
            }
        }
        Ok(())
    }
}
