//! Smoke test of the real S3-compatible server: a Parquet file of the real RSVPs
//! goes through object_store and is read back with DataFusion SQL; create-only
//! puts (the sink's commit records) are refused the second time.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parquet::arrow::AsyncArrowWriter;
use schemas::rsvp::Rsvp;
use schemas::{Limits, rsvps_to_batch};
use testkit::Services;
use testkit::fixtures::rsvp_lines;

fn real_rsvps() -> Vec<Rsvp> {
    rsvp_lines()
        .iter()
        .map(|line| Rsvp::parse(line, &Limits::default()).expect("every real RSVP is valid"))
        .collect()
}

#[tokio::test]
async fn parquet_written_through_object_store_reads_back_with_datafusion_sql() {
    let lake = Services::get().lake();
    let store = lake.store();
    let prefix = lake.fresh_prefix("smoke-parquet");
    let rsvps = real_rsvps();

    // Two files, so the query has to read a directory, as the batch layer will.
    let (first, second) = rsvps.split_at(rsvps.len() / 2);
    for (n, part) in [first, second].into_iter().enumerate() {
        let batch = rsvps_to_batch(part).expect("to Arrow");
        let path = Path::from(format!("{prefix}/rsvps/part-{n}.parquet"));
        let writer = BufWriter::new(Arc::clone(&store), path);
        let mut writer = AsyncArrowWriter::try_new(writer, batch.schema(), None).expect("writer");
        writer.write(&batch).await.expect("write");
        writer.close().await.expect("close uploads the file");
    }

    let ctx = SessionContext::new();
    let bucket_url = url::Url::parse(&format!("s3://{}", lake.bucket)).expect("bucket URL");
    ctx.register_object_store(&bucket_url, Arc::clone(&store));
    ctx.register_parquet(
        "rsvps",
        format!("s3://{}/{prefix}/rsvps/", lake.bucket),
        ParquetReadOptions::default(),
    )
    .await
    .expect("register the table");

    let batches = ctx
        .sql(
            "SELECT response, count(*) AS n, sum(guests) AS guests, \
                    count(DISTINCT rsvp_id) AS ids, \
                    count(DISTINCT \"group\"['group_country']) AS countries \
             FROM rsvps GROUP BY response ORDER BY response",
        )
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");

    // The same figures recomputed from the parsed records.
    let mut expected: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    for response in ["no", "yes"] {
        let rows: Vec<&Rsvp> = rsvps
            .iter()
            .filter(|r| r.response.as_str() == response)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let ids: std::collections::HashSet<i64> = rows.iter().map(|r| r.rsvp_id).collect();
        let countries: std::collections::HashSet<&str> = rows
            .iter()
            .map(|r| r.group.group_country.as_str())
            .collect();
        expected.insert(
            response.to_owned(),
            (
                rows.len() as i64,
                rows.iter().map(|r| r.guests).sum(),
                ids.len() as i64,
                countries.len() as i64,
            ),
        );
    }
    assert_eq!(read_rows(&batches), expected);
    let total: i64 = expected.values().map(|v| v.0).sum();
    assert_eq!(total, 1_541, "all real records are in the lake");
}

fn read_rows(batches: &[RecordBatch]) -> BTreeMap<String, (i64, i64, i64, i64)> {
    let mut rows = BTreeMap::new();
    for batch in batches {
        // Parquet strings come back as Utf8View; cast so either layout reads.
        let response = cast(batch.column(0), &DataType::Utf8).expect("cast to Utf8");
        let response = response.as_string::<i32>();
        let int = |c: usize, i: usize| batch.column(c).as_primitive::<Int64Type>().value(i);
        for i in 0..batch.num_rows() {
            rows.insert(
                response.value(i).to_owned(),
                (int(1, i), int(2, i), int(3, i), int(4, i)),
            );
        }
    }
    rows
}

#[tokio::test]
async fn create_only_put_refuses_to_overwrite() {
    let lake = Services::get().lake();
    let store = lake.store();
    let path = Path::from(format!(
        "{}/commit-0001.json",
        lake.fresh_prefix("smoke-create")
    ));
    let create = || PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };

    store
        .put_opts(&path, PutPayload::from_static(b"first"), create())
        .await
        .expect("the first create succeeds");
    let second = store
        .put_opts(&path, PutPayload::from_static(b"second"), create())
        .await;
    assert!(
        matches!(second, Err(object_store::Error::AlreadyExists { .. })),
        "a second create must fail with AlreadyExists, got {second:?}"
    );
    let body = store
        .get(&path)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&body[..], b"first", "the first writer's object is kept");
}
