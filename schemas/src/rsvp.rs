//! Meetup RSVPs in the wire format of the Meetup RSVP stream
//! (`stream.meetup.com/2/rsvps`), as recorded in `shared/data/meetup-rsvps/`.
//!
//! Field names are the stream's own. Optional fields are those the real stream
//! omits (it never sends `null`, it leaves keys out, so a `null` is
//! `wrong_type` like any other wrong value); unknown keys are ignored so that a
//! feed adding fields does not send everything to the DLQ.

use serde::{Deserialize, Serialize};

use crate::decode::{Limits, check_range, decode, present};
use crate::error::{ErrorKind, Result, ValidationError};

/// One RSVP: a member answering yes or no to a Meetup event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rsvp {
    /// The RSVP's id. The stream re-emits an RSVP under the same id when it
    /// changes (new `mtime`, possibly a new `response`): latest `mtime` wins.
    pub rsvp_id: i64,
    /// Last modification time, ms since the Unix epoch. Some records carry
    /// whole seconds (`...000`), the re-emitted ones millisecond precision.
    pub mtime: i64,
    /// The answer.
    pub response: Response,
    /// Extra people the member brings.
    pub guests: i64,
    /// `"public"` in every recorded message; kept as text since the live API
    /// also knew `"members"`.
    pub visibility: String,
    /// Who answered.
    pub member: Member,
    /// What they answered to.
    pub event: EventRef,
    /// The group hosting the event.
    pub group: Group,
    /// Where the event takes place; absent for 20 % of real records.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub venue: Option<Venue>,
}

/// An RSVP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    /// Attending.
    Yes,
    /// Not attending.
    No,
}

impl Response {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Response::Yes => "yes",
            Response::No => "no",
        }
    }
}

/// The member who answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Member id.
    pub member_id: i64,
    /// Display name, as typed by the member (may have stray whitespace).
    pub member_name: String,
    /// Thumbnail URL; absent when the member has no photo.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub photo: Option<String>,
    /// Linked accounts by service name (`twitter`, `facebook`, ...), in wire order.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "other_services"
    )]
    pub other_services: Option<Vec<OtherService>>,
}

/// One linked account of a member: `"twitter": {"identifier": "@x"}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherService {
    /// Service name, the key on the wire.
    pub service: String,
    /// The member's identifier on that service.
    pub identifier: String,
}

/// The event an RSVP answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRef {
    /// Event id: numeric for most events, alphanumeric (`"jkpwmlywgbmb"`) for
    /// recurring ones, so always text.
    pub event_id: String,
    /// Event title.
    pub event_name: String,
    /// Public URL.
    pub event_url: String,
    /// Start time, ms since the Unix epoch; absent for 0.5 % of real records.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub time: Option<i64>,
}

/// The group hosting the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Group id.
    pub group_id: i64,
    /// Group name.
    pub group_name: String,
    /// City the group is based in.
    pub group_city: String,
    /// ISO 3166 alpha-2 country, lower case (`"us"`).
    pub group_country: String,
    /// State or province; only sent for some countries.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub group_state: Option<String>,
    /// Latitude in degrees, [-90, 90].
    pub group_lat: f64,
    /// Longitude in degrees, [-180, 180].
    pub group_lon: f64,
    /// URL slug.
    pub group_urlname: String,
    /// Topics the group declares, in wire order.
    pub group_topics: Vec<Topic>,
}

/// A group topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// Stable slug (`"mountain-biking"`).
    pub urlkey: String,
    /// Display name.
    pub topic_name: String,
}

/// Where an event takes place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Venue {
    /// Venue id.
    pub venue_id: i64,
    /// Venue name.
    pub venue_name: String,
    /// Latitude in degrees; `0` with `lon` `0` is Meetup's "unknown" placeholder.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// Upper bound for `guests`: Meetup capped guests per RSVP far below this.
const MAX_GUESTS: i64 = 1_000;

impl Rsvp {
    /// Decodes and validates one message of the RSVP stream.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self> {
        let rsvp: Rsvp = decode(bytes, limits)?;
        rsvp.validate(limits)?;
        Ok(rsvp)
    }

    /// Checks value ranges that the JSON types alone cannot express.
    pub fn validate(&self, limits: &Limits) -> Result<()> {
        check_range("rsvp_id", self.rsvp_id, 1, i64::MAX)?;
        limits.check_time("mtime", self.mtime)?;
        check_range("guests", self.guests, 0, MAX_GUESTS)?;
        check_range("member.member_id", self.member.member_id, 0, i64::MAX)?;
        if let Some(time) = self.event.time {
            limits.check_time("event.time", time)?;
        }
        if self.event.event_id.is_empty() {
            return Err(ValidationError::new(
                ErrorKind::InvalidValue,
                "event.event_id",
                "event id is empty",
            ));
        }
        check_range("group.group_id", self.group.group_id, 0, i64::MAX)?;
        check_range("group.group_lat", self.group.group_lat, -90.0, 90.0)?;
        check_range("group.group_lon", self.group.group_lon, -180.0, 180.0)?;
        if let Some(venue) = &self.venue {
            check_range("venue.lat", venue.lat, -90.0, 90.0)?;
            check_range("venue.lon", venue.lon, -180.0, 180.0)?;
        }
        Ok(())
    }

    /// The Kafka key: the event id, so that all RSVPs of one event keep their order.
    pub fn key(&self) -> &str {
        &self.event.event_id
    }
}

