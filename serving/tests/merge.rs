//! The lambda merge end to end on real services (Kafka, the sink into the
//! S3 lake, the batch layer into PostgreSQL, the speed layer, two `serve`
//! instances): at every instant sampled, before, across and after a batch
//! run's hand-over, every merged view equals the view recomputed here from
//! the raw records at exactly the offsets the answer says it covers.

mod sse;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use producer::race_data::RaceDataset;
use schemas::{Feed, Limits, RaceEvent, Rsvp};
use serde_json::Value;
use testkit::Services;
use testkit::lake::{Placement, fill_lake, fresh_lake, s3_options};

/// Raw records of one topic by (partition, offset).
struct Landed {
    topic: String,
    lines: Vec<Vec<u8>>,
    placement: Placement,
}

impl Landed {
    fn covered<'a>(&'a self, through: &'a Value) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.placement.iter().filter_map(move |((p, o), i)| {
            let last = through[&self.topic][p.to_string()].as_i64().unwrap_or(-1);
            (*o <= last).then(|| self.lines[*i].as_slice())
        })
    }
}

type Rows = BTreeMap<String, Value>;

/// The three views from scratch over the covered records, keyed like
/// [`rows_of`] keys the answer.
fn recompute(rsvps: &Landed, race: &Landed, through: &Value) -> [Rows; 3] {
    let limits = Limits::default();
    let mut country: BTreeMap<(String, i64), (i64, i64, i64)> = BTreeMap::new();
    let mut topic: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
    for line in rsvps.covered(through) {
        let r = Rsvp::parse(line, &limits).expect("valid fixture");
        let yes = i64::from(r.response == schemas::rsvp::Response::Yes);
        let e = country
            .entry((
                r.group.group_country.clone(),
                r.mtime.div_euclid(3_600_000) * 3_600_000,
            ))
            .or_default();
        *e = (e.0 + 1, e.1 + yes, e.2 + r.guests);
        for t in &r.group.group_topics {
            let e = topic
                .entry((t.urlkey.clone(), r.mtime.div_euclid(86_400_000)))
                .or_default();
            *e = (e.0 + 1, e.1 + yes);
        }
    }
    let mut entries = BTreeSet::new();
    let mut laps: BTreeMap<(String, String), BTreeMap<u32, i64>> = BTreeMap::new();
    let mut stops: BTreeMap<(String, String), BTreeSet<u32>> = BTreeMap::new();
    let mut results: BTreeMap<(String, String), Option<u32>> = BTreeMap::new();
    for line in race.covered(through) {
        match RaceEvent::parse(line, &limits).expect("valid fixture") {
            RaceEvent::RaceStart(s) => {
                for g in s.grid {
                    entries.insert((s.race_id.clone(), g.driver_id));
                }
            }
            RaceEvent::LapCompleted(l) => {
                laps.entry((l.race_id, l.driver_id))
                    .or_default()
                    .insert(l.lap, l.lap_time_ms);
            }
            RaceEvent::PitIn(p) => {
                stops
                    .entry((p.race_id, p.driver_id))
                    .or_default()
                    .insert(p.stop);
            }
            RaceEvent::PitOut(p) => {
                stops
                    .entry((p.race_id, p.driver_id))
                    .or_default()
                    .insert(p.stop);
            }
            RaceEvent::RaceFinish(f) => {
                for r in f.results {
                    results.insert((f.race_id.clone(), r.driver_id), r.position);
                }
            }
            _ => {}
        }
    }
    let country = country
        .into_iter()
        .map(|((c, h), (n, y, g))| (format!("{c}/{h}"), serde_json::json!([n, y, g])))
        .collect();
    let topic = topic
        .into_iter()
        .map(|((u, d), (n, y))| (format!("{u}/{d}"), serde_json::json!([n, y])))
        .collect();
    let race = entries
        .into_iter()
        .map(|key| {
            let l = laps.get(&key).cloned().unwrap_or_default();
            let value = serde_json::json!([
                l.len(),
                l.values().min(),
                l.values().sum::<i64>(),
                stops.get(&key).map_or(0, BTreeSet::len),
                results.get(&key).copied().flatten(),
            ]);
            (format!("{}/{}", key.0, key.1), value)
        })
        .collect();
    [country, topic, race]
}

