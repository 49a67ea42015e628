//! Deterministic mutation fuzzing of real records: every byte position of 17
//! real records (3 RSVPs, every race event type of both data sets) is flipped,
//! overwritten, deleted, doubled or cut. No mutation
//! may panic; a rejected one gets a well-formed error; an accepted one must
//! validate and survive the JSON and Arrow round trips.

use std::collections::BTreeMap;
use std::panic::catch_unwind;

use billabong_schemas::{
    ErrorKind, Feed, FeedEvent, Limits, RaceEvent, Rsvp, race_events_from_batch,
    race_events_to_batch, rsvps_from_batch, rsvps_to_batch,
};
use producer::race_data::RaceDataset;

use crate::helpers::{DATASETS, assert_error, real_race, real_rsvps};

/// What one byte position can become (besides being cut off after).
const EDITS: [Edit; 8] = [
    Edit::Xor(0x01),
    Edit::Xor(0x20),
    Edit::Xor(0x80),
    Edit::Set(b'"'),
    Edit::Set(b'-'),
    Edit::Set(0x00),
    Edit::Delete,
    Edit::Double,
];

#[derive(Debug, Clone, Copy)]
enum Edit {
    Xor(u8),
    Set(u8),
    Delete,
    Double,
}

fn apply(line: &[u8], at: usize, edit: Edit) -> Vec<u8> {
    let mut out = line.to_vec();
    match edit {
        Edit::Xor(mask) => out[at] ^= mask,
        Edit::Set(byte) => out[at] = byte,
        Edit::Delete => {
            out.remove(at);
        }
        Edit::Double => out.insert(at, line[at]),
    }
    out
}

/// Tallies of one fuzz run.
#[derive(Default)]
struct Tally {
    mutations: usize,
    rejected: BTreeMap<ErrorKind, usize>,
    rsvps: Vec<Rsvp>,
    race: Vec<RaceEvent>,
}

impl Tally {
    /// Parses one mutation; panics (naming it) on a panic or a broken invariant.
    fn check(&mut self, feed: Feed, bytes: &[u8], what: &dyn Fn() -> String) {
        self.mutations += 1;
        let limits = Limits::default();
        let result = catch_unwind(|| feed.parse(bytes, &limits))
            .unwrap_or_else(|_| panic!("{} panicked", what()));
        match result {
            Err(e) => {
                let path_ok = e.path == "$" || e.path.starts_with("$.") || e.path.starts_with("$[");
                assert!(path_ok && !e.message.is_empty(), "{}: {e:?}", what());
                *self.rejected.entry(e.kind).or_default() += 1;
            }
            Ok(FeedEvent::Rsvp(r)) => {
                r.validate(&limits).expect("parse validated it");
                let json = serde_json::to_vec(&r).expect("serialises");
                let again = Rsvp::parse(&json, &limits)
                    .unwrap_or_else(|e| panic!("{}: accepted, but not its own JSON: {e}", what()));
                assert_eq!(again, *r, "{}", what());
                self.rsvps.push(*r);
            }
            Ok(FeedEvent::Race(e)) => {
                e.validate(&limits).expect("parse validated it");
                let json = serde_json::to_vec(&e).expect("serialises");
                let again = RaceEvent::parse(&json, &limits).unwrap_or_else(|err| {
                    panic!("{}: accepted, but not its own JSON: {err}", what())
                });
                assert_eq!(again, *e, "{}", what());
                self.race.push(*e);
            }
        }
    }

    /// Every truncation of `line`, and half the edits at each position (the
    /// other half at the next one), so that every edit meets every byte of
    /// each two-byte neighbourhood at half the cost in debug builds.
    fn fuzz(&mut self, feed: Feed, name: &str, line: &[u8]) {
        for at in 0..line.len() {
            for edit in EDITS.iter().copied().skip(at % 2).step_by(2) {
                let bytes = apply(line, at, edit);
                self.check(feed, &bytes, &|| format!("{name}: {edit:?} at {at}"));
            }
            // A proper prefix of a JSON object is never JSON.
            let what = format!("{name} cut at {at}");
            self.mutations += 1;
            assert_error(
                feed.parse(&line[..at], &Limits::default()),
                ErrorKind::MalformedJson,
                "$",
                &what,
            );
        }
    }
}

