//! The raw lake: consumes the raw topics and writes them as Parquet files to an
//! object store, committed exactly once by create-only commit records.
//!
//! Built by issue #6; until then this crate only reserves its place in the graph.
