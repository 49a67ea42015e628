//! A loaded lake and database for the tests, and reading tables back.

use batch::BatchConfig;
use schemas::Feed;
use testkit::Services;
use testkit::lake::{Placement, fill_lake, fresh_lake, s3_options};
use tokio_postgres::Client;

pub(crate) use testkit::tables::{TABLES, dump};

/// Fixture records of one feed with the (partition, offset) each landed at.
pub(crate) struct Landed {
    pub(crate) topic: String,
    pub(crate) lines: Vec<Vec<u8>>,
    pub(crate) placement: Placement,
}

impl Landed {
    /// Every record with its lake position, in no particular order.
    pub(crate) fn positioned(&self) -> impl Iterator<Item = ((i32, i64), &[u8])> {
        self.placement
            .iter()
            .map(|(pos, i)| (*pos, self.lines[*i].as_slice()))
    }
}

/// Produces `lines` into a fresh topic with `partitions` partitions and sinks
/// them into `lake`.
pub(crate) async fn land(lake: &str, feed: Feed, lines: Vec<Vec<u8>>, partitions: i32) -> Landed {
    let topic = Services::get()
        .kafka()
        .fresh_topic(&format!("batch-{feed}"), partitions)
        .await;
    let placement = fill_lake(lake, &topic, feed, &lines).await;
    Landed {
        topic,
        lines,
        placement,
    }
}

/// A fresh S3 lake URL.
pub(crate) fn new_lake(name: &str) -> String {
    fresh_lake(true, name)
}

/// A batch config for `lake` and a fresh database.
pub(crate) async fn config(lake: &str, rsvps: &str, race: &str) -> BatchConfig {
    let db = Services::get().postgres().fresh_database("batch").await;
    let mut config = BatchConfig::new(lake, db);
    config.rsvps_topic = rsvps.to_owned();
    config.race_topic = race.to_owned();
    config.storage_options = s3_options();
    config
}

/// A client of the run's database.
pub(crate) async fn connect(config: &BatchConfig) -> Client {
    batch::pg::connect(&config.postgres)
        .await
        .expect("connect to the test database")
}

/// Asserts two maps are equal, naming up to five differing keys (the maps
/// hold thousands of rows: a full dump hides the difference).
pub(crate) fn assert_same<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    what: &str,
    have: &std::collections::BTreeMap<K, V>,
    want: &std::collections::BTreeMap<K, V>,
) {
    let mut diffs = Vec::new();
    for (k, w) in want {
        match have.get(k) {
            Some(h) if h == w => {}
            h => diffs.push(format!("{k:?}: have {h:?}, want {w:?}")),
        }
    }
    for k in have.keys().filter(|k| !want.contains_key(k)) {
        diffs.push(format!("{k:?}: unexpected row {:?}", have[k]));
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} of {} rows differ, e.g.\n{}",
        diffs.len(),
        want.len(),
        diffs.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}
