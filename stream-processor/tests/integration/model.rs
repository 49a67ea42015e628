//! RSVP response prediction against a real S3 model registry: no model is a
//! status, not an error; the running accuracy equals a rescoring of the real
//! records with the same artifact; a new version is served without a
//! restart; and no other metric changes because a model is served.
//!
//! `data/rsvp-response-model.json` is a real artifact: what the batch
//! layer's `--train` wrote after loading the recorded RSVPs (1,008 training
//! and 252 hold-out rows). The registry layout is written here by hand, as
//! `batch::model::registry::save` does: the version create-only, then the
//! `latest` pointer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use schemas::model::{
    Artifact, RSVP_RESPONSE_MODEL, RsvpResponseModel, model_latest_path, model_version_path,
};
use schemas::rsvp::Response;
use schemas::{Limits, Rsvp};
use serde_json::Value;
use sink::LakeLocation;

use crate::support::{self, Published};

fn artifact() -> RsvpResponseModel {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/data/rsvp-response-model.json"
    );
    let bytes = std::fs::read(path).expect("the model fixture");
    match Artifact::from_json(&bytes).expect("a valid artifact") {
        Artifact::RsvpResponse(model) => model,
        other => panic!("{} is not an RSVP model", other.name()),
    }
}

/// Publishes `model` as `version` of the registry in `lake`.
async fn publish(lake: &LakeLocation, version: u32, model: &RsvpResponseModel) {
    let body = Artifact::RsvpResponse(model.clone()).to_json();
    let create = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    lake.store
        .put_opts(
            &lake.path(&model_version_path(RSVP_RESPONSE_MODEL, version)),
            PutPayload::from(body),
            create,
        )
        .await
        .expect("create the version");
    lake.store
        .put(
            &lake.path(&model_latest_path(RSVP_RESPONSE_MODEL)),
            PutPayload::from(version.to_string()),
        )
        .await
        .expect("move the pointer");
}

/// A fresh S3 lake for the registry, and the stream config reading it.
async fn model_config(
    kafka: &testkit::KafkaHandle,
    topic: &str,
    name: &str,
) -> (billabong_stream_processor::StreamConfig, LakeLocation) {
    let url = testkit::lake::fresh_lake(true, name);
    let options = testkit::lake::s3_options();
    let lake = LakeLocation::open_with_options(&url, &options).expect("open the lake");
    let mut config = support::config(kafka, topic, "").await;
    config.model.lake = Some(url);
    config.model.storage_options = options;
    config.model.poll_interval = Duration::from_millis(100);
    (config, lake)
}

fn rsvps(lines: &[Vec<u8>]) -> Vec<Rsvp> {
    lines
        .iter()
        .map(|l| Rsvp::parse(l, &Limits::default()).expect("real RSVP"))
        .collect()
}

/// What the stream should report for `model` over records `from..=to`.
#[derive(Debug, PartialEq)]
struct Rescored {
    scored: u64,
    correct: u64,
    predicted_yes: u64,
    actual_yes: u64,
    log_loss_sum: f64,
}

fn rescore(model: &RsvpResponseModel, records: &[Rsvp]) -> Rescored {
    let mut r = Rescored {
        scored: 0,
        correct: 0,
        predicted_yes: 0,
        actual_yes: 0,
        log_loss_sum: 0.0,
    };
    for rsvp in records {
        let p = model.predict(rsvp);
        let yes = rsvp.response == Response::Yes;
        r.scored += 1;
        r.correct += u64::from((p >= 0.5) == yes);
        r.predicted_yes += u64::from(p >= 0.5);
        r.actual_yes += u64::from(yes);
        let p = p.clamp(1e-15, 1.0 - 1e-15);
        r.log_loss_sum -= if yes { p.ln() } else { (1.0 - p).ln() };
    }
    r
}

