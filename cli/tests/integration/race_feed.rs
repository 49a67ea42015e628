//! `billabong race-feed` on both real data sets, checked by `billabong
//! validate` and against the loader it wraps.

use std::process::Stdio;

use producer::race_data::{RaceDataset, load_races};

use crate::support::{billabong, run, scratch, shared_data, summary};

/// Writes the feed to a file, then pipes it into `validate --feed race -`: every
/// line must be a valid race event, and there must be one per loaded event.
fn check_dataset(dataset: RaceDataset) {
    let data = shared_data().join("race");
    let races = load_races(&data, dataset).expect("the recorded race data loads");
    let events: usize = races.iter().map(|race| race.events.len()).sum();
    let events = u64::try_from(events).expect("an event count fits in u64");
    assert!(events > 0, "{dataset} has events");

    let path = scratch(&format!("race-feed-{dataset}.jsonl"));
    let mut to_file = billabong();
    to_file
        .args(["race-feed", "--dataset", dataset.as_str(), "--data"])
        .arg(&data)
        .arg("-o")
        .arg(&path);
    let out = run(to_file, None);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let logged = format!("wrote {events} events of {} {dataset} races", races.len());
    assert!(out.stderr.contains(&logged), "{logged:?} not in {out:?}");
    let written = std::fs::read_to_string(&path).expect("the feed file is UTF-8");
    assert_eq!(written.lines().count() as u64, events);
    assert!(
        written.starts_with(r#"{"type":"race_start","#),
        "feed order starts a race"
    );

    let mut feed = billabong();
    feed.args(["race-feed", "--dataset", dataset.as_str(), "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut feed = feed.spawn().expect("race-feed starts");
    let pipe = feed.stdout.take().expect("stdout was piped");
    let mut validate = billabong();
    validate
        .args(["validate", "--feed", "race", "-"])
        .stdin(Stdio::from(pipe));
    let checked = validate.output().expect("validate runs");
    assert!(feed.wait().expect("race-feed runs").success());
    let stdout = String::from_utf8(checked.stdout).expect("the report is UTF-8");
    assert_eq!(checked.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some(summary(events, 0).as_str()),
        "{stdout}"
    );

    std::fs::remove_file(&path).expect("the scratch file is removable");
}

#[test]
fn fia_feed_is_valid_and_complete() {
    check_dataset(RaceDataset::Fia);
}

#[test]
fn ergast_feed_is_valid_and_complete() {
    check_dataset(RaceDataset::Ergast);
}

#[test]
fn bad_dataset_name_lists_the_accepted_ones() {
    let mut command = billabong();
    command
        .args(["race-feed", "--dataset", "indycar", "--data"])
        .arg(shared_data().join("race"));
    let out = run(command, None);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr.contains("[possible values: fia, ergast]"),
        "{out:?}"
    );
}

#[test]
fn missing_data_folder_exits_2_naming_it() {
    let dir = scratch("no-race-data");
    let mut command = billabong();
    command.args(["race-feed", "--data"]).arg(&dir);
    let out = run(command, None);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains(&dir.display().to_string()), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}
