//! `billabong validate`: checks a JSON Lines file against one feed's schema and
//! says what is wrong with it, by error kind, with an example of each.
//!
//! It applies exactly the check the producer applies before Kafka
//! ([`Feed::parse`] with the default [`Limits`]), so a record that passes here
//! is one the pipeline accepts, and one that fails is reported under the error
//! kind the dead-letter topic would give it.

mod lines;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use schemas::{ErrorKind, Feed, Limits, ValidationError};

use lines::{BoundedLines, LineInfo};

/// Arguments of `billabong validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// The feed whose schema every record must follow.
    #[arg(long, value_parser = feed_parser())]
    feed: Feed,
    /// The JSON Lines file to check, one record per line; `-` reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Accepts exactly the names `Feed` parses, listing them in clap's errors and help.
fn feed_parser() -> impl TypedValueParser<Value = Feed> {
    PossibleValuesParser::new(Feed::ALL.map(Feed::as_str)).try_map(|name| name.parse::<Feed>())
}

/// How many characters of an offending record the report shows: enough to
/// recognise the record, short enough to keep one example on one line.
const SNIPPET_CHARS: usize = 120;
/// How many characters of an error message the report shows; serde quotes the
/// offending value in its messages, and that value may be a 256 KiB string.
const MESSAGE_CHARS: usize = 300;
/// Read buffer for files: large reads, few system calls, still a fixed bound.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Runs the command: reads `args.file`, prints the report and the summary line.
///
/// Invalid records are findings, not failures; only an unreadable input or an
/// unwritable standard output is an error.
pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<()> {
    let limits = Limits::default();
    let (report, source) = if args.file == Path::new("-") {
        let source = "standard input".to_owned();
        let report = validate_stream(io::stdin().lock(), args.feed, &limits, &source)?;
        (report, source)
    } else {
        let source = args.file.display().to_string();
        let file = File::open(&args.file).with_context(|| format!("cannot open {source}"))?;
        let reader = BufReader::with_capacity(READ_BUFFER_BYTES, file);
        let report = validate_stream(reader, args.feed, &limits, &source)?;
        (report, source)
    };
    let mut out = io::stdout().lock();
    report
        .write_to(&mut out, &source, args.feed)
        .and_then(|()| out.flush())
        .context("cannot write the report to standard output")
}

/// Checks every record of `reader`, one line at a time.
///
/// A blank line (empty, or only spaces, tabs and a `\r`) is not a record: it is
/// counted as skipped, neither valid nor invalid.
fn validate_stream(
    reader: impl BufRead,
    feed: Feed,
    limits: &Limits,
    source: &str,
) -> anyhow::Result<Report> {
    // One byte over the limit is enough for `Feed::parse` to call a line
    // oversized; anything longer is cut there and measured.
    let mut lines = BoundedLines::new(reader, limits.max_message_bytes.saturating_add(1));
    let mut line = Vec::new();
    let mut report = Report::default();
    loop {
        let info = match lines.next_line(&mut line) {
            Ok(Some(info)) => info,
            Ok(None) => break,
            Err(err) => {
                let after = match lines.line_number() {
                    0 => String::new(),
                    n => format!(" after line {n}"),
                };
                return Err(err).with_context(|| format!("cannot read {source}{after}"));
            }
        };
        if !info.is_cut(&line) && is_blank(&line) {
            report.blank += 1;
            continue;
        }
        report.add(info, &line, check(feed, &line, info, limits));
    }
    Ok(report)
}

