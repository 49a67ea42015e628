//! RSVPs as Arrow: the schema of the lake's `rsvps` table and the conversion of
//! parsed RSVPs to and from a [`RecordBatch`].
//!
//! Nested wire objects stay nested (structs and lists of structs), so SQL users
//! write `"group".group_country` and `unnest("group".group_topics)`. Building
//! goes column by column into typed builders: one pass over the events, no
//! per-value allocation beyond the column buffers themselves.

use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};

use crate::arrow_util::{
    ArrowConversionError, Columns, ListOffsets, Validity, item_range, list_array, list_of, opt,
    struct_array, timestamp_ms,
};
use crate::rsvp::{EventRef, Group, Member, OtherService, Response, Rsvp, Topic, Venue};

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn other_service_fields() -> Fields {
    Fields::from(vec![utf8("service", false), utf8("identifier", false)])
}

fn member_fields() -> Fields {
    Fields::from(vec![
        Field::new("member_id", DataType::Int64, false),
        utf8("member_name", false),
        utf8("photo", true),
        Field::new("other_services", list_of(other_service_fields()), true),
    ])
}

fn event_fields() -> Fields {
    Fields::from(vec![
        utf8("event_id", false),
        utf8("event_name", false),
        utf8("event_url", false),
        Field::new("time", timestamp_ms(), true),
    ])
}

fn topic_fields() -> Fields {
    Fields::from(vec![utf8("urlkey", false), utf8("topic_name", false)])
}

fn group_fields() -> Fields {
    Fields::from(vec![
        Field::new("group_id", DataType::Int64, false),
        utf8("group_name", false),
        utf8("group_city", false),
        utf8("group_country", false),
        utf8("group_state", true),
        Field::new("group_lat", DataType::Float64, false),
        Field::new("group_lon", DataType::Float64, false),
        utf8("group_urlname", false),
        Field::new("group_topics", list_of(topic_fields()), false),
    ])
}

fn venue_fields() -> Fields {
    Fields::from(vec![
        Field::new("venue_id", DataType::Int64, false),
        utf8("venue_name", false),
        Field::new("lat", DataType::Float64, false),
        Field::new("lon", DataType::Float64, false),
    ])
}

static RSVP_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("rsvp_id", DataType::Int64, false),
        Field::new("mtime", timestamp_ms(), false),
        utf8("response", false),
        Field::new("guests", DataType::Int64, false),
        utf8("visibility", false),
        Field::new("member", DataType::Struct(member_fields()), false),
        Field::new("event", DataType::Struct(event_fields()), false),
        Field::new("group", DataType::Struct(group_fields()), false),
        Field::new("venue", DataType::Struct(venue_fields()), true),
    ]))
});

/// The Arrow schema of RSVPs (the lake's `rsvps` table, before the sink's
/// `_topic`/`_partition`/`_offset`/`_ingest_time` columns).
pub fn rsvp_schema() -> SchemaRef {
    Arc::clone(&RSVP_SCHEMA)
}

/// Accumulates RSVPs column by column; [`RsvpBatchBuilder::finish`] yields a batch
/// and leaves the builder empty for the next one.
pub struct RsvpBatchBuilder {
    rows: usize,
    rsvp_id: Int64Builder,
    mtime: TimestampMillisecondBuilder,
    response: StringBuilder,
    guests: Int64Builder,
    visibility: StringBuilder,
    member_id: Int64Builder,
    member_name: StringBuilder,
    photo: StringBuilder,
    services_offsets: ListOffsets,
    services_valid: Validity,
    service: StringBuilder,
    identifier: StringBuilder,
    event_id: StringBuilder,
    event_name: StringBuilder,
    event_url: StringBuilder,
    event_time: TimestampMillisecondBuilder,
    group_id: Int64Builder,
    group_name: StringBuilder,
    group_city: StringBuilder,
    group_country: StringBuilder,
    group_state: StringBuilder,
    group_lat: Float64Builder,
    group_lon: Float64Builder,
    group_urlname: StringBuilder,
    topics_offsets: ListOffsets,
    urlkey: StringBuilder,
    topic_name: StringBuilder,
    venue_valid: Validity,
    venue_id: Int64Builder,
    venue_name: StringBuilder,
    venue_lat: Float64Builder,
    venue_lon: Float64Builder,
}

