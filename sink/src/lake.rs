//! Reading the lake: which files are part of it, and up to which offset.
//!
//! A file is part of the lake when a commit record lists it and no applied
//! compaction has replaced it. Readers (the batch layer, `billabong sql`,
//! `lake ls`) must take their file lists from here, never from a directory
//! listing, which also shows orphans of crashed or racing writers.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;

use crate::commit::{list_records, read_all};
use crate::error::{Error, Result};
use crate::layout;
use crate::location::LakeLocation;
use crate::records::{CommitRecord, CompactionRecord, FileEntry};

/// A file readers must read: committed and not superseded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedFile {
    /// Kafka topic.
    pub topic: String,
    /// Kafka partition.
    pub partition: i32,
    /// Lake-relative path (`raw/...parquet`).
    pub path: String,
    /// A URL a query engine can read (`s3://bucket/...`, `file:///...`).
    pub url: String,
    /// Smallest `_offset` in the file.
    pub first: i64,
    /// Largest `_offset` in the file.
    pub last: i64,
    /// Rows in the file.
    pub rows: u64,
    /// Bytes of the file.
    pub bytes: u64,
    /// Event-time range of the rows (ms since the epoch).
    pub min_event_time_ms: i64,
    /// Event-time range of the rows (ms since the epoch).
    pub max_event_time_ms: i64,
    /// When the record that made this file live was written (ms).
    pub committed_at_ms: i64,
}

/// One partition as the records describe it.
#[derive(Debug, Clone, Default)]
pub struct PartitionSnapshot {
    /// Commit records in offset order; they tile `[0, watermark]`.
    pub commits: Vec<CommitRecord>,
    /// Compaction generations in order.
    pub compactions: Vec<CompactionRecord>,
    /// Live files (committed, not superseded), by path.
    pub live: BTreeMap<String, (FileEntry, i64)>,
    /// Files replaced by an applied merge, with the merge's time (ms).
    pub superseded: BTreeMap<String, i64>,
}

impl PartitionSnapshot {
    /// The last committed offset, if any.
    pub fn watermark(&self) -> Option<i64> {
        self.commits.last().map(|c| c.last)
    }

    /// The live files as readers see them, by first offset.
    pub fn committed_files(
        &self,
        loc: &LakeLocation,
        topic: &str,
        partition: i32,
    ) -> Vec<CommittedFile> {
        let mut files: Vec<CommittedFile> = self
            .live
            .values()
            .map(|(f, committed_at_ms)| CommittedFile {
                topic: topic.to_owned(),
                partition,
                url: loc.url(&f.path),
                path: f.path.clone(),
                first: f.first_offset,
                last: f.last_offset,
                rows: f.rows,
                bytes: f.bytes,
                min_event_time_ms: f.min_event_time_ms,
                max_event_time_ms: f.max_event_time_ms,
                committed_at_ms: *committed_at_ms,
            })
            .collect();
        files.sort_by_key(|f| (f.first, f.path.clone()));
        files
    }

    /// Every data file any record mentions (live, superseded, or output of
    /// a merge that was not applied): what garbage collection must not treat
    /// as an orphan.
    pub fn referenced(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self
            .commits
            .iter()
            .flat_map(|c| c.files.iter().map(|f| f.path.clone()))
            .collect();
        for comp in &self.compactions {
            for merge in &comp.merges {
                all.insert(merge.output.path.clone());
                all.extend(merge.inputs.iter().cloned());
            }
        }
        all
    }
}

/// Applies the records: files of the commits, then each compaction's merges
/// in generation order. A merge applies only when all its inputs are live:
/// then its inputs leave and its output enters in one step (one record), so a
/// reader sees either the inputs or the output, never both or neither. A
/// merge whose inputs are not all live (a reader whose commit listing
/// predates them) is skipped, so the snapshot stays consistent with its
/// watermark.
pub fn apply_records(
    commits: Vec<CommitRecord>,
    compactions: Vec<CompactionRecord>,
) -> PartitionSnapshot {
    let mut live = BTreeMap::new();
    for c in &commits {
        for f in &c.files {
            live.insert(f.path.clone(), (f.clone(), c.committed_at_ms));
        }
    }
    let mut superseded = BTreeMap::new();
    for comp in &compactions {
        for merge in &comp.merges {
            if merge.inputs.iter().all(|i| live.contains_key(i)) {
                for input in &merge.inputs {
                    live.remove(input);
                    superseded.insert(input.clone(), comp.committed_at_ms);
                }
                live.insert(
                    merge.output.path.clone(),
                    (merge.output.clone(), comp.committed_at_ms),
                );
            }
        }
    }
    PartitionSnapshot {
        commits,
        compactions,
        live,
        superseded,
    }
}

/// Checks that a partition's commit records tile its offsets: each starts
/// right after the previous one ends.
fn check_chain(topic: &str, partition: i32, commits: &[CommitRecord]) -> Result<()> {
    let mut expected = commits.first().map_or(0, |c| c.first);
    for c in commits {
        if c.first != expected || c.last < c.first {
            return Err(Error::Corrupt {
                topic: topic.to_owned(),
                partition,
                problem: format!(
                    "commit [{}, {}] does not continue at offset {expected}",
                    c.first, c.last
                ),
            });
        }
        expected = c.last + 1;
    }
    Ok(())
}

/// The reader's handle on a lake.
#[derive(Debug, Clone)]
pub struct Lake {
    loc: LakeLocation,
}

impl Lake {
    /// Opens `s3://bucket/prefix` or `file:///path` (see [`LakeLocation::open`]).
    pub fn open(url: &str) -> Result<Self> {
        Ok(Self {
            loc: LakeLocation::open(url)?,
        })
    }

