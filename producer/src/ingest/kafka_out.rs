//! The transactional writer: every record the reader accepts is written to the
//! raw topic or the DLQ inside a Kafka transaction, committed every
//! `commit_interval` or `max_transaction_records`.
//!
//! Transactions make a crash leave a clean cut: a consumer reading
//! `read_committed` sees a prefix of the producer's output, never half of a
//! batch, and the producer's restart reads back exactly that prefix
//! (`resume.rs`). Records are enqueued as they arrive, so librdkafka batches
//! and ships them while the transaction is open; the commit only waits for
//! the last acks. The records of the open transaction are kept until it is
//! committed, so a failed transaction is aborted and written again in full.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use schemas::topics::{
    DLQ_HEADER_ERROR_KIND, DLQ_HEADER_ERROR_MESSAGE, DLQ_HEADER_ERROR_PATH, DLQ_HEADER_FEED,
    DLQ_HEADER_SOURCE, PRODUCER_HEADER_CLOCK, PRODUCER_HEADER_ID,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::{IngestConfig, KafkaTuning, MAX_MESSAGE_BYTES};
use super::delivery::DeliveryContext;
use super::error::{IngestError, Result};
use super::kafka_admin::client_config;
use super::metrics::IngestMetrics;
use super::record::{OutRecord, Route};

/// How long `init_transactions`, a commit or an abort may block. The first
/// `init_transactions` on a fresh broker takes seconds; fencing a dead
/// predecessor waits for its open transaction to be aborted.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);

type TxnProducer = ThreadedProducer<DeliveryContext>;

/// Records committed, by destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) raw: u64,
    pub(crate) dlq: u64,
}

/// Writes records in transactions.
pub(crate) struct TxnWriter {
    producer: Arc<TxnProducer>,
    topic: String,
    dlq_topic: String,
    /// `transactional.id`, also the `billabong-producer` header.
    producer_id: String,
    feed: &'static str,
    /// The `billabong-source` header of DLQ records.
    source: String,
    tuning: KafkaTuning,
    metrics: IngestMetrics,
}

