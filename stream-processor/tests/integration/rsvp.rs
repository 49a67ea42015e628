//! RSVP metrics on the real recorded stream (1,541 records, 234 going back
//! in time, some by 37 days), checked value by value against a naive model:
//! every record kept as a list, every window recounted from scratch.

use std::collections::{BTreeMap, HashMap};

use schemas::rsvp::Response;
use schemas::{Limits, Rsvp};

use crate::support::{self, Published};

const LATENESS_MS: i64 = 5 * 60_000;

/// The naive model's view of one record: accepted or late per window.
struct Naive {
    rsvps: Vec<Rsvp>,
    /// Watermark after each record: max event time so far − lateness.
    watermarks: Vec<i64>,
}

impl Naive {
    fn new(lines: &[Vec<u8>]) -> Self {
        let rsvps: Vec<Rsvp> = lines
            .iter()
            .map(|l| Rsvp::parse(l, &Limits::default()).expect("real RSVP"))
            .collect();
        let mut max = i64::MIN;
        let watermarks = rsvps
            .iter()
            .map(|r| {
                max = max.max(r.mtime);
                max - LATENESS_MS
            })
            .collect();
        Naive { rsvps, watermarks }
    }

    /// Records 0..=upto that fell into [start, end) and were on time for it.
    fn in_window(&self, upto: i64, start: i64, end: i64) -> impl Iterator<Item = &Rsvp> {
        self.rsvps
            .iter()
            .zip(&self.watermarks)
            .take(upto as usize + 1)
            .filter(move |(r, wm)| start <= r.mtime && r.mtime < end && end > **wm)
            .map(|(r, _)| r)
    }

    fn counts(
        &self,
        upto: i64,
        start: i64,
        end: i64,
        filter: impl Fn(&Rsvp) -> bool,
    ) -> (u64, u64, u64) {
        let mut c = (0, 0, 0);
        for r in self.in_window(upto, start, end).filter(|r| filter(r)) {
            c.0 += 1;
            if r.response == Response::Yes {
                c.1 += 1;
                c.2 += r.guests as u64;
            }
        }
        c
    }

    fn top(&self, upto: i64, start: i64, end: i64, k: usize) -> Vec<(String, u64)> {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for r in self.in_window(upto, start, end) {
            for t in &r.group.group_topics {
                *counts.entry(t.urlkey.clone()).or_default() += 1;
            }
        }
        let mut list: Vec<_> = counts.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(k);
        list
    }
}

