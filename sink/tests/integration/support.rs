//! Producing fixtures into fresh topics, running sinks in-process, and reading
//! the lake back through DataFusion SQL over the committed files only.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use sink::{Lake, LakeLocation};
pub(crate) use testkit::lake::{
    RunningSink, config, fresh_lake, open_lake, produce, race_key, rsvp_key, wait_for_lake,
};

/// Every row of the committed files of `topic`, by (partition, offset), read
/// through DataFusion SQL with the store registered as a reader would.
pub(crate) async fn read_lake(lake: &Lake, topic: &str) -> RecordBatch {
    let files = lake.committed_files(topic).await.expect("committed files");
    assert!(!files.is_empty(), "no committed files for {topic}");
    let config = SessionConfig::new().set_bool(
        "datafusion.execution.parquet.schema_force_view_types",
        false,
    );
    let ctx = SessionContext::new_with_config(config);
    let loc: &LakeLocation = lake.location();
    let store_url = url::Url::parse(&loc.store_url).expect("store URL");
    if store_url.scheme() == "s3" {
        ctx.register_object_store(&store_url, Arc::clone(&loc.store));
    }
    let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
    let df = ctx
        .read_parquet(urls, ParquetReadOptions::default())
        .await
        .expect("read the committed files");
    ctx.register_table("lake", df.into_view())
        .expect("register");
    let batches = ctx
        .sql("SELECT * FROM lake ORDER BY _partition, _offset")
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let schema = batches.first().expect("rows").schema();
    concat_batches(&schema, &batches).expect("concat")
}

/// The (partition, offset) of every row, in row order.
pub(crate) fn positions(batch: &RecordBatch) -> Vec<(i32, i64)> {
    let p = batch
        .column_by_name("_partition")
        .expect("_partition")
        .as_primitive::<Int32Type>();
    let o = batch
        .column_by_name("_offset")
        .expect("_offset")
        .as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .map(|i| (p.value(i), o.value(i)))
        .collect()
}

/// The (partition, offset) of every row, asserting none appears twice.
pub(crate) fn positions_exactly_once(batch: &RecordBatch) -> Vec<(i32, i64)> {
    let positions = positions(batch);
    let distinct: HashSet<_> = positions.iter().collect();
    assert_eq!(
        distinct.len(),
        positions.len(),
        "an offset is in the lake more than once"
    );
    positions
}
