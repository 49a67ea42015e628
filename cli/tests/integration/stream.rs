//! `billabong stream` killed with SIGKILL at random points while its input
//! is still arriving, over several rounds, then restarted: the published
//! updates (emit times aside) are exactly those of one uninterrupted run —
//! nothing lost, nothing twice (the scheme is in `stream-processor/src/lib.rs`).

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use producer::race_data::RaceDataset;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use testkit::{KafkaHandle, Services};

use crate::produce_support::read_committed;
use crate::support::{billabong, scratch};

const RSVP_PARTITIONS: i32 = 2;

struct Topics {
    rsvps: String,
    race: String,
}

fn start(kafka: &KafkaHandle, topics: &Topics, group: &str, metrics: &str, name: &str) -> Child {
    billabong()
        .args([
            "stream",
            "--brokers",
            &kafka.brokers,
            "--group",
            group,
            "--start",
            "earliest",
        ])
        .args(["--rsvps-topic", &topics.rsvps, "--race-topic", &topics.race])
        // A runs topic nobody publishes to: view generation 0 throughout.
        .args(["--runs-topic", &format!("{metrics}.no-runs")])
        .args([
            "--metrics-topic",
            metrics,
            "--dlq-topic",
            &format!("{metrics}.dlq"),
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(scratch(&format!("stream-{name}.out"))).expect("scratch"))
        .stderr(std::fs::File::create(scratch(&format!("stream-{name}.err"))).expect("scratch"))
        .spawn()
        .expect("the binary starts")
}

/// Input as (topic, partition, payload), interleaved as a live feed would be.
fn input(topics: &Topics) -> Vec<(String, i32, Vec<u8>)> {
    let rsvps = testkit::fixtures::rsvp_lines();
    let race: Vec<Vec<u8>> = testkit::fixtures::race_recordings(RaceDataset::Ergast)
        .into_iter()
        .take(2)
        .flat_map(|r| r.events)
        .map(|e| serde_json::to_vec(&e).expect("json"))
        .collect();
    let mut out = Vec::new();
    let (mut r, mut c) = (rsvps.into_iter().enumerate(), race.into_iter());
    loop {
        let a = r
            .next()
            .map(|(i, line)| (topics.rsvps.clone(), i as i32 % RSVP_PARTITIONS, line));
        let b = c.next().map(|line| (topics.race.clone(), 0, line));
        if a.is_none() && b.is_none() {
            return out;
        }
        out.extend(a);
        out.extend(b);
    }
}

fn produce(kafka: &KafkaHandle, records: &[(String, i32, Vec<u8>)]) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        kafka.config().create().expect("producer");
    for (topic, partition, payload) in records {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(*partition)
            .payload(payload.as_slice());
        while let Err((_, back)) = producer.send(record) {
            record = back;
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

fn ends(records: &[(String, i32, Vec<u8>)]) -> BTreeMap<(String, i32), i64> {
    let mut ends = BTreeMap::new();
    for (topic, partition, _) in records {
        *ends.entry((topic.clone(), *partition)).or_insert(0) += 1;
    }
    ends
}

fn committed_all(kafka: &KafkaHandle, group: &str, ends: &BTreeMap<(String, i32), i64>) -> bool {
    let consumer: BaseConsumer = kafka
        .config()
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in ends.keys() {
        tpl.add_partition(topic, *partition);
    }
    let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(10)) else {
        return false;
    };
    ends.iter().all(|((topic, partition), end)| {
        matches!(committed.find_partition(topic, *partition).map(|e| e.offset()), Some(Offset::Offset(o)) if o >= *end)
    })
}

/// Waits for every input to be committed, then stops the child with SIGTERM.
fn finish(kafka: &KafkaHandle, mut child: Child, group: &str, ends: &BTreeMap<(String, i32), i64>) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !committed_all(kafka, group, ends) {
        assert!(
            Instant::now() < deadline,
            "group {group} did not commit the input in time"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "billabong stream exited early"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let status = child.wait().expect("reaped");
    assert_eq!(status.code(), Some(0), "a SIGTERM stop exits 0");
}

/// The published messages without their emit times, sorted (a multiset).
/// The live messages, emit times removed, sorted. View checkpoints fall on
/// commits, which differ between runs: [`final_views`] compares them.
fn canonical(topic: &str) -> Vec<String> {
    let mut out: Vec<String> = read_committed(topic)
        .into_iter()
        .filter(|(_, payload)| {
            let m: serde_json::Value = serde_json::from_slice(payload).expect("JSON update");
            m.get("generation").is_none()
        })
        .map(|(_, payload)| {
            let mut m: serde_json::Value = serde_json::from_slice(&payload).expect("JSON update");
            m.as_object_mut().expect("object").remove("emit_time_ms");
            m.to_string()
        })
        .collect();
    out.sort();
    out
}

/// The view rows as of the last checkpoint: `<input partition> <key>` →
/// value (rows are per input partition partials), markers included.
fn final_views(topic: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut rows = std::collections::BTreeMap::new();
    for (_, payload) in read_committed(topic) {
        let m: serde_json::Value = serde_json::from_slice(&payload).expect("JSON update");
        if m.get("generation").is_none() {
            continue;
        }
        let source = format!("{}:{}", m["source"]["topic"], m["source"]["partition"]);
        for u in m["updates"].as_array().expect("updates") {
            rows.insert(
                format!("{source} {}", u["key"].as_str().expect("key")),
                u["value"].clone(),
            );
        }
    }
    rows
}

#[test]
fn sigkill_at_random_points_then_restart_publishes_what_one_run_publishes() {
    let kafka = Services::get().kafka();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let topics = Topics {
        rsvps: runtime.block_on(kafka.fresh_topic("stream-rsvps", RSVP_PARTITIONS)),
        race: runtime.block_on(kafka.fresh_topic("stream-race", 1)),
    };
    let killed_out = runtime.block_on(kafka.fresh_topic("stream-killed", 1));
    let whole_out = runtime.block_on(kafka.fresh_topic("stream-whole", 1));
    let records = input(&topics);
    let ends = ends(&records);
    let group = testkit::unique_name("stream-killed");

    // The input arrives in chunks while the stream is being killed.
    let writer = {
        let (kafka, records) = (kafka.clone(), records.clone());
        std::thread::spawn(move || {
            for chunk in records.chunks(200) {
                produce(&kafka, chunk);
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("kill schedule seed {seed}");
    for round in 0..4 {
        let mut child = start(
            &kafka,
            &topics,
            &group,
            &killed_out,
            &format!("kill-{round}"),
        );
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = 500 + (seed >> 33) % 2_500;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().expect("SIGKILL is delivered");
        let status = child.wait().expect("reaped");
        assert_eq!(
            status.code(),
            None,
            "killed by a signal in round {round} after {delay} ms"
        );
    }
    writer.join().expect("writer");
    let last = start(&kafka, &topics, &group, &killed_out, "kill-final");
    finish(&kafka, last, &group, &ends);

    let whole_group = testkit::unique_name("stream-whole");
    let whole = start(&kafka, &topics, &whole_group, &whole_out, "whole");
    finish(&kafka, whole, &whole_group, &ends);

    let (killed, whole) = (canonical(&killed_out), canonical(&whole_out));
    assert!(whole.len() > 1_000, "{} messages", whole.len());
    assert_eq!(
        killed.len(),
        whole.len(),
        "no message lost or published twice"
    );
    assert!(
        killed == whole,
        "the killed-and-restarted output differs from one run's"
    );
    let (killed_views, whole_views) = (final_views(&killed_out), final_views(&whole_out));
    assert!(whole_views.len() > 100, "{} view rows", whole_views.len());
    let diffs: Vec<String> = whole_views
        .iter()
        .filter(|(k, v)| killed_views.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: killed {:?}, whole {v}", killed_views.get(k)))
        .chain(
            killed_views
                .keys()
                .filter(|k| !whole_views.contains_key(*k))
                .map(|k| format!("{k}: only in the killed run")),
        )
        .take(5)
        .collect();
    assert!(
        diffs.is_empty(),
        "the view rows as of the last checkpoint differ: {diffs:#?}"
    );
}
