//! Smoke test of the real PostgreSQL server: the real RSVPs are loaded with
//! binary COPY through tokio-postgres and the database's counts match them.

use std::collections::HashSet;

use futures::pin_mut;
use schemas::Limits;
use schemas::rsvp::Rsvp;
use testkit::Services;
use testkit::fixtures::rsvp_lines;
use tokio_postgres::NoTls;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

#[tokio::test]
async fn real_rsvps_load_with_binary_copy() {
    let postgres = Services::get().postgres();
    let url = postgres.fresh_database("smoke_copy").await;
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);

    client
        .batch_execute(
            "CREATE TABLE rsvp (rsvp_id bigint NOT NULL, mtime_ms bigint NOT NULL, \
             response text NOT NULL, guests bigint NOT NULL, member_name text NOT NULL, \
             venue_lat double precision)",
        )
        .await
        .expect("create table");

    let rsvps: Vec<Rsvp> = rsvp_lines()
        .iter()
        .map(|line| Rsvp::parse(line, &Limits::default()).expect("every real RSVP is valid"))
        .collect();

    let sink = client
        .copy_in("COPY rsvp FROM STDIN (FORMAT binary)")
        .await
        .expect("start COPY");
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::INT8,
            Type::TEXT,
            Type::FLOAT8,
        ],
    );
    pin_mut!(writer);
    for r in &rsvps {
        let venue_lat = r.venue.as_ref().map(|v| v.lat);
        writer
            .as_mut()
            .write(&[
                &r.rsvp_id,
                &r.mtime,
                &r.response.as_str(),
                &r.guests,
                &r.member.member_name,
                &venue_lat,
            ])
            .await
            .expect("write row");
    }
    let copied = writer.finish().await.expect("finish COPY");
    assert_eq!(copied, rsvps.len() as u64);

    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT rsvp_id), sum(guests)::bigint, \
                    count(venue_lat), count(DISTINCT member_name) FROM rsvp",
            &[],
        )
        .await
        .expect("count");
    let distinct_ids: HashSet<i64> = rsvps.iter().map(|r| r.rsvp_id).collect();
    let distinct_names: HashSet<&str> = rsvps
        .iter()
        .map(|r| r.member.member_name.as_str())
        .collect();
    assert_eq!(row.get::<_, i64>(0), 1_541);
    assert_eq!(row.get::<_, i64>(1), distinct_ids.len() as i64);
    assert_eq!(
        row.get::<_, i64>(2),
        rsvps.iter().map(|r| r.guests).sum::<i64>()
    );
    assert_eq!(
        row.get::<_, i64>(3),
        rsvps.iter().filter(|r| r.venue.is_some()).count() as i64
    );
    assert_eq!(row.get::<_, i64>(4), distinct_names.len() as i64);
}
