//! The batch layer: DataFusion ETL from the committed lake into a 3NF PostgreSQL
//! schema, batch views and linfa models.
//!
//! Built by issue #7; until then this crate only reserves its place in the graph.
