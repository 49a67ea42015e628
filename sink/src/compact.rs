//! Compaction and garbage collection of the lake.
//!
//! Compaction merges the small live files of one partition's hour folder into
//! one file, then publishes the change as the partition's next compaction
//! generation (create-only). Readers apply a merge in one step, so they see
//! either the inputs or the output (see [`crate::lake::apply_records`]). Two
//! compactors racing collide on the generation's name; the loser deletes its
//! output. Commit records are never rewritten, so the sink's resume position
//! and the commit chain are untouched.
//!
//! Garbage collection deletes, once older than the safety age, files
//! superseded by a merge, and data files no record mentions (orphans of
//! crashes and lost races) *whose first offset the commit chain already
//! covers*. Such an orphan can never be committed: its commit record's name
//! (the first offset) is taken, so a create-only put of it fails. An orphan
//! beyond the chain's end may belong to a live sink between upload and
//! commit; it is kept, whatever the safety age, until a commit covers it.
//! The safety age must exceed the longest query.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch};
use arrow::compute::{concat_batches, sort_to_indices, take_record_batch};
use object_store::{ObjectStoreExt, PutPayload};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::commit::put_create;
use crate::error::{Error, Result};
use crate::lake::{Lake, PartitionSnapshot};
use crate::layout;
use crate::records::{CompactionRecord, FileEntry, Merge, RECORD_VERSION, now_ms};
use crate::writer::{OFFSET_COLUMN, encode_parquet};

/// What to compact and what to delete.
#[derive(Debug, Clone, Copy)]
pub struct CompactOptions {
    /// Only files committed longer ago than this are merged, and only objects
    /// older than this are garbage-collected.
    pub older_than: Duration,
    /// Files at least this large are left alone.
    pub small_file_bytes: u64,
    /// Whether to delete orphans and superseded files.
    pub gc: bool,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            older_than: Duration::from_secs(3600),
            small_file_bytes: 64 * 1024 * 1024,
            gc: true,
        }
    }
}

/// What a compaction run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Merged files written.
    pub merges: u64,
    /// Files they replaced.
    pub files_replaced: u64,
    /// Orphan files deleted.
    pub orphans_deleted: u64,
    /// Superseded files deleted.
    pub superseded_deleted: u64,
}

/// Compacts (and garbage-collects) every partition of every topic.
pub async fn compact(lake: &Lake, opts: CompactOptions) -> Result<CompactReport> {
    let mut report = CompactReport::default();
    let cutoff = now_ms() - i64::try_from(opts.older_than.as_millis()).unwrap_or(i64::MAX);
    for topic in lake.topics().await? {
        for partition in lake.partitions(&topic).await? {
            let snap = lake.partition(&topic, partition).await?;
            compact_partition(lake, &topic, partition, &snap, cutoff, opts, &mut report).await?;
        }
        if opts.gc {
            gc_topic(lake, &topic, cutoff, &mut report).await?;
        }
    }
    Ok(report)
}

async fn compact_partition(
    lake: &Lake,
    topic: &str,
    partition: i32,
    snap: &PartitionSnapshot,
    cutoff: i64,
    opts: CompactOptions,
    report: &mut CompactReport,
) -> Result<()> {
    let mut by_dir: BTreeMap<String, Vec<&FileEntry>> = BTreeMap::new();
    for (path, (entry, committed_at)) in &snap.live {
        if *committed_at <= cutoff && entry.bytes < opts.small_file_bytes {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
            by_dir.entry(dir).or_default().push(entry);
        }
    }
    let attempt = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut merges = Vec::new();
    for (dir, mut inputs) in by_dir.into_iter().filter(|(_, f)| f.len() >= 2) {
        inputs.sort_by_key(|f| f.first_offset);
        merges.push(merge_files(lake, topic, partition, &dir, &inputs, &attempt).await?);
    }
    if merges.is_empty() {
        return Ok(());
    }
    let generation = snap.compactions.last().map_or(1, |c| c.generation + 1);
    let record = CompactionRecord {
        version: RECORD_VERSION,
        topic: topic.to_owned(),
        partition,
        generation,
        merges,
        committed_at_ms: now_ms(),
    };
    let name = layout::compaction_record(topic, partition, generation);
    let body =
        serde_json::to_vec_pretty(&record).expect("records are plain data and always serialise");
    if !put_create(lake.location(), &name, body.into()).await? {
        for merge in &record.merges {
            let _ = lake
                .location()
                .store
                .delete(&lake.location().path(&merge.output.path))
                .await;
        }
        return Err(Error::CompactionConflict {
            path: lake.location().path(&name),
        });
    }
    for merge in &record.merges {
        report.merges += 1;
        report.files_replaced += merge.inputs.len() as u64;
    }
    tracing::info!(%topic, partition, generation, merges = record.merges.len(), "Compaction committed.");
    Ok(())
}

