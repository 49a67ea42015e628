//! The one place events meet clients: the follower thread publishes each
//! batch into a bounded replay ring and a broadcast channel under one lock;
//! a connecting client, under the same lock, gets the part of the ring it
//! missed and a receiver positioned right after it. So replay and live
//! events join without a gap or an overlap.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};

use super::channels::{self, Channels};
use super::position::{Cut, Position};
use crate::config::SseConfig;

/// Events per broadcast message: a follower batch is split so one message
/// never pins an unbounded slice of memory in a lagging receiver.
const CHUNK: usize = 256;

/// One event as every client receives it, formatted once.
#[derive(Debug)]
pub(crate) struct SseEvent {
    pub(crate) partition: i32,
    pub(crate) position: Position,
    /// The instance's cut right after this event (see `position.rs`).
    pub(crate) id: String,
    pub(crate) channel: Channels,
    /// The `event:` field: the channel's name.
    pub(crate) name: String,
    /// The `data:` field: one JSON object on one line.
    pub(crate) data: String,
}

impl SseEvent {
    /// Heap bytes, approximately (the ring's byte bound).
    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.id.len() + self.name.len() + self.data.len()
    }
}

/// What one metrics-topic message publishes: `(channel name, JSON data)`
/// per event, in the message's order.
#[derive(Debug)]
pub(crate) struct MessageEvents {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) events: Vec<(String, String)>,
}

/// What the broadcast carries.
pub(crate) type Chunk = Arc<[Arc<SseEvent>]>;

#[derive(Debug, Default)]
struct Ring {
    events: VecDeque<Arc<SseEvent>>,
    bytes: usize,
    /// Per partition, the last position no longer in the ring (evicted, or
    /// deleted from Kafka before this instance read it).
    forgotten: BTreeMap<i32, Position>,
    /// The cut after the newest event.
    cut: Cut,
    /// (partition, offset, next index) of the newest message.
    tail: Option<(i32, i64, u32)>,
}

impl Ring {
    fn push(&mut self, name: String, data: String) -> Arc<SseEvent> {
        let (partition, offset, index) = self.tail.get_or_insert((0, -1, 0));
        let position = (*offset, *index);
        let partition = *partition;
        *index += 1;
        self.cut.set(partition, position);
        let event = Arc::new(SseEvent {
            partition,
            position,
            id: self.cut.to_id(),
            channel: channels::bit(&name),
            name,
            data,
        });
        self.bytes += event.size();
        self.events.push_back(event.clone());
        event
    }

    fn evict(&mut self, config: &SseConfig) {
        while self.events.len() > config.replay_events || self.bytes > config.replay_bytes {
            let Some(old) = self.events.pop_front() else {
                break;
            };
            self.bytes -= old.size();
            self.forgotten.insert(old.partition, old.position);
        }
    }
}

/// How a connection starts.
#[derive(Debug)]
pub(crate) enum Start {
    /// No Last-Event-ID: a snapshot, then live events.
    Initial,
    /// Last-Event-ID too old or not understood (the text says which): a
    /// snapshot, then live events.
    Gap(String),
    /// The events after Last-Event-ID still in the ring, then live events.
    Replay(Vec<Arc<SseEvent>>),
}

/// A connection's starting point.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) start: Start,
    /// Events at or before this cut are not sent (a client may have read
    /// further on another instance than this one has).
    pub(crate) cut: Cut,
    /// The instance's cut now: the id of a snapshot.
    pub(crate) now: String,
    pub(crate) rx: broadcast::Receiver<Chunk>,
}

/// The replay ring, the broadcast and the client count of one instance.
#[derive(Debug)]
pub(crate) struct Hub {
    ring: Mutex<Ring>,
    tx: broadcast::Sender<Chunk>,
    closing: watch::Sender<bool>,
    clients: AtomicUsize,
    pub(crate) config: SseConfig,
}

impl Hub {
    pub(crate) fn new(config: SseConfig) -> Self {
        let (tx, _) = broadcast::channel(config.client_queue_chunks.max(1));
        Hub {
            ring: Mutex::new(Ring::default()),
            tx,
            closing: watch::Sender::new(false),
            clients: AtomicUsize::new(0),
            config,
        }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kafka no longer holds `partition` below `low` (retention): a client
    /// whose cut is older than that cannot be replayed.
    pub(crate) fn forgotten_below(&self, partition: i32, low: i64) {
        if low > 0 {
            self.ring().forgotten.insert(partition, (low - 1, u32::MAX));
        }
    }

    /// Publishes the events of `messages` (consumed in this order) and then,
    /// if given, one `views` event with `views` as data. Called by the
    /// follower while it holds the state's write lock, so a snapshot taken
    /// under the read lock pairs with the cut it is labelled with.
    pub(crate) fn publish(&self, messages: Vec<MessageEvents>, views: Option<String>) {
        let mut ring = self.ring();
        let mut out = Vec::new();
        for message in messages {
            ring.tail = Some((message.partition, message.offset, 0));
            for (name, data) in message.events {
                out.push(ring.push(name, data));
            }
        }
        if let Some(data) = views {
            out.push(ring.push(channels::VIEWS.to_owned(), data));
        }
        if out.is_empty() {
            return;
        }
        ring.evict(&self.config);
        crate::metrics::record_sse_published(out.len(), ring.events.len());
        for chunk in out.chunks(CHUNK) {
            // An error only means nobody is connected.
            let _ = self.tx.send(Arc::from(chunk));
        }
    }

    /// Where a client with `last_event_id` starts. Call with the state's
    /// read lock held when the start may need a snapshot.
    pub(crate) fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let ring = self.ring();
        let rx = self.tx.subscribe();
        let now = ring.cut.to_id();
        let Some(id) = last_event_id else {
            return Subscription {
                start: Start::Initial,
                cut: ring.cut.clone(),
                now,
                rx,
            };
        };
        let resumable = match Cut::parse(id) {
            None => Err(format!("Last-Event-ID {id:?} is not an id of this stream")),
            Some(cut) => match ring
                .forgotten
                .iter()
                .find(|(p, f)| cut.get(**p) < Some(**f))
            {
                Some((p, _)) => Err(format!(
                    "Last-Event-ID {id:?} is older than the replay window \
                     (metrics-topic partition {p}); this snapshot replaces the events missed"
                )),
                None => Ok(cut),
            },
        };
        let cut = match resumable {
            Ok(cut) => cut,
            Err(message) => {
                return Subscription {
                    start: Start::Gap(message),
                    cut: ring.cut.clone(),
                    now,
                    rx,
                };
            }
        };
        let missed = ring
            .events
            .iter()
            .filter(|e| cut.precedes(e.partition, e.position))
            .cloned()
            .collect();
        Subscription {
            start: Start::Replay(missed),
            cut,
            now,
            rx,
        }
    }

