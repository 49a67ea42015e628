//! Every committed row of a raw topic, as typed events with their lake position.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use schemas::{Feed, RaceEvent, Rsvp, race_events_from_batch, rsvps_from_batch};
use sink::{Lake, OFFSET_COLUMN, PARTITION_COLUMN};

use crate::error::{Error, Result};
use crate::lake_source::{Offsets, TopicSnapshot, session_for, table_after};

/// An event and where it sits in the lake: `(partition, offset)` is its
/// identity and, within a partition, its order.
#[derive(Debug, Clone)]
pub(crate) struct Positioned<T> {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) event: T,
}

/// A topic's committed rows in lake order, with the snapshot's watermarks.
#[derive(Debug)]
pub(crate) struct TopicRows<T> {
    pub(crate) rows: Vec<Positioned<T>>,
    pub(crate) watermarks: Offsets,
}

/// All committed RSVPs.
pub(crate) async fn rsvps(lake: &Lake, topic: &str) -> Result<TopicRows<Rsvp>> {
    read(lake, topic, Feed::Rsvps, |b| {
        rsvps_from_batch(b).map_err(|e| Error::Data(format!("RSVP rows of the lake: {e}")))
    })
    .await
}

/// All committed race events.
pub(crate) async fn race_events(lake: &Lake, topic: &str) -> Result<TopicRows<RaceEvent>> {
    read(lake, topic, Feed::Race, |b| {
        race_events_from_batch(b).map_err(|e| Error::Data(format!("race rows of the lake: {e}")))
    })
    .await
}

/// Reads one consistent snapshot of `topic` (every committed row up to its
/// watermarks) and decodes it, sorted by `(partition, offset)`.
async fn read<T>(
    lake: &Lake,
    topic: &str,
    feed: Feed,
    decode: impl Fn(&RecordBatch) -> Result<Vec<T>>,
) -> Result<TopicRows<T>> {
    let snapshot = TopicSnapshot::take(lake, topic, feed).await?;
    let ctx = session_for(lake)?;
    let table = table_after(&ctx, &snapshot, &Offsets::new()).await?;
    let batches = ctx.read_table(table)?.collect().await?;
    let mut rows = Vec::new();
    for batch in &batches {
        let partitions = column(batch, PARTITION_COLUMN)?.as_primitive_opt::<Int32Type>();
        let offsets = column(batch, OFFSET_COLUMN)?.as_primitive_opt::<Int64Type>();
        let (Some(partitions), Some(offsets)) = (partitions, offsets) else {
            return Err(Error::Data(format!(
                "{topic}: {PARTITION_COLUMN}/{OFFSET_COLUMN} are not int32/int64"
            )));
        };
        for (i, event) in decode(batch)?.into_iter().enumerate() {
            rows.push(Positioned {
                partition: partitions.value(i),
                offset: offsets.value(i),
                event,
            });
        }
    }
    rows.sort_by_key(|r| (r.partition, r.offset));
    tracing::debug!(topic, rows = rows.len(), "Read the lake for training.");
    Ok(TopicRows {
        rows,
        watermarks: snapshot.watermarks,
    })
}

fn column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a dyn datafusion::arrow::array::Array> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| Error::Data(format!("lake batch has no {name} column")))
}
