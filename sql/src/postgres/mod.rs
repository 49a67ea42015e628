//! PostgreSQL (the 3NF tables and the batch views) as DataFusion tables.

mod discover;
mod pushdown;
mod table;
mod types;

pub(crate) use discover::relations;
pub(crate) use table::{Connector, PgTable};
