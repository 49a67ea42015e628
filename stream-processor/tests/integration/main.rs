//! Integration tests of the speed layer against the real Kafka, on the real
//! recorded data: every published value is compared with a small, independent
//! recomputation written here.
//!
//! One test binary with a module per subject (the workspace's convention).

mod dlq;
mod late_topic;
mod model;
mod race;
mod restart;
mod rsvp;
mod support;
mod view;
