//! Read-only enforcement, first line of defence: parse with DataFusion's own
//! parser and let through only statements that read.
//!
//! Allowed: queries (`SELECT`, `WITH`, `VALUES`), `EXPLAIN [ANALYZE]` of a
//! query, `SHOW TABLES`, `SHOW COLUMNS`, `DESCRIBE`. Everything else is
//! refused with its class named (DDL, DML, COPY, CREATE EXTERNAL TABLE, SET,
//! transaction control, ...). Inside an allowed statement the whole tree is
//! walked, so DML hidden in a CTE (`WITH x AS (DELETE ...)`), `SELECT ... INTO`
//! and table references that are really file paths or URLs are refused too.
//! Table functions are allow-listed (only [`ALLOWED_TABLE_FUNCTIONS`]), and
//! functions known to read files (DuckDB and datafusion-cli names, in case a
//! later DataFusion or a plugin registers one) are refused by name.
//!
//! The checked statement is the one that is planned ([`Checked`] keeps it),
//! never a re-parse of the text, so the guard and the planner cannot disagree
//! about what a string means. `SQLOptions` in the session is the second line.

use std::ops::ControlFlow;

use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, Select, Statement, TableFactor, Visit, Visitor,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;

use crate::error::{Error, Result};

/// Table functions a query may call: they generate rows and touch nothing.
pub const ALLOWED_TABLE_FUNCTIONS: &[&str] = &["generate_series", "range"];

/// Function names that read files or URLs in DuckDB, datafusion-cli or
/// PostgreSQL. DataFusion 55 registers none of them by default; naming them
/// keeps a refusal explicit ("reads files") rather than "unknown function",
/// and keeps it refused if one is ever registered.
const FILE_FUNCTIONS: &[&str] = &[
    "read_parquet",
    "read_csv",
    "read_csv_auto",
    "read_json",
    "read_json_auto",
    "read_ndjson",
    "read_avro",
    "read_arrow",
    "read_text",
    "read_blob",
    "parquet_scan",
    "parquet_metadata",
    "parquet_schema",
    "parquet_file_metadata",
    "metadata_cache",
    "statistics_cache",
    "list_files_cache",
    "csv_scan",
    "glob",
    "sniff_csv",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "lo_import",
    "lo_export",
];

/// File name endings that mark a table reference as a path.
const FILE_EXTENSIONS: &[&str] = &[
    ".parquet", ".csv", ".tsv", ".json", ".ndjson", ".jsonl", ".avro", ".arrow", ".txt", ".gz",
    ".zst", ".bz2", ".xz",
];

/// One statement that passed the guard, ready to plan.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The parsed statement, exactly as it will be planned.
    pub(crate) statement: DfStatement,
}

impl std::fmt::Display for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.statement.fmt(f)
    }
}

/// Parses `sql` (one or more statements separated by `;`) and checks every
/// statement; the first refusal fails the whole text, before anything runs.
pub fn check(sql: &str) -> Result<Vec<Checked>> {
    let dialect = GenericDialect {};
    let statements = DFParserBuilder::new(sql)
        .with_dialect(&dialect)
        .build()
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|e| match e.find_root() {
            DataFusionError::SQL(parse, _) => Error::Parse(parse.to_string()),
            other => Error::Parse(other.to_string()),
        })?;
    statements
        .into_iter()
        .map(|statement| {
            check_df(&statement)?;
            Ok(Checked { statement })
        })
        .collect()
}

/// DataFusion's own statements first, then the SQL tree.
fn check_df(statement: &DfStatement) -> Result<()> {
    match statement {
        DfStatement::Statement(inner) => check_sql(inner),
        DfStatement::Explain(explain) => check_df(&explain.statement),
        DfStatement::CreateExternalTable(_) => Err(refuse(
            "CREATE EXTERNAL TABLE",
            "it registers files or URLs as a table",
        )),
        DfStatement::CopyTo(_) => Err(refuse("COPY", "it writes files")),
        DfStatement::Reset(_) => Err(refuse("SET (RESET)", "it changes session settings")),
    }
}

fn check_sql(statement: &Statement) -> Result<()> {
    match statement.visit(&mut ReadOnly) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(err) => Err(err),
    }
}

fn refuse(class: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Refused {
        class: class.into(),
        reason: reason.into(),
    }
}

/// Walks a statement tree and breaks at the first thing that is not a read.
struct ReadOnly;

