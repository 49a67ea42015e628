//! Test-only helpers shared by every crate's integration tests.
//!
//! - [`services`]: the real Kafka, PostgreSQL and S3 server started by
//!   `scripts/services.sh up`, read from `.services.env`. A test that needs a
//!   service and cannot reach it fails with "run scripts/services.sh up"; it
//!   never skips.
//! - [`unique_name`]: topic, bucket-prefix and database names that let tests
//!   run in parallel without seeing each other's data.
//! - [`fixtures`]: the real recorded data in `shared/data/`.
//! - [`read_committed`]: everything committed in a Kafka topic, read back
//!   with a sound end condition (see [`kafka_read`]).
//! - [`sse`]: a Server-Sent Events client for `serve`'s `/api/stream`.
//!
//! No crate lists this one under `[dependencies]`, only `[dev-dependencies]`.

pub mod fixtures;
pub mod kafka_read;
pub mod lake;
pub mod services;
pub mod sse;
pub mod tables;

pub use kafka_read::{CommittedRecord, read_committed, written_offsets};
pub use services::{KafkaHandle, LakeHandle, PostgresHandle, Services, unique_name};
