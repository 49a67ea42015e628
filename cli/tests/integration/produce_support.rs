//! Helpers of the `produce` tests: the broker, unique topics, a running
//! `billabong produce`, and reading back what it committed.
//!
//! The read-back itself is [`testkit::read_committed`], shared with the other
//! crates' tests.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use testkit::Services;

use crate::support::{billabong, scratch};

/// The broker list of the running Kafka.
pub(crate) fn brokers() -> String {
    Services::get().kafka().brokers
}

/// A unique raw topic name; its DLQ is `<topic>.dlq`.
pub(crate) fn fresh_topic(prefix: &str) -> String {
    format!("test.{}", testkit::unique_name(prefix))
}

/// A `billabong produce` child with its output going to files.
pub(crate) struct Producing {
    pub(crate) child: Child,
    stdout: std::path::PathBuf,
    stderr: std::path::PathBuf,
}

impl Producing {
    /// Starts `billabong produce` with `args` after the common ones.
    pub(crate) fn start(name: &str, topic: &str, args: &[&str]) -> Producing {
        let stdout = scratch(&format!("produce-{name}.out"));
        let stderr = scratch(&format!("produce-{name}.err"));
        let dlq = format!("{topic}.dlq");
        let child = billabong()
            .args(["produce", "--brokers", &brokers(), "--topic", topic])
            .args(["--dlq-topic", &dlq])
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("scratch is writable"))
            .stderr(std::fs::File::create(&stderr).expect("scratch is writable"))
            .spawn()
            .expect("the binary starts");
        Producing {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for the exit (at most `limit`) and returns (code, stdout, stderr).
    pub(crate) fn wait(mut self, limit: Duration) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "billabong produce did not exit within {limit:?}: {}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = std::fs::read_to_string(&self.stdout).expect("stdout was written");
        (status.code(), stdout, self.stderr())
    }

    pub(crate) fn stderr(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.stderr) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Producing {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The summary line a successful run ends with.
pub(crate) fn summary_of(stdout: &str) -> serde_json::Value {
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line {last:?} is not JSON: {e}"))
}

/// Waits until `topic` holds at least `at_least` offsets.
pub(crate) fn wait_for_offsets(topic: &str, at_least: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while testkit::written_offsets(&brokers(), topic) < at_least {
        assert!(
            Instant::now() < deadline,
            "{topic} stayed below {at_least} offsets"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every committed payload of `topic` with its key, per partition in offset
/// order (see [`testkit::read_committed`] for when the read is complete).
pub(crate) fn read_committed(topic: &str) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    testkit::read_committed(&brokers(), topic)
        .into_iter()
        .map(|record| (record.key, record.payload))
        .collect()
}

/// Asserts that the committed payloads are exactly `expected` as a multiset.
pub(crate) fn assert_same_multiset(expected: &[Vec<u8>], committed: &[(Option<Vec<u8>>, Vec<u8>)]) {
    let mut want: HashMap<&[u8], i64> = HashMap::new();
    for payload in expected {
        *want.entry(payload).or_default() += 1;
    }
    for (_, payload) in committed {
        *want.entry(payload).or_default() -= 1;
    }
    let missing: i64 = want.values().filter(|&&n| n > 0).sum();
    let extra: i64 = -want.values().filter(|&&n| n < 0).sum::<i64>();
    assert_eq!(
        (missing, extra),
        (0, 0),
        "{} expected, {} committed: {missing} missing, {extra} extra",
        expected.len(),
        committed.len()
    );
}

/// An in-process feed simulator on its own runtime; dropped, it stops.
pub(crate) struct Feed {
    pub(crate) url: String,
    _runtime: tokio::runtime::Runtime,
}

/// Serves the real RSVP recording at `speed` (feed time / wall time).
pub(crate) fn rsvp_feed(speed: producer::simulator::Speed) -> Feed {
    use producer::simulator::{FeedData, Simulator, SimulatorConfig};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut config = SimulatorConfig::new(
        schemas::Feed::Rsvps,
        FeedData::JsonLines(testkit::fixtures::rsvp_file()),
        "127.0.0.1:0".parse().expect("an address"),
    );
    config.speed = speed;
    let simulator = runtime
        .block_on(Simulator::bind(config))
        .expect("the simulator binds");
    let url = simulator.urls()[0].clone();
    runtime.spawn(simulator.run(std::future::pending()));
    Feed {
        url,
        _runtime: runtime,
    }
}
