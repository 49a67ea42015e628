//! RSVP messages → countries, cities, groups, topics, group_topics, members,
//! venues, events, rsvps.
//!
//! Everything reads `rsvp_flat`, the run's delta with the nested structs
//! flattened (see [`FLATTEN`]). "Newest" is (mtime, lake partition, lake
//! offset) descending: the latest mtime wins and a tie goes to the record
//! that reached the lake later. Positions are unique, so there are no ties
//! left after that.

use super::{Merge, Target};

/// The name the flattened delta is registered under.
pub const FLAT: &str = "rsvp_flat";

/// Flattens the nested lake columns of the delta table `rsvp_delta`.
///
/// `venue` is the one nullable struct. DataFusion 55's field access does not
/// apply a struct's nulls to its fields, and the Parquet reader leaves
/// arbitrary values in the fields of a null struct, so every venue field is
/// guarded by `venue IS NOT NULL` (found by the recomputation test: ids of
/// other rows' venues appeared under RSVPs without one).
pub const FLATTEN: &str = r#"
SELECT rsvp_id, mtime, response, CAST(guests AS INT) AS guests, visibility,
       member['member_id'] AS member_id, member['member_name'] AS member_name,
       member['photo'] AS photo,
       event['event_id'] AS event_id, event['event_name'] AS event_name,
       event['event_url'] AS event_url, event['time'] AS event_time,
       "group"['group_id'] AS group_id, "group"['group_name'] AS group_name,
       "group"['group_urlname'] AS group_urlname,
       "group"['group_lat'] AS group_lat, "group"['group_lon'] AS group_lon,
       "group"['group_country'] AS country_code,
       coalesce("group"['group_state'], '') AS state,
       "group"['group_city'] AS city,
       "group"['group_topics'] AS group_topics,
       CASE WHEN venue IS NOT NULL THEN venue['venue_id'] END AS venue_id,
       CASE WHEN venue IS NOT NULL THEN venue['venue_name'] END AS venue_name,
       CASE WHEN venue IS NOT NULL THEN venue['lat'] END AS venue_lat,
       CASE WHEN venue IS NOT NULL THEN venue['lon'] END AS venue_lon,
       _partition, _offset
FROM rsvp_delta
"#;

const NEWEST: &[&str] = &["src_time", "src_partition", "src_offset"];

/// The targets in foreign-key order.
pub const TARGETS: &[Target] = &[
    Target {
        table: "countries",
        columns: &["country_code"],
        key: &["country_code"],
        extract: "SELECT DISTINCT country_code FROM rsvp_flat",
        staging: None,
        merge: Merge::InsertNew,
    },
    Target {
        table: "cities",
        columns: &["country_code", "state", "city"],
        key: &["country_code", "state", "city"],
        extract: "SELECT DISTINCT country_code, state, city FROM rsvp_flat",
        staging: None,
        merge: Merge::InsertNew,
    },
    Target {
        table: "groups",
        columns: &[
            "group_id",
            "group_name",
            "group_urlname",
            "lat",
            "lon",
            "country_code",
            "state",
            "city",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["group_id"],
        extract: r#"
SELECT group_id, group_name, group_urlname, group_lat, group_lon, country_code, state, city,
       mtime, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY group_id
                                   ORDER BY mtime DESC, _partition DESC, _offset DESC) AS rn
      FROM rsvp_flat)
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    Target {
        table: "topics",
        columns: &[
            "urlkey",
            "topic_name",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["urlkey"],
        extract: r#"
SELECT t['urlkey'], t['topic_name'], mtime, _partition, _offset
FROM (SELECT t, mtime, _partition, _offset,
             row_number() OVER (PARTITION BY t['urlkey']
                                ORDER BY mtime DESC, _partition DESC, _offset DESC) AS rn
      FROM (SELECT unnest(group_topics) AS t, mtime, _partition, _offset FROM rsvp_flat))
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    // The newest record of each group decides its whole topic set: staged
    // with that record's position, merged only for groups whose stored
    // position is that record's (the group merge above just made it so, or
    // an even newer record is already stored and keeps its set).
    Target {
        table: "group_topics",
        columns: &[
            "group_id",
            "urlkey",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["group_id", "urlkey"],
        extract: r#"
SELECT DISTINCT group_id, t['urlkey'], mtime, _partition, _offset
FROM (SELECT group_id, unnest(group_topics) AS t, mtime, _partition, _offset
      FROM (SELECT *, row_number() OVER (PARTITION BY group_id
                                         ORDER BY mtime DESC, _partition DESC, _offset DESC) AS rn
            FROM rsvp_flat)
      WHERE rn = 1)"#,
        staging: Some(
            "CREATE TEMP TABLE stage_group_topics (
                group_id bigint NOT NULL, urlkey text NOT NULL, src_time timestamptz NOT NULL,
                src_partition integer NOT NULL, src_offset bigint NOT NULL) ON COMMIT DROP",
        ),
        merge: Merge::Custom(
            "DELETE FROM group_topics l USING groups g, stage_groups s
              WHERE l.group_id = g.group_id AND s.group_id = g.group_id
                AND (s.src_time, s.src_partition, s.src_offset)
                  = (g.src_time, g.src_partition, g.src_offset);
             INSERT INTO group_topics (group_id, urlkey)
             SELECT l.group_id, l.urlkey FROM stage_group_topics l
               JOIN groups g ON g.group_id = l.group_id
                AND (l.src_time, l.src_partition, l.src_offset)
                  = (g.src_time, g.src_partition, g.src_offset);",
        ),
    },
    Target {
        table: "members",
        columns: &[
            "member_id",
            "member_name",
            "photo",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["member_id"],
        extract: r#"
SELECT member_id, member_name, photo, mtime, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY member_id
                                   ORDER BY mtime DESC, _partition DESC, _offset DESC) AS rn
      FROM rsvp_flat)
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    Target {
        table: "venues",
        columns: &[
            "venue_id",
            "venue_name",
            "lat",
            "lon",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["venue_id"],
        extract: r#"
SELECT venue_id, venue_name, venue_lat, venue_lon, mtime, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY venue_id
                                   ORDER BY mtime DESC, _partition DESC, _offset DESC) AS rn
      FROM rsvp_flat WHERE venue_id IS NOT NULL)
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    Target {
        table: "events",
        columns: &[
            "event_id",
            "event_name",
            "event_url",
            "event_time",
            "group_id",
            "venue_id",
            "src_time",
            "src_partition",
            "src_offset",
        ],
        key: &["event_id"],
        extract: r#"
SELECT event_id, event_name, event_url, event_time, group_id, venue_id, mtime, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY event_id
                                   ORDER BY mtime DESC, _partition DESC, _offset DESC) AS rn
      FROM rsvp_flat)
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(NEWEST),
    },
    Target {
        table: "rsvps",
        columns: &[
            "rsvp_id",
            "mtime",
            "response",
            "guests",
            "visibility",
            "member_id",
            "event_id",
            "src_partition",
            "src_offset",
        ],
        key: &["rsvp_id"],
        extract: r#"
SELECT rsvp_id, mtime, response, guests, visibility, member_id, event_id, _partition, _offset
FROM (SELECT *, row_number() OVER (PARTITION BY rsvp_id
                                   ORDER BY mtime DESC, _partition DESC, _offset DESC) AS rn
      FROM rsvp_flat)
WHERE rn = 1"#,
        staging: None,
        merge: Merge::Newest(&["mtime", "src_partition", "src_offset"]),
    },
];
