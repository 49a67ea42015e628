//! The consumer's context: it starts every newly assigned partition at the
//! lake's position instead of Kafka's committed offset, and reports lag.
//!
//! The rebalance callback runs inside the consumer's poll and must not block,
//! so it cannot read the lake itself. The run loop keeps `positions` (the
//! lake's next offset per partition, read at startup and advanced by every
//! commit); the callback writes those into the assignment, so fetching starts
//! at the right place with no seek. A partition it does not know (a topic
//! created or grown after startup) is reported to the loop, which reads the
//! lake and seeks; until then its records are dropped, not written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Offset, Statistics};
use tokio::sync::mpsc::UnboundedSender;

/// The lake's next offset per (topic, partition), shared by the run loop
/// (writer) and the consumer callbacks (readers). Held only for map lookups.
#[derive(Debug, Clone, Default)]
pub(crate) struct Positions(Arc<Mutex<HashMap<(String, i32), i64>>>);

impl Positions {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, i32), i64>> {
        // A panic while holding this lock leaves a plain map: still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, topic: &str, partition: i32) -> Option<i64> {
        self.lock().get(&(topic.to_owned(), partition)).copied()
    }

    pub(crate) fn set(&self, topic: &str, partition: i32, next: i64) {
        self.lock().insert((topic.to_owned(), partition), next);
    }
}

/// What changed in the assignment, for the run loop.
#[derive(Debug)]
pub(crate) enum RebalanceEvent {
    /// Newly assigned partitions and whether they start at a known lake position.
    Assigned(Vec<(String, i32, Option<i64>)>),
    /// Partitions taken away: their open batches must be dropped.
    Revoked(Vec<(String, i32)>),
}

/// The consumer context of a sink run.
pub(crate) struct SinkContext {
    pub(crate) positions: Positions,
    pub(crate) events: UnboundedSender<RebalanceEvent>,
}

impl ClientContext for SinkContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition < 0 || p.hi_offset < 0 {
                    continue;
                }
                if let Some(next) = self.positions.get(topic, *partition) {
                    crate::metrics::set_lag(topic, *partition, (p.hi_offset - next).max(0));
                }
            }
        }
    }
}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            for mut elem in tpl.elements() {
                if let Some(next) = self.positions.get(elem.topic(), elem.partition())
                    && let Err(e) = elem.set_offset(Offset::Offset(next))
                {
                    tracing::warn!(topic = elem.topic(), partition = elem.partition(), error = %e, "Cannot set the start offset of an assigned partition.");
                }
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let event = match rebalance {
            Rebalance::Assign(tpl) => RebalanceEvent::Assigned(
                tpl.elements()
                    .iter()
                    .map(|e| {
                        let known = match e.offset() {
                            Offset::Offset(n) => Some(n),
                            _ => None,
                        };
                        (e.topic().to_owned(), e.partition(), known)
                    })
                    .collect(),
            ),
            Rebalance::Revoke(tpl) => RebalanceEvent::Revoked(
                tpl.elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect(),
            ),
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "Consumer group rebalance failed.");
                return;
            }
        };
        // The loop only stops listening when it is finished.
        let _ = self.events.send(event);
    }
}