/// An answer's rows keyed like [`recompute`].
fn rows_of(view: &str, answer: &Value) -> Rows {
    let rows = answer["rows"].as_array().expect("rows");
    rows.iter()
        .map(|r| match view {
            "view_rsvps_country_hour" => (
                format!(
                    "{}/{}",
                    r["country_code"].as_str().expect("c"),
                    r["hour_ms"]
                ),
                serde_json::json!([r["rsvps"], r["yes_count"], r["guests"]]),
            ),
            "view_topic_day" => (
                format!("{}/{}", r["urlkey"].as_str().expect("u"), r["day"]),
                serde_json::json!([r["rsvps"], r["yes_count"]]),
            ),
            _ => (
                format!(
                    "{}/{}",
                    r["race_id"].as_str().expect("r"),
                    r["driver_id"].as_str().expect("d")
                ),
                serde_json::json!([
                    r["laps"],
                    r["best_lap_ms"],
                    r["total_lap_ms"],
                    r["pit_stops"],
                    r["final_position"]
                ]),
            ),
        })
        .collect()
}

const VIEWS: [&str; 3] = [
    "view_rsvps_country_hour",
    "view_topic_day",
    "view_race_driver_laps",
];

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response);
    let status = text[9..12].parse().expect("status");
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Chunked or not: the JSON is the part between the first '{' and the last '}'.
    let json = body
        .find('{')
        .zip(body.rfind('}'))
        .map_or("null", |(a, b)| &body[a..=b]);
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

/// Checks all three views of one instance once; returns the coverage.
async fn check_instant(addr: std::net::SocketAddr, rsvps: &Landed, race: &Landed) -> Option<Value> {
    let mut answers = Vec::new();
    for view in VIEWS {
        let (status, answer) = get(addr, &format!("/api/views/{view}")).await;
        if status == 503 {
            return None;
        }
        assert_eq!(status, 200, "{answer}");
        answers.push(answer);
    }
    for (view, answer) in VIEWS.iter().zip(&answers) {
        let want = recompute(rsvps, race, &answer["coverage"]["through"]);
        let i = VIEWS.iter().position(|v| v == view).expect("listed");
        assert_eq!(
            rows_of(view, answer),
            want[i],
            "{view} at {}",
            answer["coverage"]
        );
    }
    Some(answers[0]["coverage"].clone())
}

