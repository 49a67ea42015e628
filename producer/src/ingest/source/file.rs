//! The `file:` source: a JSON Lines backlog, produced as fast as Kafka takes
//! it, then the run ends.
//!
//! It honours the websocket catch-up contract itself, so that a producer
//! killed half-way through a file and restarted resumes exactly where its
//! commits ended: lines whose running-max event time is still below `since`
//! were produced before and are skipped; from the first line that reaches it,
//! the cursor drops the window's overlap as for a reconnect.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use schemas::Feed;
use tokio::io::BufReader;

use super::lines::{CappedLines, is_blank};
use super::{Frame, SourceEvent, advance_clock};
use crate::ingest::config::MAX_RECORD_BYTES;
use crate::ingest::error::{IngestError, Result};

/// Reads one JSON Lines file.
#[derive(Debug)]
pub(crate) struct FileSource {
    path: PathBuf,
    feed: Feed,
    lines: CappedLines<BufReader<tokio::fs::File>>,
    /// `None` before the first call; then the catch-up position, until reached.
    state: State,
    /// Running max of the event times of the lines read so far, while
    /// skipping to the catch-up position (not kept up to date after it).
    clock: Option<i64>,
    skipped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Skipping { since: i64 },
    Reading,
}

impl FileSource {
    pub(crate) async fn open(path: &Path, feed: Feed) -> Result<FileSource> {
        let error = |source| IngestError::SourceFile {
            path: path.to_owned(),
            source,
        };
        let file = tokio::fs::File::open(path).await.map_err(error)?;
        if file.metadata().await.map_err(error)?.is_dir() {
            return Err(error(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory",
            )));
        }
        Ok(FileSource {
            path: path.to_owned(),
            feed,
            lines: CappedLines::new(BufReader::with_capacity(1 << 20, file), MAX_RECORD_BYTES),
            state: State::NotStarted,
            clock: None,
            skipped: 0,
        })
    }

    pub(crate) async fn next(&mut self, since: Option<i64>) -> Result<Option<SourceEvent>> {
        if self.state == State::NotStarted {
            self.state = since.map_or(State::Reading, |since| State::Skipping { since });
            return Ok(Some(SourceEvent::Connected));
        }
        loop {
            let Some(line) =
                self.lines
                    .next_line()
                    .await
                    .map_err(|source| IngestError::SourceFile {
                        path: self.path.clone(),
                        source,
                    })?
            else {
                return Ok(None);
            };
            if is_blank(&line.bytes) {
                continue;
            }
            if let State::Skipping { since } = self.state {
                // The clock matters only until the catch-up position: once
                // reading, the cursor keeps the clock (and parsing each line
                // for its time here would be a wasted pass).
                self.clock = advance_clock(self.feed, self.clock, &line.bytes);
                if self.clock.is_none_or(|clock| clock < since) {
                    self.skipped += 1;
                    continue;
                }
                tracing::info!(
                    skipped = self.skipped,
                    since,
                    path = %self.path.display(),
                    "Resuming the file after the records committed before."
                );
                self.state = State::Reading;
            }
            let len = line.len;
            let bytes = Bytes::from(line.bytes);
            let cut_from = (len > bytes.len() as u64).then_some(len);
            return Ok(Some(SourceEvent::Record(Frame {
                bytes,
                binary: false,
                cut_from,
            })));
        }
    }
}
