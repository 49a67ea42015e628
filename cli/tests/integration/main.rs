//! End-to-end tests of the `billabong` binary on the real recorded data in
//! `shared/data/`: the built executable is run as a user would run it.
//!
//! One test binary with a module per command (the workspace's convention),
//! helpers in `support`.

mod race_feed;
mod support;
mod validate;
