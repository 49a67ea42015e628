//! Every real record lands exactly once, with the values of its JSON, on the
//! S3 server and on the local filesystem: read back through DataFusion SQL
//! over the committed files and compared field by field.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use datafusion::arrow::array::AsArray;
use producer::race_data::RaceDataset;
use schemas::{Feed, Limits, RaceEvent, Rsvp, race_events_from_batch, rsvps_from_batch};
use testkit::Services;
use testkit::fixtures::{race_lines, rsvp_lines};

use crate::support::{
    RunningSink, config, fresh_lake, open_lake, positions, positions_exactly_once, produce,
    race_key, read_lake, rsvp_key, wait_for_lake,
};

async fn every_real_record_lands_exactly_once(s3: bool) {
    let kafka = Services::get().kafka();
    let rsvp_topic = kafka.fresh_topic("sink-rsvps", 2).await;
    let race_topic = kafka.fresh_topic("sink-race", 3).await;
    let rsvps = rsvp_lines();
    let races = race_lines(RaceDataset::Ergast);
    let rsvp_at = produce(&rsvp_topic, &rsvps, rsvp_key).await;
    let race_at = produce(&race_topic, &races, race_key).await;

    let lake_url = fresh_lake(s3, "exactly-once");
    let mut cfg = config(
        &lake_url,
        &[(&rsvp_topic, Feed::Rsvps), (&race_topic, Feed::Race)],
        &testkit::unique_name("g"),
    );
    cfg.roll.records = 5_000;
    let started = Instant::now();
    let sink = RunningSink::start(cfg);
    let lake = open_lake(&lake_url);
    wait_for_lake(&lake, &rsvp_topic, &rsvp_at, Duration::from_secs(300)).await;
    wait_for_lake(&lake, &race_topic, &race_at, Duration::from_secs(300)).await;
    let elapsed = started.elapsed();
    let report = sink.stop().await;
    let total = rsvps.len() + races.len();
    eprintln!(
        "sink to {}: {total} records in {:.1} s = {:.0} records/s (debug build); {report:?}",
        if s3 { "s3://" } else { "file://" },
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(report.dlq_records, 0, "every real record parses");

    // RSVPs: every (partition, offset) once, each equal to its parsed JSON.
    let batch = read_lake(&lake, &rsvp_topic).await;
    assert_eq!(positions_exactly_once(&batch).len(), rsvps.len());
    let landed: BTreeMap<(i32, i64), Rsvp> = positions(&batch)
        .into_iter()
        .zip(rsvps_from_batch(&batch).expect("rows read back"))
        .collect();
    let expected: BTreeMap<(i32, i64), Rsvp> = rsvp_at
        .iter()
        .map(|(&pos, &i)| {
            (
                pos,
                Rsvp::parse(&rsvps[i], &Limits::default()).expect("valid"),
            )
        })
        .collect();
    assert!(landed == expected, "RSVPs differ from their JSON");
    let topics = batch
        .column_by_name("_topic")
        .expect("_topic")
        .as_string::<i32>();
    assert!((0..batch.num_rows()).all(|i| topics.value(i) == rsvp_topic));

    let parquet_bytes: u64 = lake
        .committed_files(&rsvp_topic)
        .await
        .expect("files")
        .iter()
        .map(|f| f.bytes)
        .sum();
    let json_bytes: usize = rsvps.iter().map(|l| l.len() + 1).sum();
    eprintln!(
        "RSVP Parquet {parquet_bytes} bytes vs JSON {json_bytes} bytes = {:.3}x ({} files)",
        parquet_bytes as f64 / json_bytes as f64,
        lake.committed_files(&rsvp_topic)
            .await
            .expect("files")
            .len()
    );

    // Race events likewise.
    let batch = read_lake(&lake, &race_topic).await;
    assert_eq!(positions_exactly_once(&batch).len(), races.len());
    let landed: BTreeMap<(i32, i64), RaceEvent> = positions(&batch)
        .into_iter()
        .zip(race_events_from_batch(&batch).expect("rows read back"))
        .collect();
    let expected: BTreeMap<(i32, i64), RaceEvent> = race_at
        .iter()
        .map(|(&pos, &i)| {
            (
                pos,
                RaceEvent::parse(&races[i], &Limits::default()).expect("valid"),
            )
        })
        .collect();
    assert!(landed == expected, "race events differ from their JSON");

    // Watermarks are the last produced offsets.
    let marks = lake.watermarks(&race_topic).await.expect("watermarks");
    for (p, last) in marks {
        assert_eq!(
            Some(last),
            race_at
                .keys()
                .filter(|(q, _)| *q == p)
                .map(|(_, o)| *o)
                .max()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_real_record_lands_exactly_once_on_s3() {
    every_real_record_lands_exactly_once(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_real_record_lands_exactly_once_on_the_local_filesystem() {
    every_real_record_lands_exactly_once(false).await;
}

/// A record that does not parse goes to the DLQ with its origin, and its
/// offset is still covered by the commit (so the partition moves on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_records_go_to_the_dlq_not_the_lake() {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::{Headers, Message};

    let kafka = Services::get().kafka();
    let topic = kafka.fresh_topic("sink-dlq", 1).await;
    let mut lines = rsvp_lines()[..20].to_vec();
    lines[5] = b"{\"rsvp_id\": 1".to_vec();
    lines[12] = b"not json".to_vec();
    let at = produce(&topic, &lines, |_| "k".to_owned()).await;
    let lake_url = fresh_lake(false, "dlq");
    let group = testkit::unique_name("g");
    let cfg = config(&lake_url, &[(&topic, Feed::Rsvps)], &group);
    let dlq_topic = cfg.dlq_topic.clone();
    let sink = RunningSink::start(cfg);
    let lake = open_lake(&lake_url);
    wait_for_lake(&lake, &topic, &at, Duration::from_secs(120)).await;
    let report = sink.stop().await;
    assert_eq!((report.rows, report.dlq_records), (18, 2));
    let batch = read_lake(&lake, &topic).await;
    let offsets: Vec<i64> = positions(&batch).iter().map(|p| p.1).collect();
    assert!(!offsets.contains(&5) && !offsets.contains(&12) && offsets.len() == 18);

    let consumer: StreamConsumer = kafka
        .config()
        .set("group.id", testkit::unique_name("dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&dlq_topic]).expect("subscribe");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("DLQ records arrive")
            .expect("recv");
        let header = |name: &str| {
            msg.headers().and_then(|h| {
                h.iter()
                    .find(|x| x.key == name)
                    .and_then(|x| x.value.map(|v| String::from_utf8_lossy(v).into_owned()))
            })
        };
        assert_eq!(
            header(schemas::topics::DLQ_HEADER_ORIGINAL_TOPIC).as_deref(),
            Some(topic.as_str())
        );
        assert_eq!(
            header(schemas::topics::DLQ_HEADER_ERROR_KIND).as_deref(),
            Some("malformed_json")
        );
        seen.push((
            header(schemas::topics::DLQ_HEADER_ORIGINAL_OFFSET).expect("offset"),
            msg.payload().map(<[u8]>::to_vec),
        ));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("12".to_owned(), Some(lines[12].clone())),
            ("5".to_owned(), Some(lines[5].clone()))
        ]
    );
}