/// Checks one `model_accuracy` value against a rescoring of its range.
fn check_accuracy(value: &Value, model: &RsvpResponseModel, records: &[Rsvp]) -> Rescored {
    let from = value["since_offset"].as_u64().expect("since") as usize;
    let to = value["last_offset"].as_u64().expect("last") as usize;
    let want = rescore(model, &records[from..=to]);
    let got = Rescored {
        scored: value["scored"].as_u64().expect("scored"),
        correct: value["correct"].as_u64().expect("correct"),
        predicted_yes: value["predicted_yes"].as_u64().expect("predicted yes"),
        actual_yes: value["actual_yes"].as_u64().expect("actual yes"),
        log_loss_sum: value["log_loss_sum"].as_f64().expect("log loss"),
    };
    assert_eq!(
        (got.scored, got.correct, got.predicted_yes, got.actual_yes),
        (
            want.scored,
            want.correct,
            want.predicted_yes,
            want.actual_yes
        ),
        "{value}"
    );
    // JSON may move a float by an ulp; the sums are in the same order.
    assert!(
        (got.log_loss_sum - want.log_loss_sum).abs() <= 1e-12 * want.log_loss_sum.max(1.0),
        "{value}: log loss sum {} ≠ {}",
        got.log_loss_sum,
        want.log_loss_sum
    );
    let accuracy = value["accuracy"].as_f64().expect("accuracy");
    assert!((accuracy - want.correct as f64 / want.scored as f64).abs() < 1e-12);
    want
}

fn of_metric<'a>(published: &'a [Published], metric: &str) -> Vec<&'a Value> {
    published
        .iter()
        .filter(|p| p.update["metric"] == metric)
        .map(|p| &p.update["value"])
        .collect()
}

