//! `billabong validate` on real RSVP files, on corrupted copies of real
//! records, and on bad invocations.

use serde_json::Value;

use crate::support::{billabong, rsvp_files, run, scratch, summary};

/// Records of a JSON Lines file, counted without the binary: non-blank lines.
fn count_records(bytes: &[u8]) -> u64 {
    let records = bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .count();
    u64::try_from(records).expect("a line count fits in u64")
}

/// The first `n` lines of the first real RSVP file.
fn real_rsvp_lines(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(&rsvp_files()[0]).expect("the RSVP file is UTF-8 text");
    let lines: Vec<String> = text.lines().take(n).map(str::to_owned).collect();
    assert_eq!(lines.len(), n, "the RSVP file has at least {n} records");
    lines
}

/// A real record with one field set to `value`; `pointer` is a JSON pointer.
fn with_field(line: &str, pointer: &str, value: Value) -> Vec<u8> {
    let mut record: Value = serde_json::from_str(line).expect("real records are JSON");
    *record
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("real records have {pointer}")) = value;
    serde_json::to_vec(&record).expect("a Value serialises")
}

#[test]
fn real_rsvp_files_are_all_valid() {
    for file in rsvp_files() {
        let bytes = std::fs::read(&file).expect("the RSVP file is readable");
        let records = count_records(&bytes);
        assert!(records > 0, "{} has records", file.display());
        let mut command = billabong();
        command.args(["validate", "--feed", "rsvps"]).arg(&file);
        let out = run(command, None);
        assert_eq!(out.code(), 0, "{out:?}");
        assert_eq!(out.last_line(), summary(records, 0), "{}", file.display());
        assert!(
            out.stdout.contains(&format!("\nrecords: {records}\n")),
            "{out:?}"
        );
        assert!(out.stderr.is_empty(), "{out:?}");
    }
}

#[test]
fn stdin_dash_reads_the_same_records_as_the_path() {
    let file = &rsvp_files()[0];
    let bytes = std::fs::read(file).expect("the RSVP file is readable");
    let mut by_path = billabong();
    by_path.args(["validate", "--feed", "rsvps"]).arg(file);
    let by_path = run(by_path, None);
    let mut by_stdin = billabong();
    by_stdin.args(["validate", "--feed", "rsvps", "-"]);
    let by_stdin = run(by_stdin, Some(bytes.clone()));
    assert_eq!(by_stdin.code(), 0, "{by_stdin:?}");
    assert_eq!(by_stdin.last_line(), summary(count_records(&bytes), 0));
    assert!(
        by_stdin
            .stdout
            .starts_with("file: standard input (feed rsvps)\n")
    );
    assert_eq!(by_path.last_line(), by_stdin.last_line());
}

/// One record of each kind of damage, all made from real records, with blank
/// lines, a `\r\n` ending and a last line without `\n` around them.
fn corrupted_file() -> Vec<u8> {
    let real = real_rsvp_lines(16);
    let mut records: Vec<Vec<u8>> = real[..5].iter().map(|l| l.clone().into_bytes()).collect();
    // Cut in half: the JSON ends inside the record.
    records.push(real[5].as_bytes()[..real[5].len() / 2].to_vec());
    // A string where a number belongs.
    records.push(with_field(&real[6], "/guests", Value::from("0")));
    records.push(b"this is not JSON at all".to_vec());
    // Bytes that are not UTF-8 inside a string value.
    let mut non_utf8 = real[7].clone().into_bytes();
    let at = real[7]
        .find(r#"":""#)
        .expect("real records have string values")
        + 3;
    non_utf8.splice(at..at, [0xff, 0xfe, 0xc3]);
    records.push(non_utf8);
    // Over the 256 KiB limit, and otherwise a valid record.
    records.push(with_field(
        &real[8],
        "/member/member_name",
        Value::from("x".repeat(300 * 1024)),
    ));
    let mut missing: Value = serde_json::from_str(&real[9]).expect("real records are JSON");
    missing
        .as_object_mut()
        .expect("a record is an object")
        .remove("rsvp_id");
    records.push(serde_json::to_vec(&missing).expect("a Value serialises"));
    records.push(with_field(&real[10], "/mtime", Value::from(0)));
    records.push(with_field(&real[11], "/response", Value::from("maybe")));
    records.push(format!(r#"{{"guests":0,{}"#, &real[12][1..]).into_bytes());
    records.push(format!("{}\r", real[13]).into_bytes());
    records.push(Vec::new());
    records.push(b"  \t ".to_vec());
    let mut file = records.join(&b'\n');
    file.push(b'\n');
    // The last record has no final newline.
    file.extend_from_slice(real[14].as_bytes());
    file
}

#[test]
fn corrupted_real_records_are_counted_by_kind() {
    let path = scratch("corrupted.jsonl");
    std::fs::write(&path, corrupted_file()).expect("the scratch file is writable");
    let mut command = billabong();
    command.args(["validate", "--feed", "rsvps"]).arg(&path);
    let out = run(command, None);
    assert_eq!(out.code(), 0, "{out:?}");
    let expected = [
        ("malformed_json", 3),
        ("missing_field", 1),
        ("wrong_type", 1),
        ("invalid_value", 1),
        ("out_of_range", 1),
        ("duplicate_field", 1),
        ("oversized", 1),
    ];
    for (kind, count) in expected {
        assert_eq!(out.kind_count(kind), count, "{kind} in\n{}", out.stdout);
    }
    assert_eq!(out.last_line(), summary(7, 9), "{}", out.stdout);
    assert!(
        out.stdout.contains("\nblank lines skipped: 2\n"),
        "{}",
        out.stdout
    );
    // First examples name the line and the field.
    for first in [
        "    first: line 6, $: ",
        "    first: line 7, $.guests: invalid type: string \"0\"",
        "    first: line 11, $.rsvp_id: missing field `rsvp_id`",
        "    first: line 12, $.mtime: ",
        "    first: line 13, $.response: ",
        "    first: line 14, $.guests: duplicate field `guests`",
        "    first: line 10, $: message is ",
    ] {
        assert!(
            out.stdout.contains(first),
            "{first:?} missing from\n{}",
            out.stdout
        );
    }
    // Snippets are short even for the 300 KiB record.
    for record in out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("    record: "))
    {
        assert!(record.chars().count() <= 121, "{record}");
    }
    std::fs::remove_file(&path).expect("the scratch file is removable");
}

#[test]
fn missing_file_exits_2_naming_it() {
    let path = scratch("no-such-file.jsonl");
    let mut command = billabong();
    command.args(["validate", "--feed", "race"]).arg(&path);
    let out = run(command, None);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains(&path.display().to_string()), "{out:?}");
    assert!(out.stderr.contains("No such file"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn a_directory_is_an_unreadable_file() {
    let dir = crate::support::shared_data();
    let mut command = billabong();
    command.args(["validate", "--feed", "race"]).arg(&dir);
    let out = run(command, None);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains(&dir.display().to_string()), "{out:?}");
}

#[test]
fn usage_errors_exit_2() {
    let mut bad_feed = billabong();
    bad_feed.args(["validate", "--feed", "tweets", "-"]);
    let out = run(bad_feed, Some(Vec::new()));
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr.contains("[possible values: rsvps, race]"),
        "{out:?}"
    );

    let mut no_file = billabong();
    no_file.args(["validate", "--feed", "rsvps"]);
    assert_eq!(run(no_file, None).code(), 2);
}
