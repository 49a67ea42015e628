//! Compaction merges small committed files per partition-hour without
//! changing the row multiset; garbage collection removes orphans and the
//! superseded files; readers see the lake whole before and after.

use std::time::Duration;

use object_store::{ObjectStoreExt, PutPayload};
use schemas::Feed;
use sink::CompactOptions;
use testkit::Services;
use testkit::fixtures::rsvp_lines;

use crate::support::{
    RunningSink, config, fresh_lake, open_lake, produce, read_lake, rsvp_key, wait_for_lake,
};

async fn compaction_keeps_the_rows(s3: bool) {
    let topic = Services::get().kafka().fresh_topic("sink-compact", 2).await;
    let at = produce(&topic, &rsvp_lines(), rsvp_key).await;
    let lake_url = fresh_lake(s3, "compact");
    let mut cfg = config(
        &lake_url,
        &[(&topic, Feed::Rsvps)],
        &testkit::unique_name("g"),
    );
    cfg.roll.records = 100;
    let sink = RunningSink::start(cfg);
    let lake = open_lake(&lake_url);
    wait_for_lake(&lake, &topic, &at, Duration::from_secs(300)).await;
    sink.stop().await;

    // An orphan, as a crashed sink leaves behind.
    let orphan = lake.location().path(&format!(
        "raw/{topic}/date=2017-03-01/hour=00/{topic}+0+1-2+dead.parquet"
    ));
    lake.location()
        .store
        .put(&orphan, PutPayload::from_static(b"junk"))
        .await
        .expect("orphan written");

    let before = read_lake(&lake, &topic).await;
    let files_before = lake.committed_files(&topic).await.expect("files");
    let marks_before = lake.watermarks(&topic).await.expect("watermarks");
    let opts = CompactOptions {
        older_than: Duration::ZERO,
        ..CompactOptions::default()
    };
    let report = sink::compact(&lake, opts).await.expect("compaction");
    let files_after = lake.committed_files(&topic).await.expect("files");
    eprintln!(
        "compaction: {report:?}; files {} -> {}",
        files_before.len(),
        files_after.len()
    );
    assert!(report.merges > 0 && files_after.len() < files_before.len());
    assert_eq!(report.orphans_deleted, 1);
    assert_eq!(
        report.superseded_deleted, 0,
        "superseded files age from the compaction, which is younger than this run's cutoff"
    );
    let after = read_lake(&lake, &topic).await;
    assert_eq!(before.num_rows(), after.num_rows());
    assert_eq!(
        before.columns(),
        after.columns(),
        "same rows, same values, same order by (partition, offset)"
    );
    assert_eq!(
        lake.watermarks(&topic).await.expect("watermarks"),
        marks_before
    );
    let rows: u64 = files_after.iter().map(|f| f.rows).sum();
    assert_eq!(
        rows,
        before.num_rows() as u64,
        "the listing's row counts match the data"
    );

    // A second run finds nothing more to merge, and (safety age 0) collects
    // the superseded inputs; readers are unaffected.
    let again = sink::compact(&lake, opts).await.expect("second compaction");
    assert_eq!(again.merges, 0);
    assert_eq!(again.superseded_deleted, report.files_replaced);
    let after_gc = read_lake(&lake, &topic).await;
    assert_eq!(before.columns(), after_gc.columns());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_the_row_multiset_on_s3() {
    compaction_keeps_the_rows(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_the_row_multiset_on_the_local_filesystem() {
    compaction_keeps_the_rows(false).await;
}