    /// Opens with S3 settings overriding the environment (see
    /// [`LakeLocation::open_with_options`]).
    pub fn open_with_options(url: &str, options: &[(String, String)]) -> Result<Self> {
        Ok(Self {
            loc: LakeLocation::open_with_options(url, options)?,
        })
    }

    /// A lake over an opened location.
    pub fn from_location(loc: LakeLocation) -> Self {
        Self { loc }
    }

    /// Where the lake lives (store, root, store URL for query engines).
    pub fn location(&self) -> &LakeLocation {
        &self.loc
    }

    async fn child_names(&self, relative: &str) -> Result<Vec<String>> {
        let prefix = self.loc.path(relative);
        let listing = self
            .loc
            .store
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(|e| Error::store("list", &prefix, e))?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect())
    }

    /// Topics with at least one commit record.
    pub async fn topics(&self) -> Result<Vec<String>> {
        let mut topics = self.child_names(layout::COMMITS_ROOT).await?;
        topics.sort();
        Ok(topics)
    }

    /// Partitions of `topic` with at least one commit record.
    pub async fn partitions(&self, topic: &str) -> Result<Vec<i32>> {
        let mut parts: Vec<i32> = self
            .child_names(&format!("{}/{topic}", layout::COMMITS_ROOT))
            .await?
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect();
        parts.sort_unstable();
        Ok(parts)
    }

    /// Reads one partition's records (commits first, then compactions: see
    /// [`apply_records`] for why that order keeps a snapshot consistent).
    pub async fn partition(&self, topic: &str, partition: i32) -> Result<PartitionSnapshot> {
        let names = list_records(&self.loc, &layout::commit_dir(topic, partition), None).await?;
        let commits: Vec<CommitRecord> = read_all(&self.loc, &names).await?;
        check_chain(topic, partition, &commits)?;
        let names =
            list_records(&self.loc, &layout::compaction_dir(topic, partition), None).await?;
        let compactions: Vec<CompactionRecord> = read_all(&self.loc, &names).await?;
        Ok(apply_records(commits, compactions))
    }

    /// Every live file of `topic`, by partition then first offset.
    pub async fn committed_files(&self, topic: &str) -> Result<Vec<CommittedFile>> {
        let mut out = Vec::new();
        for partition in self.partitions(topic).await? {
            let snap = self.partition(topic, partition).await?;
            let files = snap.committed_files(&self.loc, topic, partition);
            out.extend(files);
        }
        Ok(out)
    }

    /// The last committed offset of every partition of `topic`: a batch run
    /// over [`Lake::committed_files`] covers exactly the offsets ≤ these.
    pub async fn watermarks(&self, topic: &str) -> Result<BTreeMap<i32, i64>> {
        let mut out = BTreeMap::new();
        for partition in self.partitions(topic).await? {
            let next = crate::commit::next_offset(&self.loc, topic, partition).await?;
            if next > 0 {
                out.insert(partition, next - 1);
            }
        }
        Ok(out)
    }

    /// Every data object under a topic's `raw/` folder with its age source
    /// (last modified, ms): the input of garbage collection.
    pub(crate) async fn raw_objects(&self, topic: &str) -> Result<Vec<(String, i64)>> {
        let prefix = self.loc.path(&layout::raw_dir(topic));
        let metas: Vec<_> = self
            .loc
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| Error::store("list", &prefix, e))?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                Some((
                    self.loc.relative(&m.location)?,
                    m.last_modified.timestamp_millis(),
                ))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Merge, RECORD_VERSION};

    fn file(path: &str, first: i64, last: i64) -> FileEntry {
        FileEntry {
            path: path.into(),
            rows: (last - first + 1) as u64,
            bytes: 10,
            first_offset: first,
            last_offset: last,
            min_event_time_ms: 0,
            max_event_time_ms: 0,
        }
    }

    fn commit(first: i64, last: i64, files: Vec<FileEntry>) -> CommitRecord {
        CommitRecord {
            version: RECORD_VERSION,
            topic: "t".into(),
            partition: 0,
            first,
            last,
            rows: files.iter().map(|f| f.rows).sum(),
            dlq_records: 0,
            files,
            event_time_watermark_ms: None,
            writer: "w".into(),
            committed_at_ms: 1,
        }
    }

    fn compaction(generation: u64, inputs: &[&str], output: FileEntry) -> CompactionRecord {
        CompactionRecord {
            version: RECORD_VERSION,
            topic: "t".into(),
            partition: 0,
            generation,
            merges: vec![Merge {
                inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
                output,
            }],
            committed_at_ms: 2,
        }
    }

    #[test]
    fn a_merge_replaces_its_inputs_in_one_step() {
        let commits = vec![
            commit(0, 9, vec![file("a", 0, 9)]),
            commit(10, 19, vec![file("b", 10, 19)]),
        ];
        let snap = apply_records(
            commits.clone(),
            vec![compaction(1, &["a", "b"], file("ab", 0, 19))],
        );
        assert_eq!(snap.live.keys().collect::<Vec<_>>(), ["ab"]);
        assert_eq!(snap.referenced().len(), 3);
        // A merge naming a file this snapshot does not have is not applied.
        let snap = apply_records(
            commits[..1].to_vec(),
            vec![compaction(1, &["a", "b"], file("ab", 0, 19))],
        );
        assert_eq!(snap.live.keys().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn chains_with_gaps_or_overlaps_are_refused() {
        assert!(check_chain("t", 0, &[commit(0, 9, vec![]), commit(10, 12, vec![])]).is_ok());
        assert!(check_chain("t", 0, &[commit(0, 9, vec![]), commit(9, 12, vec![])]).is_err());
        assert!(check_chain("t", 0, &[commit(0, 9, vec![]), commit(11, 12, vec![])]).is_err());
    }
}
