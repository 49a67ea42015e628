//! `GET /api/stream`: one client's event stream.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, TryStream};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::sse::Event;

use super::channels::{self, Channels};
use super::hub::{Chunk, ClientGuard, Hub, SseEvent, Start};
use super::position::Cut;
use crate::http::error;
use crate::state::State;

/// The `retry:` every stream starts with: how long a browser waits before
/// reconnecting (with `Last-Event-ID`).
const RETRY: Duration = Duration::from_millis(2_000);

/// Query parameters: `lastEventId` is what EventSource polyfills send when
/// they cannot set the header; the header wins.
const PARAMS: &[&str] = &["channels", "lastEventId"];

/// The `snapshot` event's data: the current value of every key of the
/// requested channels (as `/api/live` lists them) and the views' coverage.
fn snapshot(state: &State, channels: Channels, reason: &str, message: Option<&str>) -> String {
    let mut updates: Vec<&Value> = state
        .realtime
        .live
        .values()
        .filter(|u| {
            u["metric"]
                .as_str()
                .is_some_and(|m| channels::bit(m) & channels != 0)
        })
        .collect();
    updates.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
    let mut data = json!({"reason": reason, "updates": updates, "coverage": state.coverage()});
    if let Some(message) = message {
        data["message"] = json!(message);
    }
    data.to_string()
}

/// Answers `GET /api/stream?channels=...` (see the module docs of `sse`).
pub(crate) fn respond(
    hub: &Arc<Hub>,
    state: &crate::follow::Shared,
    query: &HashMap<String, String>,
    last_event_id: Option<String>,
) -> Response {
    if let Some(bad) = query.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown parameter `{bad}`; allowed: {}", PARAMS.join(", ")),
        );
    }
    let wanted = match channels::parse(query.get("channels").map(String::as_str)) {
        Ok(wanted) => wanted,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let Some(guard) = hub.admit() else {
        let busy = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} event streams are open; retry later",
                hub.config.max_clients
            ),
        );
        return warp::reply::with_header(busy, "retry-after", "2").into_response();
    };
    let last_event_id = last_event_id.or_else(|| query.get("lastEventId").cloned());
    let (subscription, snapshot) = {
        let state = state.read().unwrap_or_else(PoisonError::into_inner);
        let subscription = hub.subscribe(last_event_id.as_deref());
        let snapshot = match &subscription.start {
            Start::Initial => Some(snapshot(&state, wanted, "initial", None)),
            Start::Gap(message) => Some(snapshot(&state, wanted, "gap", Some(message))),
            Start::Replay(_) => None,
        };
        (subscription, snapshot)
    };
    let mut first = VecDeque::from([Event::default().retry(RETRY)]);
    let resumed = matches!(subscription.start, Start::Replay(_));
    let missed: Chunk = match subscription.start {
        Start::Replay(missed) => {
            crate::metrics::record_sse_connection("replay");
            missed.into()
        }
        start => {
            crate::metrics::record_sse_connection(match start {
                Start::Initial => "initial",
                _ => "gap",
            });
            first.extend(snapshot.map(|data| {
                Event::default()
                    .id(subscription.now.clone())
                    .event("snapshot")
                    .data(data)
            }));
            Arc::from([])
        }
    };
    let client = Client {
        first,
        chunk: missed,
        next: 0,
        rx: subscription.rx,
        closing: hub.closing(),
        wanted,
        ahead: resumed.then_some(subscription.cut),
        _guard: guard,
    };
    let events = futures::stream::unfold(client, Client::next);
    let events = warp::sse::keep_alive()
        .interval(hub.config.keep_alive)
        .stream(events);
    // Reverse proxies (nginx) buffer responses unless told not to.
    let reply = warp::sse::reply(SyncStream(Mutex::new(Box::pin(events))));
    warp::reply::with_header(reply, "x-accel-buffering", "no").into_response()
}

/// One connection's place in the stream. Holds no events of its own: the
/// chunk it is reading is shared with every other client and the ring.
struct Client {
    /// `retry` and the snapshot, sent before anything else.
    first: VecDeque<Event>,
    chunk: Chunk,
    next: usize,
    rx: broadcast::Receiver<Chunk>,
    closing: watch::Receiver<bool>,
    wanted: Channels,
    /// A resumed client's cut, until this instance's cut passes it. The
    /// client may have read further, in some partition, on an instance
    /// ahead of this one: events at or before it are not sent again, and
    /// the ids sent keep its lead (this instance's cut alone would lose
    /// it, and the next resume would replay that partition).
    ahead: Option<Cut>,
    _guard: ClientGuard,
}

