//! A record that fails validation goes to the DLQ unchanged, with its reason
//! and origin in headers, and the partition moves on.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use schemas::topics::{DLQ_HEADER_ERROR_KIND, DLQ_HEADER_ORIGINAL_OFFSET};

use crate::support;

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_real_record_goes_to_the_dlq_and_the_rest_is_processed() {
    let kafka = support::kafka();
    let mut lines: Vec<Vec<u8>> = testkit::fixtures::rsvp_lines()
        .into_iter()
        .take(20)
        .collect();
    let cut = lines[5].len() / 2;
    lines[5].truncate(cut);
    let topic = kafka.fresh_topic("rsvps-dlq", 1).await;
    support::produce(&kafka, &topic, &lines);
    let config = support::config(&kafka, &topic, "").await;
    let report = support::run_until_committed(&config, &[(&topic, 20)]).await;
    assert_eq!((report.records, report.dlq), (20, 1));

    let consumer: BaseConsumer = kafka
        .config()
        .set("group.id", testkit::unique_name("dlq-reader"))
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&config.dlq_topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let message = consumer
        .poll(Duration::from_secs(20))
        .expect("a DLQ record within 20 s")
        .expect("a readable DLQ record");
    assert_eq!(
        message.payload(),
        Some(lines[5].as_slice()),
        "unchanged bytes"
    );
    let headers = message.headers().expect("headers");
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(
        header(DLQ_HEADER_ERROR_KIND).as_deref(),
        Some("malformed_json")
    );
    assert_eq!(header(DLQ_HEADER_ORIGINAL_OFFSET).as_deref(), Some("5"));
    let published = support::updates(&support::read_all(&kafka.brokers, &config.metrics_topic));
    assert!(
        published.iter().any(|p| p.offset == 19),
        "records after the bad one are processed"
    );
}
