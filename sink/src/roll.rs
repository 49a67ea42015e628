//! Turning one partition's open batch into lake files and a commit record:
//! the exactly-once step.
//!
//! Order: DLQ acknowledged → data files uploaded (names unique per attempt) →
//! commit record created (create-only, named by the range's first offset) →
//! checkpoint hint. A crash anywhere before the commit record leaves only
//! orphan files that no reader lists; a crash after it leaves a committed
//! range that the restart resumes after.

use std::future::Future;
use std::time::{Duration, Instant};

use object_store::{ObjectStoreExt, PutPayload};

use crate::commit;
use crate::dlq::Dlq;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::layout;
use crate::location::LakeLocation;
use crate::metrics::{self, SinkBatchCommitted};
use crate::records::{Checkpoint, CommitRecord, FileEntry, RECORD_VERSION, now_ms};
use crate::writer::PartitionBuffer;

/// What became of a batch.
#[derive(Debug)]
pub(crate) enum RollOutcome {
    /// Nothing was buffered.
    Empty,
    /// The range is in the lake.
    Committed(CommitRecord),
    /// Another sink committed a range starting at the same offset first; this
    /// batch's files were deleted and the caller must re-seek.
    Conflict,
}

/// Writes batches of any partition to one lake.
pub(crate) struct Roller {
    pub(crate) loc: LakeLocation,
    pub(crate) dlq: Dlq,
    /// This process's identity in commit records.
    writer_id: String,
}

/// Retries `op` on errors the store may recover from, with backoff
/// (0.5, 1, 2, 4, 8 s).
async fn with_retries<T, F, Fut>(topic: &str, partition: i32, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(500);
    let mut attempt = 0;
    loop {
        match op().await {
            Err(e) if e.is_retryable() && attempt < 5 => {
                attempt += 1;
                metrics::retry(topic, partition);
                tracing::warn!(%topic, partition, attempt, error = %e, "Lake write failed; retrying.");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
}

impl Roller {
    pub(crate) fn new(loc: LakeLocation, dlq: Dlq) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            loc,
            dlq,
            writer_id: id[..12].to_owned(),
        }
    }

    /// Rolls `buffer` as the range starting at `first` (the lake's next offset).
    pub(crate) async fn roll(
        &mut self,
        topic: &str,
        partition: i32,
        first: i64,
        buffer: &mut PartitionBuffer,
    ) -> Result<RollOutcome> {
        let Some(last) = buffer.last_offset else {
            return Ok(RollOutcome::Empty);
        };
        let started = Instant::now();
        let (records, dlq_records) = (buffer.records, buffer.dlq_records);
        let files = buffer.take_files()?;
        self.dlq.flush().await?;
        failpoint::SINK.hit("before-upload");

        let attempt = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let mut entries = Vec::with_capacity(files.len());
        for (n, file) in files.into_iter().enumerate() {
            let relative = layout::data_file(
                topic,
                partition,
                file.hour,
                file.first_offset,
                file.last_offset,
                &attempt,
            );
            let path = self.loc.path(&relative);
            let size = file.bytes.len() as u64;
            with_retries(topic, partition, || async {
                self.loc
                    .store
                    .put(&path, PutPayload::from(file.bytes.clone()))
                    .await
                    .map_err(|e| Error::store("put", &path, e))
            })
            .await?;
            if n == 0 {
                failpoint::SINK.hit("mid-upload");
            }
            entries.push(FileEntry {
                path: relative,
                rows: file.rows,
                bytes: size,
                first_offset: file.first_offset,
                last_offset: file.last_offset,
                min_event_time_ms: file.min_ts,
                max_event_time_ms: file.max_ts,
            });
        }
        failpoint::SINK.hit("after-upload");

        let record = CommitRecord {
            version: RECORD_VERSION,
            topic: topic.to_owned(),
            partition,
            first,
            last,
            rows: entries.iter().map(|e| e.rows).sum(),
            dlq_records,
            event_time_watermark_ms: entries.iter().map(|e| e.max_event_time_ms).max(),
            files: entries,
            writer: format!("{}/{attempt}", self.writer_id),
            committed_at_ms: now_ms(),
        };
        if !self.create_commit(&record).await? {
            metrics::commit_conflict(topic, partition);
            self.delete_files(&record).await;
            return Ok(RollOutcome::Conflict);
        }
        failpoint::SINK.hit("after-commit");

        let cp = Checkpoint { first, last };
        if let Err(e) = commit::write_checkpoint(&self.loc, topic, partition, cp).await {
            tracing::warn!(%topic, partition, error = %e, "Checkpoint hint not written; the next start lists more records.");
        }
        SinkBatchCommitted {
            topic,
            partition,
            records,
            bytes: record.files.iter().map(|f| f.bytes).sum(),
            files: record.files.len() as u64,
            dlq: dlq_records,
            latency: started.elapsed(),
        }
        .emit();
        Ok(RollOutcome::Committed(record))
    }

    /// Creates the commit record; `Ok(false)` when another writer owns the name.
    ///
    /// A create whose response was lost may have succeeded: when a retry then
    /// finds the name taken, the record is read back and counts as ours if it
    /// carries our writer id and attempt.
    async fn create_commit(&self, record: &CommitRecord) -> Result<bool> {
        let mut ambiguous = false;
        let mut delay = Duration::from_millis(500);
        for attempt in 0.. {
            match commit::create_commit(&self.loc, record).await {
                Ok(()) => return Ok(true),
                Err(Error::CommitConflict { .. }) if !ambiguous => return Ok(false),
                Err(Error::CommitConflict { .. }) => {
                    let name = layout::commit_record(&record.topic, record.partition, record.first);
                    let existing: Option<CommitRecord> =
                        commit::read_json(&self.loc, &name).await?;
                    return Ok(existing.is_some_and(|r| r.writer == record.writer));
                }
                Err(e) if e.is_retryable() && attempt < 5 => {
                    ambiguous = true;
                    metrics::retry(&record.topic, record.partition);
                    tracing::warn!(topic = %record.topic, partition = record.partition, error = %e, "Commit record write failed; retrying.");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }

    /// Deletes the files of a lost race. Best effort: what remains is an
    /// orphan that readers ignore and `lake compact` removes later.
    async fn delete_files(&self, record: &CommitRecord) {
        for file in &record.files {
            let path = self.loc.path(&file.path);
            if let Err(e) = self.loc.store.delete(&path).await {
                tracing::warn!(%path, error = %e, "Cannot delete the file of a lost commit; it stays as an orphan.");
            }
        }
    }
}
