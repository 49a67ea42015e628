//! Finding the tables and views of the database's `public` schema.
//!
//! Read from `pg_catalog`, not `information_schema`: `information_schema`
//! does not list materialized views, and the batch views may be materialized.
//! Domains are read as their base type. Done once per session: the 3NF
//! schema is migrated by the batch layer, not while a user queries it.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::types::PgColumnType;
use crate::error::{Error, Result};

/// Columns of one relation, in `attnum` order.
#[derive(Debug, Clone)]
pub(crate) struct Relation {
    /// Name in `public`.
    pub(crate) name: String,
    /// `r` table, `v` view, `m` materialized view, `p` partitioned, `f` foreign.
    pub(crate) kind: char,
    /// (name, how it is read, NOT NULL).
    pub(crate) columns: Vec<(String, PgColumnType, bool)>,
}

const DISCOVER: &str = "
SELECT c.relname::text, c.relkind::text, a.attname::text,
       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END::text,
       a.attnotnull
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
WHERE n.nspname = 'public'
  AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname, a.attnum";

/// Every readable relation of `public`, by name.
pub(crate) async fn relations(client: &Client) -> Result<Vec<Relation>> {
    let rows = client
        .query(DISCOVER, &[])
        .await
        .map_err(Error::pg("discover the tables of schema public"))?;
    let mut by_name: BTreeMap<String, Relation> = BTreeMap::new();
    for row in rows {
        let name: String = row.get(0);
        let kind: String = row.get(1);
        let column: String = row.get(2);
        let type_name: String = row.get(3);
        let not_null: bool = row.get(4);
        let relation = by_name.entry(name.clone()).or_insert_with(|| Relation {
            name,
            kind: kind.chars().next().unwrap_or('r'),
            columns: Vec::new(),
        });
        relation
            .columns
            .push((column, PgColumnType::from_type_name(&type_name), not_null));
    }
    Ok(by_name.into_values().collect())
}