impl Visitor for ReadOnly {
    type Break = Error;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Error> {
        match statement {
            Statement::Query(_)
            | Statement::Explain { .. }
            | Statement::ExplainTable { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. } => ControlFlow::Continue(()),
            other => ControlFlow::Break(classify(other)),
        }
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Error> {
        if select.into.is_some() {
            return ControlFlow::Break(refuse("DDL (SELECT INTO)", "it creates a table"));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<Error> {
        let verdict = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => table_function(name),
            TableFactor::Table { name, .. } => table_name(name),
            TableFactor::TableFunction { expr, .. } => match expr {
                Expr::Function(f) => table_function(&f.name),
                _ => Err(refuse("table function", "only named table functions run")),
            },
            _ => Ok(()),
        };
        verdict.map_or_else(ControlFlow::Break, ControlFlow::Continue)
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Error> {
        if let Expr::Function(f) = expr {
            let name = last_part(&f.name);
            if FILE_FUNCTIONS.contains(&name.as_str()) {
                return ControlFlow::Break(refuse(
                    format!("function {name}"),
                    "it reads files or URLs",
                ));
            }
        }
        ControlFlow::Continue(())
    }
}

/// The lower-cased last part of a name: `lake.rsvps` → `rsvps`.
fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(ObjectNamePart::as_ident)
        .map(|ident| ident.value.to_ascii_lowercase())
        .unwrap_or_default()
}

fn table_function(name: &ObjectName) -> Result<()> {
    let fname = last_part(name);
    if FILE_FUNCTIONS.contains(&fname.as_str()) {
        return Err(refuse(
            format!("table function {fname}"),
            "it reads files or URLs",
        ));
    }
    if name.0.len() == 1 && ALLOWED_TABLE_FUNCTIONS.contains(&fname.as_str()) {
        return Ok(());
    }
    Err(refuse(
        format!("table function {name}"),
        format!(
            "only {} may be called in FROM",
            ALLOWED_TABLE_FUNCTIONS.join(", ")
        ),
    ))
}

/// A table reference must be a name, not a path or URL in disguise
/// (`FROM '/etc/passwd'`, `FROM "s3://bucket/x.parquet"`).
fn table_name(name: &ObjectName) -> Result<()> {
    for part in &name.0 {
        let Some(ident) = part.as_ident() else {
            return Err(refuse("table reference", "a computed name is not a table"));
        };
        let value = ident.value.to_ascii_lowercase();
        let pathlike = ident.quote_style == Some('\'')
            || value.contains('/')
            || value.contains('\\')
            || value.contains("://")
            || value.starts_with('~')
            || FILE_EXTENSIONS.iter().any(|ext| value.ends_with(ext));
        if pathlike {
            return Err(refuse(
                "file or URL table",
                format!(
                    "{:?} is a path or URL, not a table name; tables are listed by SHOW TABLES",
                    ident.value
                ),
            ));
        }
    }
    Ok(())
}

/// Names the class of a refused statement: `DDL (CREATE TABLE)`, `DML (INSERT)`, ...
fn classify(statement: &Statement) -> Error {
    let variant = variant_name(statement);
    let words = words_of(&variant);
    let (class, reason) = match variant.as_str() {
        "Insert" | "Update" | "Delete" | "Merge" | "Truncate" => ("DML", "it changes data"),
        "Copy" | "CopyIntoSnowflake" | "Unload" | "Load" | "LoadData" | "Directory"
        | "ExportData" | "List" | "Remove" => ("COPY", "it reads or writes files"),
        "Install" | "AttachDatabase" | "AttachDuckDBDatabase" | "DetachDuckDBDatabase" => {
            ("file access", "it loads files or extensions")
        }
        "Set" | "Use" | "AlterSession" | "Pragma" | "Reset" => {
            ("SET", "it changes session settings")
        }
        "StartTransaction" | "Commit" | "Rollback" | "Savepoint" | "ReleaseSavepoint" => {
            ("transaction control", "there is nothing to commit")
        }
        "Grant" | "Revoke" | "Deny" => ("DCL", "it changes privileges"),
        v if v.starts_with("Create")
            || v.starts_with("Alter")
            || v.starts_with("Drop")
            || matches!(
                v,
                "RenameTable" | "Comment" | "Msck" | "Analyze" | "Vacuum" | "OptimizeTable"
            ) =>
        {
            ("DDL", "it changes the catalog")
        }
        _ => (
            "statement",
            "only SELECT/WITH/VALUES, EXPLAIN, SHOW TABLES, SHOW COLUMNS and DESCRIBE run",
        ),
    };
    let class = if words == class {
        class.to_owned()
    } else {
        format!("{class} ({words})")
    };
    refuse(class, reason)
}

/// `CreateTable { .. }` → `CreateTable`: the enum variant, from `Debug`.
fn variant_name(statement: &Statement) -> String {
    let debug = format!("{statement:?}");
    debug
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// `CreateTable` → `CREATE TABLE`.
fn words_of(variant: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in variant.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_class(sql: &str) -> String {
        match check(sql) {
            Err(Error::Refused { class, .. }) => class,
            other => panic!("{sql:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn reads_pass() {
        for sql in [
            "SELECT 1",
            "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
            "VALUES (1), (2)",
            "EXPLAIN SELECT * FROM lake.rsvps",
            "EXPLAIN ANALYZE SELECT 1",
            "SHOW TABLES",
            "SHOW COLUMNS FROM rsvps",
            "DESCRIBE rsvps",
            "SELECT * FROM generate_series(1, 3)",
            "SELECT count(*) FROM range(10) a CROSS JOIN lake.race b",
            "SELECT 1; SELECT 2;",
        ] {
            check(sql).unwrap_or_else(|e| panic!("{sql:?} refused: {e}"));
        }
    }

    #[test]
    fn each_forbidden_class_is_named() {
        for (sql, class) in [
            ("CREATE TABLE t (a INT)", "DDL (CREATE TABLE)"),
            ("CREATE VIEW v AS SELECT 1", "DDL (CREATE VIEW)"),
            ("DROP TABLE rsvps", "DDL (DROP)"),
            ("ALTER TABLE rsvps ADD COLUMN x INT", "DDL (ALTER TABLE)"),
            ("INSERT INTO rsvps VALUES (1)", "DML (INSERT)"),
            ("UPDATE rsvps SET a = 1", "DML (UPDATE)"),
            ("DELETE FROM rsvps", "DML (DELETE)"),
            ("TRUNCATE rsvps", "DML (TRUNCATE)"),
            ("COPY rsvps TO '/tmp/x.csv'", "COPY"),
            ("COPY (SELECT 1) TO '/tmp/x.parquet'", "COPY"),
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
                "CREATE EXTERNAL TABLE",
            ),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("RESET datafusion.execution.batch_size", "SET (RESET)"),
            ("BEGIN", "transaction control (START TRANSACTION)"),
            ("SELECT * INTO t2 FROM rsvps", "DDL (SELECT INTO)"),
            ("SELECT * FROM '/etc/passwd'", "file or URL table"),
            ("SELECT * FROM 'data.parquet'", "file or URL table"),
            (
                "SELECT * FROM \"s3://bucket/x.parquet\"",
                "file or URL table",
            ),
            (
                "SELECT * FROM read_csv('/etc/passwd')",
                "table function read_csv",
            ),
            (
                "SELECT * FROM parquet_metadata('x.parquet')",
                "table function parquet_metadata",
            ),
            ("SELECT read_parquet('x')", "function read_parquet"),
            ("SELECT * FROM my_udtf(1)", "table function my_udtf"),
            ("SELECT 1; DROP TABLE rsvps", "DDL (DROP)"),
            ("EXPLAIN DELETE FROM rsvps", "DML (DELETE)"),
            ("EXPLAIN COPY (SELECT 1) TO 'x.csv'", "COPY"),
        ] {
            assert_eq!(refused_class(sql), class, "for {sql:?}");
        }
    }

    #[test]
    fn dml_hidden_in_a_subquery_is_refused() {
        let sql = "SELECT * FROM (SELECT 1) t WHERE EXISTS (SELECT 1 FROM lake.rsvps)";
        assert!(check(sql).is_ok());
        // sqlparser accepts DML as a CTE body in some dialects; whether it
        // parses or not, it must never pass.
        let hidden = "WITH d AS (DELETE FROM rsvps RETURNING *) SELECT * FROM d";
        assert!(check(hidden).is_err());
    }

    #[test]
    fn garbage_is_a_syntax_error_not_a_panic() {
        assert!(matches!(check("SELEC 1"), Err(Error::Parse(_))));
        assert!(matches!(check("'"), Err(Error::Parse(_))));
        let deep = format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(check(&deep).is_err());
    }
}
