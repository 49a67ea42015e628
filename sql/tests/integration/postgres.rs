//! PostgreSQL tables, views and materialized views, discovered at open and
//! read back value for value, NULLs and timestamps included.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, TimeUnit,
    TimestampMicrosecondType,
};

use crate::support::{config, database, i64s, open, query, strings};

const SETUP: &str = "
CREATE TABLE typed (
    id      int8 PRIMARY KEY,
    small   int2,
    medium  int4,
    real4   float4,
    real8   float8,
    amount  numeric(12, 3),
    flag    bool,
    label   text,
    code    varchar(8),
    at      timestamptz,
    local   timestamp,
    day     date,
    doc     jsonb,
    blob    bytea
);
INSERT INTO typed VALUES
 (1, 7, -70000, 1.5, 2.25, 1234.567, true, 'it''s', 'AB',
  '2017-03-18 09:30:00.123456+00', '2017-03-18 09:30:00', '2017-03-18', '{\"a\": [1, 2]}', '\\x0102ff'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, -1, 0, -0.5, 1e300, -0.001, false, '', 'Z',
  '1969-12-31 23:59:59.999999+00', '2000-01-01 00:00:00', '1900-02-28', 'null', '\\x');
CREATE VIEW typed_flags AS SELECT id, flag FROM typed WHERE flag IS NOT NULL;
CREATE MATERIALIZED VIEW typed_count AS SELECT count(*) AS n FROM typed;
CREATE TABLE \"Mixed Case\" (x int4);
INSERT INTO \"Mixed Case\" VALUES (42);
";

#[tokio::test]
async fn every_mapped_type_round_trips_with_nulls() {
    let url = database(SETUP).await;
    let session = open(config(None, Some(&url))).await;
    let b = query(&session, "SELECT * FROM typed ORDER BY id").await;
    assert_eq!(b.num_rows(), 3);
    let schema = b.schema();
    let ty = |name: &str| {
        schema
            .field_with_name(name)
            .expect("column")
            .data_type()
            .clone()
    };
    assert_eq!(ty("amount"), DataType::Float64);
    assert_eq!(ty("doc"), DataType::Utf8);
    assert_eq!(ty("blob"), DataType::Binary);
    assert_eq!(
        ty("at"),
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(
        ty("local"),
        DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert!(!schema.field_with_name("id").expect("id").is_nullable());

    let col = |name: &str| b.column(schema.index_of(name).expect("column")).clone();
    assert_eq!(i64s(&b, 0), vec![1, 2, 3]);
    let small = col("small");
    let small = small.as_primitive::<Int16Type>();
    assert_eq!(
        (small.value(0), small.is_null(1), small.value(2)),
        (7, true, -1)
    );
    let medium = col("medium");
    assert_eq!(medium.as_primitive::<Int32Type>().value(0), -70_000);
    let real4 = col("real4");
    assert_eq!(real4.as_primitive::<Float32Type>().value(2), -0.5);
    let real8 = col("real8");
    assert_eq!(real8.as_primitive::<Float64Type>().value(2), 1e300);
    let amount = col("amount");
    let amount = amount.as_primitive::<Float64Type>();
    assert_eq!((amount.value(0), amount.value(2)), (1234.567, -0.001));
    let flag = col("flag");
    let flag = flag.as_boolean();
    assert_eq!(
        (flag.value(0), flag.is_null(1), flag.value(2)),
        (true, true, false)
    );
    let idx = |name: &str| schema.index_of(name).expect("column");
    assert_eq!(
        strings(&b, idx("label")),
        [Some("it's".to_owned()), None, Some(String::new())]
    );
    assert_eq!(
        strings(&b, idx("code")),
        [Some("AB".to_owned()), None, Some("Z".to_owned())]
    );
    assert_eq!(
        strings(&b, idx("doc")),
        [
            Some("{\"a\": [1, 2]}".to_owned()),
            None,
            Some("null".to_owned())
        ]
    );
    // 2017-03-18T09:30:00.123456Z and one microsecond before the epoch.
    let at = col("at");
    let at = at.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        (at.value(0), at.is_null(1), at.value(2)),
        (1_489_829_400_123_456, true, -1)
    );
    let local = col("local");
    assert_eq!(
        local.as_primitive::<TimestampMicrosecondType>().value(2),
        946_684_800_000_000
    );
    let day = col("day");
    let day = day.as_primitive::<Date32Type>();
    // 2017-03-18 is day 17243; 1900-02-28 is day -25509.
    assert_eq!(
        (day.value(0), day.is_null(1), day.value(2)),
        (17_243, true, -25_509)
    );
    let blob = col("blob");
    let blob = blob.as_binary::<i32>();
    assert_eq!(
        (blob.value(0), blob.is_null(1), blob.value(2)),
        (&[1u8, 2, 255][..], true, &[][..])
    );
    // Timestamps print as UTC instants in SQL too.
    let b = query(
        &session,
        "SELECT CAST(at AS VARCHAR) FROM typed WHERE id = 1",
    )
    .await;
    assert_eq!(
        strings(&b, 0),
        [Some("2017-03-18T09:30:00.123456Z".to_owned())]
    );
}

#[tokio::test]
async fn views_are_discovered_and_pushdown_keeps_results_exact() {
    let url = database(SETUP).await;
    let session = open(config(None, Some(&url))).await;
    let b = query(&session, "SELECT id FROM typed_flags ORDER BY id").await;
    assert_eq!(i64s(&b, 0), vec![1, 3]);
    let b = query(&session, "SELECT n FROM typed_count").await;
    assert_eq!(i64s(&b, 0), vec![3]);
    let b = query(&session, "SELECT x FROM \"Mixed Case\"").await;
    assert_eq!(b.column(0).as_primitive::<Int32Type>().value(0), 42);

    // No projected column at all (count(*)), filters PostgreSQL can and
    // cannot take, and LIMIT: all the same answers DataFusion alone gives.
    for (sql, want) in [
        ("SELECT count(*) FROM typed", 3),
        ("SELECT count(*) FROM typed WHERE id >= 2", 2),
        ("SELECT count(*) FROM typed WHERE label = 'it''s'", 1),
        ("SELECT count(*) FROM typed WHERE label IS NULL", 1),
        ("SELECT count(*) FROM typed WHERE label < 'j'", 2),
        (
            "SELECT count(*) FROM typed WHERE small = -1 AND flag = false",
            1,
        ),
        ("SELECT count(*) FROM typed WHERE real8 > 2 OR id = 2", 3),
        ("SELECT count(*) FROM (SELECT id FROM typed LIMIT 2)", 2),
    ] {
        let b = query(&session, sql).await;
        assert_eq!(i64s(&b, 0), vec![want], "{sql}");
    }

    let b = query(&session, "SHOW TABLES").await;
    let names: Vec<String> = strings(&b, 2).into_iter().flatten().collect();
    for name in ["typed", "typed_flags", "typed_count", "Mixed Case"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
}

#[tokio::test]
async fn without_a_lake_there_is_no_lake_schema() {
    let url = database("CREATE TABLE t (x int4);").await;
    let session = open(config(None, Some(&url))).await;
    let err = session
        .execute("SELECT * FROM lake.rsvps")
        .await
        .expect_err("no lake configured");
    assert!(err.to_string().contains("lake.rsvps"), "{err}");
    assert_eq!(err.domain(), sql::ErrorDomain::User);
}
