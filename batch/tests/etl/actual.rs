//! The same structures as `expected`, read from the database.

use tokio_postgres::Client;

use crate::expected::{RaceTables, RsvpTables};

const MS: &str = "(extract(epoch FROM {}) * 1000)::bigint";

fn ms(col: &str) -> String {
    MS.replace("{}", col)
}

pub(crate) async fn rsvp_tables(c: &Client, run_id: i64) -> RsvpTables {
    let q = |sql: String| async move { c.query(&sql, &[]).await.expect(&sql) };
    let mut t = RsvpTables::default();
    for r in q("SELECT country_code FROM countries".into()).await {
        t.countries.insert(r.get(0));
    }
    for r in q("SELECT country_code, state, city FROM cities".into()).await {
        t.cities.insert((r.get(0), r.get(1), r.get(2)));
    }
    for r in q(format!(
        "SELECT group_id, group_name, group_urlname, country_code, state, city, {}, \
         src_partition, src_offset FROM groups",
        ms("src_time")
    ))
    .await
    {
        t.groups.insert(
            r.get(0),
            (
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
                r.get(8),
            ),
        );
    }
    for r in q("SELECT urlkey, topic_name FROM topics".into()).await {
        t.topics.insert(r.get(0), r.get(1));
    }
    for r in q("SELECT group_id, urlkey FROM group_topics".into()).await {
        t.group_topics.insert((r.get(0), r.get(1)));
    }
    for r in q("SELECT member_id, member_name, photo FROM members".into()).await {
        t.members.insert(r.get(0), (r.get(1), r.get(2)));
    }
    for r in q(format!(
        "SELECT venue_id, venue_name, {} FROM venues",
        ms("src_time")
    ))
    .await
    {
        t.venues.insert(r.get(0), (r.get(1), r.get(2)));
    }
    for r in q(format!(
        "SELECT event_id, event_name, event_url, {}, group_id, venue_id FROM events",
        ms("event_time")
    ))
    .await
    {
        t.events
            .insert(r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)));
    }
    for r in q(format!(
        "SELECT rsvp_id, {}, response, guests, visibility, member_id, event_id, \
         src_partition, src_offset FROM rsvps",
        ms("mtime")
    ))
    .await
    {
        t.rsvps.insert(
            r.get(0),
            (
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
                r.get(7),
                r.get(8),
            ),
        );
    }
    for r in q(format!(
        "SELECT country_code, {}, rsvps, yes_count, guests FROM view_rsvps_country_hour \
         WHERE run_id = {run_id}",
        ms("hour")
    ))
    .await
    {
        t.country_hour
            .insert((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4)));
    }
    for r in q(format!(
        "SELECT urlkey, (day - DATE '1970-01-01')::bigint, rsvps, yes_count FROM view_topic_day \
         WHERE run_id = {run_id}"
    ))
    .await
    {
        t.topic_day
            .insert((r.get(0), r.get(1)), (r.get(2), r.get(3)));
    }
    t
}

pub(crate) async fn race_tables(c: &Client, run_id: i64) -> RaceTables {
    let q = |sql: String| async move { c.query(&sql, &[]).await.expect(&sql) };
    let mut t = RaceTables::default();
    for r in q(
        "SELECT race_id, season, round, race_name, race_date::text, circuit_id, \
                scheduled_laps FROM races"
            .into(),
    )
    .await
    {
        t.races.insert(
            r.get(0),
            (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)),
        );
    }
    for r in q("SELECT driver_id, driver_name, driver_code FROM drivers".into()).await {
        t.drivers.insert(r.get(0), (r.get(1), r.get(2)));
    }
    for r in q(
        "SELECT race_id, driver_id, constructor_id, car_number, grid_position FROM entries".into(),
    )
    .await
    {
        t.entries
            .insert((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4)));
    }
    for r in
        q("SELECT race_id, driver_id, lap, position, lap_time_ms, race_time_ms FROM laps".into())
            .await
    {
        t.laps.insert(
            (r.get(0), r.get(1), r.get(2)),
            (r.get(3), r.get(4), r.get(5)),
        );
    }
    for r in q(format!(
        "SELECT race_id, driver_id, stop, lap, {}, {}, duration_ms FROM pit_stops",
        ms("in_time"),
        ms("out_time")
    ))
    .await
    {
        t.pit_stops.insert(
            (r.get(0), r.get(1), r.get(2)),
            (r.get(3), r.get(4), r.get(5), r.get(6)),
        );
    }
    for r in q("SELECT race_id, driver_id, position, status, laps FROM results".into()).await {
        t.results
            .insert((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4)));
    }
    for r in q(format!(
        "SELECT race_id, driver_id, laps, best_lap_ms, total_lap_ms, pit_stops, final_position \
         FROM view_race_driver_laps WHERE run_id = {run_id}"
    ))
    .await
    {
        t.driver_laps.insert(
            (r.get(0), r.get(1)),
            (r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)),
        );
    }
    t
}
