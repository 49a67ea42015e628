//! Producing fixture lines, running the speed layer in-process until it has
//! committed everything, and reading its output back.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use billabong_stream_processor::{StreamConfig, StreamReport};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use testkit::{KafkaHandle, Services};

pub(crate) fn kafka() -> KafkaHandle {
    Services::get().kafka()
}

/// Writes `lines` to partition 0 of `topic`, in order.
pub(crate) fn produce(kafka: &KafkaHandle, topic: &str, lines: &[Vec<u8>]) {
    let producer: ThreadedProducer<DefaultProducerContext> = kafka
        .config()
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    for line in lines {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .payload(line.as_slice())
            .partition(0);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

/// A config for a test: fresh group, one input topic, fresh output topics.
pub(crate) async fn config(kafka: &KafkaHandle, rsvps: &str, race: &str) -> StreamConfig {
    let mut config = StreamConfig::new(&kafka.brokers);
    config.group = testkit::unique_name("stream-test");
    config.rsvps_topic = rsvps.to_owned();
    config.race_topic = race.to_owned();
    config.metrics_topic = kafka.fresh_topic("metrics", 1).await;
    config.dlq_topic = kafka.fresh_topic("dlq", 1).await;
    // A topic nobody publishes to (and that does not exist): view generation 0.
    config.runs_topic = testkit::unique_name("no-runs");
    config
}

/// True for a view checkpoint message (`view.rs`), which carries a
/// `generation` and is checked by `view.rs`'s tests, not by the live ones.
pub(crate) fn is_view_message(message: &Value) -> bool {
    message.get("generation").is_some()
}

/// Runs the speed layer until the group's committed offsets reach `ends`
/// (per input topic, partition 0), then stops it gracefully.
pub(crate) async fn run_until_committed(
    config: &StreamConfig,
    ends: &[(&str, i64)],
) -> StreamReport {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(billabong_stream_processor::run(
        config.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = Instant::now() + Duration::from_secs(180);
    while !committed_reached(config, ends) {
        assert!(
            Instant::now() < deadline,
            "the stream did not commit {ends:?} in time"
        );
        assert!(
            !task.is_finished(),
            "the stream stopped early: {:?}",
            task.await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(());
    task.await.expect("join").expect("stream run")
}

pub(crate) fn committed_reached(config: &StreamConfig, ends: &[(&str, i64)]) -> bool {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("group.id", &config.group)
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (topic, _) in ends {
        tpl.add_partition(topic, 0);
    }
    let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(10)) else {
        return false;
    };
    ends.iter().all(|(topic, end)| {
        matches!(committed.find_partition(topic, 0).map(|e| e.offset()), Some(Offset::Offset(o)) if o >= *end)
    })
}

/// Every committed message of `topic` as JSON, per partition in offset order
/// (see [`testkit::read_committed`] for when the read is complete).
pub(crate) fn read_all(brokers: &str, topic: &str) -> Vec<Value> {
    testkit::read_committed(brokers, topic)
        .iter()
        .map(|record| serde_json::from_slice(&record.payload).expect("JSON output"))
        .collect()
}

/// One published update with its message's source offset.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub(crate) offset: i64,
    pub(crate) update: Value,
}

/// Flattens the live messages into updates; checks ids are unique and
/// follow the `<topic>:<partition>:<offset>:<seq>` scheme.
pub(crate) fn updates(messages: &[Value]) -> Vec<Published> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for message in messages.iter().filter(|m| !is_view_message(m)) {
        let offset = message["source"]["offset"].as_i64().expect("source offset");
        assert!(
            message["emit_time_ms"].is_i64(),
            "emit time missing: {message}"
        );
        assert!(message["source_event_time_ms"].is_i64());
        let updates = message["updates"].as_array().expect("updates");
        assert!(
            !updates.is_empty() && updates.len() <= 20,
            "{} updates in one message",
            updates.len()
        );
        for update in updates {
            let id = update["id"].as_str().expect("id").to_owned();
            let parts: Vec<&str> = id.rsplitn(3, ':').collect();
            assert_eq!(
                parts[1].parse::<i64>().ok(),
                Some(offset),
                "id {id} names its input offset"
            );
            assert!(seen.insert(id.clone(), ()).is_none(), "duplicate id {id}");
            out.push(Published {
                offset,
                update: update.clone(),
            });
        }
    }
    out
}

/// Values of a key are never published twice in a row unchanged.
pub(crate) fn assert_only_changes(published: &[Published]) {
    let mut last: HashMap<String, Value> = HashMap::new();
    for p in published {
        if p.update["metric"] == "race_pass"
            || p.update["metric"] == "race_pit"
            || p.update["metric"] == "race_finish"
        {
            continue;
        }
        let key = p.update["key"].as_str().expect("key").to_owned();
        if let Some(previous) = last.insert(key.clone(), p.update["value"].clone()) {
            assert_ne!(previous, p.update["value"], "{key} published unchanged");
        }
    }
}
