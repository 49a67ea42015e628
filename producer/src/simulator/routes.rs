//! Which recording a request path serves, and where in it a connection starts
//! (`?since_mtime=`). Decided in the handshake, so a bad request gets an HTTP
//! error with a reason instead of an opened and dropped websocket.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use schemas::Feed;
use tokio_tungstenite::tungstenite::http::{StatusCode, Uri};

use super::load::Line;
use super::recording::Recording;

/// The path of the RSVP stream, as on `stream.meetup.com`.
pub(crate) const RSVPS_PATH: &str = "/2/rsvps";
/// The path of every race in sequence; `/race/<race_id>` serves one race.
pub(crate) const RACE_PATH: &str = "/race";

/// A connection's place in a recording, decided from its request.
#[derive(Debug, Clone)]
pub(crate) struct Start {
    /// The route's path, for logs.
    pub(crate) path: String,
    pub(crate) recording: Arc<Recording>,
    /// The `since_mtime` asked for, if any.
    pub(crate) since_ms: Option<i64>,
    /// The first position to send (`recording.len()` when nothing is left).
    pub(crate) position: usize,
}

/// Why a request is refused, as its HTTP status and a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

/// Every path served, in the order they are announced.
#[derive(Debug)]
pub(crate) struct Routes {
    paths: Vec<String>,
    by_path: HashMap<String, Arc<Recording>>,
}

impl Routes {
    /// Builds one recording per route from the (possibly scaled) lines and
    /// their event times.
    pub(crate) fn build(
        feed: Feed,
        lines: &[(Line, Option<i64>)],
        races: &[String],
        segment_pause_ms: i64,
    ) -> Self {
        let all: Vec<(&Line, Option<i64>)> =
            lines.iter().map(|(line, time)| (line, *time)).collect();
        let recording = Recording::new(&all, segment_pause_ms);
        let mut routes = Routes {
            paths: Vec::new(),
            by_path: HashMap::new(),
        };
        match feed {
            Feed::Rsvps => routes.add(RSVPS_PATH.to_owned(), recording),
            Feed::Race => {
                routes.add(RACE_PATH.to_owned(), recording);
                let mut per_race: Vec<Vec<(&Line, Option<i64>)>> = vec![Vec::new(); races.len()];
                for (line, time) in all {
                    let race = usize::try_from(line.race).unwrap_or(usize::MAX);
                    if let Some(lines) = per_race.get_mut(race) {
                        lines.push((line, time));
                    }
                }
                for (race_id, lines) in races.iter().zip(per_race) {
                    let recording = Recording::new(&lines, segment_pause_ms);
                    routes.add(
                        format!("{RACE_PATH}/{}", encode_segment(race_id)),
                        recording,
                    );
                }
            }
        }
        routes
    }

    fn add(&mut self, path: String, recording: Recording) {
        self.by_path.insert(path.clone(), Arc::new(recording));
        self.paths.push(path);
    }

    /// Every path, the stream of everything first.
    pub(crate) fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The recording of the main route (`/2/rsvps` or `/race`).
    pub(crate) fn main(&self) -> Option<&Arc<Recording>> {
        self.paths.first().and_then(|path| self.by_path.get(path))
    }

    /// Where a request starts: 404 for an unknown path, 400 for a bad
    /// `since_mtime`. Other query parameters are ignored, as a live feed would.
    pub(crate) fn resolve(&self, uri: &Uri) -> Result<Start, Refusal> {
        let path = uri.path();
        let Some(recording) = self.by_path.get(path) else {
            return Err(Refusal {
                status: StatusCode::NOT_FOUND,
                message: format!("no feed at {path}; served: {}", self.paths.join(", ")),
            });
        };
        let since_ms = since_mtime(uri.query().unwrap_or(""))?;
        let position = since_ms.map_or(0, |since| recording.start_position(since));
        Ok(Start {
            path: path.to_owned(),
            recording: Arc::clone(recording),
            since_ms,
            position,
        })
    }
}

/// The `since_mtime` of a query string: an integer (ms since the epoch), given
/// at most once.
fn since_mtime(query: &str) -> Result<Option<i64>, Refusal> {
    let bad = |message: String| Refusal {
        status: StatusCode::BAD_REQUEST,
        message,
    };
    let mut since = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "since_mtime" {
            continue;
        }
        if since.is_some() {
            return Err(bad("since_mtime is given more than once".to_owned()));
        }
        let ms = value.parse::<i64>().map_err(|_| {
            bad(format!(
                "since_mtime must be an integer (ms since the Unix epoch), got {value:?}"
            ))
        })?;
        since = Some(ms);
    }
    Ok(since)
}

/// A race id as one path segment: unreserved characters as they are, every
/// other byte percent-encoded, so any id in a feed file gets a usable URL.
fn encode_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn race_routes() -> Routes {
        let lines: Vec<(Line, Option<i64>)> = [("a", 0, 10), ("b", 0, 20), ("c", 1, 30)]
            .iter()
            .map(|(text, race, time)| {
                let line = Line {
                    bytes: Bytes::copy_from_slice(text.as_bytes()),
                    race: *race,
                };
                (line, Some(*time))
            })
            .collect();
        let races = ["fia-2021-01".to_owned(), "odd id/é".to_owned()];
        Routes::build(Feed::Race, &lines, &races, 10_000)
    }

    fn uri(text: &str) -> Uri {
        text.parse().expect("a valid URI")
    }

    #[test]
    fn race_routes_are_all_then_one_per_race() {
        let routes = race_routes();
        assert_eq!(
            routes.paths(),
            ["/race", "/race/fia-2021-01", "/race/odd%20id%2F%C3%A9"]
        );
        let one = routes
            .resolve(&uri("/race/odd%20id%2F%C3%A9"))
            .expect("known");
        assert_eq!(one.recording.len(), 1);
        assert_eq!(
            routes
                .resolve(&uri("/race"))
                .expect("known")
                .recording
                .len(),
            3
        );
    }

    #[test]
    fn since_mtime_positions_the_start() {
        let routes = race_routes();
        let start = routes
            .resolve(&uri("/race?x=1&since_mtime=20"))
            .expect("valid");
        assert_eq!((start.since_ms, start.position), (Some(20), 1));
        let past = routes.resolve(&uri("/race?since_mtime=31")).expect("valid");
        assert_eq!(past.position, 3);
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let routes = race_routes();
        let missing = routes.resolve(&uri("/2/rsvps")).expect_err("unknown path");
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.message.contains("/race/fia-2021-01"), "{missing:?}");
        for query in [
            "since_mtime=abc",
            "since_mtime=",
            "since_mtime=1&since_mtime=2",
            "since_mtime=1.5",
        ] {
            let refused = routes
                .resolve(&uri(&format!("/race?{query}")))
                .expect_err(query);
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(refused.message.contains("since_mtime"), "{refused:?}");
        }
    }
}
