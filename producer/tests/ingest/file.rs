//! The `file:` source: the real recordings exactly once; corrupted copies of
//! real records in the DLQ, unchanged, with the right headers.

use billabong_producer::ingest::MAX_RECORD_BYTES;
use billabong_producer::race_data::RaceDataset;
use schemas::topics::{
    DLQ_HEADER_ERROR_KIND, DLQ_HEADER_ERROR_MESSAGE, DLQ_HEADER_ERROR_PATH, DLQ_HEADER_FEED,
    DLQ_HEADER_SOURCE, PRODUCER_HEADER_CLOCK, PRODUCER_HEADER_ID,
};
use schemas::{ErrorKind, Feed, Limits};
use serde_json::Value;
use testkit::fixtures::{race_lines, rsvp_file, rsvp_lines};

use crate::support::{assert_exactly_once, config, ingest, jsonl_source, read_committed};

#[tokio::test]
async fn every_real_rsvp_is_committed_once_with_its_key() {
    let expected = rsvp_lines();
    assert_eq!(expected.len(), 1_541);
    let source = format!("file:{}", rsvp_file().display());
    let config = config(Feed::Rsvps, &source, "ingest-file-rsvps");
    let (topic, dlq) = (config.topic.clone(), config.dlq_topic.clone());
    let id = config.transactional_id.clone();
    let summary = ingest(config).await;
    assert_eq!(
        (
            summary.received,
            summary.produced,
            summary.dlq,
            summary.duplicates_dropped
        ),
        (1_541, 1_541, 0, 0)
    );
    let raw = read_committed(&topic).await;
    assert_exactly_once(Feed::Rsvps, &expected, &raw);
    for record in &raw {
        assert_eq!(record.header(PRODUCER_HEADER_ID), id);
        let clock: i64 = record
            .header(PRODUCER_HEADER_CLOCK)
            .parse()
            .expect("a number");
        assert!(clock >= 1_489_000_000_000, "{clock}");
    }
    assert!(read_committed(&dlq).await.is_empty());
}

#[tokio::test]
async fn every_real_race_event_is_committed_once_with_its_key() {
    let expected = race_lines(RaceDataset::Ergast);
    let source = jsonl_source("ergast.jsonl", &expected);
    let config = config(Feed::Race, &source, "ingest-file-race");
    let (topic, dlq) = (config.topic.clone(), config.dlq_topic.clone());
    let summary = ingest(config).await;
    let n = expected.len() as u64;
    assert_eq!((summary.received, summary.produced, summary.dlq), (n, n, 0));
    assert_exactly_once(Feed::Race, &expected, &read_committed(&topic).await);
    assert!(read_committed(&dlq).await.is_empty());
}

/// A real record with the value at a JSON pointer replaced (or removed).
fn edited(line: &[u8], pointer: &str, value: Option<Value>) -> Vec<u8> {
    let mut record: Value = serde_json::from_slice(line).expect("real records are JSON");
    match value {
        Some(value) => {
            *record
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("real record has {pointer}")) = value;
        }
        None => {
            let (parent, field) = pointer.rsplit_once('/').expect("a pointer with a parent");
            record
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .and_then(|object| object.remove(field))
                .unwrap_or_else(|| panic!("real record has {pointer}"));
        }
    }
    serde_json::to_vec(&record).expect("a value serialises")
}

/// Records that must be rejected, each with the error kind it must get.
pub(crate) type Invalid = Vec<(Vec<u8>, ErrorKind)>;

