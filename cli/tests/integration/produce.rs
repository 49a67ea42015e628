//! `billabong produce` as an operator runs it: the summary line, exit
//! statuses for bad invocations, graceful shutdown on SIGTERM with metrics.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use producer::simulator::Speed;
use schemas::{Feed, Limits};
use testkit::fixtures::{rsvp_file, rsvp_lines};

use crate::produce_support::{
    Producing, assert_same_multiset, fresh_topic, read_committed, rsvp_feed, summary_of,
    wait_for_offsets,
};
use crate::support::{billabong, run};

const PATIENCE: Duration = Duration::from_secs(120);

#[test]
fn a_file_is_produced_exactly_once_and_summarised() {
    let topic = fresh_topic("produce-file");
    let source = format!("file:{}", rsvp_file().display());
    let run = Producing::start("file", &topic, &["--feed", "rsvps", "--source", &source]);
    let (code, stdout, stderr) = run.wait(PATIENCE);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout.lines().last(),
        Some(r#"{"received":1541,"produced":1541,"dlq":0,"reconnects":0,"duplicates_dropped":0}"#),
        "{stdout}"
    );
    let committed = read_committed(&topic);
    assert_same_multiset(&rsvp_lines(), &committed);
    let limits = Limits::default();
    for (key, payload) in &committed {
        let event = Feed::Rsvps.parse(payload, &limits).expect("valid");
        assert_eq!(key.as_deref(), Some(event.key().as_bytes()));
    }
    assert!(read_committed(&format!("{topic}.dlq")).is_empty());
}

#[test]
fn bad_invocations_exit_2_naming_the_problem() {
    let file = format!("file:{}", rsvp_file().display());
    let ok = "127.0.0.1:9";
    let cases: [(&[&str], &str); 7] = [
        (
            &["--source", "http://example.com/feed", "--brokers", ok],
            "bad source",
        ),
        (
            &["--source", "wss://example.com/feed", "--brokers", ok],
            "wss://",
        ),
        (
            &["--source", "file:/nonexistent/feed.jsonl", "--brokers", ok],
            "/nonexistent/feed.jsonl",
        ),
        (
            &["--source", &file, "--brokers", "localhost"],
            "bad broker list",
        ),
        (
            &["--source", &file, "--brokers", ok, "--partitions", "0"],
            "--partitions",
        ),
        (
            &["--source", &file, "--brokers", ok, "--topic", "bad topic"],
            "--topic",
        ),
        (
            &["--source", &file, "--brokers", ok, "--idle-exit", "soon"],
            "soon",
        ),
    ];
    for (args, needle) in cases {
        let mut command = billabong();
        command.args(["produce", "--feed", "rsvps"]).args(args);
        let out = run(command, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    let mut command = billabong();
    command.args([
        "produce",
        "--feed",
        "meetups",
        "--source",
        &file,
        "--brokers",
        "h:1",
    ]);
    assert_eq!(run(command, None).status.code(), Some(2));
}

/// A free local port (bound and released; good enough for a test).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the metrics port answers");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("a request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    response
}

#[test]
fn sigterm_commits_what_is_in_flight_and_exits_0() {
    let feed = rsvp_feed(Speed::Factor(100.0));
    let topic = fresh_topic("produce-sigterm");
    let port = free_port();
    let metrics = format!("127.0.0.1:{port}");
    let run = Producing::start(
        "sigterm",
        &topic,
        &[
            "--feed",
            "rsvps",
            "--source",
            &feed.url,
            "--metrics-addr",
            &metrics,
        ],
    );
    wait_for_offsets(&topic, 300);
    let page = scrape(port);
    for name in [
        "billabong_producer_received_total",
        "billabong_producer_produced_total",
        "billabong_producer_produce_latency_seconds",
    ] {
        assert!(page.contains(name), "{name} missing from\n{page}");
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &run.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let (code, stdout, stderr) = run.wait(PATIENCE);
    assert_eq!(code, Some(0), "{stderr}");
    let summary = summary_of(&stdout);
    let committed = read_committed(&topic);
    assert_eq!(
        summary["produced"].as_u64(),
        Some(committed.len() as u64),
        "{stdout}"
    );
    assert!(committed.len() < 1_541, "the run was stopped mid-stream");
    assert_eq!(summary["received"], summary["produced"], "{stdout}");
    // What was committed is a prefix of the feed without duplicates.
    let lines = rsvp_lines();
    assert_same_multiset(&lines[..committed.len()], &committed);
}
