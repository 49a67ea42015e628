//! The producer's delivery callback: measures enqueue-to-ack latency and
//! counts records whose delivery failed for good.
//!
//! A failed delivery needs no action here: it puts the open transaction in an
//! abortable state, so its commit fails and the writer aborts and retries the
//! whole transaction (`kafka_out.rs`). Counting it is all that is left.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rdkafka::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;
use rdkafka::types::RDKafkaErrorCode;

use super::metrics::IngestMetrics;

/// The producer context. The delivery opaque is the enqueue time, in
/// nanoseconds since `epoch`: a plain integer, so no allocation per record.
#[derive(Debug)]
pub(crate) struct DeliveryContext {
    epoch: Instant,
    metrics: IngestMetrics,
    failures: AtomicU64,
    last_failure: Mutex<Option<String>>,
}

impl DeliveryContext {
    pub(crate) fn new(metrics: IngestMetrics) -> Self {
        DeliveryContext {
            epoch: Instant::now(),
            metrics,
            failures: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        }
    }

    /// The opaque to send with a record enqueued now.
    pub(crate) fn stamp(&self) -> usize {
        usize::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(usize::MAX)
    }

    /// Failed deliveries since the last call, and the last reason.
    pub(crate) fn take_failures(&self) -> (u64, Option<String>) {
        let count = self.failures.swap(0, Ordering::Relaxed);
        let reason = self
            .last_failure
            .lock()
            .map(|mut last| last.take())
            .unwrap_or_default();
        (count, reason)
    }
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, enqueued_at: usize) {
        match result {
            Ok(_) => {
                let now = self.epoch.elapsed().as_nanos();
                let latency = now.saturating_sub(enqueued_at as u128) as f64 / 1e9;
                self.metrics.latency.record(latency);
            }
            // Purged by our own abort: not a delivery failure but its consequence.
            Err((
                KafkaError::MessageProduction(
                    RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight,
                ),
                _,
            )) => {}
            Err((error, _)) => {
                self.metrics.delivery_errors.increment(1);
                self.failures.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = self.last_failure.lock() {
                    *last = Some(error.to_string());
                }
            }
        }
    }
}