impl Client {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if *self.closing.borrow() {
            return None;
        }
        loop {
            if let Some(event) = self.first.pop_front() {
                return Some((Ok(event), self));
            }
            while let Some(event) = self.chunk.get(self.next).cloned() {
                self.next += 1;
                let (send, id) = self.place(&event);
                if send && event.channel & self.wanted != 0 {
                    let event = Event::default()
                        .id(id.unwrap_or_else(|| event.id.clone()))
                        .event(event.name.clone())
                        .data(event.data.clone());
                    return Some((Ok(event), self));
                }
            }
            tokio::select! {
                received = self.rx.recv() => match received {
                    Ok(chunk) => {
                        self.chunk = chunk;
                        self.next = 0;
                    }
                    Err(broadcast::error::RecvError::Lagged(behind)) => {
                        tracing::debug!(behind, "SSE client too slow; cutting it off.");
                        crate::metrics::record_sse_slow_client();
                        return None;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.closing.changed() => return None,
            }
        }
    }
}

impl Client {
    /// Whether `event` lies after what the client has read, and the id to
    /// send with it when it differs from the event's own (see `ahead`).
    fn place(&mut self, event: &SseEvent) -> (bool, Option<String>) {
        let Some(floor) = &self.ahead else {
            return (true, None);
        };
        let send = floor.precedes(event.partition, event.position);
        let Some(here) = Cut::parse(&event.id) else {
            return (send, None);
        };
        if here.covers(floor) {
            self.ahead = None;
            return (send, None);
        }
        (send, Some(here.join(floor).to_id()))
    }
}

/// warp's SSE body must be `Sync`; the keep-alive stream and the broadcast
/// receiver's future are only `Send`. Polling needs `&mut`, so the mutex
/// is never locked (`get_mut`): it only vouches for `Sync`.
struct SyncStream<S>(Mutex<Pin<Box<S>>>);

impl<S: TryStream> Stream for SyncStream<S> {
    type Item = Result<S::Ok, S::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .try_poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SseConfig;
    use crate::sse::hub::tests::message;

    fn client(hub: &Arc<Hub>, last_event_id: &str) -> Client {
        let subscription = hub.subscribe(Some(last_event_id));
        let Start::Replay(missed) = subscription.start else {
            panic!("{:?}", subscription.start);
        };
        Client {
            first: VecDeque::new(),
            chunk: missed.into(),
            next: 0,
            rx: subscription.rx,
            closing: hub.closing(),
            wanted: channels::ALL,
            ahead: Some(subscription.cut),
            _guard: hub.admit().expect("room"),
        }
    }

    /// Ids as a client sees them: `retry`, `event`, `data` and `id` lines.
    async fn next_id(client: Client) -> (String, Client) {
        let (event, client) = client.next().await.expect("an event");
        let text = event.expect("infallible").to_string();
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("id:"))
            .expect("an id")
            .to_owned();
        (id, client)
    }

    #[tokio::test]
    async fn a_client_resuming_on_an_instance_behind_keeps_its_lead_in_the_ids() {
        // Instance b has read partition 1 but not yet partition 0, which the
        // client has read on instance a up to (0:0:1).
        let b = Arc::new(Hub::new(SseConfig::default()));
        b.publish(vec![message(1, 0, 1)], None);
        let c = client(&b, "0:0:1,1:0:0");
        b.publish(vec![message(1, 4, 1)], None);
        let (id, c) = next_id(c).await;
        assert_eq!(
            id, "0:0:1,1:4:0",
            "b's cut alone (1:4:0) would lose partition 0"
        );
        // b reads partition 0: the two events the client has are not resent.
        b.publish(vec![message(0, 0, 2), message(0, 2, 1)], None);
        let (id, c) = next_id(c).await;
        assert_eq!(id, "0:2:0,1:4:0");
        assert!(c.ahead.is_none(), "b has caught up");
    }
}
