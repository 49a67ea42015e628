//! End-to-end tests of the `billabong` binary on the real recorded data in
//! `shared/data/`: the built executable is run as a user would run it.
//!
//! One test binary with a module per command (the workspace's convention),
//! helpers in `support`.

mod batch;
mod produce;
mod produce_kill;
mod produce_support;
mod race_feed;
mod simulate;
mod sink;
mod sql;
mod stream;
mod support;
mod validate;
