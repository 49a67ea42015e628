//! The tables and views recomputed from the fixture records in plain Rust:
//! parse every landed record, keep the newest per key by the documented rule,
//! count the views over every message. Shares nothing with the ETL's SQL.

// Row tuples mirror the tables' columns, in order; naming each would only
// repeat the migrations.
#![allow(clippy::type_complexity)]

use std::collections::{BTreeMap, BTreeSet};

use schemas::race::RaceEvent;
use schemas::{Limits, Rsvp};

use crate::support::Landed;

/// A lake position.
pub(crate) type Pos = (i32, i64);

/// Keeps, per key, the item with the greatest order; returns key → item.
fn newest<'a, T, K: Ord, O: Ord>(
    items: impl Iterator<Item = &'a (Pos, T)>,
    key: impl Fn(&T) -> Option<K>,
    order: impl Fn(&Pos, &T) -> O,
) -> BTreeMap<K, &'a (Pos, T)>
where
    T: 'a,
{
    let mut out: BTreeMap<K, &(Pos, T)> = BTreeMap::new();
    for item in items {
        let Some(k) = key(&item.1) else { continue };
        match out.get(&k) {
            Some(have) if order(&have.0, &have.1) >= order(&item.0, &item.1) => {}
            _ => {
                out.insert(k, item);
            }
        }
    }
    out
}

pub(crate) fn rsvps(landed: &Landed) -> Vec<(Pos, Rsvp)> {
    landed
        .positioned()
        .map(|(pos, line)| (pos, Rsvp::parse(line, &Limits::default()).expect("valid")))
        .collect()
}

pub(crate) fn race_events(landed: &Landed) -> Vec<(Pos, RaceEvent)> {
    landed
        .positioned()
        .map(|(pos, line)| {
            (
                pos,
                RaceEvent::parse(line, &Limits::default()).expect("valid"),
            )
        })
        .collect()
}

fn by_mtime(pos: &Pos, r: &Rsvp) -> (i64, i32, i64) {
    (r.mtime, pos.0, pos.1)
}

/// Expected rows of the RSVP tables, each as (key, value) in a sorted map.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RsvpTables {
    pub(crate) countries: BTreeSet<String>,
    pub(crate) cities: BTreeSet<(String, String, String)>,
    pub(crate) groups: BTreeMap<i64, (String, String, String, String, String, i64, i32, i64)>,
    pub(crate) topics: BTreeMap<String, String>,
    pub(crate) group_topics: BTreeSet<(i64, String)>,
    pub(crate) members: BTreeMap<i64, (String, Option<String>)>,
    pub(crate) venues: BTreeMap<i64, (String, i64)>,
    pub(crate) events: BTreeMap<String, (String, String, Option<i64>, i64, Option<i64>)>,
    pub(crate) rsvps: BTreeMap<i64, (i64, String, i32, String, i64, String, i32, i64)>,
    pub(crate) country_hour: BTreeMap<(String, i64), (i64, i64, i64)>,
    pub(crate) topic_day: BTreeMap<(String, i64), (i64, i64)>,
}

pub(crate) fn rsvp_tables(all: &[(Pos, Rsvp)]) -> RsvpTables {
    let mut t = RsvpTables::default();
    for (_, r) in all {
        let g = &r.group;
        let state = g.group_state.clone().unwrap_or_default();
        t.countries.insert(g.group_country.clone());
        t.cities
            .insert((g.group_country.clone(), state, g.group_city.clone()));
        let hour = r.mtime.div_euclid(3_600_000) * 3_600_000;
        let yes = i64::from(r.response.as_str() == "yes");
        let e = t
            .country_hour
            .entry((g.group_country.clone(), hour))
            .or_default();
        *e = (e.0 + 1, e.1 + yes, e.2 + r.guests);
        let day = r.mtime.div_euclid(86_400_000);
        for topic in &g.group_topics {
            let e = t.topic_day.entry((topic.urlkey.clone(), day)).or_default();
            *e = (e.0 + 1, e.1 + yes);
        }
    }
    for (gid, (pos, r)) in newest(all.iter(), |r| Some(r.group.group_id), by_mtime) {
        let g = &r.group;
        t.groups.insert(
            gid,
            (
                g.group_name.clone(),
                g.group_urlname.clone(),
                g.group_country.clone(),
                g.group_state.clone().unwrap_or_default(),
                g.group_city.clone(),
                r.mtime,
                pos.0,
                pos.1,
            ),
        );
        for topic in &g.group_topics {
            t.group_topics.insert((gid, topic.urlkey.clone()));
        }
    }
    let with_topics: Vec<(Pos, (i64, String, String))> = all
        .iter()
        .flat_map(|(pos, r)| {
            r.group
                .group_topics
                .iter()
                .map(move |tp| (*pos, (r.mtime, tp.urlkey.clone(), tp.topic_name.clone())))
        })
        .collect();
    for (k, (_, (_, _, name))) in newest(
        with_topics.iter(),
        |x| Some(x.1.clone()),
        |pos, x| (x.0, pos.0, pos.1),
    ) {
        t.topics.insert(k, name.clone());
    }
    for (k, (_, r)) in newest(all.iter(), |r| Some(r.member.member_id), by_mtime) {
        t.members
            .insert(k, (r.member.member_name.clone(), r.member.photo.clone()));
    }
    for (k, (_, r)) in newest(
        all.iter(),
        |r| r.venue.as_ref().map(|v| v.venue_id),
        by_mtime,
    ) {
        let v = r.venue.as_ref().expect("filtered");
        t.venues.insert(k, (v.venue_name.clone(), r.mtime));
    }
    for (k, (_, r)) in newest(all.iter(), |r| Some(r.event.event_id.clone()), by_mtime) {
        t.events.insert(
            k,
            (
                r.event.event_name.clone(),
                r.event.event_url.clone(),
                r.event.time,
                r.group.group_id,
                r.venue.as_ref().map(|v| v.venue_id),
            ),
        );
    }
    for (k, (pos, r)) in newest(all.iter(), |r| Some(r.rsvp_id), by_mtime) {
        t.rsvps.insert(
            k,
            (
                r.mtime,
                r.response.as_str().to_owned(),
                i32::try_from(r.guests).expect("small"),
                r.visibility.clone(),
                r.member.member_id,
                r.event.event_id.clone(),
                pos.0,
                pos.1,
            ),
        );
    }
    t
}

