//! Race events → circuits, drivers, constructors, races, entries, laps,
//! pit_stops, results.
//!
//! Everything reads `race_delta`, the run's delta of the race feed (already a
//! flat table with one row per event; `grid` and `results` are lists).
//! "Newest" is (event ts, lake partition, lake offset) descending; a race's
//! events share one partition, so within a race that is feed order.

use super::{Merge, Target};

const NEWEST: &[&str] = &["src_time", "src_partition", "src_offset"];

/// The grid slots of every race start in the delta, one row per slot;
/// registered next to `race_delta` as `race_grid`.
pub const GRID: &str = "(SELECT race_id, ts, _partition, _offset, unnest(grid) AS g
                     FROM race_delta WHERE type = 'race_start')";

/// The targets in foreign-key order.
pub const TARGETS: &[Target] = &[
    Target {
        table: "circuits",
        columns: &[
            "circuit_id",
            "circuit_name",
            "country",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["circuit_id"],
        extract: r#"
SELECT circuit['circuit_id'], circuit['name'], circuit['country'], ts, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY circuit['circuit_id']
                                   ORDER BY ts DESC, _partition DESC, _offset DESC) AS rn
      FROM race_delta WHERE type = 'race_start')
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    Target {
        table: "drivers",
        columns: &[
            "driver_id",
            "driver_name",
            "driver_code",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["driver_id"],
        extract: r#"
SELECT g['driver_id'], g['driver_name'], g['driver_code'], ts, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY g['driver_id']
                                   ORDER BY ts DESC, _partition DESC, _offset DESC) AS rn
      FROM race_grid)
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    Target {
        table: "constructors",
        columns: &[
            "constructor_id",
            "constructor_name",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["constructor_id"],
        extract: r#"
SELECT g['constructor_id'], g['constructor_name'], ts, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY g['constructor_id']
                                   ORDER BY ts DESC, _partition DESC, _offset DESC) AS rn
      FROM race_grid)
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    Target {
        table: "races",
        columns: &[
            "race_id",
            "season",
            "round",
            "race_name",
            "race_date",
            "circuit_id",
            "scheduled_laps",
            "start_time",
            "src_partition",
            "src_offset",
        ],
        key: &["race_id"],
        extract: r#"
SELECT race_id, season, round, name, CAST(date AS DATE), circuit['circuit_id'],
       scheduled_laps, ts, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY race_id
                                   ORDER BY ts DESC, _partition DESC, _offset DESC) AS rn
      FROM race_delta WHERE type = 'race_start')
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(&["start_time", "src_partition", "src_offset"]),
    },
    Target {
        table: "entries",
        columns: &[
            "race_id",
            "driver_id",
            "constructor_id",
            "car_number",
            "grid_position",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["race_id", "driver_id"],
        extract: r#"
SELECT race_id, g['driver_id'], g['constructor_id'], g['car_number'], g['grid_position'],
       ts, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY race_id, g['driver_id']
                                   ORDER BY ts DESC, _partition DESC, _offset DESC) AS rn
      FROM race_grid)
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    Target {
        table: "laps",
        columns: &[
            "race_id",
            "driver_id",
            "lap",
            "position",
            "lap_time_ms",
            "race_time_ms",
            "completed_at",
            "src_partition",
            "src_offset",
        ],
        key: &["race_id", "driver_id", "lap"],
        extract: r#"
SELECT race_id, driver_id, lap, position, lap_time_ms, race_time_ms, ts, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY race_id, driver_id, lap
                                   ORDER BY ts DESC, _partition DESC, _offset DESC) AS rn
      FROM race_delta WHERE type = 'lap_completed')
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(&["completed_at", "src_partition", "src_offset"]),
    },
    // A stop is two events. Each half is the newest event of its kind; the
    // staged position is the later half's. Later runs hold later offsets of
    // the race's partition, so a staged half always replaces a stored one.
    // The lap is the pit-in lap when there is one, else the pit-out lap.
    Target {
        table: "pit_stops",
        columns: &[
            "race_id",
            "driver_id",
            "stop",
            "lap",
            "in_time",
            "out_time",
            "duration_ms",
            "src_partition",
            "src_offset",
        ],
        key: &["race_id", "driver_id", "stop"],
        extract: r#"
WITH pin AS (
  SELECT race_id, driver_id, stop, lap, ts, _partition, _offset
  FROM (SELECT *, row_number() OVER (PARTITION BY race_id, driver_id, stop
                                     ORDER BY _partition DESC, _offset DESC) AS rn
        FROM race_delta WHERE type = 'pit_in')
  WHERE rn = 1),
pout AS (
  SELECT race_id, driver_id, stop, lap, ts, duration_ms, _partition, _offset
  FROM (SELECT *, row_number() OVER (PARTITION BY race_id, driver_id, stop
                                     ORDER BY _partition DESC, _offset DESC) AS rn
        FROM race_delta WHERE type = 'pit_out')
  WHERE rn = 1)
SELECT coalesce(i.race_id, o.race_id), coalesce(i.driver_id, o.driver_id),
       coalesce(i.stop, o.stop), coalesce(i.lap, o.lap),
       i.ts, o.ts, o.duration_ms,
       coalesce(i._partition, o._partition),
       CASE WHEN i._offset IS NULL THEN o._offset
            WHEN o._offset IS NULL THEN i._offset
            WHEN i._offset > o._offset THEN i._offset
            ELSE o._offset END
FROM pin i FULL OUTER JOIN pout o
  ON i.race_id = o.race_id AND i.driver_id = o.driver_id AND i.stop = o.stop"#,
        staging: None,
        merge: Merge::Custom(
            "INSERT INTO pit_stops AS t (race_id, driver_id, stop, lap, in_time, out_time,
                                         duration_ms, src_partition, src_offset)
             SELECT race_id, driver_id, stop, lap, in_time, out_time, duration_ms,
                    src_partition, src_offset
             FROM stage_pit_stops
             ON CONFLICT (race_id, driver_id, stop) DO UPDATE SET
               lap = CASE WHEN EXCLUDED.in_time IS NOT NULL OR t.in_time IS NULL
                          THEN EXCLUDED.lap ELSE t.lap END,
               in_time = coalesce(EXCLUDED.in_time, t.in_time),
               out_time = coalesce(EXCLUDED.out_time, t.out_time),
               duration_ms = CASE WHEN EXCLUDED.out_time IS NOT NULL
                                  THEN EXCLUDED.duration_ms ELSE t.duration_ms END,
               src_partition = EXCLUDED.src_partition,
               src_offset = EXCLUDED.src_offset
             WHERE (EXCLUDED.src_partition, EXCLUDED.src_offset)
                 > (t.src_partition, t.src_offset);",
        ),
    },
    Target {
        table: "results",
        columns: &[
            "race_id",
            "driver_id",
            "position",
            "status",
            "laps",
            "points",
            "src_partition",
            "src_offset",
        ],
        key: &["race_id", "driver_id"],
        extract: r#"
SELECT race_id, r['driver_id'], r['position'], r['status'], r['laps'], r['points'],
       _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY race_id, r['driver_id']
                                   ORDER BY _partition DESC, _offset DESC) AS rn
      FROM (SELECT race_id, _partition, _offset, unnest(results) AS r
            FROM race_delta WHERE type = 'race_finish'))
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(&["src_partition", "src_offset"]),
    },
];
