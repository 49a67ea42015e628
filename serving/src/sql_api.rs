//! `POST /api/sql`: `billabong sql` over HTTP for ad hoc users.
//!
//! The engine is the `sql` crate's [`SqlSession`], unchanged: the same
//! guard (read-only), the same catalog (`lake.*` raw tables, PostgreSQL's
//! 3NF tables and batch views) and the same limits, configured smaller for
//! a shared server ([`crate::config::default_sql_limits`]). A session's
//! catalog is a snapshot of the lake's commits and PostgreSQL's tables taken
//! when it opens, so [`refresh`] reopens it every `sql_refresh` and swaps it
//! in; a statement keeps the session it started with.
//!
//! Request: the statement as the body (`text/plain`, or any type but JSON),
//! or `{"sql": "...", "format": "csv"}` as `application/json`. Format from
//! `?format=`, the JSON field, or `Accept` (`text/csv`,
//! `application/x-ndjson`); default a JSON document:
//! `{"columns": [{"name", "type"}], "rows": [{...}], "row_count",
//! "truncated": null | {"total_rows", "exact"}, "elapsed_ms"}`. CSV and
//! NDJSON carry the same facts in `X-Billabong-*` headers.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sql::{ErrorDomain, OutputFormat, QueryOutput, SqlConfig, SqlSession};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::http::{error, with_header};

/// The largest statement accepted, in bytes.
pub(crate) const MAX_BODY: u64 = 64 << 10;

/// The current session, or why there is none.
#[derive(Clone, Default)]
pub(crate) struct Catalog {
    inner: Arc<RwLock<CatalogState>>,
}

#[derive(Default)]
struct CatalogState {
    session: Option<SqlSession>,
    /// The last refresh's error; cleared by a successful one.
    error: Option<String>,
}

impl Catalog {
    fn session(&self) -> Result<SqlSession, String> {
        let s = self.inner.read().unwrap_or_else(|p| p.into_inner());
        match (&s.session, &s.error) {
            (Some(session), _) => Ok(session.clone()),
            (None, Some(e)) => Err(format!("the SQL catalog could not be opened: {e}")),
            (None, None) => Err("the SQL catalog is still opening; retry in a moment".to_owned()),
        }
    }

    /// The last refresh's error, for `/ready`.
    pub(crate) fn problem(&self) -> Option<String> {
        let s = self.inner.read().unwrap_or_else(|p| p.into_inner());
        match (&s.session, &s.error) {
            (_, Some(e)) => Some(format!("SQL catalog (lake, PostgreSQL): {e}")),
            (None, None) => Some("SQL catalog: still opening".to_owned()),
            (Some(_), None) => None,
        }
    }
}

