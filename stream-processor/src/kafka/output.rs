//! The transactional output: updates, DLQ records and the consumed offsets
//! of one batch of input go to Kafka in one transaction, so a read_committed
//! reader (and the restart, through the group offsets) sees every batch
//! whole or not at all.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use schemas::ValidationError;
use schemas::topics::{
    DLQ_HEADER_ERROR_KIND, DLQ_HEADER_ERROR_MESSAGE, DLQ_HEADER_ERROR_PATH, DLQ_HEADER_FEED,
    DLQ_HEADER_ORIGINAL_OFFSET, DLQ_HEADER_ORIGINAL_PARTITION, DLQ_HEADER_ORIGINAL_TOPIC,
    DLQ_HEADER_SOURCE,
};

use crate::error::{Error, Result};
use crate::metrics::record_latency;
use crate::pipeline::OutMessage;

/// How long `init_transactions`, a commit or an abort may block: fencing a
/// dead predecessor waits for its open transaction to be aborted.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);

/// A rejected input record, for the DLQ.
pub(crate) struct Rejected<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) feed: &'static str,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) payload: &'a [u8],
    pub(crate) error: &'a ValidationError,
}

pub(crate) struct TxnOutput {
    producer: ThreadedProducer<DefaultProducerContext>,
    metrics_topic: String,
    dlq_topic: String,
    open: bool,
}

impl TxnOutput {
    /// Creates the producer and fences any previous instance of the group:
    /// its open transaction is aborted before this returns.
    pub(crate) fn connect(
        brokers: &str,
        transactional_id: &str,
        metrics_topic: &str,
        dlq_topic: &str,
    ) -> Result<Self> {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("transactional.id", transactional_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("compression.type", "zstd")
            .set("transaction.timeout.ms", "60000")
            .create()
            .map_err(Error::kafka("creating the producer"))?;
        producer
            .init_transactions(TXN_TIMEOUT)
            .map_err(Error::kafka(
                "initialising transactions (fencing any previous instance)",
            ))?;
        tracing::info!(transactional_id, "Kafka transactions ready.");
        Ok(TxnOutput {
            producer,
            metrics_topic: metrics_topic.to_owned(),
            dlq_topic: dlq_topic.to_owned(),
            open: false,
        })
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    fn ensure_open(&mut self) -> Result<()> {
        if !self.open {
            self.producer
                .begin_transaction()
                .map_err(Error::kafka("beginning a transaction"))?;
            self.open = true;
        }
        Ok(())
    }

    /// Sends one update message, stamped with its emit time.
    pub(crate) fn send(&mut self, message: OutMessage) -> Result<()> {
        self.ensure_open()?;
        let mut body = message.body;
        let emit_ms = now_ms();
        body["emit_time_ms"] = emit_ms.into();
        let payload = serde_json::to_vec(&body)
            .map_err(|e| Error::Internal(format!("serialising an update: {e}")))?;
        let record = BaseRecord::to(&self.metrics_topic)
            .key(message.key.as_bytes())
            .payload(payload.as_slice());
        self.enqueue(record)?;
        record_latency(
            emit_ms,
            message.source_event_time_ms,
            message.ingest_time_ms,
        );
        Ok(())
    }

    /// Sends a rejected record to the DLQ, unchanged, with its reason.
    pub(crate) fn send_dlq(&mut self, rejected: &Rejected<'_>) -> Result<()> {
        self.ensure_open()?;
        let source = format!(
            "{}/{}@{}",
            rejected.topic, rejected.partition, rejected.offset
        );
        let (partition, offset) = (rejected.partition.to_string(), rejected.offset.to_string());
        let mut headers = OwnedHeaders::new_with_capacity(8);
        for (key, value) in [
            (DLQ_HEADER_SOURCE, source.as_str()),
            (DLQ_HEADER_FEED, rejected.feed),
            (DLQ_HEADER_ERROR_KIND, rejected.error.kind.as_str()),
            (DLQ_HEADER_ERROR_PATH, rejected.error.path.as_str()),
            (DLQ_HEADER_ERROR_MESSAGE, rejected.error.message.as_str()),
            (DLQ_HEADER_ORIGINAL_TOPIC, rejected.topic),
            (DLQ_HEADER_ORIGINAL_PARTITION, partition.as_str()),
            (DLQ_HEADER_ORIGINAL_OFFSET, offset.as_str()),
        ] {
            headers = headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        let mut record = BaseRecord::to(&self.dlq_topic)
            .payload(rejected.payload)
            .headers(headers);
        if let Some(key) = rejected.key {
            record = record.key(key);
        }
        self.enqueue(record)
    }

    fn enqueue(&self, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<()> {
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((error, _)) => {
                    return Err(Error::Kafka {
                        operation: "sending an update",
                        source: error,
                    });
                }
            }
        }
    }

    /// Commits the open transaction (opening one if needed) with `offsets`
    /// as the group's consumed positions.
    pub(crate) fn commit(
        &mut self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        self.ensure_open()?;
        self.wait_for_acks();
        let result = self
            .producer
            .send_offsets_to_transaction(offsets, group, TXN_TIMEOUT)
            .and_then(|()| self.commit_retrying());
        self.open = false;
        if let Err(error) = result {
            let fatal = matches!(&error, KafkaError::Transaction(e) if e.is_fatal());
            if !fatal {
                let _ = self.producer.abort_transaction(TXN_TIMEOUT);
            }
            return Err(Error::TransactionFailed {
                attempts: 1,
                last_error: error.to_string(),
            });
        }
        Ok(())
    }

    fn commit_retrying(&self) -> Result<(), KafkaError> {
        loop {
            match self.producer.commit_transaction(TXN_TIMEOUT) {
                Err(KafkaError::Transaction(error))
                    if error.is_retriable() && !error.txn_requires_abort() =>
                {
                    tracing::warn!(%error, "Commit not confirmed yet; retrying it.");
                }
                other => return other,
            }
        }
    }

    /// Waits until every enqueued record is acknowledged: `commit_transaction`
    /// flushes by polling in 100 ms steps, so a record still in flight would
    /// cost a whole step (measured in the producer: every commit ~101 ms).
    fn wait_for_acks(&self) {
        let deadline = Instant::now() + TXN_TIMEOUT;
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

/// Wall-clock ms since the epoch (only for emit times and latencies).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
