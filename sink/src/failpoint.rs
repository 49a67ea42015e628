//! Crash injection for crash-safety tests: `<ENV>=NAME:N` makes the process
//! `abort()` (as abrupt as SIGKILL: no destructors, no flush) the N-th time it
//! reaches point NAME. Unset, a point costs one check of an initialised
//! `OnceLock`.
//!
//! The sink's points (`BILLABONG_SINK_FAILPOINT`), in commit order:
//! `before-upload`, `mid-upload` (after the first data file of a commit),
//! `after-upload` (before the commit record), `after-commit` (before the
//! checkpoint and the Kafka offset commit). Other crates declare their own
//! [`Failpoints`] under their own variable.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the sink's failpoint.
pub const FAILPOINT_ENV: &str = "BILLABONG_SINK_FAILPOINT";

/// The sink's points.
pub(crate) static SINK: Failpoints = Failpoints::new(FAILPOINT_ENV);

struct Armed {
    name: String,
    at: u64,
    hits: AtomicU64,
}

/// A set of named crash points armed by one environment variable.
pub struct Failpoints {
    env: &'static str,
    armed: OnceLock<Option<Armed>>,
}

impl Failpoints {
    /// Points armed by `env` (read once, at the first hit).
    pub const fn new(env: &'static str) -> Self {
        Self {
            env,
            armed: OnceLock::new(),
        }
    }

    /// Aborts the process if `name` is the armed point and this is its N-th hit.
    pub fn hit(&self, name: &str) {
        let armed = self.armed.get_or_init(|| {
            let spec = std::env::var(self.env).ok()?;
            let (name, at) = spec.split_once(':').unwrap_or((&spec, "1"));
            Some(Armed {
                name: name.to_owned(),
                at: at.parse().unwrap_or(1),
                hits: AtomicU64::new(0),
            })
        });
        if let Some(armed) = armed
            && armed.name == name
            && armed.hits.fetch_add(1, Ordering::Relaxed) + 1 == armed.at
        {
            eprintln!(
                "billabong: failpoint {name} of {} reached: aborting",
                self.env
            );
            std::process::abort();
        }
    }
}