/// The records fuzzed: RSVPs with and without the optional parts, and one
/// event of every type from each race data set.
fn fuzz_targets() -> Vec<(Feed, String, &'static [u8])> {
    let real = real_rsvps();
    let mut out = Vec::new();
    type Pick = fn(&Rsvp) -> bool;
    let picks: [(&str, Pick); 3] = [
        ("with everything", |r| {
            r.venue.is_some() && r.member.other_services.is_some() && r.group.group_state.is_some()
        }),
        ("without venue or photo", |r| {
            r.venue.is_none() && r.member.photo.is_none()
        }),
        ("with a non-ASCII name", |r| {
            !r.member.member_name.is_ascii()
        }),
    ];
    for (what, pick) in picks {
        let r = real
            .iter()
            .find(|r| pick(&r.rsvp))
            .expect("in the recording");
        out.push((
            Feed::Rsvps,
            format!("rsvp {} {what}", r.rsvp.rsvp_id),
            &r.line[..],
        ));
    }
    for dataset in DATASETS {
        let race = real_race(dataset);
        for type_name in billabong_schemas::race::EVENT_TYPES {
            let at = race.events.iter().position(|e| e.type_name() == type_name);
            let at = at.expect("every type occurs in both data sets");
            let line = &race.lines[at][..];
            out.push((Feed::Race, format!("{dataset} {type_name} #{at}"), line));
        }
    }
    out
}

#[test]
fn no_mutation_of_a_real_record_panics() {
    let mut tally = Tally::default();
    for (feed, name, line) in fuzz_targets() {
        tally.fuzz(feed, &name, line);
    }
    eprintln!(
        "fuzz: {} mutations, {} RSVPs and {} race events accepted, rejected {:?}",
        tally.mutations,
        tally.rsvps.len(),
        tally.race.len(),
        tally.rejected
    );
    assert!(tally.mutations > 60_000, "{}", tally.mutations);
    // Whatever was accepted survives Arrow too.
    let batch = rsvps_to_batch(&tally.rsvps).expect("accepted RSVPs convert");
    assert_eq!(rsvps_from_batch(&batch).expect("reads back"), tally.rsvps);
    let batch = race_events_to_batch(&tally.race).expect("accepted events convert");
    assert_eq!(
        race_events_from_batch(&batch).expect("reads back"),
        tally.race
    );
    for kind in [
        ErrorKind::MalformedJson,
        ErrorKind::WrongType,
        ErrorKind::InvalidValue,
        ErrorKind::OutOfRange,
        ErrorKind::MissingField,
    ] {
        assert!(
            tally.rejected.contains_key(&kind),
            "no {kind} among {:?}",
            tally.rejected
        );
    }
}

/// A message of one feed sent to the other is rejected, not misread.
#[test]
fn each_feed_rejects_the_other() {
    let limits = Limits::default();
    for r in real_rsvps().iter().step_by(7) {
        let e = Feed::Race
            .parse(&r.line, &limits)
            .expect_err("an RSVP is no race event");
        assert_eq!(
            (e.kind, e.path.as_str()),
            (ErrorKind::MissingField, "$.type")
        );
    }
    for dataset in [RaceDataset::Fia, RaceDataset::Ergast] {
        for line in real_race(dataset).lines.iter().step_by(101) {
            let e = Feed::Rsvps
                .parse(line, &limits)
                .expect_err("a race event is no RSVP");
            assert_eq!(e.kind, ErrorKind::MissingField, "{e}");
        }
    }
}
