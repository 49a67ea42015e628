//! Model training on a lake of real records, against the real S3 server.
//!
//! Each test writes the recorded RSVPs and/or race feed into a fresh lake
//! prefix the way the sink does (Parquet files under `raw/`, create-only
//! commit records chaining the offsets of each partition), then trains,
//! saves, loads back and compares predictions bit for bit.

use std::collections::HashMap;

use batch::model::{self, ModelReport, registry};
use object_store::path::Path;
use schemas::model::{Artifact, RACE_POSITION_MODEL, RSVP_RESPONSE_MODEL};
use schemas::topics::{RACE_TOPIC, RSVPS_TOPIC};
use schemas::{Feed, Limits, RaceEvent, Rsvp, race_events_to_batch};
use sink::{Lake, LakeLocation};
use testkit::Services;
use testkit::fixtures::{race_recordings, rsvp_lines};
use testkit::lake::{commit_events, commit_rsvps};

fn real_rsvps() -> Vec<Rsvp> {
    rsvp_lines()
        .iter()
        .map(|l| Rsvp::parse(l, &Limits::default()).expect("every recorded RSVP is valid"))
        .collect()
}

/// Both real race data sets, in feed order (one race after another).
fn real_race_events() -> Vec<Vec<RaceEvent>> {
    ["fia", "ergast"]
        .into_iter()
        .flat_map(|d| race_recordings(d.parse().expect("a known data set")))
        .map(|r| r.events)
        .collect()
}

fn fresh_lake(prefix: &str) -> Lake {
    let handle = Services::get().lake();
    let root = handle.fresh_prefix(prefix);
    let loc = LakeLocation::new(
        handle.store(),
        Path::from(root),
        format!("s3://{}", handle.bucket),
    );
    Lake::from_location(loc)
}

/// The recorded RSVPs, keyed by event id over three partitions as the
/// producer keys them, in recorded order within each partition.
async fn write_rsvps(lake: &Lake) {
    commit_rsvps(lake.location(), RSVPS_TOPIC, real_rsvps(), 3, "model-test").await;
}

/// Both race data sets, each race in one partition (the key is the race),
/// races alternating over two partitions.
async fn write_races(lake: &Lake) {
    let mut parts: Vec<Vec<RaceEvent>> = vec![Vec::new(); 2];
    for (i, race) in real_race_events().into_iter().enumerate() {
        parts[i % 2].extend(race);
    }
    for (p, events) in parts.iter().enumerate() {
        commit_events(
            lake.location(),
            RACE_TOPIC,
            Feed::Race,
            p as i32,
            events,
            |c| race_events_to_batch(c).expect("race events to Arrow"),
            RaceEvent::ts,
            "model-test",
        )
        .await;
    }
}

#[tokio::test]
async fn rsvp_model_trains_saves_and_loads_back_bit_identical_predictions() {
    let lake = fresh_lake("model-rsvp");
    write_rsvps(&lake).await;

    let trained = model::train_rsvp(&lake, RSVPS_TOPIC)
        .await
        .expect("training on real RSVPs");
    let m = &trained.model.metrics;
    println!(
        "rsvp-response: train {} test {} features {} in {:.2}s; AUC {:.6} accuracy {:.4} \
         log-loss {:.6} | baseline rate {:.4} log-loss {:.4} accuracy {:.4}; test yes rate {:.4}",
        trained.model.training.train_rows,
        trained.model.training.test_rows,
        trained.model.linear.feature_names.len(),
        trained.seconds,
        m.auc,
        m.accuracy,
        m.log_loss,
        m.baseline_rate,
        m.baseline_log_loss,
        m.baseline_accuracy,
        m.test_positive_rate,
    );
    assert!(
        m.auc > 0.5 && m.auc <= 1.0,
        "AUC {} is no better than chance",
        m.auc
    );
    // One row per rsvp_id: 1,541 records, 281 of them repeats.
    let rows = trained.model.training.train_rows + trained.model.training.test_rows;
    assert_eq!(rows, 1_541 - 281);
    assert_eq!(
        trained.holdout.len() as u64,
        trained.model.training.test_rows
    );

    let saved = registry::save(&lake, &Artifact::RsvpResponse(trained.model.clone()))
        .await
        .expect("save");
    assert_eq!(saved.version, 1);
    let Some(Artifact::RsvpResponse(loaded)) = registry::load_latest(&lake, RSVP_RESPONSE_MODEL)
        .await
        .expect("load")
    else {
        panic!("latest is not the RSVP model");
    };
    // Parameters survive JSON bit for bit (metrics are plain JSON numbers, so
    // only close).
    assert_eq!(loaded.linear, trained.model.linear);
    assert_eq!(loaded.encoding, trained.model.encoding);
    assert_eq!(loaded.training, trained.model.training);
    assert!((loaded.metrics.auc - trained.model.metrics.auc).abs() < 1e-12);
    for row in &trained.holdout {
        assert_eq!(
            loaded.predict(&row.rsvp).to_bits(),
            row.p_yes.to_bits(),
            "rsvp {}",
            row.rsvp.rsvp_id
        );
    }

    // The speed layer scores the RSVP as parsed off the wire, not as read
    // back from Parquet: same bits.
    let row = &trained.holdout[0];
    let wire = real_rsvps()
        .into_iter()
        .find(|r| r == &row.rsvp)
        .expect("the hold-out row is a recorded RSVP");
    assert_eq!(loaded.predict(&wire).to_bits(), row.p_yes.to_bits());

    // The exported matrix has every row, standardised as the model sees it.
    let mut csv = Vec::new();
    let written = model::export_rsvp_features(&lake, RSVPS_TOPIC, &mut csv)
        .await
        .expect("export");
    assert_eq!(written, rows);
    let text = String::from_utf8(csv).expect("UTF-8");
    let header = text.lines().next().expect("a header");
    assert!(
        header.starts_with("rsvp_id,mtime,split,label,guests_log1p,"),
        "{header}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains(",test,")).count() as u64,
        trained.model.training.test_rows
    );
    if let Some(path) = std::env::var_os("BILLABONG_MODEL_CSV") {
        std::fs::write(&path, &text).expect("write the CSV for the scikit-learn check");
    }
}

