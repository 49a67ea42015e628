//! The ETL: lake rows past the previous watermark → staging tables → 3NF tables.
//!
//! Each target table has one DataFusion query over the run's flattened delta
//! that yields, per key, the newest record's attributes (the `src_*` rule of
//! the migrations). The rows are copied into a temporary staging table of
//! the same shape and merged with an upsert that replaces attributes only
//! when the staged position is newer, inside the run's one transaction.

pub mod race;
pub mod rsvp;

use datafusion::prelude::SessionContext;
use tokio_postgres::Transaction;
use tracing::debug;

use crate::copy::copy_stream;
use crate::error::{Error, Result};

/// How staged rows enter their target.
#[derive(Debug, Clone, Copy)]
pub enum Merge {
    /// Insert new keys; existing keys have no attributes to update.
    InsertNew,
    /// Upsert; attributes change only when the staged row's `order` columns
    /// compare greater than the stored row's.
    Newest(&'static [&'static str]),
    /// Hand-written statements (sets replaced as a whole, rows built from
    /// two kinds of events).
    Custom(&'static str),
}

/// One table the ETL fills.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The 3NF table.
    pub table: &'static str,
    /// Staged (and, except for custom merges, target) columns in query order.
    pub columns: &'static [&'static str],
    /// The primary key.
    pub key: &'static [&'static str],
    /// DataFusion SQL over the flattened delta, one row per key.
    pub extract: &'static str,
    /// Staging DDL when the staged shape is not the target's.
    pub staging: Option<&'static str>,
    /// How the staged rows are merged.
    pub merge: Merge,
}

impl Target {
    /// The temporary table the target's rows are copied into.
    pub fn staging_table(&self) -> String {
        format!("stage_{}", self.table)
    }

    /// The DDL of [`Target::staging_table`] (dropped at commit).
    pub fn staging_ddl(&self) -> String {
        match self.staging {
            Some(ddl) => ddl.to_owned(),
            None => format!(
                "CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP",
                self.staging_table(),
                self.table
            ),
        }
    }

    /// The statement(s) merging the staged rows into the target.
    pub fn merge_sql(&self) -> String {
        let cols = self.columns.join(", ");
        let stage = self.staging_table();
        let key = self.key.join(", ");
        match self.merge {
            Merge::Custom(sql) => sql.to_owned(),
            Merge::InsertNew => format!(
                "INSERT INTO {t} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT ({key}) DO NOTHING",
                t = self.table
            ),
            Merge::Newest(order) => {
                let set = self
                    .columns
                    .iter()
                    .filter(|c| !self.key.contains(c))
                    .map(|c| format!("{c} = EXCLUDED.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let new = order
                    .iter()
                    .map(|c| format!("EXCLUDED.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let old = order
                    .iter()
                    .map(|c| format!("t.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage} \
                     ON CONFLICT ({key}) DO UPDATE SET {set} WHERE ({new}) > ({old})",
                    table = self.table
                )
            }
        }
    }
}

/// Rows staged and merged for one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableLoad {
    pub(crate) table: &'static str,
    pub(crate) staged: u64,
    pub(crate) merged: u64,
}

/// Stages every target's rows, then merges them in order (parents before
/// children, so foreign keys hold at every statement).
pub(crate) async fn load(
    ctx: &SessionContext,
    tx: &Transaction<'_>,
    targets: &[Target],
    after_stage: &dyn Fn(usize),
) -> Result<Vec<TableLoad>> {
    let mut loads = Vec::with_capacity(targets.len());
    for target in targets {
        tx.batch_execute(&target.staging_ddl())
            .await
            .map_err(Error::pg(format!("create {}", target.staging_table())))?;
        let stream = ctx.sql(target.extract).await?.execute_stream().await?;
        let staged = copy_stream(tx, &target.staging_table(), target.columns, stream).await?;
        debug!(table = target.table, staged, "staged");
        loads.push(TableLoad {
            table: target.table,
            staged,
            merged: 0,
        });
        after_stage(loads.len());
    }
    for (target, load) in targets.iter().zip(&mut loads) {
        let sql = target.merge_sql();
        // Custom merges are several statements; their row count is the
        // target's size change, which is what an operator wants to see.
        load.merged = match target.merge {
            Merge::Custom(_) => {
                let before = count(tx, target.table).await?;
                tx.batch_execute(&sql)
                    .await
                    .map_err(Error::pg(format!("merge into {}", target.table)))?;
                count(tx, target.table).await?.abs_diff(before)
            }
            _ => tx
                .execute(&sql, &[])
                .await
                .map_err(Error::pg(format!("merge into {}", target.table)))?,
        };
    }
    Ok(loads)
}

async fn count(tx: &Transaction<'_>, table: &str) -> Result<u64> {
    let n: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .map_err(Error::pg(format!("count {table}")))?
        .get(0);
    Ok(n.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_merge_updates_only_when_the_staged_row_is_newer() {
        let t = Target {
            table: "members",
            columns: &["member_id", "member_name", "src_time", "src_offset"],
            key: &["member_id"],
            extract: "",
            staging: None,
            merge: Merge::Newest(&["src_time", "src_offset"]),
        };
        assert_eq!(
            t.merge_sql(),
            "INSERT INTO members AS t (member_id, member_name, src_time, src_offset) \
             SELECT member_id, member_name, src_time, src_offset FROM stage_members \
             ON CONFLICT (member_id) DO UPDATE SET member_name = EXCLUDED.member_name, \
             src_time = EXCLUDED.src_time, src_offset = EXCLUDED.src_offset \
             WHERE (EXCLUDED.src_time, EXCLUDED.src_offset) > (t.src_time, t.src_offset)"
        );
    }
}
