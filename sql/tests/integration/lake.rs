//! The raw lake through SQL equals a recomputation from the records that
//! went into it.

use std::collections::BTreeMap;

use schemas::rsvp::Response;

use crate::support::{config, database, i64s, lake, open, query, strings};

#[tokio::test]
async fn lake_counts_and_sums_equal_the_fixture_records() {
    let lake = lake().await;
    let session = open(config(Some(lake), None)).await;

    let batch = query(
        &session,
        "SELECT count(*), sum(guests), count(*) FILTER (WHERE response = 'yes'), \
         count(DISTINCT rsvp_id), count(DISTINCT (_partition, _offset)) FROM lake.rsvps",
    )
    .await;
    let n = lake.rsvps.len() as i64;
    let guests: i64 = lake.rsvps.iter().map(|r| r.guests).sum();
    let yes = lake
        .rsvps
        .iter()
        .filter(|r| r.response == Response::Yes)
        .count() as i64;
    let distinct_ids = lake
        .rsvps
        .iter()
        .map(|r| r.rsvp_id)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as i64;
    assert_eq!(n, 1_541, "the real RSVP file");
    for (idx, want) in [(0, n), (1, guests), (2, yes), (3, distinct_ids), (4, n)] {
        assert_eq!(i64s(&batch, idx), vec![want], "column {idx}");
    }

    // Grouping on a nested field, compared key by key.
    let batch = query(
        &session,
        "SELECT \"group\"['group_country'] AS country, count(*) AS n \
         FROM lake.rsvps GROUP BY 1 ORDER BY 1",
    )
    .await;
    let got: BTreeMap<String, i64> = strings(&batch, 0)
        .into_iter()
        .map(|c| c.expect("country is never NULL"))
        .zip(i64s(&batch, 1))
        .collect();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for r in &lake.rsvps {
        *want.entry(r.group.group_country.clone()).or_default() += 1;
    }
    assert_eq!(got, want);

    let batch = query(
        &session,
        "SELECT type, count(*) FROM lake.race GROUP BY type ORDER BY type",
    )
    .await;
    let got: BTreeMap<String, i64> = strings(&batch, 0)
        .into_iter()
        .map(|t| t.expect("type is never NULL"))
        .zip(i64s(&batch, 1))
        .collect();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for e in &lake.races {
        *want.entry(e.type_name().to_owned()).or_default() += 1;
    }
    assert_eq!(got, want);
    assert_eq!(got.values().sum::<i64>(), lake.races.len() as i64);
}

#[tokio::test]
async fn one_query_joins_the_lake_and_postgres() {
    let lake = lake().await;
    // Every third RSVP id, as a stand-in for a 3NF table the batch layer loaded.
    let picked: Vec<i64> = lake.rsvps.iter().step_by(3).map(|r| r.rsvp_id).collect();
    let values: Vec<String> = picked.iter().map(|id| format!("({id})")).collect();
    let url = database(&format!(
        "CREATE TABLE picked (rsvp_id bigint PRIMARY KEY); \
         INSERT INTO picked VALUES {} ON CONFLICT DO NOTHING;",
        values.join(",")
    ))
    .await;
    let session = open(config(Some(lake), Some(&url))).await;
    let batch = query(
        &session,
        "SELECT count(*), sum(l.guests) FROM lake.rsvps l JOIN picked p ON l.rsvp_id = p.rsvp_id",
    )
    .await;
    let ids: std::collections::BTreeSet<i64> = picked.into_iter().collect();
    let matching: Vec<_> = lake
        .rsvps
        .iter()
        .filter(|r| ids.contains(&r.rsvp_id))
        .collect();
    assert_eq!(i64s(&batch, 0), vec![matching.len() as i64]);
    assert_eq!(
        i64s(&batch, 1),
        vec![matching.iter().map(|r| r.guests).sum::<i64>()]
    );

    // Both sources are listed, each under its own name.
    let batch = query(
        &session,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema <> 'information_schema' ORDER BY 1",
    )
    .await;
    let names: Vec<String> = strings(&batch, 0).into_iter().flatten().collect();
    assert_eq!(names, ["lake.race", "lake.rsvps", "public.picked"]);
}

/// A field of a NULL struct is NULL (DataFusion 55 alone returns whatever the
/// Parquet reader left under it: apache/datafusion#25120).
#[tokio::test]
async fn fields_of_a_missing_venue_are_null() {
    let lake = lake().await;
    let session = open(config(Some(lake), None)).await;
    let batch = query(
        &session,
        "SELECT count(*) FILTER (WHERE venue IS NULL), \
                count(*) FILTER (WHERE venue IS NULL AND venue['venue_id'] IS NOT NULL), \
                count(DISTINCT venue['venue_id']) \
         FROM lake.rsvps",
    )
    .await;
    let without = lake.rsvps.iter().filter(|r| r.venue.is_none()).count() as i64;
    let distinct = lake
        .rsvps
        .iter()
        .filter_map(|r| r.venue.as_ref().map(|v| v.venue_id))
        .collect::<std::collections::BTreeSet<_>>()
        .len() as i64;
    assert!(without > 0, "the real data has RSVPs without a venue");
    assert_eq!(i64s(&batch, 0), vec![without]);
    assert_eq!(
        i64s(&batch, 1),
        vec![0],
        "no venue id under a missing venue"
    );
    assert_eq!(i64s(&batch, 2), vec![distinct]);
}