/// Expected rows of the race tables.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RaceTables {
    pub(crate) races: BTreeMap<String, (i32, i32, String, String, String, i32)>,
    pub(crate) drivers: BTreeMap<String, (String, Option<String>)>,
    pub(crate) entries: BTreeMap<(String, String), (String, Option<i32>, Option<i32>)>,
    pub(crate) laps: BTreeMap<(String, String, i32), (i32, i64, i64)>,
    pub(crate) pit_stops:
        BTreeMap<(String, String, i32), (i32, Option<i64>, Option<i64>, Option<i64>)>,
    pub(crate) results: BTreeMap<(String, String), (Option<i32>, String, i32)>,
    /// (race, driver) → (laps, best, total, pit stops, final position)
    pub(crate) driver_laps: BTreeMap<(String, String), (i64, Option<i64>, i64, i64, Option<i32>)>,
}

fn int(v: u32) -> i32 {
    i32::try_from(v).expect("small")
}

pub(crate) fn race_tables(all: &[(Pos, RaceEvent)]) -> RaceTables {
    let mut t = RaceTables::default();
    let mut sorted: Vec<&(Pos, RaceEvent)> = all.iter().collect();
    // Feed order within a partition; positions are unique.
    sorted.sort_by_key(|(pos, e)| (e.ts(), *pos));
    let mut pit_in: BTreeMap<(String, String, i32), (i32, i64)> = BTreeMap::new();
    let mut pit_out: BTreeMap<(String, String, i32), (i32, i64, Option<i64>)> = BTreeMap::new();
    for (_, e) in sorted {
        match e {
            RaceEvent::RaceStart(s) => {
                t.races.insert(
                    s.race_id.clone(),
                    (
                        s.season,
                        s.round,
                        s.name.clone(),
                        s.date.clone(),
                        s.circuit.circuit_id.clone(),
                        int(s.scheduled_laps),
                    ),
                );
                for g in &s.grid {
                    t.drivers.insert(
                        g.driver_id.clone(),
                        (g.driver_name.clone(), g.driver_code.clone()),
                    );
                    t.entries.insert(
                        (s.race_id.clone(), g.driver_id.clone()),
                        (
                            g.constructor_id.clone(),
                            g.car_number.map(int),
                            g.grid_position.map(int),
                        ),
                    );
                }
            }
            RaceEvent::LapCompleted(l) => {
                t.laps.insert(
                    (l.race_id.clone(), l.driver_id.clone(), int(l.lap)),
                    (int(l.position), l.lap_time_ms, l.race_time_ms),
                );
            }
            RaceEvent::PitIn(p) => {
                pit_in.insert(
                    (p.race_id.clone(), p.driver_id.clone(), int(p.stop)),
                    (int(p.lap), p.ts),
                );
            }
            RaceEvent::PitOut(p) => {
                pit_out.insert(
                    (p.race_id.clone(), p.driver_id.clone(), int(p.stop)),
                    (int(p.lap), p.ts, p.duration_ms),
                );
            }
            RaceEvent::RaceFinish(f) => {
                for r in &f.results {
                    t.results.insert(
                        (f.race_id.clone(), r.driver_id.clone()),
                        (r.position.map(int), r.status.clone(), int(r.laps)),
                    );
                }
            }
            RaceEvent::Flag(_) | RaceEvent::Retirement(_) => {}
        }
    }
    let keys: BTreeSet<_> = pit_in.keys().chain(pit_out.keys()).cloned().collect();
    for k in keys {
        let i = pit_in.get(&k);
        let o = pit_out.get(&k);
        let lap = i.map(|x| x.0).or(o.map(|x| x.0)).expect("one half");
        t.pit_stops.insert(
            k,
            (lap, i.map(|x| x.1), o.map(|x| x.1), o.and_then(|x| x.2)),
        );
    }
    for key in t.entries.keys() {
        let laps: Vec<i64> = t
            .laps
            .iter()
            .filter(|((r, d, _), _)| (r, d) == (&key.0, &key.1))
            .map(|(_, v)| v.1)
            .collect();
        let pits = t
            .pit_stops
            .keys()
            .filter(|(r, d, _)| (r, d) == (&key.0, &key.1))
            .count();
        t.driver_laps.insert(
            key.clone(),
            (
                i64::try_from(laps.len()).expect("few"),
                laps.iter().min().copied(),
                laps.iter().sum(),
                i64::try_from(pits).expect("few"),
                t.results.get(key).and_then(|r| r.0),
            ),
        );
    }
    t
}
