//! Parsing off the consumer task. The run loop only copies each record into
//! its partition's chunk; a full chunk is parsed into the partition's
//! [`PartitionBuffer`] on tokio's blocking pool, so JSON decoding and Arrow
//! building run on the other core while the loop keeps consuming. Parsing
//! was ~70 % of the loop's time when it ran inline.
//!
//! Order and exactly-once are unchanged: a partition has at most one chunk in
//! flight and its buffer travels with that chunk, so rows are appended in
//! offset order; the loop decides when a batch is due from counts it keeps
//! itself (the same record boundary as before), and before a roll it waits
//! for every consumed record to be parsed ([`Staged::settle`]), so a roll
//! still contains exactly the records consumed up to it.

use std::mem;
use std::time::Instant;

use rdkafka::message::{Message, OwnedMessage};
use schemas::{Feed, Limits, ValidationError};
use tokio::task::JoinHandle;

use crate::config::RollPolicy;
use crate::dlq::Dlq;
use crate::error::{Error, Result};
use crate::writer::PartitionBuffer;

/// Records per chunk: large enough that handing a chunk over costs little
/// per record, small enough to keep the other core busy early in a batch.
const CHUNK_RECORDS: usize = 2048;

/// One partition's open batch, partly parsed.
pub(crate) struct Staged {
    feed: Feed,
    /// The parsed part; `None` while it is in flight with a chunk.
    buffer: Option<PartitionBuffer>,
    inflight: Option<JoinHandle<Parsed>>,
    /// Consumed, not yet handed to a parser.
    chunk: Vec<OwnedMessage>,
    /// Records of the open batch (parsed or not, rows or DLQ).
    pub(crate) records: u64,
    /// Payload bytes of the open batch.
    bytes: u64,
    /// When the batch's first record arrived: the time roll counts from it.
    opened_at: Option<Instant>,
}

/// What a parser hands back: the buffer, and the records for the DLQ (sent
/// by the loop, which owns the DLQ producer).
struct Parsed {
    buffer: PartitionBuffer,
    result: Result<()>,
    rejected: Vec<(OwnedMessage, ValidationError)>,
}

impl Staged {
    pub(crate) fn new(buffer: PartitionBuffer, feed: Feed) -> Self {
        Self {
            feed,
            buffer: Some(buffer),
            inflight: None,
            chunk: Vec::with_capacity(CHUNK_RECORDS),
            records: 0,
            bytes: 0,
            opened_at: None,
        }
    }

    /// Adds a consumed record; hands the chunk to a parser when it is full.
    pub(crate) async fn push(
        &mut self,
        msg: OwnedMessage,
        limits: Limits,
        dlq: &mut Dlq,
    ) -> Result<()> {
        self.records += 1;
        self.bytes += msg.payload().map_or(0, <[u8]>::len) as u64;
        self.opened_at.get_or_insert_with(Instant::now);
        self.chunk.push(msg);
        if self.chunk.len() >= CHUNK_RECORDS {
            self.dispatch(limits, dlq).await?;
        }
        Ok(())
    }

    /// Whether the batch is due: by records, bytes or age.
    pub(crate) fn due(&self, roll: &RollPolicy, now: Instant) -> bool {
        self.records > 0
            && (self.records >= roll.records
                || self.bytes >= roll.bytes
                || self
                    .opened_at
                    .is_some_and(|t| now.duration_since(t) >= roll.interval))
    }

    /// Whether nothing has been consumed since the last roll.
    pub(crate) fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Parses every consumed record and returns the buffer, ready to roll.
    /// The caller rolls it, which empties it; the batch counts restart here.
    pub(crate) async fn settle(
        &mut self,
        limits: Limits,
        dlq: &mut Dlq,
    ) -> Result<&mut PartitionBuffer> {
        if !self.chunk.is_empty() {
            self.dispatch(limits, dlq).await?;
        }
        self.join(dlq).await?;
        self.records = 0;
        self.bytes = 0;
        self.opened_at = None;
        self.buffer
            .as_mut()
            .ok_or_else(|| Error::arrow("settle", "the partition buffer was lost"))
    }

    /// Hands the chunk to a parser, after the previous one has finished (it
    /// holds the buffer).
    async fn dispatch(&mut self, limits: Limits, dlq: &mut Dlq) -> Result<()> {
        self.join(dlq).await?;
        let buffer = self
            .buffer
            .take()
            .ok_or_else(|| Error::arrow("dispatch", "the partition buffer was lost"))?;
        let chunk = mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_RECORDS));
        let feed = self.feed;
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            parse_chunk(feed, limits, buffer, chunk)
        }));
        Ok(())
    }

    /// Waits for the chunk in flight, if any, and sends its rejects to the DLQ.
    async fn join(&mut self, dlq: &mut Dlq) -> Result<()> {
        let Some(handle) = self.inflight.take() else {
            return Ok(());
        };
        let parsed = handle.await.map_err(|e| Error::arrow("parse chunk", e))?;
        self.buffer = Some(parsed.buffer);
        for (msg, err) in &parsed.rejected {
            dlq.send(msg, self.feed, err)?;
        }
        parsed.result
    }
}

/// Parses a chunk into the buffer: rows for valid records, DLQ entries for
/// the others (offsets covered by the next commit, as inline parsing did).
fn parse_chunk(
    feed: Feed,
    limits: Limits,
    mut buffer: PartitionBuffer,
    chunk: Vec<OwnedMessage>,
) -> Parsed {
    let mut rejected = Vec::new();
    for msg in chunk {
        let offset = msg.offset();
        match feed.parse(msg.payload().unwrap_or_default(), &limits) {
            Ok(event) => {
                // Ingest time = the Kafka record's timestamp (when the producer
                // took the record in): deterministic across sink restarts.
                let ingest_ms = msg
                    .timestamp()
                    .to_millis()
                    .unwrap_or_else(crate::records::now_ms);
                if let Err(e) = buffer.push(&event, offset, ingest_ms) {
                    return Parsed {
                        buffer,
                        result: Err(e),
                        rejected,
                    };
                }
            }
            Err(err) => {
                buffer.push_dlq(offset);
                rejected.push((msg, err));
            }
        }
    }
    Parsed {
        buffer,
        result: Ok(()),
        rejected,
    }
}
