//! Reading and writing the lake's records: the create-only commit that makes
//! files part of the lake, and the resume position derived from the records.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::layout;
use crate::location::LakeLocation;
use crate::records::{Checkpoint, CommitRecord};

/// Creates `relative` with `body` only if no object has that name.
/// `Ok(false)` means another writer got there first.
pub(crate) async fn put_create(loc: &LakeLocation, relative: &str, body: Bytes) -> Result<bool> {
    let path = loc.path(relative);
    let opts = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    match loc
        .store
        .put_opts(&path, PutPayload::from(body), opts)
        .await
    {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(Error::store("create", &path, e)),
    }
}

fn to_json<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(
        serde_json::to_vec_pretty(value).expect("records are plain data and always serialise"),
    )
}

/// Writes the commit record of `record`'s range, create-only.
///
/// Call only after every file it lists is fully uploaded. An existing record
/// of the same first offset means a racing sink committed this range (or an
/// overlapping one) first: [`Error::CommitConflict`].
pub async fn create_commit(loc: &LakeLocation, record: &CommitRecord) -> Result<()> {
    let relative = layout::commit_record(&record.topic, record.partition, record.first);
    if put_create(loc, &relative, to_json(record)).await? {
        Ok(())
    } else {
        Err(Error::CommitConflict {
            topic: record.topic.clone(),
            partition: record.partition,
            first: record.first,
            path: loc.path(&relative),
        })
    }
}

/// Reads and decodes a JSON record; `None` when it does not exist.
pub(crate) async fn read_json<T: DeserializeOwned>(
    loc: &LakeLocation,
    relative: &str,
) -> Result<Option<T>> {
    let path = loc.path(relative);
    let bytes = match loc.store.get(&path).await {
        Ok(got) => got
            .bytes()
            .await
            .map_err(|e| Error::store("get", &path, e))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(Error::store("get", &path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| Error::Record { path, source })
}

/// Overwrites the partition's checkpoint hint. Losing it costs only a longer
/// listing at the next start; a stale one is harmless (records after it are
/// still listed).
pub(crate) async fn write_checkpoint(
    loc: &LakeLocation,
    topic: &str,
    partition: i32,
    cp: Checkpoint,
) -> Result<()> {
    let path = loc.path(&layout::checkpoint(topic, partition));
    loc.store
        .put(&path, PutPayload::from(to_json(&cp)))
        .await
        .map(|_| ())
        .map_err(|e| Error::store("put", &path, e))
}

/// The lake-relative names of the records in `dir` whose name sorts after
/// `after` (all when `None`), in name (= offset/generation) order.
pub(crate) async fn list_records(
    loc: &LakeLocation,
    dir: &str,
    after: Option<&str>,
) -> Result<Vec<String>> {
    let prefix = loc.path(dir);
    let stream = match after {
        Some(after) => loc.store.list_with_offset(Some(&prefix), &loc.path(after)),
        None => loc.store.list(Some(&prefix)),
    };
    let metas: Vec<_> = stream
        .try_collect()
        .await
        .map_err(|e| Error::store("list", &prefix, e))?;
    let mut names: Vec<String> = metas
        .iter()
        .filter_map(|m| loc.relative(&m.location))
        .filter(|name| layout::record_number(name).is_some())
        .collect();
    names.sort();
    Ok(names)
}

/// Reads the records named, concurrently (a listing of many small objects
/// is latency-bound).
pub(crate) async fn read_all<T: DeserializeOwned>(
    loc: &LakeLocation,
    names: &[String],
) -> Result<Vec<T>> {
    futures::stream::iter(names.iter().map(|name| async move {
        read_json::<T>(loc, name).await?.ok_or_else(|| {
            Error::store(
                "get",
                &loc.path(name),
                object_store::Error::NotFound {
                    path: name.clone(),
                    source: "listed but gone".into(),
                },
            )
        })
    }))
    .buffered(16)
    .try_collect()
    .await
}

/// Where a partition continues: the last committed offset + 1, or 0 when the
/// partition has no commit record.
///
/// Reads the checkpoint hint, then lists only the commit records named after
/// it, so startup costs one GET and one short LIST however long the lake's
/// history. Returns the position and the newest record read, if any.
pub async fn next_offset(loc: &LakeLocation, topic: &str, partition: i32) -> Result<i64> {
    let checkpoint: Option<Checkpoint> =
        read_json(loc, &layout::checkpoint(topic, partition)).await?;
    let after = checkpoint.map(|cp| layout::commit_record(topic, partition, cp.first));
    let names = list_records(loc, &layout::commit_dir(topic, partition), after.as_deref()).await?;
    match names.last() {
        Some(newest) => {
            let record: Option<CommitRecord> = read_json(loc, newest).await?;
            let record = record.ok_or_else(|| Error::Corrupt {
                topic: topic.to_owned(),
                partition,
                problem: format!("commit record {newest} was listed but cannot be read"),
            })?;
            Ok(record.last + 1)
        }
        None => Ok(checkpoint.map_or(0, |cp| cp.last + 1)),
    }
}
