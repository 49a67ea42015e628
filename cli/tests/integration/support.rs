//! Running the binary and reading its report.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;

/// Where the real data lives: `$BILLABONG_SHARED_DATA` if set, else the
/// `shared/` folder beside the workspace.
pub(crate) fn shared_data() -> PathBuf {
    let dir = std::env::var_os("BILLABONG_SHARED_DATA").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")),
        PathBuf::from,
    );
    assert!(
        dir.is_dir(),
        "shared data not found at {}; set BILLABONG_SHARED_DATA to the shared/data folder",
        dir.display()
    );
    dir
}

/// The real RSVP files, sorted by name.
pub(crate) fn rsvp_files() -> Vec<PathBuf> {
    let dir = shared_data().join("meetup-rsvps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entries are readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .jsonl files in {}", dir.display());
    files
}

/// A path for a test's scratch file, unique per test name and process.
pub(crate) fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()))
}

/// The binary under test.
pub(crate) fn billabong() -> Command {
    Command::new(env!("CARGO_BIN_EXE_billabong"))
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The run's exit code; a signal death fails the test.
    pub(crate) fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {self:?}"))
    }

    /// The last line of standard output: the JSON summary of `validate`.
    pub(crate) fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }

    /// The count of one error kind in a `validate` report (0 when absent).
    pub(crate) fn kind_count(&self, kind: &str) -> u64 {
        let prefix = format!("  {kind}: ");
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |count| {
                count.parse().expect("a kind's count is a number")
            })
    }
}

/// Runs `command` to completion, feeding it `stdin` from a thread so that a
/// large input cannot deadlock against a full output pipe.
pub(crate) fn run(mut command: Command, stdin: Option<Vec<u8>>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("stdin was piped");
        thread::spawn(move || pipe.write_all(&input))
    });
    let output = child.wait_with_output().expect("the binary runs");
    if let Some(writer) = writer {
        writer
            .join()
            .expect("the stdin writer does not panic")
            .expect("the binary reads all of its input");
    }
    Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// The summary line `validate` must end with.
pub(crate) fn summary(valid: u64, invalid: u64) -> String {
    format!(r#"{{"valid":{valid},"invalid":{invalid}}}"#)
}
