//! Two runs over a lake that grew in between equal one run over all of it.

use schemas::Feed;
use testkit::fixtures::{race_lines, rsvp_lines};
use testkit::lake::fill_lake;

use testkit::tables::dump_where;

use crate::support::{TABLES, config, connect, dump, land, new_lake};

/// The view tables and the run id column they are compared without.
const VIEWS: &[&str] = &[
    "view_rsvps_country_hour",
    "view_topic_day",
    "view_race_driver_laps",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_incremental_runs_equal_one_run_over_everything() {
    let lake = new_lake("batch-incremental");
    let rsvps_all = rsvp_lines();
    let race_all = race_lines(producer::race_data::RaceDataset::Fia);
    // Split mid-stream: the second half re-emits RSVPs of the first and
    // continues races the first half started.
    let (r1, r2) = rsvps_all.split_at(rsvps_all.len() / 2);
    let (c1, c2) = race_all.split_at(race_all.len() / 2);
    let rsvps = land(&lake, Feed::Rsvps, r1.to_vec(), 3).await;
    let race = land(&lake, Feed::Race, c1.to_vec(), 2).await;

    let incremental = config(&lake, &rsvps.topic, &race.topic).await;
    let first = batch::run_once(&incremental, &batch::NoProgress)
        .await
        .expect("first run");
    assert_eq!(first.rows_read, (r1.len() + c1.len()) as u64);

    fill_lake(&lake, &rsvps.topic, Feed::Rsvps, r2).await;
    fill_lake(&lake, &race.topic, Feed::Race, c2).await;
    let second = batch::run_once(&incremental, &batch::NoProgress)
        .await
        .expect("second run");
    assert_eq!(second.run_id, 2);
    assert_eq!(
        second.rows_read,
        (r2.len() + c2.len()) as u64,
        "the second run reads only what the first did not"
    );

    let single = config(&lake, &rsvps.topic, &race.topic).await;
    let once = batch::run_once(&single, &batch::NoProgress)
        .await
        .expect("single run");
    assert_eq!(once.run_id, 1);
    assert_eq!(once.rows_read, (rsvps_all.len() + race_all.len()) as u64);
    assert_eq!(once.watermarks, second.watermarks);

    let (a, b) = (connect(&incremental).await, connect(&single).await);
    for table in TABLES {
        let (x, y) = (dump(&a, table, &[]).await, dump(&b, table, &[]).await);
        assert!(!y.is_empty(), "{table} is empty");
        assert!(x == y, "{table}: incremental and single loads differ");
    }
    for view in VIEWS {
        let runs = a
            .query(
                &format!("SELECT DISTINCT run_id FROM {view} ORDER BY 1"),
                &[],
            )
            .await
            .expect("runs")
            .iter()
            .map(|r| r.get::<_, i64>(0))
            .collect::<Vec<_>>();
        assert_eq!(
            runs,
            [1, 2],
            "{view} keeps the previous run's rows and the new run's"
        );
        let x = dump_where(&a, view, &["run_id"], "run_id = 2").await;
        let y = dump_where(&b, view, &["run_id"], "run_id = 1").await;
        assert!(!y.is_empty(), "{view} is empty");
        assert!(x == y, "{view}: incremental and single runs differ");
    }
}
