//! Smoke test of the real Kafka broker: 10,000 real RSVP records go in with
//! rdkafka and come back byte-identical, with their keys, in per-key order.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use schemas::{Feed, Limits};
use testkit::Services;
use testkit::fixtures::rsvp_lines;

const RECORDS: usize = 10_000;

#[tokio::test]
async fn ten_thousand_real_rsvps_round_trip_through_kafka() {
    let kafka = Services::get().kafka();
    let topic = kafka.fresh_topic("smoke-rsvps", 3).await;

    // The recording has 1,541 records; cycle through it to reach 10,000. Each
    // record keeps its real key (the event id), so per-key order is checkable.
    let real = rsvp_lines();
    let sent: Vec<(String, &[u8])> = real
        .iter()
        .cycle()
        .take(RECORDS)
        .map(|line| {
            let event = Feed::Rsvps
                .parse(line, &Limits::default())
                .expect("every real RSVP is valid");
            (event.key().to_owned(), line.as_slice())
        })
        .collect();

    let producer: FutureProducer = kafka
        .config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let mut deliveries = Vec::with_capacity(RECORDS);
    for (key, payload) in &sent {
        let record = FutureRecord::to(&topic).key(key).payload(*payload);
        match producer.send_result(record) {
            Ok(delivery) => deliveries.push(delivery),
            Err((e, _)) => panic!("enqueue failed: {e}"),
        }
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("delivery future cancelled")
            .unwrap_or_else(|(e, _)| panic!("delivery failed: {e}"));
    }

    let consumer: StreamConsumer = kafka
        .config()
        .set("group.id", testkit::unique_name("smoke"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");

    let mut received: Vec<(String, Vec<u8>)> = Vec::with_capacity(RECORDS);
    let mut stream = consumer.stream();
    while received.len() < RECORDS {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {RECORDS} records came back", received.len()))
            .expect("consumer stream ended")
            .expect("consume error");
        let key = String::from_utf8(message.key().expect("every record has a key").to_vec())
            .expect("keys are UTF-8");
        received.push((key, message.payload().expect("payload").to_vec()));
    }
    // Nothing extra arrives after the 10,000.
    let extra = tokio::time::timeout(Duration::from_secs(2), stream.next()).await;
    assert!(extra.is_err(), "more than {RECORDS} records in the topic");

    // Per key, the payload sequence is exactly the sent sequence: byte-identical,
    // nothing lost or duplicated, order kept (one key lives on one partition).
    let mut sent_by_key: HashMap<&str, Vec<&[u8]>> = HashMap::new();
    for (key, payload) in &sent {
        sent_by_key.entry(key).or_default().push(payload);
    }
    let mut received_by_key: HashMap<&str, Vec<&[u8]>> = HashMap::new();
    for (key, payload) in &received {
        received_by_key.entry(key).or_default().push(payload);
    }
    assert_eq!(sent_by_key.len(), received_by_key.len());
    for (key, payloads) in &sent_by_key {
        assert_eq!(
            received_by_key.get(key),
            Some(payloads),
            "records of key {key} differ"
        );
    }
}