/// Validates one record, `line` being the kept prefix of the line `info` describes.
fn check(feed: Feed, line: &[u8], info: LineInfo, limits: &Limits) -> Result<(), ValidationError> {
    if info.is_cut(line) {
        // The prefix alone would be reported with the cap as its size; say
        // the real one, in the same words as `schemas`.
        return Err(ValidationError {
            kind: ErrorKind::Oversized,
            path: "$".to_owned(),
            message: format!(
                "message is {} bytes, the limit is {}",
                info.len, limits.max_message_bytes
            ),
        });
    }
    feed.parse(line, limits).map(drop)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// What one run found.
#[derive(Debug, Default)]
struct Report {
    /// Records that passed.
    valid: u64,
    /// Blank lines, which are not records.
    blank: u64,
    /// Invalid records per kind; `ErrorKind`'s order is the report's order.
    by_kind: BTreeMap<ErrorKind, KindTally>,
}

/// The invalid records of one kind.
#[derive(Debug)]
struct KindTally {
    count: u64,
    /// The first record of this kind, kept so that the report can show one.
    first: Example,
}

/// One invalid record, shortened for display.
#[derive(Debug)]
struct Example {
    line: u64,
    error: ValidationError,
    snippet: String,
}

impl Report {
    fn add(&mut self, info: LineInfo, line: &[u8], result: Result<(), ValidationError>) {
        let error = match result {
            Ok(()) => {
                self.valid += 1;
                return;
            }
            Err(error) => error,
        };
        self.by_kind
            .entry(error.kind)
            .and_modify(|tally| tally.count += 1)
            .or_insert_with(|| KindTally {
                count: 1,
                first: Example {
                    line: info.number,
                    snippet: snippet(line),
                    error,
                },
            });
    }

    fn invalid(&self) -> u64 {
        self.by_kind.values().map(|tally| tally.count).sum()
    }

    /// Writes the human-readable report, then the JSON summary as the last line
    /// so that scripts can read it with `tail -n 1`.
    fn write_to(&self, out: &mut impl Write, source: &str, feed: Feed) -> io::Result<()> {
        let invalid = self.invalid();
        writeln!(out, "file: {} (feed {feed})", excerpt(source, usize::MAX))?;
        writeln!(out, "records: {}", self.valid + invalid)?;
        writeln!(out, "blank lines skipped: {}", self.blank)?;
        writeln!(out, "valid: {}", self.valid)?;
        writeln!(out, "invalid: {invalid}")?;
        for (kind, tally) in &self.by_kind {
            let first = &tally.first;
            writeln!(out, "  {kind}: {}", tally.count)?;
            writeln!(
                out,
                "    first: line {}, {}: {}",
                first.line,
                excerpt(&first.error.path, MESSAGE_CHARS),
                excerpt(&first.error.message, MESSAGE_CHARS)
            )?;
            writeln!(out, "    record: {}", first.snippet)?;
        }
        writeln!(out, "{{\"valid\":{},\"invalid\":{invalid}}}", self.valid)
    }
}

/// The start of a record as display text; invalid UTF-8 shows as U+FFFD.
fn snippet(line: &[u8]) -> String {
    // A character is at most 4 bytes, so this prefix holds every character
    // that the excerpt can show.
    let prefix = &line[..line.len().min(SNIPPET_CHARS * 4)];
    excerpt(&String::from_utf8_lossy(prefix), SNIPPET_CHARS)
}

/// At most `max_chars` characters of `text`, then `…` if it was longer.
///
/// Control and bidirectional-override characters are escaped: a hostile record
/// must not be able to move the cursor or reorder the terminal's text.
fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for c in text.chars() {
        let escaped = is_unsafe(c);
        let width = if escaped {
            c.escape_default().count()
        } else {
            1
        };
        if shown + width > max_chars {
            out.push('…');
            break;
        }
        if escaped {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        shown += width;
    }
    out
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(input: &[u8], feed: Feed) -> Report {
        validate_stream(input, feed, &Limits::default(), "test")
            .expect("reading a slice cannot fail")
    }

    fn rendered(report: &Report) -> String {
        let mut out = Vec::new();
        report
            .write_to(&mut out, "test", Feed::Race)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("the report is UTF-8")
    }

    #[test]
    fn blank_lines_are_not_records() {
        let r = report(b"\n  \t\n\r\n", Feed::Race);
        assert_eq!((r.valid, r.invalid(), r.blank), (0, 0, 3));
        assert_eq!(
            rendered(&r).lines().last(),
            Some(r#"{"valid":0,"invalid":0}"#)
        );
    }

    #[test]
    fn first_example_of_each_kind_is_kept() {
        let r = report(b"nope\n{\"type\":\"warp\"}\n{\n", Feed::Race);
        assert_eq!(r.invalid(), 3);
        let malformed = &r.by_kind[&ErrorKind::MalformedJson];
        assert_eq!((malformed.count, malformed.first.line), (2, 1));
        assert_eq!(malformed.first.snippet, "nope");
        let invalid = &r.by_kind[&ErrorKind::InvalidValue];
        assert_eq!((invalid.count, invalid.first.line), (1, 2));
        assert_eq!(invalid.first.error.path, "$.type");
        let text = rendered(&r);
        assert!(
            text.contains("\n  malformed_json: 2\n    first: line 1, $: "),
            "{text}"
        );
        assert!(text.ends_with("{\"valid\":0,\"invalid\":3}\n"), "{text}");
    }

    #[test]
    fn oversized_line_reports_its_real_length() {
        let limits = Limits::default();
        let mut input = vec![b' '; limits.max_message_bytes * 2];
        input.extend_from_slice(b"{}\n{}");
        let r = report(&input, Feed::Rsvps);
        let tally = &r.by_kind[&ErrorKind::Oversized];
        assert_eq!(tally.count, 1);
        let expected = format!("message is {} bytes", limits.max_message_bytes * 2 + 2);
        assert!(tally.first.error.message.starts_with(&expected));
        assert_eq!(r.by_kind[&ErrorKind::MissingField].first.line, 2);
    }

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(excerpt("abcd", 3), "abc…");
        assert_eq!(excerpt("a\u{1b}[2Jb", 20), "a\\u{1b}[2Jb");
        assert_eq!(excerpt("a\u{202e}b", 20), "a\\u{202e}b");
        assert_eq!(snippet(b"\xffab"), "\u{fffd}ab");
        let long = "é".repeat(500);
        assert_eq!(snippet(long.as_bytes()).chars().count(), SNIPPET_CHARS + 1);
    }
}
