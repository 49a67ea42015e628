//! The lake's object names, all relative to the lake root. Every name is
//! derived from (topic, partition, offsets) so that a name alone says what an
//! object holds, and so that zero-padded offsets sort lexically in offset order
//! (the checkpoint's "list after this name" depends on it).
//!
//! ```text
//! raw/<topic>/date=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first>-<last>+<attempt>.parquet
//! _commits/<topic>/<partition>/<first, 20 digits>.json
//! _compactions/<topic>/<partition>/<generation, 20 digits>.json
//! _checkpoints/<topic>/<partition>.json
//! ```
//!
//! The S3 server we run refuses a key that is also a prefix of another key
//! (`a` and `a/b`); no name above is a prefix of another: data and records
//! live under separate top-level folders and every object ends in an extension.

use schemas::civil::civil_from_days;

/// Hive-style ingest-time folder of one file: `date=YYYY-MM-DD/hour=HH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HourBucket {
    /// Hours since the Unix epoch (UTC).
    pub epoch_hour: i64,
}

impl HourBucket {
    /// The bucket of a time in ms since the epoch.
    pub fn of_ms(ms: i64) -> Self {
        Self {
            epoch_hour: ms.div_euclid(3_600_000),
        }
    }

    /// `date=YYYY-MM-DD/hour=HH`.
    pub fn dir(self) -> String {
        let days = self.epoch_hour.div_euclid(24);
        let hour = self.epoch_hour.rem_euclid(24);
        let (y, m, d) = civil_from_days(days);
        format!("date={y:04}-{m:02}-{d:02}/hour={hour:02}")
    }
}

/// A data file: `raw/<topic>/<hour dir>/<topic>+<p>+<first>-<last>+<attempt>.parquet`.
///
/// `attempt` is unique per write attempt, so two sinks racing on the same
/// range never overwrite each other's file: the loser deletes only its own.
pub fn data_file(
    topic: &str,
    partition: i32,
    hour: HourBucket,
    first: i64,
    last: i64,
    attempt: &str,
) -> String {
    format!(
        "raw/{topic}/{}/{topic}+{partition}+{first:020}-{last:020}+{attempt}.parquet",
        hour.dir()
    )
}

/// The partition and offset range in a data file's name, as [`data_file`]
/// writes it (Kafka topic names cannot contain `+`).
pub fn data_file_range(path: &str) -> Option<(i32, i64, i64)> {
    let file = path.rsplit('/').next()?.strip_suffix(".parquet")?;
    let mut fields = file.split('+');
    let (_topic, partition, range) = (fields.next()?, fields.next()?, fields.next()?);
    let (first, last) = range.split_once('-')?;
    Some((
        partition.parse().ok()?,
        first.parse().ok()?,
        last.parse().ok()?,
    ))
}

/// The folder of a topic's data files.
pub fn raw_dir(topic: &str) -> String {
    format!("raw/{topic}")
}

/// The commit record of a range, named by its FIRST offset only: two writers
/// that both believe the partition continues at `first` collide on this name,
/// and create-only lets exactly one of them win.
pub fn commit_record(topic: &str, partition: i32, first: i64) -> String {
    format!("{}/{first:020}.json", commit_dir(topic, partition))
}

/// The folder of one partition's commit records.
pub fn commit_dir(topic: &str, partition: i32) -> String {
    format!("_commits/{topic}/{partition}")
}

/// The folder of all commit records.
pub const COMMITS_ROOT: &str = "_commits";

/// A compaction generation of one partition.
pub fn compaction_record(topic: &str, partition: i32, generation: u64) -> String {
    format!("{}/{generation:020}.json", compaction_dir(topic, partition))
}

/// The folder of one partition's compaction records.
pub fn compaction_dir(topic: &str, partition: i32) -> String {
    format!("_compactions/{topic}/{partition}")
}

/// The per-partition checkpoint (a hint naming the latest known commit record).
pub fn checkpoint(topic: &str, partition: i32) -> String {
    format!("_checkpoints/{topic}/{partition}.json")
}

/// The number in a zero-padded record name (`.../00000000000000000042.json`).
pub fn record_number(name: &str) -> Option<i64> {
    let file = name.rsplit('/').next()?;
    file.strip_suffix(".json")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_file_names_give_back_their_range() {
        let hour = HourBucket::of_ms(1_489_925_470_960);
        let path = data_file("billabong.rsvps", 3, hour, 42, 99, "a1b2");
        assert_eq!(data_file_range(&path), Some((3, 42, 99)));
        assert_eq!(data_file_range("raw/t/x.parquet"), None);
    }

    #[test]
    fn hour_dirs_are_utc_calendar_hours() {
        assert_eq!(HourBucket::of_ms(0).dir(), "date=1970-01-01/hour=00");
        // 2017-03-17T21:05:00Z
        assert_eq!(
            HourBucket::of_ms(1_489_784_700_000).dir(),
            "date=2017-03-17/hour=21"
        );
        // 2020-02-29T23:59:59.999Z, a leap day
        assert_eq!(
            HourBucket::of_ms(1_583_020_799_999).dir(),
            "date=2020-02-29/hour=23"
        );
        assert_eq!(HourBucket::of_ms(-1).dir(), "date=1969-12-31/hour=23");
    }

    #[test]
    fn record_names_sort_in_offset_order() {
        let a = commit_record("t", 0, 9);
        let b = commit_record("t", 0, 10);
        assert!(a < b);
        assert_eq!(record_number(&b), Some(10));
        assert_eq!(record_number("x/y.txt"), None);
    }
}
