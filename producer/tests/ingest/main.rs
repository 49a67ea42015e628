//! Integration tests of `producer::ingest` on the real Kafka broker of
//! `scripts/services.sh up` and the real recorded data: every record exactly
//! once, byte for byte, with its key; invalid ones in the DLQ with the right
//! headers; exactly once across feed restarts and producer crashes.
//!
//! One test binary with a module per concern; helpers in `support`.

mod crash;
mod file;
mod support;
mod websocket;
