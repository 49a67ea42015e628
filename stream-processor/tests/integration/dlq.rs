//! A record that fails validation goes to the DLQ unchanged, with its reason
//! and origin in headers, and the partition moves on.

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

    let dlq = testkit::read_committed(&kafka.brokers, &config.dlq_topic);
    assert_eq!(dlq.len(), 1, "one DLQ record: {dlq:?}");
    assert_eq!(dlq[0].payload, lines[5], "unchanged bytes");
    assert_eq!(dlq[0].header(DLQ_HEADER_ERROR_KIND), "malformed_json");
    assert_eq!(dlq[0].header(DLQ_HEADER_ORIGINAL_OFFSET), "5");
    let published = support::updates(&support::read_all(&kafka.brokers, &config.metrics_topic));
    assert!(
        published.iter().any(|p| p.offset == 19),
        "records after the bad one are processed"
    );
}