#[tokio::test]
async fn race_model_beats_the_grid_and_loads_back_bit_identical_predictions() {
    let lake = fresh_lake("model-race");
    write_races(&lake).await;

    let trained = model::train_race(&lake, RACE_TOPIC)
        .await
        .expect("training on real races");
    let m = &trained.model.metrics;
    println!(
        "race-position: train {} test {} snapshots in {:.2}s; MAE {:.3} RMSE {:.3} | grid baseline \
         MAE {:.3} RMSE {:.3} | running-position baseline MAE {:.3} RMSE {:.3}",
        trained.model.training.train_rows,
        trained.model.training.test_rows,
        trained.seconds,
        m.mae,
        m.rmse,
        m.grid_baseline_mae,
        m.grid_baseline_rmse,
        m.position_baseline_mae,
        m.position_baseline_rmse,
    );
    for b in &m.by_progress {
        println!(
            "  progress [{:.2}, {:.2}): {} rows, MAE {:.3}, grid {:.3}, running position {:.3}",
            b.from, b.to, b.rows, b.mae, b.grid_baseline_mae, b.position_baseline_mae
        );
    }
    println!("  {}", trained.model.training.split);
    assert!(m.mae < m.grid_baseline_mae, "the model must beat the grid");

    registry::save(&lake, &Artifact::RacePosition(trained.model.clone()))
        .await
        .expect("save");
    let Some(Artifact::RacePosition(loaded)) = registry::load_latest(&lake, RACE_POSITION_MODEL)
        .await
        .expect("load")
    else {
        panic!("latest is not the race model");
    };
    assert_eq!(loaded.linear, trained.model.linear);
    assert_eq!(loaded.training, trained.model.training);
    for p in &trained.holdout {
        assert_eq!(
            loaded.predict(&p.snapshot.state).to_bits(),
            p.predicted.to_bits(),
            "{} {}",
            p.snapshot.race_id,
            p.snapshot.driver_id
        );
    }
}

#[tokio::test]
async fn train_all_writes_new_versions_and_moves_latest() {
    let lake = fresh_lake("model-all");
    write_rsvps(&lake).await;
    write_races(&lake).await;

    let mut versions: HashMap<String, Vec<u32>> = HashMap::new();
    for _ in 0..2 {
        let report = model::train_all(&lake, RSVPS_TOPIC, RACE_TOPIC)
            .await
            .expect("train all");
        let json = serde_json::to_string(&report).expect("the report serialises");
        assert!(json.contains("\"auc\""), "{json}");
        for m in report.models {
            let ModelReport::Trained { saved, .. } = m else {
                panic!("nothing may be skipped on the real data: {m:?}");
            };
            versions.entry(saved.name).or_default().push(saved.version);
        }
    }
    for name in [RSVP_RESPONSE_MODEL, RACE_POSITION_MODEL] {
        assert_eq!(versions[name], vec![1, 2], "{name}");
        assert_eq!(
            registry::latest_version(&lake, name)
                .await
                .expect("pointer"),
            Some(2)
        );
        let latest = registry::load_latest(&lake, name)
            .await
            .expect("load")
            .expect("saved");
        let first = registry::load_version(&lake, name, 1)
            .await
            .expect("load")
            .expect("v1");
        assert_eq!(latest.name(), name);
        assert!(latest.training().trained_at_ms >= first.training().trained_at_ms);
    }
}

#[tokio::test]
async fn an_empty_lake_skips_training_and_has_no_models() {
    let lake = fresh_lake("model-empty");
    assert!(
        registry::load_latest(&lake, RSVP_RESPONSE_MODEL)
            .await
            .expect("load")
            .is_none()
    );
    let report = model::train_all(&lake, RSVPS_TOPIC, RACE_TOPIC)
        .await
        .expect("train all");
    assert!(
        report
            .models
            .iter()
            .all(|m| matches!(m, ModelReport::Skipped { .. })),
        "{report:?}"
    );
    assert!(
        registry::latest_version(&lake, RACE_POSITION_MODEL)
            .await
            .expect("pointer")
            .is_none()
    );
}