impl RsvpBatchBuilder {
    /// A builder sized for about `capacity` RSVPs.
    pub fn with_capacity(capacity: usize) -> Self {
        let n = capacity;
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(n, n * bytes_per_row);
        Self {
            rows: 0,
            rsvp_id: Int64Builder::with_capacity(n),
            mtime: TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC"),
            response: text(3),
            guests: Int64Builder::with_capacity(n),
            visibility: text(6),
            member_id: Int64Builder::with_capacity(n),
            member_name: text(16),
            photo: text(80),
            services_offsets: ListOffsets::with_capacity(n),
            services_valid: Validity::with_capacity(n),
            service: text(2),
            identifier: text(4),
            event_id: text(10),
            event_name: text(40),
            event_url: text(70),
            event_time: TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC"),
            group_id: Int64Builder::with_capacity(n),
            group_name: text(30),
            group_city: text(10),
            group_country: text(2),
            group_state: text(2),
            group_lat: Float64Builder::with_capacity(n),
            group_lon: Float64Builder::with_capacity(n),
            group_urlname: text(25),
            topics_offsets: ListOffsets::with_capacity(n),
            urlkey: StringBuilder::with_capacity(n * 12, n * 12 * 14),
            topic_name: StringBuilder::with_capacity(n * 12, n * 12 * 16),
            venue_valid: Validity::with_capacity(n),
            venue_id: Int64Builder::with_capacity(n),
            venue_name: text(20),
            venue_lat: Float64Builder::with_capacity(n),
            venue_lon: Float64Builder::with_capacity(n),
        }
    }

    /// RSVPs appended since the last [`RsvpBatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing was appended since the last finish.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one RSVP.
    pub fn push(&mut self, r: &Rsvp) -> Result<(), ArrowConversionError> {
        self.rsvp_id.append_value(r.rsvp_id);
        self.mtime.append_value(r.mtime);
        self.response.append_value(r.response.as_str());
        self.guests.append_value(r.guests);
        self.visibility.append_value(&r.visibility);
        self.push_member(&r.member)?;
        self.push_event(&r.event);
        self.push_group(&r.group)?;
        self.push_venue(r.venue.as_ref());
        self.rows += 1;
        Ok(())
    }

    fn push_member(&mut self, m: &Member) -> Result<(), ArrowConversionError> {
        self.member_id.append_value(m.member_id);
        self.member_name.append_value(&m.member_name);
        self.photo.append_option(m.photo.as_deref());
        let services = m.other_services.as_deref().unwrap_or_default();
        for s in services {
            self.service.append_value(&s.service);
            self.identifier.append_value(&s.identifier);
        }
        self.services_valid.push(m.other_services.is_some());
        self.services_offsets.push_len(services.len())
    }

    fn push_event(&mut self, e: &EventRef) {
        self.event_id.append_value(&e.event_id);
        self.event_name.append_value(&e.event_name);
        self.event_url.append_value(&e.event_url);
        self.event_time.append_option(e.time);
    }

    fn push_group(&mut self, g: &Group) -> Result<(), ArrowConversionError> {
        self.group_id.append_value(g.group_id);
        self.group_name.append_value(&g.group_name);
        self.group_city.append_value(&g.group_city);
        self.group_country.append_value(&g.group_country);
        self.group_state.append_option(g.group_state.as_deref());
        self.group_lat.append_value(g.group_lat);
        self.group_lon.append_value(g.group_lon);
        self.group_urlname.append_value(&g.group_urlname);
        for t in &g.group_topics {
            self.urlkey.append_value(&t.urlkey);
            self.topic_name.append_value(&t.topic_name);
        }
        self.topics_offsets.push_len(g.group_topics.len())
    }

    fn push_venue(&mut self, v: Option<&Venue>) {
        self.venue_valid.push(v.is_some());
        // A null struct slot still needs child values; they are masked out.
        self.venue_id.append_value(v.map_or(0, |v| v.venue_id));
        self.venue_name
            .append_value(v.map_or("", |v| v.venue_name.as_str()));
        self.venue_lat.append_value(v.map_or(0.0, |v| v.lat));
        self.venue_lon.append_value(v.map_or(0.0, |v| v.lon));
    }

    /// Finishes the batch of everything appended so far.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowConversionError> {
        let member = struct_array(
            &member_fields(),
            vec![
                Arc::new(self.member_id.finish()),
                Arc::new(self.member_name.finish()),
                Arc::new(self.photo.finish()),
                list_array(
                    &list_of(other_service_fields()),
                    self.services_offsets.finish(),
                    vec![
                        Arc::new(self.service.finish()),
                        Arc::new(self.identifier.finish()),
                    ],
                    self.services_valid.finish(),
                )?,
            ],
            None,
        )?;
        let event = struct_array(
            &event_fields(),
            vec![
                Arc::new(self.event_id.finish()),
                Arc::new(self.event_name.finish()),
                Arc::new(self.event_url.finish()),
                Arc::new(self.event_time.finish()),
            ],
            None,
        )?;
        let group = struct_array(
            &group_fields(),
            vec![
                Arc::new(self.group_id.finish()),
                Arc::new(self.group_name.finish()),
                Arc::new(self.group_city.finish()),
                Arc::new(self.group_country.finish()),
                Arc::new(self.group_state.finish()),
                Arc::new(self.group_lat.finish()),
                Arc::new(self.group_lon.finish()),
                Arc::new(self.group_urlname.finish()),
                list_array(
                    &list_of(topic_fields()),
                    self.topics_offsets.finish(),
                    vec![
                        Arc::new(self.urlkey.finish()),
                        Arc::new(self.topic_name.finish()),
                    ],
                    None,
                )?,
            ],
            None,
        )?;
        let venue = struct_array(
            &venue_fields(),
            vec![
                Arc::new(self.venue_id.finish()),
                Arc::new(self.venue_name.finish()),
                Arc::new(self.venue_lat.finish()),
                Arc::new(self.venue_lon.finish()),
            ],
            self.venue_valid.finish(),
        )?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.rsvp_id.finish()),
            Arc::new(self.mtime.finish()),
            Arc::new(self.response.finish()),
            Arc::new(self.guests.finish()),
            Arc::new(self.visibility.finish()),
            member,
            event,
            group,
            venue,
        ];
        self.rows = 0;
        Ok(RecordBatch::try_new(rsvp_schema(), columns)?)
    }
}