/// Reads `inputs` (one hour folder), writes them as one file sorted by offset.
async fn merge_files(
    lake: &Lake,
    topic: &str,
    partition: i32,
    dir: &str,
    inputs: &[&FileEntry],
    attempt: &str,
) -> Result<Merge> {
    let loc = lake.location();
    let mut batches: Vec<RecordBatch> = Vec::new();
    for input in inputs {
        let path = loc.path(&input.path);
        let bytes = loc
            .store
            .get(&path)
            .await
            .map_err(|e| Error::store("get", &path, e))?
            .bytes()
            .await
            .map_err(|e| Error::store("get", &path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| Error::parquet(format!("open {path}"), e))?
            .build()
            .map_err(|e| Error::parquet(format!("read {path}"), e))?;
        for batch in reader {
            batches.push(batch.map_err(|e| Error::arrow(format!("read {path}"), e))?);
        }
    }
    let schema = batches
        .first()
        .map(RecordBatch::schema)
        .ok_or_else(|| Error::arrow("merge", "inputs have no rows"))?;
    let all = concat_batches(&schema, &batches).map_err(|e| Error::arrow("concat", e))?;
    let offsets = all
        .column_by_name(OFFSET_COLUMN)
        .ok_or_else(|| Error::arrow("merge", "no _offset column"))?;
    let order = sort_to_indices(offsets, None, None).map_err(|e| Error::arrow("sort", e))?;
    let sorted = take_record_batch(&all, &order).map_err(|e| Error::arrow("take", e))?;
    let offsets = sorted
        .column_by_name(OFFSET_COLUMN)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| Error::arrow("merge", "_offset is not int64"))?;
    let (first, last) = (offsets.value(0), offsets.value(offsets.len() - 1));
    let bytes = encode_parquet(Arc::clone(&schema), &[sorted])?;
    let relative = format!("{dir}/{topic}+{partition}+{first:020}-{last:020}+c{attempt}.parquet");
    let path = loc.path(&relative);
    let size = bytes.len() as u64;
    loc.store
        .put(&path, PutPayload::from(bytes))
        .await
        .map_err(|e| Error::store("put", &path, e))?;
    Ok(Merge {
        inputs: inputs.iter().map(|f| f.path.clone()).collect(),
        output: FileEntry {
            path: relative,
            rows: inputs.iter().map(|f| f.rows).sum(),
            bytes: size,
            first_offset: first,
            last_offset: last,
            min_event_time_ms: inputs
                .iter()
                .map(|f| f.min_event_time_ms)
                .min()
                .unwrap_or_default(),
            max_event_time_ms: inputs
                .iter()
                .map(|f| f.max_event_time_ms)
                .max()
                .unwrap_or_default(),
        },
    })
}

/// Deletes a topic's orphans and superseded files older than `cutoff`.
async fn gc_topic(lake: &Lake, topic: &str, cutoff: i64, report: &mut CompactReport) -> Result<()> {
    let mut referenced = std::collections::BTreeSet::new();
    let mut superseded = BTreeMap::new();
    let mut watermarks = BTreeMap::new();
    for partition in lake.partitions(topic).await? {
        let snap = lake.partition(topic, partition).await?;
        referenced.extend(snap.referenced());
        superseded.extend(snap.superseded.clone());
        if let Some(watermark) = snap.watermark() {
            watermarks.insert(partition, watermark);
        }
    }
    for (path, modified_ms) in lake.raw_objects(topic).await? {
        let delete = match superseded.get(&path) {
            Some(&since) => since <= cutoff,
            None => {
                let covered =
                    layout::data_file_range(&path).is_some_and(|(partition, first, _)| {
                        watermarks.get(&partition).is_some_and(|&w| first <= w)
                    });
                covered && !referenced.contains(&path) && modified_ms <= cutoff
            }
        };
        if !delete {
            continue;
        }
        let full = lake.location().path(&path);
        lake.location()
            .store
            .delete(&full)
            .await
            .map_err(|e| Error::store("delete", &full, e))?;
        if superseded.contains_key(&path) {
            report.superseded_deleted += 1;
        } else {
            report.orphans_deleted += 1;
        }
    }
    Ok(())
}
