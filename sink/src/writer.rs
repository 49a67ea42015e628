//! Buffers one partition's records as Arrow columns, grouped by ingest
//! hour, and encodes each group as one Parquet file when the partition rolls.
//!
//! Records are parsed once (by `stage`, off the consumer task) straight into
//! the schemas crate's column builders; nothing per record survives but
//! column values.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Int32Array, Int64Builder, RecordBatch, StringArray, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use schemas::{Feed, FeedEvent, RaceBatchBuilder, RsvpBatchBuilder, race_schema, rsvp_schema};

use crate::error::{Error, Result};
use crate::layout::HourBucket;

/// Column names the sink adds to every lake table.
pub const TOPIC_COLUMN: &str = "_topic";
/// Kafka partition (int32).
pub const PARTITION_COLUMN: &str = "_partition";
/// Kafka offset (int64): with `_partition`, the row's identity.
pub const OFFSET_COLUMN: &str = "_offset";
/// When the sink consumed the record (timestamp ms, UTC).
pub const INGEST_TIME_COLUMN: &str = "_ingest_time";

/// Rows per Parquet row group: large enough for good compression and few
/// footers, small enough that statistics prune at a useful grain.
const ROW_GROUP_ROWS: usize = 128 * 1024;

fn ts_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn with_meta(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(TOPIC_COLUMN, DataType::Utf8, false));
    fields.push(Field::new(PARTITION_COLUMN, DataType::Int32, false));
    fields.push(Field::new(OFFSET_COLUMN, DataType::Int64, false));
    fields.push(Field::new(INGEST_TIME_COLUMN, ts_ms(), false));
    Arc::new(Schema::new(fields))
}

static RSVP_LAKE: LazyLock<SchemaRef> = LazyLock::new(|| with_meta(&rsvp_schema()));
static RACE_LAKE: LazyLock<SchemaRef> = LazyLock::new(|| with_meta(&race_schema()));

/// The schema of a feed's lake files: the feed's columns, then `_topic`,
/// `_partition`, `_offset`, `_ingest_time`.
pub fn lake_schema(feed: Feed) -> SchemaRef {
    match feed {
        Feed::Rsvps => Arc::clone(&RSVP_LAKE),
        Feed::Race => Arc::clone(&RACE_LAKE),
    }
}

/// Parquet settings of every lake file: zstd, page statistics, sized row groups.
pub(crate) fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(concat!("billabong-sink ", env!("CARGO_PKG_VERSION")).to_owned())
        .build()
}

/// Encodes batches as one Parquet file in memory.
pub(crate) fn encode_parquet(schema: SchemaRef, batches: &[RecordBatch]) -> Result<Bytes> {
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(writer_properties()))
        .map_err(|e| Error::parquet("open writer", e))?;
    for batch in batches {
        writer
            .write(batch)
            .map_err(|e| Error::parquet("write batch", e))?;
    }
    writer
        .close()
        .map_err(|e| Error::parquet("close writer", e))?;
    Ok(Bytes::from(out))
}

/// Both variants are large column-builder sets of similar size; boxing would
/// add an indirection per record for nothing.
#[allow(clippy::large_enum_variant)]
enum FeedBuilder {
    Rsvp(RsvpBatchBuilder),
    Race(RaceBatchBuilder),
}

/// One hour folder's rows of the open batch.
struct HourGroup {
    builder: FeedBuilder,
    offsets: Int64Builder,
    ingest: TimestampMillisecondBuilder,
    first_offset: i64,
    last_offset: i64,
    min_ts: i64,
    max_ts: i64,
}

/// A finished group: the Parquet bytes and what the commit record says of them.
#[derive(Debug)]
pub(crate) struct EncodedFile {
    pub(crate) hour: HourBucket,
    pub(crate) bytes: Bytes,
    pub(crate) rows: u64,
    pub(crate) first_offset: i64,
    pub(crate) last_offset: i64,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
}

/// The open (uncommitted) batch of one partition.
pub(crate) struct PartitionBuffer {
    topic: Arc<str>,
    partition: i32,
    feed: Feed,
    groups: BTreeMap<HourBucket, HourGroup>,
    /// Records consumed into this batch (rows + DLQ).
    pub(crate) records: u64,
    /// Records of this batch sent to the DLQ.
    pub(crate) dlq_records: u64,
    /// Last offset consumed into this batch.
    pub(crate) last_offset: Option<i64>,
}

