//! Crash injection for the crash-safety tests: `BILLABONG_SINK_FAILPOINT=NAME:N`
//! makes the process `abort()` (as abrupt as SIGKILL: no destructors, no
//! flush) the N-th time it reaches point NAME. Unset, a point costs one
//! relaxed atomic load.
//!
//! Points, in commit order: `before-upload`, `mid-upload` (after the first
//! data file of a commit), `after-upload` (before the commit record),
//! `after-commit` (before the checkpoint and the Kafka offset commit).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the failpoint.
pub const FAILPOINT_ENV: &str = "BILLABONG_SINK_FAILPOINT";

struct Armed {
    name: String,
    at: u64,
    hits: AtomicU64,
}

static ARMED: LazyLock<Option<Armed>> = LazyLock::new(|| {
    let spec = std::env::var(FAILPOINT_ENV).ok()?;
    let (name, at) = spec.split_once(':').unwrap_or((&spec, "1"));
    Some(Armed {
        name: name.to_owned(),
        at: at.parse().unwrap_or(1),
        hits: AtomicU64::new(0),
    })
});

/// Aborts the process if `name` is the armed point and this is its N-th hit.
pub(crate) fn hit(name: &str) {
    if let Some(armed) = ARMED.as_ref()
        && armed.name == name
        && armed.hits.fetch_add(1, Ordering::Relaxed) + 1 == armed.at
    {
        eprintln!("billabong-sink: failpoint {name} reached: aborting");
        std::process::abort();
    }
}
