//! The lake as DataFusion tables: only committed files, only the offsets a run covers.
//!
//! Readers never list `raw/` (that shows orphans of crashed writers); they take
//! the file list from the commit records ([`sink::Lake`]). A [`LakeSnapshot`]
//! is read once per run so that its files and its watermarks agree: the
//! watermark of a partition is the last offset of its own commit chain, and
//! every live file lies at or below it.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::SessionContext;
use schemas::Feed;
use sink::{CommittedFile, Lake, OFFSET_COLUMN, PARTITION_COLUMN, lake_schema};

use crate::engine;
use crate::error::Result;

/// Per-partition offsets: for a snapshot the last committed offset
/// (inclusive); for a range start the last offset already loaded.
pub type Offsets = BTreeMap<i32, i64>;

/// One topic's committed files and watermarks, read together.
#[derive(Debug, Clone)]
pub struct TopicSnapshot {
    /// The Kafka topic.
    pub topic: String,
    /// Which feed's schema its files have.
    pub feed: Feed,
    /// Live committed files, by partition then first offset.
    pub files: Vec<CommittedFile>,
    /// Last committed offset per partition.
    pub watermarks: Offsets,
    /// A lake folder that never holds files ([`EMPTY_FOLDER`]): what the
    /// table of an empty delta lists (see [`table_after`]).
    pub empty_url: String,
}

/// The lake folder an empty delta's table lists: nothing writes there.
pub const EMPTY_FOLDER: &str = "_empty";

impl TopicSnapshot {
    /// Reads the commit records of every partition of `topic` once.
    pub async fn take(lake: &Lake, topic: &str, feed: Feed) -> Result<Self> {
        let mut files = Vec::new();
        let mut watermarks = Offsets::new();
        for partition in lake.partitions(topic).await? {
            let snap = lake.partition(topic, partition).await?;
            if let Some(w) = snap.watermark() {
                watermarks.insert(partition, w);
            }
            files.extend(snap.committed_files(lake.location(), topic, partition));
        }
        Ok(Self {
            topic: topic.to_owned(),
            feed,
            files,
            watermarks,
            empty_url: format!("{}/", lake.location().url(EMPTY_FOLDER)),
        })
    }

    /// Files holding at least one offset in `(after[p], watermark[p]]`
    /// (`after` missing a partition = from its start).
    pub fn files_after(&self, after: &Offsets) -> Vec<&CommittedFile> {
        self.files
            .iter()
            .filter(|f| after.get(&f.partition).is_none_or(|a| f.last > *a))
            .collect()
    }

    /// Rows of the snapshot past `after`: the number a load will read.
    pub fn rows_after(&self, after: &Offsets) -> u64 {
        self.files_after(after).iter().map(|f| f.rows).sum()
    }
}

/// A local DataFusion session that can read the lake's store, with the
/// options every batch plan needs ([`engine::session_config`]).
pub fn session_for(lake: &Lake) -> Result<SessionContext> {
    Ok(SessionContext::new_with_config_rt(
        engine::session_config(),
        engine::lake_runtime(lake)?,
    ))
}

/// A table over exactly the rows of `snapshot` with offsets in
/// `(after[p], watermark[p]]`: the committed files that overlap that range,
/// filtered to it (a compacted file may straddle the previous watermark).
pub async fn table_after(
    ctx: &SessionContext,
    snapshot: &TopicSnapshot,
    after: &Offsets,
) -> Result<Arc<dyn TableProvider>> {
    let schema = lake_schema(snapshot.feed);
    let files = snapshot.files_after(after);
    let mut urls = files
        .iter()
        .map(|f| ListingTableUrl::parse(&f.url))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if urls.is_empty() {
        // An empty delta lists a folder with no files: it scans nothing,
        // yet plans like any other delta. Not an in-memory table (a plan
        // over it cannot be shipped to Ballista), nor an empty relation
        // (the optimizer folds plans over it into shapes Ballista 55
        // cannot decode: `No field named
        // "__unnest_placeholder(race_delta.grid)"`), nor a listing of no
        // paths (DataFusion asserts there is one).
        urls.push(ListingTableUrl::parse(&snapshot.empty_url)?);
    }
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    let files_table = Arc::new(ListingTable::try_new(config)?);
    if files.is_empty() {
        return Ok(files_table);
    }
    let df = ctx.read_table(files_table)?;
    let df = match range_filter(snapshot, after) {
        Some(filter) => df.filter(filter)?,
        None => df,
    };
    Ok(df.into_view())
}

/// `OR` over partitions of `_partition = p AND _offset > a AND _offset <= w`,
/// or `None` when the files hold exactly the range already (no previous
/// offsets: every committed row is wanted).
fn range_filter(snapshot: &TopicSnapshot, after: &Offsets) -> Option<Expr> {
    if after.is_empty() {
        return None;
    }
    snapshot
        .watermarks
        .iter()
        .filter(|(p, w)| after.get(p).is_none_or(|a| *w > a))
        .map(|(p, w)| {
            let mut e = col(PARTITION_COLUMN)
                .eq(lit(*p))
                .and(col(OFFSET_COLUMN).lt_eq(lit(*w)));
            if let Some(a) = after.get(p) {
                e = e.and(col(OFFSET_COLUMN).gt(lit(*a)));
            }
            e
        })
        .reduce(Expr::or)
        .or(Some(lit(false)))
}
