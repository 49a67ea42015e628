//! Follows `billabong.batch-runs`: the newest published batch run names the
//! view generation and its watermarks (see `view.rs`, DESIGN.md "The lambda
//! invariant").

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use schemas::BatchRun;

use super::start::ADMIN_TIMEOUT;
use crate::error::{Error, Result};

/// How often a missing topic is looked for again.
const TOPIC_CHECK: Duration = Duration::from_secs(5);

/// A reader of every partition of the runs topic from the beginning, keeping
/// the run with the largest id.
pub(crate) struct BatchRuns {
    consumer: BaseConsumer,
    topic: String,
    assigned: bool,
    checked: Instant,
    newest: Option<BatchRun>,
}

impl BatchRuns {
    /// Connects; reads nothing yet. An empty `topic` follows nothing.
    pub(crate) fn open(brokers: &str, topic: &str) -> Result<Self> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            // Never commits: the group only satisfies librdkafka.
            .set("group.id", "billabong-stream-batch-runs")
            .set("isolation.level", "read_committed")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()
            .map_err(Error::kafka("creating the batch-runs consumer"))?;
        Ok(BatchRuns {
            consumer,
            topic: topic.to_owned(),
            assigned: false,
            checked: Instant::now(),
            newest: None,
        })
    }

    /// Assigns every partition at the beginning when the topic exists;
    /// returns the high watermarks to read up to.
    fn assign(&mut self) -> Result<Vec<(i32, i64)>> {
        self.checked = Instant::now();
        if self.topic.is_empty() {
            return Ok(Vec::new());
        }
        let metadata = self
            .consumer
            .fetch_metadata(Some(&self.topic), ADMIN_TIMEOUT)
            .map_err(Error::kafka("fetching batch-runs metadata"))?;
        let Some(topic) = metadata.topics().first().filter(|t| t.error().is_none()) else {
            return Ok(Vec::new());
        };
        let mut list = TopicPartitionList::new();
        let mut highs = Vec::new();
        for p in topic.partitions() {
            list.add_partition_offset(&self.topic, p.id(), Offset::Beginning)
                .map_err(Error::kafka("building the batch-runs assignment"))?;
            let (_, high) = self
                .consumer
                .fetch_watermarks(&self.topic, p.id(), ADMIN_TIMEOUT)
                .map_err(Error::kafka("fetching batch-runs watermarks"))?;
            highs.push((p.id(), high));
        }
        if list.count() > 0 {
            self.consumer
                .assign(&list)
                .map_err(Error::kafka("assigning the batch-runs topic"))?;
            self.assigned = true;
        }
        Ok(highs)
    }

    /// Reads everything published so far (blocking, at start-up) and returns
    /// the newest run.
    pub(crate) fn catch_up(&mut self) -> Result<Option<BatchRun>> {
        let highs = self.assign()?;
        let deadline = Instant::now() + ADMIN_TIMEOUT;
        loop {
            let positions = self
                .consumer
                .position()
                .map_err(Error::kafka("reading batch-runs positions"))?;
            let done = highs.iter().all(|&(p, high)| {
                high == 0
                    || matches!(
                        positions.find_partition(&self.topic, p).map(|e| e.offset()),
                        Some(Offset::Offset(o)) if o >= high
                    )
            });
            if done {
                return Ok(self.newest.clone());
            }
            if Instant::now() > deadline {
                return Err(Error::Internal(format!(
                    "could not read {} to its end within {ADMIN_TIMEOUT:?}",
                    self.topic
                )));
            }
            self.drain(Duration::from_millis(100));
        }
    }

    /// Returns a run newer than any seen before, if one arrived (does not
    /// block).
    pub(crate) fn poll_newer(&mut self) -> Result<Option<BatchRun>> {
        if !self.assigned {
            if self.checked.elapsed() < TOPIC_CHECK {
                return Ok(None);
            }
            self.assign()?;
        }
        let before = self.newest.as_ref().map(|r| r.run_id);
        self.drain(Duration::ZERO);
        Ok(self.newest.clone().filter(|r| Some(r.run_id) != before))
    }

    /// Reads what is buffered (waiting up to `wait` for the first message).
    fn drain(&mut self, mut wait: Duration) {
        while let Some(result) = self.consumer.poll(wait) {
            wait = Duration::ZERO;
            match result {
                Ok(message) => {
                    let parsed = message.payload().map(serde_json::from_slice::<BatchRun>);
                    match parsed {
                        Some(Ok(run))
                            if self.newest.as_ref().is_none_or(|n| run.run_id > n.run_id) =>
                        {
                            self.newest = Some(run);
                        }
                        Some(Ok(_)) | None => {}
                        Some(Err(error)) => tracing::warn!(
                            %error,
                            offset = message.offset(),
                            "Ignoring a malformed batch-run record."
                        ),
                    }
                }
                Err(error) => tracing::warn!(%error, "Batch-runs consumer error."),
            }
        }
    }
}

/// The first offset of generation `run` for a partition: the watermark + 1,
/// or `low` when the run covered none of it (or there is no run).
pub(crate) fn generation_start(
    run: Option<&BatchRun>,
    topic: &str,
    partition: i32,
    low: i64,
) -> i64 {
    run.and_then(|r| r.watermarks.get(topic))
        .and_then(|parts| parts.get(&partition))
        .map_or(low, |w| (w + 1).max(low))
}