fn check(naive: &Naive, p: &Published) {
    let u = &p.update;
    let v = &u["value"];
    let (start, end) = (
        u["window"]["start_ms"].as_i64().unwrap_or(0),
        u["window"]["end_ms"].as_i64().unwrap_or(0),
    );
    match u["metric"].as_str().unwrap_or_default() {
        "rsvp_count" => {
            let country = v["country"].as_str().expect("country").to_owned();
            let city = v["city"].as_str().map(str::to_owned);
            let (n, yes, _) = naive.counts(p.offset, start, end, |r| {
                r.group.group_country == country
                    && city.as_ref().is_none_or(|c| *c == r.group.group_city)
            });
            assert_eq!(
                (v["count"].as_u64(), v["yes"].as_u64()),
                (Some(n), Some(yes)),
                "{u}"
            );
            let ratio = v["yes_ratio"].as_f64().expect("ratio");
            assert!((ratio - yes as f64 / n as f64).abs() < 1e-12, "{u}");
        }
        "rsvp_rate" => {
            let (n, _, _) = naive.counts(p.offset, start, end, |_| true);
            assert_eq!(v["count"].as_u64(), Some(n), "{u}");
            assert!((v["per_second"].as_f64().expect("rate") - n as f64 / 60.0).abs() < 1e-12);
        }
        "rsvp_guests" => {
            let (_, yes, guests) = naive.counts(p.offset, start, end, |_| true);
            assert_eq!(
                (v["yes"].as_u64(), v["guests"].as_u64()),
                (Some(yes), Some(guests)),
                "{u}"
            );
            assert_eq!(v["attendees"].as_u64(), Some(yes + guests));
        }
        "topics_top" => {
            let top: Vec<(String, u64)> = v["top"]
                .as_array()
                .expect("top")
                .iter()
                .map(|e| {
                    (
                        e["topic"].as_str().unwrap_or_default().to_owned(),
                        e["count"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            assert_eq!(top, naive.top(p.offset, start, end, 10), "{u}");
        }
        "rsvp_trending" => {
            let m = v["as_of_ms"].as_i64().expect("as of");
            let mut counts: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
            for (r, wm) in naive
                .rsvps
                .iter()
                .zip(&naive.watermarks)
                .take(p.offset as usize + 1)
            {
                if r.mtime.div_euclid(60_000) * 60_000 + 60_000 <= *wm {
                    continue;
                }
                let c = counts.entry(r.event.event_id.as_str()).or_default();
                if (m - 600_000..m).contains(&r.mtime) {
                    c.0 += 1;
                } else if (m - 4_200_000..m - 600_000).contains(&r.mtime) {
                    c.1 += 1;
                }
            }
            let mut ranked: Vec<(i64, &str, i64, i64)> = counts
                .into_iter()
                .filter(|(_, c)| c.0 > 0)
                .map(|(id, c)| (6 * c.0 - c.1, id, c.0, c.1))
                .collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            ranked.truncate(10);
            let want: Vec<(String, i64, i64)> =
                ranked.iter().map(|r| (r.1.to_owned(), r.2, r.3)).collect();
            let got: Vec<(String, i64, i64)> = v["top"]
                .as_array()
                .expect("top")
                .iter()
                .map(|e| {
                    (
                        e["event_id"].as_str().unwrap_or_default().to_owned(),
                        e["recent_10m"].as_i64().unwrap_or(-1),
                        e["previous_hour"].as_i64().unwrap_or(-1),
                    )
                })
                .collect();
            assert_eq!(got, want, "{u}");
        }
        "rsvp_late" => {
            // Late for the 1-minute tumbling count: the record's minute had closed.
            let late_1m = (0..=p.offset as usize)
                .filter(|&i| {
                    let t = naive.rsvps[i].mtime;
                    t.div_euclid(60_000) * 60_000 + 60_000 <= naive.watermarks[i]
                })
                .count() as u64;
            assert_eq!(
                v["late"]["rsvp_count/country/1m"].as_u64(),
                Some(late_1m),
                "{u}"
            );
        }
        // No model registry: the status says so, and nothing is scored.
        "model_status" => assert_eq!(v["status"], "no model published yet", "{u}"),
        other => panic!("unexpected metric {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_published_rsvp_value_matches_a_naive_recount_of_the_real_stream() {
    let kafka = support::kafka();
    let lines = testkit::fixtures::rsvp_lines();
    let topic = kafka.fresh_topic("rsvps", 1).await;
    support::produce(&kafka, &topic, &lines);
    let config = support::config(&kafka, &topic, "").await;
    let started = std::time::Instant::now();
    let report = support::run_until_committed(&config, &[(&topic, lines.len() as i64)]).await;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "rsvps: {report:?} in {seconds:.2} s ({:.0} records/s)",
        lines.len() as f64 / seconds
    );
    assert_eq!(report.records, lines.len() as u64);
    assert!(
        report.late > 0,
        "the real stream has records older than the allowed lateness"
    );

    let naive = Naive::new(&lines);
    let published = support::updates(&support::read_all(&kafka.brokers, &config.metrics_topic));
    support::assert_only_changes(&published);
    let mut metrics: BTreeMap<String, usize> = BTreeMap::new();
    for p in &published {
        check(&naive, p);
        *metrics
            .entry(p.update["metric"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    eprintln!("checked {} updates: {metrics:?}", published.len());
    for metric in [
        "rsvp_count",
        "rsvp_rate",
        "rsvp_guests",
        "topics_top",
        "rsvp_late",
    ] {
        assert!(
            metrics.get(metric).copied().unwrap_or(0) > 0,
            "no {metric} published"
        );
    }

    // Every window the final watermark closed has its final value published.
    let final_wm = *naive.watermarks.last().expect("records");
    let mut last: HashMap<String, &Published> = HashMap::new();
    for p in &published {
        last.insert(p.update["key"].as_str().unwrap_or_default().to_owned(), p);
    }
    let end = lines.len() as i64 - 1;
    let mut closed = 0;
    for r in &naive.rsvps {
        let start = r.mtime.div_euclid(60_000) * 60_000;
        if start + 60_000 > final_wm {
            continue;
        }
        let key = format!("rsvp_count/country/1m/{start}/{}", r.group.group_country);
        let Some(p) = last.get(&key) else {
            // Every record of that window came late.
            assert_eq!(
                naive
                    .counts(end, start, start + 60_000, |x| x.group.group_country
                        == r.group.group_country)
                    .0,
                0
            );
            continue;
        };
        let (n, _, _) = naive.counts(end, start, start + 60_000, |x| {
            x.group.group_country == r.group.group_country
        });
        assert_eq!(
            p.update["value"]["count"].as_u64(),
            Some(n),
            "final value of {key}"
        );
        closed += 1;
    }
    assert!(closed > 100);
}
