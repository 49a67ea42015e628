//! Reading PostgreSQL tables back whole, to compare two databases that
//! should be identical (a killed-and-rerun load against a clean one).

use tokio_postgres::Client;

/// Every row of `table` as text, sorted, without the columns in `skip`.
pub async fn dump(client: &Client, table: &str, skip: &[&str]) -> Vec<String> {
    dump_where(client, table, skip, "TRUE").await
}

/// Like [`dump`], only the rows matching the SQL condition `filter`.
pub async fn dump_where(client: &Client, table: &str, skip: &[&str], filter: &str) -> Vec<String> {
    let cols: Vec<String> = client
        .query(
            "SELECT column_name FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .expect("columns")
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|c| !skip.contains(&c.as_str()))
        .collect();
    assert!(!cols.is_empty(), "table {table} has no columns");
    client
        .query(
            &format!(
                "SELECT row({})::text AS r FROM {table} WHERE {filter} ORDER BY r",
                cols.join(", ")
            ),
            &[],
        )
        .await
        .expect("dump")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every 3NF table, parents first.
pub const TABLES: &[&str] = &[
    "countries",
    "cities",
    "groups",
    "topics",
    "group_topics",
    "members",
    "venues",
    "events",
    "rsvps",
    "circuits",
    "drivers",
    "constructors",
    "races",
    "entries",
    "laps",
    "pit_stops",
    "results",
];
