//! The `billabong sql` front end: an interactive REPL in the spirit of
//! datafusion-cli, and the non-interactive `-c` / `-f` runner.
//!
//! Interactive: lines gather until one ends with `;`, then every statement
//! in them runs and its result is followed by `N rows in X ms`. `\q` quits,
//! `\d` lists the tables, `\d NAME` describes one, `\?` helps. Ctrl-C at the
//! prompt clears the statement being typed; during a query it cancels the
//! query (the session stays usable). History persists in
//! `$BILLABONG_SQL_HISTORY`, else `$HOME/.billabong_history`.
//!
//! Non-interactive: results go to standard output in the chosen format and
//! the timing lines to standard error, so `--format csv > out.csv` is clean.
//! The first failing statement stops the script and is returned as the error.

use std::io::Write;
use std::path::PathBuf;

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use tokio::runtime::Handle;

use crate::error::{Error, Result};
use crate::format::{OutputFormat, summary, write_output};
use crate::guard::Checked;
use crate::limits::QueryOutput;
use crate::session::SqlSession;

const PROMPT: &str = "billabong> ";
const CONTINUATION: &str = "        -> ";
const HELP: &str = "\
Statements end with `;` and may span lines. Read-only: SELECT, WITH, VALUES,
EXPLAIN, SHOW TABLES, SHOW COLUMNS FROM t, DESCRIBE t.
  \\d        list tables (lake.* = raw lake, the rest = PostgreSQL)
  \\d NAME   describe a table
  \\q        quit (or Ctrl-D)
  \\?        this help";

/// SQL behind `\d`: every table but the engine's own metadata.
const LIST_TABLES: &str = "SELECT table_schema, table_name, table_type \
    FROM information_schema.tables WHERE table_schema <> 'information_schema' \
    ORDER BY table_schema, table_name";

/// Runs every statement of `sql` (from `-c` or a `-f` file): results to
/// `out`, timing lines to `log`. Returns the number of statements run.
pub async fn run_script(
    session: &SqlSession,
    sql: &str,
    format: OutputFormat,
    out: &mut dyn Write,
    log: &mut dyn Write,
) -> Result<usize> {
    let statements = session.prepare(sql)?;
    for statement in &statements {
        let result = session.run(statement).await?;
        write_output(&result, format, out)?;
        writeln!(log, "{}", summary(&result)).map_err(io("write the timing line"))?;
    }
    Ok(statements.len())
}

/// The interactive loop; returns on `\q` or end of input.
///
/// Synchronous because line editing blocks; each statement runs on
/// `runtime`, which must not be the calling thread's own runtime.
pub fn run_interactive(session: &SqlSession, format: OutputFormat, runtime: &Handle) -> Result<()> {
    let mut editor = DefaultEditor::new()?;
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is the first run, not an error.
        let _ = editor.load_history(path);
    }
    println!(
        "billabong sql: read-only SQL over the lake and PostgreSQL. \\? for help, \\q to quit."
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            PROMPT
        } else {
            CONTINUATION
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            if trimmed == "\\q" {
                break;
            }
            backslash(session, trimmed, format, runtime);
            continue;
        }
        if trimmed.is_empty() && buffer.is_empty() {
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(sql.trim_end());
        run_text(session, &sql, format, runtime);
    }
    if let Some(path) = &history
        && let Err(e) = editor.save_history(path)
    {
        tracing::warn!(path = %path.display(), error = %e, "History not saved.");
    }
    Ok(())
}

/// `\d`, `\d NAME`, `\?`; anything else is named as unknown.
fn backslash(session: &SqlSession, command: &str, format: OutputFormat, runtime: &Handle) {
    let mut words = command.split_whitespace();
    match (words.next(), words.next()) {
        (Some("\\d"), None) => run_text(session, LIST_TABLES, format, runtime),
        (Some("\\d"), Some(name)) => {
            run_text(session, &format!("DESCRIBE {name}"), format, runtime)
        }
        (Some("\\?"), _) => println!("{HELP}"),
        _ => eprintln!("unknown command {command:?}; \\? lists the commands"),
    }
}

/// Runs the statements of `sql`, printing each result or error; a failure
/// ends the text but never the REPL.
fn run_text(session: &SqlSession, sql: &str, format: OutputFormat, runtime: &Handle) {
    let statements = match session.prepare(sql) {
        Ok(statements) => statements,
        Err(e) => {
            eprintln!("error: {e}");
            return;
        }
    };
    for statement in &statements {
        match runtime.block_on(run_cancellable(session, statement)) {
            Ok(Some(out)) => print_result(&out, format),
            Ok(None) => {
                eprintln!("cancelled");
                return;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return;
            }
        }
    }
}

/// Runs `statement` until it ends or Ctrl-C (`Ok(None)`): dropping the run
/// cancels it, as the time limit does.
async fn run_cancellable(session: &SqlSession, statement: &Checked) -> Result<Option<QueryOutput>> {
    tokio::select! {
        out = session.run(statement) => out.map(Some),
        _ = tokio::signal::ctrl_c() => Ok(None),
    }
}

fn print_result(out: &QueryOutput, format: OutputFormat) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    if let Err(e) = write_output(out, format, &mut lock) {
        eprintln!("error: {e}");
    }
    let _ = writeln!(lock, "{}", summary(out));
}

/// `$BILLABONG_SQL_HISTORY`, else `$HOME/.billabong_history`, else none.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BILLABONG_SQL_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".billabong_history"))
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        context: context.to_owned(),
        source,
    }
}
