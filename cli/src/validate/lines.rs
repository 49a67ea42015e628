//! Physical lines of a JSON Lines stream, read with a bound on memory.
//!
//! `BufRead::read_until` would hold a whole line in memory, so one hostile
//! multi-gigabyte line without a newline could exhaust it. Here a line keeps at
//! most `cap` bytes; the rest is read past and only counted, which is all the
//! caller needs to call the line oversized.

use std::io::{self, BufRead};

/// What is known about the line just read into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineInfo {
    /// 1-based physical line number.
    pub(crate) number: u64,
    /// The line's full length in bytes, without its `\n` or `\r\n` ending. More
    /// than the buffer's length when the line was cut at the cap.
    pub(crate) len: u64,
}

impl LineInfo {
    /// Whether bytes of the line were left out of the buffer.
    pub(crate) fn is_cut(&self, kept: &[u8]) -> bool {
        self.len > kept.len() as u64
    }
}

/// Splits a byte stream at `\n`, keeping at most `cap` bytes of each line.
#[derive(Debug)]
pub(crate) struct BoundedLines<R> {
    reader: R,
    cap: usize,
    line_number: u64,
}

impl<R: BufRead> BoundedLines<R> {
    /// Reads `reader`, keeping at most `cap` bytes of any one line.
    pub(crate) fn new(reader: R, cap: usize) -> Self {
        Self {
            reader,
            cap,
            line_number: 0,
        }
    }

    /// Number of the last line returned (0 before the first).
    pub(crate) fn line_number(&self) -> u64 {
        self.line_number
    }

    /// Reads the next line into `buf` (cleared first), without its line ending.
    ///
    /// Returns `None` at the end of the stream. A last line without a final
    /// `\n` is still a line; an empty stream, or one ending in `\n`, has no
    /// extra empty line after it.
    pub(crate) fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<LineInfo>> {
        buf.clear();
        let mut len: u64 = 0;
        let mut read_any = false;
        let mut last_byte = None;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                if !read_any {
                    return Ok(None);
                }
                break;
            }
            read_any = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let content = &available[..newline.unwrap_or(available.len())];
            let room = self.cap.saturating_sub(buf.len());
            buf.extend_from_slice(&content[..content.len().min(room)]);
            len += content.len() as u64;
            if let Some(&b) = content.last() {
                last_byte = Some(b);
            }
            let consumed = content.len() + usize::from(newline.is_some());
            self.reader.consume(consumed);
            if newline.is_some() {
                break;
            }
        }
        // A `\r\n` ending is the line's ending, not part of the record.
        if last_byte == Some(b'\r') {
            if len == buf.len() as u64 {
                buf.pop();
            }
            len -= 1;
        }
        self.line_number += 1;
        Ok(Some(LineInfo {
            number: self.line_number,
            len,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of `input` as (number, kept bytes, full length), read
    /// through a tiny buffer so that lines span many `fill_buf` calls.
    fn lines(input: &[u8], cap: usize) -> Vec<(u64, Vec<u8>, u64)> {
        let reader = io::BufReader::with_capacity(3, input);
        let mut lines = BoundedLines::new(reader, cap);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(info) = lines
            .next_line(&mut buf)
            .expect("reading a slice cannot fail")
        {
            out.push((info.number, buf.clone(), info.len));
        }
        out
    }

    #[test]
    fn last_line_without_newline_is_a_line() {
        let got = lines(b"{}\n[1]", 100);
        assert_eq!(got, vec![(1, b"{}".to_vec(), 2), (2, b"[1]".to_vec(), 3)]);
    }

    #[test]
    fn final_newline_adds_no_line_and_empty_input_has_none() {
        assert_eq!(lines(b"a\n", 100).len(), 1);
        assert!(lines(b"", 100).is_empty());
        assert_eq!(lines(b"\n\n", 100), vec![(1, vec![], 0), (2, vec![], 0)]);
    }

    #[test]
    fn crlf_endings_are_stripped() {
        let got = lines(b"ab\r\ncd\r\n\r\n", 100);
        assert_eq!(
            got,
            vec![
                (1, b"ab".to_vec(), 2),
                (2, b"cd".to_vec(), 2),
                (3, vec![], 0)
            ]
        );
    }

    #[test]
    fn long_lines_are_cut_but_measured() {
        let got = lines(b"0123456789\nab\n0123456789\r\n", 4);
        assert_eq!(
            got,
            vec![
                (1, b"0123".to_vec(), 10),
                (2, b"ab".to_vec(), 2),
                (3, b"0123".to_vec(), 10)
            ]
        );
        let info = LineInfo { number: 1, len: 10 };
        assert!(info.is_cut(b"0123"));
        assert!(!LineInfo { number: 2, len: 2 }.is_cut(b"ab"));
    }

    #[test]
    fn non_utf8_bytes_pass_through() {
        assert_eq!(lines(b"\xff\xfe\n", 100), vec![(1, vec![0xff, 0xfe], 2)]);
    }
}
