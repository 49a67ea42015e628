//! `GET /api/stream` on real services: clients that disconnect at random
//! points and resume with `Last-Event-ID`, on the same instance or another
//! one, end up with exactly the committed updates of the metrics topic after
//! their first snapshot: no gap, no duplicate, Kafka's order per partition.
//! Also: a too-old or foreign id gets a `gap` snapshot, an unknown channel a
//! 400, streams start with `retry` and carry keep-alives.
//!
//! A module of the `services` binary, not a binary of its own: it links the
//! same crates (speed layer, Kafka, PostgreSQL), and a second test binary
//! would cost another link of all of them.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use billabong_serving::{ServeConfig, Server};
use producer::race_data::RaceDataset;
use serde_json::Value;
use testkit::Services;
use testkit::sse::{SseEvent, connect};
use tokio::sync::oneshot;

/// Clients that wander between the two instances.
const WANDERERS: usize = 4;
/// The input is produced in this many slices, `SLICE_PAUSE` apart, so
/// updates keep flowing while clients come and go.
const SLICES: usize = 6;
const SLICE_PAUSE: Duration = Duration::from_millis(500);

/// (metrics partition, offset, index in the message) → (channel, update id).
type Expected = BTreeMap<(i32, i64, u32), (String, String)>;

/// What one client read, over all its connections.
#[derive(Debug, Default)]
struct Seen {
    /// The id of the first (initial) snapshot.
    first_cut: Option<String>,
    /// (channel, update id) of every metric event, in arrival order.
    events: Vec<(String, String)>,
    views_events: usize,
    connections: usize,
    on_b: usize,
}

/// Parses an id (`<partition>:<offset>:<index>,...`, `-` when empty): the
/// test reads ids as the server documents them, to know where a client's
/// snapshot left off.
fn parse_cut(id: &str) -> BTreeMap<i32, (i64, u32)> {
    if id == "-" {
        return BTreeMap::new();
    }
    id.split(',')
        .map(|part| {
            let f: Vec<&str> = part.split(':').collect();
            assert_eq!(f.len(), 3, "id {id}");
            (
                f[0].parse().expect("partition"),
                (f[1].parse().expect("offset"), f[2].parse().expect("index")),
            )
        })
        .collect()
}

/// The live updates of every committed metrics message.
fn committed_updates(brokers: &str, topic: &str) -> Expected {
    let mut expected = Expected::new();
    for record in testkit::read_committed(brokers, topic) {
        let message: Value = serde_json::from_slice(&record.payload).expect("JSON");
        if !message["generation"].is_null() {
            continue;
        }
        for (i, u) in message["updates"]
            .as_array()
            .expect("updates")
            .iter()
            .enumerate()
        {
            let metric = u["metric"].as_str().expect("metric").to_owned();
            let id = u["id"].as_str().expect("update id").to_owned();
            let index = u32::try_from(i).expect("small");
            expected.insert((record.partition, record.offset, index), (metric, id));
        }
    }
    expected
}

fn stream_path(channels: Option<&str>) -> String {
    channels.map_or("/api/stream".to_owned(), |c| {
        format!("/api/stream?channels={c}")
    })
}

/// Reads the stream until `stop`, dropping the connection after a random
/// number of events or a random pause and resuming with the last id on a
/// random instance of `addrs`. Any `gap` snapshot fails the test: the
/// ring is far larger than this run.
async fn wander(
    name: String,
    addrs: Vec<SocketAddr>,
    channels: Option<&'static str>,
    seed: u64,
    seen: Arc<Mutex<Seen>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut last: Option<String> = None;
    loop {
        let i = rng.usize(..addrs.len());
        let mut stream = match connect(addrs[i], &stream_path(channels), last.as_deref()).await {
            Ok(Ok(stream)) => stream,
            other => panic!("{name}: connecting failed: {other:?}"),
        };
        {
            let mut s = seen.lock().expect("lock");
            s.connections += 1;
            s.on_b += i;
        }
        // Budgets: events for a wanderer, unbounded for the reference.
        let mut budget = if addrs.len() > 1 {
            rng.usize(1..80)
        } else {
            usize::MAX
        };
        let pause = Duration::from_millis(rng.u64(20..400));
        let mut first_frame = true;
        loop {
            let frame = tokio::select! {
                _ = &mut stop => return,
                frame = tokio::time::timeout(pause, stream.next()) => frame,
            };
            let frame = match frame {
                Err(_) if addrs.len() > 1 => break, // a random point in time
                Err(_) => continue,
                Ok(frame) => frame.unwrap_or_else(|e| panic!("{name}: read failed: {e}")),
            };
            let Some(event) = frame else {
                break; // the server cut us off (too slow): resume
            };
            if first_frame {
                assert_eq!(event.retry, Some(2_000), "{name}: streams start with retry");
                first_frame = false;
                continue;
            }
            record(&name, event, &mut last, &seen);
            budget -= 1;
            if budget == 0 {
                break;
            }
        }
    }
}

