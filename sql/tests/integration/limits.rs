//! Hostile queries are stopped by the limits with a clear error, and the
//! session keeps answering, others' queries included.

use std::time::{Duration, Instant};

use sql::{Error, Limits, SqlSession, Truncation};

use crate::support::{config, database, i64s, lake, open, pg_client, query};

async fn session_with(limits: Limits, postgres: Option<&str>) -> SqlSession {
    let lake = lake().await;
    let mut cfg = config(Some(lake), postgres);
    cfg.limits = limits;
    open(cfg).await
}

async fn still_answers(session: &SqlSession) {
    let b = query(session, "SELECT count(*) FROM lake.rsvps").await;
    assert_eq!(i64s(&b, 0), vec![1_541]);
}

#[tokio::test]
async fn a_cross_join_past_the_memory_limit_fails_with_a_memory_error() {
    let session = session_with(
        Limits {
            memory_bytes: 4 << 20,
            ..Limits::default()
        },
        None,
    )
    .await;
    // 1,541² = 2.4 M rows, sorted: far more than 4 MiB, and no spilling.
    let sql = "SELECT a.rsvp_id, b.rsvp_id FROM lake.rsvps a CROSS JOIN lake.rsvps b \
               ORDER BY a.rsvp_id, b.rsvp_id";
    match session.execute(sql).await {
        Err(e @ Error::MemoryLimit { limit_bytes, .. }) => {
            assert_eq!(limit_bytes, 4 << 20);
            let message = e.to_string();
            assert!(message.contains("memory limit"), "{message}");
        }
        other => panic!("expected a memory error, got {other:?}"),
    }
    // A sort of generated rows, the other classic.
    let sql = "SELECT v FROM generate_series(1, 5000000) t(v) ORDER BY v DESC";
    assert!(matches!(
        session.execute(sql).await,
        Err(Error::MemoryLimit { .. })
    ));
    still_answers(&session).await;
}

#[tokio::test]
async fn a_query_meant_to_run_forever_is_stopped_by_the_time_limit() {
    let session = session_with(
        Limits {
            time: Duration::from_secs(2),
            ..Limits::default()
        },
        None,
    )
    .await;
    for sql in [
        "SELECT count(*) FROM generate_series(1, 1000000000000) t(v)",
        "SELECT sum(a.guests + b.guests + c.guests) FROM lake.rsvps a, lake.rsvps b, lake.rsvps c",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
    ] {
        let started = Instant::now();
        match session.execute(sql).await {
            Err(Error::TimeLimit { limit }) => assert_eq!(limit, Duration::from_secs(2)),
            other => panic!("{sql:?}: expected the time limit, got {other:?}"),
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(6),
            "{sql:?} stopped after {took:?}"
        );
    }
    still_answers(&session).await;
}

#[tokio::test]
async fn a_slow_postgres_scan_is_cancelled_in_the_database_too() {
    let url = database(
        "CREATE TABLE t (x int4); INSERT INTO t VALUES (1);
         CREATE VIEW slow AS SELECT x, pg_sleep(30) IS NULL AS slept FROM t;",
    )
    .await;
    let session = session_with(
        Limits {
            time: Duration::from_secs(1),
            ..Limits::default()
        },
        Some(&url),
    )
    .await;
    let err = session
        .execute("SELECT * FROM slow")
        .await
        .expect_err("stopped");
    assert!(matches!(err, Error::TimeLimit { .. }), "{err:?}");
    // The server gives the query up: the dropped connection and the
    // connection's statement_timeout both end it.
    let client = pg_client(&url).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let running: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = 'billabong-sql' AND datname = current_database() \
                 AND state = 'active'",
                &[],
            )
            .await
            .expect("pg_stat_activity")
            .get(0);
        if running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slow scan still runs in PostgreSQL"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let b = query(&session, "SELECT x FROM t").await;
    assert_eq!(b.num_rows(), 1);
}

#[tokio::test]
async fn rows_past_the_row_limit_are_cut_and_counted() {
    let session = session_with(
        Limits {
            max_rows: 10,
            ..Limits::default()
        },
        None,
    )
    .await;
    let out = session
        .execute("SELECT * FROM lake.rsvps")
        .await
        .expect("runs");
    assert_eq!(out.rows(), 10);
    assert_eq!(
        out.truncated,
        Some(Truncation {
            total_rows: 1_541,
            exact: true
        })
    );
    let line = sql::format::summary(&out);
    assert!(line.contains("1531 more rows not shown"), "{line}");
}

#[tokio::test]
async fn other_users_are_served_while_a_hostile_query_runs() {
    let session = session_with(
        Limits {
            time: Duration::from_secs(4),
            max_concurrent: 2,
            ..Limits::default()
        },
        None,
    )
    .await;
    let hog = {
        let session = session.clone();
        tokio::spawn(async move {
            session
                .execute(
                    "SELECT sum(a.guests + b.guests + c.guests) \
                     FROM lake.rsvps a, lake.rsvps b, lake.rsvps c",
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    still_answers(&session).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a simple query waited {took:?} behind the hog"
    );
    let hogged = hog.await.expect("the task does not panic");
    assert!(matches!(hogged, Err(Error::TimeLimit { .. })), "{hogged:?}");
}
