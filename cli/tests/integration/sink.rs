//! `billabong sink` crash safety on the real services: the binary is killed
//! at each step of the commit protocol (failpoints that `abort()`, and a
//! SIGKILL at a random moment) over several rounds and restarted; in the end
//! every offset is in the lake exactly once. Then `lake ls` and `lake compact`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::arrow::array::{Array, Int32Array, Int64Array};
use sink::Lake;
use testkit::Services;
use testkit::fixtures::rsvp_lines;
use testkit::lake::s3_options;

use crate::support::billabong;

pub(crate) fn s3_env(command: &mut Command) {
    let s = Services::get();
    for key in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_ALLOW_HTTP",
        "AWS_COPY_IF_NOT_EXISTS",
    ] {
        command.env(key, s.var(key));
    }
    command.env_remove(sink::FAILPOINT_ENV);
}

fn spawn_sink(lake: &str, topic: &str, failpoint: Option<&str>) -> Child {
    let mut command = billabong();
    s3_env(&mut command);
    if let Some(fp) = failpoint {
        command.env(sink::FAILPOINT_ENV, fp);
    }
    command
        .args([
            "sink",
            "--brokers",
            &Services::get().kafka().brokers,
            "--lake",
            lake,
        ])
        .args([
            "--topics",
            &format!("{topic}=rsvps"),
            "--roll-records",
            "60",
            "--roll-secs",
            "2",
        ])
        .args([
            "--group-id",
            &testkit::unique_name("crash"),
            "--dlq-topic",
            &format!("{topic}.dlq"),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts")
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn produce(topic: &str, lines: &[Vec<u8>]) -> BTreeMap<i32, i64> {
    let producer: FutureProducer = Services::get()
        .kafka()
        .config()
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let mut last = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let key = format!("k{}", i % 7);
        let d = producer
            .send(
                FutureRecord::to(topic).payload(line.as_slice()).key(&key),
                Duration::from_secs(30),
            )
            .await
            .expect("delivered");
        let e = last.entry(d.partition).or_insert(d.offset);
        *e = (*e).max(d.offset);
    }
    last
}

/// Every (partition, offset) of the committed files, read from the Parquet data.
async fn committed_offsets(lake: &Lake, topic: &str) -> Vec<(i32, i64)> {
    let mut out = Vec::new();
    for file in lake.committed_files(topic).await.expect("committed files") {
        let path = lake.location().path(&file.path);
        let bytes = lake
            .location()
            .store
            .get(&path)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        let before = out.len();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.expect("batch");
            let p = batch.column_by_name("_partition").expect("_partition");
            let o = batch.column_by_name("_offset").expect("_offset");
            let p = p.as_any().downcast_ref::<Int32Array>().expect("int32");
            let o = o.as_any().downcast_ref::<Int64Array>().expect("int64");
            out.extend((0..batch.num_rows()).map(|i| (p.value(i), o.value(i))));
        }
        assert_eq!(
            out.len() - before,
            file.rows as usize,
            "{}: rows as listed",
            file.path
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_commit_step_and_restarted_every_offset_lands_once() {
    let topic = Services::get()
        .kafka()
        .fresh_topic("cli-sink-crash", 2)
        .await;
    let lines = rsvp_lines();
    // Produced in parts, one before each round, so that every round has new
    // data to reach its failpoint with.
    let failpoints = [
        "before-upload:2",
        "mid-upload:3",
        "after-upload:2",
        "after-commit:3",
        "after-upload:1",
        "after-commit:1",
        "random-kill",
    ];
    let parts: Vec<&[Vec<u8>]> = lines
        .chunks(lines.len().div_ceil(failpoints.len()))
        .collect();
    let mut last = BTreeMap::new();
    let lake_url = format!(
        "s3://{}/{}",
        Services::get().lake().bucket,
        Services::get().lake().fresh_prefix("crash")
    );
    let lake = Lake::open_with_options(&lake_url, &s3_options()).expect("lake");

    for (fp, part) in failpoints.into_iter().zip(parts) {
        for (p, o) in produce(&topic, part).await {
            last.insert(p, o);
        }
        let mut child = spawn_sink(&lake_url, &topic, (fp != "random-kill").then_some(fp));
        if fp == "random-kill" {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .subsec_nanos();
            std::thread::sleep(Duration::from_millis(2_000 + u64::from(nanos % 4_000)));
            child.kill().expect("SIGKILL");
            let _ = child.wait();
        } else {
            let status = wait_exit(&mut child, Duration::from_secs(120)).unwrap_or_else(|| {
                let _ = child.kill();
                panic!("failpoint {fp} was not reached within 120 s")
            });
            assert!(
                !status.success() && status.code().is_none(),
                "{fp}: the sink must die by abort, got {status:?}"
            );
        }
        let marks = lake.watermarks(&topic).await.expect("watermarks");
        eprintln!("after {fp}: watermarks {marks:?}");
    }

    // The last run finishes the topic, then stops gracefully on SIGTERM.
    let mut child = spawn_sink(&lake_url, &topic, None);
    // Signal handlers are installed as soon as the runtime runs.
    std::thread::sleep(Duration::from_secs(1));
    let deadline = Instant::now() + Duration::from_secs(180);
    while lake.watermarks(&topic).await.expect("watermarks") != last {
        assert!(
            Instant::now() < deadline,
            "the restarted sink did not finish the topic"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success());
    let status = wait_exit(&mut child, Duration::from_secs(60)).expect("SIGTERM stops the sink");
    assert!(status.success(), "graceful stop exits 0, got {status:?}");

    let offsets = committed_offsets(&lake, &topic).await;
    let distinct: BTreeSet<_> = offsets.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        offsets.len(),
        "an offset was committed twice"
    );
    let expected: BTreeSet<(i32, i64)> = last
        .iter()
        .flat_map(|(&p, &l)| (0..=l).map(move |o| (p, o)))
        .collect();
    assert_eq!(distinct, expected, "every offset exactly once");
    for &p in last.keys() {
        lake.partition(&topic, p)
            .await
            .expect("a contiguous commit chain");
    }

    // `lake ls` reports the same; `lake compact` keeps it.
    let ls = |label: &str| {
        let mut command = billabong();
        s3_env(&mut command);
        let out = command
            .args(["lake", "ls", "--lake", &lake_url, "--summary"])
            .output()
            .expect("lake ls");
        assert!(
            out.status.success(),
            "{label}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let rows_in = |text: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(&topic))
            .filter_map(|l| {
                l.split('\t')
                    .find_map(|f| f.strip_prefix("rows="))
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .sum()
    };
    let before = ls("ls");
    assert_eq!(rows_in(&before), lines.len() as u64, "{before}");
    for (p, l) in &last {
        assert!(
            before.contains(&format!("{topic}\t{p}\t"))
                && before.contains(&format!("watermark={l}")),
            "{before}"
        );
    }
    let mut command = billabong();
    s3_env(&mut command);
    let out = command
        .args(["lake", "compact", "--lake", &lake_url, "--older-than", "0s"])
        .output()
        .expect("compact");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = ls("ls after compact");
    assert_eq!(rows_in(&after), lines.len() as u64, "{after}");
    let offsets = committed_offsets(&lake, &topic).await;
    assert_eq!(offsets.iter().copied().collect::<BTreeSet<_>>(), expected);
    assert_eq!(offsets.len(), expected.len());
    eprintln!("compact: {}", String::from_utf8_lossy(&out.stdout));
}