fn record(name: &str, event: SseEvent, last: &mut Option<String>, seen: &Mutex<Seen>) {
    let Some(channel) = event.event else {
        return; // keep-alive
    };
    let id = event
        .id
        .unwrap_or_else(|| panic!("{name}: {channel} event without id"));
    let data: Value = serde_json::from_str(&event.data).expect("JSON data");
    let mut s = seen.lock().expect("lock");
    match channel.as_str() {
        "snapshot" => {
            assert!(
                last.is_none() && data["reason"] == "initial",
                "{name}: unexpected snapshot after {last:?}: {data}"
            );
            assert!(data["updates"].is_array(), "{data}");
            s.first_cut = Some(id.clone());
        }
        "views" => {
            assert!(
                data["coverage"].is_object() && data["views"].is_array(),
                "{data}"
            );
            s.views_events += 1;
        }
        _ => {
            assert_eq!(data["metric"].as_str(), Some(channel.as_str()), "{data}");
            let update = data["id"].as_str().expect("update id").to_owned();
            s.events.push((channel, update));
        }
    }
    *last = Some(id);
}

async fn start_serve(config: &ServeConfig) -> (Server, oneshot::Sender<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let server = billabong_serving::start(config.clone(), None, async move {
        let _ = stopped.await;
    })
    .await
    .expect("serve starts");
    (server, stop)
}

