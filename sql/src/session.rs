//! [`SqlSession`]: guard, plan and run statements under the limits.

use std::sync::Arc;
use std::time::Instant;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::prelude::{SQLOptions, SessionContext};
use tokio::sync::Semaphore;

use crate::catalog;
use crate::config::SqlConfig;
use crate::error::{Error, Result};
use crate::guard::{self, Checked};
use crate::limits::{Limits, QueryOutput, collect_limited};

/// A read-only SQL session over the lake and PostgreSQL.
///
/// Cheap to clone and safe to share between tasks (the HTTP endpoint holds
/// one for all requests): every statement gets its own DataFusion context
/// and memory pool over the shared catalog, and at most
/// [`Limits::max_concurrent`] statements run at once.
#[derive(Clone)]
pub struct SqlSession {
    inner: Arc<Inner>,
}

struct Inner {
    base: SessionContext,
    stores: Arc<dyn ObjectStoreRegistry>,
    limits: Limits,
    permits: Semaphore,
}

impl std::fmt::Debug for SqlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSession")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl SqlSession {
    /// Opens the configured sources and registers their tables.
    ///
    /// ```no_run
    /// # async fn demo() -> sql::Result<()> {
    /// let session = sql::SqlSession::open(sql::SqlConfig {
    ///     lake: Some("s3://billabong/lake".into()),
    ///     postgres: Some("postgres://billabong@localhost/billabong".into()),
    ///     ..sql::SqlConfig::default()
    /// })
    /// .await?;
    /// let out = session.execute("SELECT count(*) FROM lake.rsvps").await?;
    /// println!("{} rows in {:?}", out.rows(), out.elapsed);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open(config: SqlConfig) -> Result<Self> {
        let catalog = catalog::build(&config).await?;
        let permits = Semaphore::new(config.limits.max_concurrent.max(1));
        Ok(Self {
            inner: Arc::new(Inner {
                base: catalog.base,
                stores: catalog.stores,
                limits: config.limits,
                permits,
            }),
        })
    }

    /// The limits every statement runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Parses and checks `sql` (any number of statements) without running it.
    pub fn prepare(&self, sql: &str) -> Result<Vec<Checked>> {
        guard::check(sql)
    }

    /// Runs exactly one statement (the HTTP endpoint's contract).
    pub async fn execute(&self, sql: &str) -> Result<QueryOutput> {
        let mut statements = self.prepare(sql)?;
        match statements.len() {
            1 => {
                let statement = statements.remove(0);
                self.run(&statement).await
            }
            n => Err(Error::StatementCount(n)),
        }
    }

    /// Runs every statement of `sql` in order, all checked before the first
    /// runs; stops at the first failure.
    pub async fn execute_script(&self, sql: &str) -> Result<Vec<QueryOutput>> {
        let statements = self.prepare(sql)?;
        let mut outputs = Vec::with_capacity(statements.len());
        for statement in &statements {
            outputs.push(self.run(statement).await?);
        }
        Ok(outputs)
    }

    /// Runs one checked statement under the limits.
    pub async fn run(&self, statement: &Checked) -> Result<QueryOutput> {
        let limits = &self.inner.limits;
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Internal("the session's semaphore is closed".to_owned()))?;
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + limits.time;
        let ctx = self.query_context()?;
        // Second line of defence: even if the guard let something through,
        // a plan that defines, changes or writes anything is refused here.
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let planned = async {
            let plan = ctx
                .state()
                .statement_to_plan(statement.statement.clone())
                .await?;
            options.verify_plan(&plan)?;
            ctx.execute_logical_plan(plan).await?.execute_stream().await
        };
        let stream = tokio::time::timeout_at(deadline, planned)
            .await
            .map_err(|_| Error::TimeLimit { limit: limits.time })?
            .map_err(|e| Error::from_datafusion(e, limits.memory_bytes))?;
        let out = collect_limited(stream, limits, deadline, started).await?;
        tracing::debug!(
            rows = out.rows(),
            elapsed_ms = out.elapsed.as_millis() as u64,
            "Statement finished."
        );
        Ok(out)
    }

    /// A context for one statement: the shared catalog, its own memory pool.
    fn query_context(&self) -> Result<SessionContext> {
        let runtime = self
            .inner
            .limits
            .runtime(Arc::clone(&self.inner.stores))
            .map_err(Error::Setup)?;
        let state = SessionStateBuilder::new_from_existing(self.inner.base.state())
            .with_runtime_env(runtime)
            .build();
        Ok(SessionContext::new_with_state(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    /// A statement as the planner would get it if the guard let it through.
    fn unguarded(sql: &str) -> Checked {
        let statement = DFParser::parse_sql(sql)
            .expect("valid SQL")
            .pop_front()
            .expect("one statement");
        Checked { statement }
    }

    async fn sourceless() -> SqlSession {
        SqlSession::open(SqlConfig::default())
            .await
            .expect("a session without sources needs no service")
    }

    #[tokio::test]
    async fn the_second_line_refuses_what_the_first_would_have() {
        let session = sourceless().await;
        for sql in [
            "CREATE TABLE t (a INT)",
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "COPY (SELECT 1) TO '/tmp/billabong-second-line.csv'",
            "SET datafusion.execution.batch_size = 1",
        ] {
            let err = session.run(&unguarded(sql)).await.expect_err(sql);
            assert!(matches!(err, Error::Query(_)), "{sql}: {err:?}");
        }
        assert!(!std::path::Path::new("/tmp/billabong-second-line.csv").exists());
    }

    #[tokio::test]
    async fn the_engine_cannot_reach_files_even_unguarded() {
        let session = sourceless().await;
        for sql in [
            "SELECT * FROM '/etc/passwd'",
            "SELECT * FROM read_csv('/etc/passwd')",
        ] {
            let err = session.run(&unguarded(sql)).await.expect_err(sql);
            assert_eq!(err.domain(), crate::ErrorDomain::User, "{sql}: {err}");
        }
    }

    #[tokio::test]
    async fn execute_takes_one_statement() {
        let session = sourceless().await;
        assert!(matches!(
            session.execute("SELECT 1; SELECT 2").await,
            Err(Error::StatementCount(2))
        ));
        let outs = session
            .execute_script("SELECT 1; SELECT 2, 3")
            .await
            .expect("both run");
        assert_eq!(outs.len(), 2);
        assert_eq!(outs[1].schema.fields().len(), 2);
    }
}