/// Opens a session now and every `every` after, keeping the last good one
/// when an open fails (and reporting the failure through [`Catalog::problem`]).
pub(crate) async fn refresh(catalog: Catalog, config: SqlConfig, every: Duration) {
    let runtime = tokio::runtime::Handle::current();
    loop {
        // `SqlSession::open`'s future is not `Send` (DataFusion's catalog
        // calls hold non-`Send` borrows across awaits), so it cannot be a
        // task of its own; it runs on a blocking thread, on this runtime.
        let opened = {
            let (runtime, config) = (runtime.clone(), config.clone());
            tokio::task::spawn_blocking(move || runtime.block_on(SqlSession::open(config)))
                .await
                .unwrap_or_else(|e| Err(sql::Error::Internal(format!("opening panicked: {e}"))))
        };
        {
            let mut s = catalog.inner.write().unwrap_or_else(|p| p.into_inner());
            match opened {
                Ok(session) => {
                    s.session = Some(session);
                    s.error = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Reopening the SQL catalog failed.");
                    s.error = Some(e.to_string());
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    sql: String,
    #[serde(default)]
    format: Option<String>,
}

/// Output formats of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// One JSON document with columns, rows and the facts.
    Document,
    /// A `sql::format` format (CSV or NDJSON).
    Rows(OutputFormat),
}

fn parse_format(name: &str) -> Result<Format, String> {
    match name {
        "json" => Ok(Format::Document),
        "csv" => Ok(Format::Rows(OutputFormat::Csv)),
        "ndjson" => Ok(Format::Rows(OutputFormat::Json)),
        other => Err(format!(
            "unknown `format` {other:?}: use json, csv or ndjson"
        )),
    }
}

fn format_from_accept(accept: Option<&str>) -> Format {
    match accept {
        Some(a) if a.contains("text/csv") => Format::Rows(OutputFormat::Csv),
        Some(a) if a.contains("application/x-ndjson") => Format::Rows(OutputFormat::Json),
        _ => Format::Document,
    }
}

/// The statement and its format from the request; a 400 message otherwise.
fn parse_request(
    query: &HashMap<String, String>,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: &[u8],
) -> Result<(String, Format), String> {
    let (sql, body_format) = if content_type.is_some_and(|c| c.starts_with("application/json")) {
        let mut de = serde_json::Deserializer::from_slice(body);
        let parsed: JsonBody = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| format!("`{}`: {}", e.path(), e.inner()))?;
        (parsed.sql, parsed.format)
    } else {
        let text = std::str::from_utf8(body)
            .map_err(|e| format!("the statement is not UTF-8 text: {e}"))?;
        (text.to_owned(), None)
    };
    if sql.trim().is_empty() {
        return Err("no statement: send the SQL as the body, or {\"sql\": \"...\"}".to_owned());
    }
    let format = match query.get("format").or(body_format.as_ref()) {
        Some(name) => parse_format(name)?,
        None => format_from_accept(accept),
    };
    Ok((sql, format))
}

fn status_of(domain: ErrorDomain) -> StatusCode {
    match domain {
        ErrorDomain::User => StatusCode::BAD_REQUEST,
        ErrorDomain::External => StatusCode::SERVICE_UNAVAILABLE,
        ErrorDomain::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON document answer, written around the `sql` crate's row writer.
fn document(out: &QueryOutput) -> sql::Result<Vec<u8>> {
    let columns: Vec<_> = out
        .schema
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": f.data_type().to_string()}))
        .collect();
    let truncated = out
        .truncated
        .map(|t| json!({"total_rows": t.total_rows, "exact": t.exact}));
    let mut body = Vec::with_capacity(256 + out.rows() * 64);
    let io = |source| sql::Error::Io {
        context: "write the answer".to_owned(),
        source,
    };
    write!(body, "{{\"columns\":{},\"rows\":", json!(columns)).map_err(io)?;
    sql::format::write_json_array(out, &mut body)?;
    write!(
        body,
        ",\"row_count\":{},\"truncated\":{},\"elapsed_ms\":{:.3}}}",
        out.rows(),
        json!(truncated),
        out.elapsed.as_secs_f64() * 1000.0
    )
    .map_err(io)?;
    Ok(body)
}

/// Rows in a `sql::format` format, the facts in headers.
fn rows(out: &QueryOutput, format: OutputFormat) -> sql::Result<Response> {
    let mut body = Vec::with_capacity(out.rows() * 64);
    sql::format::write_output(out, format, &mut body)?;
    let content_type = match format {
        OutputFormat::Csv => "text/csv; charset=utf-8",
        _ => "application/x-ndjson",
    };
    let mut response = with_header(body.into_response(), "content-type", content_type);
    response = with_header(response, "x-billabong-rows", &out.rows().to_string());
    response = with_header(
        response,
        "x-billabong-elapsed-ms",
        &format!("{:.3}", out.elapsed.as_secs_f64() * 1000.0),
    );
    if let Some(t) = out.truncated {
        response = with_header(
            response,
            "x-billabong-truncated-total-rows",
            &format!("{}{}", if t.exact { "" } else { ">=" }, t.total_rows),
        );
    }
    Ok(response)
}

/// Handles one request; never fails (every outcome is a response).
pub(crate) async fn handle(
    catalog: Catalog,
    query: HashMap<String, String>,
    content_type: Option<String>,
    accept: Option<String>,
    body: Bytes,
) -> Result<Response, std::convert::Infallible> {
    let (sql, format) =
        match parse_request(&query, content_type.as_deref(), accept.as_deref(), &body) {
            Ok(parsed) => parsed,
            Err(message) => return Ok(error(StatusCode::BAD_REQUEST, message)),
        };
    let session = match catalog.session() {
        Ok(s) => s,
        Err(message) => return Ok(error(StatusCode::SERVICE_UNAVAILABLE, message)),
    };
    let out = match session.execute(&sql).await {
        Ok(out) => out,
        Err(e) => return Ok(error(status_of(e.domain()), e.to_string())),
    };
    let answer = match format {
        Format::Document => document(&out)
            .map(|body| with_header(body.into_response(), "content-type", "application/json")),
        Format::Rows(f) => rows(&out, f),
    };
    Ok(answer.unwrap_or_else(|e| error(status_of(e.domain()), e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        query: &[(&str, &str)],
        content_type: Option<&str>,
        accept: Option<&str>,
        body: &str,
    ) -> Result<(String, Format), String> {
        let query = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse_request(&query, content_type, accept, body.as_bytes())
    }

    #[test]
    fn statement_and_format_come_from_body_query_or_accept() {
        assert_eq!(
            parse(&[], Some("text/plain"), None, "SELECT 1"),
            Ok(("SELECT 1".to_owned(), Format::Document))
        );
        assert_eq!(
            parse(&[], None, Some("text/csv"), "SELECT 1"),
            Ok(("SELECT 1".to_owned(), Format::Rows(OutputFormat::Csv)))
        );
        assert_eq!(
            parse(
                &[("format", "ndjson")],
                Some("application/json"),
                Some("text/csv"),
                r#"{"sql": "SELECT 2", "format": "csv"}"#
            ),
            Ok(("SELECT 2".to_owned(), Format::Rows(OutputFormat::Json)))
        );
    }

    #[test]
    fn bad_requests_name_the_problem() {
        let err = |r: Result<(String, Format), String>| r.expect_err("refused");
        assert!(err(parse(&[], None, None, "  ")).contains("no statement"));
        assert!(err(parse(&[("format", "xml")], None, None, "SELECT 1")).contains("`format`"));
        assert!(
            err(parse(&[], Some("application/json"), None, r#"{"sql": 1}"#)).starts_with("`sql`")
        );
        assert!(
            err(parse(
                &[],
                Some("application/json"),
                None,
                r#"{"sql": "x", "limit": 1}"#
            ))
            .contains("limit")
        );
    }
}
