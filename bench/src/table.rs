//! The results table every benchmark prints: events/s per path and its ratio
//! against the baseline row measured in the same run.

use std::fmt::Write as _;
use std::time::Duration;

/// One measured path.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured, e.g. `raw rdkafka (idempotent, acks=all)`.
    pub name: String,
    /// Records moved.
    pub records: u64,
    /// Wall time for them.
    pub elapsed: Duration,
    /// Free text: fixed costs, counts, anything needed to read the row.
    pub note: String,
}

impl Row {
    /// A row without a note.
    pub fn new(name: impl Into<String>, records: u64, elapsed: Duration) -> Self {
        Row {
            name: name.into(),
            records,
            elapsed,
            note: String::new(),
        }
    }

    /// The same row with a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    /// Records per second of wall time.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Rows under a title; the first row is the baseline every ratio refers to.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Printed above the table.
    pub title: String,
    /// The baseline first.
    pub rows: Vec<Row>,
}

impl Table {
    /// An empty table.
    pub fn new(title: impl Into<String>) -> Self {
        Table {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (the first one added is the baseline).
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// The table as Markdown, so that it can be pasted into `RESULTS.md`.
    pub fn to_markdown(&self) -> String {
        let base = self.rows.first().map(Row::rate).unwrap_or(0.0);
        let mut out = format!("\n### {}\n\n", self.title);
        out.push_str("| path | records | seconds | events/s | vs baseline | note |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: | --- |\n");
        for row in &self.rows {
            let ratio = if base > 0.0 { row.rate() / base } else { 0.0 };
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.0} | {:.2} | {} |",
                row.name,
                row.records,
                row.elapsed.as_secs_f64(),
                row.rate(),
                ratio,
                row.note
            );
        }
        out
    }

    /// Prints the table to standard output.
    pub fn print(&self) {
        println!("{}", self.to_markdown());
    }
}
