//! Damaged copies of the real files must give errors naming file and line.

use std::fs;
use std::path::PathBuf;

use super::data_dir;
use crate::race_data::{RaceDataError, RaceDataset, load_races};

/// Copies `dataset`'s files to a fresh temp dir, replaces `file` by
/// `edit(original)`, loads, cleans up and returns the error.
fn load_damaged(
    test: &str,
    dataset: RaceDataset,
    file: &str,
    edit: impl Fn(&[u8]) -> Vec<u8>,
) -> RaceDataError {
    let dir =
        std::env::temp_dir().join(format!("billabong-race-data-{}-{test}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let prefix = match dataset {
        RaceDataset::Fia => "fia-pdf_",
        RaceDataset::Ergast => "ergast_",
    };
    for entry in fs::read_dir(data_dir()).expect("data dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.starts_with(prefix) {
            let bytes = fs::read(&path).expect("read");
            let bytes = if name == file {
                edit(bytes.as_slice())
            } else {
                bytes
            };
            fs::write(dir.join(&name), bytes).expect("write");
        }
    }
    let result = load_races(&dir, dataset);
    fs::remove_dir_all(&dir).expect("cleanup");
    result.expect_err("damaged data must not load")
}

/// The first `n` lines (with their line ends) of `bytes`.
fn lines(bytes: &[u8], n: usize) -> Vec<u8> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .take(n)
        .flatten()
        .copied()
        .collect()
}

/// Replaces the first occurrence of `from` by `to`.
fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(bytes.to_vec())
        .expect("utf-8")
        .replacen(from, to, 1)
        .into_bytes()
}

fn location(err: &RaceDataError) -> (String, u64) {
    let (path, line): (&PathBuf, u64) = match err {
        RaceDataError::Csv { path, line, .. }
        | RaceDataError::MissingField { path, line, .. }
        | RaceDataError::BadField { path, line, .. }
        | RaceDataError::Inconsistent { path, line, .. } => (path, *line),
        RaceDataError::MissingColumn { path, .. } => (path, 1),
        other => panic!("no location in {other:?}"),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    (name.to_owned(), line)
}

#[test]
fn truncated_row_names_file_and_line() {
    let file = "fia-pdf_2021-2023r5_lap_times.csv";
    // Ten whole lines, then half a row and no newline: line 11 ends mid-field.
    let err = load_damaged("truncated", RaceDataset::Fia, file, |b| {
        let mut out = lines(b, 10);
        out.extend_from_slice(b"2021,1,1,lewis_ham");
        out
    });
    assert!(
        matches!(
            err,
            RaceDataError::MissingField {
                column: "lap_time",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(location(&err), (file.to_owned(), 11));
    assert!(
        err.to_string()
            .contains("fia-pdf_2021-2023r5_lap_times.csv:11"),
        "{err}"
    );
}

#[test]
fn garbled_fields_name_file_and_line() {
    let file = "fia-pdf_2021-2023r5_lap_times.csv";
    let err = load_damaged("lap-time", RaceDataset::Fia, file, |b| {
        replace(b, "1:59.538", "1:5x.538")
    });
    assert!(
        matches!(
            err,
            RaceDataError::BadField {
                column: "lap_time",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(location(&err), (file.to_owned(), 3));

    let file = "fia-pdf_2021-2023r5_lap_times.csv";
    let err = load_damaged("gap", RaceDataset::Fia, file, |b| {
        replace(b, ",1.293", ",1 LAPZ")
    });
    assert_eq!(location(&err), (file.to_owned(), 3));

    let file = "ergast_2020-2021_lap_times.csv";
    let err = load_damaged("millis", RaceDataset::Ergast, file, |b| {
        replace(b, ",69441\r\n", ",\\N\r\n")
    });
    assert!(
        matches!(
            err,
            RaceDataError::BadField {
                column: "milliseconds",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(location(&err), (file.to_owned(), 3));
}

#[test]
fn broken_csv_and_references_name_file_and_line() {
    let file = "ergast_2020-2021_results.csv";
    let err = load_damaged("utf8", RaceDataset::Ergast, file, |b| {
        let mut out = lines(b, 4);
        out.extend_from_slice(b"24630,1031,1,131,\"44\",1,\"4\",\"\xff\",4,\"12\",1\r\n");
        out
    });
    assert!(matches!(err, RaceDataError::Csv { .. }), "{err}");
    assert_eq!(location(&err), (file.to_owned(), 5));

    let file = "ergast_2020-2021_pit_stops.csv";
    let err = load_damaged("unknown-race", RaceDataset::Ergast, file, |b| {
        replace(b, "1031,154,1,20", "9999,154,1,20")
    });
    assert!(matches!(err, RaceDataError::Inconsistent { .. }), "{err}");
    assert_eq!(location(&err), (file.to_owned(), 2));

    let file = "fia-pdf_2021-2023r5_races.csv";
    let err = load_damaged("empty", RaceDataset::Fia, file, |_| Vec::new());
    assert!(
        matches!(err, RaceDataError::MissingColumn { column: "year", .. }),
        "{err}"
    );
}