/// `other_services` is an object keyed by service name on the wire; we keep it as
/// an ordered list so the Arrow form is a plain `List<Struct>` and order survives.
mod other_services {
    use serde::de::{self, MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;

    use super::OtherService;

    #[derive(Serialize, Deserialize)]
    struct Identifier {
        identifier: String,
    }

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Vec<OtherService>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let services = value.as_deref().unwrap_or_default();
        let mut map = serializer.serialize_map(Some(services.len()))?;
        for s in services {
            map.serialize_entry(
                &s.service,
                &Identifier {
                    identifier: s.identifier.clone(),
                },
            )?;
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<OtherService>>, D::Error> {
        struct ServicesVisitor;
        impl<'de> Visitor<'de> for ServicesVisitor {
            type Value = Option<Vec<OtherService>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of {\"identifier\": string} by service name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<OtherService> = Vec::new();
                while let Some((service, id)) = map.next_entry::<String, Identifier>()? {
                    // Two identifiers for one service: which is the member's?
                    // (Serialising both back would write a duplicate key.)
                    if out.iter().any(|s| s.service == service) {
                        return Err(de::Error::custom(format_args!(
                            "duplicate field `{service}`"
                        )));
                    }
                    out.push(OtherService {
                        service,
                        identifier: id.identifier,
                    });
                }
                Ok(Some(out))
            }
        }
        deserializer.deserialize_map(ServicesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"venue":{"venue_name":"Cafe Vitus","lon":121.54731,"lat":25.052959,"venue_id":19712922},"visibility":"public","response":"no","guests":0,"member":{"member_id":221379606,"photo":"http:\/\/photos2.meetupstatic.com\/photos\/member\/8\/3\/c\/4\/thumb_263973732.jpeg","member_name":"Benita  Syu","other_services":{"twitter":{"identifier":"@b"},"facebook":{"identifier":"f"}}},"rsvp_id":1658877353,"mtime":1489925471668,"event":{"event_name":"New Place!","event_id":"hvkmsmywfbhc","time":1490439600000,"event_url":"https:\/\/www.meetup.com\/polyglottw\/events\/238185973\/"},"group":{"group_topics":[{"urlkey":"language","topic_name":"Language & Culture"}],"group_city":"Taipei","group_country":"tw","group_id":18743595,"group_name":"Multilingual Cafe","group_lon":121.45,"group_urlname":"polyglottw","group_lat":25.02}}"#;

    fn parse(s: &str) -> Result<Rsvp> {
        Rsvp::parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn parses_a_real_record_with_linked_services_in_order() {
        let r = parse(RECORD).expect("valid");
        assert_eq!(r.rsvp_id, 1_658_877_353);
        assert_eq!(r.response, Response::No);
        assert_eq!(r.key(), "hvkmsmywfbhc");
        let services = r.member.other_services.as_ref().expect("present");
        assert_eq!(services[0].service, "twitter");
        assert_eq!(services[1].identifier, "f");
        assert_eq!(r.member.member_name, "Benita  Syu");
    }

    #[test]
    fn json_round_trip_keeps_every_value() {
        let r = parse(RECORD).expect("valid");
        let again = parse(&serde_json::to_string(&r).expect("serialises")).expect("valid");
        assert_eq!(r, again);
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let e = parse(&RECORD.replace("\"lat\":25.052959", "\"lat\":95.1")).expect_err("bad lat");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::OutOfRange, "$.venue.lat")
        );
        let e = parse(&RECORD.replace("\"guests\":0", "\"guests\":-1")).expect_err("bad guests");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::OutOfRange, "$.guests")
        );
        let e = parse(&RECORD.replace("1489925471668", "99999999999999")).expect_err("future");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::OutOfRange, "$.mtime")
        );
    }

    #[test]
    fn vocabulary_and_type_errors() {
        let e = parse(&RECORD.replace("\"no\"", "\"maybe\"")).expect_err("bad response");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::InvalidValue, "$.response")
        );
        let e = parse(&RECORD.replace("\"group_id\":18743595", "\"group_id\":\"18743595\""))
            .expect_err("string id");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::WrongType, "$.group.group_id")
        );
        let e = parse(&RECORD.replace("\"member_id\":221379606,", "")).expect_err("no id");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::MissingField, "$.member.member_id")
        );
        let e = parse(&RECORD.replace("{\"identifier\":\"f\"}", "{\"identifier\":7}"))
            .expect_err("numeric identifier");
        assert_eq!(e.kind, ErrorKind::WrongType);
        assert!(e.path.starts_with("$.member.other_services"), "{e}");
        // serde_json calls a non-string where an enum belongs a syntax error.
        let e = parse(&RECORD.replace("\"response\":\"no\"", "\"response\":true"))
            .expect_err("a boolean answer");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::WrongType, "$.response")
        );
    }

    #[test]
    fn null_is_not_absence() {
        // The real stream never sends null; a null venue is a producer bug upstream.
        let e = parse(&RECORD.replace("\"visibility\":\"public\"", "\"visibility\":null"))
            .expect_err("null");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::WrongType, "$.visibility")
        );
        for path in [
            "venue",
            "member.photo",
            "member.other_services",
            "event.time",
            "group.group_state",
        ] {
            let mut v: serde_json::Value = serde_json::from_str(RECORD).expect("valid");
            let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
            let object = if parent.is_empty() {
                &mut v
            } else {
                &mut v[parent]
            };
            object[key] = serde_json::Value::Null;
            let e = parse(&v.to_string()).expect_err("null is not absence");
            assert_eq!(
                (e.kind, e.path),
                (ErrorKind::WrongType, format!("$.{path}"))
            );
        }
    }
}
