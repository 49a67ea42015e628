//! Writing results: an aligned table for people, CSV and JSON for programs.
//!
//! JSON is NDJSON, one object per row: it streams (no closing bracket to wait
//! for), `jq` and DataFusion read it directly, and a script of several
//! statements stays one valid file per statement. NULLs are written as
//! `null` (the arrow writer's default drops them, which hides the column).

use std::io::Write;
use std::str::FromStr;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::error::{Error, Result};
use crate::limits::QueryOutput;

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Aligned, boxed table (arrow's pretty printer).
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// NDJSON: one JSON object per row.
    Json,
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" | "ndjson" => Ok(Self::Json),
            other => Err(format!("unknown format {other:?}: use table, csv or json")),
        }
    }
}

/// Writes the rows of `out` to `w` in `format`.
pub fn write_output(out: &QueryOutput, format: OutputFormat, w: &mut dyn Write) -> Result<()> {
    let io = |source| Error::Io {
        context: "write the result".to_owned(),
        source,
    };
    match format {
        OutputFormat::Table => {
            // The pretty printer needs at least one batch to print the header.
            let empty;
            let batches: &[RecordBatch] = if out.batches.is_empty() {
                empty = [RecordBatch::new_empty(out.schema.clone())];
                &empty
            } else {
                &out.batches
            };
            let table = pretty_format_batches(batches)?;
            writeln!(w, "{table}").map_err(io)?;
        }
        OutputFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *w);
            if out.batches.is_empty() {
                writer.write(&RecordBatch::new_empty(out.schema.clone()))?;
            }
            for batch in &out.batches {
                writer.write(batch)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, datafusion::arrow::json::writer::LineDelimited>(&mut *w);
            for batch in &out.batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
    }
    w.flush().map_err(io)
}

/// Writes the rows of `out` as one JSON array of objects (explicit `null`s):
/// the `rows` member of `POST /api/sql`'s JSON answer, where one document is
/// easier for a browser than NDJSON.
pub fn write_json_array(out: &QueryOutput, w: &mut dyn Write) -> Result<()> {
    let mut writer = datafusion::arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, datafusion::arrow::json::writer::JsonArray>(&mut *w);
    for batch in &out.batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    Ok(())
}

/// The line after a result: `3 rows in 12 ms`, plus what the row limit cut.
pub fn summary(out: &QueryOutput) -> String {
    let rows = out.rows();
    let noun = if rows == 1 { "row" } else { "rows" };
    let ms = out.elapsed.as_secs_f64() * 1000.0;
    let mut line = format!("{rows} {noun} in {ms:.0} ms");
    if let Some(t) = out.truncated {
        let cut = t.total_rows.saturating_sub(rows as u64);
        let at_least = if t.exact { "" } else { "at least " };
        line.push_str(&format!(
            " (result cut to the row limit: {at_least}{cut} more rows not shown, \
             {at_least}{} in all)",
            t.total_rows
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Truncation;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    use std::time::Duration;

    fn output() -> QueryOutput {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a,b"), None])),
            ],
        )
        .expect("columns match the schema");
        QueryOutput {
            schema,
            batches: vec![batch],
            truncated: None,
            elapsed: Duration::from_millis(7),
        }
    }

    fn render(out: &QueryOutput, format: OutputFormat) -> String {
        let mut buf = Vec::new();
        write_output(out, format, &mut buf).expect("writes to memory");
        String::from_utf8(buf).expect("UTF-8")
    }

    #[test]
    fn csv_quotes_and_json_keeps_nulls() {
        let out = output();
        assert_eq!(render(&out, OutputFormat::Csv), "id,name\n1,\"a,b\"\n2,\n");
        assert_eq!(
            render(&out, OutputFormat::Json),
            "{\"id\":1,\"name\":\"a,b\"}\n{\"id\":2,\"name\":null}\n"
        );
        assert!(render(&out, OutputFormat::Table).contains("| a,b  |"));
    }

    #[test]
    fn an_empty_result_still_has_a_header() {
        let mut out = output();
        out.batches.clear();
        assert_eq!(render(&out, OutputFormat::Csv), "id,name\n");
        assert!(render(&out, OutputFormat::Table).contains("| id | name |"));
        assert_eq!(render(&out, OutputFormat::Json), "");
    }

    #[test]
    fn the_summary_says_what_was_cut() {
        let mut out = output();
        assert_eq!(summary(&out), "2 rows in 7 ms");
        out.truncated = Some(Truncation {
            total_rows: 10,
            exact: false,
        });
        assert_eq!(
            summary(&out),
            "2 rows in 7 ms (result cut to the row limit: at least 8 more rows not shown, at least 10 in all)"
        );
    }
}