/// Valid real records, and corrupted copies of other real records.
pub(crate) fn corrupted_rsvps() -> (Vec<Vec<u8>>, Invalid) {
    let real = rsvp_lines();
    let valid: Vec<Vec<u8>> = real[..30].to_vec();
    let r = |i: usize| real[30 + i].as_slice();
    let mut non_utf8 = r(3).to_vec();
    let quote = non_utf8
        .windows(13)
        .position(|w| w == b"\"member_name\"")
        .expect("real records have member_name")
        + 16;
    non_utf8[quote] = 0xff;
    let mut oversized: Value = serde_json::from_slice(r(4)).expect("JSON");
    oversized["member"]["member_name"] = Value::String("x".repeat(300 * 1024));
    let invalid = vec![
        (r(0)[..r(0).len() / 2].to_vec(), ErrorKind::MalformedJson),
        (
            edited(r(1), "/mtime", Some(Value::from("soon"))),
            ErrorKind::WrongType,
        ),
        (
            b"this is not JSON at all".to_vec(),
            ErrorKind::MalformedJson,
        ),
        (non_utf8, ErrorKind::MalformedJson),
        (
            serde_json::to_vec(&oversized).expect("JSON"),
            ErrorKind::Oversized,
        ),
        (
            edited(r(5), "/event/event_id", None),
            ErrorKind::MissingField,
        ),
        (
            edited(r(6), "/response", Some(Value::from("maybe"))),
            ErrorKind::InvalidValue,
        ),
        (
            edited(r(7), "/group/group_lat", Some(Value::from(123.0))),
            ErrorKind::OutOfRange,
        ),
    ];
    (valid, invalid)
}

#[tokio::test]
async fn invalid_records_go_to_the_dlq_unchanged_with_their_reasons() {
    let (valid, invalid) = corrupted_rsvps();
    // Interleave, with a blank line and a CRLF ending that are not records.
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for (i, record) in valid.iter().enumerate() {
        lines.push(record.clone());
        if let Some((bad, _)) = invalid.get(i) {
            lines.push(bad.clone());
        }
    }
    // Larger than a Kafka record can be: it goes to the DLQ cut, and says so.
    let mut huge: Value = serde_json::from_slice(&valid[1]).expect("JSON");
    huge["member"]["member_name"] = Value::String("y".repeat(1_200_000));
    let huge = serde_json::to_vec(&huge).expect("JSON");
    lines.push(huge.clone());
    lines.push(b" \t".to_vec());
    let mut crlf = valid[0].clone();
    crlf.extend_from_slice(b"\r");
    lines.push(crlf);
    let mut expected_valid = valid.clone();
    expected_valid.push(valid[0].clone());

    let source = jsonl_source("corrupted.jsonl", &lines);
    let config = config(Feed::Rsvps, &source, "ingest-file-dlq");
    let (topic, dlq) = (config.topic.clone(), config.dlq_topic.clone());
    let summary = ingest(config).await;
    let records = (expected_valid.len() + invalid.len() + 1) as u64;
    assert_eq!(summary.received, records);
    assert_eq!(summary.produced, expected_valid.len() as u64);
    assert_eq!(summary.dlq, invalid.len() as u64 + 1);

    assert_exactly_once(Feed::Rsvps, &expected_valid, &read_committed(&topic).await);
    let rejected = read_committed(&dlq).await;
    assert_eq!(rejected.len(), invalid.len() + 1);
    let cut = rejected
        .iter()
        .find(|r| r.payload.len() == MAX_RECORD_BYTES)
        .expect("the huge record is in the DLQ, cut");
    assert_eq!(cut.payload, huge[..MAX_RECORD_BYTES]);
    assert_eq!(cut.header(DLQ_HEADER_ERROR_KIND), "oversized");
    assert!(
        cut.header(DLQ_HEADER_ERROR_MESSAGE)
            .contains(&huge.len().to_string())
    );
    let limits = Limits::default();
    for (bad, kind) in &invalid {
        let record = rejected
            .iter()
            .find(|r| &r.payload == bad)
            .unwrap_or_else(|| panic!("{kind} record is in the DLQ unchanged"));
        let error = Feed::Rsvps
            .parse(bad, &limits)
            .expect_err("the record is invalid");
        assert_eq!(error.kind, *kind, "the fixture's kind is the schema's");
        assert_eq!(record.header(DLQ_HEADER_ERROR_KIND), kind.as_str());
        assert_eq!(record.header(DLQ_HEADER_ERROR_PATH), error.path);
        assert_eq!(record.header(DLQ_HEADER_ERROR_MESSAGE), error.message);
        assert_eq!(record.header(DLQ_HEADER_FEED), "rsvps");
        assert_eq!(record.header(DLQ_HEADER_SOURCE), source);
        assert_eq!(record.key, None);
    }
}
