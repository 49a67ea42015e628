//! `POST /api/sql` and `POST /api/forecast` over HTTP, on a real lake of the
//! recorded RSVP feed and a real PostgreSQL: answers equal a recomputation
//! from the raw records, refusals are clear 4xx answers, and 50 forecast
//! users at once each get the forecast of their own series.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use billabong_serving::{ApiKey, ServeConfig};
use schemas::topics::RSVPS_TOPIC;
use schemas::{Limits, Rsvp};
use serde_json::{Value, json};
use testkit::Services;
use testkit::lake::{commit_rsvps, fresh_lake, open_lake, s3_options};

use crate::client::{Answer, get, request};

const KEY: &str = "test-key-3f9c";

/// A running `serve` on fresh services; stops when dropped.
struct Serve {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(lake: Option<String>, max_rows: usize) -> Serve {
    let services = Services::get();
    let kafka = services.kafka();
    let db = services.postgres().fresh_database("serve-api").await;
    let mut client = batch::pg::connect(&db).await.expect("connect");
    batch::migrate::migrate(&mut client).await.expect("migrate");
    let mut config = ServeConfig::new(&kafka.brokers, &db);
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.metrics_topic = kafka.fresh_topic("serve-api-metrics", 1).await;
    config.lake = lake;
    config.lake_options = s3_options();
    config.sql_limits.max_rows = max_rows;
    config.forecast_concurrency = 2;
    // 50 debug-build fits queue for longer than production's 30 s.
    config.forecast_queue_wait = Duration::from_secs(600);
    config.api_key = ApiKey::from_bytes(KEY.as_bytes());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = billabong_serving::start(config, None, async move {
        let _ = stopped.await;
    })
    .await
    .expect("serve starts");
    Serve {
        addr: server.addr,
        _stop: stop,
    }
}

async fn sql(addr: SocketAddr, statement: &str, headers: &[(&str, &str)]) -> Answer {
    request(addr, "POST", "/api/sql", headers, statement.as_bytes()).await
}

/// Waits until the SQL catalog has opened (the first open lists the lake).
async fn sql_ready(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = sql(addr, "SELECT 1", &[]).await;
        if answer.status == 200 {
            return;
        }
        assert!(
            answer.status == 503 && Instant::now() < deadline,
            "the SQL catalog never opened: {} {}",
            answer.status,
            answer.text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn real_rsvps() -> Vec<Rsvp> {
    let limits = Limits::default();
    testkit::fixtures::rsvp_lines()
        .iter()
        .map(|line| Rsvp::parse(line, &limits).expect("the recorded feed is valid"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_answers_equal_the_raw_records_and_refusals_are_clear() {
    let rsvps = real_rsvps();
    let lake = fresh_lake(true, "serve-sql");
    commit_rsvps(
        open_lake(&lake).location(),
        RSVPS_TOPIC,
        rsvps.clone(),
        3,
        "serve-test",
    )
    .await;
    let s = serve(Some(lake), 50).await;
    sql_ready(s.addr).await;

    // Counts by response: the JSON document equals the raw records.
    let mut by_response: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rsvps {
        *by_response
            .entry(r.response.as_str().to_owned())
            .or_default() += 1;
    }
    let statement =
        "SELECT response, count(*) AS n FROM lake.rsvps GROUP BY response ORDER BY response";
    let answer = sql(s.addr, statement, &[("content-type", "text/plain")]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let doc = answer.json();
    let want: Vec<Value> = by_response
        .iter()
        .map(|(response, n)| json!({"response": response, "n": n}))
        .collect();
    assert_eq!(doc["rows"], json!(want), "{doc}");
    assert_eq!(doc["row_count"], json!(want.len()));
    assert_eq!(doc["truncated"], Value::Null);
    assert_eq!(doc["columns"][0]["name"], "response");
    assert_eq!(doc["columns"][1]["type"], "Int64");

    // The same as CSV, asked for by a JSON body and by Accept.
    let mut csv = String::from("response,n\n");
    for (response, n) in &by_response {
        csv.push_str(&format!("{response},{n}\n"));
    }
    let body = json!({"sql": statement, "format": "csv"}).to_string();
    let answer = sql(s.addr, &body, &[("content-type", "application/json")]).await;
    assert_eq!((answer.status, answer.text()), (200, csv.as_str()));
    assert_eq!(
        answer.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    let answer = sql(s.addr, statement, &[("accept", "text/csv")]).await;
    assert_eq!(answer.text(), csv);

    // Every committed RSVP, and the row cap says what it cut.
    let answer = sql(s.addr, "SELECT rsvp_id FROM lake.rsvps", &[]).await;
    let doc = answer.json();
    assert_eq!(doc["row_count"], 50, "{doc}");
    assert_eq!(
        doc["truncated"],
        json!({"total_rows": rsvps.len(), "exact": true})
    );
    let answer = sql(
        s.addr,
        "SELECT rsvp_id FROM lake.rsvps",
        &[("accept", "text/csv")],
    )
    .await;
    assert_eq!(answer.text().lines().count(), 51);
    assert_eq!(
        answer.header("x-billabong-truncated-total-rows"),
        Some(rsvps.len().to_string().as_str())
    );

    // PostgreSQL's tables are there too (the migrated, empty batch tables).
    let answer = sql(s.addr, "SELECT count(*) AS runs FROM batch_runs", &[]).await;
    assert_eq!(
        answer.json()["rows"],
        json!([{"runs": 0}]),
        "{}",
        answer.text()
    );

    // Refusals: 4xx with a message naming the problem.
    for (statement, status, needle) in [
        ("DROP TABLE batch_runs", 400, "refused"),
        ("INSERT INTO batch_runs VALUES (1)", 400, "refused"),
        ("SELEC 1", 400, "syntax"),
        ("SELECT 1; SELECT 2", 400, "exactly one statement"),
        ("SELECT nope FROM lake.rsvps", 400, "nope"),
        ("  ", 400, "no statement"),
    ] {
        let answer = sql(s.addr, statement, &[]).await;
        assert_eq!(answer.status, status, "{statement}: {}", answer.text());
        let message = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(needle), "{statement}: {message}");
    }
    let answer = sql(s.addr, "SELECT 1", &[]).await;
    assert_eq!(answer.status, 200);
    let answer = request(s.addr, "POST", "/api/sql?format=xml", &[], b"SELECT 1").await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    let answer = get(s.addr, "/api/sql").await;
    assert_eq!(answer.status, 405, "{}", answer.text());
    let huge = format!("SELECT '{}'", "x".repeat(70_000));
    let answer = sql(s.addr, &huge, &[]).await;
    assert_eq!(answer.status, 413, "{}", answer.text());
}

/// Hours of history per request: three days keep 50 debug-build fits on two
/// cores to about 20 s.
const HOURS: i64 = 3 * 24;

/// RSVPs per hour of the recorded feed over its last [`HOURS`] (which hold
/// nearly all of it), zero-filled: the series every user scales.
fn last_week_per_hour(rsvps: &[Rsvp]) -> (Vec<i64>, Vec<f64>) {
    let mut counts: BTreeMap<i64, f64> = BTreeMap::new();
    for r in rsvps {
        *counts.entry(r.mtime.div_euclid(3_600_000)).or_default() += 1.0;
    }
    let last = *counts.keys().next_back().expect("RSVPs");
    let hours = last - HOURS + 1..=last;
    let ds = hours.clone().map(|h| h * 3600).collect();
    let y = hours
        .map(|h| counts.get(&h).copied().unwrap_or(0.0))
        .collect();
    (ds, y)
}

async fn forecast(addr: SocketAddr, headers: &[(&str, &str)], body: &Value) -> Answer {
    let body = body.to_string();
    request(addr, "POST", "/api/forecast", headers, body.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_checks_the_key_then_the_body() {
    let s = serve(None, 10).await;
    let (ds, y) = last_week_per_hour(&real_rsvps());
    let good = json!({"periods": 3, "ds": ds, "y": y});

    let answer = forecast(s.addr, &[], &good).await;
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("X-Api-Key")
    );
    let answer = forecast(s.addr, &[("x-api-key", "test-key-3f9d")], &good).await;
    assert_eq!(answer.status, 401, "{}", answer.text());
    // A wrong key is refused before the body is even read: an unparsable
    // body still gets the 401.
    let answer = request(
        s.addr,
        "POST",
        "/api/forecast",
        &[("x-api-key", "no")],
        b"{",
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.text());

    let bearer = format!("Bearer {KEY}");
    let key = [("authorization", bearer.as_str())];
    for (body, needle) in [
        (json!({"periods": "3", "ds": ds, "y": y}), "`periods`"),
        (json!({"periods": 3, "ds": ds}), "`y`"),
        (
            json!({"periods": 3, "ds": ds, "y": y, "colour": 1}),
            "colour",
        ),
        (
            json!({"periods": 3, "series": "rsvps_per_minute"}),
            "rsvps_per_hour",
        ),
    ] {
        let answer = forecast(s.addr, &key, &body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text());
        let message = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(needle), "{body}: {message}");
    }
    // A named series needs a served view generation; there is none yet.
    let answer = forecast(
        s.addr,
        &key,
        &json!({"periods": 3, "series": "rsvps_per_hour"}),
    )
    .await;
    assert_eq!(answer.status, 503, "{}", answer.text());

    let answer = forecast(s.addr, &key, &good).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let table = answer.json();
    assert_eq!(
        table["ds"].as_array().map(Vec::len),
        Some(HOURS as usize + 3)
    );
    for column in ["yhat", "yhat_lower", "yhat_upper", "trend"] {
        assert_eq!(
            table[column].as_array().map(Vec::len),
            Some(HOURS as usize + 3),
            "{column}"
        );
    }
    let answer = request(
        s.addr,
        "POST",
        "/api/forecast?format=csv",
        &key,
        good.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .text()
            .starts_with("ds,yhat,yhat_lower,yhat_upper,trend")
    );
    assert_eq!(answer.text().lines().count(), 1 + HOURS as usize + 3);
}

/// 50 users post 50 different series at once (the real series scaled by
/// k = 1..=50). Prophet scales `y` by its maximum before fitting, so user
/// k's `yhat` must be k × user 1's: each user got the forecast of their own
/// series, not a neighbour's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_simultaneous_forecast_users_each_get_their_own_series() {
    let s = serve(None, 10).await;
    let (ds, y) = last_week_per_hour(&real_rsvps());
    let users = 50;
    let started = Instant::now();
    let answers = futures::future::join_all((1..=users).map(|k| {
        let body = json!({
            "periods": 24,
            "ds": ds,
            "y": y.iter().map(|v| v * f64::from(k)).collect::<Vec<_>>(),
        });
        async move { forecast(s.addr, &[("x-api-key", KEY)], &body).await }
    }))
    .await;
    eprintln!(
        "{users} forecasts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let yhat = |answer: &Answer| -> Vec<f64> {
        assert_eq!(answer.status, 200, "{}", answer.text());
        serde_json::from_value(answer.json()["yhat"].clone()).expect("yhat numbers")
    };
    let base = yhat(&answers[0]);
    assert_eq!(base.len(), HOURS as usize + 24);
    let peak = y.iter().copied().fold(0.0, f64::max);
    for (i, answer) in answers.iter().enumerate() {
        let k = (i + 1) as f64;
        for (row, (got, one)) in yhat(answer).iter().zip(&base).enumerate() {
            assert!(
                (got - k * one).abs() <= 1e-6 * k * peak,
                "user {k} row {row}: {got} is not {k} × {one}"
            );
        }
    }
}