impl PartitionBuffer {
    pub(crate) fn new(topic: Arc<str>, partition: i32, feed: Feed) -> Self {
        Self {
            topic,
            partition,
            feed,
            groups: BTreeMap::new(),
            records: 0,
            dlq_records: 0,
            last_offset: None,
        }
    }

    fn note(&mut self, offset: i64) {
        self.records += 1;
        self.last_offset = Some(offset);
    }

    /// Appends a parsed record.
    pub(crate) fn push(&mut self, event: &FeedEvent, offset: i64, ingest_ms: i64) -> Result<()> {
        let ts = event.event_time_ms();
        let feed = self.feed;
        let group = self
            .groups
            // Folders by ingest hour, not event hour: the real feed replays
            // RSVPs up to 37 days old, and event-hour folders turned each of
            // them into a one-row file. Event-time pruning uses the commit
            // records' and Parquet's min/max statistics instead.
            .entry(HourBucket::of_ms(ingest_ms))
            .or_insert_with(|| HourGroup {
                builder: match feed {
                    Feed::Rsvps => FeedBuilder::Rsvp(RsvpBatchBuilder::with_capacity(1024)),
                    Feed::Race => FeedBuilder::Race(RaceBatchBuilder::with_capacity(1024)),
                },
                offsets: Int64Builder::with_capacity(1024),
                ingest: TimestampMillisecondBuilder::with_capacity(1024).with_timezone("UTC"),
                first_offset: offset,
                last_offset: offset,
                min_ts: ts,
                max_ts: ts,
            });
        match (&mut group.builder, event) {
            (FeedBuilder::Rsvp(b), FeedEvent::Rsvp(r)) => b.push(r),
            (FeedBuilder::Race(b), FeedEvent::Race(e)) => b.push(e),
            _ => {
                return Err(Error::arrow(
                    "push",
                    "an event of another feed reached this partition's builder",
                ));
            }
        }
        .map_err(|e| Error::arrow("push", e))?;
        group.offsets.append_value(offset);
        group.ingest.append_value(ingest_ms);
        group.last_offset = offset;
        group.min_ts = group.min_ts.min(ts);
        group.max_ts = group.max_ts.max(ts);
        self.note(offset);
        Ok(())
    }

    /// Accounts for a record that went to the DLQ: its offset is covered by
    /// the next commit, but it has no row.
    pub(crate) fn push_dlq(&mut self, offset: i64) {
        self.dlq_records += 1;
        self.note(offset);
    }

    /// Encodes every hour group and empties the buffer.
    pub(crate) fn take_files(&mut self) -> Result<Vec<EncodedFile>> {
        let schema = lake_schema(self.feed);
        let groups = std::mem::take(&mut self.groups);
        self.records = 0;
        self.dlq_records = 0;
        self.last_offset = None;
        let mut files = Vec::with_capacity(groups.len());
        for (hour, mut g) in groups {
            let mut batch = match &mut g.builder {
                FeedBuilder::Rsvp(b) => b.finish(),
                FeedBuilder::Race(b) => b.finish(),
            }
            .map_err(|e| Error::arrow("finish", e))?;
            let rows = batch.num_rows();
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            columns.push(Arc::new(StringArray::from_iter_values(
                std::iter::repeat_n(&*self.topic, rows),
            )));
            columns.push(Arc::new(Int32Array::from(vec![self.partition; rows])));
            columns.push(Arc::new(g.offsets.finish()));
            columns.push(Arc::new(g.ingest.finish()));
            batch = RecordBatch::try_new(Arc::clone(&schema), columns)
                .map_err(|e| Error::arrow("lake batch", e))?;
            files.push(EncodedFile {
                hour,
                bytes: encode_parquet(Arc::clone(&schema), &[batch])?,
                rows: rows as u64,
                first_offset: g.first_offset,
                last_offset: g.last_offset,
                min_ts: g.min_ts,
                max_ts: g.max_ts,
            });
        }
        Ok(files)
    }
}