    /// A watch that turns true when the server shuts down.
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every stream (graceful shutdown waits for open responses).
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Counts a client in, unless `max_clients` are connected.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<ClientGuard> {
        let before = self.clients.fetch_add(1, Ordering::Relaxed);
        let guard = ClientGuard(self.clone());
        if before >= self.config.max_clients {
            return None;
        }
        crate::metrics::record_sse_clients(before + 1);
        Some(guard)
    }
}

/// Counts one connected client; dropped when its stream ends.
#[derive(Debug)]
pub(crate) struct ClientGuard(Arc<Hub>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        let after = self.0.clients.fetch_sub(1, Ordering::Relaxed) - 1;
        crate::metrics::record_sse_clients(after);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn config(replay_events: usize) -> SseConfig {
        SseConfig {
            replay_events,
            ..SseConfig::default()
        }
    }

    /// A metrics message at (partition, offset) carrying `n` `race_car` events.
    pub(crate) fn message(partition: i32, offset: i64, n: usize) -> MessageEvents {
        MessageEvents {
            partition,
            offset,
            events: (0..n)
                .map(|i| ("race_car".to_owned(), format!("{{\"i\":{i}}}")))
                .collect(),
        }
    }

    fn ids(start: &Start) -> Vec<String> {
        match start {
            Start::Replay(events) => events.iter().map(|e| e.id.clone()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_resume_gets_exactly_the_events_after_its_id() {
        let hub = Hub::new(config(100));
        hub.publish(vec![message(0, 0, 2), message(1, 0, 1)], None);
        // Offset 3 follows 0: the gap is a transaction marker.
        hub.publish(vec![message(0, 3, 1)], Some("{}".into()));
        let all = ids(&hub.subscribe(Some("-")).start);
        assert_eq!(
            all,
            [
                "0:0:0",
                "0:0:1",
                "0:0:1,1:0:0",
                "0:3:0,1:0:0",
                "0:3:1,1:0:0"
            ]
        );
        for (i, id) in all.iter().enumerate() {
            assert_eq!(ids(&hub.subscribe(Some(id)).start), all[i + 1..], "{id}");
        }
        assert!(matches!(hub.subscribe(None).start, Start::Initial));
        let sub = hub.subscribe(Some("garbage"));
        assert!(matches!(sub.start, Start::Gap(m) if m.contains("not an id")));
        assert_eq!(sub.now, "0:3:1,1:0:0");
    }

    #[test]
    fn an_id_older_than_the_ring_gets_a_gap() {
        let hub = Hub::new(config(3));
        hub.publish(vec![message(0, 0, 2), message(0, 5, 2)], None);
        assert!(matches!(hub.subscribe(Some("-")).start, Start::Gap(m) if m.contains("older")));
        // The evicted event was the last one this id had seen: no gap.
        assert_eq!(ids(&hub.subscribe(Some("0:0:0")).start).len(), 3);
        assert_eq!(ids(&hub.subscribe(Some("0:0:1")).start).len(), 2);
        // A client that read further elsewhere: nothing to replay yet.
        assert!(ids(&hub.subscribe(Some("0:9:0")).start).is_empty());
        hub.forgotten_below(1, 10);
        assert!(matches!(
            hub.subscribe(Some("0:5:1,1:8:0")).start,
            Start::Gap(_)
        ));
        assert!(ids(&hub.subscribe(Some("0:5:1,1:12:0")).start).is_empty());
    }

    #[test]
    fn the_ring_is_bounded_by_bytes_too() {
        let hub = Hub::new(SseConfig {
            replay_bytes: 1_000,
            ..SseConfig::default()
        });
        for offset in 0..100 {
            hub.publish(vec![message(0, offset, 1)], None);
        }
        let ring = hub.ring();
        assert!(
            ring.bytes <= 1_000 && !ring.events.is_empty(),
            "{}",
            ring.bytes
        );
    }

    #[test]
    fn clients_beyond_the_limit_are_refused() {
        let hub = Arc::new(Hub::new(SseConfig {
            max_clients: 1,
            ..SseConfig::default()
        }));
        let first = hub.admit().expect("room for one");
        assert!(hub.admit().is_none());
        drop(first);
        assert!(hub.admit().is_some());
    }
}