/// Converts a slice of RSVPs into one batch.
pub fn rsvps_to_batch(rsvps: &[Rsvp]) -> Result<RecordBatch, ArrowConversionError> {
    let mut builder = RsvpBatchBuilder::with_capacity(rsvps.len());
    for r in rsvps {
        builder.push(r)?;
    }
    builder.finish()
}

/// Reads RSVPs back out of a batch with [`rsvp_schema`]'s columns (extra columns,
/// such as the sink's `_offset`, are ignored). Used by replays from the lake.
pub fn rsvps_from_batch(batch: &RecordBatch) -> Result<Vec<Rsvp>, ArrowConversionError> {
    let cols = Columns::of_batch(batch);
    let (rsvp_id, mtime) = (cols.i64s("rsvp_id")?, cols.timestamps("mtime")?);
    let (response, guests) = (cols.strings("response")?, cols.i64s("guests")?);
    let visibility = cols.strings("visibility")?;
    let (_, m) = cols.nested("member")?;
    let (services, svc) = m.list("other_services")?;
    let (service, identifier) = (svc.strings("service")?, svc.strings("identifier")?);
    let (_, e) = cols.nested("event")?;
    let (_, g) = cols.nested("group")?;
    let (topics, t) = g.list("group_topics")?;
    let (urlkey, topic_name) = (t.strings("urlkey")?, t.strings("topic_name")?);
    let (venue, v) = cols.nested("venue")?;
    let (member_id, member_name, photo) = (
        m.i64s("member_id")?,
        m.strings("member_name")?,
        m.strings("photo")?,
    );
    let (event_id, event_name, event_url, event_time) = (
        e.strings("event_id")?,
        e.strings("event_name")?,
        e.strings("event_url")?,
        e.timestamps("time")?,
    );
    let (venue_id, venue_name, lat, lon) = (
        v.i64s("venue_id")?,
        v.strings("venue_name")?,
        v.f64s("lat")?,
        v.f64s("lon")?,
    );
    let (group_id, group_name, group_city, group_country, group_state) = (
        g.i64s("group_id")?,
        g.strings("group_name")?,
        g.strings("group_city")?,
        g.strings("group_country")?,
        g.strings("group_state")?,
    );
    let (group_lat, group_lon, group_urlname) = (
        g.f64s("group_lat")?,
        g.f64s("group_lon")?,
        g.strings("group_urlname")?,
    );

    let response_of = |row: usize| match response.value(row) {
        "yes" => Ok(Response::Yes),
        "no" => Ok(Response::No),
        other => Err(ArrowConversionError::Shape {
            column: "response".into(),
            problem: format!("unknown response {other:?}"),
        }),
    };
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let other_services = opt(services, row, || {
            item_range(services, row)
                .map(|i| OtherService {
                    service: service.value(i).to_owned(),
                    identifier: identifier.value(i).to_owned(),
                })
                .collect()
        });
        out.push(Rsvp {
            rsvp_id: rsvp_id.value(row),
            mtime: mtime.value(row),
            response: response_of(row)?,
            guests: guests.value(row),
            visibility: visibility.value(row).to_owned(),
            member: Member {
                member_id: member_id.value(row),
                member_name: member_name.value(row).to_owned(),
                photo: opt(photo, row, || photo.value(row).to_owned()),
                other_services,
            },
            event: EventRef {
                event_id: event_id.value(row).to_owned(),
                event_name: event_name.value(row).to_owned(),
                event_url: event_url.value(row).to_owned(),
                time: opt(event_time, row, || event_time.value(row)),
            },
            group: Group {
                group_id: group_id.value(row),
                group_name: group_name.value(row).to_owned(),
                group_city: group_city.value(row).to_owned(),
                group_country: group_country.value(row).to_owned(),
                group_state: opt(group_state, row, || group_state.value(row).to_owned()),
                group_lat: group_lat.value(row),
                group_lon: group_lon.value(row),
                group_urlname: group_urlname.value(row).to_owned(),
                group_topics: item_range(topics, row)
                    .map(|i| Topic {
                        urlkey: urlkey.value(i).to_owned(),
                        topic_name: topic_name.value(i).to_owned(),
                    })
                    .collect(),
            },
            venue: opt(venue, row, || Venue {
                venue_id: venue_id.value(row),
                venue_name: venue_name.value(row).to_owned(),
                lat: lat.value(row),
                lon: lon.value(row),
            }),
        });
    }
    Ok(out)
}