impl TxnWriter {
    /// Creates the producer and initialises its transactions, which fences a
    /// previous instance with the same id and aborts its open transaction:
    /// after this, Kafka holds only committed records of ours.
    pub(crate) async fn connect(config: &IngestConfig, metrics: IngestMetrics) -> Result<Self> {
        let tuning = config.kafka.clone();
        let producer: TxnProducer = client_config(&config.brokers)
            .set("transactional.id", &config.transactional_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", tuning.linger.as_millis().to_string())
            .set("batch.size", tuning.batch_bytes.to_string())
            .set("compression.type", &tuning.compression)
            .set("transaction.timeout.ms", "60000")
            .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
            .create_with_context(DeliveryContext::new(metrics.clone()))
            .map_err(IngestError::kafka("creating the producer"))?;
        let producer = Arc::new(producer);
        blocking(&producer, |p| p.init_transactions(TXN_TIMEOUT))
            .await?
            .map_err(IngestError::kafka(
                "initialising transactions (fencing any previous instance)",
            ))?;
        tracing::info!(transactional_id = %config.transactional_id, "Kafka transactions ready.");
        Ok(TxnWriter {
            producer,
            topic: config.topic.clone(),
            dlq_topic: config.dlq_topic.clone(),
            producer_id: config.transactional_id.clone(),
            feed: config.feed.as_str(),
            source: config.source.to_string(),
            tuning,
            metrics,
        })
    }

    /// Writes every record of `records` until the channel closes, then
    /// commits the last transaction. On error nothing of the failed
    /// transaction is committed; everything before it is.
    pub(crate) async fn run(
        self,
        mut records: mpsc::Receiver<OutRecord>,
        committed: Arc<std::sync::Mutex<Committed>>,
    ) -> Result<()> {
        let mut batch: Vec<OutRecord> = Vec::new();
        while let Some(first) = records.recv().await {
            let deadline = Instant::now() + self.tuning.commit_interval;
            self.begin()?;
            let mut enqueued = self.enqueue(&first).await;
            batch.push(first);
            let mut closed = false;
            // One timer per transaction, not one per record.
            let timer = tokio::time::sleep_until(deadline);
            tokio::pin!(timer);
            while batch.len() < self.tuning.max_transaction_records && Instant::now() < deadline {
                let next = tokio::select! {
                    record = records.recv() => record,
                    () = &mut timer => break,
                };
                let Some(record) = next else {
                    closed = true;
                    break;
                };
                if enqueued.is_ok() {
                    enqueued = self.enqueue(&record).await;
                }
                batch.push(record);
            }
            let committing = Instant::now();
            let counts = self.commit(&batch, enqueued).await?;
            tracing::debug!(
                records = batch.len(),
                commit_ms = committing.elapsed().as_secs_f64() * 1e3,
                "Transaction committed."
            );
            self.metrics.produced.increment(counts.raw);
            self.metrics.dlq.increment(counts.dlq);
            if let Ok(mut total) = committed.lock() {
                total.raw += counts.raw;
                total.dlq += counts.dlq;
            }
            batch.clear();
            if closed {
                break;
            }
        }
        Ok(())
    }

    fn begin(&self) -> Result<()> {
        self.producer
            .begin_transaction()
            .map_err(IngestError::kafka("beginning a transaction"))
    }

    /// Commits the open transaction holding `batch`; if it fails, aborts it
    /// and writes `batch` again in a new one, up to the configured attempts.
    async fn commit(
        &self,
        batch: &[OutRecord],
        mut enqueued: Result<(), KafkaError>,
    ) -> Result<Committed> {
        let mut attempt = 1;
        loop {
            let error = match enqueued {
                Ok(()) => match self.commit_once().await? {
                    Ok(()) => return Ok(count(batch)),
                    Err(error) => error,
                },
                Err(error) => error,
            };
            let fatal = matches!(&error, KafkaError::Transaction(e) if e.is_fatal());
            let (failed, reason) = self.producer.context().take_failures();
            tracing::warn!(
                attempt,
                records = batch.len(),
                failed_deliveries = failed,
                last_delivery_error = reason.as_deref().unwrap_or("none"),
                %error,
                "Transaction failed; aborting it."
            );
            if fatal {
                return Err(IngestError::Kafka {
                    operation: "committing a transaction (the producer was fenced or broken)",
                    source: error,
                });
            }
            blocking(&self.producer, |p| p.abort_transaction(TXN_TIMEOUT))
                .await?
                .map_err(IngestError::kafka("aborting a failed transaction"))?;
            if attempt >= self.tuning.transaction_attempts {
                return Err(IngestError::TransactionFailed {
                    records: batch.len(),
                    attempts: attempt,
                    last_error: error.to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200) * attempt).await;
            attempt += 1;
            self.begin()?;
            enqueued = Ok(());
            for record in batch {
                enqueued = self.enqueue(record).await;
                if enqueued.is_err() {
                    break;
                }
            }
        }
    }

    /// One commit; a retriable failure (a timeout) is retried in place, as
    /// librdkafka asks. The outer result is a failure of the task itself.
    async fn commit_once(&self) -> Result<Result<(), KafkaError>> {
        self.wait_for_acks().await;
        loop {
            let result = blocking(&self.producer, |p| p.commit_transaction(TXN_TIMEOUT)).await?;
            match result {
                Err(KafkaError::Transaction(error))
                    if error.is_retriable() && !error.txn_requires_abort() =>
                {
                    tracing::warn!(%error, "Commit not confirmed yet; retrying it.");
                }
                other => return Ok(other),
            }
        }
    }

    /// Waits until every enqueued record is acknowledged (or failed).
    ///
    /// `commit_transaction` flushes first, but rdkafka's flush polls in
    /// steps of 100 ms, so any record still in flight costs a whole step:
    /// measured, every commit took ~101 ms and throughput halved. Acks are
    /// served by the producer's polling thread; watching the count here ends
    /// the wait within a millisecond of the last one. On a timeout the commit
    /// goes ahead and reports the problem itself.
    async fn wait_for_acks(&self) {
        let deadline = Instant::now() + TXN_TIMEOUT;
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Hands one record to librdkafka, waiting while its queue is full.
    async fn enqueue(&self, record: &OutRecord) -> Result<(), KafkaError> {
        loop {
            let headers = self.headers(record);
            let opaque = self.producer.context().stamp();
            let base = BaseRecord::with_opaque_to(self.destination(record), opaque)
                .payload(record.payload.as_ref())
                .headers(headers);
            let base = match &record.route {
                Route::Raw { key } => base.key(key.as_str()),
                Route::Dlq(_) => base,
            };
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    fn destination(&self, record: &OutRecord) -> &str {
        match record.route {
            Route::Raw { .. } => &self.topic,
            Route::Dlq(_) => &self.dlq_topic,
        }
    }

    fn headers(&self, record: &OutRecord) -> OwnedHeaders {
        let mut headers = OwnedHeaders::new_with_capacity(7).insert(Header {
            key: PRODUCER_HEADER_ID,
            value: Some(self.producer_id.as_str()),
        });
        if let Some(clock) = record.clock {
            let mut digits = [0u8; I64_DIGITS];
            headers = headers.insert(Header {
                key: PRODUCER_HEADER_CLOCK,
                value: Some(format_i64(clock, &mut digits)),
            });
        }
        if let Route::Dlq(rejection) = &record.route {
            for (key, value) in [
                (DLQ_HEADER_SOURCE, self.source.as_str()),
                (DLQ_HEADER_FEED, self.feed),
                (DLQ_HEADER_ERROR_KIND, rejection.kind.as_str()),
                (DLQ_HEADER_ERROR_PATH, rejection.path.as_str()),
                (DLQ_HEADER_ERROR_MESSAGE, rejection.message.as_str()),
            ] {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
        }
        headers
    }
}

/// The longest decimal `i64`: `-9223372036854775808`.
const I64_DIGITS: usize = 20;

/// `value` in decimal, as `to_string` writes it, in `buffer` rather than a new
/// `String` (the clock header of every record).
fn format_i64(value: i64, buffer: &mut [u8; I64_DIGITS]) -> &[u8] {
    let mut rest = value.unsigned_abs();
    let mut start = I64_DIGITS;
    loop {
        start -= 1;
        buffer[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        buffer[start] = b'-';
    }
    &buffer[start..]
}

fn count(batch: &[OutRecord]) -> Committed {
    let dlq = batch
        .iter()
        .filter(|record| matches!(record.route, Route::Dlq(_)))
        .count() as u64;
    Committed {
        raw: batch.len() as u64 - dlq,
        dlq,
    }
}

/// Runs a blocking producer call off the async workers.
async fn blocking<T: Send + 'static>(
    producer: &Arc<TxnProducer>,
    call: impl FnOnce(&TxnProducer) -> T + Send + 'static,
) -> Result<T> {
    let producer = Arc::clone(producer);
    tokio::task::spawn_blocking(move || call(&producer))
        .await
        .map_err(|error| IngestError::Internal(format!("a Kafka call panicked: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_headers_are_written_as_to_string_writes_them() {
        for value in [0, 7, -7, 10, 1_489_925_470_960, -1_000, i64::MAX, i64::MIN] {
            let mut digits = [0u8; I64_DIGITS];
            assert_eq!(format_i64(value, &mut digits), value.to_string().as_bytes());
        }
    }
}