fn covers_all(coverage: &Value, landed: &[&Landed], upto: usize) -> bool {
    landed.iter().all(|l| {
        let placed: BTreeMap<i32, i64> = l
            .placement
            .iter()
            .filter(|(_, i)| **i < upto.min(l.lines.len()))
            .fold(BTreeMap::new(), |mut m, ((p, o), _)| {
                let e = m.entry(*p).or_insert(*o);
                *e = (*e).max(*o);
                m
            });
        placed
            .iter()
            .all(|(p, o)| coverage["through"][&l.topic][p.to_string()].as_i64() >= Some(*o))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merged_views_equal_a_recomputation_before_across_and_after_a_hand_over() {
    let services = Services::get();
    let kafka = services.kafka();
    let lake = fresh_lake(true, "serve-merge");
    let rsvp_lines = testkit::fixtures::rsvp_lines();
    let race_lines: Vec<Vec<u8>> = testkit::fixtures::race_lines(RaceDataset::Ergast)
        .into_iter()
        .take(8_000)
        .collect();
    let (r1, r2) = rsvp_lines.split_at(900);
    let (c1, c2) = race_lines.split_at(4_000);
    let mut rsvps = Landed {
        topic: kafka.fresh_topic("serve-rsvps", 3).await,
        lines: r1.to_vec(),
        placement: Placement::new(),
    };
    let mut race = Landed {
        topic: kafka.fresh_topic("serve-race", 2).await,
        lines: c1.to_vec(),
        placement: Placement::new(),
    };
    rsvps.placement = fill_lake(&lake, &rsvps.topic, Feed::Rsvps, r1).await;
    race.placement = fill_lake(&lake, &race.topic, Feed::Race, c1).await;

    let runs_topic = kafka.fresh_topic("serve-runs", 1).await;
    let mut stream = stream_processor::StreamConfig::new(&kafka.brokers);
    stream.group = testkit::unique_name("serve-stream");
    stream.rsvps_topic.clone_from(&rsvps.topic);
    stream.race_topic.clone_from(&race.topic);
    stream.metrics_topic = kafka.fresh_topic("serve-metrics", 1).await;
    stream.dlq_topic = kafka.fresh_topic("serve-dlq", 1).await;
    stream.runs_topic.clone_from(&runs_topic);
    let (stop_stream, stream_stopped) = tokio::sync::oneshot::channel::<()>();
    let stream_task = tokio::spawn(stream_processor::run(stream.clone(), async move {
        let _ = stream_stopped.await;
    }));

    let db = services.postgres().fresh_database("serve").await;
    let mut serve = billabong_serving::ServeConfig::new(&kafka.brokers, &db);
    serve.listen = "127.0.0.1:0".parse().expect("addr");
    serve.metrics_topic.clone_from(&stream.metrics_topic);
    let (stop_a, a_stopped) = tokio::sync::oneshot::channel::<()>();
    let a = billabong_serving::start(serve.clone(), None, async move {
        let _ = a_stopped.await;
    })
    .await
    .expect("serve a");

    // Phase 1: no batch run; generation 0 covers everything.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut instants = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "phase 1 never covered the first half"
        );
        assert!(!stream_task.is_finished(), "the stream stopped");
        if let Some(c) = check_instant(a.addr, &rsvps, &race).await {
            instants += 1;
            assert_eq!(c["generation"], 0);
            if covers_all(&c, &[&rsvps, &race], usize::MAX) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Phase 2: a batch run over the lake (the first half), then the rest of
    // the data while the hand-over happens.
    let mut batch = batch::BatchConfig::new(&lake, db.clone());
    batch.rsvps_topic.clone_from(&rsvps.topic);
    batch.race_topic.clone_from(&race.topic);
    batch.storage_options = s3_options();
    batch.brokers = Some(kafka.brokers.clone());
    batch.runs_topic.clone_from(&runs_topic);
    let summary = batch::run_once(&batch, &batch::NoProgress)
        .await
        .expect("batch run");
    assert_eq!(summary.run_id, 1);
    let more_rsvps = testkit::lake::produce(&rsvps.topic, r2, testkit::lake::rsvp_key).await;
    let more_race = testkit::lake::produce(&race.topic, c2, testkit::lake::race_key).await;
    for (pos, i) in more_rsvps {
        rsvps.placement.insert(pos, i + r1.len());
    }
    for (pos, i) in more_race {
        race.placement.insert(pos, i + c1.len());
    }
    rsvps.lines = rsvp_lines.clone();
    race.lines = race_lines.clone();
    let mut generations = BTreeSet::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "phase 2 never covered everything"
        );
        assert!(!stream_task.is_finished(), "the stream stopped");
        if let Some(c) = check_instant(a.addr, &rsvps, &race).await {
            instants += 1;
            generations.insert(c["generation"].as_i64().expect("generation"));
            if c["generation"] == 1 {
                assert_eq!(c["batch_run_id"], 1);
            }
            if c["generation"] == 1 && covers_all(&c, &[&rsvps, &race], usize::MAX) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(generations.contains(&1), "{generations:?}");

    // A second instance started now reads the same and answers the same.
    let (stop_b, b_stopped) = tokio::sync::oneshot::channel::<()>();
    let b = billabong_serving::start(serve, None, async move {
        let _ = b_stopped.await;
    })
    .await
    .expect("serve b");
    let deadline_b = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline_b, "instance b never caught up");
        let mut same = true;
        for view in VIEWS {
            let (x, y) = (
                get(a.addr, &format!("/api/views/{view}")).await,
                get(b.addr, &format!("/api/views/{view}")).await,
            );
            same &= x == y;
        }
        if same {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, body) = get(a.addr, "/api/views/nope").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get(a.addr, "/api/views/view_topic_day?country=us").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("`country`")),
        "{body}"
    );
    let (status, _) = get(a.addr, "/ready").await;
    assert_eq!(status, 200);

    let _ = (stop_a.send(()), stop_b.send(()), stop_stream.send(()));
    a.wait().await.expect("a stops");
    b.wait().await.expect("b stops");
    stream_task.await.expect("join").expect("stream");
    assert!(instants >= 4, "{instants} instants checked");
}
