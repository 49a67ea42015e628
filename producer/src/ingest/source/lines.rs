//! Lines of a JSON Lines file, each kept up to a cap: a hostile line of
//! gigabytes without a newline must not exhaust memory, yet must not vanish.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One line, without its `\n` or `\r\n` ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    /// At most `cap` bytes of the line.
    pub(super) bytes: Vec<u8>,
    /// The line's full length; more than `bytes.len()` when it was cut.
    pub(super) len: u64,
}

/// Splits a byte stream at `\n`. The partial line lives in the struct, so
/// [`CappedLines::next_line`] is cancel safe.
#[derive(Debug)]
pub(super) struct CappedLines<R> {
    reader: R,
    cap: usize,
    partial: Vec<u8>,
    partial_len: u64,
    in_line: bool,
}

impl<R: AsyncBufRead + Unpin> CappedLines<R> {
    pub(super) fn new(reader: R, cap: usize) -> Self {
        CappedLines {
            reader,
            cap,
            partial: Vec::new(),
            partial_len: 0,
            in_line: false,
        }
    }

    /// The next line; `None` at the end. A last line without `\n` is a line.
    pub(super) async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                return Ok(self.in_line.then(|| self.take_line()));
            }
            self.in_line = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let content = &available[..newline.unwrap_or(available.len())];
            if newline.is_some() && self.partial_len == 0 && content.len() <= self.cap {
                // The whole line is in the buffer (the usual case): one
                // allocation of its exact size, not a buffer grown per line.
                let len = content.len();
                self.partial = content.to_vec();
                self.partial_len = len as u64;
                self.reader.consume(len + 1);
                return Ok(Some(self.take_line()));
            }
            let room = self.cap.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&content[..content.len().min(room)]);
            self.partial_len += content.len() as u64;
            let used = content.len() + usize::from(newline.is_some());
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(Some(self.take_line()));
            }
        }
    }

    fn take_line(&mut self) -> Line {
        let mut bytes = std::mem::take(&mut self.partial);
        let mut len = std::mem::take(&mut self.partial_len);
        self.in_line = false;
        // `\r\n` endings: the `\r` belongs to the ending, not the record (only
        // when the line was kept whole; a cut line has lost its end anyway).
        if len == bytes.len() as u64 && bytes.last() == Some(&b'\r') {
            bytes.pop();
            len -= 1;
        }
        Line { bytes, len }
    }
}

/// Blank lines (empty, or spaces and tabs only) separate records; they are
/// not records.
pub(super) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| b == b' ' || b == b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], cap: usize) -> Vec<(Vec<u8>, u64)> {
        // A tiny buffer so that lines span many reads.
        let reader = tokio::io::BufReader::with_capacity(3, input);
        let mut lines = CappedLines::new(reader, cap);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await.expect("reading a slice") {
            out.push((line.bytes, line.len));
        }
        out
    }

    #[tokio::test]
    async fn splits_strips_endings_and_caps() {
        let got = lines(b"ab\r\n\ncdefgh\nxyz", 4).await;
        assert_eq!(
            got,
            vec![
                (b"ab".to_vec(), 2),
                (Vec::new(), 0),
                (b"cdef".to_vec(), 6),
                (b"xyz".to_vec(), 3),
            ]
        );
        assert!(lines(b"", 4).await.is_empty());
        assert_eq!(lines(b"a\n", 4).await, vec![(b"a".to_vec(), 1)]);
        assert!(is_blank(b" \t") && is_blank(b"") && !is_blank(b" x"));
    }
}