/// The updates of every other metric, ids included.
fn others(published: &[Published]) -> Vec<Value> {
    published
        .iter()
        .filter(|p| p.update["metric"] != "model_status" && p.update["metric"] != "model_accuracy")
        .map(|p| p.update.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_published_model_the_stream_runs_and_says_so() {
    let kafka = support::kafka();
    let lines: Vec<Vec<u8>> = testkit::fixtures::rsvp_lines()
        .into_iter()
        .take(300)
        .collect();
    let topic = kafka.fresh_topic("rsvps-nomodel", 1).await;
    support::produce(&kafka, &topic, &lines);
    let (config, _lake) = model_config(&kafka, &topic, "stream-no-model").await;
    let report = support::run_until_committed(&config, &[(&topic, 300)]).await;
    assert_eq!(report.records, 300);
    let published = support::updates(&support::read_all(&kafka.brokers, &config.metrics_topic));
    let status = of_metric(&published, "model_status");
    assert_eq!(status.len(), 1, "announced once: {status:?}");
    assert_eq!(status[0]["model_version"], 0);
    assert_eq!(status[0]["status"], "no model published yet");
    assert!(of_metric(&published, "model_accuracy").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn running_accuracy_equals_a_rescoring_of_the_real_stream() {
    let kafka = support::kafka();
    let lines = testkit::fixtures::rsvp_lines();
    let records = rsvps(&lines);
    let model = artifact();
    let topic = kafka.fresh_topic("rsvps-model", 1).await;
    support::produce(&kafka, &topic, &lines);
    let (config, lake) = model_config(&kafka, &topic, "stream-model").await;
    publish(&lake, 1, &model).await;
    let end = lines.len() as i64;
    support::run_until_committed(&config, &[(&topic, end)]).await;
    let published = support::updates(&support::read_all(&kafka.brokers, &config.metrics_topic));
    support::assert_only_changes(&published);

    let status = of_metric(&published, "model_status");
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(
        (&status[0]["model_version"], &status[0]["status"]),
        (&Value::from(1), &Value::from("serving"))
    );
    let accuracy = of_metric(&published, "model_accuracy");
    assert!(accuracy.len() > 20, "{} accuracy updates", accuracy.len());
    for value in &accuracy {
        assert_eq!(value["model_version"], 1);
        assert_eq!(value["since_offset"], 0, "loaded before the first record");
        check_accuracy(value, &model, &records);
    }
    let last = accuracy.last().expect("accuracy");
    let whole = rescore(&model, &records);
    eprintln!(
        "rsvp-response v1 on the {} recorded RSVPs: last published {last}; all records: {}/{} correct = {:.4}, log loss {:.4}, predicted yes {}, actual yes {}",
        records.len(),
        whole.correct,
        whole.scored,
        whole.correct as f64 / whole.scored as f64,
        whole.log_loss_sum / whole.scored as f64,
        whole.predicted_yes,
        whole.actual_yes,
    );

    // Every other metric is what a run without a model publishes.
    let mut plain = support::config(&kafka, &topic, "").await;
    plain.metrics_topic = kafka.fresh_topic("metrics-plain", 1).await;
    support::run_until_committed(&plain, &[(&topic, end)]).await;
    let without = support::updates(&support::read_all(&kafka.brokers, &plain.metrics_topic));
    let (a, b) = (others(&published), others(&without));
    assert!(a.len() > 1_000);
    assert_eq!(a.len(), b.len());
    assert!(a == b, "the model changed another metric");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_version_is_served_without_a_restart() {
    let kafka = support::kafka();
    let lines = testkit::fixtures::rsvp_lines();
    let records = rsvps(&lines);
    let (first, second) = lines.split_at(700);
    let v1 = artifact();
    let mut v2 = v1.clone();
    v2.linear.intercept += 0.75;
    let topic = kafka.fresh_topic("rsvps-reload", 1).await;
    support::produce(&kafka, &topic, first);
    let (config, lake) = model_config(&kafka, &topic, "stream-reload").await;
    publish(&lake, 1, &v1).await;

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(billabong_stream_processor::run(
        config.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let wait = |end: i64| {
        let config = config.clone();
        let topic = topic.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !support::committed_reached(&config, &[(&topic, end)]) {
                assert!(Instant::now() < deadline, "not committed up to {end}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait(700).await;
    publish(&lake, 2, &v2).await;
    // The loader polls every 100 ms; give it many polls before more input.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    support::produce(&kafka, &topic, second);
    wait(lines.len() as i64).await;
    assert!(!task.is_finished(), "the stream kept running");
    let _ = stop.send(());
    let report = task.await.expect("join").expect("stream run");
    assert_eq!(report.restarts, 0);
    assert_eq!(report.records, lines.len() as u64);

    let published = support::updates(&support::read_all(&kafka.brokers, &config.metrics_topic));
    let versions: Vec<&Value> = of_metric(&published, "model_status")
        .iter()
        .map(|v| &v["model_version"])
        .collect();
    assert_eq!(versions, [&Value::from(1), &Value::from(2)]);
    let mut last: BTreeMap<u64, &Value> = BTreeMap::new();
    for value in of_metric(&published, "model_accuracy") {
        let version = value["model_version"].as_u64().expect("version");
        let model = if version == 1 { &v1 } else { &v2 };
        check_accuracy(value, model, &records);
        last.insert(version, value);
    }
    let (one, two) = (last[&1], last[&2]);
    assert_eq!(
        (one["since_offset"].as_i64(), one["last_offset"].as_i64()),
        (Some(0), Some(699)),
        "v1 scored the first part and its last value was published at the switch"
    );
    assert_eq!(
        two["since_offset"], 700,
        "v2 from the first record after it"
    );
    let (r1, r2) = (rescore(&v1, &records[700..]), rescore(&v2, &records[700..]));
    assert_ne!(r1, r2, "the versions score differently");
    eprintln!(
        "v1 on 0..700: {one}\nv2 on 700..: {two}\n(v1 would have had {}/{} correct there)",
        r1.correct, r1.scored
    );
}
