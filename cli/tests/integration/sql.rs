//! `billabong sql` as a user runs it: `-c`, `-f`, output formats, refusals
//! and their exit status, against a real PostgreSQL database.

use std::process::Output;

use testkit::Services;

use crate::support::{billabong, scratch};

async fn database() -> String {
    let url = Services::get().postgres().fresh_database("cli_sql").await;
    let client = batch::pg::connect(&url).await.expect("connect");
    client
        .batch_execute(
            "CREATE TABLE answers (id bigint PRIMARY KEY, country text, yes boolean);
             INSERT INTO answers VALUES (1, 'us', true), (2, 'us', false), (3, 'gb', true);",
        )
        .await
        .expect("setup");
    url
}

fn sql(db: &str, args: &[&str]) -> Output {
    billabong()
        .arg("sql")
        .args(["--postgres", db])
        .args(args)
        .env_remove("BILLABONG_LAKE")
        .output()
        .expect("run billabong sql")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_file_formats_and_refusals() {
    let db = database().await;
    let q = "SELECT country, count(*) AS n, sum(CASE WHEN yes THEN 1 ELSE 0 END) AS yes \
             FROM answers GROUP BY country ORDER BY country";

    let out = sql(&db, &["--format", "csv", "-c", q]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "country,n,yes\ngb,1,1\nus,2,1\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 rows in"));

    let out = sql(&db, &["--format", "json", "-c", q]);
    assert!(out.status.success(), "{out:?}");
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["country"], "us");
    assert_eq!(rows[1]["n"], 2);

    let file = scratch("cli-sql").join("two.sql");
    std::fs::create_dir_all(file.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &file,
        "SELECT 1 AS a;\nSELECT count(*) AS n\n  FROM answers;\n",
    )
    .expect("write");
    let out = sql(
        &db,
        &["--format", "csv", "-f", file.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\n1\nn\n3\n");

    for (statement, class) in [
        ("DROP TABLE answers", "DDL"),
        ("DELETE FROM answers", "DML"),
        ("COPY answers TO '/tmp/x.csv'", "COPY"),
    ] {
        let out = sql(&db, &["-c", statement]);
        assert_eq!(out.status.code(), Some(2), "{statement}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("refused") && stderr.contains(class),
            "{statement}: {stderr}"
        );
    }
    let out = sql(
        &db,
        &["--format", "csv", "-c", "SELECT count(*) AS n FROM answers"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "n\n3\n",
        "nothing was changed"
    );
}
