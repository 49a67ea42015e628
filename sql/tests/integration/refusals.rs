//! Every forbidden statement class is refused with its class named, against
//! a live session over both sources, and nothing changed afterwards.

use sql::{Error, ErrorDomain};

use crate::support::{config, database, i64s, lake, open, pg_client, query};

/// (statement, the class the refusal must name).
const FORBIDDEN: &[(&str, &str)] = &[
    ("CREATE TABLE t2 (a INT)", "DDL (CREATE TABLE)"),
    ("CREATE VIEW v AS SELECT * FROM t", "DDL (CREATE VIEW)"),
    ("CREATE SCHEMA s", "DDL (CREATE SCHEMA)"),
    ("DROP TABLE t", "DDL (DROP)"),
    ("DROP VIEW lake.rsvps", "DDL (DROP)"),
    ("ALTER TABLE t RENAME TO u", "DDL (ALTER TABLE)"),
    ("INSERT INTO t VALUES (99)", "DML (INSERT)"),
    ("INSERT INTO t SELECT x FROM t", "DML (INSERT)"),
    ("UPDATE t SET x = 0", "DML (UPDATE)"),
    ("DELETE FROM t", "DML (DELETE)"),
    ("TRUNCATE t", "DML (TRUNCATE)"),
    ("COPY t TO '/tmp/billabong-sql-test.csv'", "COPY"),
    (
        "COPY (SELECT * FROM lake.rsvps) TO '/tmp/billabong-sql-test.parquet'",
        "COPY",
    ),
    (
        "CREATE EXTERNAL TABLE pw STORED AS CSV LOCATION '/etc/passwd'",
        "CREATE EXTERNAL TABLE",
    ),
    (
        "CREATE EXTERNAL TABLE r STORED AS PARQUET LOCATION 's3://billabong/'",
        "CREATE EXTERNAL TABLE",
    ),
    ("SET datafusion.execution.target_partitions = 64", "SET"),
    (
        "RESET datafusion.execution.target_partitions",
        "SET (RESET)",
    ),
    ("SELECT * FROM '/etc/passwd'", "file or URL table"),
    (
        "SELECT * FROM 'http://127.0.0.1/x.csv'",
        "file or URL table",
    ),
    ("SELECT * FROM \"file:///etc/hosts\"", "file or URL table"),
    (
        "SELECT * FROM read_csv('/etc/passwd')",
        "table function read_csv",
    ),
    (
        "SELECT * FROM read_parquet('s3://billabong/x.parquet')",
        "table function read_parquet",
    ),
    (
        "SELECT * FROM parquet_metadata('x.parquet')",
        "table function parquet_metadata",
    ),
    ("SELECT read_json('x.json')", "function read_json"),
    ("SELECT * INTO t3 FROM t", "DDL (SELECT INTO)"),
    ("SELECT 1; DELETE FROM t", "DML (DELETE)"),
    ("EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "DML (INSERT)"),
    ("BEGIN", "transaction control (START TRANSACTION)"),
    ("GRANT SELECT ON t TO PUBLIC", "DCL (GRANT)"),
];

#[tokio::test]
async fn each_forbidden_statement_class_is_refused_and_nothing_changes() {
    let lake = lake().await;
    let url = database("CREATE TABLE t (x int4); INSERT INTO t VALUES (1), (2);").await;
    let session = open(config(Some(lake), Some(&url))).await;
    let mut wrong = Vec::new();
    for (sql, class) in FORBIDDEN {
        match session.execute_script(sql).await {
            Err(Error::Refused { class: got, reason }) if got == *class => {
                let message = Error::Refused { class: got, reason }.to_string();
                assert!(message.contains("read-only"), "{message}");
            }
            other => wrong.push(format!("{sql:?}: want {class:?}, got {other:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "not refused as expected:\n{}",
        wrong.join("\n")
    );

    // Nothing was created, changed or written.
    let b = query(&session, "SELECT count(*), sum(x) FROM t").await;
    assert_eq!((i64s(&b, 0), i64s(&b, 1)), (vec![2], vec![3]));
    let client = pg_client(&url).await;
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            &[],
        )
        .await
        .expect("count relations")
        .get(0);
    assert_eq!(tables, 1, "only t exists");
    assert!(!std::path::Path::new("/tmp/billabong-sql-test.csv").exists());
    assert!(!std::path::Path::new("/tmp/billabong-sql-test.parquet").exists());
    let b = query(&session, "SELECT count(*) FROM lake.rsvps").await;
    assert_eq!(i64s(&b, 0), vec![lake.rsvps.len() as i64]);
}

#[tokio::test]
async fn reads_of_every_allowed_kind_run() {
    let lake = lake().await;
    let url = database("CREATE TABLE t (x int4); INSERT INTO t VALUES (1), (2);").await;
    let session = open(config(Some(lake), Some(&url))).await;
    for sql in [
        "SELECT x FROM t",
        "WITH s AS (SELECT sum(x) AS total FROM t) SELECT total FROM s",
        "VALUES (1, 'a'), (2, 'b')",
        "EXPLAIN SELECT count(*) FROM lake.rsvps",
        "EXPLAIN ANALYZE SELECT count(*) FROM t",
        "SHOW TABLES",
        "SHOW COLUMNS FROM t",
        "DESCRIBE lake.race",
        "SELECT count(*) FROM generate_series(1, 10)",
    ] {
        let out = session
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql:?} refused: {e}"));
        assert!(out.rows() > 0, "{sql:?} returned nothing");
    }
    // A refusal is the user's to fix, not an outage.
    let err = session.execute("DROP TABLE t").await.expect_err("refused");
    assert_eq!(err.domain(), ErrorDomain::User);
}
