//! `testkit::read_committed` against the real broker: committed transactions
//! come back in partition and offset order with keys and headers, aborted ones
//! do not, and a transaction still open when the read starts is waited for
//! rather than cut off at the last stable offset.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use testkit::Services;

const TIMEOUT: Duration = Duration::from_secs(30);

type Txn = ThreadedProducer<DefaultProducerContext>;

fn send(producer: &Txn, topic: &str, partition: i32, payload: &str) {
    let headers = OwnedHeaders::new().insert(Header {
        key: "origin",
        value: Some(payload),
    });
    producer
        .send(
            BaseRecord::to(topic)
                .partition(partition)
                .key("k")
                .payload(payload)
                .headers(headers),
        )
        .unwrap_or_else(|(e, _)| panic!("send {payload}: {e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn committed_records_only_waiting_for_an_open_transaction() {
    let kafka = Services::get().kafka();
    let topic = kafka.fresh_topic("read-committed", 2).await;
    let producer: Txn = kafka
        .config()
        .set(
            "transactional.id",
            testkit::unique_name("read-committed-txn"),
        )
        .create()
        .expect("a transactional producer");
    producer.init_transactions(TIMEOUT).expect("init");

    producer.begin_transaction().expect("begin");
    send(&producer, &topic, 1, "committed-1a");
    send(&producer, &topic, 0, "committed-0a");
    send(&producer, &topic, 1, "committed-1b");
    producer.commit_transaction(TIMEOUT).expect("commit");

    producer.begin_transaction().expect("begin");
    send(&producer, &topic, 0, "aborted-0");
    send(&producer, &topic, 1, "aborted-1");
    producer
        .flush(TIMEOUT)
        .expect("the aborted records are written");
    producer.abort_transaction(TIMEOUT).expect("abort");

    // Left open while the read starts: its records are below the high
    // watermark but above the last stable offset.
    producer.begin_transaction().expect("begin");
    send(&producer, &topic, 0, "late-0");
    send(&producer, &topic, 1, "late-1");
    producer
        .flush(TIMEOUT)
        .expect("the open transaction's records are written");
    // What a reader that asks for the watermarks with librdkafka's default
    // `isolation.level` (read_committed) gets: the last stable offset, short
    // of the open transaction's records.
    let watermarks = |isolation: &str| {
        let client: rdkafka::consumer::BaseConsumer = kafka
            .config()
            .set("isolation.level", isolation)
            .create()
            .expect("a client");
        rdkafka::consumer::Consumer::fetch_watermarks(&client, &topic, 0, TIMEOUT)
            .expect("watermarks")
            .1
    };
    assert!(watermarks("read_committed") < watermarks("read_uncommitted"));
    let committer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        producer.commit_transaction(TIMEOUT).expect("commit");
    });

    let records = testkit::read_committed(&kafka.brokers, &topic);
    committer.join().expect("the committer does not panic");

    let got: Vec<(i32, &str)> = records
        .iter()
        .map(|r| (r.partition, std::str::from_utf8(&r.payload).expect("UTF-8")))
        .collect();
    assert_eq!(
        got,
        [
            (0, "committed-0a"),
            (0, "late-0"),
            (1, "committed-1a"),
            (1, "committed-1b"),
            (1, "late-1"),
        ]
    );
    for record in &records {
        assert_eq!(record.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(record.header("origin").as_bytes(), record.payload);
    }
    assert!(
        records
            .windows(2)
            .all(|w| (w[0].partition, w[0].offset) < (w[1].partition, w[1].offset))
    );
}
