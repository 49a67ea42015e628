//! Versioned schema migrations, applied by `billabong batch` itself.
//!
//! The SQL lives in `batch/migrations/NNNN_name.sql` and is compiled in, so a
//! binary always carries the schema it expects. Each migration runs in its
//! own transaction, under an advisory lock so that two processes starting at
//! once do not both apply it. The checksum of every applied migration is kept:
//! a migration edited after it was applied is an error, not a silent drift.

use tokio_postgres::Client;
use tracing::info;

use crate::error::{Error, Result};

/// One migration: its version, name and SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Applied in increasing order.
    pub version: i32,
    /// The file name without number and extension.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "rsvp_tables",
        sql: include_str!("../migrations/0001_rsvp_tables.sql"),
    },
    Migration {
        version: 2,
        name: "race_tables",
        sql: include_str!("../migrations/0002_race_tables.sql"),
    },
    Migration {
        version: 3,
        name: "runs_and_views",
        sql: include_str!("../migrations/0003_runs_and_views.sql"),
    },
];

/// The advisory lock key of migrations (distinct from the run lock).
const MIGRATION_LOCK: i64 = 0x6269_6c6c_6d69_6772; // "billmigr"

/// FNV-1a of the SQL text: stable across builds and platforms.
fn checksum(sql: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// Applies the migrations the database lacks; returns the versions applied.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   bigint NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(Error::pg("create schema_migrations"))?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(Error::pg("lock migrations"))?;
    let result = apply_missing(client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(Error::pg("unlock migrations"))?;
    result
}

async fn apply_missing(client: &mut Client) -> Result<Vec<i32>> {
    let rows = client
        .query("SELECT version, name, checksum FROM schema_migrations", &[])
        .await
        .map_err(Error::pg("read schema_migrations"))?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let found = rows.iter().find(|r| r.get::<_, i32>(0) == m.version);
        if let Some(row) = found {
            let stored: i64 = row.get(2);
            if stored != checksum(m.sql) {
                return Err(Error::Data(format!(
                    "migration {} ({}) differs from the one applied to this database; \
                     migrations are append-only: add a new one instead of editing",
                    m.version, m.name
                )));
            }
            continue;
        }
        let tx = client
            .transaction()
            .await
            .map_err(Error::pg("begin migration"))?;
        tx.batch_execute(m.sql)
            .await
            .map_err(Error::pg(format!("migration {} ({})", m.version, m.name)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &checksum(m.sql)],
        )
        .await
        .map_err(Error::pg("record migration"))?;
        tx.commit().await.map_err(Error::pg("commit migration"))?;
        info!(version = m.version, name = m.name, "applied migration");
        applied.push(m.version);
    }
    if let Some(newest) = rows.iter().map(|r| r.get::<_, i32>(0)).max() {
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if newest > known {
            return Err(Error::Data(format!(
                "the database is at schema version {newest}, newer than this binary's {known}: \
                 upgrade billabong"
            )));
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_by_one_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i32::try_from(i).expect("few") + 1, "{}", m.name);
        }
    }

    #[test]
    fn checksum_tells_edits_apart() {
        assert_eq!(checksum("a"), checksum("a"));
        assert_ne!(
            checksum("CREATE TABLE a ()"),
            checksum("CREATE TABLE a ( )")
        );
    }
}