/// The first frames of a fresh stream on `addr` with `last_event_id`,
/// up to and including the snapshot.
async fn snapshot_of(addr: SocketAddr, path: &str, last_event_id: Option<&str>) -> SseEvent {
    let mut stream = connect(addr, path, last_event_id)
        .await
        .expect("connect")
        .expect("200");
    loop {
        let event = stream.next().await.expect("read").expect("a frame");
        if event.event.is_some() {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sse_clients_resuming_at_random_points_on_any_instance_miss_nothing_and_see_nothing_twice()
{
    let seed = std::env::var("BILLABONG_SSE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("SSE disconnect seed: {seed} (rerun with BILLABONG_SSE_SEED={seed})");
    let started = Instant::now();
    let services = Services::get();
    let kafka = services.kafka();
    let rsvps_topic = kafka.fresh_topic("sse-rsvps", 2).await;
    let race_topic = kafka.fresh_topic("sse-race", 1).await;
    let mut stream = stream_processor::StreamConfig::new(&kafka.brokers);
    stream.group = testkit::unique_name("sse-stream");
    stream.rsvps_topic.clone_from(&rsvps_topic);
    stream.race_topic.clone_from(&race_topic);
    stream.metrics_topic = kafka.fresh_topic("sse-metrics", 2).await;
    stream.dlq_topic = kafka.fresh_topic("sse-dlq", 1).await;
    stream.runs_topic = kafka.fresh_topic("sse-runs", 1).await;
    let (stop_stream, stream_stopped) = oneshot::channel::<()>();
    let stream_task = tokio::spawn(stream_processor::run(stream.clone(), async move {
        let _ = stream_stopped.await;
    }));

    let rsvps = testkit::fixtures::rsvp_lines();
    let race: Vec<Vec<u8>> = testkit::fixtures::race_lines(RaceDataset::Ergast)
        .into_iter()
        .take(3_000)
        .collect();
    let slice = |lines: &[Vec<u8>], i: usize| {
        let n = lines.len().div_ceil(SLICES);
        lines[(i * n).min(lines.len())..((i + 1) * n).min(lines.len())].to_vec()
    };
    // (topic, partition) → one past the last offset produced.
    let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut produce_slice = async |i: usize| {
        for (topic, lines, key) in [
            (
                &rsvps_topic,
                &rsvps,
                testkit::lake::rsvp_key as fn(&[u8]) -> String,
            ),
            (&race_topic, &race, testkit::lake::race_key),
        ] {
            for (p, o) in testkit::lake::produce(topic, &slice(lines, i), key)
                .await
                .keys()
            {
                let end = ends.entry((topic.clone(), *p)).or_default();
                *end = (*end).max(o + 1);
            }
        }
    };
    produce_slice(0).await;

    let db = services.postgres().fresh_database("sse").await;
    let mut config = ServeConfig::new(&kafka.brokers, &db);
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.metrics_topic.clone_from(&stream.metrics_topic);
    let (a, stop_a) = start_serve(&config).await;
    // Let the first slice reach the instances, so snapshots have content.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let snapshot = snapshot_of(a.addr, "/api/stream", None).await;
        let data: Value = serde_json::from_str(&snapshot.data).expect("JSON");
        if data["updates"].as_array().is_some_and(|u| !u.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "no live update reached serve");
        assert!(!stream_task.is_finished(), "the stream stopped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // b starts now and reads the topic from the start while clients that
    // have read further on a resume on it: it must not resend what they
    // have, nor lose their lead in the ids it sends.
    let (b, stop_b) = start_serve(&config).await;
    // Clients: one reference that never leaves a, and wanderers.
    let channel_sets: [Option<&'static str>; WANDERERS] = [
        None,
        Some("race_car,race_order,race_pass"),
        Some("rsvp_count,topics_top,views"),
        None,
    ];
    let mut clients = Vec::new();
    for i in 0..=WANDERERS {
        let (addrs, channels, name) = if i == 0 {
            (vec![a.addr], None, "reference".to_owned())
        } else {
            (
                vec![a.addr, b.addr],
                channel_sets[i - 1],
                format!("wanderer {i}"),
            )
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(wander(
            name.clone(),
            addrs,
            channels,
            seed.wrapping_add(i as u64),
            seen.clone(),
            stopped,
        ));
        clients.push((name, channels, seen, stop, task));
    }

    for i in 1..SLICES {
        tokio::time::sleep(SLICE_PAUSE).await;
        produce_slice(i).await;
    }
    // The speed layer is done when its committed input offsets reach the ends.
    let ends: Vec<(String, i32, i64)> = ends.into_iter().map(|((t, p), e)| (t, p, e)).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !committed_reached(&kafka.brokers, &stream.group, &ends) {
        assert!(Instant::now() < deadline, "the speed layer never caught up");
        assert!(!stream_task.is_finished(), "the stream stopped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let expected = committed_updates(&kafka.brokers, &stream.metrics_topic);
    let partition_of: HashMap<&str, (i32, i64, u32)> = expected
        .iter()
        .map(|(pos, (_, id))| (id.as_str(), *pos))
        .collect();
    assert_eq!(partition_of.len(), expected.len(), "update ids are unique");

    // Wait until every client has read as many events as it should, then
    // compare exactly.
    let want = |channels: Option<&str>, first_cut: &str| -> BTreeMap<i32, Vec<String>> {
        let cut = parse_cut(first_cut);
        let mut out: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        for ((p, o, i), (metric, id)) in &expected {
            let after = cut.get(p).is_none_or(|c| (*o, *i) > *c);
            let wanted = channels.is_none_or(|c| c.split(',').any(|x| x == metric));
            if after && wanted {
                out.entry(*p).or_default().push(id.clone());
            }
        }
        out
    };
    let got = |seen: &Seen| -> BTreeMap<i32, Vec<String>> {
        let mut out: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        for (channel, id) in &seen.events {
            let (p, _, _) = partition_of
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{channel} event {id} is not in the topic"));
            out.entry(*p).or_default().push(id.clone());
        }
        out
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    for (name, channels, seen, _, _) in &clients {
        loop {
            let (have, need) = {
                let s = seen.lock().expect("lock");
                let cut = s.first_cut.clone().expect("an initial snapshot");
                (
                    s.events.len(),
                    want(*channels, &cut).values().map(Vec::len).sum::<usize>(),
                )
            };
            if have >= need {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} has {have} of {need} events"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut total_connections = 0;
    for (name, channels, seen, stop, task) in clients {
        let _ = stop.send(());
        task.await.expect("client task");
        let s = seen.lock().expect("lock");
        let cut = s.first_cut.clone().expect("an initial snapshot");
        let (got, want) = (got(&s), want(channels, &cut));
        for p in want.keys().chain(got.keys()) {
            let (g, w) = (
                &got.get(p).cloned().unwrap_or_default(),
                &want.get(p).cloned().unwrap_or_default(),
            );
            if g != w {
                let first = g
                    .iter()
                    .zip(w)
                    .position(|(x, y)| x != y)
                    .unwrap_or(g.len().min(w.len()));
                panic!(
                    "{name} (seed {seed}), metrics partition {p}: {} events, {} committed after {cut}; \
                     first difference at {first}: got {:?}, want {:?}",
                    g.len(),
                    w.len(),
                    g.get(first),
                    w.get(first)
                );
            }
        }
        println!(
            "{name}: {} events over {} connections ({} on b), {} views events",
            s.events.len(),
            s.connections,
            s.on_b,
            s.views_events
        );
        total_connections += s.connections;
        if channels.is_none_or(|c| c.contains("views")) {
            assert!(s.views_events > 0, "{name} saw no views event");
        }
    }
    assert!(
        total_connections > 3 * WANDERERS,
        "{total_connections} connections: too few resumes"
    );

    // A ring of 50 events: the reference's first id is long gone.
    let mut small = config.clone();
    small.sse.replay_events = 50;
    small.sse.keep_alive = Duration::from_millis(300);
    let (c, stop_c) = start_serve(&small).await;
    let old = format!("0:{}:0", expected.keys().next().expect("updates").1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let gap = loop {
        let event = snapshot_of(c.addr, "/api/stream?channels=race_car", Some(&old)).await;
        let data: Value = serde_json::from_str(&event.data).expect("JSON");
        if data["reason"] == "gap" {
            break data;
        }
        assert!(Instant::now() < deadline, "no gap snapshot from c: {data}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        gap["message"].as_str().is_some_and(|m| m.contains("older")),
        "{gap}"
    );
    assert!(
        gap["updates"]
            .as_array()
            .is_some_and(|u| !u.is_empty() && u.iter().all(|u| u["metric"] == "race_car")),
        "{gap}"
    );
    let foreign = snapshot_of(c.addr, "/api/stream", Some("not-an-id")).await;
    let data: Value = serde_json::from_str(&foreign.data).expect("JSON");
    assert_eq!(data["reason"], "gap", "{data}");
    assert!(
        data["message"]
            .as_str()
            .is_some_and(|m| m.contains("not an id")),
        "{data}"
    );
    // Keep-alives: a comment frame within a few intervals of silence.
    let mut quiet = connect(c.addr, "/api/stream?channels=race_flag", None)
        .await
        .expect("connect")
        .expect("200");
    let alive = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let frame = quiet.next().await.expect("read").expect("frame");
            if frame.event.is_none() && !frame.comments.is_empty() {
                break;
            }
        }
    })
    .await;
    assert!(alive.is_ok(), "no keep-alive comment");
    // An unknown channel: 400 naming it and listing the known ones, which
    // must include every metric family the speed layer published.
    let refused = connect(a.addr, "/api/stream?channels=race_car,nope", None)
        .await
        .expect("connect")
        .expect_err("400");
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("\\\"nope\\\""), "{}", refused.body);
    for (metric, _) in expected.values() {
        assert!(
            refused.body.contains(metric.as_str()),
            "channel {metric} unknown to serve"
        );
    }

    drop(quiet);
    let _ = (
        stop_a.send(()),
        stop_b.send(()),
        stop_c.send(()),
        stop_stream.send(()),
    );
    a.wait().await.expect("a stops");
    b.wait().await.expect("b stops");
    c.wait().await.expect("c stops");
    stream_task.await.expect("join").expect("stream");
    println!(
        "SSE test: {} committed updates, {:.1} s",
        expected.len(),
        started.elapsed().as_secs_f64()
    );
}

fn committed_reached(brokers: &str, group: &str, ends: &[(String, i32, i64)]) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut list = rdkafka::TopicPartitionList::new();
    for (topic, p, _) in ends {
        list.add_partition(topic, *p);
    }
    let Ok(committed) = consumer.committed_offsets(list, Duration::from_secs(10)) else {
        return false;
    };
    ends.iter().all(|(topic, p, end)| {
        matches!(committed.find_partition(topic, *p).map(|e| e.offset()),
                 Some(rdkafka::Offset::Offset(o)) if o >= *end)
    })
}
